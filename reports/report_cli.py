"""`metagate report`: write the transfer report; `metagate report verify FILE`: check one.

    metagate report --data-dir DIR [--from ISO-TIME] [--to ISO-TIME] --format html,pdf,json,csv --out DIR
    metagate report verify FILE [--public-key audit-public.pem]

Exit status: 0 done / verified; 1 a report does not verify; 2 bad arguments or no readable trail.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from metagate.reports.formats import FORMAT_NAMES, REPORT_STEM, get_format, signing
from metagate.reports.report import (
    ReportError,
    build_report,
    parse_time,
    read_trail,
    trail_integrity,
)


def write_report(
    data_dir: Path, out_dir: Path, formats: list[str], start: datetime | None = None, end: datetime | None = None,
    store_config: Any = None, public_key: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[Path]]:
    """Build the report once, render each format, sign each file. Returns (report, attestation, files).

    The trail's chain is checked with `public_key` when given, else with the gate's own key."""
    records, source = read_trail(data_dir, store_config)
    integrity = trail_integrity(data_dir, source, store_config, public_key)
    report = build_report(records, start, end, integrity=integrity, source=source)
    key, unsigned_reason = signing.load_signing_key(data_dir)
    attestation = signing.attest(report, key, unsigned_reason)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in formats:
        output = get_format(name)
        path = out_dir / f"{REPORT_STEM}.{output.extension}"
        path.write_bytes(output.render(report, attestation))
        written += [path, *signing.write_detached(path, key)]
    if key is not None:
        written.append(signing.write_public_key(out_dir, key))
    return report, attestation, written


def _formats(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMAT_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"formats are {', '.join(FORMAT_NAMES)} (got {text!r})")
    return list(dict.fromkeys(names))


def _trail_location(args: argparse.Namespace) -> tuple[Path, Any]:
    """The data dir and the audit store settings (--store, else the config's `audit:` section)."""
    from metagate.proxy.config import load_config

    config = load_config(args.config, {"data_dir": args.data_dir})
    return config.data_dir, args.store or getattr(config, "audit", None)


def _generate(args: argparse.Namespace) -> int:
    from metagate.proxy.config import ConfigError

    if args.out is None:
        print("metagate report: --out DIR is required", file=sys.stderr)
        return 2
    try:
        start = parse_time(args.start) if args.start else None
        end = parse_time(args.end, end_of_day=True) if args.end else None
        if start and end and start >= end:
            raise ReportError("--from must be before --to")
        data_dir, store_config = _trail_location(args)
        report, attestation, written = write_report(data_dir, args.out, args.formats, start, end, store_config,
                                                    args.public_key)
    except (ReportError, ConfigError) as exc:
        print(f"metagate report: {exc}", file=sys.stderr)
        return 2
    totals = report["totals"]
    print(f"metagate report: {totals['requests']} requests ({totals['allowed']} allowed, {totals['redacted']} redacted, "
          f"{totals['warned']} warned, {totals['blocked']} blocked), {totals['bytes_out']} bytes out")
    print(f"metagate report: audit chain: {report['integrity']['trail']['detail']}")
    print("metagate report: " + ("signed with the audit signing key (Ed25519)" if attestation.get("signed")
                                 else attestation["unsigned_reason"]))
    for path in written:
        print(f"  {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        result = signing.verify_file(args.file, args.public_key)
    except (OSError, ValueError) as exc:
        print(f"metagate report verify: cannot check {args.file}: {exc}", file=sys.stderr)
        return 2
    for passed, message in result.checks:
        print(f"{'ok  ' if passed else 'FAIL'} {message}")
    if result.ok and args.public_key is None:
        print("note: checked with the key beside the report; compare its fingerprint with `metagate keys export-public`")
    print(f"metagate report verify: {args.file} {'verifies' if result.ok else 'does NOT verify'}")
    return 0 if result.ok else 1


def _dispatch(args: argparse.Namespace) -> int:
    return _verify(args) if getattr(args, "report_action", None) == "verify" else _generate(args)


def add_report_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    report = subparsers.add_parser(
        "report", help="transfer report for a security review (html, pdf, json, csv)",
        description="Aggregate the audit trail into a signed transfer report. "
                    "`metagate report verify FILE` checks a report's SHA-256 and signature.")
    report.add_argument("--data-dir", type=Path, help="metagate's data dir (holds the audit trail and keys)")
    report.add_argument("--config", type=Path, help="metagate.yaml (for the data dir and the audit store)")
    report.add_argument("--store", metavar="URL", help="the audit store when not in the config (sqlite:PATH or postgresql://...)")
    report.add_argument("--from", dest="start", metavar="ISO-TIME", help="period start, inclusive (UTC if no offset)")
    report.add_argument("--to", dest="end", metavar="ISO-TIME", help="period end, exclusive; a bare date means the end of that day")
    report.add_argument("--format", dest="formats", type=_formats, default=list(FORMAT_NAMES), metavar="LIST",
                        help="comma-separated: html,pdf,json,csv (default: all)")
    report.add_argument("--out", type=Path, metavar="DIR", help="directory for the report files")
    report.add_argument("--public-key", type=Path, metavar="FILE",
                        help="check the trail's checkpoints with this key (default: the gate's own signing key)")
    report.set_defaults(func=_dispatch)
    actions = report.add_subparsers(dest="report_action", required=False, metavar="verify")
    verify = actions.add_parser("verify", help="check a report file's SHA-256 and Ed25519 signature")
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument("--public-key", type=Path, help="the gate's public key (metagate keys export-public)")
    return report
