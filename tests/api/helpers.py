"""A platform on a real SQLite file with one token per role, served in-process."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.control.loop import run_cycle
from suanli.services import federation, tokens
from suanli.services.platform import SYSTEM, Platform, bootstrap


@dataclass
class World:
    p: Platform
    client: TestClient
    tokens: dict[str, str]

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}

    def cycle(self) -> None:
        run_cycle(self.p, np.random.default_rng(0))


def make_world(url: str) -> World:
    p = bootstrap(url)
    federation.seed_from_file(p, "demo-local")
    from suanli.services.tenancy import create_tenant

    create_tenant(p, SYSTEM, name="other")
    secrets = {
        "operator": tokens.create_token(p, SYSTEM, role="operator")[1],
        "provider": tokens.create_token(p, SYSTEM, role="provider", provider="west-dc")[1],
        "tenant": tokens.create_token(p, SYSTEM, role="tenant", tenant="demo")[1],
        "agent": tokens.create_token(p, SYSTEM, role="agent", site="nx-hub")[1],
        "other_tenant": tokens.create_token(p, SYSTEM, role="tenant", tenant="other")[1],
        "other_provider": tokens.create_token(p, SYSTEM, role="provider", provider="east-dc")[1],
        "other_agent": tokens.create_token(p, SYSTEM, role="agent", site="sh-city")[1],
    }
    return World(p, TestClient(create_app(p), raise_server_exceptions=False), secrets)


ROLES = ("anonymous", "operator", "provider", "tenant", "agent")


def only(allowed: dict[str, int]) -> dict[str, int]:
    """Expected status per signed-in role: the given ones, 403 for the rest."""
    return {r: allowed.get(r, 403) for r in ROLES[1:]}


def role_matrix_failures(world: World, routes: list[tuple[str, str, object, dict[str, int]]]) -> list[str]:
    """Call every route as every role (anonymous expects 401); every error must be the JSON error
    shape with a message. Returns the calls whose status was not the expected one."""
    failures = []
    for method, path, body, expected in routes:
        for role in ROLES:
            want = 401 if role == "anonymous" else expected[role]
            payload = body(role) if callable(body) else body
            r = world.client.request(method, path, json=payload, headers=world.h(role))
            if r.status_code != want:
                failures.append(f"{method} {path} as {role}: {r.status_code} (want {want}) {r.text[:200]}")
            if r.status_code >= 400:
                err = r.json()["error"]
                assert set(err) == {"code", "message", "field"} and err["message"]
    return failures
