"""Transfer reports from a real run: the real ZenML SDK through metagate to a real ZenML server
(one clean pipeline, one that logs an e-mail address), then `metagate report` in all four formats.

The report's totals are checked against the audit records and against what the server says it
received (every arrival carries the audit id metagate attached when it forwarded the request).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from metagate.proxy.embedded import EmbeddedZenMLServer
from metagate.reports.report import read_trail

from tests.e2e.conftest import SERVER_START_TIMEOUT, ZenMLUpstream
from tests.support.processes import metagate_command

SHIM_DIR = Path(__file__).resolve().parent / "server_shim"
FORMATS = ("html", "pdf", "json", "csv")
ADDRESS = "report.e2e.leak@example.com"


@dataclass
class Arrivals:
    upstream: ZenMLUpstream
    path: Path

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def recorded_server(tmp_path_factory, zenml_python):
    """A real ZenML server that logs every request it receives with metagate's audit id."""
    state = tmp_path_factory.mktemp("zenml-report")
    arrivals = state / "arrivals.jsonl"
    server = EmbeddedZenMLServer(state / "server", python=zenml_python, app="arrivals:app", app_dir=SHIM_DIR,
                                 extra_env={"METAGATE_E2E_ARRIVALS": str(arrivals)})
    server.start(timeout=SERVER_START_TIMEOUT)
    try:
        yield Arrivals(ZenMLUpstream(server), arrivals)
    finally:
        server.stop()


def report_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*metagate_command(*args)], capture_output=True, text=True, timeout=300, check=False)


def pdf_text(data: bytes) -> str:
    chunks = [data.decode("latin-1")]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        try:
            chunks.append(zlib.decompress(match.group(1)).decode("latin-1"))
        except zlib.error:
            pass
    return "\n".join(chunks)


def test_report_of_a_real_run_has_the_right_totals_in_every_format(recorded_server, metagate, run_sdk, tmp_path):
    gate = metagate(recorded_server.upstream.url, mode="reverse")
    env = recorded_server.upstream.sdk_env(url=gate.url)
    before = len(recorded_server.read())

    clean = run_sdk("clean_pipeline.py", "--epochs", "2", env=env)
    assert clean.returncode == 0, clean.describe() + gate.log[-3000:]
    between = datetime.now(UTC)
    pii = run_sdk("pii_pipeline.py", ADDRESS, env=env)
    assert pii.returncode != 0 and pii.value("STEP_EXCEPTION_TYPE") == "IllegalOperationError", pii.describe()
    gate.stop()                                       # final checkpoint and stop record

    out = tmp_path / "report"
    done = report_cli("report", "--data-dir", str(gate.data_dir), "--format", ",".join(FORMATS), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr

    # --- the numbers, from the audit records ---------------------------------------------
    records, source = read_trail(gate.data_dir)
    requests = [r for r in records if r["kind"] == "request"]
    forwarded = [r for r in requests if r["enforced"] in ("allow", "warn", "redact")]
    blocked = [r for r in requests if r["enforced"] == "block"]
    report = json.loads((out / "transfer-report.json").read_text())
    totals = report["totals"]
    assert totals["requests"] == len(requests) > 10
    assert totals["forwarded"] == len(forwarded)
    assert totals["blocked"] == len(blocked) >= 1
    assert totals["allowed"] + totals["redacted"] + totals["warned"] + totals["blocked"] + totals["errored"] == len(requests)
    assert totals["redacted"] == sum(1 for r in requests if r["enforced"] == "redact") >= 1
    assert totals["bytes_out"] == sum(r.get("bytes_forwarded", r["bytes"]) for r in forwarded) > 0
    assert totals["upstream_responses"] == len({r["request_id"] for r in records if r["kind"] == "response"})

    # --- and from what the server received ------------------------------------------------
    arrived = recorded_server.read()[before:]
    arrived_ids = [a["audit_id"] for a in arrived]
    assert all(arrived_ids), "a request reached the server without passing the gate"
    assert sorted(arrived_ids) == sorted(r["id"] for r in forwarded)
    assert not {r["id"] for r in blocked} & set(arrived_ids)
    assert not any(a["method"] == "POST" and a["path"] == "/api/v1/run-metadata" and a["audit_id"] in {r["id"] for r in blocked}
                   for a in arrived)

    # --- what the report says about them --------------------------------------------------
    assert source.name == "store" and report["integrity"]["trail"]["status"] == "verified"
    evidence = {s["id"]: s for s in report["evidence"]}
    assert evidence["chain"]["kind"] == "assurance"
    assert evidence["pii_findings"]["kind"] == "assurance" and evidence["pii_findings"]["numbers"]["blocked_for_pii"] >= 1
    assert evidence["artifact_content"]["kind"] == "assurance"      # value reprs left only as markers
    assert {r["entity"]: r["forwarded"] for r in report["findings_by_entity"]}.get("EMAIL_ADDRESS") == 0
    rules = {r["rule"]: r for r in report["by_rule"]}
    assert rules["pii.detected"]["blocked"] >= 1 and rules["redact.code"]["redacted"] >= 1
    endpoints = {(r["method"], r["endpoint"]): r for r in report["by_endpoint"]}
    assert endpoints[("POST", "/api/v1/run-metadata")]["blocked"] >= 1
    assert sum(r["requests"] for r in report["by_endpoint"]) == len(requests)
    assert sum(b["bytes_out"] for b in report["over_time"]["buckets"]) == totals["bytes_out"]
    assert [p["policy_hash"] for p in report["gate"]["policy_sets"]] == sorted({r["policy_hash"] for r in requests})

    # --- every format: same numbers, no value, signed and verifiable --------------------
    rows = list(csv.DictReader(io.StringIO((out / "transfer-report.csv").read_text())))
    assert {r["metric"]: r["value"] for r in rows if r["section"] == "totals"}["requests"] == str(len(requests))
    html = (out / "transfer-report.html").read_text()
    assert f"{len(requests):,}" in html and report["attestation"]["content_sha256"] in html
    pdf = pdf_text((out / "transfer-report.pdf").read_bytes())
    assert report["attestation"]["content_sha256"] in pdf
    for name, text in (("json", json.dumps(report)), ("csv", str(rows)), ("html", html), ("pdf", pdf)):
        assert ADDRESS not in text and "def train(" not in text, f"a value reached the {name} report"

    public_key = tmp_path / "audit-public.pem"
    exported = subprocess.run([*metagate_command("keys", "export-public", "--data-dir", str(gate.data_dir))],
                              capture_output=True, timeout=120, check=True)
    public_key.write_bytes(exported.stdout)
    for name in FORMATS:
        checked = report_cli("report", "verify", str(out / f"transfer-report.{name}"), "--public-key", str(public_key))
        assert checked.returncode == 0, checked.stdout + checked.stderr

    # --- a period: only the PII run ---------------------------------------------------------
    period_out = tmp_path / "period"
    done = report_cli("report", "--data-dir", str(gate.data_dir), "--from", between.isoformat(), "--format", "json",
                      "--out", str(period_out))
    assert done.returncode == 0, done.stdout + done.stderr
    later = [r for r in requests if datetime.fromisoformat(r["time"]) >= between]
    period = json.loads((period_out / "transfer-report.json").read_text())["totals"]
    assert period["requests"] == len(later) < len(requests)
    assert period["blocked"] == len(blocked)                        # the PII block happened in the second run
