"""A tabular pipeline without pandas: rows as records, a multi-output split, two branches
joined, artifact metadata, run tags and a run-name template; run twice (the second run
is served from the cache).

Usage: tabular_pipeline.py [--rows 40]
Last stdout line: RUN_ID=<uuid>. Exits non-zero when a run fails.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Annotated

from sdk_common import completed, emit
from stack_setup import use_artifact_root_from_env
from zenml import ArtifactConfig, log_metadata, pipeline, step

FEATURES = ("tenure_months", "monthly_charges", "support_calls")


@step
def load_table(rows: int, seed: int) -> Annotated[list, ArtifactConfig(name="raw_table", tags=["tabular"])]:
    table = []
    for i in range(rows):
        value = (i * 7919 + seed) % 997
        table.append({
            "row_id": i,
            "tenure_months": value % 72,
            "monthly_charges": round(20 + (value % 90) * 1.1, 2),
            "support_calls": value % 6,
            "churned": int(value % 5 == 0),
        })
    log_metadata(
        metadata={"row_count": rows, "columns": ["row_id", *FEATURES, "churned"], "source": "synthetic"},
        infer_artifact=True,
    )
    return table


@step
def split(
    table: list, test_fraction: float
) -> tuple[Annotated[list, "train_rows"], Annotated[list, "test_rows"]]:
    cut = int(len(table) * (1 - test_fraction))
    return table[:cut], table[cut:]


@step
def profile(rows: list) -> Annotated[dict, ArtifactConfig(name="feature_profile", run_metadata={"profiler": "stdlib"})]:
    summary = {}
    for feature in FEATURES:
        values = [row[feature] for row in rows]
        summary[feature] = {
            "mean": round(statistics.fmean(values), 3),
            "stdev": round(statistics.pstdev(values), 3),
            "min": min(values),
            "max": max(values),
        }
    log_metadata(metadata={"profiled_features": len(FEATURES), "null_fraction": 0.0}, infer_artifact=True)
    return summary


@step
def baseline(rows: list) -> Annotated[float, "churn_rate"]:
    rate = sum(row["churned"] for row in rows) / max(len(rows), 1)
    log_metadata(metadata={"baseline_churn_rate": rate, "evaluated_rows": len(rows)})
    return rate


@step
def report(profile: dict, churn_rate: float) -> Annotated[str, "data_report"]:
    lines = [f"{name}: mean {stats['mean']}" for name, stats in profile.items()]
    log_metadata(metadata={"report": {"features": len(lines), "churn_rate": churn_rate, "status": "ok"}})
    return "\n".join([f"churn rate {churn_rate:.3f}", *lines])


@pipeline(tags=["tabular", "weekly-refresh"], enable_cache=True)
def tabular_profile(rows: int = 40, seed: int = 11, test_fraction: float = 0.25) -> None:
    table = load_table(rows=rows, seed=seed)
    train_rows, test_rows = split(table=table, test_fraction=test_fraction)
    summary = profile(rows=train_rows)
    rate = baseline(rows=test_rows)
    report(profile=summary, churn_rate=rate)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=40)
    args = parser.parse_args()
    use_artifact_root_from_env("tabular-stack")
    configured = tabular_profile.with_options(run_name="tabular-{date}-{time}")
    run = None
    for _ in range(2):  # the second run reuses cached steps
        run = completed(configured(rows=args.rows))
    emit("RUN_ID", str(run.id))


if __name__ == "__main__":
    main()
