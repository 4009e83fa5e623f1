"""What was found clean before, so a repeat is not walked, validated, decoded or scanned again.

A re-run of a pipeline sends the same step configurations, client environment and pipeline
spec as the run before, and the SDK's reads repeat on every run. The per-text caches
(detector hits, texts with nothing to decode) already spare the detectors those strings, but
finding the leaves, validating them, looking each one up and the evasion pass still cost
per leaf. This memo spares all of it, for two kinds of entry.

*Units.* A unit is the value of a field that the schema declares, in the body's top-level
object or in each object of a top-level array, when that value is an object or array of at
least MIN_UNIT_BYTES. Its key is the endpoint, its JSON path and a `digest` of its JSON
bytes (orjson, keys in the order sent: the same bytes mean the same subtree). Everything the
scanner works out inside a unit depends on those alone: the walk (a declared key above it
leaves no key leaf pending), decoded views (per text), split-PII joins (within one object,
and every object of a unit lies inside it), the detectors (leaf-local), the tree detectors
(what they find inside a subtree depends on its content and path) and the schema (each
field of a model is validated on its own). A unit is remembered only when nothing was found
in it (no decoded view or join, nothing left undecoded, no detector hit, no tree finding)
and only from a body the strict schema accepted; the scanner then validates a settled unit
as the null that every field accepts.

*Requests without a body*, keyed by a digest of what their scan reads but the headers
(method, path, query, content encoding), remembered when nothing at all was found in them.
Their headers are collected on every request; the scanner (`Scanner._clean_repeat`) keeps a
digest of header leaves that decoding left unchanged and no detector found anything in, and
does not decode or scan the same leaves again (the SDK's fresh ids are not scanned, so the
scanned headers repeat).

A `digest` is two SipHash values and the length, as the detector cache keys texts: the
interpreter's hash, keyed per process by a random secret, so no client can aim at another's
key. What is kept is the leaves' paths, field classes and key flags and the field-class
counts, never a text: a remembered leaf comes back with text "" (a clean subtree can still
hold a value that the policy blocks by its class, a password in a credential field, say).
Bounded by an estimate of its memory use, least recently used first out.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from metagate.scanner.cache import SECOND_HASH_PREFIX_BYTES as SECOND_HASH_PREFIX
from metagate.scanner.model import Leaf

MIN_UNIT_BYTES = 64                # smaller subtrees cost less to walk than to remember
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
_ENTRY_BYTES = 400                 # key tuple, digest, OrderedDict node, value
_LEAF_BYTES = 120                  # a Leaf without text, plus its share of the tuple


def digest(data: bytes) -> tuple[int, int, int]:
    """128 bits of keyed SipHash and the length: equal for equal bytes, and not to be aimed at."""
    return hash(data), hash(SECOND_HASH_PREFIX + data), len(data)


@dataclass(frozen=True, slots=True)
class CleanEntry:
    """What a clean unit or request comes back as."""

    leaves: tuple[Leaf, ...]                 # texts not kept ("")
    inventory: tuple[tuple[str, int], ...]   # field class → scalar count


@dataclass(slots=True)
class MemoStats:
    lookups: int = 0
    hits: int = 0
    leaves_spared: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


class CleanMemo:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CleanEntry] = OrderedDict()
        self._bytes = 0
        self.stats = MemoStats()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def unit_key(endpoint: Hashable, path: str, node: Any) -> Hashable | None:
        """The unit key of `node` at `path`, or None when it is too small to be worth one
        (or holds what orjson cannot write: integers past 64 bits)."""
        try:
            data = orjson.dumps(node)
        except orjson.JSONEncodeError:
            return None
        if len(data) < MIN_UNIT_BYTES:
            return None
        return (endpoint, path, *digest(data))

    def get(self, key: Hashable) -> CleanEntry | None:
        self.stats.lookups += 1
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            self.stats.hits += 1
            self.stats.leaves_spared += len(found.leaves)
        return found

    def put(self, key: Hashable, leaves: Sequence[Leaf], inventory: Counter[str]) -> None:
        entry = CleanEntry(
            tuple(Leaf(leaf.path, "", leaf.field_class, leaf.is_key) for leaf in leaves), tuple(inventory.items())
        )
        size = self._size(entry)
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= self._size(old)
        self._entries[key] = entry
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= self._size(evicted)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    @staticmethod
    def _size(entry: CleanEntry) -> int:
        return _ENTRY_BYTES + sum(_LEAF_BYTES + len(leaf.path) for leaf in entry.leaves)
