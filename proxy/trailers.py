"""HTTP/1 requests with trailers: refused with a 400 and recorded, instead of a hung client.

mitmproxy 11 cannot carry HTTP/1 trailers: when a chunked body ends in trailer fields,
`Http1Connection.read_body` (proxy/layers/http/_http1.py) raises
`NotImplementedError("HTTP trailers are not implemented yet.")`. The exception escapes the
connection's layer, mitmproxy logs "mitmproxy has crashed!" and the connection is left open
with nothing sent: the client waits until its own timeout, and no hook runs, so nothing is
recorded. No addon hook comes in time to prevent it: `requestheaders` runs before the body
is read (a `Trailer:` header is only an announcement, trailers may come unannounced), and the
`request` and `error` hooks never run for that flow.

`install()` wraps `read_body` so that this one exception becomes what a protocol error is
elsewhere in mitmproxy: an error on the flow (mitmproxy runs the `error` hook,
where the gate records the refusal), then a 400 whose page gives the reason, and the
connection closed. Nothing was forwarded: the `request` hook, which
inspects and forwards, runs only after a complete body. A trailer on an upstream *response*
(a plain-HTTP upstream mitmproxy forwards to itself) becomes a 502 the same way.

The SDK never sends trailers (its bodies are JSON with a Content-Length). Trailers are header
fields after the body: carried, they would be headers the scanner never saw.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import ResponseProtocolError


RULE = "request.trailers"
REASON = "request.trailers: a chunked request with trailer fields (HTTP trailers are not accepted; send the body without trailers)"
_UPSTREAM_REASON = "upstream.trailers: the upstream answered with HTTP trailers, which the gate does not carry"

_original_read_body = _http1.Http1Connection.read_body


def _is_trailers_error(exc: NotImplementedError) -> bool:
    return "trailer" in str(exc).lower()


def _read_body_refusing_trailers(
    self: _http1.Http1Connection, event: events.Event
) -> Generator[commands.Command, Any, None]:
    try:
        yield from _original_read_body(self, event)
    except NotImplementedError as exc:
        if not _is_trailers_error(exc) or self.stream_id is None:
            raise
        if isinstance(self, _http1.Http1Server):
            # Raised as an error *answer* to this stream: the stream runs the `error` hook
            # (where the gate records the refusal) and only then sends the 400 with the reason
            # to the client and closes the connection, as mitmproxy answers a body over the
            # size limit with its 413. (A RequestProtocolError would run the hook but answer
            # nothing; data sent from here would race the hook.)
            yield ReceiveHttp(ResponseProtocolError(self.stream_id, REASON, code=400))
        else:
            yield ReceiveHttp(ResponseProtocolError(self.stream_id, _UPSTREAM_REASON, code=502))
            yield commands.CloseConnection(self.conn)
        self.state = self.done


def install() -> None:
    """Wrap mitmproxy's HTTP/1 body reader (idempotent)."""
    if _http1.Http1Connection.read_body is not _read_body_refusing_trailers:
        _http1.Http1Connection.read_body = _read_body_refusing_trailers  # type: ignore[method-assign]
