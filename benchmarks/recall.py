"""Recall per category and false-positive rate on the labelled corpus, metagate beside Presidio.

    .venv/bin/python benchmarks/recall.py [--no-presidio] [--show-misses]

Corpus: tests/corpus/labelled/*.jsonl (benchmarks/build_labelled_corpus.py): captured clean
ZenML traffic, the same requests with PII, secret and blob samples injected at fields users
fill, and those samples wrapped in evasion encodings.

- metagate: the Inspector the proxy's workers run (default policy, fresh key). A leak counts
  as found when a finding of the labelled category sits at the labelled path with a score at
  or above the default policy threshold (0.5); "entity" also needs the labelled entity;
  "decision" compares the gate's decision with the label (block, or redact where the field is
  itself redacted).
- Presidio: its default `AnalyzerEngine` with every default recognizer, offline
  (`metagate.scanner.offline.make_offline()`; no spaCy pipeline is installed, so the NLP
  engine is the no-op one and NER-only entities are out of its reach too). It sees the value
  at the labelled path as sent, with the same 0.5 threshold; "any" counts results of any
  score (Presidio's own default threshold is 0). Presidio has no secret or blob recognizers.
- False positives: clean requests the gate blocks, clean requests with any finding; for
  Presidio, clean requests with a result on any string the scanner collects.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "corpus" / "labelled"
THRESHOLD = 0.5
CATEGORIES = ("pii", "secret", "blob")


def load_cases(directory: Path = LABELLED) -> list[dict[str, Any]]:
    cases = []
    for path in sorted(directory.glob("*.jsonl")):
        cases.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not cases:
        raise SystemExit(f"no labelled cases in {directory}: run benchmarks/build_labelled_corpus.py")
    return cases


def request_of(case: dict[str, Any]) -> Any:
    from metagate.scanner.capture import request_from_record

    return request_from_record(case, case["label"]["id"])


def value_at(case: dict[str, Any], path: str) -> str:
    """The string at a labelled path: what a per-string engine would be handed."""
    from metagate.scanner import jsonpath

    if path.startswith("$query"):
        parts = jsonpath.parse("$" + path[len("$query"):])
        return next(v for k, v in case.get("query") or [] if k == parts[0])
    node: Any = json.loads(case["body_text"])
    for part in jsonpath.parse(path):
        node = node[part]
    return node if isinstance(node, str) else json.dumps(node)


# --- metagate ----------------------------------------------------------------------------


def run_metagate(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """case id → {"decision", "findings"} from the proxy's Inspector."""
    from metagate.proxy.inspection import Inspector, InspectorSettings

    inspector = Inspector(InspectorSettings(fingerprint_key=secrets.token_bytes(32)))
    results: dict[str, dict[str, Any]] = {}
    for case in cases:
        result = inspector.inspect(request_of(case))
        results[case["label"]["id"]] = {"decision": result.decision.action, "findings": result.findings}
    return results


def found(findings: Iterable[dict[str, Any]], expected: dict[str, Any], entity: bool) -> bool:
    return any(
        f["path"] == expected["path"]
        and f["category"] == expected["category"]
        and f["score"] >= THRESHOLD
        and (not entity or f["entity"] == expected["entity"])
        for f in findings
    )


# --- Presidio ----------------------------------------------------------------------------


def presidio_engine() -> Any:
    from metagate.scanner.offline import make_offline

    make_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    return AnalyzerEngine(
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
        supported_languages=["en"],
    )


def run_presidio(engine: Any, cases: list[dict[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    """case id → (entity, score) of every Presidio result: on the labelled value for leaks,
    on every string leaf the scanner collects for clean requests."""
    from metagate.scanner.catalog import Catalog
    from metagate.scanner.pipeline import Scanner
    from metagate.scanner.schemas import SchemaSet

    catalog = Catalog.load()
    collector = Scanner(catalog, SchemaSet(catalog), [], [], b"\x00" * 32, remember_clean=False)
    results: dict[str, list[tuple[str, float]]] = {}
    for case in cases:
        label = case["label"]
        if label["kind"] == "leak":
            texts = [value_at(case, f["path"]) for f in label["findings"]]
        else:
            texts = [leaf.text for leaf in collector.scan(request_of(case)).leaves]
        results[label["id"]] = [(r.entity_type, r.score) for text in texts for r in engine.analyze(text, language="en")]
    return results


# --- report ------------------------------------------------------------------------------


def ratio(hit: int, total: int) -> str:
    return f"{hit}/{total} ({hit / total:.0%})" if total else "-"


def report(cases: list[dict[str, Any]], ours: dict[str, dict[str, Any]],
           theirs: dict[str, list[tuple[str, float]]] | None, show_misses: bool) -> int:
    leaks = [c for c in cases if c["label"]["kind"] == "leak"]
    clean = [c for c in cases if c["label"]["kind"] == "clean"]
    tally: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    misses: list[str] = []
    for case in leaks:
        label = case["label"]
        result = ours[label["id"]]
        expected = label["findings"][0]
        group = "plain" if label["technique"] in ("plain", "captured") else "evasion"
        for key in ((label["category"], group), (label["category"], "all"), ("all", group), ("all", "all")):
            counts = tally[key]
            counts["n"] += 1
            counts["category"] += found(result["findings"], expected, entity=False)
            counts["entity"] += found(result["findings"], expected, entity=True)
            counts["decision"] += result["decision"] == label["decision"]
            if theirs is not None and label["category"] == "pii":
                scores = [s for e, s in theirs[label["id"]]]
                counts["presidio"] += any(s >= THRESHOLD for s in scores)
                counts["presidio_entity"] += any(e == expected["entity"] and s >= THRESHOLD for e, s in theirs[label["id"]])
                counts["presidio_any"] += bool(scores)
        if not found(result["findings"], expected, entity=False) or result["decision"] != label["decision"]:
            misses.append(f"  {label['id']}: decision {result['decision']} (want {label['decision']}), "
                          f"at {expected['path']}: {sorted({(f['entity'], f['score']) for f in result['findings'] if f['path'] == expected['path']})}")

    print(f"labelled corpus: {len(leaks)} leak cases, {len(clean)} clean requests ({LABELLED.relative_to(ROOT)})")
    print(f"found = right category at the labelled path, score >= {THRESHOLD}\n")
    header = f"{'category':10}{'cases':>12}{'metagate':>16}{'+ entity':>16}{'decision':>16}"
    if theirs is not None:
        header += f"{'Presidio':>16}{'+ entity':>16}{'any score':>16}"
    print(header)
    for category in (*CATEGORIES, "all"):
        for group in ("plain", "evasion", "all"):
            counts = tally.get((category, group))
            if not counts:
                continue
            row = f"{category:10}{group:>12}{ratio(counts['category'], counts['n']):>16}" \
                  f"{ratio(counts['entity'], counts['n']):>16}{ratio(counts['decision'], counts['n']):>16}"
            if theirs is not None:
                if category in ("pii", "all"):
                    row += f"{ratio(counts['presidio'], counts['n']):>16}{ratio(counts['presidio_entity'], counts['n']):>16}" \
                           f"{ratio(counts['presidio_any'], counts['n']):>16}"
                else:
                    row += f"{ratio(0, counts['n']):>16}{'(no recognizers)':>16}"
            print(row)

    by_technique: dict[str, Counter[str]] = defaultdict(Counter)
    for case in leaks:
        label = case["label"]
        counts = by_technique[label["technique"]]
        counts["n"] += 1
        counts["found"] += found(ours[label["id"]]["findings"], label["findings"][0], entity=False)
        if theirs is not None:
            counts["presidio"] += label["category"] == "pii" and any(s >= THRESHOLD for _, s in theirs[label["id"]])
            counts["pii"] += label["category"] == "pii"
    print(f"\n{'technique':20}{'metagate (all categories)':>28}" + (f"{'Presidio (PII cases)':>24}" if theirs else ""))
    for technique, counts in by_technique.items():
        row = f"{technique:20}{ratio(counts['found'], counts['n']):>28}"
        if theirs is not None:
            row += f"{ratio(counts['presidio'], counts['pii']):>24}"
        print(row)

    blocked = [c for c in clean if ours[c["label"]["id"]]["decision"] == "block"]
    with_findings = [c for c in clean if ours[c["label"]["id"]]["findings"]]
    wrong = [c for c in clean if ours[c["label"]["id"]]["decision"] != c["label"]["decision"]]
    print("\nfalse positives on clean traffic")
    print(f"  metagate: blocked {ratio(len(blocked), len(clean))}, any finding {ratio(len(with_findings), len(clean))}, "
          f"decision differs from label {ratio(len(wrong), len(clean))}")
    if theirs is not None:
        strong = [c for c in clean if any(s >= THRESHOLD for _, s in theirs[c["label"]["id"]])]
        weak = [c for c in clean if theirs[c["label"]["id"]]]
        entities = Counter(e for c in clean for e, s in theirs[c["label"]["id"]] if s >= THRESHOLD)
        print(f"  Presidio: result >= {THRESHOLD} {ratio(len(strong), len(clean))}, any result {ratio(len(weak), len(clean))}"
              f"  {dict(entities.most_common(5))}")
    for case in blocked + [c for c in with_findings if c not in blocked]:
        result = ours[case["label"]["id"]]
        print(f"  {case['label']['id']}: {result['decision']} {sorted({(f['entity'], f['path']) for f in result['findings']})}")
    if show_misses and misses:
        print(f"\nmetagate misses ({len(misses)})")
        print("\n".join(misses))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-presidio", action="store_true", help="metagate only")
    parser.add_argument("--show-misses", action="store_true", help="list every leak case metagate gets wrong")
    args = parser.parse_args()
    cases = load_cases()
    started = time.perf_counter()
    ours = run_metagate(cases)
    ours_seconds = time.perf_counter() - started
    theirs = None
    if not args.no_presidio:
        engine = presidio_engine()
        started = time.perf_counter()
        theirs = run_presidio(engine, cases)
        print(f"(metagate {ours_seconds:.1f} s, Presidio {time.perf_counter() - started:.1f} s for {len(cases)} cases)")
    return report(cases, ours, theirs, args.show_misses)


if __name__ == "__main__":
    sys.exit(main())
