"""kill -9 under load: every request the upstream received has a committed record, and the
trail verifies up to its last record; a restart signs the tail the crash left unsigned.

Load: 8 client threads × at most 40 requests each on loopback; each thread stops at its
first connection error (the gate is gone) or when its 40 are done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid

import requests
from metagate.reports.store import read_records

from tests.integration.conftest import start_gate
from tests.support.processes import metagate_command

THREADS, PER_THREAD = 8, 40
KILL_AFTER = 60          # requests received upstream before the kill
AUDIT_CONFIG = "audit:\n  checkpoint_records: 25\n  checkpoint_seconds: 3600\n"


def client(url: str, sent: list[int], failed: list[str]) -> None:
    with requests.Session() as session:
        for i in range(PER_THREAD):
            try:
                if i % 2:
                    session.get(f"{url}/api/v1/current-user", timeout=30)
                else:
                    body = {"project": str(uuid.uuid4()), "resources": [{"id": str(uuid.uuid4()), "type": "pipeline_run"}],
                            "values": {"accuracy": i / 100}, "types": {"accuracy": "float"}}
                    session.post(f"{url}/api/v1/run-metadata", json=body, timeout=30)
            except requests.RequestException as exc:
                failed.append(type(exc).__name__)
                return
            sent.append(i)


def audited_arrivals(upstream) -> list[str]:
    return [e["headers"]["X-Metagate-Audit-Id"] for e in upstream.received() if "X-Metagate-Audit-Id" in e["headers"]]


def verify(data_dir, *extra: str) -> tuple[int, dict]:
    result = subprocess.run(metagate_command("audit", "verify", "--data-dir", str(data_dir), "--json", *extra),
                            capture_output=True, text=True, timeout=120)
    return result.returncode, json.loads(result.stdout[result.stdout.index("{"):]) if "{" in result.stdout else {}


def test_kill_9_under_load_loses_no_record_of_a_forwarded_request(tmp_path, upstream):
    already = set(audited_arrivals(upstream))
    gate = start_gate(tmp_path, upstream.url, config=AUDIT_CONFIG)
    sent: list[int] = []
    failed: list[str] = []
    threads = [threading.Thread(target=client, args=(gate.url, sent, failed)) for _ in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(set(audited_arrivals(upstream)) - already) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(gate.process.process.pid, signal.SIGKILL)      # metagate and its workers, no shutdown
        gate.process.process.wait(30)
    finally:
        gate.process.stop()
        for thread in threads:
            thread.join(60)

    arrived = set(audited_arrivals(upstream)) - already
    assert len(arrived) >= KILL_AFTER
    assert failed and len(sent) < THREADS * PER_THREAD, "the kill did not land mid-load"
    committed = {r["id"] for r in read_records(gate.data_dir, kind="request")}
    missing = arrived - committed
    assert not missing, f"{len(missing)} forwarded requests have no committed record"

    code, summary = verify(gate.data_dir)
    assert code == 0, summary
    (replica,) = summary["replicas"]
    assert replica["problems"] == [] and replica["signed_through"] >= 25
    assert replica["signed_through"] + replica["unsigned_tail"] == replica["last_seq"] == summary["records"]

    # Restarting on the same data dir checks the unsigned tail, signs it and carries on.
    restarted = start_gate(tmp_path, upstream.url, config=AUDIT_CONFIG)
    try:
        assert requests.get(f"{restarted.url}/api/v1/current-user", timeout=30).status_code == 200
    finally:
        restarted.process.stop()
    code, after = verify(gate.data_dir, "--strict")
    assert code == 0, after
    assert after["unsigned_tail"] == 0 and after["records"] > summary["records"]
