"""The harness itself, with no metagate: real SDK runs land on real servers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from metagate.proxy.embedded import ZENML_PYTHON_ENV_VAR, ZenMLVenvMissing, zenml_python

from tests.support.processes import free_port, start, wait_for_port

pytestmark = pytest.mark.e2e


def test_clean_pipeline_run_is_on_the_server(zenml_server, run_sdk, query_server):
    result = run_sdk("clean_pipeline.py", "--lr", "0.05", "--epochs", "3", env=zenml_server.sdk_env())
    assert result.returncode == 0, result.describe()
    assert result.run_id

    held = query_server(zenml_server, "run", result.run_id)["summary"]
    assert held["run_id"] == result.run_id
    assert held["status"] == "completed"
    assert held["parameters"] == {"lr": 0.05, "epochs": 3}
    assert set(held["steps"]) == {"load_data", "train", "evaluate"}
    train = held["steps"]["train"]
    assert train["run_metadata"]["accuracy"] == pytest.approx(0.93)
    assert "def train(" in train["source_code"]
    assert held["artifacts"]["accuracy"]["metadata"]["string_representation"] == "0.93"
    # The default stack's artifact store is local, so artifact URIs are paths on this machine.
    assert Path(held["artifacts"]["evaluation_report"]["uri"]).is_absolute()


def test_without_metagate_the_email_reaches_the_server(zenml_server, run_sdk, query_server):
    """The baseline the gate has to change: plain ZenML uploads the note as it is."""
    result = run_sdk("pii_pipeline.py", "harness.check@example.com", env=zenml_server.sdk_env())
    assert result.returncode == 0, result.describe()

    held = query_server(zenml_server, "run", result.run_id)["summary"]
    assert held["steps"]["train_with_note"]["run_metadata"]["note"] == "trained by harness.check@example.com"


def test_failed_step_sends_exception_info(zenml_server, run_sdk, query_server):
    result = run_sdk("failing_pipeline.py", env=zenml_server.sdk_env())
    assert result.returncode == 0, result.describe()

    held = query_server(zenml_server, "run", result.run_id)["summary"]
    assert held["status"] == "failed"
    failed_step = held["steps"]["validate_batch"]
    assert failed_step["status"] == "failed"
    assert "batch validation failed" in failed_step["exception_info"]["message"]


def test_sdk_logs_in_with_password(zenml_server_auth, run_sdk, query_server):
    result = run_sdk("clean_pipeline.py", "--epochs", "2", env=zenml_server_auth.sdk_env(credentials="password"))
    assert result.returncode == 0, result.describe()

    held = query_server(zenml_server_auth, "run", result.run_id)["summary"]
    assert held["parameters"] == {"lr": 0.05, "epochs": 2}


def test_sdk_logs_in_with_service_account_api_key(zenml_server_auth, run_sdk):
    result = run_sdk("server_query.py", "runs", env=zenml_server_auth.sdk_env(credentials="api_key"))
    assert result.returncode == 0, result.describe()
    assert isinstance(result.json_value("RESULT_JSON")["runs"], list)


def test_auth_server_refuses_a_wrong_password(zenml_server_auth, run_sdk):
    env = zenml_server_auth.sdk_env(credentials="password") | {"ZENML_STORE_PASSWORD": "not-the-password"}
    result = run_sdk("server_query.py", "runs", env=env)
    assert result.returncode != 0
    assert "invalid username or password" in result.output


def test_auth_server_refuses_anonymous_clients(zenml_server_auth, run_sdk):
    result = run_sdk("server_query.py", "runs", env=zenml_server_auth.sdk_env(credentials="none"))
    assert result.returncode != 0
    assert "CredentialsNotValid" in result.output


def test_sdk_verifies_the_tls_server_against_the_test_ca(zenml_server_tls, run_sdk):
    assert zenml_server_tls.url.startswith("https://")
    trusted = run_sdk("server_query.py", "runs", env=zenml_server_tls.sdk_env())
    assert trusted.returncode == 0, trusted.describe()

    untrusted_env = zenml_server_tls.sdk_env() | {"ZENML_STORE_VERIFY_SSL": "true"}
    untrusted = run_sdk("server_query.py", "runs", env=untrusted_env)
    assert untrusted.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.output


def test_zenml_python_reports_a_missing_venv_instead_of_installing(tmp_path, monkeypatch):
    monkeypatch.delenv(ZENML_PYTHON_ENV_VAR, raising=False)
    with pytest.raises(ZenMLVenvMissing):
        zenml_python(tmp_path / "no-venv-here", install=False)
    assert not (tmp_path / "no-venv-here").exists()


BLOCKING_ADDON = '''
import json
from mitmproxy import http

def request(flow: http.HTTPFlow) -> None:
    if flow.request.method == "POST" and flow.request.path.startswith("/api/v1/run-metadata"):
        reason = "blocked by test: values.note holds an e-mail address"
        flow.response = http.Response.make(
            403, json.dumps({"detail": ["IllegalOperationError", reason]}),
            {"Content-Type": "application/json"},
        )
'''


def test_a_403_from_a_proxy_fails_the_run_with_the_proxy_reason(zenml_server, run_sdk, query_server, tmp_path):
    """The SDK contract metagate relies on: 403 + IllegalOperationError is raised as is, not retried."""
    addon = tmp_path / "block_run_metadata.py"
    addon.write_text(BLOCKING_ADDON)
    port = free_port()
    mitmdump = Path(sys.executable).parent / "mitmdump"
    proxy = start(
        [str(mitmdump), "--mode", f"reverse:{zenml_server.url}", "--listen-host", "127.0.0.1",
         "--listen-port", str(port), "--set", f"confdir={tmp_path / 'mitm'}", "-q", "-s", str(addon)],
        ready=None,
    )  # fmt: skip
    try:
        wait_for_port(port)
        result = run_sdk("pii_pipeline.py", env=zenml_server.sdk_env(url=f"http://127.0.0.1:{port}"))
    finally:
        proxy.stop()

    assert result.returncode == 1, result.describe()
    assert result.value("STEP_EXCEPTION_TYPE") == "IllegalOperationError"
    assert result.value("STEP_EXCEPTION_MESSAGE") == "blocked by test: values.note holds an e-mail address"
    held = query_server(zenml_server, "run", result.run_id)["summary"]
    step = held["steps"]["train_with_note"]
    assert step["status"] == "failed"
    assert step["run_metadata"] == {}
    assert "jane.doe@example.com" not in json.dumps(held)
