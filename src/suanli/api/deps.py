"""Annotated dependencies: the platform and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from suanli.services import tokens
from suanli.services.platform import Caller, Platform


async def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_caller(p: PlatformDep, authorization: Annotated[str | None, Header()] = None) -> Caller:
    secret = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        secret = value.strip() if scheme.lower() == "bearer" else None
    return tokens.authenticate(p, secret)


CallerDep = Annotated[Caller, Depends(get_caller)]
