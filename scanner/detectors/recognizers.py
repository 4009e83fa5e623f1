"""Presidio recognizers adjusted to what requests to a ZenML server look like.

Each keeps Presidio's shape: patterns, context words and `validate_result` /
`invalidate_result` on the recognizer itself.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IbanRecognizer

# A domain label: letters, digits, inner hyphens (punycode `xn--...` included).
_LABEL = re.compile(r"\w+(?:-+\w+)*")
_TOP_LABEL = re.compile(r"(?:[^\W\d_]{2,63}|xn--[\w-]+)")
# Local parts of remotes the SDK itself sends (`git@github.com:org/repo.git`).
_SDK_REMOTE_USERS = frozenset({"git"})


class EmailAddressRecognizer(EmailRecognizer):
    """Presidio's email recognizer, for addresses wherever they sit in a request.

    - Presidio's local part takes '/', '=', '?' and '&', so in `s3://bucket/jane@acme.com/x`
      or `?owner=jane@acme.com` its match starts at the path or the query key, and its
      validation (tldextract, which reads '/' as the end of a host) fails: the address
      passed. Here the local part stops at those separators (RFC 5322 allows them; nobody
      uses them), and an address after `scheme://` or a '/' is an address like any other.
    - Presidio validates the domain against the public suffix list, so addresses at
      `acme.internal`, `corp.local`, `acme.example` passed. An address is personal data
      whatever its top-level domain: the domain needs two labels and a top label of letters.
    - `git@host` is how the SDK writes git remotes (a user of the host, not a person).
    """

    PATTERNS = [
        Pattern(
            "Email (Medium)",
            r"\b((([!#$%'*+\-^_`{|}~\w])|([!#$%'*+\-^_`{|}~\w][!#$%'*+\-^_`{|}~\.\w]{0,}[!#$%'*+\-^_`{|}~\w]))"
            r"[@]\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+)\b",
            0.5,
        ),
    ]

    def validate_result(self, pattern_text: str) -> bool:
        domain = pattern_text.rpartition("@")[2]
        labels = domain.split(".")
        return len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels) and bool(_TOP_LABEL.fullmatch(labels[-1]))

    def invalidate_result(self, pattern_text: str) -> bool:
        return pattern_text.rpartition("@")[0].lower() in _SDK_REMOTE_USERS


class CaselessIbanRecognizer(IbanRecognizer):
    """Presidio's IBAN recognizer matching in any case: `de89 3704 0044 ...` is the same
    account as `DE89 3704 0044 ...`. Presidio validates the checksum case-blind but leaves a
    lower-case match unvalidated (score 0.5); here it is validated as upper case."""

    def __init__(self) -> None:
        super().__init__(regex_flags=re.DOTALL | re.MULTILINE | re.IGNORECASE)

    def validate_result(self, pattern_text: str) -> bool | None:
        return super().validate_result(pattern_text.upper())
