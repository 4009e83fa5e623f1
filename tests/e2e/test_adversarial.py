"""Live adversarial suite: raw requests planting fresh canaries through metagate (reverse
mode) in front of a real ZenML 0.98 server; a bypass is a value the server stored or logged.

Every technique of tests/support/adversarial.py (encodings, obfuscations, splitting, numbers,
binary blobs) meets every channel (run-metadata at depth, tags, run names, parameters, artifact
metadata keys and values, exception messages, model/pipeline descriptions, connector labels,
secrets, query filters, headers, path parameters, hash fields, ``{{x.y}}`` look-alikes) once.
What the writes refer to (a pipeline, a snapshot, runs, a model) is created directly on the
server, bypassing the gate; only the planting requests go through it.

Outcome of a case, in this order:
- ``stored``: the server's database or log holds the value, plain or as sent (a bypass);
- ``blocked``: the gate refused (403 with ``X-Metagate: blocked``) one of its requests;
- ``rejected``: the server itself refused a request (4xx/5xx not from the gate): reported
  and left out of the denominator, since it says nothing about the gate;
- ``passed``: forwarded and accepted, yet the value is nowhere (redacted, or a header the
  server ignores): not stored, but counted as ``forwarded`` in the table.

Clean controls (the same channels with clean values of the same shape) must pass the gate
and be stored: a gate that blocks everything does not pass this suite.

    METAGATE_PURE_PYTHON=1 .venv/bin/python -m pytest -p no:cacheprovider -q -s tests/e2e/test_adversarial.py

``ADVERSARIAL_SEED`` (not METAGATE_*: those configure the gate) fixes the canaries (the seed used is printed);
``ADVERSARIAL_MAX_STORED`` (default 0.01, issue 12's target) is the allowed stored fraction.

The gate does not reach the target yet (issue 12 is open): that test is an expected failure
(strict, so reaching it fails the run until the mark goes), and a second test holds the
fraction the gate reaches today (``RATCHET``) so that it can only go down.
"""

from __future__ import annotations

import base64
import codecs
import html
import json
import os
import pickle
import random
import secrets
import sqlite3
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
import requests

from tests.e2e.conftest import Metagate, ZenMLUpstream, launch_metagate
from tests.support.adversarial import (
    CHANNELS,
    HOMOGLYPHS,
    TECHNIQUES,
    Canary,
    Case,
    Context,
    Plant,
    Request,
    StoreSnapshot,
    channel,
    generate_cases,
    load_snapshot_template,
    make_canary,
)

MAX_STORED = float(os.environ.get("ADVERSARIAL_MAX_STORED", "0.01"))
# Measured on the gate as it is: 16/460 = 3.5% stored (seed 20261204), 3.9% (seed 7), of which
# 12-14 are an SSN's nine digits as a JSON integer or a digit list under a neutral key (no gate
# tells them from a count); 9.8% a round before, 59% before issue 12's work. Lower it as gaps close.
RATCHET = 0.06
WORKERS = 4
SDK_HEADERS = {"User-Agent": "zenml/0.98.0", "Accept": "*/*", "Source-Context": "python"}


class Direct:
    """Setup requests straight to the server (never through the gate)."""

    def __init__(self, upstream: ZenMLUpstream) -> None:
        self.base = upstream.url
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        reply = self._session().request(method, self.base + path, json=body, params=params or None, timeout=60)
        assert reply.status_code < 400, f"setup {method} {path} -> {reply.status_code}: {reply.text[:500]}"
        data = reply.json()
        return data[0] if isinstance(data, list) and path == "/api/v1/runs" else data


def _context(direct: Direct) -> Context:
    project = direct.call("GET", "/api/v1/projects")["items"][0]["id"]
    stack = direct.call("GET", "/api/v1/stacks", name="default")["items"][0]["id"]
    components = direct.call("GET", "/api/v1/components", stack_id=stack, hydrate="True")["items"]
    store = next(c["id"] for c in components if c["body"]["type"] == "artifact_store")
    pipeline = direct.call("POST", "/api/v1/pipelines", {"project": project, "name": f"adversarial_{uuid.uuid4().hex[:8]}"})["id"]
    template = load_snapshot_template()
    template.update(project=project, stack=stack, pipeline=pipeline)
    snapshot = direct.call("POST", "/api/v1/pipeline_snapshots", template)["id"]
    model = direct.call("POST", "/api/v1/models", {"project": project, "name": f"adversarial-model-{uuid.uuid4().hex[:8]}"})["id"]

    def fresh_run() -> str:
        body = {"project": project, "name": f"adversarial-run-{uuid.uuid4().hex}", "snapshot": snapshot,
                "orchestrator_run_id": str(uuid.uuid4()), "status": "running", "start_time": "2026-12-04T01:00:00.000001", "orchestrator_environment": {}}  # fmt: skip
        return str(direct.call("POST", "/api/v1/runs", body)["id"])

    return Context(project, stack, store, pipeline, snapshot, model, template, fresh_run)


@dataclass
class Sent:
    status: int
    blocked: bool  # refused by the gate
    gate_error: bool  # the gate could not reach the server
    reason: str = ""
    rules: list[str] = field(default_factory=list)  # the gate's rules, when it blocked


@dataclass
class Result:
    case: Case
    sent: list[Sent] = field(default_factory=list)
    sent_forms: list[str] = field(default_factory=list)
    error: str = ""
    stored: bool = False

    @property
    def outcome(self) -> str:
        if self.stored:
            return "stored"
        if self.error or any(s.gate_error for s in self.sent):
            return "error"
        if any(s.blocked for s in self.sent):
            return "blocked"
        if any(s.status >= 400 for s in self.sent):
            return "rejected"
        return "passed"

    def describe(self) -> str:
        statuses = ",".join(str(s.status) for s in self.sent)
        reasons = "; ".join(s.reason for s in self.sent if s.reason)[:300]
        return f"{self.case.id}: {self.outcome} [{statuses}] {self.error or reasons}"


def _send(gate_url: str, request: Request, session: requests.Session) -> Sent:
    headers: dict[str, Any] = {**SDK_HEADERS, "X-Request-ID": secrets.token_hex(4), "Idempotency-Key": str(uuid.uuid4())}
    headers.update(request.headers)
    data = request.body_bytes()
    if data is not None:
        headers["Content-Type"] = "application/json"
    reply = session.request(request.method, gate_url + request.path, params=request.query or None, data=data,
                            headers=headers, timeout=120)  # fmt: skip
    marker = reply.headers.get("X-Metagate", "")
    reason = ""
    if reply.status_code >= 400:
        reason = reply.text[:400]
    rules: list[str] = []
    if marker == "blocked":
        rules = _block_rules(reply.text)
    return Sent(reply.status_code, marker == "blocked", marker == "upstream-error", reason, rules)


def _block_rules(body: str) -> list[str]:
    """Rule ids from the gate's refusal ("metagate blocked POST /x: rule.id: detail; rule.id: ...")."""
    try:
        message = str(json.loads(body)["detail"][1])
    except (ValueError, KeyError, IndexError, TypeError):
        return ["?"]
    details = message.split(": ", 1)[1] if ": " in message else message
    rules = []
    for part in details.split("; "):
        rule = part.split(":", 1)[0].strip()
        if rule and rule not in rules:
            rules.append(rule)
    return rules


def _run_case(case: Case, ctx: Context, gate_url: str, seed: int, index: int, local: threading.local) -> Result:
    if not hasattr(local, "session"):
        local.session = requests.Session()
    result = Result(case)
    rng = random.Random(f"{seed}:{index}")
    try:
        built = channel(case.channel).build(ctx, case.plant, rng)
        for request in built:
            result.sent_forms += request.sent_forms
            sent = _send(gate_url, request, local.session)
            if sent.gate_error:  # a dropped keep-alive connection to the server: once more
                sent = _send(gate_url, request, local.session)
            result.sent.append(sent)
    except (requests.RequestException, OSError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    return result


@dataclass
class SuiteRun:
    seed: int
    results: list[Result]
    seconds: float

    @property
    def planted(self) -> list[Result]:
        return [r for r in self.results if not r.case.control]

    @property
    def controls(self) -> list[Result]:
        return [r for r in self.results if r.case.control]


@pytest.fixture(scope="module")
def suite_run(zenml_server: ZenMLUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteRun]:
    seed = int(os.environ.get("ADVERSARIAL_SEED") or secrets.randbelow(2**31))
    gate: Metagate = launch_metagate(tmp_path_factory, zenml_server.url, mode="reverse")
    try:
        started = time.monotonic()
        ctx = _context(Direct(zenml_server))
        cases = generate_cases(seed)
        local = threading.local()
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(lambda item: _run_case(item[1], ctx, gate.url, seed, item[0], local), enumerate(cases)))
        time.sleep(0.5)  # let the server flush its log
        held = StoreSnapshot.read(zenml_server.state_dir / "zenml.db", zenml_server.log_text())
        for result in results:
            result.stored = held.holds(result.case, result.sent_forms)
        run = SuiteRun(seed, results, time.monotonic() - started)
        _print_report(run)
        yield run
    finally:
        gate.stop()


def _table(title: str, results: list[Result], key) -> str:
    rows: dict[str, Counter] = defaultdict(Counter)
    for result in results:
        keys = key(result)
        for name in keys if isinstance(keys, list) else [keys]:
            rows[name][result.outcome] += 1
    width = max([len(title), *map(len, rows)]) + 2
    lines = [f"{title:<{width}}{'stored/counted':>15}{'%':>7}{'blocked':>9}{'forwarded':>10}{'rejected':>9}{'error':>7}"]
    for name in sorted(rows):
        counts = rows[name]
        counted = counts["stored"] + counts["blocked"] + counts["passed"]
        share = 100 * counts["stored"] / counted if counted else 0.0
        lines.append(f"{name:<{width}}{counts['stored']:>7}/{counted:<7}{share:>7.1f}{counts['blocked']:>9}"
                     f"{counts['passed']:>10}{counts['rejected']:>9}{counts['error']:>7}")  # fmt: skip
    return "\n".join(lines)


def _matrix(results: list[Result]) -> str:
    """Stored/counted for every technique at every channel family."""
    families = sorted({r.case.channel_family for r in results})
    cells: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for result in results:
        cells[(result.case.technique, result.case.channel_family)][result.outcome] += 1
    width = max(len(r.case.technique) for r in results) + 2
    lines = [f"{'technique x channel family':<{width}}" + "".join(f"{family:>14}" for family in families)]
    for technique in sorted({r.case.technique for r in results}):
        row = f"{technique:<{width}}"
        for family in families:
            counts = cells[(technique, family)]
            counted = counts["stored"] + counts["blocked"] + counts["passed"]
            row += f"{counts['stored']:>9}/{counted:<4}"
        lines.append(row)
    return "\n".join(lines)


def _print_report(run: SuiteRun) -> None:
    planted = run.planted
    counts = Counter(r.outcome for r in planted)
    counted = counts["stored"] + counts["blocked"] + counts["passed"]
    print(f"\n== metagate adversarial suite: seed {run.seed}, {len(planted)} planted cases + "
          f"{len(run.controls)} clean controls in {run.seconds:.0f} s")  # fmt: skip
    print(f"stored {counts['stored']}/{counted} = {100 * counts['stored'] / max(counted, 1):.1f}% "
          f"(blocked {counts['blocked']}, forwarded but not found {counts['passed']}; "
          f"rejected by the server {counts['rejected']} and client errors {counts['error']}, both left out)")  # fmt: skip
    print("\n" + _table("class", planted, lambda r: r.case.classes))
    print("\n" + _table("technique", planted, lambda r: r.case.technique))
    print("\n" + _table("channel", planted, lambda r: r.case.channel))
    print("\n" + _table("canary", planted, lambda r: r.case.canary.kind if r.case.canary else "clean"))
    print("\n" + _matrix(planted))
    print("\nwhy blocked (rules of the gate's refusals, per channel): a block for a rule unrelated to the plant")
    print("(a false block of the request around it) protects nothing the next fix will keep")
    for name in sorted({r.case.channel for r in planted}):
        rules = Counter(rule for r in planted if r.case.channel == name for s in r.sent for rule in s.rules)
        if rules:
            print(f"  {name:<28}" + ", ".join(f"{rule} {count}" for rule, count in rules.most_common(4)))
    print("\n" + _table("control", run.controls, lambda r: r.case.channel))
    print("\nstored cases:")
    for result in planted:
        if result.outcome == "stored":
            print("  " + result.describe())
    print("forwarded, accepted and not found (redacted, or a value the server does not keep):")
    for result in planted:
        if result.outcome == "passed":
            print("  " + result.describe())
    print("rejected by the server / client errors (left out of the fraction):")
    for result in planted:
        if result.outcome in ("rejected", "error"):
            print("  " + result.describe())
    if os.environ.get("ADVERSARIAL_DUMP"):
        with open(os.environ["ADVERSARIAL_DUMP"], "w") as handle:
            for result in run.results:
                handle.write(json.dumps({"id": result.case.id, "outcome": result.outcome, "classes": result.case.classes,
                                         "statuses": [s.status for s in result.sent]}) + "\n")  # fmt: skip


def _control_failures(run: SuiteRun) -> list[str]:
    failures = []
    for result in run.controls:
        expected_stored = channel(result.case.channel).stores
        if result.outcome in ("blocked", "rejected", "error") or (expected_stored and not result.stored):
            failures.append(result.describe())
    return failures


def test_clean_controls_pass_the_gate_and_are_stored(suite_run: SuiteRun) -> None:
    assert suite_run.controls, "no clean controls ran"
    failures = _control_failures(suite_run)
    assert not failures, "clean controls that did not pass and land on the server:\n" + "\n".join(failures)


def _stored_fraction(suite_run: SuiteRun) -> tuple[float, list[Result]]:
    planted = suite_run.planted
    counted = [r for r in planted if r.outcome in ("stored", "blocked", "passed")]
    # A suite where the server rejects most cases measures nothing.
    assert len(counted) >= 0.8 * len(planted), f"only {len(counted)} of {len(planted)} cases reached a verdict"
    stored = [r for r in counted if r.outcome == "stored"]
    return len(stored) / len(counted), stored


def test_the_stored_fraction_does_not_grow_past_what_the_gate_reaches_today(suite_run: SuiteRun) -> None:
    fraction, stored = _stored_fraction(suite_run)
    assert fraction <= RATCHET, (
        f"seed {suite_run.seed}: {100 * fraction:.1f}% of planted values stored, more than the "
        f"{100 * RATCHET:.0f}% the gate reached before:\n" + "\n".join(r.describe() for r in stored[:60])
    )
    assert not _control_failures(suite_run), "clean controls fail (see the other test): the fraction means nothing"


@pytest.mark.xfail(strict=True, reason="issue 12 is open: 9.8% stored at seed 20261204, target 1%")
def test_at_most_one_percent_of_planted_values_reach_the_server_store(suite_run: SuiteRun) -> None:
    planted = suite_run.planted
    counted = [r for r in planted if r.outcome in ("stored", "blocked", "passed")]
    stored = [r for r in counted if r.outcome == "stored"]
    # A suite where the server rejects most cases measures nothing.
    assert len(counted) >= 0.8 * len(planted), f"only {len(counted)} of {len(planted)} cases reached a verdict"
    fraction = len(stored) / len(counted)
    assert fraction <= MAX_STORED, (
        f"seed {suite_run.seed}: {len(stored)}/{len(counted)} planted values stored ({100 * fraction:.1f}% > "
        f"{100 * MAX_STORED:.0f}%):\n" + "\n".join(r.describe() for r in stored[:60])
    )
    # A gate that is safe because it blocks clean traffic too has not reached the target.
    assert not _control_failures(suite_run), "clean controls fail (see the other test): the fraction means nothing"


# --------------------------------------------------------------------------
# The suite's own machinery, without a server: the cases are what they claim, and the
# store search finds a value in every form a server keeps it (and nothing else).
# --------------------------------------------------------------------------


def _decoded(case: Case) -> str | bytes:
    """Undo the case's technique by hand: what a decoder in the gate would have to recover."""
    plant, canary = case.plant, case.canary
    assert canary is not None
    value = plant.value
    undo = {
        "plain": lambda: value,
        "latin1_bytes": lambda: value.encode("latin-1"),
        "percent": lambda: urllib.parse.unquote_to_bytes(value),
        "html_entities": lambda: html.unescape(value),
        "json_escapes": lambda: json.loads(f'"{plant.json_literal}"'),
        "base64": lambda: base64.b64decode(value),
        "base64_spaced": lambda: base64.b64decode(value.replace(" ", "")),
        "base32": lambda: base64.b32decode(value),
        "base85": lambda: base64.b85decode(value),
        "ascii85": lambda: base64.a85decode(value),
        "hex": lambda: bytes.fromhex(value),
        "hex_0x_upper": lambda: bytes.fromhex(value.removeprefix("0x")),
        "reversed": lambda: value[::-1],
        "rot13": lambda: codecs.decode(value, "rot13"),
        "at_obfuscation": lambda: _deobfuscate_at(value),
        "homoglyph": lambda: value.translate({ord(v): k for k, v in HOMOGLYPHS.items()}),
        "char_list": lambda: "".join(value),
        "split_list": lambda: _unsplit("".join(value), canary),
        "split_siblings": lambda: _unsplit("".join(value.values()), canary),
        "json_int": lambda: str(value),
        "json_float": lambda: str(int(value)),
        "digits_list": lambda: "".join(map(str, value)),
    }[case.technique]
    return undo()


def _deobfuscate_at(text: str) -> str:
    for at, dot in ((" [at] ", " [dot] "), ("(at)", "(dot)"), (" at ", " dot "), ("[AT]", "[DOT]")):
        if at in text:
            return text.replace(at, "@").replace(dot, ".")
    return text


def _unsplit(joined: str, canary: Canary) -> str | bytes:
    return base64.b64decode(joined) if canary.is_blob else joined


def _expected(case: Case) -> str | bytes:
    canary = case.canary
    assert canary is not None
    if case.technique in ("json_int", "json_float", "digits_list"):
        return canary.digits
    decoded = _decoded(case)
    return canary.payload if isinstance(decoded, bytes) else canary.text


def test_every_technique_meets_every_channel_and_every_plant_decodes_to_its_canary() -> None:
    cases = generate_cases(20261204)
    planted = [c for c in cases if not c.control]
    assert {(c.technique, c.channel) for c in planted} == {(t.name, ch.name) for t in TECHNIQUES for ch in CHANNELS}
    assert {c.canary.kind for c in planted if c.canary} == {"email", "card", "ssn", "aws_key", "person_name", "pem",
                                                            "pickle_blob", "png_blob"}  # fmt: skip
    assert {c.channel for c in cases if c.control} == {ch.name for ch in CHANNELS if ch.clean is not None}
    assert len({c.canary.text for c in planted if c.canary}) == len(planted), "two cases share a canary"
    assert generate_cases(20261204)[5].canary == cases[5].canary, "a seed must give the same cases"
    for case in planted:
        assert _decoded(case) == _expected(case), case.id
        if case.technique not in ("plain", "latin1_bytes", "json_escapes", "json_int", "json_float"):
            assert case.plant.as_text() != case.canary.text, f"{case.id} did not change the value"


def test_canaries_have_the_shape_a_detector_must_recognise() -> None:
    rng = random.Random(3)
    for _ in range(50):
        card = make_canary("card", rng).text
        digits = [int(d) for d in card[::-1]]
        assert sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits)) % 10 == 0, card
        for kind, magic in (("pickle_blob", b"\x80\x04"), ("png_blob", b"\x89PNG\r\n\x1a\n")):
            blob = make_canary(kind, rng)
            offset = blob.payload.find(magic)
            assert 3 <= offset <= 8, "the magic must sit behind junk bytes"
            if kind == "pickle_blob":
                assert pickle.loads(blob.payload[offset:])["tag"] == blob.markers[0]


def _fake_server(tmp_path, rows: list[tuple[str | None, bytes | None]], log: str = "") -> StoreSnapshot:
    database = tmp_path / "zenml.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE run_metadata (value TEXT, configuration BLOB)")
        connection.executemany("INSERT INTO run_metadata VALUES (?, ?)", rows)
    return StoreSnapshot.read(database, log)


def _case(technique: str, plant: Plant, canary: Canary) -> Case:
    return Case(f"{technique}@x", technique, "encoding", "run_metadata_deep", "user_data", canary, plant)


def test_store_search_finds_a_value_in_every_form_a_server_keeps_and_nothing_else(tmp_path) -> None:
    rng = random.Random(5)
    email, other, name = make_canary("email", rng), make_canary("email", rng), make_canary("person_name", rng)
    encoded = base64.b32encode(email.payload).decode()
    homoglyph = Plant("text", name.text.translate({ord("a"): "\u0430", ord("e"): "\u0435"}))
    card = Canary("card", "4539004010602815", b"4539004010602815")
    held = _fake_server(
        tmp_path,
        [
            # As ZenML keeps run metadata: json.dumps, so non-ASCII as \\u escapes.
            (json.dumps({"inputs": {"note": encoded}}), None),
            (json.dumps({"who": homoglyph.value}), None),
            # As it keeps connector labels: base64 of JSON in a blob column.
            (None, base64.b64encode(json.dumps({"card_bin": "4539", "card_mid": "0040", "x": "1060"}).encode())),
        ],
        log='INFO:     127.0.0.1:5000 - "GET /api/v1/pipelines?name=' + urllib.parse.quote(other.text) + ' HTTP/1.1" 200 OK\n',
    )
    assert held.holds(_case("base32", Plant("text", encoded), email))
    assert held.holds(_case("homoglyph", homoglyph, name))
    assert held.holds(_case("plain", Plant("text", other.text), other)), "a query value in the access log"
    # Three of four fragments held is not the value held; all four is.
    siblings = dict(zip(["card_bin", "card_mid", "card_mid2", "card_last4"], ["4539", "0040", "1060", "2815"]))
    assert not held.holds(_case("split_siblings", Plant("siblings", siblings), card))
    fresh = make_canary("email", rng)
    assert not held.holds(_case("base32", Plant("text", base64.b32encode(fresh.payload).decode()), fresh))
    assert not held.holds(_case("plain", Plant("text", fresh.text), fresh))


def test_store_search_counts_split_values_only_when_every_fragment_is_held(tmp_path) -> None:
    pieces = ["4539", "0040", "1060", "2815"]
    card = Canary("card", "4539004010602815", b"4539004010602815")
    split = _case("split_list", Plant("parts", pieces), card)
    assert not _fake_server(tmp_path, [(json.dumps(pieces[:3]), None)]).holds(split)
    (tmp_path / "zenml.db").unlink()
    tags = [(piece, None) for piece in pieces]  # one tag row per fragment, as split tags land
    assert _fake_server(tmp_path, tags).holds(split)
    (tmp_path / "zenml.db").unlink()
    # A fragment inside a longer string is not that fragment stored on its own.
    assert not _fake_server(tmp_path, [(f"run-{piece}-x", None) for piece in pieces]).holds(split)
