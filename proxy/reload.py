"""Policy bundles for the running gate: load one at start, poll for new ones, swap atomically.

`policy.bundle` names a bundle file or an in-VPC bundle server (`metagate policy build`
writes the bundles; any HTTP server that serves the file will do, with `ETag` for cheap
polls). A new bundle is unpacked under `<data-dir>/policy/bundles/`, a new worker pool is
started on it, and only when every worker has compiled the policy does the gate switch to
that pool; the old pool finishes the requests it holds and is closed. A bundle that cannot
be read, unpacked or compiled is refused and recorded; the policy in force stays.

Every change is an audit record of kind `policy`; request records carry `policy_revision`.
At start, an unreachable or broken bundle falls back to the last bundle that was activated
in this data dir (kept in `policy/active.json`); with none, the gate does not start.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from metagate.policies.bundle import MAX_BUNDLE_BYTES, UnpackedBundle, unpack_bundle
from metagate.policies.errors import PolicyError
from metagate.proxy.inspection import InspectorSettings
from metagate.proxy.policy_layout import with_policy
from metagate.proxy.workers import WorkerPool
from metagate.reports.trail import AuditError, AuditStore

log = logging.getLogger("metagate.policy")

ACTIVE_FILE = "active.json"
_REASON_CHARS = 500


class BundleFetchError(Exception):
    """The bundle could not be fetched; the message names the source, never a credential."""


class PolicyRejected(RuntimeError):
    """A bundle's policy did not start: it does not compile, or its workers died on start."""

    def __init__(self, message: str, revision: str) -> None:
        super().__init__(message)
        self.revision = revision


# --- sources ------------------------------------------------------------------------------


class BundleSource(ABC):
    description: str        # for records and logs: a path, or a URL without userinfo or query

    @abstractmethod
    async def fetch(self) -> bytes | None:
        """The bundle's bytes, or None when nothing changed since the last fetch."""

    async def close(self) -> None:
        return None


class FileBundleSource(BundleSource):
    """A bundle file, re-read when its size, modification time or inode changes (write the
    new bundle beside it and rename it into place, as `metagate policy build` does)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.description = str(self.path)
        self._seen: tuple[int, int, int] | None = None

    async def fetch(self) -> bytes | None:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise BundleFetchError(f"{self.path}: {exc.strerror or type(exc).__name__}") from None
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if key == self._seen:
            return None
        if stat.st_size > MAX_BUNDLE_BYTES:
            raise BundleFetchError(f"{self.path}: larger than {MAX_BUNDLE_BYTES} bytes")
        try:
            data = await asyncio.to_thread(self.path.read_bytes)
        except OSError as exc:
            raise BundleFetchError(f"{self.path}: {exc.strerror or type(exc).__name__}") from None
        self._seen = key
        return data


class HttpBundleSource(BundleSource):
    """A bundle server: GET with `If-None-Match` once the server gave an `ETag`; 304 is
    "unchanged". Redirects are not followed: the gate reaches only the configured server."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.description = describe_url(url)
        self.timeout = timeout
        self.etag: str | None = None
        self._session: Any = None

    async def fetch(self) -> bytes | None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        headers = {"Accept": "application/gzip"}
        if self.etag:
            headers["If-None-Match"] = self.etag
        try:
            async with self._session.get(self.url, headers=headers, allow_redirects=False) as response:
                if response.status == 304:
                    return None
                if response.status != 200:
                    raise BundleFetchError(f"{self.description} answered {response.status}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > MAX_BUNDLE_BYTES:
                        raise BundleFetchError(f"{self.description}: bundle larger than {MAX_BUNDLE_BYTES} bytes")
                    chunks.append(chunk)
                self.etag = response.headers.get("ETag")
                return b"".join(chunks)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BundleFetchError(f"{self.description} unreachable ({type(exc).__name__})") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def describe_url(url: str) -> str:
    """scheme://host:port/path: no credentials, no query (either could hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def bundle_source(spec: str) -> BundleSource:
    if spec.lower().startswith(("http://", "https://")):
        return HttpBundleSource(spec)
    return FileBundleSource(spec)


# --- the reloader -------------------------------------------------------------------------


class PoolHolder:
    """What the reloader swaps: anything with a `pool` attribute (the MetadataGate)."""

    pool: WorkerPool


@dataclass
class ActiveBundle:
    revision: str
    digest: str
    directory: Path
    policy_hash: str


class PolicyReloader:
    """Owns the bundle in force: `initial_pool()` at start, then `start()` polls, and each
    changed bundle goes through `poll_once()`: fetch → unpack → start pool → swap or refuse."""

    def __init__(
        self,
        source: BundleSource,
        data_dir: Path,
        settings: InspectorSettings,
        audit: AuditStore,
        pool_size: int = 2,
        timeout: float = 5.0,
        poll_seconds: float = 30.0,
        pool_factory: Callable[..., WorkerPool] = WorkerPool,
    ) -> None:
        self.source = source
        self.state_dir = Path(data_dir) / "policy"
        self.bundles_dir = self.state_dir / "bundles"
        self.settings = settings
        self.audit = audit
        self.pool_size = pool_size
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.pool_factory = pool_factory
        self.active: ActiveBundle | None = None
        self.holder: PoolHolder | None = None
        self._rejected_digest: str | None = None
        self._unreachable = False
        self._task: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._starting: set[str] = set()

    # --- start ----------------------------------------------------------------------------

    async def initial_pool(self) -> WorkerPool:
        """The pool for the bundle at the source, or else for the last one activated here."""
        try:
            data = await self.source.fetch()
            if data is None:
                raise BundleFetchError(f"{self.source.description}: no bundle")
            unpacked = await asyncio.to_thread(unpack_bundle, data, self.bundles_dir)
            pool = await self._start_pool(unpacked)
        except (BundleFetchError, PolicyError, PolicyRejected, OSError) as exc:
            previous = self._persisted()
            if previous is None:
                await self.source.close()
                raise RuntimeError(f"policy bundle {self.source.description}: {exc}") from None
            log.error("policy bundle %s: %s; starting with the last activated bundle, revision %s",
                      self.source.description, exc, previous.revision)
            await self._record("bundle_unavailable_at_start", previous.revision, reason=str(exc),
                               digest=previous.digest)
            pool = await self._start_pool(previous)
            self._rejected_digest = None
            return pool
        self._activated(unpacked)
        return pool

    def attach(self, holder: PoolHolder) -> None:
        self.holder = holder

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for task in list(self._retiring):
            await task
        await self.source.close()

    # --- polling --------------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:   # never let one bad poll end polling
                log.exception("policy bundle poll failed")

    async def poll_once(self) -> str:
        """One look at the source: "unchanged", "activated", "rejected" or "unreachable"."""
        assert self.holder is not None, "attach() the gate before polling"
        try:
            data = await self.source.fetch()
        except BundleFetchError as exc:
            if not self._unreachable:
                self._unreachable = True
                log.warning("policy bundle: %s; the policy in force stays", exc)
                await self._record("bundle_unreachable", None, reason=str(exc))
            return "unreachable"
        self._unreachable = False
        if data is None:
            return "unchanged"
        digest = hashlib.sha256(data).hexdigest()
        if (self.active is not None and digest == self.active.digest) or digest == self._rejected_digest:
            return "unchanged"
        try:
            unpacked = await asyncio.to_thread(unpack_bundle, data, self.bundles_dir)
            pool = await self._start_pool(unpacked)
        except (PolicyError, PolicyRejected, OSError) as exc:
            self._rejected_digest = digest
            revision = exc.revision if isinstance(exc, PolicyRejected) else None
            log.error("policy bundle %s refused: %s; the policy in force stays", self.source.description, exc)
            await self._record("bundle_rejected", revision, reason=str(exc), digest=digest)
            self._prune()
            return "rejected"
        previous = self.active
        old = self.holder.pool
        self.holder.pool = pool          # the swap: one assignment on the event loop
        self._activated(unpacked)
        log.info("policy bundle revision %s in force (was %s)", unpacked.revision, previous.revision if previous else None)
        await self._record(
            "bundle_activated", unpacked.revision, digest=unpacked.digest,
            previous_revision=previous.revision if previous else old.policy_revision,
            previous_policy_hash=old.policy_hash,
        )
        task = asyncio.get_running_loop().create_task(self._retire(old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        return "activated"

    async def _start_pool(self, unpacked: UnpackedBundle | ActiveBundle) -> WorkerPool:
        settings = with_policy(self.settings, unpacked.directory)
        pool = self.pool_factory(settings, self.pool_size, self.timeout, policy_revision=unpacked.revision)
        self._starting.add(unpacked.directory.name)     # not pruned while its workers read it
        try:
            await pool.start()
        except Exception as exc:  # noqa: BLE001 - whatever stopped the workers, the bundle is refused
            await pool.close()
            raise PolicyRejected(str(exc), unpacked.revision) from None
        finally:
            self._starting.discard(unpacked.directory.name)
        return pool

    async def _retire(self, old: WorkerPool) -> None:
        if not await old.drain(old.timeout + 5):
            log.warning("closing the previous policy's pool with requests still in it")
        await old.close()
        self._prune()

    # --- state ----------------------------------------------------------------------------

    def _activated(self, unpacked: UnpackedBundle) -> None:
        self.active = ActiveBundle(unpacked.revision, unpacked.digest, unpacked.directory, unpacked.policy_hash)
        self._rejected_digest = None
        document = {"revision": unpacked.revision, "digest": unpacked.digest,
                    "directory": unpacked.directory.name, "policy_hash": unpacked.policy_hash,
                    "source": self.source.description}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_dir / f".{ACTIVE_FILE}.tmp"
        temporary.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(temporary, self.state_dir / ACTIVE_FILE)

    def _persisted(self) -> ActiveBundle | None:
        try:
            document = json.loads((self.state_dir / ACTIVE_FILE).read_text())
            directory = self.bundles_dir / Path(str(document["directory"])).name
            active = ActiveBundle(str(document["revision"]), str(document["digest"]), directory,
                                  str(document.get("policy_hash", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not directory.is_dir():
            return None
        self.active = active
        return active

    def _prune(self) -> None:
        """Unpacked bundles other than the one in force (workers read them only at start)."""
        keep = {self.active.directory.name} if self.active else set()
        keep |= {pool_dir.name for pool_dir in self._dirs_in_use()} | self._starting
        for path in self.bundles_dir.iterdir() if self.bundles_dir.is_dir() else ():
            if path.is_dir() and path.name not in keep and not path.name.startswith("."):
                shutil.rmtree(path, ignore_errors=True)

    def _dirs_in_use(self) -> list[Path]:
        if self.holder is None:
            return []
        dirs = self.holder.pool.settings.policy_dirs
        return [Path(dirs[0])] if dirs else []

    async def _record(self, event: str, revision: str | None, **details: Any) -> None:
        from metagate.proxy.addon import now_iso

        active = self.active
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "time": now_iso(),
            "kind": "policy",
            "event": event,
            "source": self.source.description,
            "bundle_revision": revision,
            # The policy in force once this event is handled.
            "policy_revision": active.revision if active else None,
            "policy_hash": self.holder.pool.policy_hash if self.holder else (active.policy_hash if active else ""),
        }
        for key, value in details.items():
            if key == "reason" and isinstance(value, str):
                value = value[:_REASON_CHARS]
            record[key] = value
        try:
            await self.audit.append(record)
        except AuditError as exc:
            log.error("could not record policy event %s: %s", event, exc)
