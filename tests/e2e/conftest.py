"""End-to-end fixtures: real ZenML servers, the real ZenML SDK, and metagate in between.

The SDK scripts in ``sdk/`` run with the ZenML venv's python (ZenML is never
imported here), each in a fresh client config dir. Servers are session-scoped;
the venv is installed on first use (``~/.cache/metagate/zenml-venv``) unless
``$METAGATE_ZENML_PYTHON`` names one.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from metagate.proxy import embedded
from metagate.proxy.embedded import (
    ZENML_PYTHON_ENV_VAR,
    EmbeddedZenMLServer,
    zenml_client_env,
)

from tests.support.processes import Running, free_port, metagate_command, start

E2E_DIR = Path(__file__).resolve().parent
SDK_DIR = E2E_DIR / "sdk"
SERVER_START_TIMEOUT = 180
SDK_TIMEOUT = 300

Credentials = Literal["password", "api_key", "none"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


# --------------------------------------------------------------------------
# ZenML servers
# --------------------------------------------------------------------------


@dataclass
class ZenMLUpstream:
    """A running embedded ZenML server and what a client needs to reach it."""

    server: EmbeddedZenMLServer
    ca_cert: Path | None = None  # set for the TLS server: the CA that signed its certificate
    username: str | None = None  # set for the OAuth2 server: an admin that can log in
    password: str | None = None
    api_key: str | None = None  # set for the OAuth2 server: a service account's key

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state_dir(self) -> Path:
        return self.server.state_dir

    def log_text(self) -> str:
        return self.server.log_text()

    def sdk_env(self, url: str | None = None, credentials: Credentials | None = None) -> dict[str, str]:
        """ZENML_STORE_* variables for an SDK process talking to this server, or to ``url`` in front of it.

        ``credentials`` defaults to the password login on the OAuth2 server and
        to none elsewhere.
        """
        env = {"ZENML_STORE_URL": url or self.url}
        if credentials is None:
            credentials = "password" if self.username else "none"
        if credentials == "password":
            assert self.username is not None, "this server has no login"
            env["ZENML_STORE_USERNAME"] = self.username
            env["ZENML_STORE_PASSWORD"] = self.password or ""
        elif credentials == "api_key":
            assert self.api_key is not None, "this server has no API key"
            env["ZENML_STORE_API_KEY"] = self.api_key
        if self.ca_cert is not None and (url is None or url.startswith("https:")):
            env["ZENML_STORE_VERIFY_SSL"] = str(self.ca_cert)
        return env


@pytest.fixture(scope="session")
def zenml_python() -> Path:
    """Python of the ZenML venv; installs it on a fresh machine (about 20 s from a local mirror)."""
    return embedded.zenml_python()


def _start_upstream(state_dir: Path, python: Path, **options: Any) -> EmbeddedZenMLServer:
    server = EmbeddedZenMLServer(state_dir, python=python, **options)
    server.start(timeout=SERVER_START_TIMEOUT)
    return server


@pytest.fixture(scope="session")
def zenml_server(tmp_path_factory: pytest.TempPathFactory, zenml_python: Path) -> Iterator[ZenMLUpstream]:
    """Plain-http ZenML server without authentication (what `zenml login --local` runs)."""
    server = _start_upstream(tmp_path_factory.mktemp("zenml-server"), zenml_python)
    yield ZenMLUpstream(server)
    server.stop()


@pytest.fixture(scope="session")
def zenml_server_tls(tmp_path_factory: pytest.TempPathFactory, zenml_python: Path) -> Iterator[ZenMLUpstream]:
    """ZenML server over https with a certificate from a CA made for this session only."""
    tls_dir = tmp_path_factory.mktemp("zenml-tls")
    ca_cert, server_cert, server_key = make_tls_material(tls_dir)
    server = _start_upstream(
        tmp_path_factory.mktemp("zenml-server-tls"), zenml_python, tls=(server_cert, server_key)
    )
    yield ZenMLUpstream(server, ca_cert=ca_cert)
    server.stop()


@pytest.fixture(scope="session")
def zenml_server_auth(tmp_path_factory: pytest.TempPathFactory, zenml_python: Path) -> Iterator[ZenMLUpstream]:
    """ZenML server with OAuth2 password-bearer auth, an admin login and a service-account API key."""
    username, password = "e2e-admin", secrets.token_urlsafe(16)
    server = _start_upstream(
        tmp_path_factory.mktemp("zenml-server-auth"),
        zenml_python,
        auth="oauth2",
        admin_username=username,
        admin_password=password,
    )
    try:
        api_key = server.create_service_account_api_key("e2e-service-account")
    except BaseException:
        server.stop()
        raise
    yield ZenMLUpstream(server, username=username, password=password, api_key=api_key)
    server.stop()


def make_tls_material(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost; returns (ca_cert, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "metagate e2e test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(key_fd, "wb") as handle:
        handle.write(
            server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return ca_path, cert_path, key_path


# --------------------------------------------------------------------------
# SDK scripts
# --------------------------------------------------------------------------


class SDKResult(subprocess.CompletedProcess[str]):
    """A finished SDK script; ``value(KEY)`` reads its ``KEY=value`` report lines."""

    def value(self, key: str) -> str | None:
        prefix = f"{key}="
        found = [line[len(prefix):] for line in self.stdout.splitlines() if line.startswith(prefix)]
        return found[-1] if found else None

    def json_value(self, key: str) -> Any:
        text = self.value(key)
        return None if text is None else json.loads(text)

    @property
    def run_id(self) -> str | None:
        return self.value("RUN_ID")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        """For assertion messages."""
        return f"{self.args!r} exited {self.returncode}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


RunSDK = Callable[..., SDKResult]


@pytest.fixture
def run_sdk(zenml_python: Path, tmp_path_factory: pytest.TempPathFactory) -> RunSDK:
    """``run_sdk(script, *args, env={...}, timeout=...) -> SDKResult``.

    ``env`` must hold ZENML_STORE_URL (see ``ZenMLUpstream.sdk_env``) and may add
    anything else (proxy variables, CA bundles). Every call is a fresh client
    with its own config dir.
    """

    def run(script: str, *args: str, env: dict[str, str], timeout: float = SDK_TIMEOUT) -> SDKResult:
        assert "ZENML_STORE_URL" in env, "run_sdk needs env=upstream.sdk_env(...)"
        config_dir = tmp_path_factory.mktemp("zenml-client")
        full_env = zenml_client_env(config_dir, env["ZENML_STORE_URL"])
        full_env.update(env)
        command = [str(zenml_python), str(SDK_DIR / script), *args]
        completed = subprocess.run(
            command, env=full_env, cwd=SDK_DIR, capture_output=True, text=True, timeout=timeout, check=False
        )
        return SDKResult(completed.args, completed.returncode, completed.stdout, completed.stderr)

    return run


@pytest.fixture
def query_server(run_sdk: RunSDK) -> Callable[..., dict[str, Any]]:
    """``query_server(upstream, "run", RUN_ID|"latest")`` or ``(upstream, "runs")``: what the server holds.

    Always asks the server directly, never through metagate.
    """

    def query(upstream: ZenMLUpstream, *args: str) -> dict[str, Any]:
        result = run_sdk("server_query.py", *args, env=upstream.sdk_env())
        assert result.returncode == 0, result.describe()
        reply = result.json_value("RESULT_JSON")
        assert isinstance(reply, dict), result.describe()
        return reply

    return query


# --------------------------------------------------------------------------
# metagate
# --------------------------------------------------------------------------


@dataclass
class Metagate:
    url: str
    port: int
    data_dir: Path
    mode: str
    process: Running

    @property
    def log(self) -> str:
        return self.process.log

    def log_text(self) -> str:
        return self.process.log

    @property
    def returncode(self) -> int | None:
        return self.process.process.poll()

    def records(self, kind: str | None = "request") -> list[dict[str, Any]]:
        """Audit trail entries (``kind=None`` for all)."""
        from metagate.reports.store import read_records

        return read_records(self.data_dir, kind=kind)

    def trail_bytes(self) -> bytes:
        """The store's files byte for byte, then every record as JSON."""
        from metagate.reports.store import store_files

        raw = b"".join(path.read_bytes() for path in store_files(self.data_dir))
        return raw + b"\n" + json.dumps(self.records(kind=None), ensure_ascii=False).encode()

    def export_ca(self, destination: Path) -> Path:
        """Write metagate's interception CA certificate (forward mode) to ``destination``."""
        subprocess.run(
            [*_metagate_cli(), "ca", "--export", str(destination), "--data-dir", str(self.data_dir)],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return destination

    def stop(self) -> None:
        self.process.stop()


def _metagate_cli() -> list[str]:
    installed = Path(sys.executable).parent / "metagate"
    return [str(installed)] if installed.exists() else metagate_command()


def launch_metagate(
    tmp_path_factory: pytest.TempPathFactory,
    upstream_url: str | None,
    *,
    mode: Literal["reverse", "forward"] = "reverse",
    config: str | Path | None = None,
    enforcement: Literal["enforce", "monitor"] | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 240,
    zenml_python: Path | None = None,
) -> Metagate:
    """Start ``metagate run`` on a free local port with its own data dir; the caller stops it.

    For fixtures of a wider scope than the ``metagate`` factory (which stops its gates after
    each test). ``zenml_python`` is needed when ``upstream_url`` is None (embedded server).
    """
    workdir = tmp_path_factory.mktemp("metagate")
    port = free_port()
    data_dir = workdir / "data"
    args = ["run", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir), "--mode", mode]
    if upstream_url is not None:
        args += ["--upstream", upstream_url]
    if enforcement is not None:
        args += ["--enforcement", enforcement]
    if config is not None:
        config_path = Path(config) if isinstance(config, Path) else workdir / "metagate.yaml"
        if not isinstance(config, Path):
            config_path.write_text(config)
        args += ["--config", str(config_path)]
    env = {}
    if upstream_url is None:
        assert zenml_python is not None, "an embedded server needs the ZenML venv's python"
        env[ZENML_PYTHON_ENV_VAR] = str(zenml_python)
    process = start([*_metagate_cli(), *args, *extra_args], "metagate: serving", timeout=timeout, env=env)
    return Metagate(f"http://127.0.0.1:{port}", port, data_dir, mode, process)


@pytest.fixture
def metagate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Metagate]]:
    """Factory: ``metagate(upstream_url, mode="reverse", config=None, enforcement=None, extra_args=())``.

    Starts ``metagate run`` on a free local port with its own data dir, waits
    for ``metagate: serving`` and stops it at the end of the test.
    ``upstream_url=None`` lets metagate start its embedded ZenML server.
    ``config`` is YAML text or a path.
    """
    started: list[Metagate] = []

    def start_metagate(upstream_url: str | None, **options: Any) -> Metagate:
        if upstream_url is None:
            options.setdefault("zenml_python", request.getfixturevalue("zenml_python"))
        gate = launch_metagate(tmp_path_factory, upstream_url, **options)
        started.append(gate)
        return gate

    yield start_metagate
    for gate in started:
        gate.stop()
