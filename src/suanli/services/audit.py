"""Reading the audit log (operators only)."""

from __future__ import annotations

from typing import Any

from suanli.services.access import require
from suanli.services.platform import Caller, Platform


def read_audit(p: Platform, caller: Caller, *, subject: str | None = None, action: str | None = None,
               after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    require(caller, "operator")
    with p.uow() as uow:
        return uow.audit.find(subject=subject, action=action, after_id=after, limit=min(max(limit, 1), 1000))
