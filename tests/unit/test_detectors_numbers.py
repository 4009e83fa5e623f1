"""Numbers as numbers (issue 12): number-like PII in every form and placement, and the clean
numbers of metadata left alone.

Through the real `Inspector` with default settings, as `metagate scan` runs:
- payment cards of every network (Mastercard's 2-series too) as JSON integers, floats
  (also `4.539004010602815e15`), digit strings with any separator, glued to a word, lists of
  digits, digits on lines, under neutral keys, and as text in every placement;
- international phone numbers without a context word anywhere; bare digits under phone keys
  in every naming style;
- SSNs, tax ids and passport numbers under keys that name them (every naming style, parent
  keys), whatever the form; a bare nine-digit number under a neutral key decides nothing;
- embeddings in every numeric form (numeric strings, sibling lists, scalar metrics, an
  index->float dict, one-key records);
- clean numbers (metric floats, sizes and counts, epochs in s/ms/us/ns, ids, steps, versions,
  dates, ports, digests) at the same places: not blocked.

The strategies are the numbers section of tests/support/strategies.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metagate.proxy.inspection import Inspector, InspectorSettings
from metagate.scanner.capture import request_from_record
from metagate.scanner.detectors.recognizers import CARD_NETWORKS, card_network, is_epoch, is_international_number

from tests.support import strategies as S
from tests.support.gate_properties import BLOCKING_SCORE, GATE_PROPERTIES

COMMON = GATE_PROPERTIES


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=b"\x0c" * 32))


# --- placing a value at a key path --------------------------------------------------------

USER_DATA_PLACES = ("run_metadata", "step_parameter", "artifact_metadata")


def _template(draw: Any, method: str, path: str) -> dict[str, Any]:
    # Drawn by index: a failing example then names the request, not its whole body.
    records = S.templates(method, path)
    return records[draw(st.integers(0, len(records) - 1))]


def _place(draw: Any, keys: tuple[str, ...], form: S.NumberForm) -> tuple[dict[str, Any], str]:
    """The value at `keys` in one of the user-data places of a real SDK request; the record
    and the JSON path of the value."""
    place = draw(st.sampled_from(USER_DATA_PLACES))
    node: Any = form.value
    for key in reversed(keys[1:]):
        node = {key: node}
    top = keys[0]
    if place == "run_metadata":
        record = _template(draw, "POST", "/api/v1/run-metadata")
        body = json.loads(record["body_text"])
        body["values"][top] = node
        body["types"][top] = S._metadata_type(node)
        parts: tuple[Any, ...] = ("values", *keys)
    elif place == "step_parameter":
        record = _template(draw, "POST", "/api/v1/pipeline_snapshots")
        body = json.loads(record["body_text"])
        parameters = body["pipeline_configuration"].get("parameters") or {}
        body["pipeline_configuration"]["parameters"] = parameters
        parameters[top] = node
        parts = ("pipeline_configuration", "parameters", *keys)
    else:
        record = _template(draw, "POST", "/api/v1/artifact_versions/batch")
        body = json.loads(record["body_text"])
        index = draw(st.integers(0, len(body) - 1))
        body[index].setdefault("metadata", {})[top] = node
        parts = (index, "metadata", *keys)
    out = S._with_body(record, body)
    if form.json_text is not None:
        rendered = json.dumps(form.value)
        assert rendered in out["body_text"]
        out["body_text"] = out["body_text"].replace(rendered, form.json_text, 1)
    return out, S._render(parts)


def _inspect(inspector: Inspector, record: dict[str, Any]):
    return inspector.inspect(request_from_record(record, "numbers"))


def _under(path: str, expected: str) -> bool:
    if expected.startswith("$headers") or expected.startswith("$path"):
        path, expected = path.lower(), expected.lower()
    return path == expected or path.startswith(expected + ".") or path.startswith(expected + "[")


def _assert_blocked(inspector: Inspector, record: dict[str, Any], path: str, what: str,
                    categories: frozenset[str] = S.PII, redacted_ok: bool = False) -> None:
    result = _inspect(inspector, record)
    seen = sorted({(f["category"], f["entity"], f["path"], f["score"]) for f in result.findings})
    found = [f for f in result.findings
             if f["category"] in categories and _under(f["path"], path) and f["score"] >= BLOCKING_SCORE]
    assert found, f"nothing of {sorted(categories)} at {path}: {what}; decision {result.decision.action}, {seen}"
    allowed = ("block", "redact") if redacted_ok else ("block",)
    assert result.decision.action in allowed, f"{result.decision.action}: {what}; {seen}"


def _assert_not_blocked(inspector: Inspector, record: dict[str, Any], what: str) -> None:
    # Shape findings (a short number list) carry a measure the policy's thresholds decide on;
    # a PII or secret finding at the blocking score would block by itself.
    result = _inspect(inspector, record)
    blocking = sorted({(f["entity"], f["path"], f["score"]) for f in result.findings
                       if f["score"] >= BLOCKING_SCORE and f["category"] in ("pii", "secret")})
    assert result.decision.action != "block" and not blocking, f"{what}: {result.decision.action} {blocking}"


# --- card networks ------------------------------------------------------------------------


@pytest.mark.parametrize("network", S.CARD_NETWORKS)
@settings(COMMON, max_examples=25)
@given(data=st.data())
def test_every_network_number_is_a_card_and_a_wrong_check_digit_is_not(network, data):
    digits = data.draw(S.card_digits(network))
    assert card_network(digits) is not None, digits
    wrong = digits[:-1] + str((int(digits[-1]) + data.draw(st.integers(1, 9))) % 10)
    from metagate.scanner.detectors.recognizers import CardRecognizer
    recognizer = CardRecognizer()
    assert recognizer.validate_result(digits) and not recognizer.validate_result(wrong)


def test_mastercard_2_series_bounds_and_no_brand_outside_the_ranges():
    assert card_network("2221000000000009") == "mastercard"
    assert card_network("2720990000000007") == "mastercard"
    assert card_network("2720999999999996") == "mastercard"  # 272099 is the last prefix
    assert card_network("2721000000000000") is None and card_network("2220990000000000") is None
    assert card_network("2221000000000") is None            # wrong length
    assert card_network("1234567890123452") is None          # no network issues 1...
    assert {"visa", "mastercard", "american_express", "discover", "jcb", "diners_club", "unionpay"} <= {
        n.name for n in CARD_NETWORKS}


def test_epochs_until_2038_are_times_and_card_ranges_are_not():
    assert is_epoch("1717245296") and is_epoch("1717245296123") and is_epoch("1717245296123456")
    assert is_epoch("1717245296123456789")
    # Sixteen digits from 2.2e15 on would be microseconds past 2040: card networks' ranges.
    assert not is_epoch("2221000000000009") and not is_epoch("4012888888881881") and not is_epoch("3530111333300000")


@pytest.mark.parametrize("form", S.NUMBER_FORMS)
@settings(COMMON, max_examples=6)
@given(data=st.data())
def test_card_in_any_numeric_form_under_a_neutral_key_is_blocked(inspector, form, data):
    float_form = form in ("json_float", "json_exponent")
    digits = data.draw(S.card_digits(max_length=16 if float_form else 19), label="card")
    if float_form and int(digits) > 2**53:
        digits = data.draw(S.card_digits("visa"), label="card")
    written = data.draw(S.number_forms(digits, form), label="form")
    key = data.draw(st.sampled_from(S.NEUTRAL_KEYS), label="key")
    record, path = _place(data.draw, (key,), written)
    _assert_blocked(inspector, record, path, f"card {form} {written.json_text or written.value!r} at {path}")


@settings(COMMON, max_examples=20)
@given(data=st.data())
def test_card_as_a_number_in_a_declared_numeric_field_or_a_metric_is_blocked(inspector, data):
    # ZenML's own numeric fields and metric keys hold numbers: a card there is still a card.
    digits = data.draw(S.card_digits(max_length=16), label="card")
    value = data.draw(st.sampled_from((int(digits), float(int(digits)))) if int(digits) <= 2**53 else st.just(int(digits)))
    if data.draw(st.booleans()):
        records = S.templates("PUT", r"/api/v1/steps/[0-9a-f-]+", needs="exception_info")
        record = records[data.draw(st.integers(0, len(records) - 1))]
        body = json.loads(record["body_text"])
        body["exception_info"]["user_code_line"] = value
        path = "$.exception_info"
    else:
        record = _template(data.draw, "POST", "/api/v1/run-metadata")
        body = json.loads(record["body_text"])
        key = data.draw(st.sampled_from(("accuracy", "item_count", "epochs_completed", "n_samples", "latency_ms")))
        body["values"][key] = value
        body["types"][key] = S._metadata_type(value)
        path = f"$.values.{key}"
    _assert_blocked(inspector, S._with_body(record, body), path, f"card {value!r} at {path}", redacted_ok=False)


TEXT_PLACEMENTS = tuple(name for name, p in S.PLACEMENTS.items() if p.text_only or p.keyed)


def _neutral_entity(text: str, cls: str) -> S.Entity:
    return S.Entity(cls, S.PII, "text", text, S.NEUTRAL_KEYS)


@pytest.mark.parametrize("placement", TEXT_PLACEMENTS)
@settings(COMMON, max_examples=6)
@given(data=st.data())
def test_card_written_as_text_is_blocked_wherever_placed(inspector, placement, data):
    digits = data.draw(S.card_digits(), label="card")
    separators = (" ", "-", "/", "|", ".") if S.PLACEMENTS[placement].ascii_line else S.DIGIT_SEPARATORS
    text = data.draw(st.sampled_from((digits, S._grouped(digits, data.draw(st.sampled_from(separators))))))
    where = S.PLACEMENTS[placement]
    record, path = where.build(text, _neutral_entity(text, "card"), S.ENCODINGS["plain"], data.draw)
    _assert_blocked(inspector, record, path, f"card {text!r} at {placement} ({path})", redacted_ok=where.redacted)


# --- phones -------------------------------------------------------------------------------


@settings(COMMON, max_examples=40)
@given(text=S.international_phones())
def test_an_international_number_is_valid_where_it_stands(text):
    assert is_international_number(text, 0, len(text)), text
    # The tail of a version or a time's offset is no country code.
    assert not is_international_number("1.0.0" + text.replace(" ", ""), 5, 5 + len(text.replace(" ", "")))


@pytest.mark.parametrize("placement", TEXT_PLACEMENTS)
@settings(COMMON, max_examples=5)
@given(data=st.data())
def test_international_phone_without_context_is_blocked_wherever_placed(inspector, placement, data):
    text = data.draw(S.international_phones(), label="phone")
    where = S.PLACEMENTS[placement]
    record, path = where.build(text, _neutral_entity(text, "phone"), S.ENCODINGS["plain"], data.draw)
    _assert_blocked(inspector, record, path, f"phone {text!r} at {placement} ({path})", redacted_ok=where.redacted)


@settings(COMMON, max_examples=40)
@given(data=st.data())
def test_bare_digit_phone_under_a_phone_key_is_blocked(inspector, data):
    text = data.draw(S.international_phones(), label="phone")
    digits = "".join(c for c in text if c.isdigit())
    keys = data.draw(S.key_paths(S.PHONE_KEY_WORDS), label="keys")
    form = data.draw(st.sampled_from((S.NumberForm("json_int", int(digits)), S.NumberForm("digit_string", digits),
                                      S.NumberForm("plus_digits", "+" + digits))), label="form")
    record, path = _place(data.draw, keys, form)
    _assert_blocked(inspector, record, path, f"phone {form.value!r} under {keys}")


# --- government ids under the keys that name them ----------------------------------------


@settings(COMMON, max_examples=60)
@given(data=st.data())
def test_ssn_under_a_key_that_names_it_is_blocked_in_any_form(inspector, data):
    digits = data.draw(S.ssn_digits(), label="ssn")
    form = data.draw(S.ssn_forms(digits), label="form")
    keys = data.draw(S.key_paths(S.SSN_KEY_WORDS), label="keys")
    record, path = _place(data.draw, keys, form)
    _assert_blocked(inspector, record, path, f"ssn {form.name} {form.value!r} under {keys}")


@settings(COMMON, max_examples=20)
@given(data=st.data())
def test_passport_number_under_a_passport_key_is_blocked(inspector, data):
    form = data.draw(S.passport_numbers(), label="passport")
    keys = data.draw(S.key_paths(S.PASSPORT_KEY_WORDS), label="keys")
    record, path = _place(data.draw, keys, form)
    _assert_blocked(inspector, record, path, f"passport {form.value!r} under {keys}")


@settings(COMMON, max_examples=30)
@given(data=st.data())
def test_a_bare_nine_digit_number_under_a_neutral_key_decides_nothing(inspector, data):
    # Counts and ids have nine digits too: without a key that names an id, nothing blocks.
    digits = data.draw(S.ssn_digits(), label="digits")
    form = data.draw(st.sampled_from((S.NumberForm("json_int", int(digits)), S.NumberForm("digit_string", digits))))
    key = data.draw(st.sampled_from(("n_rows", "count", "item_count", "id", "seed", "value", "x", "rows_seen")))
    record, _ = _place(data.draw, (key,), form)
    _assert_not_blocked(inspector, record, f"{form.value!r} under {key}")


# --- embeddings in every numeric form -------------------------------------------------------

EMBEDDING_FORMS = ("list", "numeric_strings", "sibling_parts", "rows_of_8", "scalar_metrics", "index_dict",
                   "one_key_records", "json_text")


def _embedding_values(form: str, vector: list[float], key: str) -> dict[str, Any]:
    if form == "list":
        return {key: vector}
    if form == "numeric_strings":
        return {key: [repr(v) for v in vector]}
    if form == "sibling_parts":
        size = -(-len(vector) // 16)
        return {f"{key}_part_{i}": vector[i * size:(i + 1) * size] for i in range(16)}
    if form == "rows_of_8":
        return {key: [vector[i:i + 8] for i in range(0, len(vector), 8)]}
    if form == "scalar_metrics":
        return {f"{key}_{i}": v for i, v in enumerate(vector)}
    if form == "index_dict":
        return {key: {str(i): v for i, v in enumerate(vector)}}
    if form == "one_key_records":
        return {key: [{"v": v} for v in vector]}
    if form == "json_text":
        return {key: json.dumps(vector)}
    raise ValueError(form)


@pytest.mark.parametrize("form", EMBEDDING_FORMS)
@settings(COMMON, max_examples=8)
@given(data=st.data())
def test_embedding_in_any_numeric_form_is_blocked(inspector, form, data):
    vector = data.draw(S.embeddings(), label="embedding").value
    key = data.draw(st.sampled_from(("emb", "vector", "features", "x", "debug")))
    values = _embedding_values(form, vector, key)
    place = data.draw(st.sampled_from(USER_DATA_PLACES))
    if place == "run_metadata":
        record = _template(data.draw, "POST", "/api/v1/run-metadata")
        body = json.loads(record["body_text"])
        body["values"].update(values)
        body["types"].update({k: S._metadata_type(v) for k, v in values.items()})
        path = "$.values"
    elif place == "step_parameter":
        record = _template(data.draw, "POST", "/api/v1/pipeline_snapshots")
        body = json.loads(record["body_text"])
        parameters = body["pipeline_configuration"].get("parameters") or {}
        body["pipeline_configuration"]["parameters"] = {**parameters, **values}
        path = "$.pipeline_configuration.parameters"
    else:
        record = _template(data.draw, "POST", "/api/v1/artifact_versions/batch")
        body = json.loads(record["body_text"])
        index = data.draw(st.integers(0, len(body) - 1))
        body[index].setdefault("metadata", {}).update(values)
        path = f"$[{index}].metadata"
    _assert_blocked(inspector, S._with_body(record, body), path,
                    f"{len(vector)}-d embedding as {form} at {place}", categories=S.DATA_SHAPED)


# --- clean numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", S.CLEAN_NUMBER_KINDS)
@settings(COMMON, max_examples=15)
@given(data=st.data())
def test_clean_numbers_are_not_blocked_in_user_data(inspector, kind, data):
    value, key = data.draw(S.clean_numbers(kind), label="clean")
    record, path = _place(data.draw, (key,), S.NumberForm(kind, value))
    _assert_not_blocked(inspector, record, f"{kind} {value!r} at {path}")


@pytest.mark.parametrize("kind", S.CLEAN_NUMBER_KINDS)
@settings(COMMON, max_examples=8)
@given(data=st.data())
def test_clean_numbers_in_text_are_not_blocked_wherever_placed(inspector, kind, data):
    value, key = data.draw(S.clean_numbers(kind), label="clean")
    text = f"{key}={json.dumps(value)}" if data.draw(st.booleans()) else json.dumps(value).strip('"')
    name = data.draw(st.sampled_from([n for n, p in S.PLACEMENTS.items() if p.accepts(text)]))
    where = S.PLACEMENTS[name]
    entity = S.Entity(f"clean_{kind}", frozenset(), "text", text, S.NEUTRAL_KEYS)
    record, path = where.build(text, entity, S.ENCODINGS["plain"], data.draw)
    _assert_not_blocked(inspector, record, f"{kind} {text!r} at {name} ({path})")


def test_few_sizes_and_counts_are_card_numbers():
    # A card written as a count is a card (the red team's `item_count`): the price is that a
    # count of 14-16 digits in a network's range with a valid Luhn digit reads as one. Sizes
    # and counts drawn log-uniformly from 10 to 16 digits: well under one in a hundred.
    import random

    rng = random.Random(12)
    numbers = [str(int(10 ** rng.uniform(9, 16))) for _ in range(20_000)]
    share = sum(card_network(n) is not None and S.luhn_valid(n) for n in numbers) / len(numbers)
    assert share < 0.01, share


# --- bounds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "4" * 1_000_000,                                   # one digit run of a megabyte
    " ".join(["4539"] * 200_000),                      # digit groups without end
    "+55 11 " * 140_000,                               # country codes without a number
    [4, 5, 3, 9] * 50_000,                             # a huge digit list
], ids=["digit_run", "digit_groups", "country_codes", "digit_list"])
def test_pathological_numbers_get_a_decision_quickly(inspector, value):
    record = S.templates("POST", "/api/v1/run-metadata")[0]
    body = json.loads(record["body_text"])
    body["values"]["x"] = value
    body["types"]["x"] = S._metadata_type(value)
    started = time.monotonic()
    result = _inspect(inspector, S._with_body(record, body))
    assert time.monotonic() - started < 20
    assert result.decision.action in ("block", "allow", "redact")


# --- the recognizers on their own ------------------------------------------------------------

PHONE_LOOKALIKES = [
    "1.0.0+20240101123",                    # a version's local part
    "2024-01-01T10:00:00+0100",             # a time's offset
    "2031-05-17 08:12:44.123456+00:00",
    "started 1717245296123 finished 1717245299000",   # epochs in ms
    "loss 0.4123456789123 acc 0.9912345678",          # metrics
    "run 20240517-081244 step 120000",                # run stamps and steps
    "listening on 0.0.0.0:8237, pid 4123456",
    "sha 4f83fb92ce74d8710a9599d3fd510950",
    "scikit-learn==1.5.2 numpy>=1.26.4",
    "size 1234567890123 bytes in 17 files",
]


@pytest.fixture(scope="module")
def pii():
    from metagate.scanner.detectors.pii import PresidioPiiDetector

    return PresidioPiiDetector()


@pytest.mark.parametrize("text", PHONE_LOOKALIKES)
def test_versions_times_ids_and_metrics_are_not_phones_or_cards(pii, text):
    from metagate.scanner.model import Leaf

    leaves = [Leaf("$.values.note", text, "user_dict"), Leaf("$.description", text, "free_text")]
    hits = [(h.entity, text[h.start:h.end], h.score) for h in pii.scan(leaves) if h.score >= BLOCKING_SCORE]
    assert not hits, hits


def test_a_decimal_fraction_is_not_a_card(pii):
    from metagate.scanner.model import Leaf

    card = "4539004010602815"
    hits = lambda text: [h.entity for h in pii.scan([Leaf("$.values.x", text, "user_dict")])]  # noqa: E731
    assert "CREDIT_CARD" in hits(card) and "CREDIT_CARD" in hits(f"paid with {card}.")
    assert "CREDIT_CARD" not in hits(f"0.{card}") and "CREDIT_CARD" not in hits(f"score=12,{card}")


def test_digit_runs_too_long_for_a_phone_are_skipped_but_numbers_beside_them_are_not():
    from metagate.scanner.detectors.recognizers import phone_windows

    text = "9" * 40 + " +55 11 91318-5387 " + "1" * 30
    pieces = [text[a:b] for a, b in phone_windows(text)]
    assert any("+55 11 91318-5387" in p for p in pieces)
    assert all(len(max(p.split(" "), key=len)) < 18 for p in pieces), pieces


SSN_LABELS = ("SSN: {}", "ssn={}", "customer SSN {}", "Social Security Number: {}", "ssn #{}", "SSN '{}'",
              "Tax ID: {}", "taxpayer id {}")


@pytest.mark.parametrize("placement", TEXT_PLACEMENTS)
@settings(COMMON, max_examples=5)
@given(data=st.data())
def test_ssn_after_a_label_that_names_it_is_blocked_wherever_placed(inspector, placement, data):
    # A label in text says what a number is as a key does: "SSN: 536228814" is {"ssn": ...}.
    digits = data.draw(S.ssn_digits(), label="ssn")
    text = data.draw(st.sampled_from(SSN_LABELS)).format(digits)
    where = S.PLACEMENTS[placement]
    if not where.accepts(text):
        text = text.replace("'", "")
    record, path = where.build(text, _neutral_entity(text, "ssn"), S.ENCODINGS["plain"], data.draw)
    _assert_blocked(inspector, record, path, f"{text!r} at {placement} ({path})", redacted_ok=where.redacted)


@pytest.mark.parametrize("text", [
    "step: 536228814", "rows = 536228814", "id 536228814", "seed=536228814", "run #536228814",
    "version: 536228814", "count 536228814 of 900000000",
])
def test_a_nine_digit_number_after_a_neutral_label_decides_nothing(pii, text):
    from metagate.scanner.model import Leaf

    hits = [(h.entity, h.score) for h in pii.scan([Leaf("$.values.note", text, "user_dict")]) if h.score >= BLOCKING_SCORE]
    assert not hits, hits


@settings(COMMON, max_examples=30)
@given(data=st.data())
def test_a_count_under_a_key_that_only_starts_with_a_phone_word_is_not_blocked(inspector, data):
    # `mobile_users`, `tel_port`, `fax_pages` count things: a phone word names a phone number
    # only as the key's last word (`customer_mobile`), or in a phrase (`mobile_number`).
    rng = __import__("random").Random(data.draw(st.integers(0, 2**32 - 1)))
    value = rng.randint(10**8, 10**10 - 1)
    head = data.draw(st.sampled_from(("mobile", "tel", "fax")))
    tail = data.draw(st.sampled_from(("users", "sessions", "impressions", "port", "pages", "share", "clicks")))
    key = S._styled((head, tail), data.draw(st.sampled_from(S.KEY_STYLES)))
    form = data.draw(st.sampled_from((S.NumberForm("json_int", value), S.NumberForm("digit_string", str(value)))))
    record, _ = _place(data.draw, (key,), form)
    _assert_not_blocked(inspector, record, f"{value!r} under {key}")


@settings(COMMON, max_examples=200)
@given(data=st.data())
def test_every_grouped_card_fires_the_card_trigger_and_the_recognizer_finds_it(data):
    from metagate.scanner.detectors.pii_triggers import ENTITY_TRIGGERS
    from metagate.scanner.detectors.recognizers import CardRecognizer

    digits = data.draw(S.card_digits(), label="card")
    separator = data.draw(st.sampled_from(("", " ", "  ", "-", "/", "|", ".")), label="separator")
    text = f"paid with {S._grouped(digits, separator)} yesterday"
    [trigger] = ENTITY_TRIGGERS["CREDIT_CARD"]
    assert trigger.pattern is not None and trigger.pattern.search(text), text
    found = [text[r.start:r.end] for r in CardRecognizer().analyze(text, ["CREDIT_CARD"]) if r.score == 1.0]
    assert found == [S._grouped(digits, separator)], (text, found)
