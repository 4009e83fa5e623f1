"""A value in a name the client chose (a body key, a query parameter's name, a path segment)
never reaches the decision's reasons or the record: its place is written masked."""

from __future__ import annotations

import json
import secrets

import pytest

from metagate.proxy.inspection import Inspector, InspectorSettings
from metagate.scanner.capture import request_from_record
from metagate.scanner.fingerprint import fingerprint
from metagate.scanner.model import Finding, Leaf
from metagate.scanner.recorded_paths import PathMask, masked_name

KEY = b"k" * 32
MAIL = "jane.doe@example.com"


def _finding(leaf: Leaf, start: int = 0, end: int | None = None) -> Finding:
    end = len(leaf.text) if end is None else end
    return Finding("EMAIL_ADDRESS", "pii", leaf.path, start, end, 1.0, "pii", fingerprint(KEY, leaf.text[start:end]))


def test_a_key_that_holds_a_finding_is_masked_in_every_path_below_it():
    key_leaf = Leaf(f'$.values["{MAIL}"]', MAIL, "user_dict", True)
    mask = PathMask.of([key_leaf], [_finding(key_leaf)], KEY)
    masked = f'$.values["{masked_name(MAIL, KEY)}"]'
    assert mask.mask(key_leaf.path) == masked
    assert mask.mask(key_leaf.path + ".inner[2]") == masked + ".inner[2]"
    assert mask.mask("$.values.other") == "$.values.other"
    assert mask.unmask(masked + ".inner[2]") == key_leaf.path + ".inner[2]"
    assert mask.top_field("values") == "values"


def test_a_finding_in_the_value_leaves_its_key_alone():
    key_leaf = Leaf("$.values.note", "note", "user_dict", True)
    value_leaf = Leaf("$.values.note", f"write to {MAIL}", "user_dict")
    mask = PathMask.of([key_leaf, value_leaf], [_finding(value_leaf, 9)], KEY)
    assert not mask and mask.mask("$.values.note") == "$.values.note"


def test_keys_inside_masked_keys_are_masked_at_every_level():
    outer = Leaf(f'$["{MAIL}"]', MAIL, "unknown", True)
    inner = Leaf(f'$["{MAIL}"]["bob@corp.example"]', "bob@corp.example", "unknown", True)
    mask = PathMask.of([outer, inner], [_finding(outer), _finding(inner)], KEY)
    written = mask.mask(inner.path + ".x")
    assert "@" not in written and written.count("<masked:") == 2
    assert mask.top_field(MAIL) == masked_name(MAIL, KEY)
    assert mask.unmask(written) == inner.path + ".x"


def test_policy_input_paths_are_masked_and_nothing_else():
    key_leaf = Leaf(f'$query["{MAIL}"]', MAIL, "unknown", True)
    mask = PathMask.of([key_leaf], [_finding(key_leaf)], KEY)
    document = {"findings": [{"path": key_leaf.path, "entity": "EMAIL_ADDRESS"}],
                "schema": {"unknown_fields": [key_leaf.path]}, "request": {"method": "GET"}}
    assert MAIL not in json.dumps(mask.mask_paths(document))
    assert mask.mask_paths(document)["request"] == {"method": "GET"}
    assert mask.query_params([MAIL, "size"]) == sorted([masked_name(MAIL, KEY), "size"])


@pytest.mark.parametrize("leaf_path, template, expected", [
    ("$path.run_id", "/api/v1/runs/{run_id}", f"/api/v1/runs/{masked_name(MAIL, KEY)}"),
    ("$path[3]", None, f"/api/v1/runs/{masked_name(MAIL, KEY)}"),
    ("$path", None, f"/{masked_name(MAIL, KEY)}"),
])
def test_a_path_segment_that_holds_a_finding_is_masked_in_the_recorded_path(leaf_path, template, expected):
    leaf = Leaf(leaf_path, MAIL, "name")
    mask = PathMask.of([leaf], [_finding(leaf)], KEY, template)
    assert mask.request_path(f"/api/v1/runs/{MAIL}") == expected


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=secrets.token_bytes(32)))


def _inspect(inspector: Inspector, method: str, path: str, query=(), body: dict | None = None):
    record = {"method": method, "path": path, "query": [list(pair) for pair in query],
              "headers": {"Content-Type": "application/json"} if body is not None else {},
              "body_text": json.dumps(body) if body is not None else ""}
    return inspector.inspect(request_from_record(record, "r1"))


def _written(result) -> str:
    return json.dumps([result.decision.reasons, result.decision.redact, result.findings, result.violations,
                       result.unknown_fields, result.top_fields, result.recorded_path, result.recorded_query_params])


@pytest.mark.parametrize("method, path, query, body", [
    ("POST", "/api/v1/run-metadata", (), {
        "resource_id": "3f2a4b6c-1d2e-4f50-8a9b-0c1d2e3f4a5b", "resource_type": "pipeline_run",
        "values": {MAIL: {"reviewed": True}}, "types": {MAIL: "dict"}}),
    ("GET", f"/api/v1/runs/{MAIL}", (), None),
    ("GET", "/api/v1/runs", ((MAIL, "1"), ("size", "5")), None),
    ("GET", f"/api/v1/no-such-route/{MAIL}", (), None),
])
def test_the_gate_blocks_and_writes_no_value_of_a_name(inspector, method, path, query, body):
    result = _inspect(inspector, method, path, query, body)
    assert result.decision.action == "block"
    assert any("EMAIL_ADDRESS" in reason for reason in result.decision.reasons)
    written = _written(result)
    assert MAIL not in written and "<masked:" in written


def test_a_request_with_nothing_in_its_names_is_written_as_sent(inspector):
    result = _inspect(inspector, "GET", "/api/v1/runs", (("name", MAIL), ("size", "5")))
    assert result.decision.action == "block"
    assert result.recorded_path is None and result.recorded_query_params is None
    assert any(f["path"] == "$query.name" for f in result.findings)
