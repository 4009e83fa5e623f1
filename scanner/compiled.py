"""The scanner modules that setup.py compiles with Cython, and which of them this process runs
compiled.

They are the per-request path of a scan. Compiled, they are the same Python source run about
1.5x faster (benchmarks/scanner_throughput.py); where no C compiler worked at install time, or
with METAGATE_PURE_PYTHON=1 in the environment, the same source runs as pure Python.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os

# Under metagate.scanner. setup.py reads this tuple without importing the package.
COMPILED_MODULES = (
    "pipeline", "leaves", "memo", "detection", "cache", "canonical", "evasion", "normalize",
    "schemas", "model", "jsonpath", "prefilter", "catalog", "decoders", "headers",
    "detectors.blobs", "detectors.secrets", "detectors.pii", "detectors.fields", "detectors.masking",
    "detectors.shapes", "detectors.addresses",
)

_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _origin(name: str) -> str:
    """The file `metagate.scanner.<name>` loads (or loaded) from, without importing it."""
    spec = importlib.util.find_spec(f"metagate.scanner.{name}")
    return (spec.origin if spec is not None else None) or ""


def running_compiled() -> dict[str, bool]:
    """Module name → whether it is (or would be) loaded from a compiled extension."""
    return {name: _origin(name).endswith(_EXTENSION_SUFFIXES) for name in COMPILED_MODULES}


def stale_modules() -> list[str]:
    """Compiled modules older than their source: a checkout changed since the last build,
    and the process would run code that is no longer in the tree."""
    stale = []
    for name in COMPILED_MODULES:
        built = _origin(name)
        if not built.endswith(_EXTENSION_SUFFIXES):
            continue
        source = _source_of(built)
        if os.path.exists(source) and os.path.getmtime(built) < os.path.getmtime(source):
            stale.append(name)
    return stale


def _source_of(built: str) -> str:
    """`.../leaves.cpython-311-x86_64-linux-gnu.so` → `.../leaves.py`."""
    for suffix in _EXTENSION_SUFFIXES:
        if built.endswith(suffix):
            return built[: -len(suffix)] + ".py"
    return built


def describe() -> str:
    """One line for people: how the scanner runs in this process."""
    status = running_compiled()
    compiled = sum(status.values())
    if compiled == len(status):
        return f"scanner compiled with Cython ({compiled} modules)"
    if compiled == 0:
        return "scanner runs as pure Python (not compiled: about 1.5x slower)"
    pure = ", ".join(name for name, done in status.items() if not done)
    return f"scanner partly compiled ({compiled}/{len(status)} modules; pure Python: {pure})"
