"""One TOML config file for every stage, with environment overrides.

`costlab.toml` in the working directory (or the file named by COSTLAB_CONFIG) holds one table
per section ([allocate], [langfuse], [prometheus], [rules], ...). Each stage declares its settings
as a pydantic-settings model with documented defaults and an env prefix COSTLAB_<SECTION>_; a
value from the environment wins over the file, the file over the default. Secrets never belong in
the file: they are read from the environment by the stage that needs them.

Why not pydantic-settings' TomlConfigSettingsSource: it is wired per model in
settings_customise_sources (every stage's model would carry it), takes its file from the model's
config rather than COSTLAB_CONFIG at call time, and reads a file with a BOM, a binary file, an
unknown section or a credential without the one-line errors below; the loader here is the
few lines that remain once those checks are written anyway.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo
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
        # utf-8-sig: a BOM (Windows editors write one) is accepted, tomllib alone refuses it
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not a UTF-8 text file (byte {exc.start}); the config must be TOML text"
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from exc
    unknown = [name for name in data if name not in SECTIONS]
    if unknown:
        raise UsageError(
            f"{path}: unknown section {', '.join(f'[{n}]' for n in unknown)}; "
            f"known: {', '.join(SECTIONS)} (see costlab.example.toml)"
        )
    return data


def section(name: str) -> dict[str, Any]:
    """The [name] table of the config file ({} when absent)."""
    value = _read(config_path()).get(name, {})
    if not isinstance(value, dict):
        raise UsageError(f"[{name}] in the config file must be a table")
    return value


def _names(field: FieldInfo, key: str) -> list[str]:
    """The names a field accepts as input: its own and its validation aliases."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [key, *(c for c in alias.choices if isinstance(c, str))]
    return [key, alias] if isinstance(alias, str) else [key]


def env_only(field: FieldInfo) -> bool:
    """A secret: set only in the environment, never in costlab.toml."""
    extra = field.json_schema_extra
    return "SecretStr" in str(field.annotation) or (
        isinstance(extra, dict) and bool(extra.get("env_only"))
    )


def values_hidden(field: FieldInfo) -> bool:
    """Settable in the file, but its values may be credentials (headers): never echoed."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("values_hidden"))


def env_name(model: type[BaseModel], key: str, prefix: str | None = None) -> str:
    """The environment variable pydantic-settings reads for `key` (aliases bypass the prefix)."""
    names = _names(model.model_fields[key], key)
    if len(names) > 1:
        return next((n for n in names[1:] if n != key), names[1]).upper()
    if prefix is None:
        prefix = str(model.model_config.get("env_prefix", "")).upper()
    return f"{prefix}{key.upper()}"


def _check_keys(model: type[BaseModel], table: dict[str, Any], where: str) -> None:
    """Unknown keys and secrets in the file are errors naming them; nested tables recurse."""
    by_name = {n: key for key, f in model.model_fields.items() for n in _names(f, key)}
    for given, value in table.items():
        key = by_name.get(given)
        if key is None:
            known = ", ".join(model.model_fields)
            raise UsageError(
                f"{where}: unknown key {given!r}; known keys: {known} (see costlab.example.toml)"
            )
        field = model.model_fields[key]
        if env_only(field):
            raise UsageError(
                f"{where}: {given!r} is a credential, read only from the environment "
                f"({env_name(model, key)}); remove it from the file"
            )
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel) and isinstance(value, dict):
            _check_keys(type(default), value, f"{where[:-1]}.{key}]")


def _shown(value: Any, secret: bool) -> str:
    if secret:
        return "<hidden>"
    rendered = _toml_value(value)
    return "null" if rendered is None else rendered


def _explain(
    exc: ValidationError,
    cls: type[BaseModel],
    name: str,
    from_file: dict[str, Any],
    overrides: dict[str, Any],
) -> str:
    """One line per error naming where the value came from, the key, the value and the reason."""
    path = config_path()
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        head = loc[0] if loc else ""
        field = cls.model_fields.get(head)
        secret = field is not None and (env_only(field) or values_hidden(field))
        value = _shown(err.get("input"), secret)
        dotted = ".".join(loc)
        if not loc:
            where = f"[{name}]"
        elif head in overrides:
            where = f"option {dotted} = {value}"
        elif head in from_file:
            where = f"{path} [{name}] {dotted} = {value}"
        elif field is not None and issubclass(cls, BaseSettings):
            where = f"environment {env_name(cls, head)}: [{name}] {dotted} = {value}"
        else:
            where = f"[{name}] {dotted} = {value}"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts) + " (see costlab.example.toml)"


def settings_for(cls: type[S], name: str, **overrides: Any) -> S:
    """Build `cls`: command-line overrides, then environment variables, then the file's [name]
    table, then the model's defaults."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    reads_env = issubclass(cls, BaseSettings)
    table = section(name)
    _check_keys(cls, table, f"{config_path()} [{name}]")
    from_file = {
        k: v for k, v in table.items() if not (reads_env and f"{prefix}{k.upper()}" in os.environ)
    }
    try:
        return cls(**{**from_file, **overrides})
    except ValidationError as exc:
        raise UsageError(_explain(exc, cls, name, from_file, overrides)) from exc
    except ValueError as exc:  # a validator's own error outside pydantic's wrapping
        raise UsageError(f"[{name}] settings: {str(exc).splitlines()[0]}") from exc


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
        pairs = [
            f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None
        ]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
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
        if env_only(field):
            lines.append(
                f"# {key}: a credential, set {env_name(model, key, prefix)} in the environment"
            )
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
