"""TextTableDetector: tensors and tables written out as text inside a string."""

from __future__ import annotations

import json
import random

import pytest
from metagate.scanner.detectors.tables import TextTableDetector
from metagate.scanner.model import Leaf

rng = random.Random(7)
VECTOR = [round(rng.uniform(-1, 1), 6) for _ in range(384)]


@pytest.fixture(scope="module")
def detector() -> TextTableDetector:
    return TextTableDetector()


def entities(detector: TextTableDetector, text: str, field_class: str = "user_dict") -> list[str]:
    return [hit.entity for hit in detector.scan([Leaf("$.values.x", text, field_class)])]


def _numpy_print(values: list[float]) -> str:
    rows = [" ".join(f"{v: .6f}" for v in values[i : i + 6]) for i in range(0, len(values), 6)]
    return "[[" + "]\n [".join(rows) + "]]"


def _csv(rows: int, delimiter: str = ",") -> str:
    header = delimiter.join(["customer_id", "age", "income", "segment"])
    lines = [delimiter.join([str(1000 + i), str(rng.randrange(18, 90)), f"{rng.uniform(1e4, 2e5):.2f}", rng.choice("ABC")])
             for i in range(rows)]
    return "\n".join([header, *lines]) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(VECTOR),                                    # json.dumps(embedding)
        str(VECTOR),                                           # str(list)
        _numpy_print(VECTOR),                                  # a printed numpy matrix
        "tensor([" + ", ".join(f"{v:.4f}" for v in VECTOR) + "])",
        "embedding: " + ";".join(map(str, VECTOR)) + " (model v2)",
        " ".join(str(rng.randrange(50_000)) for _ in range(200)),   # token ids
    ],
    ids=["json", "str", "numpy", "torch", "semicolons", "token-ids"],
)
def test_a_vector_written_as_text_is_a_numeric_array(detector, text):
    assert entities(detector, text) == ["NUMERIC_ARRAY"]


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_a_delimited_dump_is_a_csv_table(detector, delimiter):
    assert entities(detector, _csv(25, delimiter)) == ["CSV_TABLE"]


def test_a_table_inside_other_text_is_found_with_its_span(detector):
    table = _csv(22)
    text = "Validation rows that failed:\n" + table + "\nSee the run for details."
    [hit] = detector.scan([Leaf("$.values.x", text, "free_text")])
    assert hit.entity == "CSV_TABLE"
    assert text[hit.start : hit.end] == table.rstrip("\n")


def test_a_table_or_matrix_serialized_once_more_keeps_its_escaped_line_breaks(detector):
    """json.dumps of a string holding a table: its line breaks are the characters `\\n`."""
    table = json.dumps(_csv(22))[1:-1]
    assert "\n" not in table and entities(detector, f"rows: {table}") == ["CSV_TABLE"]
    matrix = json.dumps(_numpy_print(VECTOR))[1:-1]
    assert entities(detector, matrix) == ["NUMERIC_ARRAY"]


def test_a_run_that_ends_in_a_letter_is_still_a_run(detector):
    """Whatever follows the last number, the run counts, in one pass: 200,000 numbers and
    an `x` (a check after the run once made this quadratic, and missed it)."""
    assert entities(detector, ",".join("7" for _ in range(200_000)) + "x") == ["NUMERIC_ARRAY"]
    assert entities(detector, "v" + ",".join(map(str, range(300)))) == ["NUMERIC_ARRAY"]  # from the 2nd number on


def test_windows_line_endings_and_missing_values(detector):
    rows = [f"{i},{'' if i % 5 == 0 else i * 3},{i % 7}" for i in range(30)]
    assert entities(detector, "\r\n".join(rows)) == ["CSV_TABLE"]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(VECTOR[:100]),                               # under min_numbers
        _csv(3),                                                # under FIELD_MIN_LINES (a header, four rows)
        "EPOCHS = 10\nBATCH = 32\nLR = 0.01\nSEED = 42\nWORKERS = 4\nPATIENCE = 3\nWARMUP = 5\n",  # assignments
        "numpy==2.1.3\npandas==2.2.3\nscikit-learn==1.5.2\n" * 10,   # a package list
        "PARAMS = [\n" + "".join(f'    "feature_{i}",\n' for i in range(40)) + "]\n",   # literal lines end in ","
        "".join(f"    model.add(layer_{i}, units=64)\n" for i in range(30)),      # calls: no numeric column
        "".join(f'  File "/app/steps/train.py", line {i}, in step_{i}\n    run(x, y)\n' for i in range(20)),
        "versions: " + ", ".join(f"1.{i}.{i + 1}" for i in range(200)),            # dotted versions
        "timestamps: " + ", ".join(f"2024-05-{1 + i % 28:02d}T10:22:31" for i in range(200)),
        "| metric | value |\n|---|---|\n| accuracy | 0.91 |\n| f1 | 0.88 |\n",     # a small markdown table
    ],
    ids=["short-vector", "short-csv", "assignments", "packages", "literal", "calls", "traceback", "versions", "timestamps", "markdown"],
)
def test_metadata_and_code_are_not_tables(detector, text):
    assert entities(detector, text, "code") == []


def test_proven_classes_and_secret_references_are_not_scanned(detector):
    assert detector.scan([Leaf("$.id", json.dumps(VECTOR), "id")]) == []
    assert detector.scan([Leaf("$.s", json.dumps(VECTOR), "secret_ref")]) == []


def test_thresholds_are_configurable():
    small = TextTableDetector(min_numbers=8, min_rows=3)
    assert entities(small, "[1, 2, 3, 4, 5, 6, 7, 8]") == ["NUMERIC_ARRAY"]
    assert entities(small, "a,b\n1,2\n3,4\n") == ["CSV_TABLE"]


@pytest.mark.parametrize("args", [{"min_numbers": 1}, {"min_rows": 2}])
def test_thresholds_that_make_no_table_are_refused(args):
    with pytest.raises(ValueError):
        TextTableDetector(**args)


# --- user data: a table is data from a few rows, measured for the policy ----------------


def test_a_small_table_in_user_data_is_reported_with_its_measure(detector):
    text = _csv(5)  # df.head().to_csv(): a header and five rows
    [hit] = detector.scan([Leaf("$.values.sample", text, "user_dict")])
    assert hit.entity == "CSV_TABLE"
    assert dict(detector.measure(hit.entity, text[hit.start : hit.end])) == {"rows": 5, "columns": 4}
    # Outside user data (logs, code, free text) the bar is a header and four rows of three
    # columns or more (FIELD_MIN_LINES, FIELD_MIN_COLUMNS; issue 12: print(df.head()) in an
    # exception message is data), or min_rows lines when fewer.
    short = _csv(3)
    assert entities(detector, short, "free_text") == [] and entities(detector, short, "log") == []
    assert entities(detector, text, "free_text") == ["CSV_TABLE"] and entities(detector, text, "log") == ["CSV_TABLE"]
    two_columns = "metric,value\n" + "".join(f"m{i},0.{i}\n" for i in range(8))  # a model card's metric table
    assert entities(detector, two_columns, "free_text") == []


def test_a_numeric_run_is_measured_in_numbers(detector):
    text = json.dumps(VECTOR)
    [hit] = detector.scan([Leaf("$.values.e", text, "user_dict")])
    assert dict(detector.measure(hit.entity, text[hit.start : hit.end])) == {"numbers": 384}


def test_small_tables_in_user_data_reach_the_policy(tmp_path):
    from metagate.proxy.inspection import Inspector, InspectorSettings
    from metagate.scanner.capture import request_from_record

    inspector = Inspector(InspectorSettings(fingerprint_key=b"\x06" * 32))

    def action(note: str) -> str:
        body = {"project": "98ca14fe-5948-4fc8-9797-8363ac186725", "resources": [], "values": {"note": note},
                "types": {"note": "str"}}
        record = {"method": "POST", "path": "/api/v1/run-metadata", "query": [],
                  "headers": {"Content-Type": "application/json"}, "body_text": json.dumps(body)}
        return inspector.inspect(request_from_record(record, "t")).decision.action

    assert action(_csv(5)) == "block"                     # 5 rows x 4 columns
    assert action(_csv(2)) == "allow"                     # 2 rows: under the policy's 3
    assert action("lr,epochs\n0.01,10\n") == "allow"      # a header and one row: not even reported


def test_a_shorter_vector_as_text_in_user_data_is_measured(detector):
    text = json.dumps(VECTOR[:96])  # under min_numbers (128): reported in user data only
    [hit] = detector.scan([Leaf("$.values.e", text, "user_dict")])
    assert dict(detector.measure(hit.entity, text[hit.start : hit.end])) == {"numbers": 96}
    assert entities(detector, text, "code") == []


@pytest.mark.parametrize(
    "text",
    [
        "versions: " + ", ".join(f"1.{i}.{i + 1}" for i in range(60)),
        "timestamps: " + ", ".join(f"2024-05-{1 + i % 28:02d}T10:22:31" for i in range(60)),
        "lr=0.01 epochs=10 batch=32 seed=42 dropout=0.1 layers=3 units=64",
    ],
    ids=["versions", "timestamps", "params"],
)
def test_metadata_in_user_data_is_no_numeric_run(detector, text):
    assert entities(detector, text) == []


# --- tables pandas prints: to_string (aligned columns), to_markdown, to_html ----------------

_FRAME = [(1000 + i, rng.randrange(18, 90), round(rng.uniform(1e4, 2e5), 2), rng.choice(["gold", "trial", "silver"]))
          for i in range(6)]


def _to_string() -> str:
    header = "   customer_id  age     income segment"
    return "\n".join([header, *(f"{i}  {a:>11}  {b:>3}  {c:>9}  {d:>6}" for i, (a, b, c, d) in enumerate(_FRAME))])


def _to_markdown() -> str:
    header = "|    |   customer_id |   age |   income | segment   |\n|---:|--------------:|------:|---------:|:----------|"
    return "\n".join([header, *(f"|  {i} | {a:>13} | {b:>5} | {c:>8} | {d:<9} |" for i, (a, b, c, d) in enumerate(_FRAME))])


def _to_html() -> str:
    head = '<table border="1" class="dataframe">\n  <thead>\n    <tr>\n      <th></th>\n      <th>customer_id</th>\n' \
           '      <th>segment</th>\n    </tr>\n  </thead>\n  <tbody>\n'
    rows = "".join(f"    <tr>\n      <th>{i}</th>\n      <td>{a}</td>\n      <td>{d}</td>\n    </tr>\n"
                   for i, (a, _, _, d) in enumerate(_FRAME))
    return head + rows + "  </tbody>\n</table>"


@pytest.mark.parametrize(("text", "entity"), [(_to_string(), "CSV_TABLE"), (_to_markdown(), "CSV_TABLE"),
                                              (_to_html(), "HTML_TABLE")], ids=["to_string", "to_markdown", "to_html"])
def test_a_printed_dataframe_in_user_data_is_a_table(detector, text, entity):
    [hit] = detector.scan([Leaf("$.values.x", text, "user_dict")])
    assert hit.entity == entity
    measure = dict(detector.measure(entity, text[hit.start : hit.end]))
    assert measure["rows"] >= 3 and measure["columns"] >= 2, measure


@pytest.mark.parametrize(
    "text",
    [
        "optimizer  adam\nscheduler  cosine\nepochs  20\nbatch  64\n",          # key/value notes: two columns
        "step 1 loaded\nthe model trained for a while\nall done now",          # lines of words, no numeric column
        "| metric | value |\n|---|---|\n| accuracy | 0.93 |",                   # a one-row markdown summary
    ],
    ids=["key-value", "lines", "markdown-one-row"],
)
def test_notes_that_are_not_tables_are_not_tables(detector, text):
    assert entities(detector, text) == []


def test_lines_the_csv_module_cannot_read_are_split_as_they_are(detector):
    # Raw bytes as latin-1: a quote, then a carriage return or a NUL inside one "line".
    text = "".join(f'"a{i}",1\r,2\x00,3\n' for i in range(30))
    detector.scan([Leaf("$.values.x", text, "user_dict")])  # no csv.Error
