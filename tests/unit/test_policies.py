"""The default Rego policy: its own Rego unit tests, and decisions for a table of inputs.

The table (DECISION_TABLE) is shared with test_engines.py, which checks that the embedded and
the OPA engine agree on it.
"""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from metagate.policies.engine import RegopyEngine
from metagate.policies.files import DEFAULT_POLICY_DIR
from metagate.policies.rego_tests import RegoTestResult, run_rego_tests
from metagate.scanner.model import Decision

# --- inputs -----------------------------------------------------------------------------------


def request(method: str = "POST", path: str = "/api/v1/run-metadata") -> dict[str, Any]:
    return {
        "method": method, "host": "zenml.example.com", "path": path,
        "content_type": "application/json", "bytes": 312, "decoded_bytes": 312,
        "client": "10.0.0.7", "user_id": None, "upstream_role": "zenml",
    }


def endpoint(resource: str = "run_metadata", action: str = "create", write: bool = True,
             known: bool = True, sdk_auth: bool = False, template: str | None = "/api/v1/run-metadata") -> dict[str, Any]:
    return {
        "known": known, "template": template if known else None, "resource": resource if known else None,
        "action": action, "write": write, "sdk_auth": sdk_auth,
    }


def finding(path: str, entity: str = "EMAIL_ADDRESS", category: str = "pii", score: float = 0.9,
            field_class: str = "user_dict") -> dict[str, Any]:
    return {"entity": entity, "category": category, "path": path, "score": score,
            "detector": "test", "field_class": field_class}


def policy_input(method: str = "POST", ep: dict[str, Any] | None = None, parse_error: str | None = None,
                 violations: list[dict[str, str]] | None = None, unknown_fields: list[str] | None = None,
                 fields: list[tuple[str, str]] = (), findings: list[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "request": request(method),
        "endpoint": ep if ep is not None else endpoint(write=method != "GET", action="create" if method != "GET" else "read"),
        "schema": {"parse_error": parse_error, "violations": violations or [], "unknown_fields": unknown_fields or []},
        "fields": [{"path": path, "class": cls} for path, cls in fields],
        "findings": list(findings),
    }


ODD_PATH = '$.values["odd \\"key\\" \\\\ here"]'
UNICODE_PATH = "$.values.ключ"

# (name, input, expected action, expected rule ids, expected redact paths, expected reasons or None)
DECISION_TABLE: list[tuple[str, dict[str, Any], str, set[str], list[str], list[str] | None]] = [
    ("known read allows", policy_input("GET"), "allow", set(), [], []),
    ("metadata-only write allows",
     policy_input(fields=[("$.values.accuracy_note", "user_dict")]), "allow", set(), [], []),
    ("unknown write blocks",
     policy_input(ep=endpoint(known=False)), "block", {"endpoint.unknown_write"}, [],
     ["endpoint.unknown_write: POST at $"]),
    ("unknown read allows",
     policy_input("GET", ep=endpoint(known=False, write=False, action="read")), "allow", set(), [], []),
    ("empty input fails closed", {}, "block", {"endpoint.unknown_write"}, [], None),
    ("unparseable body blocks and says why in the policy's words",
     policy_input(parse_error="malformed_json"), "block", {"schema.unparseable"}, [],
     ["schema.unparseable: malformed JSON at $"]),
    ("violation blocks as its kind",
     policy_input(violations=[{"path": "$.values", "kind": "too_deep", "message": "nesting deeper than 8"}]),
     "block", {"schema.too_deep"}, [], ["schema.too_deep: too_deep at $.values"]),
    ("uri outside storage blocks",
     policy_input(violations=[{"path": "$.uri", "kind": "uri_outside_storage", "message": "m"}]),
     "block", {"schema.uri_outside_storage"}, [], None),
    ("unknown field warns",
     policy_input(unknown_fields=["$.foo"]), "warn", {"schema.unknown_field"}, [], []),
    ("source code is redacted",
     policy_input(fields=[("$.source_code", "code"), ("$.name", "name")]), "redact", {"redact.code"},
     ["$.source_code"], ["redact.code: code at $.source_code"]),
    ("pip freeze, value reprs and tracebacks are redacted",
     policy_input(fields=[
         ("$.client_environment.python_packages", "package_list"),
         ("$.metadata.string_representation", "value_repr"),
         ("$.exception_info.traceback", "log"),
         ("$.exception_info.message", "log"),
     ]),
     "redact", {"redact.package_list", "redact.value_repr", "redact.traceback"},
     ["$.client_environment.python_packages", "$.exception_info.traceback", "$.metadata.string_representation"], None),
    ("pii in user data blocks",
     policy_input(fields=[("$.values.note", "user_dict")], findings=[finding("$.values.note")]),
     "block", {"pii.detected"}, [], ["pii.detected: EMAIL_ADDRESS at $.values.note"]),
    ("pii under the threshold allows",
     policy_input(fields=[("$.values.note", "user_dict")], findings=[finding("$.values.note", "PERSON", score=0.3)]),
     "allow", set(), [], []),
    ("pii at the threshold blocks",
     policy_input(findings=[finding("$.values.note", score=0.5)]), "block", {"pii.detected"}, [], None),
    ("pii in redacted source code only redacts",
     policy_input(fields=[("$.source_code", "code")], findings=[finding("$.source_code", field_class="code")]),
     "redact", {"redact.code"}, ["$.source_code"], None),
    ("pii in an exception message blocks",
     policy_input(fields=[("$.exception_info.message", "log")],
                  findings=[finding("$.exception_info.message", field_class="log")]),
     "block", {"pii.detected"}, [], None),
    ("secret blocks",
     policy_input(findings=[finding("$.pipeline_configuration.parameters.key", "AWS_ACCESS_KEY", "secret", 1.0)]),
     "block", {"secret.detected"}, [], ["secret.detected: AWS_ACCESS_KEY at $.pipeline_configuration.parameters.key"]),
    ("blob blocks",
     policy_input(findings=[finding("$.values.data", "BLOB_NUMERIC_ARRAY", "blob", 0.8)]),
     "block", {"blob.detected"}, [], None),
    ("credential field in a write blocks",
     policy_input(ep=endpoint("secrets", template="/api/v1/secrets"), fields=[("$.values.password", "credential")]),
     "block", {"credential.write"}, [], ["credential.write: credential at $.values.password"]),
    ("sdk auth keeps its own credentials",
     policy_input("PUT", ep=endpoint("devices", "auth", sdk_auth=True, template="/api/v1/devices/{device_id}/verify"),
                  fields=[("$.user_code", "credential")],
                  findings=[finding("$.user_code", "GENERIC_TOKEN", "secret", 0.9, "credential")]),
     "allow", set(), [], []),
    ("block wins over redact and warn, and all rules are listed",
     policy_input(fields=[("$.source_code", "code"), ("$.values.note", "user_dict")],
                  unknown_fields=["$.foo"], findings=[finding("$.values.note")]),
     "block", {"pii.detected", "redact.code", "schema.unknown_field"}, ["$.source_code"], None),
    ("redact wins over warn",
     policy_input(fields=[("$.docstring", "code")], unknown_fields=["$.foo"]),
     "redact", {"redact.code", "schema.unknown_field"}, ["$.docstring"], None),
    ("paths with quotes and backslashes round-trip",
     policy_input(fields=[(ODD_PATH, "code")], findings=[finding(ODD_PATH + ".x")]),
     "block", {"redact.code", "pii.detected"}, [ODD_PATH], None),
    ("non-ASCII paths round-trip",
     policy_input(fields=[(UNICODE_PATH, "value_repr")]), "redact", {"redact.value_repr"}, [UNICODE_PATH],
     [f"redact.value_repr: value_repr at {UNICODE_PATH}"]),
]


def check(decision: dict[str, Any], action: str, rules: set[str], redact: list[str], reasons: list[str] | None) -> None:
    assert decision["action"] == action
    assert set(decision["rules"]) == rules
    assert decision["redact"] == sorted(redact)
    if reasons is not None:
        assert decision["reasons"] == sorted(reasons)
    # The engines hand back every list sorted and without duplicates.
    for key in ("rules", "reasons", "redact", "warnings"):
        assert decision[key] == sorted(set(decision[key]))
    assert Decision.from_policy(decision).action == action


@pytest.fixture(scope="module")
def engine():
    with RegopyEngine() as engine:
        yield engine


# --- the Rego unit tests ------------------------------------------------------------------------


def test_every_shipped_rego_test_passes():
    results = run_rego_tests([DEFAULT_POLICY_DIR])
    failed = [str(r) for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    packages = {r.package for r in results}
    # one test package per concern
    assert {"metagate.test.main", "metagate.test.lib", "metagate.test.pii", "metagate.test.secrets",
            "metagate.test.blobs", "metagate.test.schema", "metagate.test.endpoints",
            "metagate.test.redaction", "metagate.test.credentials"} <= packages


def write(root: Path, relpath: str, text: str) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


SMALL_POLICY = """
    package demo.p

    q := input.a + 1
"""


def by_name(results: list[RegoTestResult]) -> dict[str, RegoTestResult]:
    return {r.name: r for r in results}


def test_rego_test_outcomes_are_pass_fail_or_error(tmp_path):
    write(tmp_path, "demo/p.rego", SMALL_POLICY)
    write(tmp_path, "demo/p_test.rego", """
        package demo.test.p

        import data.demo.p

        test_passes if {
            p.q == 2 with input.a as 1
        }

        test_fails if {
            p.q == 3 with input.a as 1
        }

        test_errors if {
            no_such_function(1) == 1
        }
    """)
    results = by_name(run_rego_tests([tmp_path]))
    assert results["test_passes"].passed and results["test_passes"].error is None
    assert not results["test_fails"].passed and results["test_fails"].error is None
    assert not results["test_errors"].passed and "no_such_function" in results["test_errors"].error
    assert results["test_fails"].line == 9
    assert results["test_fails"].file.endswith("demo/p_test.rego")


def test_syntax_error_is_reported_with_file_and_line(tmp_path):
    write(tmp_path, "demo/p.rego", SMALL_POLICY)
    broken = write(tmp_path, "demo/broken_test.rego", """
        package demo.test.broken

        test_never_runs if {
            x := {
        }
    """)
    write(tmp_path, "demo/good_test.rego", """
        package demo.test.good

        test_still_runs if data.demo.p.q == 2 with input.a as 1
    """)
    results = run_rego_tests([tmp_path])
    parse = [r for r in results if r.name == "<parse>"]
    assert len(parse) == 1
    # the rule body opened on line 3 is the brace left unclosed
    assert parse[0].file == str(broken) and parse[0].line == 3
    assert f"{broken}:3:" in parse[0].error
    named = by_name(results)
    assert not named["test_never_runs"].passed
    assert named["test_still_runs"].passed


CRASHING_TEST = """
    package demo.test.crash

    import data.demo.p

    test_replaces_all_of_input if {
        p.q == 2 with input as {"a": 1}
    }
"""


def test_with_forms_that_crash_regopy_are_refused_before_running(tmp_path):
    write(tmp_path, "demo/p.rego", SMALL_POLICY)
    write(tmp_path, "demo/crash_test.rego", CRASHING_TEST)
    result = by_name(run_rego_tests([tmp_path]))["test_replaces_all_of_input"]
    assert not result.passed
    assert "line 6" in result.error and "with input as" in result.error


def test_a_regopy_crash_becomes_an_errored_test_and_the_rest_still_run(tmp_path):
    write(tmp_path, "demo/p.rego", SMALL_POLICY)
    write(tmp_path, "demo/crash_test.rego", CRASHING_TEST)
    write(tmp_path, "demo/good_test.rego", """
        package demo.test.good

        test_still_runs if data.demo.p.q == 2 with input.a as 1
    """)
    results = by_name(run_rego_tests([tmp_path], lint=False))
    crashed = results["test_replaces_all_of_input"]
    assert not crashed.passed and "regopy failed" in crashed.error
    assert results["test_still_runs"].passed


def test_a_test_that_eats_memory_is_stopped(tmp_path):
    write(tmp_path, "demo/p.rego", SMALL_POLICY)
    write(tmp_path, "demo/p_test.rego", """
        package demo.test.p

        test_small if data.demo.p.q == 2 with input.a as 1

        test_huge if count([x | some x in numbers.range(1, 100000000)]) > 0

        test_after if data.demo.p.q == 3 with input.a as 2
    """)
    results = by_name(run_rego_tests([tmp_path], memory_limit_mb=200))
    assert "memory" in results["test_huge"].error
    assert results["test_small"].passed and results["test_after"].passed


# --- decisions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "input", "action", "rules", "redact", "reasons"), DECISION_TABLE,
                         ids=[case[0] for case in DECISION_TABLE])
def test_decision_table(engine, name, input, action, rules, redact, reasons):
    check(engine.evaluate(copy.deepcopy(input)), action, rules, redact, reasons)


def test_reasons_never_repeat_what_the_input_says_beyond_ids_entities_and_paths(engine):
    decision = engine.evaluate(policy_input(parse_error="bad byte in 'sk_live_abcdef'",
                                            violations=[{"path": "$.x", "kind": "too_long", "message": "value 'sk_live_abcdef'"}]))
    assert "sk_live_abcdef" not in json.dumps(decision)


def test_many_fields_and_findings_give_one_reason_each(engine):
    fields = [(f"$.metadata.mean.col{i}", "value_repr") for i in range(300)]
    findings = [finding(f"$.values.v{i}") for i in range(50)]
    decision = engine.evaluate(policy_input(fields=fields, findings=findings))
    assert decision["action"] == "block"
    assert len(decision["redact"]) == 300
    assert len(decision["reasons"]) == 350


def test_thresholds_come_from_data_overrides():
    case = policy_input(findings=[finding("$.values.note", "PERSON", score=0.85)])
    with RegopyEngine(data_overrides={"entity_thresholds": {"PERSON": 0.9}}) as lenient:
        assert lenient.evaluate(case)["action"] == "allow"
    with RegopyEngine(data_overrides={"thresholds": {"pii": 0.95}}) as lenient:
        assert lenient.evaluate(case)["action"] == "allow"


def test_a_passport_number_beside_its_word_blocks_with_the_shipped_data(engine):
    """Presidio scores a passport number 0.45 at most, even beside "passport" (written as
    a label, "passport number A12345678", it scores as under a `passport_number` key: 0.6)."""
    from metagate.proxy.inspection import Inspector, InspectorSettings
    from metagate.scanner.model import InspectionRequest

    inspector = Inspector(InspectorSettings(fingerprint_key=b"\x05" * 32))

    def inspect(note: str):
        body = {"resources": [{"id": "9f20e1c8-fa07-4da0-8716-bfea486047b9", "type": "pipeline_run"}],
                "values": {"note": note}, "types": {"note": "string"}}
        return inspector.inspect(InspectionRequest("POST", "/api/v1/run-metadata", json.dumps(body).encode(),
                                                   (("content-type", "application/json"),)))

    result = inspect("passport on file, number A12345678")
    [passport] = [f for f in result.findings if f["entity"] == "US_PASSPORT"]
    assert 0.4 <= passport["score"] < 0.5
    assert result.decision.action == "block" and "pii.detected" in result.decision.rules
    labelled = inspect("passport number A12345678")
    assert max(f["score"] for f in labelled.findings if f["entity"] == "US_PASSPORT") >= 0.5
    # The same score under another entity does not: only the passport's threshold moved.
    assert engine.evaluate(policy_input(findings=[finding("$.values.note", "US_BANK_NUMBER", score=0.45)]))["action"] == "allow"


def test_unknown_write_handling_comes_from_data_overrides():
    with RegopyEngine(data_overrides={"unknown_endpoint": {"write": "warn"}}) as engine:
        decision = engine.evaluate(policy_input(ep=endpoint(known=False)))
    assert decision["action"] == "warn"
    assert decision["warnings"] == ["endpoint.unknown_write: $"]


TEAM_PACKAGE = """
    package metagate.rules.acme

    block contains {"rule": "acme.host", "path": "$", "entity": "host"} if {
        not input.request.host in data.metagate.config.acme.allowed_hosts
    }

    redact contains {"rule": "acme.notes", "path": "$.values.notes", "entity": "user_dict"} if {
        some f in input.fields
        f.path == "$.values.notes"
    }

    exempt contains {"rule": "pii.detected", "path": "$.values.public_contact"}
"""


def test_a_team_package_contributes_without_editing_the_default(tmp_path):
    write(tmp_path, "acme/team.rego", TEAM_PACKAGE)
    write(tmp_path, "metagate/config/acme/data.json", json.dumps({"allowed_hosts": ["zenml.example.com"]}))
    with RegopyEngine(extra_dirs=[tmp_path]) as engine:
        redacted = engine.evaluate(policy_input(
            fields=[("$.values.notes", "user_dict")], findings=[finding("$.values.notes")]))
        exempted = engine.evaluate(policy_input(findings=[finding("$.values.public_contact")]))
        other_host = policy_input()
        other_host["request"]["host"] = "elsewhere.example.com"
        blocked = engine.evaluate(other_host)
    assert redacted["action"] == "redact" and redacted["rules"] == ["acme.notes"]
    assert exempted["action"] == "allow"
    assert blocked["action"] == "block" and blocked["reasons"] == ["acme.host: host at $"]


def test_the_readme_example_package_loads(tmp_path):
    readme = (DEFAULT_POLICY_DIR / "README.md").read_text()
    example = readme.split("```rego\n", 1)[1].split("```", 1)[0]
    write(tmp_path, "acme/acme.rego", example)
    write(tmp_path, "metagate/config/acme/data.json", json.dumps({"allowed_hosts": ["zenml.example.com"]}))
    with RegopyEngine(extra_dirs=[tmp_path]) as engine:
        decision = engine.evaluate(policy_input(fields=[("$.values.notes", "user_dict")]))
    assert decision["rules"] == ["acme.notes"]
