"""The real ZenML server app, wrapped to record when each request arrives.

Runs inside the ZenML venv (`uvicorn arrivals:app --app-dir tests/e2e/server_shim`). For
every HTTP request it appends {time, method, path, audit_id} to $METAGATE_E2E_ARRIVALS
before ZenML handles it. With $METAGATE_E2E_TRAILS (a directory holding metagate data dirs)
it also records whether the request's audit record was already on disk at that moment, so a
test can prove write-ahead. Nothing else about the server changes.
"""

import glob
import json
import os
import time

from zenml.zen_server.zen_server_api import app as zenml_app

LOG = os.environ["METAGATE_E2E_ARRIVALS"]
TRAILS = os.environ.get("METAGATE_E2E_TRAILS")


def _committed(audit_id):
    if not audit_id or not TRAILS:
        return None
    needle = f'"id":"{audit_id}"'.encode()
    for path in glob.glob(os.path.join(TRAILS, "**", "audit", "trail.jsonl"), recursive=True):
        with open(path, "rb") as handle:
            if needle in handle.read():
                return True
    return False


async def app(scope, receive, send):
    if scope["type"] == "http":
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        entry = {
            "time": time.time(),
            "method": scope["method"],
            "path": scope["path"],
            "audit_id": headers.get("x-metagate-audit-id"),
        }
        entry["committed"] = _committed(entry["audit_id"])
        with open(LOG, "a") as handle:
            handle.write(json.dumps(entry) + "\n")
    await zenml_app(scope, receive, send)
