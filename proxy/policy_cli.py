"""`metagate policy`: test, explain and ship the Rego policy the gate enforces.

    metagate policy test  [DIR] [--format human|junit|sarif|json] [--output FILE] [--config FILE]
    metagate policy check [--format human|json] [--config FILE] [--policy DIR ... | --bundle PATH|URL] REQUEST.json
    metagate policy build [DIR ...] [--output FILE] [--revision REV] [--root ROOT ...]

DIR is a policy project: its Rego in `DIR/rego/` (or DIR itself), its fixtures in
`DIR/fixtures/`, and optionally the deployment's settings in `DIR/metagate.yaml` (storage
prefixes, limits, `policy.data`). A policy directory that holds `metagate/main.rego` is a
complete policy set and replaces the shipped one; any other is a team's packages, loaded
beside it (as `policy.extra_dirs` loads them). Without DIR: the shipped policy and its
fixtures (`policies/rego`, `policies/fixtures`).

Exit status: test: 0 all pass, 1 any fails, 2 broken policy or unreadable fixture;
check: 0 forwarded, 1 blocked, 2 unreadable; build: 0 written, 2 not.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metagate.policies.files import DEFAULT_POLICY_DIR
from metagate.proxy.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from metagate.proxy.inspection import InspectorSettings

EXIT_OK, EXIT_FAILED, EXIT_BROKEN = 0, 1, 2
SHIPPED_PROJECT = DEFAULT_POLICY_DIR.parent          # policies/: rego/ and fixtures/
SHIPPED_FIXTURES = SHIPPED_PROJECT / "fixtures"
PROJECT_CONFIG = "metagate.yaml"


def add_policy_command(subparsers: Any) -> None:
    policy = subparsers.add_parser("policy", help="test, explain and bundle the Rego policy",
                                   description=(__doc__ or "").split("\n\n")[0])
    commands = policy.add_subparsers(dest="policy_command", required=True)

    test = commands.add_parser("test", help="Rego unit tests and request fixtures through the full pipeline")
    test.add_argument("dir", nargs="?", type=Path, help="policy project (default: the shipped policy)")
    test.add_argument("--fixtures", action="append", type=Path, default=[], metavar="PATH",
                      help="more fixture files or directories (repeatable)")
    test.add_argument("--config", type=Path, help=f"settings (default: DIR/{PROJECT_CONFIG} if present)")
    test.add_argument("--format", choices=["human", "junit", "sarif", "json"], default="human")
    test.add_argument("--output", "-o", type=Path, help="write the report here (the summary still goes to stderr)")
    test.add_argument("--shipped-fixtures", action="store_true",
                      help="also run the shipped policy's fixtures (and report coverage of its rules)")
    test.add_argument("--require-coverage", action="store_true",
                      help="fail (exit 1) unless every rule has a firing and an allow fixture")
    test.add_argument("--no-rego-tests", action="store_true", help="run the fixtures only")
    test.add_argument("--in-process", action="store_true", help="evaluate fixtures here, not in a child process")
    test.add_argument("--timeout", type=float, default=60.0, help="seconds per fixture (default 60)")
    test.set_defaults(func=run_test)

    check = commands.add_parser("check", help="one decision with the rules, findings and paths behind it")
    check.add_argument("request", type=Path, metavar="REQUEST.json",
                       help="request JSON (or JSON lines, HAR, mitmproxy flows) as `metagate scan` reads it")
    check.add_argument("--format", choices=["human", "json"], default="human")
    check.add_argument("--config", type=Path, help="metagate.yaml: its policy.extra_dirs, policy.data and storage prefixes")
    check.add_argument("--policy", action="append", type=Path, default=[], metavar="DIR",
                       help="policy project or directory instead of the config's (repeatable)")
    check.add_argument("--bundle", metavar="PATH|URL",
                       help="a policy bundle (default: the config's policy.bundle) instead of policy directories")
    check.add_argument("--in-process", action="store_true", help="evaluate here, not in a child process")
    check.set_defaults(func=run_check)

    build = commands.add_parser("build", help="write an OPA bundle (.tar.gz with .manifest) of the policy")
    build.add_argument("dirs", nargs="*", type=Path, metavar="DIR",
                       help="policy projects or directories to include beside the shipped policy")
    build.add_argument("--output", "-o", type=Path, default=Path("bundle.tar.gz"))
    build.add_argument("--revision", help="bundle revision, e.g. a commit id (default: from the policy hash)")
    build.add_argument("--root", action="append", dest="roots", metavar="ROOT",
                       help="data roots the bundle owns (default: metagate)")
    build.add_argument("--include-tests", action="store_true", help="ship the *_test.rego modules too")
    build.add_argument("--no-check", action="store_true", help="do not compile the policy before writing")
    build.set_defaults(func=run_build)


# --- projects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyProject:
    base: Path | None               # a complete policy set replacing the shipped one, or None
    extra: tuple[Path, ...]         # team directories loaded beside the base
    fixtures: tuple[Path, ...]
    config: Path | None


def resolve_projects(dirs: Sequence[Path]) -> PolicyProject:
    """Where the Rego, fixtures and settings of the given projects are (see the module doc)."""
    if not dirs:
        return PolicyProject(None, (), (SHIPPED_FIXTURES,), None)
    base: Path | None = None
    extra: list[Path] = []
    fixtures: list[Path] = []
    config: Path | None = None
    for project in dirs:
        if not project.is_dir():
            raise ConfigError(f"{project}: not a directory")
        policy = project / "rego" if (project / "rego").is_dir() else project
        if (policy / "metagate" / "main.rego").is_file():
            if base is not None:
                raise ConfigError(f"{policy} and {base} are both complete policy sets")
            base = policy
        else:
            extra.append(policy)
        if (project / "fixtures").is_dir():
            fixtures.append(project / "fixtures")
        if config is None and (project / PROJECT_CONFIG).is_file():
            config = project / PROJECT_CONFIG
    if base is not None and base.resolve() == DEFAULT_POLICY_DIR.resolve():
        base = None
    return PolicyProject(base, tuple(extra), tuple(fixtures), config)


def _settings(config: Config, project: PolicyProject, key: bytes) -> InspectorSettings:
    from metagate.proxy.policy_layout import with_policy
    from metagate.proxy.runner import inspector_settings

    return with_policy(inspector_settings(config, key), project.base, project.extra)


def _load(path: Path | None, command: str, environ: dict[str, str] | None = None) -> Config | None:
    try:
        return load_config(path, environ=environ)
    except ConfigError as exc:
        print(f"metagate policy {command}: {exc}", file=sys.stderr)
        return None


# --- test ---------------------------------------------------------------------------------


def run_test(args: argparse.Namespace) -> int:
    from importlib.metadata import version

    from metagate.policies.report_formats import render_human, render_report
    from metagate.policies.testing import run_policy_tests

    try:
        project = resolve_projects([args.dir] if args.dir else [])
    except ConfigError as exc:
        print(f"metagate policy test: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    # The environment's METAGATE_* settings belong to a running gate: a test run is the same
    # on every machine.
    config = _load(args.config or project.config, "test", environ={})
    if config is None:
        return EXIT_BROKEN
    settings = _settings(config, project, secrets.token_bytes(32))
    fixtures = [*project.fixtures, *args.fixtures]
    if args.shipped_fixtures and SHIPPED_FIXTURES not in fixtures:
        fixtures.append(SHIPPED_FIXTURES)
    report = run_policy_tests(
        settings, fixtures, rego_tests=not args.no_rego_tests, in_process=args.in_process,
        fixture_timeout=args.timeout,
        # A team's run covers the team's rules; the shipped rules are the shipped corpus's job.
        default_rules=not project.extra or SHIPPED_FIXTURES in fixtures,
    )
    text = render_report(report, args.format, version("metagate"))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        sys.stderr.write(render_human(report))
    else:
        sys.stdout.write(text)
        if args.format != "human":
            sys.stderr.write(render_human(report).splitlines()[-1] + "\n")
    code = report.exit_code
    if code == EXIT_OK and args.require_coverage and report.uncovered:
        print(f"metagate policy test: {len(report.uncovered)} rules lack fixtures (--require-coverage)", file=sys.stderr)
        return EXIT_FAILED
    return code


# --- check --------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from metagate.policies.errors import PolicyError
    from metagate.policies.explain import render_explanation
    from metagate.scanner.capture import CaptureError, read_captures

    config = _load(args.config, "check")
    if config is None:
        return EXIT_BROKEN
    bundle = args.bundle or (config.policy.bundle if not args.policy else None)
    with tempfile.TemporaryDirectory(prefix="metagate-check-") as scratch:
        revision = None
        try:
            if bundle:
                unpacked = unpack_bundle_from(bundle, Path(scratch))
                project, revision = PolicyProject(unpacked.directory, (), (), None), unpacked.revision
            elif args.policy:
                project = resolve_projects(args.policy)
            else:
                project = PolicyProject(None, tuple(config.policy.extra_dirs), (), None)
            captures = read_captures(args.request)
        except (ConfigError, CaptureError, PolicyError, OSError) as exc:
            print(f"metagate policy check: {exc}", file=sys.stderr)
            return EXIT_BROKEN
        settings = _settings(config, project, secrets.token_bytes(32))
        from metagate.proxy.scan_cli import mask_credentials

        requests = [mask_credentials(c.request, f"check-{n}") for n, c in enumerate(captures)]
        try:
            explanations = _explain(settings, requests, args.in_process)
        except Exception as exc:  # noqa: BLE001 - the policy or the engine failed: say which, no traceback
            from metagate.policies.testing import locate
            from metagate.proxy.policy_layout import policy_dirs

            print(f"metagate policy check: cannot evaluate: {locate(str(exc), policy_dirs(settings))}", file=sys.stderr)
            return EXIT_BROKEN
    for explanation in explanations:
        explanation["policy_revision"] = revision
    if args.format == "json":
        sys.stdout.write(json.dumps(explanations if len(explanations) > 1 else explanations[0], indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render_explanation(e) for e in explanations))
    blocked = any(e["decision"]["action"] == "block" for e in explanations)
    return EXIT_FAILED if blocked else EXIT_OK


def unpack_bundle_from(spec: str, directory: Path) -> Any:
    """A bundle file or bundle server URL (as `policy.bundle` names it), unpacked under `directory`."""
    import asyncio

    from metagate.policies.bundle import unpack_bundle
    from metagate.proxy.reload import BundleFetchError, bundle_source

    async def fetch() -> bytes | None:
        source = bundle_source(spec)
        try:
            return await source.fetch()
        finally:
            await source.close()

    try:
        data = asyncio.run(fetch())
    except BundleFetchError as exc:
        raise ConfigError(f"policy bundle: {exc}") from None
    if data is None:
        raise ConfigError(f"policy bundle: {spec}: nothing served")
    return unpack_bundle(data, directory)


def _explain(settings: InspectorSettings, requests: Sequence[Any], in_process: bool) -> list[dict[str, Any]]:
    from metagate.policies.explain import explain_request

    if in_process:
        return [explain_request(settings, r) for r in requests]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # regopy is native code: a crash costs the child, and says so here.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return [pool.submit(explain_request, settings, r).result() for r in requests]
        except BrokenProcessPool:
            raise RuntimeError("the policy engine crashed evaluating this request") from None


# --- build --------------------------------------------------------------------------------


def run_build(args: argparse.Namespace) -> int:
    from metagate.policies.bundle import DEFAULT_ROOTS, build_bundle
    from metagate.policies.errors import PolicyError
    from metagate.policies.testing import locate

    try:
        project = resolve_projects(args.dirs)
    except ConfigError as exc:
        print(f"metagate policy build: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    dirs = [project.base or DEFAULT_POLICY_DIR, *project.extra]
    if not args.no_check:
        problem = compile_problem(project.base, project.extra)
        if problem is not None:
            print(f"metagate policy build: the policy does not compile: {locate(problem, dirs)}", file=sys.stderr)
            return EXIT_BROKEN
    try:
        built = build_bundle(dirs, args.output, revision=args.revision, roots=args.roots or DEFAULT_ROOTS,
                             include_tests=args.include_tests)
    except PolicyError as exc:
        print(f"metagate policy build: {locate(str(exc), dirs)}", file=sys.stderr)
        return EXIT_BROKEN
    except OSError as exc:
        print(f"metagate policy build: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BROKEN
    print(f"metagate policy build: wrote {built.path} (revision {built.revision}, roots {', '.join(built.roots)}, "
          f"{len(built.entries)} files, policy {built.policy_hash[:16]})")
    return EXIT_OK


def _compile(base: Path | None, extra: tuple[Path, ...]) -> str | None:
    from metagate.policies.engine import PolicyError, RegopyEngine

    try:
        RegopyEngine(base, extra_dirs=extra).close()
    except PolicyError as exc:
        return str(exc)
    return None


def compile_problem(base: Path | None, extra: tuple[Path, ...]) -> str | None:
    """Why the policy does not compile with regopy (in a child process), or None."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(_compile, base, extra).result()
        except BrokenProcessPool:
            return "regopy crashed compiling the policy"
