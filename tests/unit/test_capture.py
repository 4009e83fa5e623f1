"""Reading captured requests: JSON, JSON lines, HAR and mitmproxy flow files."""

from __future__ import annotations

import base64
import gzip
import io
import json
from pathlib import Path

import pytest
from metagate.scanner.capture import (
    CaptureError,
    parse_captures,
    read_captures,
    request_from_record,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"


def test_captured_corpus_lines_keep_order_query_and_host():
    captures = read_captures(CORPUS / "clean_pipeline.jsonl")
    records = [json.loads(line) for line in (CORPUS / "clean_pipeline.jsonl").read_text().splitlines() if line.strip()]
    assert [c.request.path for c in captures] == [r["path"] for r in records]
    assert [c.line for c in captures] == list(range(1, len(records) + 1))
    third = captures[2]
    assert third.where.endswith("clean_pipeline.jsonl:3")
    assert third.request.query == tuple(tuple(pair) for pair in records[2]["query"])
    host, port = records[2]["headers"]["Host"].split(":")
    assert (third.request.host, third.request.port) == (host, int(port))
    posted = next(c for c, r in zip(captures, records) if r["body_text"])
    assert json.loads(posted.request.body) == json.loads(next(r["body_text"] for r in records if r["body_text"]))


def test_single_request_with_url_and_base64_body_keeps_content_encoding():
    body = gzip.compress(b'{"values": {"note": "x"}}')
    record = {
        "method": "post",
        "url": "https://zenml.example.com:8443/api/v1/run-metadata?hydrate=true&x=",
        "headers": {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        "body_base64": base64.b64encode(body).decode(),
    }
    [capture] = parse_captures(json.dumps(record, indent=2).encode(), "one.json")
    request = capture.request
    assert (request.method, request.path, request.host, request.port) == ("POST", "/api/v1/run-metadata", "zenml.example.com", 8443)
    assert request.query == (("hydrate", "true"), ("x", ""))
    assert request.body == body
    assert request.header("content-encoding") == "gzip"


def test_body_text_is_decoded_text_so_content_encoding_is_dropped():
    request = request_from_record(
        {"method": "POST", "path": "/api/v1/runs?a=1", "headers": [["Content-Encoding", "gzip"]], "body_text": "{}",
         "query": [["b", "2"]]}
    )
    assert request.body == b"{}"
    assert request.header("content-encoding") == ""
    assert request.query == (("a", "1"), ("b", "2"))


def test_json_array_of_requests():
    data = json.dumps([{"method": "GET", "path": "/api/v1/info"}, {"method": "GET", "path": "/api/v1/runs"}]).encode()
    captures = parse_captures(data, "two.json")
    assert [c.request.path for c in captures] == ["/api/v1/info", "/api/v1/runs"]
    assert [c.where for c in captures] == ["two.json#0", "two.json#1"]


def test_har_entries_with_text_base64_and_form_bodies():
    har = {"log": {"version": "1.2", "entries": [
        {"request": {"method": "POST", "url": "https://zenml.example.com/api/v1/runs?hydrate=false",
                     "headers": [{"name": "Content-Type", "value": "application/json"},
                                 {"name": "Content-Encoding", "value": "gzip"}],
                     "queryString": [{"name": "hydrate", "value": "false"}],
                     "postData": {"mimeType": "application/json", "text": "{\"name\": \"run\"}"}}},
        {"request": {"method": "PUT", "url": "https://zenml.example.com/api/v1/steps/1",
                     "headers": [], "postData": {"mimeType": "application/octet-stream",
                                                 "text": base64.b64encode(b"\x80\x04K\x01.").decode(), "encoding": "base64"}}},
        {"request": {"method": "POST", "url": "https://zenml.example.com/api/v1/login", "headers": [],
                     "postData": {"mimeType": "application/x-www-form-urlencoded",
                                  "params": [{"name": "username", "value": "default"}]}}},
    ]}}
    captures = parse_captures(json.dumps(har).encode(), "session.har")
    first, second, third = (c.request for c in captures)
    assert first.query == (("hydrate", "false"),)  # from the URL, not repeated from queryString
    assert json.loads(first.body) == {"name": "run"}
    assert first.header("content-encoding") == ""
    assert second.body == b"\x80\x04K\x01."
    assert third.body == b"username=default"
    assert [c.where for c in captures] == ["session.har#0", "session.har#1", "session.har#2"]


def test_mitmproxy_flow_file_gives_the_bytes_as_sent(tmp_path):
    from mitmproxy import http
    from mitmproxy.io import FlowWriter
    from mitmproxy.test import tflow

    body = gzip.compress(b'{"values": {"lr": 0.1}}')
    buffer = io.BytesIO()
    writer = FlowWriter(buffer)
    for path in ("/api/v1/run-metadata?x=1", "/api/v1/info"):
        flow = tflow.tflow()
        flow.request = http.Request.make(
            "POST", f"https://zenml.example.com{path}", b"",
            {"content-type": "application/json", "content-encoding": "gzip"},
        )
        flow.request.raw_content = body  # as on the wire: still gzip
        writer.add(flow)
    (tmp_path / "flows.mitm").write_bytes(buffer.getvalue())
    captures = read_captures(tmp_path / "flows.mitm")
    assert [c.request.path for c in captures] == ["/api/v1/run-metadata", "/api/v1/info"]
    first = captures[0].request
    assert first.body == body and first.header("content-encoding") == "gzip"
    assert first.query == (("x", "1"),)
    assert (first.host, first.port, first.scheme) == ("zenml.example.com", 443, "https")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"   \n", "empty input"),
        (b"not a capture at all", "not a request JSON file"),
        (b"\x00\x01\x02\xff", "not a request JSON file"),
        (b'{"method": "GET", "path": "/a"}\n{"method": "GET", "path": jane.doe@example.com}\n', "in.jsonl:2: not JSON"),
        (b'{"path": "/a"}', "missing \"method\""),
        (b'{"method": "GET"}', "needs \"path\" or \"url\""),
        (b'{"method": "GET", "url": "zenml.example.com/a"}', "not a URL"),
        (b'{"method": "POST", "path": "/a", "body_text": "x", "body_base64": "eA=="}', "not both"),
        (b'{"method": "POST", "path": "/a", "body_base64": "not base64!"}', "not base64"),
        (b'{"method": "GET", "path": "/a", "headers": "Host: x"}', "\"headers\" must be"),
        (b"[1, 2]", "in.jsonl#0: a request must be a JSON object"),
        (b'{"log": {"entries": [{"request": {"url": "https://h/a"}}]}}', "in.jsonl#0: HAR request without"),
        (b"[]", "no requests found"),
    ],
)
def test_unreadable_input_says_where_and_never_quotes_it(data, message):
    with pytest.raises(CaptureError) as caught:
        parse_captures(data, "in.jsonl")
    assert message in str(caught.value)
    assert "jane" not in str(caught.value)


def test_missing_file_is_a_capture_error(tmp_path):
    with pytest.raises(CaptureError, match="cannot read"):
        read_captures(tmp_path / "nope.jsonl")
