"""Export the trail for a SIEM: JSON lines to a file or stdout, or RFC 5424 syslog over UDP.

Each exported record is the committed record plus "chain": {replica_id, seq, hash}, so a SIEM
event can be traced back to its place in the signed chain.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from typing import IO, Any

from metagate.reports.sqlstore import SqlTrailReader

SYSLOG_FACILITY_LOCAL0 = 16
SEVERITY_ERROR, SEVERITY_WARNING, SEVERITY_INFO = 3, 4, 6
MAX_DATAGRAM = 60_000
BOM = "\ufeff"


def parse_time_bound(text: str, end: bool = False) -> str:
    """An ISO date or time as the trail's own time format (UTC, microseconds).

    A naive time is UTC. A bare date as an end bound means the end of that day, so
    `--from 2026-11-01 --to 2026-11-30` covers all of November's first 30 days.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), timezone.utc)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"not an ISO date or time: {text!r}") from None
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def exported_records(reader: SqlTrailReader, start: str | None = None, end: str | None = None) -> Iterator[dict[str, Any]]:
    """Records with start <= time < end, in time order, each with its chain position."""
    for entry in reader.stored(start, end):
        record = entry.record
        record["chain"] = {"replica_id": entry.replica_id, "seq": entry.seq, "hash": entry.hash}
        yield record


def write_jsonl(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
        count += 1
    out.flush()
    return count


def severity(record: dict[str, Any]) -> int:
    if record.get("kind") == "error" or record.get("decision") == "error":
        return SEVERITY_ERROR
    if record.get("enforced") in ("block", "redact") or record.get("decision") in ("block", "redact", "warn"):
        return SEVERITY_WARNING
    return SEVERITY_INFO


def syslog_message(record: dict[str, Any], hostname: str) -> bytes:
    """RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG, MSG = BOM + JSON."""
    priority = SYSLOG_FACILITY_LOCAL0 * 8 + severity(record)
    timestamp = str(record.get("time") or "-")
    msgid = "".join(c for c in str(record.get("kind") or "-") if 33 <= ord(c) <= 126)[:32] or "-"
    host = "".join(c for c in hostname if 33 <= ord(c) <= 126)[:255] or "-"
    header = f"<{priority}>1 {timestamp} {host} metagate - {msgid} - "
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    message = (header + BOM + body).encode("utf-8")
    if len(message) > MAX_DATAGRAM:
        # Too big for one datagram: send what identifies it; the full record stays in the trail.
        keep = {k: record.get(k) for k in ("id", "time", "kind", "method", "host", "path", "decision",
                                           "enforced", "rules", "bytes", "chain")}
        keep["truncated"] = True
        message = (header + BOM + json.dumps(keep, sort_keys=True, separators=(",", ":"))).encode("utf-8")
    return message


class SyslogSender:
    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("--syslog must be HOST:PORT")
        self.address = (host.strip("[]"), int(port))
        family = socket.getaddrinfo(self.address[0], self.address[1], type=socket.SOCK_DGRAM)[0][0]
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self.hostname = socket.gethostname()

    def send_all(self, records: Iterator[dict[str, Any]]) -> int:
        count = 0
        for record in records:
            self._socket.sendto(syslog_message(record, self.hostname), self.address)
            count += 1
        return count

    def close(self) -> None:
        self._socket.close()
