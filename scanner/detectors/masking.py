"""ZenML's own metadata shapes, blanked before the PII recognizers read a text.

UUIDs, content hashes, timestamps, versions and package pins are full of digits that look
like phone, bank or licence numbers to a recognizer; they are replaced by '_' of the same
length, so offsets stay true and nothing fires on them.

Masking may spare ids; it must never hide a value a recognizer would match. A shape is
blanked only as far as its own syntax proves it metadata:
- a hex run only with a hex letter in it (32+ bare digits are a number, not a digest; a
  recognizer's word boundaries cannot match inside a run of hex letters and digits anyway);
- a version (`1.26.4`, `==0.98.0`) only while it has fewer digits than the shortest national
  id (nine): `4539.0040.1060.2815` or `==4539004010602815` is a number dressed as a version;
- of a package pin, the version after the operator (`==`, `~=`, `>=`) by the rule above; the
  operator itself stays, so the recognizers' word boundaries hold: `~=123-45-6789` keeps its
  SSN, `==4539004010602815` its card number.
"""

from __future__ import annotations

import re

from metagate.scanner.detectors.tables import numeric_runs

_SHAPES = r"""
      (?P<uuid>\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)
    | (?P<hex>\b[0-9a-f]{32,}\b)
    | (?P<time>\b\d{4}-\d{2}-\d{2}(?:[T\x20]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b)
    | (?P<pin>(?:===|==|>=|<=|~=|!=)[ \t]*)(?P<pinned>[\w.+!*-]+)
    | (?P<version>(?<![\w.])v?\d+\.\d+\.\d{1,3}(?!\d)(?:(?:rc|a|b|post|dev|\+|-)[\w.]*)?(?![\w.]*\.\d))  # x.y.z (not 415.555.2671)
    | (?P<tag>(?<=[\w/])[Pp]y(?:thon)?\d\.\d+\b)                                    # -py3.11 tags
"""
_SHAPE_FLAGS = re.IGNORECASE | re.VERBOSE
# The first characters of all shapes: a position that starts none of them fails at once,
# instead of trying every alternative (a third of the time on URIs and package lists).
_SHAPE_START = r"(?=[\da-f=<>~!vp])"
METADATA_SHAPES = re.compile(f"{_SHAPE_START}(?:{_SHAPES})", _SHAPE_FLAGS)
# Fewer digits than this, and a version-shaped text is a version: nine is the shortest of
# the national ids, phone, card and account numbers the recognizers look for.
MAX_VERSION_DIGITS = 8
_HEX_LETTER = re.compile(r"[a-f]", re.IGNORECASE)


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _blank(match: re.Match[str]) -> str:
    kind = match.lastgroup
    text = match.group()
    if kind == "hex" and not _HEX_LETTER.search(text):
        return text
    if kind == "version" and _digit_count(text) > MAX_VERSION_DIGITS:
        return text
    if kind == "pinned":  # a pin: the operator stays (a word boundary for the recognizers)
        operator, version = match.group("pin"), match.group("pinned")
        return operator + (version if _digit_count(version) > MAX_VERSION_DIGITS else "_" * len(version))
    return "_" * len(text)


def mask_metadata(text: str) -> str:
    return METADATA_SHAPES.sub(_blank, text)


def mask_numeric_runs(text: str, min_numbers: int) -> str:
    # No run crosses the NUL between two leaves (not a separator between numbers).
    runs = list(numeric_runs(text, min_numbers))
    if not runs:
        return text
    chunks, done = [], 0
    for start, end in runs:
        chunks += [text[done:start], "_" * (end - start)]
        done = end
    chunks.append(text[done:])
    return "".join(chunks)
