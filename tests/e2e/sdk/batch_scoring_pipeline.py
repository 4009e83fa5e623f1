"""A batch-scoring pipeline written for older ZenML releases too (the test set's SDK-version
scenario): a registered model version, a scoring step with a threshold parameter, run and
artifact metadata, a summary artifact, tags; run twice (the second run is cached).

No `from __future__ import annotations` here: ZenML releases before about 0.94 read step
annotations as objects and fail on strings.

Usage: batch_scoring_pipeline.py [--batches 3] [--threshold 0.6]
Last stdout line: RUN_ID=<uuid>. Exits non-zero when a run fails.
"""

import argparse
from typing import Annotated, Dict, List, Tuple

from sdk_common import completed, emit
from stack_setup import use_artifact_root_from_env
from zenml import ArtifactConfig, Model, log_metadata, pipeline, step

SCORING_MODEL = Model(
    name="credit-risk-scorer",
    description="Scores loan applications in nightly batches from bureau aggregates.",
    tags=["scoring", "batch"],
)
WEIGHTS = {"utilisation": 1.7, "delinquencies": 0.9, "tenure_years": -0.3}


@step
def load_batches(batches: int) -> Annotated[List[Dict[str, float]], ArtifactConfig(name="scoring_input", tags=["batch"])]:
    rows = []
    for i in range(batches * 8):
        rows.append({
            "utilisation": round((i * 37 % 100) / 100, 2),
            "delinquencies": float(i % 4),
            "tenure_years": float(i % 15),
        })
    log_metadata(metadata={"batch_count": batches, "row_count": len(rows)}, infer_artifact=True)
    return rows


@step
def score(rows: List[Dict[str, float]], threshold: float) -> Tuple[
    Annotated[List[float], "scores"], Annotated[Dict[str, float], "score_summary"]
]:
    scores = [round(sum(WEIGHTS[k] * row[k] for k in WEIGHTS) / 4, 4) for row in rows]
    flagged = sum(1 for s in scores if s >= threshold)
    summary = {"flagged": float(flagged), "mean_score": round(sum(scores) / len(scores), 4), "threshold": threshold}
    log_metadata(metadata={"flag_rate": round(flagged / len(scores), 4), "scored_rows": len(scores)}, infer_model=True)
    return scores, summary


@step
def publish_summary(summary: Dict[str, float]) -> Annotated[str, "scoring_report"]:
    log_metadata(metadata={"report": {"status": "ok", "flagged": summary["flagged"]}})
    return f"flagged {summary['flagged']:.0f} at threshold {summary['threshold']}"


@pipeline(model=SCORING_MODEL, tags=["nightly-scoring"], enable_cache=True)
def batch_scoring(batches: int = 3, threshold: float = 0.6) -> None:
    rows = load_batches(batches=batches)
    _, summary = score(rows=rows, threshold=threshold)
    publish_summary(summary=summary)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.6)
    args = parser.parse_args()
    use_artifact_root_from_env("scoring-stack")
    configured = batch_scoring.with_options(run_name="scoring-{date}-{time}")
    run = None
    for _ in range(2):  # the second run reuses cached steps
        run = completed(configured(batches=args.batches, threshold=args.threshold))
    emit("RUN_ID", str(run.id))


if __name__ == "__main__":
    main()
