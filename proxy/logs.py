"""Structured logs: one JSON object per line on stderr, scrubbed of anything token-shaped.

metagate never logs payload values on purpose; `scrub()` is the last line of defence for what
slips through anyway (an exception message quoting a URL with a password, a library echoing a
header). It blanks token-shaped text: JWTs, bearer/basic credentials, `key=value` pairs whose
key names a secret, credentials in URLs, PEM keys, well-known key prefixes, e-mail addresses,
and long mixed-case alphanumeric runs. Hashes (32 or 64 hex digits) and UUIDs are kept: they
are the fingerprints, policy hashes and audit ids an operator needs to correlate.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "<redacted>"

# Extra fields a log call may attach (`log.info(..., extra={...})`) that reach the JSON line;
# anything else is dropped, so a careless `extra` cannot carry a payload.
SAFE_FIELDS = (
    "audit_id", "method", "endpoint", "path", "decision", "enforced", "rules", "status", "client", "bytes",
    "bytes_forwarded", "gate_ms", "policy_hash", "policy_revision", "listen", "event", "workers", "restarts",
    "checks", "count",
)

_SECRET_KEYS = (
    r"pass(?:word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth(?:orization)?"
    r"|cookie|session|credentials?|client[_-]?secret|dsn"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL), REDACTED),
    (re.compile(r"\beyJ[\w-]*\.[\w-]*(?:\.[\w-]*)?"), REDACTED),                          # JWT / JWS
    (re.compile(r"(?i)\b(bearer|basic|token|apikey)(\s+)[\w\-.~+/]+=*"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]*:[^\s/@]*@"), rf"\1{REDACTED}@"),   # user:pass@ in URLs
    (re.compile(rf"(?i)((?:{_SECRET_KEYS})[\w-]*[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;)}}\]]+)"), rf"\1{REDACTED}"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),                             # AWS key ids
    (re.compile(r"\b(?:gh[pousr]_|github_pat_|glpat-|xox[abprs]-|sk-|ZENKEY_|ZENPROKEY_)[\w\-]{8,}"), REDACTED),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), REDACTED),                              # e-mail addresses
]
# Long runs of key material: letters, digits and base64/url-safe punctuation.
_RUN = re.compile(r"(?<![\w/+=.-])[A-Za-z0-9+/=_-]{24,}(?![\w/+=.-])")
_KEEP_RUN = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _run_is_secret(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith("/") or _KEEP_RUN.fullmatch(text):
        return text    # a path, a hash or an id
    has_upper = any(c.isupper() for c in text)
    has_lower = any(c.islower() for c in text)
    has_digit = any(c.isdigit() for c in text)
    return REDACTED if has_upper + has_lower + has_digit >= 3 or (has_digit and len(text) >= 40) else text


def scrub(text: str) -> str:
    """`text` with every token-shaped part replaced by <redacted>."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _RUN.sub(_run_is_secret, text)


def scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, (list, tuple)):
        return [scrub_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): scrub_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(str(value))


class ScrubFilter(logging.Filter):
    """Formats each record's message once, scrubbed (the formatter emits only SAFE_FIELDS)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):    # a bad format string must not lose the line
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg = scrub(message)
        record.args = ()
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the safe extra fields, and an exception as type, scrubbed
    message and frame locations (no local values)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in SAFE_FIELDS:
            if name in vars(record):
                line[name] = scrub_value(getattr(record, name))
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            line["exception"] = {
                "type": exc_type.__name__,
                "message": scrub(str(exc)),
                "frames": [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)][-10:],
            }
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatException(self, ei: Any) -> str:   # type, scrubbed message; no traceback text
        return f"{ei[0].__name__}: {scrub(str(ei[1]))}"


decisions = logging.getLogger("metagate.decisions")


def log_decision(record: dict[str, Any]) -> None:
    """A MetadataGate observer: one line per decision (INFO unless plainly allowed, which is
    DEBUG). Endpoint templates, not paths: a path can carry a name."""
    enforced = record.get("enforced")
    level = logging.DEBUG if enforced == "allow" and record.get("decision") == "allow" else logging.INFO
    if not decisions.isEnabledFor(level):
        return
    endpoint = record.get("endpoint") or "unknown endpoint"
    decisions.log(level, "%s %s: %s", record.get("method"), endpoint, enforced, extra={
        "audit_id": record.get("id"), "method": record.get("method"), "endpoint": record.get("endpoint"),
        "decision": record.get("decision"), "enforced": enforced, "rules": record.get("rules") or [],
        "gate_ms": record.get("gate_ms"), "bytes_forwarded": record.get("bytes_forwarded"),
        "policy_revision": record.get("policy_revision"),
    })


_HANDLER_NAME = "metagate-stderr"


def configure_logging(level: str = "INFO", fmt: str = "json", proxy_level: str = "WARNING",
                      stream: TextIO | None = None) -> logging.Handler:
    """Route every logger (metagate's, mitmproxy's, aiohttp's) to one scrubbed stderr handler.
    Idempotent: a second call replaces the handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ScrubFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # mitmproxy logs every client connection at INFO: keep its own chatter at proxy_level.
    for name in ("mitmproxy", "aiohttp.access", "asyncio"):
        logging.getLogger(name).setLevel(proxy_level)
    logging.captureWarnings(True)
    return handler
