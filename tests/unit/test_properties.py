"""Property-based tests of the whole inspection pipeline (hypothesis).

Payloads are generated from the endpoint catalog's metadata-only models: ids are UUIDs, enums
come from a small vocabulary, names are short identifiers, timestamps ISO, URIs sit under the
configured storage prefix, user dicts hold metadata-like keys and small numbers and names.

- Any such payload passes: allowed or redacted, never blocked.
- Any PII, secret or blob sample, written at any string path of such a payload and wrapped
  in any evasion encoding, is found at that path, and the request is blocked (or, where the
  path is a field the policy redacts, the value leaves only as a marker).
"""

from __future__ import annotations

import ast
import json
import random
import re
from datetime import datetime
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from metagate.proxy.inspection import Inspector, InspectorSettings
from metagate.scanner import jsonpath
from metagate.scanner.catalog import Catalog, Endpoint, FieldSpec
from metagate.scanner.model import InspectionRequest

from tests.support.labelled_corpus import KNOWN_DETECTOR_GAPS, builder

STORAGE_PREFIX = "s3://ml-bucket/"
MAX_MODEL_DEPTH = 3
CATALOG = Catalog.load()
CORPUS = builder()
# Samples the detectors miss even as plain text are left out (test_labelled_corpus checks
# they still miss): the property is about finding everything else wherever and however written.
SAMPLES = [s for s in CORPUS.SAMPLES if s.name not in KNOWN_DETECTOR_GAPS]
ENCODINGS = {"plain": lambda s: s, **CORPUS.TECHNIQUES}
REDACTED_CLASSES = CORPUS.REDACTED_CLASSES


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(InspectorSettings(fingerprint_key=b"\x07" * 32, storage_prefixes=(STORAGE_PREFIX,)))


# --- metadata vocabulary ---------------------------------------------------------------------

WORDS = ("train", "model", "data", "eval", "loader", "churn", "iris", "batch", "step", "feature", "score",
         "split", "export", "baseline", "nightly", "prod", "stage", "cleanup", "tokenizer", "metrics")
ENUMS = ("completed", "running", "failed", "initializing", "local", "orchestrator", "artifact_store",
         "model", "data", "service", "step_output", "manual", "internal", "builtin", "json", "html", "float")
METADATA_KEYS = ("lr", "epochs", "batch_size", "accuracy", "f1", "dataset", "split", "optimizer", "seed",
                 "framework", "stage", "region", "team", "dropout", "layers", "metric", "threshold")

identifiers = st.builds(
    lambda words, suffix: "_".join(words) + (f"_{suffix}" if suffix is not None else ""),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    st.none() | st.integers(0, 999),
)
uuids = st.uuids().map(str)
timestamps = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(datetime.isoformat)
small_numbers = st.integers(-1000, 1000) | st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 4))
# Digests as hexdigest() writes them: MD5, SHA-1, SHA-224, SHA-256 (a hash field holding hex of any
# other length is a schema violation, `not_a_digest`). From a seeded generator: hypothesis' own
# bytes shrink to zeros and to printable runs, which no digest is.
hashes = st.builds(lambda size, seed: random.Random(seed).randbytes(size).hex(),
                   st.sampled_from((16, 20, 28, 32)), st.integers(0, 2**32))
uris = st.lists(identifiers, min_size=1, max_size=3).map(lambda parts: STORAGE_PREFIX + "/".join(parts))
source_refs = st.lists(identifiers, min_size=2, max_size=4).map(".".join)
sentences = st.lists(st.sampled_from(WORDS), min_size=2, max_size=8).map(lambda w: " ".join(w).capitalize() + ".")
code = st.builds(lambda name, body: f"@step\ndef {name}(x: int) -> int:\n    return x + {body}\n", identifiers, st.integers(0, 9))
logs = st.builds(lambda name: f'Traceback (most recent call last):\n  File "steps.py", line 3, in {name}\nValueError: bad batch\n',
                 identifiers)
packages = st.lists(st.builds(lambda n, a, b: f"{n}=={a}.{b}.0", identifiers, st.integers(0, 30), st.integers(0, 30)),
                    min_size=1, max_size=5).map("\n".join)
secret_refs = st.builds(lambda a, b: f"{{{{{a}.{b}}}}}", identifiers, identifiers)
metadata_values = small_numbers | identifiers | st.booleans()
user_dicts = st.dictionaries(st.sampled_from(METADATA_KEYS), metadata_values | st.lists(small_numbers, max_size=3), max_size=4)

BY_CLASS: dict[str, st.SearchStrategy[Any]] = {
    "id": uuids, "enum": st.sampled_from(ENUMS), "name": identifiers, "timestamp": timestamps,
    "numeric": st.integers(0, 10_000), "hash": hashes, "uri": uris, "source_ref": source_refs,
    "free_text": sentences, "user_dict": metadata_values, "code": code, "log": logs,
    "package_list": packages, "value_repr": sentences, "credential": secret_refs, "secret_ref": secret_refs,
    "unknown": identifiers,
}


# --- strategies from the catalog's models ------------------------------------------------------


def _split_top(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == separator and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def _parse_type(text: str) -> tuple[Any, ...]:
    """A type annotation as the catalog writes it, as a small tree."""
    text = text.strip().removeprefix("typing.")
    members = _split_top(text, "|")
    if len(members) > 1:
        return ("union", tuple(_parse_type(m) for m in members))
    match = re.fullmatch(r"([\w.]+)\[(.*)\]", text)
    if not match:
        return ("leaf", text)
    name, args = match.group(1), _split_top(match.group(2), ",")
    if name == "Optional":
        return ("union", (_parse_type(args[0]), ("leaf", "None")))
    if name == "Union":
        return ("union", tuple(_parse_type(a) for a in args))
    if name in ("List", "list", "Set", "set", "Sequence", "Tuple", "tuple", "FrozenSet"):
        return ("list", _parse_type(args[0]))
    if name in ("Dict", "dict", "Mapping"):
        return ("dict", _parse_type(args[1]))
    if name == "Literal":
        return ("literal", tuple(ast.literal_eval(a) for a in args))
    if name == "Annotated":
        return _parse_type(args[0])
    return ("leaf", name)


def _one_level(node: tuple[Any, ...]) -> tuple[Any, ...]:
    """`node` without lists in it: what the schema accepts inside a container of models."""
    if node[0] == "list":
        return _one_level(node[1])
    if node[0] == "union":
        members = tuple(_one_level(m) for m in node[1] if m[0] != "list") or (_one_level(node[1][0]),)
        return ("union", members)
    return node


def _node_strategy(node: tuple[Any, ...], field: FieldSpec, depth: int) -> st.SearchStrategy[Any]:
    kind = node[0]
    if kind == "union":
        return st.one_of([_node_strategy(member, field, depth) for member in node[1]])
    if kind in ("list", "dict"):
        inner = node[1]
        if field.models:
            # Known schema gap (test_model_lists_inside_dicts_pass below): the schema takes one
            # container level around models, so Dict[K, List[Model]] is drawn as Dict[K, Model].
            inner = _one_level(inner)
        values = _node_strategy(inner, field, depth)
        return st.lists(values, max_size=2) if kind == "list" else st.dictionaries(identifiers, values, max_size=2)
    if kind == "literal":
        return st.sampled_from(node[1])
    name = node[1]
    if CATALOG.model(name) is not None:
        return model_strategy(name, depth + 1) if depth + 1 < MAX_MODEL_DEPTH else st.none()
    if name == "None":
        return st.none()
    if field.field_class == "user_dict":
        return user_dicts if name in ("Any", "BaseSettings") and depth == 0 else BY_CLASS["user_dict"]
    if name == "UUID":
        return uuids
    if name == "bool":
        return st.booleans()
    if name in ("int", "float", "timedelta") or field.field_class == "numeric":
        return st.integers(0, 10_000)
    if name == "datetime":
        return timestamps
    return BY_CLASS.get(field.field_class, identifiers)


def _field_strategy(field: FieldSpec, depth: int) -> st.SearchStrategy[Any] | None:
    if field.field_class == "auth":
        return None  # the SDK's own login material: never in a metadata write
    if field.key_classes or field.credential_keys:
        # Keys with classes of their own (python_packages, path) or that name credentials
        # are left to the captured corpus; here the dict holds plain metadata.
        return user_dicts if field.field_class == "user_dict" else None
    return _node_strategy(_parse_type(field.type_repr or "Any"), field, depth)


@cache
def model_strategy(name: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    spec = CATALOG.model(name)
    assert spec is not None
    required, optional = {}, {}
    for field in spec.fields.values():
        strategy = _field_strategy(field, depth)
        if strategy is None:
            continue
        (required if field.required else optional)[field.name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


WRITE_ENDPOINTS = [
    e for e in CATALOG.endpoints
    if e.write and e.body_kind in ("model", "list") and not e.sdk_auth and e.method != "DELETE"
    # Known schema gap (test_union_body_endpoints_are_inspected below): not inspectable at all.
    and len(e.body_models) == 1
]


@st.composite
def metadata_requests(draw: st.DrawFn) -> tuple[Endpoint, Any]:
    endpoint = draw(st.sampled_from(WRITE_ENDPOINTS))
    model = draw(st.sampled_from(endpoint.body_models))
    body = draw(st.lists(model_strategy(model), min_size=1, max_size=2)) if endpoint.body_kind == "list" \
        else draw(model_strategy(model))
    return endpoint, body


def _path_of(endpoint: Endpoint) -> str:
    return re.sub(r"\{[^}]+\}", "0b1e5c52-61a4-4f0e-9d3c-3f4a7c0d2e11", endpoint.template)


def _request(endpoint: Endpoint, body: Any) -> InspectionRequest:
    return InspectionRequest(endpoint.method, _path_of(endpoint), json.dumps(body).encode(),
                             (("content-type", "application/json"),))


def _string_paths(endpoint: Endpoint, body: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(parts, field class) of every string value in the body."""
    found = []
    for parts, value in jsonpath.walk(body):
        if isinstance(value, str):
            found.append((parts, CATALOG.classify(endpoint, parts, value)))
    return found


def _redacted(path: str, field_class: str) -> bool:
    return field_class in REDACTED_CLASSES or (field_class == "log" and path.endswith(".traceback"))


# --- properties --------------------------------------------------------------------------------

COMMON = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.function_scoped_fixture])


@settings(COMMON, max_examples=150)
@given(metadata_requests())
def test_metadata_only_payloads_are_never_blocked(inspector, generated):
    endpoint, body = generated
    result = inspector.inspect(_request(endpoint, body))
    assert result.decision.action in ("allow", "redact"), (endpoint.template, result.decision.reasons)
    strong = [f for f in result.findings if f["score"] >= 0.5 and f["path"] not in result.redacted_paths]
    assert not strong, (endpoint.template, [(f["entity"], f["path"]) for f in strong])


@settings(COMMON, max_examples=200)
@given(st.data())
def test_leaks_are_found_at_their_path_whatever_the_encoding(inspector, data):
    endpoint, body = data.draw(metadata_requests(), label="payload")
    targets = list(_string_paths(endpoint, body))
    assume(targets)
    parts, field_class = data.draw(st.sampled_from(targets), label="path")
    sample = data.draw(st.sampled_from(SAMPLES), label="sample")
    encoding = data.draw(st.sampled_from(sorted(ENCODINGS)), label="encoding")
    node = body
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = ENCODINGS[encoding](sample.value)
    path = jsonpath.render(parts)

    result = inspector.inspect(_request(endpoint, body))
    at_path = [f for f in result.findings if f["path"] == path and f["category"] == sample.category]
    assert any(f["score"] >= 0.5 for f in at_path), (endpoint.template, path, field_class, sample.name, encoding,
                                                     sorted({(f["entity"], f["path"]) for f in result.findings}))
    if _redacted(path, field_class):
        assert result.decision.action in ("redact", "block") and (path in result.redacted_paths
                                                                   or result.decision.action == "block")
    else:
        assert result.decision.action == "block", (endpoint.template, path, result.decision.reasons)


def test_encoded_leak_in_an_enum_field_is_found(inspector):
    from base64 import urlsafe_b64encode

    encoded = urlsafe_b64encode(b"jane.doe@example.com").decode().rstrip("=")
    body = {"status": encoded, "end_time": "2026-01-01T00:00:00"}
    request = InspectionRequest("PUT", "/api/v1/steps/0b1e5c52-61a4-4f0e-9d3c-3f4a7c0d2e11", json.dumps(body).encode(),
                                (("content-type", "application/json"),))
    result = inspector.inspect(request)
    assert any(f["path"] == "$.status" for f in result.findings)


# --- gaps the properties above found, fixed since: kept as regressions ---------------------------


def _post(inspector: Inspector, path: str, body: Any, method: str = "POST") -> Any:
    return inspector.inspect(InspectionRequest(method, path, json.dumps(body).encode(), (("content-type", "application/json"),)))


def test_model_lists_inside_dicts_pass(inspector):
    # What `zenml stack register` sends: component ids by type, in lists.
    body = {"name": "gpu_stack", "components": {"orchestrator": ["0b1e5c52-61a4-4f0e-9d3c-3f4a7c0d2e11"],
                                                "artifact_store": ["1b1e5c52-61a4-4f0e-9d3c-3f4a7c0d2e11"]}}
    assert _post(inspector, "/api/v1/stacks", body).decision.action == "allow"


def test_union_body_endpoints_are_inspected(inspector):
    body = {"name": "nightly", "project": "0b1e5c52-61a4-4f0e-9d3c-3f4a7c0d2e11"}
    assert _post(inspector, "/api/v1/triggers", body).decision.action != "block"
