"""A private PostgreSQL cluster for tests and benchmarks: Debian's server binaries, a fresh
cluster in a temporary directory, listening on a free 127.0.0.1 port only, password auth.

As root (CI), initdb and the server run as the `postgres` user (`runuser`), which owns the
cluster directory. Register the fixtures with `pytest_plugins = ["tests.support.postgres"]`:
    postgres_cluster (session): the running cluster
    postgres_url (function): URL of a new, empty database for one test
Binaries come from PATH or /usr/lib/postgresql/<version>/bin (`scripts/test-services`
installs them); without them the fixtures skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port

SERVICE_USER = "postgres"


def server_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().with_name("initdb").exists():
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PostgresCluster:
    directory: Path
    port: int
    password: str
    bindir: Path
    as_user: str | None
    superuser: str = "metagate_test"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.superuser}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:] or result.stdout[-2000:]}")

    @classmethod
    def start(cls, durable: bool = False) -> PostgresCluster:
        """`durable=False` turns off fsync (tests); benchmarks keep PostgreSQL's defaults."""
        bindir = server_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries not found: run scripts/test-services")
        as_user = SERVICE_USER if os.geteuid() == 0 else None
        # Not under pytest's tmp dir: that is 0700 root and the service user could not reach it.
        directory = Path(tempfile.mkdtemp(prefix="metagate-pg-"))
        password = secrets.token_urlsafe(18)
        cluster = cls(directory, free_port(), password, bindir, as_user)
        (directory / "pwfile").write_text(password + "\n")
        if as_user:
            entry = pwd.getpwnam(as_user)
            for path in (directory, directory / "pwfile"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        data = directory / "data"
        cluster._run("initdb", "-D", str(data), "-U", cluster.superuser, "--pwfile", str(directory / "pwfile"),
                     "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-instructions")
        (directory / "pwfile").unlink()
        options = [f"-p {cluster.port}", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''",
                   "-c max_connections=60", "-c shared_buffers=32MB"]
        if not durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        try:
            cluster._run("pg_ctl", "-D", str(data), "-l", str(directory / "server.log"), "-w", "-t", "60",
                         "-o", " ".join(options), "start")
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cluster

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    if server_bindir() is None:
        pytest.skip("PostgreSQL server binaries not installed (scripts/test-services installs them)")
    cluster = PostgresCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database()
