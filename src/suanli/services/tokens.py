"""API tokens: create (the secret is returned once), verify (SHA-256 look-up, cached briefly
per process), list, revoke and rotate. Secrets look like ``sl_<id>_<32 random bytes, urlsafe>``.

- A token may have a lifetime (``expires_in`` seconds at creation); past it, it is refused.
- Rotation gives a token a new secret (same id, role and scope); the old secret stops working.
- Revocation and rotation reach every API replica at once: the store sends a PostgreSQL
  ``NOTIFY`` at commit and each replica's listener (``listen_for_token_changes``) drops its cache.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from suanli.domain.errors import InvalidInput
from suanli.services.access import require
from suanli.services.errors import NotFound, Unauthorized
from suanli.services.platform import ROLES, Caller, Platform
from suanli.store.db import READ_ONLY


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret(token_id: str) -> str:
    return f"sl_{token_id[4:]}_{secrets.token_urlsafe(32)}"


def create_token(p: Platform, caller: Caller, *, role: str, name: str = "", tenant: str | None = None,
                 provider: str | None = None, site: str | None = None,
                 expires_in: float | None = None) -> tuple[dict[str, Any], str]:
    """Return (the token's public record, the secret). Operators create any token; a provider
    creates agent tokens for its own sites."""
    require(caller, "operator", "provider")
    if role not in ROLES:
        raise InvalidInput("unknown role", field="role", value=role, fix="use one of: " + ", ".join(ROLES))
    with p.uow() as uow:
        if caller.role == "provider":
            if role != "agent":
                raise InvalidInput("a provider can only create agent tokens", field="role", value=role,
                                   fix="ask an operator, or create a token with role 'agent'")
            s = uow.federation.site(site or "")
            if s is None or s["provider"] != caller.provider:
                raise NotFound("no such site among your sites", field="site")
        needed = {"tenant": ("tenant", tenant), "provider": ("provider", provider), "agent": ("site", site)}
        if role in needed:
            fld, value = needed[role]
            if not value:
                raise InvalidInput(f"a {role} token needs a {fld}", field=fld, value=value,
                                   fix=f"give the {fld} this token acts for")
            exists = {"tenant": uow.tenancy.tenant, "provider": uow.federation.provider,
                      "site": uow.federation.site}[fld](value)
            if exists is None:
                raise NotFound(f"no {fld} named {value!r}", field=fld)
        if expires_in is not None and not 0 < expires_in <= 10 * 365 * 86400:
            raise InvalidInput("must be between 1 second and 10 years", field="expires_in", value=expires_in,
                               fix="give the token's lifetime in seconds, or leave it out for no expiry")
        token_id = "tok_" + secrets.token_hex(6)
        secret = _new_secret(token_id)
        row = dict(id=token_id, hash=digest(secret), role=role, name=name, tenant=tenant if role == "tenant" else None,
                   provider=provider if role == "provider" else None, site=site if role == "agent" else None,
                   created_at=p.now(), created_by=caller.token_id,
                   expires_at=p.now() + expires_in if expires_in is not None else None)
        uow.tokens.add(**row)
        uow.audit.record(p.now(), caller.actor, caller.role, "token.create", token_id, role=role, name=name)
    row.pop("hash")
    row["revoked_at"] = None
    return row, secret


def authenticate(p: Platform, secret: str | None) -> Caller:
    if not secret:
        raise Unauthorized("no API token; send 'Authorization: Bearer <token>'")
    cache = p.cache.tokens
    key = digest(secret)
    hit = cache.get(key)
    now = p.now()
    if hit is not None and hit[0] > now:
        return hit[1]
    with p.db.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        from suanli.store.tokens import TokenRepo

        row = TokenRepo(conn).by_hash(key)
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("unknown or revoked API token; ask an operator for a new one")
    expires = row.get("expires_at")
    if expires is not None and expires <= now:
        raise Unauthorized("this API token has expired; ask an operator for a new one (or rotate it in time)")
    caller = Caller(token_id=row["id"], role=row["role"], tenant=row["tenant"], provider=row["provider"],
                    site=row["site"])
    if len(cache) > 10000:
        cache.clear()
    until = now + p.settings.token_cache_s
    cache[key] = (min(until, expires) if expires is not None else until, caller)
    return caller


def rotate_token(p: Platform, caller: Caller, token_id: str) -> tuple[dict[str, Any], str]:
    """A new secret for the token (same id, role, scope and expiry); the old secret stops working.
    Operators rotate any token; every other caller only its own."""
    if caller.role != "operator" and caller.token_id != token_id:
        raise NotFound(f"no token {token_id!r} among yours", field="token_id")
    with p.uow() as uow:
        row = uow.tokens.get(token_id)
        if row is None or row["revoked_at"] is not None:
            raise NotFound(f"no live token {token_id!r}", field="token_id")
        secret = _new_secret(token_id)
        uow.tokens.set_hash(token_id, digest(secret))
        uow.audit.record(p.now(), caller.actor, caller.role, "token.rotate", token_id)
    p.cache.tokens.clear()
    row.pop("hash")
    return row, secret


def listen_for_token_changes(p: Platform, stop: Any) -> None:
    """On PostgreSQL: a thread that LISTENs for revocations and rotations from any replica and
    clears this process's verified-token cache at once (reconnecting after an error). A no-op on
    SQLite."""
    if p.db.dialect != "postgresql":
        return
    import threading
    import time

    import psycopg

    from suanli.store.tokens import CHANNEL

    dsn = p.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def run() -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    p.cache.tokens.clear()   # whatever happened while not listening
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            p.cache.tokens.clear()
            except psycopg.Error:
                time.sleep(1.0)

    threading.Thread(target=run, name="token-listener", daemon=True).start()


def whoami(caller: Caller) -> dict[str, Any]:
    """The caller's token id, role and scope (the tenant, provider or site it acts for)."""
    return {"token_id": caller.token_id, "role": caller.role, "tenant": caller.tenant, "provider": caller.provider,
            "site": caller.site}


def list_tokens(p: Platform, caller: Caller) -> list[dict[str, Any]]:
    require(caller, "operator")
    with p.uow() as uow:
        rows = uow.tokens.find()
    for r in rows:
        r.pop("hash")
    return rows


def revoke_token(p: Platform, caller: Caller, token_id: str) -> dict[str, Any]:
    require(caller, "operator")
    with p.uow() as uow:
        row = uow.tokens.get(token_id)
        if row is None:
            raise NotFound(f"no token {token_id!r}", field="token_id")
        if row["revoked_at"] is None:
            uow.tokens.revoke(token_id, p.now())
            uow.audit.record(p.now(), caller.actor, caller.role, "token.revoke", token_id)
        row = uow.tokens.get(token_id) or row
    p.cache.tokens.clear()
    row.pop("hash")
    return row
