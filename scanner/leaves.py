"""The string leaves of a JSON body, in one walk.

What a leaf is (tests/unit/test_detectors_leaves.py holds the plain definition): every string
value, every number of nine digits or more (an integer, or an integral float such as
4.539004010602815e15) as its digit string whatever the field's class (a card as a metric, an
SSN as a line number), every list of nine or more small integers as the digits, text or
base64 bytes it spells, and every key above them,
with its JSON path and field class; values of a proven class (ids, timestamps, enums...) that
have the shape the class promises are left out, and so are keys the schema declares (field
names of ZenML's models carry no user data). A key leaf is added the first time a scalar
under it is reached, with that scalar's class; under `auth`, never.

The walk keeps, per endpoint, a trie of *plans* that follows the document's keys: what the
catalog says about a position (the class of a scalar there, whether its key is declared) is
worked out once, and every later request with the same shape only does one dict lookup per
key. List indexes do not change a class, and of a value only three things do (None, a
`{{secret.key}}` reference, anything else). Paths are built as the walk goes down, each key
segment rendered once.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from metagate.scanner import jsonpath
from metagate.scanner.catalog import Catalog, Endpoint
from metagate.scanner.memo import CleanMemo
from metagate.scanner.model import PROVEN_CLASSES, Leaf
from metagate.scanner.schemas import proven

# Numbers of nine digits or more can be an identifier (an SSN, a phone, a card, an account)
# whatever the field's class: rendered back to digits, they are leaves for the recognizers.
# Ordinary metrics (0.93, 12, 1e-4, a loss) are smaller or not integral, and stay out.
_LONG_NUMBER = 10**8          # the smallest nine-digit number
_HUGE_NUMBER = 1e20           # past twenty digits a float no longer holds a digit string
# A list of small integers can carry a value too: single digits (a card as [4, 5, 3, 9, ...])
# or bytes (a secret, a pickle as [128, 4, 149, ...]); rendered as digits, text or base64.
_MIN_INT_LIST = 9
# Shorter lists (down to one value) count as bytes only where they spell printable ASCII with a
# letter or digit in it (a secret cut into lists of a few byte values: `{"b0": [65, 75, 73, 65],
# "b1": [...]}`; the pieces are joined as siblings, scanner/evasion.py). Shapes and sizes
# (`[3, 224, 224]`, `[64, 64]`) spell control characters or punctuation.
_MIN_BYTE_TEXT_LIST = 1
_MAX_INT_LIST = 4096          # items rendered; NumericArrayDetector reports longer lists
_MAX_PLANS = 65536     # user dicts have keys of their own choosing: the tries stay bounded
_MAX_SEGMENTS = 65536

# What of a value the catalog's classification reads.
_NONE, _TEXT, _REFERENCE, _OTHER = 0, 1, 2, 3


class _Plan:
    """One position in an endpoint's bodies: `shape` is its path with list indexes as 0."""

    __slots__ = ("children", "classes", "declared", "item", "shape")

    def __init__(self, shape: tuple[Any, ...], declared: bool) -> None:
        self.shape = shape
        self.declared = declared
        self.children: dict[str, _Plan] = {}
        self.item: _Plan | None = None
        self.classes: list[str | None] = [None, None, None, None]


@dataclass(slots=True)
class Unit:
    """A subtree the memo did not know: its leaves are `leaves[start:end]` of the walk."""

    key: Hashable
    path: str
    node: Any
    start: int
    end: int
    inventory: Counter[str]


@dataclass(slots=True)
class Collected:
    leaves: list[Leaf] = field(default_factory=list)       # to inspect, in document order
    inventory: Counter[str] = field(default_factory=Counter)
    settled: list[Leaf] = field(default_factory=list)      # of remembered clean units, no text
    settled_nodes: set[int] = field(default_factory=set)   # id() of those units' values
    units: list[Unit] = field(default_factory=list)        # fresh units, to remember if clean


class LeafWalker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._roots: dict[Endpoint | None, _Plan] = {}
        self._plans = 0
        self._segments: dict[str, str] = {}

    def collect(self, endpoint: Endpoint | None, document: Any) -> tuple[list[Leaf], dict[str, int]]:
        """(leaves, inventory): the leaves in document order, and field class → scalar count."""
        root = self._root(endpoint)
        leaves: list[Leaf] = []
        inventory: Counter[str] = Counter()
        self._walk(endpoint, document, "$", root, [], [0], leaves, inventory)
        return leaves, dict(inventory)

    def collect_units(self, endpoint: Endpoint | None, document: Any, memo: CleanMemo) -> Collected:
        """`collect`, except that units (see `memo`) the memo holds are not walked: their
        leaves come from the memo, without text, in `settled`."""
        out = Collected()
        root = self._root(endpoint)
        if endpoint is not None and type(document) is dict:
            self._walk_units(endpoint, document, "$", root, memo, out)
        elif endpoint is not None and type(document) is list:
            item = root.item or self._item(root)
            for index, value in enumerate(document):
                if type(value) is dict:
                    self._walk_units(endpoint, value, f"$[{index}]", item, memo, out)
                else:
                    self._walk(endpoint, value, f"$[{index}]", item, [], [0], out.leaves, out.inventory)
        else:
            self._walk(endpoint, document, "$", root, [], [0], out.leaves, out.inventory)
        return out

    def _walk_units(self, endpoint: Endpoint, node: dict[str, Any], path: str, plan: _Plan, memo: CleanMemo, out: Collected) -> None:
        # The fields between units are walked together, as one object in the order sent: no
        # key leaf of one field depends on another.
        rest: dict[str, Any] = {}
        for key, value in node.items():
            if type(value) is dict or type(value) is list:
                child = plan.children.get(key) or self._child(endpoint, plan, key)
                child_path = path + (self._segments.get(key) or self._segment(key))
                unit_key = memo.unit_key(endpoint, child_path, value) if child.declared else None
                if unit_key is not None:
                    if rest:
                        self._walk(endpoint, rest, path, plan, [], [0], out.leaves, out.inventory)
                        rest = {}
                    self._unit(endpoint, unit_key, value, child_path, child, memo, out)
                    continue
            rest[key] = value
        if rest:
            self._walk(endpoint, rest, path, plan, [], [0], out.leaves, out.inventory)

    def _unit(self, endpoint: Endpoint, key: Hashable, node: Any, path: str, plan: _Plan, memo: CleanMemo, out: Collected) -> None:
        clean = memo.get(key)
        if clean is not None:
            out.settled.extend(clean.leaves)
            for cls, count in clean.inventory:
                out.inventory[cls] += count
            out.settled_nodes.add(id(node))
            return
        start = len(out.leaves)
        inventory: Counter[str] = Counter()
        self._walk(endpoint, node, path, plan, [], [0], out.leaves, inventory)
        out.inventory.update(inventory)
        out.units.append(Unit(key, path, node, start, len(out.leaves), inventory))

    # `keys` holds (path, key) of the undeclared keys above the node; the first `emitted[0]`
    # of them already have their leaf (the rest always follow them: a scalar emits them all).
    def _walk(
        self,
        endpoint: Endpoint | None,
        node: Any,
        path: str,
        plan: _Plan,
        keys: list[tuple[str, str]],
        emitted: list[int],
        leaves: list[Leaf],
        inventory: Counter[str],
    ) -> None:
        kind = type(node)
        if kind is dict:
            segments = self._segments
            children = plan.children
            walk = self._walk
            for key, value in node.items():
                segment = segments.get(key) or self._segment(key)
                child = children.get(key) or self._child(endpoint, plan, key)
                child_path = path + segment
                if child.declared:
                    if emitted[0] >= len(keys):
                        # No key above waits for its first scalar. A null adds nothing; a
                        # string whose class is known is handled here as `_walk` would.
                        if value is None:
                            continue
                        if type(value) is str:
                            cls = child.classes[_TEXT]
                            if cls is not None and not value.startswith("{{"):
                                inventory[cls] += 1
                                if cls not in PROVEN_CLASSES:
                                    leaves.append(Leaf(child_path, value, cls))
                                elif not proven(cls, value):
                                    leaves.append(Leaf(child_path, value, "name"))
                                continue
                    walk(endpoint, value, child_path, child, keys, emitted, leaves, inventory)
                    continue
                keys.append((child_path, key))
                walk(endpoint, value, child_path, child, keys, emitted, leaves, inventory)
                keys.pop()
                if emitted[0] > len(keys):
                    emitted[0] = len(keys)
            return
        if kind is list:
            item = plan.item or self._item(plan)
            for index, value in enumerate(node):
                self._walk(endpoint, value, f"{path}[{index}]", item, keys, emitted, leaves, inventory)
            if len(node) >= _MIN_BYTE_TEXT_LIST and type(node[0]) is int:
                rendered = _render_int_list(node)
                if rendered is not None:  # after its items: their key leaves come first
                    cls = item.classes[_OTHER] or self._classify(endpoint, item, _OTHER, node[0])
                    leaves.append(Leaf(path, rendered, "name" if cls in PROVEN_CLASSES else cls))
            return
        if node is None:
            value_kind = _NONE
        elif kind is str:
            value_kind = _REFERENCE if node.startswith("{{") and self.catalog._secret_ref.fullmatch(node) else _TEXT
        else:
            value_kind = _OTHER
        cls = plan.classes[value_kind] or self._classify(endpoint, plan, value_kind, node)
        if node is not None:  # an unset field sent nothing of its class
            inventory[cls] += 1
        proven_class = cls in PROVEN_CLASSES
        if cls != "auth" and emitted[0] < len(keys):
            key_class = "name" if proven_class else cls
            for key_path, key in keys[emitted[0]:]:
                leaves.append(Leaf(key_path, key, key_class, True))
            emitted[0] = len(keys)
        if kind is str:
            if proven_class and proven(cls, node):
                return
            leaves.append(Leaf(path, node, "name" if proven_class else cls))
        elif kind is int:
            if node >= _LONG_NUMBER or node <= -_LONG_NUMBER:
                leaves.append(Leaf(path, str(node), "name" if proven_class else cls))
        elif kind is float:
            if (_LONG_NUMBER <= node < _HUGE_NUMBER or -_HUGE_NUMBER < node <= -_LONG_NUMBER) and node.is_integer():
                leaves.append(Leaf(path, str(int(node)), "name" if proven_class else cls))

    # --- plans ---------------------------------------------------------------------------

    def _root(self, endpoint: Endpoint | None) -> _Plan:
        root = self._roots.get(endpoint)
        if root is None:
            if self._plans >= _MAX_PLANS:
                self._roots.clear()
                self._plans = 0
            root = self._roots[endpoint] = _Plan((), False)
        return root

    def _child(self, endpoint: Endpoint | None, plan: _Plan, key: str) -> _Plan:
        shape = plan.shape + (key,)
        declared = endpoint is not None and self.catalog.declares(endpoint, shape)
        child = plan.children[key] = _Plan(shape, declared)
        self._plans += 1
        return child

    def _item(self, plan: _Plan) -> _Plan:
        item = plan.item = _Plan(plan.shape + (0,), False)
        self._plans += 1
        return item

    def _classify(self, endpoint: Endpoint | None, plan: _Plan, value_kind: int, value: Any) -> str:
        cls = self.catalog.classify(endpoint, plan.shape, value) if endpoint is not None else "unknown"
        plan.classes[value_kind] = cls
        return cls

    def _segment(self, key: str) -> str:
        segment = jsonpath.render((key,), root="")  # `.key` or `["odd key"]`, as paths are written
        if len(self._segments) >= _MAX_SEGMENTS:
            self._segments.clear()
        self._segments[key] = segment
        return segment


def _render_int_list(items: list[Any]) -> str | None:
    """A list of single digits as its digit string, a list of byte values as the text they
    spell or (binary) as base64 of the bytes; None for any other list."""
    head = items[:_MAX_INT_LIST]
    for value in head:
        if type(value) is not int or not 0 <= value <= 255:
            return None
    short = len(head) < _MIN_INT_LIST
    if max(head) <= 9:
        return None if short else "".join(map(str, head))
    data = bytes(head)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    # Text with its line breaks and tabs (a PEM key's bytes) is text.
    if text is not None and _LINE_BREAKS.sub("", text).isprintable():
        if not short or (text.isascii() and _LETTER_OR_DIGIT.search(text)):
            return text
    return None if short else base64.b64encode(data).decode("ascii")


_LINE_BREAKS = re.compile(r"[\r\n\t]")
_LETTER_OR_DIGIT = re.compile(r"[A-Za-z0-9]")
