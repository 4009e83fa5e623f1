"""A value split into pieces that each look like nothing is still found (issue 12, splitting).

For every entity class x split form (tests/support/strategies.py, the splitting section:
siblings named `card_bin`/`card_mid`/`card_last4` or `a`/`b`/`c`, numbered `part_0` ...,
list items of 1-4 characters, an index -> piece dict in any order, one-key records, single
characters inside one string, lists of byte integers) x place (a run-metadata value, repeated
query parameters, run tags), the gate, through the real `Inspector`, blocks the request with a
finding of the entity's category at or under the place. Short clean metadata in the same
shapes (tags, hyperparameters, labels, id and version parts, sha prefixes) is not joined into
anything that blocks. A pathological split (a megabyte of one-character pieces, of one-key
records, of characters in one string) gets a decision within a bound.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metagate.proxy.inspection import Inspector, InspectorSettings
from metagate.scanner.capture import request_from_record
from metagate.scanner.evasion import expand_leaves
from metagate.scanner.model import InspectionRequest

from tests.support import strategies as S
from tests.support.gate_properties import BLOCKING_SCORE, GATE_PROPERTIES

COMMON = GATE_PROPERTIES


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=b"\x0d" * 32))


def _under(path: str, expected: str) -> bool:
    return path == expected or path.startswith(expected + ".") or path.startswith(expected + "[")


# Cases whose joined value is made but not recognised (the cause is a recognizer's, not a join's:
# a phone without context words scores 0.4; a 2-series Mastercard BIN is not in the card
# pattern). Not strict: they pass once the recognizers do; never add a case a join fails.
RECOGNIZER_GAPS = frozenset({"card-short_items-tags"})
_GAP = pytest.mark.xfail(strict=False, reason="joined, but the recognizer misses the value (see RECOGNIZER_GAPS)")


def _split_params() -> list:
    return [pytest.param(e, f, p, id=f"{e}-{f}-{p}", marks=[_GAP] if f"{e}-{f}-{p}" in RECOGNIZER_GAPS else [])
            for e, f, p in S.split_cases()]


@pytest.mark.parametrize(("entity_cls", "form", "place"), _split_params())
@settings(COMMON, max_examples=2)
@given(data=st.data())
def test_a_split_value_is_found_wherever_its_pieces_are(inspector, entity_cls, form, place, data):
    case = data.draw(S.splits(entity_cls, form, place), label="split")
    result = inspector.inspect(request_from_record(case.record, f"split-{form}-{place}"))
    seen = sorted({(f["category"], f["entity"], f["path"], f["score"]) for f in result.findings})
    found = [f for f in result.findings if f["category"] in case.entity.categories and _under(f["path"], case.path)
             and f["score"] >= BLOCKING_SCORE]
    assert found, f"nothing of {sorted(case.entity.categories)} at {case.path}: {case.describe()}; findings {seen}"
    assert result.decision.action == "block", (case.describe(), result.decision.rules, seen)


@pytest.mark.parametrize("place", S.SPLIT_PLACES)
@settings(COMMON, max_examples=40)
@given(data=st.data())
def test_short_clean_metadata_in_split_shapes_is_not_joined_into_a_finding(inspector, place, data):
    case = data.draw(S.clean_splits(place), label="clean")
    result = inspector.inspect(request_from_record(case.record, f"clean-split-{place}"))
    strong = sorted({(f["category"], f["entity"], f["path"]) for f in result.findings
                     if f["score"] >= BLOCKING_SCORE and _under(f["path"], case.path)})
    assert not strong, (case.describe(), strong)
    assert result.decision.action != "block", (case.describe(), result.decision.rules, result.violations)


@pytest.mark.parametrize(("entity_cls", "obfuscation"),
                         [pytest.param(e, o, id=f"{e}-{o}", marks=[_GAP] if f"{e}-{o}" in RECOGNIZER_GAPS else [])
                          for e in S.OBFUSCATED_ENTITIES for o in S.OBFUSCATIONS])
@settings(COMMON, max_examples=3)
@given(data=st.data())
def test_look_alike_letters_and_lone_surrogates_hide_nothing(inspector, entity_cls, obfuscation, data):
    case = data.draw(S.obfuscated(entity_cls, obfuscation), label="obfuscated")
    result = inspector.inspect(request_from_record(case.record, f"obfuscated-{obfuscation}"))
    seen = sorted({(f["category"], f["entity"], f["path"], f["score"]) for f in result.findings})
    found = [f for f in result.findings if f["category"] in case.entity.categories and _under(f["path"], case.path)
             and f["score"] >= BLOCKING_SCORE]
    assert found, f"nothing of {sorted(case.entity.categories)} at {case.path}: {case.describe()}; findings {seen}"
    assert result.decision.action == "block", (case.describe(), result.decision.rules, seen)


def test_every_split_form_goes_to_every_place_that_holds_it():
    cases = S.split_cases()
    assert {f for _, f, _ in cases} == set(S.SPLIT_FORMS)
    assert {p for _, _, p in cases} == set(S.SPLIT_PLACES)
    assert {e for e, _, _ in cases} == set(S.SPLIT_ENTITIES)


# --- bounds -------------------------------------------------------------------------------

MEGABYTE = 1024 * 1024
JOIN_SECONDS = 3.0        # the joins of a megabyte of pieces (measured ~0.5 s on one free core)
ONE_STRING_SECONDS = 5.0  # every decoder over a megabyte in one string (as for a megabyte of prose)
DECISION_SECONDS = 10.0   # a megabyte in one string through every detector
# A megabyte of 100,000+ pieces through every detector: the per-leaf cost of collection and
# detection (~100 us a leaf, not the joins) dominates; measured 16-28 s on a shared core.
MANY_LEAVES_SECONDS = 90.0


def _run_metadata_request(values: dict) -> InspectionRequest:
    body = {"project": "a706a4ce-f538-4db7-9ef3-6b9c877f4a01",
            "resources": [{"id": "9f20e1c8-fa07-4da0-8716-bfea486047b9", "type": "pipeline_run"}],
            "values": values, "types": {k: "dict" for k in values}}
    return InspectionRequest("POST", "/api/v1/run-metadata", json.dumps(body).encode(),
                             (("content-type", "application/json"),))


_PATHOLOGICAL = {
    "one-character items": lambda: {"x": ["a"] * (MEGABYTE // 6)},
    "one-key records": lambda: {"x": [{"v": "ab"}] * (MEGABYTE // 12)},
    "index dict": lambda: {"x": {str(i): "ab" for i in range(MEGABYTE // 14)}},
    "letter keys": lambda: {"x": {f"k{chr(97 + i % 26)}{i}": "a" for i in range(MEGABYTE // 16)}},
    "characters in one string": lambda: {"x": ",".join("ab" * (MEGABYTE // 4))},
}


def _leaves(values: dict) -> list:
    from metagate.scanner.catalog import Catalog
    from metagate.scanner.leaves import LeafWalker

    catalog = Catalog.load()
    body = json.loads(_run_metadata_request(values).body)
    return LeafWalker(catalog).collect(catalog.match("POST", "/api/v1/run-metadata"), body)[0]


@pytest.mark.parametrize("name", sorted(_PATHOLOGICAL))
def test_a_megabyte_of_split_pieces_is_joined_within_bounds(name):
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    leaves = _leaves(_PATHOLOGICAL[name]())
    started = time.perf_counter()
    expansion = expand_leaves(leaves)
    elapsed = time.perf_counter() - started
    bound = ONE_STRING_SECONDS if len(leaves) < 8 else JOIN_SECONDS
    assert elapsed < bound, f"{name}: {elapsed:.1f}s"
    appended = sum(len(a.text) - len(b.text) for a, b in zip(expansion.leaves, leaves))
    assert appended <= evasion.MAX_JOIN_CHARS_PER_REQUEST + evasion.MAX_VIEW_CHARS_PER_REQUEST
    if sum(not leaf.is_key for leaf in leaves) > evasion.MAX_FRAGMENTS_PER_REQUEST + 2:
        # Past the bound the request is undecoded (the policy blocks it): a violation per
        # object or list, not per piece.
        assert 1 <= len(expansion.undecoded) <= 4, expansion.undecoded[:5]


@pytest.mark.parametrize(("name", "bound"), [("characters in one string", DECISION_SECONDS),
                                             ("one-key records", MANY_LEAVES_SECONDS)])
def test_a_megabyte_split_request_gets_a_decision(inspector, name, bound):
    started = time.perf_counter()
    result = inspector.inspect(_run_metadata_request(_PATHOLOGICAL[name]()))
    elapsed = time.perf_counter() - started
    assert elapsed < bound, f"{name}: {elapsed:.1f}s"
    assert result.decision.action == "block", (result.decision.rules, result.violations[:3])
