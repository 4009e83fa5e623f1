"""Dates of birth: a date that the text or the field name says is someone's birth date.

A bare date is metadata (run times, data cut-offs), so only a date next to a birth cue counts:
"date of birth: 1984-03-12", "born on 12/03/1984", or {"dob": "1984-03-12"}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from metagate.scanner import jsonpath
from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.model import Leaf

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"(?:(?:19|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"       # 1984-03-12
    r"|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)\d\d"         # 12/03/1984
    r"|(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.](?:19|20)\d\d"         # 03/12/1984
    rf"|(?:0?[1-9]|[12]\d|3[01])\s+{_MONTH}\s+(?:19|20)\d\d"                      # 12 March 1984
    rf"|{_MONTH}\s+(?:0?[1-9]|[12]\d|3[01]),?\s+(?:19|20)\d\d)"                  # March 12, 1984
)
_CUE = r"(?:date\s+of\s+birth|birth\s*date|birthday|d\.?o\.?b\.?|born(?:\s+on)?)"
# The cue, then at most 20 characters that are not a sentence end, then the date.
_IN_TEXT = re.compile(rf"\b{_CUE}\b[^.;\n]{{0,20}}?\b(?P<date>{_DATE})\b", re.IGNORECASE)
# Under a birth-date key, the date may come as a datetime (`1985-03-12T00:00:00`, what
# `datetime.isoformat()` and pydantic write for a date of birth held as a datetime).
_TIME = r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+\-]\d{2}:?\d{2})?)?"
_DATE_ONLY = re.compile(rf"\s*(?P<date>{_DATE}){_TIME}\s*", re.IGNORECASE)
_KEY_CUE = re.compile(r"(?:^|[._\-\s])(?:dob|date[_\s\-]?of[_\s\-]?birth|birth[_\s\-]?date|birthday|born)(?:$|[._\-\s])",
                      re.IGNORECASE)
_TRIGGER = re.compile(r"birth|born|dob|d\.o\.b", re.IGNORECASE)


@lru_cache(maxsize=4096)  # paths repeat request after request
def _key_of(path: str) -> str:
    try:
        parts = jsonpath.parse(path)
    except ValueError:  # $query.name, $headers.name: the name is the last dotted part
        return path.rsplit(".", 1)[-1]
    return parts[-1] if parts and isinstance(parts[-1], str) else ""


@dataclass(frozen=True, slots=True)
class BirthDateSettings:
    """The `detectors.birthdate` config section: `BirthDateDetector`'s keyword arguments."""

    score: float = 0.85


class BirthDateDetector(Detector):
    name: ClassVar[str] = "birthdate"
    category: ClassVar[str] = "pii"
    settings_type = BirthDateSettings
    leaf_local: ClassVar[bool] = True   # results depend on the leaf alone: cacheable

    def __init__(self, score: float = 0.85) -> None:
        self.score = score

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        for index, leaf in enumerate(leaves):
            if not self.wants(leaf) or leaf.is_key:
                continue
            text = leaf.text
            if _TRIGGER.search(text):
                for match in _IN_TEXT.finditer(text):
                    yield Hit(index, "DATE_OF_BIRTH", match.start("date"), match.end("date"), self.score)
            elif _KEY_CUE.search(_key_of(leaf.path)):
                match = _DATE_ONLY.fullmatch(text)
                if match:
                    yield Hit(index, "DATE_OF_BIRTH", match.start("date"), match.end("date"), self.score)
