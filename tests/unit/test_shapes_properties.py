"""Property tests for the shape detectors: every table a DataFrame makes (any size from the
policy's threshold up, any cell types, every orient, any depth, as JSON or inside a string)
is found in user data and blocked; configurations smaller than a table never are."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metagate.scanner.catalog import Catalog
from metagate.scanner.detectors.shapes import ShapeTreeDetector, table_shape

CATALOG = Catalog.load()
RUN_METADATA = CATALOG.match("POST", "/api/v1/run-metadata")

cells = st.one_of(
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12),
    st.booleans(),
    st.none(),
)
names = st.text(st.characters(codec="ascii", categories=["L"]), min_size=1, max_size=10)


@st.composite
def frames(draw: st.DrawFn) -> tuple[list[str], list[list[Any]]]:
    columns = draw(st.lists(names, min_size=2, max_size=6, unique=True))
    rows = draw(st.integers(3, 12))
    column_cells = [draw(st.lists(cells, min_size=rows, max_size=rows)) for _ in columns]
    # A column of text makes an orient="values" table a table rather than a tensor.
    column_cells[0] = [f"row {i}" for i in range(rows)]
    return columns, [[column_cells[c][r] for c in range(len(columns))] for r in range(rows)]


def orient(columns: list[str], rows: list[list[Any]], how: str) -> Any:
    records = [dict(zip(columns, row)) for row in rows]
    if how == "records":
        return records
    if how == "columns":
        return {c: {str(i): r[c] for i, r in enumerate(records)} for c in columns}
    if how == "index":
        return {str(i): r for i, r in enumerate(records)}
    if how == "split":
        return {"columns": columns, "index": list(range(len(rows))), "data": rows}
    if how == "values":
        return rows
    return {c: [r[c] for r in records] for c in columns}  # to_dict("list")


ORIENTS = ("records", "columns", "index", "split", "values", "list")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.sampled_from(ORIENTS), st.integers(0, 5), st.booleans())
def test_every_table_is_found_at_any_depth(frame, how, depth, as_string) -> None:
    columns, rows = frame
    node: Any = orient(columns, rows, how)
    if as_string:
        node = json.dumps(node)
    for level in range(depth):
        node = {f"level_{level}": node}
    found = ShapeTreeDetector().scan_user_data({"values": {"x": node}}, frozenset(), CATALOG, RUN_METADATA)
    tables = [dict(f[3]) for f in found if f[1] in ("RECORDS_TABLE", "COLUMN_LISTS")]
    assert tables, (how, depth, as_string)
    assert tables[0]["rows"] == len(rows) and tables[0]["columns"] == len(columns)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(names, st.one_of(cells, st.lists(cells, max_size=2), st.dictionaries(names, cells, max_size=3)),
                    max_size=8)
)
def test_small_configurations_are_no_tables(config: dict[str, Any]) -> None:
    # Values, lists of at most two, objects of at most three: nothing with three rows.
    for node in (config, *config.values()):
        shape = table_shape(node)
        assert shape is None or shape[1] < 3, shape
