"""The scanner's shortcuts decide nothing: each one is a necessary condition (or a memo) of
work it skips, so a request gets the same findings with it as without it.

- `decoders.may_turn`: a text where neither `reversed_view` nor `rot13_view` finds anything
  in any window; `trigger_positions` checks the IBAN windows only where it holds.
"""

from __future__ import annotations

import codecs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metagate.scanner import decoders
from tests.support.strategies import ENTITIES

# Characters the turned conditions are made of (digits, letters of both cases and a few
# Latin-1 ones, their separators), plus what sits between leaves in the joined text.
_ALPHABET = "0123456789" * 3 + "abcdefxyzABCDEFXYZ" + "éÉßø" + " .-+@_/,()\x00"
_TURNED_ENTITIES = ("email", "phone", "card", "ssn", "iban", "person_name", "aws_access_key", "github_token")


def _turned(text: str, how: str) -> str:
    return text[::-1] if how == "reversed" else codecs.encode(text, "rot13")


def _windows(text: str) -> list[str]:
    """Every window `trigger_positions` could cut from `text`, and a few others."""
    return [text] + [text[max(0, i - 40) : i + 44] for i in range(0, len(text), 3)]


def _turns(text: str) -> bool:
    return decoders.reversed_view(text) is not None or decoders.rot13_view(text) is not None


def _positions_unguarded(joined: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    with monkeypatch.context() as patch:
        patch.setattr(decoders, "may_turn", lambda text: True)
        return decoders.trigger_positions(joined)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_TURNED_ENTITIES).flatmap(lambda name: ENTITIES[name]),
       st.sampled_from(("reversed", "rot13")), st.text(_ALPHABET, max_size=30), st.text(_ALPHABET, max_size=30))
def test_may_turn_holds_wherever_a_turned_value_turns(entity, how, before, after):
    text = before + _turned(entity.text, how) + after
    for window in _windows(text):
        if _turns(window):
            assert decoders.may_turn(window), "a turned value that may_turn misses"


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.text(_ALPHABET, min_size=1, max_size=120))
def test_may_turn_holds_wherever_anything_turns(text):
    for window in _windows(text):
        if _turns(window):
            assert decoders.may_turn(window)


@settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_TURNED_ENTITIES).flatmap(lambda name: ENTITIES[name]),
       st.sampled_from(("reversed", "rot13", "plain")), st.uuids(), st.uuids())
def test_the_guard_changes_no_trigger_position(entity, how, first, second):
    value = entity.text if how == "plain" else _turned(entity.text, how)
    for joined in (
        f"\x00/srv/store/{first}/logs/{second}.log\x00note {value} end\x00{second}\x00",
        f"\x00/tmp/run/local_stores/{first}/{second.hex[:8]}\x00{second}\x00",  # ids and paths only
    ):
        with pytest.MonkeyPatch.context() as patch:
            assert decoders.trigger_positions(joined) == _positions_unguarded(joined, patch)


def test_the_bound_on_window_checks_still_counts_where_nothing_turns(monkeypatch):
    # 2000 IBAN-like spots and nothing that turns: past MAX_TRIGGER_CHECKS the text is still
    # handed to the decoders, as before the guard.
    joined = "\x00" + "/".join(["12ab"] * 2000) + "\x00"
    assert not decoders.may_turn(joined)
    positions = decoders.trigger_positions(joined)
    assert positions == _positions_unguarded(joined, monkeypatch)
    assert positions, "the bound hands the text on"
