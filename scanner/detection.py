"""Runs the string detectors over one request's leaves, skipping strings already proven.

Detectors that declare `leaf_local = True` promise that their hits for a leaf depend only on
the leaf's text, its field class, whether it is a JSON key, and the nearest JSON key above it
(PII context words and secret keywords read that key); in user data (`user_dict`, `unknown`),
the last keys of its path (`prefilter.context_keys`: field-name semantics read them, and the
parent key says as much as the leaf's own). For those, the results of every leaf are kept in a `HitCache` under a hash of exactly those inputs, and a leaf seen before is not
scanned again: `pip freeze` lists, step source code and configuration repeat on every run.
Other detectors run on every leaf as before.

Detectors see the canonical texts (`canonical`: UUIDs replaced by fixed stand-ins of the
same length), so a URI that differs from an earlier one only in its ids is a cache hit. Hit
spans are the same in both texts; the scanner reads matched values from the originals.
Results are kept under the canonical text's key. A leaf is looked up by its own text first:
that key can only hold results if the text is a canonical form itself (stand-ins come in a
fixed order), so only a miss costs the canonical text.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from metagate.scanner.cache import SECOND_HASH_PREFIX, HitCache
from metagate.scanner.canonical import canonical_leaves, canonical_text
from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.model import Leaf
from metagate.scanner.prefilter import USER_KEY_CLASSES, context_keys, last_key

_MAX_CONTEXTS = 65536


@dataclass(frozen=True, slots=True)
class DetectorHit:
    detector: Detector
    leaf: int          # index into the leaves given to `scan`
    entity: str
    start: int
    end: int
    score: float


def _hit_order(hit: DetectorHit) -> tuple[int, int, int, str]:
    return (hit.leaf, hit.start, hit.end, hit.entity)


class LeafDetection:
    def __init__(self, detectors: Sequence[Detector], cache: HitCache | None = None) -> None:
        self.detectors = list(detectors)
        self.cache = cache if cache is not None else HitCache()
        self._cached = [d for d in self.detectors if d.leaf_local]
        self._uncached = [d for d in self.detectors if not d.leaf_local]
        # path → hash of its nearest key (paths repeat request after request).
        self._contexts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()  # the cache's LRU order is not safe to share unlocked

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to another process: the same detectors with an empty cache.
        return (type(self), (self.detectors, HitCache(self.cache.max_bytes)))

    def scan(self, leaves: Sequence[Leaf]) -> list[DetectorHit]:
        """Every detector's hits on `leaves`, grouped by detector in the order given, each
        detector's sorted by leaf, start, end and entity."""
        if not self.detectors:
            return []
        found: dict[int, list[DetectorHit]] = {id(d): [] for d in self.detectors}
        if self._uncached:
            canonical = canonical_leaves(leaves)
            for detector in self._uncached:
                found[id(detector)].extend(self._run(detector, canonical, range(len(canonical))))
        if self._cached:
            with self._lock:
                self._scan_cached(leaves, found)
        ordered: list[DetectorHit] = []
        for detector in self.detectors:
            hits = found[id(detector)]
            if hits:
                hits.sort(key=_hit_order)
                ordered.extend(hits)
        return ordered

    def _scan_cached(self, leaves: Sequence[Leaf], found: dict[int, list[DetectorHit]]) -> None:
        # The per-leaf loop is the floor of every scan, so it is kept to a few C calls:
        # two string hashes, a dict lookup for the nearest key, one for the hits (the
        # cache's own `lookup`, inlined).
        cached = self._cached
        contexts = self._contexts
        cache = self.cache
        entries = cache._entries
        get, touch = entries.get, entries.move_to_end
        fresh: list[int] = []
        keys: dict[int, tuple[int, int, int, object]] = {}
        scanned: list[Leaf] | None = None  # `leaves` with canonical texts, made on a first miss
        for index, leaf in enumerate(leaves):
            text = leaf.text
            if leaf.is_key:
                context: object = (leaf.field_class, True)
            else:
                # Hash of the nearest key, by path: paths repeat on every request.
                near = contexts.get(leaf.path)
                if near is None:
                    near = self._remember_context(leaf.path)
                context = (leaf.field_class, near[leaf.field_class in USER_KEY_CLASSES])
            key = (hash(text), hash(SECOND_HASH_PREFIX + text), len(text), context)
            hits = get(key)
            if hits is None:
                canonical = canonical_text(text)
                if canonical is not text:
                    if scanned is None:
                        scanned = list(leaves)
                    scanned[index] = Leaf(leaf.path, canonical, leaf.field_class, leaf.is_key)
                    key = (hash(canonical), hash(SECOND_HASH_PREFIX + canonical), len(canonical), context)
                    hits = get(key)
            if hits is None:
                fresh.append(index)
                keys[index] = key
                continue
            touch(key)
            for slot, entity, start, end, score in hits:
                detector = cached[slot]
                found[id(detector)].append(DetectorHit(detector, index, entity, start, end, score))
        stats = cache.stats
        stats.lookups += len(leaves)
        stats.hits += len(leaves) - len(fresh)
        if not fresh:
            return
        per_leaf: dict[int, list[tuple[int, str, int, int, float]]] = {}
        for slot, detector in enumerate(cached):
            for hit in self._run(detector, scanned or leaves, fresh):
                found[id(detector)].append(hit)
                per_leaf.setdefault(hit.leaf, []).append((slot, hit.entity, hit.start, hit.end, hit.score))
        put = self.cache.put
        for index in fresh:
            put(keys[index], tuple(per_leaf.get(index, ())))

    def _remember_context(self, path: str) -> tuple[int, int]:
        # (nearest key, last keys): which one a leaf's results depend on depends on its class.
        if len(self._contexts) >= _MAX_CONTEXTS:
            self._contexts.clear()
        near = self._contexts[path] = (hash(last_key(path)), hash(context_keys(path)))
        return near

    @staticmethod
    def _run(detector: Detector, leaves: Sequence[Leaf], indexes: Sequence[int]) -> list[DetectorHit]:
        if type(detector).wants is Detector.wants:
            skip = detector.skip_classes
            wanted = [i for i in indexes if leaves[i].field_class not in skip]
        else:
            wanted = [i for i in indexes if detector.wants(leaves[i])]
        if not wanted:
            return []
        subset = [leaves[i] for i in wanted]
        hits: list[Hit] = list(detector.scan(subset))
        return [DetectorHit(detector, wanted[h.leaf], h.entity, h.start, h.end, h.score) for h in hits]
