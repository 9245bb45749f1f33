"""Role checks shared by the services: one place that says who may do what."""

from __future__ import annotations

from suanli.services.errors import Forbidden
from suanli.services.platform import Caller


def require(caller: Caller, *roles: str) -> None:
    if caller.role not in roles:
        raise Forbidden(f"role {caller.role!r} cannot do this; it needs one of: {', '.join(roles)}")


def tenant_scope(caller: Caller, tenant: str | None) -> str | None:
    """The tenant a query is limited to: a tenant's own; an operator's choice (None = all)."""
    if caller.role == "tenant":
        if tenant is not None and tenant != caller.tenant:
            raise Forbidden("a tenant token sees only its own tenant", field="tenant")
        return caller.tenant
    require(caller, "operator", "provider")
    return tenant
