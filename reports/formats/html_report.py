"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no external fetch)."""

from __future__ import annotations

from html import escape
from typing import Any

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

BADGES = {"assurance": ("ok", "Supported"), "exception": ("bad", "Exception"), "limitation": ("warn", "Limitation")}

CSS = """
:root { --ink:#1b2430; --muted:#5b6675; --line:#d9dee5; --band:#f4f6f9; --accent:#1f3a5f; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 980px; margin: 0 auto; padding: 32px 28px 60px; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 14px; margin-bottom: 22px; }
header .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: var(--muted); }
h1 { font-size: 26px; margin: 4px 0 6px; color: var(--accent); }
h2 { font-size: 18px; margin: 30px 0 6px; color: var(--accent); border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
p.caption { color: var(--muted); margin: 2px 0 8px; font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 34%; background: none; font-weight: 600; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; margin: 10px 0 6px; }
.card { background: var(--band); border-radius: 6px; padding: 10px 12px; }
.card .v { font-size: 22px; font-weight: 700; }
.card .k { font-size: 12px; color: var(--muted); }
ul.evidence { list-style: none; padding: 0; margin: 6px 0; }
ul.evidence li { display: flex; gap: 10px; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; margin-bottom: 6px; }
.badge { flex: 0 0 auto; width: 96px; white-space: nowrap; font-size: 11px; font-weight: 700; text-transform: uppercase; border-radius: 4px;
         padding: 2px 6px; height: fit-content; text-align: center; }
.badge.ok { background: #e3f4e8; color: #17663a; } .badge.bad { background: #fde8e7; color: #a11d12; }
.badge.warn { background: #fdf3d8; color: #7a5a00; }
.chart { width: 100%; height: auto; }
.chart .grid { stroke: #e6e9ee; } .chart .axis { stroke: #8a94a3; }
.chart .tick { font-size: 11px; fill: #475261; } .chart .label { font-size: 11px; fill: #5b6675; }
.attest { background: var(--band); border-left: 4px solid var(--accent); padding: 10px 14px; margin: 12px 0; }
ol.verify li { margin-bottom: 8px; }
pre { background: var(--band); border: 1px solid var(--line); border-radius: 4px; padding: 6px 10px; margin: 4px 0;
      font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print { body { padding: 0; } h2 { break-after: avoid; } table, ul.evidence li, svg { break-inside: avoid; } }
"""


NUM, MONO = ' class="num"', ' class="mono"'


def _kv(rows: list[tuple[str, str]], mono: tuple[str, ...] = ()) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td{MONO if k in mono else ''}>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _table(table: Table) -> str:
    out = [f"<h3>{escape(table.title)}</h3>"]
    if table.caption:
        out.append(f'<p class="caption">{escape(table.caption)}</p>')
    if not table.rows:
        out.append(f'<p class="caption">{escape(table.empty)}</p>')
        return "".join(out)
    head = "".join(f'<th{NUM if c.numeric else ""}>{escape(c.label)}</th>' for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f'<td{NUM if c.numeric else ""}>{escape(text)}</td>'
                         for c, text in zip(table.columns, cells)) + "</tr>"
        for cells in table.cells())
    out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return "".join(out)


class HtmlFormat(ReportFormat):
    name = "html"
    extension = "html"

    def render(self, report: dict[str, Any], attestation: dict[str, Any]) -> bytes:
        t = report["totals"]
        period = report["scope"]["period"]
        cards = [("Requests", t["requests"]), ("Forwarded", t["forwarded"]), ("Blocked", t["blocked"]),
                 ("Redacted", t["redacted"]), ("Warned", t["warned"]), ("Bytes out", charts.short_bytes(t["bytes_out"]))]
        evidence = "".join(
            f'<li><span class="badge {BADGES[s["kind"]][0]}">{BADGES[s["kind"]][1]}</span>'
            f"<span>{escape(s['text'])}</span></li>" for s in report["evidence"])
        tables = document_tables(report)
        configs = "".join(
            f"<h3>Configuration from {escape(c['first_started'] or '-')} (metagate {escape(str(c['version']))}, "
            f"{c['starts']} start{'s' if c['starts'] != 1 else ''})</h3>" + _kv(config_rows(c["config"]))
            for c in report["gate"]["configurations"]) or '<p class="caption">No start record in or before the period.</p>'
        signature = (f"<p>Signature (Ed25519, base64): <code>{escape(attestation['signature_b64'])}</code><br>"
                     f"Signing key id: <code>{escape(attestation['key_id'])}</code> (SHA-256 of the raw public key: "
                     f"<code>{escape(attestation['public_key_sha256'])}</code>)</p>"
                     if attestation.get("signed") else f"<p><strong>{escape(attestation['unsigned_reason'])}</strong></p>")
        steps = "".join(f"<li>{escape(text)}" + (f"<pre>{escape(command)}</pre>" if command else "") + "</li>"
                        for text, command in verification_steps(attestation, self.extension))
        html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>metagate transfer report {escape(period['from'] or '')} to {escape(period['to'] or '')}</title>
<style>{CSS}</style></head>
<body>
<header><div class="kicker">Egress evidence &middot; metadata leaving the VPC for ZenML</div>
<h1>metagate transfer report</h1>
<div>{escape(period['from'] or '-')} &rarr; {escape(period['to'] or '-')} (UTC)</div></header>

<h2>Scope</h2>
{_kv(scope_rows(report, attestation), mono=("Report content SHA-256",))}

<h2>Summary</h2>
<div class="cards">{''.join(f'<div class="card"><div class="v">{escape(f"{v:,}" if isinstance(v, int) else v)}</div><div class="k">{escape(k)}</div></div>' for k, v in cards)}</div>
{_kv(summary_rows(report))}
{''.join(f'<p class="caption">{escape(n)}</p>' for n in report['notes'])}

<h2>Evidence statements</h2>
<p class="caption">Each statement is made only when the numbers in this report support it.</p>
<ul class="evidence">{evidence}</ul>

<h2>Charts</h2>
<h3>Bytes out over time</h3>
{charts.svg_bytes_over_time(report)}
<h3>Decisions by rule</h3>
{charts.svg_decisions_by_rule(report)}

<h2>Breakdown</h2>
{''.join(_table(table) for table in tables)}

<h2>Gate configuration</h2>
{configs}

<h2>Verifying this report</h2>
<div class="attest"><p>Report content SHA-256: <code>{escape(attestation['content_sha256'])}</code></p>{signature}</div>
<ol class="verify">{steps}</ol>

<footer>{escape(report['report']['generator'])} &middot; report format {report['report']['format_version']} &middot;
generated {escape(report['report']['generated_at'])} &middot; content SHA-256 <span class="mono">{escape(attestation['content_sha256'])}</span></footer>
</body></html>
"""
        return html.encode("utf-8")
