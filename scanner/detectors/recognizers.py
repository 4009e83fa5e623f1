"""Presidio recognizers adjusted to what requests to a ZenML server look like.

Each keeps Presidio's shape: patterns, context words and `validate_result` /
`invalidate_result` on the recognizer itself.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from collections.abc import Iterable
from typing import ClassVar

import phonenumbers
from metagate.scanner.detectors.ethereum import EthereumAddressRecognizer
from metagate.scanner.detectors.fields import KEY_CONTEXT_SCORE, entities_named_by
from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MacAddressRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)

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


# --- results reviewed in their leaf -------------------------------------------------------
# Presidio's `invalidate_result` sees the matched text alone. Some matches are ZenML or
# packaging syntax only by what is around them (a version after "=="), or personal data only
# with a context word (nine bare digits): those a recognizer decides in `review`, which the
# PII detector calls with the leaf's original text and whether a context word raised the
# score.

# 2001-09-09 (the first ten-digit second) .. 2038-01-19 (2**31 s). Times past 2038 are no one's
# run: a sixteen-digit number from 2.2e15 on is a card network's range (Mastercard 2221..,
# JCB 35.., Visa 4...), and reading it as microseconds since 1970 let those cards pass.
_EPOCH_RANGE = (1_000_000_000, 2**31)


def is_epoch(digits: str) -> bool:
    """Unix time in s, ms, us or ns up to 2038: ZenML and ML code log these as plain integers."""
    if len(digits) not in (10, 13, 16, 19):
        return False
    seconds = int(digits) // 10 ** (len(digits) - 10)
    return _EPOCH_RANGE[0] <= seconds < _EPOCH_RANGE[1]


class ReviewedRecognizer(EntityRecognizer):
    """A recognizer whose results the PII detector reviews in their leaf."""

    # Checksums pass for one number in ten or eleven: a bare run of digits (an epoch, a
    # count, an id) is this entity only when its key or the words before it say so.
    BARE_DIGITS_NEED_CONTEXT: ClassVar[bool] = False

    def review(self, text: str, start: int, end: int, score: float, boosted: bool) -> float | None:
        """The result's final score, or None when it is not personal data. `text` is the
        leaf as sent, `boosted` whether a context word raised the score. A match right after
        a label that names its entity as a key would ("SSN: 536228814", "tax id = ...")
        scores as under that key (`fields.KEY_CONTEXT_SCORE`)."""
        match = text[start:end]
        if not boosted and match.isdigit() and (self.BARE_DIGITS_NEED_CONTEXT or is_epoch(match)):
            return None
        if boosted and score < KEY_CONTEXT_SCORE and self.supported_entities[0] in label_before(text, start):
            return KEY_CONTEXT_SCORE
        return score


# A label right before a value: one to four words, then ':', '=' or '#' or nothing, and an
# optional quote ("SSN: ", "customer ssn ", "tax_id=", "Passport No. ").
_LABEL_BEFORE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z][A-Za-z0-9]*(?:[\x20_\-][A-Za-z][A-Za-z0-9]*){0,3})\.?[\x20\t]*[:=#]?[\x20\t]*[\"']?$"
)
_LABEL_WINDOW = 48


def label_before(text: str, start: int) -> frozenset[str]:
    """The entities the label right before `start` names (none without a label)."""
    found = _LABEL_BEFORE.search(text, max(0, start - _LABEL_WINDOW), start)
    return entities_named_by(found.group(1)) if found else frozenset()


@dataclass(frozen=True, slots=True)
class CardNetwork:
    """One card network: the issuer identification number ranges it holds (ISO/IEC 7812,
    as prefixes of the number: `(2221, 2720)` is every number from 2221... to 2720...) and the
    lengths of its numbers."""

    name: str
    ranges: tuple[tuple[int, int], ...]
    lengths: tuple[int, ...]

    def issued(self, digits: str) -> bool:
        if len(digits) not in self.lengths:
            return False
        for low, high in self.ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return True
        return False


_LONG = (16, 17, 18, 19)
# The networks whose numbers are in use. Left out on purpose: 13-digit Visa (retired; a
# thirteen-digit number from 4e12 is four terabytes in bytes) and UATP's 1... (fifteen digits
# from 1e14 are sizes and counts, sixteen from 1e15 microseconds since 1970).
CARD_NETWORKS: tuple[CardNetwork, ...] = (
    CardNetwork("visa", ((4, 4),), (16, 19)),
    CardNetwork("mastercard", ((51, 55), (222100, 272099)), (16,)),
    CardNetwork("american_express", ((34, 34), (37, 37)), (15,)),
    CardNetwork("discover", ((6011, 6011), (644, 649), (65, 65), (622126, 622925)), _LONG),
    CardNetwork("jcb", ((3528, 3589),), _LONG),
    CardNetwork("diners_club", ((300, 305), (3095, 3095), (36, 36), (38, 39)), (14, 15, 16, 17, 18, 19)),
    CardNetwork("unionpay", ((62, 62),), _LONG),
    CardNetwork("maestro", ((50, 50), (56, 58), (63, 63), (67, 67)), _LONG),
    CardNetwork("mir", ((2200, 2204),), _LONG),
)


def card_network(digits: str) -> str | None:
    """The network that issues numbers of this prefix and length, or None."""
    return next((network.name for network in CARD_NETWORKS if network.issued(digits)), None)


# Digit groups of a card as people write them: 4-4-4-4(-3), 4-6-5, 4-6-4 or whole, split by
# one or two spaces, '-', '.', '/' or '|' (a '_' split and a word glued on are decoded views:
# scanner/decoders.py). The groups' lengths are loose; validation counts the digits.
_CARD_SEPARATOR = r"[\x20\-./|]{0,2}"
_DECIMAL_BEFORE = re.compile(r"\d[.,]$")


class CardRecognizer(ReviewedRecognizer, CreditCardRecognizer):
    """Presidio's card recognizer with every network's ranges (Mastercard's 2-series among
    them, which Presidio's pattern misses) and more separators; a match is a card when its
    digits are a length and prefix a network issues (`CARD_NETWORKS`) and pass Presidio's
    Luhn check. The decimals of a number (`0.4539004010602815`, a metric) are no card."""

    PATTERNS = [
        Pattern(
            "Card number (network prefix, grouped or whole)",
            # 14 digits at least (the shortest network's numbers), then the groups.
            rf"\b(?=\d(?:{_CARD_SEPARATOR}\d){{13}})[2-6]\d{{3}}(?:{_CARD_SEPARATOR}\d{{3,6}}){{2,4}}\b",
            0.3,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS)

    def validate_result(self, pattern_text: str) -> bool:
        digits = "".join(ch for ch in pattern_text if ch.isdigit())
        return card_network(digits) is not None and bool(super().validate_result(digits))

    def review(self, text: str, start: int, end: int, score: float, boosted: bool) -> float | None:
        if _DECIMAL_BEFORE.search(text[max(0, start - 2) : start]):
            return None
        return super().review(text, start, end, score, boosted)


class SsnRecognizer(ReviewedRecognizer, UsSsnRecognizer):
    """Presidio's SSN recognizer; an SSN is also a US taxpayer id, so "tax id 536228814"
    gives it context as "ssn" does (Presidio's ITIN recognizer reads these words too)."""

    CONTEXT = [*UsSsnRecognizer.CONTEXT, "tax", "taxpayer", "taxid"]


class ItinRecognizer(ReviewedRecognizer, UsItinRecognizer):
    pass


class PassportRecognizer(ReviewedRecognizer, UsPassportRecognizer):
    pass


class BankNumberRecognizer(ReviewedRecognizer, UsBankRecognizer):
    pass


class MacRecognizer(ReviewedRecognizer, MacAddressRecognizer):
    pass


class BitcoinRecognizer(ReviewedRecognizer, CryptoRecognizer):
    pass


class EthereumRecognizer(ReviewedRecognizer, EthereumAddressRecognizer):
    pass


class UrlAddressRecognizer(ReviewedRecognizer, UrlRecognizer):
    pass


class ReviewedEmailRecognizer(ReviewedRecognizer, EmailAddressRecognizer):
    pass


class ReviewedIbanRecognizer(ReviewedRecognizer, CaselessIbanRecognizer):
    pass


class NhsNumberRecognizer(ReviewedRecognizer, NhsRecognizer):
    BARE_DIGITS_NEED_CONTEXT = True


class LicenseRecognizer(ReviewedRecognizer, UsLicenseRecognizer):
    """Presidio's pattern also takes s3, v2, T4, A100 ...: a licence number has five or more
    characters."""

    MIN_LENGTH: ClassVar[int] = 5

    def invalidate_result(self, pattern_text: str) -> bool:
        return len(pattern_text) < self.MIN_LENGTH or bool(super().invalidate_result(pattern_text))


# A four-part version (12.1.3.1 after "==", v1.2.3.4, 1.2.3.4.5) is not an address.
_VERSIONISH_BEFORE = re.compile(r"(?:[=<>~!]=\s*|[\d.]|\bv|[Vv]ersion[\s:=]*)$")


class BenignIpRecognizer(ReviewedRecognizer, IpRecognizer):
    """Presidio's IP recognizer without the addresses that are the same on every machine,
    versions and Python slices."""

    def review(self, text: str, start: int, end: int, score: float, boosted: bool) -> float | None:
        match, before, after = text[start:end], text[max(0, start - 16) : start], text[end : end + 2]
        if _VERSIONISH_BEFORE.search(before) or (len(after) == 2 and after[0] == "." and after[1].isdigit()):
            return None
        try:
            address = ipaddress.ip_address(match.split("/", 1)[0])
        except ValueError:
            return super().review(text, start, end, score, boosted)
        if address.is_loopback or address.is_unspecified or address.is_link_local:
            return None  # 127.0.0.1, 0.0.0.0, ::1, fe80::: the same on every machine
        # Python slices (x[1::2]) and short hex pairs parse as IPv6; real ones have more groups.
        if address.version == 6 and "." not in match and sum(1 for g in match.split(":") if g) < 3:
            return None
        return super().review(text, start, end, score, boosted)


# Stretches of text that could hold a phone number: seven or more digits with the usual
# separators. python-phonenumbers is slow (one pass per region over the whole text, with
# a parse attempt for every digit group), so it only sees these stretches.
PHONE_CANDIDATE = re.compile(r"\+?\(?\d[\d\x20\t().\-/]{5,}\d")
MIN_PHONE_DIGITS = 7

# Presidio scores a valid phone number 0.4 without a context word: below any blocking
# threshold, so `+1 415-555-2671` or `(415) 555-2671` in a free-text note would pass. Written
# in one of these layouts, a number python-phonenumbers already accepts is a phone number
# whatever the words around it: a leading +country code, an (area code), or NANP / trunk-
# prefixed national groups. A bare run of digits still needs context.
PHONE_LAYOUT_SCORE = 0.6
_PHONE_LAYOUT = re.compile(
    r"\+\d{1,3}[\x20.\-]?\(?\d{1,4}\)?(?:[\x20.\-]\d{2,4}){1,4}"  # +1 415-555-2671, +44 20 7946 0958
    r"|\+\d{8,15}"                                            # +14155552671
    r"|\(\d{2,5}\)\x20?\d{3,5}[\x20.\-]\d{3,4}"               # (415) 555-2671, (11) 91318-5387
    r"|\d{3}([.\-])\d{3}\1\d{4}"                               # 415-555-2671, 415.555.2671
    r"|0\d{2,4}\x20\d{3,4}\x20\d{3,4}"                          # 020 7946 0958
)


# More digits in a row than any number has (E.164: fifteen, two more for a trunk prefix): no
# phone number sits inside such a run, and python-phonenumbers takes seconds over a long one.
_NOT_A_PHONE_RUN = re.compile(r"\d{18,}")


def phone_windows(text: str) -> Iterable[tuple[int, int]]:
    """(start, end) of the candidate stretches, split around runs of digits too long to be
    part of a phone number."""
    for window in PHONE_CANDIDATE.finditer(text):
        start = window.start()
        for run in _NOT_A_PHONE_RUN.finditer(text, start, window.end()):
            if run.start() > start:
                yield start, run.start()
            start = run.end()
        if window.end() > start:
            yield start, window.end()


class WindowedPhoneRecognizer(ReviewedRecognizer, PhoneRecognizer):
    """Presidio's PhoneRecognizer, run on candidate stretches instead of the whole text; a
    number in a phone layout scores `PHONE_LAYOUT_SCORE` without context, bare digits need it."""

    BARE_DIGITS_NEED_CONTEXT = True

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for start, end in phone_windows(text):
            if sum(c.isdigit() for c in text[start:end]) < MIN_PHONE_DIGITS:
                continue
            # One character of margin either side keeps the matcher's boundary checks true.
            lo, hi = max(0, start - 1), min(len(text), end + 1)
            for result in super().analyze(text[lo:hi], entities, nlp_artifacts):
                result.start += lo
                result.end += lo
                results.append(result)
        return EntityRecognizer.remove_duplicates(results)

    def review(self, text: str, start: int, end: int, score: float, boosted: bool) -> float | None:
        reviewed = super().review(text, start, end, score, boosted)
        if reviewed is None or boosted or reviewed >= PHONE_LAYOUT_SCORE:
            return reviewed
        if text.startswith("+", start) and start and _INTERNATIONAL_BEFORE.match(text, start - 1):
            return reviewed  # the tail of a version or a time, not a country code
        if _PHONE_LAYOUT.fullmatch(text[start:end]) or is_international_number(text, start, end):
            return PHONE_LAYOUT_SCORE
        return reviewed


# What may not stand right before the '+' of an international number: a digit, '.', '+' or
# '_' (`1.0.0+20240101123` is a version's local part, `00:00+0100` a time's offset).
_INTERNATIONAL_BEFORE = re.compile(r"[\d.+_]")


_GROUP_SEPARATOR = re.compile(r"[\x20.\-/()]")


def is_international_number(text: str, start: int, end: int) -> bool:
    """A number written with its `+` (or grouped `00`) country code that python-phonenumbers
    finds valid in that country (`+55 11 91318-5387`, `+49.1512.2914177`, `0055 11 91318
    5387`): the country code says what the digits are, as a context word would. Numbers
    without one stay a matter of layout or key."""
    match = text[start:end]
    if start and _INTERNATIONAL_BEFORE.match(text, start - 1):
        return False
    if match.startswith("00") and _GROUP_SEPARATOR.search(match):
        # `0055 11 91318-5387`: the international call prefix of most of the world for '+',
        # in groups (a zero-padded id, `0012345678901`, has none).
        match = "+" + match[2:]
    if not match.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(match, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


# entity → its recognizers (CRYPTO has two: Bitcoin, and Ethereum with EIP-55).
RECOGNIZERS: dict[str, tuple[type[ReviewedRecognizer], ...]] = {
    "EMAIL_ADDRESS": (ReviewedEmailRecognizer,),
    "PHONE_NUMBER": (WindowedPhoneRecognizer,),
    "CREDIT_CARD": (CardRecognizer,),
    "IBAN_CODE": (ReviewedIbanRecognizer,),
    "US_SSN": (SsnRecognizer,),
    "US_ITIN": (ItinRecognizer,),
    "US_PASSPORT": (PassportRecognizer,),
    "US_DRIVER_LICENSE": (LicenseRecognizer,),
    "US_BANK_NUMBER": (BankNumberRecognizer,),
    "UK_NHS": (NhsNumberRecognizer,),
    "IP_ADDRESS": (BenignIpRecognizer,),
    "MAC_ADDRESS": (MacRecognizer,),
    "CRYPTO": (BitcoinRecognizer, EthereumRecognizer),
    "URL": (UrlAddressRecognizer,),
}
