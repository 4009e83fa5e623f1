"""Request bodies and tokens the gate tests send, shaped as the ZenML SDK sends them."""

from __future__ import annotations

import base64
import json
import uuid

PROJECT = str(uuid.uuid4())


def run_metadata(values: dict, project: str = PROJECT) -> dict:
    """A POST /api/v1/run-metadata body (RunMetadataRequest) for one pipeline run."""
    return {
        "project": project,
        "resources": [{"id": str(uuid.uuid4()), "type": "pipeline_run"}],
        "values": values,
        "types": {k: "string" if isinstance(v, str) else "float" for k, v in values.items()},
    }


def jwt(subject: str, signature: str) -> str:
    """A bearer token shaped like ZenML's (HS256 JWT with a `sub` claim); the signature is
    whatever the test wants to look for later."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': subject, 'iss': 'zenml'})}.{signature}"
