"""The audit trail: one decision record per request, committed before the request is forwarded.

This first store is JSON lines with group commit: callers hand a record to a writer thread
and wait; the thread writes everything pending and fsyncs once, so concurrent requests share
one fsync instead of paying one each.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from abc import ABC, abstractmethod
from concurrent.futures import Future
from pathlib import Path
from typing import Any


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


class JsonlAuditStore(AuditStore):
    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab", buffering=0)
        os.chmod(self.path, 0o600)
        self._fsync = fsync
        self._pending: list[tuple[bytes, Future[None]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="metagate-audit", daemon=True)
        self._thread.start()

    def commit(self, record: dict[str, Any]) -> Future[None]:
        future: Future[None] = Future()
        line = json.dumps(record, separators=(",", ":"), sort_keys=True, default=str).encode() + b"\n"
        with self._cond:
            if self._closed:
                future.set_exception(AuditError("audit store is closed"))
                return future
            self._pending.append((line, future))
            self._cond.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            try:
                self._file.write(b"".join(line for line, _ in batch))
                if self._fsync:
                    os.fsync(self._file.fileno())
            except OSError as exc:
                error = AuditError(f"audit write failed: {exc.strerror or type(exc).__name__}")
                for _, future in batch:
                    future.set_exception(error)
                continue
            for _, future in batch:
                future.set_result(None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(10)
        self._file.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                records.append(json.loads(line))
    return records
