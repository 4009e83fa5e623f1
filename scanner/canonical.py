"""Texts as the detectors see them: UUIDs and run start times replaced by fixed stand-ins.

ZenML puts fresh UUIDs into many strings of every run: log and artifact URIs embed the new
log or step run id, orchestrator run ids are UUIDs, and an artifact URI ends in a random
subfolder, eight hex digits of a fresh UUID (`<step run id>/1a2b3c4d`, zenml's
`generate_artifact_uri`); a default run name ends in the run's start time
(`training-2024_01_26-23_01_33_119023`). A UUID is 122 random bits: no detector
verdict should depend on which ones they are (PII masks them already; the secret and blob
rules exclude a bare UUID), and a verdict that did would be noise, different from run to
run. So before detection, each UUID in a text is replaced by a fixed, random-looking UUID of
the same length (the first distinct UUID of the text by the first stand-in, the second by
the second ...), such a subfolder after a UUID and a run start time likewise (no verdict
should depend on when a run started either): spans stay true, and a URI or run name that
differs from one seen before only in these is a detector-cache hit instead of a fresh scan.
Findings and fingerprints still come from the text as sent (the scanner reads the matched
span from the original).

Bounds, so that ids cannot smuggle data past a detector: only a UUID standing alone (no hex
digit or '-' next to it, which would make it part of a longer run, such as hex chunks
joined by dashes) is replaced, and a text with more than MAX_UUIDS_PER_TEXT distinct
volatile values is left as it is.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from metagate.scanner.model import Leaf

MAX_UUIDS_PER_TEXT = 8

_VOLATILE = re.compile(
    r"(?<![0-9A-Fa-f\-])(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9A-Fa-f\-])"
    r"(?P<subfolder>/[0-9a-f]{8}(?![0-9A-Za-z_\-]))?"
    # zenml's default run name ends in its start time: {date}-{time}, 2024_01_26-23_01_33_119023
    r"|(?<![0-9])(?P<run_time>[0-9]{4}_[0-9]{2}_[0-9]{2}-[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{6})(?![0-9])"
)

# What every match of `_VOLATILE` contains, led by a literal so `re` can skip ahead fast: it
# picks the texts worth the full pattern.
_GATE = re.compile(r"-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|_[0-9]{2}-[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{6}")

# Random-looking (so entropy rules see what they would see on a real id) and fixed.
STAND_INS: tuple[str, ...] = tuple(
    str(uuid.UUID(bytes=hashlib.sha256(f"metagate uuid stand-in {i}".encode()).digest()[:16], version=4))
    for i in range(MAX_UUIDS_PER_TEXT)
)
RUN_TIME_STAND_IN = "2024_05_17-13_42_58_361947"


def canonical_text(text: str) -> str:
    """`text` with its UUIDs, artifact subfolders and run start times replaced by the
    stand-ins; `text` itself when it has none, or more than MAX_UUIDS_PER_TEXT of them."""
    order: dict[str, str] = {}       # each distinct volatile value → its stand-in
    subfolders: dict[str, str] = {}
    uuids = 0                        # distinct UUIDs so far: the next one's stand-in
    pieces: list[str] = []
    done = 0
    # The gate finds candidates fast; `_VOLATILE` decides at the start each one implies
    # (the gate's literal sits 8 characters into a UUID, 7 into a run time).
    for gate in _GATE.finditer(text):
        start = gate.start() - (8 if text[gate.start()] == "-" else 7)
        match = _VOLATILE.match(text, start) if start >= done else None
        if match is None:
            continue
        found = match.group("uuid") or match.group("run_time")
        if found not in order:
            if len(order) >= MAX_UUIDS_PER_TEXT:
                return text  # more than ids would be: left as sent
            if match.group("run_time"):
                order[found] = RUN_TIME_STAND_IN
            else:
                order[found] = STAND_INS[uuids]
                uuids += 1
        replacement = order[found]
        subfolder = match.group("subfolder")
        if subfolder is not None:
            if subfolder not in subfolders:
                subfolders[subfolder] = "/" + STAND_INS[len(subfolders) % MAX_UUIDS_PER_TEXT][-8:]
            replacement += subfolders[subfolder]
        pieces.append(text[done:start])
        pieces.append(replacement)
        done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def canonical_leaves(leaves: Sequence[Leaf]) -> Sequence[Leaf]:
    """`leaves` with the texts that hold a UUID canonical; the same sequence when none does.
    One search over all texts joined finds them."""
    if not leaves:
        return leaves
    texts = [leaf.text for leaf in leaves]
    joined = "\x00".join(texts)
    if "-" not in joined:
        return leaves
    holders: set[int] = set()
    starts: list[int] | None = None
    position = 0
    while True:
        match = _GATE.search(joined, position)
        if match is None:
            break
        if starts is None:
            starts = list(accumulate((len(t) + 1 for t in texts), initial=0))
        index = bisect_right(starts, match.start()) - 1
        holders.add(index)
        position = starts[index + 1]  # one match is enough to know the text holds one
    if not holders:
        return leaves
    canonical = list(leaves)
    for index in holders:
        text = canonical_text(texts[index])
        if text is not texts[index]:
            leaf = leaves[index]
            canonical[index] = Leaf(leaf.path, text, leaf.field_class, leaf.is_key)
    return canonical
