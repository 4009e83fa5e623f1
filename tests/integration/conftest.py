"""Real mitmproxy running metagate, in front of a recording stand-in upstream."""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from metagate.reports.store import read_records, store_files

from tests.support.processes import Running, free_port, metagate_command, start


@dataclass
class Upstream:
    url: str
    log_path: Path

    def received(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        entries = [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]
        for entry in entries:
            entry["body"] = base64.b64decode(entry.pop("body_b64"))
        return entries


@dataclass
class Gate:
    url: str
    data_dir: Path
    process: Running

    def records(self, kind: str | None = "request") -> list[dict]:
        return read_records(self.data_dir, kind=kind)

    def trail_bytes(self) -> bytes:
        """Every byte of the store's files, then every record as JSON (a value split across
        database pages would not show in the raw bytes)."""
        raw = b"".join(path.read_bytes() for path in store_files(self.data_dir))
        return raw + b"\n" + json.dumps(self.records(kind=None), ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("upstream")
    port = free_port()
    log_path = tmp / "received.jsonl"
    process = start([sys.executable, "-m", "tests.support.recording_upstream", "--port", str(port), "--log", str(log_path)],
                    "upstream: ready", timeout=30)
    yield Upstream(f"http://127.0.0.1:{port}", log_path)
    process.stop()


def start_gate(tmp: Path, upstream_url: str, *extra: str, config: str | None = None) -> Gate:
    port = free_port()
    args = ["run", "--upstream", upstream_url, "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp / "data"), *extra]
    if config is not None:
        path = tmp / "metagate.yaml"
        path.write_text(config)
        args += ["--config", str(path)]
    process = start(metagate_command(*args), "metagate: serving", timeout=240)
    return Gate(f"http://127.0.0.1:{port}", tmp / "data", process)


@pytest.fixture(scope="module")
def gate(tmp_path_factory, upstream):
    config = "limits:\n  max_body_bytes: 1048576\n  max_decoded_bytes: 4194304\nstorage_prefixes: ['s3://ml-bucket/', '/var/zenml/']\n"
    running = start_gate(tmp_path_factory.mktemp("gate"), upstream.url, config=config)
    yield running
    running.process.stop()
