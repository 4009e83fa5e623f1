"""A stand-in for an OPA server in tests: the Data API over the embedded regopy engine.

    python tests/opa_server.py --port N --policy-dir DIR [--extra-dir DIR ...]

Speaks what OpaRestEngine and opa-python-client use: `POST /v1/data/<path>` with
`{"input": ...}` → `{"result": ...}` (`{}` when undefined), `GET /v1/data/<path>`,
`GET /v1/policies` (`{"result": [{"id", "raw"}]}`), `GET /health`. Errors answer like OPA:
`{"code": ..., "message": ...}` with 400 or 500. Prints "listening on PORT" when ready.
Only for 127.0.0.1: it evaluates whatever it is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from metagate.policies import regopy_backend as backend
from metagate.policies.engine import RegopyEngine
from metagate.policies.errors import PolicyError
from metagate.policies.files import DECISION_PATH


class PolicyServer:
    def __init__(self, policy_dir: Path, extra_dirs: list[Path]) -> None:
        self.engine = RegopyEngine(policy_dir, extra_dirs=extra_dirs)
        # Other documents (data.metagate.config ...) are rare in tests: each is compiled on
        # first request into its own interpreter and kept.
        self._bundles: dict[str, Any] = {}
        self._lock = threading.Lock()

    def evaluate(self, path: str, input: Any) -> Any:
        path = path.strip("/")
        if path == DECISION_PATH and isinstance(input, dict):
            return self.engine.evaluate(input)
        with self._lock:
            bundle = self._bundles.get(path)
            if bundle is None:
                interpreter = backend.new_interpreter()
                backend.add_data(interpreter, self.engine.data)
                for relpath, text in self.engine.files:
                    backend.add_module(interpreter, relpath, text)
                bundle = (interpreter, backend.build(interpreter, [path]))
                self._bundles[path] = bundle
            interpreter, compiled = bundle
            interpreter.set_input(backend.escape_strings(input if input is not None else {}))
            return backend.query_json(interpreter, compiled, path)


def make_app(server: PolicyServer) -> web.Application:
    def opa_error(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=status)

    async def data(request: web.Request) -> web.Response:
        path = request.match_info.get("path", "")
        if not path:
            return opa_error(400, "invalid_parameter", "this stand-in needs a document path")
        input: Any = None
        if request.method == "POST" and request.can_read_body:
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return opa_error(400, "invalid_parameter", "body is not JSON")
            if not isinstance(body, dict):
                return opa_error(400, "invalid_parameter", "body must be an object")
            input = body.get("input")
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, server.evaluate, path, input)
        except PolicyError as exc:
            return opa_error(500, "internal_error", str(exc))
        if result is backend.UNDEFINED:
            return web.json_response({})
        return web.json_response({"result": result})

    async def policies(request: web.Request) -> web.Response:
        return web.json_response({"result": [{"id": relpath, "raw": text} for relpath, text in server.engine.files]})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/health", health)
    app.router.add_get("/v1/policies", policies)
    app.router.add_get("/v1/policies/", policies)
    app.router.add_route("*", "/v1/data/{path:.*}", data)
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"listening on {port}", flush=True)     # only once the socket accepts
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="OPA Data API stand-in over regopy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--policy-dir", type=Path, default=None)
    parser.add_argument("--extra-dir", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    from metagate.policies.files import DEFAULT_POLICY_DIR

    server = PolicyServer(args.policy_dir or DEFAULT_POLICY_DIR, args.extra_dir)
    asyncio.run(serve(make_app(server), args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
