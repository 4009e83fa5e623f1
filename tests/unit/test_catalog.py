"""The committed ZenML endpoint catalog and its loader (no zenml needed)."""

from __future__ import annotations

import csv
import json
import os
import pickle
import typing
from pathlib import Path

import pytest
from metagate.scanner.catalog import Catalog, Endpoint, default_catalog_path
from metagate.scanner.model import FieldClass

REFERENCE_DIR = Path(os.environ.get("METAGATE_ZENML_REFERENCE", "/work/shared/reference"))
ROUTES_TSV = REFERENCE_DIR / "zenml-0.98-routes.tsv"
FIELD_CLASSES = frozenset(typing.get_args(FieldClass))
RUN_ID = "5d1a4a0e-8f5e-4a53-9a4c-3f6f5f0f4c11"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def endpoint(catalog: Catalog, method: str, path: str) -> Endpoint:
    found = catalog.match(method, path)
    assert found is not None, f"{method} {path} not in the catalog"
    return found


# --- the file itself -----------------------------------------------------------------------


def test_default_catalog_is_the_committed_zenml_098_file_and_cached() -> None:
    assert default_catalog_path().name == "zenml-0.98.0.json"
    first = Catalog.load()
    assert first is Catalog.load()
    assert first.zenml_version == "0.98.0"
    assert first.generator == "scanner/catalog/generate.py"


def test_catalog_json_is_sorted_and_self_consistent() -> None:
    data = json.loads(default_catalog_path().read_text())
    keys = [(e["path"], e["method"]) for e in data["endpoints"]]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert list(data["models"]) == sorted(data["models"])
    for name, model in data["models"].items():
        assert list(model["fields"]) == sorted(model["fields"]), name
        for field_name, spec in model["fields"].items():
            assert spec["class"] in FIELD_CLASSES, (name, field_name)
            assert set(spec.get("key_classes", {}).values()) <= FIELD_CLASSES
            for nested in spec.get("models", ()):
                assert nested in data["models"], (name, field_name, nested)
    for entry in data["endpoints"]:
        assert set(entry["query"].values()) <= FIELD_CLASSES, entry["path"]
        for member in (entry["body_model"] or "").split("|"):
            assert not member or member in data["models"], entry["path"]


def test_every_reference_route_is_in_the_catalog(catalog: Catalog) -> None:
    if not ROUTES_TSV.exists():
        pytest.skip(f"reference routes not available at {ROUTES_TSV}")
    with ROUTES_TSV.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 270
    templates = {(e.method, e.template) for e in catalog.endpoints}
    missing = [(r["method"], r["path"]) for r in rows if (r["method"], r["path"]) not in templates]
    assert missing == []
    for row in rows:
        found = catalog.match(row["method"], row["path"])
        assert found is not None and found.template == row["path"], row["path"]
        # BODY[param:Model] names the body model whenever it is a plain model.
        declared = row["body"][len("BODY["):-1].partition(":")[2]
        if declared.isidentifier() and declared not in ("List", "Optional", "Annotated", "UUID"):
            assert found.body_model == declared, row["path"]


# --- match() -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/api/v1/runs/statistics", "/api/v1/runs/statistics"),
        ("GET", "/api/v1/service_connectors/resources", "/api/v1/service_connectors/resources"),  # beats {id}
        ("GET", f"/api/v1/service_connectors/{RUN_ID}", "/api/v1/service_connectors/{connector_id}"),
        # the literal branch dead-ends, so the parameter branch must still be tried
        ("GET", "/api/v1/service_connectors/resources/client", "/api/v1/service_connectors/{connector_id}/client"),
        ("PUT", f"/api/v1/runs/{RUN_ID}", "/api/v1/runs/{run_id}"),
        ("POST", f"/api/v1/runs/{RUN_ID}/events", "/api/v1/runs/{pipeline_run_id}/events"),
        ("POST", "/api/v1/artifact_versions/batch", "/api/v1/artifact_versions/batch"),
        ("GET", f"/api/v1/artifact_versions/{RUN_ID}", "/api/v1/artifact_versions/{artifact_version_id}"),
        ("POST", "/api/v1/service_connectors/verify", "/api/v1/service_connectors/verify"),
        ("PUT", f"/api/v1/devices/{RUN_ID}/verify", "/api/v1/devices/{device_id}/verify"),
        ("POST", "/api/v1/steps/", "/api/v1/steps"),                              # trailing slash
        ("get", f"/api/v1/steps/{RUN_ID}/?hydrate=true", "/api/v1/steps/{step_id}"),
        ("GET", "/health", "/health"),
        ("HEAD", "/ready", "/ready"),
        ("POST", "/api/v1/run%2Dmetadata", "/api/v1/run-metadata"),               # decoded like the server
    ],
)
def test_match_finds_the_route_the_server_would_use(catalog: Catalog, method: str, path: str,
                                                     template: str) -> None:
    assert endpoint(catalog, method, path).template == template


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/no_such_resource"),
        ("POST", f"/api/v1/runs/{RUN_ID}/explode"),
        ("PATCH", "/api/v1/runs"),
        ("GET", "/api/v2/runs"),
        ("GET", "/api/v1//runs"),
        ("GET", "/"),
        ("GET", "/dashboard/index.html"),
    ],
)
def test_match_returns_none_for_unknown_paths(catalog: Catalog, method: str, path: str) -> None:
    assert catalog.match(method, path) is None


def test_workspace_alias_is_deprecated_and_uses_the_same_model(catalog: Catalog) -> None:
    alias = endpoint(catalog, "POST", "/api/v1/workspaces/default/runs")
    current = endpoint(catalog, "POST", "/api/v1/runs")
    assert alias.template == "/api/v1/workspaces/{project_name_or_id}/runs"
    assert alias.deprecated and not current.deprecated
    assert alias.body_model == current.body_model == "PipelineRunRequest"
    assert alias.resource == current.resource == "runs"
    secrets = endpoint(catalog, "POST", "/api/v1/workspaces/default/secrets")
    assert secrets.template == "/api/v1/workspaces/{workspace_name_or_id}/secrets"


def test_endpoint_attributes(catalog: Catalog) -> None:
    login = endpoint(catalog, "POST", "/api/v1/login")
    assert login.sdk_auth and login.action == "auth" and login.body_kind == "form"
    assert "password" in login.form_fields
    for method, path in [("POST", "/api/v1/device_authorization"), ("GET", "/api/v1/api_token"),
                         ("GET", "/api/v1/logout")]:
        assert endpoint(catalog, method, path).sdk_auth
    metadata = endpoint(catalog, "POST", "/api/v1/run-metadata")
    assert (metadata.resource, metadata.action, metadata.write, metadata.sdk_auth) == (
        "run_metadata", "create", True, False)
    listing = endpoint(catalog, "GET", "/api/v1/runs")
    assert (listing.action, listing.write, listing.body_kind) == ("read", False, "none")
    batch = endpoint(catalog, "POST", "/api/v1/artifact_versions/batch")
    assert (batch.body_kind, batch.body_model) == ("list", "ArtifactVersionRequest")
    membership = endpoint(catalog, "POST", "/api/v1/users/resource_membership")
    assert membership.body_kind == "str_list"
    assert endpoint(catalog, "DELETE", f"/api/v1/secrets/{RUN_ID}").action == "delete"
    assert endpoint(catalog, "PUT", f"/api/v1/steps/{RUN_ID}").action == "update"
    assert pickle.loads(pickle.dumps(metadata)) == metadata


def test_workload_manager_and_rbac_routes_are_included(catalog: Catalog) -> None:
    assert endpoint(catalog, "POST", f"/api/v1/pipeline_snapshots/{RUN_ID}/runs").body_model == (
        "PipelineSnapshotRunRequest")
    assert endpoint(catalog, "POST", f"/api/v1/runs/{RUN_ID}/replay").body_model == "ReplayRunConfiguration"
    assert endpoint(catalog, "POST", "/api/v1/users/resource_membership").write


# --- classify() ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "parts", "value", "expected"),
    [
        ("POST", "/api/v1/steps", ("source_code",), "def train(): ...", "code"),
        ("POST", "/api/v1/steps", ("docstring",), "Train.", "code"),
        ("POST", "/api/v1/steps", ("exception_info", "traceback"), "Traceback ...", "log"),
        ("POST", "/api/v1/steps", ("exception_info", "message"), "bad value", "log"),
        ("POST", "/api/v1/steps", ("exception_info",), None, "enum"),
        ("POST", "/api/v1/steps", ("pipeline_run_id",), RUN_ID, "id"),
        ("POST", "/api/v1/steps", ("parent_step_ids", 0), RUN_ID, "id"),
        ("POST", "/api/v1/steps", ("start_time",), "2025-01-01T00:00:00", "timestamp"),
        ("POST", "/api/v1/steps", ("status",), "running", "enum"),
        ("POST", "/api/v1/steps", ("cache_key",), "ab12", "hash"),
        ("POST", "/api/v1/steps", ("no_such_field",), "x", "unknown"),
        ("POST", "/api/v1/run-metadata", ("values", "note"), "trained by jane", "user_dict"),
        ("POST", "/api/v1/run-metadata", ("values", "nested", "deep", 0), "x", "user_dict"),
        ("POST", "/api/v1/run-metadata", ("resources", 0, "id"), RUN_ID, "id"),
        ("POST", "/api/v1/artifact_versions", ("metadata", "string_representation"), "0.93", "value_repr"),
        ("POST", "/api/v1/artifact_versions", ("metadata", "storage_size"), 4, "user_dict"),
        ("POST", "/api/v1/artifact_versions", ("uri",), "s3://bucket/a", "uri"),
        ("POST", "/api/v1/artifact_versions", ("visualizations", 0, "uri"), "s3://bucket/v", "uri"),
        ("POST", "/api/v1/artifact_versions", ("materializer", "module"), "zenml.materializers", "source_ref"),
        ("POST", "/api/v1/artifact_versions/batch", (0, "metadata", "string_representation"), "1",
         "value_repr"),
        ("POST", "/api/v1/artifact_versions/batch", ("metadata",), "1", "unknown"),
        ("POST", "/api/v1/pipeline_snapshots", ("client_environment", "python_packages"), "numpy==2",
         "package_list"),
        ("POST", "/api/v1/pipeline_snapshots", ("client_environment", "os"), "linux", "user_dict"),
        ("POST", "/api/v1/pipeline_snapshots", ("source_code",), "@pipeline ...", "code"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("step_configurations", "trainer", "config", "parameters", "lr"), 0.05, "user_dict"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("step_configurations", "trainer", "spec", "source", "module"), "steps.train", "source_ref"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("step_configurations", "trainer", "spec", "inputs", "data", "step_name"), "load", "name"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("step_configurations", "trainer", "spec", "inputs", "data", 1, "chunk_index"), 2, "numeric"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("pipeline_configuration", "environment", "DB_PASSWORD"), "hunter2", "credential"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("pipeline_configuration", "environment", "DB_PASSWORD"), "{{db.password}}", "secret_ref"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("pipeline_configuration", "settings", "docker", "environment", "HF_TOKEN"), "hf_x", "credential"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("pipeline_configuration", "environment", "TOKENIZERS_PARALLELISM"), "false", "user_dict"),
        ("POST", "/api/v1/pipeline_snapshots", ("pipeline_spec", "parameters", "lr"), 0.05, "user_dict"),
        ("POST", "/api/v1/pipeline_snapshots", ("stack",), RUN_ID, "id"),
        ("POST", "/api/v1/pipeline_snapshots", ("stack", "smuggled"), "data", "unknown"),
        ("POST", "/api/v1/runs", ("orchestrator_environment", "python_packages"), "x==1", "package_list"),
        ("POST", "/api/v1/runs", ("exception_info", "traceback"), "Traceback ...", "log"),
        ("POST", "/api/v1/runs", ("logs",), RUN_ID, "id"),
        ("POST", "/api/v1/runs", ("logs", "uri"), "s3://bucket/logs/1.log", "uri"),
        ("POST", "/api/v1/runs", ("logs", "source"), "orchestrator", "name"),
        ("POST", "/api/v1/runs", ("logs", "pipeline_run_id"), RUN_ID, "id"),
        ("POST", "/api/v1/runs", ("tags", 0), "prod", "name"),
        ("POST", "/api/v1/runs", ("tags", 0, "color"), "red", "enum"),
        ("POST", "/api/v1/secrets", ("values", "aws_secret_access_key"), "abc", "credential"),
        ("POST", "/api/v1/secrets", ("name",), "aws", "name"),
        ("POST", "/api/v1/components", ("configuration", "aws_secret_access_key"), "abc", "credential"),
        ("POST", "/api/v1/components", ("configuration", "aws_secret_access_key"), "{{aws.secret}}",
         "secret_ref"),
        ("POST", "/api/v1/components", ("configuration", "region"), "eu-west-1", "user_dict"),
        ("POST", "/api/v1/components", ("configuration", "path"), "s3://bucket", "uri"),
        ("POST", "/api/v1/code_repositories", ("config", "token"), "ghp_x", "credential"),
        ("POST", "/api/v1/code_repositories", ("config", "owner"), "acme", "user_dict"),
        # Changed with issue 12: the whole configuration used to be "credential", so an AWS
        # connector on implicit auth with only a region was blocked. Only the connector types'
        # secret attributes and credential-looking keys are credentials.
        ("POST", "/api/v1/service_connectors", ("configuration", "region"), "eu-west-1", "user_dict"),
        ("POST", "/api/v1/service_connectors", ("configuration", "role_arn"), "arn:aws:iam::1:role/r", "user_dict"),
        ("POST", "/api/v1/service_connectors", ("configuration", "aws_secret_access_key"), "abc", "credential"),
        ("POST", "/api/v1/service_connectors", ("configuration", "service_account_json"), "{}", "credential"),
        ("POST", "/api/v1/service_connectors", ("configuration", "username"), "bob", "credential"),
        ("PUT", f"/api/v1/service_connectors/{RUN_ID}", ("configuration", "client_secret"), "x", "credential"),
        ("POST", "/api/v1/service_connectors", ("configuration", "password"), "{{ docker.password }}",
         "secret_ref"),
        # Only exactly {{ name.key }} is a reference: a DSN, a PEM or a plain secret in braces is not.
        ("POST", "/api/v1/service_connectors", ("configuration", "password"), "{{postgres://u:pw@db/x}}",
         "credential"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("pipeline_configuration", "environment", "DB_PASSWORD"), "{{ hunter2 secret.x }}", "credential"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("pipeline_configuration", "environment", "DB_URL"), "{{postgresql://a:b@h.example/x}}", "user_dict"),
        ("POST", "/api/v1/pipeline_snapshots",
         ("pipeline_configuration", "environment", "DB_PASSWORD"), "{{ db-creds.password }}", "secret_ref"),
        ("PUT", f"/api/v1/users/{RUN_ID}", ("password",), "pw", "auth"),
        ("PUT", f"/api/v1/users/{RUN_ID}", ("email",), "a@b.c", "free_text"),
        ("POST", "/api/v1/login", ("password",), "pw", "auth"),
        ("POST", "/api/v1/triggers", ("configuration", "filter"), "x", "user_dict"),
        ("POST", "/api/v1/triggers", ("cron_expression",), "* * * * *", "name"),
        ("POST", "/api/v1/users/resource_membership", (0,), "read", "name"),
        ("GET", "/api/v1/runs", ("anything",), "x", "unknown"),
    ],
)
def test_classify(catalog: Catalog, method: str, path: str, parts: tuple, value: object,
                  expected: str) -> None:
    assert catalog.classify(endpoint(catalog, method, path), parts, value) == expected


@pytest.mark.parametrize(
    ("method", "path", "parts", "declared"),
    [
        ("POST", "/api/v1/run-metadata", ("values",), True),
        ("POST", "/api/v1/run-metadata", ("values", "note"), False),             # user-dict key
        ("POST", "/api/v1/run-metadata", ("resources", 0, "id"), True),
        ("POST", "/api/v1/run-metadata", ("not_a_field",), False),               # unknown field
        ("POST", "/api/v1/pipeline_snapshots", ("step_configurations", "train"), False),  # step name
        ("POST", "/api/v1/pipeline_snapshots", ("step_configurations", "train", "config", "parameters"), True),
        ("POST", "/api/v1/pipeline_snapshots", ("step_configurations", "train", "config", "parameters", "lr"), False),
        ("POST", "/api/v1/pipeline_snapshots", ("client_environment", "python_packages"), False),
        ("POST", "/api/v1/artifact_versions/batch", (0, "metadata"), True),
        ("POST", "/api/v1/artifact_versions/batch", (0, "metadata", "rows"), False),
        ("POST", "/api/v1/artifact_versions/batch", (0,), False),
        ("GET", "/api/v1/steps", ("name",), False),                              # no body model
    ],
)
def test_declares_only_field_names_of_the_body_models(catalog: Catalog, method: str, path: str,
                                                      parts: tuple, declared: bool) -> None:
    # Declared keys are not scanned: only ZenML's own field names may be declared.
    assert catalog.declares(catalog.match(method, path), parts) is declared


def test_classify_query(catalog: Catalog) -> None:
    runs = endpoint(catalog, "GET", "/api/v1/runs")
    assert catalog.classify_query(runs, "run_metadata") == "user_dict"
    assert catalog.classify_query(runs, "name") == "name"
    assert catalog.classify_query(runs, "id") == "id"
    assert catalog.classify_query(runs, "created") == "timestamp"
    assert catalog.classify_query(runs, "hydrate") == "enum"
    assert catalog.classify_query(runs, "size") == "numeric"
    assert catalog.classify_query(runs, "user") == "name"          # a user name or id
    assert catalog.classify_query(runs, "surprise") == "unknown"
    entries = endpoint(catalog, "GET", f"/api/v1/logs/{RUN_ID}/entries")
    assert catalog.classify_query(entries, "search") == "free_text"
    assert catalog.classify_query(endpoint(catalog, "GET", "/api/v1/services"), "config") == "user_dict"


# --- agreement with the egress-surface doc, section 2a ---------------------------------------

# Doc class -> catalog classes that honour it.
DOC = {
    "ID": {"id"}, "EN": {"enum"}, "NM": {"name", "source_ref"}, "TS": {"timestamp"},
    "NUM": {"numeric"}, "URI": {"uri"}, "FT": {"free_text"}, "UD": {"user_dict"}, "CODE": {"code"},
    "LOG": {"log"}, "HASH": {"hash"}, "SRC": {"source_ref"}, "PKG": {"package_list"},
    "VAL": {"value_repr"}, "UDCRED": {"user_dict", "credential"},
}

# (model, field path inside the model, doc class). Dict keys and list indexes are example values.
SECTION_2A = [
    ("PipelineSnapshotRequest", ("stack",), "ID"), ("PipelineSnapshotRequest", ("pipeline",), "ID"),
    ("PipelineSnapshotRequest", ("build",), "ID"), ("PipelineSnapshotRequest", ("schedule",), "ID"),
    ("PipelineSnapshotRequest", ("template",), "ID"), ("PipelineSnapshotRequest", ("source_snapshot",), "ID"),
    ("PipelineSnapshotRequest", ("run_name_template",), "NM"), ("PipelineSnapshotRequest", ("name",), "NM"),
    ("PipelineSnapshotRequest", ("client_version",), "NM"), ("PipelineSnapshotRequest", ("server_version",), "NM"),
    ("PipelineSnapshotRequest", ("tags", 0), "NM"), ("PipelineSnapshotRequest", ("pipeline_version_hash",), "HASH"),
    ("PipelineSnapshotRequest", ("is_dynamic",), "EN"), ("PipelineSnapshotRequest", ("replace",), "EN"),
    ("PipelineSnapshotRequest", ("code_path",), "URI"),
    ("PipelineSnapshotRequest", ("code_reference", "commit"), "NM"),
    ("PipelineSnapshotRequest", ("code_reference", "subdirectory"), "NM"),
    ("PipelineSnapshotRequest", ("code_reference", "code_repository"), "ID"),
    ("PipelineSnapshotRequest", ("source_code",), "CODE"), ("PipelineSnapshotRequest", ("description",), "FT"),
    ("PipelineSnapshotRequest", ("client_environment", "python_version"), "UD"),
    ("PipelineSnapshotRequest", ("client_environment", "python_packages"), "PKG"),
    ("PipelineConfiguration", ("enable_cache",), "EN"), ("PipelineConfiguration", ("enable_step_logs",), "EN"),
    ("PipelineConfiguration", ("execution_mode",), "EN"), ("PipelineConfiguration", ("skip_successful_steps",), "EN"),
    ("PipelineConfiguration", ("name",), "NM"), ("PipelineConfiguration", ("steps_to_skip", 0), "NM"),
    ("PipelineConfiguration", ("retry", "max_retries"), "NUM"), ("PipelineConfiguration", ("retry", "delay"), "NUM"),
    ("PipelineConfiguration", ("retry", "backoff"), "NUM"),
    ("PipelineConfiguration", ("step_input_overrides", "trainer", "data"), "ID"),
    ("PipelineConfiguration", ("secrets", 0), "NM"),
    ("PipelineConfiguration", ("failure_hook_source", "module"), "SRC"),
    ("PipelineConfiguration", ("cache_policy", "cache_func", "attribute"), "SRC"),
    ("PipelineConfiguration", ("parameters", "lr"), "UD"), ("PipelineConfiguration", ("environment", "MODE"), "UDCRED"),
    ("PipelineConfiguration", ("settings", "docker", "requirements", 0), "UD"),
    ("PipelineConfiguration", ("extra", "team"), "UD"), ("PipelineConfiguration", ("substitutions", "date"), "UD"),
    ("PipelineConfiguration", ("init_hook_kwargs", "x"), "UD"), ("PipelineConfiguration", ("model", "description"), "FT"),
    ("PipelineConfiguration", ("model", "ethics"), "FT"), ("PipelineConfiguration", ("model", "name"), "NM"),
    ("StepConfiguration", ("step_type",), "EN"), ("StepConfiguration", ("runtime",), "EN"),
    ("StepConfiguration", ("step_operator",), "NM"), ("StepConfiguration", ("experiment_tracker",), "NM"),
    ("StepConfiguration", ("group", "id"), "NM"), ("StepConfiguration", ("group", "name"), "NM"),
    ("StepConfiguration", ("group", "type"), "EN"), ("StepConfiguration", ("heartbeat_healthy_threshold",), "NUM"),
    ("StepConfiguration", ("external_input_artifacts", "data", "id"), "ID"),
    ("StepConfiguration", ("outputs", "model", "materializer_source", 0, "module"), "SRC"),
    ("StepConfiguration", ("outputs", "model", "artifact_config", "run_metadata", "k"), "UD"),
    ("StepConfiguration", ("client_lazy_loaders", "x", "call_chain", 0, "call_args", 0), "UD"),
    ("StepConfiguration", ("caching_parameters", "step_source"), "HASH"),
    ("StepConfiguration", ("command", 0), "FT"), ("StepConfiguration", ("parameters", "lr"), "UD"),
    ("StepConfigurationUpdate", ("parameters", "lr"), "UD"), ("StepConfigurationUpdate", ("environment", "X"), "UDCRED"),
    ("PipelineRunConfiguration", ("run_name",), "NM"), ("PipelineRunConfiguration", ("enable_cache",), "EN"),
    ("PipelineRunConfiguration", ("parameters", "lr"), "UD"), ("PipelineRunConfiguration", ("build",), "ID"),
    ("PipelineRunConfiguration", ("steps", "trainer", "parameters", "lr"), "UD"),
    ("ReplayRunConfiguration", ("skip_successful_steps",), "EN"), ("ReplayRunConfiguration", ("steps_to_skip", 0), "NM"),
    ("StepSpec", ("source", "module"), "SRC"), ("StepSpec", ("upstream_steps", 0), "NM"),
    ("StepSpec", ("invocation_id",), "NM"), ("StepSpec", ("inputs", "data", "step_name"), "NM"),
    ("StepSpec", ("inputs", "data", "output_name"), "NM"), ("StepSpec", ("inputs", "data", "chunk_size"), "NUM"),
    ("StepSpec", ("enable_heartbeat",), "EN"), ("StepSpec", ("parameter_spec", "lr", "default"), "UD"),
    ("PipelineSpec", ("parameters", "lr"), "UD"), ("PipelineSpec", ("input_schema", "properties"), "UD"),
    ("PipelineSpec", ("output_schema", "x"), "UD"), ("PipelineSpec", ("outputs", 0, "step_name"), "NM"),
    ("PipelineRunRequest", ("snapshot",), "ID"), ("PipelineRunRequest", ("original_run_id",), "ID"),
    ("PipelineRunRequest", ("parent_run_id",), "ID"), ("PipelineRunRequest", ("trigger_info", "step_run_id"), "ID"),
    ("PipelineRunRequest", ("trigger_info", "deployment_id"), "ID"), ("PipelineRunRequest", ("logs",), "ID"),
    ("PipelineRunRequest", ("name",), "NM"), ("PipelineRunRequest", ("orchestrator_run_id",), "NM"),
    ("PipelineRunRequest", ("child_key",), "NM"), ("PipelineRunRequest", ("start_time",), "TS"),
    ("PipelineRunRequest", ("end_time",), "TS"), ("PipelineRunRequest", ("status",), "EN"),
    ("PipelineRunRequest", ("orchestrator_environment", "python_packages"), "PKG"),
    ("PipelineRunRequest", ("exception_info", "message"), "LOG"), ("PipelineRunRequest", ("status_reason",), "FT"),
    ("PipelineRunUpdate", ("status",), "EN"), ("PipelineRunUpdate", ("orchestrator_run_id",), "NM"),
    ("PipelineRunUpdate", ("add_tags", 0), "NM"), ("PipelineRunUpdate", ("outputs", "x"), "ID"),
    ("PipelineRunUpdate", ("add_logs", 0, "id"), "ID"), ("PipelineRunUpdate", ("exception_info", "traceback"), "LOG"),
    ("PipelineRunUpdate", ("status_reason",), "FT"),
    ("ExceptionInfo", ("source",), "NM"), ("ExceptionInfo", ("user_code_line",), "NUM"),
    ("ExceptionInfo", ("traceback",), "LOG"), ("ExceptionInfo", ("message",), "LOG"),
    ("StepRunRequest", ("pipeline_run_id",), "ID"), ("StepRunRequest", ("original_step_run_id",), "ID"),
    ("StepRunRequest", ("parent_step_ids", 0), "ID"), ("StepRunRequest", ("inputs", "data", 0), "ID"),
    ("StepRunRequest", ("outputs", "model", 0), "ID"), ("StepRunRequest", ("logs",), "ID"),
    ("StepRunRequest", ("resource_requester",), "ID"), ("StepRunRequest", ("name",), "NM"),
    ("StepRunRequest", ("cache_key",), "HASH"), ("StepRunRequest", ("code_hash",), "HASH"),
    ("StepRunRequest", ("start_time",), "TS"), ("StepRunRequest", ("end_time",), "TS"),
    ("StepRunRequest", ("cache_expires_at",), "TS"), ("StepRunRequest", ("status",), "EN"),
    ("StepRunRequest", ("resource_request_runtime",), "EN"), ("StepRunRequest", ("source_code",), "CODE"),
    ("StepRunRequest", ("docstring",), "CODE"), ("StepRunRequest", ("exception_info", "traceback"), "LOG"),
    ("StepRunRequest", ("dynamic_config", "config", "parameters", "x"), "UD"),
    ("StepRunUpdate", ("outputs", "model", 0), "ID"), ("StepRunUpdate", ("loaded_artifact_versions", "d"), "ID"),
    ("StepRunUpdate", ("add_logs", 0, "uri"), "URI"), ("StepRunUpdate", ("status",), "EN"),
    ("StepRunUpdate", ("end_time",), "TS"), ("StepRunUpdate", ("cache_expires_at",), "TS"),
    ("StepRunUpdate", ("exception_info", "message"), "LOG"),
    ("LogsRequest", ("id",), "ID"), ("LogsRequest", ("artifact_store_id",), "ID"),
    ("LogsRequest", ("source",), "NM"), ("LogsRequest", ("uri",), "URI"), ("LogsUpdate", ("step_run_id",), "ID"),
    ("ArtifactVersionRequest", ("artifact_id",), "ID"), ("ArtifactVersionRequest", ("artifact_store_id",), "ID"),
    ("ArtifactVersionRequest", ("artifact_name",), "NM"), ("ArtifactVersionRequest", ("version",), "NM"),
    ("ArtifactVersionRequest", ("tags", 0), "NM"), ("ArtifactVersionRequest", ("has_custom_name",), "EN"),
    ("ArtifactVersionRequest", ("type",), "EN"), ("ArtifactVersionRequest", ("save_type",), "EN"),
    ("ArtifactVersionRequest", ("uri",), "URI"), ("ArtifactVersionRequest", ("visualizations", 0, "type"), "EN"),
    ("ArtifactVersionRequest", ("visualizations", 0, "uri"), "URI"),
    ("ArtifactVersionRequest", ("materializer", "module"), "NM"), ("ArtifactVersionRequest", ("data_type", "attribute"), "NM"),
    ("ArtifactVersionRequest", ("item_count",), "NUM"), ("ArtifactVersionRequest", ("metadata", "storage_size"), "UD"),
    ("ArtifactVersionRequest", ("metadata", "string_representation"), "VAL"),
    ("RunMetadataRequest", ("resources", 0, "id"), "ID"), ("RunMetadataRequest", ("resources", 0, "type"), "EN"),
    ("RunMetadataRequest", ("stack_component_id",), "ID"), ("RunMetadataRequest", ("publisher_step_id",), "ID"),
    ("RunMetadataRequest", ("types", "note"), "EN"), ("RunMetadataRequest", ("values", "note"), "UD"),
    ("HookInvocationRequest", ("pipeline_run_id",), "ID"), ("HookInvocationRequest", ("hook_type",), "EN"),
    ("HookInvocationRequest", ("status",), "EN"), ("HookInvocationRequest", ("name",), "NM"),
    ("HookInvocationRequest", ("source",), "NM"), ("HookInvocationRequest", ("start_time",), "TS"),
    ("HookInvocationRequest", ("exception_info", "traceback"), "LOG"),
    ("StreamBatchRequest", ("events", 0, "pipeline_run_id"), "ID"), ("StreamBatchRequest", ("events", 0, "step_run_id"), "ID"),
    ("StreamBatchRequest", ("events", 0, "step_name"), "NM"), ("StreamBatchRequest", ("events", 0, "kind"), "NM"),
    ("StreamBatchRequest", ("events", 0, "correlation_id"), "NM"), ("StreamBatchRequest", ("events", 0, "index"), "NUM"),
    ("StreamBatchRequest", ("events", 0, "payload", "x"), "UD"),
    ("RunWaitConditionRequest", ("run",), "ID"), ("RunWaitConditionRequest", ("name",), "NM"),
    ("RunWaitConditionRequest", ("type",), "EN"), ("RunWaitConditionRequest", ("question",), "FT"),
    ("RunWaitConditionRequest", ("data_schema", "type"), "UD"), ("RunWaitConditionRequest", ("metadata", "k"), "UD"),
    ("RunWaitConditionResolveRequest", ("resolution",), "EN"), ("RunWaitConditionResolveRequest", ("result", "answer"), "UD"),
    ("RunWaitConditionLeaseUpdate", ("poller_instance_id",), "NM"), ("RunWaitConditionLeaseUpdate", ("mode",), "EN"),
    ("RunWaitConditionLeaseUpdate", ("poller_lease_expires_at",), "TS"),
    ("PipelineBuildRequest", ("stack",), "ID"), ("PipelineBuildRequest", ("pipeline",), "ID"),
    ("PipelineBuildRequest", ("is_local",), "EN"), ("PipelineBuildRequest", ("contains_code",), "EN"),
    ("PipelineBuildRequest", ("zenml_version",), "NM"), ("PipelineBuildRequest", ("python_version",), "NM"),
    ("PipelineBuildRequest", ("checksum",), "HASH"), ("PipelineBuildRequest", ("stack_checksum",), "HASH"),
    ("PipelineBuildRequest", ("duration",), "NUM"), ("PipelineBuildRequest", ("images", "orchestrator", "image"), "URI"),
    ("PipelineBuildRequest", ("images", "orchestrator", "settings_checksum"), "HASH"),
    ("PipelineBuildRequest", ("images", "orchestrator", "dockerfile"), "CODE"),
    ("PipelineBuildRequest", ("images", "orchestrator", "requirements"), "CODE"),
    ("PipelineSnapshotRunRequest", ("step_run",), "ID"),
    ("PipelineSnapshotRunRequest", ("run_configuration", "parameters", "lr"), "UD"),
]


def model_endpoint(model: str) -> Endpoint:
    """A stand-in endpoint whose body is `model`, to classify inside any nested model directly."""
    return Endpoint(method="POST", template=f"/test/{model}", resource="test", action="create",
                    body_kind="model", body_model=model, query={}, sdk_auth=False,
                    deprecated=False, write=True, body_models=(model,))


@pytest.mark.parametrize(("model", "parts", "doc_class"), SECTION_2A,
                         ids=[f"{m}.{'.'.join(map(str, p))}" for m, p, _ in SECTION_2A])
def test_classification_agrees_with_egress_doc_section_2a(catalog: Catalog, model: str,
                                                          parts: tuple, doc_class: str) -> None:
    assert catalog.model(model) is not None, model
    assert catalog.classify(model_endpoint(model), parts, "x") in DOC[doc_class]


@pytest.mark.parametrize(
    ("value", "is_reference"),
    [
        ("{{aws.secret_access_key}}", True),
        ("{{ my-secret.password }}", True),
        ("{{\tdb_1.dsn\t}}", True),
        ("{{ aws.secret.key }}", False),                       # one dot: name and key
        ("{{ -----BEGIN RSA PRIVATE KEY-----MIIE.x }}", False),
        ("{{postgresql://admin:pw@db.example.com/prod}}", False),
        ("{{ hunter2! .x }}", False),
        ("{{jane.doe@acme.com}}", False),
        ("{{ a.b }} trailing", False),
        ("{{" + "a" * 200 + ".b}}", False),                   # names are short
        ("{{ .key }}", False),
        ("{{ name. }}", False),
        ("{{\n db.password \n}}", False),
    ],
)
def test_a_secret_reference_is_exactly_name_dot_key(catalog: Catalog, value: str, is_reference: bool) -> None:
    ep = endpoint(catalog, "POST", "/api/v1/components")
    expected = "secret_ref" if is_reference else "credential"
    assert catalog.classify(ep, ("configuration", "aws_secret_access_key"), value) == expected


def test_connector_secret_attributes_come_from_zenml(catalog: Catalog) -> None:
    spec = catalog.model("ServiceConnectorRequest").fields["configuration"]
    assert {"aws_secret_access_key", "aws_session_token", "service_account_json", "client_secret", "token",
            "password"} <= spec.secret_keys
    assert not {"region", "role_arn", "project_id", "tenant_id"} & spec.secret_keys
