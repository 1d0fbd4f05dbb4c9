"""Who the dashboard is for: the whole fleet, or one tenant (team) only.

The tenant comes from, in order:
1. `COSTLAB_TENANT` (set by `costlab dashboard --tenant T`): fixed for the whole server;
2. a header set by an authenticating reverse proxy, only when `COSTLAB_TRUST_PROXY_HEADER=1`:
   `X-Costlab-Tenant` (the tenant itself) or else `X-Forwarded-User` (the user name is taken as
   the tenant). Never trust these headers without a proxy that strips them from client requests.

The result is enforced in `dashboards/queries.py`, which binds it into every query.
"""

from __future__ import annotations

from collections.abc import Mapping

TENANT_ENV = "COSTLAB_TENANT"
TRUST_ENV = "COSTLAB_TRUST_PROXY_HEADER"
TENANT_HEADERS = ("X-Costlab-Tenant", "X-Forwarded-User")


class AccessDenied(Exception):
    """Proxy mode is on but the request carries no tenant header: show nothing."""


def resolve_tenant(env: Mapping[str, str], headers: Mapping[str, str] | None) -> str | None:
    """The tenant this session may see, or None for the whole fleet.

    Raises AccessDenied when proxy headers are trusted but none is present (fail closed).
    """
    fixed = (env.get(TENANT_ENV) or "").strip()
    if fixed:
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
