"""Latency and throughput of the gate, side by side in one run.

Replays the captured ZenML request mix (tests/corpus/captured/*.jsonl) against a real local
ZenML server three ways: directly, through plain mitmproxy (reverse mode, no addon), and
through metagate. Prints p50/p99 latency and requests/s for each, and the ratios.

    .venv/bin/python benchmarks/gate_latency.py [--requests 600] [--concurrency 4]

Loopback only; the loop is bounded by --requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metagate.proxy.embedded import EmbeddedZenMLServer  # noqa: E402
from metagate.reports.store import read_records  # noqa: E402
from tests.support.processes import free_port, metagate_command, start, wait_for_port  # noqa: E402

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "authorization", "cookie"}


def load_mix() -> list[dict]:
    mix = []
    for path in sorted((ROOT / "tests" / "corpus" / "captured").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                mix.append(json.loads(line))
    if not mix:
        raise SystemExit("no captured corpus in tests/corpus/captured: run benchmarks/capture_corpus.py")
    return mix


async def replay(base: str, mix: list[dict], total: int, concurrency: int) -> dict:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(mix[i % len(mix)])

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            item = queue.get_nowait()
            headers = {k: v for k, v in (item.get("headers") or {}).items() if k.lower() not in HOP_HEADERS}
            url = base + item["path"]
            params = [tuple(pair) for pair in item.get("query") or []]
            body = item.get("body_text")
            started = time.perf_counter()
            async with session.request(item["method"], url, params=params, data=body.encode() if body else None,
                                       headers=headers) as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "rps": len(latencies) / elapsed,
        "statuses": dict(sorted(statuses.items())),
    }


def gate_breakdown(data_dir: Path) -> dict[str, float]:
    """Medians of where metagate's time went, from its own audit records."""
    records = [r for r in read_records(data_dir, kind="request") if "inspection_ms" in r]
    out = {"gate_ms": statistics.median(r["gate_ms"] for r in records)}
    for stage in ("scan", "policy", "redact"):
        out[f"{stage}_ms"] = statistics.median(r["inspection_ms"][stage] for r in records)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    mix = load_mix()
    with tempfile.TemporaryDirectory() as tmp_name, EmbeddedZenMLServer(Path(tmp_name) / "zenml") as server:
        tmp = Path(tmp_name)
        mitm_port, gate_port = free_port(), free_port()
        mitm = start([str(ROOT / ".venv" / "bin" / "mitmdump"), "--mode", f"reverse:{server.url}", "-p", str(mitm_port),
                      "--set", f"confdir={tmp / 'mitm'}", "-q", "--set", "termlog_verbosity=error"],
                     ready=None)
        wait_for_port(mitm_port)
        gate = start(metagate_command("run", "--upstream", server.url, "--listen", f"127.0.0.1:{gate_port}",
                                      "--data-dir", str(tmp / "gate"), "--enforcement", "monitor"),
                     ready="metagate: serving", timeout=240)
        try:
            time.sleep(1.0)
            targets = {
                "direct": server.url,
                "mitmproxy": f"http://127.0.0.1:{mitm_port}",
                "metagate": f"http://127.0.0.1:{gate_port}",
            }
            results = {}
            for name, base in targets.items():
                asyncio.run(replay(base, mix, min(len(mix), 50), args.concurrency))  # warm-up
                results[name] = asyncio.run(replay(base, mix, args.requests, args.concurrency))
            breakdown = gate_breakdown(tmp / "gate")
        finally:
            gate.stop()
            mitm.stop()
    print(f"request mix: {len(mix)} captured requests, {args.requests} sent per target, concurrency {args.concurrency}")
    print(f"{'target':<10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}  statuses")
    for name, r in results.items():
        print(f"{name:<10} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['rps']:8.1f}  {r['statuses']}")
    print("inside metagate (medians): " + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items())
          + "  (gate_ms: from request hook to forward, including worker IPC and the audit commit)")
    d, m, g = results["direct"], results["mitmproxy"], results["metagate"]
    print(f"metagate/mitmproxy: p50 x{g['p50_ms'] / m['p50_ms']:.2f}, p99 x{g['p99_ms'] / m['p99_ms']:.2f}, "
          f"throughput x{g['rps'] / m['rps']:.2f}")
    print(f"metagate/direct:    p50 x{g['p50_ms'] / d['p50_ms']:.2f}, p99 x{g['p99_ms'] / d['p99_ms']:.2f}, "
          f"throughput x{g['rps'] / d['rps']:.2f}")


if __name__ == "__main__":
    main()
