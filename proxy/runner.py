"""Assemble and run the gate: data dir, keys, embedded upstream, workers, audit, mitmproxy."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import uuid
from contextlib import ExitStack
from functools import partial
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from metagate.proxy.addon import EgressAllowList, MetadataGate
from metagate.proxy.admin import admin_server
from metagate.proxy.config import Config
from metagate.proxy.inspection import InspectorSettings
from metagate.proxy.logs import log_decision
from metagate.proxy.upstream import UpstreamClient
from metagate.proxy.workers import WorkerPool
from metagate.reports.store import open_store
from metagate.scanner.compiled import describe as describe_scanner_build
from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

log = logging.getLogger("metagate")


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def fingerprint_key(data_dir: Path) -> bytes:
    """The per-deployment HMAC key for fingerprints and redaction markers (0600, created once)."""
    path = private_dir(data_dir / "keys") / "fingerprint.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def ca_dir(data_dir: Path) -> Path:
    return private_dir(data_dir / "ca")


def export_ca(data_dir: Path, destination: Path) -> Path:
    """Write metagate's CA certificate (never its key) for REQUESTS_CA_BUNDLE."""
    from mitmproxy.certs import CertStore

    confdir = ca_dir(data_dir)
    CertStore.from_store(confdir, "mitmproxy", 2048)
    for key_file in confdir.glob("*.pem"):
        if "cert" not in key_file.name:
            os.chmod(key_file, 0o600)
    certificate = (confdir / "mitmproxy-ca-cert.pem").read_bytes()
    destination.write_bytes(certificate)
    return destination


def inspector_settings(config: Config, key: bytes) -> InspectorSettings:
    return InspectorSettings(
        fingerprint_key=key,
        storage_prefixes=tuple(config.storage_prefixes),
        max_body_bytes=config.limits.max_body_bytes,
        max_decoded_bytes=config.limits.max_decoded_bytes,
        policy_engine=config.policy.engine,
        opa_url=config.policy.opa_url,
        policy_dirs=tuple(config.policy.extra_dirs),
        policy_data=config.policy.data,
        detector_config={**config.scanner.detectors, "spacy_model": config.scanner.spacy_model},
    )


def mitmproxy_options(config: Config, upstream: str) -> dict[str, object]:
    """Settings for mitmproxy's own addons (set once they are loaded)."""
    mode = {"reverse": f"reverse:{upstream}", "forward": "regular", "transparent": "transparent"}[config.mode]
    settings: dict[str, object] = dict(
        listen_host=config.listen_host,
        listen_port=config.listen_port,
        mode=[mode],
        # No server connection before the gate has decided (and, for ZenML traffic, ever: the
        # gate sends it itself). Eager connecting would also drop clients unanswered and
        # unrecorded whenever the upstream is down.
        connection_strategy="lazy",
        confdir=str(ca_dir(config.data_dir)),
        body_size_limit=str(config.limits.max_body_bytes),
        ssl_insecure=not config.upstream_verify,
    )
    if config.upstream_ca is not None:
        settings["ssl_verify_upstream_trusted_ca"] = str(config.upstream_ca)
    if config.mode == "forward" and config.egress.allow_uninspected:
        # In-VPC storage: tunnel without TLS interception.
        patterns = [p.replace(".", r"\.").replace("*", r"[^:]*") for p in config.egress.allow_uninspected]
        settings["ignore_hosts"] = [rf"^{p}(:\d+)?$" for p in patterns]
    return settings


def upstream_client(config: Config) -> UpstreamClient:
    """How the gate sends allowed requests: the same TLS trust as configured for mitmproxy,
    and the response size cap mitmproxy applied (body_size_limit covers both directions)."""
    return UpstreamClient(
        connect_timeout=config.upstream_connect_timeout, response_timeout=config.upstream_timeout,
        verify=config.upstream_verify, ca_file=config.upstream_ca, max_response_bytes=config.limits.max_body_bytes,
    )


def config_summary(config: Config, upstream: str) -> dict[str, object]:
    """What a reviewer needs to know about how the gate ran; no secrets (the config has none,
    and URLs are reduced to scheme, host and port)."""
    parts = urlsplit(upstream)
    return {
        "mode": config.mode,
        "upstream": f"{parts.scheme}://{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}",
        "upstream_verify": config.upstream_verify,
        "enforcement": config.enforcement,
        "on_error": config.on_error,
        "inspection_timeout": config.inspection_timeout,
        "upstream_timeout": config.upstream_timeout,
        "upstream_connect_timeout": config.upstream_connect_timeout,
        "workers": config.workers,
        "worker_max_requests": config.worker_max_requests,
        "storage_prefixes": config.storage_prefixes,
        "limits": config.limits.model_dump(),
        "policy_engine": config.policy.engine,
        "policy_extra_dirs": [str(p) for p in config.policy.extra_dirs],
        "policy_bundle": _bundle_summary(config.policy.bundle),
        "allow_uninspected": config.egress.allow_uninspected,
    }


def _bundle_summary(bundle: str | None) -> str | None:
    if bundle is None:
        return None
    from metagate.proxy.reload import bundle_source

    return bundle_source(bundle).description    # a URL without credentials or query


def lifecycle_record(
    kind: str, config: Config, upstream: str, policy_hash: str, policy_revision: str | None = None,
) -> dict[str, object]:
    from metagate.proxy.addon import now_iso

    return {
        "id": str(uuid.uuid4()),
        "time": now_iso(),
        "kind": kind,
        "version": version("metagate"),
        "config": config_summary(config, upstream),
        "policy_hash": policy_hash,
        "policy_revision": policy_revision,
    }


class ServingAnnouncer:
    """Prints the `metagate: serving` line once the listening socket accepts connections."""

    def __init__(self, config: Config, upstream: str) -> None:
        self.config = config
        self.upstream = upstream

    async def running(self) -> None:
        asyncio.get_running_loop().create_task(self._announce())

    async def _announce(self) -> None:
        host = self.config.listen_host if self.config.listen_host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        for _ in range(600):
            try:
                _, writer = await asyncio.open_connection(host, self.config.listen_port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        address = f"http://{host}:{self.config.listen_port}"
        print(f"metagate: serving on {address} ({self.config.mode} mode, upstream {self.upstream}, "
              f"enforcement {self.config.enforcement})", flush=True)
        print(f"metagate: {describe_scanner_build()}", flush=True)
        if self.config.mode == "reverse":
            print(f"metagate: point the ZenML SDK here with: export ZENML_STORE_URL={address}", flush=True)
        elif self.config.mode == "transparent":
            print(f"metagate: redirect the SDK's TCP traffic to port {self.config.listen_port} "
                  "(docs/transparent-mode.md); clients trust <metagate ca --export PATH>", flush=True)
        else:
            print(f"metagate: export HTTPS_PROXY={address} REQUESTS_CA_BUNDLE=<metagate ca --export PATH>", flush=True)


async def serve(config: Config) -> int:
    data_dir = private_dir(config.data_dir)
    admin = admin_server(config)      # None without --admin; refuses a public listener without a token
    with ExitStack() as stack:
        upstream = config.upstream
        if upstream is None:
            from metagate.proxy.embedded import EmbeddedZenMLServer

            print("metagate: no upstream configured; starting the embedded local ZenML server", flush=True)
            server = EmbeddedZenMLServer(data_dir / "zenml-server")
            stack.enter_context(server)
            upstream = server.url
            print(f"metagate: embedded ZenML server at {upstream}", flush=True)

        audit = open_store(config.audit, data_dir)
        stack.callback(audit.close)
        if admin is not None:
            audit = admin.instrument(audit)    # audit write latency and failures, for /metrics and /readyz
            await admin.start()                # /healthz answers while the workers start
        settings = inspector_settings(config, fingerprint_key(data_dir))
        reloader = None
        if config.policy.bundle is not None:
            from metagate.proxy.reload import PolicyReloader, bundle_source

            reloader = PolicyReloader(bundle_source(config.policy.bundle), data_dir, settings, audit,
                                      config.workers, config.inspection_timeout, config.policy.bundle_poll_seconds,
                                      pool_factory=partial(WorkerPool, max_requests=config.worker_max_requests))
            pool = await reloader.initial_pool()
        else:
            pool = WorkerPool(settings, config.workers, config.inspection_timeout,
                              max_requests=config.worker_max_requests)
            await pool.start()
        gate = MetadataGate(pool, audit)     # a policy reload swaps gate.pool
        gate.upstream = upstream_client(config)
        gate.observers.append(log_decision)
        if admin is not None:
            admin.attach(gate)
        await audit.append(lifecycle_record("start", config, upstream, pool.policy_hash, pool.policy_revision))
        try:
            master = DumpMaster(options.Options(), with_termlog=False, with_dumper=False)
            addons: list[object] = []
            zenml_hosts = [urlsplit(upstream).hostname or "", *config.egress.zenml_hosts]
            if config.mode == "forward":
                addons.append(EgressAllowList(zenml_hosts, config.egress.allow_uninspected, audit))
            elif config.mode == "transparent":
                from metagate.proxy.transparent import TransparentEgress

                addons.append(TransparentEgress(zenml_hosts, config.egress.allow_uninspected, audit))
            addons += [gate, ServingAnnouncer(config, upstream)]
            master.addons.add(*addons)
            master.options.update(
                **mitmproxy_options(config, upstream),
                metagate_enforcement=config.enforcement,
                metagate_on_error=config.on_error,
                metagate_split_window=config.scanner.split_window_seconds,
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, master.shutdown)
            if reloader is not None:
                reloader.attach(gate)
                reloader.start()
            await master.run()
        finally:
            if reloader is not None:
                await reloader.stop()
            await gate.pool.close()
            if gate.upstream is not None:
                await gate.upstream.close()
            await audit.append(lifecycle_record("stop", config, upstream, gate.pool.policy_hash, gate.pool.policy_revision))
            if admin is not None:
                await admin.stop()
    print("metagate: stopped", flush=True)    # stdout, like "serving": stderr carries JSON logs only
    return 0
