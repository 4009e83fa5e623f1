"""The gate's upstream client against a local aiohttp server: bytes pass as they are, per-connection
headers do not, and failures become 502/504 with a rule."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from aiohttp import web
from mitmproxy import http
from mitmproxy.test import tutils

from metagate.proxy.upstream import UpstreamClient, UpstreamFailed
from tests.support.processes import free_port

PAYLOAD = gzip.compress(b'{"items": [1, 2, 3]}')


async def serve(handler_delay: float = 0.0) -> tuple[web.AppRunner, int, list[web.Request]]:
    seen: list[web.Request] = []

    async def echo(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        body = await request.read()
        await asyncio.sleep(handler_delay)
        if request.path == "/chunked":
            response = web.StreamResponse(status=201, headers={"Content-Encoding": "gzip", "X-Upstream": "yes"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(PAYLOAD[:5])
            await response.write(PAYLOAD[5:])
            await response.write_eof()
            return response
        return web.Response(body=body, status=200, headers={"Content-Type": "application/octet-stream"})

    app = web.Application(handler_args={"auto_decompress": False})
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port, seen


def request(port: int, path: str, method: str = "POST", body: bytes = b"", **headers: str) -> http.Request:
    req = tutils.treq(method=method.encode(), host="127.0.0.1", port=port, path=path.encode(), content=b"")
    req.headers.clear()
    for name, value in headers.items():
        req.headers[name.replace("_", "-")] = value
    req.raw_content = body
    return req


def test_body_and_encoding_pass_unchanged_and_hop_headers_stay_behind() -> None:
    async def scenario() -> None:
        runner, port, seen = await serve()
        client = UpstreamClient()
        try:
            reply = await client.send(request(port, "/chunked?a=1&a=2", body=PAYLOAD, Content_Encoding="gzip",
                                              Connection="keep-alive, X-Hop", X_Hop="1", X_Metagate_Audit_Id="abc"))
            echoed = await client.send(request(port, "/echo", body=b"raw \x00 bytes"))
        finally:
            await client.close()
            await runner.cleanup()
        assert reply.status_code == 201
        assert reply.raw_content == PAYLOAD                        # still gzip: not decoded on the way
        assert reply.headers["content-encoding"] == "gzip"
        assert reply.headers["content-length"] == str(len(PAYLOAD))
        assert "transfer-encoding" not in reply.headers
        assert seen[0].query_string == "a=1&a=2"
        assert seen[0].headers["X-Metagate-Audit-Id"] == "abc"
        assert "X-Hop" not in seen[0].headers
        assert echoed.raw_content == b"raw \x00 bytes"

    asyncio.run(scenario())


def test_refused_connection_is_a_502_naming_the_target() -> None:
    async def scenario() -> UpstreamFailed:
        client = UpstreamClient(connect_timeout=2)
        try:
            with pytest.raises(UpstreamFailed) as failed:
                await client.send(request(free_port(), "/api/v1/info", method="GET"))
        finally:
            await client.close()
        return failed.value

    failure = asyncio.run(scenario())
    assert (failure.status, failure.rule) == (502, "upstream.unreachable")
    assert "could not connect to http://127.0.0.1:" in failure.reason


def test_an_answer_later_than_the_response_timeout_is_a_504() -> None:
    async def scenario() -> UpstreamFailed:
        runner, port, _ = await serve(handler_delay=2)
        client = UpstreamClient(response_timeout=0.5)
        try:
            with pytest.raises(UpstreamFailed) as failed:
                await client.send(request(port, "/slow", method="GET"))
        finally:
            await client.close()
            await runner.cleanup()
        return failed.value

    failure = asyncio.run(scenario())
    assert (failure.status, failure.rule) == (504, "upstream.timeout")


def test_an_answer_over_the_size_cap_is_refused() -> None:
    async def scenario() -> UpstreamFailed:
        runner, port, _ = await serve()
        client = UpstreamClient(max_response_bytes=10)
        try:
            with pytest.raises(UpstreamFailed) as failed:
                await client.send(request(port, "/echo", body=b"x" * 100))
        finally:
            await client.close()
            await runner.cleanup()
        return failed.value

    assert asyncio.run(scenario()).rule == "upstream.response_too_large"
