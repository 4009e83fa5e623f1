"""JSON paths as metagate writes them: `$.steps.train["odd key"][0]`.

One rendering everywhere (findings, policy input, redaction, audit) so paths compare as strings.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

Part = str | int

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_TOKEN = re.compile(r'\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def render(parts: tuple[Part, ...] | list[Part], root: str = "$") -> str:
    out = [root]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def child(path: str, part: Part) -> str:
    return render((part,), root=path)


def parse(path: str) -> tuple[Part, ...]:
    """Inverse of render() for paths rooted at `$`."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path must start with $: {path!r}")
    parts: list[Part] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match:
            raise ValueError(f"bad JSON path at offset {pos}: {path!r}")
        key, index, quoted = match.groups()
        parts.append(key if key is not None else int(index) if index is not None else json.loads(quoted))
        pos = match.end()
    return tuple(parts)


def is_under(path: str, prefix: str) -> bool:
    """True when `path` is `prefix` or lies inside it."""
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] in ".[")


def walk(node: Any, parts: tuple[Part, ...] = ()) -> Iterator[tuple[tuple[Part, ...], Any]]:
    """Every (parts, scalar) leaf of a parsed JSON document, depth first, in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, parts + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, parts + (index,))
    else:
        yield parts, node
