"""The audit trail: one decision record per request, committed before the request is forwarded.

`AuditStore` is what the proxy writes to. `GroupCommitStore` gives every store the same write
path: callers hand a record to one writer thread and wait on a future; the thread writes
everything pending in one transaction (one fsync), so concurrent requests share a commit
instead of paying one each. The chained SQL stores (reports/sqlstore.py) are the real trail;
`JsonlAuditStore` is an unchained file kept for callers that want plain JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from abc import ABC, abstractmethod
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Generic, TypeVar

log = logging.getLogger("metagate.audit")

Item = TypeVar("Item")


class AuditError(RuntimeError):
    """The record could not be committed: the request must not be forwarded."""


class AuditStore(ABC):
    @abstractmethod
    def commit(self, record: dict[str, Any]) -> Future[None]:
        """Queue a record; the future resolves once it is durable."""

    async def append(self, record: dict[str, Any]) -> None:
        try:
            await asyncio.wrap_future(self.commit(record))
        except AuditError:
            raise
        except Exception as exc:
            raise AuditError(f"audit write failed: {type(exc).__name__}") from None

    @abstractmethod
    def close(self) -> None: ...


class GroupCommitStore(AuditStore, Generic[Item]):
    """One writer thread; each wake-up commits up to `max_batch` pending records at once.

    Subclasses turn a record into an `Item` in the caller's thread (`_prepare`, so a bad record
    fails its own caller only) and write a batch of items durably (`_write_batch`). `_tick` runs
    when the thread has waited `tick_seconds` with nothing to write (timed checkpoints).
    """

    def __init__(self, *, max_batch: int = 1000, tick_seconds: float | None = None, name: str = "metagate-audit") -> None:
        self._max_batch = max(1, max_batch)
        self._tick_seconds = tick_seconds
        self._pending: list[tuple[Item, Future[None]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.batches = 0            # transactions committed: records/batches is the group-commit factor
        self.records_written = 0

    def _start(self) -> None:
        self._thread.start()

    @abstractmethod
    def _prepare(self, record: dict[str, Any]) -> Item: ...

    @abstractmethod
    def _write_batch(self, items: list[Item]) -> None:
        """Make all items durable, or raise and make none of them durable."""

    def _tick(self) -> None:
        """Periodic work while idle."""

    def _shutdown(self) -> None:
        """Last work in the writer thread, after every pending record is written."""

    def commit(self, record: dict[str, Any]) -> Future[None]:
        future: Future[None] = Future()
        try:
            item = self._prepare(record)
        except Exception as exc:
            future.set_exception(AuditError(f"audit record rejected: {type(exc).__name__}: {exc}"))
            return future
        with self._cond:
            if self._closed:
                future.set_exception(AuditError("audit store is closed"))
                return future
            self._pending.append((item, future))
            self._cond.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._pending and not self._closed:
                    self._cond.wait(self._tick_seconds)
                batch = self._pending[: self._max_batch]
                del self._pending[: len(batch)]
                finished = self._closed and not batch
            if batch:
                self._write(batch)
            elif finished:
                break
            else:
                self._guarded(self._tick)
        self._guarded(self._shutdown)

    def _write(self, batch: list[tuple[Item, Future[None]]]) -> None:
        try:
            self._write_batch([item for item, _ in batch])
        except Exception as exc:
            log.error("audit write failed: %s: %s", type(exc).__name__, exc)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            error = AuditError(f"audit write failed: {reason}")
            for _, future in batch:
                future.set_exception(error)
            return
        self.batches += 1
        self.records_written += len(batch)
        for _, future in batch:
            future.set_result(None)

    @staticmethod
    def _guarded(work: Any) -> None:
        try:
            work()
        except Exception as exc:
            log.error("audit store: %s failed: %s: %s", getattr(work, "__name__", "task"), type(exc).__name__, exc)

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(30)


class JsonlAuditStore(GroupCommitStore[bytes]):
    """Unchained JSON lines with group commit and fsync."""

    def __init__(self, path: Path, fsync: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab", buffering=0)
        os.chmod(self.path, 0o600)
        self._fsync = fsync
        self._start()

    def _prepare(self, record: dict[str, Any]) -> bytes:
        return json.dumps(record, separators=(",", ":"), sort_keys=True, default=str).encode() + b"\n"

    def _write_batch(self, items: list[bytes]) -> None:
        self._file.write(b"".join(items))
        if self._fsync:
            os.fsync(self._file.fileno())

    def _shutdown(self) -> None:
        self._file.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON lines file (a JsonlAuditStore or an export). For the trail itself use
    metagate.reports.store.read_records(data_dir)."""
    records = []
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                records.append(json.loads(line))
    return records
