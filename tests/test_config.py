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
