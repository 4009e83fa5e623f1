"""A real ZenML server run locally as metagate's upstream when none is configured.

The server runs from a separate virtualenv holding ``zenml[server]`` (ZenML must
never be imported into metagate's own environment), as
``<zenml python> -m uvicorn zenml.zen_server.zen_server_api:app``. Its
environment mirrors what ``zenml login --local`` gives its daemon
(``zenml/zen_server/deploy/daemon/daemon_zen_server.py``): ``ZENML_SERVER=true``,
local deployment type, auto-activation with a default admin user and local file
access, plus a SQLite store and a ZenML config directory of its own under
``state_dir``, analytics off, and a JWT secret kept in ``state_dir`` so tokens
stay valid across restarts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

ZENML_VERSION = "0.98.0"
ZENML_REQUIREMENT = f"zenml[server]=={ZENML_VERSION}"
ZENML_PYTHON_ENV_VAR = "METAGATE_ZENML_PYTHON"
DEFAULT_VENV_DIR = Path.home() / ".cache" / "metagate" / "zenml-venv"
# Written only after a verified install, so a half-built venv is never reused.
_READY_MARKER = ".metagate-zenml-version"

AuthMode = Literal["no_auth", "oauth2"]
_AUTH_SCHEMES: dict[str, str] = {
    "no_auth": "NO_AUTH",
    "oauth2": "OAUTH2_PASSWORD_BEARER",
}
# The name ZenML gives the admin it creates on auto-activation.
DEFAULT_ADMIN_USERNAME = "default"


class ZenMLVenvMissing(RuntimeError):
    """No usable ZenML virtualenv and installing one was not allowed."""


class EmbeddedServerError(RuntimeError):
    """The embedded ZenML server failed to start or to answer."""


# --------------------------------------------------------------------------
# The ZenML virtualenv
# --------------------------------------------------------------------------


def zenml_python(venv_dir: Path | None = None, install: bool = True) -> Path:
    """Return the python of a virtualenv that has ``zenml[server]`` installed.

    ``$METAGATE_ZENML_PYTHON`` wins when set. Otherwise the venv at
    ``venv_dir`` (default ``~/.cache/metagate/zenml-venv``) is used, created
    with ``python -m venv`` and pip when missing and ``install`` is true.
    """
    override = os.environ.get(ZENML_PYTHON_ENV_VAR)
    if override:
        python = Path(override)
        if not python.exists():
            raise ZenMLVenvMissing(f"{ZENML_PYTHON_ENV_VAR}={override} does not exist")
        return python

    venv_dir = Path(venv_dir or DEFAULT_VENV_DIR).expanduser().absolute()
    python = venv_dir / "bin" / "python"
    if _venv_ready(venv_dir):
        return python
    if not install:
        raise ZenMLVenvMissing(
            f"no ZenML {ZENML_VERSION} venv at {venv_dir}; set {ZENML_PYTHON_ENV_VAR} "
            "or allow installing it"
        )
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    # Concurrent test sessions or CLI starts must not build the same venv twice.
    with _exclusive_lock(venv_dir.with_name(venv_dir.name + ".lock")):
        if not _venv_ready(venv_dir):
            _install_venv(venv_dir)
    return python


def _venv_ready(venv_dir: Path) -> bool:
    python = venv_dir / "bin" / "python"
    if not python.exists():
        return False
    marker = venv_dir / _READY_MARKER
    if marker.exists() and marker.read_text().strip() == ZENML_VERSION:
        return True
    # A venv made by hand (or by an interrupted run after pip finished) counts
    # when it really has the right zenml.
    if _installed_zenml_version(python) == ZENML_VERSION:
        marker.write_text(ZENML_VERSION + "\n")
        return True
    return False


def _installed_zenml_version(python: Path) -> str | None:
    probe = "import importlib.metadata as m; print(m.version('zenml'))"
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _install_venv(venv_dir: Path) -> None:
    python = venv_dir / "bin" / "python"
    started = time.monotonic()
    if not python.exists():
        _progress(f"creating ZenML venv at {venv_dir}")
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    _progress(f"installing {ZENML_REQUIREMENT} (takes a few minutes on a fresh machine)")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--progress-bar", "off", ZENML_REQUIREMENT],
        check=True,
        stdout=sys.stderr,  # keep the caller's stdout clean (CLI banners, pytest)
    )
    installed = _installed_zenml_version(python)
    if installed != ZENML_VERSION:
        raise ZenMLVenvMissing(f"pip left zenml {installed!r} in {venv_dir}")
    (venv_dir / _READY_MARKER).write_text(ZENML_VERSION + "\n")
    _progress(f"ZenML venv ready in {time.monotonic() - started:.0f}s")


def _progress(message: str) -> None:
    print(f"metagate: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As uvicorn does: only a listener counts, not connections in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class EmbeddedZenMLServer:
    """A ZenML server subprocess with its state (SQLite, config, logs) in ``state_dir``.

    With ``auth="oauth2"`` the first start of a fresh ``state_dir`` creates the
    admin ``admin_username``/``admin_password`` (a random password when none is
    given; it is only held in memory). Later starts on the same ``state_dir``
    keep the admin created the first time.
    """

    def __init__(
        self,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        auth: AuthMode = "no_auth",
        tls: tuple[Path, Path] | None = None,
        python: Path | None = None,
        admin_username: str = DEFAULT_ADMIN_USERNAME,
        admin_password: str | None = None,
        app: str = "zenml.zen_server.zen_server_api:app",
        app_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        if auth not in _AUTH_SCHEMES:
            raise ValueError(f"auth must be one of {sorted(_AUTH_SCHEMES)}, not {auth!r}")
        self.state_dir = Path(state_dir).absolute()
        self.host = host
        self.port = port or free_port(host)
        self.auth: AuthMode = auth
        self.tls = (Path(tls[0]), Path(tls[1])) if tls else None
        self._python = python
        # Tests wrap the real app (e.g. to record arrival times); the server stays ZenML's.
        self.app = app
        self.app_dir = Path(app_dir) if app_dir else None
        self.extra_env = dict(extra_env or {})
        self.admin_username = admin_username
        # NO_AUTH servers get ZenML's own default: an empty password.
        if admin_password is None:
            admin_password = secrets.token_urlsafe(18) if auth == "oauth2" else ""
        self.admin_password = admin_password
        scheme = "https" if self.tls else "http"
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{url_host}:{self.port}"
        self.log_path = self.state_dir / "zenml-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 120) -> None:
        """Start the server and return once ``/health`` answers."""
        if self.running:
            return
        # Otherwise a server already on the port could answer our health checks
        # while ours is still starting (uvicorn binds only after app startup).
        if _port_in_use(self.host, self.port):
            raise EmbeddedServerError(f"{self.host}:{self.port} is already in use")
        python = self._python or zenml_python()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(python), "-m", "uvicorn", self.app,
            "--host", self.host, "--port", str(self.port),
        ]  # fmt: skip
        if self.app_dir:
            command += ["--app-dir", str(self.app_dir)]
        if self.tls:
            cert, key = self.tls
            command += ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command,
                env=self._server_env(),
                cwd=self.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, so stop() reaches workers too
            )
        try:
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 20) -> None:
        """Terminate the server's process group and wait for it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- REST helpers (auth setup for tests and the CLI) ---------------------

    def login(self, username: str | None = None, password: str | None = None) -> str:
        """Password login; returns the bearer token."""
        form = {
            "grant_type": "password",
            "username": username or self.admin_username,
            "password": self.admin_password if password is None else password,
        }
        reply = self._request("POST", "/api/v1/login", form=form)
        return str(reply["access_token"])

    def create_service_account_api_key(
        self, name: str = "metagate-e2e", token: str | None = None
    ) -> str:
        """Create service account ``name`` with one API key; returns the key (``ZENKEY_…``)."""
        token = token or self.login()
        account = self._request(
            "POST",
            "/api/v1/service_accounts",
            body={"name": name, "description": "created by metagate", "active": True},
            token=token,
        )
        api_key = self._request(
            "POST",
            f"/api/v1/service_accounts/{account['id']}/api_keys",
            body={"name": f"{name}-key", "description": "created by metagate"},
            token=token,
        )
        return str(api_key["body"]["key"])

    # -- internals -----------------------------------------------------------

    def _server_env(self) -> dict[str, str]:
        # Drop the caller's ZenML settings: a ZENML_STORE_URL meant for a client
        # would turn the server into a REST client of itself.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_")}
        env.update(
            {
                "ZENML_SERVER": "true",
                "ZENML_SERVER_DEPLOYMENT_TYPE": "local",
                "ZENML_SERVER_AUTH_SCHEME": _AUTH_SCHEMES[self.auth],
                "ZENML_SERVER_AUTO_ACTIVATE": "true",
                "ZENML_SERVER_ALLOW_LOCAL_FILE_ACCESS": "true",
                "ZENML_SERVER_JWT_SECRET_KEY": self._jwt_secret_key(),
                "ZENML_SERVER_DISPLAY_ANNOUNCEMENTS": "false",
                "ZENML_SERVER_DISPLAY_UPDATES": "false",
                "ZENML_DEFAULT_USER_NAME": self.admin_username,
                "ZENML_DEFAULT_USER_PASSWORD": self.admin_password,
                "ZENML_CONFIG_PATH": str(self.state_dir / "config"),
                "ZENML_LOCAL_STORES_PATH": str(self.state_dir / "local_stores"),
                "ZENML_STORE_URL": f"sqlite:///{self.state_dir / 'zenml.db'}",
                "ZENML_ANALYTICS_OPT_IN": "false",
                "ZENML_LOGGING_COLORS_DISABLED": "true",
                "ZENML_ENABLE_RICH_TRACEBACK": "false",
            }
        )
        env.update(self.extra_env)
        return env

    def _jwt_secret_key(self) -> str:
        path = self.state_dir / "jwt_secret_key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"ZenML server exited with {self._process.returncode}; "
                    f"log {self.log_path}:\n{_tail(self.log_text())}"
                )
            with contextlib.suppress(OSError, EmbeddedServerError):
                self._request("GET", "/health", timeout=2)  # any 2xx will do
                return
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"ZenML server at {self.url} not healthy after {timeout:.0f}s; "
                    f"log {self.log_path}:\n{_tail(self.log_text())}"
                )
            time.sleep(0.3)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: object | None = None,
        form: dict[str, str] | None = None,
        token: str | None = None,
        timeout: float = 30,
    ) -> object:
        headers: dict[str, str] = {}
        data: bytes | None = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._ssl_context()) as reply:
                payload = reply.read()
                if "json" in reply.headers.get("Content-Type", ""):
                    return json.loads(payload)
                return payload.decode(errors="replace")
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode(errors="replace")
            raise EmbeddedServerError(f"{method} {path} -> {error.code}: {detail}") from None

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        # Our own child process on a local address; its certificate may come from
        # a CA this process does not know (tests make their own).
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context


def zenml_client_env(
    config_dir: Path,
    store_url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    verify_ssl: str | None = None,
) -> dict[str, str]:
    """Environment for a ZenML SDK process that talks to ``store_url`` and nothing else.

    No ``zenml login`` is needed: ``ZENML_STORE_URL`` makes the client a REST
    client, NO_AUTH servers need no credentials, and ``ZENML_STORE_USERNAME``/
    ``_PASSWORD`` or ``_API_KEY`` make it log in on its first 401. A fresh
    ``config_dir`` gives a fresh client whose local artifact store lives under
    it. Only a few host variables are passed on, so a developer's own ZenML
    config or proxy settings cannot leak in.
    """
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env.update(
        {
            "HOME": str(config_dir / "home"),
            "ZENML_CONFIG_PATH": str(config_dir),
            "ZENML_STORE_URL": store_url,
            "ZENML_ANALYTICS_OPT_IN": "false",
            "ZENML_LOGGING_COLORS_DISABLED": "true",
            "ZENML_ENABLE_RICH_TRACEBACK": "false",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",  # keep __pycache__ out of tests/e2e/sdk
        }
    )
    if username is not None:
        env["ZENML_STORE_USERNAME"] = username
        env["ZENML_STORE_PASSWORD"] = password or ""
    if api_key is not None:
        env["ZENML_STORE_API_KEY"] = api_key
    if verify_ssl is not None:
        env["ZENML_STORE_VERIFY_SSL"] = verify_ssl
    return env


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])
