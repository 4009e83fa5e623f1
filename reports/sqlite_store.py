"""The embedded default store: one SQLite file in WAL mode at <data-dir>/audit/trail.db.

Durability: journal_mode=WAL with synchronous=FULL, so every commit fsyncs the WAL before it
returns. With synchronous=NORMAL a WAL commit survives a killed process but not a power cut
or kernel crash (the WAL is only synced at checkpoints), and the gate forwards a request as
soon as its record is "committed": the record must survive whatever the request survived.
Group commit pays that fsync once per batch, not once per request.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from metagate.reports.sqlstore import (
    SCHEMA,
    ChainedSqlStore,
    SqlTrailReader,
    TrailUnreadable,
)
from metagate.reports.trail import AuditError


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class SqliteAuditStore(ChainedSqlStore):
    _db: sqlite3.Connection | None = None
    _lock_fd: int | None = None

    def __init__(
        self,
        path: Path,
        signing_key: Ed25519PrivateKey,
        replica_id: str = "local",
        checkpoint_records: int = 1000,
        checkpoint_seconds: float = 60.0,
        max_batch: int = 1000,
    ) -> None:
        self.path = Path(path)
        super().__init__(replica_id, signing_key, checkpoint_records, checkpoint_seconds, max_batch)

    def _open(self) -> None:
        # One writer per file: a second metagate on the same data dir would fork the chain.
        self._lock_fd = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise AuditError(f"{self.path} is being written by another metagate process") from None
        # SQLite gives the -wal and -shm files the database file's permissions.
        _create_private(self.path)
        # isolation_level IMMEDIATE: the first INSERT of a batch opens the write transaction
        # itself (BEGIN IMMEDIATE), no separate statement; the writer thread is the only user.
        self._db = sqlite3.connect(self.path, isolation_level="IMMEDIATE", check_same_thread=False, timeout=30)
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"cannot put {self.path} in WAL mode (got {mode})")
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self._db.execute(statement)
        self._db.commit()

    def _cursor(self) -> Any:
        return self._db.cursor()

    def _finish(self, cur: Any, ok: bool) -> None:
        if ok:
            self._db.commit()
        else:
            self._db.rollback()

    def _disconnect(self) -> None:
        try:
            if self._db is not None:
                self._db.close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)     # releases the writer lock
                self._lock_fd = None


class SqliteTrailReader(SqlTrailReader):
    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise TrailUnreadable(f"no audit trail at {path}")
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
            connection.execute("BEGIN")     # one snapshot for everything this reader returns
            connection.execute("SELECT count(*) FROM audit_records").fetchone()
            connection.execute("SELECT count(*) FROM audit_checkpoints").fetchone()
        except sqlite3.Error as exc:
            raise TrailUnreadable(f"cannot read the audit trail at {path}: {exc}") from None
        super().__init__(connection)

    def close(self) -> None:
        self._connection.close()
