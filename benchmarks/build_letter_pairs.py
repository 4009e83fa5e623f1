"""Build scanner/detectors/letter_pairs.json: how often each letter follows another in words.

The ROT13 decoder (scanner/decoders.py `rot13_view`) turns a run of capitalised words when it
reads as words turned and not as sent. "Reads as words" is the log-probability of the word's
letter pairs (a letter-bigram model, word start `^` and end `$` included), counted here from
two word lists that ship offline:

- the given names of scanner/detectors/given_names.txt (Faker's person providers, 86 locales),
- the English lemmas of the pinned spaCy pipeline's lemmatizer index and spaCy's stop words
  (scanner/detectors/ner.py `_english_words`).

Only words of the letters a-z count (ROT13 turns those and no others). The counts are small
(27 x 27 integers) and are what the decoder reads; re-run after changing either list.

Usage (project venv, repository root): .venv/bin/python benchmarks/build_letter_pairs.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from metagate.scanner.detectors.ner import DEFAULT_SPACY_MODEL, _english_words

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "scanner" / "detectors" / "letter_pairs.json"
NAMES = ROOT / "scanner" / "detectors" / "given_names.txt"
_WORD = re.compile(r"[a-z]+")
ALPHABET = "^abcdefghijklmnopqrstuvwxyz$"


def main() -> None:
    names = [line for line in NAMES.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    words = sorted({w for w in (*names, *_english_words(DEFAULT_SPACY_MODEL)) if _WORD.fullmatch(w)})
    counts = {a: [0] * (len(ALPHABET) - 1) for a in ALPHABET[:-1]}
    for word in words:
        framed = f"^{word}$"
        for first, second in zip(framed, framed[1:]):
            counts[first][ALPHABET.index(second) - 1] += 1
    document = {
        "_doc": [
            "Letter pairs of words: counts[a][i] is how many times the i-th of `follows` comes after a",
            "(^ starts, $ ends a word).",
            "Built by benchmarks/build_letter_pairs.py from scanner/detectors/given_names.txt and the",
            f"English lemmas and stop words of {DEFAULT_SPACY_MODEL}; read by scanner/decoders.py (ROT13).",
        ],
        "words": len(words),
        "follows": ALPHABET[1:],
    }
    head = json.dumps(document, indent=1)[:-2]
    rows = ",\n".join(f"  {json.dumps(a)}: {json.dumps(row)}" for a, row in counts.items())
    OUT.write_text(f'{head},\n "counts": {{\n{rows}\n }}\n}}\n', encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(words)} words")


if __name__ == "__main__":
    main()
