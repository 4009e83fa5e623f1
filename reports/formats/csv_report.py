"""The CSV report: one long table (section, key, metric, value) a spreadsheet or SIEM can pivot.

Each breakdown row becomes one line per metric, keyed by the row's dimension(s) joined
with " ", so the whole report fits one file and one detached signature.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from metagate.reports.formats.base import ReportFormat

HEADER = ("section", "key", "metric", "value")
# section -> the row fields that name the row; every other field is a metric
BREAKDOWNS = {
    "by_endpoint": ("method", "endpoint"),
    "by_resource": ("resource",),
    "by_client": ("client",),
    "by_user": ("user_id",),
    "over_time": ("start",),
    "field_classes": ("field_class",),
    "by_rule": ("rule",),
    "findings_by_entity": ("entity", "category"),
    "policy_sets": ("policy_hash",),
    "egress": ("host", "rule"),
}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _SafeWriter:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._writer = csv.writer(buffer, lineterminator="\n")

    def writerow(self, row: tuple[Any, ...]) -> None:
        self._writer.writerow(["'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for v in row])


class CsvFormat(ReportFormat):
    name = "csv"
    extension = "csv"

    def render(self, report: dict[str, Any], attestation: dict[str, Any]) -> bytes:
        buffer = io.StringIO()
        writer = _SafeWriter(buffer)
        writer.writerow(HEADER)
        period = report["scope"]["period"]
        for metric in ("from", "to"):
            writer.writerow(("period", "", metric, period[metric] or ""))
        for metric, value in report["totals"].items():
            writer.writerow(("totals", "", metric, value))
        sections = {**{k: report[k] for k in BREAKDOWNS if k in report},
                    "over_time": report["over_time"]["buckets"], "policy_sets": report["gate"]["policy_sets"]}
        for section, keys in BREAKDOWNS.items():
            for row in sections.get(section, []):
                key = " ".join(str(row.get(k) or "") for k in keys)
                for metric, value in row.items():
                    if metric not in keys:
                        writer.writerow((section, key, metric, value))
        for category, stats in report["findings_by_category"].items():
            for metric, value in stats.items():
                writer.writerow(("findings_by_category", category, metric, value))
        for metric, value in report["artifact_content"].items():
            writer.writerow(("artifact_content", "", metric, value))
        for statement in report["evidence"]:
            writer.writerow(("evidence", statement["id"], statement["kind"], statement["text"]))
        writer.writerow(("attestation", "", "content_sha256", attestation["content_sha256"]))
        writer.writerow(("attestation", "", "signed", attestation.get("signed", False)))
        if attestation.get("signed"):
            writer.writerow(("attestation", "", "signature_b64", attestation["signature_b64"]))
            writer.writerow(("attestation", "", "public_key_sha256", attestation["public_key_sha256"]))
        return buffer.getvalue().encode("utf-8")
