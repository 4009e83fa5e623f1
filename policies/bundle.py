"""OPA bundles of the metagate policy: build one, read one back, unpack it for the engine.

A bundle is a gzipped tarball in OPA's bundle file format: `.rego` modules and `data.json`
documents at the paths of their `data` document (`metagate/rules/pii.rego`,
`metagate/data.json` → `data.metagate`), and a `.manifest` with the revision and the roots
the bundle owns. `opa run -b bundle.tar.gz` and OPA's bundle service load it as they load one
`opa build` wrote; metagate loads it with `unpack_bundle` into a directory the Rego engine
reads like any policy directory.

Reading is defensive: a bundle comes over the network and is refused, whole, for any entry
that is not a plain file at a clean relative path, for sizes over the caps, for a manifest
that is not what OPA accepts, and for policy or data outside the manifest's roots.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metagate.policies.errors import PolicyError
from metagate.policies.files import (
    DATA_FILE,
    TEST_SUFFIX,
    _merge_strict,
    load_policy_data,
    load_policy_files,
    policy_hash,
)

MANIFEST = ".manifest"
DEFAULT_ROOTS = ("metagate",)
MAX_BUNDLE_BYTES = 16 * 1024 * 1024        # compressed, as fetched
MAX_UNPACKED_BYTES = 64 * 1024 * 1024      # all files together
MAX_ENTRIES = 10_000
_DATA_NAMES = frozenset({"data.json", "data.yaml", "data.yml"})
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


class BundleError(PolicyError):
    """The bundle cannot be used. The message names the entry; it never quotes contents."""


@dataclass(frozen=True)
class Manifest:
    revision: str
    roots: tuple[str, ...] = ("",)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"revision": self.revision, "roots": list(self.roots), "rego_version": 1}
        if self.metadata:
            document["metadata"] = self.metadata
        return document


@dataclass(frozen=True)
class Bundle:
    """A bundle read into memory: modules and data documents by path inside the bundle."""

    manifest: Manifest
    modules: dict[str, str]           # "metagate/rules/pii.rego" → text
    data: dict[str, Any]              # "metagate" → the document of metagate/data.json
    digest: str                       # sha256 of the bundle's bytes

    @property
    def revision(self) -> str:
        """The manifest's revision, or the digest when the bundle does not name one."""
        return self.manifest.revision or f"sha256:{self.digest[:16]}"

    def policy_hash(self) -> str:
        files = [(path, text) for path, text in self.modules.items() if not path.endswith(TEST_SUFFIX)]
        return policy_hash(files, self.merged_data())

    def merged_data(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for mount, document in sorted(self.data.items()):
            document = copy.deepcopy(document)     # merging writes into what it merges
            for part in reversed([p for p in mount.split("/") if p]):
                document = {part: document}
            if not isinstance(document, dict):
                raise BundleError("a data.json at the bundle root must hold an object")
            _merge_strict(merged, document, f"{mount or '.'}/data.json")
        return merged


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    revision: str
    roots: tuple[str, ...]
    policy_hash: str
    entries: tuple[str, ...]


@dataclass(frozen=True)
class UnpackedBundle:
    directory: Path                   # a policy directory: RegopyEngine(policy_dir=directory)
    revision: str
    roots: tuple[str, ...]
    digest: str
    policy_hash: str


# --- building -----------------------------------------------------------------------------


def bundle_entries(dirs: Sequence[Path | str], include_tests: bool = False) -> dict[str, bytes]:
    """The files of a bundle made from policy directories, by path inside the bundle.

    The directories are merged as the engine merges them (a path in two of them is an
    error); test modules stay out unless asked for: they are not part of the policy in force.
    """
    entries: dict[str, bytes] = {}
    for relpath, text in load_policy_files(dirs, include_tests=include_tests):
        entries[relpath] = text.encode("utf-8")
    load_policy_data(dirs)          # refuses conflicting or unreadable data before anything is written
    for root in (Path(d) for d in dirs):
        for path in sorted(root.rglob(DATA_FILE)):
            relpath = path.relative_to(root).as_posix()
            if relpath in entries:
                raise BundleError(f"{relpath} is in more than one policy directory")
            entries[relpath] = path.read_bytes()
    return entries


def build_bundle(
    dirs: Sequence[Path | str],
    output: Path | str,
    revision: str | None = None,
    roots: Sequence[str] = DEFAULT_ROOTS,
    metadata: Mapping[str, Any] | None = None,
    include_tests: bool = False,
) -> BuiltBundle:
    """Write the policy in `dirs` as an OPA bundle at `output`.

    The revision defaults to the first 16 hex digits of the policy hash, so the same policy
    always gets the same revision; the tarball itself is byte-for-byte reproducible.
    """
    entries = bundle_entries(dirs, include_tests=include_tests)
    roots = tuple(_clean_root(r) for r in roots)
    _check_roots(roots)
    bundle = Bundle(Manifest(revision or "", roots), _modules_of(entries), _data_of(entries), "")
    _check_contents(bundle)
    digest = bundle.policy_hash()
    manifest = Manifest(
        revision or digest[:16], roots,
        {"metagate": {"policy_hash": digest, **dict(metadata or {})}},
    )
    entries[MANIFEST] = (json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n").encode()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.tmp")
    temporary.write_bytes(_tarball(entries))
    os.replace(temporary, output)
    return BuiltBundle(output, manifest.revision, roots, digest, tuple(sorted(entries)))


def _tarball(entries: Mapping[str, bytes]) -> bytes:
    """A gzipped tar of `entries` with fixed metadata: the same files give the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries, key=lambda n: (n != MANIFEST, n)):
            content = entries[name]
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


# --- reading ------------------------------------------------------------------------------


def read_bundle(data: bytes) -> Bundle:
    """The bundle in `data` (the bytes of a .tar.gz), checked; BundleError if it is unusable."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    entries = _read_entries(data)
    manifest = _parse_manifest(entries.pop(MANIFEST, None))
    bundle = Bundle(manifest, _modules_of(entries), _data_of(entries), hashlib.sha256(data).hexdigest())
    _check_roots(manifest.roots)
    _check_contents(bundle)
    bundle.merged_data()            # conflicting data documents: refused here, not in the worker
    return bundle


def _read_entries(data: bytes) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_ENTRIES:
                    raise BundleError(f"bundle has more than {MAX_ENTRIES} entries")
                name = _entry_name(member.name)
                if member.isdir():
                    continue
                if not member.isfile():
                    raise BundleError(f"{name}: not a regular file (links and devices are refused)")
                if name is None:
                    continue
                if not _wanted(name):
                    continue        # OPA ignores other files too; they are not unpacked
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise BundleError(f"bundle unpacks to more than {MAX_UNPACKED_BYTES} bytes")
                if name in entries:
                    raise BundleError(f"{name}: appears twice in the bundle")
                handle = tar.extractfile(member)
                entries[name] = handle.read() if handle is not None else b""
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise BundleError(f"not a gzipped tarball ({type(exc).__name__})") from None
    return entries


def _entry_name(raw: str) -> str | None:
    """The clean relative path of an entry (OPA accepts `/x` and `x` alike); refuses escapes."""
    name = raw.replace("\\", "/")
    stripped = name.lstrip("/")
    if stripped in ("", "."):
        return None
    parts = stripped.split("/")
    if any(part == ".." for part in parts) or "\0" in stripped:
        raise BundleError(f"{raw!r}: path leaves the bundle")
    clean = posixpath.normpath(stripped)
    if clean.startswith("../") or clean == "..":
        raise BundleError(f"{raw!r}: path leaves the bundle")
    return clean


def _wanted(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name == MANIFEST or name.endswith(".rego") or base in _DATA_NAMES


def _parse_manifest(raw: bytes | None) -> Manifest:
    if raw is None:
        return Manifest("", ("",))
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{MANIFEST}: not JSON ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise BundleError(f"{MANIFEST}: must hold a JSON object")
    revision = document.get("revision", "")
    if not isinstance(revision, str):
        raise BundleError(f"{MANIFEST}: revision must be a string")
    roots = document.get("roots", [""])
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise BundleError(f"{MANIFEST}: roots must be a list of strings")
    metadata = document.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BundleError(f"{MANIFEST}: metadata must be an object")
    if len(revision) > 200 or any(ord(c) < 32 for c in revision):
        raise BundleError(f"{MANIFEST}: revision must be a short printable string")
    return Manifest(revision, tuple(_clean_root(r) for r in roots), metadata)


def _modules_of(entries: Mapping[str, bytes]) -> dict[str, str]:
    modules = {}
    for name, content in entries.items():
        if name.endswith(".rego"):
            try:
                modules[name] = content.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleError(f"{name}: not UTF-8") from None
    return modules


def _data_of(entries: Mapping[str, bytes]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, content in entries.items():
        base = name.rsplit("/", 1)[-1]
        if base not in _DATA_NAMES:
            continue
        mount = name.rsplit("/", 1)[0] if "/" in name else ""
        if mount in data:
            raise BundleError(f"{name}: a second data document for {mount or 'the root'}")
        try:
            if base == DATA_FILE:
                data[mount] = json.loads(content.decode("utf-8"))
            else:
                import yaml

                data[mount] = yaml.safe_load(content.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - JSON/YAML/Unicode errors alike: the name, not the text
            raise BundleError(f"{name}: cannot be parsed ({type(exc).__name__})") from None
    return data


# --- roots --------------------------------------------------------------------------------


def _clean_root(root: str) -> str:
    return root.strip("/")


def _check_roots(roots: Sequence[str]) -> None:
    """Roots may not overlap (OPA refuses `a/b` beside `a`)."""
    for index, root in enumerate(roots):
        for other in roots[index + 1:]:
            if _under(root, other) or _under(other, root):
                raise BundleError(f"{MANIFEST}: roots {root!r} and {other!r} overlap")


def _under(path: str, root: str) -> bool:
    return root == "" or path == root or path.startswith(root + "/")


def _check_contents(bundle: Bundle) -> None:
    """Every package and every data document lies under one of the manifest's roots."""
    roots = bundle.manifest.roots
    for name, text in sorted(bundle.modules.items()):
        match = _PACKAGE.search(text)
        if match is None:
            raise BundleError(f"{name}: no package declaration")
        package = match.group(1).replace(".", "/")
        if not any(_under(package, root) for root in roots):
            raise BundleError(f"{name}: package {match.group(1)} is outside the bundle roots {list(roots)}")
    for mount, document in sorted(bundle.data.items()):
        # A data.json at the bundle root puts each of its keys at the top of `data`.
        if mount:
            paths = [mount]
        elif isinstance(document, dict):
            paths = [str(key) for key in document]
        else:
            paths = [""]
        for path in paths:
            if not any(_under(path, root) for root in roots):
                raise BundleError(f"{mount or '.'}/data.json: data at {path or 'the root'} is outside the bundle roots {list(roots)}")


# --- unpacking ----------------------------------------------------------------------------


def unpack_bundle(data: bytes, parent: Path | str) -> UnpackedBundle:
    """Check the bundle in `data` and write its modules and data under `parent/<digest>/`.

    The directory is named by content, written beside and renamed into place, so a policy
    directory that exists is always complete; the same bundle unpacks once.
    """
    bundle = read_bundle(data)
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    directory = parent / bundle.digest[:32]
    if not directory.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=parent))
        try:
            for name, text in bundle.modules.items():
                _write(staging, name, text.encode("utf-8"))
            for mount, document in bundle.data.items():
                _write(staging, f"{mount}/{DATA_FILE}" if mount else DATA_FILE, json.dumps(document).encode())
            _write(staging, MANIFEST, json.dumps(bundle.manifest.to_json()).encode())
            try:
                os.replace(staging, directory)
            except OSError:
                if not directory.is_dir():
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return UnpackedBundle(directory, bundle.revision, bundle.manifest.roots, bundle.digest, bundle.policy_hash())


def _write(root: Path, name: str, content: bytes) -> None:
    target = root.joinpath(*name.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def list_entries(path: Path | str) -> list[str]:
    """Entry names of a bundle file, in tar order (for people and tests)."""
    with tarfile.open(path, mode="r:gz") as tar:
        return [member.name for member in tar]

