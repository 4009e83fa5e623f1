"""mitmproxy addons: the egress allow-list and the metadata gate.

Both run on mitmproxy's event loop and do I/O only: inspection happens in worker processes,
records are committed by the audit store's writer thread.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from mitmproxy import ctx, exceptions, http

from metagate.proxy import trailers
from metagate.proxy.inspection import InspectionResult
from metagate.proxy.recent_values import DEFAULT_SECONDS, RecentValues
from metagate.proxy.upstream import UpstreamClient, UpstreamFailed
from metagate.proxy.workers import InspectionFailed, WorkerPool
from metagate.reports.trail import AuditError, AuditStore
from metagate.scanner.headers import credential_facts, masked
from metagate.scanner.model import Decision, InspectionRequest

log = logging.getLogger("metagate.proxy")
AUDIT_ID_HEADER = "X-Metagate-Audit-Id"
ROLE = "metagate_role"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def bearer_subject(headers: http.Headers) -> str | None:
    """The `sub` claim of a bearer JWT, decoded without verification, for attribution only.
    The token itself never leaves this function."""
    value = headers.get("authorization", "")
    if not value.lower().startswith("bearer "):
        return None
    parts = value[7:].strip().split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return str(sub)[:64] if sub is not None else None


def block_response(status: int, reason: str) -> http.Response:
    # The ZenML SDK raises this shape as IllegalOperationError and does not retry a 403.
    body = json.dumps({"detail": ["IllegalOperationError", reason]}).encode()
    return http.Response.make(status, body, {"Content-Type": "application/json", "X-Metagate": "blocked"})


def gateway_error_response(status: int, reason: str) -> http.Response:
    # The SDK's error shape; 502/504 are statuses the SDK retries with backoff.
    kind = "GatewayTimeout" if status == 504 else "BadGateway"
    body = json.dumps({"detail": [kind, reason]}).encode()
    return http.Response.make(status, body, {"Content-Type": "application/json", "X-Metagate": "upstream-error"})


def block_reason(method: str, path: str, decision: Decision) -> str:
    details = "; ".join(decision.reasons) or ", ".join(decision.rules)
    return f"metagate blocked {method} {path}: {details}"


class EgressAllowList:
    """Forward mode: which hosts a client may reach through the gate at all.

    ZenML upstream hosts are intercepted and inspected; in-VPC storage hosts on the allow-list
    pass uninspected (and their TLS is not intercepted); every other host is refused with 403.
    """

    def __init__(self, zenml_hosts: list[str], allow_uninspected: list[str], audit: AuditStore) -> None:
        self.zenml_hosts = {h.lower() for h in zenml_hosts}
        self.allow_uninspected = [p.lower() for p in allow_uninspected]
        self.audit = audit

    def role(self, host: str) -> str:
        host = host.lower().rstrip(".")
        if host in self.zenml_hosts:
            return "zenml"
        if any(fnmatch.fnmatchcase(host, pattern) for pattern in self.allow_uninspected):
            return "storage"
        return "refused"

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        await self._check(flow, connect=True)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is None and ROLE not in flow.metadata:
            await self._check(flow, connect=False)

    async def _check(self, flow: http.HTTPFlow, connect: bool) -> None:
        role = self.role(flow.request.host)
        flow.metadata[ROLE] = role
        if role == "zenml":
            return
        allowed = role == "storage"
        record = {
            "id": str(uuid.uuid4()),
            "time": now_iso(),
            "kind": "egress",
            "client": flow.client_conn.peername[0] if flow.client_conn.peername else "",
            "method": flow.request.method,
            "host": flow.request.host,
            "port": flow.request.port,
            "decision": "allow" if allowed else "block",
            "enforced": "allow" if allowed else "block",
            "rules": ["egress.uninspected_host" if allowed else "egress.host_not_allowed"],
        }
        try:
            await self.audit.append(record)
        except AuditError as exc:
            flow.response = block_response(403, f"metagate blocked {flow.request.host}: audit.unavailable ({exc})")
            return
        if not allowed:
            flow.response = block_response(
                403,
                f"metagate blocked {flow.request.method} {flow.request.host}:{flow.request.port}: "
                "egress.host_not_allowed (host is not a ZenML upstream and not on the egress allow-list)",
            )


def _client_key(record: dict[str, Any]) -> str:
    """Whose requests are joined: the bearer token's subject, else the peer address."""
    return f"user:{record['user_id']}" if record.get("user_id") else f"peer:{record.get('client', '')}"


class MetadataGate:
    """Inspects every request to a ZenML upstream, enforces the decision, records it first."""

    def __init__(self, pool: WorkerPool, audit: AuditStore, upstream_role_default: str = "zenml") -> None:
        # An HTTP/1 request with trailers would crash mitmproxy's reader and hang the client:
        # refused with a 400 through the `error` hook instead (proxy/trailers.py).
        trailers.install()
        self.pool = pool
        self.audit = audit
        self.default_role = upstream_role_default
        # Set by the runner: allowed requests are sent by the gate itself (502/504 on upstream
        # failure); None leaves forwarding to mitmproxy.
        self.upstream: UpstreamClient | None = None
        # Told of every final decision (metrics, decision logs); called with the record.
        self.observers: list[Callable[[dict[str, Any]], None]] = []
        # Short values of each client's forwarded requests, joined with its next requests'.
        self.recent = RecentValues()

    def load(self, loader: Any) -> None:
        loader.add_option("metagate_enforcement", str, "enforce", "enforce: block and redact; monitor: record only.")
        loader.add_option("metagate_on_error", str, "block", "block (fail closed) or allow when inspection fails.")
        loader.add_option(
            "metagate_split_window", float, DEFAULT_SECONDS,
            "Seconds a client's short values are kept to join a value split over requests (0: off).")

    def configure(self, updated: set[str]) -> None:
        if "metagate_split_window" in updated:
            seconds = ctx.options.metagate_split_window
            if seconds < 0:
                raise exceptions.OptionsError("metagate_split_window must be >= 0")
            self.recent = RecentValues(seconds)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.metadata.get(ROLE, self.default_role) != "zenml":
            return
        started = time.perf_counter()
        request = flow.request
        record = self._base_record(flow)
        client = _client_key(record)
        if request.trailers:
            # HTTP/2 carries trailers (HTTP/1 ones never get here: proxy/trailers.py): header
            # fields after the body, which nothing would scan. The SDK never sends them.
            decision = Decision("block", [trailers.RULE], [trailers.REASON])
            await self._finish(flow, record, decision, None, started, self.pool, status=400)
            return
        # Credential values (by name, or by an auth scheme in any header: scanner/headers.py)
        # are masked before anything leaves the event loop; only their shapes cross over.
        raw_headers = tuple(request.headers.items(multi=True))  # read twice below
        inspection = InspectionRequest(
            method=request.method,
            path=request.path.split("?", 1)[0],
            body=request.raw_content or b"",
            headers=masked(raw_headers),
            credentials=credential_facts(raw_headers),
            query=tuple(request.query.items(multi=True)),
            scheme=request.scheme,
            host=request.pretty_host,
            port=request.port,
            client=record["client"],
            user_id=record["user_id"],
            request_id=record["id"],
            upstream_role="zenml",
            earlier=self.recent.earlier(client),
        )
        result: InspectionResult | None = None
        # A policy reload may swap self.pool meanwhile: the record names the pool that decided.
        pool = self.pool
        try:
            result = await self._inspect_joined(pool, inspection, client)
            decision = result.decision
        except InspectionFailed as exc:
            if ctx.options.metagate_on_error == "allow":
                decision = Decision("warn", [exc.rule], [f"{exc.rule}: {exc.reason} (forwarded: on_error is allow)"])
            else:
                decision = Decision("block", [exc.rule], [f"{exc.rule}: {exc.reason}"])
        await self._finish(flow, record, decision, result, started, pool)

    async def _inspect_joined(self, pool: WorkerPool, inspection: InspectionRequest, client: str) -> InspectionResult:
        """Inspect, joined with the client's earlier short values; inspected again (twice at
        most) when a concurrent request of the client added values at one of this request's
        places meanwhile, so that pieces sent in parallel are joined too. The request's own
        pieces are remembered as soon as it is decided to pass."""
        version = self.recent.version
        result = await pool.inspect(inspection)
        for _ in range(2):
            places = {(piece.template, piece.place) for piece in result.pieces}
            if not places or not self.recent.added_since(client, version, places):
                break
            version = self.recent.version
            result = await pool.inspect(dataclasses.replace(inspection, earlier=self.recent.earlier(client)))
        if result.pieces and (result.decision.action != "block" or ctx.options.metagate_enforcement == "monitor"):
            self.recent.remember(client, result.pieces)
        return result

    def _base_record(self, flow: http.HTTPFlow) -> dict[str, Any]:
        request = flow.request
        return {
            "id": str(uuid.uuid4()),
            "time": now_iso(),
            "kind": "request",
            "client": flow.client_conn.peername[0] if flow.client_conn.peername else "",
            "user_id": bearer_subject(request.headers),
            "method": request.method,
            "host": request.pretty_host,
            "path": request.path.split("?", 1)[0],
            "query_params": sorted(set(request.query.keys())),
            "bytes": len(request.raw_content or b""),
        }

    async def _finish(
        self, flow: http.HTTPFlow, record: dict[str, Any], decision: Decision,
        result: InspectionResult | None, started: float, pool: WorkerPool, status: int = 403,
    ) -> None:
        monitor = ctx.options.metagate_enforcement == "monitor"
        enforced = "allow" if monitor and decision.action in ("block", "redact") else decision.action
        record.update(
            decision=decision.action,
            enforced=enforced,
            enforcement="monitor" if monitor else "enforce",
            rules=decision.rules,
            reasons=decision.reasons,
            warnings=decision.warnings,
        )
        if result is not None:
            # A path segment or a query parameter's name that held a finding is kept masked.
            if result.recorded_path is not None:
                record["path"] = result.recorded_path
            if result.recorded_query_params is not None:
                record["query_params"] = result.recorded_query_params
            record.update(
                endpoint=result.endpoint,
                resource=result.resource,
                action=result.action,
                decoded_bytes=result.decoded_bytes,
                parse_error=result.parse_error,
                fields={"top": result.top_fields, "classes": result.inventory},
                violations=result.violations,
                unknown_fields=result.unknown_fields,
                findings=result.findings,
                redacted=result.redacted_paths if enforced == "redact" else [],
                policy_hash=result.policy_hash,
                inspection_ms=result.timings_ms,
            )
        else:
            record["policy_hash"] = pool.policy_hash
        record["policy_revision"] = pool.policy_revision
        if enforced == "block":
            record["bytes_forwarded"] = 0
        elif enforced == "redact" and result is not None and result.new_body is not None:
            record["bytes_forwarded"] = len(result.new_body)
        else:
            record["bytes_forwarded"] = record["bytes"]
        record["gate_ms"] = round((time.perf_counter() - started) * 1000, 3)
        try:
            await self.audit.append(record)
        except AuditError as exc:
            # Nothing is forwarded without a committed record.
            flow.response = block_response(403, f"metagate blocked {flow.request.method} {record['path']}: audit.unavailable ({exc})")
            self._notify({**record, "enforced": "block", "bytes_forwarded": 0, "rules": [*record["rules"], "audit.unavailable"]})
            return
        self._notify(record)
        flow.metadata["metagate_audit_id"] = record["id"]
        if enforced == "block":
            flow.response = block_response(status, block_reason(flow.request.method, record["path"], decision))
            return
        if enforced == "redact" and result is not None and result.new_body is not None:
            flow.request.headers.pop("content-encoding", None)
            flow.request.content = result.new_body
        flow.request.headers[AUDIT_ID_HEADER] = record["id"]
        if self.upstream is not None:
            await self._forward(flow, record)

    async def _forward(self, flow: http.HTTPFlow, record: dict[str, Any]) -> None:
        """Send the allowed request upstream; a failed delivery is recorded, then answered 502/504."""
        assert self.upstream is not None
        try:
            flow.response = await self.upstream.send(flow.request, server_name=flow.client_conn.sni)
            return
        except UpstreamFailed as exc:
            failure = exc
        error = {
            "id": str(uuid.uuid4()), "time": now_iso(), "kind": "error", "request_id": record["id"],
            "client": record["client"], "method": record["method"], "host": record["host"], "path": record["path"],
            "decision": "error", "rules": [failure.rule], "reasons": [f"{failure.rule}: {failure.reason}"],
            "status": failure.status, "policy_revision": record.get("policy_revision"),
        }
        try:
            await self.audit.append(error)
        except AuditError as exc:
            log.error("could not record %s: %s", failure.rule, exc)
        flow.response = gateway_error_response(
            failure.status, f"metagate could not deliver {record['method']} {record['path']}: {failure.rule}: {failure.reason}")

    def _notify(self, record: dict[str, Any]) -> None:
        for observe in self.observers:
            try:
                observe(record)
            except Exception:   # observing must never change what is enforced
                log.exception("decision observer %s failed", getattr(observe, "__qualname__", observe))

    async def response(self, flow: http.HTTPFlow) -> None:
        audit_id = flow.metadata.get("metagate_audit_id")
        if audit_id is None or flow.response is None or flow.response.headers.get("X-Metagate") in ("blocked", "upstream-error"):
            return
        # Outcome records are not write-ahead: queue them and move on.
        self.audit.commit({
            "id": str(uuid.uuid4()), "time": now_iso(), "kind": "response", "request_id": audit_id,
            "status": flow.response.status_code, "bytes_returned": len(flow.response.raw_content or b""),
        })

    async def error(self, flow: http.HTTPFlow) -> None:
        if flow.error is None:
            return
        message = flow.error.msg
        refused = True
        if "body_size_limit" in message:
            rules, reason = ["request.too_large"], "request.too_large: body over the size cap"
        elif message == trailers.REASON:
            rules, reason = [trailers.RULE], trailers.REASON
        else:
            refused = False
            rules, reason = ["upstream.error"], f"upstream.error: {message[:200]}"
        # Awaited: mitmproxy answers the client (e.g. 413) only after this hook, so the
        # refusal is on record before the client hears of it.
        record = {
            "id": str(uuid.uuid4()), "time": now_iso(), "kind": "error",
            "request_id": flow.metadata.get("metagate_audit_id"),
            "client": flow.client_conn.peername[0] if flow.client_conn.peername else "",
            "method": flow.request.method, "host": flow.request.pretty_host,
            "path": flow.request.path.split("?", 1)[0],
            "decision": "block" if refused else "error",
            "rules": rules, "reasons": [reason], "policy_revision": self.pool.policy_revision,
        }
        try:
            await self.audit.append(record)
        except AuditError as exc:
            log.error("could not record a %s error: %s", rules[0], exc)
