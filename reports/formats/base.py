"""One interface for every output format, and the layout HTML and PDF share.

A format turns the report dict (plus its attestation block) into the bytes of one file.
`document_tables` decides once which tables a human-readable report shows, in which order
and with which labels, so the HTML and PDF documents cannot drift apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

REPORT_STEM = "transfer-report"   # outputs are transfer-report.json, .csv, .html, .pdf


class ReportFormat(ABC):
    name: ClassVar[str]
    extension: ClassVar[str]

    @abstractmethod
    def render(self, report: dict[str, Any], attestation: dict[str, Any]) -> bytes:
        """The whole output file."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False
    weight: float = 1.0        # relative width in the PDF


@dataclass(frozen=True)
class Table:
    title: str
    caption: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    empty: str = "None in this period."

    def cells(self) -> list[list[str]]:
        return [[cell(row.get(c.key), c.numeric) for c in self.columns] for row in self.rows]


def cell(value: Any, numeric: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if numeric and isinstance(value, (int, float)):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{count:,} B" if unit == "B" else f"{size:,.1f} {unit} ({count:,} B)"
        size /= 1024
    return f"{count:,} B"


def duration(seconds: int) -> str:
    for width, unit in ((86400 * 7, "week"), (86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % width == 0:
            n = seconds // width
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} s"


# Columns that repeat across the breakdown tables.
_TRAFFIC = (
    Column("requests", "Requests", True), Column("forwarded", "Forwarded", True), Column("blocked", "Blocked", True),
    Column("redacted", "Redacted", True), Column("warned", "Warned", True), Column("bytes_out", "Bytes out", True, 1.3),
)


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    t = report["totals"]
    rows = [
        ("Requests to the ZenML upstream", f"{t['requests']:,}"),
        ("Allowed", f"{t['allowed']:,}"),
        ("Redacted (forwarded with fields replaced by markers)", f"{t['redacted']:,}"),
        ("Warned (forwarded, flagged)", f"{t['warned']:,}"),
        ("Blocked (never left)", f"{t['blocked']:,}"),
    ]
    if t["errored"]:
        rows.append(("Failed before a decision (never left)", f"{t['errored']:,}"))
    rows += [
        ("Bytes out (request bodies forwarded)", human_bytes(t["bytes_out"]) + ("" if t["bytes_out_exact"] else " *")),
        ("Bytes returned by the upstream", human_bytes(t["bytes_returned"])),
        ("Fields replaced by redaction markers", f"{t['redacted_fields']:,}"),
        ("Upstream responses / errors recorded", f"{t['upstream_responses']:,} / {t['upstream_errors']:,}"),
    ]
    if t["monitor_forwarded_would_block"] or t["monitor_forwarded_would_redact"]:
        rows.append(("Forwarded in monitor mode despite block / redact",
                     f"{t['monitor_forwarded_would_block']:,} / {t['monitor_forwarded_would_redact']:,}"))
    return rows


def scope_rows(report: dict[str, Any], attestation: dict[str, Any]) -> list[tuple[str, str]]:
    scope, period = report["scope"], report["scope"]["period"]
    trail = scope["trail"]
    return [
        ("Period (UTC)", f"{period['from'] or '-'}  to  {period['to'] or '-'}"),
        ("Period bounds", period["bounds"]),
        ("ZenML upstream(s)", ", ".join(scope["upstreams"]) or "-"),
        ("metagate version(s) in the period", ", ".join(scope["metagate_versions"]) or "-"),
        ("Audit trail", f"{trail['source']}: {trail['location'] or '-'}"),
        ("Records (period / whole trail)", f"{trail['records_in_period']:,} / {trail['records_in_trail']:,}"),
        ("Audit chain", report["integrity"]["trail"]["detail"]),
        ("Generated", f"{report['report']['generated_at']} by {report['report']['generator']}"),
        ("Report content SHA-256", attestation["content_sha256"]),
        ("Report signature", f"Ed25519 with the audit signing key, key id {attestation['key_id']}"
         if attestation.get("signed") else attestation.get("unsigned_reason", "unsigned")),
    ]


def config_rows(config: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key in sorted(config):
        value = config[key]
        if isinstance(value, dict):
            rows += config_rows(value, f"{prefix}{key}.")
        else:
            rows.append((prefix + key, cell(value)))
    return rows


def document_tables(report: dict[str, Any]) -> list[Table]:
    return [
        Table("Policy sets in force", "Each policy-set hash with the first and last time it decided a request or "
              "started the gate in the period.",
              (Column("policy_hash", "Policy-set SHA-256", weight=4.2), Column("from", "From", weight=1.7),
               Column("to", "To", weight=1.7), Column("requests", "Requests", True, 0.9)),
              report["gate"]["policy_sets"]),
        Table("Requests and bytes out by endpoint", "Endpoint templates from the ZenML API catalog; unknown endpoints "
              "are counted, never named.",
              (Column("method", "Method", weight=0.8), Column("endpoint", "Endpoint", weight=3.6), *_TRAFFIC),
              report["by_endpoint"]),
        Table("By resource type", "", (Column("resource", "Resource", weight=2.2), *_TRAFFIC), report["by_resource"]),
        Table("By client", "Client address as the gate saw it.", (Column("client", "Client", weight=2.2), *_TRAFFIC),
              report["by_client"]),
        Table("By ZenML user id", "The `sub` claim of the bearer token; the token itself is never recorded.",
              (Column("user_id", "User id", weight=3.2), *_TRAFFIC), report["by_user"]),
        Table("What was sent, by field class", "Leaf counts per field class, never values or field names. "
              "'Unchanged' leaves left as the client sent them; the count includes null and empty leaves "
              "(a step without a docstring has one null code leaf), which hold no content.",
              (Column("field_class", "Field class", weight=1.6), Column("sent_as_values", "Unchanged", True),
               Column("sent_as_markers", "Sent as markers", True), Column("in_blocked_requests", "In blocked requests", True),
               Column("requests", "Requests", True)),
              report["field_classes"]),
        Table("Decisions by rule", "Requests in which each rule fired, by what the gate did with the request.",
              (Column("rule", "Rule", weight=2.4), Column("requests", "Requests", True), Column("blocked", "Blocked", True),
               Column("redacted", "Redacted", True), Column("warned", "Warned", True),
               Column("forwarded_in_monitor_mode", "Monitor only", True)),
              report["by_rule"]),
        Table("Findings by entity type", "Detector findings, counts only: in blocked requests, in redacted fields, "
              "or forwarded (below threshold, exempt, or monitor mode).",
              (Column("entity", "Entity", weight=2.2), Column("category", "Category"), Column("findings", "Findings", True),
               Column("requests", "Requests", True), Column("blocked", "Blocked", True),
               Column("redacted_away", "Redacted", True), Column("forwarded", "Forwarded", True)),
              report["findings_by_entity"]),
        Table("Over time", f"Per {duration(report['over_time']['bucket_seconds'] or 60)} (UTC); intervals without requests are left out.",
              (Column("start", "From (UTC)", weight=2), Column("requests", "Requests", True), Column("forwarded", "Forwarded", True),
               Column("blocked", "Blocked", True), Column("bytes_out", "Bytes out", True)),
              [b for b in report["over_time"]["buckets"] if b["requests"]]),
        Table("Other hosts (forward mode)", "Connections to hosts that are not the ZenML upstream.",
              (Column("host", "Host", weight=2.5), Column("rule", "Rule", weight=2), Column("connections", "Connections", True)),
              report["egress"]),
    ]


def verification_steps(attestation: dict[str, Any], extension: str) -> list[tuple[str, str]]:
    """(what the step shows, the command to run or "") for a reviewer holding this file."""
    name = f"{REPORT_STEM}.{extension}"
    steps = [
        ("The file is unchanged since it was written (SHA-256 beside it):", f"sha256sum -c {name}.sha256"),
    ]
    if attestation.get("signed"):
        steps += [
            ("Get the gate's public key from its operator; its key id must read "
             f"{attestation['key_id']} (SHA-256 of the raw key: {attestation['public_key_sha256']}).",
             "metagate keys export-public > audit-public.pem"),
            ("Check the file's SHA-256 and Ed25519 signature in one step:",
             f"metagate report verify {name} --public-key audit-public.pem"),
            ("Or with OpenSSL 3 alone: the signature covers the line 'metagate-report-v1' followed by the file.",
             f"printf 'metagate-report-v1\\n' | cat - {name} > signed-message\n"
             f"openssl pkeyutl -verify -pubin -inkey audit-public.pem -rawin -in signed-message -sigfile {name}.sig"),
        ]
    else:
        steps.append(("This report is unsigned: the SHA-256 shows it was not altered after it was written, "
                      "not who wrote it.", f"metagate report verify {name}"))
    steps.append((
        f"The report content SHA-256 shown in every format is the SHA-256 of the report data as canonical JSON "
        f"({REPORT_STEM}.json without 'attestation', keys sorted, compact separators, UTF-8); the command "
        "recomputes it and checks the signature embedded beside it.",
        f"metagate report verify {REPORT_STEM}.json --public-key audit-public.pem"))
    return steps
