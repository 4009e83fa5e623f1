"""What every match of a PII entity contains: the triggers the PII detector looks for first.

A leaf goes to Presidio only with the entities whose trigger fires on it (prefilter.py).
"""

from __future__ import annotations

from metagate.scanner.prefilter import Trigger

# Each is a necessary condition on the masked text the analyzer sees, and so on the text as
# sent too: `masking.mask_metadata` only replaces characters by '_', and no trigger below matches
# '_' (the email trigger is '@', which masking never adds). No trigger matches NUL, so none
# crosses from one leaf into the next.
ENTITY_TRIGGERS: dict[str, tuple[Trigger, ...]] = {
    "EMAIL_ADDRESS": (Trigger.text("@"),),
    # `recognizers.PHONE_CANDIDATE` windows with at least seven digits.
    "PHONE_NUMBER": (Trigger.regex(r"\d(?:[\x20\t().\-/]*\d){6}"),),
    # `recognizers.CardRecognizer`: no network issues fewer than 14 digits, and in a match
    # no two digits are more than two separators (space, '-', '.', '/', '|') apart.
    "CREDIT_CARD": (Trigger.regex(r"\d(?:[\x20\-./|]{0,2}\d){13}"),),
    "IBAN_CODE": (Trigger.regex(r"[A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2}", ignore_case=True),),
    # 5-4, 3-6, 3-2-4 and nine straight digits.
    "US_SSN": (Trigger.regex(r"\d{3}[- .]?\d{2}[- .]?\d{4}|\d{3}-\d{6}"),),
    "US_ITIN": (Trigger.regex(r"9\d{2}[- ]?\d{2}[- ]?\d{4}"),),
    "US_PASSPORT": (Trigger.regex(r"\d{8}"),),
    "US_DRIVER_LICENSE": (Trigger.regex(r"\d"),),
    "US_BANK_NUMBER": (Trigger.regex(r"\d{8}"),),
    "UK_NHS": (Trigger.regex(r"\d{3}[- ]?\d{3}[- ]?\d{4}"),),
    # IPv4 (also inside the mapped and embedded forms); every IPv6 form has "::" or ":h:".
    "IP_ADDRESS": (Trigger.regex(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d"), Trigger.regex(r":[0-9A-Fa-f]{0,4}:")),
    "MAC_ADDRESS": (Trigger.regex(r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\."),),
    # Bitcoin: (bc1|[13]) then 25 or more of a caseless alphanumeric alphabet: "1" or "3"
    # then 25 word characters that are not '_' (caseless matching folds some non-ASCII).
    # Ethereum: 0x and 40 hex digits (Presidio matches patterns ignoring case: 0X too).
    "CRYPTO": (Trigger.regex(r"[13][^\W_]{25}"), Trigger.regex(r"0[xX][0-9a-fA-F]{40}")),
}


ANY_DIGIT = Trigger.regex(r"\d")
# Pattern triggers that can fire on text without a digit (hex letters around colons).
DIGITLESS_TRIGGERS = frozenset({ENTITY_TRIGGERS["IP_ADDRESS"][1], ENTITY_TRIGGERS["MAC_ADDRESS"][0]})
