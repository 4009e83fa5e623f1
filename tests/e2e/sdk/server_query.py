"""Ask the ZenML server what it holds, over its REST API, and print it as JSON.

Usage:
  server_query.py runs                 -> {"runs": [{id, name, status, pipeline}]}
  server_query.py run RUN_ID|latest    -> {"run", "steps", "artifact_versions",
                                           "snapshot", "summary"}
The JSON is printed on the last stdout line as RESULT_JSON=<json>. The raw
hydrated responses are included so tests can reach any field; "summary" pulls
out what tests assert on most (parameters, metadata, source code, artifacts).
Auth comes from the usual ZENML_STORE_* environment variables.
"""

from __future__ import annotations

import sys
from typing import Any

from sdk_common import emit
from zenml.client import Client

HYDRATE = {"hydrate": True}


def _get(path: str, **params: Any) -> Any:
    return Client().zen_store.get(path, params=params or None)  # type: ignore[attr-defined]


def _list_all(path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        reply = _get(path, page=page, size=100, **params)
        items += reply["items"]
        if page >= reply["total_pages"]:
            return items
        page += 1


def list_runs() -> dict[str, Any]:
    runs = _list_all("/runs", sort_by="asc:created")
    return {
        "runs": [
            {
                "id": run["id"],
                "name": run["name"],
                "status": run["body"]["status"],
                "pipeline": (run.get("resources") or {}).get("pipeline", {}).get("name")
                if run.get("resources")
                else None,
            }
            for run in runs
        ]
    }


def _latest_run_id() -> str:
    runs = _get("/runs", sort_by="desc:created", size=1)["items"]
    if not runs:
        raise SystemExit("the server has no runs")
    return str(runs[0]["id"])


def describe_run(run_id: str) -> dict[str, Any]:
    if run_id == "latest":
        run_id = _latest_run_id()
    run = _get(f"/runs/{run_id}", **HYDRATE)
    steps = [
        _get(f"/steps/{step['id']}", **HYDRATE)
        for step in _list_all("/steps", pipeline_run_id=run_id, sort_by="asc:created")
    ]
    artifact_ids: list[str] = []
    for step in steps:
        for versions in (step.get("resources") or {}).get("outputs", {}).values():
            artifact_ids += [version["id"] for version in versions]
    artifact_versions = [_get(f"/artifact_versions/{i}", **HYDRATE) for i in artifact_ids]
    snapshot_id = (run.get("resources") or {}).get("snapshot", {}) or {}
    snapshot = _get(f"/pipeline_snapshots/{snapshot_id['id']}", **HYDRATE) if snapshot_id else None
    return {
        "run": run,
        "steps": steps,
        "artifact_versions": artifact_versions,
        "snapshot": snapshot,
        "summary": _summarise(run, steps, artifact_versions, snapshot),
    }


def _summarise(
    run: dict[str, Any],
    steps: list[dict[str, Any]],
    artifact_versions: list[dict[str, Any]],
    snapshot: dict[str, Any] | None,
) -> dict[str, Any]:
    run_meta = run.get("metadata") or {}
    pipeline_config = ((snapshot or {}).get("metadata") or {}).get("pipeline_configuration") or {}
    return {
        "run_id": run["id"],
        "run_name": run["name"],
        "status": run["body"]["status"],
        "parameters": pipeline_config.get("parameters"),
        "run_metadata": run_meta.get("run_metadata"),
        "exception_info": run_meta.get("exception_info"),
        "tags": [tag["name"] for tag in (run.get("resources") or {}).get("tags", [])],
        "steps": {
            step["name"]: {
                "status": step["body"]["status"],
                "source_code": (step.get("metadata") or {}).get("source_code"),
                "run_metadata": (step.get("metadata") or {}).get("run_metadata"),
                "exception_info": (step.get("metadata") or {}).get("exception_info"),
            }
            for step in steps
        },
        "artifacts": {
            version["body"]["artifact"]["name"]: {
                "id": version["id"],
                "uri": version["body"]["uri"],
                "metadata": (version.get("metadata") or {}).get("run_metadata"),
            }
            for version in artifact_versions
        },
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["runs"]:
        emit("RESULT_JSON", list_runs())
    elif argv[:1] == ["run"] and len(argv) == 2:
        emit("RESULT_JSON", describe_run(argv[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
