"""Keyed fingerprints: how metagate refers to a sensitive value without keeping it."""

from __future__ import annotations

import hashlib
import hmac


def fingerprint(key: bytes, text: str) -> str:
    """HMAC-SHA256 of `text` under the per-deployment key, 128 bits as hex."""
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]
