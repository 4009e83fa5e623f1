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
(logs, code, free text) a table of `FIELD_MIN_LINES` lines and `FIELD_MIN_COLUMNS` columns, or
`min_rows` lines if fewer, is reported. Besides delimited text, the tables pandas prints are
found: `to_markdown()` (outer pipes, a header rule), `to_string()` (aligned columns) and
`to_html()` (HTML_TABLE).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

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
# Text tables pandas and friends print: `df.to_string()` / `print(df)` (columns aligned with
# spaces), `df.to_markdown()` (pipes around every row, a `|---|` rule under the header) and
# `df.to_html()` (rows as <tr>). Aligned columns are split on runs of whitespace, from
# `_MIN_ALIGNED_COLUMNS` columns on (two words a line are key/value notes, not a table).
_WHITESPACE = " "
_MIN_ALIGNED_COLUMNS = 3
_MARKDOWN_RULE = re.compile(r"\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*")
_HTML_ROW = re.compile(r"<tr[\s>]", re.IGNORECASE)
_HTML_CELL = re.compile(r"<t[dh][\s>]", re.IGNORECASE)
_HTML_TABLE = re.compile(r"<table[\s>].*?</table\s*>", re.IGNORECASE | re.DOTALL)
DEFAULT_MIN_NUMBERS = 128  # as NumericArrayDetector: an embedding has 384 or more
_NUMERIC_COLUMN_SHARE = 0.8
# Where a run of numbers is data from the user floor: user data, and the text fields of ZenML
# that leave unredacted (a description, an exception message). Code keeps `min_numbers`.
_NUMBERS_MEASURED_CLASSES = USER_DATA_CLASSES | {"free_text", "log"}
USER_DATA_MIN_LINES = 3  # a header and two rows: the policy's threshold sits at or above
# In ZenML's own text fields (a description, an exception message, a traceback, code) a table
# printed from a DataFrame (`print(df.head())`, `df.to_csv()` in an f-string) is data as much as
# its JSON form is (found there from three rows): from five lines (a header and four rows) of three columns
# or more (a model card's two-column metric/value table stays), or `min_rows` lines, whichever
# is fewer.
FIELD_MIN_LINES = 5
FIELD_MIN_COLUMNS = 3


@dataclass(frozen=True, slots=True)
class TableSettings:
    """The `detectors.tables` config section: `TextTableDetector`'s keyword arguments."""

    min_numbers: int = DEFAULT_MIN_NUMBERS
    min_rows: int = 20


class TextTableDetector(Detector, Measured):
    name = "tables"
    category = "blob"
    settings_type = TableSettings
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
                if user_data:
                    tables = list(self._tables(index, text, USER_DATA_MIN_LINES))
                else:
                    tables = list(self._tables(index, text, min(self.min_rows, FIELD_MIN_LINES), FIELD_MIN_COLUMNS))
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
        if entity == "HTML_TABLE":
            return _html_measure(text)
        lines = [line for line in _LINE_BREAK.split(text) if line.strip() and not _MARKDOWN_RULE.fullmatch(line)]
        columns = max((len(fields) for d in (*_DELIMITERS, _WHITESPACE) if (fields := _fields(lines[0], d))),
                      default=0) if lines else 0
        return (("rows", max(len(lines) - 1, 0)), ("columns", columns))

    def _numeric_runs(self, index: int, text: str, min_numbers: int) -> Iterator[Hit]:
        for start, end in numeric_runs(text, min_numbers):
            yield Hit(index, "NUMERIC_ARRAY", start, end, 0.9)

    def _tables(self, index: int, text: str, min_rows: int, min_columns: int = 2) -> Iterator[Hit]:
        if text.count("\n") + text.count("\\n") < min_rows - 1:  # breaks, or serialized ones
            return
        if "<" in text:
            for match in _HTML_TABLE.finditer(text):
                (_, rows), (_, columns) = _html_measure(match.group())
                if rows + 1 >= min_rows and columns >= min_columns:
                    yield Hit(index, "HTML_TABLE", match.start(), match.end(), 0.8)
                    break
        delimiters = [d for d in _DELIMITERS if text.count(d) >= min_rows]
        delimiters.append(_WHITESPACE)
        spans: list[tuple[int, int]] = []  # of each line, without its break
        start = 0
        for match in _LINE_BREAK.finditer(text):
            spans.append((start, match.start()))
            start = match.end()
        spans.append((start, len(text)))
        lines = [text[begin:end] for begin, end in spans]
        if any(_MARKDOWN_RULE.fullmatch(line) for line in lines):
            # A markdown table's header rule is no row: the header and the rows under it are one table.
            kept = [i for i, line in enumerate(lines) if not _MARKDOWN_RULE.fullmatch(line)]
            spans, lines = [spans[i] for i in kept], [lines[i] for i in kept]
        found = False
        for delimiter in delimiters:
            if delimiter == _WHITESPACE and found:
                break  # a delimited table's cells are aligned too: one finding is enough
            for first, last in self._row_stretches(lines, delimiter, min_rows, min_columns):
                if delimiter == _WHITESPACE and not _aligned_table(lines[max(first - 1, 0) : last + 1]):
                    continue  # a printed matrix, or assignments (`lr = 0.01`): no table
                found = True
                yield Hit(index, "CSV_TABLE", spans[first][0], spans[last][1], 0.8)
                break  # one finding per delimiter is enough to name the leaf

    def _row_stretches(self, lines: list[str], delimiter: str, min_rows: int,
                       min_columns: int = 2) -> Iterator[tuple[int, int]]:
        """(first, last) line indexes of stretches of rows with the same field count (at
        least `min_columns`)."""
        start, width = 0, 0
        for number, line in enumerate([*lines, ""]):  # a final "" closes the last stretch
            fields = _fields(line, delimiter)
            count = len(fields) if fields else 0
            if count == width and count:
                continue
            if width >= min_columns and number - start >= min_rows \
                    and _has_numeric_column(lines[start:number], delimiter):
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
    fields, or a trailing delimiter (code continuing a literal: `"a": 1,`); a markdown row
    (`| a | b |`) is read without its outer pipes; aligned columns (`_WHITESPACE`) are split on
    runs of whitespace, from `_MIN_ALIGNED_COLUMNS` on."""
    line = line.rstrip("\r")
    if delimiter == _WHITESPACE:
        fields = line.split()
        return fields if len(fields) >= _MIN_ALIGNED_COLUMNS else None
    if delimiter == "|":
        stripped = line.strip()
        if len(stripped) > 2 and stripped.startswith("|") and stripped.endswith("|"):
            line = stripped[1:-1]
    if delimiter not in line or line.rstrip().endswith(delimiter):
        return None
    fields = None
    if '"' in line:
        # Quoted cells may hold the delimiter (`"Doe, Jane",42`): read as the csv module does
        # (a line it cannot read, with a stray carriage return or a NUL, is split as it is).
        try:
            fields = next(csv.reader([line], delimiter=delimiter), [])
        except csv.Error:
            fields = None
    if fields is None:
        fields = line.split(delimiter)
    if sum(1 for field in fields if field.strip()) < 2:
        return None
    return fields


def _has_numeric_column(rows: list[str], delimiter: str) -> bool:
    """A column with a number in most rows (the first row aside: it may be a header)."""
    split = [_fields(row, delimiter) or [] for row in rows[1:]]
    for column in range(len(split[0])):
        numeric = sum(1 for fields in split if _IS_NUMBER.fullmatch(fields[column]))
        if numeric >= _NUMERIC_COLUMN_SHARE * len(split):
            return True
    return False


def _html_measure(text: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """(rows, the header row aside; columns: cells of the widest row) of an HTML table."""
    rows = _HTML_ROW.split(text)[1:]
    columns = max((len(_HTML_CELL.findall(row)) for row in rows), default=0)
    return (("rows", max(len(rows) - 1, 0)), ("columns", columns))


_LETTER = re.compile(r"[^\W\d_]{2,}")
_PUNCTUATION = re.compile(r"[^\w]+")


def _aligned_table(rows: list[str]) -> bool:
    """Whether rows of aligned columns (the first may be the header, or the line above them:
    `to_string` leaves the index unnamed) are a table: column names (two words or more in the
    header) or a word in a row below it (a text column: `gold`, `Leeds`); numbers alone are a
    printed matrix. And no column that is one punctuation mark all the way down (`=` or `:` of
    assignments)."""
    if len(_LETTER.findall(rows[0])) < 2 and not any(_LETTER.search(row) for row in rows[1:]):
        return False
    split = [row.split() for row in rows[1:]]
    for column in range(len(split[0])):
        cells = {fields[column] for fields in split if column < len(fields)}
        if len(cells) == 1 and _PUNCTUATION.fullmatch(next(iter(cells))):
            return False
    return True
