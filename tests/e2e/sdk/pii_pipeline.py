"""A step that logs free-text metadata with an e-mail address in it.

Usage: pii_pipeline.py [ADDRESS]   (default jane.doe@example.com)

The address reaches the server only through the step's ``log_metadata`` call
(POST /run-metadata): it is neither a pipeline parameter nor a literal in the
step's source. Through metagate that call must be blocked, so the run fails in
the client: the script prints EXCEPTION_TYPE / EXCEPTION_MESSAGE /
EXCEPTION_CHAIN and RUN_ID of the failed run, and exits 1. Straight to a server it succeeds and prints
RUN_ID=<uuid>.

ZenML's local orchestrator turns any step failure into a generic
``RuntimeError("Pipeline run has failed due to failure in step(s): ...")``, so
the error the metadata call itself raised (``IllegalOperationError`` with the
gate's reason, when metagate answers 403) is reported separately as
STEP_EXCEPTION_TYPE / STEP_EXCEPTION_MESSAGE.
"""

from __future__ import annotations

import sys

from sdk_common import emit, latest_run_id, report_exception
from zenml import log_metadata, pipeline, step

DEFAULT_ADDRESS = "jane.doe@example.com"
owner_address = DEFAULT_ADDRESS  # set from argv before the run; steps run in-process
step_errors: list[BaseException] = []


@step
def train_with_note() -> float:
    try:
        log_metadata(metadata={"note": f"trained by {owner_address}"})
    except Exception as error:
        step_errors.append(error)
        raise
    return 0.91


@pipeline(enable_cache=False)
def pii_training() -> None:
    train_with_note()


def main() -> int:
    global owner_address
    owner_address = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_ADDRESS
    try:
        run = pii_training()
    except Exception as error:  # noqa: BLE001 - the test inspects whatever the user would see
        report_exception(error)
        if step_errors:
            emit("STEP_EXCEPTION_TYPE", type(step_errors[-1]).__name__)
            emit("STEP_EXCEPTION_MESSAGE", " ".join(str(step_errors[-1]).split()))
        emit("RUN_ID", latest_run_id("pii_training") or "")  # the failed run
        return 1
    emit("RUN_ID", str(run.id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
