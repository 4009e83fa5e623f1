"""Reports of `metagate scan`: a table for people, JSON for tools, SARIF 2.1.0 for code scanning.

All three render the same records, one per scanned request, in input order:

    {"index", "source", "line", "method", "path", "endpoint", "decision", "rules", "reasons",
     "warnings", "findings": [{"path", "entity", "category", "detector", "score",
     "field_class", "fingerprint"}], "redactions", "violations", "parse_error"}

Nothing here sees a request body: records hold paths, entity names, rule ids and keyed
fingerprints only, so a report can be shared and attached to a CI run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

Record = dict[str, Any]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DECISIONS = ("allow", "redact", "warn", "block")


def render(records: Sequence[Record], fmt: str, notes: Sequence[str] = (), tool_version: str = "") -> str:
    if fmt == "json":
        return render_json(records)
    if fmt == "sarif":
        return json.dumps(sarif(records, notes, tool_version), indent=2) + "\n"
    if fmt == "table":
        return render_table(records, notes)
    raise ValueError(f"unknown format {fmt!r}")


def render_json(records: Sequence[Record]) -> str:
    return json.dumps(list(records), indent=2) + "\n"


# --- table -----------------------------------------------------------------------------


def render_table(records: Sequence[Record], notes: Sequence[str] = ()) -> str:
    rows = [("#", "source", "request", "decision")]
    details: list[list[str]] = [[]]
    for record in records:
        request = f"{record['method']} {record['path']}"
        rows.append((str(record["index"]), _where(record), request, record["decision"].upper()
                     if record["decision"] == "block" else record["decision"]))
        details.append(_details(record))
    widths = [min(max(len(row[i]) for row in rows), cap) for i, cap in enumerate((6, 48, 64, 8))]
    lines = []
    for row, extra in zip(rows, details):
        cells = [_fit(cell, width) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells).rstrip())
        indent = " " * (sum(widths[:2]) + 4)
        lines.extend(f"{indent}{item}" for item in extra)
    counts = Counter(record["decision"] for record in records)
    summary = ", ".join(f"{counts[d]} {d}" for d in DECISIONS if counts[d])
    lines.append("")
    lines.append(f"{len(records)} request{'s' if len(records) != 1 else ''}: {summary or 'none'}")
    lines.extend(f"note: {note}" for note in notes)
    return "\n".join(lines) + "\n"


def _where(record: Record) -> str:
    name = str(record["source"]).replace("\\", "/").rsplit("/", 1)[-1]
    return f"{name}:{record['line']}" if record.get("line") else name


def _details(record: Record) -> list[str]:
    items: list[str] = []
    if record.get("parse_error"):
        items.append(f"body: {record['parse_error']}")
    items.extend(record.get("reasons") or ())
    items.extend(f"warning {w}" for w in record.get("warnings") or ())
    if record["decision"] != "allow" and not items:
        items.extend(record.get("rules") or ())
    return items


def _fit(cell: str, width: int) -> str:
    if len(cell) > width:
        return cell[: width - 1] + "…"
    return cell.ljust(width)


# --- SARIF 2.1.0 -----------------------------------------------------------------------


def sarif(records: Sequence[Record], notes: Sequence[str] = (), tool_version: str = "") -> dict[str, Any]:
    """One SARIF run: a result per block/redact reason and per warning of every request;
    allowed requests bring none. Locations are the capture file (and line, for JSON lines)
    plus the request and JSON path as a logical location."""
    rule_index: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    artifacts: dict[str, int] = {}
    results: list[dict[str, Any]] = []

    def rule(rule_id: str, level: str) -> int:
        if rule_id not in rule_index:
            rule_index[rule_id] = len(rules)
            rules.append({
                "id": rule_id,
                "name": rule_id,
                "shortDescription": {"text": f"metagate policy rule {rule_id}"},
                "defaultConfiguration": {"level": level},
            })
        return rule_index[rule_id]

    for record in records:
        source = str(record["source"])
        artifact = artifacts.setdefault(source, len(artifacts))
        redacted = set(record.get("redactions") or ())
        for reason in record.get("reasons") or ():
            rule_id, path = _split_reason(reason)
            level = "note" if path in redacted else ("error" if record["decision"] == "block" else "warning")
            results.append(_result(record, rule_id, rule(rule_id, level), level, reason, path, artifact))
        for warning in record.get("warnings") or ():
            rule_id, path = _split_reason(warning)
            results.append(_result(record, rule_id, rule(rule_id, "warning"), "warning", warning, path, artifact))

    invocation: dict[str, Any] = {"executionSuccessful": True}
    if notes:
        invocation["toolExecutionNotifications"] = [{"level": "note", "message": {"text": n}} for n in notes]
    return sarif_log("metagate", rules, results, invocation, tool_version,
                     artifacts=[{"location": {"uri": _uri(source)}} for source in artifacts])


def sarif_log(
    tool: str, rules: list[dict[str, Any]], results: list[dict[str, Any]], invocation: dict[str, Any],
    tool_version: str = "", artifacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One SARIF 2.1.0 log with a single run: the envelope `scan` and `policy test` share."""
    driver: dict[str, Any] = {"name": tool, "rules": rules}
    if tool_version:
        driver["version"] = tool_version
    run: dict[str, Any] = {"tool": {"driver": driver}, "invocations": [invocation]}
    if artifacts is not None:
        run["artifacts"] = artifacts
    run["results"] = results
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _uri(source: str) -> str:
    """A file name as the URI reference SARIF wants ("<stdin>" and spaces escaped)."""
    return quote(source.replace("\\", "/"), safe="/:._-~")


def _split_reason(reason: str) -> tuple[str, str]:
    """("pii.detected", "$.values.note") from "pii.detected: EMAIL_ADDRESS at $.values.note"."""
    rule_id, _, rest = reason.partition(": ")
    path = rest.rsplit(" at ", 1)[-1] if " at " in rest else rest
    return rule_id, path if path.startswith("$") else "$"


def _result(record: Record, rule_id: str, index: int, level: str, text: str, path: str, artifact: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(str(record["source"])), "index": artifact}}
    if record.get("line"):
        physical["region"] = {"startLine": int(record["line"])}
    findings = [f for f in record.get("findings") or () if f.get("path") == path]
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": level,
        "message": {"text": f"{record['method']} {record['path']}: {text}"},
        "locations": [{
            "physicalLocation": physical,
            "logicalLocations": [{
                "name": path,
                "fullyQualifiedName": f"{record['method']} {record['path']} {path}",
                "kind": "member",
            }],
        }],
        "properties": {
            "request_index": record["index"],
            "decision": record["decision"],
            "json_path": path,
            "findings": [
                {k: f.get(k) for k in ("entity", "category", "detector", "score", "field_class")} for f in findings
            ],
        },
    }
    prints = sorted({f["fingerprint"] for f in findings if f.get("fingerprint")})
    if prints:
        # Keyed hashes of the matched values: the same value correlates across runs.
        result["partialFingerprints"] = {"metagateValueHmac/v1": ",".join(prints)}
    return result
