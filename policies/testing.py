"""`metagate policy test`: the Rego unit tests, then the fixture corpus through the full pipeline.

1. Rego unit tests (`test_*` rules) with the embedded engine, in child processes
   (`metagate.policies.rego_tests`).
2. Every fixture (`metagate.policies.fixtures`) through the Inspector the proxy's workers
   build (normalise → catalog → schema → detectors → Rego → redaction), in a spawned child
   process: a crash of the native engine costs that fixture an error, not the run.
3. Rule coverage: for each default rule (and each rule id a team's modules name), which
   passing fixtures make it fire and which expect an allow without it.

Exit status of the report: 0 all passed, 1 a test or fixture failed, 2 the policy is broken
(a module does not parse or compile) or a fixture cannot be read.
"""

from __future__ import annotations

import json
import multiprocessing
import pickle
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metagate.policies.errors import PolicyError
from metagate.policies.files import DEFAULT_POLICY_DIR, TEST_SUFFIX, apply_overrides
from metagate.policies.fixtures import Fixture, FixtureError, load_fixtures

if TYPE_CHECKING:
    from metagate.proxy.inspection import InspectorSettings
    from metagate.scanner.model import InspectionRequest

EXIT_PASSED, EXIT_FAILED, EXIT_BROKEN = 0, 1, 2
FIXTURE_TIMEOUT = 60.0
_START_BUDGET = 180.0        # a cold first import of spaCy/Presidio is slow

# The rule ids the shipped policy can produce (policies/rego/README.md). schema.<kind> and
# redact.<class|suffix> are built from data: these are the kinds and classes it ships with.
DEFAULT_RULES: tuple[str, ...] = (
    "endpoint.unknown_write",
    "endpoint.unknown_read",
    "schema.unparseable",
    "schema.too_long",
    "schema.too_deep",
    "schema.too_large",
    "schema.bad_type",
    "schema.uri_outside_storage",
    "schema.not_a_digest",
    "schema.unknown_field",
    "redact.code",
    "redact.package_list",
    "redact.value_repr",
    "redact.traceback",
    "pii.detected",
    "secret.detected",
    "blob.detected",
    "credential.write",
    "headers.credential_not_sent_by_sdk",
    "headers.authorization_shape",
    "headers.authorization_repeated",
)

# Rule ids written out in a team's modules: {"rule": "acme.x", ...} or lib.item("acme.x", ...).
_RULE_LITERAL = re.compile(r'(?:"rule"\s*:\s*|\bitem\(\s*)"([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)"')


@dataclass
class CaseResult:
    """One Rego test or one fixture."""

    suite: str                  # "rego" | "fixtures"
    group: str                  # Rego package, or the fixture file's stem
    name: str
    file: str
    line: int
    status: str                 # passed | failed | error
    message: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuleCoverage:
    rule: str
    firing: list[str] = field(default_factory=list)     # passing fixtures that expect it to fire
    allowing: list[str] = field(default_factory=list)   # passing fixtures that expect allow without it

    @property
    def covered(self) -> bool:
        return bool(self.firing) and bool(self.allowing)

    @property
    def missing(self) -> list[str]:
        return [what for what, names in (("firing", self.firing), ("allow", self.allowing)) if not names]


@dataclass
class PolicyTestReport:
    policy_dirs: list[str]
    fixture_paths: list[str]
    cases: list[CaseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # "file:line: message": broken policy or fixture
    coverage: list[RuleCoverage] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str, suite: str | None = None) -> int:
        return sum(1 for c in self.cases if c.status == status and (suite is None or c.suite == suite))

    @property
    def uncovered(self) -> list[RuleCoverage]:
        return [c for c in self.coverage if not c.covered]

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_BROKEN
        if any(c.status != "passed" for c in self.cases):
            return EXIT_FAILED
        return EXIT_PASSED


# --- the run ------------------------------------------------------------------------------


def run_policy_tests(
    settings: InspectorSettings,
    fixture_paths: Sequence[Path],
    *,
    rego_tests: bool = True,
    in_process: bool = False,
    fixture_timeout: float = FIXTURE_TIMEOUT,
    default_rules: bool = True,
) -> PolicyTestReport:
    """Rego unit tests of the policy `settings` load, then the fixtures under `fixture_paths`.

    Coverage is reported for the rule ids the team's modules write out, and for the shipped
    policy's rules too when `default_rules` (the shipped corpus covers them)."""
    from metagate.proxy.policy_layout import policy_dirs

    started = time.monotonic()
    dirs = policy_dirs(settings)
    report = PolicyTestReport([str(d) for d in dirs], [str(p) for p in fixture_paths])
    policy_broken = _run_rego_tests(dirs, report) if rego_tests else False
    try:
        fixtures = load_fixtures(fixture_paths) if fixture_paths else []
    except FixtureError as exc:
        report.problems.append(str(exc))
        fixtures = []
    if fixtures and not policy_broken:     # a module that does not parse: no fixture can run
        _run_fixtures(settings, fixtures, dirs, report, in_process, fixture_timeout)
    report.coverage = rule_coverage(fixtures, report.cases, coverage_rules(dirs, default_rules))
    report.seconds = time.monotonic() - started
    return report


def _run_rego_tests(dirs: Sequence[Path], report: PolicyTestReport) -> bool:
    """Adds the results to `report`; True when a policy module (not a test) does not parse."""
    from metagate.policies.rego_tests import run_rego_tests

    try:
        results = run_rego_tests(dirs)
    except (PolicyError, OSError, UnicodeDecodeError) as exc:
        report.problems.append(f"{exc}")
        return True
    policy_broken = False
    for result in results:
        status = "passed" if result.passed else ("error" if result.error else "failed")
        message = result.error or ("" if result.passed else "the test rule is not true")
        if result.name in ("<parse>", "<lint>"):
            report.problems.append(message if message.startswith(result.file) else f"{result.file}:{result.line}: {message}")
            policy_broken |= result.name == "<parse>" and not result.file.endswith(TEST_SUFFIX)
        report.cases.append(CaseResult("rego", result.package, result.name, result.file, result.line, status, message))
    return policy_broken


def fixture_settings(settings: InspectorSettings, fixture: Fixture) -> InspectorSettings:
    """The settings one fixture is evaluated with: its storage prefixes and policy data."""
    data = apply_overrides(json.loads(json.dumps(settings.policy_data)), fixture.policy_data)
    prefixes = fixture.storage_prefixes if fixture.storage_prefixes is not None else settings.storage_prefixes
    return replace(settings, storage_prefixes=tuple(prefixes), policy_data=data)


def _run_fixtures(
    settings: InspectorSettings, fixtures: Sequence[Fixture], dirs: Sequence[Path],
    report: PolicyTestReport, in_process: bool, timeout: float,
) -> None:
    evaluator: _Evaluator = _InProcess() if in_process else _ChildProcess()
    broken: str | None = None
    try:
        for fixture in fixtures:
            started = time.monotonic()
            if broken is not None:
                outcome: tuple[str, Any] = ("error", "not run: the policy does not compile")
            else:
                outcome = evaluator.evaluate(fixture_settings(settings, fixture), fixture.request, timeout)
                if outcome[0] == "broken":
                    broken = locate(str(outcome[1]), dirs)
                    report.problems.append(broken)
                    outcome = ("error", f"the policy does not compile: {broken}")
                elif outcome[0] == "policy_error":
                    # regopy reports some compile errors (an unknown function) only when the
                    # rule is evaluated: a broken policy all the same.
                    problem = locate(str(outcome[1]), dirs)
                    if problem not in report.problems:
                        report.problems.append(problem)
                    outcome = ("error", f"the policy failed on this request: {problem}")
            report.cases.append(_fixture_case(fixture, outcome, time.monotonic() - started))
    finally:
        evaluator.close()


def _fixture_case(fixture: Fixture, outcome: tuple[str, Any], seconds: float) -> CaseResult:
    kind, value = outcome
    case = CaseResult("fixtures", fixture.file.parent.name, fixture.name, str(fixture.file), fixture.line, "passed",
                      seconds=round(seconds, 3))
    case.details["expected"] = {"decision": fixture.expect.decision, "rules": list(fixture.expect.rules),
                                "not_rules": list(fixture.expect.not_rules)}
    if kind != "ok":
        case.status, case.message = "error", str(value)
        return case
    case.details["actual"] = value
    problems = fixture.expect.problems(value["decision"], value["rules"])
    if problems:
        case.status = "failed"
        case.message = "; ".join(problems)
    return case


# --- coverage -----------------------------------------------------------------------------


def coverage_rules(dirs: Sequence[Path], default_rules: bool = True) -> list[str]:
    """The default rules (if asked for), then every rule id a team's (non-test) modules write out."""
    rules = list(DEFAULT_RULES) if default_rules else []
    for root in dirs:
        if Path(root).resolve() == DEFAULT_POLICY_DIR.resolve() or not Path(root).is_dir():
            continue
        for path in sorted(Path(root).rglob("*.rego")):
            if path.name.endswith(TEST_SUFFIX):
                continue
            for rule in _RULE_LITERAL.findall(path.read_text(encoding="utf-8", errors="replace")):
                if rule not in rules:
                    rules.append(rule)
    return rules


def rule_coverage(fixtures: Sequence[Fixture], cases: Sequence[CaseResult], rules: Iterable[str]) -> list[RuleCoverage]:
    """Per rule, the passing fixtures that assert it fires, and those that assert an allow
    without it. Only passing fixtures count: coverage is of behaviour that was checked."""
    passed = {c.name for c in cases if c.suite == "fixtures" and c.status == "passed"}
    coverage = []
    for rule in rules:
        entry = RuleCoverage(rule)
        for fixture in fixtures:
            if fixture.name not in passed:
                continue
            if rule in fixture.expect.rules:
                entry.firing.append(fixture.name)
            if rule in fixture.expect.not_rules and fixture.expect.decision == "allow":
                entry.allowing.append(fixture.name)
        coverage.append(entry)
    return coverage


# --- locating Rego errors -----------------------------------------------------------------

_LOCATION = re.compile(r"(?P<file>[\w./-]+\.rego):(?P<line>\d+)")
_NOT_FOUND = re.compile(r"(?:Function|Rule|Reference|Variable) not found: (?P<name>[\w.]+)", re.IGNORECASE)


def locate(message: str, dirs: Sequence[Path]) -> str:
    """`message` with module paths made real file paths, and a file:line added for errors
    regopy reports without one (an unknown function: where it is first called)."""
    def real(match: re.Match[str]) -> str:
        relpath = match.group("file")
        for root in dirs:
            candidate = Path(root) / relpath
            if candidate.is_file():
                return f"{candidate}:{match.group('line')}"
        return match.group(0)

    located = _LOCATION.sub(real, message)
    if _LOCATION.search(located):
        return located
    missing = _NOT_FOUND.search(message)
    if missing:
        name = missing.group("name").rsplit(".", 1)[-1]
        use = re.compile(rf"\b{re.escape(name)}\s*\(")
        for root in dirs:
            for path in sorted(Path(root).rglob("*.rego")):
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                for number, line in enumerate(lines, start=1):
                    if use.search(line.split("#", 1)[0]):
                        return f"{path}:{number}: {located}"
    return located


# --- evaluation: in a child process, or here ----------------------------------------------


def _summary(result: Any) -> dict[str, Any]:
    decision = result.decision
    return {
        "decision": decision.action,
        "rules": list(decision.rules),
        "reasons": list(decision.reasons),
        "warnings": list(decision.warnings),
        "endpoint": result.endpoint,
        "policy_hash": result.policy_hash,
    }


def _evaluate(cache: dict[bytes, Any], settings: InspectorSettings, request: InspectionRequest) -> tuple[str, Any]:
    """("ok", summary), ("broken", why the policy does not build), ("policy_error", why the
    policy failed on this request) or ("error", why inspection failed)."""
    key = pickle.dumps(settings)
    inspector = cache.get(key)
    if inspector is None:
        try:
            inspector = cache[key] = settings.build()
        except Exception as exc:  # noqa: BLE001 - any build failure is a broken policy or config
            return ("broken", f"{exc}" if isinstance(exc, PolicyError) else f"{type(exc).__name__}: {exc}")
    try:
        return ("ok", _summary(inspector.inspect(request)))
    except PolicyError as exc:       # their messages never quote the input
        return ("policy_error", str(exc))
    except Exception as exc:  # noqa: BLE001 - the type only: a message can quote the payload
        return ("error", f"inspection failed ({type(exc).__name__})")


class _Evaluator:
    def evaluate(self, settings: InspectorSettings, request: InspectionRequest, timeout: float) -> tuple[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        return None


class _InProcess(_Evaluator):
    def __init__(self) -> None:
        self.cache: dict[bytes, Any] = {}

    def evaluate(self, settings: InspectorSettings, request: InspectionRequest, timeout: float) -> tuple[str, Any]:
        return _evaluate(self.cache, settings, request)


def _child_main(conn: Any) -> None:
    cache: dict[bytes, Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        conn.send(_evaluate(cache, *message))


class _ChildProcess(_Evaluator):
    """One spawned child evaluates fixture after fixture; it is replaced if it dies or hangs."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None
        self._fresh = True

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._process = self._ctx.Process(target=_child_main, args=(child,), daemon=True, name="metagate-policy-test")
        self._process.start()
        child.close()
        self._conn = parent
        self._fresh = True

    def evaluate(self, settings: InspectorSettings, request: InspectionRequest, timeout: float) -> tuple[str, Any]:
        if self._process is None or not self._process.is_alive():
            self._start()
        try:
            self._conn.send((settings, request))
            # The first fixture also pays for starting the child (imports, detectors).
            if self._conn.poll(timeout + _START_BUDGET if self._fresh else timeout):
                self._fresh = False
                return self._conn.recv()
            self._kill()
            return ("error", f"no decision within {timeout:g} s: the evaluation was stopped")
        except (EOFError, OSError):
            code = self._process.exitcode if self._process is not None else None
            self._kill()
            return ("error", f"the policy engine crashed on this fixture (exit code {code})")

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
        if self._process is not None:
            self._process.join(5)
        self._kill()
