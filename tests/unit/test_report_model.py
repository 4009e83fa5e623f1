"""The transfer report's numbers from synthetic decision records: totals, breakdowns, period,
policy sets, evidence statements that are made only when the numbers support them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count

import pytest
from metagate.reports.report import (
    ReportError,
    build_report,
    integrity_summary,
    load_records,
    parse_time,
    read_trail,
)

POLICY_A, POLICY_B = "a" * 64, "b" * 64
_ids = count(1)


def at(second: int, minute: int = 0, hour: int = 10) -> str:
    return f"2026-11-26T{hour:02d}:{minute:02d}:{second:02d}.000000+00:00"


def request(time: str, decision: str = "allow", *, enforced: str | None = None, rules=(), findings=(), redacted=(),
            reasons=(), classes=None, endpoint="/api/v1/run-metadata", resource="run_metadata", size=100, **extra) -> dict:
    return {
        "id": f"req-{next(_ids)}", "time": time, "kind": "request", "client": extra.pop("client", "10.0.0.7"),
        "user_id": extra.pop("user_id", "user-1"), "method": extra.pop("method", "POST"), "host": "zenml.example.com",
        "path": endpoint, "query_params": [], "bytes": size, "decision": decision, "enforced": enforced or decision,
        "enforcement": "monitor" if enforced and enforced != decision else "enforce", "rules": list(rules),
        "reasons": list(reasons), "warnings": [], "endpoint": endpoint, "resource": resource, "action": "create",
        "decoded_bytes": size, "parse_error": extra.pop("parse_error", None),
        "fields": {"top": ["values"], "classes": classes or {"id": 2, "user_dict": 1}}, "violations": [],
        "unknown_fields": [], "findings": list(findings), "redacted": list(redacted),
        "policy_hash": extra.pop("policy_hash", POLICY_A), "inspection_ms": {"scan": 1.0}, "gate_ms": 2.0, **extra,
    }


def response(req: dict, time: str, status: int = 200, size: int = 50) -> dict:
    return {"id": f"resp-{next(_ids)}", "time": time, "kind": "response", "request_id": req["id"], "status": status,
            "bytes_returned": size}


def lifecycle(kind: str, time: str, policy_hash: str = POLICY_A, enforcement: str = "enforce") -> dict:
    return {"id": f"life-{next(_ids)}", "time": time, "kind": kind, "version": "0.1.0", "policy_hash": policy_hash,
            "config": {"mode": "reverse", "upstream": "https://zenml.example.com:443", "enforcement": enforcement}}


def finding(entity: str, category: str, path: str) -> dict:
    return {"entity": entity, "category": category, "path": path, "score": 0.9, "detector": "presidio",
            "fingerprint": "f" * 32, "field_class": "user_dict"}


EMAIL = finding("EMAIL_ADDRESS", "pii", "$.values.note")


@pytest.fixture
def trail() -> list[dict]:
    allowed = request(at(1), size=100)
    pii = request(at(2), "block", rules=["pii.detected"], findings=[EMAIL], size=80)
    redacted = request(at(3), "redact", rules=["redact.code"], endpoint="/api/v1/steps", resource="steps", size=400,
                       redacted=["$.source_code"], reasons=["redact.code: code at $.source_code"],
                       classes={"id": 2, "code": 2, "name": 1})
    warned = request(at(4), "warn", rules=["schema.unknown_field"], size=60, user_id=None, client="10.0.0.8")
    return [lifecycle("start", at(0)), allowed, response(allowed, at(1)), pii, redacted, response(redacted, at(3)),
            warned, response(warned, at(5)), lifecycle("stop", at(6))]


def test_totals_count_outcomes_and_only_forwarded_bytes(trail):
    totals = build_report(trail)["totals"]
    assert (totals["requests"], totals["allowed"], totals["blocked"], totals["redacted"], totals["warned"]) == (4, 1, 1, 1, 1)
    assert totals["forwarded"] == 3
    assert totals["bytes_out"] == 100 + 400 + 60           # the blocked 80 bytes never left
    assert totals["bytes_from_clients"] == 640
    assert totals["bytes_returned"] == 150 and totals["upstream_responses"] == 3
    assert totals["redacted_fields"] == 1
    assert totals["bytes_out_exact"] is False              # the redacted body's forwarded size is not recorded


def test_bytes_forwarded_makes_redacted_bytes_exact(trail):
    trail[4]["bytes_forwarded"] = 350
    totals = build_report(trail)["totals"]
    assert totals["bytes_out"] == 100 + 350 + 60 and totals["bytes_out_exact"] is True


def test_breakdowns_by_endpoint_resource_client_and_user(trail):
    report = build_report(trail)
    endpoints = {(r["method"], r["endpoint"]): r for r in report["by_endpoint"]}
    assert endpoints[("POST", "/api/v1/run-metadata")] == {
        "method": "POST", "endpoint": "/api/v1/run-metadata", "requests": 3, "forwarded": 2, "blocked": 1,
        "redacted": 0, "warned": 1, "bytes_out": 160}
    assert {r["resource"]: r["bytes_out"] for r in report["by_resource"]} == {"run_metadata": 160, "steps": 400}
    assert {r["client"]: r["requests"] for r in report["by_client"]} == {"10.0.0.7": 3, "10.0.0.8": 1}
    users = {r["user_id"]: r["requests"] for r in report["by_user"]}
    assert users["user-1"] == 3 and sum(users.values()) == 4


def test_unknown_endpoints_are_counted_but_not_named():
    unknown = request(at(1), "block", rules=["endpoint.unknown_write"], endpoint=None, resource=None)
    unknown["path"] = "/api/v1/secret-project-name/thing"
    report = build_report([unknown])
    assert report["by_endpoint"][0]["endpoint"] == "(unknown endpoint)"
    assert "secret-project-name" not in json.dumps(report)


def test_by_rule_splits_what_the_gate_did_including_monitor_mode():
    records = [
        request(at(1), "block", rules=["pii.detected"], findings=[EMAIL]),
        request(at(2), "block", rules=["pii.detected", "redact.code"], findings=[EMAIL]),
        request(at(3), "block", enforced="allow", rules=["pii.detected"], findings=[EMAIL]),
        request(at(4), "redact", rules=["redact.code"], redacted=["$.source_code"]),
    ]
    report = build_report(records)
    rules = {r["rule"]: r for r in report["by_rule"]}
    assert rules["pii.detected"] == {"rule": "pii.detected", "requests": 3, "blocked": 2, "redacted": 0, "warned": 0,
                                         "forwarded_in_monitor_mode": 1}
    assert (rules["redact.code"]["blocked"], rules["redact.code"]["redacted"]) == (1, 1)
    assert report["totals"]["monitor_forwarded_would_block"] == 1
    assert report["blocked_by_rule_family"] == {"pii": 2, "redact": 1}


def test_findings_by_entity_follow_each_finding_to_its_fate():
    records = [
        request(at(1), "block", rules=["pii.detected"], findings=[EMAIL, finding("PERSON", "pii", "$.values.who")]),
        request(at(2), "redact", rules=["redact.code"], redacted=["$.values"],       # finding under a redacted path
                findings=[finding("EMAIL_ADDRESS", "pii", "$.values.note")]),
        request(at(3), "allow", findings=[finding("EMAIL_ADDRESS", "pii", "$.name")]),  # below threshold: forwarded
        request(at(4), "block", rules=["secret.detected"], findings=[finding("AWS_ACCESS_KEY", "secret", "$.values.k")]),
    ]
    report = build_report(records)
    entities = {r["entity"]: r for r in report["findings_by_entity"]}
    assert entities["EMAIL_ADDRESS"] == {"entity": "EMAIL_ADDRESS", "category": "pii", "findings": 3, "requests": 3,
                                             "blocked": 1, "redacted_away": 1, "forwarded": 1}
    assert entities["PERSON"]["blocked"] == 1 and entities["AWS_ACCESS_KEY"]["category"] == "secret"
    pii = report["findings_by_category"]["pii"]
    assert (pii["findings"], pii["forwarded"], pii["requests_forwarded_with_finding"]) == (4, 1, 1)


def test_field_classes_split_values_markers_and_blocked(trail):
    classes = {r["field_class"]: r for r in build_report(trail)["field_classes"]}
    assert classes["code"] == {"field_class": "code", "sent_as_values": 1, "sent_as_markers": 1,
                                    "in_blocked_requests": 0, "requests": 1}
    assert classes["user_dict"]["sent_as_values"] == 2 and classes["user_dict"]["in_blocked_requests"] == 1
    assert classes["id"]["sent_as_values"] == 6 and classes["id"]["in_blocked_requests"] == 2


def test_period_filters_records_keeps_late_responses_and_clips_policy_sets():
    early = request(at(5, minute=0), policy_hash=POLICY_A)
    inside = request(at(5, minute=10), "block", rules=["pii.detected"], findings=[EMAIL], policy_hash=POLICY_B)
    inside_allowed = request(at(59, minute=19), policy_hash=POLICY_B)
    late = request(at(5, minute=30), policy_hash=POLICY_B)
    records = [lifecycle("start", at(0, minute=0), POLICY_A), early, lifecycle("stop", at(1, minute=1), POLICY_A),
               lifecycle("start", at(0, minute=5), POLICY_B), inside, inside_allowed,
               response(inside_allowed, at(1, minute=20)), late]
    start, end = parse_time("2026-11-26T10:08:00Z"), parse_time("2026-11-26T10:20:00Z")
    report = build_report(records, start, end)
    assert report["totals"]["requests"] == 2 and report["totals"]["blocked"] == 1
    assert report["totals"]["upstream_responses"] == 1      # answered after the period ended, still counted
    assert report["gate"]["policy_sets"] == [
        {"policy_hash": POLICY_B, "from": "2026-11-26T10:08:00Z", "to": "2026-11-26T10:20:00Z", "requests": 2}]
    # The configuration in force when the period began came from a start record before it.
    assert [c["first_started"] for c in report["gate"]["configurations"]] == ["2026-11-26T10:05:00Z"]
    period = report["scope"]["period"]
    assert (period["from"], period["to"]) == ("2026-11-26T10:08:00Z", "2026-11-26T10:20:00Z")


def test_policy_sets_list_each_hash_with_its_times():
    records = [lifecycle("start", at(0), POLICY_A), request(at(1), policy_hash=POLICY_A), lifecycle("stop", at(2), POLICY_A),
               lifecycle("start", at(10), POLICY_B), request(at(11), policy_hash=POLICY_B), request(at(12), policy_hash=POLICY_B)]
    sets = build_report(records)["gate"]["policy_sets"]
    assert [(s["policy_hash"], s["from"], s["to"], s["requests"]) for s in sets] == [
        (POLICY_A, "2026-11-26T10:00:00Z", "2026-11-26T10:00:02Z", 1),
        (POLICY_B, "2026-11-26T10:00:10Z", "2026-11-26T10:00:12Z", 2)]


def test_over_time_buckets_add_up_to_the_totals(trail):
    report = build_report(trail)
    buckets = report["over_time"]["buckets"]
    assert report["over_time"]["bucket_seconds"] == 1
    assert sum(b["requests"] for b in buckets) == report["totals"]["requests"]
    assert sum(b["bytes_out"] for b in buckets) == report["totals"]["bytes_out"]
    long_run = [request(at(0, hour=h)) for h in range(24)]
    wide = build_report(long_run)["over_time"]
    assert wide["bucket_seconds"] == 3600 and len(wide["buckets"]) <= 49


def test_errors_before_a_decision_count_as_requests_that_never_left():
    too_large = {"id": "e1", "time": at(1), "kind": "error", "request_id": None, "client": "10.0.0.7", "method": "POST",
                 "host": "h", "path": "/api/v1/artifact_versions", "decision": "block", "rules": ["request.too_large"],
                 "reasons": ["request.too_large: body over the size cap"]}
    forwarded = request(at(2))
    upstream_error = {"id": "e2", "time": at(3), "kind": "error", "request_id": forwarded["id"], "decision": "error",
                      "rules": ["upstream.error"], "reasons": ["upstream.error: connection reset"]}
    totals = build_report([too_large, forwarded, upstream_error])["totals"]
    assert (totals["requests"], totals["blocked"], totals["forwarded"], totals["upstream_errors"]) == (2, 1, 1, 1)


def _statements(report: dict) -> dict[str, dict]:
    return {s["id"]: s for s in report["evidence"]}


def test_evidence_claims_follow_the_numbers(trail):
    statements = _statements(build_report(trail))
    assert statements["requests"]["numbers"]["requests"] == 4
    assert statements["pii_findings"]["kind"] == "assurance"
    assert statements["pii_findings"]["numbers"] == {"findings": 1, "in_blocked_requests": 1, "in_redacted_fields": 0,
                                                     "forwarded": 0, "blocked_for_pii": 1}
    assert statements["pii_findings"]["text"].startswith("1 request blocked for PII")
    assert statements["artifact_content"]["kind"] == "assurance"
    assert statements["artifact_content"]["text"].startswith("0 requests carried artifact content")
    assert statements["records"]["kind"] == "assurance"
    # No chain: said plainly, never claimed.
    assert statements["chain"]["kind"] == "limitation" and "not verifiable" in statements["chain"]["text"]
    assert "monitor" not in statements


def test_forwarded_pii_blob_and_value_repr_become_exceptions_not_claims():
    records = [
        request(at(1), "allow", findings=[EMAIL]),                                               # below threshold
        request(at(2), "allow", findings=[finding("BLOB_PICKLE", "blob", "$.values.model")]),
        request(at(3), "allow", classes={"value_repr": 1}),
        request(at(4), "redact", rules=["redact.value_repr"], redacted=["$.metadata.string_representation"],
                reasons=["redact.value_repr: value_repr at $.metadata.string_representation"], classes={"value_repr": 1}),
    ]
    statements = _statements(build_report(records))
    assert statements["pii_findings"]["kind"] == "exception" and statements["pii_findings"]["numbers"]["forwarded"] == 1
    artifact = statements["artifact_content"]
    assert artifact["kind"] == "exception"
    assert artifact["numbers"] == {"requests": 2, "blob_findings_forwarded": 1, "binary_bodies_forwarded": 0,
                                   "value_repr_forwarded": 1}


def test_monitor_mode_forwarding_is_disclosed():
    records = [request(at(1), "block", enforced="allow", rules=["pii.detected"], findings=[EMAIL])]
    statements = _statements(build_report(records))
    assert statements["monitor"]["kind"] == "exception" and statements["monitor"]["numbers"]["would_block"] == 1
    assert statements["pii_findings"]["kind"] == "exception"


def test_chain_statements_reflect_the_verifier():
    ok = integrity_summary({"ok": True, "records": 9, "checkpoints": 2, "unsigned_tail": 0,
                            "replicas": [{"problems": []}]}, "0123456789abcdef")
    statement = _statements(build_report([request(at(1))], integrity=ok))["chain"]
    assert statement["kind"] == "assurance" and "checkpoint signatures are valid" in statement["text"]
    assert ok["detail"].startswith("9 records in 1 chain(s) verify; 2 checkpoint signature(s) valid")

    failed = integrity_summary({"ok": False, "records": 9, "checkpoints": 2, "unsigned_tail": 0, "replicas": [
        {"problems": [{"kind": "edited", "message": "record seq=3 id=x: content does not match its hash (edited)"}]}]}, "k")
    statement = _statements(build_report([request(at(1))], integrity=failed))["chain"]
    assert statement["kind"] == "exception" and "does NOT verify" in statement["text"] and "seq=3" in statement["text"]
    assert statement["numbers"] == {"edited": 1}


def test_parse_time_accepts_dates_and_naive_times_as_utc():
    assert parse_time("2026-11-26") == datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_time("2026-11-26", end_of_day=True) == datetime(2026, 11, 27, tzinfo=UTC)
    assert parse_time("2026-11-26T10:00:00") == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert parse_time("2026-11-26T12:00:00+02:00") == datetime(2026, 11, 26, 10, tzinfo=UTC)
    with pytest.raises(ReportError):
        parse_time("yesterday")


def test_jsonl_trail_is_read_with_a_torn_last_line_counted(tmp_path, trail):
    audit = tmp_path / "audit"
    audit.mkdir()
    lines = [json.dumps(r) for r in trail]
    (audit / "trail.jsonl").write_text("\n".join(lines) + '\n{"id": "torn", "ti')
    records, source = read_trail(tmp_path)
    assert len(records) == len(trail) and source.name == "jsonl" and source.unreadable_lines == 1
    in_period = load_records(tmp_path, parse_time(at(2)), parse_time(at(4)))   # [10:00:02, 10:00:04)
    assert [r["id"] for r in in_period] == [trail[3]["id"], trail[4]["id"], trail[5]["id"]]
    report = build_report(records, source=source)
    assert _statements(report)["unreadable"]["kind"] == "exception"


def test_missing_trail_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="no audit trail"):
        read_trail(tmp_path)
