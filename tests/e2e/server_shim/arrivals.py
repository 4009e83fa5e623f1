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
import sqlite3
import time

from zenml.zen_server.zen_server_api import app as zenml_app

LOG = os.environ["METAGATE_E2E_ARRIVALS"]
TRAILS = os.environ.get("METAGATE_E2E_TRAILS")


def _committed(audit_id):
    # metagate's store is SQLite (WAL): a reader sees exactly the committed transactions.
    if not audit_id or not TRAILS:
        return None
    for path in glob.glob(os.path.join(TRAILS, "**", "audit", "trail.db"), recursive=True):
        connection = sqlite3.connect(path, timeout=10)
        try:
            if connection.execute("SELECT 1 FROM audit_records WHERE id = ?", (audit_id,)).fetchone():
                return True
        except sqlite3.Error:
            pass
        finally:
            connection.close()
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
