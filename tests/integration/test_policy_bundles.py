"""Policy bundles in a running gate: `metagate policy build` output served by an in-VPC bundle
server is loaded at start, a new revision is swapped in while the gate serves, a broken one is
refused with the old policy still enforced, and the audit trail names the revision that decided.

Real mitmproxy, real worker processes, real Rego; the bundle server is a small aiohttp app on
127.0.0.1 in this process, the upstream the recording stand-in.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from pathlib import Path

import requests
from aiohttp import web
from metagate.proxy.cli import main

from tests.integration.conftest import start_gate
from tests.support.processes import free_port

PROJECT = str(uuid.uuid4())
TEAM_RULE = """package metagate.rules.team

import data.metagate.lib

# The team never lets a run's free-form "ticket" metadata leave.
block contains lib.item("team.no_tickets", f.path, "ticket") if {
	some f in input.fields
	endswith(f.path, ".ticket")
}
"""
BROKEN_RULE = """package metagate.rules.team

block contains x if {
	x := {"rule": "team.broken", "path": "$"
"""


class BundleServer:
    """Serves one bundle at /bundles/metagate.tar.gz with an ETag; answers 304 to a matching
    If-None-Match. Runs its own event loop in a thread."""

    def __init__(self) -> None:
        self.bundle = b""
        self.etag = ""
        self.conditional_gets = 0
        self.not_modified = 0
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bundles/metagate.tar.gz"

    def serve(self, path: Path) -> None:
        self.bundle = path.read_bytes()
        self.etag = '"' + hashlib.sha256(self.bundle).hexdigest()[:20] + '"'

    async def _handle(self, request: web.Request) -> web.Response:
        match = request.headers.get("If-None-Match")
        if match is not None:
            self.conditional_gets += 1
            if match == self.etag:
                self.not_modified += 1
                return web.Response(status=304, headers={"ETag": self.etag})
        return web.Response(body=self.bundle, content_type="application/gzip", headers={"ETag": self.etag})

    def start(self) -> None:
        app = web.Application()
        app.router.add_get("/bundles/metagate.tar.gz", self._handle)
        self._runner = web.AppRunner(app)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def build(tmp: Path, name: str, revision: str, team_rule: str | None = None, check: bool = True) -> Path:
    args = ["policy", "build", "--output", str(tmp / f"{name}.tar.gz"), "--revision", revision]
    if team_rule is not None:
        team = tmp / f"{name}-team" / "metagate" / "rules" / "team"
        team.mkdir(parents=True)
        (team / "team.rego").write_text(team_rule)
        args.append(str(tmp / f"{name}-team"))
    if not check:
        args.append("--no-check")
    assert main(args) == 0
    return tmp / f"{name}.tar.gz"


def run_metadata(values: dict) -> bytes:
    return json.dumps({
        "project": PROJECT,
        "resources": [{"id": str(uuid.uuid4()), "type": "pipeline_run"}],
        "values": values,
        "types": {k: "string" for k in values},
    }).encode()


def post(gate, values: dict) -> requests.Response:
    return requests.post(gate.url + "/api/v1/run-metadata", data=run_metadata(values),
                         headers={"Content-Type": "application/json"}, timeout=30)


def wait_for_policy_event(gate, event: str, revision: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in gate.records(kind="policy"):
            if record["event"] == event and record["bundle_revision"] == revision:
                return record
        time.sleep(0.2)
    raise AssertionError(f"no {event} record for {revision}; policy records: {gate.records(kind='policy')}\n"
                         f"{gate.process.log[-3000:]}")


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met")
        time.sleep(0.1)


def request_record(gate, audit_id: str) -> dict:
    return next(r for r in gate.records() if r["id"] == audit_id)


def test_bundles_are_loaded_swapped_refused_and_recorded(tmp_path, upstream):
    server = BundleServer()
    server.serve(build(tmp_path, "a", "rev-a"))
    server.start()
    config = f"workers: 1\npolicy:\n  bundle: {server.url}\n  bundle_poll_seconds: 0.3\n"
    gate = start_gate(tmp_path, upstream.url, config=config)
    try:
        start = gate.records(kind="start")[-1]
        assert start["policy_revision"] == "rev-a"
        assert start["config"]["policy_bundle"] == server.url

        # Revision a: the shipped policy only; a ticket note passes.
        response = post(gate, {"ticket": "OPS-1234 retrain"})
        assert response.status_code == 200, response.text
        first = request_record(gate, upstream.received()[-1]["headers"]["X-Metagate-Audit-Id"])
        assert first["policy_revision"] == "rev-a"

        # Revision b adds the team's package: swapped in while the gate runs.
        server.serve(build(tmp_path, "b", "rev-b", TEAM_RULE))
        activated = wait_for_policy_event(gate, "bundle_activated", "rev-b")
        assert activated["previous_revision"] == "rev-a"
        assert activated["policy_hash"] != first["policy_hash"]

        response = post(gate, {"ticket": "OPS-1234 retrain"})
        assert response.status_code == 403
        assert "team.no_tickets" in response.json()["detail"][1]
        blocked = [r for r in gate.records() if "team.no_tickets" in (r.get("rules") or [])][-1]
        assert blocked["policy_revision"] == "rev-b"
        assert blocked["policy_hash"] == activated["policy_hash"]

        # Revision c does not parse: refused, revision b stays in force.
        server.serve(build(tmp_path, "c", "rev-c", BROKEN_RULE, check=False))
        rejected = wait_for_policy_event(gate, "bundle_rejected", "rev-c")
        assert rejected["policy_revision"] == "rev-b"
        assert "team.rego" in rejected["reason"]

        response = post(gate, {"ticket": "OPS-99"})
        assert response.status_code == 403 and "team.no_tickets" in response.json()["detail"][1]
        response = post(gate, {"accuracy": "0.93"})
        assert response.status_code == 200
        audit_id = upstream.received()[-1]["headers"]["X-Metagate-Audit-Id"]
        assert request_record(gate, audit_id)["policy_revision"] == "rev-b"
        assert not [r for r in gate.records(kind="policy") if r["event"] == "bundle_activated" and r["bundle_revision"] == "rev-c"]
        # Later polls send the ETag back and get 304: the refused bundle is not fetched again.
        wait_until(lambda: server.not_modified > 0)
        assert len([r for r in gate.records(kind="policy") if r["event"] == "bundle_rejected"]) == 1
    finally:
        gate.process.stop()
        server.stop()
    stop = gate.records(kind="stop")[-1]
    assert stop["policy_revision"] == "rev-b"
