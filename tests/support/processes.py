"""Start and stop the processes tests run against: metagate itself and stand-in upstreams."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Running:
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        return "".join(self.output)

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def wait_for_port(port: int, timeout: float = 30, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.05)


def start(cmd: list[str], ready: str | None, timeout: float = 120, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Running:
    """Start `cmd` in its own process group and wait for a line containing `ready` (None: no wait)."""
    process = subprocess.Popen(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    running = Running(process)
    seen = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.output.append(line)
            if ready in line:
                seen.set()

    threading.Thread(target=pump, daemon=True).start()
    if ready is None:
        return running
    deadline = time.monotonic() + timeout
    while not seen.is_set():
        if process.poll() is not None:
            time.sleep(0.2)
            raise RuntimeError(f"{cmd[0]} exited with {process.returncode} before ready:\n{running.log[-4000:]}")
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"{cmd[0]} not ready after {timeout} s:\n{running.log[-4000:]}")
        seen.wait(0.1)
    return running


def metagate_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "metagate.proxy.cli", *args]
