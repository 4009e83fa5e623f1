"""Metadata-only schemas generated from the catalog: bounds, storage prefixes, unknown fields."""

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metagate.scanner.catalog import Catalog
from metagate.scanner.schemas import SchemaLimits, SchemaSet, proven, report, validate

CATALOG = Catalog.load()
SCHEMAS = SchemaSet(CATALOG, SchemaLimits(user_dict_depth=4, user_dict_items=50))
ID = str(uuid.uuid4())
PREFIXES = ("s3://ml-bucket/",)


def step(**extra):
    body = {"project": ID, "name": "trainer", "status": "running", "start_time": "2026-11-26T05:00:00",
            "pipeline_run_id": ID, "cache_key": "a" * 32, "source_code": "def f(): pass", "inputs": {"data": [ID]},
            "outputs": {}, "logs": {"id": ID, "uri": "s3://ml-bucket/logs/1.log", "source": "step"}}
    body.update(extra)
    return body


def check(method, path, body, prefixes=PREFIXES):
    return validate(SCHEMAS, CATALOG.match(method, path), body, prefixes)


def test_a_well_formed_step_request_validates():
    assert check("POST", "/api/v1/steps", step()) == ([], [])


def test_unknown_fields_are_reported_as_facts_not_errors():
    violations, unknown = check("POST", "/api/v1/steps", step(extra_blob="x", logs={"id": ID, "source": "s", "zz": 1}))
    assert violations == []
    assert unknown == ["$.extra_blob", "$.logs.zz"]


def test_uri_outside_storage_is_a_violation_at_its_path_without_union_noise():
    violations, _ = check("POST", "/api/v1/steps", step(logs={"id": ID, "uri": "/home/jane/x.log", "source": "step"}))
    assert [(v.path, v.kind) for v in violations] == [("$.logs.uri", "uri_outside_storage")]
    assert "/home/jane" not in violations[0].message


def test_no_prefixes_configured_means_no_uri_restriction():
    assert check("POST", "/api/v1/steps", step(logs={"id": ID, "uri": "/tmp/x", "source": "s"}), ()) == ([], [])


def test_bounds_on_names_and_user_dicts():
    violations, _ = check("POST", "/api/v1/steps", step(name="n" * 300))
    assert [(v.path, v.kind) for v in violations] == [("$.name", "too_long")]
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    body = {"project": ID, "resources": [{"id": ID, "type": "pipeline_run"}], "values": {"x": deep}, "types": {"x": "dict"}}
    violations, _ = check("POST", "/api/v1/run-metadata", body)
    assert [(v.path, v.kind) for v in violations] == [("$.values", "too_deep")]
    body["values"] = {f"k{i}": i for i in range(60)}
    violations, _ = check("POST", "/api/v1/run-metadata", body)
    assert [(v.path, v.kind) for v in violations] == [("$.values", "too_large")]


def test_list_bodies_validate_each_item():
    item = {"project": ID, "artifact_name": "model", "version": "1", "has_custom_name": False, "type": "ModelArtifact",
            "uri": "s3://other/x", "materializer": {"module": "m", "attribute": "A", "type": "user"},
            "data_type": {"module": "m", "attribute": "B", "type": "user"}, "save_type": "step_output"}
    violations, _ = check("POST", "/api/v1/artifact_versions/batch", [item])
    assert ("$[0].uri", "uri_outside_storage") in [(v.path, v.kind) for v in violations]


@pytest.mark.parametrize("cls, value, expected", [
    ("id", ID, True), ("id", "jane@example.com", False),
    ("timestamp", "2026-11-26T05:00:00.123456", True), ("timestamp", "gte:2026-01-01", False),
    ("enum", "running", True), ("enum", "call me at +1 555 0100", False),
    ("numeric", 3, True), ("hash", "a" * 64, True), ("hash", "not a hash!", False),
    ("numeric", "50", True), ("numeric", "0.25", True), ("numeric", "4111111111111111", False),
    ("numeric", "415-555-2671", False), ("numeric", "\u0661\u0662", False),
    ("name", "trainer", False),
])
def test_proven_leaves_are_only_those_whose_value_has_the_promised_shape(cls, value, expected):
    assert proven(cls, value) is expected


@pytest.mark.parametrize("cls, value, expected", [
    # What ZenML 0.98 sends (tests/corpus/captured): md5 cache keys and content hashes, sha256
    # code hashes, pydantic ISO datetimes, UUIDs.
    ("hash", hashlib.md5(b"x").hexdigest(), True),
    ("hash", hashlib.sha256(b"x").hexdigest(), True),
    ("hash", hashlib.sha1(b"x").hexdigest(), True),
    ("hash", hashlib.sha512(b"x").hexdigest().upper(), True),
    ("timestamp", "2026-11-26T05:22:05.190809", True),
    ("timestamp", "2026-11-26 05:22:05+00:00", True),
    # Issue 12: what a loose shape let through.
    ("hash", "4539004010602815", False),                       # a card: digits, no digest length
    ("hash", "4539004010602815" * 2, False),                   # 32 decimal digits: not a digest
    ("hash", "ssn:536-22-8410", False),
    ("hash", "ssn:536228410", False),
    ("hash", "md5:" + hashlib.md5(b"x").hexdigest(), False),   # ZenML sends bare hex
    ("hash", hashlib.md5(b"x").hexdigest()[:31], False),       # not a digest length
    ("hash", "deadbeef" * 3, False),                            # 24: no digest is that long
    ("hash", hashlib.md5(b"x").hexdigest()[:16].upper() + hashlib.md5(b"x").hexdigest()[16:], False),  # mixed case
    ("hash", b"AKIAIOSFODNN7EXAMPLE".hex(), False),             # hex-encoded text, 40 like SHA-1
    ("hash", b"jane.doe@acme.com, born 1985-03-".hex(), False),     # 64, like SHA-256
    ("hash", 4539004010602815, False),                          # a number is no digest
    ("id", 4539004010602815, False),
    ("timestamp", "1985-03-12", False),                         # a bare date: scanned
    ("timestamp", 1985, False),
    ("numeric", 4539004010602815, True),                        # numbers are the detectors' (leaves.py)
    ("id", str(uuid.uuid4()), True), ("id", str(uuid.uuid1()).upper(), True),
    ("id", str(uuid.uuid4()).replace("-", ""), False),               # ZenML sends str(uuid)
    ("id", "6a616e65-4061-636d-652e-636f6d313233", False),          # b"jane@acme.com123".hex() dashed
    ("id", str(uuid.uuid4())[:9] + str(uuid.uuid4())[9:].upper(), False),
    ("numeric", "45390040.10602815", False), ("numeric", "536.228410", False), ("numeric", "1234.5678", True),
    ("enum", "continue_on_failure", True), ("enum", "DataArtifact", True), ("enum", "INFO", True),
    ("enum", "True", True), ("enum", "and", True),
    ("enum", "Jane_Doe", False), ("enum", "Jane.Doe", False), ("enum", "jane.doe@acme.com", False),
    ("enum", "AKIAIOSFODNN7EXAMPLE", False), ("enum", "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", False),
])
def test_proven_needs_exactly_the_shape_zenml_sends(cls, value, expected):
    assert proven(cls, value) is expected


# --- the strict models' shortcut never changes an answer -------------------------------

_CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"
_TARGETS = [("POST", "/api/v1/steps"), ("POST", "/api/v1/run-metadata"), ("POST", "/api/v1/pipeline_snapshots"),
            ("POST", "/api/v1/artifact_versions/batch"), ("PUT", f"/api/v1/steps/{ID}"), ("POST", "/api/v1/service_connectors")]
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=300),
                    st.sampled_from([ID, "s3://ml-bucket/a", "/home/jane/x", "running", "2026-11-26T05:00:00"]))
_KEYS = st.sampled_from(["name", "project", "uri", "logs", "values", "config", "inputs", "source_code", "status",
                         "metadata", "resources", "step_configurations", "zz"]) | st.text(max_size=4)
_JSON = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_KEYS, inner, max_size=5),
                     max_leaves=40)


def test_shortcut_agrees_with_the_reporting_models_on_the_captured_corpus():
    compared = 0
    for file in sorted(_CORPUS.glob("*.jsonl")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            endpoint = CATALOG.match(record["method"], record["path"])
            if endpoint is None or not record.get("body_text") or endpoint.body_kind not in ("model", "list"):
                continue
            body = json.loads(record["body_text"])
            assert validate(SCHEMAS, endpoint, body) == report(SCHEMAS, endpoint, body)
            compared += 1
    assert compared > 50


@given(st.sampled_from(_TARGETS), _JSON, st.booleans())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_shortcut_agrees_with_the_reporting_models_on_generated_bodies(target, body, with_prefixes):
    endpoint = CATALOG.match(*target)
    prefixes = PREFIXES if with_prefixes else ()
    assert validate(SCHEMAS, endpoint, body, prefixes) == report(SCHEMAS, endpoint, body, prefixes)


@pytest.mark.parametrize("body", [step(), step(name="x" * 300), step(extra_blob="x"), step(inputs={"data": [[[[[ID]]]]]})])
def test_shortcut_agrees_on_boundaries(body):
    endpoint = CATALOG.match("POST", "/api/v1/steps")
    assert validate(SCHEMAS, endpoint, body, PREFIXES) == report(SCHEMAS, endpoint, body, PREFIXES)
