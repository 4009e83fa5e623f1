"""OPA bundles of the policy: layout and manifest as OPA reads them, reproducible bytes, and a
reader that refuses anything it should not unpack."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from metagate.policies.bundle import (
    BundleError,
    build_bundle,
    list_entries,
    read_bundle,
    unpack_bundle,
)
from metagate.policies.engine import RegopyEngine
from metagate.policies.files import DEFAULT_POLICY_DIR

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples" / "custom-policy" / "rego"


def tarball(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return raw.getvalue()


def manifest(revision: str = "r1", roots: list[str] | None = None) -> bytes:
    return json.dumps({"revision": revision, "roots": roots if roots is not None else ["metagate"]}).encode()


def test_bundle_has_opa_layout_and_a_manifest_with_revision_and_roots(tmp_path):
    built = build_bundle([DEFAULT_POLICY_DIR], tmp_path / "b.tar.gz", revision="abc123")
    entries = list_entries(built.path)
    assert entries[0] == ".manifest"
    assert "metagate/data.json" in entries and "metagate/main.rego" in entries
    assert "metagate/rules/pii.rego" in entries
    assert not [e for e in entries if e.endswith("_test.rego") or e.startswith("/")]
    with tarfile.open(built.path) as tar:
        document = json.load(tar.extractfile(".manifest"))
    assert document["revision"] == "abc123"
    assert document["roots"] == ["metagate"]
    assert document["metadata"]["metagate"]["policy_hash"] == built.policy_hash


def test_same_policy_gives_the_same_bytes_and_default_revision(tmp_path):
    first = build_bundle([DEFAULT_POLICY_DIR], tmp_path / "1.tar.gz")
    second = build_bundle([DEFAULT_POLICY_DIR], tmp_path / "2.tar.gz")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.revision == first.policy_hash[:16]


def test_unpacked_bundle_is_the_policy_it_was_built_from(tmp_path):
    built = build_bundle([DEFAULT_POLICY_DIR, ACME], tmp_path / "b.tar.gz", revision="team-1")
    assert "metagate/config/acme/data.json" in built.entries
    unpacked = unpack_bundle(built.path.read_bytes(), tmp_path / "bundles")
    assert unpacked.revision == "team-1"
    engine = RegopyEngine(unpacked.directory)
    assert engine.policy_hash == built.policy_hash == unpacked.policy_hash
    assert engine.policy_hash == RegopyEngine(extra_dirs=[ACME]).policy_hash
    decision = engine.evaluate({
        "endpoint": {"known": True, "template": "/api/v1/run-metadata", "resource": "run_metadata",
                     "action": "create", "write": True, "sdk_auth": False},
        "fields": [{"path": "$.values.customer_id", "class": "user_dict"}],
        "findings": [],
    })
    assert decision["action"] == "block" and decision["rules"] == ["acme.forbidden_field"]


def test_unpacking_twice_reuses_the_directory(tmp_path):
    data = build_bundle([DEFAULT_POLICY_DIR], tmp_path / "b.tar.gz").path.read_bytes()
    first = unpack_bundle(data, tmp_path / "bundles")
    second = unpack_bundle(data, tmp_path / "bundles")
    assert first.directory == second.directory
    assert [p.name for p in (tmp_path / "bundles").iterdir()] == [first.directory.name]


def test_bundle_without_manifest_is_named_by_its_digest():
    rego = b"package metagate.main\n\ndecision := {}\n"
    data = tarball({"metagate/main.rego": rego})
    bundle = read_bundle(data)
    assert bundle.revision == "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def test_leading_slashes_are_accepted_like_opa_does():
    data = tarball({"/.manifest": manifest(), "/metagate/main.rego": b"package metagate.main\n"})
    assert list(read_bundle(data).modules) == ["metagate/main.rego"]


@pytest.mark.parametrize("entries, links, expected", [
    ({"../evil.rego": b"package metagate.x\n"}, None, "leaves the bundle"),
    ({"metagate/../../evil.rego": b"package metagate.x\n"}, None, "leaves the bundle"),
    ({".manifest": manifest()}, {"metagate/data.json": "/etc/passwd"}, "not a regular file"),
    ({".manifest": manifest(), "other/x.rego": b"package other.x\n"}, None, "outside the bundle roots"),
    ({".manifest": manifest(), "other/data.json": b"{}"}, None, "outside the bundle roots"),
    ({".manifest": manifest(), "data.json": b'{"other": 1}'}, None, "outside the bundle roots"),
    ({".manifest": manifest(roots=["metagate", "metagate/rules"])}, None, "overlap"),
    ({".manifest": b"not json"}, None, "not JSON"),
    ({".manifest": b'{"revision": 7}'}, None, "revision must be a string"),
    ({".manifest": manifest(), "metagate/x.rego": b"# no package\n"}, None, "no package"),
    ({".manifest": manifest(), "metagate/data.json": b"{broken"}, None, "cannot be parsed"),
])
def test_unusable_bundles_are_refused_whole(tmp_path, entries, links, expected):
    with pytest.raises(BundleError, match=expected):
        unpack_bundle(tarball(entries, links), tmp_path / "bundles")
    assert not (tmp_path / "bundles").exists()      # checked before anything is written


def test_not_a_tarball_is_refused():
    with pytest.raises(BundleError, match="not a gzipped tarball"):
        read_bundle(b"<html>502 Bad Gateway</html>")
    with pytest.raises(BundleError, match="not a gzipped tarball"):
        read_bundle(gzip.compress(b"just text"))


def test_other_files_are_ignored_not_unpacked(tmp_path):
    data = tarball({".manifest": manifest(), "metagate/main.rego": b"package metagate.main\n",
                    "README.md": b"hello", "metagate/fixture.json": b"[]"})
    unpacked = unpack_bundle(data, tmp_path / "bundles")
    names = sorted(p.relative_to(unpacked.directory).as_posix() for p in unpacked.directory.rglob("*") if p.is_file())
    assert names == [".manifest", "metagate/main.rego"]


def test_build_refuses_a_package_outside_its_roots(tmp_path):
    team = tmp_path / "team" / "acme"
    team.mkdir(parents=True)
    (team / "rules.rego").write_text("package acme.rules\n\nx := 1\n")
    with pytest.raises(BundleError, match="outside the bundle roots"):
        build_bundle([DEFAULT_POLICY_DIR, tmp_path / "team"], tmp_path / "b.tar.gz")
    assert build_bundle([DEFAULT_POLICY_DIR, tmp_path / "team"], tmp_path / "b.tar.gz", roots=["metagate", "acme"]).roots == ("metagate", "acme")
