"""Transparent mode for real: the SDK has no proxy settings and talks to the ZenML server's own
address; the gateway's NAT sends its connections to metagate, which inspects them.

Three network namespaces on this machine (tests/support/netns.py): client → gateway →
upstream. The gateway forwards nothing itself; its only path for the client's TCP to port
8443 is the REDIRECT to metagate. The client trusts only metagate's CA, so a run that
completes went through the interception, and the server (wrapped to log each arrival with
the audit id metagate attached) proves every request it received was recorded first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from metagate.proxy.embedded import zenml_client_env
from tests.e2e.conftest import SDK_DIR, SDKResult, _metagate_cli
from tests.support.netns import (
    CLIENT_ADDRESS,
    OTHER_ADDRESS,
    STORAGE_ADDRESS,
    UPSTREAM_ADDRESS,
    Topology,
    remove_stale_namespaces,
    unavailable_reason,
)
from tests.support.processes import ROOT, Running, start
from tests.support.tls_material import make_server_tls

SKIP_REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")

ZENML_PORT, GATE_PORT = 8443, 8080
UPSTREAM_URL = f"https://{UPSTREAM_ADDRESS}:{ZENML_PORT}"
SHIM_DIR = Path(__file__).resolve().parent / "server_shim"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@dataclass
class Site:
    topology: Topology
    gate_data: Path
    gate: Running
    metagate_ca: Path
    upstream_ca: Path
    arrivals_path: Path
    zenml_python: Path
    workdir: Path

    def records(self, kind: str | None = "request") -> list[dict]:
        from metagate.reports.store import read_records

        return read_records(self.gate_data, kind=kind)

    def arrivals(self) -> list[dict]:
        if not self.arrivals_path.exists():
            return []
        return [json.loads(line) for line in self.arrivals_path.read_text().splitlines() if line.strip()]

    def sdk(self, namespace: str, script: str, *args: str, verify: Path, timeout: float = 300) -> SDKResult:
        """Run an SDK script in `namespace` against the upstream's address, with no proxy settings."""
        config_dir = Path(self.workdir) / f"client-{script}-{len(list(self.workdir.glob('client-*')))}"
        config_dir.mkdir()
        env = zenml_client_env(config_dir, UPSTREAM_URL, verify_ssl=str(verify))
        assert not any(name in env for name in PROXY_VARIABLES)
        command = [*self.topology.exec_prefix(namespace), str(self.zenml_python), str(SDK_DIR / script), *args]
        done = subprocess.run(command, env=env, cwd=SDK_DIR, capture_output=True, text=True, timeout=timeout)
        return SDKResult(done.args, done.returncode, done.stdout, done.stderr)

    def client_python(self, code: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Project python in the client namespace (no proxy variables either)."""
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
        return subprocess.run([*self.topology.exec_prefix(self.topology.client), sys.executable, "-c", code, *args],
                              env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, zenml_python: Path) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("transparent")
    remove_stale_namespaces()
    topology = Topology.names()
    running: list[Running] = []
    try:
        topology.create(redirect_port=ZENML_PORT, gate_port=GATE_PORT)
        upstream_ca, cert, key = make_server_tls(workdir / "tls", [UPSTREAM_ADDRESS, STORAGE_ADDRESS])
        arrivals = workdir / "arrivals.jsonl"
        gate_data = workdir / "gate"
        running.append(start([
            *topology.exec_prefix(topology.upstream), sys.executable, "-m", "tests.support.netns_zenml",
            "--state-dir", str(workdir / "zenml"), "--host", UPSTREAM_ADDRESS, "--port", str(ZENML_PORT),
            "--zenml-python", str(zenml_python), "--tls-cert", str(cert), "--tls-key", str(key),
            "--app", "arrivals:app", "--app-dir", str(SHIM_DIR),
            "--env", f"METAGATE_E2E_ARRIVALS={arrivals}", "--env", f"METAGATE_E2E_TRAILS={workdir}",
        ], "zenml-server: ready", timeout=240))
        # In-VPC storage stand-in: TLS with the test CA, so a client that verifies it proves the
        # gate passed the connection through without intercepting it.
        storage_server = (
            "import http.server, ssl, sys\n"
            "server = http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), http.server.SimpleHTTPRequestHandler)\n"
            "context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); context.load_cert_chain(sys.argv[3], sys.argv[4])\n"
            "server.socket = context.wrap_socket(server.socket, server_side=True)\n"
            "print('storage: ready', flush=True); server.serve_forever()\n"
        )
        (workdir / "storage").mkdir()
        (workdir / "storage" / "object.bin").write_bytes(b"artifact bytes")
        running.append(start([*topology.exec_prefix(topology.upstream), sys.executable, "-c", storage_server,
                              STORAGE_ADDRESS, str(ZENML_PORT), str(cert), str(key)],
                             "storage: ready", timeout=30, cwd=workdir / "storage"))
        config = workdir / "metagate.yaml"
        config.write_text(
            f"mode: transparent\nupstream: {UPSTREAM_URL}\nlisten: 0.0.0.0:{GATE_PORT}\n"
            f"upstream_ca: {upstream_ca}\negress:\n  allow_uninspected: ['{STORAGE_ADDRESS}']\n"
        )
        gate = start([*topology.exec_prefix(topology.gateway), *_metagate_cli(), "run", "--config", str(config),
                      "--data-dir", str(gate_data)], "metagate: serving", timeout=240)
        running.append(gate)
        metagate_ca = workdir / "metagate-ca.pem"
        subprocess.run([*_metagate_cli(), "ca", "--export", str(metagate_ca), "--data-dir", str(gate_data)],
                       check=True, capture_output=True, timeout=60)
        yield Site(topology, gate_data, gate, metagate_ca, upstream_ca, arrivals, zenml_python, workdir)
    finally:
        for process in reversed(running):
            process.stop()
        topology.destroy()


def test_clean_pipeline_runs_through_the_transparent_gate_and_is_recorded(site: Site) -> None:
    before = len(site.arrivals())
    result = site.sdk(site.topology.client, "clean_pipeline.py", "--lr", "0.05", "--epochs", "3", verify=site.metagate_ca)
    assert result.returncode == 0, result.describe() + site.gate.log[-3000:]
    assert result.run_id

    # The gateway's NAT redirected the client's connections; metagate saw them come from the
    # client's address, bound for the upstream's, and recorded each one.
    assert site.topology.redirected_connections() >= 1
    records = {r["id"]: r for r in site.records()}
    ours = [r for r in records.values() if r["client"] == CLIENT_ADDRESS]
    assert any(r.get("endpoint") == "/api/v1/runs" and r["method"] == "POST" for r in ours)
    assert all(r["enforced"] != "block" for r in ours), [r for r in ours if r["enforced"] == "block"]
    assert any("redact.code" in r["rules"] for r in ours)

    # Every request the server received came through the gate with a record already committed.
    during = site.arrivals()[before:]
    assert during, "no request reached the server"
    for arrival in during:
        assert arrival["audit_id"] in records, f"{arrival['method']} {arrival['path']} arrived without a record"
        assert arrival["committed"] is True

    # The run is on the server, complete (asked from the upstream's own namespace, directly).
    query = site.sdk(site.topology.upstream, "server_query.py", "run", result.run_id, verify=site.upstream_ca)
    assert query.returncode == 0, query.describe()
    assert query.json_value("RESULT_JSON")["summary"]["status"] == "completed"


def test_pii_run_is_blocked_in_transparent_mode(site: Site) -> None:
    address = "leak.transparent@example.com"
    result = site.sdk(site.topology.client, "pii_pipeline.py", address, verify=site.metagate_ca)
    assert result.returncode != 0, result.describe()
    assert result.value("STEP_EXCEPTION_TYPE") == "IllegalOperationError", result.describe()
    message = result.value("STEP_EXCEPTION_MESSAGE") or ""
    assert message.startswith("metagate blocked POST /api/v1/run-metadata"), message
    assert "pii.detected" in message
    blocked = [r for r in site.records() if r["enforced"] == "block" and r.get("endpoint") == "/api/v1/run-metadata"]
    assert blocked and all(r["client"] == CLIENT_ADDRESS for r in blocked)
    assert not any(a["path"] == "/api/v1/run-metadata" and a["audit_id"] in {r["id"] for r in blocked}
                   for a in site.arrivals())
    query = site.sdk(site.topology.upstream, "server_query.py", "run", "latest", verify=site.upstream_ca)
    assert query.returncode == 0, query.describe()
    assert address not in query.stdout


def test_other_destinations_are_refused_and_allowed_storage_passes_uninspected(site: Site) -> None:
    probe = (
        "import requests, sys\n"
        "for url, verify in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):\n"
        "    try:\n"
        "        r = requests.get(url, verify=verify, timeout=20)\n"
        "        print(r.status_code, r.text.replace(chr(10), ' ')[:300])\n"
        "    except Exception as exc:\n"
        "        print('error', type(exc).__name__)\n"
    )
    refused_url = f"https://{OTHER_ADDRESS}:{ZENML_PORT}/api/v1/info"
    storage_url = f"https://{STORAGE_ADDRESS}:{ZENML_PORT}/object.bin"
    done = site.client_python(probe, refused_url, str(site.metagate_ca), storage_url, str(site.upstream_ca))
    assert done.returncode == 0, done.stderr
    refused, stored = done.stdout.splitlines()
    # Not a ZenML upstream, not on the allow-list: a readable 403 (the client trusts metagate's CA).
    assert refused.startswith("403 ") and "egress.host_not_allowed" in refused, refused
    # Allow-listed storage: the client verified the storage server's own certificate, so the
    # gate did not intercept; the bytes arrived.
    assert stored == "200 artifact bytes", stored
    egress = site.records(kind="egress")
    assert any(r["address"] == OTHER_ADDRESS and r["decision"] == "block" for r in egress)
    assert any(r["address"] == STORAGE_ADDRESS and r["decision"] == "allow" for r in egress)
