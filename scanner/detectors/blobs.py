"""Serialized data where metadata should be: encoded files in strings, tensors and tables in JSON.

`BlobDetector` looks at long base64/base64url/hex runs in string leaves, decodes a bounded
prefix and names the file format from its magic bytes (a table for the formats ML code
produces, then puremagic for the rest), at offset 0 or, for signatures of four bytes or more,
after up to SIGNATURE_WINDOW bytes of leading junk; it also reports `data:` URIs, raw bytes
carried as a latin-1 string (magic bytes of `text.encode("latin-1")`), and long high-entropy
runs that decode to nothing recognisable (base64 of readable text, words or a small document
such as a JSON config, is not one: `decoders.reads_as_text`; its decoded view goes to every
detector). Hashes, UUIDs and paths, which ZenML writes
everywhere, never decide a verdict: a hex run of a digest's length is a file only when its
bytes open with a strong signature, and a run that mixes both base64 alphabets (a path with
`/` and `-`/`_`) is judged segment by segment.

`NumericArrayDetector` looks at the JSON structure: long arrays of numbers (embeddings,
tensors), nested numeric matrices, and arrays of same-keyed records (a serialized table).
"""

from __future__ import annotations

import base64
import binascii
import math
import pickletools
import re
import struct
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import puremagic
from metagate.scanner import jsonpath
from metagate.scanner.decoders import SIGNATURE_WINDOW, reads_as_text, signature_offset
from metagate.scanner.detectors.base import Detector, Hit, TreeDetector
from metagate.scanner.model import PROVEN_CLASSES, Leaf, views

# A run of base64/base64url characters, optionally wrapped over lines (MIME wraps at 76;
# a JSON string that was itself serialized carries the newline as the two characters \n).
_RUN = re.compile(
    r"[A-Za-z0-9+/_\-]{32,}={0,2}(?:(?:\r?\n|\\n|\\r\\n)[A-Za-z0-9+/_\-]{16,}={0,2})*"
)
_MIN_RUN_CHARS = 32  # the shortest run `_RUN` matches
_WRAP = re.compile(r"\r?\n|\\r\\n|\\n")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}$")
_DATA_URI = re.compile(r"\bdata:[\w.+\-]+/[\w.+\-]+(?:;[\w.+\-]+=[\w.+\-]+)*(?:;base64)?,[A-Za-z0-9+/=%_\-.!~*'()]+")
# Hex digest lengths: md5, sha1, sha224, sha256, sha384, sha512 (and sha256 pairs in cache keys).
_DIGEST_HEX_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})
_DECODE_CHARS = 512  # decode at most this many characters of a run (384 bytes)

# (prefix, offset, entity): formats ML pipelines produce, checked before puremagic.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x93NUMPY", 0, "BLOB_NPY"),
    (b"PK\x03\x04", 0, "BLOB_ZIP"),        # also npz, torch .pt, keras, docx ...
    (b"PK\x05\x06", 0, "BLOB_ZIP"),
    (b"\x1f\x8b", 0, "BLOB_GZIP"),
    (b"\x28\xb5\x2f\xfd", 0, "BLOB_ZSTD"),
    (b"PAR1", 0, "BLOB_PARQUET"),
    (b"\x89HDF\r\n\x1a\n", 0, "BLOB_HDF5"),
    (b"\x89PNG\r\n\x1a\n", 0, "BLOB_PNG"),
    (b"\xff\xd8\xff", 0, "BLOB_JPEG"),
    (b"GIF87a", 0, "BLOB_GIF"),
    (b"GIF89a", 0, "BLOB_GIF"),
    (b"%PDF-", 0, "BLOB_PDF"),
    (b"BZh", 0, "BLOB_BZIP2"),
    (b"\xfd7zXZ\x00", 0, "BLOB_XZ"),
    (b"\x04\x22\x4d\x18", 0, "BLOB_LZ4"),
    (b"ARROW1", 0, "BLOB_ARROW"),
    (b"ustar", 257, "BLOB_TAR"),
    (b"Obj\x01", 0, "BLOB_AVRO"),
    (b"TFL3", 4, "BLOB_TFLITE"),
)
_ZLIB_SECOND = frozenset({0x01, 0x5E, 0x9C, 0xDA})


def _identify(data: bytes) -> str | None:
    """Entity for decoded bytes, or None when no format is recognised."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return "BLOB_PICKLE"  # protocol 2-5 opcode PROTO
    for magic, offset, entity in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return entity
    if _is_safetensors(data):
        return "BLOB_SAFETENSORS"
    if len(data) >= 2 and data[0] == 0x78 and data[1] in _ZLIB_SECOND and (data[0] * 256 + data[1]) % 31 == 0:
        return "BLOB_ZLIB"  # joblib and torch legacy dumps
    if _is_onnx(data):
        return "BLOB_ONNX"
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return None
    # Random bytes hit one- and two-byte signatures by chance: trust only longer ones.
    for match in matches:
        if len(match.byte_match) >= 4 and match.extension:
            return "BLOB_" + re.sub(r"[^A-Z0-9]", "_", match.extension.lstrip(".").upper())
    return None


def _is_safetensors(data: bytes) -> bool:
    # 8-byte little-endian header length, then a JSON header that starts with '{"'.
    if len(data) < 10:
        return False
    (header_len,) = struct.unpack("<Q", data[:8])
    return 2 <= header_len < 100_000_000 and data[8:10] == b'{"'


def _is_onnx(data: bytes) -> bool:
    # Best effort: ModelProto starts with ir_version (field 1, varint 3-12) and then
    # producer_name (field 2) or opset_import (field 8), both length-delimited.
    return len(data) >= 4 and data[0] == 0x08 and 3 <= data[1] <= 12 and data[2] in (0x12, 0x42)


def _identify_anywhere(data: bytes) -> str | None:
    """`_identify` at offset 0, else after leading junk: a strong signature (four bytes or
    more, or a pickle's PROTO and first opcode) in the first SIGNATURE_WINDOW bytes."""
    entity = _identify(data)
    if entity is not None:
        return entity
    at = signature_offset(data)
    return _identify(data[at:]) if at > 0 else None


# Characters of raw bytes carried in a string as latin-1 (C0 and C1 controls): text has none
# of them but tabs and newlines.
_BINARY_CHAR = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LATIN1_PREFIX = SIGNATURE_WINDOW + 512


def _latin1_blobs(index: int, text: str) -> Iterator[Hit]:
    """Raw binary bytes as a latin-1 string (every code point below 256): magic bytes checked
    on the bytes the string stands for, in the text as sent and in each decoded view."""
    for offset, segment in views(text, 16):
        head = segment[:_LATIN1_PREFIX]
        if _BINARY_CHAR.search(head):
            entity = _identify_anywhere(head.encode("latin-1", "replace"))
            if entity is not None:
                yield Hit(index, entity, offset, offset + len(segment), 0.95)


def _decode_prefix(run: str) -> tuple[bytes | None, str]:
    """(decoded bytes of the run's prefix, alphabet) or (None, "") when it is not base64/hex."""
    compact = _WRAP.sub("", run)
    if _HEX.match(compact):
        head = compact[: _DECODE_CHARS - _DECODE_CHARS % 2]
        return binascii.unhexlify(head[: len(head) - len(head) % 2]), "hex"
    head = compact.rstrip("=")[:_DECODE_CHARS]
    head = head[: len(head) - len(head) % 4]
    urlsafe = "-" in head or "_" in head
    if urlsafe and ("+" in head or "/" in head):
        return None, ""  # mixes both alphabets: an identifier or a path, not base64
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(head), "base64url"
        return base64.b64decode(head, validate=True), "base64"
    except (binascii.Error, ValueError):
        return None, ""


def _entropy(text: str) -> float:
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_CLASS_RUN = re.compile(r"[a-z]+|[A-Z]+|[0-9]+|[^a-zA-Z0-9]+")
_LOWER, _UPPER, _DIGITS = re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]")


def _looks_random(run: str, alphabet: str, threshold: float) -> bool:
    """High character entropy, and character classes that change as often as in encoded
    bytes (about two pairs in three). Paths, CamelCase identifiers and prose fall short.
    Runs are ASCII (see `_RUN`), so the classes are plain character ranges."""
    if alphabet == "hex":
        return _entropy(run) >= min(3.7, threshold - 1.0)
    if not (_LOWER.search(run) and _UPPER.search(run) and _DIGITS.search(run)):
        return False
    changes = (len(_CLASS_RUN.findall(run)) - 1) / (len(run) - 1)
    return changes >= 0.4 and _entropy(run) >= threshold


def _mostly_text(data: bytes) -> bool:
    printable = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13))
    return bool(data) and printable / len(data) > 0.95


@dataclass(frozen=True, slots=True)
class BlobSettings:
    """The `detectors.blobs` config section: `BlobDetector`'s keyword arguments, as typed settings."""

    min_run_length: int = 64
    min_hex_length: int = 96
    entropy_threshold: float = 4.5
    min_data_uri_length: int = 16


class BlobDetector(Detector):
    name = "blobs"
    category = "blob"
    settings_type = BlobSettings
    # Hits depend only on a leaf's text, class, key flag and nearest key: cacheable.
    leaf_local = True
    skip_classes = PROVEN_CLASSES | {"secret_ref"}

    def __init__(
        self,
        min_run_length: int = 64,
        min_hex_length: int = 96,
        entropy_threshold: float = 4.5,
        min_data_uri_length: int = 16,
    ) -> None:
        self.min_run_length = min_run_length
        self.min_hex_length = min_hex_length
        self.entropy_threshold = entropy_threshold
        self.min_data_uri_length = min_data_uri_length

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        hits: list[Hit] = []
        for index, leaf in enumerate(leaves):
            # "data:a/b," is nine characters before the payload.
            if self.wants(leaf) and len(leaf.text) >= min(self.min_run_length, self.min_data_uri_length + 9):
                hits.extend(self._scan_text(index, leaf.text))
        return hits

    def _scan_text(self, index: int, text: str) -> Iterator[Hit]:
        uris: list[tuple[int, int]] = []
        for match in _DATA_URI.finditer(text):
            if len(match.group()) - match.group().index(",") - 1 >= self.min_data_uri_length:
                uris.append(match.span())
                yield Hit(index, "DATA_URI", match.start(), match.end(), 0.9)
        if _BINARY_CHAR.search(text):
            yield from _latin1_blobs(index, text)
        if len(text) < _MIN_RUN_CHARS:
            return
        for match in _RUN.finditer(text):
            if any(start < match.end() and match.start() < end for start, end in uris):
                continue  # the payload of a data: URI already reported
            hit = self._classify_run(index, match)
            if hit is not None:
                yield hit

    def _classify_run(self, index: int, match: re.Match[str]) -> Hit | None:
        run = match.group()
        compact = _WRAP.sub("", run)
        if _UUID.match(compact):
            return None
        start, end = match.span()
        if len(compact) < self.min_run_length:
            # Too short to judge by entropy, but the head of a file split apart (a base64
            # pickle in a URL path, cut at each `/` the server routes by) still opens with
            # its signature: reported when that is a strong one at offset 0.
            entity = _short_run_file(compact)
            return Hit(index, entity, start, end, 0.95) if entity is not None else None
        if "/" in compact and ("-" in compact or "_" in compact):
            # Both base64 alphabets at once: no encoding, a path. Its segments are judged on
            # their own (ids, hashes and short names in a path never decide a verdict).
            return self._classify_segments(index, run, start)
        data, alphabet = _decode_prefix(run)
        is_hex = alphabet == "hex"
        if is_hex and len(compact) in _DIGEST_HEX_LENGTHS:
            # A content hash, cache key or checksum, unless its bytes open with a strong
            # signature at offset 0 (random digest bytes meet one about once in 2**28).
            if data is not None and signature_offset(data, window=0) == 0:
                entity = _identify(data)
                if entity is not None:
                    return Hit(index, entity, start, end, 0.95)
            return None
        if data is not None:
            entity = _identify_anywhere(data)
            if entity is None and not is_hex:
                entity = _misaligned(run)
            if entity is not None and (not is_hex or len(compact) >= 64 or signature_offset(data, window=0) == 0):
                return Hit(index, entity, start, end, 0.95)
        if is_hex and len(compact) < self.min_hex_length:
            return None
        if not _looks_random(compact, alphabet or "base64", self.entropy_threshold):
            return None
        if data is not None and not is_hex and not _mostly_text(data):
            return Hit(index, "BLOB_BASE64", start, end, 0.8)
        if is_hex:
            return Hit(index, "BLOB_HEX", start, end, 0.7)
        if data is not None and self._reads_as_text(data):
            # base64 of words or of a document (a small JSON config): random only as encoded,
            # and its decoded view (scanner/evasion.py) goes to every detector as text.
            return None
        return Hit(index, "HIGH_ENTROPY", start, end, 0.6)

    def _reads_as_text(self, data: bytes) -> bool:
        return reads_as_text(data, lambda token: _looks_random(token, "base64", self.entropy_threshold))

    def _classify_segments(self, index: int, run: str, start: int) -> Hit | None:
        offset = 0
        for segment in run.split("/"):
            if len(segment) >= self.min_run_length:
                inner = _RUN.fullmatch(segment)
                if inner is not None:
                    hit = self._classify_run(index, inner)
                    if hit is not None:
                        return Hit(index, hit.entity, start + offset + hit.start, start + offset + hit.end, hit.score)
            offset += len(segment) + 1
        return None


_MIN_PICKLE_OPCODES = 4         # opcodes a short run's pickle must parse into (random bytes: a few in 10**6)


def _short_run_file(compact: str) -> str | None:
    """The format of a base64 run shorter than `min_run_length` whose bytes open, at offset 0,
    with a strong signature (four bytes or more; a pickle whose first opcodes parse)."""
    data, alphabet = _decode_prefix(compact)
    if data is None or alphabet == "hex" or signature_offset(data, window=0) != 0:
        return None
    entity = _identify(data)
    if entity == "BLOB_PICKLE" and _pickle_opcodes(data) < _MIN_PICKLE_OPCODES:
        return None
    return entity


def _pickle_opcodes(data: bytes) -> int:
    """How many opcodes of the pickle `data` opens with parse (it may be cut anywhere)."""
    count = 0
    try:
        for _ in pickletools.genops(data):
            count += 1
            if count >= _MIN_PICKLE_OPCODES:
                break
    except Exception:  # noqa: BLE001 - any parse error ends the count: cut or not a pickle
        pass
    return count


def _misaligned(run: str) -> str | None:
    """A file behind one to three junk characters before its base64 (which shift every later
    quartet): decoded from each of those offsets, checked for a strong signature."""
    for skip in (1, 2, 3):
        data, _ = _decode_prefix(run[skip:])
        if data is not None and signature_offset(data) >= 0:
            return _identify_anywhere(data)
    return None


@dataclass(frozen=True, slots=True)
class ArraySettings:
    """The `detectors.arrays` config section: `NumericArrayDetector`'s keyword arguments."""

    min_numbers: int = 128
    min_records: int = 20
    min_record_keys: int = 2


class NumericArrayDetector(TreeDetector):
    """Embeddings, tensors and tables serialized into the JSON body."""

    name = "arrays"
    category = "blob"
    settings_type = ArraySettings

    def __init__(self, min_numbers: int = 128, min_records: int = 20, min_record_keys: int = 2) -> None:
        self.min_numbers = min_numbers
        self.min_records = min_records
        self.min_record_keys = min_record_keys

    def may_find(self, body: bytes) -> bool:
        # Both need a list of at least min(min_numbers, min_records) items: that many
        # commas less one, in the JSON text.
        return body.count(b",") >= min(self.min_numbers, self.min_records) - 1

    def scan_tree(self, root: Any, skip: Collection[int] = frozenset()) -> Iterable[tuple[str, str, float]]:
        found: list[tuple[str, str, float]] = []
        self._visit(root, (), found, skip)
        return found

    def _visit(
        self, node: Any, parts: tuple[jsonpath.Part, ...], found: list[tuple[str, str, float]], skip: Collection[int]
    ) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, (dict, list)) and id(value) not in skip:
                    self._visit(value, parts + (key,), found, skip)
            return
        if not isinstance(node, list):
            return
        count = _numeric_count(node)
        if count is not None and count >= self.min_numbers:
            found.append((jsonpath.render(parts), "NUMERIC_ARRAY", 0.9))
            return  # one finding for the whole tensor
        if self._is_record_table(node):
            found.append((jsonpath.render(parts), "RECORD_TABLE", 0.8))
            return
        for position, value in enumerate(node):
            if isinstance(value, (dict, list)) and id(value) not in skip:
                self._visit(value, parts + (position,), found, skip)

    def _is_record_table(self, node: list[Any]) -> bool:
        if len(node) < self.min_records or not all(isinstance(row, dict) for row in node):
            return False
        keys = set(node[0])
        if len(keys) < self.min_record_keys:
            return False
        for row in node:
            if set(row) != keys:
                return False
            if any(isinstance(v, (dict, list)) for v in row.values()):
                return False  # rows of scalars: nested objects are ZenML models, not rows
        # Rows of ids and enums (tag links, resource refs) are ZenML batch requests.
        return any(
            isinstance(v, (int, float)) and not isinstance(v, bool)
            or isinstance(v, str) and not _UUID.match(v)
            for row in node
            for v in row.values()
        ) and not _only_ids_and_enums(node)


def _only_ids_and_enums(rows: list[dict[str, Any]]) -> bool:
    """True when every column is either UUIDs or takes a handful of distinct string values."""
    for key in rows[0]:
        values = [row[key] for row in rows]
        if all(isinstance(v, str) and _UUID.match(v) for v in values):
            continue
        if all(isinstance(v, str) for v in values) and len(set(values)) <= 3:
            continue
        return False
    return True


def _numeric_count(node: list[Any]) -> int | None:
    """Numbers in a list of numbers or a nested list of lists of numbers, else None."""
    total = 0
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        for value in current:
            if isinstance(value, list):
                stack.append(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                total += 1
            else:
                return None
    return total
