"""Who the dashboard is for: the whole fleet, or one tenant (team) only.

The tenant comes from, in order:
1. `COSTLAB_TENANT` (set by `costlab dashboard --tenant T`): fixed for the whole server. Set but
   blank is refused, never read as "no tenant" (that would open the whole fleet);
2. a header set by an authenticating reverse proxy, only when `COSTLAB_TRUST_PROXY_HEADER=1`:
   `X-Forwarded-User` (the signed-in user, taken as the tenant; set by oauth2-proxy, Pomerium, ...)
   or else `X-Costlab-Tenant`. The user header wins: a proxy that authenticates users sets it on
   every request, while a client could add `X-Costlab-Tenant` itself if the proxy forwards it.
   Never trust these headers without a proxy that strips them from client requests
   (docs/dashboard.md, "Behind an authenticating proxy").

The result is enforced by dashboards/scope.py: every query reads the tenant's rows only.
"""

from __future__ import annotations

from collections.abc import Mapping

TENANT_ENV = "COSTLAB_TENANT"
TRUST_ENV = "COSTLAB_TRUST_PROXY_HEADER"
TENANT_HEADERS = ("X-Forwarded-User", "X-Costlab-Tenant")


class AccessDenied(Exception):
    """The session has no valid tenant where one is required (blank, or no proxy header): show
    nothing."""


def resolve_tenant(env: Mapping[str, str], headers: Mapping[str, str] | None) -> str | None:
    """The tenant this session may see, or None for the whole fleet.

    Raises AccessDenied when COSTLAB_TENANT is blank, or proxy headers are trusted but none is
    present (fail closed).
    """
    if TENANT_ENV in env:
        fixed = env[TENANT_ENV].strip()
        if not fixed:
            raise AccessDenied(f"{TENANT_ENV} is set but blank; unset it for the whole fleet")
        return fixed
    if env.get(TRUST_ENV, "").strip() == "1":
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        for name in TENANT_HEADERS:
            value = (lowered.get(name.lower()) or "").strip()
            if value:
                return value
        raise AccessDenied(
            "tenant header missing: this dashboard only serves requests from the proxy"
        )
    return None
