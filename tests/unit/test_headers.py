"""scanner/headers.py: which headers are transport, credential or data, and credential shapes."""

from __future__ import annotations

import base64
import json

import pytest
from metagate.scanner.headers import (
    MASK,
    credential_facts,
    credential_shape,
    is_credential,
    is_shaped_transport,
    masked,
    scanned,
)


def segment(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


ZENML_JWT = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment({'sub': 'u', 'iss': 'zenml', 'iat': 1})}.c2lnbmF0dXJlLXNlY3JldC1wYXJ0"


# --- credential shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize("value, shape", [
    (f"Bearer {ZENML_JWT}", "bearer_jwt"),
    (f"bearer  {ZENML_JWT} ", "bearer_jwt"),                        # scheme names are case-insensitive
    (f"Bearer {segment({'alg': 'none'})}.{segment({'sub': 'u'})}.", "bearer_opaque"),   # unsigned
    (f"Bearer {segment({'typ': 'JWT'})}.{segment({'sub': 'u'})}.c2lnbmF0dXJlLXNlY3JldA", "bearer_opaque"),  # no alg
    ("Bearer aGVsbG8.d29ybGQ.c2lnbmF0dXJlLXNlY3JldA", "bearer_opaque"),   # three segments, not JSON
    ("Bearer ZENKEY_0123456789abcdef0123456789abcdef", "bearer_opaque"),
    ("Bearer 536-22-8471 jane doe", "other"),
    ("Bearer", "other"),
    ("Basic dXNlcjpwYXNzd29yZA==", "basic"),
    ("Digest username=\"jane\"", "other"),
    ("536-22-8471", "other"),
    (MASK, "redacted"),
])
def test_credential_shapes(value, shape):
    assert credential_shape(value) == shape


@pytest.mark.parametrize("name, value", [
    ("Authorization", "Bearer x"), ("Cookie", "a=b"), ("X-Api-Key", "k"), ("X-Auth-Token", "t"),
    ("Proxy-Authorization", "Basic x"), ("X-Access-Token", "t"), ("Private-Token", "t"), ("X-Session", "s"),
    ("X-Vault-Token", "t"), ("Api-Key", "k"), ("X-Client-Secret", "s"), ("X-Password", "p"),
    ("X-Custom", "Basic dXNlcjpwYXNz"), ("X-Forwarded-Authorization", "Bearer abc"), ("X-Note", "bearer abc"),
])
def test_credentials_by_name_or_by_an_auth_scheme_in_the_value(name, value):
    assert is_credential(name, value)


@pytest.mark.parametrize("name, value", [
    ("Idempotency-Key", "a79a174a-1d18-4369-883f-38de8773a6aa"), ("X-Request-ID", "0ce3cdc9"),
    ("User-Agent", "zenml/0.98.0"), ("Source-Context", "python"), ("Accept", "*/*"), ("Via", "1.1 proxy"),
    ("X-Note", "basically fine"), ("X-Note", "Bearer"),
])
def test_the_sdks_other_headers_are_not_credentials(name, value):
    assert not is_credential(name, value)


def test_masking_keeps_names_and_order_and_facts_keep_only_shapes():
    raw = (("User-Agent", "zenml/0.98.0"), ("Authorization", f"Bearer {ZENML_JWT}"), ("Cookie", "session=s3cr3t"),
           ("X-Custom", "Basic dXNlcjpwYXNz"))
    assert masked(raw) == (("User-Agent", "zenml/0.98.0"), ("Authorization", MASK), ("Cookie", MASK), ("X-Custom", MASK))
    facts = credential_facts(raw)
    assert facts == (("authorization", "bearer_jwt"), ("cookie", "other"), ("x-custom", "basic"))
    assert "s3cr3t" not in repr(facts) and ZENML_JWT not in repr(facts)


# --- transport shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("host", "127.0.0.1:47641"), ("host", "zenml.example.com"), ("host", "[::1]:8080"),
    ("content-length", "1027"),
    ("content-type", "application/json"), ("content-type", "application/x-www-form-urlencoded"),
    ("content-type", "application/json; charset=utf-8"), ("content-type", 'text/plain;charset="UTF-8"'),
    ("accept", "*/*"), ("accept", "application/json, text/plain;q=0.9, */*;q=0.8"),
    ("accept-encoding", "gzip, deflate"), ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-encoding", "identity;q=1, *;q=0"), ("content-encoding", "gzip"), ("transfer-encoding", "chunked"),
    ("te", "trailers"), ("connection", "keep-alive"), ("connection", "close, TE"),
    ("keep-alive", "timeout=5, max=100"), ("expect", "100-continue"),
    # The proxy chain a load balancer in front of the gate writes.
    ("x-forwarded-for", "10.0.3.7"), ("x-forwarded-for", "203.0.113.7, 10.0.0.2"), ("x-forwarded-for", "2001:db8::1"),
    ("x-real-ip", "10.1.2.3"), ("forwarded", "for=10.0.3.7;proto=https;by=10.0.0.1"),
    ("forwarded", 'for="[2001:db8:cafe::17]:4711", for=unknown'), ("forwarded", "host=zenml.example.com;proto=https"),
    ("x-forwarded-proto", "https"), ("x-forwarded-host", "zenml.example.com:443"), ("x-forwarded-port", "443"),
])
def test_transport_headers_of_their_shape_are_not_scanned(name, value):
    assert is_shaped_transport(name, value)
    assert scanned([(name.title(), value)]) == []


@pytest.mark.parametrize("name, value", [
    ("host", "jane.doe@example.com"), ("content-length", "536-22-8471"),
    ("content-type", "536-22-8471"), ("content-type", "application/json; owner=jane.doe"),
    ("content-type", "multipart/form-data; boundary=jane-doe-536228471"),
    ("accept", "application/json, jane.doe@example.com"), ("accept-encoding", "gzip, jsmith"),
    ("content-encoding", "gzip, 4539004010602815"), ("te", "trailers, john"), ("connection", "keep-alive, x-jane-doe"),
    ("keep-alive", "timeout=5, owner=jane"), ("expect", "100-continue; jane"),
    ("x-forwarded-for", "536-22-8471"), ("x-forwarded-for", "10.0.0.1, jane.doe@example.com"),
    ("x-forwarded-for", ", ".join(["10.0.0.1"] * 17)), ("x-real-ip", "4539004010602815"),
    ("forwarded", "for=_jane_doe"), ("forwarded", "for=10.0.0.1;owner=jane"), ("forwarded", "for=jane.doe@example.com"),
    ("x-forwarded-proto", "536228471"), ("x-forwarded-host", "jane.doe@example.com"),
])
def test_a_transport_header_holding_anything_else_is_scanned(name, value):
    assert not is_shaped_transport(name, value)
    assert scanned([(name, value)]) == [(name, value)]


def test_every_other_header_is_scanned_by_its_lower_case_name():
    headers = [("Via", "1.1 gate"), ("Forwarded", "for=_hidden"), ("X-Forwarded-For", "gate"),
               ("Accept-Language", "en-US"), ("Idempotency-Key", "k"), ("X-Request-ID", "19850312"),
               ("User-Agent", "zenml/0.98.0"), ("Source-Context", "python"), ("Trailer", "X-Owner")]
    assert scanned(headers) == [(name.lower(), value) for name, value in headers]
    # The SDK's own ids of exactly its shapes are ids, not scanned.
    assert scanned([("X-Request-ID", "0ce3cdc9"), ("Idempotency-Key", "a79a174a-1d18-4369-883f-38de8773a6aa")]) == []
    # Credentials (decided on their shape) and the gate's own header are not leaves.
    assert scanned([("Cookie", "a=b"), ("Authorization", MASK), ("X-Metagate-Audit-Id", "x")]) == []
