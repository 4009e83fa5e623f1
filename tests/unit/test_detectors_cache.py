"""HitCache and LeafDetection: repeated strings are scanned once, results stay the same."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from metagate.scanner.cache import ENTRY_BYTES, HIT_BYTES, HitCache, text_key
from metagate.scanner.catalog import Catalog
from metagate.scanner.detection import LeafDetection
from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.detectors.registry import build_detectors
from metagate.scanner.model import InspectionRequest, Leaf
from metagate.scanner.pipeline import Scanner
from metagate.scanner.schemas import SchemaSet

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"


# --- HitCache -------------------------------------------------------------------------


def test_lru_by_bytes_evicts_least_recently_used_first():
    cache = HitCache(max_bytes=3 * ENTRY_BYTES)
    for name in "abc":
        cache.put(name, ())
    assert cache.get("a") == ()          # a is now the most recent
    cache.put("d", ())                   # evicts b
    assert cache.get("b") is None
    assert {k for k in "acd" if cache.get(k) is not None} == {"a", "c", "d"}
    assert cache.snapshot().evictions == 1


def test_hits_count_towards_the_byte_bound():
    cache = HitCache(max_bytes=2 * ENTRY_BYTES + 2 * HIT_BYTES)
    cache.put("x", ((0, "EMAIL_ADDRESS", 0, 5, 1.0), (0, "PHONE_NUMBER", 6, 9, 0.4)))
    assert cache.bytes == ENTRY_BYTES + 2 * HIT_BYTES
    cache.put("y", ())
    assert cache.get("x") is not None and cache.get("y") is not None
    cache.put("z", ((1, "JWT", 0, 3, 0.9),))
    assert cache.get("x") is None        # over the bound: the oldest goes
    assert cache.bytes <= cache.max_bytes


def test_replacing_a_key_keeps_the_byte_count_true():
    cache = HitCache()
    cache.put("k", ((0, "A", 0, 1, 1.0),))
    cache.put("k", ())
    assert cache.bytes == ENTRY_BYTES and len(cache) == 1


def test_stats_and_hit_rate():
    cache = HitCache()
    cache.put("k", ())
    cache.get("k")
    cache.get("nope")
    stats = cache.snapshot()
    assert (stats.lookups, stats.hits, stats.entries) == (2, 1, 1)
    assert stats.hit_rate == 0.5


def test_a_zero_byte_cache_holds_nothing():
    cache = HitCache(max_bytes=0)
    cache.put("k", ())
    assert cache.get("k") is None and len(cache) == 0


def test_text_key_separates_text_and_context_and_holds_no_text():
    secret = "AKIA" + "IOSFODNN7" + "EXAMPLE"
    key = text_key(secret, ("user_dict", 1))
    assert key != text_key(secret + " ", ("user_dict", 1))
    assert key != text_key(secret, ("credential", 1))
    assert key == text_key("".join(list(secret)), ("user_dict", 1))
    assert secret not in repr(key)


# --- LeafDetection ------------------------------------------------------------------------


class Counting(Detector):
    """Reports 'x' characters; counts the leaves it is asked to scan."""

    name = "counting"
    category = "pii"
    leaf_local = True

    def __init__(self) -> None:
        self.scanned: list[str] = []

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        self.scanned.extend(leaf.text for leaf in leaves)
        return [Hit(i, "X", leaf.text.index("x"), leaf.text.index("x") + 1, 0.5) for i, leaf in enumerate(leaves) if "x" in leaf.text]


class Uncacheable(Counting):
    name = "uncacheable"
    leaf_local = False


def test_a_repeated_leaf_is_not_scanned_again():
    detector = Counting()
    detection = LeafDetection([detector])
    first = [Leaf("$.a", "some x text", "user_dict"), Leaf("$.b", "plain", "user_dict")]
    hits_1 = detection.scan(first)
    # Same texts, same keys, new leaf objects and positions: everything comes from the cache.
    second = [Leaf("$.z", "new", "user_dict"), Leaf("$.a", "some x" + " text", "user_dict"), Leaf("$.b", "plain", "user_dict")]
    hits_2 = detection.scan(second)
    assert detector.scanned == ["some x text", "plain", "new"]
    assert [(h.leaf, h.entity, h.start) for h in hits_1] == [(0, "X", 5)]
    assert [(h.leaf, h.entity, h.start) for h in hits_2] == [(1, "X", 5)]


def test_context_is_part_of_the_key():
    detector = Counting()
    detection = LeafDetection([detector])
    detection.scan([Leaf("$.a.password", "x1", "credential")])
    detection.scan([Leaf("$.b.password", "x1", "credential")])   # same nearest key: cached
    detection.scan([Leaf("$.a.note", "x1", "credential")])       # another key: scanned
    detection.scan([Leaf("$.a.password", "x1", "user_dict")])    # another class: scanned
    detection.scan([Leaf("$.a.x1", "x1", "user_dict", is_key=True)])  # a key: scanned
    assert detector.scanned == ["x1"] * 4


def test_user_data_is_cached_by_its_last_keys():
    """In user data the parent key is context too (`{"customer": {"name": ...}}` is a
    customer's name): the last three keys of the path are part of the key."""
    detector = Counting()
    detection = LeafDetection([detector])
    detection.scan([Leaf("$.values.customer.name", "x1", "user_dict")])
    detection.scan([Leaf("$.config.values.customer.name", "x1", "user_dict")])  # same last keys: cached
    detection.scan([Leaf("$.values.pipeline.name", "x1", "user_dict")])          # another parent: scanned
    detection.scan([Leaf("$.steps.customer.name", "x1", "unknown")])             # unknown fields too
    assert detector.scanned == ["x1"] * 3


def test_detectors_that_are_not_leaf_local_always_run():
    cached, uncached = Counting(), Uncacheable()
    detection = LeafDetection([cached, uncached])
    leaves = [Leaf("$.a", "x", "user_dict")]
    detection.scan(leaves)
    hits = detection.scan(leaves)
    assert cached.scanned == ["x"] and uncached.scanned == ["x", "x"]
    assert [h.detector.name for h in hits] == ["counting", "uncacheable"]


def test_proven_classes_are_not_given_to_detectors():
    detector = Counting()
    LeafDetection([detector]).scan([Leaf("$.id", "x", "id"), Leaf("$.h", "x", "hash"), Leaf("$.a", "x", "user_dict")])
    assert detector.scanned == ["x"]


def test_the_cache_holds_no_leaf_text():
    detection = LeafDetection(build_detectors({})[0])
    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" + "k1L2m3N4o5P6q7R8"
    leaves = [Leaf("$.values.note", f"see {secret}", "user_dict"), Leaf("$.values.mail", "jane@example.com", "user_dict")]
    assert {h.entity for h in detection.scan(leaves)} >= {"GITHUB_TOKEN", "EMAIL_ADDRESS"}
    # Keys are ints and field classes; values are detector slots, entity names and spans.
    for key, hits in detection.cache._entries.items():
        assert all(isinstance(x, int) for x in key[:3])
        field_class, context = key[3]
        assert field_class == "user_dict" and isinstance(context, int)
        for hit in hits:
            assert [type(x) for x in hit] == [int, str, int, int, float] and hit[1].isupper()


# --- the scanner with a warm cache reports what it reports cold -------------------------------


def _corpus() -> list[InspectionRequest]:
    requests = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            requests.append(
                InspectionRequest(
                    record["method"],
                    record["path"],
                    (record.get("body_text") or "").encode(),
                    tuple(record["headers"].items()),
                    tuple((k, v) for k, v in record["query"]),
                )
            )
    return requests


@pytest.fixture(scope="module")
def scanner_parts():
    catalog = Catalog.load()
    return catalog, SchemaSet(catalog), build_detectors({})


def test_findings_are_the_same_from_the_cache(scanner_parts):
    catalog, schemas, (detectors, trees) = scanner_parts
    scanner = Scanner(catalog, schemas, detectors, trees, b"k" * 32)
    requests = _corpus()
    cold = [scanner.scan(r).findings for r in requests]
    warm = [scanner.scan(r).findings for r in requests]
    assert cold == warm
    stats = scanner.detection.cache.snapshot()
    assert stats.hit_rate > 0.5
    assert any(f.entity == "EMAIL_ADDRESS" and f.path == "$.values.note" for findings in warm for f in findings)
