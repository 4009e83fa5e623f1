"""Cases for the live adversarial suite (tests/e2e/test_adversarial.py).

A case plants one fresh random *canary* (an e-mail, a card number, an SSN, an AWS
key id, a person's name, a PEM block, a pickle or a PNG behind junk bytes),
*encoded* with one technique (plain, percent, HTML entities, base32, reversed,
split over sibling fields, ...), at one *channel* of the ZenML 0.98 REST API
(run-metadata value at depth, tag name, run name, pipeline parameter, artifact
metadata key, query filter, header, hash field, ``{{x.y}}`` look-alike, ...).
Every technique meets every channel once (the full cross product of techniques
and channels; the canary kind rotates over the kinds a technique applies to), so
a gate that reads one encoding only where one channel carries it shows up.

A bypass is a planted value the server *stored or logged*: `StoreSnapshot`
reads the server's SQLite database (every text cell, blob cells base64-decoded,
JSON cells parsed) and its log, and `Case.needles` lists every form the value
could take there: the plain canary and the value *as sent* (the encoded form is
what a server stores), each also JSON-escaped and percent-quoted; split values
count as stored only when every fragment is held.

Nothing here talks to a network; the e2e test sends the requests.
"""

from __future__ import annotations

import base64
import codecs
import json
import pickle
import random
import re
import sqlite3
import string
import urllib.parse
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CAPTURED_DIR = Path(__file__).resolve().parents[1] / "corpus" / "captured"

# --------------------------------------------------------------------------
# Canaries: fresh random values of a sensitive shape
# --------------------------------------------------------------------------

_FIRST_NAMES = (
    "Marguerite", "Tobias", "Ingrid", "Rashid", "Eleanor", "Dmitri", "Beatrix", "Olusegun", "Henrietta",
    "Casimir", "Rosalind", "Thaddeus", "Philippa", "Leopold", "Gwendolyn", "Ignatius", "Seraphina", "Bartholomew",
)  # fmt: skip
_LAST_NAMES = (
    "Okonkwo", "Villanueva", "Lindqvist", "Abernathy", "Castellanos", "Drummond", "Fairweather", "Kowalczyk",
    "Montgomery", "Nakashima", "Oyelaran", "Pemberton", "Quartermaine", "Rosenthal", "Szymanski", "Thornbury",
)  # fmt: skip
_DOMAIN_WORDS = ("bluefinch", "corvexa", "harrowgate", "lumentic", "northwell", "quillon", "stavro", "tindra")

CanaryKind = Literal["email", "card", "ssn", "aws_key", "person_name", "pem", "pickle_blob", "png_blob"]
CANARY_KINDS: tuple[CanaryKind, ...] = (
    "email", "card", "ssn", "aws_key", "person_name", "pem", "pickle_blob", "png_blob",
)  # fmt: skip
BLOB_KINDS = frozenset({"pickle_blob", "png_blob"})
DIGIT_KINDS = frozenset({"card", "ssn"})


@dataclass(frozen=True)
class Canary:
    """A planted value. ``text`` is its plain form (a blob's bytes as latin-1 text);
    ``markers`` are random substrings of it that prove it was stored even in part."""

    kind: CanaryKind
    text: str
    payload: bytes  # what byte encoders encode: a blob's bytes, else the UTF-8 text
    markers: tuple[str, ...] = ()

    @property
    def is_blob(self) -> bool:
        return self.kind in BLOB_KINDS

    @property
    def digits(self) -> str:
        return re.sub(r"\D", "", self.text)


def _luhn_complete(prefix: str) -> str:
    total = 0
    for index, char in enumerate(reversed(prefix)):
        digit = int(char)
        if index % 2 == 0:  # doubled positions, counted from the check digit to be added
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return prefix + str((10 - total % 10) % 10)


def _random_letters(rng: random.Random, count: int, alphabet: str = string.ascii_lowercase) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def _png(rng: random.Random, marker: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = chunk(b"IHDR", (4).to_bytes(4, "big") + (4).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0]))
    pixels = chunk(b"IDAT", zlib.compress(rng.randbytes(24)))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"tEXt", b"note\x00" + marker) + pixels + chunk(b"IEND", b"")


def make_canary(kind: CanaryKind, rng: random.Random) -> Canary:
    """A fresh canary of ``kind``; random enough that no two cases share a value."""
    if kind == "email":
        local = f"{_random_letters(rng, 5)}.{_random_letters(rng, 6)}{rng.randrange(10, 99)}"
        domain = f"{rng.choice(_DOMAIN_WORDS)}{_random_letters(rng, 3)}.com"
        text = f"{local}@{domain}"
        return Canary(kind, text, text.encode(), (local,))
    if kind == "card":
        text = _luhn_complete("4" + "".join(rng.choice(string.digits) for _ in range(14)))
        return Canary(kind, text, text.encode())
    if kind == "ssn":
        text = f"{rng.randrange(100, 665):03d}-{rng.randrange(10, 99):02d}-{rng.randrange(1000, 9999):04d}"
        return Canary(kind, text, text.encode())
    if kind == "aws_key":
        text = "AKIA" + _random_letters(rng, 16, string.ascii_uppercase + "234567")
        return Canary(kind, text, text.encode())
    if kind == "person_name":
        text = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}-{rng.choice(_LAST_NAMES)}"
        return Canary(kind, text, text.encode())
    if kind == "pem":
        alphabet = string.ascii_letters + string.digits + "+/"
        lines = [_random_letters(rng, 64, alphabet) for _ in range(2)] + [_random_letters(rng, 40, alphabet) + "=="]
        text = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"
        return Canary(kind, text, text.encode(), (lines[0],))
    if kind == "pickle_blob":
        marker = _random_letters(rng, 16, string.ascii_lowercase + string.digits)
        obj = {"customer_rows": [[rng.randrange(1000), rng.random()] for _ in range(3)], "tag": marker}
        payload = rng.randbytes(rng.randrange(3, 9)) + pickle.dumps(obj, protocol=4)
        return Canary(kind, payload.decode("latin-1"), payload, (marker,))
    if kind == "png_blob":
        marker = _random_letters(rng, 16, string.ascii_lowercase + string.digits)
        payload = rng.randbytes(rng.randrange(3, 9)) + _png(rng, marker.encode())
        return Canary(kind, payload.decode("latin-1"), payload, (marker,))
    raise ValueError(kind)


# --------------------------------------------------------------------------
# Plants: a canary encoded by one technique
# --------------------------------------------------------------------------

PlantForm = Literal["text", "parts", "siblings", "number"]


@dataclass(frozen=True)
class Plant:
    """What a channel places: one string, a list of fragments, sibling fields, or a JSON number.

    ``json_literal`` (JSON escapes) is the raw JSON string text to put in a JSON body in
    place of ``value``; outside JSON (a header, a query) it is sent as that text itself.
    """

    form: PlantForm
    value: Any
    json_literal: str | None = None

    @property
    def fragments(self) -> list[Any]:
        if self.form == "parts":
            return list(self.value)
        if self.form == "siblings":
            return list(self.value.values())
        return [self.value]

    def as_text(self) -> str:
        """The plant as one string, for a channel that only carries strings."""
        if self.json_literal is not None:
            return self.json_literal
        if self.form == "text":
            return self.value
        if self.form == "number":
            return json.dumps(self.value)
        return ",".join(str(item) for item in self.fragments)

    def text_pieces(self) -> list[str]:
        """Fragments as strings, for a channel that carries several strings (tags, headers, keys)."""
        if self.form in ("parts", "siblings") and all(len(str(item)) >= 3 for item in self.fragments):
            return [str(item) for item in self.fragments]
        return [self.as_text()]

    def keyed(self, stem: str) -> dict[str, Any]:
        """Sibling fields: the plant's own keys, or ``stem_0``... for list fragments."""
        if self.form == "siblings":
            return dict(self.value)
        return {f"{stem}_{index}": piece for index, piece in enumerate(self.text_pieces())}


TechniqueFamily = Literal["plain", "encoding", "obfuscation", "splitting", "number", "binary"]


@dataclass(frozen=True)
class Technique:
    name: str
    family: TechniqueFamily
    applies: Callable[[Canary], bool]
    encode: Callable[[Canary, random.Random], Plant]


MAX_PIECES = 10


def _chunks(text: str, rng: random.Random, low: int = 3, high: int = 5) -> list[str]:
    """``text`` in pieces of ``low``..``high`` characters, the last one never shorter than ``low``.

    Long values (a PEM, a blob's base64) get longer pieces so that a split stays within about
    ``MAX_PIECES`` requests where a channel carries one piece per request."""
    low = max(low, -(-len(text) // MAX_PIECES))
    high = max(high, low + 2)
    pieces: list[str] = []
    index = 0
    while index < len(text):
        size = rng.randint(low, high)
        pieces.append(text[index : index + size])
        index += size
    if len(pieces) > 1 and len(pieces[-1]) < low:
        last = pieces.pop()
        pieces[-1] += last
    return pieces


def _split_source(canary: Canary) -> str:
    # A blob is split as base64 (a JSON string cannot hold raw bytes); text as itself.
    return base64.b64encode(canary.payload).decode() if canary.is_blob else canary.text


def _sibling_names(canary: Canary, count: int) -> list[str]:
    if canary.kind == "card" and count == 4:
        return ["card_bin", "card_mid", "card_mid2", "card_last4"]
    return [f"part_{index}" for index in range(count)]


def _split_siblings(canary: Canary, rng: random.Random) -> Plant:
    if canary.kind == "card":
        pieces = [canary.text[i : i + 4] for i in range(0, 16, 4)]
    else:
        pieces = _chunks(_split_source(canary), rng)
    return Plant("siblings", dict(zip(_sibling_names(canary, len(pieces)), pieces)))


HOMOGLYPHS = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "p": "\u0440",
                             "A": "\u0410", "K": "\u041a", "I": "\u0406", "M": "\u041c", "T": "\u0422", "@": "\uff20"})  # fmt: skip


def _homoglyph(canary: Canary, rng: random.Random) -> Plant:
    return Plant("text", canary.text.translate(HOMOGLYPHS))


def _at_obfuscation(canary: Canary, rng: random.Random) -> Plant:
    local, domain = canary.text.split("@")
    at, dot = rng.choice([(" [at] ", " [dot] "), ("(at)", "(dot)"), (" at ", " dot "), ("[AT]", "[DOT]")])
    return Plant("text", local + at + domain.replace(".", dot))


def _spaced_base64(canary: Canary, rng: random.Random) -> Plant:
    encoded = base64.b64encode(canary.payload).decode()
    return Plant("text", " ".join(encoded[i : i + 8] for i in range(0, len(encoded), 8)))


def _percent(canary: Canary, rng: random.Random) -> Plant:
    # Every byte escaped, so a value of digits or letters changes too.
    return Plant("text", "".join(f"%{byte:02X}" for byte in canary.payload))


def _json_escapes(canary: Canary, rng: random.Random) -> Plant:
    return Plant("text", canary.text, json_literal="".join(f"\\u{ord(char):04x}" for char in canary.text))


def _is_text(canary: Canary) -> bool:
    return not canary.is_blob


def _any(canary: Canary) -> bool:
    return True


TECHNIQUES: tuple[Technique, ...] = (
    Technique("plain", "plain", _is_text, lambda c, r: Plant("text", c.text)),
    Technique("latin1_bytes", "binary", lambda c: c.is_blob, lambda c, r: Plant("text", c.text)),
    Technique("percent", "encoding", _any, _percent),
    Technique("html_entities", "encoding", _is_text, lambda c, r: Plant("text", "".join(f"&#x{ord(ch):x};" for ch in c.text))),
    Technique("json_escapes", "encoding", _any, _json_escapes),
    Technique("base64", "encoding", _any, lambda c, r: Plant("text", base64.b64encode(c.payload).decode())),
    Technique("base64_spaced", "encoding", _any, _spaced_base64),
    Technique("base32", "encoding", _any, lambda c, r: Plant("text", base64.b32encode(c.payload).decode())),
    Technique("base85", "encoding", _any, lambda c, r: Plant("text", base64.b85encode(c.payload).decode())),
    Technique("ascii85", "encoding", _any, lambda c, r: Plant("text", base64.a85encode(c.payload).decode())),
    Technique("hex", "encoding", _any, lambda c, r: Plant("text", c.payload.hex())),
    Technique("hex_0x_upper", "encoding", _any, lambda c, r: Plant("text", "0x" + c.payload.hex().upper())),
    Technique("reversed", "obfuscation", _is_text, lambda c, r: Plant("text", c.text[::-1])),
    Technique("rot13", "obfuscation", lambda c: _is_text(c) and c.kind not in DIGIT_KINDS,  # ROT13 leaves digits as they are
              lambda c, r: Plant("text", codecs.encode(c.text, "rot13"))),
    Technique("at_obfuscation", "obfuscation", lambda c: c.kind == "email", _at_obfuscation),
    Technique("homoglyph", "obfuscation", lambda c: c.kind in ("email", "person_name", "aws_key"), _homoglyph),
    Technique("char_list", "splitting", _is_text, lambda c, r: Plant("parts", list(c.text))),
    Technique("split_list", "splitting", _any, lambda c, r: Plant("parts", _chunks(_split_source(c), r))),
    Technique("split_siblings", "splitting", _any, _split_siblings),
    Technique("json_int", "number", lambda c: c.kind in DIGIT_KINDS, lambda c, r: Plant("number", int(c.digits))),
    Technique("json_float", "number", lambda c: c.kind == "card", lambda c, r: Plant("number", float(int(c.digits)))),
    Technique("digits_list", "number", lambda c: c.kind in DIGIT_KINDS, lambda c, r: Plant("parts", [int(d) for d in c.digits])),
)  # fmt: skip


# --------------------------------------------------------------------------
# Channels: where a plant is placed in a real ZenML request
# --------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str | bytes] = field(default_factory=dict)
    body: Any = None
    # JSON-escape plants: the placeholder string in ``body`` becomes this raw JSON string text.
    literals: dict[str, str] = field(default_factory=dict)
    # Forms the channel had to give the value on the wire (a header's bytes): searched for too.
    sent_forms: list[str] = field(default_factory=list)

    def body_bytes(self) -> bytes | None:
        if self.body is None:
            return None
        text = json.dumps(self.body)
        for placeholder, literal in self.literals.items():
            text = text.replace(json.dumps(placeholder), f'"{literal}"')
        return text.encode()


@dataclass
class Context:
    """Ids of what the server already holds (made directly on the server, not through the gate)."""

    project: str
    stack: str
    artifact_store: str
    pipeline: str
    snapshot: str
    model: str
    snapshot_template: dict[str, Any]
    fresh_run: Callable[[], str]  # a new pipeline run on the server, for channels that update one


@dataclass(frozen=True)
class Channel:
    name: str
    family: Literal["user_data", "name_field", "transport", "proven_class"]
    build: Callable[[Context, Plant, random.Random], list[Request]]
    clean: Callable[[random.Random], Plant] | None  # a clean value of the same shape (None: no clean use)
    stores: bool = True  # False: the server never keeps this value (a header), only its log might


def _placed(plant: Plant, request_literals: dict[str, str]) -> Any:
    """The JSON value for a plant in a body; a JSON-escape plant becomes a placeholder."""
    if plant.json_literal is not None:
        placeholder = f"__metagate_adversarial_{uuid.uuid4().hex}__"
        request_literals[placeholder] = plant.json_literal
        return placeholder
    if plant.form == "siblings":
        return dict(plant.value)
    if plant.form == "parts":
        return list(plant.value)
    return plant.value


def _placed_text(plant: Plant, request_literals: dict[str, str]) -> str:
    if plant.json_literal is not None:
        return _placed(plant, request_literals)
    return plant.as_text()


def _unique(rng: random.Random, stem: str) -> str:
    return f"{stem}-{rng.randrange(16**6):06x}"


def _run_metadata(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    literals: dict[str, str] = {}
    values = {"accuracy": 0.91, "debug": {"inputs": {"sample": {"note": _placed(plant, literals)}}}}
    body = {"project": ctx.project, "resources": [{"id": ctx.fresh_run(), "type": "pipeline_run"}],
            "stack_component_id": None, "values": values, "types": {"accuracy": "float", "debug": "dict"},
            "publisher_step_id": None}  # fmt: skip
    return [Request("POST", "/api/v1/run-metadata", body=body, literals=literals)]


def _tags(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    literals: dict[str, str] = {}
    if plant.json_literal is not None:
        tags = [_placed(plant, literals)]
    else:
        tags = plant.text_pieces()
    return [Request("PUT", f"/api/v1/runs/{ctx.fresh_run()}", body={"add_tags": tags}, literals=literals)]


def _new_tag(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):
        literals: dict[str, str] = {}
        requests.append(Request("POST", "/api/v1/tags", body={"name": piece(literals)}, literals=literals))
    return requests


def _pieces_or_literal(plant: Plant) -> list[Callable[[dict[str, str]], Any]]:
    """One placer per request for channels that carry one string per request (split over requests)."""
    if plant.json_literal is not None:
        return [lambda literals: _placed(plant, literals)]
    return [lambda literals, piece=piece: piece for piece in plant.text_pieces()]


def _run_name(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):
        literals: dict[str, str] = {}
        # As the SDK's second POST /runs: a running run with its orchestrator id (no placeholder).
        body = {"project": ctx.project, "name": piece(literals), "snapshot": ctx.snapshot, "orchestrator_run_id": str(uuid.uuid4()),
                "start_time": "2026-12-04T01:00:00.000001", "end_time": None, "status": "running",
                "status_reason": None, "orchestrator_environment": {}, "trigger_info": None, "tags": None,
                "logs": None, "exception_info": None, "original_run_id": None, "parent_run_id": None, "child_key": None}  # fmt: skip
        requests.append(Request("POST", "/api/v1/runs", body=body, literals=literals))
    return requests


def _snapshot(ctx: Context, configure: Callable[[dict[str, Any], dict[str, str]], None]) -> Request:
    body = json.loads(json.dumps(ctx.snapshot_template))
    literals: dict[str, str] = {}
    configure(body, literals)
    return Request("POST", "/api/v1/pipeline_snapshots", body=body, literals=literals)


def _pipeline_parameter(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    def configure(body: dict[str, Any], literals: dict[str, str]) -> None:
        value = _placed(plant, literals)
        body["pipeline_configuration"]["parameters"] = {"lr": 0.05, "epochs": 3, "segment": value}
        body["pipeline_spec"]["parameters"] = {"lr": 0.05, "epochs": 3, "segment": value}

    return [_snapshot(ctx, configure)]


def _environment_reference(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    """A value dressed as a ``{{ secret.key }}`` reference, which the gate may take for a proven class."""

    def configure(body: dict[str, Any], literals: dict[str, str]) -> None:
        environment = {}
        for index, piece in enumerate(_pieces_or_literal(plant)):
            value = piece(literals)
            if value.startswith("{{"):  # a clean control: already a reference
                environment[f"DB_PASSWORD_{index}"] = value
            else:
                style = index % 3
                environment[f"DB_PASSWORD_{index}"] = (
                    "{{ " + value + " }}" if style == 0 else "{{db.password}}" + value if style == 1 else "{{ vault." + value + " }}"
                )  # fmt: skip
        body["pipeline_configuration"]["environment"] = environment

    return [_snapshot(ctx, configure)]


def _docker_settings_reference(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    """The same look-alike in Docker settings' environment (what the image build would bake in)."""

    def configure(body: dict[str, Any], literals: dict[str, str]) -> None:
        environment = {}
        for index, piece in enumerate(_pieces_or_literal(plant)):
            value = piece(literals)
            environment[f"API_TOKEN_{index}"] = value if value.startswith("{{") else "{{ " + value + " }}"
        body["pipeline_configuration"]["settings"] = {"docker": {"environment": environment, "requirements": ["scikit-learn"]}}

    return [_snapshot(ctx, configure)]


def _snapshot_version_hash(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):

        def configure(body: dict[str, Any], literals: dict[str, str], piece=piece) -> None:
            body["pipeline_version_hash"] = piece(literals)

        requests.append(_snapshot(ctx, configure))
    return requests


def _artifact_version(ctx: Context, rng: random.Random, **fields: Any) -> dict[str, Any]:
    name = _unique(rng, "adv_artifact")
    body = {
        "project": ctx.project, "artifact_id": None, "artifact_name": name, "version": None, "has_custom_name": True,
        "type": "BaseArtifact", "artifact_store_id": ctx.artifact_store,
        "uri": f"/tmp/zenml-adversarial/local_stores/{ctx.artifact_store}/train/{name}/{uuid.uuid4()}/{uuid.uuid4().hex[:8]}",
        "materializer": {"module": "zenml.materializers.built_in_materializer", "attribute": "BuiltInContainerMaterializer", "type": "internal"},
        "data_type": {"module": "builtins", "attribute": "list", "type": "builtin"},
        "content_hash": uuid.uuid4().hex, "tags": [], "visualizations": [], "save_type": "step_output",
        "metadata": {"storage_size": 98, "length": 12}, "item_count": 12,
    }  # fmt: skip
    body.update(fields)
    return body


def _artifact_metadata_value(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    literals: dict[str, str] = {}
    body = _artifact_version(ctx, rng)
    body["metadata"] = {"storage_size": 98, "length": 12, "notes": _placed(plant, literals)}
    return [Request("POST", "/api/v1/artifact_versions/batch", body=[body], literals=literals)]


def _artifact_metadata_key(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    literals: dict[str, str] = {}
    body = _artifact_version(ctx, rng)
    keys = [_placed(plant, literals)] if plant.json_literal is not None else plant.text_pieces()
    body["metadata"] = {"storage_size": 98, **{key: 1 for key in keys}}
    return [Request("POST", "/api/v1/artifact_versions/batch", body=[body], literals=literals)]


def _content_hash(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):
        literals: dict[str, str] = {}
        body = _artifact_version(ctx, rng, content_hash=piece(literals))
        requests.append(Request("POST", "/api/v1/artifact_versions/batch", body=[body], literals=literals))
    return requests


def _step(ctx: Context, run_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        # load_data: the snapshot's first step, which has no parent step the server would look for.
        "project": ctx.project, "name": "load_data", "start_time": "2026-12-04T01:00:01.000001", "end_time": None,
        "status": "running", "cache_key": uuid.uuid4().hex, "cache_expires_at": None, "code_hash": None,
        "docstring": None, "source_code": None, "pipeline_run_id": run_id, "original_step_run_id": None,
        "parent_step_ids": [], "inputs": {}, "outputs": {}, "logs": None, "exception_info": None,
        "dynamic_config": None, "resource_requester": None, "resource_request_runtime": None,
    }  # fmt: skip
    body.update(fields)
    return body


def _step_cache_key(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):  # one step per run may be created: a fresh run per request
        literals: dict[str, str] = {}
        value = piece(literals)
        body = _step(ctx, ctx.fresh_run(), cache_key=value, code_hash=value)
        requests.append(Request("POST", "/api/v1/steps", body=body, literals=literals))
    return requests


def _exception_message(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    placers = _pieces_or_literal(plant)
    for piece in placers:
        literals: dict[str, str] = {}
        message = piece(literals)
        if plant.json_literal is None and len(placers) == 1:
            # One value: inside a realistic message. Fragments go bare, so each is a whole stored string.
            message = f"batch validation failed: {message}"
        info = {"traceback": "  File \"pipeline.py\", line 23, in validate_batch\nValueError\n",
                "source": "builtins.ValueError", "message": message, "user_code_line": 2}  # fmt: skip
        body = _step(ctx, ctx.fresh_run(), status="failed",
                     end_time="2026-12-04T01:00:02.000001", exception_info=info)  # fmt: skip
        requests.append(Request("POST", "/api/v1/steps", body=body, literals=literals))
    return requests


def _model_version_description(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):
        literals: dict[str, str] = {}
        body = {"project": ctx.project, "model": ctx.model, "name": _unique(rng, "v"), "description": piece(literals),
                "stage": None, "tags": None}  # fmt: skip
        requests.append(Request("POST", "/api/v1/model_versions", body=body, literals=literals))
    return requests


def _pipeline_description(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):
        literals: dict[str, str] = {}
        body = {"project": ctx.project, "name": _unique(rng, "adv_pipeline"), "description": piece(literals), "tags": None}
        requests.append(Request("POST", "/api/v1/pipelines", body=body, literals=literals))
    return requests


def _artifact_name(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    requests = []
    for piece in _pieces_or_literal(plant):
        literals: dict[str, str] = {}
        body = {"project": ctx.project, "name": piece(literals), "has_custom_name": True, "tags": None}
        requests.append(Request("POST", "/api/v1/artifacts", body=body, literals=literals))
    return requests


def _service_connector(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    literals: dict[str, str] = {}
    if plant.json_literal is not None:
        labels = {"owner": _placed(plant, literals)}
    else:
        labels = plant.keyed("owner") if len(plant.text_pieces()) > 1 else {"owner": plant.as_text()}
    body = {"project": ctx.project, "name": _unique(rng, "adv-connector"), "connector_type": "aws",
            "auth_method": "implicit", "resource_types": ["s3-bucket"], "configuration": {"region": "eu-west-1"},
            "labels": labels, "description": "S3 access for the training pipelines"}  # fmt: skip
    return [Request("POST", "/api/v1/service_connectors", body=body, literals=literals)]


def _secret_value(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    literals: dict[str, str] = {}
    if plant.json_literal is not None:
        values = {"note": _placed(plant, literals)}
    else:
        values = plant.keyed("note") if len(plant.text_pieces()) > 1 else {"note": plant.as_text()}
    body = {"name": _unique(rng, "adv-secret"), "private": False, "values": values}
    return [Request("POST", "/api/v1/secrets", body=body, literals=literals)]


def _query_filter(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    query = [("hydrate", "False"), ("sort_by", "desc:created"), ("logical_operator", "and"), ("page", "1"), ("size", "1"),
             ("project", ctx.project)]  # fmt: skip
    query += [("name", piece) for piece in ([plant.as_text()] if plant.json_literal else plant.text_pieces())]
    return [Request("GET", "/api/v1/pipelines", query=query)]


_HEADER_NAMES = ("X-Request-ID", "Idempotency-Key", "Accept-Language", "Via", "X-Forwarded-For", "Forwarded", "X-Customer")


def _header(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    pieces = [plant.as_text()] if plant.json_literal else plant.text_pieces()
    first = rng.randrange(len(_HEADER_NAMES))
    headers: dict[str, str | bytes] = {}
    sent: list[str] = []
    for index, piece in enumerate(pieces):
        name = _HEADER_NAMES[(first + index) % len(_HEADER_NAMES)]
        if name in headers:
            name = f"X-Trace-Part-{index}"
        piece = " ".join(piece.splitlines())  # a header holds one line
        # http.client sends str header values as latin-1: other text goes as its UTF-8 bytes.
        if _latin1(piece):
            headers[name] = piece
        else:
            headers[name] = piece.encode()
            sent.append(piece.encode().decode("latin-1"))
        sent.append(piece)
    return [Request("GET", "/api/v1/pipelines", query=[("hydrate", "False"), ("size", "1")], headers=headers, sent_forms=sent)]


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _path_parameter(ctx: Context, plant: Plant, rng: random.Random) -> list[Request]:
    pieces = [plant.as_text()] if plant.json_literal else plant.text_pieces()
    return [Request("GET", "/api/v1/runs/" + urllib.parse.quote(piece, safe=""), query=[("hydrate", "False")]) for piece in pieces]


def _clean(make: Callable[[random.Random], str]) -> Callable[[random.Random], Plant]:
    return lambda rng: Plant("text", make(rng))


CHANNELS: tuple[Channel, ...] = (
    Channel("run_metadata_deep", "user_data", _run_metadata, _clean(lambda r: f"warm start from checkpoint {r.randrange(100, 999)}")),
    Channel("pipeline_parameter", "user_data", _pipeline_parameter, _clean(lambda r: f"baseline-v{r.randrange(100, 999)}")),
    Channel("artifact_metadata_value", "user_data", _artifact_metadata_value, _clean(lambda r: f"resnet50-v{r.randrange(100, 999)}")),
    Channel("exception_message", "user_data", _exception_message, _clean(lambda r: f"{r.randrange(100, 999)} rows, expected 1000")),
    Channel("model_version_description", "user_data", _model_version_description,
            _clean(lambda r: f"Gradient-boosted churn model retrained on week {r.randrange(10, 52)} data (run {r.randrange(1000, 9999)}).")),
    Channel("pipeline_description", "user_data", _pipeline_description, _clean(lambda r: f"Nightly churn training, variant {r.randrange(1000, 9999)}")),
    Channel("service_connector_label", "user_data", _service_connector, _clean(lambda r: f"ml-platform-{r.randrange(1000, 9999)}")),
    Channel("secret_value", "user_data", _secret_value, None),  # a secret is no metadata: no clean use through the gate
    Channel("tag_on_run", "name_field", _tags, _clean(lambda r: f"nightly-2024-w{r.randrange(10, 52)}-{r.randrange(100, 999)}")),
    Channel("tag_create", "name_field", _new_tag, _clean(lambda r: f"nightly-{r.randrange(1000, 9999)}")),
    Channel("run_name", "name_field", _run_name,
            _clean(lambda r: f"clean_training-2026_11_26-05_{r.randrange(10, 59)}_{r.randrange(10, 59)}_{r.randrange(10**5, 10**6)}")),
    Channel("artifact_name", "name_field", _artifact_name, _clean(lambda r: f"training_rows_{r.randrange(1000, 9999)}")),
    Channel("artifact_metadata_key", "name_field", _artifact_metadata_key, _clean(lambda r: f"val_accuracy_epoch_{r.randrange(100, 999)}")),
    Channel("query_filter", "transport", _query_filter, _clean(lambda r: f"clean_training_{r.randrange(1000, 9999)}")),
    # A UUID is what the SDK sends in Idempotency-Key and fits the other headers too.
    Channel("header", "transport", _header, _clean(lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4))), stores=False),
    Channel("path_parameter", "transport", _path_parameter, _clean(lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)))),
    Channel("artifact_content_hash", "proven_class", _content_hash, _clean(lambda r: f"{r.getrandbits(128):032x}")),
    Channel("step_cache_key", "proven_class", _step_cache_key, _clean(lambda r: f"{r.getrandbits(128):032x}")),
    Channel("snapshot_version_hash", "proven_class", _snapshot_version_hash, _clean(lambda r: f"{r.getrandbits(128):032x}")),
    Channel("environment_reference", "proven_class", _environment_reference,
            _clean(lambda r: "{{ creds_" + f"{r.randrange(1000, 9999)}" + ".password }}")),
    Channel("docker_settings_reference", "proven_class", _docker_settings_reference,
            _clean(lambda r: "{{ registry_" + f"{r.randrange(1000, 9999)}" + ".token }}")),
)  # fmt: skip


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    technique: str
    technique_family: str
    channel: str
    channel_family: str
    canary: Canary | None  # None for a clean control
    plant: Plant

    @property
    def control(self) -> bool:
        return self.canary is None

    @property
    def classes(self) -> list[str]:
        """The issue's classes this case belongs to (encodings, splitting, placement, blob, proven-class)."""
        found = []
        if self.technique_family in ("encoding", "obfuscation", "number"):
            found.append("encodings")
        if self.technique_family == "splitting":
            found.append("splitting")
        if self.canary is not None and self.canary.is_blob:
            found.append("blob_smuggling")
        if self.channel_family == "proven_class":
            found.append("proven_class_fields")
        if self.technique_family == "plain" or self.channel_family in ("name_field", "transport"):
            found.append("placement")
        return found

    def needles(self, sent_forms: Iterable[str] = ()) -> tuple[list[str], list[list[str]]]:
        """(substrings any of which proves the value is held, fragment sets all of which together do).

        Forms: the plain canary and its markers, the value as sent (encoded), numbers in
        every rendering, each JSON-escaped and percent-quoted as a server or its log keeps
        text. Split values: the fragments, matched as whole stored strings."""
        texts: list[str] = list(sent_forms)
        if self.canary is not None:
            texts += [self.canary.text, *self.canary.markers]
            if self.canary.kind in DIGIT_KINDS:
                texts.append(self.canary.digits)
        plant = self.plant
        if plant.json_literal is not None:
            texts.append(plant.json_literal)
        if plant.form == "text":
            texts.append(plant.value)
        elif plant.form == "number":
            texts += _number_renderings(plant.value)
        else:
            fragments = plant.fragments
            texts += [json.dumps(fragments), json.dumps(fragments, separators=(",", ":")), plant.as_text()]
            texts.append("".join(str(item) for item in fragments))
        substrings = sorted({form for text in texts for form in _stored_forms(text) if len(form) >= 6})
        fragment_sets: list[list[str]] = []
        if plant.form in ("parts", "siblings") and all(len(str(item)) >= 3 for item in plant.fragments):
            fragment_sets.append([str(item) for item in plant.fragments])
        return substrings, fragment_sets


def _number_renderings(number: int | float) -> list[str]:
    forms = {json.dumps(number), repr(number), str(number)}
    if isinstance(number, float) and number.is_integer():
        forms.add(str(int(number)))
    return sorted(forms)


def _stored_forms(text: str) -> set[str]:
    forms = {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1],
             urllib.parse.quote(text, safe=""), urllib.parse.quote(text), urllib.parse.quote_plus(text)}  # fmt: skip
    return {form for form in forms if form}


def generate_cases(seed: int) -> list[Case]:
    """Every technique at every channel (canary kind rotating over those the technique applies to),
    then one clean control per channel that has a clean use. Deterministic for a seed."""
    rng = random.Random(seed)
    cases: list[Case] = []
    used: set[str] = set()
    for t_index, technique in enumerate(TECHNIQUES):
        kinds = [kind for kind in CANARY_KINDS if technique.applies(make_canary(kind, random.Random(0)))]
        for c_index, channel in enumerate(CHANNELS):
            kind = kinds[(c_index + t_index) % len(kinds)]
            canary = make_canary(kind, rng)
            while canary.text in used:
                canary = make_canary(kind, rng)
            used.add(canary.text)
            plant = technique.encode(canary, rng)
            cases.append(Case(f"{technique.name}@{channel.name}:{kind}", technique.name, technique.family,
                              channel.name, channel.family, canary, plant))  # fmt: skip
    for channel in CHANNELS:
        if channel.clean is not None:
            cases.append(Case(f"clean@{channel.name}", "clean", "clean", channel.name, channel.family, None, channel.clean(rng)))
    return cases


def channel(name: str) -> Channel:
    return next(c for c in CHANNELS if c.name == name)


# --------------------------------------------------------------------------
# What the server holds
# --------------------------------------------------------------------------

_ACCESS_LINE = re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP/[\d.]+"')


@dataclass
class StoreSnapshot:
    """The server's database and log as searchable text plus the set of whole stored strings."""

    text: str
    atoms: set[str]

    @classmethod
    def read(cls, database: Path, log_text: str) -> StoreSnapshot:
        texts: list[str] = [log_text]
        atoms: set[str] = set()
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):
                    for cell in row:
                        for text in _cell_texts(cell):
                            texts.append(text)
                            atoms.add(text)
                            _add_json_atoms(text, atoms, texts)
        for match in _ACCESS_LINE.finditer(log_text):
            target = urllib.parse.urlsplit(match.group(1))
            atoms.update(urllib.parse.unquote(segment) for segment in target.path.split("/"))
            atoms.update(value for _, value in urllib.parse.parse_qsl(target.query, keep_blank_values=True))
            texts.append(urllib.parse.unquote_plus(match.group(1)))
        return cls("\n".join(texts), atoms)

    def holds(self, case: Case, sent_forms: Iterable[str] = ()) -> bool:
        substrings, fragment_sets = case.needles(sent_forms)
        if any(needle in self.text for needle in substrings):
            return True
        return any(all(fragment in self.atoms for fragment in fragments) for fragments in fragment_sets)


def _cell_texts(cell: Any) -> Iterator[str]:
    if isinstance(cell, str):
        yield cell
    elif isinstance(cell, (int, float)) and not isinstance(cell, bool):
        yield str(cell)
    elif isinstance(cell, bytes):
        # ZenML keeps some JSON columns (connector configuration, labels, secret values) base64-encoded.
        yield cell.decode("latin-1")
        try:
            yield base64.b64decode(cell, validate=True).decode("utf-8", "replace")
        except ValueError:
            pass


def _add_json_atoms(text: str, atoms: set[str], texts: list[str]) -> None:
    if not text or text[0] not in "[{\"":
        return
    try:
        parsed = json.loads(text)
    except ValueError:
        return
    texts.append(json.dumps(parsed, ensure_ascii=False))
    for item in _json_scalars(parsed):
        atoms.add(item)


def _json_scalars(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_scalars(item)
    elif isinstance(value, str):
        yield value
        if value[:1] in "[{":
            try:
                yield from _json_scalars(json.loads(value))
            except ValueError:
                pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield json.dumps(value)


def load_snapshot_template() -> dict[str, Any]:
    """The SDK's own ``POST /pipeline_snapshots`` body from the clean capture, without client
    environment and source code (ids are replaced per server)."""
    for line in (CAPTURED_DIR / "clean_pipeline.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["method"] == "POST" and record["path"] == "/api/v1/pipeline_snapshots":
            body = json.loads(record["body_text"])
            body["client_environment"] = {}
            body["source_code"] = None
            for step in body["step_configurations"].values():
                step["spec"]["source_code"] = None
            return body
    raise LookupError("no pipeline snapshot in the clean capture")
