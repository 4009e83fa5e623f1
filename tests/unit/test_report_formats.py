"""The four report formats, the report's own signature, `metagate report [verify]`, and that no
value from a request reaches any format."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import zlib

import pytest
from metagate.proxy.cli import main
from metagate.reports import keys, store
from metagate.reports.formats import FORMAT_NAMES, get_format, signing
from metagate.reports.report import build_report
from metagate.reports.report_cli import write_report

from tests.unit.test_report_model import (
    EMAIL,
    at,
    lifecycle,
    request,
    response,
)

# Strings that sit in record fields a report must never render: paths, reasons, field names,
# query parameter names, fingerprints, violation messages, unknown endpoint paths.
SENSITIVE = {
    "path": "$.values.jane_doe_home_address",
    "reason": "pii.detected: EMAIL_ADDRESS at $.values.ceo.private@example.org",
    "warning": "schema.unknown_field: $.values.project_nightingale",
    "top_field": "acquisition_target_contoso",
    "unknown_field": "$.internal_codename_bluebird",
    "fingerprint": "9f86d081884c7d659a2feaa0c55ad015",
    "query": "api_token_q7x2",
    "violation": "value too long at $.steps.hush_hush_model",
    "unknown_path": "/api/v1/private-roadmap-2027",
    "scrubbed": "$.headers.cookie_session_zz",
}


def leaky_trail() -> list[dict]:
    blocked = request(at(1), "block", rules=["pii.detected"], reasons=[SENSITIVE["reason"]],
                      findings=[{**EMAIL, "path": SENSITIVE["path"], "fingerprint": SENSITIVE["fingerprint"]}])
    blocked["fields"]["top"] = [SENSITIVE["top_field"]]
    blocked["query_params"] = [SENSITIVE["query"]]
    warned = request(at(2), "warn", rules=["schema.unknown_field"], warnings=[SENSITIVE["warning"]],
                     unknown_fields=[SENSITIVE["unknown_field"]],
                     violations=[{"path": SENSITIVE["path"], "kind": "too_long", "message": SENSITIVE["violation"]}])
    warned["scrubbed"] = [SENSITIVE["scrubbed"]]
    unknown = request(at(3), "block", rules=["endpoint.unknown_write"], endpoint=None, resource=None)
    unknown["path"] = SENSITIVE["unknown_path"]
    redacted = request(at(4), "redact", rules=["redact.code"], redacted=[SENSITIVE["path"]],
                       reasons=[f"redact.code: code at {SENSITIVE['path']}"], classes={"code": 1})
    return [lifecycle("start", at(0)), blocked, warned, response(warned, at(2)), unknown, redacted, lifecycle("stop", at(5))]


def pdf_text(data: bytes) -> str:
    """The PDF's content streams, inflated, as text (fpdf2 writes text as literal strings)."""
    chunks = [data.decode("latin-1")]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        try:
            chunks.append(zlib.decompress(match.group(1)).decode("latin-1"))
        except zlib.error:
            pass
    return "\n".join(chunks)


def rendered(report: dict, attestation: dict) -> dict[str, str]:
    out = {}
    for name in FORMAT_NAMES:
        data = get_format(name).render(report, attestation)
        out[name] = pdf_text(data) if name == "pdf" else data.decode("utf-8")
    return out


@pytest.fixture
def signing_key(tmp_path):
    keys.init_signing_key(tmp_path / "data")
    return keys.load_signing_key(tmp_path / "data")


def test_no_request_value_or_field_name_reaches_any_format(signing_key):
    report = build_report(leaky_trail())
    outputs = rendered(report, signing.attest(report, signing_key))
    assert "EMAIL_ADDRESS" in outputs["pdf"]        # the PDF text is readable here, so absence below means something
    for name, text in outputs.items():
        for field, value in SENSITIVE.items():
            assert value not in text, f"{field} leaked into the {name} report"
        assert "jane_doe" not in text and "private@example.org" not in text, name


def test_json_report_holds_the_contract_totals_and_attestation(signing_key):
    report = build_report(leaky_trail())
    data = json.loads(get_format("json").render(report, signing.attest(report, signing_key)))
    assert {"requests", "allowed", "blocked", "redacted", "warned", "bytes_out"} <= set(data["totals"])
    assert (data["totals"]["requests"], data["totals"]["blocked"], data["totals"]["warned"]) == (4, 2, 1)
    assert data["attestation"]["signed"] is True
    assert data["attestation"]["content_sha256"] == signing.attest(report, None)["content_sha256"]


def test_csv_report_is_one_long_table_with_the_same_numbers():
    report = build_report(leaky_trail())
    rows = list(csv.DictReader(io.StringIO(get_format("csv").render(report, signing.attest(report, None)).decode())))
    totals = {r["metric"]: r["value"] for r in rows if r["section"] == "totals"}
    assert totals["requests"] == "4" and totals["bytes_out"] == str(report["totals"]["bytes_out"])
    assert {"by_endpoint", "by_rule", "findings_by_entity", "field_classes", "evidence", "attestation"} <= {r["section"] for r in rows}
    assert any(r["section"] == "by_rule" and r["key"] == "pii.detected" and r["metric"] == "blocked" and r["value"] == "1"
               for r in rows)


def test_csv_cells_that_a_spreadsheet_would_evaluate_are_neutralised():
    record = request(at(1), user_id="=HYPERLINK(\"http://x\")")
    text = get_format("csv").render(build_report([record]), {"content_sha256": "0"}).decode()
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


def test_html_report_is_self_contained_and_escapes_what_it_shows():
    record = request(at(1), "block", rules=["<script>alert(1)</script>"])
    html = get_format("html").render(build_report([record]), signing.attest(build_report([record]), None)).decode()
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    for external in ("<link", " src=", "@import", "url(", "https://"):
        assert external not in html
    assert html.count("<svg") == 2                   # bytes over time, decisions by rule


def test_pdf_report_renders_with_charts_tables_and_verification():
    report = build_report(leaky_trail())
    data = get_format("pdf").render(report, signing.attest(report, None))
    text = pdf_text(data)
    assert data.startswith(b"%PDF-")
    for heading in ("Scope", "Summary", "Evidence statements", "Bytes out over time", "Decisions by rule",
                    "Findings by entity type", "Verifying this report", "unsigned"):
        assert heading in text, heading


def test_report_files_verify_and_tampering_is_detected(tmp_path, signing_key):
    data_dir = tmp_path / "data"
    (data_dir / "audit").mkdir(parents=True)
    (data_dir / "audit" / "trail.jsonl").write_text("".join(json.dumps(r) + "\n" for r in leaky_trail()))
    out = tmp_path / "out"
    _, attestation, written = write_report(data_dir, out, list(FORMAT_NAMES))
    assert attestation["signed"] and (out / signing.PUBLIC_KEY_NAME).exists()
    assert {p.name for p in written} >= {f"transfer-report.{ext}{suffix}" for ext in FORMAT_NAMES for suffix in ("", ".sha256", ".sig")}
    for ext in FORMAT_NAMES:
        result = signing.verify_file(out / f"transfer-report.{ext}")
        assert result.ok, result.checks

    # Edit a number in the JSON and refresh its .sha256: the signatures still catch it.
    path = out / "transfer-report.json"
    edited = json.loads(path.read_text())
    edited["totals"]["blocked"] = 0
    path.write_text(json.dumps(edited))
    signing.write_detached(path, None)
    result = signing.verify_file(path)
    assert not result.ok
    failed = [message for passed, message in result.checks if not passed]
    assert any("signature" in m for m in failed) and any("embedded content digest" in m for m in failed)

    # A signature by another key does not verify against the gate's key.
    other = tmp_path / "other"
    keys.init_signing_key(other)
    (tmp_path / "other.pem").write_bytes(keys.export_public_key(other))
    assert not signing.verify_file(out / "transfer-report.pdf", tmp_path / "other.pem").ok


def test_cli_writes_requested_formats_and_verify_exit_codes(tmp_path, capsys):
    data_dir = tmp_path / "data"
    (data_dir / "audit").mkdir(parents=True)
    (data_dir / "audit" / "trail.jsonl").write_text("".join(json.dumps(r) + "\n" for r in leaky_trail()))
    out = tmp_path / "out"
    assert main(["report", "--data-dir", str(data_dir), "--from", "2026-11-26", "--to", "2026-11-26",
                 "--format", "json,csv", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["transfer-report.csv", "transfer-report.csv.sha256",
                                                     "transfer-report.json", "transfer-report.json.sha256"]
    assert "unsigned: no audit signing key" in capsys.readouterr().out
    # Unsigned: the SHA-256 matches but verification cannot succeed without a signature.
    assert main(["report", "verify", str(out / "transfer-report.json")]) == 1
    assert main(["report", "--data-dir", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert main(["report", "--data-dir", str(data_dir), "--from", "2026-11-27", "--to", "2026-11-26", "--out", str(out)]) == 2

    keys.init_signing_key(data_dir)
    assert main(["report", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    public = tmp_path / "audit-public.pem"
    public.write_bytes(keys.export_public_key(data_dir))
    assert main(["report", "verify", str(out / "transfer-report.pdf"), "--public-key", str(public)]) == 0
    keys.init_signing_key(tmp_path / "someone-else")
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(keys.export_public_key(tmp_path / "someone-else"))
    assert main(["report", "verify", str(out / "transfer-report.pdf"), "--public-key", str(stranger)]) == 1
    (out / "transfer-report.pdf").write_bytes((out / "transfer-report.pdf").read_bytes() + b"\n")
    assert main(["report", "verify", str(out / "transfer-report.pdf"), "--public-key", str(public)]) == 1


def test_chained_store_trail_verifies_in_the_report_and_an_edit_is_reported(tmp_path):
    data_dir = tmp_path / "data"
    audit = store.open_store(None, data_dir)
    for record in leaky_trail():
        audit.commit(record).result(10)
    audit.close()
    report, _, _ = write_report(data_dir, tmp_path / "out", ["json"])
    trail = report["integrity"]["trail"]
    assert report["scope"]["trail"]["source"] == "store" and report["totals"]["requests"] == 4
    assert trail["status"] == "verified" and trail["signatures"] and trail["records"] == len(leaky_trail())
    chain = next(s for s in report["evidence"] if s["id"] == "chain")
    assert chain["kind"] == "assurance"

    database = store.sqlite_path(store.StoreSettings(), data_dir)
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_records SET body = replace(body, '\"bytes\":100', '\"bytes\":1') "
                           "WHERE kind = 'request' AND id = (SELECT id FROM audit_records WHERE kind = 'request' LIMIT 1)")
    report, _, _ = write_report(data_dir, tmp_path / "out", ["json"])
    assert report["integrity"]["trail"]["status"] == "failed"
    chain = next(s for s in report["evidence"] if s["id"] == "chain")
    assert chain["kind"] == "exception" and "edited" in chain["text"]
