"""Reports of `metagate policy test`: for people, JUnit XML, SARIF 2.1.0 and JSON.

All four render one `PolicyTestReport`. They hold rule ids, decisions, paths and messages of
the engine, never a request body: a report can be attached to any CI run.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from metagate.policies.testing import CaseResult, PolicyTestReport
from metagate.scanner.outputs import sarif_log

FORMATS = ("human", "junit", "sarif", "json")
SUITE_TITLES = {"rego": "Rego unit tests", "fixtures": "policy fixtures"}


def render_report(report: PolicyTestReport, fmt: str, tool_version: str = "") -> str:
    if fmt == "human":
        return render_human(report)
    if fmt == "junit":
        return render_junit(report)
    if fmt == "sarif":
        return json.dumps(render_sarif(report, tool_version), indent=2) + "\n"
    if fmt == "json":
        return json.dumps(report_document(report), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


# --- people -------------------------------------------------------------------------------


def render_human(report: PolicyTestReport) -> str:
    lines: list[str] = []
    for problem in report.problems:
        lines.append(f"BROKEN {problem}")
    for case in report.cases:
        if case.status != "passed":
            label = "FAIL" if case.status == "failed" else "ERROR"
            lines.append(f"{label} {case.file}:{case.line} {case.group}.{case.name}: {case.message}")
            actual = case.details.get("actual")
            if actual:
                lines.append(f"     got {actual['decision']}: {', '.join(actual['rules']) or 'no rules'}")
    for suite in ("rego", "fixtures"):
        total = sum(1 for c in report.cases if c.suite == suite)
        if total:
            lines.append(f"{SUITE_TITLES[suite]}: {report.count('passed', suite)} of {total} passed")
    if report.coverage:
        covered = sum(1 for c in report.coverage if c.covered)
        lines.append(f"rule coverage: {covered} of {len(report.coverage)} rules have a firing and an allow fixture")
        for entry in report.uncovered:
            lines.append(f"  not covered: {entry.rule} (no {' and no '.join(entry.missing)} fixture)")
    passed = report.count("passed")
    lines.append(f"{passed} passed, {len(report.cases) - passed} failed")
    return "\n".join(lines) + "\n"


# --- JUnit XML ----------------------------------------------------------------------------


def render_junit(report: PolicyTestReport) -> str:
    root = ET.Element("testsuites", {
        "name": "metagate policy test",
        "tests": str(len(report.cases) + len(report.problems)),
        "failures": str(report.count("failed")),
        "errors": str(report.count("error") + len(report.problems)),
        "time": f"{report.seconds:.3f}",
    })
    if report.problems:
        broken = str(len(report.problems))
        suite = ET.SubElement(root, "testsuite", {"name": "policy", "tests": broken, "failures": "0",
                                                  "errors": broken, "skipped": "0", "time": "0.000"})
        for problem in report.problems:
            file, line, message = _split_location(problem)
            attrs = {"classname": "policy", "name": f"broken: {file or 'policy'}"}
            if file:
                attrs.update(file=file, line=str(line))
            case = ET.SubElement(suite, "testcase", attrs)
            ET.SubElement(case, "error", {"message": message, "type": "broken"}).text = problem
    for name in ("rego", "fixtures"):
        cases = [c for c in report.cases if c.suite == name]
        if not cases:
            continue
        suite = _suite(root, name, cases)
        for case in cases:
            _testcase(suite, case)
        if name == "fixtures" and report.coverage:
            ET.SubElement(suite, "system-out").text = _coverage_text(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str, cases: list[CaseResult]) -> ET.Element:
    return ET.SubElement(root, "testsuite", {
        "name": name,
        "tests": str(len(cases)),
        "failures": str(sum(1 for c in cases if c.status == "failed")),
        "errors": str(sum(1 for c in cases if c.status == "error")),
        "skipped": "0",
        "time": f"{sum(c.seconds for c in cases):.3f}",
    })


def _testcase(suite: ET.Element, case: CaseResult) -> None:
    element = ET.SubElement(suite, "testcase", {
        "classname": case.group, "name": case.name, "file": case.file, "line": str(case.line),
        "time": f"{case.seconds:.3f}",
    })
    if case.status == "passed":
        return
    tag = "failure" if case.status == "failed" else "error"
    detail = ET.SubElement(element, tag, {"message": case.message, "type": tag})
    actual = case.details.get("actual")
    if actual:
        detail.text = "\n".join([case.message, f"decision: {actual['decision']}",
                                 *(f"reason: {r}" for r in actual["reasons"]),
                                 *(f"warning: {w}" for w in actual["warnings"])])
    else:
        detail.text = case.message


def _coverage_text(report: PolicyTestReport) -> str:
    lines = ["rule coverage (firing fixtures / allow fixtures):"]
    for entry in report.coverage:
        lines.append(f"  {entry.rule}: {len(entry.firing)} / {len(entry.allowing)}")
    return "\n".join(lines)


def _split_location(problem: str) -> tuple[str, int, str]:
    """("file.rego", 12, "message") from "file.rego:12[:col]: message"."""
    parts = problem.split(":", 3)
    if len(parts) >= 3 and parts[1].isdigit():
        rest = parts[3] if len(parts) == 4 and parts[2].isdigit() else ":".join(parts[2:])
        return parts[0], int(parts[1]), rest.strip()
    return "", 0, problem


# --- SARIF 2.1.0 --------------------------------------------------------------------------

_SARIF_RULES = {
    "policy-broken": "A Rego module or fixture cannot be parsed, compiled or read",
    "rego-test": "A Rego unit test (test_ rule) is not true",
    "policy-fixture": "A request fixture did not get the decision it expects",
    "rule-coverage": "A policy rule has no passing fixture that makes it fire, or none that allows without it",
}


def render_sarif(report: PolicyTestReport, tool_version: str = "") -> dict[str, Any]:
    rule_ids = list(_SARIF_RULES)
    results: list[dict[str, Any]] = []

    def add(rule: str, level: str, message: str, file: str, line: int, properties: dict[str, Any] | None = None) -> None:
        result: dict[str, Any] = {"ruleId": rule, "ruleIndex": rule_ids.index(rule), "level": level,
                                  "message": {"text": message}}
        if file:
            location: dict[str, Any] = {"artifactLocation": {"uri": file}}
            if line > 0:
                location["region"] = {"startLine": line}
            result["locations"] = [{"physicalLocation": location}]
        if properties:
            result["properties"] = properties
        results.append(result)

    for problem in report.problems:
        file, line, message = _split_location(problem)
        add("policy-broken", "error", message, file, line)
    for case in report.cases:
        if case.status == "passed":
            continue
        rule = "rego-test" if case.suite == "rego" else "policy-fixture"
        add(rule, "error", f"{case.group}.{case.name}: {case.message}", case.file, case.line, case.details or None)
    for entry in report.uncovered:
        add("rule-coverage", "note", f"{entry.rule}: no {' and no '.join(entry.missing)} fixture", "", 0)
    rules = [{"id": rid, "name": rid, "shortDescription": {"text": text}} for rid, text in _SARIF_RULES.items()]
    return sarif_log("metagate-policy-test", rules, results, {"executionSuccessful": not report.problems}, tool_version)


# --- JSON ---------------------------------------------------------------------------------


def report_document(report: PolicyTestReport) -> dict[str, Any]:
    return {
        "summary": {
            "exit_code": report.exit_code,
            "passed": report.count("passed"),
            "failed": report.count("failed"),
            "errors": report.count("error"),
            "broken": len(report.problems),
            "seconds": round(report.seconds, 3),
        },
        "policy_dirs": report.policy_dirs,
        "fixture_paths": report.fixture_paths,
        "problems": report.problems,
        "cases": [
            {"suite": c.suite, "group": c.group, "name": c.name, "file": c.file, "line": c.line,
             "status": c.status, "message": c.message, "seconds": c.seconds, **c.details}
            for c in report.cases
        ],
        "coverage": [
            {"rule": c.rule, "covered": c.covered, "firing": c.firing, "allowing": c.allowing}
            for c in report.coverage
        ],
    }
