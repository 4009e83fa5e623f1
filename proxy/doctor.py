"""`metagate doctor`: does the ZenML SDK in this shell go through the gate?

Reads the shell's environment the way the SDK's `requests` session does (ZENML_STORE_URL,
the *_PROXY variables with lower case first, NO_PROXY matched like `requests`, and ZenML's
TLS rules: ZENML_STORE_VERIFY_SSL is true|false|<CA path>|<PEM>, and REQUESTS_CA_BUNDLE /
CURL_CA_BUNDLE apply only when it is true), then tries to reach the gate. One line per check,
ok / warn / fail; exit 1 on any fail. Proxy URLs are shown without their credentials.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from metagate.proxy.logs import scrub

OK, WARN, FAIL = "ok", "warn", "fail"
FALSE_WORDS = {"false", "0", "no", "off"}
TRUE_WORDS = {"true", "1", "yes", "on", ""}


@dataclass
class Check:
    name: str
    status: str
    message: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<14} {self.message}"


@dataclass
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        return cls((parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80))

    def same_as(self, other: Endpoint) -> bool:
        local = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}
        hosts_match = self.host == other.host or (self.host in local and other.host in local)
        return hosts_match and self.port == other.port


def _get(env: Mapping[str, str], name: str) -> str | None:
    """Lower case first, as urllib and requests read proxy variables."""
    value = env.get(name.lower())
    if value is None:
        value = env.get(name.upper())
    return value or None


def proxy_for(url: str, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(variable name, proxy URL) that `requests` would use for `url`, before NO_PROXY."""
    scheme = urlsplit(url).scheme
    for name in (f"{scheme}_proxy", "all_proxy"):
        value = _get(env, name)
        if value:
            return name.upper(), value
    return None, None


def no_proxy_matches(url: str, no_proxy: str) -> list[str]:
    """NO_PROXY entries that make `requests` bypass the proxy for `url` (requests'
    should_bypass_proxies: suffix match on host or host:port, CIDR or exact for IPs, '*')."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host_port = f"{host}:{parts.port}" if parts.port else host
    matches = []
    for entry in (e.strip().lower() for e in no_proxy.replace(" ", "").split(",")):
        if not entry:
            continue
        if entry == "*":
            matches.append(entry)
            continue
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    matches.append(entry)
            except ValueError:
                pass
            continue
        bare = entry.lstrip(".")
        if host.endswith(bare) or host_port.endswith(bare):
            matches.append(entry)
    return matches


def _masked(url: str) -> str:
    return scrub(url)


def _certificates(pem: bytes) -> list[bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return [cert.public_bytes(Encoding.DER) for cert in x509.load_pem_x509_certificates(pem)]


def metagate_ca(data_dir: Path) -> bytes | None:
    path = data_dir / "ca" / "mitmproxy-ca-cert.pem"
    try:
        return _certificates(path.read_bytes())[0]
    except (OSError, ValueError, IndexError):
        return None


def check_bundle(source: str, pem: bytes | None, data_dir: Path | None) -> Check:
    if pem is None:
        return Check("ca_trust", FAIL, f"{source} is not a readable file")
    try:
        certs = _certificates(pem)
    except ValueError:
        certs = []
    if not certs:
        return Check("ca_trust", FAIL, f"{source} holds no PEM certificate")
    if data_dir is None:
        return Check("ca_trust", OK, f"{source}: {len(certs)} certificate(s); pass --data-dir to check for metagate's CA")
    ca = metagate_ca(data_dir)
    if ca is None:
        return Check("ca_trust", WARN, f"{source}: no metagate CA under {data_dir}/ca to compare (metagate ca --export)")
    if ca in certs:
        return Check("ca_trust", OK, f"{source} contains metagate's CA")
    return Check("ca_trust", FAIL, f"{source} does not contain metagate's CA from {data_dir}: "
                                   "the SDK will reject the gate's certificates (metagate ca --export PATH)")


def _read(path: str) -> bytes | None:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError:
        return None


def ca_trust(store_url: str | None, forward: bool, env: Mapping[str, str], data_dir: Path | None) -> Check:
    if store_url is None or urlsplit(store_url).scheme != "https":
        return Check("ca_trust", OK, "not needed: the SDK does not speak TLS to the gate")
    if not forward:
        return Check("ca_trust", OK, "not needed: no forward proxy intercepts TLS for the store")
    verify = env.get("ZENML_STORE_VERIFY_SSL")
    if verify is not None and verify.strip().lower() in FALSE_WORDS:
        return Check("ca_trust", WARN, "ZENML_STORE_VERIFY_SSL is false: TLS is not verified at all")
    if verify is not None and verify.strip().lower() not in TRUE_WORDS:
        if verify.lstrip().startswith("-----BEGIN"):
            return check_bundle("ZENML_STORE_VERIFY_SSL (PEM)", verify.encode(), data_dir)
        return check_bundle(f"ZENML_STORE_VERIFY_SSL={verify}", _read(verify), data_dir)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if env.get(name):
            return check_bundle(f"{name}={env[name]}", _read(env[name]), data_dir)
    return Check("ca_trust", FAIL, "forward mode over TLS but neither ZENML_STORE_VERIFY_SSL nor REQUESTS_CA_BUNDLE "
                                   "names metagate's CA: the SDK will reject the gate's certificates")


def reachable(gate: Endpoint | None, admin: str | None, timeout: float) -> Check:
    if admin is not None:
        url = f"http://{admin}/healthz"
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=timeout) as response:
                status = response.status
        except OSError as exc:
            return Check("gate", FAIL, f"{url}: {getattr(exc, 'reason', exc)}")
        return Check("gate", OK if status == 200 else FAIL, f"{url} answered {status}")
    if gate is None:
        return Check("gate", WARN, "no gate address known: pass --gate HOST:PORT or --admin HOST:PORT")
    try:
        with socket.create_connection((gate.host, gate.port), timeout=timeout):
            pass
    except OSError as exc:
        return Check("gate", FAIL, f"cannot connect to {gate}: {exc.strerror or exc}")
    return Check("gate", OK, f"{gate} accepts connections")


def diagnose(env: Mapping[str, str], gate: str | None = None, admin: str | None = None,
             data_dir: Path | None = None, timeout: float = 3.0) -> list[Check]:
    checks: list[Check] = []
    gate_at = Endpoint.from_url(gate) if gate else None
    store_url = env.get("ZENML_STORE_URL") or None
    if store_url is None:
        checks.append(Check("store_url", WARN, "ZENML_STORE_URL is not set: the SDK uses the server from `zenml login`; "
                                              "make sure that is the gate, or set it"))
    elif urlsplit(store_url).scheme not in ("http", "https") or not urlsplit(store_url).hostname:
        checks.append(Check("store_url", FAIL, f"ZENML_STORE_URL={_masked(store_url)} is not an http(s) URL"))
        store_url = None
    else:
        checks.append(Check("store_url", OK, f"ZENML_STORE_URL={_masked(store_url)}"))

    forward = False
    bypass: list[str] = []
    if store_url is not None:
        store = Endpoint.from_url(store_url)
        scheme = urlsplit(store_url).scheme
        variable, proxy = proxy_for(store_url, env)
        bypass = no_proxy_matches(store_url, _get(env, "no_proxy") or "")
        points_at_gate = gate_at is not None and store.same_as(gate_at)
        if proxy is not None and not bypass:
            forward = True
            proxy_at = Endpoint.from_url(proxy)
            if gate_at is not None and not proxy_at.same_as(gate_at):
                checks.append(Check("proxy", FAIL, f"{variable}={_masked(proxy)} is not the gate {gate_at}"))
            else:
                checks.append(Check("proxy", OK, f"forward mode: {variable}={_masked(proxy)} carries {store.host}"))
            gate_at = gate_at or proxy_at
        elif points_at_gate:
            checks.append(Check("proxy", OK, f"reverse mode: ZENML_STORE_URL is the gate {gate_at}"))
        elif proxy is not None:
            checks.append(Check("proxy", FAIL, f"{variable} is set but NO_PROXY exempts {store.host}: "
                                               "requests go straight to the server"))
        elif scheme == "https" and _get(env, "http_proxy"):
            checks.append(Check("proxy", FAIL, "HTTP_PROXY is set but the store URL is https: only HTTPS_PROXY "
                                               "(or ALL_PROXY) applies, so requests bypass the gate"))
        elif gate_at is not None:
            checks.append(Check("proxy", FAIL, f"ZENML_STORE_URL points at {store}, not the gate {gate_at}, and no "
                                               f"{scheme.upper()}_PROXY is set: requests bypass the gate"))
        else:
            checks.append(Check("proxy", WARN, f"no proxy set: reverse mode, so {store} must be the gate "
                                               "(pass --gate HOST:PORT to check)"))
            gate_at = store
        if bypass and proxy is not None and not points_at_gate:
            checks.append(Check("no_proxy", FAIL, f"NO_PROXY entr{'y' if len(bypass) == 1 else 'ies'} "
                                                  f"{', '.join(bypass)} would bypass the gate for {store.host}"))
        else:
            checks.append(Check("no_proxy", OK, "NO_PROXY does not exempt the ZenML server"))
    checks.append(ca_trust(store_url, forward, env, data_dir))
    checks.append(reachable(gate_at, admin, timeout))
    if (env.get("ZENML_ANALYTICS_OPT_IN") or "true").strip().lower() not in FALSE_WORDS:
        checks.append(Check("analytics", WARN, "ZENML_ANALYTICS_OPT_IN is not false: the SDK also calls "
                                               "analytics.zenml.io, which the gate refuses"))
    return checks


def _doctor(args: argparse.Namespace) -> int:
    import os

    checks = diagnose(os.environ, gate=args.gate, admin=args.admin, data_dir=args.data_dir, timeout=args.timeout)
    for check in checks:
        print(check.line())
    return 1 if any(c.status == FAIL for c in checks) else 0


def add_doctor_command(subparsers: argparse._SubParsersAction) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check that the ZenML SDK in this shell goes through the gate")
    doctor.add_argument("--gate", metavar="HOST:PORT", help="the gate's proxy address (to compare the SDK settings with)")
    doctor.add_argument("--admin", metavar="HOST:PORT", help="the gate's admin listener: check /healthz there")
    doctor.add_argument("--data-dir", type=Path, help="the gate's data dir: check the CA bundle holds its CA")
    doctor.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the gate (default 3)")
    doctor.set_defaults(func=_doctor)


if __name__ == "__main__":   # pragma: no cover
    sys.exit(_doctor(argparse.Namespace(gate=None, admin=None, data_dir=None, timeout=3.0)))
