"""Report output formats, one class each behind `ReportFormat` (json, csv, html, pdf)."""

from __future__ import annotations

import importlib

from metagate.reports.formats.base import REPORT_STEM, ReportFormat

# name -> (module, class); modules load on first use, so a JSON-only run never imports fpdf2.
_FORMATS = {
    "json": ("json_report", "JsonFormat"),
    "csv": ("csv_report", "CsvFormat"),
    "html": ("html_report", "HtmlFormat"),
    "pdf": ("pdf_report", "PdfFormat"),
}
FORMAT_NAMES = tuple(_FORMATS)


def get_format(name: str) -> ReportFormat:
    if name not in _FORMATS:
        raise KeyError(f"unknown report format {name!r} (choose from {', '.join(FORMAT_NAMES)})")
    module, attribute = _FORMATS[name]
    return getattr(importlib.import_module(f"metagate.reports.formats.{module}"), attribute)()


__all__ = ["FORMAT_NAMES", "REPORT_STEM", "ReportFormat", "get_format"]
