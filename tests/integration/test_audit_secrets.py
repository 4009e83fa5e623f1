"""No sensitive value in the trail: tokens, cookies, API keys, passwords, PII and secrets sent
through the real gate appear nowhere in the store's files, its JSON lines and syslog exports,
or the transfer reports built from it."""

from __future__ import annotations

import socket
import subprocess
import uuid

import requests

from tests.integration.conftest import start_gate
from tests.support.payloads import jwt, sensitive_values
from tests.support.payloads import run_metadata as metadata
from tests.support.processes import metagate_command


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(metagate_command(*args), capture_output=True, text=True, timeout=300)


def test_no_sensitive_value_reaches_the_store_exports_or_reports(tmp_path, upstream):
    tag = uuid.uuid4().hex[:10]
    user = str(uuid.uuid4())
    secrets = sensitive_values(tag)
    token = jwt(user, secrets["jwt_signature"])
    gate = start_gate(tmp_path, upstream.url)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(10)
    try:
        auth = {"Authorization": f"Bearer {token}", "Cookie": f"session={secrets['cookie']}",
                "X-Api-Key": secrets["api_key_header"]}
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{gate.url}/api/v1/current-user", headers=bearer, timeout=30).status_code == 200
        # Credentials the SDK never sends (cookie, API-key header) are refused, and recorded.
        assert requests.get(f"{gate.url}/api/v1/current-user", headers=auth, timeout=30).status_code == 403
        assert requests.post(f"{gate.url}/api/v1/login", timeout=30, data={
            "username": "default", "password": secrets["password"], "grant_type": "password"}).status_code == 200
        # Allowed or refused (unknown query parameter): recorded either way, by parameter name only.
        requests.get(f"{gate.url}/api/v1/runs", headers=auth, timeout=30,
                     params={"api_key": secrets["query_token"], "size": "5"})
        blocked = [
            ("/api/v1/run-metadata", metadata({"owner": f"mail {secrets['email']} or call {secrets['phone']}"})),
            ("/api/v1/run-metadata", metadata({"note": f"token {secrets['github_token']}"})),
            ("/api/v1/secrets", {"name": "db", "private": False, "values": {"password": secrets["secret_value"]}}),
            ("/api/v1/components", {"name": "store", "type": "artifact_store", "flavor": "s3",
                                    "configuration": {"path": "s3://ml-bucket/", "aws_secret_access_key": secrets["aws_secret"]}}),
        ]
        for path, body in blocked:
            response = requests.post(f"{gate.url}{path}", json=body, headers=auth, timeout=30)
            assert response.status_code == 403, (path, response.text)
        # Values in names the client chose (a metadata key, a path segment, a query parameter's
        # name): the 403 the client reads quotes the place, masked, never the value.
        named = {key: f"{key.replace('_', '.')}.{tag}@example.com" for key in ("key_mail", "path_mail", "query_mail")}
        secrets.update(named)
        for method, path, body in [
            ("POST", "/api/v1/run-metadata", metadata({named["key_mail"]: "reviewed"})),
            ("GET", f"/api/v1/runs/{named['path_mail']}", None),
            ("GET", f"/api/v1/runs?{named['query_mail']}=1&size=5", None),
        ]:
            response = requests.request(method, f"{gate.url}{path}", json=body, headers=bearer, timeout=30)
            assert response.status_code == 403 and "<masked:" in response.text, (path, response.text)
            assert not any(value in response.text for value in named.values()), response.text
    finally:
        gate.process.stop()

    # The requests were recorded (so the searches below are not vacuous) …
    records = gate.records()
    assert any(r.get("user_id") == user for r in records)
    assert any(r.get("path") == "/api/v1/runs" and r.get("query_params") == ["api_key", "size"] for r in records)
    assert sum(r.get("method") == "POST" and r.get("enforced") == "block" for r in records) == len(blocked) + 1
    assert any(r.get("path", "").startswith("/api/v1/runs/<masked:") for r in records)
    assert any(name.startswith("<masked:") for r in records for name in r.get("query_params") or [])
    assert cli("audit", "verify", "--data-dir", str(gate.data_dir), "--strict").returncode == 0

    # … and no value shows anywhere they went.
    places: dict[str, bytes] = {"store": gate.trail_bytes()}
    export = tmp_path / "export.jsonl"
    assert cli("audit", "export", "--data-dir", str(gate.data_dir), "--out", str(export)).returncode == 0
    places["jsonl export"] = export.read_bytes()
    port = listener.getsockname()[1]
    try:
        assert cli("audit", "export", "--data-dir", str(gate.data_dir), "--syslog", f"127.0.0.1:{port}").returncode == 0
        datagrams = [listener.recv(65535) for _ in range(len(gate.records(kind=None)))]
    finally:
        listener.close()
    places["syslog export"] = b"\n".join(datagrams)
    assert len(places["jsonl export"].splitlines()) == len(datagrams) > len(blocked)
    reports = tmp_path / "reports"
    result = cli("report", "--data-dir", str(gate.data_dir), "--format", "json,csv,html", "--out", str(reports))
    assert result.returncode == 0, result.stderr
    for path in sorted(reports.iterdir()):
        places[f"report {path.name}"] = path.read_bytes()

    for where, content in places.items():
        text = content.decode("utf-8", "replace")
        for name, value in {**secrets, "token": token}.items():
            assert value not in text, f"{name} found in the {where}"
        assert "eyJ" not in text, f"a JWT fragment in the {where}"
