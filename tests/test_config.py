"""The single TOML config: documented defaults that cannot drift, and the precedence rules."""

from __future__ import annotations

import pytest

from costlab import config
from costlab.allocate.settings import AllocateSettings
from costlab.errors import UsageError


def test_example_file_is_generated_from_the_settings_models(repo_dir):
    committed = (repo_dir / "costlab.example.toml").read_text()
    assert committed == config.example_toml(), (
        "regenerate: uv run python -m costlab.config > costlab.example.toml"
    )


def test_the_example_file_loads_for_every_section(repo_dir, monkeypatch):
    monkeypatch.setenv("COSTLAB_CONFIG", str(repo_dir / "costlab.example.toml"))
    config._read.cache_clear()
    for name in config.SECTIONS:
        model = config.section_model(name)
        assert config.settings_for(model, name) == model()


def test_precedence_cli_then_env_then_file_then_default(tmp_path, monkeypatch):
    file = tmp_path / "costlab.toml"
    file.write_text('[allocate]\nmode = "usage"\ngpu_cost_share = 0.5\ntime_slicing_replicas = 8\n')
    monkeypatch.setenv("COSTLAB_CONFIG", str(file))
    monkeypatch.setenv("COSTLAB_ALLOCATE_GPU_COST_SHARE", "0.9")
    config._read.cache_clear()
    s = config.settings_for(AllocateSettings, "allocate", time_slicing_replicas=2)
    assert (s.mode, s.gpu_cost_share, s.time_slicing_replicas, s.output_token_weight) == (
        "usage",
        0.9,
        2,
        4.0,
    )


def test_bad_config_is_a_usage_error(tmp_path, monkeypatch):
    file = tmp_path / "costlab.toml"
    file.write_text('[allocate]\nmode = "vibes"\n')
    monkeypatch.setenv("COSTLAB_CONFIG", str(file))
    config._read.cache_clear()
    with pytest.raises(UsageError, match=r"\[allocate\]"):
        config.settings_for(AllocateSettings, "allocate")
    monkeypatch.setenv("COSTLAB_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(UsageError, match="not a file"):
        config.config_path()


def _config(tmp_path, monkeypatch, text: str | bytes):
    file = tmp_path / "costlab.toml"
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text, encoding="utf-8")
    monkeypatch.setenv("COSTLAB_CONFIG", str(file))
    config._read.cache_clear()
    return file


def _error(cls, name: str) -> str:
    with pytest.raises(UsageError) as caught:
        config.settings_for(cls, name)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_bad_value_names_file_section_key_value_and_reason(tmp_path, monkeypatch):
    file = _config(tmp_path, monkeypatch, '[allocate]\nmode = "vibes"\n')
    assert _error(AllocateSettings, "allocate") == (
        f"{file} [allocate] mode = \"vibes\": Input should be 'request' or 'usage'"
        " (see costlab.example.toml)"
    )


def test_a_bad_environment_value_names_the_variable(tmp_path, monkeypatch):
    _config(tmp_path, monkeypatch, "[allocate]\n")
    monkeypatch.setenv("COSTLAB_ALLOCATE_GPU_COST_SHARE", "lots")
    assert _error(AllocateSettings, "allocate").startswith(
        'environment COSTLAB_ALLOCATE_GPU_COST_SHARE: [allocate] gpu_cost_share = "lots": '
        "Input should be a valid number"
    )


def test_unknown_sections_and_keys_are_errors_naming_them(tmp_path, monkeypatch):
    file = _config(tmp_path, monkeypatch, '[allocate]\nmode = "usage"\n\n[alocate]\nmode = 1\n')
    assert _error(AllocateSettings, "allocate").startswith(f"{file}: unknown section [alocate];")
    _config(tmp_path, monkeypatch, "[allocate]\ngpu_cost_shares = 0.5\n")
    assert f"{file} [allocate]: unknown key 'gpu_cost_shares'; known keys: mode," in _error(
        AllocateSettings, "allocate"
    )
    from costlab.simulate.combined import CombinedSettings

    _config(tmp_path, monkeypatch, "[simulate.spot]\nno_such_knob = 3\n")
    assert f"{file} [simulate.spot]: unknown key 'no_such_knob'" in _error(
        CombinedSettings, "simulate"
    )


def test_a_utf8_bom_is_accepted(tmp_path, monkeypatch):
    _config(tmp_path, monkeypatch, '\ufeff[allocate]\nmode = "usage"\n'.encode())
    assert config.settings_for(AllocateSettings, "allocate").mode == "usage"


def test_a_binary_config_file_is_a_one_line_error(tmp_path, monkeypatch):
    file = _config(tmp_path, monkeypatch, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert _error(AllocateSettings, "allocate") == (
        f"{file}: not a UTF-8 text file (byte 0); the config must be TOML text"
    )


@pytest.mark.parametrize(
    ("text", "variable"),
    [
        ('[prometheus]\nbearer_token = "s3cr3t-value"\n', "COSTLAB_PROM_BEARER_TOKEN"),
        ('[langfuse]\nsecret_key = "s3cr3t-value"\n', "LANGFUSE_SECRET_KEY"),
        ('[langfuse]\nLANGFUSE_SECRET_KEY = "s3cr3t-value"\n', "LANGFUSE_SECRET_KEY"),
        ('[langfuse]\npublic_key = "s3cr3t-value"\n', "LANGFUSE_PUBLIC_KEY"),
    ],
)
def test_credentials_in_the_file_are_refused(tmp_path, monkeypatch, text, variable):
    from costlab.collect.langfuse.settings import LangfuseSettings
    from costlab.collect.prometheus import PrometheusSettings

    cls, name = (
        (PrometheusSettings, "prometheus")
        if "prometheus" in text
        else (LangfuseSettings, "langfuse")
    )
    _config(tmp_path, monkeypatch, text)
    message = _error(cls, name)
    assert f"is a credential, read only from the environment ({variable})" in message
    assert "s3cr3t" not in message


def test_cli_config_errors_keep_the_section_in_brackets(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "costlab.toml").write_text('[allocate]\nmode = "vibes"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLAB_")}
    result = subprocess.run(
        [sys.executable, "-c", "from costlab.cli import main; main()", "allocate"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: costlab.toml [allocate] mode = \"vibes\": Input should be 'request' or 'usage'"
        " (see costlab.example.toml)\n"
    )
    assert not (tmp_path / "costlab.duckdb").exists()
