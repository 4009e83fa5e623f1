"""Replace fields the server never needs with a stable marker holding a keyed hash.

The marker depends only on the value and the deployment key, so the same source code always
redacts to the same marker: ZenML's lineage, caching and de-duplication keep working.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Iterable

from metagate.scanner import jsonpath
from metagate.scanner.fingerprint import fingerprint

MARKER_PREFIX = "metagate-redacted:hmac-sha256:"


def marker(key: bytes, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return MARKER_PREFIX + fingerprint(key, text)


def is_marker(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MARKER_PREFIX)


def redact_document(document: Any, paths: Iterable[str], key: bytes) -> tuple[Any, list[str]]:
    """A copy of `document` with each path's value replaced by its marker.

    Returns the new document and the paths actually redacted (paths that do not exist are
    skipped: the policy may name a path that only some request shapes have).
    """
    result = copy.deepcopy(document)
    done: list[str] = []
    # Outermost first: a path under an already redacted one has nothing left to replace.
    for path in sorted(set(paths), key=len):
        if any(jsonpath.is_under(path, prior) for prior in done):
            continue
        parts = jsonpath.parse(path)
        if not parts:
            continue
        parent = result
        try:
            for part in parts[:-1]:
                parent = parent[part]
            last = parts[-1]
            value = parent[last]
        except (KeyError, IndexError, TypeError):
            continue
        if is_marker(value) or value is None:
            continue
        parent[last] = marker(key, value)
        done.append(path)
    return result, done


def redact_body(document: Any, paths: Iterable[str], key: bytes) -> tuple[bytes, list[str]]:
    new, done = redact_document(document, paths, key)
    return json.dumps(new, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), done
