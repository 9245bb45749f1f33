"""Errors the services raise, each with the HTTP status the API maps it to.

    SuanliError
    ├── InvalidInput (422, from the domain)   the request is wrong; names the field and the fix
    └── ServiceError
        ├── Unauthorized (401)                 no token, or an unknown or revoked one
        ├── Forbidden (403)                    the role or scope does not allow this
        ├── NotFound (404)                     no such object (or not visible to the caller)
        ├── Conflict (409)                     the object is in a state that forbids this
        │   └── Fenced (409)                   another agent session took over this site
        └── TooManyRequests (429)              over a rate limit; ``retry_after`` seconds
"""

from __future__ import annotations

from suanli.domain.errors import SuanliError


class ServiceError(SuanliError):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str = "") -> None:
        self.message = message
        self.field = field
        super().__init__(message)


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Fenced(Conflict):
    """The caller's agent session is no longer the site's: a newer agent took over. The old agent
    must stop (its leases, reports and heartbeats are refused)."""

    code = "fenced"


class TooManyRequests(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, field: str = "") -> None:
        self.retry_after = retry_after
        super().__init__(message, field=field)
