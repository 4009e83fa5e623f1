"""Run the Rego unit tests (`test_*` rules) with regopy, without an OPA binary.

The evaluation runs in a child process: regopy 1.5 segfaults on some `with` forms and can
grow past gigabytes on others (see regopy_backend), and either must come back as an errored
test, not take the caller down. The child reports each test as it goes; if it dies, the
test it was on is marked and the rest run in a fresh child. If it dies while compiling, the
test files are retried one per child to find the one responsible.

Usage: `python -m metagate.policies.rego_tests [DIR ...]` (default: the shipped policy).
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metagate.policies.errors import PolicyError
from metagate.policies.files import (
    DEFAULT_POLICY_DIR,
    TEST_SUFFIX,
    config_with_overrides,
    load_policy_data,
)

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
# A test is a rule at the start of a line named test_*, not a function (no parameters).
_TEST_RULE = re.compile(r"^(test_\w+)\b(?!\s*\()", re.MULTILINE)


@dataclass(frozen=True)
class RegoTestResult:
    package: str
    name: str
    passed: bool
    error: str | None
    file: str
    line: int

    def __str__(self) -> str:
        status = "PASS" if self.passed else ("ERROR" if self.error else "FAIL")
        detail = f": {self.error}" if self.error else ""
        return f"{status} {self.file}:{self.line} {self.package}.{self.name}{detail}"


@dataclass(frozen=True)
class _Test:
    key: int
    package: str
    name: str
    file: str
    line: int

    @property
    def entrypoint(self) -> str:
        return "/".join([*self.package.split("."), self.name])


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def discover_tests(file: str, text: str, first_key: int = 0) -> list[_Test]:
    package = _PACKAGE.search(text)
    if not package:
        return []
    seen: set[str] = set()
    tests = []
    for match in _TEST_RULE.finditer(text):
        name = match.group(1)
        if name in seen:                 # incremental definitions of one test rule
            continue
        seen.add(name)
        tests.append(_Test(first_key + len(tests), package.group(1), name, file, _line_of(text, match.start())))
    return tests


def _load_modules(dirs: Sequence[Path]) -> list[tuple[str, str]]:
    modules = []
    for root in dirs:
        if not root.is_dir():
            raise PolicyError(f"policy directory not found: {root}")
        for path in sorted(root.rglob("*.rego")):
            modules.append((str(path), path.read_text(encoding="utf-8")))
    return modules


def run_rego_tests(
    dirs: Path | str | Iterable[Path | str] = (DEFAULT_POLICY_DIR,),
    *,
    data_overrides: Mapping[str, Any] | None = None,
    lint: bool = True,
    timeout: float = 300.0,
    test_timeout: float = 60.0,
    memory_limit_mb: int = 1500,
) -> list[RegoTestResult]:
    """Evaluate every `test_*` rule under `dirs` with regopy, in child processes.

    `lint` refuses, before running anything, test files that use `with` forms known to crash
    regopy; turn it off only to exercise the crash handling itself.
    """
    roots = [Path(dirs)] if isinstance(dirs, (str, Path)) else [Path(d) for d in dirs]
    modules = _load_modules(roots)
    data = config_with_overrides(load_policy_data(roots), data_overrides)
    results: dict[int, RegoTestResult] = {}
    extra: list[RegoTestResult] = []
    tests: list[_Test] = []
    for name, text in modules:
        tests.extend(discover_tests(name, text, first_key=len(tests)))

    excluded: set[str] = set()
    if lint:
        from metagate.policies.regopy_backend import lint_with_forms

        for name, text in modules:
            problems = lint_with_forms(name, text)
            if not problems:
                continue
            excluded.add(name)
            message = "; ".join(f"line {p.line}: {p.message}" for p in problems)
            file_tests = [t for t in tests if t.file == name]
            for test in file_tests:
                results[test.key] = RegoTestResult(test.package, test.name, False, message, test.file, test.line)
            if not file_tests:
                extra.append(RegoTestResult(_package_of(text), "<lint>", False, message, name, problems[0].line))

    runner = _ChildRunner(data, timeout, test_timeout, memory_limit_mb)
    usable = [(n, t) for n, t in modules if n not in excluded]
    todo = [t for t in tests if t.key not in results]
    outcome = runner.run(usable, todo)
    if outcome.compile_crash and len({t.file for t in todo}) > 1:
        # Something crashed regopy while compiling: one test file per child finds which.
        policy = [(n, t) for n, t in usable if not n.endswith(TEST_SUFFIX)]
        policy_names = {n for n, _ in policy}
        for test in todo:
            runner.results.pop(test.key, None)
        for file in sorted({t.file for t in todo}):
            own = [] if file in policy_names else [(n, t) for n, t in usable if n == file]
            runner.run(policy + own, [t for t in todo if t.file == file])
    for test in tests:
        if test.key in results:
            continue
        results[test.key] = runner.results.get(test.key) or RegoTestResult(
            test.package, test.name, False, "not run", test.file, test.line
        )
    return extra + runner.extra + [results[t.key] for t in tests]


def _package_of(text: str) -> str:
    match = _PACKAGE.search(text)
    return match.group(1) if match else ""


@dataclass
class _Outcome:
    compile_crash: bool = False


class _ChildRunner:
    def __init__(self, data: dict[str, Any], timeout: float, test_timeout: float, memory_limit_mb: int) -> None:
        self.data = data
        self.deadline = time.monotonic() + timeout
        self.test_timeout = test_timeout
        self.memory_limit_mb = memory_limit_mb
        self.results: dict[int, RegoTestResult] = {}
        self.extra: list[RegoTestResult] = []
        self._parse_errors_seen: set[tuple[str, int, str]] = set()

    def run(self, modules: list[tuple[str, str]], tests: list[_Test]) -> _Outcome:
        """Run `tests` against `modules`, restarting the child after each crash."""
        outcome = _Outcome()
        remaining = list(tests)
        while remaining:
            ready, current, failure = self._run_child(modules, remaining)
            remaining = [t for t in remaining if t.key not in self.results]
            if failure is None:
                break
            if not ready:
                outcome.compile_crash = True
                for test in remaining:
                    self._record(test, False, f"regopy failed while compiling: {failure}")
                break
            culprit = current if current is not None and current.key not in self.results else None
            if culprit is None and remaining:
                culprit = remaining[0]   # died between two tests: blame the next, so each restart progresses
            if culprit is not None:
                self._record(culprit, False, f"regopy failed on this test: {failure}")
                remaining = [t for t in remaining if t.key != culprit.key]
            if time.monotonic() > self.deadline:
                for test in remaining:
                    self._record(test, False, "not run: the test run timed out")
                break
        return outcome

    def _record(self, test: _Test, passed: bool, error: str | None) -> None:
        self.results[test.key] = RegoTestResult(test.package, test.name, passed, error, test.file, test.line)

    def _run_child(self, modules: list[tuple[str, str]], tests: list[_Test]) -> tuple[bool, _Test | None, str | None]:
        """(compiled, test running when it died, why it died or None)."""
        by_key = {t.key: t for t in tests}
        job = {
            "modules": modules,
            "data": self.data,
            "tests": [{"key": t.key, "entrypoint": t.entrypoint, "file": t.file} for t in tests],
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "metagate.policies.rego_tests", "--child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(job))
            process.stdin.close()
        except BrokenPipeError:
            pass
        ready, current, failure = False, None, None
        last_progress = time.monotonic()
        try:
            while True:
                try:
                    line = lines.get(timeout=0.05)
                except queue.Empty:
                    line = ""
                if line is None:
                    code = process.wait()
                    if code != 0:
                        failure = _exit_reason(code)
                    break
                if line:
                    last_progress = time.monotonic()
                    event = json.loads(line)
                    kind = event["event"]
                    if kind == "ready":
                        ready = True
                    elif kind == "start":
                        current = by_key[event["key"]]
                    elif kind == "result":
                        self._record(by_key[event["key"]], event["passed"], event["error"])
                        current = None
                    elif kind == "problem":
                        self._parse_problem(event)
                    continue
                rss = _rss_mb(process.pid)
                now = time.monotonic()
                if rss > self.memory_limit_mb:
                    failure = f"killed: memory over {self.memory_limit_mb} MB"
                elif now - last_progress > self.test_timeout:
                    failure = f"killed: no progress for {self.test_timeout:g} s"
                elif now > self.deadline:
                    failure = "killed: the test run timed out"
                if failure:
                    process.kill()
                    process.wait()
                    break
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return ready, current, failure

    def _parse_problem(self, event: dict[str, Any]) -> None:
        key = (event["file"], event["line"], event["message"])
        if key in self._parse_errors_seen:
            return
        self._parse_errors_seen.add(key)
        self.extra.append(RegoTestResult(
            event.get("package", ""), "<parse>", False,
            f"{event['file']}:{event['line']}:{event['column']}: {event['message']}",
            event["file"], event["line"],
        ))


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            import signal

            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def _rss_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return 0


# --- the child ----------------------------------------------------------------------------

def _child_main() -> int:
    from metagate.policies import regopy_backend as backend
    from regopy import RegoError

    job = json.loads(sys.stdin.read())

    def emit(**event: Any) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    interpreter = backend.new_interpreter()
    backend.add_data(interpreter, job["data"])
    broken: set[str] = set()
    for name, text in job["modules"]:
        try:
            interpreter.add_module(name, text)
        except RegoError as exc:
            broken.add(name)
            problems = backend.parse_error_tree(str(exc), {name: text}) or [backend.Diagnostic(name, 0, 0, "does not parse")]
            for problem in problems[:1]:     # regopy follows the first error with echoes of it
                emit(event="problem", file=problem.file or name, line=problem.line, column=problem.column,
                     message=problem.message, package=_package_of(text))
    tests = [t for t in job["tests"] if t["file"] not in broken]
    for test in job["tests"]:
        if test["file"] in broken:
            emit(event="result", key=test["key"], passed=False, error="the file did not parse")
    if not tests:
        emit(event="ready")
        return 0
    try:
        bundle = backend.build(interpreter, [t["entrypoint"] for t in tests])
    except PolicyError as exc:
        emit(event="ready")
        for test in tests:
            emit(event="result", key=test["key"], passed=False, error=str(exc))
        return 0
    emit(event="ready")
    for test in tests:
        emit(event="start", key=test["key"])
        try:
            value = backend.query_json(interpreter, bundle, test["entrypoint"])
            error = None
        except PolicyError as exc:
            value, error = None, str(exc)
        emit(event="result", key=test["key"], passed=value is True, error=error)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="policy directories (default: the shipped policy)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child_main()
    results = run_rego_tests(args.dirs or [DEFAULT_POLICY_DIR])
    for result in results:
        if not result.passed:
            print(result)
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
