"""`metagate audit export`: JSON lines by time range to a file or stdout, and RFC 5424 syslog
over UDP (to a listener on 127.0.0.1)."""

import json
import re
import socket

import pytest
from metagate.proxy.cli import main
from metagate.reports.export import parse_time_bound

from tests.support.audit_trails import BACKENDS, Backend, make_backend

pytest_plugins = ["tests.support.postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    return make_backend(request, tmp_path)

RFC5424 = re.compile(r"^<(\d+)>1 (\S+) (\S+) metagate - (\S+) - \ufeff(.*)$", re.S)


@pytest.fixture
def trail(backend: Backend) -> Backend:
    backend.write(10)      # records at 05:00:00 … 05:00:09 on 2026-11-26
    return backend


def test_time_bounds_are_utc_in_the_trails_format():
    assert parse_time_bound("2026-11-26") == "2026-11-26T00:00:00.000000+00:00"
    assert parse_time_bound("2026-11-26", end=True) == "2026-11-27T00:00:00.000000+00:00"
    assert parse_time_bound("2026-11-26T07:00:03+02:00") == "2026-11-26T05:00:03.000000+00:00"
    assert parse_time_bound("2026-11-26T05:00:03Z") == parse_time_bound("2026-11-26T05:00:03")
    with pytest.raises(ValueError):
        parse_time_bound("last tuesday")


def test_export_to_a_file_by_time_range(trail, tmp_path):
    out = tmp_path / "siem.jsonl"
    code = main(["audit", "export", *trail.cli_args(), "--from", "2026-11-26T05:00:03Z",
                 "--to", "2026-11-26T05:00:07Z", "--out", str(out)])
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["bytes"] for r in lines] == [103, 104, 105, 106]
    assert [r["chain"]["seq"] for r in lines] == [4, 5, 6, 7]
    assert all(len(r["chain"]["hash"]) == 64 and r["chain"]["replica_id"] == "local" for r in lines)


def test_export_to_stdout_by_default(trail, capsys):
    assert main(["audit", "export", *trail.cli_args(), "--to", "2026-11-26"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["kind"] == "request"


def test_export_to_syslog_over_udp(trail, capsys):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    with trail.sql() as sql:    # one blocked request: sent with severity warning
        row = sql.row(2)
        sql.execute("UPDATE audit_records SET body = replace(body, '\"enforced\":\"allow\"', '\"enforced\":\"block\"') "
                    "WHERE seq = 2")
    try:
        assert main(["audit", "export", *trail.cli_args(), "--syslog", f"127.0.0.1:{port}"]) == 0
        messages = [listener.recv(65535).decode("utf-8") for _ in range(10)]
    finally:
        listener.close()
    assert capsys.readouterr().out == ""     # syslog only: nothing on stdout
    parsed = [RFC5424.match(m) for m in messages]
    assert all(parsed), messages[0][:200]
    records = [json.loads(p.group(5)) for p in parsed]
    assert [r["chain"]["seq"] for r in records] == list(range(1, 11))
    assert all(p.group(2) == r["time"] and p.group(4) == "request" for p, r in zip(parsed, records))
    priorities = {r["id"]: int(p.group(1)) for p, r in zip(parsed, records)}
    assert priorities[row["id"]] == 16 * 8 + 4                       # local0.warning
    assert sorted(set(priorities.values())) == [16 * 8 + 4, 16 * 8 + 6]


def test_export_rejects_a_bad_range_and_a_missing_trail(tmp_path, capsys):
    assert main(["audit", "export", "--data-dir", str(tmp_path), "--from", "yesterday"]) == 2
    assert main(["audit", "export", "--data-dir", str(tmp_path)]) == 2
    assert "cannot export" in capsys.readouterr().err
