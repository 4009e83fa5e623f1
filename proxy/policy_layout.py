"""Which Rego directories an Inspector loads: the shipped policy plus team directories, or a
complete policy set (an unpacked bundle, a fork of the default) in its place.

`InspectorSettings.policy_dirs` are loaded beside the shipped default. A complete policy set
replaces the default instead; settings say so by naming `RootedInspector` as the factory,
with the set's directory first in `policy_dirs`. Picklable like any settings, so the proxy's
workers, `metagate policy test` and `metagate policy check` build the same engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from metagate.proxy.inspection import Inspector, InspectorSettings

if TYPE_CHECKING:
    from metagate.policies.engine import PolicyEngine

ROOTED_FACTORY = "metagate.proxy.policy_layout:RootedInspector"


class RootedInspector(Inspector):
    """An Inspector whose policy is `policy_dirs[0]` (a complete set) plus the rest beside it."""

    @staticmethod
    def _engine(settings: InspectorSettings) -> PolicyEngine:
        if settings.policy_engine == "opa" or not settings.policy_dirs:
            return Inspector._engine(settings)
        from metagate.policies.engine import RegopyEngine

        base, *extra = settings.policy_dirs
        return RegopyEngine(base, data_overrides=settings.policy_data or None, extra_dirs=extra)


def with_policy(settings: InspectorSettings, base: Path | None, extra: Sequence[Path] = ()) -> InspectorSettings:
    """`settings` loading `base` in place of the shipped policy (None: keep it) and `extra` beside."""
    if base is None:
        return replace(settings, policy_dirs=tuple(Path(d) for d in extra))
    return replace(settings, policy_dirs=(Path(base), *(Path(d) for d in extra)), factory=ROOTED_FACTORY)


def policy_layout(settings: InspectorSettings) -> tuple[Path | None, tuple[Path, ...]]:
    """(the complete set replacing the default or None, the directories loaded beside it)."""
    if settings.factory == ROOTED_FACTORY and settings.policy_dirs:
        return Path(settings.policy_dirs[0]), tuple(Path(d) for d in settings.policy_dirs[1:])
    return None, tuple(Path(d) for d in settings.policy_dirs)


def policy_dirs(settings: InspectorSettings) -> list[Path]:
    """Every directory the engine of `settings` loads, the base first."""
    from metagate.policies.files import DEFAULT_POLICY_DIR

    base, extra = policy_layout(settings)
    return [base or DEFAULT_POLICY_DIR, *extra]
