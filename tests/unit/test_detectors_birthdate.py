"""Dates of birth are found only next to a birth cue, in the text or in the field name."""

import pytest

from metagate.scanner.detectors.birthdate import BirthDateDetector
from metagate.scanner.model import Leaf

DETECTOR = BirthDateDetector()


def hits(text: str, path: str = "$.values.note"):
    return [(h.entity, text[h.start : h.end]) for h in DETECTOR.scan([Leaf(path, text, "user_dict")])]


@pytest.mark.parametrize("text, date", [
    ("date of birth: 1984-03-12", "1984-03-12"),
    ("Patient DOB 12/03/1984, admitted", "12/03/1984"),
    ("born on March 12, 1984 in Leeds", "March 12, 1984"),
    ("birthdate=12 Mar 1984", "12 Mar 1984"),
])
def test_dates_next_to_a_birth_cue_are_found(text, date):
    assert hits(text) == [("DATE_OF_BIRTH", date)]


def test_a_date_in_a_birth_named_field_is_found():
    assert hits("1984-03-12", "$.values.customer_dob") == [("DATE_OF_BIRTH", "1984-03-12")]
    assert hits("1984-03-12", '$.values["date of birth"]') == [("DATE_OF_BIRTH", "1984-03-12")]


def test_a_birth_date_written_as_a_datetime_is_found():
    # Issue 12: `{"dob": "1985-03-12T00:00:00"}` passed (the date alone was looked for).
    assert hits("1985-03-12T00:00:00", "$.values.dob") == [("DATE_OF_BIRTH", "1985-03-12")]
    assert hits("1985-03-12 00:00:00+00:00", "$.values.birth_date") == [("DATE_OF_BIRTH", "1985-03-12")]
    assert hits("1985-03-12T00:00:00", "$.values.start_time") == []


@pytest.mark.parametrize("text, path", [
    ("2026-11-26T05:00:00", "$.start_time"),            # run timestamps
    ("data cut-off 2024-01-31", "$.values.note"),        # dates without a birth cue
    ("model reborn after 2024-01-31 retrain", "$.values.note"),
    ("1984-03-12", "$.values.snapshot_date"),
    ("born: unknown", "$.values.note"),
])
def test_other_dates_are_not(text, path):
    assert hits(text, path) == []
