"""metagate.yaml: one validated configuration, overridable by CLI flags and environment.

Environment variables: METAGATE_<KEY> for top-level keys (METAGATE_UPSTREAM, METAGATE_MODE …)
and METAGATE_<SECTION>__<KEY> for nested ones (METAGATE_POLICY__ENGINE=opa).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


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


class ScannerConfig(_Section):
    spacy_model: str | None = None          # e.g. en_core_web_sm for person/location NER
    detectors: dict[str, Any] = {}          # thresholds passed to the detector registry


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


class Config(_Section):
    mode: Literal["reverse", "forward"] = "reverse"
    listen: str = "127.0.0.1:8080"
    upstream: str | None = None             # none: start the embedded local ZenML server
    upstream_ca: Path | None = None         # extra CA bundle trusted for the upstream
    upstream_verify: bool = True
    data_dir: Path = Path("metagate-data")
    enforcement: Literal["enforce", "monitor"] = "enforce"
    on_error: Literal["block", "allow"] = "block"   # fail closed unless told otherwise
    inspection_timeout: float = Field(5.0, gt=0)
    workers: int = Field(2, ge=1, le=64)
    storage_prefixes: list[str] = []
    limits: LimitsConfig = LimitsConfig()
    policy: PolicyConfig = PolicyConfig()
    scanner: ScannerConfig = ScannerConfig()
    egress: EgressConfig = EgressConfig()
    audit: AuditConfig = AuditConfig()

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT")
        return value

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


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("METAGATE_") or name in ("METAGATE_ZENML_PYTHON", "METAGATE_ADMIN_TOKEN"):
            continue
        keys = name[len("METAGATE_") :].lower().split("__")
        target = out
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = yaml.safe_load(value) if value else value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(
    path: Path | None = None, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> Config:
    """File < environment < explicit overrides (CLI flags)."""
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
    raw = _merge(raw, _env_overrides(dict(os.environ if environ is None else environ)))
    raw = _merge(raw, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            key = ".".join(str(p) for p in error["loc"]) or "(top level)"
            problems.append(f"{key}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
