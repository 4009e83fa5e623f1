"""Transfer reports: the audit trail aggregated into the numbers a security reviewer needs.

`build_report` turns decision records into one JSON-able dict; the renderers in
`metagate.reports.formats` only lay that dict out, so every format shows the same numbers.

The report never carries a value from a request: it counts by endpoint template, resource,
client, ZenML user id, field class, rule and entity type. Paths, reasons, field names,
fingerprints and query parameter names stay in the trail.
"""

from __future__ import annotations

import importlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPORT_FORMAT_VERSION = 1
FORWARDED = ("allow", "warn", "redact")
OUTCOMES = ("allowed", "redacted", "warned", "blocked", "errored")
OUTCOME_OF = {"allow": "allowed", "redact": "redacted", "warn": "warned", "block": "blocked"}
# Parse errors that mean the body itself was binary or compressed data, not JSON metadata.
BINARY_PARSE_ERRORS = frozenset({"binary_body"})
# Bucket widths for the over-time series: the smallest that keeps it at or under MAX_BUCKETS.
BUCKET_SECONDS = (1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)
MAX_BUCKETS = 48
NO_USER = "(none: no bearer token)"


class ReportError(RuntimeError):
    """The report cannot be built (no readable trail, bad period)."""


# --------------------------------------------------------------------------
# Times and the period
# --------------------------------------------------------------------------


def parse_time(text: str, *, end_of_day: bool = False) -> datetime:
    """ISO time or date; naive means UTC. A bare date as an end bound means the end of that day."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"not an ISO date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_time(record: dict[str, Any]) -> datetime | None:
    value = record.get("time")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def in_period(record: dict[str, Any], start: datetime | None, end: datetime | None) -> bool:
    """Start inclusive, end exclusive; records without a readable time are never in a period."""
    moment = record_time(record)
    if moment is None:
        return False
    return (start is None or moment >= start) and (end is None or moment < end)


# --------------------------------------------------------------------------
# Reading the trail
# --------------------------------------------------------------------------


@dataclass
class TrailSource:
    """Where the records came from and what could not be read."""

    name: str              # "store" (the chained audit store) or "jsonl" (an unchained JSON lines trail)
    location: str
    unreadable_lines: int = 0


def _optional_module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """JSON lines; a torn last line (crash mid-write) or a bad line is counted, not fatal."""
    records, unreadable = [], 0
    with open(path, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                unreadable += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                unreadable += 1
    return records, unreadable


def read_trail(data_dir: Path, store_config: Any = None) -> tuple[list[dict[str, Any]], TrailSource]:
    """Every record: from the audit store (metagate.reports.store) when it holds any, else from
    the JSON lines trail `<data-dir>/audit/trail.jsonl` that gates before the store wrote."""
    data_dir = Path(data_dir)
    store = _optional_module("metagate.reports.store")
    jsonl = data_dir / "audit" / "trail.jsonl"
    if store is not None:
        try:
            records = store.read_records(data_dir, store_config)
        except Exception as exc:  # noqa: BLE001 - TrailUnreadable and driver errors: say which store, never its DSN
            where = store.describe(store.StoreSettings.parse(store_config), data_dir)
            raise ReportError(f"cannot read the audit trail at {where}: {exc}") from None
        if records or not jsonl.exists():
            location = store.describe(store.StoreSettings.parse(store_config), data_dir)
            if not records and store.sqlite_path(store.StoreSettings.parse(store_config), data_dir) is not None \
                    and not store.store_files(data_dir, store_config):
                raise ReportError(f"no audit trail in {data_dir} (looked for {location} and {jsonl})")
            return [dict(r) for r in records], TrailSource("store", location)
    if not jsonl.exists():
        raise ReportError(f"no audit trail in {data_dir} (looked for {jsonl})")
    records, unreadable = _read_jsonl(jsonl)
    return records, TrailSource("jsonl", str(jsonl), unreadable)


def load_records(data_dir: Path, start: datetime | None, end: datetime | None, store_config: Any = None) -> list[dict[str, Any]]:
    """The records of the period [start, end), oldest first."""
    records, _ = read_trail(data_dir, store_config)
    return sorted((r for r in records if in_period(r, start, end)), key=record_time)


def _not_verifiable(detail: str) -> dict[str, Any]:
    return {"status": "not_verifiable", "chain": None, "signatures": None, "detail": f"not verifiable: {detail}"}


def trail_integrity(
    data_dir: Path, source: TrailSource | None = None, store_config: Any = None, public_key: Path | None = None,
) -> dict[str, Any]:
    """The whole trail's verification by the audit store's verifier (metagate.reports.verify).

    status: "verified" | "failed" | "not_verifiable"; never claims more than the verifier said.
    The chain is checked against `public_key` when given, else the gate's own signing key.
    """
    store = _optional_module("metagate.reports.store")
    verifier = _optional_module("metagate.reports.verify")
    if (source is not None and source.name == "jsonl") or store is None or verifier is None:
        return _not_verifiable("no chain (this trail is JSON lines without a hash chain or signed checkpoints)")
    from metagate.reports import keys

    try:
        key = keys.load_public_key(public_key) if public_key else keys.load_signing_key(Path(data_dir)).public_key()
    except keys.KeyFileError as exc:
        return _not_verifiable(f"no public key to check the checkpoint signatures ({exc})")
    try:
        reader = store.open_reader(Path(data_dir), store_config)
        with reader:
            result = verifier.verify_trail(reader, [key])
    except Exception as exc:  # noqa: BLE001 - a verifier that cannot run has verified nothing
        return _not_verifiable(f"the trail could not be read for verification ({type(exc).__name__})")
    return integrity_summary(verifier.summary(result), keys.key_id(key), from_data_dir=public_key is None)


def integrity_summary(summary: dict[str, Any], key_id: str, from_data_dir: bool = True) -> dict[str, Any]:
    """The verifier's summary reduced to what the report states (counts, kinds, seq numbers; no values)."""
    replicas = summary.get("replicas") or []
    problems = [p for r in replicas for p in r.get("problems") or []]
    kinds = Counter(p.get("kind", "?") for p in problems)
    ok = bool(summary.get("ok"))
    records, checkpoints, tail = summary.get("records", 0), summary.get("checkpoints", 0), summary.get("unsigned_tail", 0)
    key_text = f"key {key_id}" + (" from the gate's data dir" if from_data_dir else "")
    if ok:
        detail = (f"{records} records in {len(replicas)} chain(s) verify; {checkpoints} checkpoint signature(s) valid "
                  f"({key_text})")
        if tail:
            detail += f"; the last {tail} record(s) follow the last checkpoint: chained but not yet signed"
    else:
        first = problems[0]["message"] if problems else "problems were found"
        detail = f"{len(problems)} problem(s) ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); first: {first}"
    return {
        "status": "verified" if ok else "failed",
        "chain": ok,
        "signatures": ok and checkpoints > 0,
        "records": records,
        "checkpoints": checkpoints,
        "unsigned_tail": tail,
        "replicas": len(replicas),
        "key_id": key_id,
        "problems": dict(sorted(kinds.items())),
        "detail": detail,
    }


# --------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[")) for p in prefixes)


def _outcome(record: dict[str, Any]) -> str:
    return OUTCOME_OF.get(str(record.get("enforced") or record.get("decision")), "errored")


def _bytes_out(record: dict[str, Any]) -> tuple[int, bool]:
    """Body bytes that left for the upstream and whether that number is exact."""
    if _outcome(record) not in ("allowed", "redacted", "warned"):
        return 0, True
    if isinstance(record.get("bytes_forwarded"), int):
        return record["bytes_forwarded"], True
    size = int(record.get("bytes") or 0)
    # A redacted body was rewritten; without bytes_forwarded only its pre-redaction size is known.
    return size, _outcome(record) != "redacted"


def _redacted_leaves_by_class(record: dict[str, Any]) -> Counter[str]:
    """Redaction reasons read `redact.<x>: <class> at <path>`: count them per class, drop the path."""
    counts: Counter[str] = Counter()
    for reason in record.get("reasons") or []:
        rule, _, rest = str(reason).partition(": ")
        if rule.startswith("redact.") and " at " in rest:
            counts[rest.split(" at ", 1)[0]] += 1
    return counts


def _request_like(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decision records, plus error records for requests refused before any decision record."""
    out = [r for r in records if r.get("kind") == "request"]
    out += [r for r in records if r.get("kind") == "error" and not r.get("request_id")]
    return out


def _bucket_seconds(span: float) -> int:
    for width in BUCKET_SECONDS:
        if span / width <= MAX_BUCKETS:
            return width
    return BUCKET_SECONDS[-1]


def _table(counter_rows: dict[Any, dict[str, Any]], key_names: tuple[str, ...], order: str) -> list[dict[str, Any]]:
    rows = []
    for key, values in counter_rows.items():
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(key_names, key)), **values})
    return sorted(rows, key=lambda row: (-row[order], *[str(row[k]) for k in key_names]))


class _Group:
    """requests / forwarded / blocked / bytes_out per key."""

    def __init__(self) -> None:
        self.rows: dict[Any, dict[str, int]] = defaultdict(
            lambda: {"requests": 0, "forwarded": 0, "blocked": 0, "redacted": 0, "warned": 0, "bytes_out": 0})

    def add(self, key: Any, outcome: str, bytes_out: int) -> None:
        row = self.rows[key]
        row["requests"] += 1
        row["forwarded"] += outcome in ("allowed", "redacted", "warned")
        row["blocked"] += outcome == "blocked"
        row["redacted"] += outcome == "redacted"
        row["warned"] += outcome == "warned"
        row["bytes_out"] += bytes_out


def _policy_sets(all_records: list[dict[str, Any]], start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """Each policy hash with the times it was in force: contiguous runs in time order, clipped to the period."""
    timed = sorted(((record_time(r), r) for r in all_records if r.get("policy_hash") and record_time(r)),
                   key=lambda pair: pair[0])
    runs: list[dict[str, Any]] = []
    for moment, record in timed:
        if runs and runs[-1]["policy_hash"] == record["policy_hash"]:
            runs[-1]["to"] = moment
        else:
            runs.append({"policy_hash": record["policy_hash"], "from": moment, "to": moment, "requests": 0})
        if record.get("kind") == "request" and in_period(record, start, end):
            runs[-1]["requests"] += 1
    out = []
    for run in runs:
        if (end is not None and run["from"] >= end) or (start is not None and run["to"] < start):
            continue
        out.append({
            "policy_hash": run["policy_hash"],
            "from": iso(max(run["from"], start) if start else run["from"]),
            "to": iso(min(run["to"], end) if end else run["to"]),
            "requests": run["requests"],
        })
    return out


def _configurations(all_records: list[dict[str, Any]], start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """Distinct configuration summaries from start records in the period, and the one in force at its start."""
    starts = sorted((r for r in all_records if r.get("kind") == "start" and record_time(r)), key=lambda r: record_time(r))
    before = [r for r in starts if start is not None and record_time(r) < start]
    chosen = ([before[-1]] if before else []) + [r for r in starts if in_period(r, start, end)]
    seen: dict[str, dict[str, Any]] = {}
    for record in chosen:
        config = record.get("config") or {}
        key = json.dumps(config, sort_keys=True, default=str)
        entry = seen.setdefault(key, {"first_started": iso(record_time(record)), "starts": 0,
                                      "version": record.get("version"), "config": config})
        entry["starts"] += 1
    return list(seen.values())


def _findings_rows(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Findings per entity type and per category, split by what happened to each finding:
    in a blocked request, in a field that was redacted, or forwarded as it was."""
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"findings": 0, "requests": 0, "blocked": 0, "redacted_away": 0, "forwarded": 0})
    by_category: dict[str, dict[str, int]] = defaultdict(
        lambda: {"findings": 0, "requests": 0, "blocked": 0, "redacted_away": 0, "forwarded": 0,
                 "requests_forwarded_with_finding": 0})
    for record in requests:
        findings = record.get("findings") or []
        stopped = _outcome(record) in ("blocked", "errored")
        redacted = [str(p) for p in record.get("redacted") or []]
        entities: set[tuple[str, str]] = set()
        forwarded_categories: set[str] = set()
        for finding in findings:
            entity, category = str(finding.get("entity", "?")), str(finding.get("category", "?"))
            fate = "blocked" if stopped else "redacted_away" if _under(str(finding.get("path", "")), redacted) else "forwarded"
            for row in (rows[(entity, category)], by_category[category]):
                row["findings"] += 1
                row[fate] += 1
            entities.add((entity, category))
            if fate == "forwarded":
                forwarded_categories.add(category)
        for key in entities:
            rows[key]["requests"] += 1
        for category in {c for _, c in entities}:
            by_category[category]["requests"] += 1
            by_category[category]["requests_forwarded_with_finding"] += category in forwarded_categories
    return _table(rows, ("entity", "category"), "findings"), dict(by_category)


def _carries_artifact_content(record: dict[str, Any]) -> dict[str, bool]:
    redacted = [str(p) for p in record.get("redacted") or []]
    classes = (record.get("fields") or {}).get("classes") or {}
    return {
        "blob_findings_forwarded": any(
            f.get("category") == "blob" and not _under(str(f.get("path", "")), redacted) for f in record.get("findings") or []),
        "binary_bodies_forwarded": record.get("parse_error") in BINARY_PARSE_ERRORS,
        # value_repr leaves beyond those the redaction reasons account for left as values
        "value_repr_forwarded": classes.get("value_repr", 0) > _redacted_leaves_by_class(record).get("value_repr", 0),
    }


def _artifact_content(forwarded: list[dict[str, Any]]) -> dict[str, int]:
    """Forwarded requests that carried artifact content or value-derived artifact fields."""
    flags = [_carries_artifact_content(r) for r in forwarded]
    counts = {key: sum(f[key] for f in flags) for key in ("blob_findings_forwarded", "binary_bodies_forwarded", "value_repr_forwarded")}
    return {"requests": sum(any(f.values()) for f in flags), **counts}


def build_report(
    all_records: list[dict[str, Any]],
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    integrity: dict[str, Any] | None = None,
    source: TrailSource | None = None,
    generated_at: datetime | None = None,
    generator_version: str | None = None,
) -> dict[str, Any]:
    """The report's numbers for the period [start, end) (None: from the first / to the last record)."""
    integrity = integrity or _not_verifiable("no chain")
    period_records = sorted((r for r in all_records if in_period(r, start, end)), key=lambda r: record_time(r))
    requests = _request_like(period_records)
    ids = {r.get("id") for r in all_records if r.get("kind") == "request"}
    request_ids = {r.get("id") for r in requests if r.get("kind") == "request"}
    responses = [r for r in all_records if r.get("kind") == "response" and r.get("request_id") in request_ids]
    period_responses = [r for r in period_records if r.get("kind") == "response"]
    orphan_responses = [r for r in period_responses if r.get("request_id") not in ids]
    upstream_errors = [r for r in all_records if r.get("kind") == "error" and r.get("request_id") in request_ids]

    totals: dict[str, Any] = {"requests": len(requests), **{name: 0 for name in OUTCOMES}, "forwarded": 0,
                              "bytes_out": 0, "bytes_from_clients": 0, "bytes_returned": 0,
                              "monitor_forwarded_would_block": 0, "monitor_forwarded_would_redact": 0}
    by_endpoint, by_resource, by_client, by_user = _Group(), _Group(), _Group(), _Group()
    by_rule: dict[str, dict[str, int]] = defaultdict(
        lambda: {"requests": 0, "blocked": 0, "redacted": 0, "warned": 0, "forwarded_in_monitor_mode": 0})
    classes: dict[str, dict[str, int]] = defaultdict(
        lambda: {"sent_as_values": 0, "sent_as_markers": 0, "in_blocked_requests": 0, "requests": 0})
    parse_errors: Counter[str] = Counter()
    blocked_by_family: Counter[str] = Counter()   # pii, secret, blob, schema ...: the rule id's first part
    redacted_leaves = 0
    inexact_bytes = 0
    forwarded: list[dict[str, Any]] = []
    for record in requests:
        outcome = _outcome(record)
        totals[outcome] += 1
        size, exact = _bytes_out(record)
        inexact_bytes += not exact
        totals["bytes_out"] += size
        totals["bytes_from_clients"] += int(record.get("bytes") or 0)
        is_forwarded = outcome in ("allowed", "redacted", "warned")
        if is_forwarded:
            totals["forwarded"] += 1
            forwarded.append(record)
        decision = record.get("decision")
        if is_forwarded and decision == "block":
            totals["monitor_forwarded_would_block"] += 1
        if is_forwarded and decision == "redact" and outcome != "redacted":
            totals["monitor_forwarded_would_redact"] += 1
        method = str(record.get("method") or "?")
        endpoint = record.get("endpoint") or ("(refused before inspection)" if record.get("kind") == "error" else "(unknown endpoint)")
        by_endpoint.add((method, endpoint), outcome, size)
        by_resource.add(record.get("resource") or "(none)", outcome, size)
        by_client.add(record.get("client") or "(unknown)", outcome, size)
        by_user.add(record.get("user_id") or NO_USER, outcome, size)
        if outcome == "blocked":
            blocked_by_family.update({str(rule).split(".", 1)[0] for rule in record.get("rules") or []})
        for rule in sorted(set(record.get("rules") or [])):
            row = by_rule[str(rule)]
            row["requests"] += 1
            if outcome in ("blocked", "redacted", "warned"):
                row[outcome] += 1
            elif is_forwarded:
                row["forwarded_in_monitor_mode"] += record.get("enforcement") == "monitor"
        if record.get("parse_error"):
            parse_errors[str(record["parse_error"])] += 1
        markers = _redacted_leaves_by_class(record) if outcome == "redacted" else Counter()
        redacted_leaves += sum(markers.values())
        for field_class, count in ((record.get("fields") or {}).get("classes") or {}).items():
            row = classes[str(field_class)]
            row["requests"] += 1
            if outcome == "blocked" or outcome == "errored":
                row["in_blocked_requests"] += int(count)
            else:
                as_markers = min(int(count), markers.get(field_class, 0))
                row["sent_as_markers"] += as_markers
                row["sent_as_values"] += int(count) - as_markers
    totals["bytes_returned"] = sum(int(r.get("bytes_returned") or 0) for r in responses)
    totals["upstream_responses"] = len(responses)
    totals["upstream_errors"] = len(upstream_errors)
    totals["redacted_fields"] = redacted_leaves
    totals["bytes_out_exact"] = inexact_bytes == 0

    findings, by_category = _findings_rows(requests)
    artifact = _artifact_content(forwarded)
    egress = _egress(period_records)
    actual_start = start or (record_time(period_records[0]) if period_records else None)
    actual_end = end or (record_time(period_records[-1]) if period_records else None)
    over_time = _over_time(requests, actual_start, actual_end)
    policy_sets = _policy_sets(all_records, start, end)
    configurations = _configurations(all_records, start, end)
    statuses = Counter(str(r.get("status")) for r in responses)
    missing_policy_hash = sum(1 for r in requests if r.get("kind") == "request" and not r.get("policy_hash"))

    report: dict[str, Any] = {
        "report": {
            "title": "metagate transfer report",
            "format_version": REPORT_FORMAT_VERSION,
            "generated_at": iso(generated_at or datetime.now(UTC)),
            "generator": f"metagate {generator_version or _version()}",
        },
        "scope": {
            "period": {"from": iso(actual_start), "to": iso(actual_end),
                       "requested_from": iso(start), "requested_to": iso(end),
                       "bounds": _bounds_text(start, end)},
            "trail": {"source": source.name if source else "records", "location": source.location if source else None,
                      "records_in_trail": len(all_records), "records_in_period": len(period_records),
                      "unreadable_lines": source.unreadable_lines if source else 0},
            "upstreams": sorted({str((c["config"] or {}).get("upstream")) for c in configurations if c["config"]}),
            "metagate_versions": sorted({str(c["version"]) for c in configurations if c["version"]}),
        },
        "gate": {"configurations": configurations, "policy_sets": policy_sets,
                 "requests_without_policy_hash": missing_policy_hash},
        "integrity": {"trail": integrity},
        "totals": totals,
        "by_endpoint": _table(by_endpoint.rows, ("method", "endpoint"), "requests"),
        "by_resource": _table(by_resource.rows, ("resource",), "requests"),
        "by_client": _table(by_client.rows, ("client",), "requests"),
        "by_user": _table(by_user.rows, ("user_id",), "requests"),
        "over_time": over_time,
        "field_classes": _table(classes, ("field_class",), "requests"),
        "by_rule": _table(by_rule, ("rule",), "requests"),
        "findings_by_entity": findings,
        "findings_by_category": {k: by_category[k] for k in sorted(by_category)},
        "blocked_by_rule_family": dict(sorted(blocked_by_family.items())),
        "artifact_content": artifact,
        "parse_errors": dict(sorted(parse_errors.items())),
        "upstream_statuses": dict(sorted(statuses.items())),
        "egress": egress,
        "consistency": {"responses_in_period": len(period_responses), "responses_without_decision_record": len(orphan_responses)},
    }
    report["evidence"] = evidence_statements(report)
    report["notes"] = _notes(report)
    return report


def _bounds_text(start: datetime | None, end: datetime | None) -> str:
    first = "from inclusive" if start else "from the trail's first record"
    last = "to exclusive" if end else "to its last record"
    return f"{first}, {last}; times are the gate's decision times (UTC)"


def _egress(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"connections": 0})
    for record in records:
        if record.get("kind") == "egress":
            rule = (record.get("rules") or ["?"])[0]
            rows[(str(record.get("host") or "?"), str(rule))]["connections"] += 1
    return _table(rows, ("host", "rule"), "connections")


def _over_time(requests: list[dict[str, Any]], start: datetime | None, end: datetime | None) -> dict[str, Any]:
    if start is None or end is None:
        return {"bucket_seconds": 0, "buckets": []}
    width = _bucket_seconds(max((end - start).total_seconds(), 1))
    origin = datetime.fromtimestamp(math.floor(start.timestamp() / width) * width, UTC)
    count = max(1, math.ceil((end - origin).total_seconds() / width) + (end == origin))
    count = min(count, MAX_BUCKETS + 1)
    buckets = [{"start": iso(origin + timedelta(seconds=i * width)), "requests": 0, "forwarded": 0, "blocked": 0, "bytes_out": 0}
               for i in range(count)]
    for record in requests:
        moment = record_time(record)
        index = min(int((moment - origin).total_seconds() // width), count - 1)
        bucket = buckets[max(index, 0)]
        outcome = _outcome(record)
        bucket["requests"] += 1
        bucket["forwarded"] += outcome in ("allowed", "redacted", "warned")
        bucket["blocked"] += outcome == "blocked"
        bucket["bytes_out"] += _bytes_out(record)[0]
    return {"bucket_seconds": width, "buckets": buckets}


# --------------------------------------------------------------------------
# Evidence statements
# --------------------------------------------------------------------------


def _statement(key: str, kind: str, text: str, **numbers: Any) -> dict[str, Any]:
    """kind: assurance (the numbers support a claim), exception (something a reviewer must look at),
    limitation (what this report cannot show)."""
    return {"id": key, "kind": kind, "text": text, "numbers": numbers}


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def evidence_statements(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements made only where the report's own numbers support them."""
    t = report["totals"]
    out = [_statement(
        "requests", "assurance",
        f"{_plural(t['requests'], 'request')} to the ZenML upstream in the period: {t['allowed']} allowed, "
        f"{t['redacted']} redacted, {t['warned']} warned, {t['blocked']} blocked"
        + (f", {t['errored']} failed before a decision" if t["errored"] else "") + "; "
        f"{t['forwarded']} forwarded carrying {t['bytes_out']:,} body bytes"
        + ("" if t["bytes_out_exact"] else " (redacted bodies counted at their size before redaction)") + ".",
        requests=t["requests"], allowed=t["allowed"], redacted=t["redacted"], warned=t["warned"],
        blocked=t["blocked"], errored=t["errored"], forwarded=t["forwarded"], bytes_out=t["bytes_out"])]

    c = report["consistency"]
    if c["responses_without_decision_record"] == 0 and t["requests"] == 0:
        pass  # nothing to account for
    elif c["responses_without_decision_record"] == 0:
        out.append(_statement(
            "records", "assurance",
            f"All {t['requests']} requests have audit records (the gate forwards a request only after committing its "
            f"decision record); all {t['upstream_responses']} upstream responses recorded for them answer a decision record.",
            requests=t["requests"], upstream_responses=t["upstream_responses"], responses_without_decision_record=0))
    else:
        out.append(_statement(
            "records", "exception",
            f"{c['responses_without_decision_record']} upstream responses in the period answer no decision record in this trail.",
            responses_without_decision_record=c["responses_without_decision_record"]))

    trail = report["integrity"]["trail"]
    if trail["status"] == "verified":
        signatures = " and its checkpoint signatures are valid" if trail.get("signatures") else ", but no checkpoint signs it yet"
        out.append(_statement("chain", "assurance" if trail.get("signatures") else "limitation",
                              f"The audit chain verifies{signatures}: {trail['detail']}.",
                              records=trail.get("records"), checkpoints=trail.get("checkpoints"),
                              unsigned_tail=trail.get("unsigned_tail")))
    elif trail["status"] == "failed":
        out.append(_statement("chain", "exception", f"The audit chain does NOT verify: {trail['detail']}.",
                              **trail.get("problems", {})))
    else:
        out.append(_statement("chain", "limitation", f"The audit trail is {trail['detail']}; "
                              "this report cannot show that its records are complete and unaltered."))

    missing = report["gate"]["requests_without_policy_hash"]
    sets = report["gate"]["policy_sets"]
    if missing == 0 and sets:
        out.append(_statement("policy", "assurance",
                              f"Every decision names the policy set it was made under; {_plural(len(sets), 'policy set')} "
                              f"{'was' if len(sets) == 1 else 'were'} in force over the period (hashes and times below).",
                              policy_sets=len(sets), requests_without_policy_hash=0))
    elif missing:
        out.append(_statement("policy", "exception", f"{missing} decision records name no policy hash.",
                              requests_without_policy_hash=missing))

    a = report["artifact_content"]
    if a["requests"] == 0:
        out.append(_statement(
            "artifact_content", "assurance",
            f"0 requests carried artifact content: of {t['forwarded']} forwarded requests none had a blob finding or a "
            "binary body, and none carried a value-derived artifact field except as a redaction marker.",
            forwarded=t["forwarded"], **a))
    else:
        out.append(_statement("artifact_content", "exception",
                              f"{a['requests']} forwarded requests carried artifact content ({a['blob_findings_forwarded']} with a blob "
                              f"finding, {a['binary_bodies_forwarded']} binary bodies, {a['value_repr_forwarded']} with value-derived "
                              "artifact fields).", **a))

    for category, label, none_found in (("pii", "PII", "No PII was"), ("secret", "secret", "No secret was"),
                                        ("blob", "blob", "No artifact content (blob) was")):
        stats = report["findings_by_category"].get(category)
        blocked_for = report["blocked_by_rule_family"].get(category, 0)
        key = f"blocked_for_{category}"
        if stats is None:
            out.append(_statement(f"{category}_findings", "assurance", f"{none_found} found in any request of the period.",
                                  findings=0, **{key: 0}))
            continue
        text = f"{_plural(blocked_for, 'request')} blocked for {label}"
        numbers = {"findings": stats["findings"], "in_blocked_requests": stats["blocked"],
                   "in_redacted_fields": stats["redacted_away"], "forwarded": stats["forwarded"], key: blocked_for}
        if stats["forwarded"] == 0:
            out.append(_statement(
                f"{category}_findings", "assurance",
                f"{text}; no {label} finding left the VPC ({stats['blocked']} in blocked requests, "
                f"{stats['redacted_away']} in redacted fields).", **numbers))
        else:
            out.append(_statement(
                f"{category}_findings", "exception",
                f"{text}; {stats['forwarded']} of {stats['findings']} {label} findings, in "
                f"{_plural(stats['requests_forwarded_with_finding'], 'request')}, were forwarded (below the policy's "
                "threshold, exempted by policy, or in monitor mode).", **numbers))

    if t["redacted"]:
        out.append(_statement("redaction", "assurance",
                              f"{_plural(t['redacted'], 'request')} left with {_plural(t['redacted_fields'], 'field')} replaced "
                              "by keyed-hash redaction markers (classes in the field table).",
                              redacted=t["redacted"], redacted_fields=t["redacted_fields"]))
    would = t["monitor_forwarded_would_block"] + t["monitor_forwarded_would_redact"]
    if would:
        out.append(_statement("monitor", "exception",
                              f"{would} requests were forwarded unchanged in monitor mode although the policy decided "
                              f"block ({t['monitor_forwarded_would_block']}) or redact ({t['monitor_forwarded_would_redact']}).",
                              would_block=t["monitor_forwarded_would_block"], would_redact=t["monitor_forwarded_would_redact"]))
    refused = sum(r["connections"] for r in report["egress"] if r["rule"] == "egress.host_not_allowed")
    uninspected = sum(r["connections"] for r in report["egress"] if r["rule"] == "egress.uninspected_host")
    if refused or uninspected:
        out.append(_statement("egress", "assurance" if not uninspected else "exception",
                              f"Forward mode: {refused} connections to other hosts refused; {uninspected} passed uninspected "
                              "to allow-listed in-VPC hosts.", refused=refused, uninspected=uninspected))
    if report["scope"]["trail"]["unreadable_lines"]:
        n = report["scope"]["trail"]["unreadable_lines"]
        out.append(_statement("unreadable", "exception", f"{n} trail lines could not be read and are not counted.", unreadable_lines=n))
    return out


def _notes(report: dict[str, Any]) -> list[str]:
    notes = [
        "Counts only: the report holds no request value, field name, path, matched text or fingerprint.",
        "bytes_out counts request bodies as forwarded to the upstream (headers excluded); blocked requests send 0 bytes.",
    ]
    if not report["totals"]["bytes_out_exact"]:
        notes.append("* The trail does not record the size of redacted bodies after redaction: they are counted at their size before it.")
    return notes


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("metagate")
    except PackageNotFoundError:
        return "unknown"
