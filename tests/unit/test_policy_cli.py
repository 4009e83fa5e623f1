"""`metagate policy test|check|build`: exit status, reports for CI, explanations, coverage."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from metagate.policies.fixtures import FixtureError, load_fixture_file, load_fixtures
from metagate.policies.testing import DEFAULT_RULES, coverage_rules
from metagate.proxy.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_FIXTURES = ROOT / "policies" / "fixtures"
EXAMPLE = ROOT / "examples" / "custom-policy"
PII_FIXTURE = SHIPPED_FIXTURES / "findings" / "pii-in-run-metadata-blocked.json"
EMAIL = "jane.doe@example.com"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["policy", *args])
    out, err = capsys.readouterr()
    return code, out, err


def team_project(tmp_path: Path, rego: str, name: str = "team.rego") -> Path:
    package = tmp_path / "team" / "rego" / "metagate" / "rules" / "team"
    package.mkdir(parents=True)
    (package / name).write_text(rego)
    (tmp_path / "team" / "fixtures").mkdir()
    return tmp_path / "team"


def fixture(project: Path, name: str, expect: dict, request: dict | None = None) -> Path:
    document = json.loads(PII_FIXTURE.read_text())
    document.update(name=name, expect=expect)
    if request is not None:
        document["request"] = request
    path = project / "fixtures" / f"{name}.json"
    path.write_text(json.dumps(document, indent=2))
    return path


TEAM_RULE = """package metagate.rules.team

import data.metagate.lib

block contains lib.item("team.no_notes", f.path, "note") if {
	some f in input.fields
	endswith(f.path, ".note")
}
"""


# --- policy test --------------------------------------------------------------------------


def test_shipped_policy_passes_with_every_rule_covered(capsys):
    code, out, _ = run(capsys, "test", "--in-process", "--require-coverage", "--format", "json")
    report = json.loads(out)
    assert code == 0, out
    assert report["summary"]["failed"] == report["summary"]["errors"] == report["summary"]["broken"] == 0
    assert {c["suite"] for c in report["cases"]} == {"rego", "fixtures"}
    coverage = {c["rule"]: c for c in report["coverage"]}
    assert set(coverage) == set(DEFAULT_RULES)
    assert all(c["covered"] and c["firing"] and c["allowing"] for c in coverage.values())


def test_a_failing_fixture_exits_1_and_is_a_failure_in_junit(tmp_path, capsys):
    project = team_project(tmp_path, TEAM_RULE)
    fixture(project, "note-is-blocked", {"decision": "block", "rules": ["team.no_notes", "pii.detected"]})
    fixture(project, "wrongly-expected-allow", {"decision": "allow"})
    report = tmp_path / "junit.xml"
    code, _, err = run(capsys, "test", str(project), "--no-rego-tests", "--format", "junit", "--output", str(report))
    assert code == 1
    assert "wrongly-expected-allow" in err and "1 failed" in err
    suites = {s.get("name"): s for s in ET.parse(report).getroot()}
    fixtures = suites["fixtures"]
    assert (fixtures.get("tests"), fixtures.get("failures"), fixtures.get("errors")) == ("2", "1", "0")
    cases = {c.get("name"): c for c in fixtures.iter("testcase")}
    assert cases["note-is-blocked"].find("failure") is None
    failure = cases["wrongly-expected-allow"].find("failure")
    assert failure is not None and "decision block, expected allow" in failure.get("message")
    assert cases["wrongly-expected-allow"].get("file").endswith("wrongly-expected-allow.json")
    assert EMAIL not in report.read_text()


def test_a_rego_syntax_error_exits_2_with_file_and_line(tmp_path, capsys):
    broken = TEAM_RULE.replace('endswith(f.path, ".note")', 'endswith(f.path, ".note"')
    project = team_project(tmp_path, broken)
    report = tmp_path / "junit.xml"
    code, _, err = run(capsys, "test", str(project), "--format", "junit", "--output", str(report))
    assert code == 2
    rego_file = project / "rego" / "metagate" / "rules" / "team" / "team.rego"
    assert f"BROKEN {rego_file}:" in err
    line = int(err.split(f"BROKEN {rego_file}:", 1)[1].split(":", 1)[0])
    assert 5 <= line <= 8                # the unclosed call
    errors = [c for c in ET.parse(report).getroot().iter("testcase") if c.get("file") == str(rego_file)]
    assert errors and errors[0].find("error") is not None and int(errors[0].get("line")) == line


def test_a_policy_that_does_not_compile_exits_2_and_names_the_call(tmp_path, capsys):
    project = team_project(tmp_path, TEAM_RULE.replace("endswith(f.path", "no_such_function(f.path"))
    fixture(project, "anything", {"decision": "block"})
    code, out, _ = run(capsys, "test", str(project), "--no-rego-tests", "--in-process")
    assert code == 2
    rego_file = project / "rego" / "metagate" / "rules" / "team" / "team.rego"
    assert f"BROKEN {rego_file}:7:" in out and "no_such_function" in out


@pytest.mark.parametrize("text, where", [
    ('{"name": "x", "request": {"method": "GET", "path": "/api/v1/info"},\n "expect": {"decision": "maybe"}}', ":1:"),
    ('{"name": "x",\n "request": ', ":2:"),
    ('[{"request": {"method": "GET", "path": "/"}, "expect": {"decision": "allow"}},\n {"expect": {"decision": "allow"}}]', ":2:"),
])
def test_an_unreadable_fixture_exits_2_with_file_and_line(tmp_path, capsys, text, where):
    project = team_project(tmp_path, TEAM_RULE)
    path = project / "fixtures" / "bad.json"
    path.write_text(text)
    code, out, _ = run(capsys, "test", str(project), "--no-rego-tests", "--in-process")
    assert code == 2
    assert f"BROKEN {path}{where}" in out


def test_sarif_and_json_reports_locate_failures(tmp_path, capsys):
    project = team_project(tmp_path, TEAM_RULE)
    path = fixture(project, "expects-too-little", {"decision": "redact"})
    code, out, _ = run(capsys, "test", str(project), "--no-rego-tests", "--in-process", "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "policy-fixture")
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == str(path)
    code, out, _ = run(capsys, "test", str(project), "--no-rego-tests", "--in-process", "--format", "json")
    case = json.loads(out)["cases"][0]
    assert case["status"] == "failed" and case["actual"]["decision"] == "block"
    assert sorted(case["actual"]["rules"]) == ["pii.detected", "team.no_notes"]
    assert EMAIL not in out


def test_the_worked_example_passes_and_covers_its_own_rules(capsys):
    code, out, _ = run(capsys, "test", str(EXAMPLE), "--format", "json")
    report = json.loads(out)
    assert code == 0, out
    assert report["summary"]["passed"] >= 16         # its Rego tests and its fixtures
    assert {c["rule"] for c in report["coverage"]} == {"acme.forbidden_field", "pii.detected"}
    assert all(c["covered"] for c in report["coverage"])


def test_coverage_names_the_rules_a_team_writes_out(tmp_path):
    project = team_project(tmp_path, TEAM_RULE)
    rules = coverage_rules([project / "rego"], default_rules=False)
    assert rules == ["team.no_notes"]
    assert coverage_rules([project / "rego"])[: len(DEFAULT_RULES)] == list(DEFAULT_RULES)


def test_yaml_fixture_lists_have_lines_and_names(tmp_path):
    path = tmp_path / "cases.yaml"
    path.write_text(
        "- request: {method: GET, path: /api/v1/info}\n  expect: {decision: allow}\n"
        "- name: named\n  request: {method: GET, path: /api/v1/info}\n  expect: {decision: allow, not_rules: [x.y]}\n"
    )
    first, second = load_fixture_file(path)
    assert (first.name, first.line, second.name, second.line) == ("cases#0", 1, "named", 3)
    assert second.expect.not_rules == ("x.y",)
    (tmp_path / "dup.yaml").write_text("name: named\nrequest: {method: GET, path: /}\nexpect: {decision: allow}\n")
    with pytest.raises(FixtureError, match="also used"):
        load_fixtures([tmp_path])


# --- policy check -------------------------------------------------------------------------


def test_check_explains_the_rules_findings_and_a_stricter_mode(tmp_path, capsys):
    request = json.loads(PII_FIXTURE.read_text())["request"]
    body = json.loads(request["body_text"])
    body["unexpected_field"] = "x"
    request["body_text"] = json.dumps(body)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    code, out, _ = run(capsys, "check", str(path), "--in-process")
    assert code == 1
    assert "POST /api/v1/run-metadata: BLOCK" in out
    assert "block  pii.detected: EMAIL_ADDRESS at $.values.note" in out
    assert "finding EMAIL_ADDRESS (pii, presidio" in out
    assert "warn   schema.unknown_field" in out
    assert "would fire: schema.unknown_field: $.unexpected_field (a warning, counted as a block)" in out
    assert EMAIL not in out
    code, out, _ = run(capsys, "check", str(path), "--in-process", "--format", "json")
    explanation = json.loads(out)
    fired = {(f["rule"], f["effect"], f["path"]) for f in explanation["fired"]}
    assert ("pii.detected", "block", "$.values.note") in fired
    assert explanation["strict"]["decision"] == "block"
    assert EMAIL not in out


def test_check_says_why_a_finding_did_not_block(tmp_path, capsys):
    document = json.loads((SHIPPED_FIXTURES / "redaction" / "pii-in-source-code-is-redacted-not-blocked.json").read_text())
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document["request"]))
    code, out, _ = run(capsys, "check", str(path), "--format", "json")      # in a child process
    assert code == 0
    explanation = json.loads(out)
    assert explanation["decision"]["action"] == "redact"
    assert [(f["rule"], f["effect"]) for f in explanation["fired"]] == [("redact.code", "redact")]
    quiet = [f for f in explanation["findings"] if not f["rules"]]
    assert [(f["entity"], f["path"]) for f in quiet] == [("EMAIL_ADDRESS", "$.source_code")]
    assert "redacted" in quiet[0]["why_not"]


def test_check_with_a_team_policy_and_an_unreadable_request(tmp_path, capsys):
    request = json.loads((EXAMPLE / "fixtures" / "owner-email-in-run-metadata-allowed.json").read_text())["request"]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    code, out, _ = run(capsys, "check", str(path), "--in-process")
    assert code == 1                                  # the shipped policy blocks the address
    code, out, _ = run(capsys, "check", str(path), "--in-process", "--policy", str(EXAMPLE))
    assert code == 0 and "exempted for $.values" in out
    path.write_text("{not json")
    code, _, err = run(capsys, "check", str(path), "--in-process")
    assert code == 2 and str(path) in err


# --- policy build -------------------------------------------------------------------------


def test_build_writes_a_bundle_and_refuses_a_broken_policy(tmp_path, capsys):
    output = tmp_path / "dist" / "bundle.tar.gz"
    code, out, _ = run(capsys, "build", str(EXAMPLE), "--output", str(output), "--revision", "v1")
    assert code == 0 and output.is_file() and "revision v1" in out
    project = team_project(tmp_path, TEAM_RULE.replace('".note")', '".note"'))
    code, _, err = run(capsys, "build", str(project), "--output", str(tmp_path / "broken.tar.gz"))
    assert code == 2
    assert f"{project / 'rego' / 'metagate' / 'rules' / 'team' / 'team.rego'}:" in err
    assert not (tmp_path / "broken.tar.gz").exists()


def test_a_complete_policy_set_replaces_the_shipped_one(tmp_path, capsys):
    fork = tmp_path / "fork"
    shutil.copytree(ROOT / "policies" / "rego", fork / "rego")
    config = json.loads((fork / "rego" / "metagate" / "data.json").read_text())
    config["config"]["thresholds"]["pii"] = 1.01          # this fork never blocks on PII
    (fork / "rego" / "metagate" / "data.json").write_text(json.dumps(config))
    (fork / "fixtures").mkdir()
    fixture(fork, "pii-passes-in-the-fork", {"decision": "allow", "not_rules": ["pii.detected"]})
    code, out, _ = run(capsys, "test", str(fork), "--in-process", "--no-rego-tests")
    assert code == 0, out


def test_default_rules_name_every_rule_the_shipped_policy_can_produce():
    import re

    from metagate.policies.files import DEFAULT_POLICY_DIR
    from metagate.scanner.schemas import _KIND_BY_ERROR

    written = set()
    for path in DEFAULT_POLICY_DIR.rglob("*.rego"):
        if not path.name.endswith("_test.rego"):
            written |= set(re.findall(r'"((?:endpoint|schema|redact|pii|secret|blob|credential|headers)\.[a-z_]+)"', path.read_text()))
    config = json.loads((DEFAULT_POLICY_DIR / "metagate" / "data.json").read_text())["config"]
    built = {f"schema.{kind}" for kind in _KIND_BY_ERROR.values()}
    built |= {f"redact.{c}" for c in config["redact_classes"]}
    built |= {f"redact.{s.lstrip('.')}" for suffixes in config["redact_path_suffixes"].values() for s in suffixes}
    assert written | built <= set(DEFAULT_RULES)


def test_check_evaluates_a_bundle_and_names_its_revision(tmp_path, capsys):
    bundle = tmp_path / "acme.tar.gz"
    assert run(capsys, "build", str(EXAMPLE), "--output", str(bundle), "--revision", "acme-7")[0] == 0
    request = json.loads((EXAMPLE / "fixtures" / "customer-id-in-run-metadata-blocked.json").read_text())["request"]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    code, out, _ = run(capsys, "check", str(path), "--in-process", "--bundle", str(bundle), "--format", "json")
    explanation = json.loads(out)
    assert code == 1
    assert explanation["policy_revision"] == "acme-7"
    assert [(f["rule"], f["path"]) for f in explanation["fired"]] == [("acme.forbidden_field", "$.values.customer_id")]
