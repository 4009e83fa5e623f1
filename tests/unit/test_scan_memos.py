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
