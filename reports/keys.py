"""The audit signing key: Ed25519, private half in <data-dir>/keys/audit-signing.key (0600).

The private key never leaves the data dir; a reviewer gets the public key
(`metagate keys export-public`) and checks checkpoints and reports with it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

SIGNING_KEY_NAME = "audit-signing.key"


class KeyFileError(RuntimeError):
    """A key file is missing, unreadable, or would be overwritten."""


def signing_key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / SIGNING_KEY_NAME


def init_signing_key(data_dir: Path) -> Path:
    """Create a new signing key; refuses to replace an existing one (that would orphan the trail)."""
    path = signing_key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite the audit signing key") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def load_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    path = signing_key_path(data_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"no audit signing key at {path}; create one with `metagate keys init`") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise KeyFileError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def load_or_create_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """What the gate does at start: the first run makes the key if `keys init` was not run."""
    if not signing_key_path(data_dir).exists():
        try:
            init_signing_key(data_dir)
        except KeyFileError:
            pass  # another process made it first
    return load_signing_key(data_dir)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def export_public_key(data_dir: Path) -> bytes:
    return public_key_pem(load_signing_key(data_dir).public_key())


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise KeyFileError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short name of a public key: SHA-256 of its raw bytes, 16 hex digits."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
