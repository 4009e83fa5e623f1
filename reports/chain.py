"""The hash chain and signed checkpoints, independent of where records are stored.

Each replica keeps one chain. Record n carries the hash of record n-1 and its own hash over
the canonical JSON of {"prev", "record", "replica", "seq"}; a checkpoint signs (replica, seq,
hash of record seq, time, previous checkpoint's seq) with Ed25519, like CloudTrail's digest
files sign the log files before them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

GENESIS_HASH = "0" * 64
# Domain separation: a checkpoint signature can never be replayed as another kind of signature
# made with the same key (reports sign with their own prefix).
CHECKPOINT_DOMAIN = b"metagate-audit-checkpoint-v1\n"
SCRUBBED = "<scrubbed>"
SCRUB_KEY = "scrubbed"

# Keys whose values are credentials wherever they appear in a record.
SENSITIVE_KEYS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token",
    "api_key", "api-key", "apikey", "password", "passwd", "secret", "client_secret",
    "access_token", "refresh_token", "id_token", "token", "private_key",
})
# Credential-shaped strings: JWTs and Authorization header values.
SENSITIVE_TEXT = re.compile(
    r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"
    r"|\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}",
    re.IGNORECASE,
)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII only: one text per value, stable across round trips."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def prepare_record(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A JSON-clean copy of `record` with credentials scrubbed, and its canonical text.

    The proxy never puts a credential in a record; this is the store's own line of defence.
    Scrubbed places are listed by path under "scrubbed" so a reviewer sees that it happened.
    """
    scrubbed: list[str] = []
    clean = _clean(record, "$", scrubbed)
    if not isinstance(clean, dict):
        raise TypeError("an audit record must be a mapping")
    if scrubbed:
        clean[SCRUB_KEY] = sorted(set(clean.get(SCRUB_KEY) or []) | set(scrubbed))
    return clean, canonical_json(clean)


def _clean(value: Any, path: str, scrubbed: list[str], headers: bool = False) -> Any:
    """`headers`: inside a value whose key names headers, where (name, value) pairs occur."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            child = f"{path}.{key}"
            if key.lower() in SENSITIVE_KEYS and _holds_text(item):
                out[key] = SCRUBBED
                scrubbed.append(child)
            else:
                out[key] = _clean(item, child, scrubbed, headers or "header" in key.lower())
        return out
    if headers and isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str) \
            and value[0].lower() in SENSITIVE_KEYS and _holds_text(value[1]):
        scrubbed.append(f"{path}[1]")
        return [value[0], SCRUBBED]
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_clean(item, f"{path}[{i}]", scrubbed, headers) for i, item in enumerate(items)]
    if isinstance(value, str):
        if SENSITIVE_TEXT.search(value):
            scrubbed.append(path)
            return SENSITIVE_TEXT.sub(SCRUBBED, value)
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _clean(str(value), path, scrubbed, headers)


def _holds_text(value: Any) -> bool:
    """Counts and flags under a sensitive name are harmless; text (or containers of it) is not."""
    if isinstance(value, (str, bytes)):
        return bool(value) and value != SCRUBBED
    if isinstance(value, dict):
        return any(_holds_text(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_text(v) for v in value)
    return False


def record_hash(replica_id: str, seq: int, prev_hash: str, body: str) -> str:
    """SHA-256 of canonical_json({"prev": prev_hash, "record": <body>, "replica": replica_id, "seq": seq}).

    `body` is the record's canonical text, embedded verbatim (its keys sort between "prev" and
    "replica", so the concatenation below is exactly that canonical JSON).
    """
    envelope = (
        '{"prev":' + canonical_json(prev_hash) + ',"record":' + body
        + ',"replica":' + canonical_json(replica_id) + ',"seq":' + canonical_json(seq) + "}"
    )
    return hashlib.sha256(envelope.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class StoredRecord:
    """One row of a chain, as stored."""

    replica_id: str
    seq: int
    id: str
    time: str
    kind: str
    prev_hash: str
    hash: str
    body: str

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: replica's chain had record `seq` with hash `hash` at `time`."""

    replica_id: str
    seq: int
    hash: str
    time: str
    prev_seq: int           # seq of the replica's previous checkpoint, 0 for the first
    key_id: str
    signature: str          # hex Ed25519 signature over signed_bytes()

    def signed_bytes(self) -> bytes:
        payload = {
            "hash": self.hash, "key_id": self.key_id, "prev_seq": self.prev_seq,
            "replica": self.replica_id, "seq": self.seq, "time": self.time,
        }
        return CHECKPOINT_DOMAIN + canonical_json(payload).encode("ascii")

    def signature_valid(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(bytes.fromhex(self.signature), self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True


def sign_checkpoint(
    key: Ed25519PrivateKey, key_id: str, replica_id: str, seq: int, hash_: str, time: str, prev_seq: int
) -> Checkpoint:
    unsigned = Checkpoint(replica_id, seq, hash_, time, prev_seq, key_id, "")
    signature = key.sign(unsigned.signed_bytes()).hex()
    return Checkpoint(replica_id, seq, hash_, time, prev_seq, key_id, signature)
