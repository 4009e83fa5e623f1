"""The JSON report: every number of the report, plus the attestation block."""

from __future__ import annotations

import json
from typing import Any

from metagate.reports.formats.base import ReportFormat
from metagate.reports.formats.signing import ATTESTATION


class JsonFormat(ReportFormat):
    name = "json"
    extension = "json"

    def render(self, report: dict[str, Any], attestation: dict[str, Any]) -> bytes:
        return (json.dumps({**report, ATTESTATION: attestation}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
