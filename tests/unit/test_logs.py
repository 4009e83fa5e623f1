import io
import json
import logging

import pytest
from metagate.proxy.logs import REDACTED, configure_logging, log_decision, scrub

SECRETS = [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlU2VjcmV0",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "AKIAIOSFODNN7EXAMPLE",
    "ZENKEY_eyJpZCI6ICJhYmMifQ",
    "jane.doe@example.com",
    "Xk29fPq7LmZ2vB8nR4tW6yH1",
]


@pytest.mark.parametrize("text, secret", [
    ("Authorization: Bearer {}", "abc.DEF-123_xyz"),
    ("token {}", SECRETS[0]),
    ("could not connect to postgresql://metagate:{}@db:5432/trail", "hunter2-Pass"),
    ("password={} next", "pw-1234"),
    ('{{"api_key": "{}"}}', "sekrit-value"),
    ("client_secret: {}", "shh"),
    *[("value {} end", s) for s in SECRETS],
    ("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
])
def test_scrub_blanks_token_shaped_text(text, secret):
    scrubbed = scrub(text.format(secret))
    assert secret not in scrubbed
    assert REDACTED in scrubbed


@pytest.mark.parametrize("text", [
    "metagate blocked POST /api/v1/run-metadata: pii.detected: EMAIL_ADDRESS at $.values.note",
    "audit id 123e4567-e89b-12d3-a456-426614174000 policy " + "ab" * 32,
    "fingerprint 0123456789abcdef0123456789abcdef",
    "data dir /tmp/pytest-of-root/pytest-12/test_something_LongName0/data",
    "inspection worker crashed (exit code -9)",
    "admin listener on 127.0.0.1:9090",
])
def test_scrub_keeps_what_operators_need(text):
    assert scrub(text) == text


@pytest.fixture(autouse=True)
def restore_logging():
    names = ["", "mitmproxy", "aiohttp.access", "asyncio"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)


def capture(level="DEBUG", fmt="json"):
    stream = io.StringIO()
    handler = configure_logging(level, fmt, stream=stream)
    return stream, handler


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_message_and_only_safe_fields():
    stream, handler = capture()
    try:
        logging.getLogger("metagate.test").warning(
            "upstream said %s", "Bearer s3cr3tTokenValue", extra={"endpoint": "/api/v1/runs", "body": "jane@example.com"})
        try:
            raise ValueError("bad value password=hunter2")
        except ValueError:
            logging.getLogger("metagate.test").exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = lines(stream)
    assert first["level"] == "WARNING" and first["logger"] == "metagate.test" and "T" in first["time"]
    assert first["message"] == f"upstream said Bearer {REDACTED}"
    assert first["endpoint"] == "/api/v1/runs" and "body" not in first
    assert second["exception"]["type"] == "ValueError"
    assert "hunter2" not in json.dumps(second) and second["exception"]["frames"]


def test_configure_logging_is_idempotent_and_quiets_mitmproxy():
    stream, _ = capture("INFO")
    stream2, handler = capture("INFO")
    try:
        logging.getLogger("metagate.x").info("once")
        logging.getLogger("mitmproxy.proxy.server").info("client connect")
    finally:
        logging.getLogger().removeHandler(handler)
    assert stream.getvalue() == ""
    assert [line["message"] for line in lines(stream2)] == ["once"]


def test_decisions_are_logged_without_paths_or_values():
    stream, handler = capture("INFO")
    record = {"id": "123e4567-e89b-12d3-a456-426614174000", "method": "POST", "endpoint": "/api/v1/run-metadata",
              "path": "/api/v1/run-metadata", "decision": "block", "enforced": "block", "rules": ["pii.detected"],
              "reasons": ["pii.detected: EMAIL_ADDRESS at $.values.jane@example.com"], "gate_ms": 3.2}
    try:
        log_decision(record)
        log_decision({**record, "decision": "allow", "enforced": "allow", "rules": []})    # DEBUG: not shown
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = lines(stream)
    assert line["enforced"] == "block" and line["rules"] == ["pii.detected"] and line["audit_id"] == record["id"]
    assert "jane" not in stream.getvalue() and "reasons" not in line
