"""What a request's headers are, for the scanner and the policy: transport, credential or data.

Three kinds of header, decided here once for the proxy, `metagate scan` and the scanner:

- **transport**: framing and negotiation (Host, Content-Length, Content-Type ...) and the
  proxy chain a load balancer in front of the gate writes (X-Forwarded-For, Forwarded ...).
  Skipped by the detectors only while the value has the shape its header allows (a
  Content-Type is a media type, a Content-Encoding a list of registered codings, an
  X-Forwarded-For a short list of IP addresses ...); any other value is scanned like every
  other header, so these names are no hiding place. (Via stays data: its received-by part
  may be any pseudonym and it carries comments.)
- **credential**: Authorization and every header that carries a credential by its name
  (Cookie, X-Api-Key, ...) or by its value (`Basic ...`, `Bearer ...` in any header). Their
  values are masked before they leave the proxy's event loop; only a *fact* about each
  crosses into the workers and the policy: its name and its shape (`bearer_jwt`, `basic`,
  ...). The ZenML SDK sends only `Authorization: Bearer <JWT>`; the policy decides what else
  is refused (rules/headers.rego).
- **data**: everything else (User-Agent, X-Request-ID, Idempotency-Key, Via, Forwarded,
  Accept-Language ...): scanned by every detector as a leaf `$headers.<name>`.

Pure: no I/O, and no credential value ever leaves `credential_shape`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from metagate.scanner.cache import SECOND_HASH_PREFIX

# What a masked credential header holds when it reaches a worker (and what captures hold).
MASK = "<redacted>"

# Credential headers by name. Any name with one of the words of `_CREDENTIAL_NAME` counts too.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)
_CREDENTIAL_NAME = re.compile(
    r"auth|token|secret|passw|cookie|session|credential|signature|api[-_]?key|access[-_]?key|private[-_]?key",
    re.IGNORECASE,
)
# A value that opens with an HTTP authentication scheme (RFC 9110 §11, IANA registry and the
# common non-registered ones) followed by credentials, in any header.
_AUTH_SCHEME_VALUE = re.compile(
    r"\s*(?:basic|bearer|digest|token|apikey|api-key|hoba|mutual|negotiate|ntlm|scram-sha-\d+|vapid|"
    r"aws4-hmac-sha256|hmac|oauth|dpop|privatetoken|concealed)\s+\S",
    re.IGNORECASE,
)

# --- transport headers and the shapes their values may take ---------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"[^"\\\r\n]{0,64}"'
_PARAMS = rf"(?:\s*;\s*{_TOKEN}\s*=\s*(?:{_TOKEN}|{_QUOTED}))*"
_Q = r"(?:\s*;\s*q\s*=\s*[01](?:\.[0-9]{0,3})?)?"
# Registered content and transfer codings (IANA "HTTP Content Coding Registry" and "Transfer
# Coding Registry"): a closed vocabulary, so a coding list cannot carry a word of data.
_CODING = r"(?:gzip|x-gzip|deflate|br|zstd|compress|x-compress|identity|chunked|trailers|exi|pack200-gzip|aes128gcm|dcb|dcz|\*)"
_CODINGS = rf"{_CODING}{_Q}(?:\s*,\s*{_CODING}{_Q})*"
_MEDIA_TYPE = r"(?:[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}|\*)/(?:[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}|\*)"
# Media type parameters the SDK's and common clients' types carry; values are short tokens.
_MEDIA_PARAM = r"\s*;\s*(?:charset\s*=\s*\"?[A-Za-z0-9_.:-]{1,40}\"?|q\s*=\s*[01](?:\.[0-9]{0,3})?)"
_HOST_PORT = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
# Headers that only frame or route the message or negotiate its form. Connection may name
# the hop-by-hop headers it applies to, and only those.
_HOP_BY_HOP_NAMES = r"(?:keep-alive|close|upgrade|te|trailer|transfer-encoding|proxy-connection|proxy-authenticate|proxy-authorization|http2-settings)"

_MAX_CHAIN = 16  # entries of a proxy-chain header: more is not a chain of proxies


def _node(text: str) -> bool:
    """An IP address as a proxy-chain header gives it: bare, `[v6]`, with a port, quoted."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not port.isdigit() or len(port) > 5:
            return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ip_list(value: str) -> bool:
    entries = value.split(",")
    return len(entries) <= _MAX_CHAIN and all(_node(entry) for entry in entries)


_HOST = re.compile(_HOST_PORT)
_PROTO = re.compile(r"https?|wss?", re.IGNORECASE)


def _forwarded(value: str) -> bool:
    """RFC 7239: for/by as an IP or `unknown` (an obfuscated identifier may be any token:
    scanned), proto a scheme, host a host."""
    elements = value.split(",")
    if len(elements) > _MAX_CHAIN:
        return False
    for element in elements:
        for pair in element.split(";"):
            key, sep, item = pair.strip().partition("=")
            key, item = key.lower(), item.strip().strip('"')
            if not sep:
                return False
            if key in ("for", "by"):
                if item.lower() != "unknown" and not _node(item):
                    return False
            elif key == "proto":
                if not _PROTO.fullmatch(item):
                    return False
            elif key != "host" or not _HOST.fullmatch(item):
                return False
    return True


_PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "host": _HOST_PORT,
        "content-length": r"[0-9]{1,19}",
        "content-type": rf"{_MEDIA_TYPE}(?:{_MEDIA_PARAM})*",
        "accept": rf"{_MEDIA_TYPE}(?:{_MEDIA_PARAM})*(?:\s*,\s*{_MEDIA_TYPE}(?:{_MEDIA_PARAM})*)*",
        "content-encoding": _CODINGS,
        "transfer-encoding": _CODINGS,
        "accept-encoding": _CODINGS,
        "te": _CODINGS,
        "connection": rf"{_HOP_BY_HOP_NAMES}(?:\s*,\s*{_HOP_BY_HOP_NAMES})*",
        "keep-alive": r"(?:timeout|max)\s*=\s*[0-9]{1,6}(?:\s*,\s*(?:timeout|max)\s*=\s*[0-9]{1,6})*",
        "expect": r"100-continue",
        "x-forwarded-proto": r"https?|wss?",
        "x-forwarded-host": _HOST_PORT,
        "x-forwarded-port": r"[0-9]{1,5}",
    }.items()
}

TRANSPORT_SHAPES: dict[str, Callable[[str], bool]] = {
    **{name: (lambda value, pattern=pattern: pattern.fullmatch(value) is not None) for name, pattern in _PATTERNS.items()},
    "x-forwarded-for": _ip_list,
    "x-real-ip": _node,
    "forwarded": _forwarded,
}

# The ids the ZenML SDK sends on every request (zen_stores/rest_zen_store.py: X-Request-ID is
# `str(uuid4())[:8]`, Idempotency-Key `str(uuid4())`): a value of exactly that shape is an
# id, as a UUID in a body is, and is not scanned (fresh on every request, they were a new
# text for every detector every time: 2.5x the scan's cost on real traffic). Eight hex digits
# without a letter (2% of the SDK's ids) could be a date or a number: scanned. Anything
# else in these headers is scanned as any header is.
_SDK_ID_SHAPES: dict[str, re.Pattern[str]] = {
    "x-request-id": re.compile(r"(?=[0-9]*[a-f])[0-9a-f]{8}"),
    "idempotency-key": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
}


def is_sdk_id(lowered: str, value: str) -> bool:
    shape = _SDK_ID_SHAPES.get(lowered)
    return shape is not None and shape.fullmatch(value) is not None


# The proxy sets this one itself, after the decision (a client's value is replaced).
GATE_HEADERS = frozenset({"x-metagate-audit-id"})

# Header names that are a vocabulary, not a client's choice: the ZenML SDK's own, the transport
# ones and the registered ones a client library or a proxy in front of the gate adds. Any
# other *name* is scanned too (as a body key is): `X-<an e-mail>: 1` carries data in its name.
KNOWN_NAMES = frozenset(TRANSPORT_SHAPES) | GATE_HEADERS | frozenset({
    "user-agent", "source-context", "x-request-id", "idempotency-key",          # the ZenML SDK
    "via", "accept-language", "cache-control", "pragma", "trailer", "upgrade", "origin", "referer",
    "date", "traceparent", "tracestate", "if-match", "if-none-match", "if-modified-since",
})


@lru_cache(maxsize=1024)
def _credential_name(lowered: str) -> bool:
    return lowered in CREDENTIAL_HEADERS or _CREDENTIAL_NAME.search(lowered) is not None


def is_credential(name: str, value: str) -> bool:
    """True for a header that carries a credential, by its name or by its value's scheme."""
    return _credential_name(name.lower()) or _AUTH_SCHEME_VALUE.match(value) is not None


def is_shaped_transport(lowered: str, value: str) -> bool:
    """True for a transport header whose value has its header's shape (then nothing in it is
    data); False for every other header, and for a transport header holding anything else."""
    shape = TRANSPORT_SHAPES.get(lowered)
    return shape is not None and len(value) <= 1024 and shape(value.strip())


def scanned(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (lower-case name, value) pairs the detectors look at: every header that is neither
    a credential (masked, decided by its shape fact) nor a well-shaped transport header."""
    pairs = []
    verdicts = _verdicts
    for name, value in headers:
        # Most headers repeat request after request (Host, Accept, User-Agent ...): their
        # verdict is remembered by a digest of the pair, never the value itself.
        key = (hash(name), hash(value), hash(SECOND_HASH_PREFIX + value), len(value))
        skipped = verdicts.get(key)
        if skipped is None:
            skipped = verdicts[key] = _skipped(name.lower(), value)
            if len(verdicts) > _MAX_VERDICTS:
                verdicts.clear()
        if not skipped:
            pairs.append((name.lower(), value))
    return pairs


_MAX_VERDICTS = 4096
_verdicts: dict[tuple[int, int, int, int], bool] = {}  # digest of a pair → not scanned


def _skipped(lowered: str, value: str) -> bool:
    return (value == MASK or lowered in GATE_HEADERS or is_credential(lowered, value)
            or is_shaped_transport(lowered, value) or is_sdk_id(lowered, value))


# --- credential shapes -----------------------------------------------------------------------

# base64url segments of a JWS in compact serialisation (RFC 7515 §7.1).
_JWT = re.compile(r"([A-Za-z0-9_-]{4,})\.([A-Za-z0-9_-]{4,})\.([A-Za-z0-9_-]{16,})")
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]{16,}=*")


def _b64url_json(segment: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _is_signed_jwt(token: str) -> bool:
    match = _JWT.fullmatch(token)
    if match is None:
        return False
    header, payload = _b64url_json(match.group(1)), _b64url_json(match.group(2))
    return (
        isinstance(header, dict)
        and isinstance(header.get("alg"), str)
        and header["alg"].lower() != "none"
        and isinstance(payload, dict)
    )


def credential_shape(value: str) -> str:
    """The shape of a credential header's value, never the value: `bearer_jwt` (a signed JWT,
    what the ZenML SDK sends: its workspace and API tokens are HS256 JWTs), `bearer_opaque`
    (another bearer token), `basic`, `redacted` (already masked, as captures are), `other`."""
    if value == MASK:
        return "redacted"
    scheme, _, credentials = value.strip().partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "bearer":
        if _is_signed_jwt(credentials):
            return "bearer_jwt"
        return "bearer_opaque" if _TOKEN68.fullmatch(credentials) else "other"
    if scheme == "basic":
        return "basic"
    return "other"


def credential_facts(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(lower-case name, shape) for each credential header, in order: all the policy learns
    of them (see docs/POLICY_INPUT.md `headers.credentials`)."""
    return tuple(
        (name.lower(), credential_shape(value)) for name, value in headers if is_credential(name, value)
    )


def masked(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The headers with every credential value replaced by MASK."""
    return tuple((name, MASK if is_credential(name, value) else value) for name, value in headers)
