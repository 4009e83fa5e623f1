"""Run an EmbeddedZenMLServer where this process runs (e.g. under `ip netns exec NS`).

    python -m tests.support.netns_zenml --state-dir DIR --host ADDR --port N --zenml-python PY
                                        [--tls-cert PEM --tls-key PEM] [--app MOD:APP --app-dir DIR]
                                        [--env KEY=VALUE ...]

The server's own start-up checks (port free, /health answering) must run in the server's
network namespace, so they run here. Prints `zenml-server: ready <url>` and serves until
SIGTERM, then stops the server.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from metagate.proxy.embedded import EmbeddedZenMLServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--zenml-python", type=Path, required=True)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--app", default="zenml.zen_server.zen_server_api:app")
    parser.add_argument("--app-dir", type=Path)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    tls = (args.tls_cert, args.tls_key) if args.tls_cert and args.tls_key else None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    extra_env = dict(item.split("=", 1) for item in args.env)
    server = EmbeddedZenMLServer(args.state_dir, host=args.host, port=args.port, tls=tls, python=args.zenml_python,
                                 app=args.app, app_dir=args.app_dir, extra_env=extra_env)
    server.start(timeout=180)
    try:
        print(f"zenml-server: ready {server.url}", flush=True)
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
