"""PresidioPiiDetector, make_offline and build_detectors."""

from __future__ import annotations

import hashlib
import re
import pickle
import subprocess
import sys
import textwrap
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metagate.scanner.detectors.pii import PresidioPiiDetector
from metagate.scanner.detectors.registry import build_detectors
from metagate.scanner.model import Leaf
from metagate.scanner.offline import ModelDownloadRefused, make_offline


@pytest.fixture(scope="module")
def detector() -> PresidioPiiDetector:
    return PresidioPiiDetector()


def found(detector: PresidioPiiDetector, leaves: list[Leaf]) -> list[tuple[int, str, str]]:
    """(leaf index, entity, matched text) for every hit."""
    return sorted((h.leaf, h.entity, leaves[h.leaf].text[h.start : h.end]) for h in detector.scan(leaves))


def user(path: str, text: str, field_class: str = "user_dict") -> Leaf:
    return Leaf(path, text, field_class)


# --- positives ------------------------------------------------------------------------

POSITIVES = [
    ("$.values.note", "trained by jane.doe@example.com", "EMAIL_ADDRESS", "jane.doe@example.com"),
    ("$.values.phone", "+1 415-555-2671", "PHONE_NUMBER", "+1 415-555-2671"),
    ("$.values.phone", "415.555.2671", "PHONE_NUMBER", "415.555.2671"),
    ("$.values.contact", "call me on 020 7946 0958", "PHONE_NUMBER", "020 7946 0958"),
    ("$.values.card", "4111 1111 1111 1111", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("$.values.payout", "GB82 WEST 1234 5698 7654 32", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    ("$.values.x", "my ssn is 219-09-9999", "US_SSN", "219-09-9999"),
    ("$.values.itin", "912-70-1234", "US_ITIN", "912-70-1234"),
    ("$.values.passport", "A12345678", "US_PASSPORT", "A12345678"),
    ("$.values.driver_license", "D1234567", "US_DRIVER_LICENSE", "D1234567"),
    ("$.values.bank_account", "123456789012", "US_BANK_NUMBER", "123456789012"),
    ("$.values.patient", "NHS number 943 476 5919", "UK_NHS", "943 476 5919"),
    ("$.values.host", "worker at 10.0.12.7", "IP_ADDRESS", "10.0.12.7"),
    ("$.values.ipv6", "2001:db8::ff00:42:8329", "IP_ADDRESS", "2001:db8::ff00:42:8329"),
    ("$.values.mac", "00:1A:2B:3C:4D:5E", "MAC_ADDRESS", "00:1A:2B:3C:4D:5E"),
    ("$.values.wallet", "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ", "CRYPTO", "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ"),
    ("$.values.note", "paid to 0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "CRYPTO",
     "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
    ("$query.name", "contains:jane@corp.io", "EMAIL_ADDRESS", "jane@corp.io"),
]


@pytest.mark.parametrize(("path", "text", "entity", "matched"), POSITIVES, ids=[p[2] + ":" + p[1] for p in POSITIVES])
def test_finds_each_entity_with_its_span(detector, path, text, entity, matched):
    leaves = [user(path, text)]
    assert (0, entity, matched) in found(detector, leaves)


@pytest.mark.parametrize(
    "text",
    [
        "call +1 (415) 555-2671 now",
        "tel:+442079460958",
        "+91 98765 43210",
        "phone 415 555 2671 and 212.555.0199",
        "Fax: +33 1 23 45 67 89",
        "x 0044 20 7946 0958",
        "epoch 3: loss=0.2500 acc=0.6000, seen 1234567 rows",
    ],
)
def test_windowed_phone_matching_agrees_with_presidio(text):
    from metagate.scanner.detectors.pii import _WindowedPhoneRecognizer
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    def spans(recognizer):
        return sorted((r.start, r.end) for r in recognizer.analyze(text, ["PHONE_NUMBER"]))

    assert spans(_WindowedPhoneRecognizer()) == spans(PhoneRecognizer())


def test_email_in_source_code_is_found(detector):
    code = 'def notify():\n    send(to="jane.doe@example.com")\n'
    assert (0, "EMAIL_ADDRESS", "jane.doe@example.com") in found(detector, [user("$.source_code", code, "code")])


def test_a_json_key_can_be_the_pii(detector):
    leaves = [Leaf('$.values["jane@example.com"]', "jane@example.com", "user_dict", is_key=True)]
    assert found(detector, leaves) == [(0, "EMAIL_ADDRESS", "jane@example.com")]


def test_hits_map_back_to_the_right_leaf_among_many(detector):
    leaves = [
        user("$.a", "nothing here"),
        user("$.b", "12 apples"),
        Leaf("$.id", str(uuid.uuid4()), "id"),
        user("$.c", "ping jane@example.com or +44 20 7946 0958 today"),
        user("$.d", "no digits"),
        user("$.e", "bob@example.org"),
    ]
    hits = found(detector, leaves)
    assert (3, "EMAIL_ADDRESS", "jane@example.com") in hits
    assert (3, "PHONE_NUMBER", "+44 20 7946 0958") in hits
    assert (5, "EMAIL_ADDRESS", "bob@example.org") in hits
    assert {leaf for leaf, _, _ in hits} == {3, 5}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("call 415-555", "2671 now"),
        ("jane.doe@example", ".com"),
        ("jane.doe", "@example.com"),
        ("4111 1111", "1111 1111"),
        ("10.0", ".12.7"),
        ("00:1A:2B", ":3C:4D:5E"),
        ("219-09", "-9999"),
    ],
)
def test_no_match_across_two_leaves(detector, left, right):
    assert found(detector, [user("$.a", left), user("$.b", right)]) == []


def test_context_comes_from_the_key_of_the_leaf_itself(detector):
    # The same digits: a bank account under an account key, nothing under a counter key.
    assert found(detector, [user("$.bank_account", "123456789012")]) == [(0, "US_BANK_NUMBER", "123456789012")]
    assert found(detector, [user("$.rows_seen", "123456789012")]) == []
    # Context does not leak from one leaf into the next.
    assert found(detector, [user("$.bank_account", "x"), user("$.rows_seen", "123456789012")]) == []


@pytest.mark.parametrize(
    "number",
    ["+1 415-555-2671", "+44 20 7946 0958", "+14155552671", "(415) 555-2671", "415-555-2671", "415.555.2671",
     "020 7946 0958"],
)
def test_a_number_written_as_a_phone_number_blocks_without_context(detector, number):
    """Presidio scores these 0.4 without a context word, below every blocking threshold."""
    leaves = [user("$.values.note", f"trained by {number}")]
    scores = [h.score for h in detector.scan(leaves) if h.entity == "PHONE_NUMBER"]
    assert scores and max(scores) >= 0.6


@pytest.mark.parametrize(
    "text",
    ["4155552671", "415 555 2671 rows", "v4.155.552671", "2024-05-14 10:22:31", "1.0.415.5552671",
     "batch 415-555-267", "shape (415, 5552671)"],
)
def test_numbers_not_laid_out_as_phone_numbers_stay_below_the_threshold(detector, text):
    leaves = [user("$.values.note", text)]
    assert all(h.score < 0.5 for h in detector.scan(leaves) if h.entity == "PHONE_NUMBER")


# EIP-55's own test vectors: the checksummed spelling of four addresses.
EIP55_VECTORS = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_eip55_checksums_match_the_standards_vectors(address):
    from metagate.scanner.detectors.ethereum import eip55

    assert eip55(address[2:].lower()) == address[2:]


def test_an_ethereum_address_is_crypto_by_its_checksum_or_its_context(detector):
    def scores(text: str) -> list[float]:
        return [h.score for h in detector.scan([user("$.values.note", text)]) if h.entity == "CRYPTO"]

    checksummed = EIP55_VECTORS[0]
    assert scores(f"sent from {checksummed}") == [1.0]
    # One case: no checksum to check, so a weak pattern (below the blocking threshold) ...
    assert scores(checksummed.lower()) == [0.4]
    # ... that a context word raises.
    assert max(scores(f"eth wallet {checksummed.lower()}")) >= 0.5
    # Mixed case with a wrong checksum is no address.
    assert scores(checksummed[:-1] + checksummed[-1].swapcase()) == []


def test_long_number_runs_are_left_to_the_tables_detector_when_it_runs():
    import random

    rng = random.Random(5)
    vector = "[" + " ".join(f"{rng.uniform(-1, 1):.8f}" for _ in range(300)) + "]"
    text = f"weights {vector} owner jane.doe@example.com card 4111 1111 1111 1111"
    leaves = [user("$.values.phone_note", text)]
    looking = PresidioPiiDetector()
    assert any(h.entity == "PHONE_NUMBER" and text[h.start] in "-0123456789" and h.start < len(vector) + 8
               for h in looking.scan(leaves)), "without the setting the digits of the floats are analyzed"
    leaving = PresidioPiiDetector(numeric_runs_reported_from=128)
    hits = found(leaving, leaves)
    assert [(e, m) for _, e, m in hits] == [("CREDIT_CARD", "4111 1111 1111 1111"), ("EMAIL_ADDRESS", "jane.doe@example.com")]
    # The setting survives the trip to a worker process.
    assert pickle.loads(pickle.dumps(leaving)).numeric_runs_reported_from == 128


def test_the_registry_lets_pii_leave_number_runs_only_to_a_running_tables_detector():
    pii_of = lambda config: next(d for d in build_detectors(config)[0] if d.name == "presidio")  # noqa: E731
    assert pii_of(None).numeric_runs_reported_from == 128
    assert pii_of({"tables": {"min_numbers": 64}}).numeric_runs_reported_from == 64
    assert pii_of({"tables": {"enabled": False}}).numeric_runs_reported_from is None


def test_bare_digits_are_a_phone_number_only_with_context(detector):
    assert found(detector, [user("$.run_metadata.epoch", "1717245296")]) == []
    assert found(detector, [user("$.values.phone", "4155552671")]) == [(0, "PHONE_NUMBER", "4155552671")]


def test_unix_times_are_not_cards_or_nhs_numbers(detector):
    # 10% of random digit runs pass the Luhn or NHS checksum; epochs in s/ms/us must not.
    stamps = [str(1_717_245_296 + step * 7_919) for step in range(60)]
    leaves = [
        user(f"$.values.t{i}", stamp + suffix) for i, stamp in enumerate(stamps) for suffix in ("", "123", "123456")
    ]
    assert found(detector, leaves) == []
    assert (0, "CREDIT_CARD", "4111111111111111") in found(detector, [user("$.values.card", "4111111111111111")])


def test_score_threshold_drops_weak_matches():
    strict = PresidioPiiDetector(score_threshold=0.9)
    leaves = [user("$.x", "reach me at 020 7946 0958"), user("$.y", "jane@example.com")]
    assert found(strict, leaves) == [(1, "EMAIL_ADDRESS", "jane@example.com")]


def test_url_is_off_by_default_and_can_be_enabled(detector):
    leaves = [user("$.x", "see https://www.example.com/report")]
    assert found(detector, leaves) == []
    with_url = PresidioPiiDetector(entities=["URL"])
    assert [entity for _, entity, _ in found(with_url, leaves)] == ["URL"]


def test_unknown_entity_is_rejected():
    with pytest.raises(ValueError, match="unsupported"):
        PresidioPiiDetector(entities=["EMAIL_ADDRESS", "NO_SUCH_THING"])


def test_skipped_classes_are_not_scanned(detector):
    for field_class in ("id", "hash", "timestamp", "secret_ref"):
        assert not detector.wants(user("$.x", "jane@example.com", field_class))
        assert found(detector, [user("$.x", "jane@example.com", field_class)]) == []


# --- negatives: ZenML's own metadata ----------------------------------------------------

PIP_FREEZE = "\n".join(
    [
        "aiohttp==3.14.5",
        "numpy==2.4.6",
        "nvidia-cudnn-cu12==9.1.0.70",
        "nvidia-cublas-cu12==12.1.3.1",
        "torch==2.3.1+cu121",
        "pandas~=2.2.0",
        "scikit-learn>=1.5.2,<2",
        "acme-lib @ git+ssh://git@github.com/acme/lib.git@v1.2.3",
        "other @ git+https://github.com/acme/other@" + hashlib.sha1(b"y").hexdigest(),
        "zenml==0.98.0",
    ]
)
ZENML_METADATA = [
    str(uuid.uuid4()),
    str(uuid.uuid4()).upper(),
    uuid.uuid4().hex,
    hashlib.sha256(b"x").hexdigest(),
    hashlib.sha1(b"x").hexdigest(),
    hashlib.md5(b"x").hexdigest(),
    "2024-06-01T12:34:56.789012",
    "2024-06-01 12:34:56+00:00",
    "2024-06-01T12:34:56Z",
    "0.98.0",
    "3.11.7",
    "v1.2.3",
    "1.2.3.4.5",
    "py3.11",
    "zenmldocker/zenml:0.98.0-py3.11",
    "numpy==2.4.6",
    PIP_FREEZE,
    "s3://acme-ml-data/churn/2024-06-01/train.parquet",
    "gs://bucket-123/a/b/c/7f9c4b8d6e.npz",
    "file:///home/user/project/src",
    "zenml.integrations.sklearn.materializers.sklearn_materializer.SklearnMaterializer",
    "steps.trainer.trainer",
    "training-pipeline-trainer-7f9c4b8d6-x2k9q",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/zenml:training-pipeline-orchestrator",
    "git@github.com:acme/repo.git",
    "@step\ndef trainer(x: np.ndarray) -> float:\n    y = x @ W.T\n    z = a@b.T\n    return y[1::2].mean()\n",
    'Traceback (most recent call last):\n  File "/usr/lib/python3.11/site-packages/zenml/steps/base_step.py", '
    'line 1234, in __call__\n    raise ValueError("bad shape (32, 3, 224, 224)")\nValueError: bad shape',
    "http://127.0.0.1:8237",
    "http://0.0.0.0:8080/health",
    "::1",
    "1717245296",
    "0.9312",
    "(32, 3, 224, 224)",
    "{{aws_secret.aws_access_key_id}}",
    "run_2024_06_01_12_34_56",
    "checkpoint-12000",
    "arn:aws:iam::123456789012:role/zenml-runner",
    "sha256:" + hashlib.sha256(b"z").hexdigest(),
    "lr=0.001, batch_size=256, epochs=100, seed=42",
    "https://mlflow.internal:5000/#/experiments/3/runs/9f1c2d",
    "trained on an A100 and a T4 (NVIDIA driver 535), data in s3, public licence v2",
    "duplicate rows: 1234567",
]


@pytest.mark.parametrize("text", ZENML_METADATA, ids=[t[:40] for t in ZENML_METADATA])
def test_zenml_metadata_is_not_pii(detector, text):
    assert found(detector, [user("$.values.meta", text)]) == []


def test_a_whole_metadata_body_is_clean(detector):
    leaves = [user(f"$.values.k{i}", text) for i, text in enumerate(ZENML_METADATA)]
    assert found(detector, leaves) == []


# --- offline and process boundaries -------------------------------------------------------


def test_make_offline_pins_tldextract_to_the_snapshot():
    import tldextract.tldextract as tld_module

    make_offline()
    first = tld_module.TLD_EXTRACTOR
    make_offline()
    assert tld_module.TLD_EXTRACTOR is first
    assert first.suffix_list_urls == ()
    assert first("a.example.co.uk").suffix == "co.uk"


def test_presidio_engines_refuse_to_download_a_model():
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    make_offline()
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_nonexistent_lg"}])
    with pytest.raises(ModelDownloadRefused):
        engine.load()


def test_builds_and_scans_with_the_network_cut_off(tmp_path):
    """In a fresh interpreter with an empty home (no tldextract cache) and every socket
    refusing to connect, building the detector and scanning an email still works."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network is off in this test")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from metagate.scanner.detectors.pii import PresidioPiiDetector
        from metagate.scanner.model import Leaf

        hits = list(PresidioPiiDetector().scan([Leaf("$.note", "mail jane.doe@example.co.uk", "user_dict")]))
        assert [h.entity for h in hits] == ["EMAIL_ADDRESS"], hits
        print("ok")
        """
    )
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
    assert not (tmp_path / "cache" / "python-tldextract").exists()


def test_detector_survives_pickling_into_a_worker(detector):
    copy = pickle.loads(pickle.dumps(detector))
    assert found(copy, [user("$.x", "jane@example.com")]) == [(0, "EMAIL_ADDRESS", "jane@example.com")]


# --- registry --------------------------------------------------------------------------


def test_registry_builds_every_detector_by_default():
    detectors, tree_detectors = build_detectors(None)
    assert sorted(d.name for d in detectors) == [
        "birthdate", "blobs", "fields", "json_text", "ner", "presidio", "prose", "secrets", "tables"
    ]
    assert [d.name for d in tree_detectors] == ["arrays", "shapes"]


def test_every_section_takes_exactly_its_detectors_typed_settings():
    """The registry writes no key list: a section's keys are `enabled` and the fields of its
    detector's settings dataclass, and each field is a keyword the detector takes with the same
    default (so a setting added to a detector is a config key, and a key the detector does not
    read is not)."""
    import dataclasses
    import inspect

    from metagate.scanner.detectors.base import settings_keys
    from metagate.scanner.detectors.registry import SECTIONS

    for section in SECTIONS:
        cls = section.detector_class()
        settings = cls.settings_type
        assert section.keys() == settings_keys(cls)
        if settings is None:
            assert section.keys() == {"enabled"}
            continue
        assert dataclasses.is_dataclass(settings), section.name
        parameters = inspect.signature(cls.__init__).parameters
        if "settings" in parameters:   # `Detector(settings=None, /, **overrides)`: built from it
            built = cls(**{}) if section.name != "ner" else None
            if built is not None:
                assert built.settings == settings(), section.name
            continue
        for field in dataclasses.fields(settings):
            assert field.name in parameters, (section.name, field.name)
            assert parameters[field.name].default == field.default, (section.name, field.name)
        assert {name for name, p in parameters.items() if p.default is not inspect.Parameter.empty} == \
            {field.name for field in dataclasses.fields(settings)}, section.name


@pytest.mark.parametrize("config", [{"pii": {"treshold": 0.5}}, {"piii": {}}, {"blobs": "on"}])
def test_registry_rejects_typos(config):
    with pytest.raises(ValueError):
        build_detectors(config)


def test_a_package_pin_does_not_mask_a_card_number_on_the_next_line():
    from metagate.scanner.detectors.pii import PresidioPiiDetector
    from metagate.scanner.model import Leaf

    detector = PresidioPiiDetector()
    leaf = Leaf("$.x", "numpy==\n4111 1111 1111 1111", "user_dict")
    assert any(hit.entity == "CREDIT_CARD" for hit in detector.scan([leaf]))


# --- texts that differ only in what masking hides -----------------------------------------


def _log_uri(run: uuid.UUID) -> str:
    return f"s3://ml-artifacts/prod/logs/{run}/step-{run.hex}.log"


def test_a_text_differing_only_in_masked_metadata_is_not_analyzed_again(monkeypatch):
    detector = PresidioPiiDetector()
    looked_at: list[list[str]] = []   # texts that reach the triggers and the analyzer
    candidates = detector._candidates
    monkeypatch.setattr(
        detector, "_candidates", lambda leaves, indexes, texts: looked_at.append([leaves[i].path for i in indexes]) or candidates(leaves, indexes, texts)
    )
    leaves = [Leaf("$.uri", _log_uri(uuid.uuid4()), "uri"), Leaf("$.note", "call 415-555-2671 at 2024-01-26", "user_dict")]
    assert {(i, e) for i, e, _ in found(detector, leaves)} >= {(1, "PHONE_NUMBER")}
    assert looked_at[-1] == ["$.uri", "$.note"]
    # A fresh UUID in the URI, a fresh date in the note: only the note is looked at again (it had a hit).
    again = [Leaf("$.uri", _log_uri(uuid.uuid4()), "uri"), Leaf("$.note", "call 415-555-2671 at 2025-03-02", "user_dict")]
    assert {(i, e) for i, e, _ in found(detector, again)} >= {(1, "PHONE_NUMBER")}
    assert looked_at[-1] == ["$.note"]
    # The same masked text under another key (other context words) is another shape.
    found(detector, [Leaf("$.phone", _log_uri(uuid.uuid4()), "uri")])
    assert looked_at[-1] == ["$.phone"]


def test_what_is_remembered_is_never_the_text():
    detector = PresidioPiiDetector()
    found(detector, [Leaf("$.uri", _log_uri(uuid.uuid4()), "uri")])
    assert detector._empty_shapes
    assert all(isinstance(part, int) for shape in detector._empty_shapes for part in shape)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEFvVpPyYthonTZ-_.=<>~!+/: \t\n\u0662\u0664", max_size=90))
def test_the_first_character_gate_masks_exactly_what_the_shapes_do(text):
    from metagate.scanner.detectors.masking import _SHAPE_FLAGS, _SHAPES, _blank, mask_metadata

    ungated = re.compile(_SHAPES, _SHAPE_FLAGS)
    assert mask_metadata(text) == ungated.sub(_blank, text)


@pytest.mark.parametrize("text", [
    "zenml==0.98.0 and numpy>=1.26.4", "wheel_py3.11 and torch/python3.10", "v1.2.3-rc1", "2024-01-26T10:00:00Z",
    "3a170494b59a297ce59b54fa0c13b001", "logs/827ecca2-d8eb-432d-b0a3-e12180831248.log", "\u0662\u0660\u0662\u0664-01-26",
])
def test_the_first_character_gate_on_metadata(text):
    from metagate.scanner.detectors.masking import _SHAPE_FLAGS, _SHAPES, _blank, mask_metadata

    assert mask_metadata(text) == re.compile(_SHAPES, _SHAPE_FLAGS).sub(_blank, text)
    assert "_" in mask_metadata(text)
