"""Capture what the real ZenML SDK sends, as a corpus of requests for tests and benchmarks.

For each SDK pipeline script in tests/e2e/sdk/, a plain ``mitmdump`` (no metagate)
runs in reverse mode in front of an embedded ZenML server and writes the flows;
they are then converted to ``tests/corpus/captured/<name>.jsonl``: one JSON
object per request, in the order the requests were sent, with credentials
replaced by ``<redacted>``.

Usage (project venv): .venv/bin/python benchmarks/capture_corpus.py [--only NAME ...]

``--test-set`` captures the never-tuned test set's scenarios instead (other pipeline kinds,
another artifact-store root, an authenticated server) into ``tests/corpus/captured_test/``;
benchmarks/build_test_corpus.py turns them into tests/corpus/test/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metagate.proxy.embedded import (
    ZENML_VERSION,
    EmbeddedZenMLServer,
    free_port,
    zenml_client_env,
    zenml_python,
)

ROOT = Path(__file__).resolve().parents[1]
SDK_DIR = ROOT / "tests" / "e2e" / "sdk"
DEFAULT_OUT = ROOT / "tests" / "corpus" / "captured"
TEST_SET_OUT = ROOT / "tests" / "corpus" / "captured_test"
MITMDUMP = Path(sys.executable).parent / "mitmdump"
REDACTED = "<redacted>"
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}
# Keys whose values are credentials wherever they appear in a form or JSON body.
SECRET_FIELDS = {
    "password", "old_password", "access_token", "refresh_token", "api_key",
    "activation_token", "client_secret", "device_code", "user_code",
}  # fmt: skip


@dataclass(frozen=True)
class Capture:
    name: str
    script: str
    args: tuple[str, ...] = ()
    auth: str = "no_auth"  # "oauth2": the SDK logs in with a service-account API key
    expect_success: bool = True
    # Artifact-store root below the capture's work directory; set, the script registers a
    # local artifact store there and a stack using it (tests/e2e/sdk/stack_setup.py).
    artifact_root: str | None = None
    # The ZenML release the SDK script runs with, when it is not the server's (ZENML_VERSION):
    # a client releases behind its server, as a team sees whose hosted server upgraded first.
    # Only the client is installed (`zenml==<release>`, no server extras), in its own venv.
    sdk_version: str | None = None


CAPTURES = (
    Capture("clean_pipeline", "clean_pipeline.py", ("--lr", "0.05", "--epochs", "3")),
    Capture("failing_pipeline", "failing_pipeline.py"),
    Capture("dataclass_pipeline", "dataclass_pipeline.py"),
    Capture("tagged_model_pipeline", "tagged_model_pipeline.py"),
    Capture("pii_pipeline", "pii_pipeline.py", ("jane.doe@example.com",)),
    Capture("clean_pipeline_api_key", "clean_pipeline.py", ("--lr", "0.01", "--epochs", "1"), auth="oauth2"),
)

# The test set's scenarios: never used to tune a detector (tests/corpus/README.md).
TEST_CAPTURES = (
    Capture("tabular_pipeline", "tabular_pipeline.py", ("--rows", "40")),
    Capture("tabular_pipeline_srv_root", "tabular_pipeline.py", ("--rows", "24"), artifact_root="srv/mlops/zenml-store"),
    Capture("training_model_pipeline", "training_model_pipeline.py", ("--c", "0.5", "--iterations", "60")),
    Capture("training_model_pipeline_mnt_root_api_key", "training_model_pipeline.py", ("--c", "2.0", "--iterations", "30"),
            auth="oauth2", artifact_root="mnt/data/zenml"),
    Capture("tabular_pipeline_api_key", "tabular_pipeline.py", ("--rows", "16"), auth="oauth2"),
    # Named to sort last: benchmarks/build_test_corpus.py plants leaks into the first capture
    # that fits a place, so a new scenario adds clean traffic without moving the planted cases.
    Capture("zenml_0_92_client_batch_scoring_pipeline", "batch_scoring_pipeline.py", ("--batches", "3"),
            sdk_version="0.92.0", artifact_root="opt/ml/zenml-artifacts"),
)


# -- flows -> records ---------------------------------------------------------


def redact_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        value = REDACTED if name.lower() in SECRET_HEADERS else value
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k in SECRET_FIELDS and v else _redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value


def redact_body(text: str | None, content_type: str) -> str | None:
    if not text:
        return text
    if "application/x-www-form-urlencoded" in content_type:
        fields = urllib.parse.parse_qsl(text, keep_blank_values=True)
        # "<redacted>" stays literal (not %3C…%3E) so the corpus reads plainly.
        return "&".join(
            f"{urllib.parse.quote_plus(k)}="
            + (REDACTED if k in SECRET_FIELDS and v else urllib.parse.quote_plus(v))
            for k, v in fields
        )
    if "json" in content_type:
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        redacted = _redact_json(parsed)
        # Keep the SDK's own serialisation when nothing needed redacting.
        return text if redacted == parsed else json.dumps(redacted)
    return text


def flow_to_record(flow: Any) -> dict[str, Any]:
    request = flow.request
    content_type = request.headers.get("content-type", "")
    body = request.get_text(strict=False) if request.raw_content else None
    return {
        "method": request.method,
        "path": request.path.partition("?")[0],
        "query": [[k, v] for k, v in request.query.items(multi=True)],
        "headers": redact_headers(list(request.headers.items(multi=True))),
        "body_text": redact_body(body, content_type),
        "response_status": flow.response.status_code if flow.response else None,
    }


def read_flows(path: Path) -> list[dict[str, Any]]:
    from mitmproxy import http, io

    with open(path, "rb") as handle:
        flows = [f for f in io.FlowReader(handle).stream() if isinstance(f, http.HTTPFlow)]
    flows.sort(key=lambda f: f.request.timestamp_start)
    return [flow_to_record(flow) for flow in flows]


# -- running --------------------------------------------------------------------


def _wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mitmdump did not listen on {port}") from None
            time.sleep(0.1)


def sdk_python(version: str) -> Path:
    """The python of a venv with the ZenML client `version` installed (made on first use)."""
    venv = Path.home() / ".cache" / "metagate" / f"zenml-sdk-{version}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('zenml'))"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == version:
        return python
    print(f"  installing the ZenML {version} client into {venv} (a few minutes)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--progress-bar", "off", f"zenml=={version}"],
                   check=True, stdout=sys.stderr)
    return python


def capture_one(
    capture: Capture, server: EmbeddedZenMLServer, python: Path, work: Path, api_key: str | None
) -> list[dict[str, Any]]:
    flows_path = work / f"{capture.name}.mitm"
    port = free_port()
    mitm = subprocess.Popen(
        [
            str(MITMDUMP), "--mode", f"reverse:{server.url}",
            "--listen-host", "127.0.0.1", "--listen-port", str(port),
            "--set", f"confdir={work / 'mitmproxy-conf'}", "-q", "-w", str(flows_path),
        ],
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        env = zenml_client_env(work / f"client-{capture.name}", f"http://127.0.0.1:{port}", api_key=api_key)
        if capture.artifact_root:
            env["METAGATE_ARTIFACT_ROOT"] = str(work / capture.artifact_root)
        started = time.monotonic()
        client = sdk_python(capture.sdk_version) if capture.sdk_version else python
        result = subprocess.run(
            [str(client), str(SDK_DIR / capture.script), *capture.args],
            env=env, cwd=SDK_DIR, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        succeeded = result.returncode == 0
        if succeeded != capture.expect_success:
            raise RuntimeError(
                f"{capture.script} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        print(f"  {capture.name}: SDK run {time.monotonic() - started:.1f}s", file=sys.stderr)
    finally:
        os.killpg(mitm.pid, signal.SIGINT)  # mitmdump finishes writing flows on SIGINT
        try:
            mitm.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(mitm.pid, signal.SIGKILL)
            mitm.wait()
    return read_flows(flows_path)


def write_jsonl(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        handle.writelines(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n" for record in records)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help=f"default: {DEFAULT_OUT.relative_to(ROOT)}, "
                        f"{TEST_SET_OUT.relative_to(ROOT)} with --test-set")
    parser.add_argument("--only", nargs="*", help="capture names to (re)make; default: all")
    parser.add_argument("--test-set", action="store_true", help="capture the test set's scenarios")
    parser.add_argument("--keep-flows", type=Path, help="also keep the raw .mitm files here")
    args = parser.parse_args()
    args.out = args.out or (TEST_SET_OUT if args.test_set else DEFAULT_OUT)

    scenarios = TEST_CAPTURES if args.test_set else CAPTURES
    selected = [c for c in scenarios if not args.only or c.name in args.only]
    python = zenml_python()
    with tempfile.TemporaryDirectory(prefix="metagate-capture-") as tmp:
        work = Path(tmp)
        servers: dict[str, EmbeddedZenMLServer] = {}
        api_key: str | None = None
        try:
            for capture in selected:
                server = servers.get(capture.auth)
                if server is None:
                    server = EmbeddedZenMLServer(work / f"server-{capture.auth}", auth=capture.auth, python=python)  # type: ignore[arg-type]
                    server.start()
                    servers[capture.auth] = server
                    if capture.auth == "oauth2":
                        api_key = server.create_service_account_api_key("corpus-capture")
                records = capture_one(
                    capture, server, python, work, api_key if capture.auth == "oauth2" else None
                )
                write_jsonl(records, args.out / f"{capture.name}.jsonl")
                print(f"{capture.name}: {len(records)} requests -> {args.out / (capture.name + '.jsonl')}")
                if args.keep_flows:
                    args.keep_flows.mkdir(parents=True, exist_ok=True)
                    shutil.copy(work / f"{capture.name}.mitm", args.keep_flows)
        finally:
            for server in servers.values():
                server.stop()
    print(f"captured with zenml {ZENML_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
