"""Which capitalised words are words: English ones (WordNet's lemmas and their inflected forms),
the language of a text, and that language's dictionary. Used by ner.py, where a name is made of
words that are not words of the text's language ("Dieses Modell", "Bekannte Einschränkungen",
"Uso Previsto" and "Mark Duplicates" name no one; "Kenji Lindqvist" does).

- English: the lemmas of the pinned spaCy pipeline's lemmatizer index (WordNet's nouns, verbs,
  adjectives and adverbs) and spaCy's stop words; a form counts when spaCy's own suffix rules
  (the same `lemma_rules` table) or its irregular forms (`lemma_exc`) lead to a lemma:
  "Duplicates", "Outliers", "Pooling" and "Samples" are words, not surnames.
- The language of a text: the stop words of spaCy's German, French, Spanish, Dutch, Portuguese
  and Italian against its English ones, counted over a bounded prefix of the text. Name
  particles ("de", "van", "la" ...) do not count: "Maria de la Cruz" is no Spanish text.
- Dictionaries: pyspellchecker's word-frequency lists of those languages (a pinned dependency,
  read from its package data, never downloaded). A text in one of them reads that language's
  whole list, with its plural and inflection endings ("Limitaciones" of "limitación" ... a few
  per language, `_ENDINGS`) and, in German and Dutch, compounds of listed words
  ("Kundenabwanderung", "Transactiegeschiedenis"); a text of no detected language (a short value: a run, step or pipeline name) reads
  the words that list attests (a count above its floor) in any of them, for names with no
  given name among their words: "Detección De Fraude", "São Paulo" are words.
Every list is loaded once, on first use.
"""

from __future__ import annotations

import gzip
import json
import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

LANGUAGES: tuple[str, ...] = ("de", "fr", "es", "nl", "pt", "it")
# pyspellchecker's lists give the words they have no count for this floor: above it, a word is
# attested in the language's texts, at or above `_FREQUENT` it is a common word of it.
_ATTESTED = 50
_FREQUENT = 1000
# Words of a name that are also stop words of some language: never evidence of a language.
NAME_PARTICLES = frozenset({"de", "da", "del", "della", "der", "den", "di", "du", "la", "le", "van", "von",
                            "bin", "al", "el", "y", "e", "dos", "das", "do", "ter", "ten", "zu", "vom"})
_DETECTION_CHARS = 4000
# Whole words: a hyphenated name is one word ("Soo-ah"), an elided article its own ("l'", "d'").
_TOKEN = re.compile(r"(?<![\w\-])[^\W\d_]+(?![\w\-])")


@lru_cache(maxsize=len(LANGUAGES) + 1)
def _spacy_stop_words(language: str) -> frozenset[str]:
    """spaCy's stop words of a language, read from its `stop_words.py` alone: importing the
    module would import the language's package first (tokenizer exceptions, lemmatizer: ~1 s
    for six of them)."""
    import importlib.util

    spacy_lang = importlib.util.find_spec("spacy.lang")
    assert spacy_lang is not None and spacy_lang.submodule_search_locations
    path = next(iter(spacy_lang.submodule_search_locations)) + f"/{language}/stop_words.py"
    spec = importlib.util.spec_from_file_location(f"_metagate_stop_words_{language}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(w.lower() for w in module.STOP_WORDS)


@lru_cache(maxsize=1)
def _stop_words() -> dict[str, frozenset[str]]:
    return {language: _spacy_stop_words(language) - NAME_PARTICLES for language in ("en", *LANGUAGES)}


def language_of(text: str) -> str | None:
    """The language other than English whose stop words the text uses most, if it uses more of
    them than English ones (at least two, or one of three letters or more in a text of four
    words or fewer). Hyphenated words are no stop words."""
    stops = _stop_words()
    words = [w.lower() for w in _TOKEN.findall(text[:_DETECTION_CHARS])]
    if not words:
        return None
    short = len(words) <= 4
    if short:   # one stop word decides: not a two-letter one ("ah" of a name)
        words = [w for w in words if len(w) >= 3]
    english = sum(1 for w in words if w in stops["en"])
    counts = {language: sum(1 for w in words if w in stops[language]) for language in LANGUAGES}
    language, count = max(counts.items(), key=lambda item: item[1])
    needed = 1 if short else 2
    if count < needed or count <= english:
        return None
    return language


def hinted_languages(text: str) -> tuple[str, ...]:
    """Languages a text of no detected language may be in, by the name particles it uses as
    words ("Anzahl der Beschwerden": German or Dutch; "Detección De Fraude": any with "de")."""
    words = {w.lower() for w in _TOKEN.findall(text[:_DETECTION_CHARS])} & NAME_PARTICLES
    if not words:
        return ()
    stops = _particle_languages()
    return tuple(language for language in LANGUAGES if words & stops[language])


@lru_cache(maxsize=1)
def _particle_languages() -> dict[str, frozenset[str]]:
    return {language: _spacy_stop_words(language) & NAME_PARTICLES for language in LANGUAGES}


def _counts(language: str) -> dict[str, int]:
    """A list as pyspellchecker ships it (word → count). Not kept: only the sets made of it are."""
    path = resources.files("spellchecker").joinpath(f"resources/{language}.json.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return json.load(text)


# Endings a listed word takes in running text: (ending, what the listed form ends in instead).
_ENDINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "de": (("en", ""), ("n", ""), ("e", ""), ("er", ""), ("es", ""), ("s", ""), ("er", "en"), ("ern", ""),
           ("em", ""), ("ungen", "ung"), ("innen", "in")),
    "nl": (("en", ""), ("s", ""), ("en", "e"), ("e", ""), ("er", ""), ("tjes", ""), ("jes", "")),
    "fr": (("s", ""), ("x", ""), ("es", ""), ("e", ""), ("aux", "al")),
    "es": (("s", ""), ("es", ""), ("ones", "ón"), ("iones", "ión"), ("a", "o"), ("as", "o"), ("os", "o"),
           ("ces", "z")),
    "pt": (("s", ""), ("es", ""), ("ões", "ão"), ("ais", "al"), ("a", "o"), ("as", "o"), ("os", "o")),
    "it": (("i", "o"), ("e", "a"), ("i", "e"), ("he", "a"), ("hi", "o")),
}
# German and Dutch join words into one ("Kunden" + "abwanderung", "Nutzung" + "s" + "daten").
_COMPOUNDING = frozenset({"de", "nl"})
_LINKS = ("", "s", "n", "en", "es", "e")
_MIN_PART = 3


# Longer than this, a "word" is no dictionary's (and compounds are not split: that is
# quadratic in the word's length).
_MAX_WORD = 48


def is_word(word: str, language: str) -> bool:
    """Whether a lower-case word is one of the language's: listed, an inflected form of a listed
    word, or (German, Dutch) a compound of such words."""
    return len(word) <= _MAX_WORD and _is_word(word, language, 2)


@lru_cache(maxsize=65536)
def _is_word(word: str, language: str, depth: int) -> bool:
    words = dictionary(language)
    if word in words:
        return True
    for ending, listed in _ENDINGS.get(language, ()):
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_PART and word[: len(word) - len(ending)] + listed in words:
            return True
    if depth == 0 or language not in _COMPOUNDING or len(word) < 2 * _MIN_PART:
        return False
    for cut in range(len(word) - _MIN_PART, _MIN_PART - 1, -1):
        head, tail = word[:cut], word[cut:]
        if not _is_word(tail, language, depth - 1):
            continue
        for link in _LINKS:
            if link and not head.endswith(link):
                continue
            stem = head[: len(head) - len(link)] if link else head
            if len(stem) >= _MIN_PART and stem in words:
                return True
    return False


class WordHashes:
    """A set of words kept as the sorted 64-bit hashes of their texts (8 bytes a word, where a
    set of strings takes ~70): the dictionaries hold 86,000 to 417,000 words each. Hashes are
    this process's own (`hash`), made and read in it; a collision (about 1 in 10^13 per lookup
    at these sizes) makes a word a word."""

    def __init__(self, words: Iterable[str]) -> None:
        self._hashes = array("q", sorted({hash(word) for word in words}))

    def __contains__(self, word: object) -> bool:
        value = hash(word)
        at = bisect_left(self._hashes, value)
        return at < len(self._hashes) and self._hashes[at] == value

    def __len__(self) -> int:
        return len(self._hashes)


@lru_cache(maxsize=len(LANGUAGES))
def dictionary(language: str) -> WordHashes:
    """Every word of the language's list (lower case)."""
    return WordHashes(_counts(language))


@lru_cache(maxsize=2 * len(LANGUAGES) + 2)
def frequent_words(language: str, floor: int = _FREQUENT) -> frozenset[str]:
    """The language's common words (`language` may be "en" too): a given name among them is
    a word first ("Ernst"), and so is a surname ("List", "Stone") after a weak given name."""
    return frozenset(w for w, n in _counts(language).items() if n >= floor)


@lru_cache(maxsize=1)
def attested_anywhere() -> WordHashes:
    """Words attested in any of the languages' lists (a count above the floor)."""
    words: set[str] = set()
    for language in LANGUAGES:
        words.update(w for w, n in _counts(language).items() if n > _ATTESTED)
    return WordHashes(words)


class EnglishWords:
    """WordNet's lemmas and spaCy's stop words, and the forms spaCy's lemmatizer rules reduce to
    them (suffix rules of every part of speech, and irregular forms)."""

    def __init__(self, lemmas: frozenset[str], rules: tuple[tuple[str, str], ...], irregular: frozenset[str]) -> None:
        self.lemmas = lemmas
        self.rules = tuple(rule for rule in rules if rule[0])
        self.irregular = irregular

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        if word in self.lemmas or word in self.irregular:
            return True
        for suffix, replacement in self.rules:
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                if word[: len(word) - len(suffix)] + replacement in self.lemmas:
                    return True
        return False
