"""Classes proven safe by their shape, end to end through the Inspector (issue 12).

A field class the detectors skip (hash, id, timestamp, secret reference ...) is proven only by a
value of exactly its shape; a value of any other shape is scanned as user data. Each plant
below passed the gate before (a red team stored it on a real ZenML server) and is blocked now;
every value of those classes in the captured SDK traffic is still proven (no scan, no block).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metagate.proxy.inspection import Inspector, InspectorSettings
from metagate.scanner import jsonpath
from metagate.scanner.capture import request_from_record
from metagate.scanner.catalog import Catalog
from metagate.scanner.leaves import LeafWalker
from metagate.scanner.model import PROVEN_CLASSES

CAPTURED = Path(__file__).resolve().parents[1] / "corpus" / "captured"
HEADERS = {"Host": "zenml.example.com", "User-Agent": "zenml/0.98.0", "Content-Type": "application/json"}

CARD = "4539004010602815"                       # a Luhn-valid test Visa number
SSN = "536-22-8410"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq5nR1dH3k2Q9Zp0vY8sGm5Jc4b6sT3nq8wL2cVbZ1xF4hK\n"
    "-----END RSA PRIVATE KEY-----"
)
DSN = "postgresql://admin:S3cr3tPassw0rd@db.example.com/prod"


def captured_records() -> Iterator[dict[str, Any]]:
    for path in sorted(CAPTURED.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def first_body(method: str, path: str) -> Any:
    for record in captured_records():
        if record["method"] == method and record["path"] == path and record.get("body_text"):
            return json.loads(record["body_text"])
    raise LookupError(f"no captured {method} {path}")


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=b"\x0c" * 32))


def decide(inspector: Inspector, path: str, body: Any) -> tuple[str, list[str]]:
    record = {"method": "POST", "path": path, "query": [], "headers": HEADERS, "body_text": json.dumps(body)}
    result = inspector.inspect(request_from_record(record, "plant"))
    return result.decision.action, list(result.decision.rules)


def step_with(**fields: Any) -> Any:
    body = copy.deepcopy(first_body("POST", "/api/v1/steps"))
    body.update(fields)
    return body


def artifacts_with(**fields: Any) -> Any:
    body = copy.deepcopy(first_body("POST", "/api/v1/artifact_versions/batch"))
    body[0].update(fields)
    return body


def snapshot_with_environment(environment: dict[str, str], docker: bool = False) -> Any:
    body = copy.deepcopy(first_body("POST", "/api/v1/pipeline_snapshots"))
    if docker:
        body["pipeline_configuration"]["settings"] = {"docker": {"environment": environment}}
    else:
        body["pipeline_configuration"]["environment"] = environment
    return body


@pytest.mark.parametrize(
    ("name", "path", "body", "rule"),
    [
        ("card in cache_key", "/api/v1/steps", lambda: step_with(cache_key=CARD), "pii.detected"),
        ("card in code_hash", "/api/v1/steps", lambda: step_with(code_hash=CARD), "pii.detected"),
        ("ssn: prefix in code_hash", "/api/v1/steps", lambda: step_with(code_hash=f"ssn:{SSN}"), "pii.detected"),
        ("card in content_hash", "/api/v1/artifact_versions/batch", lambda: artifacts_with(content_hash=CARD),
         "pii.detected"),
        ("PEM in braces in environment", "/api/v1/pipeline_snapshots",
         lambda: snapshot_with_environment({"MY_VAR": "{{ " + PEM + ".x }}"}), "secret.detected"),
        ("DSN in braces in environment", "/api/v1/pipeline_snapshots",
         lambda: snapshot_with_environment({"DB_URL": "{{" + DSN + "}}"}), "secret.detected"),
        ("DSN in braces in Docker settings", "/api/v1/pipeline_snapshots",
         lambda: snapshot_with_environment({"DATABASE_URL": "{{" + DSN + "}}"}, docker=True), "secret.detected"),
        ("plain password in braces", "/api/v1/pipeline_snapshots",
         lambda: snapshot_with_environment({"DB_PASSWORD": "{{hunter2Secret!.x}}"}), "credential.write"),
        ("access key as a reference's key", "/api/v1/pipeline_snapshots",
         lambda: snapshot_with_environment({"AWS_KEY": "{{aws.AKIAIOSFODNN7EXAMPLE}}"}), "secret.detected"),
        # No detector can tell nine bare digits from a count, but a hash field never holds them.
        ("bare SSN digits in cache_key", "/api/v1/steps", lambda: step_with(cache_key=SSN.replace("-", "")),
         "schema.not_a_digest"),
        ("a name in content_hash", "/api/v1/artifact_versions/batch",
         lambda: artifacts_with(content_hash="Anna Schmidt"), "schema.not_a_digest"),
        ("32 decimal digits in code_hash", "/api/v1/steps", lambda: step_with(code_hash="4" * 16 + CARD),
         "schema.not_a_digest"),
        ("an SSN as a JSON number in content_hash", "/api/v1/artifact_versions/batch",
         lambda: artifacts_with(content_hash=int(SSN.replace("-", ""))), "schema.bad_type"),
    ],
)
def test_a_plant_of_the_wrong_shape_is_blocked(inspector, name, path, body, rule) -> None:
    action, rules = decide(inspector, path, body())
    assert action == "block", name
    assert rule in rules, name


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/pipeline_snapshots", lambda: snapshot_with_environment({"DB_PASSWORD": "{{ db-creds.password }}"})),
        ("/api/v1/pipeline_snapshots",
         lambda: snapshot_with_environment({"HF_TOKEN": "{{huggingface.token}}"}, docker=True)),
        ("/api/v1/steps", lambda: step_with(cache_key="f4b697e4085d709b65878a0740d08174",
                                            code_hash="66542026898d17535b81ff2143890a4b5c45dca0d62b0ffba6e3d7550f3230af")),
        # A digest whose bytes happen to be printable is digest-shaped: scanned, not refused.
        ("/api/v1/steps", lambda: step_with(cache_key=b"modelweightsv2.0".hex(), code_hash=None)),
    ],
)
def test_values_of_the_exact_shape_pass(inspector, path, body) -> None:
    action, rules = decide(inspector, path, body())
    assert action != "block", rules


def test_every_proven_value_in_the_captured_traffic_is_proven() -> None:
    """A leaf of a proven class that failed its shape reaches the detectors as a "name"; none
    of the SDK's own ids, hashes, timestamps, enums and numbers may."""
    catalog = Catalog.load()
    walker = LeafWalker(catalog)
    checked = 0
    for record in captured_records():
        endpoint = catalog.match(record["method"], record["path"])
        if endpoint is None or not record.get("body_text") or not record["body_text"].lstrip().startswith(("{", "[")):
            continue
        document = json.loads(record["body_text"])
        leaves, inventory = walker.collect(endpoint, document)
        checked += sum(inventory.get(c, 0) for c in PROVEN_CLASSES)
        for leaf in leaves:
            if leaf.is_key or leaf.field_class != "name":
                continue
            parts = jsonpath.parse(leaf.path)
            cls = catalog.classify(endpoint, parts, leaf.text)
            assert cls not in PROVEN_CLASSES, f"{record['method']} {record['path']} {leaf.path}: {cls} not proven"
    assert checked > 500  # the captured traffic has hundreds of them


RUN = "0bc5bdf1-475c-46e8-8133-dab5ebcc3908"


@pytest.mark.parametrize(
    ("path", "query", "blocked"),
    [
        # A query value of a proven class that failed its shape kept that class, which every
        # detector skips: it went to the server (and its access log) unscanned.
        (f"/api/v1/runs/{RUN}/steps", [["cache_key", CARD]], True),
        ("/api/v1/runs", [["page", CARD]], True),
        ("/api/v1/runs", [["hydrate", "jane.doe@acme.com"]], True),
        ("/api/v1/runs", [["created", "jane.doe@acme.com"]], True),
        (f"/api/v1/runs/{RUN}/steps", [["cache_key", "f4b697e4085d709b65878a0740d08174"]], False),
        ("/api/v1/runs", [["page", "1"], ["size", "20"], ["hydrate", "False"], ["sort_by", "created"]], False),
    ],
)
def test_query_values_of_the_wrong_shape_are_scanned(inspector, path, query, blocked) -> None:
    record = {"method": "GET", "path": path, "query": query, "headers": HEADERS, "body_text": None}
    result = inspector.inspect(request_from_record(record, "query"))
    assert (result.decision.action == "block") is blocked, result.decision.rules
