"""Inspectors for worker-pool tests: they misbehave on purpose, in the worker process."""

from __future__ import annotations

import os
import time

from metagate.proxy.inspection import InspectorSettings
from metagate.scanner.model import Decision, InspectionRequest


class MisbehavingInspector:
    """Allows everything, except: path /crash aborts the process (like a native segfault),
    /hang sleeps past any budget, /raise raises with a payload value in the message."""

    policy_hash = "test-policy"

    def __init__(self, settings: InspectorSettings) -> None:
        self.settings = settings

    def inspect(self, request: InspectionRequest):
        if request.path == "/crash":
            os.abort()
        if request.path == "/hang":
            time.sleep(60)
        if request.path == "/raise":
            raise ValueError(request.body.decode())
        return {"decision": Decision("allow"), "pid": os.getpid()}


class BrokenInspector:
    def __init__(self, settings: InspectorSettings) -> None:
        raise RuntimeError("policy did not compile")
