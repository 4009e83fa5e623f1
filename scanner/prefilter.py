"""Cheap tests that decide which leaves a detector's expensive rules need to see.

A request has tens to thousands of string leaves and most of them are field names, enum-ish
values and short identifiers that no rule can match. Calling a regex (or Presidio) once per
leaf per rule costs far more than the matching itself, so the detectors instead join the
texts of a request once and run one cheap *trigger* per rule family over the joined text:
a literal that every match of the rule contains ("AKIA", "eyJ", "@"), or a short pattern
that every match contains (seven digits with phone separators between them). Only leaves
where a trigger fires go on to the real rules, leaf by leaf.

A trigger must be *necessary*: if a rule can match a leaf, the rule's trigger fires on that
leaf. Triggers never cross leaves: texts are joined by NUL, which no trigger pattern matches.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

SEPARATOR = "\x00"


@dataclass(frozen=True, slots=True)
class Trigger:
    """A necessary condition for some rules: a literal or a pattern, optionally caseless.

    Literals are found with `str.find` (several GB/s); a pattern should start with a
    literal character where it can, which lets `re` skip ahead just as fast.
    """

    literal: str | None = None
    pattern: re.Pattern[str] | None = None
    ignore_case: bool = False

    @classmethod
    def text(cls, literal: str, ignore_case: bool = False) -> Trigger:
        return cls(literal=literal.lower() if ignore_case else literal, ignore_case=ignore_case)

    @classmethod
    def regex(cls, source: str, ignore_case: bool = False) -> Trigger:
        flags = re.IGNORECASE if ignore_case else 0
        return cls(pattern=re.compile(source, flags), ignore_case=ignore_case)


class JoinedTexts:
    """The texts of one request joined by NUL, with where each one starts."""

    __slots__ = ("_lower", "starts", "text", "texts")

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        self.text = SEPARATOR.join(texts)
        # starts[i] is where texts[i] begins; starts[n] is one past the end.
        self.starts = list(accumulate((len(t) + 1 for t in texts), initial=0))
        self._lower: str | None = None

    def index_at(self, position: int) -> int:
        return bisect_right(self.starts, position) - 1

    def _caseless(self) -> str | None:
        """The joined text lowercased, when lowering keeps every offset (ASCII text)."""
        if self._lower is None:
            self._lower = self.text.lower() if self.text.isascii() else ""
        return self._lower or None

    def contains(self, trigger: Trigger) -> bool:
        """Whether `trigger` fires anywhere: one C-level search, no per-leaf work."""
        text = self.text
        if trigger.ignore_case:
            lowered = self._caseless()
            if lowered is None:
                return self._caseless_pattern(trigger).search(text) is not None
            text = lowered
        if trigger.literal is not None:
            return trigger.literal in text
        assert trigger.pattern is not None
        return trigger.pattern.search(text) is not None

    def members(self, trigger: Trigger) -> list[int]:
        """Indexes of the texts in which `trigger` fires, each once, in order."""
        text = self.text
        if trigger.ignore_case:
            lowered = self._caseless()
            if lowered is not None:
                text = lowered
            else:
                # Non-ASCII text: `str.lower` may change lengths; a caseless regex does not.
                trigger = Trigger(pattern=self._caseless_pattern(trigger))
        found: list[int] = []
        starts = self.starts
        end = len(text)
        position = 0
        if trigger.literal is not None:
            literal = trigger.literal
            find = text.find
            while position < end:
                at = find(literal, position)
                if at < 0:
                    break
                index = bisect_right(starts, at) - 1
                found.append(index)
                position = starts[index + 1]
            return found
        assert trigger.pattern is not None
        search = trigger.pattern.search
        while position < end:
            match = search(text, position)
            if match is None:
                break
            index = bisect_right(starts, match.start()) - 1
            found.append(index)
            position = starts[index + 1]
        return found

    def firing(self, triggers: Iterable[Trigger]) -> list[Trigger]:
        """The triggers that fire anywhere, in order: `contains` for many, in one loop."""
        text = self.text
        lowered: str | None = None
        found: list[Trigger] = []
        for trigger in triggers:
            if trigger.ignore_case:
                if lowered is None:
                    lowered = self._caseless() or ""
                if not lowered:
                    if self.contains(trigger):
                        found.append(trigger)
                    continue
                haystack = lowered
            else:
                haystack = text
            literal = trigger.literal
            if literal is not None:
                if literal in haystack:
                    found.append(trigger)
            elif trigger.pattern.search(haystack) is not None:  # type: ignore[union-attr]
                found.append(trigger)
        return found

    def members_any(self, triggers: Iterable[Trigger]) -> set[int]:
        """Indexes of the texts in which any of `triggers` fires."""
        found: set[int] = set()
        for trigger in self.firing(triggers):
            found.update(self.members(trigger))
        return found

    @staticmethod
    def _caseless_pattern(trigger: Trigger) -> re.Pattern[str]:
        if trigger.literal is not None:
            return re.compile(re.escape(trigger.literal), re.IGNORECASE)
        assert trigger.pattern is not None
        return re.compile(trigger.pattern.pattern, trigger.pattern.flags | re.IGNORECASE)


# --- where a leaf sits ------------------------------------------------------------------

_ROOT = re.compile(r"\$\w*")
_INDEX_SUFFIX = re.compile(r"(?:\[\d+\])+$")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def last_key(path: str) -> str:
    """The nearest object key of a leaf path: `$.a.tokens[2]` → "tokens", `$query.name` →
    "name", `$.values["odd key"]` → "odd key", `$[0]` → ""."""
    tail = path.rpartition(".")[2]
    if '"' not in tail and "[" not in tail.rstrip("]0123456789["):
        # The common case: `...key` or `...key[3][0]`.
        key = _INDEX_SUFFIX.sub("", tail)
        if _PLAIN_KEY.fullmatch(key):
            return key
    return _last_key_slow(path)


def _last_key_slow(path: str) -> str:
    from metagate.scanner import jsonpath

    root = _ROOT.match(path)
    try:
        parts = jsonpath.parse("$" + path[root.end() :]) if root else ()
    except ValueError:
        return ""
    return next((p for p in reversed(parts) if isinstance(p, str)), "")


# Field classes whose keys the user chose: their last keys are a leaf's context.
USER_KEY_CLASSES: frozenset[str] = frozenset({"user_dict", "unknown"})

# Keys of a path that are a leaf's context: its own and up to two above it.
CONTEXT_KEY_COUNT = 3


def context_keys(path: str) -> tuple[str, ...]:
    """The last object keys of a leaf path (at most `CONTEXT_KEY_COUNT`), nearest last:
    `$.values.customer.ssn` → ("values", "customer", "ssn"), `$query.name` → ("name",),
    `$headers["x-id"]` → ("x-id",), `$[0]` → (). What key-reading detectors (PII context
    words, field-name semantics) may depend on, and so what the hit cache keys them by."""
    root = _ROOT.match(path)
    rest = path[root.end() :] if root else path
    if '"' not in rest:
        # The common case: `.a.b[3].c`.
        keys = [_INDEX_SUFFIX.sub("", part) for part in rest.split(".") if part]
        if all(_PLAIN_KEY.fullmatch(k) for k in keys):
            return tuple(keys[-CONTEXT_KEY_COUNT:])
    from metagate.scanner import jsonpath

    try:
        parts = jsonpath.parse("$" + rest)
    except ValueError:
        return (last_key(path),) if last_key(path) else ()
    return tuple(p for p in parts if isinstance(p, str))[-CONTEXT_KEY_COUNT:]
