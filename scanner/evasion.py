"""Decode and normalise string leaves before detection, so encoded content is seen as meant.

A client that wants data past the gate can wrap it: `jane%40example.com`, `jane&#64;…`,
`jane\\u0040…`, a JSON document inside a string, full-width or zero-width-split digits,
base64 of any of these, gzip inside the base64. `expand_leaves` peels such layers (bounded in
depth and size) and appends what it finds to the leaf's own text, views separated by a
line holding ";" (VIEW_SEPARATOR):

    original ⏎;⏎ decoded view ⏎;⏎ decoded view …

so every derived text keeps the leaf's JSON path (and field class) and a finding in it lands
where the wrapped value sits. The pipeline dedupes leaves by path, which is why views are
appended to the leaf rather than added as leaves of their own. A finding's span may point
past the original text, into a view; spans are only ever used for fingerprints.

The layers: percent, HTML entities, backslash escapes (and a JSON document serialised into a
string literal, `"{\"k\": ...}"`, one level of quoting per layer), Unicode (NFKC, invisible
characters, lone surrogates, non-ASCII digits), nested JSON, base64 (gzip/zlib inside), and the decoders of
scanner/decoders.py: hex, base32, base85/ascii85, whitespace-broken base64, reversal, ROT13,
`[at]`/`(dot)`/spelled-out addresses, look-alike letters, split or glued digit groups.

It also joins values that together make a value (see `_fragment_joins`): the values of one
object or list, one field of consecutive records (`[{"v": "ja"}, {"v": "ne"}]`) and the values
of a query parameter given several times. Pieces of up to 8 characters (three or more), pieces
of one width, and numbered fields (`part_0` ... `part_8`, an index dict `{"0": ..}`, keys that
count in letters `a`, `b`, `c`; joined in counting order whatever order they were written in)
are joined whole, so every detector reads the value; other short fragments where their
concatenation shows an address, a run of nine or more digits or a key-like token that no part
shows alone (`card_bin`/`card_mid`/`card_last4`). A join of lower-case hex as long as a blob
run gives what the hex decodes to (joined ids give nothing). The named joins of `_split_joins`
add a mailbox and a domain, digit groups, first and last name; the joined text is appended to
the parts it is made of. A value split over several requests is joined by
scanner/across_requests.py, not here.

Cost on clean traffic: one regex over all fresh leaf texts of the request joined by NUL finds
the leaves with anything to decode (most requests have none and return unchanged), and one
pass over the leaves finds runs of sibling values.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import unicodedata
import zlib
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import accumulate
from urllib.parse import unquote, unquote_to_bytes

from metagate.scanner import decoders
from metagate.scanner.model import VIEW_SEPARATOR, Leaf
MAX_DEPTH = 4                        # layers peeled below the leaf as sent
MAX_VIEW_CHARS_PER_LEAF = 512 * 1024
MAX_VIEW_CHARS_PER_REQUEST = 4 * 1024 * 1024
MAX_NESTED_JSON_CHARS = 1024 * 1024
MIN_BASE64_RUN = 12                  # 9 bytes: an SSN without dashes
MAX_BASE64_VIEWS_PER_TEXT = 64       # runs that decode to something, per text and layer
MAX_BASE64_TRIES_PER_TEXT = 16384    # runs tried (identifiers in source code are runs too)
_BINARY_VIEW_BYTES = 384             # re-encoded prefix of a decompressed binary (magic bytes)

# --- triggers: a necessary condition of each decoder, searched once per request ---------

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_HTML = re.compile(r"&#[0-9xX]|&[A-Za-z][A-Za-z0-9]{1,31};")
_ESCAPE_TRIGGER = re.compile(r"\\[uUx][0-9A-Fa-f]{2}")
_BASE64_RUN = re.compile(rf"[A-Za-z0-9+/_\-]{{{MIN_BASE64_RUN},}}={{0,2}}")
_TRIGGER = re.compile(
    "|".join(p.pattern for p in (_PERCENT, _HTML, _ESCAPE_TRIGGER)) + r'|\\+"\s*:' + f"|(?P<run>{_BASE64_RUN.pattern})"
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")

# An escape may come with its backslash escaped once more (`\\u0041`: a JSON string written into
# source code or serialised twice); it is the same character.
_ESCAPE = re.compile(
    r"\\\\?u([dD][89abAB][0-9a-fA-F]{2})\\\\?u([dD][c-fC-F][0-9a-fA-F]{2})"  # surrogate pair
    r"|\\\\?u([0-9a-fA-F]{4})|\\\\?U([0-9a-fA-F]{8})|\\\\?x([0-9a-fA-F]{2})"
)
_SIMPLE_ESCAPES = {"\\/": "/", '\\"': '"', "\\n": "\n", "\\t": "\t", "\\r": "\r"}
_SIMPLE_ESCAPE = re.compile(r'\\[/"ntr]')
# A JSON document serialised into a string and written as a literal once more (`"{\"v\": 1}"`
# in source code, `'"{\\"v\\": 1}"'` in a traceback's repr): an escaped quote closing a key.
# Its escapes are undone one level per layer, so each layer of quoting is a view.
_SERIALISED_KEY = re.compile(r'\\+"\s*:')
_ONE_LEVEL = re.compile(r"\\([\\/\"'ntr])")
_ONE_LEVEL_CHARS = {"\\": "\\", "/": "/", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}

# Characters that render as nothing (or as a blank) and so can split a value invisibly: the
# Unicode format characters (category Cf), variation selectors, combining grapheme joiner,
# Hangul and Braille fillers. test_evasion checks the Cf part against unicodedata.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef"
    # Lone surrogates (a fallback JSON parser lets them through): no character at all, and
    # one before `@` breaks the address pattern.
    "\ud800-\udfff]"
)
_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")  # `\d` is every Unicode decimal digit
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


@dataclass(slots=True)
class _Budget:
    """Characters of views still allowed (a decompression bomb stops here). `short` says
    that something was left undecoded: for want of characters, or because a limit on
    layers or base64 runs stopped the peeling while there was more to peel."""

    left: int
    short: bool = False

    def take(self, size: int) -> bool:
        if size > self.left:
            self.short = True
            return False
        self.left -= size
        return True


# --- one leaf ----------------------------------------------------------------------------


def decoded_views(text: str, max_chars: int = MAX_VIEW_CHARS_PER_LEAF) -> list[str]:
    """The texts hidden in `text` under encoding layers, outermost first; [] when none.
    Bounded: at most MAX_DEPTH layers and `max_chars` characters of views in all."""
    return _decode(text, max_chars)[0]


def _decode(text: str, max_chars: int) -> tuple[list[str], bool]:
    """(views, whether a limit cut the decoding short: left something undecoded)."""
    views: list[str] = []
    budget = _Budget(max_chars)
    _peel(text, 0, views, {text}, budget)
    return views, budget.short


def _peel(text: str, depth: int, views: list[str], seen: set[str], budget: _Budget) -> None:
    layer = _one_layer(text, budget)
    if depth >= MAX_DEPTH:
        # One layer more than may be peeled: if it holds anything new, say so.
        if any(view not in seen and view.strip() for view in layer):
            budget.short = True
        return
    for view in layer:
        if view in seen or not view.strip():
            continue
        if not budget.take(len(view)):
            return
        seen.add(view)
        views.append(view)
        _peel(view, depth + 1, views, seen, budget)


def _one_layer(text: str, budget: _Budget) -> list[str]:
    found: list[str] = []
    normalised = normalise_text(text)
    if normalised != text:
        found.append(normalised)
    if "\ufffd" in normalised and "%" in text and _PERCENT.search(text):
        # Percent-encoded bytes that are no UTF-8 (a file's bytes, `%89PNG%0D%0A...`): the
        # text view lost them to U+FFFD; the bytes themselves are checked for a signature.
        binary = decoders.bytes_view(unquote_to_bytes(text))
        if binary is not None and binary != normalised:
            found.append(binary)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[", '"') and len(text) <= MAX_NESTED_JSON_CHARS:
        nested = _nested_json(stripped)
        if nested is not None:
            found.append(nested)
    if len(text) >= MIN_BASE64_RUN:
        found.extend(_base64_views(text, budget))
    # Hex, base32/85, chunked base64, reversal, ROT13, spelled-out addresses, look-alike
    # letters, split digits (scanner/decoders.py): on the text as sent, and look-alikes also
    # on the normalised text (NFKC first, then the letters NFKC leaves alone).
    more, short = decoders.views(text)
    if short:
        budget.short = True
    found.extend(more)
    if normalised != text:
        folded = decoders.folded_view(normalised)
        if folded is not None:
            found.append(folded)
    return found


def normalise_text(text: str) -> str:
    """Undo percent-encoding, HTML entities and backslash escapes; NFKC, without invisible
    characters, with every decimal digit as ASCII. One pass of each, in that order."""
    if "%" in text and _PERCENT.search(text):
        text = unquote(text, errors="replace")
    if "&" in text and _HTML.search(text):
        text = html.unescape(text)
    if "\\" in text:
        text = _unescape(text)
    if not text.isascii():
        text = _normalise_unicode(text)
    return text


def _unescape(text: str) -> str:
    if _ESCAPE.search(text):
        text = _ESCAPE.sub(_escape_char, text)
        # Backslash escapes of one kind usually come with the others (a JSON string
        # serialised twice); only then are \n, \" and \/ decoded as well.
        text = _SIMPLE_ESCAPE.sub(lambda m: _SIMPLE_ESCAPES[m.group()], text)
    elif _SERIALISED_KEY.search(text):
        text = _ONE_LEVEL.sub(lambda m: _ONE_LEVEL_CHARS[m.group(1)], text)
    return text


def _escape_char(match: re.Match[str]) -> str:
    high, low, u4, u8, x2 = match.groups()
    if high is not None:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
    code = int(u4 or u8 or x2, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return chr(code)


def _normalise_unicode(text: str) -> str:
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii() and _NON_ASCII_DIGIT.search(text):
        text = _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), 0)), text)
    return text


def _nested_json(text: str) -> str | None:
    """A JSON document inside a string, as `key: value` lines (keys give detectors their
    context words); a JSON string literal, as its content."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(document, str):
        return document
    if not isinstance(document, (dict, list)):
        return None
    lines: list[str] = []
    _flatten(document, "", lines)
    return VIEW_SEPARATOR.join(lines) if lines else None


def _flatten(node: object, key: str, lines: list[str], depth: int = 0) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            if isinstance(value, (dict, list)):
                lines.append(str(name))   # keys are data too: {"jane@example.com": 1}
            _flatten(value, str(name), lines, depth)
    elif isinstance(node, list):
        for value in node:
            _flatten(value, key, lines, depth)
    elif isinstance(node, str) and depth < MAX_DEPTH and node.lstrip()[:1] in ("{", "["):
        try:
            inner = json.loads(node)   # a document inside a value of the document
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, (dict, list)):
            _flatten(inner, key, lines, depth + 1)
        else:
            lines.append(f"{key}: {node}" if key else node)
    elif node is not None and not isinstance(node, bool):
        lines.append(f"{key}: {node}" if key else str(node))


def _base64_views(text: str, budget: _Budget) -> list[str]:
    views: list[str] = []
    left = budget.left  # what all runs of this text may decode to, gzip included
    tries = 0
    for match in _BASE64_RUN.finditer(text):
        run = match.group()
        if not _may_be_base64(run):
            continue
        if left <= 0 or len(views) >= MAX_BASE64_VIEWS_PER_TEXT or tries >= MAX_BASE64_TRIES_PER_TEXT:
            budget.short = True  # a run is left undecoded: it may hide the payload
            break
        tries += 1
        data = _b64decode(run)
        if data is not None:
            view = _bytes_view(data, left, layers=2)
            if view is not None:
                views.append(view)
                left -= len(view)
                if left <= 0:
                    budget.short = True  # inflated up to the cap: there may be more
    return views


def _may_be_base64(run: str) -> bool:
    # Encoded bytes are never all lower case, and never CONSTANT_NAMES or digits only; the
    # identifiers, hex digests and numbers that make most runs in ZenML metadata are, and
    # are not decoded.
    return not (run.islower() or run.isdigit() or (run.isupper() and "_" in run))


def _b64decode(run: str) -> bytes | None:
    body = run.rstrip("=")
    if len(body) % 4 == 1:
        body = body[:-1]  # a stray character after the data (a run glued to a word)
    padded = body + "=" * (-len(body) % 4)
    altchars = b"-_" if ("-" in body or "_" in body) else b"+/"
    if ("-" in body or "_" in body) and ("+" in body or "/" in body):
        return None  # mixes both alphabets: not base64
    try:
        return base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None


def _bytes_view(data: bytes, cap: int, layers: int) -> str | None:
    """Decoded bytes as text when they are text; gzip/zlib peeled first (at most `cap` bytes
    out). A decompressed binary is returned as base64 of its first bytes, so the blob
    detector can name it."""
    if layers > 0 and len(data) >= 2:
        inflated = None
        if data[:2] == b"\x1f\x8b":
            inflated = _inflate(data, 16 + zlib.MAX_WBITS, cap)
        elif data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:
            inflated = _inflate(data, zlib.MAX_WBITS, cap)
        if inflated is not None:
            text = _bytes_view(inflated, cap, layers - 1)
            if text is not None:
                return text
            return base64.b64encode(inflated[:_BINARY_VIEW_BYTES]).decode("ascii")
    return _as_text(data)


def _inflate(data: bytes, wbits: int, cap: int) -> bytes | None:
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(data, max(cap, 0) + 1)
    except zlib.error:
        return None
    if not out:
        return None
    return out[:cap]  # over the budget: what fits is still inspected


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip() or len(_CONTROL.findall(text)) > len(text) // 20:
        return None
    return text


# --- values of one object that together are PII -------------------------------------------

# Whole leaves that can be part of split PII, found in the joined text (each leaf between NULs)
# by `_AT_LEAF_START`: a domain, a digit group, a first-name key.
_DOMAIN = r"@?(?:[A-Za-z0-9][A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}"
_DIGITS = r"\+?[0-9]{1,8}"
_FIRST_NAME = r"(?:[Ff]irst|FIRST|[Gg]iven|GIVEN|[Ff]ore)[_\- ]?(?:[Nn]ame|NAME)|f_?name|FIRST"
_LOCAL_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@?")
_LAST_NAME_KEY = re.compile(r"(?:last|family|sur)[_\- ]?name|l_?name|surname", re.IGNORECASE)
# Keys that say a field holds part of an address. Without one of them (or an explicit "@") a
# mailbox-like and a domain-like neighbour are not joined: {"repository": "zenml",
# "host": "github.com"} is a code repository, not an e-mail address.
_EMAIL_KEY = re.compile(r"mail|domain|local|user|login|account|handle|recipient|sender|contact|addr", re.IGNORECASE)
_LAST_PART = re.compile(r'(?:\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\])$')
_MIN_SPLIT_DIGITS = 9       # an SSN; phone and card numbers are longer
_MAX_SPLIT_DIGITS = 19


def _parent_and_key(path: str) -> tuple[str, str]:
    """(path of the containing object or array, key of this field or "" for an index)."""
    match = _LAST_PART.search(path)
    if match is None:
        return path, ""
    name, _, quoted = match.groups()
    key = name if name is not None else json.loads(quoted) if quoted is not None else ""
    return path[: match.start()], key


@dataclass(slots=True)
class _Anchors:
    """Texts of whole leaves that can be part of split PII."""

    domains: set[str]
    digits: set[str]
    first_names: set[str]

    def __bool__(self) -> bool:
        return bool(self.domains or self.digits or self.first_names)

    def __contains__(self, text: str) -> bool:
        return text in self.domains or text in self.digits or text in self.first_names


def _split_joins(leaves: list[Leaf], anchors: _Anchors) -> dict[int, list[str]]:
    """leaf index → texts made of it and its neighbours in one object (to append to it)."""
    domain_texts, name_keys = anchors.domains, anchors.first_names
    # Nine digits or more in groups: one group at least has three (no split in pairs).
    digit_texts = anchors.digits if any(len(t.lstrip("+")) >= 3 for t in anchors.digits) else set()
    if not domain_texts and not digit_texts and not name_keys:
        return {}
    domains: list[int] = []
    digits: list[int] = []
    first_names: list[int] = []
    for index, leaf in enumerate(leaves):
        text = leaf.text
        if text in domain_texts and not leaf.is_key:
            domains.append(index)
        elif text in digit_texts and not leaf.is_key:
            digits.append(index)
        elif text in name_keys and leaf.is_key:
            first_names.append(index)
    if not domains and len(digits) < 2 and not first_names:
        return {}
    order = _value_order(leaves)
    rank = {index: n for n, index in enumerate(order)}
    joins: dict[int, list[str]] = {}

    def add(indexes: list[int], text: str) -> None:
        for index in indexes:
            joins.setdefault(index, []).append(text)

    def neighbours(index: int) -> tuple[int, str, str] | None:
        """The value leaf before `index` in the same object: (its index, its key, this key)."""
        n = rank.get(index)
        if not n:
            return None
        before = order[n - 1]
        parent, key = _parent_and_key(leaves[index].path)
        parent_before, key_before = _parent_and_key(leaves[before].path)
        return (before, key_before, key) if parent == parent_before else None

    for index in domains:
        found = neighbours(index)
        if found is None:
            continue
        before, key_before, key = found
        local, domain = leaves[before].text, leaves[index].text
        if (
            _LOCAL_PART.fullmatch(local)
            and not local.isdigit()
            and (local.endswith("@") or domain.startswith("@") or _EMAIL_KEY.search(key_before) or _EMAIL_KEY.search(key))
        ):
            add([before, index], local.rstrip("@") + "@" + domain.lstrip("@"))

    # Digit groups: a card, phone, SSN or account number spread over neighbouring fields.
    group: list[int] = []
    for index in sorted((i for i in set(digits) if i in rank), key=rank.__getitem__):
        if group and (rank[index] != rank[group[-1]] + 1 or neighbours(index) is None):
            _join_digits(leaves, group, add)
            group = []
        group.append(index)
    _join_digits(leaves, group, add)

    for key_index in first_names:
        first = next((i for i in range(key_index + 1, min(key_index + 3, len(leaves)))
                      if not leaves[i].is_key and leaves[i].path == leaves[key_index].path), None)
        if first is None or first not in rank or rank[first] + 1 >= len(order):
            continue
        last = order[rank[first] + 1]
        found = neighbours(last)
        if (
            found is not None and found[0] == first and _LAST_NAME_KEY.fullmatch(found[2])
            and leaves[first].text.isalpha() and leaves[last].text.isalpha()
        ):
            add([first, last], f"{leaves[first].text} {leaves[last].text}")
    return joins


# --- any value split into short fragments over one object or list ---------------------------

MAX_FRAGMENT_CHARS = 32          # a part longer than this is not a fragment of something
MAX_JOIN_WINDOW = 256            # parts joined at once (windows overlap by MAX_JOIN_OVERLAP)
MAX_JOIN_OVERLAP = 64            # so a value split into up to 64 parts is never cut
MAX_FRAGMENTS_PER_REQUEST = 65536  # past this many sibling values the request is `undecoded`
MAX_NUMBERED_PARTS = 256         # `part_0` ... `part_255`: parts of one text, any length
MAX_NUMBERED_CHARS = 64 * 1024
MAX_JOIN_CHARS_PER_REQUEST = 1024 * 1024  # joined text appended to parts, in all
# What a join can show that no part shows alone: an address, a run of 9+ digits, a token of
# 16+ characters with letters and digits (a key, an encoded value).
_REVEALED = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
    r"|(?<![\d+])\+?\d(?:[ \-]?\d){8,18}"
    r"|(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/=_\-]{16,}"
)
_LETTER, _DIGIT, _UPPER = re.compile(r"[A-Za-z]"), re.compile(r"[0-9]"), re.compile(r"[A-Z]")
_NUMBERED_KEY = re.compile(r"(.*?)[_\-. ]?(\d{1,6})")


@dataclass(slots=True)
class _Fragments:
    """Value leaves that may be pieces of one value: consecutive values of one object or list,
    or one field of consecutive records; `parent` is the path of the object or list that holds
    them (of the list, for records)."""

    parent: str
    indexes: list[int]


def _fragment_groups(leaves: list[Leaf]) -> tuple[list[_Fragments], bool]:
    """Runs of two or more short value leaves that are pieces of one thing, in document order,
    and whether the request had more fragments than MAX_FRAGMENTS_PER_REQUEST. Two kinds:
    consecutive values of one object or list (siblings: `card_bin`, `card_mid` ...; list
    items), and one field of consecutive records of a list (a column: `[{"v": "ja"},
    {"v": "ne"}, ...]`, whatever other fields the records have)."""
    groups: list[_Fragments] = []
    current: _Fragments | None = None
    columns: dict[tuple[str, str], tuple[_Fragments, int]] = {}  # (list, field) -> (run, last record)
    seen = 0
    for index, leaf in enumerate(leaves):
        if leaf.is_key:
            continue  # keys sit between the values of an object
        text = leaf.text
        if not text or len(text) > MAX_NUMBERED_CHARS:
            current = None
            continue
        cut = _last_part_start(leaf.path)
        # A query parameter (or header) given several times is a list of its own: its values
        # are items of one another, not of the request's other parameters.
        parent = leaf.path if leaf.path.startswith(_TRANSPORT_ROOTS) else leaf.path[:cut]
        if current is not None and current.parent == parent:
            current.indexes.append(index)
            seen += 1  # only values with a sibling before them count
        else:
            current = _Fragments(parent, [index])
            groups.append(current)
        record = _RECORD_INDEX.search(parent) if parent.endswith("]") else None
        if record is not None:
            column = (parent[: record.start()], leaf.path[cut:])
            number = int(record.group(1))
            run = columns.get(column)
            if run is not None and run[1] == number - 1:
                run[0].indexes.append(index)
                seen += 1
                columns[column] = (run[0], number)
            else:
                fresh = _Fragments(parent[: record.start()], [index])
                groups.append(fresh)
                columns[column] = (fresh, number)
        if seen > MAX_FRAGMENTS_PER_REQUEST:
            return [g for g in groups if len(g.indexes) > 1], True
    return [g for g in groups if len(g.indexes) > 1], False


_RECORD_INDEX = re.compile(r"\[(\d+)\]$")  # the record a field sits in: `$.values.x[3]`
_TRANSPORT_ROOTS = ("$query", "$headers")


def _last_part_start(path: str) -> int:
    """Where the last step of a JSON path starts (`.key`, `[3]` or `["odd key"]`)."""
    if path.endswith("]"):
        if path.endswith('"]'):
            match = _LAST_PART.search(path)
            return match.start() if match is not None else len(path)
        return path.rfind("[")
    return path.rfind(".")


def _fragment_joins(leaves: list[Leaf]) -> tuple[dict[int, list[str]], list[str]]:
    """leaf index → joined texts of its group that show something no part shows alone, and
    the paths left undecoded because a bound was reached."""
    groups, short = _fragment_groups(leaves)
    joins: dict[int, list[str]] = {}
    budget = _Budget(MAX_JOIN_CHARS_PER_REQUEST)
    plain = _plain_groups
    for group in groups:
        # A group is joined from its parts' paths and texts alone, and one that showed
        # nothing spent no budget: its digest seen before, it shows nothing again.
        key = _group_key(leaves, group.indexes)
        if key in plain:
            continue
        left = budget.left
        _join_group(leaves, group, joins, budget)
        if budget.left == left and not budget.short:
            if len(plain) >= _MEMO_MAX_ENTRIES:
                plain.clear()
            plain.add(key)
    if short or budget.short:
        # A bound was reached: the objects and lists that hold fragments count as undecoded
        # (the policy blocks them), whether or not a join was made of their pieces. Each once,
        # however many pieces it holds (a list of a million pieces is one violation).
        return joins, list(dict.fromkeys(group.parent or "$" for group in groups)) or [leaves[-1].path]
    return joins, []


def _group_key(leaves: list[Leaf], indexes: list[int]) -> tuple[int, int, int]:
    """Two SipHash values (keyed per process) of a group's texts and paths: never the text."""
    texts = tuple([leaves[i].text for i in indexes])
    paths = tuple([leaves[i].path for i in indexes])
    return hash(texts), hash((texts, paths)), len(indexes)


def _join_group(leaves: list[Leaf], group: _Fragments, joins: dict[int, list[str]], budget: _Budget) -> None:
    # Numbered fields are parts of one text whatever their length, joined in the order their
    # keys count; other siblings are joined where they are short fragments.
    order = _numbered_order(leaves, group.indexes)
    if order is not None:
        group = _Fragments(group.parent, order)
        short_parts = order
    else:
        short_parts = [i for i in group.indexes if len(leaves[i].text) <= MAX_FRAGMENT_CHARS]
    if len(short_parts) < 2:
        return
    if _all_fragments(leaves, group.indexes):
        # Characters or short pieces of one value (`['g', 'i', 't', ...]`, `part_0` ...):
        # joined whole whatever the join shows, so every detector (secrets, PII, names,
        # field semantics) reads the value; appended to the first part only (to each,
        # a list of n characters would cost n * n).
        _join_whole(leaves, group.indexes, joins, budget)
        return
    step = MAX_JOIN_WINDOW - MAX_JOIN_OVERLAP
    for start in range(0, max(1, len(short_parts) - MAX_JOIN_OVERLAP), step):
        _join_window(leaves, short_parts[start : start + MAX_JOIN_WINDOW], joins, budget)


MAX_WHOLE_FRAGMENT_CHARS = 4     # parts this short, all of them, are pieces of one value
MAX_CUT_FRAGMENT_CHARS = 8       # parts this short are pieces where the value was cut mid-text
MIN_WHOLE_FRAGMENTS = 3
MAX_WHOLE_JOIN_CHARS = 16 * 1024  # one joined view; longer joins go in windows
_WHOLE_JOIN_OVERLAP = 256


_NUMERIC_TEXT = re.compile(r"[0-9.+\-eE]*")


def _all_fragments(leaves: list[Leaf], group: list[int]) -> bool:
    """Every part a piece (numbered fields of MAX_FRAGMENT_CHARS at most, 3+ parts of
    MAX_WHOLE_FRAGMENT_CHARS, or 3+ parts of one width), and not every part a number: numbers (`{"major": "12",
    "minor": "4"}`, scores as text) are joined only where the digits make an identifier's
    length (`_join_window`)."""
    texts = [leaves[i].text for i in group]
    if all(_NUMERIC_TEXT.fullmatch(t) for t in texts):
        return False
    if len(group) >= MIN_WHOLE_FRAGMENTS and all(len(t) <= MAX_WHOLE_FRAGMENT_CHARS for t in texts):
        return True
    if len(group) >= MIN_WHOLE_FRAGMENTS and all(len(t) <= MAX_CUT_FRAGMENT_CHARS for t in texts) and _cut(texts):
        return True  # `['Dr. N', 'oa Ch', 'aud', 'hry']`: a name cut into 3-6 characters
    if len(group) >= MIN_WHOLE_FRAGMENTS and _fixed_width(texts):
        return True  # a value cut every n characters (`['-----BE', 'GIN OPE', ...]`)
    return all(len(t) <= MAX_FRAGMENT_CHARS for t in texts) and _numbered(leaves, group)


_CUT_EDGE = frozenset(" ,.;:@/-")


def _cut(texts: list[str]) -> bool:
    """Pieces of a text cut anywhere, not whole words or labels: a third of them at least hold
    a blank or begin or end with punctuation (`' rue d'`, `', 4540'`). A list of labels
    (`['age', 'income']`, `['eu-west-1', 'us-east-2']`) has none such."""
    cut = sum(1 for t in texts if " " in t or t[0] in _CUT_EDGE or t[-1] in _CUT_EDGE)
    return cut * 3 >= len(texts)


def _fixed_width(texts: list[str]) -> bool:
    width = len(texts[0])
    return width <= MAX_FRAGMENT_CHARS and all(len(t) == width for t in texts[:-1]) and 0 < len(texts[-1]) <= width


def _join_whole(leaves: list[Leaf], group: list[int], joins: dict[int, list[str]], budget: _Budget) -> None:
    texts = [leaves[i].text for i in group]
    ends = list(accumulate(len(t) for t in texts))
    start_part = 0
    while start_part < len(texts):
        # Parts from start_part up to MAX_WHOLE_JOIN_CHARS characters; the next window starts
        # _WHOLE_JOIN_OVERLAP characters back, so no value of that length is cut.
        offset = ends[start_part - 1] if start_part else 0
        last = bisect_right(ends, offset + MAX_WHOLE_JOIN_CHARS) - 1
        last = max(last, start_part)
        for view in _as_joined("".join(texts[start_part : last + 1])):
            if not budget.take(len(view)):
                return
            joins.setdefault(group[start_part], []).append(view)
        if last + 1 >= len(texts):
            return
        back = bisect_right(ends, ends[last] - _WHOLE_JOIN_OVERLAP)
        start_part = max(start_part + 1, back)


def _join_window(leaves: list[Leaf], window: list[int], joins: dict[int, list[str]], budget: _Budget) -> None:
    texts = [leaves[i].text for i in window]
    joined = "".join(texts)
    ends = list(accumulate(len(t) for t in texts))  # offset after each part
    for match in _REVEALED.finditer(joined):
        start, end = match.span()
        first = bisect_right(ends, start)
        last = min(bisect_right(ends, end - 1), first + MAX_JOIN_OVERLAP - 1)  # a value's parts
        if first == last:
            continue  # inside one part: the part shows it itself
        token = match.group()
        if "@" not in token and not token.replace(" ", "").replace("-", "").lstrip("+").isdigit():
            if not _key_like(token):
                continue  # words glued together (tags, feature names), not a key
        parts = texts[first : last + 1]
        joined_parts = "".join(parts)
        hex_only = _HEX_ONLY.fullmatch(joined_parts) is not None
        for view in _as_joined(joined_parts) if hex_only else (joined_parts, " ".join(parts)):
            if not budget.take(len(view) * (last + 1 - first)):
                return  # appended to every part: the request's join budget is spent
            for i in window[first : last + 1]:
                joins.setdefault(i, []).append(view)


# Lower-case hex with a letter in it, as long as a run the blob detector judges (64): how ids
# and digests are written, joined (a number, a card, an IBAN or a short code is none).
_HEX_ONLY = re.compile(r"(?=[0-9]*[a-f])[0-9a-f]{64,}")


def _as_joined(text: str) -> list[str]:
    """The views a joined text gives: itself; or, for a join of lower-case hex (sha prefixes,
    the parts of a UUID, a blob's hex cut into list items), what the hex decodes to where that
    is text or a file (scanner/decoders.py `bytes_view`), at either alignment: joined ids are
    random bytes and give nothing, while a hex run as such would read as a blob."""
    if _HEX_ONLY.fullmatch(text) is None:
        return [text]
    views = []
    for start in (0, 1):
        digits = text[start : start + (len(text) - start) // 2 * 2]
        view = decoders.bytes_view(bytes.fromhex(digits))
        if view is not None:
            views.append(view)
    return views


def _key_like(token: str) -> bool:
    """Letters and digits as a key or an encoded value has them: capitals with digits
    (AKIA..., base64), or digits in a quarter of it at least (hex, lower-case tokens)."""
    digits = len(_DIGIT.findall(token))
    if not digits or not _LETTER.search(token):
        return False
    return bool(_UPPER.search(token)) or digits >= max(3, len(token) // 4)


def _numbered(leaves: list[Leaf], group: list[int]) -> bool:
    """`part_0`, `part_1` ... : keys that differ only by a counting number (one text split
    into numbered fields, a transcript in `part_0` ... `part_8`)."""
    return _numbered_order(leaves, group) is not None


def _numbered_order(leaves: list[Leaf], group: list[int]) -> list[int] | None:
    """The group in the order its keys count (`part_2`, `part_0`, `part_1` is 0, 1, 2; `"0"`,
    `"1"` ...; `a`, `b`, `c` ... `z`, `aa` ...), when its keys are one stem and a counter that
    counts without a gap; else None. Values are joined in that order, whatever order the
    object was written in."""
    if len(group) < 2 or len(group) > MAX_NUMBERED_PARTS:
        return None
    prefix = None
    numbered: list[tuple[int, int]] = []
    for i in group:
        key = _parent_and_key(leaves[i].path)[1]
        if not key:
            return None
        match = _NUMBERED_KEY.fullmatch(key)
        if match is not None:
            stem, number = match.group(1), int(match.group(2))
        else:
            match = _LETTER_KEY.fullmatch(key)
            if match is None:
                return None
            stem, number = match.group(1), _letter_number(match.group(2))
        if prefix is not None and stem != prefix:
            return None
        prefix = stem
        numbered.append((number, i))
    numbered.sort()
    if any(b[0] != a[0] + 1 for a, b in zip(numbered, numbered[1:])):
        return None
    return [i for _, i in numbered]


# A key that counts in letters: `a`, `b` ... `z`, `aa`, `ab` (spreadsheet columns), after an
# optional stem and separator (`k_a`, `part-b`).
_LETTER_KEY = re.compile(r"(.*?[_\-. ]|)([a-z]{1,2}|[A-Z]{1,2})")


def _letter_number(letters: str) -> int:
    number = 0
    for letter in letters.lower():
        number = number * 26 + ord(letter) - 96
    return number


def _value_order(leaves: list[Leaf]) -> list[int]:
    """Indexes of value leaves (not keys), in document order."""
    return [index for index, leaf in enumerate(leaves) if not leaf.is_key]


def _join_digits(leaves: list[Leaf], group: list[int], add: Callable[[list[int], str], None]) -> None:
    if len(group) < 2:
        return
    texts = [leaves[i].text for i in group]
    if _MIN_SPLIT_DIGITS <= sum(len(t.lstrip("+")) for t in texts) <= _MAX_SPLIT_DIGITS:
        add(group, " ".join(texts))


# --- one request ---------------------------------------------------------------------------


# A NUL starts every leaf in the joined text; these start there: a leaf that opens like a
# JSON document, and the whole-leaf anchors of split PII.
_AT_LEAF_START = re.compile(
    rf"\x00(?:(?P<json>[ \t\r\n]*[\[{{\"])|(?P<domain>{_DOMAIN})(?=\x00)|(?P<digits>{_DIGITS})(?=\x00)"
    rf"|(?P<first>{_FIRST_NAME})(?=\x00))"
)

# Strings repeat across requests (keys, names, pip freeze, source code, configuration): those
# found to hold nothing to decode, and to be no part of split PII, are remembered by their
# hash (the interpreter's SipHash, keyed per process; never the text), so later requests do
# not search them again.
_MEMO_MAX_ENTRIES = 16384
_clean_texts: set[int] = set()


_plain_groups: set[tuple[int, int, int]] = set()  # fragment groups that joined to nothing


def forget_clean_texts() -> None:
    _clean_texts.clear()
    _plain_groups.clear()


@dataclass(slots=True)
class Expansion:
    leaves: list[Leaf]
    # Paths of leaves with encoded content left undecoded: the request's budget
    # (MAX_VIEW_CHARS_PER_REQUEST) ran out, or the leaf's own limits (characters of views,
    # layers, base64 runs) stopped the peeling. Not inspected, so the policy must hear of it.
    undecoded: list[str]


def expand_leaves(leaves: list[Leaf]) -> Expansion:
    """`leaves` with decoded views and joined split values appended to the texts of the
    leaves that hold them (the same list object when there is nothing to add), and the
    leaves whose encoded content a decoding limit left undecoded."""
    if not leaves:
        return Expansion(leaves, [])
    # Fragments are joined whatever the memo knows of each part: a part is clean alone.
    fragments, too_many = _fragment_joins(leaves) if len(leaves) > 1 else ({}, [])
    texts = dict.fromkeys([leaf.text for leaf in leaves])
    clean = _clean_texts
    fresh = [t for t in texts if hash(t) not in clean] if clean else list(texts)
    if not fresh:
        return _with_joins(leaves, {}, fragments, too_many, [])
    joined = "\x00" + "\x00".join(fresh) + "\x00"
    positions: list[int] = []
    anchors = _Anchors(set(), set(), set())
    for match in _AT_LEAF_START.finditer(joined):
        kind = match.lastgroup
        if kind == "json":
            positions.append(match.start() + 1)
        elif kind == "domain":
            anchors.domains.add(match.group(kind))
        elif kind == "digits":
            anchors.digits.add(match.group(kind))
        else:
            anchors.first_names.add(match.group(kind))
    for match in _TRIGGER.finditer(joined):
        run = match.group("run")
        if run is None or _may_be_base64(run) or decoders.may_be_hex_or_base32(run):
            positions.append(match.start())
    if not joined.isascii():
        positions.extend(m.start() for m in _NON_ASCII.finditer(joined))
    positions.extend(decoders.trigger_positions(joined))

    views_of: dict[str, list[str]] = {}
    undecoded: set[str] = set()
    if positions:
        starts = list(accumulate((len(t) + 1 for t in fresh), initial=1))
        budget = _Budget(MAX_VIEW_CHARS_PER_REQUEST)
        # In the order sent: which texts the budget leaves out must not depend on hashing.
        for order in sorted({max(0, bisect_right(starts, p) - 1) for p in positions}):
            text = fresh[order]
            limit = min(MAX_VIEW_CHARS_PER_LEAF, budget.left)
            views, short = _decode(text, limit)
            if short:
                undecoded.add(text)
            if views:
                budget.take(sum(len(v) for v in views))
                views_of[text] = views
    _remember_clean(fresh, views_of, anchors, undecoded)
    joins = _split_joins(leaves, anchors) if anchors else {}
    undecoded_paths = [leaf.path for leaf in leaves if leaf.text in undecoded] if undecoded else []
    if not views_of and not joins and not fragments and not too_many:
        return Expansion(leaves, undecoded_paths)
    for index, extra in joins.items():
        fragments.setdefault(index, []).extend(extra)   # the named joins last
    return _with_joins(leaves, views_of, fragments, too_many, undecoded_paths)


def _with_joins(
    leaves: list[Leaf], views_of: dict[str, list[str]], joins: dict[int, list[str]], too_many: list[str], undecoded: list[str]
) -> Expansion:
    if too_many:
        undecoded = list(dict.fromkeys(undecoded + too_many))
    if not views_of and not joins:
        return Expansion(leaves, undecoded)
    expanded = list(leaves)
    changed = False
    for index, leaf in enumerate(leaves):
        views = views_of.get(leaf.text) or []
        extra = joins.get(index)
        if extra:
            # Each text once, in order, a repeated one at its last place (the named joins end).
            extra = [e for e in reversed(dict.fromkeys(reversed(extra))) if e != leaf.text and e not in views]
        if views or extra:
            expanded[index] = replace(leaf, text=VIEW_SEPARATOR.join([leaf.text, *views, *(extra or ())]))
            changed = True
    return Expansion(expanded if changed else leaves, undecoded)


def _remember_clean(fresh: list[str], views_of: dict[str, list[str]], anchors: _Anchors, undecoded: set[str]) -> None:
    # A text the budget kept from being decoded is not known to be clean.
    if len(_clean_texts) + len(fresh) > _MEMO_MAX_ENTRIES:
        _clean_texts.clear()
    if not views_of and not anchors and not undecoded:
        _clean_texts.update(map(hash, fresh))
        return
    _clean_texts.update(hash(t) for t in fresh if t not in views_of and t not in anchors and t not in undecoded)
