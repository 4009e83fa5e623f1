"""The per-process memos that spare clean traffic repeated work decide exactly as the work
would: the fragment-group memo (scanner/evasion.py `_plain_groups`) and the header verdict
memo (scanner/headers.py `_verdicts`). Each keeps digests only, never a text."""

from __future__ import annotations

from metagate.scanner import evasion, headers
from metagate.scanner.evasion import expand_leaves
from metagate.scanner.model import Leaf

EMAIL = "jane.doe@example.com"


def _parts(texts: list[str], parent: str = "$.values.contact") -> list[Leaf]:
    return [Leaf(f"{parent}[{i}]", text, "user_dict") for i, text in enumerate(texts)]


def _joined(expansion_leaves: list[Leaf]) -> str:
    return "\n".join(leaf.text for leaf in expansion_leaves)


def test_a_group_that_joined_to_nothing_is_remembered_by_digest_only():
    evasion.forget_clean_texts()
    clean = _parts(["epochs", "lr", "batch"])          # tags: nothing in the join
    assert expand_leaves(clean).leaves is clean
    assert len(evasion._plain_groups) == 1
    (key,) = evasion._plain_groups
    assert all(isinstance(part, int) for part in key)  # hashes and a count: no text
    again = _parts(["epochs", "lr", "batch"])
    assert expand_leaves(again).leaves is again        # answered by the memo


def test_a_remembered_group_does_not_hide_a_changed_one():
    evasion.forget_clean_texts()
    pieces = [EMAIL[i : i + 3] for i in range(0, len(EMAIL), 3)]
    look_alike = ["epochs", "lr", "batch", "dropout", "seed", "warmup", "decay"]   # seven tags, as many parts
    expand_leaves(_parts(look_alike))
    assert len(evasion._plain_groups) == 1
    split = expand_leaves(_parts(pieces))
    assert EMAIL in _joined(split.leaves)
    # Seen again, a group that joined to something is joined again (it was not remembered).
    assert EMAIL in _joined(expand_leaves(_parts(pieces)).leaves)


def test_the_same_parts_under_other_keys_are_a_different_group():
    evasion.forget_clean_texts()
    parts = ["notes for the run were sent by jane.doe", "@example.com and archived later tonight."]
    # Longer than a fragment under ordinary keys: nothing to join, and remembered so.
    plain = [Leaf(f"$.values.log.{key}", text, "user_dict") for key, text in zip(("first", "second"), parts)]
    assert expand_leaves(plain).leaves is plain
    assert len(evasion._plain_groups) == 1
    # Under numbered keys the same texts are parts of one text: joined, the memo aside.
    numbered = [Leaf(f"$.values.log.part_{i}", text, "user_dict") for i, text in enumerate(parts)]
    assert EMAIL in _joined(expand_leaves(numbered).leaves)


def test_a_group_left_short_by_the_join_budget_is_not_remembered(monkeypatch):
    evasion.forget_clean_texts()
    monkeypatch.setattr(evasion, "MAX_JOIN_CHARS_PER_REQUEST", 4)
    pieces = [EMAIL[i : i + 3] for i in range(0, len(EMAIL), 3)]
    assert expand_leaves(_parts(pieces)).undecoded
    assert not evasion._plain_groups
    monkeypatch.setattr(evasion, "MAX_JOIN_CHARS_PER_REQUEST", 1024 * 1024)
    assert EMAIL in _joined(expand_leaves(_parts(pieces)).leaves)


def test_header_verdicts_follow_the_value_not_only_the_name():
    headers._verdicts.clear()
    shaped = [("Content-Type", "application/json"), ("Accept", "*/*")]
    assert headers.scanned(shaped) == []
    assert headers.scanned(shaped) == []               # from the memo
    held = [("Content-Type", "219-09-9999"), ("Accept", "*/*")]
    assert headers.scanned(held) == [("content-type", "219-09-9999")]
    assert headers.scanned([("X-Api-Key", "abc")]) == []           # a credential: never scanned
    assert headers.scanned([("X-Note", "abc")]) == [("x-note", "abc")]
    assert all(isinstance(part, int) for key in headers._verdicts for part in key)


# --- header leaves of body-less repeats (scanner/pipeline.py `Scanner._clean_repeat`) --------

import pytest  # noqa: E402

from metagate.scanner.catalog import Catalog  # noqa: E402
from metagate.scanner.detectors.registry import build_detectors  # noqa: E402
from metagate.scanner.model import InspectionRequest  # noqa: E402
from metagate.scanner.pipeline import Scanner, policy_input  # noqa: E402
from metagate.scanner.schemas import SchemaSet  # noqa: E402


@pytest.fixture(scope="module")
def full_scanner() -> Scanner:
    catalog = Catalog.load()
    return Scanner(catalog, SchemaSet(catalog), *build_detectors({}), b"k" * 32)


def _read(note: str, request_id: str = "3fa2b9c1") -> InspectionRequest:
    # What the SDK sends on every run (its X-Request-ID fresh each time), and one header
    # whose value a client chose.
    return InspectionRequest("GET", "/api/v1/pipelines", headers=(
        ("User-Agent", "zenml/0.98.0"), ("X-Request-ID", request_id), ("X-Note", note)))


def _facts(scanner: Scanner, request: InspectionRequest) -> tuple:
    result = scanner.scan(request)
    return ([(f.entity, f.path) for f in result.findings], [(v.path, v.kind) for v in result.violations],
            [(leaf.path, leaf.text, leaf.field_class, leaf.is_key) for leaf in result.leaves],
            policy_input(request, result))


def test_clean_header_leaves_of_a_repeat_are_remembered_by_digest_and_decide_as_before(full_scanner):
    full_scanner.clear_caches()
    first = _facts(full_scanner, _read("nightly", "3fa2b9c1"))   # fresh: remembered as a clean read
    second = _facts(full_scanner, _read("nightly", "7be01d2a"))  # a repeat: its headers scanned
    third = _facts(full_scanner, _read("nightly", "c4d5e6f7"))   # ... and found clean before
    assert full_scanner._clean_headers
    assert all(isinstance(part, int) for key in full_scanner._clean_headers for part in key)
    unremembered = Scanner(full_scanner.catalog, full_scanner.schemas, full_scanner.detectors,
                           full_scanner.tree_detectors, b"k" * 32, remember_clean=False)
    assert second[:3] == third[:3] == _facts(unremembered, _read("nightly", "c4d5e6f7"))[:3]
    assert second[3]["fields"] == third[3]["fields"] and not first[0]


def test_a_leak_in_a_header_after_a_memo_hit_still_blocks(full_scanner):
    full_scanner.clear_caches()
    for request_id in ("3fa2b9c1", "7be01d2a", "c4d5e6f7"):
        assert not full_scanner.scan(_read("nightly", request_id)).findings
    assert full_scanner._clean_headers
    # The same request, one header value changed to a leak: scanned, found.
    leaked = full_scanner.scan(_read(EMAIL, "0a1b2c3d"))
    assert ("EMAIL_ADDRESS", "$headers.x-note") in [(f.entity, f.path) for f in leaked.findings]
    # An SDK id that is not of the SDK's shape is a header value like any other.
    held = full_scanner.scan(_read("nightly", "219-09-9999"))
    assert "$headers.x-request-id" in [f.path for f in held.findings]
