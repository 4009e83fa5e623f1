"""The scanner modules that setup.py compiles with Cython, and which of them this process runs
compiled.

They are the per-request path of a scan. Compiled, they are the same Python source run about
1.5x faster (benchmarks/scanner_throughput.py); where no C compiler worked at install time, or
with METAGATE_PURE_PYTHON=1 in the environment, the same source runs as pure Python.
"""

from __future__ import annotations

import importlib
import importlib.machinery

# Under metagate.scanner. setup.py reads this tuple without importing the package.
COMPILED_MODULES = (
    "pipeline", "leaves", "memo", "detection", "cache", "canonical", "evasion", "normalize",
    "schemas", "model", "jsonpath", "prefilter", "catalog",
    "detectors.blobs", "detectors.secrets", "detectors.pii",
)

_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def running_compiled() -> dict[str, bool]:
    """Module name → whether it was loaded from a compiled extension."""
    status = {}
    for name in COMPILED_MODULES:
        module = importlib.import_module(f"metagate.scanner.{name}")
        status[name] = (getattr(module, "__file__", None) or "").endswith(_EXTENSION_SUFFIXES)
    return status


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
