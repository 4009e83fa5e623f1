"""`metagate config check`: validate the configuration and show what is in force, from where."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from metagate.proxy.config import (
    Config,
    ConfigError,
    env_variable,
    load_config_with_sources,
    source_of,
)
from metagate.proxy.logs import scrub
from pydantic import BaseModel


def effective_settings(config: Config, sources: dict[str, str]) -> list[tuple[str, Any, str]]:
    """(dotted key, value, source) for every setting; free-form mappings count as one value."""
    rows: list[tuple[str, Any, str]] = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                walk(value, key + ".")
            else:
                rows.append((key, value, source_of(key, sources)))

    walk(config, "")
    return rows


def _shown(value: Any) -> str:
    if isinstance(value, Path):
        value = str(value)
    # URLs may carry credentials (a PostgreSQL DSN, a bundle server): never print them.
    return scrub(json.dumps(value, default=str))


def missing_files(config: Config) -> list[str]:
    """Settings naming local files that do not exist: `metagate run` would fail on them."""
    problems = []
    if config.upstream_ca is not None and not config.upstream_ca.is_file():
        problems.append(f"upstream_ca: {config.upstream_ca} is not a readable file")
    for index, directory in enumerate(config.policy.extra_dirs):
        if not directory.is_dir():
            problems.append(f"policy.extra_dirs.{index}: {directory} is not a directory")
    bundle = config.policy.bundle
    if bundle is not None and "://" not in bundle and not Path(bundle).exists():
        problems.append(f"policy.bundle: {bundle} does not exist")
    return problems


def _check(args: argparse.Namespace) -> int:
    from metagate.proxy.admin import TOKEN_ENV, AdminConfigError, admin_token

    try:
        config, sources = load_config_with_sources(args.config)
    except ConfigError as exc:
        print(f"metagate: {exc}", file=sys.stderr)
        return 1
    problems = missing_files(config)
    try:
        admin_token(listen=config.admin.listen)
    except AdminConfigError as exc:
        problems.append(f"admin.listen: {exc}")
    rows = effective_settings(config, sources)
    if args.json:
        print(json.dumps({
            "ok": not problems, "problems": problems,
            "settings": {key: {"value": json.loads(_shown(value)), "source": source} for key, value, source in rows},
            "admin_token": "set" if os.environ.get(TOKEN_ENV) else "unset",
        }, indent=2))
    else:
        width = max(len(key) for key, _, _ in rows)
        shown = [_shown(value) for _, value, _ in rows]
        value_width = min(40, max(len(text) for text in shown))
        for (key, _, source), text in zip(rows, shown):
            print(f"{key:<{width}}  {text:<{value_width}}  [{source}; env {env_variable(key)}]")
        print(f"{'admin token':<{width}}  {'set' if os.environ.get(TOKEN_ENV) else 'unset'}  [env {TOKEN_ENV}]")
        for problem in problems:
            print(f"metagate: {problem}", file=sys.stderr)
        if not problems:
            print("metagate: configuration OK", file=sys.stderr)
    return 1 if problems else 0


def add_config_command(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser("config", help="check the configuration")
    actions = config.add_subparsers(dest="config_action", required=True)
    check = actions.add_parser(
        "check", help="validate metagate.yaml and METAGATE_* variables; print every setting and its source")
    check.add_argument("--config", type=Path, help="metagate.yaml")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(func=_check)
