"""The gate addon hands workers masked credential headers with their shapes, and refuses
trailers (issue 12). A stand-in pool and audit store; mitmproxy's own test flows."""

from __future__ import annotations

import asyncio
import base64
import json

from metagate.proxy import trailers
from metagate.proxy.addon import MetadataGate
from metagate.proxy.workers import InspectionFailed
from mitmproxy import http
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.test import taddons, tflow

JWT = ".".join([
    base64.urlsafe_b64encode(json.dumps({"alg": "HS256"}).encode()).rstrip(b"=").decode(),
    base64.urlsafe_b64encode(json.dumps({"sub": "user-1"}).encode()).rstrip(b"=").decode(),
    "c2lnbmF0dXJlLXNlY3JldC1wYXJ0",
])


class Pool:
    policy_hash = "h"
    policy_revision = None

    def __init__(self) -> None:
        self.seen = []

    async def inspect(self, request):
        self.seen.append(request)
        raise InspectionFailed("inspection.test", "stand-in pool")


class Audit:
    def __init__(self) -> None:
        self.records = []

    async def append(self, record):
        self.records.append(record)

    def commit(self, record):
        self.records.append(record)


def run(gate: MetadataGate, flow: http.HTTPFlow) -> None:
    with taddons.context(gate):
        asyncio.run(gate.request(flow))


def test_workers_get_masked_credentials_and_their_shapes_only():
    pool, audit = Pool(), Audit()
    gate = MetadataGate(pool, audit)
    flow = tflow.tflow()
    flow.request.headers["Authorization"] = f"Bearer {JWT}"
    flow.request.headers["Cookie"] = "session=cookie-s3cr3t"
    flow.request.headers["X-Custom"] = "Basic dXNlcjpzM2NyM3Q="
    flow.request.headers["X-Request-ID"] = "0ce3cdc9"
    run(gate, flow)
    [request] = pool.seen
    assert request.credentials == (("authorization", "bearer_jwt"), ("cookie", "other"), ("x-custom", "basic"))
    sent = repr(request.headers)
    assert JWT not in sent and "cookie-s3cr3t" not in sent and "dXNlcjpzM2NyM3Q=" not in sent
    assert ("X-Request-ID", "0ce3cdc9") in request.headers
    assert audit.records[-1]["user_id"] == "user-1"       # attribution still read from the token


def test_a_request_with_trailers_is_refused_400_recorded_and_never_inspected():
    pool, audit = Pool(), Audit()
    gate = MetadataGate(pool, audit)
    flow = tflow.tflow()
    flow.request.trailers = http.Headers(x_owner="536-22-8471")
    run(gate, flow)
    assert pool.seen == []
    assert flow.response is not None and flow.response.status_code == 400
    assert "request.trailers" in flow.response.text
    [record] = audit.records
    assert record["enforced"] == "block" and record["rules"] == ["request.trailers"] and record["bytes_forwarded"] == 0
    assert "536-22-8471" not in json.dumps(record)


def test_the_trailer_refusal_is_recorded_as_a_block_by_the_error_hook():
    pool, audit = Pool(), Audit()
    gate = MetadataGate(pool, audit)
    flow = tflow.tflow()
    from mitmproxy import flow as mitmflow

    flow.error = mitmflow.Error(trailers.REASON)
    with taddons.context(gate):
        asyncio.run(gate.error(flow))
    [record] = audit.records
    assert record["decision"] == "block" and record["rules"] == ["request.trailers"]


def test_the_http1_reader_is_wrapped_once():
    MetadataGate(Pool(), Audit())
    MetadataGate(Pool(), Audit())
    assert _http1.Http1Connection.read_body is trailers._read_body_refusing_trailers
