"""Settings of the LangFuse collector: where to read, how far back, and how a tenant is found.

Non-secret settings come from `COSTLAB_LANGFUSE_*` environment variables; the API keys only from
`LANGFUSE_PUBLIC_KEY` / `LANGFUSE_SECRET_KEY` (the names LangFuse's own SDK uses). The secret key
is a `SecretStr`, so it never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The forms one step of a tenant rule may take (see docs/collect-langfuse.md).
TENANT_STEP_FORMS = (
    "metadata:KEY   (trace metadata, then the generation's own metadata)",
    "tag:PREFIX     (first trace tag starting with PREFIX; the rest of the tag is the tenant)",
    "user           (the trace's user id)",
    "session        (the trace's session id)",
    "const:VALUE    (a fixed tenant, e.g. as the last fallback)",
)


class LangfuseSettings(BaseSettings):
    """How `costlab collect langfuse` reads GENERATION observations and maps them to tenants."""

    model_config = SettingsConfigDict(
        env_prefix="COSTLAB_LANGFUSE_", extra="ignore", populate_by_name=True
    )

    host: str = Field("https://cloud.langfuse.com", description="LangFuse base URL.")
    public_key: str | None = Field(
        None,
        validation_alias=AliasChoices("public_key", "LANGFUSE_PUBLIC_KEY"),
        description="Project public key.",
        json_schema_extra={"env_only": True},  # with the secret key: environment only
    )
    secret_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("secret_key", "LANGFUSE_SECRET_KEY"),
        description="Project secret key.",
    )
    tenant_rule: list[str] = Field(
        default_factory=lambda: [
            "metadata:tenant",
            "metadata:team",
            "tag:tenant:",
            "tag:team:",
            "user",
        ],
        description="Ordered steps; the first step that yields a non-empty value names the tenant.",
    )
    deployment_keys: list[str] = Field(
        default_factory=lambda: ["deployment", "endpoint", "deployment_name", "model_endpoint"],
        description="Metadata keys (generation first, then trace) naming the serving deployment.",
    )
    lookback: timedelta = Field(
        timedelta(hours=1),
        ge=timedelta(0),
        description="Trailing slice re-read on every run for late data.",
    )
    initial_history: timedelta = Field(
        timedelta(days=7),
        gt=timedelta(0),
        description="How far back the first run starts without a watermark.",
    )
    initial_start: datetime | None = Field(
        None, description="Absolute start of history; the lookback never reaches before it."
    )
    chunk: timedelta = Field(
        timedelta(hours=6),
        gt=timedelta(0),
        description="Window slice loaded and committed with its watermark.",
    )
    trace_slack: timedelta = Field(
        timedelta(hours=1),
        ge=timedelta(0),
        description="How long before a generation its trace's root may start.",
    )
    page_size: int = Field(
        500, ge=1, le=1000, description="Observations per page (the API allows up to 1000)."
    )
    max_pages: int = Field(100_000, ge=1, description="Safety stop for a cursor that never ends.")
    max_retries: int = Field(
        5, ge=0, le=20, description="Retries on 429/5xx; the client honours Retry-After."
    )
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout in seconds.")

    @field_validator("tenant_rule")
    @classmethod
    def _check_rule(cls, steps: list[str]) -> list[str]:
        for step in steps:
            kind, sep, arg = step.partition(":")
            ok = (kind in ("user", "session") and not sep) or (
                kind in ("metadata", "tag", "const") and arg
            )
            if not ok:
                raise ValueError(
                    f"bad tenant rule step {step!r}; valid forms: " + "; ".join(TENANT_STEP_FORMS)
                )
        return steps
