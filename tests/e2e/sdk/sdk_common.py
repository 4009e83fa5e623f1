"""Helpers shared by the SDK scripts (run with the ZenML venv's python, not pytest's).

Scripts report to the test through ``KEY=value`` lines on stdout; the test reads
the last line with a given key, so ZenML's own console output does not matter.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(key: str, value: Any) -> None:
    """Print one ``KEY=value`` line (JSON for anything but str)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    print(f"{key}={text}", flush=True)


def exception_chain(error: BaseException) -> list[dict[str, str]]:
    """Type and message of ``error`` and of every exception behind it."""
    chain: list[dict[str, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(
            {
                "type": f"{type(current).__module__}.{type(current).__qualname__}",
                "message": str(current),
            }
        )
        current = current.__cause__ or current.__context__
    return chain


def report_exception(error: BaseException) -> None:
    """Emit ``EXCEPTION_TYPE``, ``EXCEPTION_MESSAGE`` and the whole ``EXCEPTION_CHAIN``."""
    emit("EXCEPTION_TYPE", type(error).__name__)
    emit("EXCEPTION_MESSAGE", " ".join(str(error).split()))
    emit("EXCEPTION_CHAIN", exception_chain(error))


def completed(run: Any) -> Any:
    """`run`, if it completed; otherwise the script exits non-zero saying how it ended."""
    status = getattr(run.status, "value", run.status) if run else None
    if status != "completed":
        raise SystemExit(f"run did not complete: {status}")
    return run


def latest_run_id(pipeline_name: str) -> str | None:
    """Id of the newest run of ``pipeline_name`` on the server, if any."""
    from zenml.client import Client

    runs = Client().list_pipeline_runs(
        pipeline_name=pipeline_name, sort_by="desc:created", size=1
    )
    return str(runs.items[0].id) if runs.items else None


def fail(message: str) -> None:
    print(f"SCRIPT_FAILED={message}", flush=True)
    sys.exit(1)
