"""Policy fixtures: captured or hand-written requests with the decision the gate must reach.

A fixture file (`*.json`, `*.yaml`, `*.yml`) holds one fixture or a list of them:

```yaml
name: pii-email-in-run-metadata          # default: the file name (and #index in a list)
description: the SDK's log_metadata call with a made-up address in it
source: tests/corpus/captured/pii_pipeline.jsonl:21        # provenance, for people
request:                                 # a request object as `metagate scan` reads it
  method: POST
  path: /api/v1/run-metadata
  headers: {Content-Type: application/json}
  body_text: '{"values": {"note": "trained by jane.doe@example.com"}, ...}'
expect:
  decision: block                        # allow | warn | redact | block
  rules: [pii.detected]                  # optional: these rule ids must fire
  not_rules: [secret.detected]           # optional: these must not
settings:                                # optional, for this fixture only
  storage_prefixes: ["s3://ml-bucket/"]  # replaces the configured storage prefixes
  policy_data: {thresholds: {pii: 0.9}}  # merged into data.metagate.config
```

Errors name the file and line and never quote the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metagate.scanner.capture import CaptureError, request_from_record
from metagate.scanner.model import InspectionRequest

FIXTURE_SUFFIXES = (".json", ".yaml", ".yml")
DECISIONS = ("allow", "warn", "redact", "block")
_KEYS = frozenset({"name", "description", "source", "request", "expect", "settings"})
_EXPECT_KEYS = frozenset({"decision", "rules", "not_rules"})
_SETTINGS_KEYS = frozenset({"storage_prefixes", "policy_data"})


class FixtureError(ValueError):
    """A fixture cannot be read; the message starts with `file:line:`."""


@dataclass(frozen=True)
class Expectation:
    decision: str
    rules: tuple[str, ...] = ()
    not_rules: tuple[str, ...] = ()

    def problems(self, action: str, fired: Iterable[str]) -> list[str]:
        """Why a decision (`action`, rule ids `fired`) does not meet this expectation."""
        fired = set(fired)
        problems = []
        if action != self.decision:
            problems.append(f"decision {action}, expected {self.decision}")
        missing = [r for r in self.rules if r not in fired]
        if missing:
            problems.append(f"expected rules did not fire: {', '.join(missing)}")
        unwanted = [r for r in self.not_rules if r in fired]
        if unwanted:
            problems.append(f"rules fired that must not: {', '.join(unwanted)}")
        return problems


@dataclass(frozen=True)
class Fixture:
    name: str
    file: Path
    line: int
    request: InspectionRequest
    expect: Expectation
    description: str = ""
    source: str = ""
    storage_prefixes: tuple[str, ...] | None = None
    policy_data: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def fixture_files(paths: Iterable[Path | str]) -> list[Path]:
    """Fixture files under each path (a file or a directory, searched recursively)."""
    files: list[Path] = []
    for path in (Path(p) for p in paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FIXTURE_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise FixtureError(f"{path}:0: no such fixture file or directory")
    return files


def load_fixtures(paths: Iterable[Path | str]) -> list[Fixture]:
    """Every fixture under `paths`, in file order; the first unreadable one raises."""
    fixtures: list[Fixture] = []
    names: dict[str, str] = {}
    for path in fixture_files(paths):
        for fixture in load_fixture_file(path):
            if fixture.name in names:
                raise FixtureError(f"{fixture.where}: fixture name {fixture.name!r} is also used at {names[fixture.name]}")
            names[fixture.name] = fixture.where
            fixtures.append(fixture)
    return fixtures


def load_fixture_file(path: Path) -> list[Fixture]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{path}:0: cannot read ({type(exc).__name__})") from None
    documents, is_list = (_json_documents if path.suffix == ".json" else _yaml_documents)(text, path)
    return [
        _fixture(document, path, line, f"{path.stem}#{index}" if is_list else path.stem)
        for index, (document, line) in enumerate(documents)
    ]


def _json_documents(text: str, path: Path) -> tuple[list[tuple[Any, int]], bool]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixtureError(f"{path}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno})") from None
    if isinstance(document, list):
        lines = _array_item_lines(text)
        return [(item, lines[i] if i < len(lines) else 1) for i, item in enumerate(document)], True
    return [(document, 1 + text[: len(text) - len(text.lstrip())].count("\n"))], False


def _array_item_lines(text: str) -> list[int]:
    """The line each element of a top-level JSON array starts on (json gives no positions)."""
    lines: list[int] = []
    depth, line, in_string, escaped, expecting = 0, 1, False, False, False
    for char in text:
        if char == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char.isspace():
            continue
        if depth == 1 and expecting and char not in ",]":
            lines.append(line)
            expecting = False
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth == 1:
                expecting = True
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 1:
            expecting = True
    return lines


def _yaml_documents(text: str, path: Path) -> tuple[list[tuple[Any, int]], bool]:
    import yaml

    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise FixtureError(f"{path}:{line}: not YAML ({getattr(exc, 'problem', None) or type(exc).__name__})") from None
    if node is None:
        raise FixtureError(f"{path}:1: empty fixture file")
    if isinstance(document, list) and isinstance(node, yaml.SequenceNode):
        return [(item, child.start_mark.line + 1) for item, child in zip(document, node.value)], True
    return [(document, node.start_mark.line + 1)], False


def _fixture(document: Any, path: Path, line: int, default_name: str) -> Fixture:
    where = f"{path}:{line}"
    if not isinstance(document, Mapping):
        raise FixtureError(f"{where}: a fixture must be an object with request and expect")
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise FixtureError(f"{where}: unknown keys {', '.join(map(str, unknown))} (known: {', '.join(sorted(_KEYS))})")
    if "request" not in document or "expect" not in document:
        raise FixtureError(f"{where}: a fixture needs request and expect")
    try:
        request = request_from_record(document["request"], where)
    except CaptureError as exc:
        raise FixtureError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
    settings = document.get("settings") or {}
    if not isinstance(settings, Mapping) or set(settings) - _SETTINGS_KEYS:
        raise FixtureError(f"{where}: settings may hold {', '.join(sorted(_SETTINGS_KEYS))}")
    prefixes = settings.get("storage_prefixes")
    if prefixes is not None and not _strings(prefixes):
        raise FixtureError(f"{where}: settings.storage_prefixes must be a list of strings")
    policy_data = settings.get("policy_data") or {}
    if not isinstance(policy_data, Mapping):
        raise FixtureError(f"{where}: settings.policy_data must be an object")
    name = document.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise FixtureError(f"{where}: name must be a non-empty string")
    return Fixture(
        name=name.strip(),
        file=path,
        line=line,
        request=request,
        expect=_expectation(document["expect"], where),
        description=str(document.get("description") or ""),
        source=str(document.get("source") or ""),
        storage_prefixes=tuple(prefixes) if prefixes is not None else None,
        policy_data=json.loads(json.dumps(policy_data)),
    )


def _expectation(value: Any, where: str) -> Expectation:
    if not isinstance(value, Mapping) or set(value) - _EXPECT_KEYS:
        raise FixtureError(f"{where}: expect holds decision and optionally rules and not_rules")
    decision = value.get("decision")
    if decision not in DECISIONS:
        raise FixtureError(f"{where}: expect.decision must be one of {', '.join(DECISIONS)}")
    rules = value.get("rules") or []
    not_rules = value.get("not_rules") or []
    if not _strings(rules) or not _strings(not_rules):
        raise FixtureError(f"{where}: expect.rules and expect.not_rules must be lists of rule ids")
    both = sorted(set(rules) & set(not_rules))
    if both:
        raise FixtureError(f"{where}: {', '.join(both)} both expected and forbidden")
    return Expectation(decision, tuple(rules), tuple(not_rules))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)

