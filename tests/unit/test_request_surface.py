"""Headers, query values and path parameters go through the same detectors as body fields,
and credential headers are decided on their shape (issue 12), through the whole Inspector.

Requests are masked as the proxy masks them (scan_cli.mask_credentials), so the Inspector
sees what a worker sees: credential values replaced, their shapes as facts.
"""

from __future__ import annotations

import base64
import glob
import json
import uuid
from pathlib import Path

import pytest
from metagate.proxy.scan_cli import mask_credentials
from metagate.scanner.capture import request_from_record
from metagate.scanner.model import InspectionRequest, views
from metagate.scanner.pipeline import policy_input

from tests.support.payloads import run_metadata

SSN = "536-22-8471"
EMAIL = "jane.doe@example.com"
CAPTURED = sorted(glob.glob(str(Path(__file__).parents[1] / "corpus" / "captured" / "*.jsonl")))


def segment(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


BEARER = f"Bearer {segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment({'sub': str(uuid.uuid4())})}.c2lnbmF0dXJlLXNlY3JldC1wYXJ0"


@pytest.fixture(scope="module")
def inspector():
    from metagate.proxy.inspection import Inspector, InspectorSettings

    return Inspector(InspectorSettings(fingerprint_key=b"\x03" * 32))


def sdk_headers(**extra: str) -> dict[str, str]:
    """What the ZenML 0.98 SDK sends (tests/corpus/captured), with a real-shaped token."""
    headers = {
        "Host": "127.0.0.1:47641", "User-Agent": "zenml/0.98.0", "Accept-Encoding": "gzip, deflate",
        "Accept": "*/*", "Connection": "keep-alive", "Source-Context": "python",
        "X-Request-ID": uuid.uuid4().hex[:8], "Idempotency-Key": str(uuid.uuid4()), "Authorization": BEARER,
    }
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return headers


def request(path: str, query=(), headers: dict | None = None, method: str = "GET", body: bytes = b"",
            raw_headers: tuple = ()) -> InspectionRequest:
    pairs = tuple((headers or sdk_headers()).items()) + raw_headers
    return mask_credentials(InspectionRequest(method, path, body, pairs, tuple(query)), "r1")


def decide(inspector, *args, **kwargs):
    return inspector.inspect(request(*args, **kwargs))


def blocked_at(result, path: str) -> bool:
    return result.decision.action == "block" and any(path in reason for reason in result.decision.reasons)


# --- headers ------------------------------------------------------------------------------------

HEADERS = ["Via", "Forwarded", "X-Forwarded-For", "Accept-Language", "Idempotency-Key", "X-Request-ID",
           "User-Agent", "Source-Context", "X-Run-Owner"]


@pytest.mark.parametrize("name", HEADERS)
@pytest.mark.parametrize("value", [SSN, f"for={EMAIL}"])
def test_personal_data_in_any_header_is_blocked_at_its_name(inspector, name, value):
    result = decide(inspector, "/api/v1/current-user", headers=sdk_headers(**{name: value}))
    assert blocked_at(result, f"$headers.{name.lower()}"), result.decision.reasons


@pytest.mark.parametrize("name, value", [
    ("Content-Type", SSN), ("Accept", f"application/json, {EMAIL}"), ("Host", EMAIL),
    ("Accept-Encoding", f"gzip, {SSN}"), ("Connection", f"keep-alive, {EMAIL}"),
])
def test_a_transport_header_holding_data_is_scanned_like_the_rest(inspector, name, value):
    result = decide(inspector, "/api/v1/current-user", headers=sdk_headers(**{name: value}))
    assert blocked_at(result, f"$headers.{name.lower()}"), result.decision.reasons


def test_the_sdks_headers_are_leaves_every_detector_reads_and_pass(inspector):
    # The SDK's own ids (X-Request-ID, Idempotency-Key of exactly its shapes) are ids, as a
    # UUID in a body is: not scanned. Its other headers are leaves every detector reads.
    req = request("/api/v1/current-user", query=[("hydrate", "True")],
                  headers=sdk_headers(X_Request_ID="0ce3cdc9"))
    scan = inspector.scanner.scan(req)
    header_leaves = {leaf.path: leaf for leaf in scan.leaves if leaf.path.startswith("$headers")}
    assert set(header_leaves) == {"$headers.user-agent", "$headers.source-context"}
    for leaf in header_leaves.values():
        assert all(detector.wants(leaf) for detector in inspector.scanner.detectors), leaf
    assert inspector.inspect(req).decision.action == "allow"


@pytest.mark.parametrize("name, value", [
    ("X-Request-ID", "19850312"),                          # eight digits: a date, not the SDK's id
    ("X-Request-ID", "0CE3CDC9"),                          # not the SDK's case
    ("X-Request-ID", "0ce3cdc9a"),
    ("Idempotency-Key", "a79a174a-1d18-1369-883f-38de8773a6aa"),   # not a version-4 UUID
    ("Idempotency-Key", "jane.doe@example.com"),
])
def test_an_sdk_id_header_of_another_shape_is_scanned(inspector, name, value):
    scan = inspector.scanner.scan(request("/api/v1/current-user", headers=sdk_headers(**{name.replace("-", "_"): value})))
    assert f"$headers.{name.lower()}" in {leaf.path for leaf in scan.leaves}


def test_a_load_balancers_proxy_chain_headers_pass(inspector):
    chain = sdk_headers(X_Forwarded_For="10.0.3.7, 10.0.0.2", Forwarded="for=10.0.3.7;proto=https",
                        X_Real_IP="10.0.3.7", X_Forwarded_Proto="https", Via="1.1 ingress-nginx")
    assert decide(inspector, "/api/v1/current-user", headers=chain).decision.action == "allow"


def test_a_repeated_read_still_scans_its_new_headers(inspector):
    query = [("name", "default"), ("page", "1")]
    assert decide(inspector, "/api/v1/stacks", query).decision.action == "allow"
    assert decide(inspector, "/api/v1/stacks", query).decision.action == "allow"  # the memo answers
    result = decide(inspector, "/api/v1/stacks", query, headers=sdk_headers(X_Request_ID=SSN))
    assert blocked_at(result, "$headers.x-request-id")


@pytest.mark.parametrize("query, headers, root, name", [
    ([(EMAIL, "1")], {}, "$query", EMAIL),
    ([], {f"X-{SSN}": "1"}, "$headers", f"x-{SSN}"),
])
def test_data_in_a_parameter_or_header_name_is_blocked(inspector, query, headers, root, name):
    # The place is written with the name masked (scanner/recorded_paths.py): a path that
    # quoted it would carry the value into the reasons and the trail.
    from metagate.scanner.recorded_paths import masked_name

    result = decide(inspector, "/api/v1/runs", query, headers=sdk_headers(**headers))
    assert blocked_at(result, f'{root}["{masked_name(name, inspector.settings.fingerprint_key)}"]')
    assert name not in json.dumps([result.decision.reasons, result.findings])


def test_declared_parameter_names_are_not_key_leaves(inspector):
    scan = inspector.scanner.scan(request("/api/v1/runs", [("name", "churn"), ("undeclared_filter", "x")]))
    keys = [leaf.path for leaf in scan.leaves if leaf.is_key and leaf.path.startswith("$query")]
    assert keys == ["$query.undeclared_filter"]


# --- credential headers -------------------------------------------------------------------------


@pytest.mark.parametrize("extra, reason", [
    ({"Cookie": "session=cookie-s3cr3t"}, "headers.credential_not_sent_by_sdk: cookie at $headers.cookie"),
    ({"X-Api-Key": "key-s3cr3t"}, "headers.credential_not_sent_by_sdk: x-api-key at $headers.x-api-key"),
    ({"X-Custom": "Basic dXNlcjpzM2NyM3Q="}, "headers.credential_not_sent_by_sdk: x-custom at $headers.x-custom"),
    ({"Proxy-Authorization": "Basic dXNlcjpzM2NyM3Q="}, "headers.credential_not_sent_by_sdk: proxy-authorization"),
    ({"Authorization": "Basic dXNlcjpzM2NyM3Q="}, "headers.authorization_shape: basic at $headers.authorization"),
    ({"Authorization": "Bearer s3cr3t-opaque-token-0123456789"}, "headers.authorization_shape: bearer_opaque"),
    ({"Authorization": f"Token {SSN}"}, "headers.authorization_shape: other at $headers.authorization"),
])
def test_credentials_the_sdk_never_sends_are_refused_and_never_seen(inspector, extra, reason):
    req = request("/api/v1/current-user", headers=sdk_headers(**extra))
    secret = next(iter(extra.values()))
    assert secret not in repr(req.headers)                       # masked before inspection
    result = inspector.inspect(req)
    assert result.decision.action == "block" and any(reason in r for r in result.decision.reasons)
    document = json.dumps(policy_input(req, inspector.scanner.scan(req)))
    assert secret not in document and secret.split(" ")[-1] not in json.dumps(result.findings)


def test_two_authorization_headers_are_refused(inspector):
    result = decide(inspector, "/api/v1/current-user", raw_headers=(("Authorization", BEARER),))
    assert "headers.authorization_repeated" in result.decision.rules


def test_the_sdks_bearer_jwt_and_no_credential_at_all_pass(inspector):
    assert decide(inspector, "/api/v1/current-user").decision.action == "allow"
    anonymous = sdk_headers()
    del anonymous["Authorization"]
    assert decide(inspector, "/api/v1/info", headers=anonymous).decision.action == "allow"


def test_an_unmasked_in_process_request_gets_the_same_facts(inspector):
    raw = InspectionRequest("GET", "/api/v1/current-user", headers=tuple(sdk_headers(Cookie="a=b").items()))
    assert raw.credentials is None
    facts = policy_input(raw, inspector.scanner.scan(raw))["headers"]["credentials"]
    assert facts == [{"name": "authorization", "path": "$headers.authorization", "shape": "bearer_jwt"},
                     {"name": "cookie", "path": "$headers.cookie", "shape": "other"}]


# --- query values and path parameters -------------------------------------------------------------


def test_a_query_value_is_a_leaf_named_by_its_parameter_without_the_filter_operator(inspector):
    scan = inspector.scanner.scan(request("/api/v1/runs", [("name", "contains:churn training"), ("page", SSN),
                                                            ("size", "20"), ("sort_by", "desc:created")]))
    # The value as sent (the first view: decoded and joined views may follow it).
    leaves = {leaf.path: (next(views(leaf.text))[1], leaf.field_class) for leaf in scan.leaves
              if leaf.path.startswith("$query")}
    # page is numeric: a value not of that shape is scanned as a name would be; size=20 is proven.
    assert leaves == {"$query.name": ("churn training", "name"), "$query.page": (SSN, "name"),
                      "$query.sort_by": ("created", "name")}


@pytest.mark.parametrize("query, path", [
    ([("name", f"contains:{EMAIL}")], "$query.name"),
    ([("name", f"startswith:{SSN}")], "$query.name"),
    ([("page", SSN)], "$query.page"),
    ([("created", f"gte:{SSN}")], "$query.created"),
    ([("id", json.dumps([str(uuid.uuid4()), EMAIL]))], "$query.id"),
    ([("id", "oneof:" + json.dumps([str(uuid.uuid4()), EMAIL]))], "$query.id"),
    ([("not_a_zenml_parameter", EMAIL)], "$query.not_a_zenml_parameter"),
])
def test_personal_data_in_a_query_value_is_blocked(inspector, query, path):
    assert blocked_at(decide(inspector, "/api/v1/runs", query), path)


def test_proven_filter_operands_are_not_leaves(inspector):
    query = [("created", "gte:2024-01-01 00:00:00"), ("id", "oneof:" + json.dumps([str(uuid.uuid4()), str(uuid.uuid4())])),
             ("hydrate", "True"), ("page", "1"), ("size", "20"), ("end_time", "isnull:"),
             ("pipeline_id", "notoneof:" + json.dumps([str(uuid.uuid4())]))]
    scan = inspector.scanner.scan(request("/api/v1/runs", query))
    assert not [leaf for leaf in scan.leaves if leaf.path.startswith("$query")]


def test_the_auth_endpoints_query_is_scanned_too(inspector):
    result = decide(inspector, "/api/v1/api_token", [("token_type", "workload"), ("expires_in", SSN)])
    assert blocked_at(result, "$query.expires_in")
    clean = [("token_type", "workload"), ("pipeline_run_id", str(uuid.uuid4())), ("expires_in", "3600")]
    assert decide(inspector, "/api/v1/api_token", clean).decision.action == "allow"


def test_personal_data_in_a_path_parameter_is_blocked_at_its_name(inspector):
    result = decide(inspector, f"/api/v1/runs/{EMAIL}")
    assert blocked_at(result, "$path.run_id")
    assert decide(inspector, f"/api/v1/runs/{uuid.uuid4()}").decision.action == "allow"


@pytest.mark.parametrize("key, value", [
    ("owner", EMAIL), ("ssn", SSN), ("ssn", SSN.replace("-", "")), ("patient_name", "John Smith"),
    ("msisdn", "14155550123"), ("note", "call +1 415 555 0123"), ("run", "training-run-7"),
])
def test_a_query_value_and_a_header_are_judged_as_the_same_value_in_the_body(inspector, key, value):
    """The same detectors and key semantics for every placement: whatever the body decides on
    `values.<key>`, a query parameter and a header of that name decide too."""
    body = json.dumps(run_metadata({key: value})).encode()
    in_body = decide(inspector, "/api/v1/run-metadata", method="POST", body=body,
                     headers={**sdk_headers(), "Content-Type": "application/json"})
    in_query = decide(inspector, "/api/v1/runs", [(key, value)])
    in_header = decide(inspector, "/api/v1/current-user", headers=sdk_headers(**{f"X-{key}": value}))
    expected = in_body.decision.action == "block"
    assert (in_query.decision.action == "block") == expected, (in_body.decision.reasons, in_query.decision.reasons)
    assert (in_header.decision.action == "block") == expected, (in_body.decision.reasons, in_header.decision.reasons)


# --- the SDK's own traffic -------------------------------------------------------------------------


def test_every_captured_sdk_request_passes_its_headers_query_and_path(inspector):
    """Replay of every captured request: nothing about headers, query or path blocks, and only
    the pii pipeline's planted leak (in a body) blocks at all."""
    count = 0
    for name in CAPTURED:
        for index, line in enumerate(Path(name).read_text().splitlines()):
            record = json.loads(line)
            for token in (None, BEARER):  # as captured (masked), and with a real-shaped token
                if token is not None:
                    record["headers"] = {k: token if k == "Authorization" else v for k, v in record["headers"].items()}
                req = mask_credentials(request_from_record(record, f"{name}:{index}"), "r")
                result = inspector.inspect(req)
                count += 1
                where = (Path(name).name, index, record["method"], record["path"], result.decision.reasons)
                assert not [r for r in result.decision.rules if r.startswith("headers.")], where
                assert not [f for f in result.findings if f["path"].startswith(("$headers", "$query", "$path"))], where
                if result.decision.action == "block":
                    assert Path(name).name == "pii_pipeline.jsonl", where
    assert count > 300
