"""Scale-out: two metagate replicas behind haproxy share one PostgreSQL audit store and one
policy bundle; the real ZenML SDK talks to the load balancer (reverse mode).

How replicas are deployed (docs/scale-out.md): every replica gets
the same keys (fingerprint key, audit signing key: one Kubernetes Secret), the same config
(store URL, bundle), and its own `audit.replica_id`, so each writes a chain of its own and
one public key verifies them all.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from metagate.reports.store import open_reader
from tests.e2e.conftest import ZenMLUpstream, _metagate_cli
from tests.support.haproxy import haproxy_binary, start_haproxy
from tests.support.processes import Running, free_port, start

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(haproxy_binary() is None, reason="haproxy not installed (scripts/test-services installs it)"),
]

REPLICAS = ("replica-a", "replica-b")
REVISION = "scaleout-rev-1"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_metagate_cli(), *args], capture_output=True, text=True, timeout=120)


def shared_keys(directory: Path) -> Path:
    """What a Secret would hold: the fingerprint key and the audit signing key."""
    made = cli("keys", "init", "--data-dir", str(directory))
    assert made.returncode == 0, made.stderr
    fd = os.open(directory / "keys" / "fingerprint.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    return directory / "keys"


def test_two_replicas_behind_haproxy_share_one_trail_and_policy(
    tmp_path: Path, zenml_server: ZenMLUpstream, postgres_url: str, run_sdk,
) -> None:
    bundle = tmp_path / "policy-bundle.tar.gz"
    built = cli("policy", "build", "-o", str(bundle), "--revision", REVISION)
    assert built.returncode == 0, built.stderr
    keys = shared_keys(tmp_path / "secret")
    config = tmp_path / "metagate.yaml"
    config.write_text(f"audit:\n  store: {postgres_url}\npolicy:\n  bundle: {bundle}\n")

    replicas: list[Running] = []
    ports: list[int] = []
    balancer = None
    try:
        for replica_id in REPLICAS:
            data_dir = tmp_path / replica_id
            data_dir.mkdir()
            shutil.copytree(keys, data_dir / "keys")
            port = free_port()
            replicas.append(start(
                [*_metagate_cli(), "run", "--config", str(config), "--upstream", zenml_server.url,
                 "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
                "metagate: serving", timeout=240, env={"METAGATE_AUDIT__REPLICA_ID": replica_id},
            ))
            ports.append(port)
        balancer = start_haproxy(tmp_path, ports)

        result = run_sdk("clean_pipeline.py", "--lr", "0.05", "--epochs", "3", env=zenml_server.sdk_env(url=balancer.url))
        assert result.returncode == 0, result.describe() + "".join(r.log[-1500:] for r in replicas)
    finally:
        if balancer is not None:
            balancer.stop()
        for replica in replicas:
            replica.stop()      # a clean stop signs each chain's head

    # Both replicas served the run, each on its own chain in the one store, on the one policy.
    with open_reader(tmp_path, postgres_url) as reader:
        stored = list(reader.stored(kind="request"))
        starts = [entry.record for entry in reader.stored(kind="start")]
    served = Counter(entry.replica_id for entry in stored)
    assert set(served) == set(REPLICAS) and min(served.values()) > 0, served
    assert {entry.record.get("policy_revision") for entry in stored} == {REVISION}
    assert len({s["policy_hash"] for s in starts}) == 1 and len(starts) == len(REPLICAS)

    # `metagate audit verify` over the shared store checks both chains with the shared key.
    verified = cli("audit", "verify", "--store", postgres_url, "--data-dir", str(tmp_path / REPLICAS[0]),
                   "--strict", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    outcome = json.loads(verified.stdout)
    assert outcome["ok"] and {r["replica_id"] for r in outcome["replicas"]} == set(REPLICAS)

    # A report over the store counts the requests of both replicas.
    out = tmp_path / "report"
    reported = cli("report", "--store", postgres_url, "--data-dir", str(tmp_path / REPLICAS[1]),
                   "--format", "json", "--out", str(out))
    assert reported.returncode == 0, reported.stderr
    report = json.loads(next(out.glob("*.json")).read_text())
    assert report["totals"]["requests"] == len(stored) == sum(served.values())
    trail = report["integrity"]["trail"]
    assert trail["status"] == "verified" and trail["replicas"] == len(REPLICAS), trail
