"""The clean-subtree memo: a repeat of a subtree found clean is not inspected again, and what
the scanner reports (findings, fields, classes, decision) is the same as without the memo."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from metagate.scanner import evasion
from metagate.scanner.capture import read_captures
from metagate.scanner.catalog import Catalog
from metagate.scanner.detectors.registry import build_detectors
from metagate.scanner.model import InspectionRequest, Leaf
from metagate.scanner.pipeline import ScanResult, Scanner, policy_input
from metagate.scanner.schemas import SchemaSet
from metagate.scanner.memo import MIN_UNIT_BYTES, CleanMemo

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"
EMAIL = "jane.doe@example.com"
PROJECT = "a706a4ce-f538-4db7-9ef3-6b9c877f4a01"


@pytest.fixture(scope="module")
def parts():
    catalog = Catalog.load()
    return catalog, SchemaSet(catalog), build_detectors({})


def _scanner(parts, remember: bool = True) -> Scanner:
    catalog, schemas, (detectors, trees) = parts
    return Scanner(catalog, schemas, detectors, trees, b"k" * 32, remember_clean=remember)


def _corpus() -> list[InspectionRequest]:
    return [capture.request for path in sorted(CORPUS.glob("*.jsonl")) for capture in read_captures(path)]


def _facts(request: InspectionRequest, result: ScanResult) -> dict:
    """What a scan tells the policy and the audit trail, leaf order aside."""
    document = policy_input(request, result)
    document["fields"] = sorted((f["path"], f["class"]) for f in document["fields"])
    return {
        "policy_input": document,
        "inventory": result.inventory,
        "leaves": sorted((leaf.path, leaf.field_class, leaf.is_key) for leaf in [*result.leaves, *result.settled]),
    }


def _run_metadata(values: dict) -> InspectionRequest:
    body = {"project": PROJECT, "resources": [{"id": "9f20e1c8-fa07-4da0-8716-bfea486047b9", "type": "pipeline_run"}],
            "values": values, "types": {k: "string" for k in values}}
    return InspectionRequest("POST", "/api/v1/run-metadata", json.dumps(body).encode(), (("content-type", "application/json"),))


def _notes(**extra: str) -> dict:
    """Run-metadata values big enough to make `values` a unit."""
    values = {f"note_{i}": f"epoch {i} finished without incident on the nightly schedule" for i in range(6)}
    values.update(extra)
    assert len(json.dumps(values)) >= MIN_UNIT_BYTES
    return values


def test_a_warm_scan_reports_what_a_scan_without_the_memo_reports(parts):
    requests = _corpus()
    plain = _scanner(parts, remember=False)
    memo = _scanner(parts)
    expected = [_facts(r, plain.scan(r)) for r in requests]
    cold = [_facts(r, memo.scan(r)) for r in requests]
    warm_results = [memo.scan(r) for r in requests]
    warm = [_facts(r, result) for r, result in zip(requests, warm_results)]
    assert cold == expected
    assert warm == expected
    assert [result.findings for result in warm_results] == [plain.scan(r).findings for r in requests]
    # And the memo did its work: most of the leaves of the second pass were not walked.
    settled = sum(len(result.settled) for result in warm_results)
    walked = sum(len(result.leaves) for result in warm_results)
    assert settled > walked


def test_a_leak_in_a_subtree_that_was_clean_is_found(parts):
    scanner = _scanner(parts)
    clean = _run_metadata(_notes())
    scanner.scan(clean)
    assert scanner.scan(clean).settled  # remembered
    leaking = _run_metadata(_notes(note_3=f"ask {EMAIL}"))
    result = scanner.scan(leaking)
    assert any(f.entity == "EMAIL_ADDRESS" and f.path == "$.values.note_3" for f in result.findings)


def _values_settled(result: ScanResult) -> list[Leaf]:
    return [leaf for leaf in result.settled if leaf.path.startswith("$.values")]


def _values_remembered(scanner: Scanner) -> list:
    return [key for key in scanner.clean_memo._entries if key[1] == "$.values"]


def test_a_subtree_with_a_finding_is_never_remembered(parts):
    scanner = _scanner(parts)
    leaking = _run_metadata(_notes(note_3=f"ask {EMAIL}"))
    for _ in range(2):
        result = scanner.scan(leaking)
        assert _values_settled(result) == []
        assert any(f.entity == "EMAIL_ADDRESS" for f in result.findings)
    assert _values_remembered(scanner) == []


def test_a_subtree_with_a_tree_finding_is_never_remembered(parts):
    scanner = _scanner(parts)
    request = _run_metadata(_notes(embedding=[0.125] * 200))  # type: ignore[arg-type]
    for _ in range(2):
        result = scanner.scan(request)
        assert ("NUMERIC_ARRAY", "$.values.embedding") in {(f.entity, f.path) for f in result.findings}
    assert _values_remembered(scanner) == []


def test_a_subtree_left_undecoded_is_never_remembered(parts, monkeypatch):
    evasion.forget_clean_texts()
    monkeypatch.setattr(evasion, "MAX_VIEW_CHARS_PER_REQUEST", 100)
    import base64

    wrapped = base64.b64encode(f"a note from {EMAIL} about the feature store and its exports".encode()).decode()
    filler = base64.b64encode(b"a harmless note that uses up the decoding budget " * 2).decode()
    request = _run_metadata(_notes(a=filler, b=wrapped))
    scanner = _scanner(parts)
    for _ in range(2):
        result = scanner.scan(request)
        assert [v.kind for v in result.violations] == ["undecoded"]
        assert _values_settled(result) == []
    assert _values_remembered(scanner) == []


def test_the_memo_keeps_no_text(parts):
    scanner = _scanner(parts)
    # A credential no detector recognises: the policy blocks it by its class, the memo may
    # remember the subtree as clean, but never with the value.
    values = {f"setting_{i}": f"plain configuration value number {i}" for i in range(8)}
    values["setting_8"] = "correct horse battery staple"
    body = json.dumps({"name": "legacy-db", "private": True, "values": values}).encode()
    request = InspectionRequest("POST", "/api/v1/secrets", body, (("content-type", "application/json"),))
    scanner.scan(request)
    warm = scanner.scan(request)
    assert warm.settled, "the values subtree should be remembered"
    assert {leaf.field_class for leaf in warm.settled if not leaf.is_key} == {"credential"}
    entries = list(scanner.clean_memo._entries.values())
    assert entries and all(leaf.text == "" for entry in entries for leaf in entry.leaves)
    assert "correct horse" not in repr(entries)
    fields = {(f["path"], f["class"]) for f in policy_input(request, warm)["fields"]}
    assert ("$.values.setting_8", "credential") in fields


def test_the_same_subtree_at_another_path_is_another_unit(parts):
    scanner = _scanner(parts)
    metadata = {f"key_{i}": f"value number {i} of the artifact metadata" for i in range(8)}
    item = {"artifact_id": "0b6b731b-2724-4928-b13f-790d8279752b", "uri": "s3://bucket/a", "metadata": metadata}
    first = json.dumps([item]).encode()
    second = json.dumps([dict(item, uri="s3://bucket/b"), item]).encode()
    headers = (("content-type", "application/json"),)
    scanner.scan(InspectionRequest("POST", "/api/v1/artifact_versions/batch", first, headers))
    result = scanner.scan(InspectionRequest("POST", "/api/v1/artifact_versions/batch", second, headers))
    settled = {leaf.path.split(".")[0] for leaf in result.settled}
    assert settled == {"$[0]"}  # $[1].metadata was never seen at that path


def test_lru_evicts_by_estimated_size():
    memo = CleanMemo(max_bytes=2000)
    leaves = [Leaf(f"$.a.k{i}", "text", "user_dict") for i in range(5)]
    for name in "abcdef":
        memo.put(name, leaves, Counter({"user_dict": 5}))
    assert 0 < len(memo) < 6
    assert memo.get("f") is not None and memo.get("a") is None


def test_integers_orjson_cannot_write_make_no_unit():
    assert CleanMemo.unit_key("endpoint", "$.values", {"big": 2**70, "pad": "x" * MIN_UNIT_BYTES}) is None
    assert CleanMemo.unit_key("endpoint", "$.values", {"small": 1}) is None
    assert CleanMemo.unit_key("endpoint", "$.values", {"pad": "x" * MIN_UNIT_BYTES}) is not None


def test_a_settled_unit_is_not_validated_again_but_the_rest_of_the_body_is(parts):
    scanner = _scanner(parts)
    clean = _run_metadata(_notes())
    scanner.scan(clean)
    body = json.loads(clean.body)
    body["resources"][0]["type"] = "x" * 10_000           # too long, outside the settled unit
    result = scanner.scan(InspectionRequest(clean.method, clean.path, json.dumps(body).encode(), clean.headers))
    assert result.settled                                 # `values` came from the memo
    assert ("$.resources[0].type", "too_long") in {(v.path, v.kind) for v in result.violations}


def test_units_of_a_body_with_violations_are_not_remembered(parts):
    scanner = _scanner(parts)
    values = _notes(note_9="y" * 70_000)                  # too long: a violation inside the unit
    request = _run_metadata(values)
    for _ in range(2):
        result = scanner.scan(request)
        assert result.settled == []
        assert ("$.values", "too_long") in {(v.path, v.kind) for v in result.violations}
    assert len(scanner.clean_memo) == 0


# --- requests without a body ------------------------------------------------------------------


def _read(query: tuple[tuple[str, str], ...]) -> InspectionRequest:
    headers = (("User-Agent", "zenml/0.98.0"), ("X-Request-ID", "abc123"), ("Accept", "*/*"))
    return InspectionRequest("GET", "/api/v1/pipelines", b"", headers, query)


def test_a_clean_read_seen_before_is_answered_with_its_fields(parts):
    scanner = _scanner(parts)
    plain = _scanner(parts, remember=False)
    query = (("name", "churn-model"), ("project", PROJECT), ("page", "1"))
    first = scanner.scan(_read(query))
    again = scanner.scan(_read(query))
    # Issue 12: headers are scanned on every request (the SDK's request ids are new each
    # time), so only they are leaves of a repeat; its path and query fields are settled.
    assert again.settled and not again.findings
    assert {leaf.path for leaf in again.leaves} == {"$headers.user-agent", "$headers.x-request-id"}
    assert _facts(_read(query), again) == _facts(_read(query), plain.scan(_read(query))) == _facts(_read(query), first)
    # Another request id (a header, scanned anew) is the same read; another query value is not.
    other = scanner.scan(InspectionRequest("GET", "/api/v1/pipelines", b"", (("User-Agent", "zenml/0.98.0"),), query))
    assert other.settled
    assert scanner.scan(_read((("name", "fraud-model"),))).settled == []


def test_a_read_with_a_finding_is_inspected_every_time(parts):
    scanner = _scanner(parts)
    query = (("name", EMAIL),)
    for _ in range(2):
        result = scanner.scan(_read(query))
        assert result.settled == [] and any(f.entity == "EMAIL_ADDRESS" for f in result.findings)


def test_reads_are_remembered_by_digest_only(parts):
    scanner = _scanner(parts)
    scanner.scan(_read((("name", "churn-model"),)))
    keys = [key for key in scanner.clean_memo._entries if key[0] == "request"]
    assert keys and all(all(isinstance(part, int) for part in key[1:]) for key in keys)
    assert "churn" not in repr(list(scanner.clean_memo._entries.items()))
