"""Data that is not metadata by its shape: prose, tables and records, numbers in bulk.

The metadata-only promise bounds what user metadata may look like: a few words, a number, a
short list. A support ticket, a call transcript, a DataFrame or an embedding is data whatever
it contains. These detectors *measure* the shape and report the measure with the finding
(`Finding.measure`); the policy compares it with thresholds in its data
(`data.metagate.config.shape_thresholds`, rules/blobs.rego), so a deployment changes what
counts as data without touching code. The detectors only report shapes past a floor (the
`*_FLOOR` constants) below which no threshold is meaningful: the policy's thresholds are at
or above them.

User data is measured whole: the field classes a user fills with values (`user_dict`,
`name`, `unknown`). ZenML's own text fields (descriptions, source code, tracebacks and
exception messages, value reprs: `free_text`, `code`, `log`, `value_repr`,
`TEXT_MEASURED_CLASSES`) are measured for what gets pasted into them: a JSON document opening
anywhere in the text, a run of numbers, prose on one line (their own prose is wrapped at a
line's width). Whether a shape there blocks is the policy's (`shape_classes` in its data:
PROSE blocks in user data only; the redacted classes never block). ZenML's request structure
(lists of steps, artifacts, components) is never measured, nor a pip freeze.

- `ProseDetector` (a string detector): per leaf text and per decoded view in it (views are
  separated by `VIEW_SEPARATOR`, so sibling fragments joined by the decoders are measured
  as one text), the number of dictionary-like words (lower-case letters, an initial capital
  allowed: not identifiers, paths or numbers), of sentences (a word ending in `.`, `!` or
  `?`; or lines of four words or more, whichever is more: chat typed without full stops), and the words' share of all tokens in percent. Entity PROSE.
  Each text is measured as it reads (`reading`: as sent, reversed or ROT13, whichever has
  the most function words; escaped line breaks as breaks). Prose that tells of people (a
  ticket, a transcript, a clinical note, an e-mail, a chat log: `register_measure`) is also
  entity PERSONAL_PROSE, measured whole in user data and in ZenML's unredacted prose fields
  (descriptions, exception messages), where it blocks past its thresholds as well.
- `ShapeTreeDetector` (a tree detector): finds the user-data subtrees of a body with the
  catalog, then, at any depth below them (also inside strings that hold a JSON document),
  every form a table takes in JSON (entity RECORDS_TABLE, measure rows and columns):
    * `to_json(orient="records")`: a list of dicts (its columns: the keys every row has);
    * `orient="columns"` / `df.to_dict()`: `{"col": {"0": v, "1": v}}` (index-like inner keys);
    * `orient="index"`: `{"0": {"col": v}, "1": {...}}` (index-like outer keys);
    * `orient="split"`: `{"columns": [...], "index": [...], "data": [[...]]}`;
    * `orient="values"`: a list of same-length lists holding text (a list of lists of numbers
      only is a tensor: counted as numbers);
  and `to_dict("list")`, `{"col": [v, v, v], ...}` with lists of one length, one of them
  holding text (entity COLUMN_LISTS: short lists of equal length happen by chance in
  configurations, e.g. requirements beside apt packages, so its threshold is its own; lists
  of numbers only are series such as a training history, measured by their count).
  Per user-data subtree it counts the numbers, numeric strings included, wherever they sit
  (one list, sibling lists, an index→float dict, one-key records, hundreds of scalar
  metrics): entity NUMERIC_ARRAY, measure `numbers`; over all user-data subtrees of a
  request, NUMERIC_SPREAD (`numbers`, `fields`, `per_field`, reported at each subtree).
  The string values of one object or list are also measured together as prose (entity
  PROSE at the container): a transcript split into one value per sentence or turn.
- `JsonTextDetector` (a string detector): the same measures for a JSON document carried in
  a string that no user-data subtree of the body holds (a run name, a tag, a query value, a
  header, a description, an exception message, code), the whole text or containers opening
  inside it (`_documents`: stdlib `raw_decode`, at most `MAX_EMBEDDED_JSON_TRIES` openings).
- A NUMERIC_ARRAY finding sits where the numbers are (`_mass_path`: the deepest container
  holding most of the subtree's numbers); records split into chunks are one table; a flag
  (bool) column makes lists of one length a table; a list of single characters is text.

Cost: the prose detector looks only at texts of at least `_MIN_PROSE_CHARS` with as many
spaces as the word floor; the tree detector classifies each container of ZenML's structure
once per endpoint and shape (cached) and walks only the user-data subtrees. Bounds: prose is
measured on the first `MAX_PROSE_CHARS` of each view (the measure is then "at least"); a
request's walk stops at `MAX_NODES` values, reported as OVERSIZED_USER_DATA (no metadata
has that many values; the policy names no threshold for it, so it blocks); strings are
parsed as JSON up to `MAX_NESTED_JSON_CHARS` and `MAX_NESTED_JSON_LAYERS` deep.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, get_args

import orjson
from metagate.scanner import jsonpath
from metagate.scanner.catalog import Catalog, Endpoint
from metagate.scanner.detectors.base import Detector, Hit, TreeDetector
from metagate.scanner.model import FieldClass, Leaf, views

# Classes a user fills with values of their own: the only ones measured.
USER_DATA_CLASSES: frozenset[str] = frozenset({"user_dict", "name", "unknown"})
_ALL_CLASSES: frozenset[str] = frozenset(get_args(FieldClass))
# Classes whose text is also measured (prose, JSON documents, number runs): ZenML's own prose
# fields and the fields the default policy redacts. A shape there is reported, for the audit
# and for a redacted field's record; whether it blocks is the policy's (`shape_classes` in its
# data names the classes where an entity blocks: a description is prose by nature).
TEXT_MEASURED_CLASSES: frozenset[str] = USER_DATA_CLASSES | {"free_text", "log", "code", "value_repr"}
_REDACTED_BY_NATURE: frozenset[str] = frozenset({"code", "value_repr"})

Measure = tuple[tuple[str, int], ...]

# --- floors: below these a shape is not reported at all (the policy thresholds sit above) --
PROSE_WORDS_FLOOR = 10
PROSE_SENTENCES_FLOOR = 1
PROSE_SHARE_FLOOR = 50          # percent of tokens that are dictionary-like words
TABLE_ROWS_FLOOR = 2
TABLE_COLUMNS_FLOOR = 2
NUMBERS_FLOOR = 24
SPREAD_NUMBERS_FLOOR = 64      # numbers over several user-data fields of one request
SPREAD_PER_FIELD_FLOOR = 8

# In ZenML's own text fields (code, logs, descriptions): prose on one line of a text whose
# lines are wrapped by nature. A docstring or comment line holds a dozen words.
PROSE_LINE_WORDS_FLOOR = 20
PROSE_LINE_SENTENCES_FLOOR = 2

# --- bounds ---------------------------------------------------------------------------
MAX_PROSE_CHARS = 20_000        # of each view: words saturate long before
MAX_NODES = 200_000             # values walked per request, over all its user-data subtrees
MAX_NESTED_JSON_CHARS = 1024 * 1024
MAX_NESTED_JSON_LAYERS = 3
_MIN_PROSE_CHARS = 4 * PROSE_WORDS_FLOOR
_MIN_PROSE_LINE_CHARS = 4 * PROSE_LINE_WORDS_FLOOR
# A line: views are separated by a line break too, so a line never spans two views.
_LINE = re.compile(r"[^\n]+")
_MIN_JSON_CHARS = 16             # '[[1,"a"],[2,"b"]]': the shortest table in JSON
_MAX_CLASS_CACHE = 65536       # positions remembered, over all endpoints
_ROOT_CLASSES = frozenset({"user_dict", "name"})  # containers of these classes are user data
_MAX_CLASSIFIED_KEYS = 4096     # a bigger user dict is measured as one class (its own)


class Measured:
    """A detector whose findings carry a measure of the matched text (the pipeline asks for
    it only for hits, so the hit cache stays as it is)."""

    def measure(self, entity: str, text: str) -> Measure:
        """The measure of a hit of `entity` whose span is `text`."""
        raise NotImplementedError


# --- prose ------------------------------------------------------------------------------

# A dictionary-like word as a token: letters in lower case (an initial capital allowed),
# an apostrophe suffix, wrapped in quotes or brackets, followed by punctuation. Letters past
# Latin-1 (Polish, Czech, Turkish, Cyrillic, Greek ...) count whatever their case.
# A word in capitals is one too (a ticket typed in capitals), from two letters on.
_LETTERS = r"(?:(?:[A-ZÀ-Þ]|[^\W\d_\x00-\xff])?(?:[a-zß-ÿ]|[^\W\d_\x00-\xff])+|[A-ZÀ-Þ]{2,})(?:['’][A-Za-z]+)?"
_WORD = re.compile(rf"(?<!\S)[\"'(\[“‘]*{_LETTERS}[\"')\]”’]*[,.;:!?]*[\"')\]”’]*(?!\S)")
_SENTENCE = re.compile(rf"(?<!\S)[\"'(\[“‘]*{_LETTERS}[\"')\]”’]*[.!?]+[\"')\]”’]*(?!\S)")
_TOKEN = re.compile(r"\S+")
# CJK prose has no spaces between words: counted by characters (about two to a word).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_CJK_SENTENCE = re.compile(r"[。！？]")
_MIN_CJK_CHARS = 2 * PROSE_WORDS_FLOOR
_LINE_SENTENCE_WORDS = 4


def prose_measure(text: str) -> Measure:
    """(words, sentences, word_share) of `text`, measured on its first MAX_PROSE_CHARS."""
    head = text[:MAX_PROSE_CHARS]
    tokens = len(_TOKEN.findall(head))
    if not tokens:
        return (("words", 0), ("sentences", 0), ("word_share", 0))
    words = len(_WORD.findall(head))
    sentences = len(_SENTENCE.findall(head))
    if _CJK.search(head):
        # Chinese and Japanese put no spaces between words: about two characters to a word.
        cjk_words = len(_CJK.findall(head)) // 2
        words += cjk_words
        tokens += cjk_words
        sentences += len(_CJK_SENTENCE.findall(head))
    if "\n" in head:
        # A chat log or transcript typed without full stops: a line of words is a sentence.
        lines = sum(1 for line in head.splitlines() if len(_WORD.findall(line)) >= _LINE_SENTENCE_WORDS)
        sentences = max(sentences, lines)
    return (("words", words), ("sentences", sentences), ("word_share", 100 * words // tokens))


def _is_prose(measure: Measure) -> bool:
    (_, words), (_, sentences), (_, share) = measure
    return words >= PROSE_WORDS_FLOOR and sentences >= PROSE_SENTENCES_FLOOR and share >= PROSE_SHARE_FLOOR



# --- the register of prose: whether it tells of people ------------------------------------
# ZenML's own prose fields (a model description, an exception message, a docstring) describe
# a system: "It predicts churn", "Input should be greater than 0", "We retrain weekly", "You
# can reshape your data". A support ticket, a call transcript, a clinical note, an e-mail or a
# chat log tells of people: what he said, what she asked for, what I promised; speakers take
# turns. These are the register's features, counted per text (`register_measure`):
#   * person words: first-person singular and gendered third-person pronouns, kinship and
#     honorifics, greetings and sign-offs, verbs of telling in the past or reported present
#     ("said", "complained", "denies"), in the languages below. "we", "you", "it", "they"
#     are the register of documentation: never counted.
#   * a role or kin noun followed closely by a verb of telling: "the customer called",
#     "caller reported", "pt c/o", "wife states" (a model about customers names them without
#     telling of them).
#   * dialogue turns: speaker labels ("Agent:", "[09:14] sam:", "A:") that recur, from two
#     speakers on (a docstring's "Args:" and "Returns:" occur once each); two turns count as
#     one person word.
# The finding (PERSONAL_PROSE, measure: words, sentences, word_share, person, person_per_mille,
# turns) is made in every measured class that leaves unredacted; the policy's thresholds in
# `shape_thresholds` decide, and `shape_classes` does not restrict it: data about people is
# data in a description too.
_PERSON_WORDS: frozenset[str] = frozenset("""
i me my mine myself he him his himself she her hers herself
mr mrs ms miss sir madam husband wife son daughter mother father mom mum dad brother sister
grandmother grandfather grandson granddaughter boyfriend girlfriend fiance fiancee neighbour neighbor
aunt uncle nephew niece
said asked told complained complains explained mentioned replied promised threatened insisted
apologised apologized thanked begged yelled shouted sighed cried denies denied
upset angry frustrated furious worried anxious calmer unhappy annoyed disappointed grateful
wants wanted hopes hoped feels felt
hi hello hey dear thanks regards cheers sincerely
ich mich mir mein meine meinen meinem meiner er ihn ihm seine seinen seinem seiner ihre ihren ihrem ihrer
frau ehemann sohn tochter mutter vater herr sagte fragte erklärte beschwerte versprach versprochen hallo danke
je moi mon ma mes elle lui femme mari fils fille mère père monsieur madame demandé expliqué plaint promis
bonjour merci cordialement
yo mi mis él ella esposa esposo marido hijo hija madre padre señor señora dijo preguntó explicó quejó
prometí prometió hola gracias saludos
io mio mia lei moglie figlio figlia disse ciao grazie
ik mij mijn hij zij hem haar vrouw zei vroeg bedankt
eu meu minha ele ela disse obrigado obrigada olá
mnie mój moja ona jego jej żona mąż córka powiedział powiedziała obiecałem obiecałam
я меня мне мой моя он она его её ее ему ей жена муж сын дочь сказал сказала пообещал здравствуйте спасибо
""".split())
# Elided first person: "I'm", "j'ai", "m'a": the part before the apostrophe.
_ELIDED_PERSON_WORDS: frozenset[str] = frozenset({"i", "j", "m"}) | _PERSON_WORDS
_APOSTROPHE = re.compile(r"['’]")
_ROLE_NOUNS: frozenset[str] = frozenset("""
customer customers caller callers client clients patient patients pt member members user users guest guests
passenger buyer seller tenant applicant employee resident subscriber consumer claimant victim witness student
parent agent agents rep representative kunde kundin anrufer patientin cliente clientes paciente klient klientka
клиент клиентка пациент
husband wife son daughter mother father mom mum dad brother sister frau mann femme mari esposa esposo marido
""".split())
_TELLING_VERBS: frozenset[str] = frozenset("""
called phoned rang emailed wrote reported said says asked told complained explained described mentioned claimed
claims stated states denies denied requested demanded insisted confirmed wants wanted noted reports complains
angerufen anrief sagte schrieb meldete appelé écrit signalé llamó escribió zadzwonił zadzwoniła позвонил позвонила
написал написала c/o
""".split())
_TELLING_WINDOW = 3               # tokens after a role noun where its verb may sit ("called again about")
# A speaker label: at a line's start (after an optional [timestamp]) or after a sentence's end.
_SPEAKER = re.compile(
    r"(?:^|(?<=\n)|(?<=[.!?] ))[ \t]*(?:\[[^\]\n]{1,24}\][ \t]*|\d{1,2}:\d{2}(?::\d{2})?[ \t]+)?"
    r"([A-Za-zÀ-ÿ][\w'.-]{0,24}(?: [A-Z][\w'.-]{0,24}){0,2}):[ \t]"
)
_STRIP = "\"'()[]{}<>“”‘’«»,.;:!?¿¡…-–—*_"
_CJK_PERSON = re.compile(r"私|彼女|彼|様|さん|她|他|您|先生|女士|님|씨")


def _tokens(head: str) -> list[str]:
    return [token.strip(_STRIP) for token in head.lower().split()]


def register_measure(text: str) -> tuple[int, int]:
    """(person, turns) of `text`'s first MAX_PROSE_CHARS: its person words, role nouns told
    of, and CJK person marks (`person`), and its dialogue turns (`turns`, also in `person`)."""
    head = text[:MAX_PROSE_CHARS]
    tokens = _tokens(head)
    person = 0
    for position, token in enumerate(tokens):
        if token in _PERSON_WORDS:
            person += 1
        elif "'" in token or "’" in token:
            if _APOSTROPHE.split(token, maxsplit=1)[0] in _ELIDED_PERSON_WORDS:
                person += 1
        if token in _ROLE_NOUNS and any(t in _TELLING_VERBS for t in tokens[position + 1 : position + 1 + _TELLING_WINDOW]):
            person += 2
    if _CJK.search(head):
        person += len(_CJK_PERSON.findall(head))
    turns = 0
    if ":" in head:
        labels: dict[str, int] = {}
        for match in _SPEAKER.finditer(head):
            label = match.group(1).lower()
            labels[label] = labels.get(label, 0) + 1
        recurring = [count for count in labels.values() if count >= 2]
        if len(recurring) >= 2:
            turns = sum(recurring)
    # Two turns count as one person word: a FAQ's "Q:"/"A:" alone is not a conversation,
    # a transcript's turns come with its speakers' "I" and "my".
    return person + turns // 2, turns


# --- how the text reads: as sent, reversed, or ROT13 --------------------------------------
# Prose written backwards or in ROT13 keeps its words' shapes (ROT13) or its letters (reversal)
# but loses its function words: "the", "and", "of" read "gur", "naq", "bs" or "eht", "dna",
# "fo". The text is measured as it reads best: the reading with the most function words
# (`_FUNCTION_WORDS`, several languages), the text as sent where none does better.
_FUNCTION_WORDS: frozenset[str] = frozenset("""
the and of to in is it that for was on with as at by this have from not but had are were been has
der die das und ist nicht mit von den ein eine zu auf für sich dem des
le la les et est un une des du pour pas que qui dans sur avec
el los las y es una por para con del que se su
""".split())
_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM"
)
# Function words as they read after each transform; a word that reads as a function word
# either way ("be" and "or" under ROT13) tells nothing and is left out of both.
_ROT13_WORDS = frozenset(w.translate(_ROT13) for w in _FUNCTION_WORDS) - _FUNCTION_WORDS
_REVERSED_WORDS = frozenset(w[::-1] for w in _FUNCTION_WORDS) - _FUNCTION_WORDS
_ESCAPED_BREAK = re.compile(r"(?:\\r)?\\n")
_MIN_READING_WORDS = 3             # function words a transformed reading needs to be chosen


def reading(text: str) -> str:
    """`text` as it reads best: as sent, reversed, or ROT13 (see `_FUNCTION_WORDS`); line
    breaks written as escapes (a string literal in code, a repr: `'Agent: hi\\nCaller: ...'`)
    read as the breaks they stand for."""
    text = text[:MAX_PROSE_CHARS]  # what the measures read
    if "\\n" in text:
        text = _ESCAPED_BREAK.sub("\n", text)
    head = text
    forward = rot13 = backward = 0
    for token in _tokens(head):
        if token in _FUNCTION_WORDS:
            forward += 1
        elif token in _ROT13_WORDS:
            rot13 += 1
        elif token in _REVERSED_WORDS:
            backward += 1
    best = max(rot13, backward)
    if best < _MIN_READING_WORDS or best <= 2 * forward:
        return text
    return head[::-1] if backward >= rot13 else head.translate(_ROT13)


PERSON_FLOOR = 2                 # person signals below which PERSONAL_PROSE is not reported
# Classes whose whole text is measured for its register: user data and ZenML's unredacted
# prose fields (descriptions, exception messages). Code and value reprs are redacted anyway.
_REGISTER_CLASSES: frozenset[str] = USER_DATA_CLASSES | {"free_text", "log"}


def personal_measure(text: str) -> Measure:
    """(words, sentences, word_share, person, person_per_mille, turns) of `text` as it reads
    (`reading`): its prose measure and its register (`register_measure`)."""
    text = reading(text)
    (_, words), (_, sentences), (_, share) = prose_measure(text)
    person, turns = register_measure(text)
    return (("words", words), ("sentences", sentences), ("word_share", share), ("person", person),
            ("person_per_mille", 1000 * person // max(words, 1)), ("turns", turns))


def _may_be_prose(text: str) -> bool:
    """The cheap gate: long enough, and spaced as words are (or CJK, which has no spaces)."""
    if len(text) < _MIN_PROSE_CHARS:
        return False
    if text.count(" ") >= PROSE_WORDS_FLOOR - 1:
        return True
    return len(text) >= _MIN_CJK_CHARS and _CJK.search(text) is not None


class ProseDetector(Detector, Measured):
    name = "prose"
    category = "blob"
    # Hits depend only on a leaf's text and class: cacheable.
    leaf_local = True
    skip_classes = _ALL_CLASSES - TEXT_MEASURED_CLASSES

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        hits: list[Hit] = []
        for index, leaf in enumerate(leaves):
            text = leaf.text
            # Cheap gate first: most leaves are a word or an id.
            if leaf.field_class in self.skip_classes or not _may_be_prose(text):
                continue
            if leaf.field_class in USER_DATA_CLASSES:
                hit = self._most_prose_view(index, text)
            else:
                hit = self._most_prose_line(index, text)
            if hit is not None:
                hits.append(hit)
            if leaf.field_class in _REGISTER_CLASSES:
                personal = self._most_personal_view(index, text)
                if personal is not None:
                    hits.append(personal)
        return hits

    def _most_prose_view(self, index: int, text: str) -> Hit | None:
        """One hit per leaf: the view (the text as sent, or a decoded or joined view) with
        the most words among those that are prose, each measured as it reads."""
        best: tuple[int, int, int] | None = None  # (words, start, end)
        for start, view in views(text):
            if _may_be_prose(view):
                measure = prose_measure(reading(view))
                if _is_prose(measure) and (best is None or measure[0][1] > best[0]):
                    best = (measure[0][1], start, start + len(view))
        if best is None:
            return None
        return Hit(index, "PROSE", best[1], best[2], 0.9)

    def _most_personal_view(self, index: int, text: str) -> Hit | None:
        """One hit per leaf: the view of prose that tells of people most (`personal_measure`)."""
        best: tuple[int, int, int] | None = None  # (person, start, end)
        for start, view in views(text):
            if _may_be_prose(view):
                measure = personal_measure(view)
                if _is_prose(measure[:3]) and measure[3][1] >= PERSON_FLOOR and (best is None or measure[3][1] > best[0]):
                    best = (measure[3][1], start, start + len(view))
        if best is None:
            return None
        return Hit(index, "PERSONAL_PROSE", best[1], best[2], 0.9)

    def _most_prose_line(self, index: int, text: str) -> Hit | None:
        """In ZenML's own text fields (descriptions, code, logs, value reprs) prose is their
        nature, wrapped at a line's width (docstrings, comments, log lines); data pasted
        there lands as one line: a string literal, a repr, an exception message. Only a line
        past the line floors is reported: the most wordy one. A decoded view (the text of a
        hex or percent-encoded literal) is the user's, not ZenML's: measured whole."""
        best: tuple[int, int, int] | None = None
        for start, view in views(text):
            if start:
                if _may_be_prose(view):
                    measure = prose_measure(reading(view))
                    if _is_prose(measure) and (best is None or measure[0][1] > best[0]):
                        best = (measure[0][1], start, start + len(view))
                continue
            for match in _LINE.finditer(view):
                line = match.group()
                if len(line) < _MIN_PROSE_LINE_CHARS or line.count(" ") < PROSE_LINE_WORDS_FLOOR - 1:
                    continue
                (_, words), (_, sentences), (_, share) = measure = prose_measure(reading(line))
                if words >= PROSE_LINE_WORDS_FLOOR and sentences >= PROSE_LINE_SENTENCES_FLOOR \
                        and share >= PROSE_SHARE_FLOOR and (best is None or words > best[0]):
                    best = (measure[0][1], match.start(), match.end())
        if best is None:
            return None
        return Hit(index, "PROSE", best[1], best[2], 0.9)

    def measure(self, entity: str, text: str) -> Measure:
        if entity == "PERSONAL_PROSE":
            return personal_measure(text)
        return prose_measure(reading(text))


# --- tables, records and numbers in the JSON structure -----------------------------------

_NUMERIC_TEXT = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*")
# Index labels pandas writes: a RangeIndex or integer index, epoch milliseconds, ISO dates.
_INDEX_LABEL = re.compile(r"-?\d+|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_SCALARS = (str, int, float, bool, type(None))

TreeFinding = tuple[str, str, float, Measure]


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int or kind is float:
        return True
    return kind is str and len(value) <= 40 and _NUMERIC_TEXT.fullmatch(value) is not None


def _is_label(value: Any) -> bool:
    """A cell that is no measurement: text, or a flag (`churned: true`). A column of these
    beside others makes lists of one length a table; lists of numbers only are series (a
    training history) or a tensor, which the count of numbers judges."""
    kind = type(value)
    return kind is bool or kind is str and not _is_number(value)


def _index_like(keys: Iterable[str]) -> bool:
    return all(type(key) is str and _INDEX_LABEL.fullmatch(key) for key in keys)


def _scalar_row(values: Iterable[Any]) -> bool:
    return all(type(v) in _SCALARS for v in values)


def table_shape(node: Any) -> tuple[str, int, int] | None:
    """(entity, rows, columns) when `node` is a table in one of the JSON forms a DataFrame,
    a list of records or a column dict takes; None otherwise. Looks at `node` itself only."""
    if type(node) is list:
        return _list_table(node)
    if type(node) is dict:
        return _dict_table(node)
    return None


def _list_table(node: list[Any]) -> tuple[str, int, int] | None:
    rows = len(node)
    if rows < TABLE_ROWS_FLOOR:
        return None
    first = node[0]
    if type(first) is list and first and type(first[0]) is dict and all(type(chunk) is list for chunk in node):
        # Records sent in chunks (a list of lists of rows): the one table they make.
        node = [row for chunk in node for row in chunk]
        rows = len(node)
        first = node[0]
    if type(first) is dict:  # records
        # The columns every row has (records from an API may leave optional keys out);
        # a cell holds a value or a list of values (an object column of tags).
        common = set(first)
        for row in node:
            if type(row) is not dict:
                return None
            common &= row.keys()
            if len(common) < TABLE_COLUMNS_FLOOR:
                return None
            if not all(type(v) in _SCALARS or type(v) is list and _scalar_row(v) for v in row.values()):
                return None
        return "RECORDS_TABLE", rows, len(common)
    if type(first) is list:  # orient="values"
        width = len(first)
        if width < TABLE_COLUMNS_FLOOR:
            return None
        text = False
        for row in node:
            if type(row) is not list or len(row) != width or not _scalar_row(row):
                return None
            text = text or any(_is_label(v) for v in row)
        # A matrix of numbers only is a tensor (or a confusion matrix): the count decides.
        return ("RECORDS_TABLE", rows, width) if text else None
    return None


def _dict_table(node: dict[str, Any]) -> tuple[str, int, int] | None:
    if not node:
        return None
    columns, data = node.get("columns"), node.get("data")
    if type(columns) is list and type(data) is list and data:  # orient="split"
        width = len(columns)
        if all(type(row) is list and len(row) == width for row in data) and width >= 1:
            return "RECORDS_TABLE", len(data), width
    values = iter(node.values())
    first = next(values)
    if type(first) is dict:  # orient="columns" (df.to_dict()) or orient="index"
        inner = first.keys()
        if not inner:
            return None
        for value in node.values():
            if type(value) is not dict or value.keys() != inner or not _scalar_row(value.values()):
                return None
        if _index_like(inner):
            return "RECORDS_TABLE", len(inner), len(node)
        if len(node) >= TABLE_ROWS_FLOOR and _index_like(node):
            return "RECORDS_TABLE", len(node), len(inner)
        return None
    if type(first) is list and first and type(first[0]) is dict:
        # Records split over sibling keys (`part_0`, `part_1` ... or `train`/`test`): the
        # chunks make one table.
        return _list_table(list(node.values())) if len(node) >= 2 else None
    if type(first) is list and len(node) >= TABLE_COLUMNS_FLOOR:  # to_dict("list")
        length = len(first)
        if length < TABLE_ROWS_FLOOR:
            return None
        text = False
        for value in node.values():
            if type(value) is not list or len(value) != length or not _scalar_row(value):
                return None
            text = text or any(_is_label(v) for v in value)
        # Lists of numbers only side by side are series (a training history, per-epoch
        # metrics) or a tensor: the count of numbers decides, as for a matrix.
        return ("COLUMN_LISTS", length, len(node)) if text else None
    return None


def _count_numbers(node: Any, layer: int = 0) -> int:
    """The numbers in `node` as the walk counts them (numeric strings, JSON carried in
    strings, bounded as the walk is)."""
    count = 0
    stack: list[tuple[Any, int]] = [(node, layer)]
    seen = 0
    while stack and seen < MAX_NODES:
        current, depth = stack.pop()
        seen += 1
        kind = type(current)
        if kind is int or kind is float:
            count += 1
        elif kind is dict:
            stack.extend((value, depth) for value in current.values())
        elif kind is list:
            stack.extend((value, depth) for value in current)
        elif kind is str:
            if len(current) <= 40:
                count += _NUMERIC_TEXT.fullmatch(current) is not None
            elif depth < MAX_NESTED_JSON_LAYERS and current.lstrip()[:1] in ("{", "[", '"') \
                    and len(current) <= MAX_NESTED_JSON_CHARS:
                try:
                    stack.append((orjson.loads(current), depth + 1))
                except orjson.JSONDecodeError:
                    pass
    return count


_MAX_MASS_DEPTH = 16


def _mass_path(node: Any, parts: tuple[jsonpath.Part, ...], numbers: int) -> tuple[jsonpath.Part, ...]:
    """Where the numbers of a user-data subtree sit: the deepest container (or the string
    carrying JSON) below `parts` that holds most of them (an embedding under one key of a
    run's metadata is reported at that key, not at `values`). The finding keeps the
    subtree's count as its measure: the data mass is the subtree's, this is its place.
    Only run for a subtree past the number floor, so clean traffic rarely pays for it."""
    current, where, total = node, parts, numbers
    for _ in range(_MAX_MASS_DEPTH):
        kind = type(current)
        if kind is not dict and kind is not list:
            break
        items = current.items() if kind is dict else enumerate(current)
        heaviest: tuple[int, Any, Any] | None = None
        for key, value in items:
            if type(value) in (dict, list) or type(value) is str and len(value) > 40:
                count = _count_numbers(value)
                if 2 * count > total:
                    heaviest = (count, key, value)
                    break
        if heaviest is None:
            break
        total, key, current = heaviest
        where = (*where, key)
        if type(current) is str:
            break
    return where


class _Walk:
    """One bounded walk over a user-data subtree: tables at any depth, numbers in all."""

    __slots__ = ("found", "numbers", "nodes", "skip", "spread", "stopped")

    def __init__(self, skip: Collection[int]) -> None:
        self.found: list[TreeFinding] = []
        self.numbers = 0       # of the subtree being measured
        self.nodes = 0         # of the request: the budget
        self.skip = skip
        self.stopped = False   # the budget ran out: some values were not looked at
        self.spread: list[tuple[tuple[jsonpath.Part, ...], int]] = []  # (subtree, its numbers)

    def spread_finding(self) -> None:
        """Numbers split over several user-data subtrees of the request (an embedding as the
        metadata of sixteen artifacts, a matrix over the parameters of many steps): entity
        NUMERIC_SPREAD at each of the subtrees, with the total, the number of subtrees and
        the mean per subtree (a big clean pipeline has many fields with a few numbers each;
        its snapshot repeats each parameter three times). At each: a finding inside a
        subtree keeps the clean memo from remembering it, so a repeat is measured again."""
        if len(self.spread) < 2:
            return
        total = sum(numbers for _, numbers in self.spread)
        per_field = total // len(self.spread)
        if total < SPREAD_NUMBERS_FLOOR or per_field < SPREAD_PER_FIELD_FLOOR:
            return
        measure = (("numbers", total), ("fields", len(self.spread)), ("per_field", per_field))
        for parts, _ in self.spread:
            self.found.append((jsonpath.render(parts), "NUMERIC_SPREAD", 0.9, measure))

    def measure(self, node: Any, parts: tuple[jsonpath.Part, ...]) -> None:
        """Tables anywhere in the user-data subtree `node`, and its count of numbers."""
        if self.stopped:
            return
        self.numbers = 0
        self.visit(node, parts)
        if self.nodes >= MAX_NODES:
            self.stopped = True
            self.found.append((jsonpath.render(parts), "OVERSIZED_USER_DATA", 0.9, (("values", self.nodes),)))
        if self.numbers:
            self.spread.append((parts, self.numbers))
        if self.numbers >= NUMBERS_FLOOR:
            where = _mass_path(node, parts, self.numbers)
            self.found.append((jsonpath.render(where), "NUMERIC_ARRAY", 0.9, (("numbers", self.numbers),)))

    def visit(self, node: Any, parts: tuple[jsonpath.Part, ...]) -> None:
        # (node, path, layers of JSON-in-a-string above it, inside a table already reported)
        stack: list[tuple[Any, tuple[jsonpath.Part, ...], int, bool]] = [(node, parts, 0, False)]
        while stack and self.nodes < MAX_NODES:
            current, where, layer, in_table = stack.pop()
            kind = type(current)
            if kind is dict or kind is list:
                if not in_table:
                    shape = table_shape(current)
                    if shape is not None:  # one finding per table; its numbers still count
                        entity, rows, columns = shape
                        self.found.append((jsonpath.render(where), entity, 0.9, (("rows", rows), ("columns", columns))))
                        in_table = True
                items = current.items() if kind is dict else enumerate(current)
                texts: list[str] = []  # of several words: prose split over siblings
                for key, value in items:
                    self.nodes += 1
                    value_kind = type(value)
                    if value_kind is dict or value_kind is list:
                        if id(value) not in self.skip:
                            # Inside a string's JSON, paths stay the string's own; inside a
                            # table reported, no path is needed (none is reported there).
                            inner = where if layer or in_table else (*where, key)
                            stack.append((value, inner, layer, in_table))
                    elif value_kind is int or value_kind is float:
                        self.numbers += 1
                    elif value_kind is str:
                        if " " in value:
                            texts.append(value)
                        self._text(value, where if layer or in_table else (*where, key), layer, in_table, stack)
                if in_table:
                    pass
                elif kind is list and len(current) >= _MIN_PROSE_CHARS and self._character_prose(current, where):
                    pass
                elif len(texts) >= 2:
                    self._sibling_prose(texts, where)
            elif kind is str:
                self._text(current, where, layer, in_table, stack)
            elif kind is int or kind is float:
                self.numbers += 1

    def _sibling_prose(self, texts: list[str], where: tuple[jsonpath.Part, ...]) -> None:
        """A text split over the values of one object or list (a sentence per key, a
        transcript turn per item) is measured as the one text it is."""
        joined: list[str] = []
        size = spaces = 0
        for text in texts:
            joined.append(text)
            size += len(text) + 1
            spaces += text.count(" ") + 1
            if size >= MAX_PROSE_CHARS:
                break
        if size < _MIN_PROSE_CHARS or spaces < PROSE_WORDS_FLOOR - 1:
            return  # the detector's own cheap gate: too short to hold the word floor
        measure = prose_measure(" ".join(joined))
        if _is_prose(measure):
            self.found.append((jsonpath.render(where), "PROSE", 0.9, measure))

    def _character_prose(self, items: list[Any], where: tuple[jsonpath.Part, ...]) -> bool:
        """A text sent as a list of its characters (`list(text)`): measured joined. True
        when the list is one of characters."""
        if not all(type(item) is str and len(item) == 1 for item in items):
            return False
        measure = prose_measure("".join(items[:MAX_PROSE_CHARS]))
        if _is_prose(measure):
            self.found.append((jsonpath.render(where), "PROSE", 0.9, measure))
        return True

    def _text(
        self, text: str, where: tuple[jsonpath.Part, ...], layer: int, in_table: bool, stack: list[Any]
    ) -> None:
        if len(text) <= 40:
            if _NUMERIC_TEXT.fullmatch(text):
                self.numbers += 1
            return
        # A JSON document carried in a string (json.dumps(df.to_dict()) as a metadata value).
        head = text.lstrip()[:1]
        if layer >= MAX_NESTED_JSON_LAYERS or head not in ("{", "[", '"', "(") or len(text) > MAX_NESTED_JSON_CHARS:
            return
        try:
            inner = orjson.loads(text)
        except orjson.JSONDecodeError:
            # Or a Python literal printed into the value (`str(df.head().to_dict())`).
            inner = _python_literal(text.strip()) if "'" in text or head == "(" or ":" in text else None
            if inner is None:
                return
        if type(inner) in (dict, list, str):
            # Findings inside land on the string's own path: that is where the value sits.
            stack.append((inner, where, layer + 1, in_table))


class JsonTextDetector(Detector, Measured):
    """Tables and bulk numbers in a JSON document carried as a string in user data, where no
    user-data subtree of the body holds it: a run name, a tag, a query value, a header, a
    form field (`json.dumps(df.to_dict())`). Each view of the leaf that is JSON is parsed
    (bounded: `MAX_NESTED_JSON_CHARS`) and measured as a user-data subtree; one hit per
    entity and view. In a user dict of the body the tree detector finds the same at the same
    path: the policy sees one item either way."""

    name = "json_text"
    category = "blob"
    # Hits depend only on a leaf's text and class: cacheable.
    leaf_local = True
    skip_classes = _ALL_CLASSES - TEXT_MEASURED_CLASSES

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        hits: list[Hit] = []
        for index, leaf in enumerate(leaves):
            text = leaf.text
            if len(text) < _MIN_JSON_CHARS or leaf.field_class in self.skip_classes:
                continue
            # Python reprs in ZenML's redacted classes (a value repr is one by nature) are not read.
            python = leaf.field_class not in _REDACTED_BY_NATURE
            for start, view in views(text):
                for entity in sorted(_json_shapes(view, python)):
                    hits.append(Hit(index, entity, start, start + len(view), 0.9))
        return hits

    def measure(self, entity: str, text: str) -> Measure:
        return _json_shapes(text).get(entity, ())


# Where a JSON container may open inside text ("lookup failed for [{...}]", a literal in code,
# `KeyError: '{"0": ...}'` in a traceback): a bracket followed by what a container holds.
# A string literal holding a JSON container (`x = json.dumps(json.dumps(df))` in code) opens
# with a quote right before the bracket.
_EMBEDDED_JSON_START = re.compile(r'[\[{](?=\s*["\[{\-\d])|"(?=[\[{]|\\")')
MAX_EMBEDDED_JSON_TRIES = 64     # openings tried per text: a failed parse may scan far
_DECODER = json.JSONDecoder()


# A Python literal printed into text (`f"bad rows {df.head().to_dict()}"`, `str(records)`):
# single-quoted strings, integer keys, tuples. Read with `ast.literal_eval` (literals only,
# nothing runs), bounded by MAX_PYTHON_LITERAL_CHARS and MAX_PYTHON_LITERAL_TRIES openings,
# and made JSON-shaped (keys as strings, tuples and sets as lists) for the table shapes.
_PYTHON_LITERAL_START = re.compile(r"[\[{(](?=\s*(?:'|\(|[\[{]\s*'|-?\d+\s*:))")
_PYTHON_LITERAL_TOKEN = re.compile(r"[\[\](){}'\"\\]")
MAX_PYTHON_LITERAL_CHARS = 256 * 1024      # a whole text read as one literal
MAX_EMBEDDED_LITERAL_CHARS = 32 * 1024     # a literal opening inside a text (its end is searched for)
MAX_PYTHON_LITERAL_TRIES = 8
_MAX_LITERAL_DEPTH = 64


def _python_literal(text: str) -> Any:
    """The JSON-shaped value of the Python literal `text`, or None."""
    if len(text) > MAX_PYTHON_LITERAL_CHARS:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return _json_shaped(value, 0)


def _json_shaped(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return value
    if depth >= _MAX_LITERAL_DEPTH:
        return None
    if kind is dict:
        return {str(key): _json_shaped(item, depth + 1) for key, item in value.items()}
    if kind in (list, tuple, set, frozenset):
        return [_json_shaped(item, depth + 1) for item in value]
    return str(value)


def _literal_end(text: str, start: int) -> int:
    """Where the bracketed literal opening at `start` ends (quotes and escapes skipped), or -1
    when it does not close within MAX_EMBEDDED_LITERAL_CHARS."""
    depth, quote, escaped_at = 0, "", -1
    limit = start + MAX_EMBEDDED_LITERAL_CHARS
    for match in _PYTHON_LITERAL_TOKEN.finditer(text, start, min(len(text), limit)):
        char = match.group()
        if quote:
            if match.start() == escaped_at:
                continue  # the character a backslash escapes
            if char == "\\":
                escaped_at = match.end()
            elif char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
            if depth == 0:
                return match.end()
    return -1


def _python_documents(text: str) -> Iterator[Any]:
    """Python literals printed into `text`: the whole text, else those opening inside it."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[", "(") and stripped[-1:] in ("}", "]", ")"):
        document = _python_literal(stripped)
        if type(document) in (dict, list):
            yield document
            return

    position = 0
    for _ in range(MAX_PYTHON_LITERAL_TRIES):
        match = _PYTHON_LITERAL_START.search(text, position)
        if match is None:
            return
        end = _literal_end(text, match.start())
        if end < 0:
            return
        document = _python_literal(text[match.start() : end]) if end - match.start() >= _MIN_JSON_CHARS else None
        if type(document) in (dict, list):
            yield document
            position = end
        else:
            position = match.start() + 1


def _documents(text: str, python: bool = True) -> Iterator[Any]:
    """The JSON containers of `text`: the whole text when it is one, else those that open
    inside it (the stdlib decoder's raw_decode parses a prefix and says where it ends), at
    most MAX_EMBEDDED_JSON_TRIES openings, each parsed document skipped over; with `python`,
    then the Python literals printed into it when it held no JSON (`_python_documents`)."""
    head = text.lstrip()[:1]
    if head in ("{", "[", '"'):
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            if type(document) in (dict, list, str):
                yield document
            return
    if python and ("'" in text or "(" in text or ": " in text):
        literal = False
        for document in _python_documents(text):
            literal = True
            yield document
        if literal and head in ("{", "[", "("):
            return  # the text is one literal: the JSON-looking lists inside it are its own
    yield from _json_documents(text)


def _json_documents(text: str) -> Iterator[Any]:
    """The JSON containers opening inside `text` (see `_documents`)."""
    position, tries = 0, 0
    while tries < MAX_EMBEDDED_JSON_TRIES:
        match = _EMBEDDED_JSON_START.search(text, position)
        if match is None:
            return
        tries += 1
        try:
            document, end = _DECODER.raw_decode(text, match.start())
        except (ValueError, RecursionError):  # not JSON there; or nested past the stack
            position = match.start() + 1
            continue
        if end - match.start() >= _MIN_JSON_CHARS:
            yield document
            position = end
        elif type(document) is str:
            # A quote opened a short string, not a literal holding a document (`"[{"a": 1}]"`
            # once its escapes are undone): the bracket after the quote may open one.
            position = match.start() + 1
        else:
            position = end


def _json_shapes(text: str, python: bool = True) -> dict[str, Measure]:
    """Entity -> the largest measure of it, for the JSON documents of `text` (the text, or
    containers inside it; nothing when there is none, or the text is too long to parse)."""
    if len(text) < _MIN_JSON_CHARS or len(text) > MAX_NESTED_JSON_CHARS or ("{" not in text and "[" not in text):
        return {}
    walk = _Walk(frozenset())
    for document in _documents(text, python):
        walk.measure(document, ())
    shapes: dict[str, Measure] = {}
    for _, entity, _, measure in walk.found:
        if entity not in shapes or measure > shapes[entity]:
            shapes[entity] = measure
    return shapes


class _Position:
    """A place in an endpoint's bodies (list indexes as one): its class as the catalog gives
    it for a container there, worked out once; and, for a user-data subtree, the classes of
    the values right below it by key."""

    __slots__ = ("children", "cls", "item", "model", "value_classes")

    def __init__(self, cls: str) -> None:
        self.cls = cls
        self.model: bool | None = None  # an object of ZenML's own model here (see _is_model)
        self.children: dict[str, _Position] = {}
        self.item: _Position | None = None
        self.value_classes: dict[tuple[str, int], str] = {}


class ShapeTreeDetector(TreeDetector):
    """Tables, records and bulk numbers in the user-data subtrees of a JSON body."""

    name = "shapes"
    category = "blob"

    def __init__(self) -> None:
        self._roots: dict[Endpoint, _Position] = {}
        self._positions = 0  # user dicts have keys of their own choosing: the tries stay bounded

    def may_find(self, body: bytes) -> bool:
        # The smallest table (2 x 2) or number floor needs a few commas in the JSON text.
        return body.count(b",") >= 3

    def scan_tree(self, root: Any, skip: Collection[int] = frozenset()) -> Iterable[TreeFinding]:
        """Without a catalog: the whole document is user data (an unknown endpoint)."""
        walk = _Walk(skip)
        walk.measure(root, ())
        return walk.found

    def scan_user_data(
        self,
        root: Any,
        skip: Collection[int],
        catalog: Catalog,
        endpoint: Endpoint | None,
        unknown_fields: Collection[str] = (),
    ) -> list[TreeFinding]:
        """Findings in the user-data subtrees of the body `root` of a request to `endpoint`:
        containers the catalog classes as a user dict or a list of names, fields the schema
        does not know (`unknown_fields`, paths), everything when the endpoint is unknown."""
        walk = _Walk(skip)
        if endpoint is None:
            walk.measure(root, ())
            return walk.found
        if self._positions >= _MAX_CLASS_CACHE:
            self._roots.clear()
            self._positions = 0
        top = self._roots.get(endpoint)
        if top is None:
            top = self._roots[endpoint] = _Position("unknown")
        if type(root) is list and root and type(root[0]) not in (dict, list):
            # A body that is a list of values (of names): the body is the user data.
            if catalog.classify(endpoint, (0,), root[0]) in _ROOT_CLASSES:
                walk.measure(root, ())
                return walk.found
        unknown = set(unknown_fields)
        stack: list[tuple[Any, tuple[jsonpath.Part, ...], _Position]] = [(root, (), top)]
        while stack and not walk.stopped:
            node, parts, position = stack.pop()
            if (position.cls in _ROOT_CLASSES and not self._is_model(catalog, endpoint, position, node, parts)) or (
                unknown and parts and jsonpath.render(parts) in unknown
            ):
                walk.measure(self._user_values(catalog, endpoint, position, node, parts), parts)
                continue
            if type(node) is dict:
                children = position.children
                for key, value in node.items():
                    kind = type(value)
                    if (kind is dict or kind is list) and id(value) not in skip:
                        child = children.get(key) or self._child(catalog, endpoint, position, (*parts, key), value)
                        stack.append((value, (*parts, key), child))
            else:
                item = position.item
                for index, value in enumerate(node):
                    kind = type(value)
                    if (kind is dict or kind is list) and id(value) not in skip:
                        if item is None:
                            item = self._item(catalog, endpoint, position, (*parts, index), value)
                        stack.append((value, (*parts, index), item))
        walk.spread_finding()
        return walk.found

    @staticmethod
    def _is_model(catalog: Catalog, endpoint: Endpoint, position: _Position, node: Any,
                  parts: tuple[jsonpath.Part, ...]) -> bool:
        """Whether an object at a user-data position is one of ZenML's models (a union of a
        name and a model, such as a connector's `connector_type`): its keys are the schema's
        fields, its lists ZenML's own structure, not a table of the user's. Decided from the
        first key seen there, once per position."""
        if position.model is None:
            if type(node) is not dict or not node:
                return False
            position.model = catalog.declares(endpoint, (*parts, next(iter(node))))
        return position.model

    def _child(self, catalog: Catalog, endpoint: Endpoint, position: _Position, parts: tuple[jsonpath.Part, ...],
               value: Any) -> _Position:
        child = position.children[parts[-1]] = _Position(catalog.classify(endpoint, parts, value))  # type: ignore[index]
        self._positions += 1
        return child

    def _item(self, catalog: Catalog, endpoint: Endpoint, position: _Position, parts: tuple[jsonpath.Part, ...],
              value: Any) -> _Position:
        item = position.item = _Position(catalog.classify(endpoint, parts, value))
        self._positions += 1
        return item

    def _user_values(self, catalog: Catalog, endpoint: Endpoint, position: _Position, node: Any,
                     parts: tuple[jsonpath.Part, ...]) -> Any:
        """`node` without the keys right below it that have a class of their own (the
        value-derived `string_representation` of artifact metadata, a pip freeze)."""
        if type(node) is not dict or len(node) > _MAX_CLASSIFIED_KEYS:
            return node
        classes = position.value_classes
        kept = {}
        for key, value in node.items():
            # What of a value the catalog reads: None, a `{{...}}` reference, anything else.
            kind = 0 if value is None else 2 if type(value) is str and value.startswith("{{") else 1
            cls = classes.get((key, kind))
            if cls is None:
                if len(classes) >= _MAX_CLASSIFIED_KEYS:
                    classes.clear()
                cls = classes[(key, kind)] = catalog.classify(endpoint, (*parts, key), value)
            if cls in USER_DATA_CLASSES:
                kept[key] = value
        return kept if len(kept) < len(node) else node
