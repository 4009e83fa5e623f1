"""Ethereum addresses for Presidio's CRYPTO entity (its CryptoRecognizer knows only Bitcoin).

An address is `0x` and 40 hex digits. Written in mixed case it carries the EIP-55 checksum
(the case of each letter is a bit of the address's Keccak-256 hash), which is checked: a
valid one scores 1.0 and an invalid one is no address. In one case it carries no checksum
and scores like a weak pattern (0.4), which a context word ("wallet", "eth" ...) raises.
"""

from __future__ import annotations

from Crypto.Hash import keccak
from presidio_analyzer import Pattern, PatternRecognizer


def eip55(address_hex: str) -> str:
    """The EIP-55 mixed-case spelling of 40 hex digits (without `0x`)."""
    lowered = address_hex.lower()
    digest = keccak.new(digest_bits=256, data=lowered.encode("ascii")).hexdigest()
    return "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(lowered, digest))


class EthereumAddressRecognizer(PatternRecognizer):
    PATTERNS = [Pattern("Ethereum address", r"\b0x[0-9a-fA-F]{40}\b", 0.4)]
    CONTEXT = ["wallet", "eth", "ethereum", "crypto", "address", "payout"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CRYPTO", patterns=self.PATTERNS, context=self.CONTEXT, name="EthereumAddressRecognizer"
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = pattern_text[2:]
        letters = [c for c in digits if c.isalpha()]
        if all(c.islower() for c in letters) or all(c.isupper() for c in letters):
            return None  # no checksum to check: the pattern's score stands
        return eip55(digits) == digits
