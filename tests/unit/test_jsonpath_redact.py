import json

from hypothesis import given, strategies as st

from metagate.scanner import jsonpath
from metagate.scanner.redact import MARKER_PREFIX, marker, redact_body, redact_document

KEY = b"k" * 32


@given(st.lists(st.one_of(st.text(max_size=12), st.integers(min_value=0, max_value=99)), max_size=6))
def test_render_and_parse_are_inverse(parts):
    assert jsonpath.parse(jsonpath.render(tuple(parts))) == tuple(parts)


def test_render_quotes_keys_that_are_not_identifiers():
    assert jsonpath.render(("steps", "my step", 0, "source_code")) == '$.steps["my step"][0].source_code'


def test_is_under():
    assert jsonpath.is_under("$.a.b", "$.a")
    assert jsonpath.is_under("$.a[0]", "$.a")
    assert jsonpath.is_under("$.a", "$.a")
    assert not jsonpath.is_under("$.ab", "$.a")


def test_redaction_replaces_only_the_named_fields_with_a_stable_keyed_marker():
    doc = {"source_code": "def f(): return 'jane@example.com'", "name": "train", "nested": {"x": [1, {"tb": "Traceback"}]}}
    new, done = redact_document(doc, ["$.source_code", "$.nested.x[1].tb", "$.missing"], KEY)
    assert done == ["$.source_code", "$.nested.x[1].tb"]
    assert new["name"] == "train"
    assert new["source_code"].startswith(MARKER_PREFIX)
    assert new["source_code"] == marker(KEY, doc["source_code"])  # stable: same value, same marker
    assert marker(b"other-key" * 4, doc["source_code"]) != new["source_code"]  # keyed
    assert doc["source_code"].startswith("def")  # the input is not modified
    body, _ = redact_body(doc, ["$.source_code"], KEY)
    assert b"jane@example.com" not in body
    assert json.loads(body)["name"] == "train"


def test_paths_under_a_redacted_field_are_not_redacted_twice():
    doc = {"env": {"python_packages": "numpy==2.0"}}
    new, done = redact_document(doc, ["$.env.python_packages", "$.env"], KEY)
    assert done == ["$.env"]
    assert new["env"].startswith(MARKER_PREFIX)
