"""Compiles the scanner's per-request modules with Cython, as pydantic 1.x compiled its own.

The compiled modules are the same Python source (no Cython-only syntax), about 1.5x faster in
the proxy's workers; benchmarks/scanner_throughput.py says which build it measured. The list
is `COMPILED_MODULES` in scanner/compiled.py. Where no C compiler works, or with
METAGATE_PURE_PYTHON=1 at install time, the same modules install as pure Python.

A development checkout (scripts/bootstrap) builds them in place, again whenever a source
changes: `python setup.py build_ext --inplace` recompiles only what changed.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent


def compiled_modules() -> tuple[str, ...]:
    """`COMPILED_MODULES` of scanner/compiled.py, read without importing the package."""
    tree = ast.parse((ROOT / "scanner" / "compiled.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "COMPILED_MODULES" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError("scanner/compiled.py defines no COMPILED_MODULES")


def extension(module: str) -> Extension:
    """`detectors.pii` → metagate.scanner.detectors.pii from scanner/detectors/pii.py; a
    package compiles its `__init__.py` (named `.__init__`, so that it lands in the package)."""
    source = Path("scanner", *module.split("."))
    if source.is_dir():
        return Extension(f"metagate.scanner.{module}.__init__", [str(source / "__init__.py")], optional=True)
    # optional: a module that fails to compile stays pure Python instead of failing the install.
    return Extension(f"metagate.scanner.{module}", [str(source.with_suffix(".py"))], optional=True)


def extensions() -> list[Extension]:
    if os.environ.get("METAGATE_PURE_PYTHON"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:  # built without Cython: pure Python, same behaviour
        return []
    modules = [extension(module) for module in compiled_modules()]
    return cythonize(modules, language_level=3, quiet=True, nthreads=os.cpu_count() or 1)


if __name__ == "__main__":  # as pip's build backend and `python setup.py` run it
    setup(ext_modules=extensions(), options={"build_ext": {"parallel": os.cpu_count() or 1}})
