"""Transparent mode's destination decision, and what the gate's upstream client passes on."""

from __future__ import annotations

import asyncio

import pytest

from metagate.proxy.transparent import DestinationMatcher
from metagate.proxy.upstream import _end_to_end

DNS = {
    "zenml.example.com": {"203.0.113.10"},
    "bucket.s3.example.com": {"198.51.100.7"},
    "evil.example.net": {"192.0.2.66"},
}


async def fake_resolver(name: str) -> set[str]:
    if name not in DNS:
        raise OSError("no such host")
    return DNS[name]


def role(address: str, name: str | None = None, *, zenml=("zenml.example.com",), storage=("*.s3.example.com",)) -> str:
    matcher = DestinationMatcher(list(zenml), list(storage), fake_resolver)
    return asyncio.run(matcher.role(address, name))


def test_a_zenml_upstream_is_recognised_by_the_address_its_name_resolves_to() -> None:
    assert role("203.0.113.10") == "zenml"                      # no SNI (e.g. an IP URL)
    assert role("203.0.113.10", "zenml.example.com") == "zenml"


def test_allowed_storage_needs_a_matching_name_that_resolves_to_the_destination() -> None:
    assert role("198.51.100.7", "bucket.s3.example.com") == "storage"
    assert role("198.51.100.7") == "refused"                    # a wildcard names no address by itself


def test_a_claimed_name_does_not_open_another_address() -> None:
    # SNI / Host are the client's word: an allowed name on a connection to elsewhere is refused.
    assert role("192.0.2.66", "bucket.s3.example.com") == "refused"
    assert role("192.0.2.66", "zenml.example.com") == "refused"


def test_addresses_and_cidr_ranges_match_the_destination_directly() -> None:
    assert role("10.231.2.2", zenml=("10.231.2.2",)) == "zenml"
    assert role("10.20.30.40", storage=("10.20.0.0/16",)) == "storage"
    assert role("::ffff:10.20.30.40", storage=("10.20.0.0/16",)) == "storage"
    assert role("10.21.0.1", storage=("10.20.0.0/16",)) == "refused"


def test_unresolvable_names_and_garbage_addresses_are_refused() -> None:
    assert role("203.0.113.10", zenml=("gone.example.org",)) == "refused"
    assert role("not-an-address", "zenml.example.com") == "refused"


def test_zenml_wins_over_storage_for_the_same_destination() -> None:
    assert role("10.0.0.5", zenml=("10.0.0.5",), storage=("10.0.0.0/8",)) == "zenml"


@pytest.mark.parametrize("name", ["Connection", "keep-alive", "Transfer-Encoding", "Proxy-Authorization", "Upgrade", "TE"])
def test_per_connection_headers_are_not_passed_upstream(name: str) -> None:
    headers = [(name.encode(), b"x"), (b"Authorization", b"Bearer t"), (b"X-Metagate-Audit-Id", b"id")]
    kept = [k for k, _ in _end_to_end(headers)]
    assert kept == [b"Authorization", b"X-Metagate-Audit-Id"]


def test_headers_named_by_connection_are_dropped_too() -> None:
    headers = [(b"Connection", b"close, X-Hop"), (b"X-Hop", b"1"), (b"Content-Type", b"application/json")]
    assert _end_to_end(headers) == [(b"Content-Type", b"application/json")]
