"""Turn raw request bytes into something the scanner can inspect, within size caps.

Content-Encoding is removed here, not by mitmproxy, because every decoder is bounded: a
small compressed body must not be able to expand without limit (decompression bombs).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import brotli
import orjson
import zstandard


class BodyError(ValueError):
    """The body cannot be inspected. `code` is from a closed vocabulary (the policy sees only
    the code); the message is safe to show and record: it never quotes the body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 8 * 1024 * 1024        # on the wire
    max_decoded_bytes: int = 16 * 1024 * 1024    # after Content-Encoding
    max_json_depth: int = 64                     # parser guard; the schema has tighter bounds


@dataclass(slots=True)
class NormalizedBody:
    kind: str                     # json | form | empty | text | binary
    decoded: bytes = b""
    document: Any = None          # parsed JSON, or dict of form fields
    encodings: list[str] = field(default_factory=list)


def _inflate(data: bytes, wbits: int, cap: int) -> bytes:
    decoder = zlib.decompressobj(wbits)
    out = decoder.decompress(data, cap + 1)
    if len(out) > cap or decoder.unconsumed_tail:
        raise BodyError("decoded_too_large", f"decoded body exceeds {cap} bytes")
    if not decoder.eof:
        raise BodyError("truncated_encoding", "truncated compressed body")
    return out


def _deflate(data: bytes, cap: int) -> bytes:
    # HTTP "deflate" is zlib-wrapped by the RFC but raw deflate in the wild: accept both.
    try:
        return _inflate(data, zlib.MAX_WBITS, cap)
    except zlib.error:
        return _inflate(data, -zlib.MAX_WBITS, cap)


def _brotli(data: bytes, cap: int) -> bytes:
    # brotli (<=1.1, pinned by mitmproxy) has no output limit: feed one byte at a time so the
    # overshoot past the cap is bounded by what one input byte can expand to (~16 MiB).
    decoder = brotli.Decompressor()
    chunks: list[bytes] = []
    size = 0
    for offset in range(len(data)):
        out = decoder.process(data[offset : offset + 1])
        size += len(out)
        if size > cap:
            raise BodyError("decoded_too_large", f"decoded body exceeds {cap} bytes")
        chunks.append(out)
    if not decoder.is_finished():
        raise BodyError("truncated_encoding", "truncated compressed body")
    return b"".join(chunks)


def _zstd(data: bytes, cap: int) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    out = reader.read(cap + 1)
    if len(out) > cap:
        raise BodyError("decoded_too_large", f"decoded body exceeds {cap} bytes")
    return out


def _token(value: str) -> str:
    # A header value is attacker-controlled: echo it only when it looks like an encoding name.
    return repr(value) if re.fullmatch(r"[a-z0-9\-]{1,20}", value) else "(not an encoding name)"


_DECODERS = {
    "gzip": lambda data, cap: _inflate(data, 16 + zlib.MAX_WBITS, cap),
    "x-gzip": lambda data, cap: _inflate(data, 16 + zlib.MAX_WBITS, cap),
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def decode_content(body: bytes, content_encoding: str, limits: Limits) -> tuple[bytes, list[str]]:
    """Undo every Content-Encoding layer (applied in header order, so removed in reverse)."""
    if len(body) > limits.max_body_bytes:
        raise BodyError("too_large", f"body of {len(body)} bytes exceeds the {limits.max_body_bytes} byte cap")
    layers = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
    layers = [e for e in layers if e != "identity"]
    for encoding in reversed(layers):
        decoder = _DECODERS.get(encoding)
        if decoder is None:
            raise BodyError("unsupported_encoding", f"unsupported Content-Encoding {_token(encoding)}")
        try:
            body = decoder(body, limits.max_decoded_bytes)
        except BodyError:
            raise
        except Exception as exc:  # zlib.error, brotli.error, zstd errors: all mean "corrupt"
            raise BodyError("corrupt_encoding", f"corrupt {encoding} body ({type(exc).__name__})") from None
    return body, layers


def _check_depth(node: Any, limit: int, decoded: bytes) -> None:
    # Nesting deeper than `limit` needs more than `limit` brackets: most bodies have fewer.
    if decoded.count(b"{") + decoded.count(b"[") <= limit:
        return
    # Level by level, containers only (a scalar adds no depth): parsed JSON holds plain
    # dicts and lists, so exact type tests do.
    level = [node]
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise BodyError("too_deep", f"JSON nested deeper than {limit} levels")
        below = []
        for current in level:
            for child in current.values() if type(current) is dict else current:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below


def _parse_json(decoded: bytes) -> Any:
    # orjson accepts a subset of what json does (no integers beyond 64 bits, no lone
    # surrogates, no NaN): what it refuses gets json's more lenient parser and its errors.
    try:
        return orjson.loads(decoded)
    except orjson.JSONDecodeError:
        document = json.loads(decoded, parse_constant=_reject_constant)
    if _SURROGATE_ESCAPE.search(decoded):
        document = _without_lone_surrogates(document)
    return document


# `\ud800`-`\udfff` escaped in JSON: json decodes a pair to one character and leaves a lone
# one in the string, where it is no character at all. It is removed from every string and key
# (as the evasion layer's normalisation removes it from views): `jane.doe\ud800@example.com`
# reads as the address it hides, and no detector receives a string UTF-8 cannot encode
# (spaCy's tokenizer raises on one).
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(document: Any) -> Any:
    def clean(text: str) -> str:
        return _LONE_SURROGATE.sub("", text) if not text.isascii() else text

    root = [document]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:  # containers by reference, no recursion (the depth check comes after)
        parent, key = stack.pop()
        node = parent[key]
        if type(node) is str:
            parent[key] = clean(node)
        elif type(node) is dict:
            cleaned = {clean(k): v for k, v in node.items()}
            parent[key] = cleaned
            stack.extend((cleaned, k) for k in cleaned)
        elif type(node) is list:
            stack.extend((node, i) for i in range(len(node)))
    return root[0]


def _reject_constant(name: str) -> None:
    raise BodyError("malformed_json", f"JSON constant {name} is not valid JSON")


def normalize_body(body: bytes, content_type: str, content_encoding: str, limits: Limits) -> NormalizedBody:
    decoded, encodings = decode_content(body, content_encoding, limits)
    if not decoded or decoded.isspace():  # (no stripped copy of a large body)
        return NormalizedBody("empty", decoded, None, encodings)
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise BodyError("form_not_utf8", "form body is not UTF-8") from None
        return NormalizedBody("form", decoded, dict(parse_qsl(text, keep_blank_values=True)), encodings)
    if media == "application/json" or media.endswith("+json") or not media:
        try:
            document = _parse_json(decoded)
        except RecursionError:
            raise BodyError("too_deep", f"JSON nested deeper than {limits.max_json_depth} levels") from None
        except (UnicodeDecodeError, ValueError) as exc:
            if isinstance(exc, BodyError):
                raise
            if not media:
                return NormalizedBody("binary", decoded, None, encodings)
            raise BodyError("malformed_json", f"malformed JSON ({type(exc).__name__} at offset {getattr(exc, 'pos', '?')})") from None
        if isinstance(document, (dict, list)):
            _check_depth(document, limits.max_json_depth, decoded)
        return NormalizedBody("json", decoded, document, encodings)
    if media.startswith("text/"):
        return NormalizedBody("text", decoded, None, encodings)
    return NormalizedBody("binary", decoded, None, encodings)
