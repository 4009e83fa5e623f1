"""The scanner runs the build it claims: compiled modules current with their source, or the
source itself under METAGATE_PURE_PYTHON=1 (make test runs the scanner's tests both ways)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metagate.scanner.compiled import COMPILED_MODULES, describe, running_compiled, stale_modules

PURE = bool(os.environ.get("METAGATE_PURE_PYTHON"))


def _source(module_name: str) -> Path:
    module = importlib.import_module(f"metagate.scanner.{module_name}")
    directory = Path(module.__file__).parent
    stem = module_name.split(".")[-1]
    return directory / "__init__.py" if Path(module.__file__).name.startswith("__init__") else directory / f"{stem}.py"


def test_every_listed_module_exists_as_source() -> None:
    for name in COMPILED_MODULES:
        assert _source(name).is_file(), name


@pytest.mark.skipif(PURE, reason="the pure-Python pass: checked by test_pure_python_runs_the_sources")
def test_the_scanner_runs_compiled_and_current() -> None:
    """A development checkout rebuilds on every `make run`/`make test` (scripts/bootstrap):
    a compiled module older than its source would run code that is no longer in the tree."""
    status = running_compiled()
    assert all(status.values()), f"{describe()}: run scripts/bootstrap (or set METAGATE_PURE_PYTHON=1)"
    for name in COMPILED_MODULES:
        module = importlib.import_module(f"metagate.scanner.{name}")
        assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), name
    assert stale_modules() == []
    assert describe() == f"scanner compiled with Cython ({len(COMPILED_MODULES)} modules)"


@pytest.mark.skipif(PURE, reason="needs the compiled build")
def test_a_source_newer_than_its_build_is_reported_stale() -> None:
    """What tests/conftest.py checks before any test runs."""
    built = importlib.util.find_spec("metagate.scanner.memo").origin
    source = _source("memo")
    times = {path: os.stat(path) for path in (built, source)}
    try:
        os.utime(built, (times[source].st_atime, times[source].st_mtime - 10))  # built before the edit
        assert stale_modules() == ["memo"]
    finally:
        for path, stat in times.items():
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert stale_modules() == []


@pytest.mark.skipif(not PURE, reason="only under METAGATE_PURE_PYTHON=1")
def test_pure_python_runs_the_sources() -> None:
    status = running_compiled()
    assert not any(status.values()), status
    for name in COMPILED_MODULES:
        assert importlib.import_module(f"metagate.scanner.{name}").__file__.endswith(".py")


def test_pure_python_switch_reaches_only_the_scanner() -> None:
    """METAGATE_PURE_PYTHON loads the scanner from source, while extension modules imported
    after it (brotli's, by the scanner itself) still load: the path hook defers the rest."""
    code = (
        "import sys\n"
        "from metagate.scanner.compiled import running_compiled\n"
        "from metagate.scanner.pipeline import Scanner\n"
        "assert not any(running_compiled().values())\n"
        "import _lzma\n"
        "print(sys.modules['_brotli'].__file__.endswith('.so'), _lzma.__file__.endswith('.so'))\n"
    )
    env = dict(os.environ, METAGATE_PURE_PYTHON="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"]


def test_setup_py_compiles_exactly_the_listed_modules(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """setup.py reads the list from scanner/compiled.py; a package compiles its __init__."""
    monkeypatch.chdir(project_root)
    spec = importlib.util.spec_from_file_location("metagate_setup", project_root / "setup.py")
    assert spec is not None and spec.loader is not None
    setup_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_py)  # defines the helpers; setup() runs only as __main__
    assert setup_py.compiled_modules() == COMPILED_MODULES
    extensions = {ext.name: ext.sources for ext in map(setup_py.extension, COMPILED_MODULES)}
    assert extensions["metagate.scanner.catalog.__init__"] == ["scanner/catalog/__init__.py"]
    assert extensions["metagate.scanner.detectors.pii"] == ["scanner/detectors/pii.py"]
    assert extensions["metagate.scanner.leaves"] == ["scanner/leaves.py"]
    assert all(len(sources) == 1 and Path(sources[0]).is_file() for sources in extensions.values())
