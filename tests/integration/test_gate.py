"""The gate in front of a recording upstream: what crosses, what is refused, what is recorded.

Real mitmproxy, real worker processes, real Rego; the upstream is a stand-in that records
every byte it receives, so each test can prove what did and did not leave.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
import zlib

import brotli
import pytest
import requests
import zstandard

from tests.integration.conftest import start_gate
from tests.support.payloads import PROJECT, run_metadata

EMAIL = "jane.doe@example.com"


def step_run(source_code: str) -> dict:
    return {
        "project": PROJECT,
        "name": "trainer",
        "status": "running",
        "start_time": "2026-11-26T05:00:00.000000",
        "pipeline_run_id": str(uuid.uuid4()),
        "cache_key": "a" * 32,
        "code_hash": "b" * 32,
        "source_code": source_code,
        "docstring": "Trains the model.",
        "inputs": {},
        "outputs": {},
    }


def post(gate, path, body=None, *, data=None, headers=None):
    headers = {"Content-Type": "application/json", **(headers or {})}
    if data is None and body is not None:
        data = json.dumps(body).encode()
    return requests.post(gate.url + path, data=data, headers=headers, timeout=30)


def marker_id(response) -> str:
    return response.json()["detail"][1]


def arrived(upstream, needle: bytes) -> bool:
    return any(needle in entry["body"] or needle.decode() in entry["path"] for entry in upstream.received())


def test_clean_metadata_passes_and_is_recorded_first(gate, upstream):
    response = post(gate, "/api/v1/run-metadata", run_metadata({"accuracy": 0.93, "note": "baseline run"}))
    assert response.status_code == 200, response.text
    entry = [e for e in upstream.received() if e["path"] == "/api/v1/run-metadata" and b"baseline run" in e["body"]][-1]
    audit_id = entry["headers"]["X-Metagate-Audit-Id"]
    record = next(r for r in gate.records() if r["id"] == audit_id)
    assert record["decision"] == "allow"
    assert record["endpoint"] == "/api/v1/run-metadata"
    assert record["policy_hash"]


def test_pii_in_run_metadata_is_blocked_with_a_readable_reason(gate, upstream):
    response = post(gate, "/api/v1/run-metadata", run_metadata({"note": f"trained by {EMAIL}"}))
    assert response.status_code == 403
    kind, reason = response.json()["detail"]
    assert kind == "IllegalOperationError"
    assert reason.startswith("metagate blocked")
    assert "$.values.note" in reason and "pii" in reason
    assert EMAIL not in reason
    assert not arrived(upstream, EMAIL.encode())
    assert EMAIL.encode() not in gate.trail_bytes()


def test_step_source_code_leaves_only_as_a_marker(gate, upstream):
    source = "def trainer():\n    secret_sauce = 42  # unique-token-7f3a\n"
    response = post(gate, "/api/v1/steps", step_run(source))
    assert response.status_code == 200, response.text
    assert not arrived(upstream, b"unique-token-7f3a")
    sent = [json.loads(e["body"]) for e in upstream.received() if e["path"] == "/api/v1/steps"][-1]
    assert sent["source_code"].startswith("metagate-redacted:hmac-sha256:")
    assert sent["name"] == "trainer"
    # Stable marker: the same source redacts to the same marker.
    post(gate, "/api/v1/steps", step_run(source))
    again = [json.loads(e["body"]) for e in upstream.received() if e["path"] == "/api/v1/steps"][-1]
    assert again["source_code"] == sent["source_code"]
    record = [r for r in gate.records() if r.get("endpoint") == "/api/v1/steps"][-1]
    assert "$.source_code" in record["redacted"]


@pytest.mark.parametrize(
    "data, content_type, expected",
    [
        (b'{"values": {"note": ', "application/json", "malformed JSON"),
        (b"\x80\x04\x95\x00\x00pickle", "application/octet-stream", "binary body where ZenML sends JSON"),
        (b"plain words", "text/plain", "text body where ZenML sends JSON"),
    ],
)
def test_unparseable_bodies_are_refused_clearly(gate, upstream, data, content_type, expected):
    before = len(upstream.received())
    response = post(gate, "/api/v1/run-metadata", data=data, headers={"Content-Type": content_type})
    assert response.status_code == 403
    assert expected in marker_id(response)
    assert len(upstream.received()) == before


def test_empty_body_is_decided_and_recorded(gate):
    response = post(gate, "/api/v1/run-metadata", data=b"")
    assert response.status_code in (200, 403)
    assert any(r["path"] == "/api/v1/run-metadata" and r["bytes"] == 0 for r in gate.records())


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_compressed_bodies_are_decoded_and_inspected(gate, upstream, encoding, encode):
    body = json.dumps(run_metadata({"note": f"contact {EMAIL}"})).encode()
    response = post(gate, "/api/v1/run-metadata", data=encode(body), headers={"Content-Encoding": encoding})
    assert response.status_code == 403, response.text
    assert "$.values.note" in marker_id(response)
    clean = json.dumps(run_metadata({"note": f"clean-{encoding}"})).encode()
    response = post(gate, "/api/v1/run-metadata", data=encode(clean), headers={"Content-Encoding": encoding})
    assert response.status_code == 200, response.text


def test_decompression_bomb_is_refused(gate, upstream):
    bomb = gzip.compress(b'{"values": {"x": "' + b"0" * (8 * 1024 * 1024) + b'"}}')
    response = post(gate, "/api/v1/run-metadata", data=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 403
    assert "exceeds" in marker_id(response)


def test_chunked_bodies_are_inspected(gate, upstream):
    body = json.dumps(run_metadata({"note": f"owner {EMAIL}"})).encode()
    chunks = (body[i : i + 50] for i in range(0, len(body), 50))
    response = requests.post(gate.url + "/api/v1/run-metadata", data=chunks,
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 403
    assert not arrived(upstream, EMAIL.encode())


def test_oversized_body_is_refused_before_upstream(gate, upstream):
    before = len(upstream.received())
    response = post(gate, "/api/v1/run-metadata", data=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert response.status_code == 413
    assert len(upstream.received()) == before
    assert any("request.too_large" in r.get("rules", []) for r in gate.records(kind="error"))


def test_unknown_write_endpoint_is_blocked_and_unknown_read_allowed(gate, upstream):
    response = post(gate, "/api/v1/not-a-zenml-route", {"a": 1})
    assert response.status_code == 403
    assert "endpoint.unknown_write" in marker_id(response)
    response = requests.get(gate.url + "/api/v1/not-a-zenml-route", timeout=30)
    assert response.status_code == 200


def test_sdk_login_passes_and_its_password_never_enters_the_trail(gate, upstream):
    password = "pw-" + uuid.uuid4().hex
    response = requests.post(gate.url + "/api/v1/login", data={"username": "default", "password": password,
                                                               "grant_type": "password"}, timeout=30)
    assert response.status_code == 200
    assert arrived(upstream, password.encode())
    assert password.encode() not in gate.trail_bytes()


def test_bearer_token_attributes_the_user_but_is_never_recorded(gate):
    user = str(uuid.uuid4())
    claims = base64.urlsafe_b64encode(json.dumps({"sub": user, "iss": "x"}).encode()).rstrip(b"=").decode()
    token = f"eyJhbGciOiJIUzI1NiJ9.{claims}.c2lnbmF0dXJlLXNlY3JldA"
    response = requests.get(gate.url + "/api/v1/current-user", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200
    assert any(r.get("user_id") == user for r in gate.records())
    # Issue 12: a credential the SDK never sends (a cookie) is refused, by name, not forwarded.
    refused = requests.get(gate.url + "/api/v1/current-user", headers={"Authorization": f"Bearer {token}",
                                                                         "Cookie": "session=cookie-secret-1"}, timeout=30)
    assert refused.status_code == 403 and "headers.credential_not_sent_by_sdk: cookie at $headers.cookie" in refused.text
    trail = gate.trail_bytes()
    assert token.encode() not in trail and b"c2lnbmF0dXJlLXNlY3JldA" not in trail and b"cookie-secret-1" not in trail


def test_uri_outside_storage_prefixes_is_blocked(gate):
    body = {"project": PROJECT, "uri": "s3://somebody-elses-bucket/x", "source": "step", "logs_id": None}
    response = post(gate, "/api/v1/logs", body)
    assert response.status_code == 403
    assert "uri_outside_storage" in marker_id(response)
    body["uri"] = "s3://ml-bucket/logs/1.log"
    assert post(gate, "/api/v1/logs", body).status_code == 200


def test_monitor_mode_forwards_but_records_what_it_would_block(tmp_path, upstream):
    monitor = start_gate(tmp_path, upstream.url, "--enforcement", "monitor")
    try:
        response = post(monitor, "/api/v1/run-metadata", run_metadata({"note": f"monitored {EMAIL}"}))
        assert response.status_code == 200
        record = [r for r in monitor.records() if r.get("endpoint") == "/api/v1/run-metadata"][-1]
        assert record["decision"] == "block" and record["enforced"] == "allow"
        assert EMAIL.encode() not in monitor.trail_bytes()
    finally:
        monitor.process.stop()


def test_secret_values_and_connector_keys_are_blocked_but_secret_references_pass(gate, upstream):
    secret_value = "s3cr3t-" + uuid.uuid4().hex
    response = post(gate, "/api/v1/secrets", {"name": "db", "private": False, "values": {"password": secret_value}})
    assert response.status_code == 403
    assert "credential.write" in marker_id(response) and "$.values.password" in marker_id(response)
    connector = {"name": "aws", "connector_type": "aws", "description": "", "auth_method": "secret-key",
                 "resource_types": ["s3-bucket"], "supports_instances": False, "labels": {},
                 "configuration": {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                   "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "region": "eu-west-1"}}
    response = post(gate, "/api/v1/service_connectors", connector)
    assert response.status_code == 403
    assert "credential.write" in marker_id(response)
    component = {"name": "store", "type": "artifact_store", "flavor": "s3",
                 "configuration": {"path": "s3://ml-bucket/", "secret": "{{aws.secret_access_key}}"}}
    response = post(gate, "/api/v1/components", component)
    assert response.status_code == 200, response.text
    component["configuration"]["aws_secret_access_key"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    response = post(gate, "/api/v1/components", component)
    assert response.status_code == 403
    assert "$.configuration.aws_secret_access_key" in marker_id(response)
    trail = gate.trail_bytes()
    assert secret_value.encode() not in trail and b"wJalrXUtnFEMI" not in trail and not arrived(upstream, secret_value.encode())


def test_inspection_over_its_time_budget_fails_closed(tmp_path, upstream):
    slow = start_gate(tmp_path, upstream.url, config="inspection_timeout: 0.001\n")
    try:
        before = len(upstream.received())
        response = post(slow, "/api/v1/run-metadata", run_metadata({"accuracy": 0.5}))
        assert response.status_code == 403
        assert "inspection.timeout" in marker_id(response)
        assert len(upstream.received()) == before
        assert slow.records()[-1]["enforced"] == "block"
    finally:
        slow.process.stop()


def test_forward_mode_passes_allowed_storage_hosts_uninspected_and_refuses_the_rest(tmp_path, upstream):
    port = upstream.url.rsplit(":", 1)[1]
    config = "egress:\n  allow_uninspected: ['localhost']\n"
    forward = start_gate(tmp_path, "https://zenml.invalid", "--mode", "forward", config=config)
    try:
        proxies = {"http": forward.url}
        # In-VPC storage: passes without inspection (an e-mail in a stored object is the bucket's business).
        response = requests.put(f"http://localhost:{port}/bucket/object", data=f"owner {EMAIL}".encode(),
                                proxies=proxies, timeout=30)
        assert response.status_code == 200
        assert arrived(upstream, EMAIL.encode())
        # Anything else is refused before a connection is made.
        response = requests.get(f"http://127.0.0.1:{port}/exfiltrate", proxies=proxies, timeout=30)
        assert response.status_code == 403
        assert "egress.host_not_allowed" in marker_id(response)
        assert not any(e["path"] == "/exfiltrate" for e in upstream.received())
        rules = [r["rules"] for r in forward.records(kind="egress")]
        assert ["egress.uninspected_host"] in rules and ["egress.host_not_allowed"] in rules
    finally:
        forward.process.stop()


def test_records_say_how_many_bytes_were_forwarded(gate, upstream):
    records = gate.records()
    blocked = [r for r in records if r.get("enforced") == "block"]
    redacted = [r for r in records if r.get("enforced") == "redact"]
    allowed = [r for r in records if r.get("enforced") == "allow"]
    assert blocked and redacted and allowed
    assert all(r["bytes_forwarded"] == 0 for r in blocked)
    assert all(r["bytes_forwarded"] == r["bytes"] for r in allowed)
    received = {e["headers"].get("X-Metagate-Audit-Id"): len(e["body"]) for e in upstream.received()}
    assert all(r["bytes_forwarded"] == received[r["id"]] for r in redacted)


def test_user_data_in_a_custom_header_is_found(gate, upstream):
    response = requests.get(gate.url + "/api/v1/current-user", headers={"X-Run-Owner": EMAIL}, timeout=30)
    assert response.status_code == 403
    assert "$headers.x-run-owner" in marker_id(response)
    assert not any(EMAIL in json.dumps(e["headers"]) for e in upstream.received())
