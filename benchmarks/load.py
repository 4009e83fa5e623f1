"""Sustained load: plain mitmproxy and metagate, one after the other in the same run, each for a
fixed period, with the captured ZenML request mix (tests/corpus/captured/*.jsonl).

    .venv/bin/python benchmarks/load.py [--seconds 60] [--concurrency 8] [--upstream recording|zenml]
                                        [--enforcement enforce|monitor] [--sample 5]

Prints, per target: requests, req/s, p50/p99 latency, errors and statuses; the ratios of
metagate to plain mitmproxy; and the resident memory (RSS, the whole process tree: metagate
counts its scanner workers) sampled over time. Behind them: the recording stand-in upstream
(tests/support/recording_upstream.py, default) or a real local ZenML server.

Loopback only; each phase is bounded by --seconds (at most 600). The load generator shares
the machine with what it measures: compare the ratios, not the absolute numbers.
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
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import Running, free_port, metagate_command, start, wait_for_port  # noqa: E402

DROPPED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "authorization", "cookie"}
MAX_SECONDS = 600
WARM_UP_SECONDS = 3.0


def load_mix() -> list[dict]:
    mix = []
    for path in sorted((ROOT / "tests" / "corpus" / "captured").glob("*.jsonl")):
        mix += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not mix:
        raise SystemExit("no captured corpus in tests/corpus/captured: run benchmarks/capture_corpus.py")
    return mix


# --- memory --------------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def tree_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, from /proc (VmRSS)."""
    tree, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        todo += tree.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# --- load ----------------------------------------------------------------------------------

@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    rss: list[tuple[float, float]] = field(default_factory=list)
    elapsed: float = 0.0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "rps": len(ordered) / self.elapsed if self.elapsed else 0.0,
            "p50_ms": statistics.median(ordered) * 1000 if ordered else float("nan"),
            "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else float("nan"),
        }


async def drive(base: str, mix: list[dict], seconds: float, concurrency: int, pid: int, sample: float,
                phase: Phase | None) -> None:
    """Clients replay the mix in order, round and round, until `seconds` have passed."""
    position = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    def next_item() -> dict:
        nonlocal position
        item = mix[position % len(mix)]
        position += 1
        return item

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            item = next_item()
            headers = {k: v for k, v in (item.get("headers") or {}).items() if k.lower() not in DROPPED_HEADERS}
            body = item.get("body_text")
            began = time.perf_counter()
            try:
                async with session.request(item["method"], base + item["path"],
                                           params=[tuple(p) for p in item.get("query") or []],
                                           data=body.encode() if body else None, headers=headers) as response:
                    await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                if phase is not None:
                    phase.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            if phase is not None:
                phase.latencies.append(time.perf_counter() - began)
                phase.statuses[response.status] += 1

    async def sampler() -> None:
        while time.monotonic() < deadline and phase is not None:
            phase.rss.append((time.monotonic() - started, tree_rss_mib(pid)))
            await asyncio.sleep(sample)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(sampler(), *(client(session) for _ in range(concurrency)))
    if phase is not None:
        phase.elapsed = time.monotonic() - started
        phase.rss.append((phase.elapsed, tree_rss_mib(pid)))


def measure(name: str, url: str, process: Running, mix: list[dict], args: argparse.Namespace) -> Phase:
    print(f"load: {name}: warming up, then {args.seconds:g} s of load ...", file=sys.stderr, flush=True)
    asyncio.run(drive(url, mix, WARM_UP_SECONDS, args.concurrency, process.process.pid, args.sample, None))
    phase = Phase()
    asyncio.run(drive(url, mix, args.seconds, args.concurrency, process.process.pid, args.sample, phase))
    return phase


# --- targets -------------------------------------------------------------------------------

def start_upstream(kind: str, tmp: Path, stack: ExitStack) -> str:
    if kind == "zenml":
        from metagate.proxy.embedded import EmbeddedZenMLServer

        server = stack.enter_context(EmbeddedZenMLServer(tmp / "zenml"))
        return server.url
    port = free_port()
    upstream = start([sys.executable, "-m", "tests.support.recording_upstream", "--port", str(port),
                      "--log", str(tmp / "received.jsonl")], "upstream: ready", timeout=30)
    stack.callback(upstream.stop)
    return f"http://127.0.0.1:{port}"


def start_mitmproxy(upstream: str, tmp: Path, stack: ExitStack) -> tuple[str, Running]:
    port = free_port()
    process = start([str(Path(sys.executable).parent / "mitmdump"), "--mode", f"reverse:{upstream}", "-p", str(port),
                     "--set", f"confdir={tmp / 'mitm'}", "-q", "--set", "termlog_verbosity=error"], ready=None)
    stack.callback(process.stop)
    wait_for_port(port)
    return f"http://127.0.0.1:{port}", process


def start_metagate(upstream: str, tmp: Path, enforcement: str, stack: ExitStack) -> tuple[str, Running]:
    port = free_port()
    process = start(metagate_command("run", "--upstream", upstream, "--listen", f"127.0.0.1:{port}",
                                     "--data-dir", str(tmp / "gate"), "--enforcement", enforcement),
                    ready="metagate: serving", timeout=240)
    stack.callback(process.stop)
    return f"http://127.0.0.1:{port}", process


# --- report --------------------------------------------------------------------------------

def report(results: dict[str, Phase], args: argparse.Namespace, mix: list[dict]) -> None:
    print(f"load: {args.seconds:g} s per target, {args.concurrency} concurrent clients, mix of {len(mix)} captured "
          f"ZenML requests, upstream: {args.upstream}, metagate enforcement: {args.enforcement}")
    print(f"{'target':<10} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  statuses")
    summaries = {name: phase.summary() for name, phase in results.items()}
    for name, phase in results.items():
        s = summaries[name]
        print(f"{name:<10} {s['requests']:>9} {s['rps']:>8.1f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} "
              f"{sum(phase.errors.values()):>7}  {dict(sorted(phase.statuses.items()))}"
              + (f"  errors: {dict(phase.errors)}" if phase.errors else ""))
    m, g = summaries["mitmproxy"], summaries["metagate"]
    if m["rps"] and g["rps"]:
        print(f"metagate/mitmproxy: throughput x{g['rps'] / m['rps']:.2f}, p50 x{g['p50_ms'] / m['p50_ms']:.2f}, "
              f"p99 x{g['p99_ms'] / m['p99_ms']:.2f}")
    print("RSS over time (MiB, process tree; metagate includes its scanner workers):")
    print(f"{'t s':>6} " + " ".join(f"{name:>10}" for name in results))
    rows = max(len(phase.rss) for phase in results.values())
    for i in range(rows):
        cells = []
        for phase in results.values():
            cells.append(f"{phase.rss[i][1]:>10.1f}" if i < len(phase.rss) else f"{'':>10}")
        t = next(phase.rss[i][0] for phase in results.values() if i < len(phase.rss))
        print(f"{t:>6.0f} " + " ".join(cells))
    peaks = {name: max(v for _, v in phase.rss) for name, phase in results.items()}
    growth = {name: phase.rss[-1][1] - phase.rss[0][1] for name, phase in results.items()}
    print("peak RSS: " + ", ".join(f"{n} {v:.1f}" for n, v in peaks.items())
          + f"; metagate/mitmproxy x{peaks['metagate'] / peaks['mitmproxy']:.2f}")
    print("RSS growth during the phase: " + ", ".join(f"{n} {v:+.1f}" for n, v in growth.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help=f"load per target (at most {MAX_SECONDS})")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--upstream", choices=["recording", "zenml"], default="recording")
    parser.add_argument("--enforcement", choices=["enforce", "monitor"], default="enforce")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}]")
    mix = load_mix()
    results: dict[str, Phase] = {}
    with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        upstream = start_upstream(args.upstream, tmp, stack)
        # One target at a time, so they do not compete for the cores.
        with ExitStack() as phase_stack:
            url, process = start_mitmproxy(upstream, tmp, phase_stack)
            results["mitmproxy"] = measure("mitmproxy", url, process, mix, args)
        with ExitStack() as phase_stack:
            url, process = start_metagate(upstream, tmp, args.enforcement, phase_stack)
            results["metagate"] = measure("metagate", url, process, mix, args)
    report(results, args, mix)


if __name__ == "__main__":
    main()
