"""PostgreSQL store: several metagate replicas behind a load balancer share one database.

Each replica writes its own chain (replica_id), so replicas never wait on each other; a
session advisory lock per replica id keeps a second process with the same id out. Commits are
durable with PostgreSQL's default synchronous_commit=on. The DSN may carry a password:
it is never logged or put into an error message here.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from metagate.reports.sqlstore import (
    SCHEMA,
    ChainedSqlStore,
    SqlTrailReader,
    TrailUnreadable,
    record_from_row,
)
from metagate.reports.trail import AuditError

STATEMENT_TIMEOUT_MS = 10_000     # a stuck database fails requests closed instead of hanging them
CONNECT_TIMEOUT_S = 10
LOCK_CLASS = 0x6D67_6174       # advisory lock namespace for "one writer per replica chain"


def _connect(dsn: str, **options: Any) -> Any:
    import psycopg

    return psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, **options)


class PostgresAuditStore(ChainedSqlStore):
    paramstyle = "%s"

    def __init__(
        self,
        dsn: str,
        replica_id: str,
        signing_key: Ed25519PrivateKey,
        checkpoint_records: int = 1000,
        checkpoint_seconds: float = 60.0,
        max_batch: int = 1000,
    ) -> None:
        self._dsn = dsn
        self._db: Any = None
        super().__init__(replica_id, signing_key, checkpoint_records, checkpoint_seconds, max_batch)

    def __repr__(self) -> str:          # never show the DSN
        return f"PostgresAuditStore(replica_id={self.replica_id!r})"

    def _open(self) -> None:
        self._connection()
        with self._db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('metagate-audit-schema'))")
            for statement in SCHEMA:
                cur.execute(statement)
        self._db.commit()

    def _connection(self) -> Any:
        """The writer's connection, reconnecting after the database went away."""
        if self._db is None or self._db.closed or self._db.broken:
            if self._db is not None:
                self._db.close()
            self._db = _connect(self._dsn, autocommit=False)
            with self._db.cursor() as cur:
                cur.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
                cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, self.replica_id))
                held = cur.fetchone()[0]
            self._db.commit()
            if not held:
                self._db.close()
                raise AuditError(f"audit replica id {self.replica_id!r} is in use by another metagate process "
                                 "(give each replica its own audit.replica_id)")
        return self._db

    def _cursor(self) -> Any:
        return self._connection().cursor()

    def _finish(self, cur: Any, ok: bool) -> None:
        cur.close()
        if self._db.closed or self._db.broken:
            return
        if ok:
            self._db.commit()
        else:
            self._db.rollback()

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()


class PostgresTrailReader(SqlTrailReader):
    paramstyle = "%s"

    def __init__(self, dsn: str) -> None:
        import psycopg

        try:
            connection = _connect(dsn, autocommit=False)
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ   # one snapshot
            connection.read_only = True
            with connection.cursor() as cur:
                cur.execute("SELECT count(*) FROM audit_records")
                cur.execute("SELECT count(*) FROM audit_checkpoints")
        except psycopg.Error as exc:
            raise TrailUnreadable(f"cannot read the audit trail from PostgreSQL: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        super().__init__(connection)
        self._streams = 0

    def _stream(self, sql: str, params: tuple[Any, ...]):  # type: ignore[override]
        # A named (server-side) cursor streams a large trail instead of loading it.
        self._streams += 1
        with self._connection.cursor(name=f"metagate_trail_{self._streams}") as cur:
            cur.itersize = 2000
            cur.execute(self.q(sql), params)
            for row in cur:
                yield record_from_row(row)

