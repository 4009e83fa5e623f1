"""Inspection worker processes, off mitmproxy's event loop.

Each worker is a spawned process that builds one Inspector (catalog, schemas, detectors, Rego
engine) and answers requests over a pipe. Spawned, not forked, so it shares no state with the
proxy's event loop. A worker that crashes (regopy is native code) or overruns the time budget
is killed and replaced; only the request it was working on fails, and it fails closed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from metagate.proxy.inspection import InspectionResult, InspectorSettings
from metagate.scanner.model import InspectionRequest

log = logging.getLogger("metagate.workers")

_READY_TIMEOUT = 180.0   # first import of spaCy/presidio on a cold machine is slow


class InspectionFailed(Exception):
    """The request could not be inspected; `rule` says why (never a payload value)."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def _worker_main(settings: InspectorSettings, conn: Connection) -> None:
    # The proxy handles Ctrl-C and shuts workers down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        inspector = settings.build()
    except Exception as exc:
        conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        return
    # Everything built so far lives as long as the worker: move it out of the collector's
    # way, so garbage collection pauses do not land on requests (p99).
    gc.collect()
    gc.freeze()
    conn.send(("ready", inspector.policy_hash))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            conn.send(("ok", inspector.inspect(message)))
        except Exception as exc:
            # The type only: an exception message can quote the payload.
            conn.send(("error", type(exc).__name__))


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    policy_hash: str = ""
    served: int = 0
    retiring: bool = False   # a successor is being started; retire once it is ready
    retired: bool = False    # the successor is ready: kill this one when it is next free

    def call(self, request: InspectionRequest, timeout: float) -> tuple[str, Any]:
        self.conn.send(request)
        if not self.conn.poll(timeout):
            return ("timeout", None)
        return self.conn.recv()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    def __init__(
        self, settings: InspectorSettings, size: int = 2, timeout: float = 5.0, policy_revision: str | None = None,
        max_requests: int = 2000,
    ) -> None:
        self.settings = settings
        self.size = size
        self.timeout = timeout
        # regopy 1.5 leaks memory on every evaluation (about 80 KB): a worker that has served
        # this many requests is replaced by a fresh one, started before the old one retires.
        self.max_requests = max_requests
        self.restarts = 0
        self.recycled = 0
        self.policy_hash = ""
        self.policy_revision = policy_revision   # the policy bundle's revision; None without a bundle
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._threads = ThreadPoolExecutor(max_workers=size * 2 + 2, thread_name_prefix="metagate-worker")
        self._workers: set[_Worker] = set()
        self._closing = False

    # --- lifecycle -------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(self.settings, child), daemon=True,
                                    name="metagate-inspector")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        if not parent.poll(_READY_TIMEOUT):
            worker.kill()
            raise RuntimeError("inspection worker did not start in time")
        try:
            kind, detail = parent.recv()
        except EOFError:
            worker.kill()
            raise RuntimeError(f"inspection worker died on start (exit code {process.exitcode})") from None
        if kind != "ready":
            worker.kill()
            raise RuntimeError(f"inspection worker failed to start: {detail}")
        worker.policy_hash = detail
        self._workers.add(worker)
        return worker

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        workers = await asyncio.gather(*(loop.run_in_executor(self._threads, self._spawn) for _ in range(self.size)))
        for worker in workers:
            self._idle.put_nowait(worker)
        self.policy_hash = workers[0].policy_hash

    async def _replace(self) -> None:
        loop = asyncio.get_running_loop()
        self.restarts += 1
        while not self._closing:
            try:
                worker = await loop.run_in_executor(self._threads, self._spawn)
            except Exception as exc:
                log.error("could not replace inspection worker: %s; retrying", exc)
                await asyncio.sleep(1.0)
                continue
            if self._idle is not None:
                self._idle.put_nowait(worker)
            return

    async def _recycle(self, old: _Worker) -> None:
        loop = asyncio.get_running_loop()
        try:
            successor = await loop.run_in_executor(self._threads, self._spawn)
        except Exception as exc:
            log.error("could not start a successor for a worker due for recycling: %s", exc)
            old.retiring = False
            return
        if self._closing or self._idle is None:
            return
        old.retired = True
        self.recycled += 1
        self._idle.put_nowait(successor)

    def _release(self, worker: _Worker) -> None:
        """Back to the idle queue, or retired when its successor is ready."""
        worker.served += 1
        if worker.retired:
            self._workers.discard(worker)
            self._threads.submit(worker.kill)
            return
        if self.max_requests and worker.served >= self.max_requests and not worker.retiring and not self._closing:
            worker.retiring = True
            asyncio.get_running_loop().create_task(self._recycle(worker))
        assert self._idle is not None
        self._idle.put_nowait(worker)

    def _discard(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        self._threads.submit(worker.kill)
        if not self._closing:
            asyncio.get_running_loop().create_task(self._replace())

    async def close(self) -> None:
        self._closing = True
        for worker in list(self._workers):
            try:
                worker.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for worker in list(self._workers):
            worker.process.join(max(0.0, deadline - time.monotonic()))
            worker.kill()
        self._workers.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def drain(self, timeout: float) -> bool:
        """Wait until no request is being inspected (a pool swapped out finishes its own);
        False if some still are after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._drained.wait(), timeout)
        except TimeoutError:
            return False
        return True

    @property
    def alive(self) -> int:
        return sum(1 for w in self._workers if w.process.is_alive())

    # --- requests --------------------------------------------------------------------

    async def inspect(self, request: InspectionRequest) -> InspectionResult:
        self._in_flight += 1
        self._drained.clear()
        try:
            return await self._inspect(request)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._drained.set()

    async def _inspect(self, request: InspectionRequest) -> InspectionResult:
        assert self._idle is not None, "WorkerPool.start() was not awaited"
        deadline = time.monotonic() + self.timeout
        try:
            worker = await asyncio.wait_for(self._idle.get(), timeout=self.timeout)
        except TimeoutError:
            raise InspectionFailed("inspection.timeout", "no inspection worker free within the time budget") from None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self._release(worker)
            raise InspectionFailed("inspection.timeout", f"inspection took longer than {self.timeout:g} s")
        loop = asyncio.get_running_loop()
        try:
            kind, detail = await loop.run_in_executor(self._threads, worker.call, request, remaining)
        except (EOFError, OSError, BrokenPipeError):
            code = worker.process.exitcode
            self._discard(worker)
            raise InspectionFailed("inspection.worker_crashed", f"inspection worker crashed (exit code {code})") from None
        if kind == "timeout":
            self._discard(worker)
            raise InspectionFailed("inspection.timeout", f"inspection took longer than {self.timeout:g} s")
        self._release(worker)
        if kind == "error":
            raise InspectionFailed("inspection.error", f"inspection failed ({detail})")
        return detail


def worker_pids(pool: WorkerPool) -> list[int]:
    """For tests and `metagate doctor`: the pids of live workers."""
    return [w.process.pid for w in pool._workers if w.process.pid is not None and w.process.is_alive()]
