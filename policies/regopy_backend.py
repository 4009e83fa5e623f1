"""regopy (rego-cpp 1.5) as the embedded engine uses it, with its known faults worked around.

What was found on regopy 1.5.2, through the bundle path used here and Interpreter.query alike
(tests/unit/test_policies.py and test_engines.py pin the ones this code depends on):

- `with input as <non-empty object>` segfaults, whether the object is a literal, a local or a
  rule; so does `with <target> as <reference path>` (e.g. `as fixtures.base`). A rule name as
  the value (`as base`) evaluates to undefined. Safe: `with input.<key> as <literal or local>`
  and `with data.<path> as <literal or local>`. `lint_with_forms` finds the unsafe forms.
- A `with` on a rule that depends on many others (`main.decision`) copies its dependency
  graph: through `Interpreter.query` that grows past gigabytes; compiled as a bundle
  entrypoint (what rego_tests does) it costs ~85 MB per test. Package-level rules are cheap.
- Strings given through the Python Input builder are stored unescaped: a `"` or `\\` in them
  breaks equality with Rego literals and makes the output invalid JSON. rego-cpp keeps
  strings in their JSON-escaped form, so `escape_strings` escapes them the same way first.
- Building a set of n elements costs O(n^2); arrays are linear (see policies/rego/README.md).
- `sprintf("%s", ...)` quotes strings that went through a function call; `concat` does not.
- Errors surface in three ways: RegoError from add_module (syntax), an output that is not ok,
  or an ok output whose text is an `(error ...)` tree. `query_json` turns all into PolicyError.

The engine compiles once (`Interpreter.build` with the decision as entrypoint) and then only
sets the input and queries the bundle: no per-request compilation, no `with`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import regopy
from metagate.policies.errors import PolicyError
from regopy import Interpreter, RegoError
from regopy.interpreter import Bundle
from regopy.rego_shared import (
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_output_ok,
    rego_output_string,
)

UNDEFINED = object()


@dataclass(frozen=True)
class Diagnostic:
    """A problem in a Rego module, located by file and line (1-based) where known."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else (self.file or "<policy>")
        return f"{where}: {self.message}"


def new_interpreter() -> Interpreter:
    interpreter = Interpreter()
    interpreter.log_level = regopy.LogLevel.NONE     # errors come back as values, not stderr
    return interpreter


def add_data(interpreter: Interpreter, data: dict[str, Any]) -> None:
    # ensure_ascii=False: rego-cpp compares strings in their stored form, and Rego sources
    # and escape_strings() keep non-ASCII characters as UTF-8, not \u escapes.
    try:
        interpreter.add_data_json(json.dumps(data, ensure_ascii=False))
    except RegoError as exc:
        raise PolicyError(f"data was refused by regopy: {_first_message(str(exc))}") from exc


def add_module(interpreter: Interpreter, name: str, text: str) -> None:
    """Add one module; a syntax error becomes a PolicyError naming file and line."""
    try:
        interpreter.add_module(name, text)
    except RegoError as exc:
        problems = parse_error_tree(str(exc), {name: text})
        raise PolicyError("; ".join(str(p) for p in problems) or f"{name}: {exc}") from exc


def build(interpreter: Interpreter, entrypoints: Sequence[str]) -> Bundle:
    try:
        bundle = interpreter.build(None, list(entrypoints))
    except RegoError as exc:
        raise PolicyError(f"policy did not compile: {_first_message(str(exc))}") from exc
    if not bundle.ok():
        raise PolicyError("policy did not compile")
    return bundle


def query_json(interpreter: Interpreter, bundle: Bundle, entrypoint: str) -> Any:
    """The value of `entrypoint` for the input already set, or UNDEFINED."""
    try:
        output = rego_bundle_query_entrypoint(interpreter._impl, bundle._impl, entrypoint)
    except RegoError as exc:
        raise PolicyError(f"evaluation failed: {_first_message(str(exc))}") from exc
    try:
        ok = rego_output_ok(output)
        text = rego_output_string(output)
    finally:
        rego_free_output(output)
    if not ok or text.startswith(("(error", "<error")):
        raise PolicyError(f"evaluation failed: {_first_message(text) or 'regopy returned an error'}")
    if text.strip() == "undefined":
        return UNDEFINED
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"regopy returned malformed JSON ({exc.msg} at {exc.pos})") from exc
    expressions = document.get("expressions") if isinstance(document, dict) else None
    if not expressions:
        return UNDEFINED
    return expressions[0]


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def escape_string(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return json.dumps(text, ensure_ascii=False)[1:-1]


def escape_strings(value: Any) -> Any:
    """`value` with every string (and key) in the escaped form rego-cpp stores strings in."""
    if isinstance(value, str):
        return escape_string(value)
    if isinstance(value, dict):
        return {escape_string(str(key)): escape_strings(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [escape_strings(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise PolicyError(f"policy input holds a {type(value).__name__}, which is not JSON")


# --- error trees ------------------------------------------------------------------------------

def _read_counted(text: str, pos: int) -> tuple[str, int]:
    """rego-cpp prints strings as `<length>:<chars>`; returns (chars, position after them)."""
    match = re.compile(r"(\d+):").match(text, pos)
    if not match:
        return "", pos
    end = match.end() + int(match.group(1))
    return text[match.end():end], end


def _line_col(source: str, offset: int) -> tuple[int, int]:
    # Offsets count bytes of the UTF-8 source.
    before = source.encode("utf-8")[:offset].decode("utf-8", errors="ignore")
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


def parse_error_tree(text: str, sources: dict[str, str]) -> list[Diagnostic]:
    """The (file, line, message) of each error in a rego-cpp error tree."""
    problems: list[Diagnostic] = []
    for match in re.finditer(r"\(error\b", text):
        pos = match.end()
        file, line, column = "", 0, 0
        located = re.compile(r"\s+(?=\d+:)").match(text, pos)
        if located:
            name, after = _read_counted(text, located.end())
            span = re.compile(r"\|(\d+)\|(\d+)").match(text, after)
            if name and span:
                file = name
                if name in sources:
                    line, column = _line_col(sources[name], int(span.group(1)))
        message_at = text.find("(errormsg", pos)
        message = ""
        if message_at >= 0:
            message, _ = _read_counted(text, message_at + len("(errormsg "))
        problems.append(Diagnostic(file, line, column, message or "error"))
    return problems


def _first_message(text: str) -> str:
    problems = parse_error_tree(text, {})
    if problems:
        return "; ".join(dict.fromkeys(p.message for p in problems))
    return text.strip().splitlines()[0][:200] if text.strip() else ""


# --- `with` forms regopy cannot run -----------------------------------------------------------

_WITH = re.compile(r"\bwith\s+(?P<target>[A-Za-z_][\w.]*(?:\[[^\]]*\])*)\s+as\s+(?P<value>\S+)")
_SCALAR_START = re.compile(r'^(?:-?\d|"|`|true\b|false\b|null\b)')
_REFERENCE_START = re.compile(r"^[A-Za-z_]\w*[.\[(]")


def _strip_comment(line: str) -> str:
    quote, index = "", 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1                      # skip the escaped character
            elif char == quote:
                quote = ""
        elif char in "\"`":
            quote = char
        elif char == "#":
            return line[:index]
        index += 1
    return line


def lint_with_forms(name: str, text: str) -> list[Diagnostic]:
    """`with` uses that crash regopy 1.5 or make it silently wrong (see the module doc)."""
    problems = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        for match in _WITH.finditer(line):
            target, value = match.group("target"), match.group("value")
            column = match.start() + 1
            if target == "input":
                if value != "{}" and not _SCALAR_START.match(value):
                    problems.append(Diagnostic(name, number, column, (
                        "`with input as ...` crashes regopy 1.5; replace input keys instead, "
                        "e.g. `with input.request as req with input.fields as fields`"
                    )))
            elif _REFERENCE_START.match(value):
                shown = value.split("(")[0] + "(...)" if "(" in value else value
                problems.append(Diagnostic(name, number, column, (
                    f"`with {target} as {shown}`: a reference or call as a `with` value "
                    "crashes regopy 1.5 or evaluates to undefined; bind it to a local first "
                    "(`v := ...` then `with ... as v`)"
                )))
    return problems


def lint_modules(modules: Iterable[tuple[str, str]]) -> list[Diagnostic]:
    return [problem for name, text in modules for problem in lint_with_forms(name, text)]
