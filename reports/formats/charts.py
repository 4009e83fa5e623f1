"""The two charts (bytes out over time, decisions by rule): their data, and inline SVG for HTML.

The PDF draws the same data with its own primitives; both read it from here.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Any

from metagate.reports.formats.base import duration, human_bytes

COLOURS = {"bytes": "#2563a8", "blocked": "#b42318", "redacted": "#c2610c", "warned": "#a58a00"}
OUTCOME_KEYS = ("blocked", "redacted", "warned")


def bucket_label(start: str, width: int) -> str:
    moment = datetime.fromisoformat(start)
    if width >= 86400:
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%m-%d %H:%M") if width >= 60 else moment.strftime("%H:%M:%S")


def bytes_over_time(report: dict[str, Any]) -> list[tuple[str, int]]:
    width = report["over_time"]["bucket_seconds"]
    return [(bucket_label(b["start"], width), b["bytes_out"]) for b in report["over_time"]["buckets"]]


def decisions_by_rule(report: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
    rows = [(r["rule"], {k: r[k] for k in OUTCOME_KEYS}) for r in report["by_rule"]]
    return [row for row in rows if sum(row[1].values())]


def nice_ceiling(value: float) -> tuple[float, float]:
    """An axis maximum at or above value and a tick step giving 4-5 ticks."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step), step


def byte_axis(value: float) -> tuple[float, float]:
    """nice_ceiling in the binary unit the maximum is shown in, so tick labels read 5 KiB, 10 KiB ..."""
    unit = 1
    while value >= 1024 * unit and unit < 1024 ** 3:
        unit *= 1024
    top, step = nice_ceiling(value / unit)
    return top * unit, step * unit


def short_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:g} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:g}"


def svg_bytes_over_time(report: dict[str, Any], width: int = 720, height: int = 240) -> str:
    series = bytes_over_time(report)
    left, right, top, bottom = 70, 12, 14, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value, step = byte_axis(max((v for _, v in series), default=0))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Bytes out over time" class="chart">']
    tick = 0.0
    while tick <= top_value + 1e-9:
        y = top + plot_h - plot_h * tick / top_value
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{escape(short_bytes(tick))}</text>')
        tick += step
    if series:
        slot = plot_w / len(series)
        bar = min(48.0, max(1.0, slot * 0.72))
        label_every = max(1, math.ceil(len(series) / 8))
        for i, (label, value) in enumerate(series):
            x = left + i * slot + (slot - bar) / 2
            h = plot_h * value / top_value
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS["bytes"]}"><title>{escape(label)}: {escape(human_bytes(value))}</title></rect>')
            if i % label_every == 0:
                parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" class="tick" text-anchor="middle">'
                             f'{escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" class="label" text-anchor="middle">'
                 f'bytes out per {duration(report["over_time"]["bucket_seconds"] or 60)} (UTC)</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_decisions_by_rule(report: dict[str, Any], width: int = 720) -> str:
    rows = decisions_by_rule(report)
    row_h, left, right, top = 26, 220, 60, 30
    height = top + max(1, len(rows)) * row_h + 16
    plot_w = width - left - right
    top_value, _ = nice_ceiling(max((sum(c.values()) for _, c in rows), default=0))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Decisions by rule" class="chart">']
    legend_x = left
    for key in OUTCOME_KEYS:
        parts.append(f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{COLOURS[key]}"/>'
                     f'<text x="{legend_x + 17}" y="16" class="tick">{key}</text>')
        legend_x += 90
    if not rows:
        parts.append(f'<text x="{left}" y="{top + 16}" class="tick">No rule blocked, redacted or warned in this period.</text>')
    for i, (rule, counts) in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="{left - 8}" y="{y + 16}" class="tick" text-anchor="end">{escape(rule)}</text>')
        x = float(left)
        for key in OUTCOME_KEYS:
            w = plot_w * counts[key] / top_value
            if w:
                parts.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{COLOURS[key]}">'
                             f'<title>{escape(rule)}: {counts[key]} {key}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 16}" class="tick">{sum(counts.values())}</text>')
    parts.append("</svg>")
    return "".join(parts)
