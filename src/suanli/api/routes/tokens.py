"""API tokens (the secret is in the creation response only) and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Query

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import V1
from suanli.api.render import JSON, ok
from suanli.api.responses import AuditPage, MePublic, TokenList, TokenPublic
from suanli.api.schemas import OFFSET, TokenCreate
from suanli.services import audit, tokens

router = APIRouter(prefix="/v1", tags=["security"], responses=V1)


@router.get("/me", response_model=MePublic)
def me(caller: CallerDep) -> JSON:
    return ok(tokens.whoami(caller))


@router.post("/tokens", status_code=201, response_model=TokenPublic)
def create_token(body: TokenCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    row, secret = tokens.create_token(p, caller, **body.model_dump())
    return ok({**row, "secret": secret}, 201)


@router.get("/tokens", response_model=TokenList)
def list_tokens(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok({"items": tokens.list_tokens(p, caller)})


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(tokens.revoke_token(p, caller, token_id))


@router.post("/tokens/{token_id}/rotate", response_model=TokenPublic)
def rotate_token(token_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    """A new secret for the token (shown once); the old secret stops working on every replica."""
    row, secret = tokens.rotate_token(p, caller, token_id)
    return ok({**row, "secret": secret})


@router.get("/audit", response_model=AuditPage)
def read_audit(p: PlatformDep, caller: CallerDep, subject: str | None = None, action: str | None = None,
               after: int = Query(0, ge=0, le=OFFSET), limit: int = Query(100, ge=1, le=1000)) -> JSON:
    items = audit.read_audit(p, caller, subject=subject, action=action, after=after, limit=limit)
    return ok({"items": items, "next": items[-1]["id"] if items else after})
