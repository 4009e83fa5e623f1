"""Worker processes isolate crashes and overruns: that request fails closed, the worker is
replaced, the next request passes."""

import asyncio

import pytest

from metagate.proxy.inspection import InspectorSettings
from metagate.proxy.workers import InspectionFailed, WorkerPool, worker_pids
from metagate.scanner.model import InspectionRequest

SETTINGS = InspectorSettings(fingerprint_key=b"k" * 32, factory="tests.support.fake_inspectors:MisbehavingInspector")


def request(path: str, body: bytes = b"") -> InspectionRequest:
    return InspectionRequest(method="POST", path=path, body=body)


async def _wait_for(pool: WorkerPool, count: int) -> None:
    for _ in range(600):
        if pool.alive == count and pool._idle.qsize() == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"pool never got back to {count} workers")


def test_a_crashing_worker_fails_that_request_and_is_replaced():
    async def scenario():
        pool = WorkerPool(SETTINGS, size=2, timeout=10)
        await pool.start()
        try:
            before = set(worker_pids(pool))
            with pytest.raises(InspectionFailed) as info:
                await pool.inspect(request("/crash"))
            assert info.value.rule == "inspection.worker_crashed"
            await _wait_for(pool, 2)
            assert pool.restarts == 1
            assert set(worker_pids(pool)) != before
            results = await asyncio.gather(*(pool.inspect(request("/ok")) for _ in range(6)))
            assert all(r["decision"].action == "allow" for r in results)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_an_overrun_fails_closed_within_the_budget_and_the_worker_is_replaced():
    async def scenario():
        pool = WorkerPool(SETTINGS, size=1, timeout=1.0)
        await pool.start()
        try:
            with pytest.raises(InspectionFailed) as info:
                await pool.inspect(request("/hang"))
            assert info.value.rule == "inspection.timeout"
            await _wait_for(pool, 1)
            assert (await pool.inspect(request("/ok")))["decision"].action == "allow"
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_an_exception_reports_its_type_but_never_the_payload():
    async def scenario():
        pool = WorkerPool(SETTINGS, size=1, timeout=10)
        await pool.start()
        try:
            with pytest.raises(InspectionFailed) as info:
                await pool.inspect(request("/raise", b"jane.doe@example.com"))
            assert info.value.rule == "inspection.error"
            assert "ValueError" in info.value.reason
            assert "jane" not in info.value.reason
            assert (await pool.inspect(request("/ok")))["decision"].action == "allow"
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_worker_that_cannot_build_its_inspector_stops_the_start():
    broken = InspectorSettings(fingerprint_key=b"k" * 32, factory="tests.support.fake_inspectors:BrokenInspector")

    async def scenario():
        pool = WorkerPool(broken, size=1, timeout=5)
        with pytest.raises(RuntimeError, match="policy did not compile"):
            await pool.start()
        await pool.close()

    asyncio.run(scenario())


def test_a_worker_is_recycled_after_its_request_budget_without_failing_a_request():
    async def scenario():
        pool = WorkerPool(SETTINGS, size=1, timeout=10, max_requests=3)
        await pool.start()
        try:
            first = set(worker_pids(pool))
            pids = [(await pool.inspect(request("/ok")))["pid"] for _ in range(3)]
            assert set(pids) == first
            for _ in range(600):  # the successor starts in the background
                if pool.recycled:
                    break
                await asyncio.sleep(0.05)
            assert pool.recycled == 1
            later = [(await pool.inspect(request("/ok")))["pid"] for _ in range(4)]
            assert later[-1] not in first
            await _wait_for(pool, 1)
            assert pool.restarts == 0
        finally:
            await pool.close()

    asyncio.run(scenario())
