"""The `metagate` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from metagate.proxy.config import ConfigError, load_config


def _run(args: argparse.Namespace) -> int:
    overrides = {
        "mode": args.mode,
        "upstream": args.upstream,
        "listen": args.listen,
        "data_dir": args.data_dir,
        "enforcement": args.enforcement,
        "admin": {"listen": args.admin} if args.admin else None,
    }
    try:
        config = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"metagate: {exc}", file=sys.stderr)
        return 2
    from metagate.proxy.logs import configure_logging
    from metagate.proxy.runner import serve

    configure_logging(config.log.level, config.log.format, config.log.proxy_level)

    try:
        return asyncio.run(serve(config))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # startup failures: say what, not a traceback with config values
        print(f"metagate: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _ca(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, {"data_dir": args.data_dir})
    except ConfigError as exc:
        print(f"metagate: {exc}", file=sys.stderr)
        return 2
    from metagate.proxy.runner import export_ca

    path = export_ca(config.data_dir, Path(args.export))
    print(f"metagate: CA certificate written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metagate", description="Egress gate: only metadata leaves for ZenML.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the gate")
    run.add_argument("--config", type=Path, help="metagate.yaml")
    run.add_argument("--mode", choices=["reverse", "forward", "transparent"])
    run.add_argument("--upstream", help="ZenML server URL; none: start the embedded local server")
    run.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    run.add_argument("--data-dir", type=Path, help="where metagate keeps its trail, keys and CA")
    run.add_argument("--enforcement", choices=["enforce", "monitor"])
    run.add_argument("--admin", metavar="HOST:PORT",
                     help="serve /metrics, /healthz, /readyz here (token: METAGATE_ADMIN_TOKEN)")
    run.set_defaults(func=_run)

    ca = commands.add_parser("ca", help="metagate's interception CA")
    ca.add_argument("--export", required=True, metavar="PATH", help="write the CA certificate (PEM) to PATH")
    ca.add_argument("--config", type=Path)
    ca.add_argument("--data-dir", type=Path)
    ca.set_defaults(func=_ca)

    from metagate.reports.report_cli import add_report_command

    add_report_command(commands)

    from metagate.reports.cli import add_commands

    add_commands(commands)  # keys, audit

    from metagate.proxy.scan_cli import add_scan_command

    add_scan_command(commands)

    from metagate.proxy.config_cli import add_config_command
    from metagate.proxy.doctor import add_doctor_command

    add_config_command(commands)  # config check
    add_doctor_command(commands)

    from metagate.proxy.policy_cli import add_policy_command

    add_policy_command(commands)  # policy test, check, build
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
