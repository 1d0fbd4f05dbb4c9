"""One TOML config file for every stage, with environment overrides.

`costlab.toml` in the working directory (or the file named by COSTLAB_CONFIG) holds one table
per section ([allocate], [langfuse], [prometheus], [rules], ...). Each stage declares its settings
as a pydantic-settings model with documented defaults and an env prefix COSTLAB_<SECTION>_; a
value from the environment wins over the file, the file over the default. Secrets never belong in
the file: they are read from the environment by the stage that needs them.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

from costlab.errors import UsageError

S = TypeVar("S", bound=BaseSettings)


def config_path() -> Path | None:
    explicit = os.environ.get("COSTLAB_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"COSTLAB_CONFIG points to {path}, which is not a file")
        return path
    default = Path("costlab.toml")
    return default if default.is_file() else None


@cache
def _read(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from exc


def section(name: str) -> dict[str, Any]:
    """The [name] table of the config file ({} when absent)."""
    value = _read(config_path()).get(name, {})
    if not isinstance(value, dict):
        raise UsageError(f"[{name}] in the config file must be a table")
    return value


def settings_for(cls: type[S], name: str) -> S:
    """Build `cls` from the file's [name] table; environment variables still take precedence."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    from_file = {k: v for k, v in section(name).items() if f"{prefix}{k.upper()}" not in os.environ}
    try:
        return cls(**from_file)
    except ValueError as exc:
        raise UsageError(f"[{name}] settings: {exc}".splitlines()[0] + " (see costlab.example.toml)") from exc
