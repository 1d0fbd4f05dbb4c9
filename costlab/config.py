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
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings

from costlab.errors import UsageError

S = TypeVar("S", bound=BaseModel)


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


def settings_for(cls: type[S], name: str, **overrides: Any) -> S:
    """Build `cls`: command-line overrides, then environment variables, then the file's [name]
    table, then the model's defaults."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    reads_env = issubclass(cls, BaseSettings)
    from_file = {
        k: v
        for k, v in section(name).items()
        if not (reads_env and f"{prefix}{k.upper()}" in os.environ)
    }
    try:
        return cls(**{**from_file, **overrides})
    except ValidationError as exc:
        # the first error itself, not pydantic's "1 validation error for X" headline
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        raise UsageError(
            f"[{name}] settings: {detail}".splitlines()[0] + " (see costlab.example.toml)"
        ) from exc
    except ValueError as exc:
        raise UsageError(
            f"[{name}] settings: {exc}".splitlines()[0] + " (see costlab.example.toml)"
        ) from exc


# Every section of costlab.toml and the settings model that reads it.
SECTIONS: dict[str, str] = {
    "allocate": "costlab.allocate.settings:AllocateSettings",
    "prometheus": "costlab.collect.prometheus:PrometheusSettings",
    "langfuse": "costlab.collect.langfuse.settings:LangfuseSettings",
    "prices": "costlab.collect.ec2.prices:PricesSettings",
    "rules": "costlab.emit.rules_settings:RulesSettings",
    "exporter": "costlab.emit.exporter:ExporterSettings",
    "focus": "costlab.report.focus:FocusSettings",
    "simulate": "costlab.simulate.combined:CombinedSettings",
}


def section_model(name: str) -> type[BaseModel]:
    import importlib

    module, _, cls = SECTIONS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def _toml_value(value: Any) -> str | None:
    import json
    from enum import Enum

    if isinstance(value, Enum):
        value = value.value
    if hasattr(value, "model_dump"):  # nested pydantic models become inline tables
        value = value.model_dump(mode="json")
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):  # as seconds: every duration field here accepts a number
        seconds = value.total_seconds()
        return repr(int(seconds)) if seconds.is_integer() else repr(seconds)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        items = [_toml_value(v) for v in value]
        return "[" + ", ".join(i for i in items if i is not None) + "]"
    if isinstance(value, dict):
        items = [
            f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None
        ]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return json.dumps(str(value))


def _model_lines(model: type[BaseModel], prefix: str, table: str) -> list[str]:
    """Key lines of one table; nested settings models become [table.key] sub-tables after it."""
    import textwrap

    from pydantic import SecretStr

    lines: list[str] = []
    nested: list[tuple[str, type[BaseModel], str]] = []
    for key, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            nested.append((key, type(default), field.description or ""))
            continue
        lines += [f"# {text}" for text in textwrap.wrap(field.description or "", 96)]
        if "SecretStr" in str(field.annotation):
            lines.append(f"# {key}: secret, set {prefix}{key.upper()} in the environment")
            continue
        rendered = _toml_value(
            default.get_secret_value() if isinstance(default, SecretStr) else default
        )
        lines.append(f"{key} = {rendered}" if rendered is not None else f"# {key} = (unset)")
    for key, sub, description in nested:
        lines += ["", f"[{table}.{key}]"] + [f"# {t}" for t in textwrap.wrap(description, 96)]
        lines += _model_lines(sub, prefix, f"{table}.{key}")
    return lines


def example_toml() -> str:
    """costlab.example.toml: every section and key with its default and meaning, from the models."""
    lines = [
        "# costlab configuration: copy to costlab.toml (or point COSTLAB_CONFIG at it).",
        "# Every key shows its default. Environment variables override the file; secrets are only",
        "# read from the environment. Generated from the settings models: `python -m costlab.config`.",
    ]
    for name in SECTIONS:
        model = section_model(name)
        prefix = str(model.model_config.get("env_prefix", "")).upper()
        where = (
            f"environment: {prefix}<KEY>"
            if issubclass(model, BaseSettings)
            else "file only (no environment)"
        )
        lines += ["", f"[{name}]", f"# {where}"] + _model_lines(model, prefix, name)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(example_toml(), end="")
