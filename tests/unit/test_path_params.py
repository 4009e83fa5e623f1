"""Path parameters are values the client chose: scanned like query values."""

from __future__ import annotations

import base64
import uuid
from urllib.parse import quote

import pytest
from metagate.scanner.catalog import Catalog
from metagate.scanner.model import InspectionRequest
from metagate.scanner.pipeline import Scanner, policy_input
from metagate.scanner.schemas import SchemaSet

EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def inspector():
    from metagate.proxy.inspection import Inspector, InspectorSettings

    return Inspector(InspectorSettings(fingerprint_key=b"\x02" * 32))


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    catalog = Catalog.load()
    return Scanner(catalog, SchemaSet(catalog), [], [], b"k" * 32)


def test_a_name_in_a_path_parameter_is_a_leaf_and_an_id_is_not(scanner):
    named = scanner.scan(InspectionRequest("GET", "/api/v1/pipelines/churn-model"))
    assert [(leaf.path, leaf.text, leaf.field_class) for leaf in named.leaves if leaf.path.startswith("$path")] == [
        ("$path.pipeline_id", "churn-model", "name")
    ]
    by_id = scanner.scan(InspectionRequest("GET", f"/api/v1/pipelines/{uuid.uuid4()}"))
    assert not [leaf for leaf in by_id.leaves if leaf.path.startswith("$path")]
    fields = policy_input(InspectionRequest("GET", "/api/v1/pipelines/churn-model"), named)["fields"]
    assert {"path": "$path.pipeline_id", "class": "name"} in fields


@pytest.mark.parametrize("path", [
    f"/api/v1/pipelines/{EMAIL}",                                      # a known route
    f"/api/v1/pipelines/{quote(EMAIL)}",                               # percent-encoded, as sent
    f"/api/v1/not-a-zenml-route/{base64.b64encode(EMAIL.encode()).decode()}",  # unknown route, wrapped
])
def test_data_in_the_path_is_blocked(inspector, path):
    result = inspector.inspect(InspectionRequest("GET", path))
    assert result.decision.action == "block"
    assert any(f["entity"] == "EMAIL_ADDRESS" and f["path"].startswith("$path") for f in result.findings)


def test_the_sdks_own_reads_by_id_and_name_stay_allowed(inspector):
    for path in (f"/api/v1/runs/{uuid.uuid4()}", "/api/v1/projects/default", "/api/v1/stacks/" + str(uuid.uuid4())):
        result = inspector.inspect(InspectionRequest("GET", path))
        assert result.decision.action == "allow", (path, result.decision.reasons)
