"""PII in request strings: Presidio's pattern recognizers, and NER where names can be.

Where the parts live: the recognizers (patterns, context, validation, and the review of a
result in its leaf) in recognizers.py; each entity's trigger in pii_triggers.py; metadata
masking in masking.py; key semantics in fields.py; NER in ner.py. This module runs them.

Why this shape:
- Only Presidio's pattern recognizers (email, phone, card, IBAN, US/UK ids, IP, MAC, crypto)
  run by default, on Presidio's no-op NLP engine: nothing to download, nothing to tokenize.
  Context words ("phone", "ssn", ...) still raise scores, through an enhancer that reads
  the words just before a match within its own leaf.
- One `analyze` call per request, for the entities that can match at all and over the leaves
  where they can. Leaves with no digit and no '@' are left out; the others are masked (below)
  and then each entity's trigger, something every match contains ('@' for an email, seven
  digits with phone separators between them for a phone number; see `prefilter`), is looked
  for in one pass over them all. Entities whose scores cannot reach the threshold without a
  context word also need one of their context words in the leaf or its key. The leaves left
  are joined into one text with a separator no recognizer matches across, and hits are mapped
  back to (leaf, offset). Each leaf is preceded by the words of its JSON key, so
  `{"ssn": "..."}` gets the same context boost as "ssn: ..." in prose.
- ZenML's own metadata (UUIDs, hashes, timestamps, versions, package pins) is masked before
  analysis with same-length filler, so offsets stay true and no recognizer can fire on it;
  masking never hides a number a recognizer would match (masking.py).
- In user data the label is the words of the last keys of the path and the context words of
  what they name (fields.py), and a match over the whole value of a key that names its
  entity scores at least `fields.KEY_CONTEXT_SCORE`.
- NER (PERSON, LOCATION) is a detector of its own (ner.py, config section `ner`); postal
  addresses by their parts are found here (addresses.py).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from metagate.scanner.cache import text_key
from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.detectors.addresses import AddressScanner
from metagate.scanner.detectors.fields import KEY_CONTEXT_SCORE, semantics, semantics_of_path
from metagate.scanner.detectors.masking import mask_metadata as _mask_metadata
from metagate.scanner.detectors.masking import mask_numeric_runs as _mask_numeric_runs
from metagate.scanner.detectors.pii_triggers import ANY_DIGIT as _ANY_DIGIT
from metagate.scanner.detectors.pii_triggers import DIGITLESS_TRIGGERS as _DIGITLESS_TRIGGERS
from metagate.scanner.detectors.pii_triggers import ENTITY_TRIGGERS as _ENTITY_TRIGGERS
from metagate.scanner.detectors.recognizers import MIN_PHONE_DIGITS as _MIN_PHONE_DIGITS
from metagate.scanner.detectors.recognizers import PHONE_CANDIDATE as _PHONE_CANDIDATE
from metagate.scanner.detectors.recognizers import RECOGNIZERS, ReviewedRecognizer
from metagate.scanner.detectors.recognizers import WindowedPhoneRecognizer as _WindowedPhoneRecognizer
from metagate.scanner.model import PROVEN_CLASSES, Leaf, views
from metagate.scanner.offline import make_offline
from metagate.scanner.prefilter import USER_KEY_CLASSES, JoinedTexts, Trigger, last_key
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from presidio_analyzer.recognizer_registry import RecognizerRegistry
from spacy.lang.en.stop_words import STOP_WORDS

__all__ = ["DEFAULT_ENTITIES", "OPTIONAL_ENTITIES", "PiiSettings", "PresidioPiiDetector",
           "_MIN_PHONE_DIGITS", "_PHONE_CANDIDATE", "_WindowedPhoneRecognizer"]

DEFAULT_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_BANK_NUMBER",
    "UK_NHS",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "CRYPTO",
)
# URL is supported but off by default: ZenML metadata is full of legitimate URLs.
OPTIONAL_ENTITIES: tuple[str, ...] = ("URL",)
# Between leaves: blank lines around an ASCII unit separator. No recognizer pattern crosses
# it (it is not a word character, digit, '@' or URL character) and context stops at it.
_SEPARATOR_MARK = "\x1f"
_SEPARATOR = "\n" + _SEPARATOR_MARK + "\n"
_CONTEXT_WORD = re.compile(r"[a-z][a-z0-9#]*")
_LABEL_WORD = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")

_DIGIT = re.compile(r"\d")
_MAX_EMPTY_SHAPES = 65536


def _context_label(leaf: Leaf) -> str:
    """Words of the nearest JSON key, e.g. `$.user.phoneNumber[0]` → "phone number"; in user
    data, the words of the last keys of the path and the context words of what they name
    (`$.values.customer.tax_id` → "values customer tax id ssn itin", see fields.py)."""
    if leaf.is_key:
        return ""
    if leaf.field_class in USER_KEY_CLASSES:
        return semantics_of_path(leaf.path).label
    words = _LABEL_WORD.findall(_CAMEL.sub(" ", last_key(leaf.path)))
    return " ".join(w.lower() for w in words[:4])


def _recognizers(entities: Sequence[str]) -> list[tuple[str, ReviewedRecognizer]]:
    """(entity, recognizer) pairs for the configured entities."""
    unknown = sorted(set(entities) - set(RECOGNIZERS))
    if unknown:
        raise ValueError(f"unsupported PII entities: {unknown}")
    return [(entity, kind()) for entity in entities for kind in RECOGNIZERS[entity]]


def _max_score_without_context(recognizer: EntityRecognizer) -> float:
    """The best score a recognizer gives with no context word: a passing validator (Luhn,
    IBAN, NHS checksum, email domain) scores 1.0, else the best pattern's score."""
    if not isinstance(recognizer, PatternRecognizer):
        return float(getattr(recognizer, "SCORE", EntityRecognizer.MAX_SCORE))
    if type(recognizer).validate_result is not PatternRecognizer.validate_result:
        return EntityRecognizer.MAX_SCORE
    return max((pattern.score for pattern in recognizer.patterns), default=EntityRecognizer.MAX_SCORE)


class _Segments:
    """The joined analysis text and where each leaf's text sits in it."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.starts: list[int] = []   # offset of each leaf text in the joined text
        self.ends: list[int] = []
        self.leaves: list[int] = []   # index into the detector's leaves
        self.length = 0

    def add(self, leaf_index: int, label: str, text: str) -> None:
        head = _SEPARATOR + (label + ": " if label else "")
        self.chunks.append(head)
        self.length += len(head)
        self.starts.append(self.length)
        self.chunks.append(text)
        self.length += len(text)
        self.ends.append(self.length)
        self.leaves.append(leaf_index)

    def text(self) -> str:
        return "".join(self.chunks) + _SEPARATOR

    def locate(self, start: int, end: int) -> Iterable[tuple[int, int, int]]:
        """(segment, start, end) in leaf coordinates for each leaf the span overlaps."""
        seg = bisect.bisect_right(self.starts, start) - 1
        seg = max(seg, 0)
        while seg < len(self.starts) and self.starts[seg] < end:
            lo, hi = max(start, self.starts[seg]), min(end, self.ends[seg])
            if lo < hi:
                yield seg, lo - self.starts[seg], hi - self.starts[seg]
            seg += 1


def _cue_matches(cue: str, word: str) -> bool:
    """A context cue supports a word it begins ("phone" → "phones", "lic" → "license").
    Presidio's default is any substring, which lets "lic" fire on "public" and "us" on
    "status"; cues under three letters must match the whole word."""
    cue = cue.strip().lower()
    return word == cue or (len(cue) >= 3 and word.startswith(cue))


class _SegmentContextEnhancer(ContextAwareEnhancer):
    """Presidio's lemma context rule (a recognizer context word within the five words before
    a match raises its score by 0.35, to at least 0.4) computed on the text of the match's own
    leaf and key label only. Presidio's enhancer walks every token of the text for every
    result and would read context across leaf boundaries; this one reads one short window,
    and matches cues as word prefixes rather than substrings (see `_cue_matches`)."""

    _WINDOW_CHARS = 120

    def __init__(self, cues: Iterable[str] = ()) -> None:
        super().__init__(
            context_similarity_factor=0.35,
            min_score_with_context_similarity=0.4,
            context_prefix_count=5,
            context_suffix_count=0,
        )
        # The context words of every configured recognizer, whichever of them one analyze
        # call runs: they decide which stop words count towards the five-word window.
        self.cues = frozenset(cue.lower() for cue in cues)

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        # spaCy lists some cues ("call") as stop words: keep those.
        cues = self.cues or {cue.lower() for recognizer in recognizers for cue in recognizer.context or ()}
        for result in raw_results:
            if result.recognition_metadata is None:
                result.recognition_metadata = {}
            metadata = result.recognition_metadata
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if recognizer is None or not recognizer.context:
                continue
            if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = self._words_before(text, result.start, cues)
            if any(_cue_matches(cue, word) for cue in recognizer.context for word in words):
                result.score = min(
                    max(result.score + self.context_similarity_factor, self.min_score_with_context_similarity),
                    self.MAX_SCORE,
                )
                metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_results

    def _words_before(self, text: str, start: int, cues: frozenset[str] | set[str]) -> list[str]:
        window = text[max(0, start - self._WINDOW_CHARS) : start]
        window = window[window.rfind(_SEPARATOR_MARK) + 1 :]  # this leaf and its label only
        words = [w for w in _CONTEXT_WORD.findall(window.lower()) if w in cues or w not in STOP_WORDS]
        return words[-self.context_prefix_count :]


def _named_by_key(leaf: Leaf, entity: str, start: int, end: int) -> bool:
    """Whether the match is the whole value of a field whose key names its entity: nine bare
    digits under `ssn` or `tax_id` are a social security number, not a context hint."""
    if entity not in semantics(leaf).supports:
        return False
    # The value as sent or one of its decoded views, whole (views sit between separators).
    for offset, view in views(leaf.text):
        if offset <= start and end <= offset + len(view):
            return not view[: start - offset].strip() and not view[end - offset :].strip()
    return False


@dataclass(frozen=True, slots=True)
class PiiSettings:
    """The `detectors.pii` config section (`enabled` aside)."""

    score_threshold: float = 0.4                 # Presidio's: results below it are dropped
    entities: tuple[str, ...] = DEFAULT_ENTITIES  # of `recognizers.RECOGNIZERS`; URL is optional


class PresidioPiiDetector(Detector):
    name = "presidio"
    category = "pii"
    settings_type = PiiSettings
    # Hits depend only on a leaf's text, class, key flag and nearest key: cacheable.
    leaf_local = True
    # A {{secret.key}} reference names a secret and holds no personal data.
    skip_classes = PROVEN_CLASSES | {"secret_ref"}

    def __init__(
        self, settings: PiiSettings | None = None, /, *, numeric_runs_reported_from: int | None = None, **overrides: Any
    ) -> None:
        """`PresidioPiiDetector(PiiSettings(...))`, or its fields as keywords (a config section).
        `numeric_runs_reported_from` is the tables detector's `min_numbers` when it runs (the
        registry sets it), not a setting of this one."""
        make_offline()
        if overrides.get("entities") is None:
            overrides.pop("entities", None)
        else:
            overrides["entities"] = tuple(overrides["entities"])
        settings = dataclasses.replace(settings or PiiSettings(), **overrides)
        self.settings = settings
        # Rebuilt rather than pickled when sent to a worker process (see __reduce__).
        self._init_args = (settings, numeric_runs_reported_from)
        score_threshold = settings.score_threshold
        entities = settings.entities
        self.score_threshold = score_threshold
        # Runs of this many numbers or more are left out of the analysis, as metadata shapes
        # are: the tables detector reports each run as NUMERIC_ARRAY (the registry sets this
        # only when it runs). A tensor printed as text is data, not phone, card or NHS numbers,
        # and python-phonenumbers would spend ~0.5 ms on each of its numbers.
        self.numeric_runs_reported_from = numeric_runs_reported_from
        self.entities = tuple(entities)
        self._needs_digit = any(e not in ("EMAIL_ADDRESS", "URL") for e in self.entities)
        self._needs_at = "EMAIL_ADDRESS" in self.entities
        self._url = "URL" in self.entities
        pairs = _recognizers(self.entities)
        recognizers = [recognizer for _, recognizer in pairs]
        self._by_id: dict[str, ReviewedRecognizer] = {recognizer.id: recognizer for recognizer in recognizers}
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        self._analyzer = AnalyzerEngine(
            registry=registry,
            # Pattern recognizers need no tokens: context comes from the enhancer below.
            nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
            supported_languages=["en"],
            default_score_threshold=score_threshold,
            context_aware_enhancer=_SegmentContextEnhancer(
                cue for recognizer in recognizers for cue in recognizer.context or ()
            ),
        )
        # Trigger → entities it gates; entities that need a context word → their cues.
        self._triggers: dict[Trigger, set[str]] = {}
        for entity in self.entities:
            for trigger in _ENTITY_TRIGGERS.get(entity, ()):
                self._triggers.setdefault(trigger, set()).add(entity)
        # An entity needs a cue when none of its recognizers can reach the threshold alone.
        by_entity: dict[str, list[EntityRecognizer]] = {}
        for entity, recognizer in pairs:
            by_entity.setdefault(entity, []).append(recognizer)
        self._cues_needed: dict[str, tuple[str, ...]] = {
            entity: tuple(cue.strip().lower() for recognizer in own for cue in recognizer.context or ())
            for entity, own in by_entity.items()
            if all(_max_score_without_context(recognizer) < score_threshold for recognizer in own)
        }
        self._rough_triggers: tuple[Trigger, ...] = (
            *((_ANY_DIGIT,) if self._needs_digit else ()),
            *((Trigger.text("@"),) if self._needs_at else ()),
        )
        self._digitless_triggers = {
            trigger: entities
            for trigger, entities in self._triggers.items()
            if trigger.literal is not None or trigger in _DIGITLESS_TRIGGERS
        }
        self._cue_triggers = {
            entity: tuple(Trigger.text(cue, ignore_case=True) for cue in cues if cue)
            for entity, cues in self._cues_needed.items()
        }
        self._lock = threading.Lock()  # presidio recognizers are not documented thread-safe
        # Masked texts (with their key label) in which the pattern recognizers found nothing.
        # What the analyzer reports for a leaf depends on exactly those two (triggers and
        # recognizers read the masked text, context words the label; the original text is
        # only read at a match), so a leaf that differs from one of them only in what masking
        # hides (a timestamp, a content hash) is not analyzed again. Keyed as the detector
        # cache keys texts (the label by its hash): never the text.
        self._empty_shapes: set[tuple[int, int, int, int]] = set()
        # Postal addresses by their parts (addresses.py): NER's LOCATION needs a locative word.
        self._addresses = AddressScanner()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_pii, self._init_args)

    # --- scanning --------------------------------------------------------------------

    def _pattern_candidate(self, text: str) -> bool:
        if self._url:
            return True
        return (self._needs_at and "@" in text) or (self._needs_digit and _DIGIT.search(text) is not None)

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        hits = list(self._scan_patterns(leaves))
        hits.extend(self._scan_addresses(leaves))
        return hits

    def _scan_addresses(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        wanted = [i for i, leaf in enumerate(leaves) if self.wants(leaf)]
        for hit in self._addresses.scan(leaves, wanted):
            if hit.score < self.score_threshold:
                continue
            yield hit

    def _candidates(self, leaves: Sequence[Leaf], wanted: list[int], texts: Sequence[str]) -> dict[int, set[str]]:
        """leaf index → the entities that can match in `texts` (the wanted leaves' texts)."""
        if self._url or not self._triggers:
            # URL has no narrow trigger (bare domains match): every leaf, every entity.
            return {index: set(self.entities) for index in wanted}
        joined = JoinedTexts(texts)
        has_digit = joined.contains(_ANY_DIGIT)
        with_cue: dict[str, set[int]] = {}
        found: dict[int, set[str]] = {}
        # Every pattern trigger but two needs a digit.
        triggers = self._triggers if has_digit else self._digitless_triggers
        for trigger in joined.firing(triggers):
            entities = triggers[trigger]
            members = joined.members(trigger)
            for entity in entities:
                if entity in self._cues_needed:
                    if entity not in with_cue:
                        with_cue[entity] = self._with_cue(leaves, wanted, joined, entity)
                    hits = [m for m in members if m in with_cue[entity]]
                else:
                    hits = members
                for member in hits:
                    found.setdefault(wanted[member], set()).add(entity)
        return found

    def _with_cue(self, leaves: Sequence[Leaf], wanted: list[int], texts: JoinedTexts, entity: str) -> set[int]:
        """Members whose text or key label holds one of the entity's context words: the
        enhancer only looks at the words of the leaf and of its label."""
        cues = self._cue_triggers[entity]
        found = texts.members_any(cues)
        if len(found) < len(wanted):
            found |= JoinedTexts([_context_label(leaves[i]) for i in wanted]).members_any(cues)
        return found

    def _scan_patterns(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        wanted = [i for i, leaf in enumerate(leaves) if self.wants(leaf)]
        if not wanted:
            return
        # Only leaves with a digit or an '@' can match (URL aside); those are masked in one
        # pass over them joined (NUL stops every metadata shape as a string's ends do), and
        # the triggers then run on what the analyzer will see.
        if self._url:
            rough = wanted
        else:
            texts = JoinedTexts([leaves[i].text for i in wanted])
            rough = [wanted[m] for m in sorted(texts.members_any(self._rough_triggers))]
        if not rough:
            return
        joined = JoinedTexts([leaves[i].text for i in rough])
        all_masked = _mask_metadata(joined.text)
        if self.numeric_runs_reported_from is not None:
            all_masked = _mask_numeric_runs(all_masked, self.numeric_runs_reported_from)
        masked: dict[int, str] = {}
        for position, index in enumerate(rough):
            start = joined.starts[position]
            text = all_masked[start : start + len(leaves[index].text)]
            if self._pattern_candidate(text):
                masked[index] = text
        if not masked:
            return
        labels = {index: _context_label(leaves[index]) for index in masked}
        shapes = {index: text_key(masked[index], hash(labels[index])) for index in masked}
        empty = self._empty_shapes
        indexes = [index for index in masked if shapes[index] not in empty]
        if not indexes:
            return
        candidates = self._candidates(leaves, indexes, [masked[i] for i in indexes])
        segments = _Segments()
        entities: set[str] = set()
        for index in indexes:
            if index in candidates:
                segments.add(index, labels[index], masked[index])
                entities |= candidates[index]
        results = []
        if segments.leaves:
            with self._lock:
                results = self._analyzer.analyze(segments.text(), language="en", entities=sorted(entities))
        self._remember_empty(shapes, indexes, segments, results)
        seen: set[tuple[int, str, int, int]] = set()
        for result in results:
            for seg, start, end in segments.locate(result.start, result.end):
                leaf_index = segments.leaves[seg]
                original = leaves[leaf_index].text
                boosted = bool(result.recognition_metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY))
                recognizer = self._by_id[result.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY]]
                reviewed = recognizer.review(original, start, end, float(result.score), boosted)
                if reviewed is None:
                    continue
                key = (leaf_index, result.entity_type, start, end)
                if key not in seen:
                    seen.add(key)
                    score = reviewed
                    if boosted and score < KEY_CONTEXT_SCORE and _named_by_key(leaves[leaf_index], result.entity_type, start, end):
                        score = KEY_CONTEXT_SCORE
                    yield Hit(leaf_index, result.entity_type, start, end, score)

    def _remember_empty(
        self, shapes: dict[int, tuple[int, int, int, int]], indexes: list[int], segments: _Segments, results: list[RecognizerResult]
    ) -> None:
        found = {segments.leaves[seg] for result in results for seg, _, _ in segments.locate(result.start, result.end)}
        if len(self._empty_shapes) + len(indexes) > _MAX_EMPTY_SHAPES:
            self._empty_shapes.clear()
        self._empty_shapes.update(shapes[index] for index in indexes if index not in found)


def _rebuild_pii(settings: PiiSettings, numeric_runs_reported_from: int | None) -> PresidioPiiDetector:
    return PresidioPiiDetector(settings, numeric_runs_reported_from=numeric_runs_reported_from)
