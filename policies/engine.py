"""The two policy engines: embedded regopy and an external OPA over its REST Data API.

Both evaluate `data.metagate.main.decision` (docs/POLICY_INPUT.md) and return the decision
with its lists sorted and de-duplicated, so the two give identical results for one policy set.
Any failure raises PolicyError; the caller fails closed.

regopy is native code with known crashes (see regopy_backend): the proxy runs engines in
worker processes, never in its own.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from metagate.policies import regopy_backend as backend
from metagate.policies.errors import PolicyError
from metagate.policies.files import (
    DECISION_PATH,
    DEFAULT_POLICY_DIR,
    config_with_overrides,
    load_policy_data,
    load_policy_files,
    policy_hash,
)

__all__ = [
    "DECISION_PATH", "DEFAULT_POLICY_DIR", "OpaRestEngine", "PolicyEngine", "PolicyError",
    "RegopyEngine", "load_policy_files", "normalize_decision", "policy_hash",
]

LIST_KEYS = ("rules", "reasons", "redact", "warnings")


def normalize_decision(result: Any) -> dict[str, Any]:
    """The decision with its lists sorted and de-duplicated (Rego builds them as arrays)."""
    if not isinstance(result, dict):
        raise PolicyError(f"the decision is a {type(result).__name__}, not an object")
    decision = dict(result)
    for key in LIST_KEYS:
        value = decision.get(key)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            decision[key] = sorted(set(value))
    return decision


class PolicyEngine(ABC):
    policy_hash: str        # sha256 over the policy set in force; recorded in the audit trail

    @abstractmethod
    def evaluate(self, input: dict[str, Any]) -> dict[str, Any]:
        """The decision for one policy input; PolicyError on any engine failure."""

    @abstractmethod
    def close(self) -> None:
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RegopyEngine(PolicyEngine):
    """The policy compiled once into a regopy bundle; each evaluation sets input and queries.

    `data_overrides` merge into data.metagate.config (metagate.yaml `policy.data`);
    `extra_dirs` hold team packages and data loaded beside the default policy.
    """

    def __init__(
        self,
        policy_dir: Path | None = None,
        data_overrides: Mapping[str, Any] | None = None,
        extra_dirs: Sequence[Path] = (),
        decision_path: str = DECISION_PATH,
    ) -> None:
        dirs = [Path(policy_dir) if policy_dir else DEFAULT_POLICY_DIR, *(Path(d) for d in extra_dirs)]
        self.files = load_policy_files(dirs)
        self.data = config_with_overrides(load_policy_data(dirs), data_overrides)
        self.policy_hash = policy_hash(self.files, self.data)
        self.decision_path = decision_path.strip("/")
        problems = backend.lint_modules(self.files)
        if problems:
            raise PolicyError("; ".join(str(p) for p in problems))
        self._lock = threading.Lock()
        self._interpreter = backend.new_interpreter()
        backend.add_data(self._interpreter, self.data)
        for relpath, text in self.files:
            backend.add_module(self._interpreter, relpath, text)
        self._bundle = backend.build(self._interpreter, [self.decision_path])
        # regopy reports some compile errors (unknown functions, recursion) only when queried.
        self.evaluate({})

    def evaluate(self, input: dict[str, Any]) -> dict[str, Any]:
        escaped = backend.escape_strings(input)
        with self._lock:
            if self._interpreter is None:
                raise PolicyError("engine is closed")
            try:
                self._interpreter.set_input(escaped)
            except Exception as exc:       # regopy raises RegoError or TypeError here
                raise PolicyError(f"regopy refused the input: {type(exc).__name__}") from exc
            result = backend.query_json(self._interpreter, self._bundle, self.decision_path)
        if result is backend.UNDEFINED:
            raise PolicyError(f"data.{self.decision_path.replace('/', '.')} is undefined")
        return normalize_decision(result)

    def close(self) -> None:
        with self._lock:
            self._bundle = None
            self._interpreter = None


class OpaRestEngine(PolicyEngine):
    """An OPA server reached over its Data API with opa-python-client.

    The policy hash is the given one, or else a sha256 over the modules and
    data.metagate.config the server reports (GET /v1/policies, /v1/data/metagate/config),
    fetched on first use and kept.
    """

    def __init__(
        self,
        url: str,
        decision_path: str = DECISION_PATH,
        timeout: float = 2.0,
        policy_hash: str | None = None,
    ) -> None:
        from opa_client import (
            OpaClient,  # imported here: the embedded engine does not need it
        )

        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an OPA URL: {url!r}")
        if parts.path not in ("", "/"):
            raise ValueError(f"OPA URL must not have a path (the Data API is at /v1): {url!r}")
        self.url = url
        self.decision_path = decision_path.strip("/")
        # No retries: a slow or failing OPA must fail this request within the timeout, and
        # re-posting a decision query after a 500 only repeats the error.
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8181),
            ssl=parts.scheme == "https",
            timeout=timeout,
            retries=0,
        )
        self._policy_hash = policy_hash

    @property
    def policy_hash(self) -> str:  # type: ignore[override]
        if self._policy_hash is None:
            try:
                self._policy_hash = self._server_policy_hash()
            except PolicyError:
                return "opa-unreachable"
        return self._policy_hash

    def _server_policy_hash(self) -> str:
        import requests
        from opa_client.errors import PolicyNotFoundError

        try:
            response = requests.get(f"{self._client.root_url}/policies", timeout=self._client.timeout)
            response.raise_for_status()
            modules = [
                (str(p.get("id", "")), str(p.get("raw", "")))
                for p in response.json().get("result", [])
                if not str(p.get("id", "")).endswith("_test.rego")
            ]
            config = self._client.get_data("metagate/config").get("result")
        except (requests.RequestException, ValueError, PolicyNotFoundError) as exc:
            raise PolicyError(f"OPA at {self.url} did not report its policies: {type(exc).__name__}") from exc
        return policy_hash(modules, {"metagate": {"config": config}})

    def evaluate(self, input: dict[str, Any]) -> dict[str, Any]:
        import requests

        try:
            response = self._client.query_rule(input_data=input, package_path=self.decision_path)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise PolicyError(f"OPA at {self.url} answered {status}: {_opa_message(exc.response)}") from exc
        except (requests.RequestException, ValueError) as exc:
            raise PolicyError(f"OPA at {self.url} unreachable: {type(exc).__name__}") from exc
        if not isinstance(response, dict) or "result" not in response:
            raise PolicyError(f"data.{self.decision_path.replace('/', '.')} is undefined on OPA at {self.url}")
        return normalize_decision(response["result"])

    def close(self) -> None:
        self._client.close_connection()


def _opa_message(response: Any) -> str:
    """OPA's error code only: its message can quote operands, i.e. input values."""
    try:
        return str(response.json().get("code", ""))[:100]
    except (ValueError, AttributeError):
        return ""
