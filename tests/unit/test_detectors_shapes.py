"""Data that is not metadata by shape: prose, tables in every JSON form, numbers in bulk.

The detectors (scanner/detectors/shapes.py) measure; the policy (rules/blobs.rego with
`shape_thresholds` in data.json) decides. Positive cases go through the Inspector and must be
blocked; look-alikes a clean pipeline sends must not be, and neither must the clean captures.
"""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from metagate.proxy.inspection import Inspector, InspectorSettings
from metagate.scanner.capture import request_from_record
from metagate.scanner.catalog import Catalog
from metagate.scanner.detectors.shapes import (
    NUMBERS_FLOOR,
    JsonTextDetector,
    ProseDetector,
    ShapeTreeDetector,
    prose_measure,
    table_shape,
)
from metagate.scanner.evasion import VIEW_SEPARATOR
from metagate.scanner.model import Leaf

ROOT = Path(__file__).resolve().parents[2]
CLEAN = ROOT / "tests" / "corpus" / "labelled" / "clean.jsonl"
CAPTURED = ROOT / "tests" / "corpus" / "captured"
RUN_ID = "329cf516-1ed3-4f97-8255-71fff3000fca"

TICKET = (
    "Hi team, I was charged twice for my subscription this month. I have attached the receipt "
    "from my bank. Could you please refund the second payment as soon as possible? I have been a "
    "customer for three years and this is the first time this happened. Thanks, and have a nice day."
)
TRANSCRIPT = (
    "Agent: Thank you for calling, how can I help you today?\n"
    "Caller: Hello, my internet has been dropping every evening since last week.\n"
    "Agent: I am sorry to hear that. Can you tell me when it started exactly?\n"
    "Caller: It started on Monday, right after the technician visited the house.\n"
    "Agent: Understood. I will open a ticket and someone will call you back tomorrow."
)
EMAIL = (
    "Subject: Re: contract renewal\n\nDear Mr. Miller,\n\nthank you for your letter of last week. We "
    "have reviewed the proposed changes to the service agreement and we are happy to accept most "
    "of them. Please find our comments on the remaining points below. We would like to meet "
    "next Tuesday to discuss the pricing.\n\nKind regards,\nAnna"
)
CHAT = (
    "[09:14] sam: did you see the numbers from the store yesterday?\n"
    "[09:15] kim: yes, they were much lower than we expected.\n"
    "[09:15] sam: we should tell the manager before the meeting.\n"
    "[09:16] kim: agreed, I will write to her after lunch.\n"
    "[09:17] sam: thanks, let me know what she says."
)
LOWERCASE_CHAT = (
    "hi i need help with my bill\n"
    "it shows a charge i did not make\n"
    "can you check it for me please\n"
    "ok thanks i will wait for your call"
)
SHORT_COMPLAINT = (  # 20 words in 2 sentences: the policy's default threshold
    "Customer Jane called on 2024-03-02 complaining that her order #1234 never arrived. "
    "She asked for a full refund and threatened to cancel."
)
# Prose ZenML's own fields carry on clean runs: it describes a system ("we", "you", "it").
MODEL_CARD = (
    "This model predicts customer churn from monthly usage counts and support ticket volume. It was "
    "trained on the March snapshot with gradient boosting and calibrated with isotonic regression. "
    "Customers with fewer than three logins per month are weighted higher. Use it for weekly batch "
    "scoring only; retrain when the population stability index exceeds 0.2."
)
MODEL_CARD_WE = (
    "We fine-tuned a small BERT model on our internal FAQ corpus. You can use it to route incoming "
    "questions to the right queue. We evaluated it on a held-out week of traffic and it reaches 0.91 "
    "macro F1. If you see drift, please open an issue and we will retrain it."
)
EXCEPTION_PARAGRAPH = (
    "You passed a list to fit, but the estimator expects a two dimensional array. You can reshape "
    "your data with array.reshape(-1, 1) if it contains a single feature, or with array.reshape(1, -1) "
    "if it contains a single sample. Found input variables with inconsistent numbers of samples."
)
PROSE = {"ticket": TICKET, "transcript": TRANSCRIPT, "email": EMAIL, "chat": CHAT, "short_complaint": SHORT_COMPLAINT,
         "lowercase_chat": LOWERCASE_CHAT, "capitals": TICKET.upper()}

rng = random.Random(12)
ROWS = [
    {"customer": f"Customer {i}", "age": rng.randrange(18, 90), "city": rng.choice(["Leeds", "Graz", "Lyon"]),
     "balance": round(rng.uniform(0, 5000), 2)}
    for i in range(5)
]
COLUMNS = list(ROWS[0])


def _orients() -> dict[str, Any]:
    """The JSON forms pandas gives `df.head()` (written out by hand: no pandas here)."""
    return {
        "records": ROWS,                                                            # to_json(orient="records")
        "columns": {c: {str(i): r[c] for i, r in enumerate(ROWS)} for c in COLUMNS},  # orient="columns", to_dict()
        "index": {str(i): dict(r) for i, r in enumerate(ROWS)},                     # orient="index"
        "split": {"columns": COLUMNS, "index": list(range(5)), "data": [[r[c] for c in COLUMNS] for r in ROWS]},
        "values": [[r[c] for c in COLUMNS] for r in ROWS],                          # orient="values"
        "table": {"schema": {"fields": [{"name": c, "type": "any"} for c in COLUMNS], "primaryKey": ["index"]},
                  "data": [{"index": i, **r} for i, r in enumerate(ROWS)]},        # orient="table"
        "dict_list": {c: [r[c] for r in ROWS] for c in COLUMNS},                    # to_dict("list")
        "dates_index": {f"2024-01-0{i + 1}T00:00:00.000": dict(r) for i, r in enumerate(ROWS)},
    }


ORIENTS = _orients()


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=b"\x05" * 32))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _clean_records() -> list[dict[str, Any]]:
    records = [r for r in _records(CLEAN) if r["label"]["kind"] == "clean"]
    for path in sorted(CAPTURED.glob("*.jsonl")):
        if path.name != "pii_pipeline.jsonl":
            records.extend(_records(path))
    return records


def _first(method: str, path: str) -> dict[str, Any]:
    for record in _clean_records():
        if record["method"] == method and record["path"] == path and record.get("body_text"):
            return copy.deepcopy(record)
    raise AssertionError(f"no clean {method} {path} captured")


def _inspect(inspector: Inspector, record: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    result = inspector.inspect(request_from_record(record, "shapes"))
    return result.decision.action, [(f["entity"], f["path"]) for f in result.findings]


def _run_metadata(values: dict[str, Any]) -> dict[str, Any]:
    body = {
        "project": "98ca14fe-5948-4fc8-9797-8363ac186725",
        "resources": [{"id": RUN_ID, "type": "step_run"}],
        "stack_component_id": None,
        "values": values,
        "types": {key: "str" for key in values},
        "publisher_step_id": RUN_ID,
    }
    return {"method": "POST", "path": "/api/v1/run-metadata", "query": [],
            "headers": {"Content-Type": "application/json"}, "body_text": json.dumps(body)}


def _nested(value: Any, depth: int) -> dict[str, Any]:
    """`value` `depth` levels below `values`: {"debug": {"inputs": {"sample": ...}}}."""
    keys = ["debug", "inputs", "sample", "head", "rows", "more"][:depth]
    node: Any = value
    for key in reversed(keys):
        node = {key: node}
    return node


# --- prose ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PROSE))
def test_prose_of_each_kind_in_run_metadata_is_blocked(inspector: Inspector, kind: str) -> None:
    action, findings = _inspect(inspector, _run_metadata({"note": PROSE[kind]}))
    assert action == "block"
    assert ("PROSE", "$.values.note") in findings


@pytest.mark.parametrize(
    "text",
    [
        "fast baseline model",                                     # a 3-word tag
        "Trained on the March snapshot. Accuracy improved.",       # a short note
        "Trained on the March snapshot with early stopping. Accuracy improved by two points over the baseline.",
        "random forest with 200 trees, max depth 12, balanced class weights, seed 42",
        "numpy==1.26.4 pandas==2.2.2 scikit-learn==1.5.0 torch==2.3.1 " * 4,  # a pin list: no sentences
        "s3://bucket/runs/2024/train.parquet s3://bucket/runs/2024/test.parquet " * 5,
        "train_model.py::test_fit PASSED train_model.py::test_predict PASSED " * 5,
        "optimizer: adam\nscheduler: cosine warmup\nloss: cross entropy\nmetric: macro f1\nprecision: mixed bf16\n",
    ],
)
def test_short_notes_and_lists_are_not_prose(inspector: Inspector, text: str) -> None:
    action, findings = _inspect(inspector, _run_metadata({"note": text}))
    assert action == "allow", findings  # (the two-sentence note is measured: under the threshold)


def test_prose_in_zenml_text_fields_is_measured_by_line() -> None:
    # Descriptions, code, logs and value reprs are prose by nature, wrapped at a line's width:
    # there a paragraph on one line (a string literal, a repr, a message) is reported; the
    # policy blocks PROSE only in user data (shape_classes), the redacted classes never block.
    # PERSONAL_PROSE (prose that tells of people) is measured on the whole text wherever the
    # text leaves unredacted (user data, descriptions, exception messages), not by line.
    detector = ProseDetector()
    wrapped = "\n".join(TICKET[i : i + 70] for i in range(0, len(TICKET), 70))  # a docstring's width
    card = "\n".join(MODEL_CARD[i : i + 70] for i in range(0, len(MODEL_CARD), 70))
    for field_class in ("free_text", "code", "log", "value_repr"):
        personal = ["PERSONAL_PROSE"] if field_class in ("free_text", "log") else []
        assert [h.entity for h in detector.scan([Leaf("$.x", f"x = 1\nNOTE = {TICKET!r}\n", field_class)])] \
            == ["PROSE", *personal]
        assert [h.entity for h in detector.scan([Leaf("$.description", wrapped, field_class)])] == personal
        assert list(detector.scan([Leaf("$.description", card, field_class)])) == []
    assert list(detector.scan([Leaf("$.p", TICKET, "package_list")])) == []
    for field_class in ("user_dict", "name", "unknown"):
        assert [h.entity for h in detector.scan([Leaf("$.x", TICKET, field_class)])] == ["PROSE", "PERSONAL_PROSE"]
        assert [h.entity for h in detector.scan([Leaf("$.x", wrapped, field_class)])] == ["PROSE", "PERSONAL_PROSE"]
        assert [h.entity for h in detector.scan([Leaf("$.x", MODEL_CARD, field_class)])] == ["PROSE"]


@pytest.mark.parametrize("description", [MODEL_CARD, MODEL_CARD_WE, EXCEPTION_PARAGRAPH])
def test_model_description_is_not_blocked(inspector: Inspector, description: str) -> None:
    record = next(
        copy.deepcopy(r) for r in _clean_records()
        if r["path"] == "/api/v1/pipeline_snapshots" and '"model": {' in (r.get("body_text") or "")
    )
    body = json.loads(record["body_text"])
    body["pipeline_configuration"]["model"]["description"] = description  # free_text: ZenML's own prose field
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    # A snapshot is redacted (its source code), not blocked: prose that describes a system
    # in a description is reported (one line of it), it blocks only in user data
    # (shape_classes in data.json).
    assert action != "block"
    assert findings == [("PROSE", "$.pipeline_configuration.model.description")]


@pytest.mark.parametrize("kind", sorted(PROSE))
def test_a_ticket_or_transcript_in_a_model_description_is_blocked(inspector: Inspector, kind: str) -> None:
    # Issue 12: a description paragraph is metadata, a support ticket or a transcript pasted
    # into it is data (PERSONAL_PROSE: prose that tells of people; thresholds in data.json).
    record = next(
        copy.deepcopy(r) for r in _clean_records()
        if r["path"] == "/api/v1/pipeline_snapshots" and '"model": {' in (r.get("body_text") or "")
    )
    body = json.loads(record["body_text"])
    body["pipeline_configuration"]["model"]["description"] = PROSE[kind]
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action == "block", findings
    assert ("PERSONAL_PROSE", "$.pipeline_configuration.model.description") in findings


def test_prose_in_a_joined_view_is_measured() -> None:
    # helper "decoders" appends the join of fragments (part_0 .. part_8) to each part as a view.
    fragment = TICKET[:30]
    leaf = Leaf("$.values.part_0", fragment + VIEW_SEPARATOR + TICKET, "user_dict")
    hits = list(ProseDetector().scan([leaf]))
    assert [h.entity for h in hits] == ["PROSE", "PERSONAL_PROSE"]
    assert all(leaf.text[h.start : h.end] == TICKET for h in hits)
    assert ProseDetector().measure("PROSE", TICKET) == prose_measure(TICKET)


def test_prose_measure_counts_words_sentences_and_share() -> None:
    measure = dict(prose_measure("The cat sat on the mat. It was happy! snake_case_id v1.2 /tmp/x"))
    assert measure["words"] == 9 and measure["sentences"] == 2
    assert measure["word_share"] == 100 * 9 // 12


# --- tables -----------------------------------------------------------------------------


@pytest.mark.parametrize("orient", sorted(ORIENTS))
@pytest.mark.parametrize("depth", [1, 3, 6])
def test_dataframe_in_every_orient_and_depth_is_blocked(inspector: Inspector, orient: str, depth: int) -> None:
    action, findings = _inspect(inspector, _run_metadata(_nested(ORIENTS[orient], depth)))
    assert action == "block"
    assert {e for e, _ in findings} & {"RECORDS_TABLE", "COLUMN_LISTS"}, findings


@pytest.mark.parametrize("orient", sorted(ORIENTS))
def test_dataframe_json_inside_a_string_is_blocked(inspector: Inspector, orient: str) -> None:
    action, findings = _inspect(inspector, _run_metadata({"sample": json.dumps(ORIENTS[orient])}))
    assert action == "block"
    assert any(path == "$.values.sample" for _, path in findings), findings
    twice = json.dumps(json.dumps(ORIENTS[orient]))  # a JSON string of a JSON string
    assert _inspect(inspector, _run_metadata({"sample": json.loads(twice)}))[0] == "block"


@pytest.mark.parametrize(
    "orient, expected",
    [("records", ("RECORDS_TABLE", 5, 4)), ("columns", ("RECORDS_TABLE", 5, 4)), ("index", ("RECORDS_TABLE", 5, 4)),
     ("split", ("RECORDS_TABLE", 5, 4)), ("values", ("RECORDS_TABLE", 5, 4)), ("dict_list", ("COLUMN_LISTS", 5, 4))],
)
def test_table_shape_measures_rows_and_columns(orient: str, expected: tuple[str, int, int]) -> None:
    assert table_shape(ORIENTS[orient]) == expected


def test_records_with_optional_keys_and_list_cells_are_a_table() -> None:
    rows = [{"id": i, "name": f"n{i}", "tags": ["a", "b"], **({"email": "x"} if i % 2 else {})} for i in range(4)]
    assert table_shape(rows) == ("RECORDS_TABLE", 4, 3)


@pytest.mark.parametrize(
    "node",
    [
        {"lr": 0.01, "layers": [64, 32]},                                 # params with a short list
        [[50, 2, 1], [3, 45, 2], [1, 1, 40]],                              # a confusion matrix: numbers only
        {"title": {"type": "string"}, "rows": {"type": "integer"}},       # JSON schema properties: no index keys
        [{"a": 1, "b": 2}],                                                # one record
        [{"a": 1}, {"b": 2}, {"a": 3}],                                    # different keys
        [{"a": 1, "b": 2}, {"a": 1, "c": 2}, {"a": 1, "d": 2}],            # one key in common
        [{"a": {"nested": 1}, "b": 2}] * 3,                                # rows of objects, not of values
        {"loss": [0.9, 0.7, 0.5, 0.4, 0.3, 0.25], "val_loss": [1.0, 0.8, 0.6, 0.5, 0.45, 0.4]},  # a training history
        ["a", "b", "c"],
    ],
)
def test_config_shapes_are_not_tables(node: Any) -> None:
    assert table_shape(node) is None


def test_short_equal_lists_in_a_config_are_allowed(inspector: Inspector) -> None:
    # requirements beside apt packages, 3 each: COLUMN_LISTS below its row threshold (5).
    settings = {"requirements": ["pandas", "numpy", "scikit-learn"], "apt_packages": ["git", "curl", "vim"]}
    action, findings = _inspect(inspector, _run_metadata({"docker": settings}))
    assert action == "allow", findings


# --- numbers ----------------------------------------------------------------------------

EMBEDDING = [round(rng.uniform(-1, 1), 6) for _ in range(768)]


@pytest.mark.parametrize(
    "values",
    [
        {"embedding": [str(v) for v in EMBEDDING[:96]]},                               # numeric strings
        {f"emb_part_{i}": EMBEDDING[i * 48 : (i + 1) * 48] for i in range(16)},         # sibling lists
        {"emb": {str(i): v for i, v in enumerate(EMBEDDING[:100])}},                    # index -> float
        {"emb": [{"v": v} for v in EMBEDDING[:100]]},                                   # one-key records
        {f"metric_{i}": v for i, v in enumerate(EMBEDDING)},                            # 768 scalar metrics
        {"emb": [EMBEDDING[i * 8 : (i + 1) * 8] for i in range(96)]},                   # 96 x 8
        {"a": {"b": {"c": [EMBEDDING[:40], EMBEDDING[40:80]]}}},                        # nested, split
    ],
    ids=["numeric_strings", "emb_parts", "index_dict", "one_key_records", "scalar_metrics", "96x8", "nested"],
)
def test_split_numeric_data_is_blocked(inspector: Inspector, values: dict[str, Any]) -> None:
    action, findings = _inspect(inspector, _run_metadata(values))
    assert action == "block"
    # Reported where the numbers sit: the one key holding most of them, else the user dict.
    heavy = [key for key in values if len(json.dumps(values[key])) * 2 > len(json.dumps(values))]
    nested = "$.values.a.b.c" if "a" in values else None
    expected = nested or (f"$.values.{heavy[0]}" if heavy else "$.values")
    assert ("NUMERIC_ARRAY", expected) in findings, findings


def test_a_metrics_dict_of_ten_floats_is_allowed(inspector: Inspector) -> None:
    action, findings = _inspect(inspector, _run_metadata({f"m{i}": v for i, v in enumerate(EMBEDDING[:10])}))
    assert action == "allow" and findings == []


def test_numbers_below_the_floor_give_no_finding(catalog: Catalog) -> None:
    endpoint = catalog.match("POST", "/api/v1/run-metadata")
    body = {"values": {"m": list(range(NUMBERS_FLOOR - 1))}}
    assert ShapeTreeDetector().scan_user_data(body, frozenset(), catalog, endpoint) == []


# --- placements other than run metadata ----------------------------------------------------


def test_table_in_step_parameters_is_blocked(inspector: Inspector) -> None:
    record = _first("POST", "/api/v1/pipeline_snapshots")
    body = json.loads(record["body_text"])
    step = next(iter(body["step_configurations"].values()))
    step["config"]["parameters"]["sample"] = ORIENTS["records"]
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action == "block"
    assert any(e == "RECORDS_TABLE" and p.endswith(".config.parameters.sample") for e, p in findings), findings


def test_embedding_in_artifact_metadata_is_blocked(inspector: Inspector) -> None:
    record = _first("POST", "/api/v1/artifact_versions/batch")
    body = json.loads(record["body_text"])
    body[0]["metadata"]["embedding"] = EMBEDDING[:128]
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action == "block"
    assert ("NUMERIC_ARRAY", "$[0].metadata.embedding") in findings  # where the numbers sit


def test_prose_in_a_run_name_and_tags_is_blocked(inspector: Inspector) -> None:
    record = _first("POST", "/api/v1/runs")
    body = json.loads(record["body_text"])
    body["tags"] = [TICKET]
    record["body_text"] = json.dumps(body)
    assert _inspect(inspector, record)[0] == "block"


def test_table_in_a_stream_event_payload_is_blocked(inspector: Inspector) -> None:
    events = {"events": [{"pipeline_run_id": RUN_ID, "step_run_id": None, "step_name": "train", "kind": "log",
                          "index": 0, "correlation_id": "c1", "payload": {"rows": ORIENTS["records"]}}]}
    record = {"method": "POST", "path": f"/api/v1/runs/{RUN_ID}/events", "query": [],
              "headers": {"Content-Type": "application/json"}, "body_text": json.dumps(events)}
    action, findings = _inspect(inspector, record)
    assert action == "block"
    assert ("RECORDS_TABLE", "$.events[0].payload.rows") in findings


def test_value_derived_artifact_metadata_is_not_counted(catalog: Catalog) -> None:
    # string_representation is value_repr (redacted, never leaves): its numbers are not user data.
    endpoint = catalog.match("POST", "/api/v1/artifact_versions/batch")
    body = [{"metadata": {"string_representation": json.dumps(ORIENTS["records"]), "length": 5}}]
    assert ShapeTreeDetector().scan_user_data(body, frozenset(), catalog, endpoint) == []


# --- clean traffic ----------------------------------------------------------------------


def test_clean_captures_have_no_shape_finding(inspector: Inspector) -> None:
    flagged = []
    for number, record in enumerate(_clean_records()):
        result = inspector.inspect(request_from_record(record, f"clean-{number}"))
        shapes = [f for f in result.findings if f["detector"] in ("prose", "shapes")]
        if shapes or result.decision.action == "block":
            flagged.append((record["method"], record["path"], shapes, result.decision.rules))
    assert flagged == []


def test_zenml_request_structure_is_not_user_data(catalog: Catalog) -> None:
    # A snapshot is full of lists of dicts (steps, inputs, outputs): none of it is a table.
    record = _first("POST", "/api/v1/pipeline_snapshots")
    body = json.loads(record["body_text"])
    endpoint = catalog.match("POST", "/api/v1/pipeline_snapshots")
    assert ShapeTreeDetector().scan_user_data(body, frozenset(), catalog, endpoint) == []
    # The same body seen without a catalog (an unknown endpoint) is all user data.
    body["extra_steps"] = [{"name": f"s{i}", "kind": "x"} for i in range(4)]
    assert ShapeTreeDetector().scan_user_data(body, frozenset(), catalog, None)


def test_unknown_fields_are_user_data(catalog: Catalog) -> None:
    endpoint = catalog.match("POST", "/api/v1/run-metadata")
    body = {"values": {}, "smuggled": ORIENTS["records"]}
    found = ShapeTreeDetector().scan_user_data(body, frozenset(), catalog, endpoint, ["$.smuggled"])
    assert [(f[0], f[1]) for f in found] == [("$.smuggled", "RECORDS_TABLE")]


# --- pathological input: bounded time ----------------------------------------------------

PROSE_WORDS = "the customer called about a late delivery and asked for a refund of the order".split()


def test_one_megabyte_of_prose_is_measured_in_bounded_time() -> None:
    text = " ".join(rng.choice(PROSE_WORDS) + ("." if rng.random() < 0.1 else "") for _ in range(200_000))[:1_000_000]
    started = time.perf_counter()
    hits = list(ProseDetector().scan([Leaf("$.values.note", text, "user_dict")]))
    assert time.perf_counter() - started < 1.0  # measured: ~5-20 ms (the first 20,000 characters)
    assert [h.entity for h in hits] == ["PROSE", "PERSONAL_PROSE"]  # "the customer called ... asked"


@pytest.mark.parametrize(
    "values, entity",
    [
        ({"e": [rng.random() for _ in range(200_000)]}, "OVERSIZED_USER_DATA"),
        ({"e": {f"k{i}": i for i in range(100_000)}}, "NUMERIC_ARRAY"),
        ({f"k{i}": "v" for i in range(100_000)}, None),
        ({"e": [{"a": i, "b": "x"} for i in range(100_000)]}, "RECORDS_TABLE"),
    ],
    ids=["200k_numbers", "100k_key_dict", "100k_keys_of_text", "100k_records"],
)
def test_huge_user_data_is_walked_in_bounded_time(catalog: Catalog, values: dict[str, Any], entity: str | None) -> None:
    endpoint = catalog.match("POST", "/api/v1/run-metadata")
    started = time.perf_counter()
    found = ShapeTreeDetector().scan_user_data({"values": values}, frozenset(), catalog, endpoint)
    assert time.perf_counter() - started < 3.0  # measured: 80-550 ms (a walk of at most 200,000 values)
    entities = {f[1] for f in found}
    assert entity in entities if entity else not entities - {"OVERSIZED_USER_DATA"}


@pytest.mark.parametrize("values_first", [True, False])
def test_a_user_dict_is_measured_whole_whatever_the_order_of_its_siblings(catalog: Catalog, values_first: bool) -> None:
    # 16 lists of 48 numbers: only their sum (768) is over the threshold, so the user dict
    # must be measured as one subtree, wherever it sits among ZenML's own fields.
    endpoint = catalog.match("POST", "/api/v1/run-metadata")
    values = {f"emb_part_{i}": EMBEDDING[i * 48 : (i + 1) * 48] for i in range(16)}
    resources = [{"id": RUN_ID, "type": "step_run"}]
    body = {"values": values, "resources": resources} if values_first else {"resources": resources, "values": values}
    detector = ShapeTreeDetector()
    for _ in range(2):  # the second time from the remembered positions
        found = detector.scan_user_data(body, frozenset(), catalog, endpoint)
        assert [(f[0], f[1], f[3]) for f in found if f[1] == "NUMERIC_ARRAY"] == [("$.values", "NUMERIC_ARRAY", (("numbers", 768),))]


# --- JSON carried in strings outside user-data subtrees ------------------------------------


def test_a_table_as_json_in_a_run_name_is_blocked(inspector: Inspector) -> None:
    record = _first("POST", "/api/v1/runs")
    body = json.loads(record["body_text"])
    body["name"] = json.dumps(ORIENTS["columns"])
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action == "block"
    assert ("RECORDS_TABLE", "$.name") in findings


@pytest.mark.parametrize("orient", ["records", "split", "dict_list"])
def test_a_table_as_json_in_a_query_value_or_header_is_blocked(inspector: Inspector, orient: str) -> None:
    table = json.dumps(ORIENTS[orient])
    record = {"method": "GET", "path": "/api/v1/runs", "query": [["name", table]], "headers": {}, "body_text": None}
    assert _inspect(inspector, record)[0] == "block"
    record = {"method": "GET", "path": "/api/v1/runs", "query": [], "headers": {"X-Debug": table}, "body_text": None}
    assert _inspect(inspector, record)[0] == "block"


def test_json_text_detector_measures_each_view() -> None:
    from metagate.scanner.detectors.shapes import JsonTextDetector

    detector = JsonTextDetector()
    table = json.dumps(ORIENTS["records"])
    leaf = Leaf("$.name", "run-7" + VIEW_SEPARATOR + table, "name")
    [hit] = detector.scan([leaf])
    assert hit.entity == "RECORDS_TABLE" and leaf.text[hit.start : hit.end] == table
    assert dict(detector.measure(hit.entity, table)) == {"rows": 5, "columns": 4}
    for text in ('{"lr": 0.01, "layers": [64, 32]}', '["a", "b", "c"]', "[not json", json.dumps(ORIENTS["records"][:1])):
        assert list(detector.scan([Leaf("$.name", text, "name")])) == []
    # In ZenML's own text classes (code, logs, descriptions) a table is reported too, also
    # one opening inside the text: the policy redacts or blocks by class.
    assert [h.entity for h in detector.scan([Leaf("$.x", table, "code")])] == ["RECORDS_TABLE"]
    assert [h.entity for h in detector.scan([Leaf("$.x", f"lookup failed for {table}", "log")])] == ["RECORDS_TABLE"]
    assert [h.entity for h in detector.scan([Leaf("$.x", f"ROWS = {json.dumps(table)}", "code")])] == ["RECORDS_TABLE"]
    for text in ('x = {"lr": 0.01, "layers": [64, 32]}', 'f(["a", "b"], [1, 2])', "a[0] = [1, 2"):
        assert list(detector.scan([Leaf("$.x", text, "code")])) == []


@pytest.mark.parametrize("container", ["dict", "list"])
def test_prose_split_over_sibling_values_is_blocked(inspector: Inspector, container: str) -> None:
    turns = [line for line in TRANSCRIPT.splitlines()]
    values = {f"turn_{i}": turn for i, turn in enumerate(turns)} if container == "dict" else turns
    action, findings = _inspect(inspector, _run_metadata({"call": values}))
    assert action == "block"
    assert ("PROSE", "$.values.call") in findings


def test_a_few_short_labels_side_by_side_are_not_prose(inspector: Inspector) -> None:
    values = {"owner": "ml platform team", "stage": "nightly retrain", "dataset": "customer churn v3",
              "notes": "baseline with default settings"}
    action, findings = _inspect(inspector, _run_metadata({"info": values}))
    assert action == "allow" and findings == []


# --- numbers spread over several user-data fields of one request --------------------------


def test_an_embedding_over_the_metadata_of_many_artifacts_is_blocked(inspector: Inspector) -> None:
    record = _first("POST", "/api/v1/artifact_versions/batch")
    body = json.loads(record["body_text"])
    template = body[0]
    body = []
    for i in range(16):  # 48 numbers each: under the per-subtree threshold, 768 in all
        artifact = copy.deepcopy(template)
        artifact["metadata"] = {"chunk": EMBEDDING[i * 48 : (i + 1) * 48]}
        body.append(artifact)
    record["body_text"] = json.dumps(body)
    for _ in range(2):  # sent again: nothing of it was remembered as clean
        action, findings = _inspect(inspector, record)
        assert action == "block"
        assert {p for e, p in findings if e == "NUMERIC_SPREAD"} == {f"$[{i}].metadata" for i in range(16)}


def test_a_big_pipeline_with_a_few_numeric_parameters_per_step_is_allowed(inspector: Inspector) -> None:
    # 40 steps x 5 numeric parameters, each repeated in config, overrides and parameter spec.
    record = _first("POST", "/api/v1/pipeline_snapshots")
    body = json.loads(record["body_text"])
    name, step = next(iter(body["step_configurations"].items()))
    steps = {}
    for i in range(40):
        copy_of = copy.deepcopy(step)
        params = {"lr": 0.01 * i, "epochs": 10 + i, "batch_size": 32, "dropout": 0.1, "seed": i}
        copy_of["config"]["parameters"] = dict(params)
        copy_of["step_config_overrides"]["parameters"] = dict(params)
        steps[f"{name}_{i}"] = copy_of
    body["step_configurations"] = steps
    record["body_text"] = json.dumps(body)
    result = inspector.scanner.scan(request_from_record(record, "big"))
    spread = [f for f in result.findings if f.entity == "NUMERIC_SPREAD"]
    assert all(dict(f.measure)["per_field"] < 16 for f in spread)
    assert _inspect(inspector, record)[0] != "block"


@pytest.mark.parametrize(
    "values",
    [
        _nested(ORIENTS["columns"], 3),
        {f"emb_part_{i}": EMBEDDING[i * 48 : (i + 1) * 48] for i in range(16)},
        {"note": TICKET},
        {"sample": json.dumps(ORIENTS["records"])},
    ],
    ids=["table", "split_numbers", "prose", "json_string"],
)
def test_a_repeat_is_blocked_again(values: dict[str, Any]) -> None:
    # The clean memo remembers subtrees without findings: shapes must keep theirs.
    inspector = Inspector(InspectorSettings(fingerprint_key=b"\x07" * 32))
    record = _run_metadata(values)
    assert [_inspect(inspector, record)[0] for _ in range(3)] == ["block"] * 3


def test_a_body_that_is_a_list_of_names_is_user_data(catalog: Catalog) -> None:
    endpoint = catalog.match("POST", "/api/v1/users/resource_membership")
    found = ShapeTreeDetector().scan_user_data([str(v) for v in EMBEDDING[:100]], frozenset(), catalog, endpoint)
    assert [(f[0], f[1]) for f in found] == [("$", "NUMERIC_ARRAY")]
    assert ShapeTreeDetector().scan_user_data(["alice", "bob"], frozenset(), catalog, endpoint) == []


@pytest.mark.parametrize("where", ["step", "pipeline"])
def test_prose_in_pipeline_and_step_parameters_is_blocked(inspector: Inspector, where: str) -> None:
    record = _first("POST", "/api/v1/pipeline_snapshots")
    body = json.loads(record["body_text"])
    if where == "step":
        step = next(iter(body["step_configurations"].values()))
        step["config"]["parameters"]["ticket"] = TICKET
    else:
        body["pipeline_configuration"].setdefault("parameters", {})["ticket"] = TICKET
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action == "block"
    assert any(e == "PROSE" and p.endswith(".parameters.ticket") for e, p in findings), findings


# --- round 2: where data lands -----------------------------------------------------------


def test_prose_sent_as_a_list_of_characters_is_blocked(inspector: Inspector) -> None:
    action, findings = _inspect(inspector, _run_metadata({"note": list(TICKET)}))
    assert action == "block" and ("PROSE", "$.values.note") in findings, findings
    # A list of a few letters (class labels, a grid) is no text.
    action, findings = _inspect(inspector, _run_metadata({"labels": list("ABCDEFGH") * 6}))
    assert action == "allow", findings


def test_records_sent_in_chunks_are_one_table() -> None:
    rows = ORIENTS["records"]
    assert table_shape([rows[:2], rows[2:4], rows[4:]]) == ("RECORDS_TABLE", 5, 4)
    assert table_shape({"part_0": rows[:2], "part_1": rows[2:]}) == ("RECORDS_TABLE", 5, 4)
    assert table_shape({"only": rows[:2]}) is None            # one chunk of two rows: too small
    assert table_shape([[1, 2], [3, 4]]) is None               # numbers only: a matrix, counted


def test_a_flag_column_makes_a_table_a_series_of_numbers_does_not() -> None:
    flags = {"age": [31, 45, 27, 60, 38], "churned": [True, False, False, True, False]}
    assert table_shape(flags) == ("COLUMN_LISTS", 5, 2)
    assert table_shape([[31, True], [45, False], [27, False]]) == ("RECORDS_TABLE", 3, 2)
    history = {"loss": [0.9, 0.7, 0.5, 0.4, 0.35], "accuracy": [0.6, 0.7, 0.8, 0.85, 0.86], "epoch": [1, 2, 3, 4, 5]}
    assert table_shape(history) is None


def test_numbers_are_reported_where_they_sit(inspector: Inspector) -> None:
    values = {"accuracy": 0.91, "epochs": 12, "debug": {"inputs": {"vector": EMBEDDING[:96]}, "n_rows": 3}}
    action, findings = _inspect(inspector, _run_metadata(values))
    assert action == "block" and ("NUMERIC_ARRAY", "$.values.debug.inputs.vector") in findings, findings
    # Spread evenly over keys, no key holds most of them: the user dict is the place.
    spread = {f"m{i}": EMBEDDING[i * 8 : (i + 1) * 8] for i in range(12)}
    action, findings = _inspect(inspector, _run_metadata(spread))
    assert action == "block" and ("NUMERIC_ARRAY", "$.values") in findings, findings


def test_a_confusion_matrix_and_a_history_stay_clean(inspector: Inspector) -> None:
    values = {"confusion_matrix": [[50, 2, 1], [3, 45, 2], [0, 4, 48]],
              "history": {"loss": [0.9, 0.7, 0.5, 0.4, 0.35], "val_loss": [1.0, 0.8, 0.6, 0.55, 0.5]}}
    action, findings = _inspect(inspector, _run_metadata(values))
    assert action == "allow" and findings == [], findings


def test_data_pasted_into_an_exception_message_is_found(inspector: Inspector) -> None:
    record = next(copy.deepcopy(r) for r in _clean_records()
                  if r["method"] == "PUT" and "exception_info" in (r.get("body_text") or ""))
    body = json.loads(record["body_text"])
    body["exception_info"]["message"] = f"lookup failed for {json.dumps(ORIENTS['records'])}"
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action == "block" and ("RECORDS_TABLE", "$.exception_info.message") in findings, findings
    # Prose that describes the failure is reported, not blocked: an exception message may be
    # a paragraph. A ticket pasted there tells of people: data (PERSONAL_PROSE).
    body["exception_info"]["message"] = EXCEPTION_PARAGRAPH
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action != "block" and ("PROSE", "$.exception_info.message") in findings, findings
    body["exception_info"]["message"] = TICKET
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action == "block" and ("PERSONAL_PROSE", "$.exception_info.message") in findings, findings


def test_embedded_json_search_is_bounded() -> None:
    from metagate.scanner.detectors.shapes import JsonTextDetector

    text = "[" * 200_000 + "x"   # every opening fails after a long scan: tries are capped
    start = time.perf_counter()
    assert list(JsonTextDetector().scan([Leaf("$.x", text, "log")])) == []
    assert time.perf_counter() - start < 5.0


# --- prose in every register, at every place that leaves unredacted -----------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.support import strategies as S  # noqa: E402

_REGISTER_SETTINGS = settings(derandomize=True, deadline=None, database=None, max_examples=6,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
_PROSE_PLACES = ("run_metadata_value", "nested_user_dict", "step_parameter", "run_name", "model_description",
                 "exception_message", "query_parameter")


@pytest.mark.parametrize("register", S.PROSE_REGISTERS)
@_REGISTER_SETTINGS
@given(data=st.data())
def test_prose_of_every_register_is_blocked_wherever_it_leaves(inspector: Inspector, register: str, data) -> None:
    entity = data.draw(S.prose_in_registers(register), label="prose")
    place = S.PLACEMENTS[data.draw(st.sampled_from(_PROSE_PLACES), label="place")]
    record, path = place.build(entity.text, entity, S.ENCODINGS["plain"], data.draw)
    result = inspector.inspect(request_from_record(record, "register"))
    found = [(f["entity"], f["path"]) for f in result.findings]
    assert result.decision.action == "block", (register, place.name, found)
    assert any(e in ("PROSE", "PERSONAL_PROSE") and p.startswith(path) for e, p in found), (place.name, found)


@pytest.mark.parametrize("place", ["model_description", "exception_message"])
@_REGISTER_SETTINGS
@given(data=st.data())
def test_prose_that_describes_a_system_is_not_blocked_in_zenml_prose_fields(inspector: Inspector, place: str,
                                                                          data) -> None:
    text = data.draw(S.system_paragraphs(), label="paragraph")
    entity = S.Entity("clean_paragraph", frozenset(), "text", text, ("description",))
    record, _ = S.PLACEMENTS[place].build(text, entity, S.ENCODINGS["plain"], data.draw)
    result = inspector.inspect(request_from_record(record, "paragraph"))
    assert result.decision.action != "block", (text, result.decision.rules)
    assert "PERSONAL_PROSE" not in {f["entity"] for f in result.findings}


# --- tables printed as Python literals: str(df.head().to_dict()), str(records) -------------

_PY_ORIENTS = {
    "records": str(ROWS),
    "columns": str({c: {i: r[c] for i, r in enumerate(ROWS)} for c in COLUMNS}),  # int index keys
    "dict_list": str({c: [r[c] for r in ROWS] for c in COLUMNS}),
    "tuples": str([tuple(r.values()) for r in ROWS]),                              # df.itertuples()
}


@pytest.mark.parametrize("orient", sorted(_PY_ORIENTS))
@pytest.mark.parametrize("where", ["run_metadata", "exception_message"])
def test_a_table_printed_as_a_python_literal_is_blocked(inspector: Inspector, orient: str, where: str) -> None:
    text = _PY_ORIENTS[orient]
    if where == "run_metadata":
        record, path = _run_metadata({"note": text}), "$.values.note"
    else:
        record = next(copy.deepcopy(r) for r in _clean_records()
                      if r["method"] == "PUT" and "exception_info" in (r.get("body_text") or ""))
        body = json.loads(record["body_text"])
        body["exception_info"]["message"] = f"validation failed for rows {text}; see the report"
        record["body_text"], path = json.dumps(body), "$.exception_info.message"
    action, findings = _inspect(inspector, record)
    assert action == "block", findings
    assert {e for e, p in findings if p == path} & {"RECORDS_TABLE", "COLUMN_LISTS"}, findings


@pytest.mark.parametrize(
    "text",
    [
        "KeyError: 'learning_rate' not in ['lr', 'epochs', 'batch_size']",
        "expected shape (3, 4) but got (4, 3) for input {'x': 1, 'y': 2}",
        "{'accuracy': 0.93, 'threshold': 0.9, 'passed': True}",
        "[('train', 120), ('test', 30)]",   # two rows: reported under the threshold, as its JSON would be
    ],
)
def test_a_python_literal_that_is_no_table_is_not_blocked(inspector: Inspector, text: str) -> None:
    record = next(copy.deepcopy(r) for r in _clean_records()
                  if r["method"] == "PUT" and "exception_info" in (r.get("body_text") or ""))
    body = json.loads(record["body_text"])
    body["exception_info"]["message"] = text
    record["body_text"] = json.dumps(body)
    action, findings = _inspect(inspector, record)
    assert action != "block", findings
    if "train" not in text:
        assert not [f for f in findings if f[1] == "$.exception_info.message"], findings


def test_python_literal_search_is_bounded() -> None:
    detector = JsonTextDetector()
    for text in ("['a', " * 170_000, "[{'a': " * 140_000, "err ['a', 'b'] " * 70_000, "(" * 300_000 + ")" * 300_000):
        started = time.perf_counter()
        list(detector.scan([Leaf("$.values.note", text[:1_000_000], "user_dict")]))
        assert time.perf_counter() - started < 1.0  # measured: <= 0.07 s


# --- a DataFrame printed as text, at every place that leaves unredacted -------------------
# (S.dataframe_texts: to_csv, to_markdown, to_string, to_html, str(to_dict()); not in the
# matrix of test_generalisation: an ascii85 dump split at the `/` of a URL path is the
# decoders' and the path's to read, see the report of round 3)

_TABLE_PLACES = ("run_metadata_value", "nested_user_dict", "step_parameter", "artifact_metadata_value",
                 "model_description", "exception_message", "query_parameter", "run_name")


@pytest.mark.parametrize("form", S.DATAFRAME_TEXT_FORMS)
@_REGISTER_SETTINGS
@given(data=st.data())
def test_a_dataframe_printed_as_text_is_blocked_wherever_it_leaves(inspector: Inspector, form: str, data) -> None:
    entity = data.draw(S.dataframe_texts(form), label="table")
    place = S.PLACEMENTS[data.draw(st.sampled_from(_TABLE_PLACES), label="place")]
    if not place.accepts(entity.value):
        return
    record, path = place.build(entity.value, entity, S.ENCODINGS["plain"], data.draw)
    result = inspector.inspect(request_from_record(record, "table"))
    found = [(f["entity"], f["path"]) for f in result.findings if f["category"] == "blob"]
    assert result.decision.action == "block", (form, place.name, found)
    assert any(p.startswith(path) for _, p in found), (place.name, path, found)


@pytest.mark.parametrize("text", ["A: he said. B: she said. " * 45_000, "x: " * 350_000, "eht dna fo ot " * 80_000,
                                  "he said\\n" * 120_000, "お客様から返金の遅れについて。" * 70_000],
                         ids=["turns", "colons", "reversed", "escaped-breaks", "cjk"])
def test_one_megabyte_of_register_input_is_measured_in_bounded_time(text: str) -> None:
    for field_class in ("free_text", "user_dict", "code"):
        started = time.perf_counter()
        list(ProseDetector().scan([Leaf("$.x", text[:1_000_000], field_class)]))
        assert time.perf_counter() - started < 1.0  # measured: <= 0.05 s
