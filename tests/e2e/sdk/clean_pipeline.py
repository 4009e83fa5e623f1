"""A clean training pipeline: parameters, three steps, float/list/dict artifacts, metrics.

Usage: clean_pipeline.py [--lr 0.05] [--epochs 3] [--run-name NAME]
Last stdout line: RUN_ID=<uuid>. Exits non-zero when the run fails.
"""

from __future__ import annotations

import argparse
from typing import Annotated

from sdk_common import completed, emit
from zenml import log_metadata, pipeline, step


@step
def load_data(rows: int) -> Annotated[list, "training_rows"]:
    return [[i, i % 3] for i in range(rows)]


@step
def train(data: list, lr: float, epochs: int) -> Annotated[float, "accuracy"]:
    accuracy = 0.93
    log_metadata(
        metadata={
            "accuracy": accuracy,
            "loss": 0.21,
            "epochs_completed": epochs,
            "learning_rate": lr,
            "per_epoch_loss": [0.5, 0.3, 0.21],
        }
    )
    return accuracy


@step
def evaluate(accuracy: float) -> Annotated[dict, "evaluation_report"]:
    report = {"accuracy": accuracy, "threshold": 0.9, "passed": accuracy >= 0.9}
    log_metadata(metadata={"evaluation": {"passed": report["passed"], "threshold": 0.9}})
    return report


@pipeline
def clean_training(lr: float = 0.05, epochs: int = 3) -> None:
    rows = load_data(rows=12)
    accuracy = train(data=rows, lr=lr, epochs=epochs)
    evaluate(accuracy=accuracy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--run-name")
    args = parser.parse_args()
    configured = clean_training.with_options(run_name=args.run_name) if args.run_name else clean_training
    run = completed(configured(lr=args.lr, epochs=args.epochs))
    emit("RUN_ID", str(run.id))


if __name__ == "__main__":
    main()
