"""The real gate with its admin listener: metrics and probes follow the traffic, a killed worker
shows in the restarts counter, and the structured logs never carry a sensitive value even at
DEBUG level with secrets, PII and credentials driven through the gate."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import start_gate
from tests.support.payloads import jwt, sensitive_values
from tests.support.payloads import run_metadata as metadata
from tests.support.processes import free_port

TOKEN = "adm-" + uuid.uuid4().hex


def metric_values(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(values: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in values.items() if n == name and all((k, x) in ls for k, x in labels.items()))


def worker_pids(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


@pytest.fixture
def admin_env(monkeypatch):
    # start() passes the test's environment to the gate.
    monkeypatch.setenv("METAGATE_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("METAGATE_LOG__LEVEL", "DEBUG")
    monkeypatch.setenv("METAGATE_LOG__PROXY_LEVEL", "DEBUG")


def test_metrics_probes_and_logs_of_a_running_gate(tmp_path, upstream, admin_env):
    tag = uuid.uuid4().hex[:10]
    user = str(uuid.uuid4())
    secrets = {**sensitive_values(tag), "admin_token": TOKEN}
    token = jwt(user, secrets["jwt_signature"])
    admin = f"http://127.0.0.1:{free_port()}"
    gate = start_gate(tmp_path, upstream.url, "--admin", admin.removeprefix("http://"))
    auth = {"Authorization": f"Bearer {token}", "Cookie": f"session={secrets['cookie']}", "X-Api-Key": secrets["api_key_header"]}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    try:
        assert requests.get(f"{admin}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{admin}/metrics", timeout=10).status_code == 401
        ready = requests.get(f"{admin}/readyz", headers=bearer, timeout=10)
        assert ready.status_code == 200 and all(c["ok"] for c in ready.json()["checks"].values())

        assert requests.get(f"{gate.url}/api/v1/current-user", headers={"Authorization": f"Bearer {token}"},
                            timeout=30).status_code == 200
        # Credentials the SDK never sends (cookie, API-key header) are refused (issue 12).
        assert requests.get(f"{gate.url}/api/v1/current-user", headers=auth, timeout=30).status_code == 403
        assert requests.post(f"{gate.url}/api/v1/login", timeout=30, data={
            "username": "default", "password": secrets["password"], "grant_type": "password"}).status_code == 200
        requests.get(f"{gate.url}/api/v1/runs", headers=auth, timeout=30, params={"api_key": secrets["query_token"], "size": "5"})
        blocked = [
            ("/api/v1/run-metadata", metadata({"owner": f"mail {secrets['email']} or call {secrets['phone']}"})),
            ("/api/v1/run-metadata", metadata({"note": f"token {secrets['github_token']}"})),
            ("/api/v1/secrets", {"name": "db", "private": False, "values": {"password": secrets["secret_value"]}}),
            ("/api/v1/components", {"name": "store", "type": "artifact_store", "flavor": "s3",
                                    "configuration": {"path": "s3://ml-bucket/", "aws_secret_access_key": secrets["aws_secret"]}}),
        ]
        for path, body in blocked:
            assert requests.post(f"{gate.url}{path}", json=body, headers=auth, timeout=30).status_code == 403

        before = metric_values(requests.get(f"{admin}/metrics", headers=bearer, timeout=10).text)
        assert total(before, "metagate_requests_total", enforced="block", method="POST") == len(blocked)
        assert total(before, "metagate_requests_total", endpoint="/api/v1/run-metadata", decision="block") == 2
        assert total(before, "metagate_findings_total", entity="EMAIL_ADDRESS") >= 1
        assert total(before, "metagate_bytes_forwarded_total", endpoint="/api/v1/login") > 0
        assert total(before, "metagate_inspection_seconds_count") == total(before, "metagate_requests_total")
        assert total(before, "metagate_audit_write_seconds_count") >= total(before, "metagate_requests_total")
        assert total(before, "metagate_worker_restarts_total") == 0
        assert total(before, "metagate_policy_info") == 1

        # A worker killed: the request it takes fails closed, and the restart is counted.
        victim = worker_pids(gate.process.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        statuses = [requests.get(f"{gate.url}/api/v1/current-user", headers=auth, timeout=30) for _ in range(3)]
        assert any(r.status_code == 403 and "worker_crashed" in r.text for r in statuses)
        after = metric_values(requests.get(f"{admin}/metrics", headers=bearer, timeout=10).text)
        assert total(after, "metagate_worker_restarts_total") == 1
    finally:
        gate.process.stop()

    log = gate.process.log
    lines = [line for line in log.splitlines() if line.strip()]
    structured = [json.loads(line) for line in lines if not line.startswith("metagate:")]
    assert structured and all({"time", "level", "logger", "message"} <= set(entry) for entry in structured)
    loggers = {entry["logger"] for entry in structured}
    assert "metagate.decisions" in loggers and any(name.startswith("mitmproxy") for name in loggers)
    assert sum(entry.get("enforced") == "block" for entry in structured if entry["logger"] == "metagate.decisions") >= len(blocked)
    for name, value in {**secrets, "token": token}.items():
        assert value not in log, f"{name} found in the logs"
    assert "eyJ" not in log
