"""Values split over successive requests: joined with what the same client sent before.

A value cut into short pieces, one piece per request (an e-mail address as seven runs named
`jan`, `e.d`, `oe@` ..., a card as four tags, a key as the names of four artifacts), is
clean in every request alone. Within one request the scanner joins split values itself
(`evasion.py`); across requests only the proxy sees the sequence, so it keeps the short
values a client's forwarded requests carried, per *place* (endpoint template and JSON path,
list indexes dropped), for a while (proxy/recent_values.py), and hands them to the next
request's inspection as `InspectionRequest.earlier`.

Here, for each leaf of the request at a place with earlier values, the earlier values and
the leaf's own are joined in the order sent, decoded like any leaf (so base64 cut into
pieces is read as one run) and given to the detectors; a hit counts only where it reaches
into this request's piece: what lies wholly in earlier pieces was decided when they came.
The finding is the current leaf's, so the request that would complete the value is refused
and the server never holds it whole.

Pure: the proxy owns the state; this module only joins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from metagate.scanner.detection import LeafDetection
from metagate.scanner.evasion import expand_leaves
from metagate.scanner.fingerprint import fingerprint
from metagate.scanner.model import Finding, Leaf, Piece, views
from metagate.scanner.schemas import proven

# A piece is a short value: longer values are decided on their own (and would make every
# repeated description a join). The join reads at most this much of what came before.
MAX_PIECE_CHARS = 64
MAX_JOINED_PREFIX = 512
MAX_PIECES_PER_REQUEST = 64   # values a request adds to its client's memory
DETECTOR_SUFFIX = "+earlier_requests"

_INDEX = re.compile(r"\[\d+\]")

# Findings of mass or shape: a join of many unrelated short values (request ids, versions,
# step names) has mass by construction, so across requests only what a structure proves
# counts (an address, a checksum, a key's prefix, a file signature, a name in context).
# Digits joined over requests are phone-shaped too often to prove a phone.
_NOT_ACROSS_REQUESTS = frozenset({
    "BLOB_HEX", "BLOB_BASE64", "HIGH_ENTROPY_STRING", "PHONE_NUMBER",
    "PROSE", "PERSONAL_PROSE", "RECORDS_TABLE", "CSV_TABLE", "COLUMN_LISTS", "NUMERIC_ARRAY", "NUMERIC_SPREAD",
    "OVERSIZED_USER_DATA",
})


def place_of(path: str) -> str:
    """`$.add_tags[3]` → `$.add_tags[]`: list items of one field are one place."""
    return _INDEX.sub("[]", path)


def pieces_of(template: str | None, leaves: Iterable[Leaf]) -> tuple[Piece, ...]:
    """The short values of a request's scanned leaves, in document order, for the proxy to
    remember (only once the request is forwarded)."""
    out: list[Piece] = []
    for leaf in leaves:
        sent = next(views(leaf.text, 1))[1]
        # An id (the SDK's X-Request-ID, a run's UUID) is no piece of anything.
        if sent and len(sent) <= MAX_PIECE_CHARS and not proven("id", sent):
            out.append(Piece(template or "", place_of(leaf.path), sent))
            if len(out) >= MAX_PIECES_PER_REQUEST:
                break
    return tuple(out)


def findings_across_requests(
    detection: LeafDetection, key: bytes, template: str | None, leaves: Sequence[Leaf], earlier: Sequence[Piece],
) -> list[Finding]:
    """Findings of the detectors on each leaf joined with the earlier values at its place,
    that reach into the leaf's own text."""
    if not earlier or not leaves:
        return []
    by_place: dict[str, list[str]] = {}
    for piece in earlier:
        if piece.template == (template or ""):
            by_place.setdefault(piece.place, []).append(piece.text)
    if not by_place:
        return []
    joined: list[Leaf] = []
    own_from: list[int] = []   # where the leaf's own text starts in its joined text
    for leaf in leaves:
        before = by_place.get(place_of(leaf.path))
        sent = next(views(leaf.text, 1))[1]
        # A value repeated at its place (the same version on every request) is no piece.
        if not before or not sent or len(sent) > MAX_PIECE_CHARS or before[-1] == sent:
            continue
        prefix = "".join(before)[-MAX_JOINED_PREFIX:]
        joined.append(Leaf(leaf.path, prefix + sent, leaf.field_class, leaf.is_key))
        own_from.append(len(prefix))
    if not joined:
        return []
    expanded = expand_leaves(joined).leaves
    findings: list[Finding] = []
    for hit in detection.scan(expanded):
        leaf = expanded[hit.leaf]
        # A hit must end inside the leaf's own piece (or in a decoded view of the join,
        # which comes after it and read the whole join).
        if hit.end <= own_from[hit.leaf] or hit.entity in _NOT_ACROSS_REQUESTS:
            continue
        findings.append(Finding(
            entity=hit.entity, category=hit.detector.category, path=leaf.path, start=0, end=0,
            score=round(float(hit.score), 3), detector=hit.detector.name + DETECTOR_SUFFIX,
            fingerprint=fingerprint(key, leaf.text[hit.start:hit.end]), field_class=leaf.field_class,
        ))
    return findings
