import pytest

from metagate.proxy.config import ConfigError, load_config


def test_file_environment_and_flags_layer_in_that_order(tmp_path):
    path = tmp_path / "metagate.yaml"
    path.write_text("mode: forward\nlisten: 127.0.0.1:9000\npolicy:\n  engine: regopy\n")
    env = {"METAGATE_LISTEN": "127.0.0.1:9100", "METAGATE_POLICY__ENGINE": "opa", "METAGATE_POLICY__OPA_URL": "http://127.0.0.1:8181"}
    config = load_config(path, {"listen": "127.0.0.1:9200", "mode": None}, environ=env)
    assert config.mode == "forward"
    assert config.listen_port == 9200
    assert config.policy.engine == "opa"


def test_bad_keys_are_named(tmp_path):
    path = tmp_path / "metagate.yaml"
    path.write_text("mode: sideways\nlimits:\n  max_body_byts: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "mode" in str(info.value)
    assert "limits.max_body_byts" in str(info.value)


def test_upstream_must_be_an_http_url():
    with pytest.raises(ConfigError, match="upstream"):
        load_config(None, {"upstream": "ftp://x"}, environ={})
    assert load_config(None, {"upstream": "https://ws.zenml.io/"}, environ={}).upstream == "https://ws.zenml.io"


def test_defaults_fail_closed_and_verify_tls():
    config = load_config(None, environ={})
    assert config.on_error == "block"
    assert config.upstream_verify is True
    assert config.enforcement == "enforce"
