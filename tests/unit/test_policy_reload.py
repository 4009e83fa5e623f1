"""Hot reload of policy bundles: what is swapped, what is refused, what is recorded.

The pool stand-in compiles each bundle's policy in this process, as a worker does on start,
so a broken bundle fails exactly where it would in the gate; no worker processes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from aiohttp import web
from metagate.policies.bundle import build_bundle
from metagate.policies.engine import RegopyEngine
from metagate.policies.errors import PolicyError
from metagate.policies.files import DEFAULT_POLICY_DIR
from metagate.proxy.config import ConfigError, load_config
from metagate.proxy.inspection import InspectorSettings
from metagate.proxy.policy_layout import ROOTED_FACTORY
from metagate.proxy.reload import (
    BundleFetchError,
    FileBundleSource,
    HttpBundleSource,
    PolicyReloader,
    describe_url,
)

SETTINGS = InspectorSettings(fingerprint_key=b"k" * 32)
TEAM_RULE = 'package metagate.rules.team\n\nblock contains {"rule": "team.all", "path": "$"} if input.request\n'
BROKEN_RULE = 'package metagate.rules.team\n\nblock contains x if {\n\tx := {"rule": "team.x"\n'


class InProcessPool:
    """Stands in for WorkerPool: `start()` compiles the policy as a worker would."""

    def __init__(self, settings: InspectorSettings, size: int, timeout: float, policy_revision: str | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.policy_revision = policy_revision
        self.policy_hash = ""
        self.closed = False

    async def start(self) -> None:
        assert self.settings.factory == ROOTED_FACTORY
        base, *extra = self.settings.policy_dirs
        try:
            self.policy_hash = RegopyEngine(base, extra_dirs=extra).policy_hash
        except PolicyError as exc:
            raise RuntimeError(f"inspection worker failed to start: PolicyError: {exc}") from None

    async def drain(self, timeout: float) -> bool:
        return True

    async def close(self) -> None:
        self.closed = True


class Audit:
    def __init__(self) -> None:
        self.records: list[dict] = []

    async def append(self, record: dict) -> None:
        self.records.append(record)

    def events(self) -> list[tuple[str, str | None]]:
        return [(r["event"], r["bundle_revision"]) for r in self.records]


class Gate:
    pool: InProcessPool


def write_bundle(tmp: Path, path: Path, revision: str, rule: str | None = None) -> None:
    """`metagate policy build` output renamed into place, as a deployment would update it."""
    dirs = [DEFAULT_POLICY_DIR]
    if rule is not None:
        team = tmp / f"team-{revision}"
        (team / "metagate" / "rules" / "team").mkdir(parents=True)
        (team / "metagate" / "rules" / "team" / "team.rego").write_text(rule)
        dirs.append(team)
    staged = tmp / f"staged-{revision}.tar.gz"
    build_bundle(dirs, staged, revision=revision)
    os.replace(staged, path)


def broken_bundle(revision: str) -> bytes:
    """A bundle whose team module does not parse (build would refuse it: made by hand)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, text in ((".manifest", json.dumps({"revision": revision, "roots": ["metagate"]})),
                           ("metagate/rules/team/team.rego", BROKEN_RULE)):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return raw.getvalue()


def replace_file(path: Path, data: bytes) -> None:
    staged = path.with_name("staged.tar.gz")
    staged.write_bytes(data)
    os.replace(staged, path)


def reloader_for(tmp: Path, source, audit: Audit) -> PolicyReloader:
    return PolicyReloader(source, tmp / "data", SETTINGS, audit, pool_size=1, timeout=1, poll_seconds=60,
                          pool_factory=InProcessPool)


def test_a_new_bundle_is_swapped_in_and_a_broken_one_refused(tmp_path):
    async def scenario() -> None:
        path = tmp_path / "bundle.tar.gz"
        write_bundle(tmp_path, path, "r1")
        audit = Audit()
        reloader = reloader_for(tmp_path, FileBundleSource(path), audit)
        gate = Gate()
        gate.pool = await reloader.initial_pool()
        reloader.attach(gate)
        first = gate.pool
        assert first.policy_revision == "r1"
        assert await reloader.poll_once() == "unchanged"

        write_bundle(tmp_path, path, "r2", TEAM_RULE)
        assert await reloader.poll_once() == "activated"
        second = gate.pool
        assert second is not first and second.policy_revision == "r2"
        assert second.policy_hash != first.policy_hash

        broken = broken_bundle("r3")
        replace_file(path, broken)
        assert await reloader.poll_once() == "rejected"
        assert gate.pool is second and not second.closed
        replace_file(path, broken)                         # the same bytes again: not retried
        assert await reloader.poll_once() == "unchanged"

        await reloader.stop()
        assert first.closed
        assert audit.events() == [("bundle_activated", "r2"), ("bundle_rejected", "r3")]
        activated, rejected = audit.records
        assert activated["previous_revision"] == "r1" and activated["policy_revision"] == "r2"
        assert activated["policy_hash"] == second.policy_hash
        assert rejected["policy_revision"] == "r2"
        assert "metagate/rules/team/team.rego:" in rejected["reason"]
        kept = [p.name for p in (tmp_path / "data" / "policy" / "bundles").iterdir()]
        assert kept == [Path(second.settings.policy_dirs[0]).name]

    asyncio.run(scenario())


def test_a_bundle_that_cannot_be_unpacked_is_refused(tmp_path):
    async def scenario() -> None:
        path = tmp_path / "bundle.tar.gz"
        write_bundle(tmp_path, path, "r1")
        audit = Audit()
        reloader = reloader_for(tmp_path, FileBundleSource(path), audit)
        gate = Gate()
        gate.pool = await reloader.initial_pool()
        reloader.attach(gate)
        path.write_bytes(b"<html>502 Bad Gateway</html>")
        assert await reloader.poll_once() == "rejected"
        assert gate.pool.policy_revision == "r1"
        assert audit.records[-1]["reason"].startswith("not a gzipped tarball")
        await reloader.stop()

    asyncio.run(scenario())


def test_start_falls_back_to_the_last_activated_bundle(tmp_path):
    async def scenario() -> None:
        path = tmp_path / "bundle.tar.gz"
        write_bundle(tmp_path, path, "r1")
        first = reloader_for(tmp_path, FileBundleSource(path), Audit())
        await first.initial_pool()
        await first.stop()

        path.unlink()
        audit = Audit()
        second = reloader_for(tmp_path, FileBundleSource(path), audit)
        pool = await second.initial_pool()
        assert pool.policy_revision == "r1"
        assert audit.events() == [("bundle_unavailable_at_start", "r1")]
        await second.stop()

        elsewhere = reloader_for(tmp_path / "other", FileBundleSource(path), Audit())
        with pytest.raises(RuntimeError, match="bundle.tar.gz"):
            await elsewhere.initial_pool()

    asyncio.run(scenario())


def test_an_unreachable_source_is_recorded_once_and_changes_nothing(tmp_path):
    async def scenario() -> None:
        path = tmp_path / "bundle.tar.gz"
        write_bundle(tmp_path, path, "r1")
        audit = Audit()
        reloader = reloader_for(tmp_path, FileBundleSource(path), audit)
        gate = Gate()
        gate.pool = await reloader.initial_pool()
        reloader.attach(gate)
        path.unlink()
        assert await reloader.poll_once() == "unreachable"
        assert await reloader.poll_once() == "unreachable"
        assert audit.events() == [("bundle_unreachable", None)]
        assert gate.pool.policy_revision == "r1"
        await reloader.stop()

    asyncio.run(scenario())


def test_http_source_sends_the_etag_back_and_treats_304_as_unchanged(tmp_path):
    seen: list[str | None] = []
    bundle = tmp_path / "b.tar.gz"
    build_bundle([DEFAULT_POLICY_DIR], bundle)

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.path == "/missing":
            return web.Response(status=404)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=bundle.read_bytes(), headers={"ETag": '"v1"'})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            source = HttpBundleSource(f"http://127.0.0.1:{port}/bundles/metagate.tar.gz")
            assert await source.fetch() == bundle.read_bytes()
            assert await source.fetch() is None
            await source.close()
            missing = HttpBundleSource(f"http://127.0.0.1:{port}/missing")
            with pytest.raises(BundleFetchError, match="answered 404"):
                await missing.fetch()
            await missing.close()
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    assert seen[:2] == [None, '"v1"']


def test_bundle_urls_are_described_without_credentials_or_query():
    assert describe_url("https://ci:tok3n@bundles.internal:8443/metagate/bundle.tar.gz?token=s3cret") == \
        "https://bundles.internal:8443/metagate/bundle.tar.gz"


def test_bundle_configuration_is_checked():
    config = load_config(None, {"policy": {"bundle": "https://bundles.internal/metagate.tar.gz", "bundle_poll_seconds": 5}},
                         environ={})
    assert config.policy.bundle_poll_seconds == 5
    with pytest.raises(ConfigError, match="exclude each other"):
        load_config(None, {"policy": {"bundle": "b.tar.gz", "extra_dirs": ["team"]}}, environ={})
    with pytest.raises(ConfigError, match="embedded engine"):
        load_config(None, {"policy": {"bundle": "b.tar.gz", "engine": "opa", "opa_url": "http://opa:8181"}}, environ={})
