"""The gate under faults: every failure is a clear answer to the client and a record in the
trail, and nothing reaches the upstream without a committed record.

Faults: upstream down (502) or too slow (504); the PostgreSQL audit store stopped mid-run
(403 until it returns, then records resume); a scanner worker killed while it holds a request
(that request fails closed, the worker is replaced, the next one passes); the SQLite store's
disk full (403, fail closed, and back once there is room). Loopback only; each wait is bounded.
"""

from __future__ import annotations

import http.server
import os
import shlex
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from metagate.reports.store import read_records

from tests.integration.conftest import Gate, Upstream, start_gate
from tests.support.postgres import PostgresCluster, server_bindir
from tests.support.processes import free_port, metagate_command

LEAN = "workers: 1\n"       # one scanner worker is enough here, and spares the shared cores


def run_metadata(note: str) -> dict:
    return {"project": str(uuid.uuid4()), "resources": [{"id": str(uuid.uuid4()), "type": "pipeline_run"}],
            "values": {"note": note, "accuracy": 0.9}, "types": {"note": "string", "accuracy": "float"}}


def post(gate: Gate, note: str, timeout: float = 60) -> requests.Response:
    return requests.post(f"{gate.url}/api/v1/run-metadata", json=run_metadata(note), timeout=timeout)


def arrived(upstream: Upstream, note: str) -> list[dict]:
    return [e for e in upstream.received() if note.encode() in e["body"]]


def assert_nothing_forwarded_unrecorded(upstream: Upstream, gate: Gate, since: int, store: str | None = None) -> None:
    """Every request the upstream got from this gate carries the id of a committed record."""
    records = {r["id"] for r in read_records(gate.data_dir, store, kind="request")}
    for entry in upstream.received()[since:]:
        audit_id = entry["headers"].get("X-Metagate-Audit-Id")
        assert audit_id in records, f"{entry['method']} {entry['path']} reached the upstream without a record"


def gate_error(response: requests.Response) -> tuple[str, str]:
    kind, reason = response.json()["detail"]
    return kind, reason


# --- upstream down or slow ---------------------------------------------------------------


def test_upstream_down_is_a_clear_502_and_recorded(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"       # nothing listens there
    gate = start_gate(tmp_path, dead, config=LEAN)
    try:
        response = post(gate, "upstream down")
        assert response.status_code == 502
        kind, reason = gate_error(response)
        assert kind == "BadGateway"
        assert "upstream.unreachable" in reason and "could not connect to http://127.0.0.1" in reason
        request = next(r for r in gate.records() if r.get("endpoint") == "/api/v1/run-metadata")
        error = next(r for r in gate.records(kind="error") if r["request_id"] == request["id"])
        assert error["rules"] == ["upstream.unreachable"] and error["status"] == 502
    finally:
        gate.process.stop()


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    delay = 20.0

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        time.sleep(self.delay)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_slow_upstream_is_a_504_after_the_configured_wait_and_recorded(tmp_path: Path, slow_upstream: str) -> None:
    gate = start_gate(tmp_path, slow_upstream, config=LEAN + "upstream_timeout: 1.5\n")
    try:
        response = requests.get(f"{gate.url}/api/v1/info", timeout=60)
        assert response.status_code == 504
        kind, reason = gate_error(response)
        assert kind == "GatewayTimeout" and "upstream.timeout" in reason and "1.5 s" in reason
        errors = gate.records(kind="error")
        assert any(e["rules"] == ["upstream.timeout"] and e["status"] == 504 for e in errors)
    finally:
        gate.process.stop()


# --- audit store down ----------------------------------------------------------------------


def _pg_stop(cluster: PostgresCluster) -> None:
    cluster._run("pg_ctl", "-D", str(cluster.directory / "data"), "-m", "fast", "-w", "stop")


def _pg_start_again(cluster: PostgresCluster) -> None:
    """Same port and settings as before: postmaster.opts holds the command line of the last start."""
    data = cluster.directory / "data"
    words = shlex.split((data / "postmaster.opts").read_text())
    options = [w for w in words[1:] if w != "-D" and w != str(data)]
    cluster._run("pg_ctl", "-D", str(data), "-l", str(cluster.directory / "server.log"), "-w", "-t", "60",
                 "-o", shlex.join(options), "start")


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own: it is stopped mid-test, which a shared one must not be."""
    if server_bindir() is None:
        pytest.skip("PostgreSQL server binaries not installed (scripts/test-services installs them)")
    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        except RuntimeError:
            pass


@pytest.mark.postgres
def test_audit_store_down_fails_closed_and_records_resume(tmp_path: Path, upstream: Upstream,
                                                          private_postgres: PostgresCluster) -> None:
    store = private_postgres.create_database()
    gate = start_gate(tmp_path, upstream.url, config=LEAN + f"audit:\n  store: {store}\n  replica_id: fault-test\n")
    since = len(upstream.received())
    try:
        assert post(gate, "before the outage").status_code == 200

        _pg_stop(private_postgres)
        response = post(gate, "during the outage")
        assert response.status_code == 403
        assert "audit.unavailable" in gate_error(response)[1]
        assert not arrived(upstream, "during the outage")

        _pg_start_again(private_postgres)
        statuses = []
        for attempt in range(20):       # the store reconnects on its next write
            statuses.append(post(gate, f"after the outage {attempt}").status_code)
            if statuses[-1] == 200:
                break
            time.sleep(0.5)
        assert statuses[-1] == 200, statuses
        passed = arrived(upstream, f"after the outage {len(statuses) - 1}")
        assert len(passed) == 1
    finally:
        gate.process.stop()
    records = {r["id"]: r for r in read_records(gate.data_dir, store, kind="request")}
    assert passed[0]["headers"]["X-Metagate-Audit-Id"] in records
    assert_nothing_forwarded_unrecorded(upstream, gate, since, store)
    # The chain has no gap where the outage was.
    verified = subprocess.run(metagate_command("audit", "verify", "--store", store, "--data-dir", str(gate.data_dir)),
                              capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr


# --- a scanner worker killed mid-request ---------------------------------------------------


def worker_pids(gate_pid: int) -> set[int]:
    """The gate's inspection workers: its spawned children (not multiprocessing's resource tracker)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == gate_pid and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            pids.add(int(entry))
    return pids


def test_worker_killed_mid_request_fails_that_request_closed_and_is_replaced(tmp_path: Path, upstream: Upstream) -> None:
    gate = start_gate(tmp_path, upstream.url, config=LEAN + "inspection_timeout: 60\n")
    since = len(upstream.received())
    try:
        (worker,) = worker_pids(gate.process.process.pid)
        os.kill(worker, signal.SIGSTOP)         # holds the next request without answering
        outcome: list[requests.Response] = []
        sender = threading.Thread(target=lambda: outcome.append(post(gate, "held by the worker")))
        sender.start()
        time.sleep(1.0)                         # the request is in the worker's pipe by now
        os.kill(worker, signal.SIGKILL)
        sender.join(90)
        assert outcome and outcome[0].status_code == 403
        assert "inspection.worker_crashed" in gate_error(outcome[0])[1]
        assert not arrived(upstream, "held by the worker")

        deadline = time.monotonic() + 180
        while not (replacements := worker_pids(gate.process.process.pid) - {worker}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert replacements, "the killed worker was not replaced"
        assert post(gate, "after the replacement").status_code == 200
        assert len(arrived(upstream, "after the replacement")) == 1
    finally:
        gate.process.stop()
    crashed = [r for r in gate.records() if "inspection.worker_crashed" in r["rules"]]
    assert len(crashed) == 1 and crashed[0]["enforced"] == "block"
    assert_nothing_forwarded_unrecorded(upstream, gate, since)


# --- disk full for the SQLite store --------------------------------------------------------


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs for the audit store alone."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root (CI runs as root)")
    mountpoint = tmp_path / "audit-fs"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "metagate-test", str(mountpoint)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_disk_full_for_the_sqlite_store_fails_closed(tmp_path: Path, upstream: Upstream, tiny_filesystem: Path) -> None:
    trail = tiny_filesystem / "trail.db"
    gate = start_gate(tmp_path, upstream.url, config=LEAN + f"audit:\n  store: sqlite://{trail}\n")
    since = len(upstream.received())
    try:
        assert post(gate, "room on disk").status_code == 200
        filler = fill(tiny_filesystem)
        refused = None
        for attempt in range(40):       # a write that still fits in the WAL's last page may pass
            note = f"disk full {attempt}"
            response = post(gate, note)
            if response.status_code != 200:
                refused = (note, response)
                break
        assert refused is not None, "the store kept committing on a full disk"
        note, response = refused
        assert response.status_code == 403 and "audit.unavailable" in gate_error(response)[1]
        assert not arrived(upstream, note)

        filler.unlink()
        assert post(gate, "room again").status_code == 200
        assert len(arrived(upstream, "room again")) == 1
    finally:
        gate.process.stop()
    assert_nothing_forwarded_unrecorded(upstream, gate, since, f"sqlite://{trail}")
