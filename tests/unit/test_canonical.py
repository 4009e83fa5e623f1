"""Canonical texts: UUIDs replaced by fixed stand-ins before detection, within bounds."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metagate.scanner.canonical import MAX_UUIDS_PER_TEXT, STAND_INS, canonical_leaves, canonical_text
from metagate.scanner.catalog import Catalog
from metagate.scanner.detection import LeafDetection
from metagate.scanner.detectors.registry import build_detectors
from metagate.scanner.model import Leaf


def _log_uri(log_id: uuid.UUID, store: str = "6dddff6d-f725-4cfa-a17b-d05865c63362") -> str:
    return f"s3://ml-artifacts/local_stores/{store}/logs/{log_id}.log"


def test_uuids_become_stand_ins_of_the_same_length_in_order_of_first_appearance():
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    text = f"a/{first}/b/{second}/c/{first}"
    assert canonical_text(text) == f"a/{STAND_INS[0]}/b/{STAND_INS[1]}/c/{STAND_INS[0]}"
    assert len(canonical_text(text)) == len(text)


def test_two_texts_that_differ_only_in_their_ids_are_the_same_text():
    assert canonical_text(_log_uri(uuid.uuid4())) == canonical_text(_log_uri(uuid.uuid4()))


@pytest.mark.parametrize(
    "text",
    [
        "no ids here",
        "-".join(str(uuid.uuid4()) for _ in range(4)),                 # hex chunks joined by dashes: one long run
        "ab" + str(uuid.uuid4()),                                       # glued to more hex
        str(uuid.uuid4()).upper(),                                      # not how ZenML writes them
        " ".join(str(uuid.uuid4()) for _ in range(MAX_UUIDS_PER_TEXT + 1)),  # too many to be ids
    ],
)
def test_texts_outside_the_bounds_are_left_as_sent(text):
    assert canonical_text(text) == text


def test_leaves_without_ids_are_returned_as_given():
    leaves = [Leaf("$.name", "train", "name"), Leaf("$.uri", "s3://bucket/a-b", "uri")]
    assert canonical_leaves(leaves) is leaves
    mixed = [*leaves, Leaf("$.log", _log_uri(uuid.uuid4()), "uri")]
    canonical = canonical_leaves(mixed)
    assert canonical[:2] == mixed[:2] and canonical[2].text == canonical_text(mixed[2].text)
    assert canonical[2].path == "$.log" and canonical[2].field_class == "uri"


@pytest.fixture(scope="module")
def detection() -> LeafDetection:
    detectors, _ = build_detectors({})
    return LeafDetection(detectors)


def _note(log_id: uuid.UUID) -> Leaf:
    return Leaf("$.values.note", f"logs in {_log_uri(log_id)}, ask jane.doe@example.com", "user_dict")


def test_a_text_with_fresh_ids_is_a_cache_hit_and_reports_the_same(detection):
    first, second = [_note(uuid.uuid4())], [_note(uuid.uuid4())]
    cold = [(h.entity, h.start, h.end) for h in detection.scan(first)]
    hits_before = detection.cache.stats.hits
    warm = [(h.entity, h.start, h.end) for h in detection.scan(second)]
    assert detection.cache.stats.hits == hits_before + 1
    email_at = second[0].text.index("jane.doe@")
    assert warm == cold and ("EMAIL_ADDRESS", email_at, email_at + len("jane.doe@example.com")) in warm


def test_findings_fingerprint_the_value_as_sent():
    import json

    from metagate.scanner.fingerprint import fingerprint
    from metagate.scanner.model import InspectionRequest
    from metagate.scanner.pipeline import Scanner
    from metagate.scanner.schemas import SchemaSet

    catalog = Catalog.load()
    scanner = Scanner(catalog, SchemaSet(catalog), *build_detectors({}), b"k" * 32)
    # A high-entropy token with an id inside: the matched span covers the stand-in.
    token = "Zx9Qw2Lm8Rt4Vb6Nc1Kp7HsQ_" + str(uuid.uuid4())
    body = {"project": str(uuid.uuid4()), "resources": [{"id": str(uuid.uuid4()), "type": "pipeline_run"}],
            "values": {"note": f"token {token!r}"}, "types": {"note": "string"}}
    request = InspectionRequest("POST", "/api/v1/run-metadata", json.dumps(body).encode(), (("content-type", "application/json"),))
    findings = [f for f in scanner.scan(request).findings if f.path == "$.values.note"]
    assert findings
    text = f"token {token!r}"
    assert {f.fingerprint for f in findings} == {fingerprint(b"k" * 32, text[f.start : f.end]) for f in findings}
    assert any(token in text[f.start : f.end] for f in findings)


def test_the_random_subfolder_of_an_artifact_uri_is_canonical_too():
    def artifact_uri() -> str:  # zenml's generate_artifact_uri
        return f"s3://ml-artifacts/train/model/{uuid.uuid4()}/{str(uuid.uuid4())[:8]}"

    first, second = artifact_uri(), artifact_uri()
    assert canonical_text(first) == canonical_text(second) and len(canonical_text(first)) == len(first)
    # Eight hex digits that are not such a subfolder stay.
    assert canonical_text(f"s3://b/{uuid.uuid4()}/deadbeefcafe").endswith("/deadbeefcafe")


def test_the_start_time_in_a_default_run_name_is_canonical_too():
    first, second = "clean_training-2024_01_26-23_01_33_119023", "clean_training-2025_11_02-08_14_59_000001"
    assert canonical_text(first) == canonical_text(second) == "clean_training-2024_05_17-13_42_58_361947"
    assert canonical_text("batch 2024_01_26 of 12") == "batch 2024_01_26 of 12"   # a date alone is not one


def test_the_bound_counts_every_volatile_value():
    many = " ".join(f"run-2024_01_26-23_01_33_{i:06d}" for i in range(MAX_UUIDS_PER_TEXT + 1))
    assert canonical_text(many) == many


def _reference(text: str) -> str:
    """The definition: every `_VOLATILE` match, left to right, by its stand-in."""
    from metagate.scanner.canonical import _VOLATILE, RUN_TIME_STAND_IN

    order: dict[str, str] = {}
    subfolders: dict[str, str] = {}

    def stand_in(match):
        found = match.group("uuid") or match.group("run_time")
        if found not in order:
            order[found] = (RUN_TIME_STAND_IN if match.group("run_time") else
                            STAND_INS[sum(1 for v in order.values() if v != RUN_TIME_STAND_IN) % MAX_UUIDS_PER_TEXT])
        out = order[found]
        if match.group("subfolder"):
            subfolders.setdefault(match.group("subfolder"), "/" + STAND_INS[len(subfolders) % MAX_UUIDS_PER_TEXT][-8:])
            out += subfolders[match.group("subfolder")]
        return out

    replaced = _VOLATILE.sub(stand_in, text)
    return text if len(order) > MAX_UUIDS_PER_TEXT else replaced


_PIECES = st.sampled_from([
    "00000000-0000-4000-8000-000000000000", "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", "/", "-", "_", "a", "G", "9",
    "2024_01_26-23_01_33_119023", "/1a2b3c4d", "deadbeef", "-4b2d-9b5d-ab8dfbbd4bed", " ", "train",
])


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_the_gated_search_replaces_exactly_what_the_pattern_matches(text):
    assert canonical_text(text) == _reference(text)
