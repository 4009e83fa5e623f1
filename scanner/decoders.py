"""Decoders of the evasion layer chain beyond percent/HTML/escapes/JSON/base64.

Each decoder here is one function `text -> views` with a cheap trigger first: most texts hold
nothing a decoder could undo and cost one regex search. A decoder gives a view only where the
transform turns up something that reads as text (valid UTF-8, few control characters) or a
binary with a file signature (handed on as base64 of its first bytes, so the blob detector can
name it). Random bytes (a digest or a UUID read as hex, a word read as base32) are neither, so
identifiers never become views.

    hex          runs of hex digits (either case, `0x` prefix), spaced or `0x..` byte dumps
    base32       RFC 4648 upper case, and lower case when padded with `=`
    base85       RFC 1924 (b85) and Adobe ascii85 (a85), on tokens with their punctuation (quotes
                 and brackets around a token tried without; a JSON or Python string literal read
                 with its `\"`, `\'`, `\\` escapes undone, as source code and reprs write it;
                 Adobe's framing anywhere in a token; a token without mixed case or without
                 punctuation, as encoded digits often are, when its 5-character groups open in
                 the band text's bytes give (`_text_leads`), and then only for a printable
                 ASCII view)
    base64       broken into equal chunks by whitespace or newlines
    reversed     only where the reversed text shows an address, a secret prefix or a digit
                 layout (an SSN, a phone, a Luhn-valid card) that the text as sent does not
    ROT13        only where ROT13 turns an address's top-level domain into a common one, shows
                 a secret prefix, an IBAN, a listed given name, or turns a run of capitalised
                 words (a name, an address) into words by letter-pair statistics
    obfuscation  `[at]`, `(AT)`, `{dot}`, `jane at example dot com` in an address-like context
    confusables  Cyrillic/Greek letters and `@`/`.` look-alikes that NFKC leaves alone
    digits       card/phone/SSN digit groups split by `/`, `_`, `|`, newlines, two spaces, or
                 glued to a word, and lists of single digits: separators collapsed
    characters   a value written one character at a time with one separator (`, ; | - : /`,
                 space, tab ...) or as quoted characters: the characters joined

Every loop is bounded: MAX_TRIES_PER_DECODER candidates decoded and MAX_VIEWS_PER_DECODER
views per text and decoder; a text with more reports `short` (the caller marks the leaf
`undecoded`, which the shipped policy blocks). The caller bounds layers and characters.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import math
import re
from functools import lru_cache
from importlib import resources

# Candidate runs decoded per text and decoder: a lock file with a hash per line has thousands
# of hex runs that decode to nothing, and must not be cut short for it (the work is linear in
# the text). Views per decoder are fewer: past MAX_VIEWS_PER_DECODER the text is `short`.
MAX_TRIES_PER_DECODER = 16384
MAX_VIEWS_PER_DECODER = 64
MIN_DECODED_CHARS = 6            # a view shorter than this carries nothing a detector finds
BINARY_VIEW_BYTES = 384          # re-encoded prefix of a binary result (magic bytes)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


# --- what a decoded result is ---------------------------------------------------------------


def as_text(data: bytes) -> str | None:
    """Decoded bytes as text when they are text, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text.strip()) < MIN_DECODED_CHARS or len(_CONTROL.findall(text)) > len(text) // 20:
        return None
    return text


# Signatures of four bytes or more (and a pickle's PROTO + FRAME / first opcode): random bytes
# of a digest or id meet them by chance about once in 2**28, so they may decide what a run
# of decoded bytes is. Shorter ones (gzip's two bytes) are checked by the blob detector on runs
# long enough to be files.
_STRONG_SIGNATURES: tuple[bytes, ...] = (
    b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06", b"\x28\xb5\x2f\xfd", b"PAR1", b"\x89HDF\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"%PDF-", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18",
    b"ARROW1", b"Obj\x01", b"\x1f\x8b\x08",
)
_PICKLE_START = re.compile(rb"\x80[\x04\x05]\x95|\x80[\x02\x03][\x28\x4a\x4b\x4d\x58\x5d\x63\x71\x7d\x8c]")
SIGNATURE_WINDOW = 128           # leading junk bytes skipped before a signature


def signature_offset(data: bytes, window: int = SIGNATURE_WINDOW) -> int:
    """Offset of a strong file signature in the first `window` bytes, or -1."""
    head = data[: window + 8]
    best = -1
    for magic in _STRONG_SIGNATURES:
        at = head.find(magic)
        if 0 <= at <= window and (best < 0 or at < best):
            best = at
    match = _PICKLE_START.search(head)
    if match is not None and match.start() <= window and (best < 0 or match.start() < best):
        best = match.start()
    return best


def bytes_view(data: bytes) -> str | None:
    """A decoder's result as a view: text as text, a file (signature found) as base64 of its
    bytes from the signature on, anything else (random bytes) as nothing."""
    text = as_text(data)
    if text is not None:
        return text
    at = signature_offset(data)
    if at < 0:
        return None
    return base64.b64encode(data[at : at + BINARY_VIEW_BYTES]).decode("ascii")


# Base64 of text is random only as encoded: a detector that judges a token by its entropy asks
# what the token decodes to, and a text of words or a small document (a JSON config) is no
# secret and no blob by entropy (its decoded view goes to every detector as text).
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_\-]+={0,2}")
_TEXT_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{16,}")   # a token of decoded text long enough to be a key


def base64_bytes(token: str) -> bytes | None:
    """The bytes of a base64 token (either alphabet, padded or not), or None."""
    if len(token) < 8 or not _B64_TOKEN.fullmatch(token):
        return None
    body = token.rstrip("=")
    if len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if ("-" in body or "_" in body) else None,
                                validate=True)
    except (binascii.Error, ValueError):
        return None


def reads_as_text(data: bytes | None, is_random) -> bool:  # type: ignore[no-untyped-def]
    """Whether decoded bytes are printable text that is not itself random by `is_random` (a
    detector's own test of a token): words with spaces or a document, none of whose tokens
    is random; or one token that is not."""
    if not data:
        return False
    printable = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13))
    if printable / len(data) <= 0.95:
        return False
    text = data.decode("ascii", "replace")
    if " " not in text and "\n" not in text:
        return not is_random(text.strip())
    return not any(is_random(token) for token in _TEXT_TOKEN.findall(text))


class Tries:
    """Counts candidate decodes of one decoder on one text; `short` once the bound is hit."""

    __slots__ = ("left", "short")

    def __init__(self) -> None:
        self.left = MAX_TRIES_PER_DECODER
        self.short = False

    def take(self) -> bool:
        if self.left <= 0:
            self.short = True
            return False
        self.left -= 1
        return True

    def full(self, views: list[str]) -> bool:
        """True (and `short`) once a decoder has given MAX_VIEWS_PER_DECODER views."""
        if len(views) >= MAX_VIEWS_PER_DECODER:
            self.short = True
            return True
        return False


# --- hex ------------------------------------------------------------------------------------

_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?([0-9a-fA-F]{16,})(?![0-9A-Za-z])")
# Byte dumps: `de ad be ef`, `de:ad:be:ef`, `0x6a, 0x61`, `\x6a` is an escape (done before).
_HEX_DUMP = re.compile(
    r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{2}(?:(?:[ \t]{1,2}|[:,;\-]|, |[ \t]*(?:\r?\n|(?:\\r)?\\n)[ \t]*)(?:0[xX])?[0-9a-fA-F]{2}){7,}(?![0-9A-Za-z])"
)
_HEX_DUMP_SEP = re.compile(r"0[xX]|\\n|[^0-9a-fA-F]")
HEX_TRIGGER = re.compile(f"{_HEX_RUN.pattern}|{_HEX_DUMP.pattern}")


def hex_views(text: str, tries: Tries) -> list[str]:
    views: list[str] = []
    for match in _HEX_RUN.finditer(text):
        digits = match.group(1)
        if tries.full(views):
            break
        if len(digits) % 2 or not tries.take():
            continue
        view = bytes_view(bytes.fromhex(digits))
        if view is not None:
            views.append(view)
    for match in _HEX_DUMP.finditer(text):
        if tries.full(views) or not tries.take():
            break
        view = bytes_view(bytes.fromhex(_HEX_DUMP_SEP.sub("", match.group())))
        if view is not None:
            views.append(view)
    return views


# --- base32 ---------------------------------------------------------------------------------

_B32_RUN = re.compile(r"(?<![A-Za-z0-9+/])([A-Z2-7]{16,}|[a-z2-7]{16,})(={0,6})(?![A-Za-z0-9+/])")
B32_TRIGGER = _B32_RUN


def base32_views(text: str, tries: Tries) -> list[str]:
    views: list[str] = []
    for match in _B32_RUN.finditer(text):
        body = match.group(1)
        if body.islower() and not match.group(2):
            continue  # lower case only when padded: unpadded, it is a long word or identifier
        if tries.full(views):
            break
        if len(body) % 8 in (1, 3, 6) or not tries.take():
            continue  # no base32 text has these lengths
        if len(body) > 2 * HEAD_CHARS and not _head_may_say_something(
            _try(lambda: base64.b32decode(body[:HEAD_CHARS], casefold=True))
        ):
            continue  # see HEAD_CHARS
        try:
            data = base64.b32decode(body + "=" * (-len(body) % 8), casefold=True)
        except (binascii.Error, ValueError):
            continue
        view = bytes_view(data)
        if view is not None:
            views.append(view)
    return views


# --- base85 / ascii85 -----------------------------------------------------------------------

# Characters of the base85 alphabets that URLs, paths and identifiers seldom hold in a token
# (`-`, `_`, `.`, `/`, `:` and `,` they do): a token of 10+ characters (8 bytes) with one of
# them and letters of both cases is worth a trial decode. Encoded digits (a card, an SSN) use a
# narrow band of each alphabet, with as little as one such character (`1c@6G1cREP1cI9P1H7-G`).
_B85_TOKEN = re.compile(r"[\"'(\[{=]?<~[!-uz\s]{10,}~>|[!-~]{10,}")  # Adobe's framing may hold whitespace
_B85_PUNCTUATION = frozenset("!\"#$%&'()*+;<=>?@[\\]^`{|}~")
_B85_ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~")
B85_TRIGGER = re.compile(r"<~|(?<![!-~])(?=[!-~]{10})[!-~]*?[!\"#$%&'()*+;<=>?@\[\\\]^`{|}~]")
# Quotes and brackets a token is written between (a Python literal, a repr, a JSON string in
# source code): the encoded text is tried without them too.
_B85_DELIMITERS = "\"'`()[]{}<>,;:="


def may_be_base85(token: str) -> bool:
    if token.startswith("<~") or ("<~" in token and "~>" in token):
        return True  # Adobe's framing, also inside quotes or brackets
    return _mixed_case_b85(token) or _text_leads(token)


def _mixed_case_b85(token: str) -> bool:
    """Letters of both cases and a character of the base85 alphabets that identifiers and
    paths seldom hold: the texture of encoded bytes (any bytes: text, UTF-8, a file)."""
    return (_B85_PUNCTUATION_CHAR.search(token) is not None and _UPPER.search(token) is not None
            and _LOWER.search(token) is not None)


def _text_leads(token: str) -> bool:
    """Whether the token, without the quotes or brackets around it, reads as base85 or ascii85
    of ASCII text by its group leads: each 5-character group encodes 4 bytes, and for bytes of
    printable text (0x09-0x7e) the group's first character falls in a narrow band (ascii85
    `#`..`I`, base85 `2`..`e`). Digits, spaces and dashes encode to tokens without mixed case
    (an SSN as ascii85 is `1GCR,1H$@23A<>`, as base85 can be `FfcGMFfcGMFa`); so do constants
    and identifiers, a fifth of which meet the band by chance: such a token's view must be
    printable ASCII (`strict` in base85_views)."""
    readings = [token, token.strip(_B85_DELIMITERS)]   # the delimiters are base85 characters too
    if "'" in token or '"' in token:
        readings.extend(_QUOTE.split(token))           # a literal's content
    for core in readings:
        if len(core) >= 10 and len(core) % 5 != 1:
            leads = core[::5]
            if _A85_LEADS.fullmatch(leads) is not None or _B85_LEADS.fullmatch(leads) is not None:
                return True
    return False


_B85_PUNCTUATION_CHAR = re.compile("[" + re.escape("".join(sorted(_B85_PUNCTUATION))) + "]")
_UPPER, _LOWER = re.compile("[A-Z]"), re.compile("[a-z]")
_A85_LEADS = re.compile(r"[#-I]+")
_B85_LEADS = re.compile(r"[2-9A-Za-e]+")


def _b85_candidates(token: str) -> list[str]:
    """The token, and the token without the quotes or brackets around it (or the parts
    between its quotes, or the contents of the string literals in it with their escapes
    undone), each 10 characters or more."""
    candidates = []
    # A token that opens with a quote is a string literal: its content with the escapes undone
    # is the likelier reading (the escaped one can decode to text too, wrongly).
    literal = token[:1] in ("'", '"')
    start, end = token.find("<~"), token.rfind("~>")
    if 0 < start < end:
        framed = token[start : end + 2]  # Adobe's framing inside quotes: `"<~...~>"`
        readings = [framed, unescape_literal(framed)] if "\\" in framed else [framed]
        candidates.extend(reversed(readings) if literal else readings)
        # (or `<~` and `~>` by chance inside a base85 text: the token is tried too)
    contents: list[str] = []
    if ("\\" in token or literal) and ("'" in token or '"' in token):
        # Both alphabets hold quotes and a backslash, so an encoded value written as a string
        # literal (JSON in source code, a Python repr in a traceback or a value repr) has
        # them escaped: `"6\"t+Q+AZ..."`, `'3&WZH2)$U?3&r\\'`.
        contents = [content for content in literal_contents(token) if len(content) >= 10]
    candidates.extend([*contents, token] if literal else [token, *contents])
    for quote in ("'", '"'):
        if quote in token:
            candidates.extend(part for part in token.split(quote) if len(part) >= 10)
    stripped = token.strip(_B85_DELIMITERS)
    if len(stripped) >= 10:
        candidates.append(stripped)
    return list(dict.fromkeys(candidates))  # each reading once, in this order


# The escapes a JSON or Python string literal gives the characters of base64/85 and hex text,
# and the line breaks of a wrapped encoding (no encoded character: dropped, as Adobe's
# decoder drops whitespace).
_LITERAL_ESCAPE = re.compile(r"\\([\\'\"/nrt])")


def unescape_literal(text: str) -> str:
    """`text` with the backslash escapes of quotes, `/` and the backslash itself undone once
    (what json.dumps or repr() add to a printable ASCII value), escaped line breaks and tabs
    dropped."""
    return _LITERAL_ESCAPE.sub(_escaped_char, text)


def _escaped_char(match: re.Match[str]) -> str:
    char = match.group(1)
    return "" if char in "nrt" else char


def literal_contents(text: str) -> list[str]:
    """The contents of the quoted string literals in `text` (JSON or Python: `'...'` or
    `"..."`, a backslash escaping the next character), escapes undone; in one pass, an
    unclosed quote ends the search."""
    found: list[str] = []
    position = 0
    length = len(text)
    while position < length:
        opening = _QUOTE.search(text, position)
        if opening is None:
            break
        quote = opening.group()
        closing = (_DOUBLE_QUOTED_END if quote == '"' else _SINGLE_QUOTED_END).match(text, opening.end())
        if closing is None:
            break
        content = text[opening.end() : closing.end() - 1]
        found.append(unescape_literal(content) if "\\" in content else content)
        position = closing.end()
    return found


_QUOTE = re.compile(r"['\"]")
# The rest of a literal up to its closing quote (possessive: linear on any input).
_DOUBLE_QUOTED_END = re.compile(r'(?:[^"\\]++|\\.)*+"', re.DOTALL)
_SINGLE_QUOTED_END = re.compile(r"(?:[^'\\]++|\\.)*+'", re.DOTALL)


def base85_views(text: str, tries: Tries) -> list[str]:
    views: list[str] = []
    tried: set[str] = set()  # a token repeated (a constant in every line) is decoded once
    for match in _B85_TOKEN.finditer(text):
        token = match.group()
        if token in tried or not may_be_base85(token):
            continue
        tried.add(token)
        if tries.full(views) or not tries.take():
            break
        caseless = not token.startswith("<~") and not _mixed_case_b85(token)  # strict: see _text_leads
        for number, candidate in enumerate(_b85_candidates(token) if not token.startswith("<~") else [token]):
            if number and not tries.take():
                break  # each further reading of the token is a decode of its own
            view = _base85_view(candidate)
            if view is not None and caseless and not (view.isascii() and view.isprintable()):
                continue  # random bytes of a constant read as base85 (1 in 3,000 is text)
            if view is not None:
                views.append(view)
                break
    return views


_B85_TEXT = re.compile("[" + re.escape("".join(sorted(_B85_ALPHABET))) + "]*")
_A85_TEXT = re.compile("[!-uz]*")


def _base85_view(token: str) -> str | None:
    decoders_of_token: list = []
    if token.startswith("<~"):
        decoders_of_token.append(lambda t: base64.a85decode(t if t.endswith("~>") else t + "~>", adobe=True,
                                                            ignorechars=b" \t\r\n"))
    else:
        if _B85_TEXT.fullmatch(token):
            decoders_of_token.append(base64.b85decode)
        if _A85_TEXT.fullmatch(token):
            decoders_of_token.append(base64.a85decode)
    for decode in decoders_of_token:
        if len(token) > 2 * HEAD_CHARS and not _head_may_say_something(_try(lambda: decode(token[:HEAD_CHARS]))):
            continue  # the first bytes are neither text nor a file: the rest is not decoded
        data = _try(lambda: decode(token))
        view = bytes_view(data) if data else None
        if view is not None:
            return view
    return None


# A long token is decoded whole only when its first HEAD_CHARS characters (512 bytes of
# base85: past a signature's window) decode to the start of a text or a file: the pure-Python
# base85 and base32 decoders take a second per megabyte, and random runs decode to neither.
HEAD_CHARS = 640


def _head_may_say_something(head: bytes) -> bool:
    if not head:
        return False
    if signature_offset(head) >= 0:
        return True
    try:  # a character may be cut at the end of the head
        text = codecs.getincrementaldecoder("utf-8")().decode(head[:-4], final=False)
    except UnicodeDecodeError:
        return False
    return len(_CONTROL.findall(text)) <= len(text) // 20


def _try(decode) -> bytes:  # type: ignore[no-untyped-def]
    try:
        return decode()
    except (binascii.Error, ValueError, OverflowError):
        return b""


# --- base64 broken by whitespace ------------------------------------------------------------

_CHUNKED_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4,}[ \t]*(?:\r?\n|(?:\\r)?\\n)?[ \t]*){2,}[A-Za-z0-9+/]*={0,2}")
_CHUNK_SPLIT = re.compile(r"\s+|(?:\\r)?\\n")
_GAP = r"(?:[ \t]+|[ \t]*(?:\r?\n|(?:\\r)?\\n)[ \t]*)"
# A chunk with the texture of encoded bytes, then one more chunk (a short value wrapped at 16
# or 76 characters is two lines).
CHUNKED_B64_TRIGGER = re.compile(
    rf"(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+/]{{0,76}}(?:[0-9+/]|[a-z][A-Z]))[A-Za-z0-9+/]{{4,76}}{_GAP}[A-Za-z0-9+/]{{2,}}"
)


def chunked_base64_views(text: str, tries: Tries) -> list[str]:
    views: list[str] = []
    for match in _CHUNKED_B64.finditer(text):
        chunks = [c for c in _CHUNK_SPLIT.split(match.group()) if c]
        if len(chunks) < 2 or not _looks_chunked(chunks):
            continue
        if tries.full(views) or not tries.take():
            break
        joined = "".join(chunks)
        body = joined.rstrip("=")
        body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
        try:
            data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        view = bytes_view(data)
        if view is not None:
            views.append(view)
    return views


def _looks_chunked(chunks: list[str]) -> bool:
    """Equal-length chunks (a fixed wrap), at least 16 characters in all, that do not read
    as words: digits or `+/` or an upper-case letter after a lower-case one in some chunk."""
    width = len(chunks[0].rstrip("="))
    if any(len(c) != width for c in chunks[:-1]) or len(chunks[-1].rstrip("=")) > width:
        return False
    if sum(len(c) for c in chunks) < 16:
        return False
    return any(_encoded_texture(c) for c in chunks)


_TEXTURE = re.compile(r"[0-9+/]|[a-z][A-Z]")


def _encoded_texture(chunk: str) -> bool:
    return bool(_TEXTURE.search(chunk))


# --- reversal and ROT13 ---------------------------------------------------------------------

# Top-level domains an address in user data ends in (the generic ones, and any two letters).
_GENERIC_TLDS = frozenset(
    "com org net edu gov mil int info biz name pro mobi app dev io ai co me tv cloud tech online site "
    "email mail example test invalid local localhost internal corp lan home".split()
)


def _is_tld(label: str) -> bool:
    label = label.lower()
    return label.isalpha() and (len(label) == 2 or label in _GENERIC_TLDS)


# Prefixes of well-known credentials with the characters that follow them; classes are the
# same under reversal and ROT13, only the literal prefix changes.
_SECRET_SHAPES: tuple[tuple[str, str], ...] = (
    ("AKIA", "[A-Z0-9]{16}"), ("ASIA", "[A-Z0-9]{16}"), ("ghp_", "[A-Za-z0-9]{30,}"),
    ("gho_", "[A-Za-z0-9]{30,}"), ("ghs_", "[A-Za-z0-9]{30,}"), ("github_pat_", "[A-Za-z0-9_]{30,}"),
    ("glpat-", "[A-Za-z0-9_\\-]{20}"), ("xoxb-", "[A-Za-z0-9\\-]{10,}"), ("xoxp-", "[A-Za-z0-9\\-]{10,}"),
    ("sk-", "[A-Za-z0-9_\\-]{20,}"), ("sk_live_", "[A-Za-z0-9]{16,}"), ("AIza", "[A-Za-z0-9_\\-]{35}"),
    ("hf_", "[A-Za-z0-9]{30,}"), ("-----BEGIN ", ""),
)


def _rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


_FORWARD_SECRET = re.compile("|".join(re.escape(prefix) + tail for prefix, tail in _SECRET_SHAPES))
# The trigger for reversal is the reversed literal prefix alone (a class with a count before
# it would be tried at every position of a long run); the reversed text is then checked.
_REVERSED_SECRET = re.compile("|".join(re.escape(prefix[::-1]) for prefix, _ in _SECRET_SHAPES))
_ROT13_SECRET = re.compile("|".join(re.escape(_rot13(prefix)) + tail for prefix, tail in _SECRET_SHAPES))
# An address read backwards: `moc.elpmaxe@eod.enaj` (the reversed top-level domain first).
_REVERSED_EMAIL = re.compile(r"(?<![\w.])([A-Za-z]{2,24})\.[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*@[A-Za-z0-9._%+\-]+")
# Digit layouts read backwards: an SSN (4-2-3), a phone ending in a reversed `+1`/area code.
_REVERSED_DIGITS = re.compile(
    r"(?<![0-9A-Za-z\-])\d{4}(?:-\d{2}-| \d{2} )\d{3}(?![0-9A-Za-z\-])"
    r"|(?<![0-9A-Za-z\-])\d{4}[ .\-]\d{3}(?: ?\) ?|[ .\-])\d{3}\(?(?: ?1?\+)?(?![0-9A-Za-z])"
    r"|(?<!\d)\d{7,14}\+"
    # A number with its country code last: `8495-65899 11 55+` is +55 11 99856-5948.
    r"|(?<![0-9A-Za-z+])\d{2,5}(?:[ .\-]\d{1,5}){1,4}[ .\-]?\d{1,3}\+(?![0-9A-Za-z])"
)
# A card in groups of four, or an Amex in 4-6-5 read backwards as 5-6-4.
_CARD_RUN = re.compile(r"(?<![\d])\d{4}([ \-])\d{4}\1\d{4}\1\d{1,4}(?![\d])|(?<![\d])\d{5}([ \-])\d{6}\2\d{4}(?![\d])")
# An ungrouped card read backwards: 15 or 16 digits, Luhn-valid and starting with a card
# network's digit (2-6) only when reversed (a run valid as sent is read as sent).
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z.])\d{15,16}(?![0-9A-Za-z.])")
# IBANs (ISO 13616: two letters, two check digits, 10-30 letters or digits, written whole or
# in groups of four) read backwards or under ROT13; the mod-97 check decides, so a code or
# an id of that shape is not turned.
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}")
_IBAN_TEXT = r"(?:[A-Za-z0-9]{10,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)"
_ROT13_IBAN = re.compile(rf"(?<![A-Za-z0-9])[A-Za-z]{{2}}[0-9]{{2}}{_IBAN_TEXT}(?![A-Za-z0-9])")
_REVERSED_IBAN = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:[A-Za-z0-9]{1,4} )?(?:[A-Za-z0-9]{4} ){2,7}|[A-Za-z0-9]{10,30})[0-9]{2}[A-Za-z]{2}(?![A-Za-z0-9])"
)
# Where the IBAN checks are worth running (digit-led, for the request-wide trigger).
IBAN_TRIGGER = re.compile(r"[0-9]{2}[A-Za-z]{2}(?![A-Za-z0-9])|(?<=(?<![A-Za-z0-9])[A-Za-z]{2})[0-9]{2}")


# IBAN length by country (the SWIFT IBAN registry): a turned text must have a real country's
# length as well as the check digits before it is read turned.
_IBAN_LENGTHS = dict(
    (entry[:2], int(entry[2:]))
    for entry in (
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 "
        "EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 "
        "KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 "
        "PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20"
    ).split()
)


def is_iban(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not _IBAN.fullmatch(compact) or _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _card_reversed(digits: str) -> bool:
    """A card number read backwards: valid (Luhn, a network's first digit) only reversed. Of
    an odd length, reversal keeps the Luhn sum: there the network's prefix decides (an Amex,
    34 or 37, reversed)."""
    from metagate.scanner.detectors.recognizers import is_epoch

    if is_epoch(digits):
        return False  # a time as sent is read as a time (1158566756923614 reversed is a Visa)
    backwards = digits[::-1]
    if len(digits) % 2:
        return backwards[:2] in ("34", "37") and digits[:2] not in ("34", "37") and _luhn(backwards)
    return not _luhn(digits) and backwards[0] in "23456" and _luhn(backwards)
_EMAILISH = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.([A-Za-z]{2,24})(?![A-Za-z0-9])")
REVERSAL_TRIGGER = re.compile(f"{_REVERSED_SECRET.pattern}|{_REVERSED_EMAIL.pattern}|{_REVERSED_DIGITS.pattern}|{_CARD_RUN.pattern}")
ROT13_TRIGGER = re.compile(f"{_ROT13_SECRET.pattern}|{_EMAILISH.pattern}")


# A capitalised name pair read backwards: words of lower-case letters ending in a capital
# (`eoD enaJ`), a shape that text as written does not have; an initial between them reads
# `.U` backwards (`eoD .U enaJ`).
_REVERSED_NAME = re.compile(
    r"(?<![A-Za-zÀ-ÖØ-öø-ÿ])[a-zß-öø-ÿ]{1,20}[A-ZÀ-ÖØ-Þ]"
    r"(?:[ ,.]{1,3}(?:[A-ZÀ-ÖØ-Þ][ ,.]{1,3})?[a-zß-öø-ÿ]{1,20}[A-ZÀ-ÖØ-Þ]){1,3}(?![A-Za-zÀ-ÖØ-öø-ÿ])"
)
# A capitalised pair whose first word under ROT13 is a given name and as sent is not.
_CAPITALISED_PAIR = re.compile(
    r"(?<![A-Za-zÀ-ÖØ-öø-ÿ])([A-Z][a-zß-öø-ÿ]{1,20})[ ,.]{1,3}([A-Z][a-zß-öø-ÿ]{1,20})(?![A-Za-zÀ-ÖØ-öø-ÿ])"
)


@lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    # The list NER reads (scanner/detectors/given_names.txt, lower case), package data.
    text = resources.files("metagate.scanner.detectors").joinpath("given_names.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _rot13_name(text: str) -> bool:
    names = _given_names()
    for match in _CAPITALISED_PAIR.finditer(text):
        for word in (match.group(1).lower(), match.group(2).lower()):
            if word not in names and _rot13(word) in names:
                return True
    return False


# --- words that read as words only turned ---------------------------------------------------
# A name or an address under ROT13 is a run of capitalised words (ROT13 keeps the case) whose
# letters read as words turned and as gibberish sent: `Qe. Zrv Unqqnq`, `1 Jvyybjoebbx Nir,
# Qnlgba`. How well a word reads is the log-probability of its letter pairs (a letter-bigram
# model of 92,000 given names and English words, scanner/detectors/letter_pairs.json, built by
# benchmarks/build_letter_pairs.py). A run of two words or more is turned when, per letter
# pair, it reads at least ROT13_GAIN better turned; English, names and identifiers as sent read
# worse turned, and a run needs ROT13_MIN_PAIRS pairs before statistics say anything. (Measured
# on 1,000 generated names and addresses in five contexts: 6 read no better turned; on the
# captured traffic, the docs, the source and ML vocabulary capitalised: no run turned.)
ROT13_GAIN = 0.3
ROT13_MIN_PAIRS = 10
MAX_ROT13_WORDS = 65536          # capitalised words weighed per text; past it the text is turned

_CAP_WORD = re.compile(r"(?<![^\W_])[A-Z][^\W\dA-Z_]{1,24}(?![^\W_])")
_NOT_A_TO_Z = re.compile(r"[^a-z]+")
# Between two words of one run: blanks and punctuation of names and addresses, and up to three
# short tokens among them (a house number, a postcode, an initial, `rue des`, `van`, `de la`).
_GAP_MARKS = r"[ \t,.'’/#()\-]{1,4}"
_RUN_GAP = re.compile(rf"{_GAP_MARKS}(?:(?:[0-9A-Z]{{1,5}}|[a-z]{{1,3}}){_GAP_MARKS}){{0,3}}")


@lru_cache(maxsize=1)
def _pair_log_probabilities() -> dict[str, float]:
    document = json.loads(resources.files("metagate.scanner.detectors").joinpath("letter_pairs.json").read_text("utf-8"))
    follows = document["follows"]
    table: dict[str, float] = {}
    for first, row in document["counts"].items():
        total = sum(row) + len(row)  # add-one: a pair never seen is rare, not impossible
        for second, count in zip(follows, row):
            table[first + second] = math.log((count + 1) / total)
    return table


@lru_cache(maxsize=16384)
def _turn_gain(word: str) -> float:
    """How much better `word` reads under ROT13 than as sent: the difference of the summed
    log-probabilities of its letter pairs (positive: it reads better turned)."""
    table = _pair_log_probabilities()
    letters = _NOT_A_TO_Z.sub("", word.lower())   # ROT13 turns a-z only: `Føerafra` is weighed as `ferafra`
    sent = f"^{letters}$"
    turned = f"^{_rot13(letters)}$"
    return sum(table[turned[i : i + 2]] - table[sent[i : i + 2]] for i in range(len(sent) - 1))


def turned_word_runs(text: str, first_only: bool = False) -> list[int]:
    """Offsets of the runs of capitalised words in `text` that read as words under ROT13 and
    not as sent (see ROT13_GAIN): the first of each NUL-separated text (the request-wide
    trigger joins leaf texts with NUL; one offset names the leaf), or the first only. Past
    MAX_ROT13_WORDS words, the offset of the next one (the text is turned unweighed rather
    than left unread)."""
    found: list[int] = []
    run: list[tuple[int, float, int]] = []   # (start, gain, pairs) of the current run's words
    last_end = -1
    count = 0
    position = 0
    while True:
        for match in _CAP_WORD.finditer(text, position):
            count += 1
            if count > MAX_ROT13_WORDS:
                found.append(match.start())
                return found
            start, end = match.span()
            if run and not _RUN_GAP.fullmatch(text, last_end, start):
                if _weigh(run, found):
                    break
                run = []
            run.append((start, _turn_gain(match.group()), end - start + 1))
            last_end = end
        else:
            _weigh(run, found)
            return found
        if first_only:
            return found
        run = []
        position = text.find("\x00", last_end) + 1  # on to the next leaf's text
        if position == 0:
            return found


def _weigh(run: list[tuple[int, float, int]], found: list[int]) -> bool:
    # Words at either end that read better as sent (`Owner: Qe. Zrv Unqqnq`) are no part of it.
    first, last = 0, len(run) - 1
    while first <= last and run[first][1] <= 0:
        first += 1
    while last >= first and run[last][1] <= 0:
        last -= 1
    pairs = sum(p for _, _, p in run[first : last + 1])
    if last > first and pairs >= ROT13_MIN_PAIRS and sum(g for _, g, _ in run[first : last + 1]) >= ROT13_GAIN * pairs:
        found.append(run[first][0])
        return True
    return False


_ANY_DIGIT = re.compile(r"[0-9]")


def reversed_view(text: str) -> str | None:
    """The text backwards, when that shows something the text as sent does not."""
    if _REVERSED_SECRET.search(text) and _FORWARD_SECRET.search(text[::-1]):
        return text[::-1]
    digits = _ANY_DIGIT.search(text) is not None  # the digit layouts need one (a cheap first look)
    if digits and _REVERSED_DIGITS.search(text):
        return text[::-1]
    if "@" in text:
        for match in _REVERSED_EMAIL.finditer(text):
            if _is_tld(match.group(1)[::-1]):
                return text[::-1]
    for match in _CARD_RUN.finditer(text) if digits else ():
        if _card_reversed(re.sub(r"\D", "", match.group())):
            return text[::-1]
    for match in _DIGIT_RUN.finditer(text) if digits else ():
        if _card_reversed(match.group()):
            return text[::-1]
    if digits and IBAN_TRIGGER.search(text):
        for match in _REVERSED_IBAN.finditer(text):
            if not is_iban(match.group()) and is_iban(match.group()[::-1]):
                return text[::-1]
    if _REVERSED_NAME.search(text):
        return text[::-1]
    return None


def rot13_view(text: str) -> str | None:
    """The text under ROT13, when that shows a credential prefix, turns an address's top-level
    domain into a real one (and the address as sent has none), shows a valid IBAN or a listed
    given name, or turns a run of capitalised words into words (`turned_word_runs`)."""
    if _ROT13_SECRET.search(text):
        return _rot13(text)
    for match in _EMAILISH.finditer(text):
        tld = match.group(1)
        if not _is_tld(tld) and _is_tld(_rot13(tld)):
            return _rot13(text)
    if IBAN_TRIGGER.search(text):
        for match in _ROT13_IBAN.finditer(text):
            if not is_iban(match.group()) and is_iban(_rot13(match.group())):
                return _rot13(text)
    if _rot13_name(text) or turned_word_runs(text, first_only=True):
        return _rot13(text)
    return None


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return len(digits) >= 13 and total % 10 == 0


# --- human obfuscation of addresses -----------------------------------------------------------

_BRACKETS = r"[\[\(\{{<]\s*{word}\s*[\]\)\}}>]"
_AT_WORD = re.compile(r"\s*" + _BRACKETS.format(word=r"(?:at|@)") + r"\s*", re.IGNORECASE)
_DOT_WORD = re.compile(r"\s*" + _BRACKETS.format(word=r"(?:dot|\.)") + r"\s*", re.IGNORECASE)
# `jane at example dot com`, `jane AT example.com`: a word, `at`, then a dotted or "dot" domain.
_SPELLED = re.compile(
    r"(?<![\w.])([A-Za-z0-9][A-Za-z0-9._%+\-]*(?:\s+(?:dot|DOT|Dot)\s+[A-Za-z0-9][A-Za-z0-9._%+\-]*)*)\s+(at|AT|At)\s+"
    r"([A-Za-z0-9][A-Za-z0-9\-]*(?:(?:\.|\s+(?:dot|DOT|Dot)\s+)[A-Za-z0-9][A-Za-z0-9\-]*)+)"
)
_SPELLED_DOT = re.compile(r"\s+(?:dot|DOT|Dot)\s+")
_DOMAIN_SPELLED_DOT = re.compile(r"(@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*)\s+(?:dot|DOT|Dot)\s+(?=[A-Za-z0-9])")
OBFUSCATION_TRIGGER = re.compile(
    _BRACKETS.format(word=r"(?i:at|dot|@|\.)")
    + r"|\s(?:at|AT|At)\s+[A-Za-z0-9\-]+(?:\.|\s+(?:dot|DOT|Dot)\s+)[A-Za-z]"
)


def deobfuscated_view(text: str) -> str | None:
    out = _AT_WORD.sub("@", text)
    out = _DOT_WORD.sub(".", out)

    def spelled(match: re.Match[str]) -> str:
        if match.group(2) != "AT" and not _SPELLED_DOT.search(match.group(0)):
            # `docs at docs.zenml.io` is prose: a lower-case `at` before a plain domain is
            # an obfuscation only with a spelled-out `dot` too.
            return match.group()
        domain = _SPELLED_DOT.sub(".", match.group(3))
        local = _SPELLED_DOT.sub(".", match.group(1))
        return f"{local}@{domain}" if _is_tld(domain.rsplit(".", 1)[-1]) else match.group()

    out = _SPELLED.sub(spelled, out)
    if "@" in out and _SPELLED_DOT.search(out):
        # `jane(at)example dot com`: a bracketed `at`, then a spelled-out `dot` in the domain.
        spelled_out = out
        for _ in range(4):  # a label per pass: `@mail dot example dot co dot uk`
            joined = _DOMAIN_SPELLED_DOT.sub(r"\1.", spelled_out)
            if joined == spelled_out:
                break
            spelled_out = joined
        if any(_is_tld(m.group(1)) for m in _EMAILISH.finditer(spelled_out)):
            out = spelled_out
    if out == text or "@" not in out or not _EMAILISH.search(out):
        return None
    return out


# --- look-alike characters --------------------------------------------------------------------

# From Unicode's confusables.txt (the entries whose target is one ASCII letter, `@` or `.`, for
# the scripts a Latin text is disguised with: Cyrillic, Greek, Armenian, Cherokee/Lisu capitals,
# and punctuation). NFKC maps full-width and mathematical forms already; these it leaves alone.
_CONFUSABLES = {
    # Cyrillic small
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k",
    "ӏ": "l", "м": "m", "п": "n", "о": "o", "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t",
    "ц": "u", "ѵ": "v", "ԝ": "w", "х": "x", "у": "y", "ӡ": "z", "ё": "e", "ї": "i", "ү": "y",
    # Cyrillic capital
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ԝ": "W", "Ԛ": "Q", "Ү": "Y",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ϲ": "c", "ϳ": "j",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    # Armenian, Latin extensions
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ɑ": "a", "ɡ": "g", "ı": "i", "ȷ": "j",
    "ʏ": "y", "ɪ": "i", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴏ": "o", "ᴜ": "u", "ᴠ": "v",
    "ᴡ": "w", "ᴢ": "z",
    # `@` and `.` look-alikes (NFKC maps ＠ ﹫ ． ․ itself)
    "⍥": "@", "ꓸ": ".", "܁": ".", "܂": ".", "۔": ".", "⸱": ".",
    "·": ".", "‧": ".", "∙": ".", "⋅": ".", "。": ".", "｡": ".", "᛫": ".", "𐩐": ".",
    "٫": ".",
}
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
CONFUSABLE_TRIGGER = re.compile("[" + re.escape("".join(k for k in _CONFUSABLES if len(k) == 1)) + "]")


_MIXED_TOKEN = re.compile(r"\S+")
_ASCII_LETTER = re.compile(r"[A-Za-z0-9@.]")


def folded_view(text: str) -> str | None:
    """Look-alike characters as the ASCII they imitate, where a word mixes them with ASCII
    letters, digits, `@` or `.` (a disguised value; Russian or Greek prose has no Latin
    letters inside its words and is left alone)."""
    if text.isascii() or not CONFUSABLE_TRIGGER.search(text):
        return None
    if not any(
        CONFUSABLE_TRIGGER.search(token) and _ASCII_LETTER.search(token) for token in _MIXED_TOKEN.findall(text)
    ):
        return None
    folded = text.translate(_CONFUSABLE_TABLE)
    return folded if folded != text else None


# --- digit layouts --------------------------------------------------------------------------

# Groups of digits with one separator repeated between them: `/`, `_`, `|`, `,`, `;`, `.` in a
# run of single digits, two or more spaces, a newline or a tab; or single digits separated
# by single spaces. The recognizers read groups split by one space or `-` already.
_SPLIT_DIGITS = re.compile(
    r"(?<![0-9A-Za-z.])\+?\d{1,6}(?P<sep>[ ]*[/_|,;][ ]*|[ ]{2,}|[ \t]*\r?\n[ \t]*|\t|\\n)\d{1,6}(?:(?P=sep)\d{1,6})+(?![0-9])"
    r"|(?<![0-9A-Za-z.])\d(?: \d){8,18}(?![0-9])"
)
# A word glued to a digit run (`card4539004010602815`): the token is letters then digits (or
# the other way round), so hex digests and ids, whose letters and digits interleave, are not.
_GLUED_DIGITS = re.compile(
    r"(?<![0-9A-Za-z])([A-Za-z_]+)(\d{9,19})(?![0-9A-Za-z])|(?<![0-9A-Za-z])(\d{9,19})([A-Za-z_]+)(?![0-9A-Za-z])"
)
_HEX_LETTERS = re.compile(r"[a-fA-F]+")
DIGIT_TRIGGER = re.compile(f"{_SPLIT_DIGITS.pattern}|{_GLUED_DIGITS.pattern}")
_NOT_DIGIT = re.compile(r"[^0-9+]+")
_MIN_DIGITS = 9
_MAX_GROUPS = 256  # groups of one run put in a view


def digit_views(text: str, tries: Tries) -> list[str]:
    """Split or glued digit runs of an identifier's length, their separators collapsed (one
    view, a line each)."""
    views: list[str] = []
    for match in _SPLIT_DIGITS.finditer(text):
        groups = [g for g in _NOT_DIGIT.split(match.group()) if g][:_MAX_GROUPS]
        count = sum(len(g.lstrip("+")) for g in groups)
        if count < _MIN_DIGITS:
            continue  # longer runs too: a card among other groups (`4539|0040|1060|2815|2024`)
        if all(len(g) == 1 for g in groups):
            views.append("".join(groups))          # a list of single digits
        elif sum(len(g.lstrip("+")) <= 2 for g in groups) <= 1:
            # Card, phone, SSN and account groups are three digits or more (an SSN's middle
            # pair and a country code aside); dates and times are pairs: 05_22_49_600326.
            views.append(" ".join(groups))
        if tries.full(views):
            break
    for match in _GLUED_DIGITS.finditer(text):
        word = match.group(1) if match.group(1) is not None else match.group(4)
        digits = match.group(2) or match.group(3)
        if _HEX_LETTERS.fullmatch(word) or digits.count(digits[0]) == len(digits):
            continue  # the tail of a UUID or digest (`efb310929063`), or padding (`000000000`)
        views.append(digits)
        if tries.full(views):
            break
    return ["\n".join(views)] if views else []


# --- characters written one by one ------------------------------------------------------------

# A value as its characters with one separator between them (`A,K,I,A,...`, `8, 6, 6, -, 5`,
# `a|b|c`, `j a n e`, `-,-,-,-,-,B,E,G,I,N, ,R,S,A,...` with the value's own spaces, dashes and
# line breaks among the characters), or as quoted characters (`'8', '6', '6'`: a list's repr in
# a string): the characters joined make one view, whatever they spell, so every detector reads
# the value. A character may be the separator itself (`k---i` is `k`, `-`, `i` split by `-`).
CHAR_SEPARATORS = (", ", ",", ";", "|", " ", "-", ":", "/", "\t", "_", "~", "+", "*")
MIN_CHAR_RUN = 6                  # characters; a shorter run is a short list of words or codes
_CHAR_RUN = re.compile(
    r"(?<![^\s\[\(\"'=:])(?:"
    + "|".join(
        rf"(?P<s{n}>(?:[^\x00]{re.escape(sep)}){{{MIN_CHAR_RUN - 1},}}[^\x00])" for n, sep in enumerate(CHAR_SEPARATORS)
    )
    + r")(?![^\s\]\)\"'.,;])"
    r"|(?P<q>['\"])(?:[^'\"\\\n]|\\[\\'\"ntr])(?P=q)(?P<qsep>, ?)"
    r"(?:(?P=q)(?:[^'\"\\\n]|\\[\\'\"ntr])(?P=q)(?P=qsep)){4,}(?P=q)(?:[^'\"\\\n]|\\[\\'\"ntr])(?P=q)"
)
# Four characters with the same separator between them, none of them blank or a separator
# (a run of value characters has that somewhere; indentation and `-----` rulers do not). One
# character class then the separators: the engine tries little at each position.
_SEPARATOR_CLASS = "[" + "".join(re.escape(sep) for sep in CHAR_SEPARATORS if len(sep) == 1) + "]"
_VALUE_CHAR = "[^\\x00\\s" + _SEPARATOR_CLASS[1:]
CHAR_LIST_TRIGGER = re.compile(
    rf"{_VALUE_CHAR}(?P<sep>, |{_SEPARATOR_CLASS}){_VALUE_CHAR}(?P=sep){_VALUE_CHAR}(?P=sep){_VALUE_CHAR}"
    r"|['\"][^'\"\n]['\"], ?['\"][^'\"\n]['\"], ?['\"]"
)
_QUOTED_ITEMS = {q: re.compile(rf"{q}((?:[^'\"\\\n]|\\[\\'\"ntr])){q}") for q in "'\""}
_QUOTED_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\r": "\r", "\\\\": "\\", "\\'": "'", '\\"': '"'}
MAX_CHAR_LIST_CHARS = 64 * 1024   # characters of one run joined (the leaf's view budget bounds the rest)


def char_list_views(text: str, tries: Tries) -> list[str]:
    views: list[str] = []
    for match in _CHAR_RUN.finditer(text):
        if tries.full(views) or not tries.take():
            break
        run = match.group()
        if len(run) > 3 * MAX_CHAR_LIST_CHARS:
            tries.short = True  # the rest of the run is left undecoded: the policy hears of it
            run = run[: 3 * MAX_CHAR_LIST_CHARS]
        if match.group("q") is not None:
            # Each item is one character or an escape of one (`'\\n'` in a list's repr).
            items = _QUOTED_ITEMS[match.group("q")].findall(run)  # quote pairs in turn, never a separator
            chars = "".join(_QUOTED_ESCAPES.get(item, item) for item in items)
        else:
            sep = CHAR_SEPARATORS[int(match.lastgroup[1:])]
            chars = run[:: 1 + len(sep)]
        if len(chars.strip()) >= MIN_DECODED_CHARS and len(set(chars)) > 2:  # not a ruler (`- - - - - -`)
            views.append(chars)
    return views


# --- all of them ------------------------------------------------------------------------------

# What makes a text worth handing to `views`: a necessary condition of some decoder, searched
# once over all fresh leaf texts of a request joined by NUL (`trigger_positions`). Each check
# is looser than its decoder's own pattern and cheap on clean text: literals are found with
# str.find, and each regex starts with a selective character (a digit, rare punctuation), so
# the engine skips ahead instead of trying every position. Hex and base32 runs come from the
# base64 runs the caller already finds (`may_be_hex_or_base32`).
_REVERSED_PREFIXES = tuple(prefix[::-1] for prefix, _ in _SECRET_SHAPES)
_ROT13_PREFIXES = tuple(_rot13(prefix) for prefix, _ in _SECRET_SHAPES)
_LITERALS = ("@", "<~", *_REVERSED_PREFIXES, *_ROT13_PREFIXES)
_SEP = r"(?:[ ]{2,}|[ ]*[/_|,;][ ]*|[ \t]*\r?\n[ \t]*|\t|\\n)"
# Split groups as identifiers have them (3+3 digits, an SSN's 3-2-3+, five single digits);
# dates and times in run names (2026_11_26-05_22_05_190809) have pairs and are not tried.
_DIGIT_LED = re.compile(
    # One digit, then the branches sharing prefixes (the engine tries them at every digit):
    rf"[0-9](?:[0-9](?:[0-9](?:{_SEP}[0-9]{{2}}(?:[0-9]|{_SEP}[0-9]{{3}})"           # split groups
    r"|[0-9](?:-[0-9]{2}-[0-9]{3}|[ \-][0-9]{4}[ \-][0-9]{4}|[0-9]{3}\+|[ .\-][0-9]{3}(?: ?\) ?|[ .\-])"  # backwards
    r"|[0-9]{2}[ \-][0-9]{6}[ \-][0-9]{4}"
    r"|[0-9]{4}(?:[A-Za-z_]|(?<=[A-Za-z_][0-9]{9}))))"                             # glued digits
    r"|(?:[ :,\-]|, |[ \t]*(?:\r?\n|(?:\\r)?\\n))[0-9][0-9a-fA-F](?:[ :,\-]|, |[ \t]*(?:\r?\n|(?:\\r)?\\n))[0-9a-fA-F]{2})"    # byte dumps
    r"|[a-fA-F](?:[ :,\-]|, |[ \t]*(?:\r?\n|(?:\\r)?\\n))[0-9][0-9a-fA-F](?:[ :,\-]|, |[ \t]*(?:\r?\n|(?:\\r)?\\n))[0-9a-fA-F]{2}"
    rf"|(?:{_SEP}[0-9](?![0-9])){{4}}|(?: [0-9]){{4}}"                             # single digits
    r"|(?<=0)[xX][0-9a-fA-F]{2}[ ,;])"                                            # 0x.. lists
)

# A chunk then whitespace then a chunk, tried at chunk starts only (a try inside a long URI at
# every digit or `/` would scan the rest of it again: quadratic), texture checked after.
_CHUNK_PAIR = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{4,}+(?:[ \t]+|[ \t]*(?:\r?\n|(?:\\r)?\\n)[ \t]*)[A-Za-z0-9+/]{4}")
# base85/ascii85: rare punctuation right after a letter or digit (a look-ahead over the rest of
# the token would rescan a long token from each of its punctuation marks: quadratic).
_RARE_PUNCT = re.compile(r"[!#$'()*;<>^`|~](?<=[A-Za-z0-9].)|[&?=+{}\[\]\\\"%](?<=[A-Za-z0-9].)(?=[A-Za-z0-9])")
_HEX_IN_RUN = re.compile(r"(?:^|[_\-])(?:0[xX])?[0-9a-fA-F]{16,}(?:$|[_\-])")
_SPELLED_AT = re.compile(r"\s(?:AT|at|At)\s+[A-Za-z0-9\-]+(?:\.|\s+(?:dot|DOT|Dot)\s)")
_BRACKETED = re.compile(_BRACKETS.format(word=r"(?i:at|dot|@|\.)"))


def may_be_hex_or_base32(run: str) -> bool:
    """A base64-alphabet run that the base64 decoder leaves alone (lower case, digits only)
    but the hex or base32 decoder may read: 16+ hex digits, or padded lower-case base32."""
    return len(run) >= 16 and (bool(_HEX_IN_RUN.search(run)) or (run.endswith("=") and run.rstrip("=").islower()))


_LITERAL = re.compile("|".join(map(re.escape, _LITERALS)))
_OBFUSCATION_GATE = re.compile(r"(?i:[\[\(\{<] ?(?:at|dot|@|\.)| dot )| AT ")


# A necessary condition of `reversed_view(w) is not None or rot13_view(w) is not None`, so
# that `trigger_positions` checks the IBAN windows only where something could turn: per
# condition those functions test, a pattern that every text meeting it matches (their own,
# lookarounds at their edges and optional parts dropped, a repeat cut to the part every
# match holds, written to start at a rare character). Such a match in a window is a match in
# every text that holds the window, so one search of a request's texts rules out all its
# windows. Fresh ids meet IBAN_TRIGGER often and turn to nothing: the window checks were 40%
# of trigger_positions on re-runs. tests/unit/test_scan_speedups.py checks the condition on
# turned values of every kind; a new condition in either function needs its pattern here.
_LOWER_LETTERS, _CAPITAL_LETTERS = "a-zß-öø-ÿ", "A-ZÀ-ÖØ-Þ"
_TURNED: tuple[re.Pattern[str], ...] = tuple(re.compile(condition) for condition in (
    # Secret prefixes and addresses, turned either way (each condition holds one of these).
    "|".join(map(re.escape, ("@", *_REVERSED_PREFIXES, *_ROT13_PREFIXES))),
    # Digit layouts backwards (`_REVERSED_DIGITS`, `_CARD_RUN`), led by their separator or
    # their `+` (a look-behind for the digits before: the engine skips to the rare character).
    r"\+(?<=\d\+)",
    r"[ .\-](?:(?<=\d{4}-)\d{2}-\d{3}|(?<=\d{4} )\d{2} \d{3}|(?<=\d{4}[ .\-])\d{3}(?: ?\) ?|[ .\-])\d{3}"
    r"|(?<=\d{4}[ \-])\d{4}[ \-]\d{4}[ \-]\d|(?<=\d{5}[ \-])\d{6}[ \-]\d{4})",
    r"\d{15}",                                                                # `_DIGIT_RUN`
    # An IBAN backwards (`_REVERSED_IBAN`) or under ROT13 (`_ROT13_IBAN`).
    r"[0-9]{2}(?:[A-Za-z]{2}(?<=[A-Za-z0-9]{14}|(?:[A-Za-z0-9]{4} ){2}[0-9]{2}[A-Za-z]{2})"
    r"|(?<=[A-Za-z]{2}[0-9]{2})(?:[A-Za-z0-9]{10}| [A-Za-z0-9]{4} [A-Za-z0-9]{4}))",
    # A name backwards or under ROT13, with a middle initial or not ("xiorcaleD .U ijneK").
    rf"[{_LOWER_LETTERS}][{_CAPITAL_LETTERS}][ ,.]{{1,3}}(?:[{_CAPITAL_LETTERS}][ ,.]{{1,3}})?[{_LOWER_LETTERS}]{{1,20}}[{_CAPITAL_LETTERS}]",
    rf"[A-Z][{_LOWER_LETTERS}]{{1,20}}[ ,.]{{1,3}}(?:[A-Z][ ,.]{{1,3}})?[A-Z][{_LOWER_LETTERS}]",
))


def may_turn(text: str) -> bool:
    """False only where neither `reversed_view` nor `rot13_view` finds anything in any part
    of `text`."""
    for condition in _TURNED:
        if condition.search(text) is not None:
            return True
    return False


def trigger_positions(joined: str) -> list[int]:
    """Offsets in `joined` where some decoder of this module may find something."""
    positions = [m.start() for m in _LITERAL.finditer(joined)]
    if _OBFUSCATION_GATE.search(joined):
        positions.extend(m.start() for m in _BRACKETED.finditer(joined))
        positions.extend(m.start() for m in _SPELLED_AT.finditer(joined))
    if not joined.isascii():
        positions.extend(m.start() for m in CONFUSABLE_TRIGGER.finditer(joined))
    for pattern in (_DIGIT_LED, _RARE_PUNCT):
        positions.extend(m.start() for m in pattern.finditer(joined))
    # Turned IBANs, ungrouped cards read backwards, country codes last: checked here already
    # (a mod-97 or Luhn test), so clean codes and ids do not send their text to the decoders.
    # A window is checked only where something may turn (`may_turn`); the bound on checks
    # counts every match still.
    turned = may_turn(joined)
    matches = IBAN_TRIGGER.finditer(joined) if turned or len(joined) > 2 * MAX_TRIGGER_CHECKS else ()
    for checked, match in enumerate(matches):
        if checked >= MAX_TRIGGER_CHECKS:
            positions.append(match.start())  # past the bound the leaf is decoded, not checked here
            break
        if not turned:
            continue
        start = max(0, match.start() - 40)
        window = joined[start : match.end() + 40]
        if not may_turn(window):
            continue
        if reversed_view(window) is not None or rot13_view(window) is not None:
            positions.append(match.start())
    positions.extend(m.start() for m in _DIGIT_RUN.finditer(joined) if _card_reversed(m.group()))
    positions.extend(m.start() for m in _COUNTRY_CODE_LAST.finditer(joined))
    positions.extend(m.start() for m in CHAR_LIST_TRIGGER.finditer(joined))
    positions.extend(m.start() for m in _REVERSED_NAME.finditer(joined))
    positions.extend(turned_word_runs(joined))   # ROT13 names and addresses; listed given names:
    if _rot13_name(joined):
        position = 0
        while (match := _CAPITALISED_PAIR.search(joined, position)) is not None:
            if _rot13_name(match.group()):
                positions.append(match.start())
                position = joined.find("\x00", match.end()) + 1  # one offset per leaf
                if position == 0:
                    break
            else:
                position = match.end()
    positions.extend(m.start() for m in _CHUNK_PAIR.finditer(joined) if _TEXTURE.search(m.group()))
    return positions


MAX_TRIGGER_CHECKS = 1024  # windows a request-wide trigger checks before it hands the text on

_COUNTRY_CODE_LAST = re.compile(r"[0-9][ .\-]?\+(?![0-9A-Za-z])")


# A token that may read as base85/ascii85 of text by its group leads (`_text_leads`): its
# first and sixth characters in a band, ten characters at least.
_B85_LEAD_TRIGGER = re.compile(r"(?<![!-~])[\"'(\[{]?[#-I2-9A-Za-e][!-~]{4}[#-I2-9A-Za-e][!-~]{4}")


def views(text: str) -> tuple[list[str], bool]:
    """(views of `text` under this module's decoders, whether a bound on tries was hit)."""
    found: list[str] = []
    tries = Tries()
    if HEX_TRIGGER.search(text):
        found.extend(hex_views(text, tries))
    if B32_TRIGGER.search(text):
        found.extend(base32_views(text, tries := _fresh(tries)))
    if B85_TRIGGER.search(text) or _B85_LEAD_TRIGGER.search(text):
        found.extend(base85_views(text, tries := _fresh(tries)))
    if CHUNKED_B64_TRIGGER.search(text):
        found.extend(chunked_base64_views(text, tries := _fresh(tries)))
    for view in (reversed_view(text), rot13_view(text), deobfuscated_view(text), folded_view(text)):
        if view is not None:
            found.append(view)
    if CHAR_LIST_TRIGGER.search(text):
        found.extend(char_list_views(text, tries := _fresh(tries)))
    if DIGIT_TRIGGER.search(text):
        found.extend(digit_views(text, tries := _fresh(tries)))
    return found, tries.short


def _fresh(tries: Tries) -> Tries:
    """Each decoder gets its own bounds; that the one before ran short is kept."""
    fresh = Tries()
    fresh.short = tries.short
    return fresh
