"""Sending allowed requests to the ZenML upstream, with bounded waits and clear failures.

The gate forwards what it inspected itself instead of leaving it to mitmproxy's server
connection: mitmproxy answers an unreachable server with an HTML page and has no response
timeout, so a dead upstream would look like a broken gate and a hung one would hold the SDK
until its own timeout. Here a refused, unresolvable or TLS-failing connection is a 502, no
answer within `response_timeout` a 504, both with a reason the caller records and shows.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from pathlib import Path

import aiohttp
from mitmproxy import http
from yarl import URL

# Per-connection headers (RFC 9110 §7.6.1) and what aiohttp computes itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect", "content-length",
})
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class UpstreamFailed(Exception):
    """The upstream did not answer; `status` is what the client gets (502 or 504)."""

    def __init__(self, status: int, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.rule = rule
        self.reason = reason


def upstream_ssl_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[str]:
    """Headers a `Connection:` header names are per-connection too."""
    named: set[str] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named |= {token.strip().lower() for token in value.decode("latin-1").split(",")}
    return named


def _end_to_end(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    dropped = HOP_BY_HOP | _connection_tokens(headers)
    return [(k, v) for k, v in headers if k.decode("latin-1").lower() not in dropped]


class UpstreamClient:
    """One pooled HTTP client for the gate's upstream traffic (created on the proxy's loop)."""

    def __init__(
        self, *, connect_timeout: float = 10.0, response_timeout: float = 60.0, verify: bool = True,
        ca_file: Path | None = None, max_response_bytes: int | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.max_response_bytes = max_response_bytes
        self._ssl = upstream_ssl_context(verify, ca_file)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # Idle connections are dropped before common server idle timeouts (uvicorn: 5 s), so
                # a request rarely lands on one the server is closing.
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=256, keepalive_timeout=4.0),
                auto_decompress=False,          # bytes pass as the upstream encoded them
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.response_timeout, sock_connect=self.connect_timeout),
            )
        return self._session

    async def send(self, request: http.Request, server_name: str | None = None) -> http.Response:
        """Send `request` as it stands (headers, raw body) and return the upstream's answer.

        `server_name`: TLS name to verify when the URL holds an address (transparent mode:
        the client's SNI). Raises UpstreamFailed; never includes body or header values in it."""
        started = time.time()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in _end_to_end(list(request.headers.fields))]
        tls_name = server_name if request.scheme == "https" and server_name and _is_ip(request.host) else None
        target = f"{request.scheme}://{request.host}:{request.port}"
        try:
            async with self._client().request(
                request.method, URL(request.url, encoded=True), headers=headers, data=request.raw_content or None,
                allow_redirects=False, skip_auto_headers=_NO_AUTO_HEADERS, server_hostname=tls_name,
            ) as reply:
                body = await self._read(reply)
                status, reason, raw_headers = reply.status, reply.reason or "", list(reply.raw_headers)
        except UpstreamFailed:
            raise
        except aiohttp.ConnectionTimeoutError:
            raise UpstreamFailed(502, "upstream.unreachable",
                                 f"could not connect to {target} within {self.connect_timeout:g} s") from None
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            raise UpstreamFailed(502, "upstream.tls_failed",
                                 f"TLS with {target} failed: {type(exc).__name__}") from None
        except aiohttp.ClientConnectorError as exc:
            detail = exc.strerror or type(exc).__name__
            raise UpstreamFailed(502, "upstream.unreachable", f"could not connect to {target}: {detail}") from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamFailed(504, "upstream.timeout",
                                 f"{target} did not answer within {self.response_timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailed(502, "upstream.error", f"{target} broke off the exchange: {type(exc).__name__}") from None
        response_headers = _end_to_end(raw_headers)
        upstream_length = [v for k, v in raw_headers if k.lower() == b"content-length"]
        if request.method == "HEAD" and upstream_length:
            response_headers.append((b"content-length", upstream_length[0]))   # HEAD: the GET's length
        elif body or upstream_length:
            response_headers.append((b"content-length", str(len(body)).encode()))
        return http.Response(
            b"HTTP/1.1", status, reason.encode("latin-1", "replace"), http.Headers(response_headers),
            body, None, started, time.time(),
        )

    async def _read(self, reply: aiohttp.ClientResponse) -> bytes:
        if self.max_response_bytes is None:
            return await reply.read()
        chunks, size = [], 0
        async for chunk in reply.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise UpstreamFailed(502, "upstream.response_too_large",
                                     f"the upstream's answer exceeds {self.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
