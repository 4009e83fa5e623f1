"""`metagate doctor`: the SDK environment checks, against the rules `requests` and ZenML apply."""

from __future__ import annotations

import datetime
import http.server
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from metagate.proxy.doctor import FAIL, OK, WARN, diagnose, no_proxy_matches

from tests.support.processes import metagate_command


def certificate(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gate-data")
    (path / "ca").mkdir()
    (path / "ca" / "mitmproxy-ca-cert.pem").write_bytes(certificate("metagate"))
    return path


@pytest.fixture
def listening():
    """A port that accepts connections (the gate's proxy port)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"127.0.0.1:{server.getsockname()[1]}"


def statuses(checks) -> dict[str, str]:
    out: dict[str, str] = {}
    for check in checks:
        if out.get(check.name) != FAIL:
            out[check.name] = check.status
    return out


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("url, no_proxy, expected", [
    ("https://ws.zenml.io", "localhost,.zenml.io", [".zenml.io"]),
    ("https://ws.zenml.io", "zenml.io", ["zenml.io"]),             # requests: plain suffix match
    ("https://ws.zenml.io", "*", ["*"]),
    ("https://ws.zenml.io", "ws.zenml.io:443, other.io", []),      # no port in the URL: host:port form does not match
    ("https://ws.zenml.io:8443", "ws.zenml.io:8443", ["ws.zenml.io:8443"]),
    ("http://10.1.2.3:8080", "10.0.0.0/8", ["10.0.0.0/8"]),
    ("http://10.1.2.3:8080", "192.168.0.0/16,10.1.2.4", []),
    ("https://ws.zenml.io", "", []),
])
def test_no_proxy_matching_follows_requests(url, no_proxy, expected):
    assert no_proxy_matches(url, no_proxy) == expected


def test_reverse_mode_pointing_at_the_gate_passes(listening):
    env = {"ZENML_STORE_URL": f"http://{listening}", "ZENML_ANALYTICS_OPT_IN": "false", "NO_PROXY": "127.0.0.1"}
    result = statuses(diagnose(env, gate=listening, timeout=2))
    assert result == {"store_url": OK, "proxy": OK, "no_proxy": OK, "ca_trust": OK, "gate": OK}


def test_a_store_url_that_is_not_the_gate_fails():
    env = {"ZENML_STORE_URL": "https://ws.zenml.io"}
    result = statuses(diagnose(env, gate=closed_port(), timeout=1))
    assert result["proxy"] == FAIL and result["gate"] == FAIL and result["analytics"] == WARN


def test_forward_mode_needs_metagates_ca_and_no_bypass(tmp_path, data_dir, listening):
    ca = (data_dir / "ca" / "mitmproxy-ca-cert.pem").read_bytes()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(certificate("some public root") + ca)
    other = tmp_path / "other.pem"
    other.write_bytes(certificate("not metagate"))
    base = {"ZENML_STORE_URL": "https://ws.zenml.io", "https_proxy": f"http://user:pw@{listening}",
            "ZENML_ANALYTICS_OPT_IN": "false"}

    good = diagnose({**base, "REQUESTS_CA_BUNDLE": str(bundle)}, data_dir=data_dir, timeout=2)
    assert statuses(good) == {"store_url": OK, "proxy": OK, "no_proxy": OK, "ca_trust": OK, "gate": OK}
    assert not any("pw@" in c.message for c in good)                     # proxy credentials masked

    assert statuses(diagnose({**base, "REQUESTS_CA_BUNDLE": str(other)}, data_dir=data_dir))["ca_trust"] == FAIL
    assert statuses(diagnose(base, data_dir=data_dir))["ca_trust"] == FAIL
    # ZenML: a path or PEM in ZENML_STORE_VERIFY_SSL wins over REQUESTS_CA_BUNDLE.
    assert statuses(diagnose({**base, "ZENML_STORE_VERIFY_SSL": str(other), "REQUESTS_CA_BUNDLE": str(bundle)},
                             data_dir=data_dir))["ca_trust"] == FAIL
    assert statuses(diagnose({**base, "ZENML_STORE_VERIFY_SSL": ca.decode()}, data_dir=data_dir))["ca_trust"] == OK
    assert statuses(diagnose({**base, "ZENML_STORE_VERIFY_SSL": "false"}))["ca_trust"] == WARN
    assert statuses(diagnose({**base, "REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")}))["ca_trust"] == FAIL

    bypassed = statuses(diagnose({**base, "NO_PROXY": "localhost,.zenml.io", "REQUESTS_CA_BUNDLE": str(bundle)}))
    assert bypassed["no_proxy"] == FAIL and bypassed["proxy"] == FAIL
    wrong_gate = statuses(diagnose({**base, "REQUESTS_CA_BUNDLE": str(bundle)}, gate=closed_port()))
    assert wrong_gate["proxy"] == FAIL
    http_only = statuses(diagnose({"ZENML_STORE_URL": "https://ws.zenml.io", "HTTP_PROXY": f"http://{listening}"}))
    assert http_only["proxy"] == FAIL


def test_admin_healthz_is_the_reachability_check():
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        admin = f"127.0.0.1:{server.server_address[1]}"
        checks = diagnose({"ZENML_STORE_URL": "http://127.0.0.1:1"}, admin=admin, timeout=2)
        assert statuses(checks)["gate"] == OK
    finally:
        server.shutdown()
    assert statuses(diagnose({}, admin=closed_port(), timeout=1))["gate"] == FAIL


def test_the_command_prints_one_line_per_check_and_exits_1_on_a_fail(listening):
    env = {"PATH": "/usr/bin:/bin", "ZENML_STORE_URL": "https://ws.zenml.io", "HTTPS_PROXY": f"http://{listening}",
           "NO_PROXY": ".zenml.io"}
    result = subprocess.run(metagate_command("doctor", "--timeout", "1"), capture_output=True, text=True, check=False, env=env, timeout=60)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines and all(line.split()[0] in (OK, WARN, FAIL) for line in lines)
    assert any(line.startswith("fail") and "no_proxy" in line and ".zenml.io" in line for line in lines)
    env = {"PATH": "/usr/bin:/bin", "ZENML_STORE_URL": f"http://{listening}", "ZENML_ANALYTICS_OPT_IN": "false"}
    result = subprocess.run(metagate_command("doctor", "--gate", listening), capture_output=True, text=True, check=False, env=env, timeout=60)
    assert result.returncode == 0, result.stdout
