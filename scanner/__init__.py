"""metagate.scanner

METAGATE_PURE_PYTHON=1 runs the scanner's modules from their Python source even where
compiled ones (see `compiled`) lie beside them: to profile them, or to rule the compiled
build out. It must be set before the first import of metagate.scanner.
"""

import os as _os

if _os.environ.get("METAGATE_PURE_PYTHON"):
    import sys as _sys
    from importlib.machinery import (
        BYTECODE_SUFFIXES as _BYTECODE_SUFFIXES,
        SOURCE_SUFFIXES as _SOURCE_SUFFIXES,
        FileFinder as _FileFinder,
        SourceFileLoader as _SourceFileLoader,
        SourcelessFileLoader as _SourcelessFileLoader,
    )

    def _sources_only(root: str):  # type: ignore[no-untyped-def]
        """A path hook that finds no extension modules under `root` (defers elsewhere)."""
        finder = _FileFinder.path_hook(
            (_SourceFileLoader, _SOURCE_SUFFIXES), (_SourcelessFileLoader, _BYTECODE_SUFFIXES)
        )

        def hook(path: str):  # type: ignore[no-untyped-def]
            if path != root and not path.startswith(root + _os.sep):
                raise ImportError  # not the scanner's: the next hook decides
            return finder(path)

        return hook

    _root = _os.path.dirname(_os.path.abspath(__file__))
    _sys.path_hooks.insert(0, _sources_only(_root))
    for _path in [p for p in _sys.path_importer_cache if p == _root or p.startswith(_root + _os.sep)]:
        del _sys.path_importer_cache[_path]
