"""Every setting can be set by environment variable; `metagate config check` shows what is in
force and where it came from; errors name the bad key and its source."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from metagate.proxy.config import (
    Config,
    ConfigError,
    env_variable,
    load_config,
    load_config_with_sources,
)
from metagate.proxy.config_cli import effective_settings
from pydantic import BaseModel

from tests.support.processes import metagate_command

# One environment value per setting, and what it must become. A new setting without an entry
# here fails test_every_setting_has_an_environment_sample.
SAMPLES: dict[str, tuple[str, object]] = {
    "mode": ("forward", "forward"),
    "listen": ("0.0.0.0:8081", "0.0.0.0:8081"),
    "upstream": ("https://ws.example.com/", "https://ws.example.com"),
    "upstream_ca": ("/etc/ssl/ca.pem", Path("/etc/ssl/ca.pem")),
    "upstream_verify": ("false", False),
    "data_dir": ("/var/lib/metagate", Path("/var/lib/metagate")),
    "enforcement": ("monitor", "monitor"),
    "on_error": ("allow", "allow"),
    "inspection_timeout": ("2.5", 2.5),
    "upstream_connect_timeout": ("3", 3.0),
    "upstream_timeout": ("30.5", 30.5),
    "workers": ("3", 3),
    "worker_max_requests": ("500", 500),
    "storage_prefixes": ("s3://a/, s3://b/", ["s3://a/", "s3://b/"]),
    "limits.max_body_bytes": ("1024", 1024),
    "limits.max_decoded_bytes": ("2048", 2048),
    "policy.engine": ("opa", "opa"),
    "policy.opa_url": ("http://opa:8181", "http://opa:8181"),
    "policy.extra_dirs": ("[/p/a, /p/b]", [Path("/p/a"), Path("/p/b")]),
    "policy.data": ("{pii_min_score: 0.7}", {"pii_min_score": 0.7}),
    "policy.bundle": (None, None),      # excludes engine=opa: tested on its own below
    "policy.bundle_poll_seconds": ("15", 15.0),
    "scanner.spacy_model": ("en_core_web_sm", "en_core_web_sm"),
    "scanner.detectors": ("{secrets: {min_entropy: 4}}", {"secrets": {"min_entropy": 4}}),
    "scanner.split_window_seconds": ("120", 120.0),
    "egress.allow_uninspected": ("*.s3.amazonaws.com", ["*.s3.amazonaws.com"]),
    "egress.zenml_hosts": ('["api.zenml.io"]', ["api.zenml.io"]),
    "audit.store": ("postgresql://u:p@db/trail", "postgresql://u:p@db/trail"),
    "audit.replica_id": ("01", "01"),     # a string, not the number 1
    "audit.checkpoint_records": ("50", 50),
    "audit.checkpoint_seconds": ("5", 5.0),
    "admin.listen": ("127.0.0.1:9090", "127.0.0.1:9090"),
    "log.level": ("DEBUG", "DEBUG"),
    "log.format": ("text", "text"),
    "log.proxy_level": ("INFO", "INFO"),
    "embedded_upstream": ("false", False),
}


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys += leaf_keys(field.annotation, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def value_at(config: Config, key: str):
    value = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def test_every_setting_has_an_environment_sample():
    assert set(leaf_keys(Config)) == set(SAMPLES)


def test_every_setting_is_settable_by_environment_variable():
    environ = {env_variable(key): text for key, (text, _) in SAMPLES.items() if text is not None}
    config, sources = load_config_with_sources(None, environ=environ)
    for key, (text, expected) in SAMPLES.items():
        if text is None:
            continue
        assert value_at(config, key) == expected, key
        assert sources[key] == f"env {env_variable(key)}"
    bundle = load_config(None, environ={"METAGATE_POLICY__BUNDLE": "https://bundles.internal/metagate.tar.gz"})
    assert bundle.policy.bundle == "https://bundles.internal/metagate.tar.gz"


def test_keys_inside_free_form_mappings_take_yaml_values():
    config = load_config(None, environ={"METAGATE_POLICY__DATA__PII_MIN_SCORE": "0.7",
                                        "METAGATE_SCANNER__DETECTORS__SECRETS": "{min_entropy: 4}"})
    assert config.policy.data == {"pii_min_score": 0.7}
    assert config.scanner.detectors == {"secrets": {"min_entropy": 4}}


def test_a_whole_section_can_come_from_one_variable_and_empty_unsets():
    config = load_config(None, environ={"METAGATE_LIMITS": "{max_body_bytes: 10, max_decoded_bytes: 20}",
                                        "METAGATE_UPSTREAM": ""})
    assert config.limits.max_body_bytes == 10 and config.upstream is None


def test_errors_name_the_key_and_where_it_came_from(tmp_path):
    path = tmp_path / "metagate.yaml"
    path.write_text("workers: 0\nadmin:\n  listen: nowhere\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"METAGATE_LIMITS__MAX_BODY_BYTS": "3", "METAGATE_POLICY__ENGINE": "cedar"})
    message = str(info.value)
    assert f"workers (from file {path})" in message
    assert "admin.listen" in message and "HOST:PORT" in message
    assert "limits.max_body_byts (from env METAGATE_LIMITS__MAX_BODY_BYTS)" in message
    assert "policy.engine (from env METAGATE_POLICY__ENGINE)" in message


def test_a_production_image_without_an_upstream_does_not_start():
    with pytest.raises(ConfigError, match="upstream is required"):
        load_config(None, environ={"METAGATE_EMBEDDED_UPSTREAM": "false"})


def test_sources_layer_file_environment_and_flags(tmp_path):
    path = tmp_path / "metagate.yaml"
    path.write_text("mode: forward\nworkers: 3\nlimits:\n  max_body_bytes: 100\n")
    config, sources = load_config_with_sources(path, {"workers": 4}, environ={"METAGATE_MODE": "reverse"})
    rows = {key: (value, source) for key, value, source in effective_settings(config, sources)}
    assert rows["mode"] == ("reverse", "env METAGATE_MODE")
    assert rows["workers"] == (4, "command line")
    assert rows["limits.max_body_bytes"] == (100, f"file {path}")
    assert rows["limits.max_decoded_bytes"][1] == "default"
    assert set(rows) == set(SAMPLES)


def cli(*args, env=None):
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
    return subprocess.run(metagate_command(*args), capture_output=True, text=True, check=False, timeout=60, env={**base, **(env or {})})


def test_config_check_prints_settings_with_sources_and_hides_credentials(tmp_path):
    path = tmp_path / "metagate.yaml"
    path.write_text("upstream: https://ws.example.com\naudit:\n  store: postgresql://gate:Sup3rS3cret@db:5432/trail\n")
    result = cli("config", "check", "--config", str(path), env={"METAGATE_WORKERS": "4"})
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert f"[file {path}; env METAGATE_UPSTREAM]" in lines["upstream"]
    assert "[env METAGATE_WORKERS; env METAGATE_WORKERS]" in lines["workers"]
    assert "[default; env METAGATE_MODE]" in lines["mode"]
    assert "Sup3rS3cret" not in result.stdout + result.stderr
    as_json = json.loads(cli("config", "check", "--config", str(path), "--json").stdout)
    assert as_json["ok"] is True and as_json["settings"]["audit.store"]["source"] == f"file {path}"


def test_config_check_fails_naming_the_bad_key(tmp_path):
    path = tmp_path / "metagate.yaml"
    path.write_text("limits:\n  max_body_byts: 3\n")
    result = cli("config", "check", "--config", str(path))
    assert result.returncode == 1 and "limits.max_body_byts" in result.stderr
    result = cli("config", "check", env={"METAGATE_ADMIN__LISTEN": "0.0.0.0:9090"})
    assert result.returncode == 1 and "METAGATE_ADMIN_TOKEN" in result.stderr
    result = cli("config", "check", env={"METAGATE_UPSTREAM_CA": str(tmp_path / "missing.pem")})
    assert result.returncode == 1 and "upstream_ca" in result.stderr
