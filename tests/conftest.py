"""Fixtures shared by every test directory."""

from __future__ import annotations

from pathlib import Path

import pytest

# A private PostgreSQL cluster on loopback for the audit-store tests (session fixture).
pytest_plugins = ["tests.support.postgres"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository checkout the tests run from."""
    return PROJECT_ROOT
