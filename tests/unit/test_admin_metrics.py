"""The admin listener and metrics, in-process: aiohttp's test client against AdminServer with a
stand-in gate, pool and audit store."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from metagate.proxy.admin import (
    AdminConfigError,
    AdminServer,
    admin_server,
    admin_token,
)
from metagate.proxy.config import load_config
from metagate.proxy.metrics import GateMetrics, InstrumentedAuditStore
from metagate.reports.trail import AuditError, AuditStore
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "t0k3n-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakePool:
    def __init__(self, policy_hash="ab" * 32, revision=None, alive=2, restarts=0):
        self.policy_hash, self.policy_revision, self.alive, self.restarts, self.size = policy_hash, revision, alive, restarts, 2


class FakeStore(AuditStore):
    """Commits in a thread; fails while `failing` is set."""

    def __init__(self) -> None:
        self.failing = False
        self.records: list[dict] = []
        self._thread = threading.current_thread()
        self._closed = False

    def commit(self, record):
        future: Future[None] = Future()

        def write():
            if self.failing:
                future.set_exception(OSError(28, "No space left on device"))
            else:
                self.records.append(record)
                future.set_result(None)

        threading.Thread(target=write).start()
        return future

    def close(self):
        self._closed = True


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def run(test, server: AdminServer):
    async def main():
        async with TestClient(TestServer(server.app())) as client:
            return await test(client)

    return asyncio.run(main())


def gate_with(pool):
    return SimpleNamespace(pool=pool, observers=[])


# --- access -------------------------------------------------------------------------------

def test_token_rules():
    assert admin_token({}, "127.0.0.1:9090") is None
    assert admin_token({}, "[::1]:9090") is None
    assert admin_token({"METAGATE_ADMIN_TOKEN": TOKEN}, "0.0.0.0:9090") == TOKEN
    with pytest.raises(AdminConfigError, match="METAGATE_ADMIN_TOKEN"):
        admin_token({}, "0.0.0.0:9090")
    with pytest.raises(AdminConfigError, match="shorter"):
        admin_token({"METAGATE_ADMIN_TOKEN": "short"}, "127.0.0.1:9090")
    config = load_config(None, {"admin": {"listen": "10.1.2.3:9090"}}, environ={})
    with pytest.raises(AdminConfigError):
        admin_server(config, environ={})
    assert admin_server(load_config(None, environ={}), environ={}) is None


def test_healthz_is_open_metrics_and_readiness_detail_need_the_token():
    server = AdminServer("127.0.0.1:0", TOKEN)

    async def test(client):
        health = await client.get("/healthz")
        no_token = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        basic = await client.get("/metrics", headers={"Authorization": "Basic " + TOKEN})
        ok = await client.get("/metrics", headers=AUTH)
        ready_public = await client.get("/readyz")
        ready_detail = await client.get("/readyz", headers=AUTH)
        return (health.status, no_token.status, wrong.status, basic.status, ok.status, ready_public.status,
                await ready_public.json(), await ready_detail.json())

    health, no_token, wrong, basic, ok, ready_status, public, detail = run(test, server)
    assert (health, no_token, wrong, basic, ok) == (200, 401, 401, 401, 200)
    assert ready_status == 503 and public == {"ready": False}      # nothing attached yet
    assert detail["checks"]["policy"]["ok"] is False and detail["checks"]["audit"]["ok"] is False


def test_without_a_token_on_loopback_everything_is_open():
    server = AdminServer("127.0.0.1:0", None)

    async def test(client):
        return (await client.get("/metrics")).status, await (await client.get("/readyz")).json()

    status, ready = run(test, server)
    assert status == 200 and "checks" in ready


# --- readiness ----------------------------------------------------------------------------

def test_ready_when_policy_workers_and_audit_store_are_up_and_not_otherwise():
    server = AdminServer("127.0.0.1:0", TOKEN)
    store = FakeStore()
    audit = server.instrument(store)
    gate = gate_with(FakePool())
    server.attach(gate)

    async def test(client):
        states = []

        async def ready():
            response = await client.get("/readyz", headers=AUTH)
            body = await response.json()
            states.append((response.status, {k: v["ok"] for k, v in body["checks"].items()}))

        await ready()                                   # all up
        gate.pool = FakePool(alive=0)                   # every worker dead
        await ready()
        gate.pool = FakePool(policy_hash="")            # a pool still starting
        await ready()
        gate.pool = FakePool()
        store.failing = True
        with pytest.raises(AuditError):
            await audit.append({"kind": "request"})     # the gate's write fails: fail closed
        server._last_probe = asyncio.get_running_loop().time() + 1e9   # no probe yet
        await ready()
        store.failing = False
        server._last_probe = 0.0                        # the probe finds the store back
        await ready()
        return states

    states = run(test, server)
    assert states[0] == (200, {"policy": True, "workers": True, "audit": True})
    assert states[1][0] == 503 and states[1][1]["workers"] is False
    assert states[2][0] == 503 and states[2][1]["policy"] is False
    assert states[3][0] == 503 and states[3][1]["audit"] is False
    assert states[4] == (200, {"policy": True, "workers": True, "audit": True})
    assert store.records[-1]["kind"] == "health"        # the probe is on record


def test_a_closed_audit_store_is_not_ready():
    server = AdminServer("127.0.0.1:0", None)
    store = FakeStore()
    server.instrument(store)
    server.attach(gate_with(FakePool()))
    store.close()

    async def test(client):
        return (await client.get("/readyz")).status

    assert run(test, server) == 503


# --- metrics ------------------------------------------------------------------------------

def test_decisions_findings_bytes_and_latency_are_counted():
    metrics = GateMetrics()
    record = {"decision": "block", "enforced": "block", "method": "POST", "endpoint": "/api/v1/run-metadata",
              "bytes_forwarded": 0, "findings": [{"entity": "EMAIL_ADDRESS", "category": "pii"}] * 2}
    metrics.request_decided(record, 0.004)
    metrics.request_decided({**record, "decision": "allow", "enforced": "allow", "findings": [], "bytes_forwarded": 120}, 0.002)
    metrics.request_decided({"decision": "block", "enforced": "block", "method": "GET", "endpoint": None}, 0.001)
    from prometheus_client import generate_latest

    values = samples(generate_latest(metrics.registry).decode())
    labels = (("decision", "block"), ("endpoint", "/api/v1/run-metadata"), ("enforced", "block"), ("method", "POST"))
    assert values[("metagate_requests_total", labels)] == 1
    assert values[("metagate_requests_total", (("decision", "block"), ("endpoint", "unknown"), ("enforced", "block"), ("method", "GET")))] == 1
    assert values[("metagate_findings_total", (("category", "pii"), ("entity", "EMAIL_ADDRESS")))] == 2
    assert values[("metagate_bytes_forwarded_total", (("endpoint", "/api/v1/run-metadata"),))] == 120
    assert values[("metagate_inspection_seconds_count", ())] == 3
    assert values[("metagate_inspection_seconds_bucket", (("le", "0.0025"),))] == 2


def test_audit_commits_are_timed_and_failures_counted():
    metrics = GateMetrics()
    store = FakeStore()
    audit = InstrumentedAuditStore(store, metrics.audit_written)

    async def main():
        await audit.append({"kind": "request"})
        store.failing = True
        with pytest.raises(AuditError):
            await audit.append({"kind": "request"})

    asyncio.run(main())
    from prometheus_client import generate_latest

    values = samples(generate_latest(metrics.registry).decode())
    assert values[("metagate_audit_write_seconds_count", ())] == 1
    assert values[("metagate_audit_write_failures_total", ())] == 1
    assert audit.last_ok is False


def test_pool_metrics_follow_reloads_and_keep_restarts_of_retired_pools():
    server = AdminServer("127.0.0.1:0", None)
    gate = gate_with(FakePool(revision="r1", restarts=2))
    server.attach(gate)

    async def scrape(client):
        return samples(await (await client.get("/metrics")).text())

    async def test(client):
        first = await scrape(client)
        gate.pool.restarts = 3                          # one more before the reload
        gate.pool = FakePool(revision="r2", restarts=1, alive=1)
        return first, await scrape(client)

    first, second = run(test, server)
    assert first[("metagate_worker_restarts_total", ())] == 2
    assert second[("metagate_worker_restarts_total", ())] == 4
    assert second[("metagate_workers_alive", ())] == 1
    assert second[("metagate_policy_info", (("hash", "ab" * 32), ("revision", "r2")))] == 1


def test_decision_observer_feeds_the_metrics():
    server = AdminServer("127.0.0.1:0", None)
    gate = gate_with(FakePool())
    server.attach(gate)
    (observer,) = gate.observers
    observer({"decision": "redact", "enforced": "redact", "method": "POST", "endpoint": "/api/v1/steps",
              "bytes_forwarded": 10, "gate_ms": 12.5})

    async def test(client):
        return samples(await (await client.get("/metrics")).text())

    values = run(test, server)
    assert values[("metagate_inspection_seconds_sum", ())] == pytest.approx(0.0125)
