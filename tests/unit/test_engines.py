"""The two engines: same decisions (parity), failures as PolicyError, and the policy hash.

RegopyEngine runs in a spawned child here (regopy is native code with known crashes);
OpaRestEngine talks to tests/opa_server.py, a stand-in OPA started as a subprocess.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from metagate.policies.engine import (
    OpaRestEngine,
    PolicyError,
    RegopyEngine,
    normalize_decision,
)
from metagate.policies.files import (
    DEFAULT_POLICY_DIR,
    load_policy_data,
    load_policy_files,
    policy_hash,
)

from tests.support.processes import ROOT, free_port, start
from tests.unit.test_policies import DECISION_TABLE, check, policy_input, write


def evaluate_in_child(inputs: list[dict[str, Any]], policy_dir: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Runs in the spawned child: the regopy engine's hash and decisions."""
    with RegopyEngine(Path(policy_dir) if policy_dir else None) as engine:
        return engine.policy_hash, [engine.evaluate(item) for item in inputs]


@pytest.fixture(scope="module")
def child_pool():
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture(scope="module")
def opa_url():
    port = free_port()
    server = start([sys.executable, str(ROOT / "tests" / "opa_server.py"), "--port", str(port),
                    "--policy-dir", str(DEFAULT_POLICY_DIR)], ready="listening on", timeout=60)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def opa(opa_url):
    engine = OpaRestEngine(opa_url, timeout=10.0)
    yield engine
    engine.close()


def test_both_engines_give_identical_decisions_for_the_table(child_pool, opa):
    inputs = [copy.deepcopy(case[1]) for case in DECISION_TABLE]
    regopy_hash, embedded = child_pool.submit(evaluate_in_child, inputs).result(timeout=120)
    for case, ours, theirs in zip(DECISION_TABLE, embedded, [opa.evaluate(i) for i in inputs]):
        name, _, action, rules, redact, reasons = case
        assert ours == theirs, name
        check(theirs, action, rules, redact, reasons)
    # The stand-in serves the same files and data, so the hash it reports matches.
    assert opa.policy_hash == regopy_hash


def test_opa_engine_raises_policy_error_when_the_server_is_down():
    engine = OpaRestEngine(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(PolicyError, match="unreachable"):
        engine.evaluate(policy_input())
    assert engine.policy_hash == "opa-unreachable"
    engine.close()


def test_opa_engine_raises_policy_error_on_an_undefined_decision(opa_url):
    with OpaRestEngine(opa_url, decision_path="metagate/main/no_such_rule") as engine, \
            pytest.raises(PolicyError, match="undefined"):
        engine.evaluate(policy_input())


def test_opa_engine_raises_policy_error_on_a_server_error_without_quoting_it(opa_url):
    with OpaRestEngine(opa_url, decision_path="metagate/lib/is_under") as engine, \
            pytest.raises(PolicyError, match="500") as raised:
        engine.evaluate(policy_input())
    assert "is_under" not in str(raised.value)      # OPA's message may quote operands


def test_the_stand_in_answers_opa_python_clients_own_checks(opa_url):
    from opa_client import OpaClient

    port = int(opa_url.rsplit(":", 1)[1])
    client = OpaClient(host="127.0.0.1", port=port)
    try:
        assert client.check_connection() is True
        assert client.check_health() is True
        assert "metagate/main.rego" in client.get_policies_list()
        assert client.get_data("metagate/config")["result"]["thresholds"]["pii"] == 0.5
    finally:
        client.close_connection()


def test_opa_engine_uses_a_given_hash(opa_url):
    with OpaRestEngine(opa_url, policy_hash="abc123") as engine:
        assert engine.policy_hash == "abc123"


def test_opa_url_must_be_the_server_root():
    with pytest.raises(ValueError):
        OpaRestEngine("http://127.0.0.1:8181/v1/data")
    with pytest.raises(ValueError):
        OpaRestEngine("ftp://127.0.0.1:8181")


# --- the policy hash ------------------------------------------------------------------------


@pytest.fixture
def policy_copy(tmp_path) -> Path:
    target = tmp_path / "rego"
    shutil.copytree(DEFAULT_POLICY_DIR, target)
    return target


def test_policy_hash_depends_on_content_not_location(policy_copy):
    with RegopyEngine(policy_copy) as copied, RegopyEngine() as shipped:
        assert copied.policy_hash == shipped.policy_hash


def test_policy_hash_changes_when_a_rego_file_changes(policy_copy):
    before = RegopyEngine(policy_copy).policy_hash
    pii = policy_copy / "metagate" / "rules" / "pii.rego"
    pii.write_text(pii.read_text() + "\n# a comment is a change\n")
    assert RegopyEngine(policy_copy).policy_hash != before


def test_policy_hash_changes_when_data_changes(policy_copy):
    before = RegopyEngine(policy_copy).policy_hash
    data_file = policy_copy / "metagate" / "data.json"
    data = json.loads(data_file.read_text())
    data["config"]["thresholds"]["pii"] = 0.6
    data_file.write_text(json.dumps(data))
    assert RegopyEngine(policy_copy).policy_hash != before
    assert RegopyEngine(data_overrides={"thresholds": {"pii": 0.6}}).policy_hash == RegopyEngine(policy_copy).policy_hash


def test_policy_hash_ignores_test_files(policy_copy):
    before = RegopyEngine(policy_copy).policy_hash
    write(policy_copy, "metagate/extra_test.rego", "package metagate.test.extra\n\ntest_x if true\n")
    assert RegopyEngine(policy_copy).policy_hash == before


def test_policy_hash_is_over_sorted_files_and_data():
    files = [("b.rego", "package b"), ("a.rego", "package a")]
    assert policy_hash(files, {"x": 1}) == policy_hash(list(reversed(files)), {"x": 1})
    assert policy_hash(files, {"x": 1}) != policy_hash(files, {"x": 2})
    assert policy_hash(files, {}) != policy_hash([("a.rego", "package a")], {})


# --- loading ----------------------------------------------------------------------------------


def test_policy_files_leave_tests_out_and_are_sorted():
    files = load_policy_files([DEFAULT_POLICY_DIR])
    names = [name for name, _ in files]
    assert names == sorted(names)
    assert "metagate/main.rego" in names
    assert not any(name.endswith("_test.rego") for name in names)


def test_the_same_relative_path_in_two_directories_is_an_error(tmp_path):
    write(tmp_path / "one", "x/p.rego", "package x.p\n")
    write(tmp_path / "two", "x/p.rego", "package x.q\n")
    with pytest.raises(PolicyError, match="x/p.rego"):
        load_policy_files([tmp_path / "one", tmp_path / "two"])


def test_data_files_mount_at_their_directory_and_conflicts_are_errors(tmp_path):
    write(tmp_path, "metagate/config/acme/data.json", '{"a": 1}')
    data = load_policy_data([DEFAULT_POLICY_DIR, tmp_path])
    assert data["metagate"]["config"]["acme"] == {"a": 1}
    assert data["metagate"]["config"]["thresholds"]["pii"] == 0.5
    write(tmp_path, "metagate/config/data.json", '{"thresholds": 1}')
    with pytest.raises(PolicyError, match="thresholds"):
        load_policy_data([DEFAULT_POLICY_DIR, tmp_path])


def test_a_syntax_error_in_a_team_package_names_file_and_line(tmp_path):
    write(tmp_path, "acme/bad.rego", "package metagate.rules.acme\n\nblock contains x if {\n")
    with pytest.raises(PolicyError, match=r"acme/bad.rego:3:"):
        RegopyEngine(extra_dirs=[tmp_path])


def test_a_team_package_using_a_with_form_that_crashes_regopy_is_refused(tmp_path):
    write(tmp_path, "acme/p.rego", 'package metagate.rules.acme\n\nblock := x if {\n  x := data.metagate.main.decision with input as {"a": 1}\n}\n')
    with pytest.raises(PolicyError, match=r"acme/p.rego:4:.*with input as"):
        RegopyEngine(extra_dirs=[tmp_path])


def test_a_closed_engine_refuses_to_evaluate():
    engine = RegopyEngine()
    engine.close()
    with pytest.raises(PolicyError, match="closed"):
        engine.evaluate(policy_input())


def test_normalize_sorts_and_deduplicates_and_rejects_non_objects():
    assert normalize_decision({"action": "redact", "redact": ["$.b", "$.a", "$.b"]})["redact"] == ["$.a", "$.b"]
    with pytest.raises(PolicyError):
        normalize_decision(["not", "an", "object"])
