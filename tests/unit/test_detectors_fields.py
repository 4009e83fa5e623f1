"""Field-name semantics (fields.py), masking that never hides PII, e-mail anywhere, caseless IBAN."""

from __future__ import annotations

import json
import secrets

import pytest

from metagate.scanner.detectors.fields import FieldSemanticsDetector, key_words, semantics_of_path
from metagate.scanner.detectors.masking import mask_metadata
from metagate.scanner.detectors.pii import PresidioPiiDetector
from metagate.scanner.model import Leaf


@pytest.fixture(scope="module")
def presidio() -> PresidioPiiDetector:
    return PresidioPiiDetector()


@pytest.fixture(scope="module")
def inspector():
    from metagate.proxy.inspection import Inspector, InspectorSettings

    return Inspector(InspectorSettings(fingerprint_key=secrets.token_bytes(32)))


def decide(inspector, values: dict) -> tuple[str, list[tuple[str, str]]]:
    from metagate.scanner.capture import request_from_record

    body = {"resource_id": "3f1c0a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "resource_type": "pipeline_run",
            "values": values, "types": {key: "str" for key in values}}
    record = {"method": "POST", "path": "/api/v1/run-metadata", "query": [],
              "headers": {"Content-Type": "application/json"}, "body_text": json.dumps(body)}
    result = inspector.inspect(request_from_record(record, "t"))
    return result.decision.action, [(f["entity"], f["path"]) for f in result.findings]


def hits(detector, leaves):
    return [(h.leaf, h.entity, leaves[h.leaf].text[h.start : h.end], h.score) for h in detector.scan(leaves)]


def user(path: str, text: str, field_class: str = "user_dict") -> Leaf:
    return Leaf(path, text, field_class)


# --- the vocabulary reads keys, not spellings -----------------------------------------------

@pytest.mark.parametrize(("key", "words"), [
    ("billing_address_line1", ("billing", "address", "line", "1")),
    ("customerNames", ("customer", "name")),
    ("userPhone", ("user", "phone")),
    ("PATIENT-NAME", ("patient", "name")),
    ("HTTPServer", ("http", "server")),
])
def test_keys_are_split_into_words(key, words):
    assert key_words(key) == words


@pytest.mark.parametrize(("path", "category"), [
    ("$.values.patient_name", "person_name"), ("$.values.patientName", "person_name"),
    ("$.values.fullname", "person_name"), ("$.values.account-holder", "person_name"),
    ("$.values.customer.name", "person_name"), ("$.values.labeler", "person_role"),
    ("$.values.shipping_address", "postal_address"), ("$.values.billing_address_line1", "postal_address"),
    ("$.values.zip", "postal_place"), ("$.values.msisdn", "phone"), ("$.values.userPhone", "phone"),
    ("$.values.ssn", "ssn"), ("$.values.socialSecurityNumber", "ssn"), ("$.values.tax_id", "tax_id"),
    ("$.values.passport_number", "passport"), ("$.values.drivers_license", "drivers_license"),
    ("$.values.mrn", "medical_record"), ("$.values.diagnosis", "health_condition"),
    ("$.values.IBAN", "iban"), ("$.values.card_number", "card"), ("$.values.routing_number", "routing"),
    ("$.values.swift_code", "swift"), ("$.values.dob", "date_of_birth"), ("$.values.dateOfBirth", "date_of_birth"),
    ("$.values.customer_ref", "person_reference"),
])
def test_keys_name_their_category_in_every_naming_style(path, category):
    assert semantics_of_path(path).names(category)


@pytest.mark.parametrize("path", [
    "$.values.name", "$.values.model_name", "$.values.file_name", "$.values.display_name", "$.values.ip_address",
    "$.values.email_address_count" , "$.values.customer_tier", "$.values.x.properties.patient_name.title",
    "$.values.step_name", "$.values.region", "$.values.optimizer",
])
def test_keys_that_name_no_personal_data(path):
    meaning = semantics_of_path(path)
    assert not any(c.entity for c in meaning.categories), [c.name for c in meaning.categories]


# --- findings of its own: the value's shape fits the key -------------------------------------

@pytest.mark.parametrize(("path", "value", "entity"), [
    ("$.values.labeler", "Maria Gonzalez", "PERSON"),
    ("$.values.patient_name", "maria gonzalez", "PERSON"),
    ("$.values.customer.name", "Jean-Luc de la Croix", "PERSON"),
    ("$.values.annotator", "John O'Neil", "PERSON"), ("$.values.labeler", "Ronald McDonald", "PERSON"),
    ("$.values.home_address", "221B Baker Street, London NW1 6XE", "LOCATION"),
    ("$.values.shipping_address", "Hauptstraße 5, 10115 Berlin", "LOCATION"),
    ("$.values.msisdn", "4915123456789", "PHONE_NUMBER"),
    ("$.values.ssn", "219099999", "US_SSN"),
    ("$.values.passport_number", "C01X00T47", "PASSPORT"),
    ("$.values.tax_id", "DE123456789", "TAX_ID"),
    ("$.values.iban", "de89370400440532013000", "IBAN_CODE"),
    ("$.values.dob", "1984-03-12", "DATE_OF_BIRTH"),
    ("$.values.diagnosis", "Type 2 diabetes", "MEDICAL_CONDITION"),
    ("$.values.customer_ref", "Maria Gonzalez", "PERSON"),
    ("$.values.patient_name", "Mei O. Kaur", "PERSON"),         # an initial is no acronym
])
def test_a_value_shaped_as_its_key_says_is_found(path, value, entity):
    assert [(e, t) for _, e, t, _ in hits(FieldSemanticsDetector(), [user(path, value)])] == [(entity, value)]


@pytest.mark.parametrize(("path", "value"), [
    ("$.values.labeler", "auto-labeler-v2"), ("$.values.labeler", "Snorkel"), ("$.values.owner", "Meta AI"),
    ("$.values.author", "Hugging Face"), ("$.values.patient_name", "Patient Name"),
    ("$.values.home_address", "unknown"), ("$.values.msisdn", "n/a"), ("$.values.ssn", "123456789"),
    ("$.values.passport_number", "none"), ("$.values.customer_ref", "CUST-000123"),
    ("$.values.dob", "yesterday"), ("$.values.model_name", "Gaussian Process"), ("$.values.name", "Maria Gonzalez"),
    ("$.values.owner", "ML Platform"), ("$.values.author", "Data Science Team"), ("$.values.customer_name", "jdoe"),
    ("$.values.user_name", "default"), ("$.values.reviewer", "Customer Support"),
])
def test_a_value_of_another_shape_is_not(path, value):
    assert hits(FieldSemanticsDetector(), [user(path, value)]) == []


def test_declared_zenml_keys_carry_no_semantics():
    """A pipeline's or a user's `name` / `full_name` is ZenML's field, not a user's key."""
    detector = FieldSemanticsDetector()
    assert hits(detector, [Leaf("$.full_name", "Maria Gonzalez", "free_text"), Leaf("$.name", "Load Data", "name")]) == []
    assert hits(detector, [Leaf("$.values.labeler", "Maria Gonzalez", "user_dict", is_key=True)]) == []
    assert [e for _, e, _, _ in hits(detector, [Leaf("$.extra.labeler", "Maria Gonzalez", "unknown")])] == ["PERSON"]


# --- the key path as Presidio context ----------------------------------------------------------

@pytest.mark.parametrize(("path", "value", "entity"), [
    ("$.values.ssn", "219-09-9999", "US_SSN"),
    ("$.values.ssn", "219099999", "US_SSN"),
    ("$.values.customer.tax_id", "219099999", "US_SSN"),
    ("$.values.passport_number", "912803456", "US_PASSPORT"),
])
def test_a_key_naming_the_entity_lifts_a_whole_value_match_over_the_threshold(presidio, path, value, entity):
    found = [(e, s) for _, e, _, s in hits(presidio, [user(path, value)])]
    assert any(e == entity and s >= 0.5 for e, s in found), found


def test_the_same_digits_under_a_neutral_key_stay_below_it(presidio):
    found = [(e, s) for _, e, _, s in hits(presidio, [user("$.values.rows", "219099999")])]
    assert all(s < 0.5 for _, s in found), found


def test_only_a_whole_value_is_lifted(presidio):
    """Key context is no licence for every number in a longer text under that key."""
    found = hits(presidio, [user("$.values.ssn_lookup_note", "rows 219099999 of the batch")])
    assert all(s < 0.5 for _, _, _, s in found), found


# --- masking never hides what a recognizer matches ---------------------------------------------

@pytest.mark.parametrize(("text", "masked"), [
    ("torch==2.1.0+cu118", "torch==___________"),
    ("numpy>=1.26.4", "numpy>=______"),
    ("torch==4539004010602815", "torch==4539004010602815"),
    ("x~=219-09-9999", "x~=219-09-9999"),
    ("4539.0040.1060.2815", "4539.0040.1060.2815"),
    ("d41d8cd98f00b204e9800998ecf8427e", "_" * 32),
    ("45390040106028154539004010602815", "45390040106028154539004010602815"),
])
def test_masking_spares_versions_and_hashes_but_never_long_numbers(text, masked):
    assert mask_metadata(text) == masked


@pytest.mark.parametrize("text", ["pin torch==4539004010602815", "x~=219-09-9999 ok", "pkg>=4111111111111111"])
def test_pii_written_as_a_pin_is_found(presidio, text):
    assert [s for _, _, _, s in hits(presidio, [user("$.values.req", text)]) if s >= 0.5]


def test_real_pins_stay_clean(presidio):
    assert hits(presidio, [user("$.values.req", "zenml==0.98.0 numpy>=1.26.4 torch~=2.1.0+cu118 scipy!=1.11.2")]) == []


# --- e-mail inside URIs and paths, at any domain -----------------------------------------------

@pytest.mark.parametrize("text", [
    "s3://bucket/jane.doe@acme.com/model.pkl", "file:///srv/mlops/jane.doe@acme.com/x",
    "https://jane.doe@acme.com/logs", "gs://b/runs?owner=jane.doe@acme.com", "owner: jane.doe@acme.example",
    "jane@acme.internal", "jane@build.corp", "jane@printer.local",
])
def test_an_address_is_found_wherever_it_sits_and_whatever_its_domain(presidio, text):
    assert [(e, s) for _, e, _, s in hits(presidio, [user("$.values.uri", text)])] == [("EMAIL_ADDRESS", 1.0)]


@pytest.mark.parametrize("text", [
    "git@github.com:org/repo.git", "git+ssh://git@github.com/org/repo.git", "@step\ndef train():",
    "repo/image@sha256:0123abcd", "pkg@1.2.3",
])
def test_sdk_remotes_and_decorators_are_not_addresses(presidio, text):
    assert [e for _, e, _, _ in hits(presidio, [user("$.values.uri", text)]) if e == "EMAIL_ADDRESS"] == []


# --- IBAN in any case --------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["DE89 3704 0044 0532 0130 00", "de89 3704 0044 0532 0130 00", "de89370400440532013000"])
def test_an_iban_is_found_in_any_case(presidio, text):
    assert [(e, s) for _, e, _, s in hits(presidio, [user("$.values.note", f"pay to {text}")])] == [("IBAN_CODE", 1.0)]


def test_a_lower_case_iban_with_a_wrong_checksum_is_not(presidio):
    assert hits(presidio, [user("$.values.note", "pay to de88 3704 0044 0532 0130 00")]) == []


# --- through the gate -------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    {"labeler": "Maria Gonzalez"}, {"customer": {"tax_id": "219099999"}}, {"msisdn": "4915123456789"},
    {"passport_number": "912803456"}, {"home_address": "221B Baker Street, London NW1 6XE"},
    {"owner": "jane.doe@acme.example"}, {"uri": "s3://bucket/jane.doe@acme.com/model.pkl"},
    {"req": "torch==4539004010602815"}, {"iban": "de89370400440532013000"},
])
def test_the_gate_blocks(inspector, values):
    assert decide(inspector, values)[0] == "block"


@pytest.mark.parametrize("values", [
    {"model_name": "Gaussian Process"}, {"optimizer": "Adam"}, {"region": "US East"}, {"step": "Load Data"},
    {"name": "Random Forest"}, {"labeler": "auto-v2"}, {"req": "torch==2.1.0+cu118"},
    {"remote": "git@github.com:org/repo.git"},
])
def test_the_gate_does_not_block(inspector, values):
    action, findings = decide(inspector, values)
    assert action != "block", findings


# --- NER: on by default, verified, only where names can be ---------------------------------------

@pytest.fixture(scope="module")
def default_pii():
    """The registry's default NER detector (PERSON and LOCATION are its findings)."""
    from metagate.scanner.detectors.registry import build_detectors

    detectors, _ = build_detectors(None)
    return next(d for d in detectors if d.name == "ner")


def test_the_registry_default_runs_the_pinned_pipeline(default_pii):
    from metagate.scanner.detectors.ner import DEFAULT_SPACY_MODEL

    assert default_pii.settings.spacy_model == DEFAULT_SPACY_MODEL
    assert [e for _, e, _, _ in hits(default_pii, [user("$.values.note", "Call from Maria Gonzalez about her refund")])] == ["PERSON"]


@pytest.mark.parametrize("text", [
    "Gaussian Process", "Adam", "Random Forest Classifier", "US East", "Load Data", "trained on California Housing",
    "Optimizer Adam with BERT base and ResNet-50, Gaussian noise", "Berlin",
])
def test_ml_vocabulary_and_lone_places_do_not_count(default_pii, text):
    assert [e for _, e, _, _ in hits(default_pii, [user("$.values.note", text)]) if e in ("PERSON", "LOCATION")] == []


def test_ner_reads_no_cloud_region_key_and_no_leaf_without_a_name_shape(default_pii):
    ner = default_pii
    assert not ner.may_hold_names(user("$.values.region", "US East (N. Virginia) and more text here"))
    assert not ner.may_hold_names(user("$.values.note", "epochs 10, lr 0.01"))
    # Code is read by the given-name rules only (ner.PATTERN_ONLY_CLASSES), and only with a name shape.
    assert not ner.may_hold_names(Leaf("$.source_code", "def load_data(rows): return rows", "code"))
    assert ner.may_hold_names(user("$.values.note", "met Maria"))


def test_a_pipeline_whose_files_differ_from_the_pin_is_refused(tmp_path, monkeypatch):
    import shutil

    from metagate.scanner.detectors import ner

    copy = tmp_path / "model"
    shutil.copytree(ner.model_directory(ner.DEFAULT_SPACY_MODEL), copy)
    assert ner.model_digest(copy) == ner.PINNED_MODELS[ner.DEFAULT_SPACY_MODEL].sha256
    (copy / "ner" / "moves").write_bytes((copy / "ner" / "moves").read_bytes() + b"\0")
    monkeypatch.setattr(ner, "model_directory", lambda package: copy)
    with pytest.raises(ner.ModelIntegrityError, match="not the pinned build"):
        ner.load_pipeline(ner.DEFAULT_SPACY_MODEL)


def test_a_title_repeating_its_key_is_no_name(default_pii):
    leaf = user("$[0].metadata.schema.properties.model_kind.title", "Model Kind")
    assert hits(default_pii, [leaf]) == []
    assert [e for _, e, _, _ in hits(default_pii, [user("$.values.note", "Reviewed by Maria Gonzalez")])] == ["PERSON"]


# --- every naming style of every vocabulary entry --------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from metagate.scanner.detectors.fields import VOCABULARY  # noqa: E402

_ENTRIES = [(c.name, phrase) for c in VOCABULARY for phrase in (*c.phrases, *((w,) for w in sorted(c.words)))]
_STYLES = {
    "snake": lambda words: "_".join(words),
    "camel": lambda words: words[0] + "".join(w.capitalize() for w in words[1:]),
    "pascal": lambda words: "".join(w.capitalize() for w in words),
    "kebab": lambda words: "-".join(words),
    "upper": lambda words: "_".join(w.upper() for w in words),
}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_ENTRIES), st.sampled_from(sorted(_STYLES)), st.sampled_from(["", "primary", "new"]),
       st.sampled_from(["", "1", "2"]), st.booleans())
def test_every_entry_matches_in_every_style_with_prefixes_and_suffixes(entry, style, prefix, suffix, nested):
    name, phrase = entry
    category = next(c for c in VOCABULARY if c.name == name)
    words = [*([prefix] if prefix and not category.head_only else []), *phrase, *([suffix] if suffix else [])]
    key = _STYLES[style](words)
    path = f"$.values.record.{key}" if nested else f'$.values["{key}"]'
    assert semantics_of_path(path).names(name), (key, [c.name for c in semantics_of_path(path).categories])


def test_a_long_name_like_value_is_decided_in_linear_time():
    import time

    started = time.perf_counter()
    hits(FieldSemanticsDetector(), [user("$.values.patient_name", "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" * 2 + "!")])
    assert time.perf_counter() - started < 0.5


_ML_THINGS = [
    "Sales Forecast", "Feature Store", "Hyperparameter Tuning", "Challenger Model", "Deploy Model", "Ada Boost",
    "Theil Sen", "Label Encoder", "Min Max Scaler", "Seldon Core", "Ray Serve", "Cloud Run", "Label Studio",
    "Slack Alerter", "Adult Income", "Ames Housing", "Seattle Weather", "Kubeflow Pipelines", "Perceptron", "Triton",
]


@pytest.mark.parametrize("thing", _ML_THINGS)
def test_title_case_names_of_ml_things_are_no_people_or_places(default_pii, thing):
    """en_core_web_sm took each of these for a PERSON or a place, alone or in a sentence."""
    for text in (thing, f"Pipeline for {thing} trained weekly"):
        for leaf in (user("$.values.model_name", text), Leaf("$.name", text, "name"), Leaf("$.description", text, "free_text")):
            assert [e for _, e, _, _ in hits(default_pii, [leaf]) if e in ("PERSON", "LOCATION")] == [], (text, leaf.field_class)


@pytest.mark.parametrize("text", ["Maria Gonzalez", "reviewed by John Smith", "Ticket from Olga Petrova about a refund",
                                  "We met Jane Doe in Madrid"])
def test_people_with_a_given_name_count(default_pii, text):
    assert "PERSON" in [e for _, e, _, _ in hits(default_pii, [user("$.values.note", text)])]


def test_a_place_counts_after_a_locative_word(default_pii):
    assert [t for _, e, t, _ in hits(default_pii, [user("$.values.note", "She lives in Madrid with her family")]) if e == "LOCATION"] == ["Madrid"]
    assert [e for _, e, _, _ in hits(default_pii, [user("$.values.note", "Model for Mumbai Rainfall trained weekly")]) if e == "LOCATION"] == []


@pytest.mark.parametrize("text", ["Ticket from Kenji Tanaka about a refund", "signed Ewa Semenowicz", "Jan van Dijk"])
def test_a_given_name_and_a_surname_count_where_the_model_saw_nothing(default_pii, text):
    assert "PERSON" in [e for _, e, _, _ in hits(default_pii, [user("$.values.note", text)])]


@pytest.mark.parametrize("text", ["May Release notes", "Grace Period", "Will Return later",
                                  "Monte Carlo", "Jensen Shannon divergence"])
def test_a_given_name_before_an_english_word_is_no_person(default_pii, text):
    assert "PERSON" not in [e for _, e, _, _ in hits(default_pii, [user("$.values.note", text)])]
