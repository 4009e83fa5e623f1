"""Audit commit latency and throughput: SQLite (WAL, synchronous=FULL) and PostgreSQL, with 1
and 16 concurrent writers, with group commit and without it (one record per transaction).

Each writer commits a record and waits until it is durable, as the proxy does per request.
Prints p50/p99 commit latency, records/s and records per transaction (the group-commit
factor). PostgreSQL is a private cluster on 127.0.0.1 with its default durability settings.

    .venv/bin/python benchmarks/audit_commit.py [--records 2000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from metagate.reports.postgres_store import PostgresAuditStore
from metagate.reports.sqlite_store import SqliteAuditStore

from tests.support.audit_trails import make_record


def run(make_store, writers: int, total: int) -> dict[str, float]:
    store = make_store()
    latencies: list[float] = []
    lock = threading.Lock()
    per_writer = total // writers

    def writer(offset: int) -> None:
        mine = []
        for i in range(per_writer):
            record = make_record(offset + i)
            started = time.perf_counter()
            store.commit(record).result(timeout=60)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=writer, args=(n * per_writer,)) for n in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    batches, written = store.batches, store.records_written
    store.close()
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "per_s": written / elapsed,
        "per_tx": written / max(batches, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000, help="records per configuration")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    backends = args.backends.split(",")
    cluster = None
    rows = []
    try:
        if "postgres" in backends:
            from tests.support.postgres import PostgresCluster

            cluster = PostgresCluster.start(durable=True)
        for backend in backends:
            for writers, max_batch in ((1, 1000), (16, 1), (16, 1000)):
                if writers == 1 and max_batch == 1:
                    continue
                if backend == "sqlite":
                    directory = Path(tempfile.mkdtemp(prefix="audit-bench-"))

                    def make(directory=directory, max_batch=max_batch):
                        return SqliteAuditStore(directory / "trail.db", key, max_batch=max_batch)
                else:
                    url = cluster.create_database()

                    def make(url=url, max_batch=max_batch):
                        return PostgresAuditStore(url, "bench", key, max_batch=max_batch)
                result = run(make, writers, args.records)
                rows.append((backend, writers, "on" if max_batch > 1 else "off", result))
                print(f"  {backend} {writers} writer(s), group commit {rows[-1][2]}: done", file=sys.stderr)
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"\n{'store':<9} {'writers':>7} {'group commit':>12} {'p50 ms':>8} {'p99 ms':>8} {'records/s':>10} {'records/tx':>10}")
    for backend, writers, group, r in rows:
        print(f"{backend:<9} {writers:>7} {group:>12} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['per_s']:>10.0f} {r['per_tx']:>10.1f}")


if __name__ == "__main__":
    main()
