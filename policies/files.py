"""The policy set on disk: Rego modules and data.json documents, and the hash that names it.

Layout follows OPA's directory loading, so `opa run -s DIR` loads the same set: a
`data.json` at `a/b/data.json` becomes `data.a.b`; `*_test.rego` files hold unit tests and
are not part of the policy in force.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from metagate.policies.errors import PolicyError

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent / "rego"
DECISION_PATH = "metagate/main/decision"
DATA_FILE = "data.json"
TEST_SUFFIX = "_test.rego"

PolicyFile = tuple[str, str]          # (path relative to its policy dir, text)


def _as_dirs(dirs: Path | str | Iterable[Path | str]) -> list[Path]:
    if isinstance(dirs, (str, Path)):
        return [Path(dirs)]
    return [Path(d) for d in dirs]


def _rego_paths(root: Path, include_tests: bool) -> list[Path]:
    if not root.is_dir():
        raise PolicyError(f"policy directory not found: {root}")
    return sorted(
        path for path in root.rglob("*.rego")
        if path.is_file() and (include_tests or not path.name.endswith(TEST_SUFFIX))
    )


def load_policy_files(dirs: Path | str | Iterable[Path | str], include_tests: bool = False) -> list[PolicyFile]:
    """Every Rego module under `dirs`, as (relative path, text), sorted by relative path.

    Test modules are left out unless asked for. Two directories holding the same relative path
    are an error: the policy set would depend on the order the directories were given in.
    """
    seen: dict[str, Path] = {}
    files: list[PolicyFile] = []
    for root in _as_dirs(dirs):
        for path in _rego_paths(root, include_tests):
            relpath = path.relative_to(root).as_posix()
            if relpath in seen:
                raise PolicyError(f"{relpath} is in both {seen[relpath]} and {root}")
            seen[relpath] = root
            try:
                files.append((relpath, path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise PolicyError(f"cannot read {path}: {exc}") from exc
    return sorted(files)


def load_policy_data(dirs: Path | str | Iterable[Path | str]) -> dict[str, Any]:
    """The data document: every data.json under `dirs`, mounted at its directory's path."""
    data: dict[str, Any] = {}
    for root in _as_dirs(dirs):
        if not root.is_dir():
            raise PolicyError(f"policy directory not found: {root}")
        for path in sorted(root.rglob(DATA_FILE)):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise PolicyError(f"cannot load {path}: {exc}") from exc
            mount = path.parent.relative_to(root).parts
            for part in reversed(mount):
                document = {part: document}
            if not isinstance(document, dict):
                raise PolicyError(f"{path}: a data.json at the root must hold an object")
            _merge_strict(data, document, str(path))
    return data


def _merge_strict(target: dict[str, Any], source: Mapping[str, Any], origin: str, at: str = "data") -> None:
    """Merge like OPA: objects merge key by key, anything else set twice is a conflict."""
    for key, value in source.items():
        where = f"{at}.{key}"
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _merge_strict(target[key], value, origin, where)
        else:
            raise PolicyError(f"{origin}: {where} is already set by another data file")


def apply_overrides(target: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge deployment overrides into `target` (objects merge, anything else replaces)."""
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            apply_overrides(target[key], value)
        else:
            target[key] = json.loads(json.dumps(value))   # a private, JSON-clean copy
    return target


def config_with_overrides(data: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """`data` with `overrides` merged into data.metagate.config (metagate.yaml `policy.data`)."""
    if overrides:
        config = data.setdefault("metagate", {}).setdefault("config", {})
        if not isinstance(config, dict):
            raise PolicyError("data.metagate.config is not an object")
        apply_overrides(config, overrides)
    return data


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def policy_hash(files: Sequence[PolicyFile], data: Mapping[str, Any]) -> str:
    """sha256 over the policy set in force: modules sorted by relative path, then the data."""
    digest = hashlib.sha256()
    for relpath, text in sorted(files):
        digest.update(relpath.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")
    digest.update(b"data\0" + canonical_json(data))
    return digest.hexdigest()
