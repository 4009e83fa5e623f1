r"""Every byte or escape codec reaches every detector in every kind of place (issue 12).

A value under a codec (percent, HTML entities, JSON escapes, a JSON document in a string, base64
in its three forms and under gzip, base32, base85/ascii85, hex in four forms) is decoded
wherever a request can carry it: a body value, a body key, a named field of ZenML's models, a
query value, a header, a path segment, and the fields the default policy redacts (source code,
where it is a JSON string literal with `\"` and `\\` escaped; tracebacks and value reprs, where
it is a Python repr with `\'` and `\\`). One test id per codec x kind of place; hypothesis draws
the value (an e-mail address, an AWS key, a pickle: each decided by its shape alone, no key
context needed), the codec's details and the place within the kind, in a real SDK request
(tests/corpus/captured/). The finding must be of the value's category, at or under the place.

And the other way round: what looks like a codec's output in clean metadata (digests upper and
lower case, UUIDs, docker digests, base64 of a small JSON config, percent-encoded URIs and
paths, HTML-escaped and JSON-escaped descriptions, `0x` constants, capitalised config strings
with base85 punctuation) goes through the same decoders in the same places and is not flagged.
Bounds: a megabyte of the new decoders' pathological inputs is decided in time.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
import uuid
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metagate.proxy.inspection import Inspector, InspectorSettings
from metagate.scanner import decoders, evasion
from metagate.scanner.capture import request_from_record
from metagate.scanner.evasion import decoded_views, expand_leaves
from metagate.scanner.model import Leaf

from tests.support import strategies as S
from tests.support.gate_properties import BLOCKING_SCORE, GATE_PROPERTIES

COMMON = GATE_PROPERTIES

CODECS = ("percent", "html_entities", "json_escapes", "nested_json", "double_json", "base64", "base64_urlsafe",
          "base64_lines", "gzip_base64", "base32", "base85", "ascii85", "hex", "hex_upper", "hex_0x", "hex_spaced")

# Kinds of place, each with the placements of tests/support/strategies.py it stands for.
KINDS = {
    "body_value": ("run_metadata_value", "nested_user_dict", "list_item", "step_parameter",
                   "artifact_metadata_value"),
    "body_key": ("artifact_metadata_key",),
    "named_field": ("run_name", "tag_name", "model_description", "exception_message"),
    "query_value": ("query_parameter",),
    "header_value": ("header",),
    "path_segment": ("path_parameter",),
    "redacted_field": ("step_source_code", "exception_traceback", "artifact_value_repr"),
}

# Decided by their shape alone (no key context), one per category.
ENTITIES = ("email", "aws_access_key", "pickle")


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=b"\x0c" * 32))


def _under(path: str, expected: str) -> bool:
    if expected.startswith(("$headers", "$path")):
        path, expected = path.lower(), expected.lower()
    return path == expected or path.startswith(expected + ".") or path.startswith(expected + "[")


@st.composite
def _placed(draw, codec: str, kind: str):
    entity = draw(st.sampled_from(ENTITIES).flatmap(lambda name: S.ENTITIES[name]), label="entity")
    encoding = S.ENCODINGS[codec]
    value = encoding.encode(entity, draw)
    places = [S.PLACEMENTS[name] for name in KINDS[kind] if S.PLACEMENTS[name].accepts(value)]
    if not places:
        from hypothesis import reject
        reject()  # too long for this header or path this time
    placement = draw(st.sampled_from(places), label="placement")
    record, path = placement.build(value, entity, encoding, draw)
    return S.Leak(entity, encoding, placement, value, record, path)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("codec", CODECS)
@settings(COMMON, max_examples=4)
@given(data=st.data())
def test_every_codec_reaches_the_detectors_in_every_kind_of_place(inspector, codec, kind, data):
    leak = data.draw(_placed(codec, kind), label="leak")
    result = inspector.inspect(request_from_record(leak.record, leak.placement.name))
    found = [f for f in result.findings if f["category"] in leak.entity.categories and _under(f["path"], leak.path)
             and f["score"] >= BLOCKING_SCORE]
    seen = sorted({(f["category"], f["entity"], f["path"], f["score"]) for f in result.findings})
    assert found, f"{leak.describe()}: nothing of {sorted(leak.entity.categories)}; findings {seen}"
    if leak.placement.redacted and result.decision.action == "redact":
        return
    assert result.decision.action == "block", (leak.describe(), result.decision.rules)


# --- clean look-alikes of codec output ------------------------------------------------------


def _config_json(draw) -> str:
    keys = draw(st.lists(st.sampled_from(("lr", "epochs", "batch_size", "seed", "dropout", "optimizer", "layers")),
                         min_size=1, max_size=4, unique=True))
    values = {"lr": 0.001, "epochs": 10, "batch_size": 32, "seed": 42, "dropout": 0.1, "optimizer": "adam",
              "layers": [64, 32]}
    return json.dumps({k: values[k] for k in keys})


@st.composite
def codec_lookalikes(draw) -> str:
    rng = draw(st.randoms(use_true_random=False))
    data = rng.randbytes(32)
    kind = draw(st.sampled_from((
        "sha256", "sha256_upper", "sha1", "md5", "uuid", "docker_digest", "image_ref", "config_base64",
        "config_base64_urlsafe", "percent_uri", "percent_path", "html_description", "json_escaped_description",
        "hex_constant", "caps_config", "git_describe",
    )), label="kind")
    digest = hashlib.sha256(data).hexdigest()
    return {
        "sha256": digest,
        "sha256_upper": digest.upper(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "uuid": str(uuid.UUID(bytes=data[:16], version=4)),
        "docker_digest": f"sha256:{digest}",
        "image_ref": f"ghcr.io/acme/trainer@sha256:{digest}",
        "config_base64": base64.b64encode(_config_json(draw).encode()).decode(),
        "config_base64_urlsafe": base64.urlsafe_b64encode(_config_json(draw).encode()).decode().rstrip("="),
        "percent_uri": quote(f"s3://ml-{rng.randint(1, 999)}/datasets/train v{rng.randint(1, 9)}.parquet", safe=""),
        "percent_path": quote(f"/mnt/data/run {rng.randint(1, 99)}/model.pkl"),
        "html_description": draw(st.sampled_from((
            "Precision &amp; recall &gt; 0.9 on the &quot;holdout&quot; split",
            "Trained on &lt;2024-03&gt; data &#8211; baseline", "F1 &ge; 0.8 &amp;&amp; AUC &ge; 0.9"))),
        "json_escaped_description": draw(st.sampled_from((
            "Mod\\u00e8le de pr\\u00e9vision \\u2013 v2", "Caf\\u00e9 sales forecast", "\\u00c4nderung am Modell"))),
        "hex_constant": draw(st.sampled_from(("0xdeadbeef", "0x7fffffff", "0x" + data[:8].hex()))),
        "caps_config": draw(st.sampled_from(("MAX_RETRIES=3;TIMEOUT=30", "LOG_LEVEL=INFO;WORKERS=4",
                                             "MODE=TRAIN|STAGE=PROD|V=12"))),
        "git_describe": f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}-{rng.randint(1, 99)}-g{digest[:7]}",
    }[kind]


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(COMMON, max_examples=24)
@given(data=st.data())
def test_codec_lookalikes_stay_clean_in_every_kind_of_place(inspector, kind, data):
    value = data.draw(codec_lookalikes(), label="value")
    entity = S.Entity("clean", frozenset(), "text", value, ("value", "note", "checksum"))
    places = [S.PLACEMENTS[name] for name in KINDS[kind] if S.PLACEMENTS[name].accepts(value)]
    placement = data.draw(st.sampled_from(places), label="placement")
    record, path = placement.build(value, entity, S.ENCODINGS["plain"], data.draw)
    result = inspector.inspect(request_from_record(record, placement.name))
    # In the redacted fields a sentence is measured as prose (a description written into
    # code is one, decoded or not); that decides nothing there (the policy redacts them).
    measured = {"PROSE", "PERSONAL_PROSE"} if placement.redacted else set()
    strong = sorted({(f["category"], f["entity"], f["path"]) for f in result.findings
                     if f["score"] >= BLOCKING_SCORE and _under(f["path"], path) and f["entity"] not in measured})
    assert not strong, (value, placement.name, strong)
    assert result.decision.action != "block", (value, placement.name, result.decision.rules)


# --- the decoders themselves: literals, serialised documents, split path segments -----------


_VALUES = st.sampled_from(("jane.doe@example.com", "AKIAZ7QX4RT2WPLM5BNC", "536-22-8741",
                           "4539 0040 1060 2815", "Ingrid Lindqvist, 1 Linden St"))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(value=_VALUES, adobe=st.booleans(), base85=st.booleans(),
       written=st.sampled_from(("json", "repr", "repr_in_dict")))
def test_base85_in_a_string_literal_is_read_with_its_escapes_undone(value, adobe, base85, written):
    encoded = base64.b85encode(value.encode()).decode() if base85 else base64.a85encode(value.encode(), adobe=adobe).decode()
    text = {"json": f"REVIEWER = {json.dumps(encoded)}\n", "repr": f"KeyError: {encoded!r}\n",
            "repr_in_dict": repr({"note": encoded})}[written]
    assert any(value in view for view in decoded_views(text)), text


def _wrapped(text: str, width: int, breaker: str) -> str:
    return breaker.join(text[i : i + width] for i in range(0, len(text), width))


_LITERAL_CODECS = {
    "base64_lines": lambda raw, width, breaker: _wrapped(base64.b64encode(raw).decode(), width, breaker),
    "hex_lines": lambda raw, width, breaker: _wrapped(raw.hex(" "), width * 3, breaker),
    "hex_dump": lambda raw, width, breaker: breaker.join(f"{b:02x}" for b in raw),
    "hex_0x": lambda raw, width, breaker: " ".join(f"0x{b:02x}" for b in raw),
    "ascii85": lambda raw, width, breaker: base64.a85encode(raw).decode(),
    "ascii85_adobe_wrapped": lambda raw, width, breaker: base64.a85encode(raw, adobe=True, wrapcol=width,
                                                                           pad=False).decode().replace("\n", breaker),
    "base85": lambda raw, width, breaker: base64.b85encode(raw).decode(),
    "gzip_base64": lambda raw, width, breaker: base64.b64encode(gzip.compress(raw, mtime=0)).decode(),
}


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=_VALUES, codec=st.sampled_from(sorted(_LITERAL_CODECS)), width=st.sampled_from((16, 60, 64, 76)),
       breaker=st.sampled_from(("\n", "\r\n", " ")), written=st.sampled_from(("as sent", "json", "repr", "dict repr")))
def test_any_codec_written_as_a_string_literal_is_decoded(value, codec, width, breaker, written):
    # Line breaks inside a literal are `\n` or `\r\n` as two characters each; quotes and
    # backslashes of the encoded text are escaped.
    encoded = _LITERAL_CODECS[codec](f"owner {value} today".encode(), width, breaker)
    text = {"as sent": encoded, "json": f"X = {json.dumps(encoded)}", "repr": f"KeyError: {encoded!r}",
            "dict repr": repr({"note": encoded})}[written]
    assert any(value in view for view in decoded_views(text)), text


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(value=_VALUES, layers=st.integers(1, 3), written=st.sampled_from(("json", "repr")))
def test_a_document_serialised_into_literals_is_unescaped_layer_by_layer(value, layers, written):
    text = json.dumps({"v": value})
    for _ in range(layers):
        text = json.dumps(text)
    text = f"x = {text}" if written == "json" else f"KeyError: {text!r}"
    views = decoded_views(text)
    assert any(f'"v": "{value}"' in view or f"v: {value}" in view for view in views), (text, views)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(entity=st.sampled_from(("pickle", "png", "npy")).flatmap(lambda name: S.ENTITIES[name]),
       codec=st.sampled_from(("base85", "ascii85")))
def test_any_binary_in_base85_is_handed_on_from_its_signature(entity, codec):
    # Whatever the encoded text holds by chance (`<~` ... `~>` inside base85 of a pickle,
    # `%2e`, `&kg1N;`: other layers' triggers), the token is decoded as the whole it is.
    encoded = (base64.b85encode if codec == "base85" else base64.a85encode)(entity.raw).decode()
    views = decoded_views(encoded)
    assert any(entity.raw[:16] in base64.b64decode(view)[:64] for view in views if _is_base64(view)), encoded[:80]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(digits=st.from_regex(r"\+?[0-9]{3}([ \-.]?)[0-9]{2,4}\1[0-9]{4}([ \-.]?[0-9]{4})?", fullmatch=True),
       codec=st.sampled_from(("base85", "ascii85", "ascii85_adobe")),
       written=st.sampled_from(("as sent", "json", "repr")))
def test_digits_in_base85_are_decoded_though_their_text_has_no_lower_case(digits, codec, written):
    # Digits, spaces and dashes encode to capitals, digits and punctuation (an SSN as ascii85 is
    # `1GCR,1H$@23A<>`), or in base85 one time in 40 to letters and digits alone
    # (`FfcGMFfcGMFa`): no mixed case or punctuation to go by, but the group leads of text.
    raw = digits.encode()
    encoded = {"base85": base64.b85encode(raw), "ascii85": base64.a85encode(raw),
               "ascii85_adobe": base64.a85encode(raw, adobe=True)}[codec].decode()
    text = {"as sent": encoded, "json": f"X = {json.dumps(encoded)}", "repr": f"KeyError: {encoded!r}"}[written]
    assert any(digits in view for view in decoded_views(text)), text


def _is_base64(text: str) -> bool:
    return decoders.base64_bytes(text) is not None


def test_strings_literal_contents_follow_json_and_python_quoting():
    assert decoders.literal_contents(r'''x = "a\"b\\c" + 'd\'e' + "unclosed''') == ['a"b\\c', "d'e"]
    assert decoders.literal_contents("no quotes") == []


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(value=_VALUES, codec=st.sampled_from(("base64", "ascii85", "base85")))
def test_a_path_segment_with_an_encoded_slash_is_scanned_whole(inspector, value, codec):
    raw = value.encode()
    encoded = {"base64": base64.b64encode(raw), "ascii85": base64.a85encode(raw, adobe=True),
               "base85": base64.b85encode(raw)}[codec].decode()
    request = request_from_record({"method": "GET", "path": f"/api/v1/runs/{quote(encoded, safe='')}",
                                   "headers": {"Host": "zenml.example"}})
    scan = inspector.scanner.scan(request)
    whole = [leaf for leaf in scan.leaves if leaf.path == "$path"]
    if "/" in encoded or "\\" in encoded:
        assert whole and any(value in view for view in [whole[0].text, *decoded_views(whole[0].text)])
    else:
        assert not whole  # no encoded slash (or backslash): the segments are the values


def test_clean_escapes_in_source_code_give_no_view_but_a_serialised_document():
    code = 'def f(path):\n    return path.replace("\\\\", "/") + "\\n"\n'
    assert decoded_views(code) == []
    assert decoded_views('payload = "{\\"lr\\": 0.1}"') != []


# --- bounds: a megabyte of each new decoder's worst case --------------------------------------

_MEGABYTE = 1_000_000
_WORST = {
    "quoted base85-like literals": ("'" + "Ab#c\\'d" * 5 + "'") * (_MEGABYTE // 37),
    "unclosed quotes": "\"Ab#c\\\"d" * (_MEGABYTE // 8),
    "serialised keys": '{\\"key\\": \\"value\\", ' * (_MEGABYTE // 24),
    "adobe frames": "<~" + "9jqo^" * (_MEGABYTE // 5) + "~>",
    "capital tokens with punctuation": " ".join(["MAX_RETRIES=3;TIMEOUT=30"] * (_MEGABYTE // 25)),
}


@pytest.mark.parametrize("name", sorted(_WORST))
def test_a_megabyte_of_worst_case_input_is_decided_fast(name):
    evasion.forget_clean_texts()
    started = time.perf_counter()
    expand_leaves([Leaf("$.source_code", _WORST[name], "code")])
    assert time.perf_counter() - started < 10, name


def test_more_literals_than_the_bound_leave_the_text_undecoded():
    # Every reading of a token is a decode: past the bound the text is `undecoded` (blocked
    # by policy), not silently skipped.
    evasion.forget_clean_texts()
    token = "".join(f"'Ab#cd{i:06d}xY'" for i in range(decoders.MAX_TRIES_PER_DECODER + 10))
    assert decoders.views(token)[1] is True


@pytest.mark.parametrize("codec", ["base64", "base64_urlsafe", "gzip_base64", "ascii85", "hex_upper"])
def test_encoded_records_are_found_in_their_decoded_view(inspector, codec):
    # What an encoding hides is judged as decoded: rows of people base64-encoded are a table
    # and an SSN, whatever the blob detector makes of the run itself.
    rows = json.dumps([{"name": "Jane Doe", "ssn": "219-09-9999"}, {"name": "Kwame Mensah", "ssn": "536-22-8741"},
                       {"name": "Ingrid Lindqvist", "ssn": "078-05-1120"}]).encode()
    value = {"base64": base64.b64encode(rows).decode(),
             "base64_urlsafe": base64.urlsafe_b64encode(rows).decode().rstrip("="),
             "gzip_base64": base64.b64encode(gzip.compress(rows, mtime=0)).decode(),
             "ascii85": base64.a85encode(rows).decode(), "hex_upper": rows.hex().upper()}[codec]
    record = S.templates("POST", "/api/v1/run-metadata")[0]
    body = json.loads(record["body_text"])
    body["values"]["note"], body["types"]["note"] = value, "str"
    result = inspector.inspect(request_from_record({**record, "body_text": json.dumps(body)}))
    entities = {f["entity"] for f in result.findings if f["path"] == "$.values.note" and f["score"] >= BLOCKING_SCORE}
    assert result.decision.action == "block" and entities & {"RECORDS_TABLE", "US_SSN"}, entities
