"""Tensors and tables written out as text inside a string.

`NumericArrayDetector` finds them in the JSON structure; this detector finds the same data
once it has been turned into a string: `str(embedding)`, `json.dumps(vector)`, a printed numpy
array or torch tensor, `df.to_csv()`. Two shapes:

- NUMERIC_ARRAY: a run of at least `min_numbers` numbers with only separators between them
  (commas, semicolons, whitespace, brackets), as any language prints a vector or a matrix;
- CSV_TABLE: at least `min_rows` consecutive lines that split into the same number of
  fields (two or more of them non-empty) on one delimiter (comma, tab, semicolon or pipe),
  with a column that holds a number in most rows (a header aside). Source code has runs of
  lines with one comma each (`"a": 1,`, `f(x, y)`); those end in the delimiter or hold no
  numeric column.

In user data (the classes of `shapes.USER_DATA_CLASSES`) a table is data from a few rows:
there a stretch of `USER_DATA_MIN_LINES` lines (a header and two rows), or a run of
`shapes.NUMBERS_FLOOR` numbers, is reported, and the
finding carries its measure (`rows`, the header aside, and `columns`; `numbers` for a
numeric run) for the policy's `shape_thresholds` (rules/blobs.rego) to decide. Elsewhere
(logs, code, free text) `min_rows` stays the bar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.detectors.shapes import NUMBERS_FLOOR, USER_DATA_CLASSES, Measure, Measured
from metagate.scanner.model import PROVEN_CLASSES, Leaf

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# A maximal run of numbers, each separated from the next. A string that was itself
# serialized carries its line breaks as the two characters `\n`. Nothing may be required
# after the run: a check there that fails would start the whole run again from its next
# number, quadratic in its length (and `1,2,...,9x` would hide every number before the x).
_NUMBER_RUN = re.compile(rf"(?<![\w.]){_NUMBER}(?:(?:[\s,;\[\]()]|\\[nrt])+{_NUMBER})++")
_NUMBER_RE = re.compile(_NUMBER)
_IS_NUMBER = re.compile(rf"\s*{_NUMBER}\s*")
_LINE_BREAK = re.compile(r"\r?\n|\\r\\n|\\n")
_DELIMITERS = (",", "\t", ";", "|")
DEFAULT_MIN_NUMBERS = 128  # as NumericArrayDetector: an embedding has 384 or more
_NUMERIC_COLUMN_SHARE = 0.8
# Where a run of numbers is data from the user floor: user data, and the text fields of ZenML
# that leave unredacted (a description, an exception message). Code keeps `min_numbers`.
_NUMBERS_MEASURED_CLASSES = USER_DATA_CLASSES | {"free_text", "log"}
USER_DATA_MIN_LINES = 3  # a header and two rows: the policy's threshold sits at or above


class TextTableDetector(Detector, Measured):
    name = "tables"
    category = "blob"
    # Hits depend only on a leaf's text: cacheable.
    leaf_local = True
    skip_classes = PROVEN_CLASSES | {"secret_ref"}

    def __init__(self, min_numbers: int = DEFAULT_MIN_NUMBERS, min_rows: int = 20) -> None:
        if min_numbers < 2 or min_rows < 3:
            raise ValueError("tables: min_numbers must be at least 2 and min_rows at least 3 (a header and two rows)")
        self.min_numbers = min_numbers
        self.min_rows = min_rows
        # The shortest text that can hold either: "1,1,...,1", or min_rows lines of "1,1".
        self._min_chars = min(2 * min_numbers - 1, 4 * min_rows - 1)
        self._min_user_numbers = min(min_numbers, NUMBERS_FLOOR)
        self._min_user_chars = min(self._min_chars, 4 * USER_DATA_MIN_LINES - 1, 2 * self._min_user_numbers - 1)

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        hits: list[Hit] = []
        for index, leaf in enumerate(leaves):
            text = leaf.text
            if len(text) < self._min_user_chars:
                continue
            user_data = leaf.field_class in USER_DATA_CLASSES
            # A run of numbers is data in any text a user or ZenML writes (an embedding
            # printed into a description or an exception message): the user floor there too.
            measured = leaf.field_class in _NUMBERS_MEASURED_CLASSES
            if (measured or len(text) >= self._min_chars) and self.wants(leaf):
                runs = list(self._numeric_runs(index, text, self._min_user_numbers if measured else self.min_numbers))
                tables = list(self._tables(index, text, USER_DATA_MIN_LINES if user_data else self.min_rows))
                if user_data and tables:
                    # The numbers of a table are the table's: a shorter run inside one is not
                    # reported twice (a run long enough anywhere still is, as before).
                    runs = [run for run in runs
                            if not any(t.start <= run.start and run.end <= t.end for t in tables)
                            or len(_NUMBER_RE.findall(text, run.start, run.end)) >= self.min_numbers]
                hits.extend(runs)
                hits.extend(tables)
        return hits

    def measure(self, entity: str, text: str) -> Measure:
        """Of a hit's span: `numbers` of a numeric run, `rows` (the header aside) and
        `columns` of a table."""
        if entity == "NUMERIC_ARRAY":
            return (("numbers", len(_NUMBER_RE.findall(text))),)
        lines = [line for line in _LINE_BREAK.split(text) if line.strip()]
        columns = max((len(fields) for d in _DELIMITERS if (fields := _fields(lines[0], d))), default=0) if lines else 0
        return (("rows", max(len(lines) - 1, 0)), ("columns", columns))

    def _numeric_runs(self, index: int, text: str, min_numbers: int) -> Iterator[Hit]:
        for start, end in numeric_runs(text, min_numbers):
            yield Hit(index, "NUMERIC_ARRAY", start, end, 0.9)

    def _tables(self, index: int, text: str, min_rows: int) -> Iterator[Hit]:
        if text.count("\n") + text.count("\\n") < min_rows - 1:  # breaks, or serialized ones
            return
        delimiters = [d for d in _DELIMITERS if text.count(d) >= min_rows]
        if not delimiters:
            return
        spans: list[tuple[int, int]] = []  # of each line, without its break
        start = 0
        for match in _LINE_BREAK.finditer(text):
            spans.append((start, match.start()))
            start = match.end()
        spans.append((start, len(text)))
        lines = [text[begin:end] for begin, end in spans]
        for delimiter in delimiters:
            for first, last in self._row_stretches(lines, delimiter, min_rows):
                yield Hit(index, "CSV_TABLE", spans[first][0], spans[last][1], 0.8)
                break  # one finding per delimiter is enough to name the leaf

    def _row_stretches(self, lines: list[str], delimiter: str, min_rows: int) -> Iterator[tuple[int, int]]:
        """(first, last) line indexes of stretches of rows with the same field count."""
        start, width = 0, 0
        for number, line in enumerate([*lines, ""]):  # a final "" closes the last stretch
            fields = _fields(line, delimiter)
            count = len(fields) if fields else 0
            if count == width and count:
                continue
            if width and number - start >= min_rows and _has_numeric_column(lines[start:number], delimiter):
                yield start, number - 1
            start, width = number, count


def numeric_runs(text: str, min_numbers: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of at least `min_numbers` numbers in `text`."""
    if sum(map(text.count, "0123456789")) < min_numbers:
        return
    for match in _NUMBER_RUN.finditer(text):
        if match.end() - match.start() >= 2 * min_numbers - 1:
            if len(_NUMBER_RE.findall(match.group())) >= min_numbers:
                yield match.span()


def _fields(line: str, delimiter: str) -> list[str] | None:
    """The fields of a row, or None when the line is no row: fewer than two non-empty
    fields, or a trailing delimiter (code continuing a literal: `"a": 1,`)."""
    line = line.rstrip("\r")
    if delimiter not in line or line.rstrip().endswith(delimiter):
        return None
    fields = line.split(delimiter)
    if sum(1 for field in fields if field.strip()) < 2:
        return None
    return fields


def _has_numeric_column(rows: list[str], delimiter: str) -> bool:
    """A column with a number in most rows (the first row aside: it may be a header)."""
    split = [row.rstrip("\r").split(delimiter) for row in rows[1:]]
    for column in range(len(split[0])):
        numeric = sum(1 for fields in split if _IS_NUMBER.fullmatch(fields[column]))
        if numeric >= _NUMERIC_COLUMN_SHARE * len(split):
            return True
    return False
