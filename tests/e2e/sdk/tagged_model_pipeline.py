"""A tagged pipeline run linked to a model version, with model-version metadata.

Last stdout line: RUN_ID=<uuid>.
"""

from __future__ import annotations

from typing import Annotated

from sdk_common import emit
from zenml import Model, log_metadata, pipeline, step

CHURN_MODEL = Model(
    name="churn-classifier",
    description="Predicts customer churn from usage counts.",
    tags=["classification"],
)


@step
def fit(c: float) -> Annotated[dict, "model_weights"]:
    log_metadata(metadata={"f1": 0.81}, infer_model=True)
    return {"coef": [0.4, -1.2], "intercept": 0.1, "c": c}


@pipeline(model=CHURN_MODEL, tags=["e2e", "nightly"])
def tagged_churn(c: float = 1.0) -> None:
    fit(c=c)


if __name__ == "__main__":
    run = tagged_churn()
    emit("RUN_ID", str(run.id))
