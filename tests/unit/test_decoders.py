"""The decoders of issue 12 (scanner/decoders.py, fragment joins and numbers in evasion/leaves):
each undoes its encoding for any value, leaves clean look-alikes alone, and is bounded."""

from __future__ import annotations

import base64
import codecs
import hashlib
import json
import pickle
import struct
import uuid

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from metagate.scanner import decoders, evasion
from metagate.scanner.evasion import VIEW_SEPARATOR, decoded_views, expand_leaves
from metagate.scanner.model import InspectionRequest, Leaf

EMAIL = "jane.doe@example.com"
CARD = "4539 0040 1060 2815"
SSN = "536-22-8741"
AWS = "AKIA" + "Z7QX4RT2WPLM5BNC"
PICKLE = pickle.dumps({"weights": list(range(60))}, protocol=4)


def _hex_dump(data: bytes, sep: str = " ") -> str:
    return sep.join(f"{b:02x}" for b in data)


def _chunked(text: str, width: int = 8, sep: str = " ") -> str:
    encoded = base64.b64encode(text.encode()).decode()
    return sep.join(encoded[i : i + width] for i in range(0, len(encoded), width))


# Every text encoding of issue 12, as a function of the plain text.
ENCODINGS = {
    "hex": lambda t: t.encode().hex(),
    "hex_upper": lambda t: t.encode().hex().upper(),
    "hex_0x": lambda t: "0x" + t.encode().hex(),
    "hex_dump": lambda t: _hex_dump(t.encode()),
    "hex_dump_colon": lambda t: _hex_dump(t.encode(), ":"),
    "hex_0x_list": lambda t: ", ".join(f"0x{b:02x}" for b in t.encode()),
    "base32": lambda t: base64.b32encode(t.encode()).decode(),
    # Lower-case base32 is decoded when padded (unpadded it is a run of letters and digits 2-7
    # like any long identifier): the padding is forced here with a length of no 5-byte group.
    "base32_lower": lambda t: base64.b32encode((t + " " * (-len(t) % 5 + 1)).encode()).decode().lower(),
    "base85": lambda t: base64.b85encode(t.encode()).decode(),
    "ascii85": lambda t: base64.a85encode(t.encode()).decode(),
    "ascii85_adobe": lambda t: base64.a85encode(t.encode(), adobe=True).decode(),
    "base64_spaced": lambda t: _chunked(t),
    "base64_newlines": lambda t: _chunked(t, 12, "\n"),
    "reversed": lambda t: t[::-1],
}


# --- one value, each decoder -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("sample", [f"contact {EMAIL}", f"mail {EMAIL} today", AWS, f"card {CARD}"])
def test_every_encoding_is_undone(encoding, sample):
    encoded = ENCODINGS[encoding](sample)
    if encoding == "reversed" and "card" in sample:
        encoded = CARD[::-1]  # a card reads backwards as a Luhn-invalid card in groups
        sample = CARD
    assert any(sample in view for view in decoded_views(encoded)), encoded


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        (codecs.encode(EMAIL, "rot13"), EMAIL),
        (codecs.encode(AWS, "rot13"), AWS),
        ("jane.doe [at] example [dot] com", EMAIL),
        ("jane.doe(AT)example(DOT)com", EMAIL),
        ("jane.doe {at} example.com", EMAIL),
        ("write to jane dot doe at example dot com", "jane.doe@example.com"),
        ("jane.doe AT example.com", EMAIL),
        (EMAIL.replace("a", "\u0430").replace("e", "\u0435"), EMAIL),          # Cyrillic а, е
        (EMAIL.replace("o", "\u03bf"), EMAIL),                                 # Greek ο
        (EMAIL.replace(".", "\u2024"), EMAIL),                                 # one dot leader (NFKC)
        (EMAIL.replace(".", "\ua4f8"), EMAIL),                                 # Lisu full stop
        ("jane.doe\ud800@example.com", EMAIL),                                 # lone surrogate
        (SSN[::-1], SSN),
        ("+1 415 555 2671"[::-1], "+1 415 555 2671"),
    ],
)
def test_rot13_obfuscation_lookalikes_reversal(encoded, plain):
    assert any(plain in view for view in decoded_views(encoded)), decoded_views(encoded)


@pytest.mark.parametrize(
    "encoded",
    [CARD.replace(" ", "  "), CARD.replace(" ", "/"), CARD.replace(" ", "_"), CARD.replace(" ", "|"),
     CARD.replace(" ", "\n"), CARD.replace(" ", " / "), "card" + CARD.replace(" ", ""), CARD.replace(" ", "") + "x",
     " ".join(CARD.replace(" ", "")), ",".join(CARD.replace(" ", "")), "\n".join(CARD.replace(" ", "")),
     CARD.replace(" ", "|") + "|2024|0101"],                                   # among other groups
)
def test_split_and_glued_digit_groups_are_collapsed(encoded):
    views = "\n".join(decoded_views(encoded))
    assert CARD in views or CARD.replace(" ", "") in views


@pytest.mark.parametrize("encoding", ["hex", "hex_dump", "base32", "base85", "ascii85"])
def test_a_binary_behind_an_encoding_is_handed_on_as_base64_from_its_signature(encoding):
    encoded = {
        "hex": PICKLE.hex(), "hex_dump": _hex_dump(PICKLE), "base32": base64.b32encode(PICKLE).decode(),
        "base85": base64.b85encode(PICKLE).decode(), "ascii85": base64.a85encode(PICKLE).decode(),
    }[encoding]
    views = decoded_views(encoded)
    assert any(base64.b64decode(v)[:3] == PICKLE[:3] for v in views if v.isascii() and " " not in v)


@pytest.mark.parametrize(
    "value",
    [
        "a3f1c2d4e5b6a7980123456789abcdef01234567",                        # git SHA
        hashlib.sha256(b"x").hexdigest(), hashlib.md5(b"x").hexdigest(),    # digests
        hashlib.sha256(b"x").hexdigest().upper(),
        str(uuid.UUID(int=0x6DDDFF6DF7254CFAA17BD05865C63362)),             # UUID
        "ddaacdf2-1f03-484a-92c1-efb310929063",                             # UUID with a digit tail
        "file:///srv/mlops/zenml/local_stores/6dddff6d-f725-4cfa-a17b-d05865c63362/custom_artifacts/"
        "TrainModel/output/0f3e2a1b-8c9d-4e5f-a6b7-c8d9e0f1a2b3/1a2b3c4d",   # artifact-store URI
        "0.98.0", "python:3.11-slim", "scikit-learn==1.5.2",               # versions, pins
        "BuiltInContainerMaterializer", "TRAINING_PIPELINE_CONFIG",         # identifiers
        "gniniart", "ledom tseb eht", "noitadilav",                         # English reversed
        "clean_training-2026_11_26-05_22_05_190809",                        # run name with a time
        "The run finished at noon and the model was saved at the usual place.",
        "2024/01/15", "12:30:45", "10.0.0.1", "1e-4", "0.93",
        "TRAININGPIPELINEXX", "trainingpipelinemodels",                     # long words
        "0xdeadbeef", "aa:bb:cc:dd:ee:ff",                                  # short hex, a MAC
        "see docs at https://docs.zenml.io/how-to for details",
        "Docs at docs.zenml.io, results at wandb.ai/team/run",               # prose `at` a domain
        "Модель обучена на новых данных", "Το μοντέλο εκπαιδεύτηκε",       # Cyrillic, Greek prose
    ],
)
def test_clean_look_alikes_have_nothing_to_decode(value):
    assert decoded_views(value) == []


# --- any value through any encoding (hypothesis) --------------------------------------------

_LOCAL = st.from_regex(r"[a-z]{2,8}\.[a-z]{2,8}", fullmatch=True)
_DOMAIN = st.from_regex(r"[a-z]{3,10}\.(com|org|io|de|net)", fullmatch=True)


def _luhn_complete(prefix: str) -> str:
    for last in "0123456789":
        digits = prefix + last
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError


_CARDS = st.from_regex(r"4[0-9]{14}", fullmatch=True).map(_luhn_complete).map(
    lambda d: " ".join(d[i : i + 4] for i in range(0, 16, 4))
)


@given(local=_LOCAL, domain=_DOMAIN, encoding=st.sampled_from(sorted(ENCODINGS)))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_address_through_any_encoding_is_decoded(local, domain, encoding):
    email = f"{local}@{domain}"
    assert any(email in view for view in decoded_views(ENCODINGS[encoding](f"owner {email}")))


@given(card=_CARDS, encoding=st.sampled_from(sorted(set(ENCODINGS) - {"reversed"})),
       separator=st.sampled_from(["  ", "/", "_", "|", "\n", " "]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_card_in_any_layout_through_any_encoding_is_decoded(card, encoding, separator):
    laid_out = card.replace(" ", separator)
    views = "\n".join(decoded_views(ENCODINGS[encoding](f"card {laid_out}")))
    assert card in views or laid_out in views


@given(st.binary(min_size=16, max_size=64))
@settings(max_examples=300, deadline=None)
def test_random_bytes_in_any_encoding_give_no_view(data):
    # A digest, an id or a random token encoded any way decodes to bytes that are no text and
    # carry no file signature: no view of this module's decoders (the base64 layer, which
    # predates them, takes any valid UTF-8 for text, so it is not asked here).
    assume(decoders.as_text(data) is None and decoders.signature_offset(data) < 0 and b"\0\0\0\0" not in data)
    for encoded in (data.hex(), data.hex().upper(), base64.b32encode(data).decode(), base64.b85encode(data).decode()):
        if "%" in encoded or "&" in encoded:
            continue  # base85 text can hold `%D4` or `&amp;`: the percent and HTML layers' part
        if any(p in encoded for p in (*decoders._REVERSED_PREFIXES, *decoders._ROT13_PREFIXES)):
            continue  # `NXVN` + 16 capitals is ROT13 of an AWS key's shape, by chance 1 in 10**6
        # (A digit run glued to a letter in base85 text is handed to the recognizers as digits:
        # they, not the decoder, decide what a number is.)
        assert [v for v in decoders.views(encoded)[0] if not v.isdigit()] == [], encoded


# --- bounds ------------------------------------------------------------------------------------


def test_more_decodable_runs_than_the_bound_leave_the_leaf_undecoded():
    evasion.forget_clean_texts()
    runs = " ".join(f"note {i:04d} for the nightly run".encode().hex() for i in range(decoders.MAX_VIEWS_PER_DECODER + 1))
    assert expand_leaves([Leaf("$.values.note", runs, "user_dict")]).undecoded == ["$.values.note"]
    within = " ".join(runs.split()[1:])
    assert expand_leaves([Leaf("$.values.note", within, "user_dict")]).undecoded == []


def test_a_lock_file_of_hashes_is_not_cut_short():
    evasion.forget_clean_texts()
    lock = "\n".join(f"pkg{i}==1.0 --hash=sha256:{hashlib.sha256(str(i).encode()).hexdigest()}" for i in range(3000))
    expansion = expand_leaves([Leaf("$.requirements", lock, "package_list")])
    assert expansion.undecoded == [] and VIEW_SEPARATOR not in expansion.leaves[0].text


def test_a_megabyte_of_prose_is_decided_quickly():
    import time

    evasion.forget_clean_texts()
    prose = ("The customer wrote at noon that the model at the edge was slow, and at 5 pm it was fixed. " * 12000)[:1_000_000]
    started = time.perf_counter()
    expand_leaves([Leaf("$.values.note", prose, "user_dict")])
    assert time.perf_counter() - started < 5


_RNG = __import__("random").Random(7)
_PATHOLOGICAL = {
    "base85-like token": "".join(_RNG.choice("0123456789ABCabc!#$%&()*+-;<=>?@^_`{|}~") for _ in range(300_000)),
    "ascii85-like token": "".join(chr(_RNG.randint(33, 117)) for _ in range(300_000)),
    "one long URI": "/".join("".join(_RNG.choice("abcdef0123456789-_") for _ in range(12)) for _ in range(24_000)),
    "spaced base64": " ".join("".join(_RNG.choice("ABCabc0123+/") for _ in range(8)) for _ in range(33_000)),
    "digit list": " ".join(str(_RNG.randint(0, 9)) for _ in range(150_000)),
    "addresses": "x@" * 150_000,
}


@pytest.mark.parametrize("name", sorted(_PATHOLOGICAL))
def test_pathological_texts_are_decided_in_linear_time(name):
    import time

    evasion.forget_clean_texts()
    started = time.perf_counter()
    expand_leaves([Leaf("$.values.note", _PATHOLOGICAL[name], "user_dict")])
    assert time.perf_counter() - started < 3  # 300 KB; a quadratic scan took minutes


# --- fragments of one object or list ----------------------------------------------------------


def _leaves_of(parent: str, parts: dict[str, str] | list[str]) -> list[Leaf]:
    leaves = [Leaf(parent, parent.rsplit(".", 1)[-1], "user_dict", True)]
    items = parts.items() if isinstance(parts, dict) else ((f"[{i}]", v) for i, v in enumerate(parts))
    for key, value in items:
        path = f"{parent}{key}" if key.startswith("[") else f"{parent}.{key}"
        if not key.startswith("["):
            leaves.append(Leaf(path, key, "user_dict", True))
        leaves.append(Leaf(path, value, "user_dict"))
    return leaves


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (list(EMAIL), EMAIL),                                                 # single characters
        ([EMAIL[i : i + 3] for i in range(0, len(EMAIL), 3)], EMAIL),         # 3-character tags
        ([AWS[i : i + 4] for i in range(0, len(AWS), 4)], AWS),               # 4-character items
        ({"card_bin": "453900", "card_mid": "401060", "card_last4": "2815"}, "4539004010602815"),
        (list("4539004010602815"), "4539004010602815"),                       # digits as strings
    ],
)
def test_short_fragments_are_joined_on_their_parts(parts, joined):
    evasion.forget_clean_texts()
    expanded = [leaf for leaf in expand_leaves(_leaves_of("$.values.x", parts)).leaves if not leaf.is_key]
    assert any(joined in leaf.text.split(VIEW_SEPARATOR) for leaf in expanded)


def test_numbered_fields_of_any_length_are_joined_where_the_join_shows_a_value():
    parts = {f"part_{i}": f"sentence {i} of the call, with nothing in it" for i in range(9)}
    parts["part_3"] += " and the caller's address is jane.d"
    parts["part_4"] = "oe@example.com, then more sentences of the call"
    expanded = {leaf.path: leaf.text for leaf in expand_leaves(_leaves_of("$.values.t", parts)).leaves if not leaf.is_key}
    assert EMAIL in expanded["$.values.t.part_3"] and EMAIL in expanded["$.values.t.part_4"]
    clean = {f"setting_{i}": f"plain configuration value number {i}" for i in range(8)}
    leaves = _leaves_of("$.values.c", clean)
    assert expand_leaves(leaves).leaves is leaves


def test_fragments_are_joined_even_when_every_part_was_seen_clean_before():
    evasion.forget_clean_texts()
    pieces = [EMAIL[i : i + 3] for i in range(0, len(EMAIL), 3)]
    for piece in pieces:  # each piece alone, in earlier requests: remembered as clean
        expand_leaves([Leaf("$.tags[0]", piece, "name")])
    expanded = expand_leaves(_leaves_of("$.tags", pieces)).leaves
    assert any(EMAIL in leaf.text for leaf in expanded)


@pytest.mark.parametrize(
    "parts",
    [
        ["prod", "nightly", "sklearn", "v2", "eu-west-1"],                    # tags
        ["age", "income", "zip", "tenure", "plan", "churn"],                  # feature names
        {"repository": "zenml", "host": "github.com"},                        # no address
        {"python_version": "3.11.7", "build": "1234"},                        # version and count
        ["0.12", "0.53", "0.99", "0.01"],                                     # numbers as text
        {"major": "12", "minor": "4", "patch": "7"},
    ],
)
def test_unrelated_short_values_are_not_joined(parts):
    leaves = _leaves_of("$.values.x", parts)
    assert expand_leaves(leaves).leaves is leaves


def test_too_many_fragments_in_one_request_are_undecoded(monkeypatch):
    monkeypatch.setattr(evasion, "MAX_FRAGMENTS_PER_REQUEST", 100)
    leaves = _leaves_of("$.values.x", [f"p{i}" for i in range(150)])
    assert expand_leaves(leaves).undecoded


# --- numbers and integer lists (leaves) ------------------------------------------------------


def _collect(document: dict) -> list[Leaf]:
    from metagate.scanner.catalog import Catalog
    from metagate.scanner.leaves import LeafWalker

    catalog = Catalog.load()
    walker = LeafWalker(catalog)
    return walker.collect(catalog.match("POST", "/api/v1/run-metadata"), document)[0]


def _run_metadata(values: dict) -> dict:
    return {"project": "a706a4ce-f538-4db7-9ef3-6b9c877f4a01",
            "resources": [{"id": "9f20e1c8-fa07-4da0-8716-bfea486047b9", "type": "pipeline_run"}],
            "values": values, "types": {k: "int" for k in values}}


@pytest.mark.parametrize(
    ("value", "text"),
    [(4539004010602815, "4539004010602815"), (4.539004010602815e15, "4539004010602815"), (536228741, "536228741"),
     (-4155552671, "-4155552671"), ([4, 5, 3, 9, 0, 0, 4, 0, 1, 0, 6, 0, 2, 8, 1, 5], "4539004010602815"),
     (list(AWS.encode()), AWS), (list(PICKLE[:40]), base64.b64encode(PICKLE[:40]).decode())],
)
def test_numbers_and_integer_lists_become_digit_or_byte_leaves(value, text):
    leaves = _collect(_run_metadata({"item_count": value}))
    assert text in [leaf.text for leaf in leaves]


@pytest.mark.parametrize("value", [0.93, 12, 1e-4, 123456.5, 1.5e9 + 0.5, 99999999, [3, 224, 224], [0.1] * 20, [1000] * 12])
def test_ordinary_metrics_are_no_leaves(value):
    leaves = _collect(_run_metadata({"metric": value}))
    assert [leaf for leaf in leaves if not leaf.is_key] == []


# --- through the proxy's pipeline -------------------------------------------------------------


@pytest.fixture(scope="module")
def inspector():
    from metagate.proxy.inspection import Inspector, InspectorSettings

    return Inspector(InspectorSettings(fingerprint_key=b"\x02" * 32))


def _request(values: dict) -> InspectionRequest:
    body = {"project": "a706a4ce-f538-4db7-9ef3-6b9c877f4a01",
            "resources": [{"id": "9f20e1c8-fa07-4da0-8716-bfea486047b9", "type": "pipeline_run"}],
            "values": values, "types": {k: "string" if isinstance(v, str) else "float" for k, v in values.items()}}
    return InspectionRequest("POST", "/api/v1/run-metadata", json.dumps(body).encode(), (("content-type", "application/json"),))


_LEAKS = [
    ("EMAIL_ADDRESS", {"note": EMAIL.encode().hex().upper()}),
    ("EMAIL_ADDRESS", {"note": base64.b32encode(EMAIL.encode()).decode()}),
    ("EMAIL_ADDRESS", {"note": base64.b85encode(EMAIL.encode()).decode()}),
    ("EMAIL_ADDRESS", {"note": EMAIL[::-1]}),
    ("EMAIL_ADDRESS", {"note": codecs.encode(EMAIL, "rot13")}),
    ("EMAIL_ADDRESS", {"note": "jane.doe (AT) example [dot] com"}),
    ("EMAIL_ADDRESS", {"note": EMAIL.replace("a", "\u0430")}),
    ("EMAIL_ADDRESS", {"tags": [EMAIL[i : i + 3] for i in range(0, len(EMAIL), 3)]}),
    ("CREDIT_CARD", {"note": CARD.replace(" ", "|")}),
    ("CREDIT_CARD", {"item_count": 4539004010602815}),
    ("CREDIT_CARD", {"metric": 4.539004010602815e15}),
    ("CREDIT_CARD", {"card_bin": "453900", "card_mid": "401060", "card_last4": "2815"}),
    ("US_SSN", {"note": SSN[::-1]}),
    ("AWS_ACCESS_KEY", {"key": [AWS[i : i + 4] for i in range(0, 20, 4)]}),
    ("AWS_ACCESS_KEY", {"key": list(AWS.encode())}),
    ("AWS_ACCESS_KEY", {"key": codecs.encode(AWS, "rot13")}),
    ("BLOB_PICKLE", {"blob": base64.b85encode(PICKLE).decode()}),
    ("BLOB_PICKLE", {"blob": base64.b32encode(PICKLE).decode()}),
    ("BLOB_PICKLE", {"blob": _hex_dump(PICKLE)}),
    ("BLOB_PICKLE", {"blob": PICKLE.decode("latin-1")}),
    ("BLOB_PICKLE", {"blob": base64.b64encode(b"junkjunk" + PICKLE).decode()}),
    ("BLOB_PNG", {"blob": " ".join(base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(120))).decode()[i : i + 8]
                                   for i in range(0, 172, 8))}),
]


@pytest.mark.parametrize(("entity", "values"), _LEAKS, ids=[f"{e}-{i}" for i, (e, _) in enumerate(_LEAKS)])
def test_decoded_leaks_are_blocked(inspector, entity, values):
    result = inspector.inspect(_request(values))
    assert result.decision.action == "block"
    assert entity in {f["entity"] for f in result.findings}


@pytest.mark.parametrize(
    "values",
    [
        {"commit": "a3f1c2d4e5b6a7980123456789abcdef01234567", "digest": hashlib.sha256(b"x").hexdigest()},
        {"tags": ["prod", "nightly", "sklearn", "v2"], "classes": list(range(10)), "shape": [3, 224, 224]},
        {"accuracy": 0.93, "epochs": 12, "lr": 1e-4, "loss": 123456.5, "started": "2024-06-01T12:00:00"},
        {"run": "clean_training-2026_11_26-05_22_05_190809", "version": "0.98.0", "note": "ledom tseb eht"},
    ],
)
def test_clean_look_alikes_are_not_blocked(inspector, values):
    result = inspector.inspect(_request(values))
    assert result.decision.action != "block", result.findings
    assert result.findings == []


def test_an_artifact_uri_under_an_unseen_store_root_is_no_blob():
    from metagate.scanner.detectors.blobs import BlobDetector

    for root in ("/srv/mlops/zenml", "/mnt/data/zenml-store", "s3://acme-ml/zenml", "gs://bucket/zenml"):
        uri = (f"{root}/local_stores/6dddff6d-f725-4cfa-a17b-d05865c63362/custom_artifacts/TrainModel/"
               f"visualizations/0f3e2a1b-8c9d-4e5f-a6b7-c8d9e0f1a2b3/{struct.pack('>I', 0x1A2B3C4D).hex()}.html")
        assert list(BlobDetector().scan([Leaf("$.uri", uri, "uri")])) == []
