"""Where the trail lives: open the configured store for writing, or a reader for anything else.

The `audit:` configuration (or a bare URL):
    store: sqlite:PATH (relative to the data dir), sqlite:///ABSOLUTE, or postgresql://…;
           default: SQLite at <data-dir>/audit/trail.db
    replica_id: this process's chain; default "local" for SQLite, the host name for PostgreSQL
    checkpoint_records / checkpoint_seconds: sign the chain's head this often (and at close)

Readers (reports, verify, export, tests) use `open_reader` / `read_records`, never the files.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from metagate.reports.keys import load_or_create_signing_key
from metagate.reports.sqlstore import ChainedSqlStore, SqlTrailReader, TrailUnreadable
from metagate.reports.trail import AuditStore

DEFAULT_SQLITE = Path("audit") / "trail.db"


@dataclass(frozen=True)
class StoreSettings:
    store: str | None = None
    replica_id: str | None = None
    checkpoint_records: int = 1000
    checkpoint_seconds: float = 60.0

    @classmethod
    def parse(cls, config: Any) -> StoreSettings:
        """From None, a URL, a mapping (the `audit:` section) or a pydantic model of it."""
        if config is None:
            return cls()
        if isinstance(config, StoreSettings):
            return config
        if isinstance(config, (str, os.PathLike)):
            return cls(store=str(config))
        if hasattr(config, "model_dump"):
            config = config.model_dump()
        known = {f.name for f in fields(cls)}
        unknown = set(config) - known - {"url"}
        if unknown:
            raise ValueError(f"unknown audit settings: {', '.join(sorted(unknown))}")
        values = {k: v for k, v in config.items() if k in known and v is not None}
        if config.get("url") and not values.get("store"):
            values["store"] = config["url"]
        return cls(**values)


def is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].lower() in ("postgresql", "postgres") or (
        "://" not in url and any(part.startswith(("host=", "dbname=")) for part in url.split())
    )


def sqlite_path(settings: StoreSettings, data_dir: Path) -> Path | None:
    """The SQLite file a configuration points at (None for PostgreSQL)."""
    url = settings.store
    if not url:
        return Path(data_dir) / DEFAULT_SQLITE
    if is_postgres(url):
        return None
    path = url[len("sqlite:"):] if url.lower().startswith("sqlite:") else url
    if path.startswith("//"):
        path = path[2:]
    path_obj = Path(path)
    return path_obj if path_obj.is_absolute() else Path(data_dir) / path_obj


def describe(settings: StoreSettings, data_dir: Path) -> str:
    """The store's location for messages: a path, or a PostgreSQL URL without credentials."""
    path = sqlite_path(settings, data_dir)
    if path is not None:
        return str(path)
    parts = urlsplit(settings.store or "")
    if not parts.scheme:
        return "postgresql (keyword DSN)"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def open_store(config: Any, data_dir: Path) -> ChainedSqlStore:
    """The audit store the gate writes to; makes the signing key on first use."""
    settings = StoreSettings.parse(config)
    data_dir = Path(data_dir)
    key = load_or_create_signing_key(data_dir)
    path = sqlite_path(settings, data_dir)
    if path is not None:
        from metagate.reports.sqlite_store import SqliteAuditStore

        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent == data_dir / "audit":
            os.chmod(path.parent, 0o700)
        return SqliteAuditStore(path, key, settings.replica_id or "local",
                                settings.checkpoint_records, settings.checkpoint_seconds)
    from metagate.reports.postgres_store import PostgresAuditStore

    return PostgresAuditStore(settings.store or "", settings.replica_id or socket.gethostname(), key,
                              settings.checkpoint_records, settings.checkpoint_seconds)


def open_reader(data_dir: Path, store: Any = None) -> SqlTrailReader:
    """A consistent read-only view of the trail. Raises TrailUnreadable."""
    settings = StoreSettings.parse(store)
    path = sqlite_path(settings, Path(data_dir))
    if path is not None:
        from metagate.reports.sqlite_store import SqliteTrailReader

        return SqliteTrailReader(path)
    from metagate.reports.postgres_store import PostgresTrailReader

    return PostgresTrailReader(settings.store or "")


def read_records(data_dir: Path, store: Any = None, kind: str | None = None) -> list[dict[str, Any]]:
    """Every record (all replicas, time order); [] when there is no trail yet."""
    try:
        reader = open_reader(data_dir, store)
    except TrailUnreadable:
        path = sqlite_path(StoreSettings.parse(store), Path(data_dir))
        if path is not None and not path.exists():
            return []
        raise
    with reader:
        return list(reader.records(kind=kind))


def store_files(data_dir: Path, store: Any = None) -> list[Path]:
    """The files holding the trail (SQLite database, WAL and shared memory); [] for PostgreSQL."""
    path = sqlite_path(StoreSettings.parse(store), Path(data_dir))
    if path is None:
        return []
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


__all__ = [
    "AuditStore", "StoreSettings", "TrailUnreadable", "describe", "open_reader", "open_store",
    "read_records", "sqlite_path", "store_files",
]
