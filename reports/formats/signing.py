"""The report's own integrity: a content digest and Ed25519 signature carried inside every
format, and a detached `.sha256` and `.sig` beside every output file.

Content digest: SHA-256 of the report data as canonical JSON (the JSON report without its
`attestation` block, keys sorted, no spaces, UTF-8). Every format of one run shows the same
digest, so a PDF or HTML page is tied to the JSON numbers it renders. The detached files
cover each output's exact bytes and verify with standard tools (sha256sum, openssl); every
signature is over DOMAIN followed by the bytes it covers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from metagate.reports import keys

PUBLIC_KEY_NAME = "audit-public-key.pem"
ATTESTATION = "attestation"
# Domain separation from the trail's checkpoint signatures (same key): a report signature
# covers DOMAIN + the signed bytes, so neither kind can be passed off as the other.
DOMAIN = b"metagate-report-v1\n"


def canonical_bytes(report: dict[str, Any]) -> bytes:
    data = {k: v for k, v in report.items() if k != ATTESTATION}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_signing_key(data_dir: Path) -> tuple[Ed25519PrivateKey | None, str]:
    """The audit signing key, or None and why the report will be unsigned."""
    try:
        return keys.load_signing_key(Path(data_dir)), ""
    except keys.KeyFileError as exc:
        return None, f"unsigned: {exc}"


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def attest(report: dict[str, Any], key: Ed25519PrivateKey | None, unsigned_reason: str = "") -> dict[str, Any]:
    """The block every format carries: the content digest and, with a key, its signature."""
    content = canonical_bytes(report)
    digest = hashlib.sha256(content).hexdigest()
    block: dict[str, Any] = {"content_sha256": digest, "canonical_form": "JSON report without 'attestation', "
                             "keys sorted, separators (',', ':'), UTF-8", "algorithm": "Ed25519"}
    if key is None:
        block.update(signed=False, unsigned_reason=unsigned_reason or "unsigned: no signing key")
        return block
    block.update(signed=True, signature_b64=base64.b64encode(key.sign(DOMAIN + content)).decode(),
                 public_key_sha256=public_key_fingerprint(key.public_key()), key_id=keys.key_id(key.public_key()))
    return block


def write_detached(path: Path, key: Ed25519PrivateKey | None) -> list[Path]:
    """`FILE.sha256` (sha256sum format) and, with a key, `FILE.sig` (raw 64-byte Ed25519 signature of DOMAIN + FILE)."""
    data = path.read_bytes()
    written = [path.with_name(path.name + ".sha256")]
    written[0].write_text(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    if key is not None:
        signature = path.with_name(path.name + ".sig")
        signature.write_bytes(key.sign(DOMAIN + data))
        written.append(signature)
    return written


def write_public_key(out_dir: Path, key: Ed25519PrivateKey) -> Path:
    path = out_dir / PUBLIC_KEY_NAME
    path.write_bytes(keys.public_key_pem(key.public_key()))
    return path


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


@dataclass
class Verification:
    ok: bool = True
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def add(self, passed: bool, message: str) -> None:
        self.checks.append((passed, message))
        self.ok = self.ok and passed


def verify_file(path: Path, public_key: Path | None = None) -> Verification:
    """Check FILE against FILE.sha256 and FILE.sig; for a JSON report also its embedded digest and signature.

    Without --public-key the key beside the report is used: that proves integrity only when
    its fingerprint matches the one the gate's operator exported (`metagate keys export-public`).
    """
    result = Verification()
    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    sha_file = path.with_name(path.name + ".sha256")
    if sha_file.exists():
        expected = sha_file.read_text().split()[0] if sha_file.read_text().split() else ""
        result.add(expected == digest, f"SHA-256 {'matches' if expected == digest else 'does NOT match'} {sha_file.name}")
    else:
        result.add(False, f"{sha_file.name} is missing")

    key_path = public_key or path.with_name(PUBLIC_KEY_NAME)
    key = keys.load_public_key(key_path) if key_path.exists() else None
    sig_file = path.with_name(path.name + ".sig")
    if not sig_file.exists():
        result.add(False, f"{sig_file.name} is missing: the report is unsigned")
    elif key is None:
        result.add(False, f"no public key to check {sig_file.name} (pass --public-key)")
    else:
        result.add(_valid(key, sig_file.read_bytes(), data), f"Ed25519 signature in {sig_file.name} "
                   f"{'is valid' if _valid(key, sig_file.read_bytes(), data) else 'is NOT valid'} "
                   f"(key {public_key_fingerprint(key)[:16]}…{' from ' + key_path.name if public_key is None else ''})")
    if path.suffix == ".json":
        _verify_embedded(json.loads(data), key, result)
    return result


def _verify_embedded(report: dict[str, Any], key: Ed25519PublicKey | None, result: Verification) -> None:
    block = report.get(ATTESTATION) or {}
    content = canonical_bytes(report)
    same = hashlib.sha256(content).hexdigest() == block.get("content_sha256")
    result.add(same, f"embedded content digest {'matches' if same else 'does NOT match'} the report data")
    if block.get("signed") and key is not None:
        valid = _valid(key, base64.b64decode(block.get("signature_b64", "")), content)
        result.add(valid, f"embedded signature {'is valid' if valid else 'is NOT valid'}")


def _valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, DOMAIN + data)
    except InvalidSignature:
        return False
    return True
