"""`metagate scan`: captured requests through the proxy's pipeline, reported as table, JSON, SARIF."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest
from metagate.proxy.cli import main
from metagate.proxy.scan_cli import mask_credentials
from metagate.scanner.model import InspectionRequest

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"
PII_CAPTURE = CORPUS / "pii_pipeline.jsonl"
CLEAN_CAPTURE = CORPUS / "clean_pipeline.jsonl"
PII_LINE = next(
    n for n, line in enumerate(PII_CAPTURE.read_text().splitlines(), start=1) if "jane.doe@example.com" in line
)


def scan(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["scan", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def pii_report():
    """JSON report of the PII capture, scanned once in this process."""
    import contextlib

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = main(["scan", str(PII_CAPTURE), "--format", "json", "--in-process"])
    return code, json.loads(stdout.getvalue())


def test_json_report_has_one_entry_per_request_in_input_order(pii_report):
    code, report = pii_report
    records = [json.loads(line) for line in PII_CAPTURE.read_text().splitlines() if line.strip()]
    assert code == 1
    assert [(r["method"], r["path"]) for r in report] == [(r["method"], r["path"]) for r in records]
    assert [r["index"] for r in report] == list(range(len(records)))
    for entry in report:
        assert entry["decision"] in ("allow", "block", "redact", "warn")
        assert {"rules", "findings", "redactions"} <= set(entry)


def test_the_leak_is_blocked_with_its_finding_and_nothing_else_is(pii_report):
    _, report = pii_report
    blocked = [r for r in report if r["decision"] == "block"]
    assert len(blocked) == 1
    [entry] = blocked
    assert entry["line"] == PII_LINE
    assert entry["rules"] == ["pii.detected"]
    [finding] = [f for f in entry["findings"] if f["entity"] == "EMAIL_ADDRESS"]
    assert finding["path"] == "$.values.note"
    assert finding["detector"] == "presidio" and finding["score"] >= 0.5
    assert "jane" not in json.dumps(report)  # never the value, only its keyed fingerprint


def test_redactions_count_as_forwarded_and_list_their_paths(capsys):
    code, out, err = scan(capsys, str(CLEAN_CAPTURE), "--format", "json", "--in-process")
    report = json.loads(out)
    assert code == 0
    assert {r["decision"] for r in report} == {"allow", "redact"}
    snapshot = next(r for r in report if r["path"] == "/api/v1/pipeline_snapshots")
    assert sorted(snapshot["redactions"]) == ["$.client_environment.python_packages", "$.source_code"]
    assert "fresh random key" in err  # JSON stays one array; the note goes to stderr


def test_table_marks_blocks_and_says_the_key_is_random(capsys):
    code, out, _ = scan(capsys, str(PII_CAPTURE), "--in-process")
    assert code == 1
    assert f"pii_pipeline.jsonl:{PII_LINE}" in out
    assert "BLOCK" in out and "pii.detected: EMAIL_ADDRESS at $.values.note" in out
    assert "25 requests: 20 allow, 4 redact, 1 block" in out
    assert "fresh random key" in out


def test_sarif_report_locates_the_leak_by_line_and_json_path(capsys, tmp_path):
    output = tmp_path / "scan.sarif"
    code, out, _ = scan(capsys, str(PII_CAPTURE), "--format", "sarif", "--output", str(output), "--in-process")
    assert code == 1 and out == ""
    sarif = json.loads(output.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    errors = [r for r in run["results"] if r["level"] == "error"]
    assert [r["ruleId"] for r in errors] == ["pii.detected"]
    location = errors[0]["locations"][0]
    assert location["physicalLocation"]["region"]["startLine"] == PII_LINE
    assert location["logicalLocations"][0]["name"] == "$.values.note"
    assert run["tool"]["driver"]["rules"][errors[0]["ruleIndex"]]["id"] == "pii.detected"
    notes = [r for r in run["results"] if r["level"] == "note"]
    assert {r["ruleId"] for r in notes} >= {"redact.code", "redact.package_list"}


def test_fingerprints_use_the_data_dir_key(capsys, tmp_path):
    capture = tmp_path / "one.json"
    capture.write_text(json.dumps({
        "method": "POST", "path": "/api/v1/run-metadata", "headers": {"Content-Type": "application/json"},
        "body_text": json.dumps({"project": "a706a4ce-f538-4db7-9ef3-6b9c877f4a01",
                                 "resources": [{"id": "9f20e1c8-fa07-4da0-8716-bfea486047b9", "type": "pipeline_run"}],
                                 "values": {"note": "mail jane.doe@example.com"}, "types": {"note": "string"}}),
    }))
    code, out, err = scan(capsys, str(capture), "--format", "json", "--data-dir", str(tmp_path / "data"), "--in-process")
    assert code == 1 and "random key" not in err
    [entry] = json.loads(out)
    key = (tmp_path / "data" / "keys" / "fingerprint.key").read_bytes()
    expected = hmac.new(key, b"jane.doe@example.com", hashlib.sha256).hexdigest()[:32]
    assert [f["fingerprint"] for f in entry["findings"] if f["entity"] == "EMAIL_ADDRESS"] == [expected]


def test_config_applies_the_policy_data_of_metagate_run(capsys, tmp_path):
    config = tmp_path / "metagate.yaml"
    config.write_text("policy:\n  data:\n    ignored_entities: [EMAIL_ADDRESS]\n")
    code, out, _ = scan(capsys, str(PII_CAPTURE), "--format", "json", "--config", str(config), "--in-process")
    assert code == 0
    assert "block" not in {r["decision"] for r in json.loads(out)}


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json\n", "not JSON"), ('{"method": "GET"}', "needs \"path\" or \"url\"")],
)
def test_unreadable_input_exits_2_before_scanning(capsys, tmp_path, content, message):
    good = tmp_path / "good.jsonl"
    good.write_text('{"method": "GET", "path": "/api/v1/info"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    code, out, err = scan(capsys, str(good), str(bad), "--format", "json", "--in-process")
    assert (code, out) == (2, "")
    assert message in err and "bad.jsonl" in err


def test_missing_input_and_bad_config_exit_2(capsys, tmp_path):
    assert scan(capsys, str(tmp_path / "missing.jsonl"), "--in-process")[0] == 2
    config = tmp_path / "metagate.yaml"
    config.write_text("policy:\n  engine: nonsense\n")
    code, _, err = scan(capsys, str(CLEAN_CAPTURE), "--config", str(config), "--in-process")
    assert code == 2 and "policy.engine" in err


def test_stdin_and_the_isolated_worker(capsys, monkeypatch):
    # The default path: the Inspector runs in a spawned worker process, as in the proxy.
    lines = PII_CAPTURE.read_text().splitlines()
    stdin = io.TextIOWrapper(io.BytesIO(("\n".join(lines[PII_LINE - 2 : PII_LINE]) + "\n").encode()))
    monkeypatch.setattr("sys.stdin", stdin)
    code, out, _ = scan(capsys, "-", "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert [r["decision"] for r in report] == ["allow", "block"]
    assert report[1]["source"] == "<stdin>" and report[1]["line"] == 2


def test_credential_headers_are_masked_as_the_proxy_masks_them():
    request = InspectionRequest(
        "GET", "/api/v1/info",
        headers=(("Authorization", "Bearer abc.def.ghi"), ("Cookie", "session=1"), ("Accept", "*/*")),
    )
    masked = mask_credentials(request, "scan-0")
    assert masked.headers == (("Authorization", "<redacted>"), ("Cookie", "<redacted>"), ("Accept", "*/*"))
    assert masked.request_id == "scan-0"
