"""What a user-data field's key says about its value: field-name semantics.

A JSON key is the strongest context a structured payload has: `{"ssn": "123456789"}` is a
social security number although nine bare digits are nothing in prose, and
`{"labeler": "Maria Gonzalez"}` is a person although no recognizer matches a name. The
vocabulary (field_vocabulary.json beside this module, data rather than code) names the
categories of personal data by the words their keys are made of; keys are split into words,
so `patient_name`, `patientName`, `PATIENT-NAME` and `patientname` read the same. The leaf's
own key names the category (its parent may give the first words: `{"tax": {"id": ...}}`);
above a key that only holds a value (`value`, `number`, `id`, `e164` ...), the parent names a
number-shaped one (`{"ssn": {"value": ...}}`, `{"taxpayer": {"id": ...}}`).

It is used twice:
- as context for the PII recognizers (pii.py): the words of the leaf's key path and the
  context words of the categories its key names are put before the leaf as its label, and a
  recognizer's match over the whole value of a field whose key names that entity scores at
  least `KEY_CONTEXT_SCORE` (a bare SSN under `ssn` or `tax_id`);
- as findings of its own (`FieldSemanticsDetector`): a value whose shape fits what its key
  names (two to four capitalised words under a name key, a street address under an address
  key, the right count of digits under an id key) is reported as that entity.

Only keys of user data count: the key of a leaf in a user dict (`user_dict`) or of a field
the schema does not declare (`unknown`). ZenML's own field names (a pipeline's `name`, a
user's `full_name`) say what ZenML stores there, not what a user put in it, and a bare `name`
is no category at all: only a name *of someone* (`customer_name`, `{"customer": {"name"}}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar

from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.model import Leaf, views
from metagate.scanner.prefilter import USER_KEY_CLASSES, context_keys

# A recognizer's match over a whole value whose key names its entity scores at least this
# (above the policy's blocking threshold, 0.5).
KEY_CONTEXT_SCORE = 0.6
FIELD_SCORE = 0.7

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def key_words(key: str) -> tuple[str, ...]:
    """`billing_address_line1` → (billing, address, line, 1); `userPhone` → (user, phone);
    `SSN` → (ssn,); `HTTPServer` → (http, server). Lower case, a final plural 's' dropped."""
    return tuple(_stem(word.lower()) for word in _WORD.findall(key))


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    entity: str | None            # the finding made when the value has `shape`
    shape: str | None
    words: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]
    unless: frozenset[str]
    supports: frozenset[str]      # Presidio entities the key confirms
    cues: tuple[str, ...]         # context words for Presidio's recognizers
    head_only: bool = False       # `words` count only as the key's last word (`customer`, not `customer_ref`)
    not_personal: bool = False    # the value names no one (a cloud region): NER skips it
    # `phrases` by length, as sets: a key's few word windows are looked up, not every phrase
    # compared at every end (a vocabulary of hundreds of phrases made that ~1 ms per new path).
    phrases_by_size: tuple[tuple[int, frozenset[tuple[str, ...]]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = sorted({len(p) for p in self.phrases})
        by_size = tuple((n, frozenset(p for p in self.phrases if len(p) == n)) for n in sizes)
        object.__setattr__(self, "phrases_by_size", by_size)

    def ends_in(self, words: Sequence[str], own: int) -> bool:
        """Whether the category is named by `words` (parent key words, then the leaf key's
        from index `own` on) with the match ending within the leaf's own key."""
        if self.unless and any(w in self.unless for w in words[own:]):
            return False
        if self.head_only:
            named = [w for w in words[own:] if not w.isdigit()]
            if named and named[-1] in self.words:
                return True
        elif any(words[index] in self.words for index in range(own, len(words))):
            return True
        for size, phrases in self.phrases_by_size:
            for end in range(max(own, size - 1), len(words)):
                if tuple(words[end - size + 1 : end + 1]) in phrases:
                    return True
        return False


@dataclass(frozen=True, slots=True)
class KeySemantics:
    """What a leaf's key path says: the categories its key names and its context words."""

    categories: tuple[Category, ...]
    label: str                    # words of the key path, then the categories' cues

    @property
    def supports(self) -> frozenset[str]:
        return frozenset(e for c in self.categories for e in c.supports)

    def names(self, category: str) -> bool:
        return any(c.name == category for c in self.categories)


NO_SEMANTICS = KeySemantics((), "")


def _load_vocabulary() -> tuple[Category, ...]:
    raw = json.loads(resources.files("metagate.scanner.detectors").joinpath("field_vocabulary.json").read_text(encoding="utf-8"))
    categories = []
    for name, spec in raw["categories"].items():
        words = {_stem(w) for w in spec.get("words", ())}
        phrases = {tuple(key_words(p)) for p in spec.get("phrases", ())}
        heads = [key_words(h) for h in spec.get("heads", ())]
        for qualifier in spec.get("qualifiers", ()):
            for head in heads:
                phrases.add((*key_words(qualifier), *head))
        # A phrase written as one word reads the same: fullname, accountholder, zipcode.
        words |= {_stem("".join(phrase)) for phrase in phrases if len(phrase) > 1}
        categories.append(
            Category(
                name=name,
                entity=spec.get("entity"),
                shape=spec.get("shape"),
                words=frozenset(words),
                phrases=tuple(sorted(p for p in phrases if len(p) > 1)),
                unless=frozenset(_stem(w) for w in spec.get("unless", ())),
                supports=frozenset(spec.get("supports", ())),
                cues=tuple(spec.get("cues", ())),
                head_only=bool(spec.get("head_only", False)),
                not_personal=bool(spec.get("not_personal", False)),
            )
        )
    return tuple(categories)


VOCABULARY: tuple[Category, ...] = _load_vocabulary()


# Keys that only say "the value of": under one, the parent key names what the number is
# (`{"ssn": {"value": ...}}`, `{"taxpayer": {"id": ...}}`, `{"phone": {"e164": ...}}`), for the
# categories whose values are numbers (a person's name needs its own key).
_HOLDER_WORDS = frozenset(
    "value number no num nr id code digit full last raw e164 international national formatted text string str data".split()
)
_NUMBER_SHAPES = frozenset({"phone", "ssn", "card_number", "account_number", "routing_number", "document_number"})


def _named_categories(keys: Sequence[str]) -> tuple[Category, ...]:
    own = key_words(keys[-1])
    parent = key_words(keys[-2]) if len(keys) > 1 else ()
    words = (*parent, *own)
    categories = tuple(c for c in VOCABULARY if c.ends_in(words, len(parent)))
    holder = own and ("".join(own) in _HOLDER_WORDS or all(w in _HOLDER_WORDS or w.isdigit() for w in own))
    if not categories and len(keys) > 1 and holder:
        categories = tuple(c for c in _named_categories(keys[:-1]) if c.shape in _NUMBER_SHAPES)
    return categories


# Words that name a category only as a key's last word (`head_only`): elsewhere in a key they
# are no context either (`mobile_users` is a count, and "mobile" would raise a phone score).
_HEAD_ONLY_WORDS = frozenset(w for c in VOCABULARY if c.head_only for w in c.words)


def _context_words(key: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(key) if not w.isdigit()]
    last = len(words) - 1
    return [w for i, w in enumerate(words) if i == last or _stem(w) not in _HEAD_ONLY_WORDS]


@lru_cache(maxsize=4096)
def entities_named_by(label: str) -> frozenset[str]:
    """The Presidio entities a label in text names as a key would (`SSN`, `tax id`,
    `customer msisdn`): "SSN: 536228814" says what "536228814" is as `{"ssn": ...}` does."""
    return frozenset(e for c in _named_categories((label,)) for e in c.supports)


def semantics_of_path(path: str) -> KeySemantics:
    return _semantics_of_keys(context_keys(path))


@lru_cache(maxsize=16384)  # keys repeat request after request, and over the items of a list
def _semantics_of_keys(keys: tuple[str, ...]) -> KeySemantics:
    if not keys:
        return NO_SEMANTICS
    categories = _named_categories(keys)
    context = [w for k in keys for w in _context_words(k)]
    cues = [cue for c in categories for cue in c.cues if cue not in context]
    return KeySemantics(categories, " ".join(dict.fromkeys(context + cues)))


def semantics(leaf: Leaf) -> KeySemantics:
    """The key semantics of a value leaf whose key the user chose (none for declared keys
    and for key leaves themselves)."""
    if leaf.is_key or leaf.field_class not in USER_KEY_CLASSES:
        return NO_SEMANTICS
    return semantics_of_path(leaf.path)


# --- value shapes ---------------------------------------------------------------------
# Each takes the stripped value and the key's words, and answers whether it has the shape.

# A word of a name: an initial ("J."), a capitalised word with inner capitals or apostrophes
# ("McDonald", "O'Neil", "Jean-Luc"), a word in capitals, or a lower-case word. Each repeat
# starts with a character the one before cannot take, so a failing match backtracks linearly.
_NAME_WORD = r"(?:[A-Z][a-z]*\.|[A-Z][a-zà-ÿ]*(?:['’\-][A-Za-zà-ÿ]+|[A-Z][a-zà-ÿ]+)*|[A-Z][A-Z]+|[a-zà-ÿ]{2,})"
_PARTICLES = frozenset({"de", "da", "del", "della", "der", "den", "van", "von", "la", "le", "di", "du", "bin", "al", "el", "y", "e"})
_PERSON = re.compile(rf"{_NAME_WORD}(?:,?\s+{_NAME_WORD}){{0,4}}")
_INITIAL = re.compile(r"[A-Z]\.")
# Words that make a capitalised phrase an organisation, a product or a thing, not a person.
_NOT_PERSON = frozenset(
    """
    ai inc ltd llc gmbh ag sa corp co company team teams group labs lab research university institute
    foundation project org bank hospital clinic service services system systems data pipeline
    model models step steps run test tests demo default unknown none null true false na n/a
    admin root user users bot automation auto manual script job platform engineering ops mlops
    devops infra infrastructure department dept division squad office committee board council
    center centre operations analytics science sciences intelligence learning solutions
    technologies tech software cloud network community partners consulting customer customers
    client clients support sales marketing finance legal security staff anonymous anon tbd
    """.split()
)
_STREET_WORDS = frozenset(
    """
    street st road rd avenue ave av lane ln drive dr boulevard blvd way court ct place pl square sq
    terrace highway hwy parkway pkwy circle crescent close row alley strasse straße str weg platz
    gasse allee ring rue chemin via viale piazza calle avenida carrera rua praça straat laan plein
    apt apartment suite unit floor box
    """.split()
)
_DIGITS_SEPARATED = re.compile(r"\+?[\d\x20().\-/]+")
_DOCUMENT = re.compile(r"(?=[A-Za-z0-9\-\x20/]{5,24}$)[A-Za-z0-9]+(?:[\-\x20/][A-Za-z0-9]+)*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_HEX_DIGEST = re.compile(r"(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})")
_IBAN = re.compile(r"[A-Za-z]{2}\d{2}(?:[\x20\-]?[A-Za-z0-9]){11,30}")
_SWIFT = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_POSTAL = re.compile(r"(?=.*\d)[A-Za-z0-9]{2,5}(?:[\x20\-][A-Za-z0-9]{2,4})?")
_HEALTH_TEXT = re.compile(r"(?=.*[A-Za-z]{2}).{2,200}", re.DOTALL)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUMBER = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:1[89]|20)\d\d"
_DATE = re.compile(
    rf"{_YEAR}[-/.]{_MONTH_NUMBER}[-/.]{_DAY}(?:[T\x20]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?"
    rf"|{_DAY}[-/.]{_MONTH_NUMBER}[-/.]{_YEAR}|{_MONTH_NUMBER}[-/.]{_DAY}[-/.]{_YEAR}"
    rf"|{_DAY}\.?\s+{_MONTH}\s+{_YEAR}|{_MONTH}\s+{_DAY},?\s+{_YEAR}|{_YEAR}{_MONTH_NUMBER}{_DAY}"
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:19|20)\d\d",
    re.IGNORECASE,
)


def _digits(value: str) -> str | None:
    """The digits of a value made only of digits and phone/number separators."""
    if not _DIGITS_SEPARATED.fullmatch(value):
        return None
    return "".join(ch for ch in value if ch.isdigit())


def _person(value: str, key: Sequence[str], min_words: int, any_case: bool) -> bool:
    if len(value) > 80 or not _PERSON.fullmatch(value):
        return False
    words = [w for w in re.split(r"[,\s]+", value) if w]
    real = [w for w in words if w.lower() not in _PARTICLES]
    if not min_words <= len(real) <= 4:
        return False
    lowered = [w.lower().strip(".") for w in real]
    if set(map(_stem, lowered)) <= set(key):
        return False  # a title repeating its key ("Patient Name")
    if any(w in _NOT_PERSON or w in _ml_words() for w in lowered):
        return False
    if (not any_case or len(real) == 1) and not all(w[0].isupper() for w in real):
        return False  # one lower-case word is a handle ("jdoe", "default"), not a name
    if any(w.isupper() and len(w) <= 3 and not _INITIAL.fullmatch(w) for w in real):
        return False  # an acronym ("ML Platform", "NLP Team") names a thing; "O." is an initial
    return any(len(w.strip(".")) > 1 for w in real)


@lru_cache(maxsize=1)
def _ml_words() -> frozenset[str]:
    from metagate.scanner.detectors.vocabulary import ML_DENY_LIST

    return ML_DENY_LIST


def _address(value: str) -> bool:
    if len(value) > 200:
        return False
    words = re.findall(r"[^\W\d_]+", value)
    if len(words) < 1:
        return False
    has_number = re.search(r"\d", value) is not None
    street = any(w.lower().strip(".") in _STREET_WORDS for w in words) or re.search(
        r"(?:stra(?:ss|ß)e|weg|gasse|platz|allee|laan|straat)\b", value, re.IGNORECASE
    ) is not None
    parts = [p for p in re.split(r"[,\n;]", value) if p.strip()]
    return (has_number and (street or len(parts) >= 2 or len(words) >= 2)) or (street and len(words) >= 2) or len(parts) >= 3


def _document(value: str) -> bool:
    if not _DOCUMENT.fullmatch(value) or _UUID.fullmatch(value) or _HEX_DIGEST.fullmatch(value.lower()):
        return False
    return sum(ch.isdigit() for ch in value) >= 4


def has_shape(shape: str, value: str, key: Sequence[str]) -> bool:
    if shape == "person_name":
        return _person(value, key, 1, any_case=True)
    if shape == "person_words":
        return _person(value, key, 2, any_case=False)
    if shape == "address":
        return _address(value)
    if shape == "postal_code":
        return bool(_POSTAL.fullmatch(value))
    if shape == "date":
        return bool(_DATE.fullmatch(value))
    if shape == "health_text":
        return bool(_HEALTH_TEXT.fullmatch(value)) and value.lower() not in _NOT_PERSON
    if shape == "iban":
        return bool(_IBAN.fullmatch(value))
    if shape == "swift":
        return bool(_SWIFT.fullmatch(value.upper())) and not value.isdigit()
    if shape == "document_number":
        return _document(value)
    digits = _digits(value)
    if digits is None:
        return False
    if shape == "phone":
        return 7 <= len(digits) <= 15
    if shape == "ssn":
        return len(digits) == 9 and _valid_ssn(digits)
    if shape == "card_number":
        return 12 <= len(digits) <= 19
    if shape == "account_number":
        return 6 <= len(digits) <= 20
    if shape == "routing_number":
        return len(digits) in (6, 8, 9)
    raise ValueError(f"unknown field shape {shape!r}")


@lru_cache(maxsize=1)
def _ssn_recognizer() -> Any:
    from presidio_analyzer.predefined_recognizers import UsSsnRecognizer

    return UsSsnRecognizer()


def _valid_ssn(digits: str) -> bool:
    # Presidio's own validation: numbers the SSA never issues and published placeholders.
    return not _ssn_recognizer().invalidate_result(digits)


SHAPES: frozenset[str] = frozenset(
    """person_name person_words address postal_code date health_text iban swift
    document_number phone ssn card_number account_number routing_number""".split()
)
for _category in VOCABULARY:
    if (_category.shape is None) != (_category.entity is None) or (_category.shape and _category.shape not in SHAPES):
        raise ValueError(f"field vocabulary: category {_category.name!r} needs an entity and a known shape")


@dataclass(frozen=True, slots=True)
class FieldSettings:
    """The `detectors.fields` config section: `FieldSemanticsDetector`'s keyword arguments."""

    score: float = FIELD_SCORE


class FieldSemanticsDetector(Detector):
    """A value whose shape fits what its user-chosen key names is that entity."""

    name: ClassVar[str] = "fields"
    category: ClassVar[str] = "pii"
    settings_type = FieldSettings
    # Hits depend on the leaf's text, class and key path (LeafDetection keys its cache by the
    # path's context keys, `prefilter.context_keys`).
    leaf_local: ClassVar[bool] = True
    _MAX_VALUE = 256   # a field value, not a document: longer texts are prose's detectors'

    def __init__(self, score: float = FIELD_SCORE) -> None:
        self.score = score

    def wants(self, leaf: Leaf) -> bool:
        return not leaf.is_key and leaf.field_class in USER_KEY_CLASSES

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        for index, leaf in enumerate(leaves):
            if not self.wants(leaf):
                continue
            meaning = semantics_of_path(leaf.path)
            if not meaning.categories:
                continue
            key = key_words(context_keys(leaf.path)[-1])
            # The value as sent and each decoded or joined view of it (a name in base64 under
            # `patient_name` is a name); one hit per leaf.
            hit = next(
                (
                    Hit(index, category.entity, start, start + len(value), self.score)  # type: ignore[arg-type]
                    for offset, view in views(leaf.text)
                    if len(view) <= self._MAX_VALUE and (value := view.strip())
                    for start in (offset + len(view) - len(view.lstrip()),)
                    for category in meaning.categories
                    if category.shape is not None and has_shape(category.shape, value, key)
                ),
                None,
            )
            if hit is not None:
                yield hit
