"""A scikit-learn-like training pipeline written in plain Python (no sklearn in the ZenML
venv): a logistic regression fitted by gradient descent, a Model with version metadata,
artifact metadata, pipeline environment, Docker settings and extra, step parameters,
progress events on the run's live stream (`zenml.streaming.publish`).

Usage: training_model_pipeline.py [--c 0.5] [--iterations 60]
Last stdout line: RUN_ID=<uuid>. Exits non-zero when the run fails.
"""

from __future__ import annotations

import argparse
import math
from typing import Annotated

from sdk_common import completed, emit
from stack_setup import use_artifact_root_from_env
from zenml import ArtifactConfig, Model, log_metadata, pipeline, step
from zenml.config import DockerSettings
from zenml.streaming import publish

FRAUD_MODEL = Model(
    name="fraud-scorer",
    version="v3",
    description="Gradient-boosted style scorer for transaction fraud; features are aggregated counts.",
    license="Apache-2.0",
    tags=["fraud", "tabular"],
    use_cases="transaction risk scoring",
    limitations="Trained on synthetic counts only.",
)


@step
def make_dataset(samples: int) -> tuple[Annotated[list, "features"], Annotated[list, "labels"]]:
    features, labels = [], []
    for i in range(samples):
        x1 = ((i * 37) % 100) / 100
        x2 = ((i * 53) % 100) / 100
        features.append([x1, x2])
        labels.append(int(x1 + 0.5 * x2 > 0.7))
    return features, labels


@step(enable_cache=False)
def fit_logistic_regression(
    features: list, labels: list, c: float, iterations: int, solver: str = "gd"
) -> Annotated[dict, ArtifactConfig(name="classifier", tags=["model-weights"])]:
    weights, bias = [0.0, 0.0], 0.0
    learning_rate = 0.5
    for iteration in range(iterations):
        if iteration % 20 == 0:
            publish({"iteration": iteration, "stage": "fit", "weights_norm": math.hypot(*weights)}, kind="progress")
        grad_w, grad_b = [0.0, 0.0], 0.0
        for x, y in zip(features, labels):
            p = 1 / (1 + math.exp(-(weights[0] * x[0] + weights[1] * x[1] + bias)))
            grad_w[0] += (p - y) * x[0]
            grad_w[1] += (p - y) * x[1]
            grad_b += p - y
        n = len(features)
        weights = [w - learning_rate * (g / n + w / (c * n)) for w, g in zip(weights, grad_w)]
        bias -= learning_rate * grad_b / n
    log_metadata(
        metadata={"n_iter": iterations, "solver": solver, "C": c, "coef_norm": math.hypot(*weights)},
        infer_artifact=True,
    )
    return {"coef": weights, "intercept": bias, "classes": [0, 1]}


@step
def evaluate_classifier(classifier: dict, features: list, labels: list) -> Annotated[dict, "metrics"]:
    tp = fp = fn = tn = 0
    for x, y in zip(features, labels):
        z = classifier["coef"][0] * x[0] + classifier["coef"][1] * x[1] + classifier["intercept"]
        predicted = int(z > 0)
        tp += predicted and y
        fp += predicted and not y
        fn += (not predicted) and y
        tn += (not predicted) and not y
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    metrics = {
        "accuracy": (tp + tn) / max(len(labels), 1),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-9),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }
    log_metadata(metadata={"evaluation": metrics}, infer_model=True)
    log_metadata(metadata={"roc_auc": 0.87, "threshold": 0.5})
    return metrics


@pipeline(
    model=FRAUD_MODEL,
    tags=["training", "fraud"],
    environment={"OMP_NUM_THREADS": "2", "LOG_LEVEL": "info"},
    settings={"docker": DockerSettings(requirements=["scikit-learn==1.5.2"], environment={"PYTHONHASHSEED": "0"})},
    extra={"team": "risk-ml", "ticket": "MLOPS-1432"},
)
def fraud_training(c: float = 0.5, iterations: int = 60, samples: int = 80) -> None:
    features, labels = make_dataset(samples=samples)
    classifier = fit_logistic_regression(features=features, labels=labels, c=c, iterations=iterations)
    evaluate_classifier(classifier=classifier, features=features, labels=labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--c", type=float, default=0.5)
    parser.add_argument("--iterations", type=int, default=60)
    args = parser.parse_args()
    use_artifact_root_from_env("training-stack")
    run = completed(fraud_training.with_options(run_name="fraud-training-{date}")(c=args.c, iterations=args.iterations))
    emit("RUN_ID", str(run.id))


if __name__ == "__main__":
    main()
