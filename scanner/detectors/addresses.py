"""Postal addresses in any text: a Presidio-shaped recognizer (patterns, context, validation).

NER's LOCATION needs a locative word in prose ("lives in ..."), so an address written as an
address ("1234 Maple Street, Springfield, IL 62704", "Lindenstraße 12, 10115 Berlin") went
unseen. An address is made of parts whose forms are few and known per country:

- a street line: a house number and a street-type word, the number before (English, French,
  Spanish, Italian: "27 Acacia Road", "12 rue des Lilas", "5 Via Roma") or after the name
  (German, Dutch, Spanish, Italian: "Lindenstraße 12", "Kerkstraat 4", "Calle Mayor 7",
  "Via Roma 5");
- a postcode beside a place: US ZIP (5 or 5-4 digits) after a state code, a Canadian postal
  code after a province code, a UK postcode
  (outward + inward code), a 4-5 digit postcode before a capitalised city (DE/FR/ES/IT/NL;
  NL with its two letters);
- a PO box and a unit ("Apt 4", "Suite 210", "Flat 3").

A street line alone is an address (0.55: blocks); a postcode, box or unit alone is weak
(0.35) since "T4 8GB" has a UK postcode's shape and "2048 Tokens" a German one's, unless an
address word is near it (context) or a street line is in the same view (one finding over
both, 0.75). Street-type words are matched capitalised (as addresses are written; French
and Spanish types may be lower case after the number), the street name must be capitalised
words, and the number is a house number (1-5 digits, not a version, a decimal or part of a
path), so ZenML metadata ("Load Data 2", "3 layers", "v1.2 Road map", "/srv/Way/2") does not
match. Each decoded or joined view of a leaf (`model.views`) is read on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from presidio_analyzer import Pattern, PatternRecognizer

from metagate.scanner.detectors.base import Hit
from metagate.scanner.model import Leaf, views

ENTITY = "LOCATION"
STREET_SCORE = 0.55
PART_SCORE = 0.35
FULL_SCORE = 0.75
CONTEXT_SCORE = 0.6
_NEAR = 80            # characters between a street line and a postcode of one address
_MAX_VIEW = 20_000    # a longer view is a document: the prose detector's

# A capitalised word of a street or city name ("Maple", "O'Neil", "Saint-Denis", "Cedar").
_CAP = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß'’\-]+"
_HOUSE_NUMBER = r"(?<![\w./:#\-])\d{1,5}(?:[a-zA-Z]\b|\s?(?:bis|ter)\b|-\d{1,4})?(?![\w.,]\d)"
# English types, capitalised, the abbreviation with or without its dot. The first are street
# words only; the others are also common English ("Top 5 Best Place", "Google Drive"): a street
# line with one of them is an address beside another part of one (a postcode, a unit).
_EN_TYPES = r"(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Ln\.?|Boulevard|Blvd\.?|Highway|Hwy\.?|Parkway|Pkwy\.?|Crescent|Mews)"
_EN_COMMON_TYPES = (
    r"(?:Drive|Dr\.?|Way|Court|Ct\.?|Place|Pl\.?|Square|Sq\.?|Terrace|Close|Gardens|Grove|Row|Hill|Walk|Circle|"
    r"Cir\.?|Trail|Trl\.?|Alley|Plaza)"
)
# Types written before the name (FR/ES/IT/PT), any case after a number.
_BEFORE_NAME_TYPES = (
    r"(?:rue|avenue|av\.|boulevard|bd|chemin|allée|impasse|place|quai|cours|route|calle|avenida|avda\.?|paseo|"
    r"plaza|camino|carrer|via|viale|piazza|corso|largo|vicolo|rua|travessa)"
)
_LINKS = r"(?:(?:de|des|du|de la|de l'|d'|la|le|les|del|de los|de las|di|della|dei|degli|da|do|dos)\s+)?"
# Types glued to the name's end (DE/NL/AT/CH), or a separate word after it.
_GLUED_TYPES = (
    r"(?:stra(?:ss|ß)e|str\.|weg|allee|platz|gasse|damm|ufer|chaussee|straat|laan|gracht|plein|kade)"
)
_SEPARATE_AFTER_TYPES = r"(?:Stra(?:ss|ß)e|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer)"
_US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR"
).split()

STREET_PATTERNS = [
    # "1234 Maple Street", "27 Acacia Road", "9 Cedar Hollow Ln"
    Pattern("street (number first)", rf"{_HOUSE_NUMBER},?[\x20\t]+(?:{_CAP}[\x20\t]+){{1,4}}{_EN_TYPES}(?![\w])", STREET_SCORE),
    # "12 rue des Lilas", "7, avenida de la Paz", "5 Via Roma"
    Pattern(
        "street (number, type, name)",
        rf"{_HOUSE_NUMBER},?[\x20\t]+(?i:{_BEFORE_NAME_TYPES})[\x20\t]+(?i:{_LINKS}){_CAP}(?:[\x20\t]+{_CAP}){{0,3}}",
        STREET_SCORE,
    ),
    # "Lindenstraße 12", "Kerkstraat 4a", "Hauptstr. 5"
    Pattern("street (glued type, number)", rf"\b{_CAP[:-1]}*(?i:{_GLUED_TYPES})[\x20\t]*{_HOUSE_NUMBER}", STREET_SCORE),
    # "Unter den Linden Straße 3", "Berliner Allee 20"
    Pattern("street (name, type word, number)", rf"\b(?:{_CAP}[\x20\t]+){{1,3}}{_SEPARATE_AFTER_TYPES}[\x20\t]+{_HOUSE_NUMBER}", STREET_SCORE),
    # "Calle Mayor 7", "Via Roma 5", "Rue de Rivoli 12"
    Pattern(
        "street (type, name, number)",
        rf"\b(?i:{_BEFORE_NAME_TYPES})[\x20\t]+(?i:{_LINKS}){_CAP}(?:[\x20\t]+{_CAP}){{0,3}},?[\x20\t]+{_HOUSE_NUMBER}",
        STREET_SCORE,
    ),
]
PART_PATTERNS = [
    # "12 Kingsmere Way", "40 Marigold Drive": a street line of a common word, a part alone
    Pattern("street (number first, common type)", rf"{_HOUSE_NUMBER},?[\x20\t]+(?:{_CAP}[\x20\t]+){{1,4}}{_EN_COMMON_TYPES}(?![\w])", PART_SCORE),
    # ", IL 62704", "Dayton, OH 45402-1234"
    Pattern("US state and ZIP", rf"\b(?:{'|'.join(_US_STATES)})[\x20\t]+\d{{5}}(?:-\d{{4}})?\b(?![.\-]\d)", PART_SCORE),
    # ", ON M5V 2T6", "Montréal, QC H2X 1Y4": a province and a Canadian postal code (letters
    # D, F, I, O, Q, U never occur in one; W and Z not first)
    Pattern(
        "Canadian province and postcode",
        r"\b(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)[\x20\t]+[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][\x20\t]?\d[ABCEGHJ-NPRSTV-Z]\d\b",
        PART_SCORE,
    ),
    # "LS6 2AB", "SW1A 1AA", "EC1V 9HX"
    Pattern("UK postcode", r"\b[A-Z]{1,2}\d[A-Z\d]?[\x20\t]\d[ABD-HJLNP-UW-Z]{2}\b", PART_SCORE),
    # "10115 Berlin", "75011 Paris", "D-80331 München", "1012 AB Amsterdam"
    Pattern("postcode and city", rf"(?<![\w.\-/:])(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:[\x20\t][A-Z]{{2}})?[\x20\t]+{_CAP}(?:[\x20\t\-]{_CAP})?", PART_SCORE),
    # "PO Box 1234", "P.O. Box 77", "Postfach 10 20 30", "Apartado 45"
    Pattern("PO box", r"\b(?:P\.?[\x20]?O\.?[\x20]?Box|Post[\x20]?Office[\x20]Box|Postfach|Apartado|Casella[\x20]Postale|Boîte[\x20]Postale)[\x20\t]+\d[\d\x20]{0,8}\b", PART_SCORE),
    # "Apt 4B", "Suite 210", "Flat 3", "Unit #12"
    Pattern("unit", r"\b(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Wohnung|Appartement|Piso)[\x20\t]*#?\d{1,5}[A-Z]?\b", PART_SCORE),
]

CONTEXT = [
    "address", "addr", "street", "ship to", "mailing", "shipping", "billing", "deliver", "delivery", "lives", "resides",
    "residence", "postal", "zip", "postcode", "adresse", "anschrift", "wohnt", "domicile", "dirección",
    "direccion", "indirizzo", "adres", "woont",
]
_CONTEXT_BEFORE = re.compile(rf"\b(?:{'|'.join(CONTEXT)})\w*\b[^\n]{{0,40}}$", re.IGNORECASE)

# Things ZenML metadata holds that a street line's shape can take. A street name word that is
# ML or ZenML vocabulary ("3 Dense Layers Way" does not occur; "2 Data Drive" might be a demo)
# is not checked here: the patterns already need a street-type word.
_CHEAP = re.compile(r"\d")


class PostalAddressRecognizer(PatternRecognizer):
    """Street lines, postcodes beside places, PO boxes and units; see the module docstring."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=ENTITY,
            name="PostalAddressRecognizer",
            patterns=STREET_PATTERNS + PART_PATTERNS,
            context=CONTEXT,
            supported_language="en",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # A house number of 0 or a four-digit year before a street word is not an address
        # line ("2024 Road Map"); a postcode/ZIP of all zeros is a placeholder.
        number = re.search(r"\d+", pattern_text)
        if number is not None and number.group().strip("0") == "":
            return False
        return None

    def invalidate_result(self, pattern_text: str) -> bool:
        # "19 Dr." before a name is a count and a title, not a drive: an abbreviation-only
        # street type needs a name of two letters or more before it (the pattern has it).
        words = re.findall(r"[^\W\d_]+", pattern_text)
        return not words


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    kind: str


class AddressScanner:
    """Runs the recognizer's patterns over each view of the leaves that can hold an address."""

    def __init__(self) -> None:
        self.recognizer = PostalAddressRecognizer()
        self._street = [(re.compile(p.regex), p.name) for p in STREET_PATTERNS]
        self._parts = [(re.compile(p.regex), p.name) for p in PART_PATTERNS]

    def scan(self, leaves: Sequence[Leaf], wanted: Iterable[int]) -> Iterable[Hit]:
        for index in wanted:
            text = leaves[index].text
            if _CHEAP.search(text) is None:
                continue
            for offset, view in views(text):
                if len(view) > _MAX_VIEW or _CHEAP.search(view) is None:
                    continue
                yield from (Hit(index, ENTITY, offset + s, offset + e, score) for s, e, score in self.spans(view))

    def spans(self, text: str) -> list[tuple[int, int, float]]:
        """(start, end, score) of the addresses in one view."""
        streets = self._matches(text, self._street)
        parts = self._matches(text, self._parts)
        found: list[tuple[int, int, float]] = []
        used: set[int] = set()
        for street in streets:
            near = [i for i, part in enumerate(parts)
                    if part.start - street.end <= _NEAR and street.start - part.end <= _NEAR]
            if near:
                used.update(near)
                start = min(street.start, *(parts[i].start for i in near))
                end = max(street.end, *(parts[i].end for i in near))
                found.append((start, end, FULL_SCORE))
            else:
                found.append((street.start, street.end, STREET_SCORE))
        for i, part in enumerate(parts):
            if i in used:
                continue
            # Parts of another kind close by: two parts of one address ("Flat 3, ..., Leeds
            # LS6 2AB", "PO Box 9, 10115 Berlin"); two of one kind are a list ("1000 Epochs, 2048 Tokens").
            others = [p for p in parts if p.kind != part.kind
                      and p.start - part.end <= _NEAR // 2 and part.start - p.end <= _NEAR // 2]
            if others:
                found.append((min(part.start, *(p.start for p in others)), max(part.end, *(p.end for p in others)), CONTEXT_SCORE))
            elif _CONTEXT_BEFORE.search(text, max(0, part.start - _NEAR), part.start) is not None or (
                part.kind in ("US state and ZIP", "Canadian province and postcode") and _city_before_state(text, part.start)
            ):
                found.append((part.start, part.end, CONTEXT_SCORE))
            else:
                found.append((part.start, part.end, PART_SCORE))
        return _merged(found)

    def _matches(self, text: str, patterns: list[tuple[re.Pattern[str], str]]) -> list[_Match]:
        matches: list[_Match] = []
        for pattern, name in patterns:
            for match in pattern.finditer(text):
                value = match.group()
                if self.recognizer.validate_result(value) is False or self.recognizer.invalidate_result(value):
                    continue
                matches.append(_Match(match.start(), match.end(), name))
        return matches


_CITY_BEFORE_STATE = re.compile(rf"{_CAP}(?:[\x20]{_CAP}){{0,2}},[\x20]?$")


def _city_before_state(text: str, start: int) -> bool:
    """`Springfield, IL 62704`: a capitalised place and a comma before a state and ZIP."""
    return _CITY_BEFORE_STATE.search(text, max(0, start - 40), start) is not None


def _merged(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Overlapping spans as one, with the highest score (patterns overlap: "12 rue des Lilas"
    is a number-first and a type-first street line)."""
    merged: list[tuple[int, int, float]] = []
    for start, end, score in sorted(spans):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), max(last[2], score))
        else:
            merged.append((start, end, score))
    return merged
