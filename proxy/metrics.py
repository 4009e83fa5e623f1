"""Prometheus metrics for the gate, with the official client on a registry of its own.

Fed from three places: `MetadataGate` notifies `GateMetrics.request_decided` once a decision
is final (after its audit record was committed or refused); `InstrumentedAuditStore` times
every commit future; a collector reads the live worker pool at scrape time (restarts, live
workers, policy hash and revision), so a policy reload that swaps the pool needs no hook.
Label values are bounded: endpoints are catalog templates, entities the detectors' names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from metagate.reports.trail import AuditStore
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

log = logging.getLogger("metagate.metrics")

# No `*_created` series: they double the series count and Prometheus does not need them here.
disable_created_metrics()

UNKNOWN_ENDPOINT = "unknown"
# Inspection runs in milliseconds to a few seconds (the time budget); audit commits in
# sub-millisecond (SQLite group commit) to tens of milliseconds (PostgreSQL, fsync).
INSPECTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AUDIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class GateMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "metagate_requests", "Requests to a ZenML upstream, by decision, what was enforced, method and endpoint.",
            ["decision", "enforced", "method", "endpoint"], registry=self.registry)
        self.bytes_forwarded = Counter(
            "metagate_bytes_forwarded", "Request body bytes forwarded to the upstream (after redaction).",
            ["endpoint"], registry=self.registry)
        self.findings = Counter(
            "metagate_findings", "Detector findings in inspected requests, by entity and category.",
            ["entity", "category"], registry=self.registry)
        self.inspection_seconds = Histogram(
            "metagate_inspection_seconds", "Time from request arrival to a final decision (inspection and policy).",
            buckets=INSPECTION_BUCKETS, registry=self.registry)
        self.audit_write_seconds = Histogram(
            "metagate_audit_write_seconds", "Time from handing a record to the audit store until it is durable.",
            buckets=AUDIT_BUCKETS, registry=self.registry)
        self.audit_write_failures = Counter(
            "metagate_audit_write_failures", "Audit records the store could not commit.", registry=self.registry)

    def request_decided(self, record: dict[str, Any], gate_seconds: float) -> None:
        endpoint = record.get("endpoint") or UNKNOWN_ENDPOINT
        self.requests.labels(record.get("decision", "error"), record.get("enforced", "block"),
                             record.get("method", ""), endpoint).inc()
        if record.get("bytes_forwarded"):
            self.bytes_forwarded.labels(endpoint).inc(record["bytes_forwarded"])
        for finding in record.get("findings") or ():
            self.findings.labels(finding.get("entity", "?"), finding.get("category", "?")).inc()
        self.inspection_seconds.observe(gate_seconds)

    def audit_written(self, seconds: float, ok: bool) -> None:
        if ok:
            self.audit_write_seconds.observe(seconds)
        else:
            self.audit_write_failures.inc()


class PoolCollector:
    """Scrape-time view of the gate's current worker pool. `pool_of()` returns the pool in
    force (None before the gate is up); restarts of pools retired by a reload are kept."""

    def __init__(self, pool_of: Callable[[], Any]) -> None:
        self._pool_of = pool_of
        self._last_pool: Any = None
        self._retired_restarts = 0

    def collect(self) -> Iterator[Metric]:
        pool = self._pool_of()
        if pool is not None and pool is not self._last_pool:
            if self._last_pool is not None:
                self._retired_restarts += self._last_pool.restarts
            self._last_pool = pool
        restarts = CounterMetricFamily("metagate_worker_restarts", "Inspection workers replaced after a crash or overrun.")
        restarts.add_metric([], self._retired_restarts + (pool.restarts if pool is not None else 0))
        yield restarts
        alive = GaugeMetricFamily("metagate_workers_alive", "Inspection worker processes alive.")
        alive.add_metric([], pool.alive if pool is not None else 0)
        yield alive
        if pool is not None:
            policy = InfoMetricFamily("metagate_policy", "The policy in force: its hash and bundle revision.")
            policy.add_metric([], {"hash": pool.policy_hash or "", "revision": pool.policy_revision or ""})
            yield policy


class InstrumentedAuditStore(AuditStore):
    """The audit store, with each commit future timed until it resolves (in the writer thread)."""

    def __init__(self, inner: AuditStore, on_written: Callable[[float, bool], None]) -> None:
        self.inner = inner
        self._on_written = on_written
        self.last_ok: bool | None = None        # outcome of the latest commit, for /readyz
        self.last_change = time.monotonic()

    def commit(self, record: dict[str, Any]) -> Future[None]:
        started = time.perf_counter()
        future = self.inner.commit(record)

        def done(f: Future[None]) -> None:
            ok = f.exception() is None
            if ok != self.last_ok:
                self.last_ok, self.last_change = ok, time.monotonic()
            try:
                self._on_written(time.perf_counter() - started, ok)
            except Exception:   # metrics must never fail a commit
                log.exception("recording audit write latency failed")

        future.add_done_callback(done)
        return future

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
