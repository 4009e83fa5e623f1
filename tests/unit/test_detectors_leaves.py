"""LeafWalker (the scanner's leaf collection) produces exactly the leaves and inventory of the plain
reference definition below, de-duplicated as `_detect` does it."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metagate.scanner import jsonpath
from metagate.scanner.catalog import Catalog
from metagate.scanner.leaves import LeafWalker
from metagate.scanner.model import PROVEN_CLASSES, Leaf
from metagate.scanner.pipeline import Scanner
from metagate.scanner.schemas import SchemaSet, proven

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="module")
def scanner(catalog) -> Scanner:
    return Scanner(catalog, SchemaSet(catalog), [], [], b"k" * 32)


def reference_collect(catalog: Catalog, endpoint, document) -> tuple[list[Leaf], dict[str, int]]:
    """The plain, slow definition of the leaves: classify every scalar from the root, render
    each path from scratch, add every key above it that the schema does not declare."""
    leaves: list[Leaf] = []
    inventory: Counter[str] = Counter()
    for parts, value in jsonpath.walk(document):
        cls = catalog.classify(endpoint, parts, value) if endpoint is not None else "unknown"
        if value is not None:
            inventory[cls] += 1
        for depth, part in enumerate(parts):
            declared = endpoint is not None and catalog.declares(endpoint, parts[: depth + 1])
            if isinstance(part, str) and cls != "auth" and not declared:
                leaves.append(Leaf(jsonpath.render(parts[: depth + 1]), part, "name" if cls in PROVEN_CLASSES else cls, is_key=True))
        if isinstance(value, str):
            if cls in PROVEN_CLASSES and proven(cls, value):
                continue
            leaves.append(Leaf(jsonpath.render(parts), value, "name" if cls in PROVEN_CLASSES else cls))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            # Any number of nine digits or more, in any class, as its digit string.
            if isinstance(value, float) and not (value.is_integer() and abs(value) < 1e20):
                pass
            elif abs(value) >= 10**8:
                leaves.append(Leaf(jsonpath.render(parts), str(int(value)), "name" if cls in PROVEN_CLASSES else cls))
        # A list of 9+ small integers, after its last item: the digits, text or bytes it spells.
        if parts and isinstance(parts[-1], int):
            container = _at(document, parts[:-1])
            if parts[-1] == len(container) - 1 and len(container) >= 9 and all(
                type(v) is int and 0 <= v <= 255 for v in container[:4096]
            ):
                head = container[:4096]
                if max(head) <= 9:
                    text = "".join(map(str, head))
                else:
                    try:
                        text = bytes(head).decode("utf-8")
                        if not text.isprintable():
                            raise ValueError
                    except ValueError:
                        text = base64.b64encode(bytes(head)).decode()
                leaves.append(Leaf(jsonpath.render(parts[:-1]), text, "name" if cls in PROVEN_CLASSES else cls))
    return leaves, dict(inventory)


def _at(document, parts):
    for part in parts:
        document = document[part]
    return document


def expected(scanner: Scanner, method: str, path: str, body: bytes):
    """What the reference collects, de-duplicated as `_detect` does it."""
    endpoint = scanner.catalog.match(method, path)
    document = json.loads(body)
    collected, inventory = reference_collect(scanner.catalog, endpoint, document)
    unique: dict[tuple[str, bool], Leaf] = {}
    for leaf in collected:
        unique.setdefault((leaf.path, leaf.is_key), leaf)
    return endpoint, document, list(unique.values()), inventory


def test_same_leaves_on_the_captured_corpus(catalog, scanner):
    walker = LeafWalker(catalog)
    compared = 0
    for file in sorted(CORPUS.glob("*.jsonl")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            if not record.get("body_text") or "json" not in record["headers"].get("Content-Type", ""):
                continue
            endpoint, document, leaves, inventory = expected(scanner, record["method"], record["path"], record["body_text"].encode())
            assert walker.collect(endpoint, document) == (leaves, inventory)
            compared += 1
    assert compared > 50


_KEYS = st.sampled_from(
    ["values", "note", "password", "api_key", "name", "id", "tags", "metadata", "a.b", "jane@example.com", "x y",
     "0", "parameters", "config", "settings", "uri", "source_code", "step_configurations", "docker", "environment"]
) | st.text(max_size=6)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["{{db.password}}", "{{ x }}", "2024-06-01T12:00:00", "3f1c2d4e-0b25-4c2e-a4a5-ef968005de4c", "hunter22"]),
    st.integers(min_value=10**9, max_value=10**12),
    st.integers(min_value=10**8, max_value=10**19).map(float),          # a card as a float
    st.lists(st.integers(min_value=0, max_value=9), min_size=9, max_size=19),    # digit lists
    st.lists(st.integers(min_value=0, max_value=255), min_size=9, max_size=40),  # byte lists
)
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=25)
_TARGETS = [
    ("POST", "/api/v1/run-metadata"),
    ("POST", "/api/v1/pipeline_snapshots"),
    ("POST", "/api/v1/artifact_versions/batch"),
    ("PUT", "/api/v1/steps/3f1c2d4e-0b25-4c2e-a4a5-ef968005de4c"),
    ("POST", "/api/v1/service_connectors"),
    ("POST", "/api/v1/no/such/endpoint"),
]


@given(st.sampled_from(_TARGETS), _JSON)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_same_leaves_on_generated_documents(catalog, scanner, target, document):
    walker = LeafWalker(catalog)  # a fresh memo each time, and one that has seen others
    endpoint, parsed, leaves, inventory = expected(scanner, *target, json.dumps(document).encode())
    assert walker.collect(endpoint, parsed) == (leaves, inventory)
    assert _SHARED.collect(endpoint, parsed) == (leaves, inventory)


_SHARED = LeafWalker(Catalog.load())


def test_declared_keys_are_not_leaves_but_user_keys_are_scanned(catalog):
    from metagate.scanner.detectors.registry import build_detectors
    from metagate.scanner.model import InspectionRequest
    from tests.support.payloads import run_metadata

    full = Scanner(catalog, SchemaSet(catalog), *build_detectors({}), b"k" * 32)
    body = run_metadata({"jane.doe@example.com": 1})
    body["owner_jane.doe@example.com"] = "x"  # a field the model does not declare
    result = full.scan(InspectionRequest("POST", "/api/v1/run-metadata", body=json.dumps(body).encode(),
                                         headers=(("Content-Type", "application/json"),)))
    keys = {leaf.path for leaf in result.leaves if leaf.is_key}
    assert "$.values" not in keys and "$.resources" not in keys       # ZenML's own field names
    assert {'$.values["jane.doe@example.com"]', '$["owner_jane.doe@example.com"]'} <= keys
    found = {(f.path, f.entity) for f in result.findings}
    assert ('$.values["jane.doe@example.com"]', "EMAIL_ADDRESS") in found
    assert ('$["owner_jane.doe@example.com"]', "EMAIL_ADDRESS") in found
