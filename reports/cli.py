"""`metagate keys …` and `metagate audit …`; proxy/cli.py calls add_commands(subparsers).

Exit status of `audit verify`: 0 the whole trail verifies (records after the last checkpoint
are reported as an unsigned tail; --strict fails on them), 1 tampering or a bad signature,
2 the trail (or a key) cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OK, TAMPERED, UNREADABLE = 0, 1, 2


def _say(message: str) -> None:
    print(f"metagate: {message}", file=sys.stderr)


def _settings(args: argparse.Namespace) -> tuple[Path, Any]:
    """Data dir and audit store settings from --data-dir/--store, else metagate.yaml/env."""
    from metagate.proxy.config import load_config

    config = load_config(getattr(args, "config", None), {"data_dir": args.data_dir})
    store: Any = getattr(config, "audit", None)
    if getattr(args, "store", None):
        store = args.store
    return config.data_dir, store


def _common(parser: argparse.ArgumentParser, store: bool = True) -> None:
    parser.add_argument("--data-dir", type=Path, help="metagate's data dir (default from --config or metagate-data)")
    parser.add_argument("--config", type=Path, help="metagate.yaml (for the data dir and the audit store)")
    if store:
        parser.add_argument("--store", metavar="URL",
                            help="audit store: sqlite:PATH or postgresql://… (default: the configured one)")


# --- keys ----------------------------------------------------------------------------------

def _keys_init(args: argparse.Namespace) -> int:
    from metagate.reports.keys import KeyFileError, export_public_key, init_signing_key

    try:
        data_dir, _ = _settings(args)
        path = init_signing_key(data_dir)
    except (KeyFileError, ValueError) as exc:
        _say(str(exc))
        return 1
    print(f"metagate: audit signing key written to {path} (mode 0600); give reviewers the public key:")
    sys.stdout.write(export_public_key(data_dir).decode())
    return 0


def _keys_export_public(args: argparse.Namespace) -> int:
    from metagate.reports.keys import KeyFileError, export_public_key

    try:
        data_dir, _ = _settings(args)
        pem = export_public_key(data_dir)
    except (KeyFileError, ValueError) as exc:
        _say(str(exc))
        return 1
    if args.out and args.out != "-":
        Path(args.out).write_bytes(pem)
    else:
        sys.stdout.write(pem.decode())
    return 0


# --- audit ---------------------------------------------------------------------------------

def _public_keys(args: argparse.Namespace, data_dir: Path) -> list[Any]:
    from metagate.reports.keys import load_public_key, load_signing_key

    if args.public_key:
        return [load_public_key(path) for path in args.public_key]
    key = load_signing_key(data_dir).public_key()
    print(f"metagate: checking signatures with the local signing key in {data_dir}; "
          "an independent reviewer passes --public-key", file=sys.stderr)
    return [key]


def _audit_verify(args: argparse.Namespace) -> int:
    from metagate.reports.keys import KeyFileError
    from metagate.reports.store import open_reader
    from metagate.reports.verify import summary, verify_trail

    try:
        data_dir, store = _settings(args)
        keys = _public_keys(args, data_dir)
        with open_reader(data_dir, store) as reader:
            result = verify_trail(reader, keys)
    except (KeyFileError, ValueError) as exc:
        _say(f"cannot verify: {exc}")
        return UNREADABLE
    except Exception as exc:  # unreadable database, unreachable server
        _say(f"cannot read the audit trail: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return UNREADABLE
    if args.json:
        print(json.dumps(summary(result), indent=2))
    else:
        print("\n".join(result.lines()))
    if not result.ok:
        return TAMPERED
    if args.strict and result.unsigned_tail:
        print(f"FAILED (--strict): {result.unsigned_tail} records are not covered by a checkpoint")
        return TAMPERED
    return OK


def _audit_export(args: argparse.Namespace) -> int:
    from metagate.reports.export import (
        SyslogSender,
        exported_records,
        parse_time_bound,
        write_jsonl,
    )
    from metagate.reports.store import open_reader

    try:
        start = parse_time_bound(args.start) if args.start else None
        end = parse_time_bound(args.end, end=True) if args.end else None
        data_dir, store = _settings(args)
        sender = SyslogSender(args.syslog) if args.syslog else None
    except (ValueError, OSError) as exc:
        _say(str(exc))
        return 2
    try:
        with open_reader(data_dir, store) as reader:
            if sender is not None:
                sent = sender.send_all(exported_records(reader, start, end))
                sender.close()
                _say(f"sent {sent} records to syslog at {args.syslog}")
            if args.out or sender is None:
                if args.out in (None, "-"):
                    count = write_jsonl(exported_records(reader, start, end), sys.stdout)
                else:
                    with open(args.out, "w") as handle:
                        count = write_jsonl(exported_records(reader, start, end), handle)
                    _say(f"wrote {count} records to {args.out}")
    except Exception as exc:
        _say(f"cannot export the audit trail: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return 2
    return 0


def add_commands(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="the audit signing key")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    init = key_commands.add_parser("init", help="create <data-dir>/keys/audit-signing.key (0600); never overwrites")
    _common(init, store=False)
    init.set_defaults(func=_keys_init)
    export_public = key_commands.add_parser("export-public", help="print the public key (PEM) for reviewers")
    _common(export_public, store=False)
    export_public.add_argument("--out", help="write to this file instead of stdout")
    export_public.set_defaults(func=_keys_export_public)

    audit = subparsers.add_parser("audit", help="verify or export the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the hash chains and checkpoint signatures",
        description="Exit 0 when the whole trail verifies, 1 on tampering or a bad signature, 2 when it cannot be read.")
    _common(verify)
    verify.add_argument("--public-key", type=Path, action="append", metavar="FILE",
                        help="PEM public key to check signatures with (repeat for several replicas' keys); "
                             "default: the local signing key")
    verify.add_argument("--strict", action="store_true", help="also fail when records are not yet signed")
    verify.add_argument("--json", action="store_true", help="print the outcome as JSON")
    verify.set_defaults(func=_audit_verify)

    export = audit_commands.add_parser("export", help="export records as JSON lines or to syslog")
    _common(export)
    export.add_argument("--from", dest="start", metavar="ISO", help="first time included (UTC unless an offset is given)")
    export.add_argument("--to", dest="end", metavar="ISO", help="end (exclusive; a bare date includes that day)")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--out", metavar="FILE", help="file, or - for stdout (default when --syslog is not given)")
    export.add_argument("--syslog", metavar="HOST:PORT", help="send each record as an RFC 5424 message over UDP")
    export.set_defaults(func=_audit_export)
