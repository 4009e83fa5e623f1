"""A stand-in upstream for gate tests that need no ZenML: records every request it receives.

Run as a process: `python -m tests.support.recording_upstream --port N --log FILE`.
Each received request is appended to FILE as one JSON line (method, path, headers, body as
base64, arrival time) before the response is sent, so tests can check exactly what crossed.
"""

from __future__ import annotations

import argparse
import base64
import json
import time

from aiohttp import web


def make_app(log_path: str) -> web.Application:
    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        entry = {
            "time": time.time(),
            "method": request.method,
            "path": request.path_qs,
            "headers": dict(request.headers),
            "body_b64": base64.b64encode(body).decode(),
        }
        with open(log_path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")
        if request.path in ("/health", "/ready"):
            return web.json_response("OK")
        return web.json_response({"id": "00000000-0000-0000-0000-000000000000", "received": len(body)})

    # Record the bytes exactly as they crossed: no transparent decompression.
    app = web.Application(client_max_size=256 * 1024 * 1024, handler_args={"auto_decompress": False})
    app.router.add_route("*", "/{tail:.*}", record)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    web.run_app(make_app(args.log), host="127.0.0.1", port=args.port, print=lambda *_: print("upstream: ready", flush=True))


if __name__ == "__main__":
    main()
