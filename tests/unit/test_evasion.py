"""The decode-and-normalise layer: encoded values are seen as meant, clean metadata is left alone."""

from __future__ import annotations

import base64
import gzip
import json
import unicodedata
from pathlib import Path

import pytest
from metagate.scanner.evasion import (
    _INVISIBLE,
    MAX_BASE64_VIEWS_PER_TEXT,
    MAX_DEPTH,
    VIEW_SEPARATOR,
    decoded_views,
    expand_leaves,
    normalise_text,
)
from metagate.scanner.model import InspectionRequest, Leaf

from tests.support.labelled_corpus import builder

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "jane.doe@example.com"


TECHNIQUES = builder().TECHNIQUES


# --- one value ---------------------------------------------------------------------------------


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_every_evasion_encoding_is_undone(technique):
    assert any(EMAIL in view for view in decoded_views(TECHNIQUES[technique](EMAIL)))


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        ("jane.doe&commat;example.com", EMAIL),                   # named entity
        ("jane.doe&#x40;example.com", EMAIL),                     # hex entity
        ("jane.doe\\x40example.com", EMAIL),                      # \x escape
        ("call \\ud83d\\ude00 +1\\u0020415-555-2671", "call \U0001F600 +1 415-555-2671"),  # surrogate pair
        ("４１１１ １１１１ １１１１ １１１１", "4111 1111 1111 1111"),  # full-width digits
        ("٤١١١ ١١١١ ١١١١ ١١١١", "4111 1111 1111 1111"),          # Arabic-Indic digits
        ("4111\u200b1111\u2060 1111\ufeff1111", "41111111 11111111"),  # zero-width characters
        ("j\u0430ne", "j\u0430ne"),                                # homoglyphs are not folded (only NFKC)
    ],
)
def test_normalisation(encoded, plain):
    assert normalise_text(encoded) == plain


def test_double_encoding_is_peeled_layer_by_layer():
    assert decoded_views("jane.doe%2540example.com") == ["jane.doe%40example.com", EMAIL]


def test_nested_json_is_flattened_with_keys_for_context():
    nested = json.dumps({"owner": {"phone": "4155552671", "tags": ["a", "b"]}, "ok": True})
    [view] = decoded_views(nested)
    assert "phone: 4155552671" in view.split(VIEW_SEPARATOR)
    assert "owner" in view.split(VIEW_SEPARATOR)


def test_json_nested_in_json_strings_is_peeled_recursively():
    twice = json.dumps(json.dumps({"note": json.dumps({"contact": EMAIL})}))
    assert any(f"contact: {EMAIL}" in view for view in decoded_views(twice))


def test_gzip_of_a_binary_is_handed_on_as_base64_of_its_first_bytes():
    pickled = b"\x80\x04\x95" + bytes(range(200))
    views = decoded_views(base64.b64encode(gzip.compress(pickled)).decode())
    assert views and base64.b64decode(views[0])[:3] == b"\x80\x04\x95"


def test_peeling_is_bounded_in_depth():
    value = EMAIL
    for _ in range(MAX_DEPTH + 2):
        value = base64.b64encode(value.encode()).decode()
    views = decoded_views(value)
    assert len(views) == MAX_DEPTH
    assert all(EMAIL not in view for view in views)


def test_peeling_is_bounded_in_size():
    bomb = base64.b64encode(gzip.compress(b"A" * 20_000_000)).decode()
    views = decoded_views(bomb, max_chars=100_000)
    assert sum(len(v) for v in views) <= 100_000


@pytest.mark.parametrize(
    "value",
    [
        "3a170494b59a297ce59b54fa0c13b001",                     # cache key
        "sha256:" + "ab" * 32,                                   # digest
        "BuiltInContainerMaterializer",                          # CamelCase identifier
        "zenml.materializers.built_in_materializer",            # import path
        "opentelemetry-instrumentation-logging==0.64b0",         # package pin
        "1700000000000",                                         # epoch milliseconds
        base64.b64encode(bytes(range(0, 256, 7))).decode(),      # random bytes: no text inside
        "/tmp/metagate-capture-20y8fgn9/local_stores/6dddff6d-f725-4cfa-a17b-d05865c63362/data.json",
    ],
)
def test_metadata_has_nothing_to_decode(value):
    assert decoded_views(value) == []


def test_invisible_characters_include_every_format_character():
    missing = [hex(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf" and not _INVISIBLE.match(chr(cp))]
    assert missing == []


# --- leaves of one request ----------------------------------------------------------------------


def _leaf(path: str, text: str, is_key: bool = False) -> Leaf:
    return Leaf(path, text, "user_dict", is_key)


def test_views_are_appended_to_the_leaf_and_keep_its_path():
    leaves = [_leaf("$.values", "values", True), _leaf("$.values.note", "by jane.doe%40example.com"), _leaf("$.values.n", "3")]
    expanded = expand_leaves(leaves).leaves
    assert [leaf.path for leaf in expanded] == [leaf.path for leaf in leaves]
    assert expanded[1].text == f"by jane.doe%40example.com{VIEW_SEPARATOR}by {EMAIL}"
    assert expanded[0] is leaves[0] and expanded[2] is leaves[2]


def test_leaves_of_the_captured_corpus_are_returned_untouched():
    from metagate.scanner.capture import read_captures
    from metagate.scanner.catalog import Catalog
    from metagate.scanner.pipeline import Scanner
    from metagate.scanner.schemas import SchemaSet

    catalog = Catalog.load()
    collected: list[list[Leaf]] = []

    class Collecting(Scanner):
        def _detect(self, result, settled_nodes):  # the leaves as expand_leaves left them
            collected.append(result.leaves)
            return set()

    scanner = Collecting(catalog, SchemaSet(catalog), [], [], b"\x00" * 32, remember_clean=False)
    for path in sorted((ROOT / "tests" / "corpus" / "captured").glob("*.jsonl")):
        for capture in read_captures(path):
            scanner.scan(capture.request)
    changed = [(leaf.path, leaf.text[:40]) for leaves in collected for leaf in leaves if VIEW_SEPARATOR in leaf.text]
    assert changed == []


@pytest.mark.parametrize(
    ("fields", "joined"),
    [
        ({"user": "jane.doe", "domain": "example.com"}, EMAIL),
        ({"mailbox": "jane.doe", "at": "@example.com"}, EMAIL),
        ({"a": "4111", "b": "1111", "c": "1111", "d": "1111"}, "4111 1111 1111 1111"),
        ({"cc": "+1", "area": "415", "number": "5552671"}, "+1 415 5552671"),
        ({"first_name": "Jane", "last_name": "Doe"}, "Jane Doe"),
    ],
)
def test_pii_split_over_fields_of_one_object_is_joined_on_every_part(fields, joined):
    leaves = []
    for key, value in fields.items():
        leaves += [_leaf("$.owner", "owner", True), _leaf(f"$.owner.{key}", key, True), _leaf(f"$.owner.{key}", value)]
    expanded = [leaf for leaf in expand_leaves(leaves).leaves if not leaf.is_key]
    assert all(leaf.text.endswith(VIEW_SEPARATOR + joined) for leaf in expanded)


@pytest.mark.parametrize(
    "leaves",
    [
        # A code repository, not an address: no key says mailbox or domain.
        [_leaf("$.config.repository", "zenml"), _leaf("$.config.host", "github.com")],
        # Neighbours in different objects.
        [_leaf("$.a.user", "jane.doe"), _leaf("$.b.domain", "example.com")],
        # Digit groups too short to be any number worth joining.
        [_leaf("$.v.major", "12"), _leaf("$.v.minor", "4")],
        # A version next to a count.
        [_leaf("$.env.python_version", "3.11.7"), _leaf("$.env.build", "1234")],
    ],
)
def test_unrelated_neighbours_are_not_joined(leaves):
    assert expand_leaves(leaves).leaves is leaves


def _wrapped(sentence: str) -> str:
    return base64.b64encode(sentence.encode()).decode()


def test_leaves_past_the_request_budget_are_reported_and_not_remembered_as_clean(monkeypatch):
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    monkeypatch.setattr(evasion, "MAX_VIEW_CHARS_PER_REQUEST", 200)
    first = _wrapped("release notes for the nightly training job " * 3)   # a 129-character view
    second = _wrapped(f"contact {EMAIL} for access to the feature store and its exports")   # 80: more than is left
    leaves = [_leaf("$.values.a", first), _leaf("$.values.b", second)]
    expansion = expand_leaves(leaves)
    assert expansion.undecoded == ["$.values.b"]
    assert EMAIL not in expansion.leaves[1].text
    # Alone, with the budget to spare, the same text is decoded: it was not taken for clean.
    alone = expand_leaves([_leaf("$.values.b", second)])
    assert alone.undecoded == [] and EMAIL in alone.leaves[0].text


def test_the_budget_goes_to_leaves_in_the_order_sent(monkeypatch):
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    monkeypatch.setattr(evasion, "MAX_VIEW_CHARS_PER_REQUEST", 100)
    texts = [_wrapped(f"step {i} wrote its report to the shared bucket at noon") for i in range(6)]
    expansion = expand_leaves([_leaf(f"$.values.s{i}", text) for i, text in enumerate(texts)])
    assert expansion.undecoded == [f"$.values.s{i}" for i in range(1, 6)]


def _nested_base64(value: str, layers: int) -> str:
    for _ in range(layers):
        value = _wrapped(value)
    return value


def _decoys_then(payload: str) -> str:
    """MAX_BASE64_VIEWS_PER_TEXT harmless base64 texts, then `payload` as one more run."""
    decoys = [_wrapped(f"decoy note number {i} of the batch") for i in range(MAX_BASE64_VIEWS_PER_TEXT)]
    return " ".join([*decoys, _wrapped(payload)])


def test_a_base64_run_past_the_per_text_limit_is_reported_not_skipped():
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    expansion = expand_leaves([_leaf("$.values.note", _decoys_then(f"mail {EMAIL}"))])
    assert expansion.undecoded == ["$.values.note"]
    # One run fewer is within the limit: decoded, found, nothing left over.
    within = " ".join(_decoys_then(f"mail {EMAIL}").split()[1:])
    expansion = expand_leaves([_leaf("$.values.note", within)])
    assert expansion.undecoded == [] and EMAIL in expansion.leaves[0].text


def test_a_layer_past_the_depth_limit_is_reported_not_skipped():
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    deep = expand_leaves([_leaf("$.values.note", _nested_base64(f"mail {EMAIL}", MAX_DEPTH + 1))])
    assert deep.undecoded == ["$.values.note"]
    peeled = expand_leaves([_leaf("$.values.note", _nested_base64(f"mail {EMAIL}", MAX_DEPTH))])
    assert peeled.undecoded == [] and EMAIL in peeled.leaves[0].text


def test_views_past_the_per_leaf_size_limit_are_reported_not_skipped(monkeypatch):
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    monkeypatch.setattr(evasion, "MAX_VIEW_CHARS_PER_LEAF", 200)
    big = _wrapped("a long harmless note about the nightly run " * 6 + f"and then {EMAIL}")
    assert expand_leaves([_leaf("$.values.note", big)]).undecoded == ["$.values.note"]
    small = _wrapped(f"mail {EMAIL}")
    assert expand_leaves([_leaf("$.values.other", small)]).undecoded == []


def test_identifiers_in_source_code_are_runs_but_not_a_reason_to_block():
    """Source code holds hundreds of CamelCase identifiers that look like base64 runs: they
    are tried, decode to nothing, and leave nothing undecoded."""
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    code = "\n".join(
        f"class TrainingPipelineConfig{i}(BaseSettingsModel):\n    featureStoreUri{i}: str = DefaultFeatureStore.uri"
        for i in range(300)
    )
    expansion = expand_leaves([Leaf("$.source_code", code, "code")])
    assert expansion.undecoded == []


# --- through the proxy's pipeline ----------------------------------------------------------------


@pytest.fixture(scope="module")
def inspector():
    from metagate.proxy.inspection import Inspector, InspectorSettings

    return Inspector(InspectorSettings(fingerprint_key=b"\x01" * 32))


def _run_metadata(values: dict) -> InspectionRequest:
    body = {"project": "a706a4ce-f538-4db7-9ef3-6b9c877f4a01",
            "resources": [{"id": "9f20e1c8-fa07-4da0-8716-bfea486047b9", "type": "pipeline_run"}],
            "values": values, "types": {k: "string" for k in values}}
    return InspectionRequest("POST", "/api/v1/run-metadata", json.dumps(body).encode(), (("content-type", "application/json"),))


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
@pytest.mark.parametrize(
    ("sample", "entity"),
    [(EMAIL, "EMAIL_ADDRESS"), ("AKIA" + "Z7QX4RT2WPLM5BNC", "AWS_ACCESS_KEY"), ("4111 1111 1111 1111", "CREDIT_CARD")],
)
def test_encoded_leaks_are_blocked_at_their_path(inspector, technique, sample, entity):
    result = inspector.inspect(_run_metadata({"note": TECHNIQUES[technique](sample)}))
    assert result.decision.action == "block"
    assert entity in {f["entity"] for f in result.findings if f["path"] == "$.values.note"}


def test_encoded_leak_in_a_json_key_is_found_at_the_key(inspector):
    result = inspector.inspect(_run_metadata({"jane.doe%40example.com": 1}))
    assert result.decision.action == "block"
    assert any(f["entity"] == "EMAIL_ADDRESS" and f["path"].startswith("$.values[") for f in result.findings)


def test_split_address_is_blocked_at_both_fields(inspector):
    result = inspector.inspect(_run_metadata({"user": "jane.doe", "domain": "example.com"}))
    assert result.decision.action == "block"
    assert {f["path"] for f in result.findings if f["entity"] == "EMAIL_ADDRESS"} == {"$.values.user", "$.values.domain"}


@pytest.mark.parametrize("value", [_decoys_then(f"mail {EMAIL}"), _nested_base64(f"mail {EMAIL}", MAX_DEPTH + 1)],
                         ids=["run past the limit", "layer past the limit"])
def test_content_past_a_leafs_decoding_limits_blocks_the_request(inspector, value):
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    result = inspector.inspect(_run_metadata({"note": value}))
    assert result.decision.action == "block"
    assert "schema.undecoded" in result.decision.rules


def test_content_past_the_decoding_budget_blocks_the_request(inspector, monkeypatch):
    from metagate.scanner import evasion

    evasion.forget_clean_texts()
    monkeypatch.setattr(evasion, "MAX_VIEW_CHARS_PER_REQUEST", 100)
    values = {"a": _wrapped("a harmless note that uses up the decoding budget " * 2), "b": _wrapped(f"mail {EMAIL}")}
    result = inspector.inspect(_run_metadata(values))
    assert result.decision.action == "block"
    assert "schema.undecoded" in result.decision.rules
