"""A value split over successive requests of one client is seen whole: the request that would
complete it is blocked (scanner/across_requests.py), and the proxy's memory of earlier values
is bounded in pieces, clients and time (proxy/recent_values.py)."""

from __future__ import annotations

import base64
import json
import pickle
import random
import secrets
import string
import uuid

import pytest

from metagate.proxy.inspection import Inspector, InspectionResult, InspectorSettings
from metagate.proxy.recent_values import RecentValues
from metagate.scanner.capture import request_from_record
from metagate.scanner.model import Piece
from tests.support.strategies import _luhn_digit


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=secrets.token_bytes(32)))


def _tag(name: str) -> dict:
    return {"method": "POST", "path": "/api/v1/tags", "query": [], "headers": {"Content-Type": "application/json"},
            "body_text": json.dumps({"name": name})}


def _run_name(name: str) -> dict:
    return {"method": "PUT", "path": f"/api/v1/runs/{uuid.uuid4()}", "query": [],
            "headers": {"Content-Type": "application/json"}, "body_text": json.dumps({"add_tags": [name]})}


def _send(inspector: Inspector, recent: RecentValues, record: dict) -> InspectionResult:
    """As the gate does: joined with the client's earlier values, remembered when forwarded."""
    import dataclasses

    request = dataclasses.replace(request_from_record(record, "r"), earlier=recent.earlier("c"))
    result = inspector.inspect(request)
    if result.decision.action != "block":
        recent.remember("c", result.pieces)
    return result


def _chunks(text: str, rng: random.Random) -> list[str]:
    pieces, index = [], 0
    while index < len(text):
        size = rng.randint(3, 6)
        pieces.append(text[index:index + size])
        index += size
    return pieces


def _email(rng: random.Random) -> str:
    letters = string.ascii_lowercase
    return f"{''.join(rng.choices(letters, k=6))}.{''.join(rng.choices(letters, k=7))}@{''.join(rng.choices(letters, k=8))}.com"


def _card(rng: random.Random) -> str:
    prefix = "4" + "".join(rng.choices(string.digits, k=14))
    return prefix + _luhn_digit(prefix)


def _aws(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choices(string.ascii_uppercase + "234567", k=16))


def _pickle_b64(rng: random.Random) -> str:
    return base64.b64encode(pickle.dumps({"rows": [[rng.random(), rng.randrange(99)] for _ in range(3)]}, protocol=4)).decode()


@pytest.mark.parametrize("make", [_email, _card, _aws, _pickle_b64])
@pytest.mark.parametrize("channel", [_tag, _run_name])
@pytest.mark.parametrize("seed", range(3))
def test_a_value_split_over_requests_is_blocked_when_completed(inspector, make, channel, seed):
    rng = random.Random(seed)
    pieces = _chunks(make(rng), rng)
    recent = RecentValues()
    decisions = [_send(inspector, recent, channel(piece)).decision for piece in pieces]
    # Some request before or at the last one is refused: the server never holds the value whole.
    blocked = [d for d in decisions if d.action == "block"]
    assert blocked, f"{len(pieces)} pieces all passed"


def test_another_clients_pieces_or_another_place_are_not_joined(inspector):
    rng = random.Random(5)
    pieces = _chunks(_email(rng), rng)
    recent = RecentValues()
    for piece in pieces[:-1]:
        assert _send(inspector, recent, _tag(piece)).decision.action == "allow"
    # The last piece at another place (a run's tags, not a tag's name) does not complete it …
    assert _send(inspector, recent, _run_name(pieces[-1])).decision.action == "allow"
    # … and another client has no earlier values at all.
    assert recent.earlier("someone-else") == ()


def test_clean_values_repeated_at_a_place_are_not_blocked(inspector):
    recent = RecentValues()
    names = ["training", "eval", "prod", "v2", "sklearn", "2024-05-01", "churn-model", "baseline", "lr=0.01",
             "batch_64", "gpu", "a100", "nightly", "exp-17", "exp-18", "exp-19", "us-east-1", "daily"]
    for name in names * 2:
        result = _send(inspector, recent, _tag(name))
        assert result.decision.action == "allow", (name, result.decision.reasons)


def test_the_memory_is_bounded_in_pieces_clients_and_time():
    now = [0.0]
    recent = RecentValues(seconds=10, pieces_per_client=3, clients=2, clock=lambda: now[0])
    recent.remember("a", [Piece("/t", "$.name", text) for text in "wxyz"])
    assert [p.text for p in recent.earlier("a")] == ["x", "y", "z"]
    recent.remember("b", [Piece("/t", "$.name", "b")])
    recent.remember("c", [Piece("/t", "$.name", "c")])
    assert recent.earlier("a") == ()            # least recently seen client dropped
    now[0] = 11.0
    assert recent.earlier("c") == ()            # out of the window
    assert RecentValues(seconds=0).earlier("c") == ()


def test_a_value_repeated_at_its_place_is_kept_once():
    recent = RecentValues()
    recent.remember("a", [Piece("/t", "$.name", "same")] * 3)
    recent.remember("a", [Piece("/t", "$.name", "same")])
    assert len(recent) == 1


def test_pieces_added_by_a_concurrent_request_at_the_same_place_are_noticed():
    recent = RecentValues()
    version = recent.version
    recent.remember("a", [Piece("/t", "$.name", "jan")])
    assert recent.added_since("a", version, {("/t", "$.name")})
    assert not recent.added_since("a", version, {("/t", "$.other")})
    assert not recent.added_since("a", recent.version, {("/t", "$.name")})


def test_ids_and_long_values_are_not_pieces(inspector):
    long_text = "a description of the training run " * 3
    result = inspector.inspect(request_from_record(_tag(str(uuid.uuid4())), "r"))
    assert result.pieces == ()
    result = inspector.inspect(request_from_record(_tag(long_text), "r"))
    assert all(piece.text != long_text for piece in result.pieces)


def test_the_captured_sdk_traffic_joined_in_order_is_not_blocked(inspector):
    # Real runs repeat places with new values on every request (X-Request-ID, step names,
    # versions): a join of unrelated values must never prove anything.
    from pathlib import Path

    recent = RecentValues()
    captured = sorted(Path(__file__).parents[1].joinpath("corpus", "captured").glob("*.jsonl"))
    sent = 0
    for path in captured:
        if "pii" in path.name:
            continue
        for line in path.read_text().splitlines():
            result = _send(inspector, recent, json.loads(line))
            sent += 1
            assert result.decision.action != "block", (path.name, result.decision.reasons)
    assert sent > 100 and len(recent) > 100
