"""The PDF report, drawn with fpdf2 (pure Python: no system libraries), charts included.

Core PDF fonts only: text is reduced to Latin-1, so nothing is embedded or fetched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, TableCellFillMode, XPos, YPos
from metagate.reports.formats import charts
from metagate.reports.formats.base import (
    ReportFormat,
    Table,
    config_rows,
    document_tables,
    scope_rows,
    summary_rows,
    verification_steps,
)

ACCENT = (31, 58, 95)
INK = (27, 36, 48)
MUTED = (91, 102, 117)
BAND = (244, 246, 249)
LINE = (217, 222, 229)
BADGES = {"assurance": ("SUPPORTED", (227, 244, 232), (23, 102, 58)),
          "exception": ("EXCEPTION", (253, 232, 231), (161, 29, 18)),
          "limitation": ("LIMITATION", (253, 243, 216), (122, 90, 0))}
REPLACEMENTS = {"\u2192": "->", "\u2026": "...", "\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'",
                "\u201c": '"', "\u201d": '"', "\u2713": "v"}


def latin1(text: Any) -> str:
    text = str(text)
    for old, new in REPLACEMENTS.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


class _Document(FPDF):
    def __init__(self, report: dict[str, Any], attestation: dict[str, Any]) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report, self.attestation = report, attestation
        period = report["scope"]["period"]
        self.period_text = f"{period['from'] or '-'} to {period['to'] or '-'} (UTC)"
        self.set_margins(16, 18, 16)
        self.set_auto_page_break(True, margin=18)
        self.set_title(latin1(f"metagate transfer report {self.period_text}"))
        self.set_author(latin1(report["report"]["generator"]))
        self.set_subject("Metadata egress evidence for a security review")
        self.set_creator(latin1(report["report"]["generator"]))
        generated = datetime.fromisoformat(report["report"]["generated_at"])
        self.set_creation_date(generated)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, latin1(f"metagate transfer report  |  {self.period_text}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*LINE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 5, latin1(f"Report content SHA-256 {self.attestation['content_sha256']}"), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    # ---------------------------------------------------------------- text
    def heading(self, text: str, size: float = 13) -> None:
        if self.will_page_break(45 if size >= 13 else 24):   # never leave a heading alone at a page's foot
            self.add_page()
        self.ln(3)
        self.set_font("Helvetica", "B", size)
        self.set_text_color(*ACCENT)
        self.cell(0, 7, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if size >= 13:
            self.set_draw_color(*LINE)
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
            self.ln(2)
        self.set_text_color(*INK)

    def para(self, text: str, size: float = 9, colour: tuple[int, int, int] = INK, style: str = "") -> None:
        self.set_font("Helvetica", style, size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.5, latin1(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)

    def command(self, text: str) -> None:
        self.set_font("Courier", "", 7.8)
        self.set_fill_color(*BAND)
        self.set_x(self.l_margin + 4)
        self.multi_cell(self.epw - 4, 4, latin1(text), align="L", fill=True, padding=(1.2, 2),
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 9)

    def key_values(self, rows: list[tuple[str, str]], mono: tuple[str, ...] = (), key_width: float = 0.36) -> None:
        self.set_font("Helvetica", "", 8.5)
        self.set_draw_color(*LINE)
        self.set_fill_color(255, 255, 255)   # tables take the current fill colour as their cells' background
        with self.table(col_widths=(key_width, 1 - key_width), first_row_as_headings=False, line_height=4.6,
                        text_align="LEFT", cell_fill_mode=TableCellFillMode.NONE,
                        borders_layout=TableBordersLayout.HORIZONTAL_LINES, padding=1.2) as table:
            for key, value in rows:
                row = table.row()
                row.cell(latin1(key), style=FontFace(emphasis="BOLD"))
                row.cell(latin1(value), style=FontFace(family="Courier", size_pt=7.5) if key in mono else None)
        self.ln(2)

    def data_table(self, spec: Table) -> None:
        if self.will_page_break(34):      # keep a table's heading with its first rows
            self.add_page()
        self.heading(spec.title, 10.5)
        if spec.caption:
            self.para(spec.caption, 8, MUTED)
        if not spec.rows:
            self.para(spec.empty, 8.5, MUTED, "I")
            return
        self.set_font("Helvetica", "", 8)
        self.set_draw_color(*LINE)
        self.set_fill_color(255, 255, 255)
        align = tuple("RIGHT" if c.numeric else "LEFT" for c in spec.columns)
        with self.table(col_widths=tuple(c.weight for c in spec.columns), text_align=align, line_height=4.4,
                        headings_style=FontFace(emphasis="BOLD", fill_color=(226, 231, 238), color=INK),
                        cell_fill_mode=TableCellFillMode.EVEN_ROWS, cell_fill_color=(248, 249, 251),
                        borders_layout=TableBordersLayout.HORIZONTAL_LINES, padding=1.1, repeat_headings=1) as table:
            heading = table.row()
            for column in spec.columns:
                heading.cell(latin1(column.label))
            for cells in spec.cells():
                row = table.row()
                for text in cells:
                    row.cell(latin1(text))
        self.ln(1)

    # ---------------------------------------------------------------- parts
    def title_block(self) -> None:
        self.set_fill_color(*ACCENT)
        self.rect(0, 0, self.w, 4, style="F")
        self.set_y(14)
        self.set_font("Helvetica", "B", 8.5)
        self.set_text_color(*MUTED)
        self.cell(0, 5, "EGRESS EVIDENCE  |  METADATA LEAVING THE VPC FOR ZENML", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "B", 22)
        self.set_text_color(*ACCENT)
        self.cell(0, 11, "metagate transfer report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 11)
        self.set_text_color(*INK)
        self.cell(0, 6, latin1(self.period_text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.8)
        self.line(self.l_margin, self.get_y() + 2, self.w - self.r_margin, self.get_y() + 2)
        self.set_line_width(0.2)
        self.ln(5)

    def summary_tiles(self) -> None:
        t = self.report["totals"]
        tiles = [("Requests", f"{t['requests']:,}"), ("Forwarded", f"{t['forwarded']:,}"), ("Blocked", f"{t['blocked']:,}"),
                 ("Redacted", f"{t['redacted']:,}"), ("Warned", f"{t['warned']:,}"), ("Bytes out", charts.short_bytes(t["bytes_out"]))]
        gap = 2.5
        width = (self.epw - gap * (len(tiles) - 1)) / len(tiles)
        y = self.get_y()
        for i, (label, value) in enumerate(tiles):
            x = self.l_margin + i * (width + gap)
            self.set_fill_color(*BAND)
            self.rect(x, y, width, 15, style="F")
            self.set_xy(x + 2, y + 2)
            self.set_font("Helvetica", "B", 13)
            self.cell(width - 4, 6, latin1(value))
            self.set_xy(x + 2, y + 9)
            self.set_font("Helvetica", "", 7.5)
            self.set_text_color(*MUTED)
            self.cell(width - 4, 4, label)
            self.set_text_color(*INK)
        self.set_y(y + 18)

    def evidence(self) -> None:
        for statement in self.report["evidence"]:
            label, fill, ink = BADGES[statement["kind"]]
            self.set_font("Helvetica", "", 9)
            lines = self.multi_cell(self.epw - 28, 4.6, latin1(statement["text"]), align="L", dry_run=True, output="LINES")
            height = max(6.0, 4.6 * len(lines)) + 2
            if self.will_page_break(height + 1):
                self.add_page()
            y = self.get_y()
            self.set_fill_color(*fill)
            self.rect(self.l_margin, y, 24, 5.4, style="F")
            self.set_xy(self.l_margin, y + 0.4)
            self.set_font("Helvetica", "B", 7)
            self.set_text_color(*ink)
            self.cell(24, 4.6, label, align="C")
            self.set_text_color(*INK)
            self.set_font("Helvetica", "", 9)
            self.set_xy(self.l_margin + 27, y)
            self.multi_cell(self.epw - 28, 4.6, latin1(statement["text"]), align="L")
            self.set_y(y + height)
            self.set_draw_color(*LINE)
            self.line(self.l_margin, self.get_y() - 1, self.w - self.r_margin, self.get_y() - 1)

    def bytes_chart(self) -> None:
        series = charts.bytes_over_time(self.report)
        width, height, left = self.epw, 58.0, 20.0
        if self.will_page_break(height + 14):
            self.add_page()
        x0, y0 = self.l_margin, self.get_y() + 2
        plot_w, plot_h = width - left - 2, height - 14
        top, step = charts.byte_axis(max((v for _, v in series), default=0))
        self.set_font("Helvetica", "", 7)
        self.set_draw_color(*LINE)
        tick = 0.0
        while tick <= top + 1e-9:
            y = y0 + plot_h - plot_h * tick / top
            self.line(x0 + left, y, x0 + left + plot_w, y)
            self.set_text_color(*MUTED)
            self.set_xy(x0, y - 2)
            self.cell(left - 2, 4, latin1(charts.short_bytes(tick)), align="R")
            tick += step
        if series:
            slot = plot_w / len(series)
            bar = min(16.0, max(0.4, slot * 0.72))
            every = max(1, -(-len(series) // 8))
            self.set_fill_color(*_hex(charts.COLOURS["bytes"]))
            for i, (label, value) in enumerate(series):
                x = x0 + left + i * slot + (slot - bar) / 2
                h = plot_h * value / top
                if h > 0:
                    self.rect(x, y0 + plot_h - h, bar, h, style="F")
                if i % every == 0:
                    self.set_xy(x + bar / 2 - 12, y0 + plot_h + 1)
                    self.cell(24, 4, latin1(label), align="C")
        self.set_draw_color(*MUTED)
        self.line(x0 + left, y0 + plot_h, x0 + left + plot_w, y0 + plot_h)
        self.set_xy(x0, y0 + plot_h + 6)
        self.cell(width, 4, latin1(f"Bytes out per {charts.duration(self.report['over_time']['bucket_seconds'] or 60)} (UTC)"), align="C")
        self.set_text_color(*INK)
        self.set_y(y0 + height)

    def rules_chart(self) -> None:
        rows = charts.decisions_by_rule(self.report)
        row_h, label_w = 6.0, 52.0
        height = 10 + max(1, len(rows)) * row_h
        if self.will_page_break(height + 4):
            self.add_page()
        x0, y0 = self.l_margin, self.get_y() + 1
        plot_w = self.epw - label_w - 14
        top, _ = charts.nice_ceiling(max((sum(c.values()) for _, c in rows), default=0))
        self.set_font("Helvetica", "", 7.5)
        for i, key in enumerate(charts.OUTCOME_KEYS):
            self.set_fill_color(*_hex(charts.COLOURS[key]))
            self.rect(x0 + label_w + i * 24, y0, 3.2, 3.2, style="F")
            self.set_xy(x0 + label_w + i * 24 + 4, y0 - 0.4)
            self.cell(18, 4, key)
        if not rows:
            self.set_xy(x0 + label_w, y0 + 6)
            self.cell(0, 4, "No rule blocked, redacted or warned in this period.")
        for i, (rule, counts) in enumerate(rows):
            y = y0 + 7 + i * row_h
            self.set_xy(x0, y)
            self.cell(label_w - 2, row_h - 1.5, latin1(rule), align="R")
            x = x0 + label_w
            for key in charts.OUTCOME_KEYS:
                w = plot_w * counts[key] / top
                if w > 0:
                    self.set_fill_color(*_hex(charts.COLOURS[key]))
                    self.rect(x, y + 0.6, w, row_h - 2.6, style="F")
                x += w
            self.set_xy(x + 1.5, y)
            self.cell(12, row_h - 1.5, str(sum(counts.values())))
        self.set_y(y0 + height)


class PdfFormat(ReportFormat):
    name = "pdf"
    extension = "pdf"

    def render(self, report: dict[str, Any], attestation: dict[str, Any]) -> bytes:
        doc = _Document(report, attestation)
        doc.add_page()
        doc.title_block()
        doc.heading("Scope")
        doc.key_values(scope_rows(report, attestation), mono=("Report content SHA-256",))
        doc.heading("Summary")
        doc.summary_tiles()
        doc.key_values(summary_rows(report), key_width=0.6)
        for note in report["notes"]:
            doc.para(note, 7.5, MUTED)
        doc.heading("Evidence statements")
        doc.para("Each statement is made only when the numbers in this report support it.", 8, MUTED)
        doc.ln(1)
        doc.evidence()
        doc.heading("Charts")
        doc.heading("Bytes out over time", 10.5)
        doc.bytes_chart()
        doc.heading("Decisions by rule", 10.5)
        doc.rules_chart()
        doc.heading("Breakdown")
        for table in document_tables(report):
            doc.data_table(table)
        doc.heading("Gate configuration")
        configurations = report["gate"]["configurations"]
        if not configurations:
            doc.para("No start record in or before the period.", 8.5, MUTED, "I")
        for config in configurations:
            doc.heading(f"Configuration from {config['first_started']} (metagate {config['version']}, "
                        f"{config['starts']} start{'s' if config['starts'] != 1 else ''})", 10)
            doc.key_values(config_rows(config["config"]), key_width=0.4)
        if doc.will_page_break(90):
            doc.add_page()
        doc.heading("Verifying this report")
        rows = [("Report content SHA-256", attestation["content_sha256"])]
        if attestation.get("signed"):
            rows += [("Signature (Ed25519, base64)", attestation["signature_b64"]),
                     ("Signing key id", attestation["key_id"]),
                     ("Signing key SHA-256 (raw key)", attestation["public_key_sha256"])]
        else:
            rows.append(("Signature", attestation["unsigned_reason"]))
        doc.key_values(rows, mono=tuple(k for k, _ in rows if k != "Signature"), key_width=0.3)
        for number, (text, command) in enumerate(verification_steps(attestation, self.extension), 1):
            doc.para(f"{number}. {text}", 8.5)
            if command:
                doc.command(command)
            doc.ln(1.5)
        return bytes(doc.output())
