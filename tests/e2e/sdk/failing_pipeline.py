"""A run whose second step raises, so the SDK reports exception_info to the server.

The failure is expected: the script prints EXPECTED_FAILURE=<type> and
RUN_ID=<uuid of the failed run> and exits 0; it exits 1 if the run succeeded.
"""

from __future__ import annotations

import sys
from typing import Annotated

from sdk_common import emit, latest_run_id
from zenml import pipeline, step


@step
def load_batch(batch: int) -> Annotated[list, "batch_rows"]:
    return [batch, batch + 1, batch + 2]


@step
def validate_batch(rows: list) -> int:
    raise ValueError(f"batch validation failed: {len(rows)} rows, expected 100")


@pipeline(enable_cache=False)
def failing_validation(batch: int = 7) -> None:
    validate_batch(rows=load_batch(batch=batch))


def main() -> int:
    try:
        failing_validation()
    except Exception as error:  # noqa: BLE001 - any failure of the run is the expected outcome
        emit("EXPECTED_FAILURE", type(error).__name__)
        emit("RUN_ID", latest_run_id("failing_validation") or "")
        return 0
    print("the failing step did not fail", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
