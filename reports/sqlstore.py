"""Chained, signed audit records in SQL: what SQLite and PostgreSQL stores share.

Write path (one writer thread per store, see GroupCommitStore): per batch, one transaction
that appends the batch with consecutive sequence numbers and chained hashes and, when due, a
signed checkpoint of the new head. A rolled-back batch leaves no gap; a second process
writing the same replica's chain is refused (see ChainedSqlStore).

Rows keep `id`, `record_time` and `kind` beside the record's canonical JSON `body` for
queries; verification checks they agree with the body.
"""

from __future__ import annotations

import time
import uuid
from abc import abstractmethod
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from metagate.reports.chain import (
    GENESIS_HASH,
    Checkpoint,
    StoredRecord,
    prepare_record,
    record_hash,
    sign_checkpoint,
)
from metagate.reports.keys import key_id
from metagate.reports.trail import AuditError, GroupCommitStore

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit_records (
        replica_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        id TEXT NOT NULL,
        record_time TEXT NOT NULL,
        kind TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (replica_id, seq))""",
    "CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (record_time)",
    "CREATE INDEX IF NOT EXISTS audit_records_id ON audit_records (id)",
    """CREATE TABLE IF NOT EXISTS audit_checkpoints (
        replica_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        checkpoint_time TEXT NOT NULL,
        prev_seq BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (replica_id, seq))""",
)
RECORD_COLUMNS = "replica_id, seq, id, record_time, kind, prev_hash, hash, body"
CHECKPOINT_COLUMNS = "replica_id, seq, hash, checkpoint_time, prev_seq, key_id, signature"

Prepared = tuple[str, str, str, str]   # id, time, kind, canonical body


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class TrailUnreadable(RuntimeError):
    """The trail cannot be opened or read (missing, not a trail, database unreachable)."""


class SqlDialect:
    """Where SQLite and PostgreSQL SQL differ here: the parameter placeholder."""

    paramstyle = "?"

    def q(self, sql: str) -> str:
        return sql if self.paramstyle == "?" else sql.replace("?", self.paramstyle)


class ChainedSqlStore(GroupCommitStore[Prepared], SqlDialect):
    """Appends batches to this replica's chain and signs its head when a checkpoint is due.

    One process writes a chain: backends hold a lock per replica (SQLite: the file; PostgreSQL:
    a session advisory lock) and refuse to open when another process holds it. So the chain's
    head (seq, hash) and last checkpoint can be cached, and a batch costs one multi-row INSERT
    (plus a checkpoint row when due) and one COMMIT: few round trips, and few GIL hand-offs
    while the proxy's event loop is busy. After any failed write the cache is re-read.
    """

    def __init__(
        self,
        replica_id: str,
        signing_key: Ed25519PrivateKey,
        checkpoint_records: int = 1000,
        checkpoint_seconds: float = 60.0,
        max_batch: int = 1000,
    ) -> None:
        if not replica_id:
            raise ValueError("replica_id must not be empty")
        super().__init__(max_batch=max_batch, tick_seconds=min(checkpoint_seconds, 60.0))
        self.replica_id = replica_id
        self._key = signing_key
        self._key_id = key_id(signing_key.public_key())
        self.checkpoint_records = checkpoint_records
        self.checkpoint_seconds = checkpoint_seconds
        self.checkpoints_written = 0
        self._head_cache: tuple[int, str] | None = None
        self._last: Checkpoint | None = None
        self._checkpoint_clock = time.monotonic()
        try:
            self._open()
            self._sync(check_tail=True)
            # A tail left unsigned by a crash has just been checked: sign it now.
            self._sign_head(force=True)
        except BaseException:
            self._disconnect()
            raise
        self._start()

    # --- backend hooks -------------------------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Connect, take this replica's writer lock (AuditError if held), create the schema."""

    @abstractmethod
    def _cursor(self) -> Any:
        """A cursor; the first write through it starts a transaction."""

    @abstractmethod
    def _finish(self, cur: Any, ok: bool) -> None:
        """Commit (ok) or roll back."""

    @abstractmethod
    def _disconnect(self) -> None: ...

    # --- reading the chain's state -------------------------------------------------------

    def _sync(self, check_tail: bool = False) -> None:
        cur = self._cursor()
        try:
            self._last = self._last_checkpoint(cur)
            self._head_cache = self._head(cur)
            if check_tail:
                self._check_unsigned_tail(cur, self._last)
        finally:
            self._finish(cur, ok=True)

    def _head(self, cur: Any) -> tuple[int, str]:
        cur.execute(self.q("SELECT seq, hash FROM audit_records WHERE replica_id = ? ORDER BY seq DESC LIMIT 1"),
                    (self.replica_id,))
        row = cur.fetchone()
        return (int(row[0]), row[1]) if row else (0, GENESIS_HASH)

    def _last_checkpoint(self, cur: Any) -> Checkpoint | None:
        cur.execute(self.q(f"SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE replica_id = ? "
                           "ORDER BY seq DESC LIMIT 1"), (self.replica_id,))
        row = cur.fetchone()
        return checkpoint_from_row(row) if row else None

    def _check_unsigned_tail(self, cur: Any, last: Checkpoint | None) -> None:
        """Refuse to extend (and then sign) a tail that was altered since its last checkpoint."""
        from metagate.reports.verify import check_segment

        start = last.seq if last else 0
        cur.execute(self.q(f"SELECT {RECORD_COLUMNS} FROM audit_records WHERE replica_id = ? AND seq >= ? ORDER BY seq"),
                    (self.replica_id, start))
        entries = [record_from_row(row) for row in cur.fetchall()]
        problem = check_segment(self.replica_id, entries, last)
        if problem is not None:
            raise AuditError(
                f"the audit trail of replica {self.replica_id!r} fails verification after its last checkpoint "
                f"({problem}); refusing to extend it: run `metagate audit verify`"
            )

    # --- writing -------------------------------------------------------------------------

    def _prepare(self, record: dict[str, Any]) -> Prepared:
        record = dict(record)
        record.setdefault("id", str(uuid.uuid4()))
        record.setdefault("time", now_iso())
        record.setdefault("kind", "event")
        clean, body = prepare_record(record)
        return str(clean["id"]), str(clean["time"]), str(clean["kind"]), body

    def _write_batch(self, items: list[Prepared]) -> None:
        try:
            if self._head_cache is None:
                self._sync()
            self._append(items)
        except BaseException:
            self._head_cache = None     # rolled back: the stored head is the truth
            raise

    def _append(self, items: list[Prepared]) -> None:
        assert self._head_cache is not None
        seq, prev = self._head_cache
        rows = []
        for record_id, record_time, kind, body in items:
            seq += 1
            digest = record_hash(self.replica_id, seq, prev, body)
            rows.append((self.replica_id, seq, record_id, record_time, kind, prev, digest, body))
            prev = digest
        checkpoint = self._due_checkpoint(seq, prev)
        self._commit(rows, checkpoint)
        self._head_cache = (seq, prev)
        self._signed(checkpoint)

    def _due_checkpoint(self, seq: int, digest: str, force: bool = False) -> Checkpoint | None:
        last_seq = self._last.seq if self._last else 0
        unsigned = seq - last_seq
        if unsigned <= 0:
            return None
        if not (force or unsigned >= self.checkpoint_records
                or time.monotonic() - self._checkpoint_clock >= self.checkpoint_seconds):
            return None
        return sign_checkpoint(self._key, self._key_id, self.replica_id, seq, digest, now_iso(), last_seq)

    def _commit(self, rows: list[tuple[Any, ...]], checkpoint: Checkpoint | None) -> None:
        cur = self._cursor()
        try:
            if rows:
                cur.executemany(self.q(f"INSERT INTO audit_records ({RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), rows)
            if checkpoint is not None:
                cur.execute(self.q(f"INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                            checkpoint_row(checkpoint))
        except BaseException:
            self._finish(cur, ok=False)
            raise
        self._finish(cur, ok=True)

    def _signed(self, checkpoint: Checkpoint | None) -> None:
        if checkpoint is not None:
            self._last = checkpoint
            self._checkpoint_clock = time.monotonic()
            self.checkpoints_written += 1

    def _sign_head(self, force: bool = False) -> None:
        try:
            if self._head_cache is None:
                self._sync()
            assert self._head_cache is not None
            checkpoint = self._due_checkpoint(*self._head_cache, force=force)
            if checkpoint is not None:
                self._commit([], checkpoint)
                self._signed(checkpoint)
        except BaseException:
            self._head_cache = None
            raise

    def _tick(self) -> None:
        self._sign_head()

    def _shutdown(self) -> None:
        try:
            self._sign_head(force=True)
        finally:
            self._disconnect()


def record_from_row(row: Any) -> StoredRecord:
    replica_id, seq, record_id, record_time, kind, prev_hash, digest, body = row
    return StoredRecord(replica_id, int(seq), record_id, record_time, kind, prev_hash, digest, body)


def checkpoint_from_row(row: Any) -> Checkpoint:
    replica_id, seq, digest, checkpoint_time, prev_seq, kid, signature = row
    return Checkpoint(replica_id, int(seq), digest, checkpoint_time, int(prev_seq), kid, signature)


def checkpoint_row(checkpoint: Checkpoint) -> tuple[Any, ...]:
    return (checkpoint.replica_id, checkpoint.seq, checkpoint.hash, checkpoint.time,
            checkpoint.prev_seq, checkpoint.key_id, checkpoint.signature)


class SqlTrailReader(SqlDialect):
    """Reads one consistent snapshot of a trail (held from open to close)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def _cursor(self) -> Any:
        return self._connection.cursor()

    def replicas(self) -> list[str]:
        cur = self._cursor()
        cur.execute("SELECT DISTINCT replica_id FROM audit_records UNION SELECT DISTINCT replica_id FROM audit_checkpoints")
        return sorted(row[0] for row in cur.fetchall())

    def checkpoints(self, replica_id: str) -> list[Checkpoint]:
        cur = self._cursor()
        cur.execute(self.q(f"SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE replica_id = ? ORDER BY seq"),
                    (replica_id,))
        return [checkpoint_from_row(row) for row in cur.fetchall()]

    def entries(self, replica_id: str) -> Iterator[StoredRecord]:
        """One replica's chain in sequence order, streamed."""
        yield from self._stream(f"SELECT {RECORD_COLUMNS} FROM audit_records WHERE replica_id = ? ORDER BY seq",
                                (replica_id,))

    def stored(self, start: str | None = None, end: str | None = None, kind: str | None = None) -> Iterator[StoredRecord]:
        """All replicas' records with start <= time < end (ISO UTC strings), in time order."""
        where, params = [], []
        if start is not None:
            where.append("record_time >= ?")
            params.append(start)
        if end is not None:
            where.append("record_time < ?")
            params.append(end)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        yield from self._stream(f"SELECT {RECORD_COLUMNS} FROM audit_records{clause} ORDER BY record_time, replica_id, seq",
                                tuple(params))

    def records(self, start: str | None = None, end: str | None = None, kind: str | None = None) -> Iterator[dict[str, Any]]:
        for entry in self.stored(start, end, kind):
            yield entry.record

    def find(self, record_id: str) -> StoredRecord | None:
        cur = self._cursor()
        cur.execute(self.q(f"SELECT {RECORD_COLUMNS} FROM audit_records WHERE id = ? LIMIT 1"), (record_id,))
        row = cur.fetchone()
        return record_from_row(row) if row else None

    def _stream(self, sql: str, params: tuple[Any, ...]) -> Iterator[StoredRecord]:
        cur = self._cursor()
        cur.execute(self.q(sql), params)
        while rows := cur.fetchmany(1000):
            for row in rows:
                yield record_from_row(row)

    def close(self) -> None:
        try:
            self._connection.rollback()
        finally:
            self._connection.close()

    def __enter__(self) -> SqlTrailReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
