"""The admin listener (`metagate run --admin HOST:PORT`): /metrics, /healthz, /readyz.

aiohttp on mitmproxy's event loop, on a port of its own so the proxy port never serves it.

Access (decided here, documented in docs/operations.md):
- the token is METAGATE_ADMIN_TOKEN (never a config-file key, so it is not in metagate.yaml or
  `metagate config check`), sent as `Authorization: Bearer <token>`, compared in constant time;
- a listener on a non-loopback address is refused at start-up without a token; on loopback
  without a token every endpoint is open (only the host, or the pod, can reach it);
- /healthz (liveness) and /readyz (readiness) answer without the token, because Kubernetes
  probes cannot send a secret: they reveal a status code and {"ready": bool} only. The
  per-check detail of /readyz and all of /metrics need the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from metagate.proxy.metrics import GateMetrics, InstrumentedAuditStore, PoolCollector
from metagate.reports.trail import AuditError, AuditStore
from prometheus_client.exposition import choose_encoder

log = logging.getLogger("metagate.admin")

TOKEN_ENV = "METAGATE_ADMIN_TOKEN"
MIN_TOKEN_LENGTH = 16
# While the audit store's latest commit failed, /readyz commits a `health` record at most this
# often to learn whether it is back (requests would otherwise never reach a replica marked
# unready, and nothing else would write).
AUDIT_PROBE_INTERVAL = 5.0
AUDIT_PROBE_TIMEOUT = 2.0


class AdminConfigError(ValueError):
    """The admin listener cannot start as configured."""


def split_host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_token(environ: Mapping[str, str] | None = None, listen: str | None = None) -> str | None:
    """The admin token from the environment, checked against where the listener binds."""
    token = (os.environ if environ is None else environ).get(TOKEN_ENV) or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise AdminConfigError(f"{TOKEN_ENV} is shorter than {MIN_TOKEN_LENGTH} characters "
                               "(make one with: openssl rand -hex 32)")
    if token is None and listen is not None and not is_loopback(split_host_port(listen)[0]):
        raise AdminConfigError(f"admin listener {listen} is not on loopback: set {TOKEN_ENV} "
                               "(metrics and readiness detail are only served with the token)")
    return token


class AdminServer:
    """Owns the metrics registry and answers the admin endpoints for one gate."""

    def __init__(self, listen: str, token: str | None) -> None:
        self.listen = listen
        self._token = token.encode() if token else None
        self.metrics = GateMetrics()
        self.gate: Any = None
        self.audit: InstrumentedAuditStore | None = None
        self.metrics.registry.register(PoolCollector(lambda: self.gate.pool if self.gate is not None else None))
        self._runner: web.AppRunner | None = None
        self._last_probe = 0.0
        self.port: int | None = None

    # --- wiring --------------------------------------------------------------------------

    def instrument(self, audit: AuditStore) -> InstrumentedAuditStore:
        """Wrap the store the gate writes to: commit latency, failures, readiness."""
        self.audit = InstrumentedAuditStore(audit, self.metrics.audit_written)
        return self.audit

    def attach(self, gate: Any) -> None:
        """From now on /readyz and the pool metrics follow `gate.pool` (swapped on reload)."""
        self.gate = gate
        gate.observers.append(self._request_decided)

    def _request_decided(self, record: dict[str, Any]) -> None:
        self.metrics.request_decided(record, float(record.get("gate_ms") or 0.0) / 1000)

    # --- lifecycle -----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    async def start(self) -> None:
        host, port = split_host_port(self.listen)
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        if self._token is None:
            log.warning("admin listener on %s has no token (%s unset), so every admin endpoint is open "
                        "to local clients", self.listen, TOKEN_ENV)
        log.info("admin listener on %s:%s", host, self.port, extra={"listen": self.listen})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- endpoints -----------------------------------------------------------------------

    def authorized(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token)

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.json_response({"error": "unauthorized: send Authorization: Bearer $METAGATE_ADMIN_TOKEN"},
                                 status=401, headers={"WWW-Authenticate": 'Bearer realm="metagate-admin"'})

    async def healthz(self, request: web.Request) -> web.Response:
        # Liveness: the event loop answers. Readiness is /readyz.
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        checks = await self.checks()
        ready = all(check["ok"] for check in checks.values())
        body: dict[str, Any] = {"ready": ready}
        if self.authorized(request):
            body["checks"] = checks
        return web.json_response(body, status=200 if ready else 503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return self._unauthorized()
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.metrics.registry), headers={"Content-Type": content_type})

    # --- readiness -----------------------------------------------------------------------

    async def checks(self) -> dict[str, dict[str, Any]]:
        pool = self.gate.pool if self.gate is not None else None
        checks: dict[str, dict[str, Any]] = {}
        if pool is None or not pool.policy_hash:
            checks["policy"] = {"ok": False, "detail": "starting: policy not loaded yet"}
        else:
            checks["policy"] = {"ok": True, "hash": pool.policy_hash, "revision": pool.policy_revision}
        alive = pool.alive if pool is not None else 0
        checks["workers"] = {"ok": alive > 0, "alive": alive, "size": pool.size if pool is not None else 0}
        checks["audit"] = await self._audit_check()
        return checks

    async def _audit_check(self) -> dict[str, Any]:
        audit = self.audit
        if audit is None:
            return {"ok": False, "detail": "starting: audit store not open yet"}
        thread = getattr(audit.inner, "_thread", None)
        if getattr(audit.inner, "_closed", False) or (thread is not None and not thread.is_alive()):
            return {"ok": False, "detail": "audit store writer stopped"}
        if audit.last_ok is False and time.monotonic() - self._last_probe >= AUDIT_PROBE_INTERVAL:
            self._last_probe = time.monotonic()
            # The commit callback records the outcome in audit.last_ok.
            with contextlib.suppress(AuditError, asyncio.TimeoutError):
                await asyncio.wait_for(audit.append({"kind": "health", "check": "audit_probe"}), AUDIT_PROBE_TIMEOUT)
        if audit.last_ok is False:
            return {"ok": False, "detail": "the latest audit write failed: requests are refused (fail closed)"}
        return {"ok": True}


def admin_server(config: Any, environ: Mapping[str, str] | None = None) -> AdminServer | None:
    """The admin server `config.admin.listen` asks for (None without one). Raises
    AdminConfigError before anything starts when the token rule is not met."""
    listen = config.admin.listen
    if listen is None:
        return None
    return AdminServer(listen, admin_token(environ, listen))
