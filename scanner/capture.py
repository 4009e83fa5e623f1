"""Captured HTTP requests, read into the `InspectionRequest`s the proxy would have built.

Formats, told apart by content (not by file name):

- a request JSON object: `{"method", "path" or "url", "headers", "query"?, "body_text" or
  "body_base64"}`; a JSON array of them; JSON lines of them (the format of
  tests/corpus/captured/*.jsonl);
- a HAR file (`{"log": {"entries": [...]}}`), as browsers and proxies export it;
- a mitmproxy flow file (`mitmdump -w`), read with mitmproxy's own `FlowReader`.

Bodies: `body_text` and HAR `postData.text` are text that was already decoded, so a
Content-Encoding header beside them is dropped; `body_base64` and mitmproxy flows carry the
bytes as sent, and Content-Encoding is kept (the scanner removes it, within its size caps).

Errors say where (file, line or entry) and never quote the input: a capture holds exactly
the data metagate keeps out of logs.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from metagate.scanner.model import InspectionRequest


class CaptureError(ValueError):
    """The input cannot be read as captured requests; the message names the place."""


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    request: InspectionRequest
    source: str              # file name as given
    line: int | None = None  # 1-based line of a JSON-lines record or of a request object
    entry: int = 0           # 0-based position of the request within its file

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else f"{self.source}#{self.entry}"


def read_captures(path: str | Path) -> list[CapturedRequest]:
    """Every request in the file at `path`, in file order."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    return parse_captures(data, str(path))


def parse_captures(data: bytes, source: str) -> list[CapturedRequest]:
    """Every request in `data` (the bytes of one capture file), in order."""
    stripped = data.lstrip()
    if not stripped:
        raise CaptureError(f"{source}: empty input, no requests")
    if stripped[:1] in (b"{", b"["):
        captures = _from_json(data, source)
    else:
        captures = _from_mitmproxy(data, source)
    if not captures:
        raise CaptureError(f"{source}: no requests found")
    return captures


# --- JSON, JSON lines, HAR -------------------------------------------------------------


def _from_json(data: bytes, source: str) -> list[CapturedRequest]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaptureError(f"{source}: not UTF-8 text") from None
    try:
        document = json.loads(text)
    except ValueError:
        return _from_json_lines(text, source)
    if isinstance(document, dict) and isinstance(document.get("log"), dict):
        return _from_har(document["log"], source)
    if isinstance(document, dict):
        return [CapturedRequest(request_from_record(document, f"{source}"), source, _first_line(text), 0)]
    if isinstance(document, list):
        return [
            CapturedRequest(request_from_record(record, f"{source}#{index}"), source, None, index)
            for index, record in enumerate(document)
        ]
    raise CaptureError(f"{source}: a JSON capture must be a request object, an array of them or a HAR file")


def _first_line(text: str) -> int:
    return text[: len(text) - len(text.lstrip())].count("\n") + 1


def _from_json_lines(text: str, source: str) -> list[CapturedRequest]:
    captures: list[CapturedRequest] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CaptureError(f"{where}: not JSON ({type(exc).__name__} at column {getattr(exc, 'colno', '?')})") from None
        captures.append(CapturedRequest(request_from_record(record, where), source, number, len(captures)))
    return captures


def request_from_record(record: Any, where: str = "request") -> InspectionRequest:
    """An `InspectionRequest` from one request object of the JSON capture format."""
    if not isinstance(record, Mapping):
        raise CaptureError(f"{where}: a request must be a JSON object")
    method = record.get("method")
    if not isinstance(method, str) or not method.strip():
        raise CaptureError(f"{where}: missing \"method\"")
    target = record.get("url", record.get("path"))
    if not isinstance(target, str) or not target:
        raise CaptureError(f"{where}: needs \"path\" or \"url\"")
    headers = _headers(record.get("headers"), where)
    has_text = record.get("body_text") is not None
    has_base64 = record.get("body_base64") is not None
    if has_text and has_base64:
        raise CaptureError(f"{where}: give \"body_text\" or \"body_base64\", not both")
    if has_base64:
        body = _base64_body(record["body_base64"], where)
    elif has_text:
        if not isinstance(record["body_text"], str):
            raise CaptureError(f"{where}: \"body_text\" must be a string")
        body = record["body_text"].encode("utf-8", "surrogatepass")
        headers = _without(headers, "content-encoding")  # the text is already decoded
    else:
        body = b""
    extra_query = _pairs(record.get("query"), where, "query")
    try:
        return _request(method, target, headers, extra_query, body)
    except CaptureError as exc:
        raise CaptureError(f"{where}: {exc}") from None


def _base64_body(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise CaptureError(f"{where}: \"body_base64\" must be a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CaptureError(f"{where}: \"body_base64\" is not base64") from None


def _headers(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    return tuple(_pairs(value, where, "headers"))


def _pairs(value: Any, where: str, name: str) -> list[tuple[str, str]]:
    """Name/value pairs from an object, a list of [name, value] pairs, or HAR's
    [{"name", "value"}] list."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.items()
    elif isinstance(value, list):
        items = value
    else:
        raise CaptureError(f"{where}: \"{name}\" must be an object or a list of pairs")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, Mapping) and "name" in item:
            key, val = item.get("name"), item.get("value", "")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            key, val = item
        else:
            raise CaptureError(f"{where}: \"{name}\" must be an object or a list of pairs")
        if not isinstance(key, str) or not isinstance(val, (str, int, float)) or isinstance(val, bool):
            raise CaptureError(f"{where}: \"{name}\" entries must be strings")
        pairs.append((key, str(val)))
    return pairs


def _without(headers: tuple[tuple[str, str], ...], name: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in headers if k.lower() != name)


def _request(
    method: str,
    target: str,
    headers: tuple[tuple[str, str], ...],
    extra_query: list[tuple[str, str]],
    body: bytes,
) -> InspectionRequest:
    if target.startswith("/"):
        # A path, not a URL: "//x" must not turn into a host.
        path, _, query_string = target.partition("?")
        path = path.partition("#")[0]
        scheme, host, port = "https", *_host_port(headers)
    else:
        parts = urlsplit(target)
        if not parts.scheme or not parts.hostname:
            raise CaptureError(f"not a URL or an absolute path: {parts.scheme or 'no scheme'}")
        path, query_string, scheme = parts.path or "/", parts.query, parts.scheme
        try:
            host, port = parts.hostname, parts.port or 0
        except ValueError:
            host, port = parts.hostname, 0
    query = parse_qsl(query_string, keep_blank_values=True) + extra_query
    return InspectionRequest(
        method=method.strip().upper(),
        path=path,
        body=body,
        headers=headers,
        query=tuple(query),
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
    )


def _host_port(headers: tuple[tuple[str, str], ...]) -> tuple[str, int]:
    value = next((v for k, v in headers if k.lower() == "host"), "").strip()
    host, colon, port = value.rpartition(":")
    if not colon or "]" in port or not port.isdigit():
        return value.strip("[]"), 0
    return host.strip("[]"), int(port)


def _from_har(log: Mapping[str, Any], source: str) -> list[CapturedRequest]:
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise CaptureError(f"{source}: HAR file without log.entries")
    captures: list[CapturedRequest] = []
    for index, entry in enumerate(entries):
        where = f"{source}#{index}"
        request = entry.get("request") if isinstance(entry, Mapping) else None
        if not isinstance(request, Mapping):
            raise CaptureError(f"{where}: HAR entry without a request")
        headers = _without(_headers(request.get("headers"), where), "content-encoding")
        method, url = request.get("method"), request.get("url")
        if not isinstance(method, str) or not method or not isinstance(url, str) or not url:
            raise CaptureError(f"{where}: HAR request without \"method\" or \"url\"")
        try:
            # The URL holds the query string; HAR's queryString repeats it, so it is not added.
            inspection = _request(method, url, headers, [], _har_body(request.get("postData"), where))
        except CaptureError as exc:
            raise CaptureError(f"{where}: {exc}") from None
        captures.append(CapturedRequest(inspection, source, None, index))
    return captures


def _har_body(post: Any, where: str) -> bytes:
    if post is None:
        return b""
    if not isinstance(post, Mapping):
        raise CaptureError(f"{where}: postData must be an object")
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":  # written by some exporters for binary bodies
            return _base64_body(text, where)
        return text.encode("utf-8", "surrogatepass")
    params = post.get("params")
    if isinstance(params, list):  # a form given as fields only
        from urllib.parse import urlencode

        return urlencode(_pairs(params, where, "params")).encode()
    return b""


# --- mitmproxy flows -------------------------------------------------------------------


def _from_mitmproxy(data: bytes, source: str) -> list[CapturedRequest]:
    from mitmproxy import http
    from mitmproxy.exceptions import FlowReadException
    from mitmproxy.io import FlowReader

    captures: list[CapturedRequest] = []
    try:
        for flow in _flows(FlowReader(io.BytesIO(data))):
            if isinstance(flow, http.HTTPFlow):
                captures.append(CapturedRequest(_from_flow(flow), source, None, len(captures)))
    except FlowReadException:
        raise CaptureError(
            f"{source}: not a request JSON file, JSON lines, a HAR file or a mitmproxy flow file"
        ) from None
    except (ValueError, TypeError, KeyError):
        raise CaptureError(f"{source}: corrupt mitmproxy flow file") from None
    return captures


def _flows(reader: Any) -> Iterator[Any]:
    yield from reader.stream()


def _from_flow(flow: Any) -> InspectionRequest:
    """What `MetadataGate.request` hands the inspection workers, minus the credential masking
    the caller applies."""
    request = flow.request
    return InspectionRequest(
        method=request.method,
        path=request.path.split("?", 1)[0],
        body=request.raw_content or b"",
        headers=tuple(request.headers.items(multi=True)),
        query=tuple(request.query.items(multi=True)),
        scheme=request.scheme,
        host=request.pretty_host,
        port=request.port,
        client=flow.client_conn.peername[0] if flow.client_conn and flow.client_conn.peername else "",
    )
