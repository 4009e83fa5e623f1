"""The never-tuned test set (tests/corpus/test/, benchmarks/build_test_corpus.py): current, well
labelled, and separate from the development set.

These tests check how the set is made, never what the detectors make of it: a failing test
that named missed cases would be a way to tune on the test set (benchmarks/recall.py reports
its figures).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.labelled_corpus import builder as dev_builder

ROOT = Path(__file__).resolve().parents[2]
TEST_SET = ROOT / "tests" / "corpus" / "test"
CAPTURED_TEST = ROOT / "tests" / "corpus" / "captured_test"
FILES = ("clean.jsonl", "leaks.jsonl", "evasions.jsonl")


@cache
def test_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_test_corpus", ROOT / "benchmarks" / "build_test_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


test_builder.__test__ = False  # a helper, not a test


def _cases(name: str) -> list[dict]:
    return [json.loads(line) for line in (TEST_SET / name).read_text(encoding="utf-8").split("\n") if line.strip()]


@pytest.fixture(scope="module")
def labels() -> list[dict]:
    return [case["label"] for name in FILES for case in _cases(name)]


def test_committed_test_set_is_what_the_builder_makes():
    built = test_builder().render_files()
    for name in FILES:
        committed = (TEST_SET / name).read_text(encoding="utf-8")
        assert committed == built[name], f"{name} is stale: run benchmarks/build_test_corpus.py"


def test_files_stay_small():
    total = sum((TEST_SET / name).stat().st_size for name in FILES)
    assert total < 6 * 1024 * 1024


def test_every_case_is_labelled_with_class_technique_place_decision_and_findings(labels):
    ids = [label["id"] for label in labels]
    assert len(ids) == len(set(ids))
    for label in labels:
        assert label["kind"] in ("clean", "leak")
        if label["kind"] == "clean":
            assert label["decision"] in ("allow", "redact") and label["findings"] == []
            continue
        assert label["class"] and label["technique"] and label["place"] and label["place_group"]
        assert label["decision"] in ("block", "redact")
        assert label["findings"] and all(f["category"] in ("pii", "secret", "blob") and f["entity"] and
                                         f["path"].startswith("$") for f in label["findings"])


def test_the_issue_classes_channels_and_techniques_are_covered(labels):
    leaks = [label for label in labels if label["kind"] == "leak"]
    assert {label["class"] for label in leaks} >= {
        "person_name", "postal_address", "key_context", "contact", "prose", "records", "numbers", "secret", "blob"}
    assert len({label["place"] for label in leaks}) > 40
    assert {label["place_group"] for label in leaks} == {"body", "query", "header", "path"}
    assert {label["technique"] for label in leaks} >= {
        "plain", "hex", "hex_0x_tokens", "base32", "base85", "ascii85", "reversed", "rot13", "char_list",
        "at_brackets", "homoglyph_at", "split_siblings", "card_split_fields", "digit_list", "latin1_bytes"}


def test_clean_traffic_is_every_test_capture_under_several_artifact_roots(labels):
    clean = [c for c in _cases("clean.jsonl") if c["label"]["technique"] == "regenerated"]
    captured = sum(1 for path in CAPTURED_TEST.glob("*.jsonl") for line in path.read_text().splitlines() if line.strip())
    assert len(clean) == 2 * captured
    bodies = "\n".join(c["body_text"] or "" for c in clean)
    for root in ("s3://", "gs://", "/mnt/", "/srv/"):
        assert root in bodies
    assert "/tmp/metagate-capture-" not in bodies  # every capture root was regenerated


def test_regenerated_ids_differ_from_the_captures_but_stay_consistent():
    module = test_builder()
    import random

    regen = module.Regenerator(random.Random(1), "gs://bucket/zenml")
    uid = "7bd80e97-d926-4a47-a4df-2680603c375c"
    text = regen.text(f'{{"project": "{uid}", "again": "{uid}", "uri": "/tmp/metagate-capture-ab12/x/{uid}/450119fa"}}')
    new = json.loads(text)
    assert new["project"] == new["again"] != uid
    assert new["uri"].startswith("gs://bucket/zenml/x/") and "450119fa" not in new["uri"]


def test_captures_hold_no_credentials():
    for path in CAPTURED_TEST.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            for name, value in record["headers"].items():
                if name.lower() in ("authorization", "cookie", "proxy-authorization"):
                    assert value == "<redacted>", path.name
            if record["path"].endswith("/login"):
                assert "password=<redacted>" in record["body_text"]


def test_test_samples_are_not_development_samples():
    dev_values = {sample.value for sample in dev_builder().SAMPLES}
    test_values = {sample.text for sample in test_builder().SAMPLES}
    assert not dev_values & test_values
    # nor does a development sample sit inside a test case
    text = "".join((TEST_SET / name).read_text(encoding="utf-8") for name in ("leaks.jsonl", "evasions.jsonl"))
    short_dev = [v for v in dev_values if len(v) < 80]
    assert [v for v in short_dev if json.dumps(v)[1:-1] in text] == []


def test_labels_come_from_the_builder_not_a_detector():
    source = (ROOT / "benchmarks" / "build_test_corpus.py").read_text()
    for detector_module in ("scanner.detectors", "scanner.evasion", "Inspector", "proxy.inspection"):
        assert detector_module not in source


@cache
def recall_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recall", ROOT / "benchmarks" / "recall.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _finding(path: str, category: str = "pii", entity: str = "PERSON", score: float = 0.85) -> dict:
    return {"path": path, "category": category, "entity": entity, "score": score}


def test_recall_counts_a_finding_at_or_below_the_labelled_path_of_any_labelled_kind():
    matched = recall_module().matched
    label = {"findings": [{"category": "pii", "entity": "PROSE", "path": "$.values.note"},
                          {"category": "pii", "entity": "PERSON", "path": "$.values.note"}]}
    assert matched([_finding("$.values.note")], label, entity=True)           # the second alternative
    assert matched([_finding("$.values.note.part_3")], label, entity=False)   # a fragment of a split value
    assert matched([_finding("$.values.note[2]")], label, entity=False)
    assert not matched([_finding("$.values.note2")], label, entity=False)     # a sibling, not below
    assert not matched([_finding("$.values")], label, entity=False)           # above is not at
    assert not matched([_finding("$.values.note", score=0.4)], label, entity=False)
    assert not matched([_finding("$.values.note", category="secret")], label, entity=False)
    assert not matched([_finding("$.values.note", entity="EMAIL_ADDRESS")], label, entity=True)


def test_recall_reads_header_paths_case_insensitively():
    matched = recall_module().matched
    label = {"findings": [{"category": "pii", "entity": "US_SSN", "path": '$headers["x-request-id"]'}]}
    assert matched([_finding('$headers["X-Request-ID"]', entity="US_SSN")], label, entity=True)
