"""Content decoding and parsing: every encoding decoded within caps, bad bodies refused clearly."""

import gzip
import json
import zlib

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import zstandard

from metagate.scanner.normalize import BodyError, Limits, decode_content, normalize_body

DOC = {"name": "train", "values": {"accuracy": 0.93}}
RAW = json.dumps(DOC).encode()
SMALL = Limits(max_body_bytes=64 * 1024, max_decoded_bytes=256 * 1024)


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some clients send it
        ("br", brotli.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ],
)
def test_every_content_encoding_is_decoded_before_inspection(encoding, encode):
    body = normalize_body(encode(RAW), "application/json", encoding, SMALL)
    assert body.kind == "json"
    assert body.document == DOC


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_decompression_bombs_stop_at_the_decoded_cap(encoding, encode):
    bomb = encode(b"0" * (4 * 1024 * 1024))
    assert len(bomb) < SMALL.max_body_bytes
    with pytest.raises(BodyError, match="exceeds 262144 bytes"):
        decode_content(bomb, encoding, SMALL)


def test_oversized_wire_body_is_refused():
    with pytest.raises(BodyError, match="exceeds the 65536 byte cap"):
        decode_content(b"x" * (SMALL.max_body_bytes + 1), "", SMALL)


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd", "deflate"])
def test_corrupt_compressed_body_is_a_clear_error(encoding):
    with pytest.raises(BodyError, match="corrupt|truncated"):
        decode_content(b"\x1f\x8b\x08\x00garbage-not-compressed", encoding, SMALL)


def test_unknown_encoding_is_refused():
    with pytest.raises(BodyError, match="unsupported Content-Encoding 'compress'"):
        decode_content(b"abc", "compress", SMALL)


def test_malformed_json_error_names_position_not_content():
    with pytest.raises(BodyError) as info:
        normalize_body(b'{"email": "jane@example.com", ', "application/json", "", SMALL)
    assert "malformed JSON" in str(info.value)
    assert "jane" not in str(info.value)


def test_nan_constants_are_not_json():
    with pytest.raises(BodyError, match="NaN"):
        normalize_body(b'{"x": NaN}', "application/json", "", SMALL)


def test_deep_nesting_is_refused():
    deep = b"[" * 100 + b"]" * 100
    with pytest.raises(BodyError, match="nested deeper"):
        normalize_body(deep, "application/json", "", SMALL)


def test_empty_text_form_and_binary_bodies_are_classified():
    assert normalize_body(b"", "application/json", "", SMALL).kind == "empty"
    form = normalize_body(b"username=a&password=b", "application/x-www-form-urlencoded", "", SMALL)
    assert form.kind == "form" and form.document == {"username": "a", "password": "b"}
    assert normalize_body(b"hello", "text/plain", "", SMALL).kind == "text"
    assert normalize_body(b"\x80\x04K.", "application/octet-stream", "", SMALL).kind == "binary"
    # No content type: JSON if it parses, else binary.
    assert normalize_body(RAW, "", "", SMALL).kind == "json"
    assert normalize_body(b"\x80\x04K.", "", "", SMALL).kind == "binary"


def _nested(depth: int, wide: bool) -> object:
    """`depth` levels of containers, alternating objects and arrays, with scalar siblings at
    every level and, when `wide`, two-level siblings that stay within `depth`."""
    node: object = "leaf"
    for level in range(depth):
        siblings = {"n": level, "s": "x", **({"flat": [1, {"a": 2}]} if wide and level >= 2 else {})}
        node = {"inner": node, **siblings} if level % 2 else [*siblings.values(), node]
    return node


@pytest.mark.parametrize("wide", [False, True])
def test_nesting_up_to_the_limit_parses_and_one_more_level_is_refused(wide):
    limits = Limits(max_json_depth=12)
    assert normalize_body(json.dumps(_nested(12, wide)).encode(), "application/json", "", limits).kind == "json"
    with pytest.raises(BodyError) as refused:
        normalize_body(json.dumps(_nested(13, wide)).encode(), "application/json", "", limits)
    assert refused.value.code == "too_deep"


def test_depth_counts_containers_not_brackets_inside_strings():
    limits = Limits(max_json_depth=3)
    body = json.dumps({"a": [{"b": "[[[[[[{{{{{{" * 5}]}).encode()
    assert normalize_body(body, "application/json", "", limits).kind == "json"


def _depth(node: object) -> int:
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    if isinstance(node, list):
        return 1 + max((_depth(v) for v in node), default=0)
    return 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(alphabet="ab[]{}\"", max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="xyz", max_size=2), inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(document=_JSON.filter(lambda d: isinstance(d, (dict, list))), limit=st.integers(1, 8))
def test_too_deep_exactly_when_containers_nest_past_the_limit(document, limit):
    body = json.dumps(document).encode()
    try:
        normalize_body(body, "application/json", "", Limits(max_json_depth=limit))
        refused = False
    except BodyError as error:
        assert error.code == "too_deep"
        refused = True
    assert refused == (_depth(document) > limit)


@pytest.mark.parametrize(("raw", "value"), [
    (b'{"note": "jane.doe\\ud800@example.com"}', "jane.doe@example.com"),   # before the `@`
    (b'{"note": "Kenji\\udc80 Delacroix"}', "Kenji Delacroix"),           # spaCy cannot encode it
    (b'{"k\\udfff": ["219-09\\ud9ff-9999"]}', None),
])
def test_lone_surrogates_are_no_characters_of_the_parsed_document(raw, value):
    document = normalize_body(raw, "application/json", "", Limits()).document
    texts = json.dumps(document, ensure_ascii=False)
    texts.encode("utf-8")  # raises on a surrogate left in any key or string
    if value is not None:
        assert document["note"] == value
    else:
        assert document == {"k": ["219-09-9999"]}


def test_a_surrogate_pair_stays_one_character():
    document = normalize_body(b'{"note": "call \\ud83d\\ude00 now", "x": "\\ud800"}', "application/json", "", Limits()).document
    assert document == {"note": "call \U0001F600 now", "x": ""}
