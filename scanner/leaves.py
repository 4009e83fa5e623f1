"""The string leaves of a JSON body, in one walk: a faster `Scanner._collect_json` loop.

`Scanner._collect_json` classifies every scalar from the root of the catalog down, renders
its path from scratch, and appends a key leaf for every key above it (deduplicated later),
which is quadratic in depth and most of what a scan costs once detection is cached. This
walk produces the same leaves, in the same order, as that loop followed by `_detect`'s
de-duplication, and the same inventory:

- paths are built as the walk goes down, each key segment rendered once;
- a key leaf is added the first time a scalar under it is reached (with that scalar's class,
  unless the scalar is `auth`), which is the one de-duplication keeps;
- classes come from `Catalog.classify`, remembered per endpoint and path *shape*: list
  indexes do not change a class, and of the value only three things do (None, a
  `{{secret.key}}` reference, anything else).

Not wired in: `Scanner._collect_json` belongs to the pipeline; `tests/unit/test_detectors_leaves.py`
checks this walk against it on the captured corpus and on generated documents.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from metagate.scanner import jsonpath
from metagate.scanner.catalog import Catalog, Endpoint
from metagate.scanner.model import PROVEN_CLASSES, Leaf
from metagate.scanner.schemas import proven

_LONG_INT_DIGITS = 9
_NOT_SCANNED_INTS = frozenset({"numeric", "timestamp", "enum"})
_MAX_MEMO = 65536

# What of a value the catalog's classification reads.
_NONE, _TEXT, _REFERENCE, _OTHER = 0, 1, 2, 3


class LeafWalker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._classes: dict[tuple[Any, ...], str] = {}
        self._segments: dict[str, str] = {}

    def collect(self, endpoint: Endpoint | None, document: Any) -> tuple[list[Leaf], dict[str, int]]:
        """(leaves, inventory) of `document`, as `_collect_json` then `_detect` would have them."""
        leaves: list[Leaf] = []
        inventory: Counter[str] = Counter()
        self._walk(endpoint, document, "$", (), (), [], leaves, inventory)
        return leaves, dict(inventory)

    # The open keys above the current node: [path, key text, emitted?] for each string key.
    def _walk(
        self,
        endpoint: Endpoint | None,
        node: Any,
        path: str,
        parts: tuple[Any, ...],
        shape: tuple[Any, ...],
        keys: list[list[Any]],
        leaves: list[Leaf],
        inventory: Counter[str],
    ) -> None:
        if isinstance(node, dict):
            segments = self._segments
            for key, value in node.items():
                segment = segments.get(key)
                if segment is None:
                    segment = self._segment(key)
                child = path + segment
                keys.append([child, key, False])
                self._walk(endpoint, value, child, parts + (key,), shape + (key,), keys, leaves, inventory)
                keys.pop()
            return
        if isinstance(node, list):
            for index, value in enumerate(node):
                self._walk(endpoint, value, f"{path}[{index}]", parts + (index,), shape + (0,), keys, leaves, inventory)
            return
        cls = self._classify(endpoint, parts, shape, node) if endpoint is not None else "unknown"
        if node is not None:  # an unset field sent nothing of its class
            inventory[cls] += 1
        proven_class = cls in PROVEN_CLASSES
        if cls != "auth":
            for entry in keys:
                if not entry[2]:
                    entry[2] = True
                    leaves.append(Leaf(entry[0], entry[1], "name" if proven_class else cls, is_key=True))
        if isinstance(node, str):
            if proven_class and proven(cls, node):
                return
            leaves.append(Leaf(path, node, "name" if proven_class else cls))
        elif (
            isinstance(node, int)
            and not isinstance(node, bool)
            and len(str(abs(node))) >= _LONG_INT_DIGITS
            and cls not in _NOT_SCANNED_INTS
        ):
            leaves.append(Leaf(path, str(node), cls))

    def _classify(self, endpoint: Endpoint, parts: tuple[Any, ...], shape: tuple[Any, ...], value: Any) -> str:
        if value is None:
            kind = _NONE
        elif isinstance(value, str):
            kind = _REFERENCE if value.startswith("{{") and self.catalog._secret_ref.fullmatch(value) else _TEXT
        else:
            kind = _OTHER
        memo = (id(endpoint), shape, kind)  # endpoints live as long as the catalog
        cls = self._classes.get(memo)
        if cls is None:
            cls = self.catalog.classify(endpoint, parts, value)
            if len(self._classes) >= _MAX_MEMO:
                self._classes.clear()
            self._classes[memo] = cls
        return cls

    def _segment(self, key: str) -> str:
        segment = jsonpath.render((key,), root="")  # `.key` or `["odd key"]`, as paths are written
        if len(self._segments) >= _MAX_MEMO:
            self._segments.clear()
        self._segments[key] = segment
        return segment
