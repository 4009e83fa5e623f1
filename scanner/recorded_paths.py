"""Paths as the decision and the audit trail may write them: no sensitive value in a name.

A finding's place is a JSON path (`$.values.ssn`), and a path is made of names. Most names
are ZenML's or harmless, but a name is the client's choice wherever the schema does not
declare it (a run-metadata key, a query parameter's name, a header's name, a path
parameter), and the detectors scan such names as values: an e-mail address used as a
metadata key is found *in the key*. Written as it is, its path
(`$.values["jane.doe@example.com"]`) would put the address into the block reason, the 403
the client reads and the trail, which must never hold a matched value.

`PathMask` replaces each such name by a keyed hash of it (`["<masked:3f2a9c1b04de>"]`,
HMAC-SHA256 under the deployment's fingerprint key, so the same name masks the same way
and a reviewer can still tell places apart), in every path the policy sees and the record
keeps, and in the request path and query parameter names the record keeps. The policy
decides on masked paths (its reasons then quote them); redaction maps its paths back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from metagate.scanner import jsonpath
from metagate.scanner.catalog import path_segments
from metagate.scanner.fingerprint import fingerprint
from metagate.scanner.model import Finding, Leaf

_KEY_ROOTS = ("$query", "$headers")   # roots whose key leaves name a query parameter / header
_PATH_ROOT = "$path"


def masked_name(name: str, key: bytes) -> str:
    digest = hmac.new(key, name.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"<masked:{digest[:12]}>"


@dataclass
class PathMask:
    """Real path prefix → the same prefix with its last name masked; and back."""

    prefixes: dict[str, str] = field(default_factory=dict)
    query_names: dict[str, str] = field(default_factory=dict)   # real name → masked
    path_segments: dict[int, str] = field(default_factory=dict)  # segment index → masked
    whole_path: str | None = None

    @classmethod
    def of(
        cls, leaves: Iterable[Leaf], findings: Iterable[Finding], key: bytes, template: str | None = None,
        path: str = "",
    ) -> "PathMask":
        by_path: dict[str, list[Finding]] = {}
        for finding in findings:
            by_path.setdefault(finding.path, []).append(finding)
        mask = cls()
        if not by_path:
            return mask
        parameters = _template_names(template)
        for leaf in leaves:
            found = by_path.get(leaf.path)
            if not found:
                continue
            if leaf.is_key:
                # A key and the value under it share a path: the key is masked only when a
                # finding is the key's own (its fingerprint is of the key's text there).
                if not any(f.fingerprint and fingerprint(key, leaf.text[f.start:f.end]) == f.fingerprint for f in found):
                    continue
                # Masked at its own place; everything below it starts with that prefix.
                parent, name = _split_last(leaf.path)
                if name is None:
                    continue
                masked = masked_name(name, key)
                mask.prefixes[leaf.path] = jsonpath.render((masked,), root=parent)
                if parent == "$query":
                    mask.query_names[name] = masked
            elif leaf.path == _PATH_ROOT:
                mask.whole_path = "/" + masked_name(leaf.text, key)
            elif leaf.path.startswith(_PATH_ROOT):
                index = _segment_index(leaf.path, parameters)
                if index is not None:
                    mask.path_segments[index] = masked_name(leaf.text, key)
        # A masked key inside another masked key: the deeper prefix is rewritten with the
        # outer one's mask too, longest first so `mask()` can stop at the first match.
        mask.prefixes = {
            real: _apply(masked, mask.prefixes, skip=real)
            for real, masked in sorted(mask.prefixes.items(), key=lambda item: -len(item[0]))
        }
        return mask

    def __bool__(self) -> bool:
        return bool(self.prefixes or self.path_segments or self.whole_path)

    def mask(self, path: str) -> str:
        return _apply(path, self.prefixes)

    def unmask(self, path: str) -> str:
        for real, masked in self.prefixes.items():
            if jsonpath.is_under(path, masked):
                return real + path[len(masked):]
        return path

    def mask_paths(self, document: Any) -> Any:
        """A copy of a policy input (or any JSON value) with every JSON path in it masked
        (a string that starts with `$`: no other string of the input does)."""
        if not self.prefixes:
            return document
        if isinstance(document, dict):
            return {k: self.mask_paths(v) for k, v in document.items()}
        if isinstance(document, list):
            return [self.mask_paths(item) for item in document]
        if isinstance(document, str) and document.startswith("$"):
            return self.mask(document)
        return document

    def request_path(self, path: str) -> str:
        """The request path (no query) as the record keeps it."""
        if self.whole_path is not None:
            return self.whole_path
        if not self.path_segments:
            return path
        parts = path_segments(path) or []
        return "/" + "/".join(self.path_segments.get(index, part) for index, part in enumerate(parts))

    def top_field(self, name: str) -> str:
        """A top-level body key as `ScanResult.top_fields` names it."""
        masked = self.prefixes.get(jsonpath.render((name,)))
        return str(jsonpath.parse(masked)[-1]) if masked else name

    def query_params(self, names: Iterable[str]) -> list[str]:
        return sorted({self.query_names.get(name, name) for name in names})


def _apply(path: str, prefixes: dict[str, str], skip: str | None = None) -> str:
    for real, masked in prefixes.items():
        if real != skip and jsonpath.is_under(path, real):
            return masked + path[len(real):]
    return path


def _split_last(path: str) -> tuple[str, str | None]:
    """`$.values["a@b.c"]` → ("$.values", "a@b.c"); `$query.name` → ("$query", "name")."""
    for root in (*_KEY_ROOTS, "$"):
        if path.startswith(root) and (root == "$" or path == root or path[len(root)] in ".["):
            try:
                parts = jsonpath.parse("$" + path[len(root):])
            except ValueError:
                return path, None
            if not parts or not isinstance(parts[-1], str):
                return path, None
            return jsonpath.render(parts[:-1], root=root), parts[-1]
    return path, None


def _template_names(template: str | None) -> dict[str, int]:
    if not template:
        return {}
    return {
        part[1:-1]: index
        for index, part in enumerate(template.strip("/").split("/"))
        if part.startswith("{") and part.endswith("}")
    }


def _segment_index(path: str, parameters: dict[str, int]) -> int | None:
    """`$path[3]` → 3; `$path.run_name_or_id` → that parameter's segment in the template."""
    try:
        parts = jsonpath.parse("$" + path[len(_PATH_ROOT):])
    except ValueError:
        return None
    if len(parts) != 1:
        return None
    part = parts[0]
    return part if isinstance(part, int) else parameters.get(part)
