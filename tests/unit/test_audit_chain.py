"""The chain's building blocks: canonical JSON, record hashes, scrubbing, checkpoint signatures."""

import json
import math

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from metagate.reports.chain import (
    CHECKPOINT_DOMAIN,
    GENESIS_HASH,
    SCRUBBED,
    canonical_json,
    prepare_record,
    record_hash,
    sign_checkpoint,
)
from metagate.reports.keys import key_id


def test_record_hash_is_the_sha256_of_the_canonical_envelope():
    import hashlib

    record = {"id": "a", "kind": "request", "time": "t", "score": 0.1, "text": "é"}
    _, body = prepare_record(record)
    envelope = {"prev": GENESIS_HASH, "record": json.loads(body), "replica": "r1", "seq": 7}
    expected = hashlib.sha256(canonical_json(envelope).encode()).hexdigest()
    assert record_hash("r1", 7, GENESIS_HASH, body) == expected


def test_canonical_text_survives_a_round_trip():
    record = {"b": [1.5, 2, None, True], "a": {"z": "ü\u2028", "y": 1e-7}, "n": 10**20}
    _, body = prepare_record(record)
    assert canonical_json(json.loads(body)) == body
    assert body.isascii()


def test_every_part_of_the_envelope_changes_the_hash():
    _, body = prepare_record({"id": "a", "n": 1})
    _, other = prepare_record({"id": "a", "n": 2})
    base = record_hash("r", 1, GENESIS_HASH, body)
    assert len({base, record_hash("r2", 1, GENESIS_HASH, body), record_hash("r", 2, GENESIS_HASH, body),
                record_hash("r", 1, "1" * 64, body), record_hash("r", 1, GENESIS_HASH, other)}) == 5


def test_credentials_are_scrubbed_and_the_places_listed():
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"
    record = {
        "id": "a",
        "headers": {"Authorization": "Bearer abc", "Cookie": "session=s3cr3t", "Accept": "json"},
        "request_headers": [["X-Api-Key", "key-123"], ["Content-Type", "json"]],
        "query_params": ["api_key", "size"],     # names, not a (name, value) pair
        "reasons": [f"saw {token} in a field", "Basic dXNlcjpwYXNzd29yZA== sent"],
        "password": "hunter2",
        "fields": {"classes": {"token": 3, "credential": 1}},   # counts under sensitive names are fine
    }
    clean, body = prepare_record(record)
    for value in ("abc", "s3cr3t", "key-123", token, "dXNlcjpwYXNzd29yZA", "hunter2"):
        assert value not in body
    assert clean["headers"] == {"Authorization": SCRUBBED, "Cookie": SCRUBBED, "Accept": "json"}
    assert clean["request_headers"] == [["X-Api-Key", SCRUBBED], ["Content-Type", "json"]]
    assert clean["query_params"] == ["api_key", "size"]
    assert clean["fields"] == {"classes": {"token": 3, "credential": 1}}
    assert clean["scrubbed"] == sorted(["$.headers.Authorization", "$.headers.Cookie", "$.request_headers[0][1]",
                                        "$.reasons[0]", "$.reasons[1]", "$.password"])


def test_a_clean_record_is_unchanged_and_odd_values_become_json():
    record = {"id": "a", "rules": ("x", "y"), "tags": {"b", "a"}, "ms": math.nan, "path": "/api/v1/steps"}
    clean, _ = prepare_record(record)
    assert clean == {"id": "a", "rules": ["x", "y"], "tags": ["a", "b"], "ms": None, "path": "/api/v1/steps"}
    assert "scrubbed" not in clean


def test_checkpoint_signature_covers_every_field_and_its_domain():
    key = Ed25519PrivateKey.generate()
    checkpoint = sign_checkpoint(key, key_id(key.public_key()), "r1", 10, "ab" * 32, "2026-11-26T05:00:00+00:00", 0)
    public = key.public_key()
    assert checkpoint.signature_valid(public)
    from dataclasses import replace

    for change in ({"seq": 11}, {"hash": "cd" * 32}, {"replica_id": "r2"}, {"time": "2026-11-27T05:00:00+00:00"},
                   {"prev_seq": 5}, {"signature": "00" * 64}, {"signature": "not hex"}):
        assert not replace(checkpoint, **change).signature_valid(public), change
    assert not checkpoint.signature_valid(Ed25519PrivateKey.generate().public_key())
    # The same key signing the same payload without the domain prefix yields a different signature.
    assert key.sign(checkpoint.signed_bytes()[len(CHECKPOINT_DOMAIN):]).hex() != checkpoint.signature
