"""Headers, query values and trailers through the real gate (issue 12).

Real mitmproxy, workers and Rego in front of the recording upstream: what a client puts in a
header, a query value or a trailer is inspected or refused, never forwarded unseen.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import requests

from tests.support.payloads import jwt, run_metadata

SSN = "536-22-8471"


def sdk_headers(**extra: str) -> dict[str, str]:
    """The headers the ZenML 0.98 SDK sends on an authenticated call."""
    return {
        "User-Agent": "zenml/0.98.0",
        "Source-Context": "python",
        "X-Request-ID": uuid.uuid4().hex[:8],
        "Idempotency-Key": str(uuid.uuid4()),
        "Authorization": f"Bearer {jwt(str(uuid.uuid4()), 'c2lnbmF0dXJlLXNlY3JldC1zaWduYXR1cmU')}",
        **extra,
    }


def seen_upstream(upstream, needle: str) -> bool:
    return any(needle in json.dumps(entry["headers"]) or needle in entry["path"] or needle.encode() in entry["body"]
               for entry in upstream.received())


def reason(response) -> str:
    return response.json()["detail"][1]


def raw_exchange(url: str, data: bytes, timeout: float = 15.0) -> tuple[bytes, float]:
    """Send `data` on a fresh connection and read until the gate closes it: (reply, seconds)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(data)
        reply = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            reply += chunk
            if b"\r\n\r\n" in reply and _complete(reply):
                break
    return reply, time.monotonic() - started


def _complete(reply: bytes) -> bool:
    head, _, body = reply.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def chunked_request(path: str, body: bytes, trailer: bytes = b"", extra_headers: bytes = b"") -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 40]), body[i : i + 40]) for i in range(0, len(body), 40))
    return (
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: zenml\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n" + extra_headers + b"\r\n" + chunks + b"0\r\n" + trailer + b"\r\n"
    )


# --- trailers ----------------------------------------------------------------------------------


def test_a_chunked_request_with_a_trailer_is_refused_promptly_and_recorded(gate, upstream):
    marker = f"trailer-{uuid.uuid4().hex[:10]}"
    body = json.dumps(run_metadata({"note": marker})).encode()
    request = chunked_request("/api/v1/run-metadata", body, trailer=f"X-Owner: {SSN} {marker}\r\n".encode(),
                              extra_headers=b"Trailer: X-Owner\r\n")
    before = len(upstream.received())
    reply, seconds = raw_exchange(gate.url, request)
    status_line, _, _ = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400"), reply[:300]
    assert seconds < 10, f"the refusal took {seconds:.1f} s"
    assert b"request.trailers: a chunked request with trailer fields" in reply.partition(b"\r\n\r\n")[2]
    # Recorded before the client heard of it, and nothing reached the server.
    errors = [r for r in gate.records(kind="error") if "request.trailers" in r.get("rules", [])]
    assert errors and errors[-1]["decision"] == "block" and errors[-1]["path"] == "/api/v1/run-metadata"
    assert len(upstream.received()) == before and not seen_upstream(upstream, marker)
    assert marker.encode() not in gate.trail_bytes() and SSN.encode() not in gate.trail_bytes()


def test_an_unannounced_trailer_is_refused_too_and_the_gate_keeps_serving(gate, upstream):
    marker = f"trailer-{uuid.uuid4().hex[:10]}"
    body = json.dumps(run_metadata({"note": "clean"})).encode()
    reply, seconds = raw_exchange(gate.url, chunked_request("/api/v1/run-metadata", body,
                                                            trailer=f"X-Note: {marker}\r\n".encode()))
    assert reply.startswith(b"HTTP/1.1 400") and seconds < 10
    assert not seen_upstream(upstream, marker)
    # The same body, chunked without a trailer (a `Trailer:` announcement alone is harmless), passes.
    reply, _ = raw_exchange(gate.url, chunked_request("/api/v1/run-metadata", body, extra_headers=b"Connection: close\r\n"))
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]


# --- headers -------------------------------------------------------------------------------------


def test_the_sdks_own_headers_pass(gate, upstream):
    headers = sdk_headers()
    response = requests.get(gate.url + "/api/v1/current-user", params={"hydrate": "True"}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert seen_upstream(upstream, headers["Idempotency-Key"])


def test_personal_data_in_a_header_the_sdk_sends_is_blocked(gate, upstream):
    for name, value, path in [
        ("X-Request-ID", SSN, "$headers.x-request-id"),
        ("Forwarded", f"for=jane.{uuid.uuid4().hex[:8]}@example.com", "$headers.forwarded"),
        ("Accept-Language", SSN, "$headers.accept-language"),
        ("Content-Type", SSN, "$headers.content-type"),
    ]:
        response = requests.get(gate.url + "/api/v1/current-user", headers=sdk_headers(**{name: value}), timeout=30)
        assert response.status_code == 403 and path in reason(response), (name, response.text)
        assert not seen_upstream(upstream, value)


def test_credentials_the_sdk_never_sends_are_refused_with_the_header_named(gate, upstream):
    secret = f"key-{uuid.uuid4().hex}"
    for extra, expected in [
        ({"X-Api-Key": secret}, "headers.credential_not_sent_by_sdk: x-api-key at $headers.x-api-key"),
        ({"X-Custom-Auth": f"Basic {secret}"}, "headers.credential_not_sent_by_sdk: x-custom-auth"),
        ({"Authorization": f"Basic {secret}"}, "headers.authorization_shape: basic at $headers.authorization"),
        ({"Authorization": f"Bearer {secret}"}, "headers.authorization_shape: bearer_opaque at $headers.authorization"),
    ]:
        response = requests.get(gate.url + "/api/v1/current-user", headers=sdk_headers(**extra), timeout=30)
        assert response.status_code == 403 and expected in reason(response), (extra, response.text)
    assert not seen_upstream(upstream, secret)
    assert secret.encode() not in gate.trail_bytes()


def test_personal_data_in_a_list_filter_is_blocked(gate, upstream):
    email = f"jane.{uuid.uuid4().hex[:8]}@example.com"
    response = requests.get(gate.url + "/api/v1/runs", params={"name": f"contains:{email}", "page": "1"},
                            headers=sdk_headers(), timeout=30)
    assert response.status_code == 403 and "$query.name" in reason(response)
    clean = requests.get(gate.url + "/api/v1/runs", params={"name": "contains:training", "page": "1"},
                         headers=sdk_headers(), timeout=30)
    assert clean.status_code == 200
    assert not seen_upstream(upstream, email)
