"""A content-addressed cache of detector results, so repeated strings are scanned once.

ZenML clients send the same long strings over and over: the `pip freeze` of the client
environment, step source code and docstrings, stack and step configuration. Their detector
results depend only on the text, the field class, whether the string is a JSON key, and the
nearest JSON key above it (the context that keyword and context-word rules read), so they
are cached under a key made of exactly those.

What the cache holds is safe to keep: the key is two 64-bit SipHash values of the text (the
interpreter's string hash, keyed per process by a random secret, so 128 bits that mean
nothing outside this process) and a hash of the nearest key; the value is the hits as
(detector slot, entity, start, end, score). Never the text.

Bounded by an estimate of its memory use and evicted least-recently-used first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

# A second, independent SipHash of each text: prefixing a character that JSON text rarely
# starts with gives a different input for every text, so both hashes collide only by chance.
SECOND_HASH_PREFIX = "\x1e"
SECOND_HASH_PREFIX_BYTES = SECOND_HASH_PREFIX.encode()

# Rough CPython sizes: the key tuple with its ints, the OrderedDict node, the value tuple,
# and each hit tuple with its ints and float (entity strings are shared constants).
ENTRY_BYTES = 320
HIT_BYTES = 160

DEFAULT_MAX_BYTES = 32 * 1024 * 1024

CachedHit = tuple[int, str, int, int, float]  # detector slot, entity, start, end, score


def text_key(text: str, context: Hashable) -> tuple[int, int, int, Hashable]:
    """Cache key for `text` seen in `context` (field class, key flag, nearest key hash)."""
    return (hash(text), hash(SECOND_HASH_PREFIX + text), len(text), context)


@dataclass(slots=True)
class CacheStats:
    lookups: int = 0
    hits: int = 0
    inserts: int = 0
    evictions: int = 0
    bytes: int = 0
    entries: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


class HitCache:
    """LRU by estimated bytes, mapping a text key to the detector hits for that text."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[CachedHit, ...]] = OrderedDict()
        self._bytes = 0
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> tuple[CachedHit, ...] | None:
        return self.lookup(key)

    def lookup(self, key: Hashable) -> tuple[CachedHit, ...] | None:
        stats = self.stats
        stats.lookups += 1
        hits = self._entries.get(key)
        if hits is not None:
            stats.hits += 1
            self._entries.move_to_end(key)
        return hits

    def put(self, key: Hashable, hits: tuple[CachedHit, ...]) -> None:
        size = ENTRY_BYTES + HIT_BYTES * len(hits)
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= ENTRY_BYTES + HIT_BYTES * len(old)
        self._entries[key] = hits
        self._bytes += size
        self.stats.inserts += 1
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= ENTRY_BYTES + HIT_BYTES * len(evicted)
            self.stats.evictions += 1

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def snapshot(self) -> CacheStats:
        stats = self.stats
        return CacheStats(stats.lookups, stats.hits, stats.inserts, stats.evictions, self._bytes, len(self._entries))
