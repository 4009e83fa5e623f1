"""Fixtures shared by every test directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (the `ci` profile): CI and a developer see
# the same cases, and a run's verdict depends on the code, not on the draw. To search new
# examples, run with `--hypothesis-profile=explore` (hypothesis' defaults: random draws, the
# example database in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile("ci")

# A private PostgreSQL cluster on loopback for the audit-store tests (session fixture).
pytest_plugins = ["tests.support.postgres"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def pytest_sessionstart(session: pytest.Session) -> None:
    # A compiled scanner module older than its source runs code that is no longer in the
    # tree: every test would test the wrong thing. (make test rebuilds first.)
    from metagate.scanner.compiled import stale_modules

    stale = stale_modules()
    if stale:
        pytest.exit(f"compiled scanner modules older than their source: {', '.join(stale)}; "
                    "run scripts/bootstrap (or set METAGATE_PURE_PYTHON=1)", returncode=2)


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository checkout the tests run from."""
    return PROJECT_ROOT
