"""The real ZenML SDK through metagate to a real ZenML server, in reverse and forward mode.

(a) a clean pipeline completes and its run is on the server;
(b) an e-mail logged with log_metadata fails the client with a readable metagate error, and
    the server holds no trace of the address;
(c) step source code reaches the server only as a redaction marker;
(d) every request the server received has an audit record committed before it arrived;
(e) with authentication on, password login and a service-account API key work through
    metagate, and no password, API key or token shows in the trail or the logs.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from metagate.proxy.embedded import EmbeddedZenMLServer
from tests.e2e.conftest import SERVER_START_TIMEOUT, Metagate, ZenMLUpstream, make_tls_material

SHIM_DIR = Path(__file__).resolve().parent / "server_shim"
MARKER = "metagate-redacted:hmac-sha256:"


@dataclass
class Recorded:
    """A ZenML server whose every arrival is logged with the audit id metagate attached."""

    upstream: ZenMLUpstream
    arrivals_path: Path

    def arrivals(self) -> list[dict]:
        if not self.arrivals_path.exists():
            return []
        return [json.loads(line) for line in self.arrivals_path.read_text().splitlines() if line.strip()]


def _recorded_server(tmp_path_factory, zenml_python, tls: bool) -> Iterator[Recorded]:
    state = tmp_path_factory.mktemp("zenml-recorded")
    arrivals = state / "arrivals.jsonl"
    ca_cert = cert_pair = None
    if tls:
        ca_cert, cert, key = make_tls_material(tmp_path_factory.mktemp("tls"))
        cert_pair = (cert, key)
    server = EmbeddedZenMLServer(
        state / "server", python=zenml_python, tls=cert_pair, app="arrivals:app", app_dir=SHIM_DIR,
        extra_env={"METAGATE_E2E_ARRIVALS": str(arrivals), "METAGATE_E2E_TRAILS": str(tmp_path_factory.getbasetemp())},
    )
    server.start(timeout=SERVER_START_TIMEOUT)
    try:
        yield Recorded(ZenMLUpstream(server, ca_cert=ca_cert), arrivals)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def recorded_http(tmp_path_factory, zenml_python):
    yield from _recorded_server(tmp_path_factory, zenml_python, tls=False)


@pytest.fixture(scope="module")
def recorded_tls(tmp_path_factory, zenml_python):
    yield from _recorded_server(tmp_path_factory, zenml_python, tls=True)


@dataclass
class Route:
    """How an SDK process reaches the server through metagate in one mode."""

    recorded: Recorded
    gate: Metagate
    env: dict[str, str]


@pytest.fixture(params=["reverse", "forward"])
def route(request, metagate, tmp_path) -> Route:
    if request.param == "reverse":
        recorded: Recorded = request.getfixturevalue("recorded_http")
        gate = metagate(recorded.upstream.url, mode="reverse")
        env = recorded.upstream.sdk_env(url=gate.url)
    else:
        recorded = request.getfixturevalue("recorded_tls")
        config = f"upstream_ca: {recorded.upstream.ca_cert}\n"
        gate = metagate(recorded.upstream.url, mode="forward", config=config)
        ca = gate.export_ca(tmp_path / "metagate-ca.pem")
        env = recorded.upstream.sdk_env()
        # The SDK talks to the real server URL; the proxy variables route it through metagate,
        # and it trusts metagate's interception CA instead of the server's.
        env.update({"HTTPS_PROXY": gate.url, "HTTP_PROXY": gate.url, "ZENML_STORE_VERIFY_SSL": str(ca),
                    "REQUESTS_CA_BUNDLE": str(ca), "NO_PROXY": ""})
    return Route(recorded, gate, env)


def _through_gate(route: Route) -> list[dict]:
    """Arrivals at the server that came through this gate."""
    ids = {r["id"] for r in route.gate.records()}
    return [a for a in route.recorded.arrivals() if a["audit_id"] in ids]


def test_clean_pipeline_completes_with_source_redacted_and_every_request_recorded_first(route, run_sdk, query_server):
    before = len(route.recorded.arrivals())
    result = run_sdk("clean_pipeline.py", "--lr", "0.05", "--epochs", "3", env=route.env)
    assert result.returncode == 0, result.describe() + route.gate.log[-3000:]
    during = route.recorded.arrivals()[before:]

    # (d) every request that reached the server during the run came through the gate, and its
    # audit record was committed (it is in the trail) before the server received the request.
    records = {r["id"]: r for r in route.gate.records()}
    assert during, "no request reached the server"
    for arrival in during:
        assert arrival["audit_id"] in records, f"{arrival['method']} {arrival['path']} arrived without a record"
        assert arrival["committed"] is True, f"{arrival['method']} {arrival['path']} arrived before its record was on disk"
        assert records[arrival["audit_id"]]["time"] <= _iso(arrival["time"])
        assert records[arrival["audit_id"]]["enforced"] != "block"
    assert len({a["audit_id"] for a in during}) == len(during)

    # (a) the run is on the server, with its parameters and metrics.
    held = query_server(route.recorded.upstream, "run", result.run_id)["summary"]
    assert held["status"] == "completed"
    assert held["parameters"] == {"lr": 0.05, "epochs": 3}
    assert held["steps"]["train"]["run_metadata"]["accuracy"] == pytest.approx(0.93)

    # (c) step source code reached the server only as a redaction marker.
    for name, step in held["steps"].items():
        assert step["source_code"].startswith(MARKER), name
    assert "def train(" not in json.dumps(held)
    assert any("redact.code" in r["rules"] for r in records.values())
    # Value-derived artifact metadata (the float 0.93 itself) leaves only as a marker too.
    assert held["artifacts"]["accuracy"]["metadata"]["string_representation"].startswith(MARKER)


def test_email_in_run_metadata_fails_the_client_readably_and_never_reaches_the_server(route, run_sdk, query_server):
    address = f"leak.{route.gate.mode}@example.com"
    result = run_sdk("pii_pipeline.py", address, env=route.env)
    assert result.returncode != 0, result.describe()
    assert result.value("STEP_EXCEPTION_TYPE") == "IllegalOperationError", result.describe()
    message = result.value("STEP_EXCEPTION_MESSAGE") or ""
    assert message.startswith("metagate blocked POST /api/v1/run-metadata"), message
    assert "pii.detected" in message and "$.values.note" in message and "EMAIL_ADDRESS" in message
    assert address not in result.output

    # No trace on the server: not through its API, not in its database file.
    held = query_server(route.recorded.upstream, "run", result.run_id or "latest")
    assert address not in json.dumps(held)
    database = route.recorded.upstream.state_dir / "zenml.db"
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    assert address not in dump
    assert address.encode() not in route.gate.trail_bytes()
    assert address not in route.gate.log


def test_forward_mode_refuses_hosts_that_are_not_upstreams(metagate, recorded_tls, tmp_path):
    import requests

    gate = metagate(recorded_tls.upstream.url, mode="forward", config=f"upstream_ca: {recorded_tls.upstream.ca_cert}\n")
    response = requests.get("http://127.0.0.2:9/anything", proxies={"http": gate.url}, timeout=30)
    assert response.status_code == 403
    reason = response.json()["detail"][1]
    assert reason.startswith("metagate blocked") and "egress.host_not_allowed" in reason
    assert any(r["rules"] == ["egress.host_not_allowed"] for r in gate.records(kind="egress"))


@pytest.mark.parametrize("credentials", ["password", "api_key"])
def test_authenticated_server_works_through_metagate_and_no_credential_is_recorded(
    credentials, metagate, zenml_server_auth, run_sdk, query_server
):
    gate = metagate(zenml_server_auth.url, mode="reverse")
    env = zenml_server_auth.sdk_env(url=gate.url, credentials=credentials)
    result = run_sdk("clean_pipeline.py", "--epochs", "2", env=env)
    assert result.returncode == 0, result.describe() + gate.log[-3000:]
    held = query_server(zenml_server_auth, "run", result.run_id)["summary"]
    assert held["status"] == "completed"

    records = gate.records(kind=None)
    assert any(r.get("path") == "/api/v1/login" for r in records)
    assert any(r.get("user_id") for r in records), "requests were not attributed to the ZenML user"
    trail = gate.trail_bytes().decode("utf-8", "replace")
    for text, where in ((trail, "trail"), (gate.log, "log")):
        assert zenml_server_auth.password not in text, where
        assert zenml_server_auth.api_key not in text, where
        assert "eyJ" not in text, f"a JWT shows in the {where}"


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="microseconds")


def test_failing_step_sends_its_message_but_only_a_marker_for_the_traceback(metagate, recorded_http, run_sdk, query_server):
    gate = metagate(recorded_http.upstream.url, mode="reverse")
    result = run_sdk("failing_pipeline.py", env=recorded_http.upstream.sdk_env(url=gate.url))
    assert result.returncode == 0, result.describe()
    held = query_server(recorded_http.upstream, "run", result.run_id)["summary"]
    failed = held["steps"]["validate_batch"]["exception_info"]
    assert "batch validation failed" in failed["message"]
    assert failed["traceback"].startswith(MARKER)
    assert any("redact.traceback" in r["rules"] for r in gate.records())


def test_with_no_upstream_metagate_starts_an_embedded_zenml_server(metagate, run_sdk, zenml_python):
    """What a newcomer sees after `make run`: the gate with a local ZenML server behind it."""
    gate = metagate(None, mode="reverse")
    assert "embedded ZenML server at http://127.0.0.1:" in gate.log
    # The hint is printed right after the serving line the fixture waited for.
    for _ in range(100):
        if f"export ZENML_STORE_URL={gate.url}" in gate.log:
            break
        time.sleep(0.05)
    assert f"export ZENML_STORE_URL={gate.url}" in gate.log
    result = run_sdk("clean_pipeline.py", env={"ZENML_STORE_URL": gate.url})
    assert result.returncode == 0, result.describe() + gate.log[-3000:]
    assert any(r.get("endpoint") == "/api/v1/steps" and "redact.code" in r["rules"] for r in gate.records())
