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


def sensitive_values(tag: str) -> dict[str, str]:
    """Values that must never show in the trail, exports, reports or logs; `tag` makes them
    unique to one test so a match cannot come from elsewhere."""
    return {
        "jwt_signature": f"sig{tag}SignatureSecret",
        "cookie": f"cookie-{tag}-value",
        "api_key_header": f"ZENKEY-{tag}-header",
        "password": f"pw-{tag}-Password!",
        "query_token": f"qs-{tag}-token",
        "email": f"jane.{tag}@example.com",
        "phone": "+1 415 555 0123",
        "secret_value": f"s3cr3t-{tag}",
        "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "github_token": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    }
