"""Audit trails for tests: the same scenario on SQLite and on PostgreSQL, and raw SQL access
for tampering with a trail the way an attacker with database access would."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from metagate.reports.chain import canonical_json, record_hash
from metagate.reports.sqlstore import ChainedSqlStore, SqlTrailReader
from metagate.reports.store import open_reader, open_store

BASE_TIME = datetime(2026, 11, 26, 5, 0, tzinfo=timezone.utc)


def make_record(n: int, kind: str = "request", **extra: Any) -> dict[str, Any]:
    """A request record like the proxy writes, n seconds after BASE_TIME."""
    return {
        "id": str(uuid.uuid4()),
        "time": (BASE_TIME + timedelta(seconds=n)).isoformat(timespec="microseconds"),
        "kind": kind,
        "method": "POST",
        "path": "/api/v1/run-metadata",
        "bytes": 100 + n,
        "decision": "allow",
        "enforced": "allow",
        "rules": [],
        "fields": {"top": ["project", "values"], "classes": {"id": 2, "numeric": n}},
        "gate_ms": 1.25,
        **extra,
    }


@dataclass
class Backend:
    name: str
    data_dir: Path
    url: str | None = None          # None: the default SQLite store in data_dir

    def open(self, **settings: Any) -> ChainedSqlStore:
        return open_store({"store": self.url, "replica_id": "local", **settings}, self.data_dir)

    def reader(self) -> SqlTrailReader:
        return open_reader(self.data_dir, self.url)

    def cli_args(self) -> list[str]:
        return ["--data-dir", str(self.data_dir), *(["--store", self.url] if self.url else [])]

    def write(self, count: int, start: int = 0, **settings: Any) -> list[dict[str, Any]]:
        """Commit `count` records one after another through a store, then close it."""
        store = self.open(**settings)
        records = [make_record(start + i) for i in range(count)]
        try:
            for record in records:
                store.commit(record).result(timeout=30)
        finally:
            store.close()
        return records

    @contextmanager
    def sql(self) -> Iterator[RawSql]:
        if self.url is None:
            connection: Any = sqlite3.connect(self.data_dir / "audit" / "trail.db")
            raw = RawSql(connection, "?")
        else:
            import psycopg

            connection = psycopg.connect(self.url)
            raw = RawSql(connection, "%s")
        try:
            yield raw
            connection.commit()
        finally:
            connection.close()


@dataclass
class RawSql:
    """Direct access to the trail's tables, bypassing the store."""

    connection: Any
    paramstyle: str

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.connection.cursor()
        cur.execute(sql.replace("?", self.paramstyle), params)
        return cur.fetchall() if cur.description else []

    def row(self, seq: int, replica: str = "local") -> dict[str, Any]:
        rows = self.execute("SELECT replica_id, seq, id, record_time, kind, prev_hash, hash, body FROM audit_records "
                            "WHERE replica_id = ? AND seq = ?", (replica, seq))
        names = ("replica_id", "seq", "id", "record_time", "kind", "prev_hash", "hash", "body")
        return dict(zip(names, rows[0]))

    def put(self, row: dict[str, Any]) -> None:
        self.execute("INSERT INTO audit_records (replica_id, seq, id, record_time, kind, prev_hash, hash, body) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     tuple(row[k] for k in ("replica_id", "seq", "id", "record_time", "kind", "prev_hash", "hash", "body")))

    def delete(self, seq: int, replica: str = "local") -> None:
        self.execute("DELETE FROM audit_records WHERE replica_id = ? AND seq = ?", (replica, seq))

    def rehash_from(self, seq: int, replica: str = "local") -> None:
        """Recompute every hash from `seq` on: a forger covering an edit without the signing key."""
        prev = self.row(seq - 1, replica)["hash"] if seq > 1 else "0" * 64
        last = self.execute("SELECT max(seq) FROM audit_records WHERE replica_id = ?", (replica,))[0][0]
        for n in range(seq, last + 1):
            row = self.row(n, replica)
            digest = record_hash(replica, n, prev, canonical_json(json.loads(row["body"])))
            self.execute("UPDATE audit_records SET prev_hash = ?, hash = ? WHERE replica_id = ? AND seq = ?",
                         (prev, digest, replica, n))
            prev = digest

    def renumber(self, from_seq: int, by: int, replica: str = "local") -> None:
        """Shift seq of every record from `from_seq` on (done in two steps to keep the key unique)."""
        self.execute("UPDATE audit_records SET seq = -seq WHERE replica_id = ? AND seq >= ?", (replica, from_seq))
        self.execute("UPDATE audit_records SET seq = -seq + ? WHERE replica_id = ? AND seq < 0", (by, replica))


# Test modules declare their own fixture over these (so that no plugin registration is needed):
#     @pytest.fixture(params=BACKENDS)
#     def backend(request, tmp_path): return make_backend(request, tmp_path)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        return Backend("sqlite", data_dir)
    return Backend("postgres", data_dir, request.getfixturevalue("postgres_url"))
