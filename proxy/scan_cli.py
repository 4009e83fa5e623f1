"""`metagate scan`: what the gate would decide for captured requests, without a proxy.

    metagate scan captures.jsonl flows.mitm session.har [--format table|json|sarif]
                  [--config metagate.yaml] [--data-dir DIR] [--output FILE]

Every request goes through the Inspector the proxy's workers run (normalise → catalog →
schema → detectors → Rego), built from the same configuration, in a spawned worker process
as in the proxy, so a crash of the native policy engine costs one request, not the scan
(`--in-process` skips the worker: faster to start, for small inputs and tests).

Exit status: 0 when every request would be forwarded (redactions and warnings included),
1 when any would be blocked, 2 when an input or the configuration cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metagate.proxy.config import Config, ConfigError, load_config
from metagate.scanner.capture import (
    CapturedRequest,
    CaptureError,
    parse_captures,
    read_captures,
)
from metagate.scanner.model import Decision, InspectionRequest

if TYPE_CHECKING:
    from metagate.proxy.inspection import InspectionResult, InspectorSettings

EXIT_OK, EXIT_BLOCKED, EXIT_UNREADABLE = 0, 1, 2
DEFAULT_TIMEOUT = 30.0   # per request; offline scans are not latency bound


def add_scan_command(subparsers: Any) -> None:
    scan = subparsers.add_parser(
        "scan",
        help="inspect captured requests offline with the gate's pipeline",
        description="What the gate would decide for captured requests, without a proxy: the same "
                    "normalise, catalog, schema, detector and policy pipeline as `metagate run`.",
        epilog="exit status: 0 every request would be forwarded (redactions and warnings included), "
               "1 any would be blocked, 2 an input or the configuration cannot be read",
    )
    scan.add_argument("inputs", nargs="+", metavar="CAPTURE",
                      help="request JSON, JSON lines, HAR or mitmproxy flow file; - for stdin")
    scan.add_argument("--format", choices=["table", "json", "sarif"], default="table")
    scan.add_argument("--config", type=Path, help="metagate.yaml: the policy and scanner settings of `metagate run`")
    scan.add_argument("--data-dir", type=Path,
                      help="the gate's data dir: fingerprints under its key (default: a fresh random key)")
    scan.add_argument("--output", "-o", type=Path, help="write the report to this file instead of stdout")
    scan.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per request (default 30)")
    scan.add_argument("--in-process", action="store_true",
                      help="inspect in this process instead of a worker process")
    scan.set_defaults(func=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, {"data_dir": args.data_dir})
    except ConfigError as exc:
        print(f"metagate scan: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        captures = read_inputs(args.inputs)
    except CaptureError as exc:
        print(f"metagate scan: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE

    notes: list[str] = []
    try:
        key = _key(args, config, notes)
    except OSError as exc:
        print(f"metagate scan: cannot read the fingerprint key in {config.data_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    from metagate.proxy.runner import inspector_settings

    settings = inspector_settings(config, key)
    requests = [mask_credentials(c.request, f"scan-{n}") for n, c in enumerate(captures)]
    try:
        if args.in_process:
            outcomes = inspect_in_process(settings, requests)
        else:
            outcomes = asyncio.run(inspect_in_worker(settings, requests, args.timeout))
    except Exception as exc:  # the Inspector could not be built: policy or detector config
        print(f"metagate scan: cannot inspect: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    records = [
        report_record(n, capture, outcome, config.on_error)
        for n, (capture, outcome) in enumerate(zip(captures, outcomes))
    ]

    from importlib.metadata import version

    from metagate.scanner.outputs import render

    text = render(records, args.format, notes, version("metagate"))
    if args.output is not None:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    if args.format != "table" or args.output is not None:
        for note in notes:  # the table carries them; JSON output must stay one array
            print(f"metagate scan: {note}", file=sys.stderr)
    return EXIT_BLOCKED if any(r["decision"] == "block" for r in records) else EXIT_OK


def read_inputs(inputs: Sequence[str]) -> list[CapturedRequest]:
    """Every request of every input, in order; the first unreadable input stops the scan."""
    captures: list[CapturedRequest] = []
    for name in inputs:
        if name == "-":
            captures.extend(parse_captures(sys.stdin.buffer.read(), "<stdin>"))
        else:
            captures.extend(read_captures(name))
    return captures


def _key(args: argparse.Namespace, config: Config, notes: list[str]) -> bytes:
    # A data dir named on the command line, in the config file or in the environment holds
    # the deployment's key: fingerprints then match the gate's trail.
    if args.data_dir is not None or "data_dir" in config.model_fields_set:
        from metagate.proxy.runner import fingerprint_key

        return fingerprint_key(config.data_dir)
    notes.append("no --data-dir: fingerprints use a fresh random key and match nothing outside this report")
    return secrets.token_bytes(32)


def mask_credentials(request: InspectionRequest, request_id: str) -> InspectionRequest:
    """The request as the proxy hands it to its workers: credential header values masked,
    the user attributed from a bearer token's subject."""
    from dataclasses import replace

    from metagate.proxy.addon import bearer_subject
    from metagate.scanner.headers import credential_facts, masked
    from mitmproxy import http

    headers = http.Headers([(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                            for k, v in request.headers])
    return replace(
        request,
        headers=masked(request.headers),
        credentials=credential_facts(request.headers),
        user_id=bearer_subject(headers),
        request_id=request_id,
    )


# --- inspection ------------------------------------------------------------------------

def inspect_in_process(settings: InspectorSettings, requests: Sequence[InspectionRequest]) -> list[Any]:
    """An InspectionResult per request, or (rule, reason) where inspection failed."""
    inspector = settings.build()
    outcomes: list[Any] = []
    for request in requests:
        try:
            outcomes.append(inspector.inspect(request))
        except Exception as exc:  # as a worker reports it: the type only, never the message
            outcomes.append(("inspection.error", f"inspection failed ({type(exc).__name__})"))
    return outcomes


async def inspect_in_worker(
    settings: InspectorSettings, requests: Sequence[InspectionRequest], timeout: float
) -> list[Any]:
    from metagate.proxy.workers import InspectionFailed, WorkerPool

    pool = WorkerPool(settings, size=1, timeout=timeout)
    await pool.start()
    outcomes: list[Any] = []
    try:
        # One at a time: the pool's deadline starts while a request waits for the worker.
        for request in requests:
            try:
                outcomes.append(await pool.inspect(request))
            except InspectionFailed as exc:
                outcomes.append((exc.rule, exc.reason))
    finally:
        await pool.close()
    return outcomes


# --- records -----------------------------------------------------------------------------


def report_record(index: int, capture: CapturedRequest, outcome: Any, on_error: str = "block") -> dict[str, Any]:
    """One request's entry of the report (see metagate.scanner.outputs)."""
    request = capture.request
    record: dict[str, Any] = {
        "index": index,
        "source": capture.source,
        "line": capture.line,
        "method": request.method,
        "path": request.path,
    }
    if isinstance(outcome, tuple):
        rule, reason = outcome
        # What the proxy does when inspection fails: block, or forward with a warning.
        action = "warn" if on_error == "allow" else "block"
        decision = Decision(action, [rule], [f"{rule}: {reason}"])
        record.update(endpoint=None, decision=decision.action, rules=decision.rules, reasons=decision.reasons,
                      warnings=decision.warnings, findings=[], redactions=[], violations=[],
                      parse_error=None)
        return record
    result: InspectionResult = outcome
    decision = result.decision
    if result.recorded_path is not None:
        record["path"] = result.recorded_path   # a segment that held a finding, masked
    record.update(
        endpoint=result.endpoint,
        decision=decision.action,
        rules=decision.rules,
        reasons=decision.reasons,
        warnings=decision.warnings,
        findings=[
            {k: f.get(k) for k in ("path", "entity", "category", "detector", "score", "field_class", "fingerprint")}
            for f in result.findings
        ],
        # The fields the policy replaces by a marker; applied when the decision is redact.
        redactions=list(decision.redact),
        violations=result.violations,
        parse_error=result.parse_error,
    )
    return record
