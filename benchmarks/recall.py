"""Recall per class and false positives, on the development set and the never-tuned test set.

    .venv/bin/python benchmarks/recall.py [--set dev|test|both] [--no-presidio] [--show-misses]
                                          [--show-test-misses]

Corpora:
- dev: tests/corpus/labelled/*.jsonl (benchmarks/build_labelled_corpus.py): captured clean
  ZenML traffic, the same requests with PII, secret and blob samples injected at fields users
  fill, and those samples wrapped in evasion encodings. Detectors are built against it.
- test: tests/corpus/test/*.jsonl (benchmarks/build_test_corpus.py): other SDK scenarios and
  artifact-store roots, other samples (names, addresses, key context, prose, records, numbers,
  new encodings), planted at 64 SDK channels. Never tuned on: this script shows its figures,
  not its cases; `--show-test-misses` lists them and says that reading them is tuning.

Measures (both sets, per class and per technique):
- metagate: the Inspector the proxy's workers run (default policy, fresh key). A leak counts
  as found when a finding of a labelled category sits at the labelled path (or below it: a
  split value may be reported on a fragment) with a score at or above the default policy
  threshold (0.5); "entity" also needs a labelled entity; "decision" compares the gate's
  decision with the label (block, or redact where the field is itself redacted): the recall
  on leaking requests.
- Presidio (dev set only): its default `AnalyzerEngine` with every default recognizer, offline
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "corpus" / "labelled"
TEST_SET = ROOT / "tests" / "corpus" / "test"
THRESHOLD = 0.5
CATEGORIES = ("pii", "secret", "blob")


def load_cases(directory: Path = LABELLED) -> list[dict[str, Any]]:
    cases = []
    for path in sorted(directory.glob("*.jsonl")):
        cases.extend(json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip())
    if not cases:
        raise SystemExit(f"no labelled cases in {directory}: run benchmarks/build_labelled_corpus.py "
                         "(dev) or benchmarks/build_test_corpus.py (test)")
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
    if not total:
        return "-"
    share = hit / total
    # a few in hundreds (false blocks) must not round to 0% or 100%
    return f"{hit}/{total} ({share:.1%})" if 0 < share < 0.01 or 0.99 < share < 1 else f"{hit}/{total} ({share:.0%})"


def class_of(label: dict[str, Any]) -> str:
    """The data class a case is reported under: the test set labels one; the dev set's is its category."""
    return label.get("class") or label["category"]


def group_of(label: dict[str, Any]) -> str:
    return "plain" if label["technique"] in ("plain", "captured") else "evasion"


def _within(path: str, expected: str) -> bool:
    if expected.startswith("$headers"):
        path, expected = path.lower(), expected.lower()
    return path == expected or path.startswith(expected + ".") or path.startswith(expected + "[")


def matched(findings: Iterable[dict[str, Any]], label: dict[str, Any], entity: bool) -> bool:
    """A finding at or below the labelled path, of a labelled category (and entity)."""
    return any(
        _within(f["path"], want["path"])
        and f["category"] == want["category"]
        and f["score"] >= THRESHOLD
        and (not entity or f["entity"] == want["entity"])
        for f in findings
        for want in label["findings"]
    )


def found(findings: Iterable[dict[str, Any]], expected: dict[str, Any], entity: bool) -> bool:
    return matched(findings, {"findings": [expected]}, entity)


@dataclass
class Tally:
    n: int = 0
    category: int = 0
    entity: int = 0
    decision: int = 0

    def add(self, result: dict[str, Any], label: dict[str, Any]) -> None:
        self.n += 1
        self.category += matched(result["findings"], label, entity=False)
        self.entity += matched(result["findings"], label, entity=True)
        self.decision += result["decision"] == label["decision"]


@dataclass
class SetFigures:
    """Everything reported for one corpus."""

    name: str
    directory: Path
    cases: list[dict[str, Any]]
    ours: dict[str, dict[str, Any]]
    by_class: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_category: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_technique: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_place_group: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for case in self.leaks:
            label = case["label"]
            result = self.ours[label["id"]]
            for key in ((class_of(label), group_of(label)), (class_of(label), "all"),
                        ("all", group_of(label)), ("all", "all")):
                self.by_class[key].add(result, label)
            for key in ((label["category"], group_of(label)), (label["category"], "all")):
                self.by_category[key].add(result, label)
            self.by_technique[label["technique"]].add(result, label)
            self.by_place_group[label.get("place_group") or ("query" if "$query" in label["findings"][0]["path"] else "body")].add(result, label)
            if not matched(result["findings"], label, entity=False) or result["decision"] != label["decision"]:
                paths = {f["path"] for f in label["findings"]}
                got = sorted({(f["entity"], f["score"]) for f in result["findings"] if any(_within(f["path"], p) for p in paths)})
                self.misses.append(f"  {label['id']}: decision {result['decision']} (want {label['decision']}), "
                                   f"at {sorted(paths)[0]}: {got}")

    @property
    def leaks(self) -> list[dict[str, Any]]:
        return [c for c in self.cases if c["label"]["kind"] == "leak"]

    @property
    def clean(self) -> list[dict[str, Any]]:
        return [c for c in self.cases if c["label"]["kind"] == "clean"]

    def clean_figures(self) -> dict[str, list[dict[str, Any]]]:
        clean = self.clean
        return {
            "blocked": [c for c in clean if self.ours[c["label"]["id"]]["decision"] == "block"],
            "any finding": [c for c in clean if self.ours[c["label"]["id"]]["findings"]],
            "decision differs": [c for c in clean if self.ours[c["label"]["id"]]["decision"] != c["label"]["decision"]],
        }


def _cell(tally: Tally | None, what: str) -> str:
    return ratio(getattr(tally, what), tally.n) if tally else "-"


def _print_rows(sets: list[SetFigures], attribute: str, title: str) -> None:
    names = [s.name for s in sets]
    rows: list[str] = []
    for figures in sets:
        for key, _ in getattr(figures, attribute):
            if key != "all" and key not in rows:
                rows.append(key)
    if attribute == "by_class":
        rows.append("all")
    columns = [(f"{n} {g}", n, g) for g in ("plain", "evasion") for n in names]
    print(f"{title:16}{'':10}" + "".join(f"{heading:>20}" for heading, _, _ in columns))
    lookup = {s.name: s for s in sets}
    for row_key in rows:
        for what in ("decision", "category", "entity"):
            row = f"{row_key if what == 'decision' else '':16}{what:10}"
            for _, name, group in columns:
                row += f"{_cell(getattr(lookup[name], attribute).get((row_key, group)), what):>20}"
            print(row)
    print()


def print_side_by_side(sets: list[SetFigures]) -> None:
    """Per class and per category: recall on leaking requests (decision), on evasion variants,
    findings; one column per set and group."""
    print("recall on leaking requests (plain) and evasion variants; decision = the gate decided as labelled, "
          f"category = a labelled category at the labelled path (or below) with score >= {THRESHOLD}, "
          "entity = and a labelled entity")
    print("(the dev set's classes are its categories)\n")
    _print_rows(sets, "by_category", "category")
    _print_rows(sets, "by_class", "class")
    names = [s.name for s in sets]
    for title, attribute in (("technique", "by_technique"), ("place group", "by_place_group")):
        keys: list[str] = []
        for figures in sets:
            keys += [k for k in getattr(figures, attribute) if k not in keys]
        print(f"{title:26}" + "".join(f"{n + ' decision':>20}{n + ' found':>20}" for n in names))
        for key in keys:
            row = f"{key:26}"
            for figures in sets:
                tally = getattr(figures, attribute).get(key)
                row += f"{_cell(tally, 'decision'):>20}{_cell(tally, 'category'):>20}"
            print(row)
        print()
    print("false positives on clean traffic")
    for figures in sets:
        counts = figures.clean_figures()
        entities = Counter(f["entity"] for c in counts["any finding"] for f in figures.ours[c["label"]["id"]]["findings"])
        print(f"  {figures.name:5} {len(figures.clean)} clean requests: blocked {ratio(len(counts['blocked']), len(figures.clean))}, "
              f"any finding {ratio(len(counts['any finding']), len(figures.clean))}, decision differs from label "
              f"{ratio(len(counts['decision differs']), len(figures.clean))}  findings by entity {dict(entities.most_common(8))}")


def print_targets(figures: SetFigures) -> None:
    plain, evasion = figures.by_class.get(("all", "plain")), figures.by_class.get(("all", "evasion"))
    worst = min(((t.decision / t.n, cls) for (cls, g), t in figures.by_class.items() if g == "all" and cls != "all" and t.n),
                default=(1.0, "-"))
    blocked = len(figures.clean_figures()["blocked"])
    print(f"\nissue 12 targets on the {figures.name} set: leaking requests {_cell(plain, 'decision')} (>= 99%), "
          f"evasion variants {_cell(evasion, 'decision')} (>= 97%), lowest class {worst[1]} {worst[0]:.0%} (>= 95%), "
          f"clean blocked {blocked} (0)")


def print_presidio(figures: SetFigures, theirs: dict[str, list[tuple[str, float]]]) -> None:
    """The dev set's PII cases as Presidio's default analyzer scores them, beside metagate."""
    pii = [c for c in figures.leaks if c["label"]["category"] == "pii"]
    print(f"\nPresidio on the {figures.name} set's {len(pii)} PII cases (value at the labelled path as sent)")
    print(f"{'group':12}{'metagate':>16}{'Presidio':>16}{'+ entity':>16}{'any score':>16}")
    for group in ("plain", "evasion", "all"):
        cases = [c for c in pii if group == "all" or group_of(c["label"]) == group]
        if not cases:
            continue
        ours = sum(matched(figures.ours[c["label"]["id"]]["findings"], c["label"], entity=False) for c in cases)
        strong = sum(any(s >= THRESHOLD for _, s in theirs[c["label"]["id"]]) for c in cases)
        entity = sum(any(e == c["label"]["findings"][0]["entity"] and s >= THRESHOLD for e, s in theirs[c["label"]["id"]])
                     for c in cases)
        weak = sum(bool(theirs[c["label"]["id"]]) for c in cases)
        print(f"{group:12}{ratio(ours, len(cases)):>16}{ratio(strong, len(cases)):>16}{ratio(entity, len(cases)):>16}"
              f"{ratio(weak, len(cases)):>16}")
    clean = figures.clean
    strong_clean = [c for c in clean if any(s >= THRESHOLD for _, s in theirs[c["label"]["id"]])]
    weak_clean = [c for c in clean if theirs[c["label"]["id"]]]
    entities = Counter(e for c in clean for e, s in theirs[c["label"]["id"]] if s >= THRESHOLD)
    print(f"  Presidio on clean: result >= {THRESHOLD} {ratio(len(strong_clean), len(clean))}, "
          f"any result {ratio(len(weak_clean), len(clean))}  {dict(entities.most_common(5))}")


def print_details(figures: SetFigures, misses: bool) -> None:
    """Clean requests with findings and (optionally) the missed leak cases of one set."""
    counts = figures.clean_figures()
    print(f"\n{figures.name} clean requests blocked or with findings")
    for case in counts["blocked"] + [c for c in counts["any finding"] if c not in counts["blocked"]]:
        result = figures.ours[case["label"]["id"]]
        print(f"  {case['label']['id']}: {result['decision']} {sorted({(f['entity'], f['path']) for f in result['findings']})}")
    if misses and figures.misses:
        print(f"\n{figures.name} metagate misses ({len(figures.misses)})")
        print("\n".join(figures.misses))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", choices=("dev", "test", "both"), default="both", help="which corpus (default: both)")
    parser.add_argument("--no-presidio", action="store_true", help="metagate only (Presidio runs on the dev set only)")
    parser.add_argument("--show-misses", action="store_true",
                        help="list the dev set's clean findings and every dev leak case metagate gets wrong")
    parser.add_argument("--show-test-misses", action="store_true",
                        help="also list the test set's misses and clean findings: reading them is tuning on the test set")
    args = parser.parse_args()
    chosen = {"dev": [("dev", LABELLED)], "test": [("test", TEST_SET)], "both": [("dev", LABELLED), ("test", TEST_SET)]}[args.set]
    if args.show_test_misses:
        print("WARNING: --show-test-misses prints the never-tuned test set's cases. Whatever you change after reading "
              "them, the test set stops measuring generalisation: rebuild it from new scenarios and samples "
              "(tests/corpus/README.md).", file=sys.stderr)
    sets: list[SetFigures] = []
    for name, directory in chosen:
        cases = load_cases(directory)
        started = time.perf_counter()
        ours = run_metagate(cases)
        print(f"({name}: {directory.relative_to(ROOT)}, {len(cases)} cases, metagate {time.perf_counter() - started:.1f} s)")
        sets.append(SetFigures(name, directory, cases, ours))
    print()
    print_side_by_side(sets)
    for figures in sets:
        print_targets(figures)
    dev = next((s for s in sets if s.name == "dev"), None)
    if dev is not None and not args.no_presidio:
        engine = presidio_engine()
        started = time.perf_counter()
        theirs = run_presidio(engine, dev.cases)
        print(f"\n(Presidio {time.perf_counter() - started:.1f} s for {len(dev.cases)} cases)")
        print_presidio(dev, theirs)
    for figures in sets:
        if figures.name == "dev":
            print_details(figures, args.show_misses)
        elif args.show_test_misses:
            print_details(figures, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
