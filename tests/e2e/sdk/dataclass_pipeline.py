"""A pipeline whose step returns a dataclass (DataclassMaterializer: schema metadata).

Last stdout line: RUN_ID=<uuid>.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from sdk_common import emit
from zenml import pipeline, step


@dataclass
class TrainingSummary:
    model_kind: str = "logistic_regression"
    accuracy: float = 0.0
    feature_count: int = 0
    classes: list[str] = field(default_factory=list)


@step
def summarise(feature_count: int) -> Annotated[TrainingSummary, "training_summary"]:
    return TrainingSummary(accuracy=0.88, feature_count=feature_count, classes=["churn", "stay"])


@step
def check(summary: TrainingSummary) -> Annotated[bool, "summary_ok"]:
    return summary.accuracy > 0.5


@pipeline
def dataclass_summary(feature_count: int = 14) -> None:
    check(summary=summarise(feature_count=feature_count))


if __name__ == "__main__":
    run = dataclass_summary()
    emit("RUN_ID", str(run.id))
