"""Property-based tests of every route from the OpenAPI document (schemathesis), as an operator, a
tenant and an agent, against the in-process app on a real SQLite file: no 5xx, and every response
(status, content type, headers, body) conforms to what the document declares."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.api.helpers import World, make_world

# ``positive_data_acceptance`` (a schema-valid request must get 2xx/401/403/404/409) cannot hold:
# JSON Schema cannot say which names exist (a region, an accelerator of the catalog: 422
# unknown_name), that a deadline must be in the future, or that a job must fit some pool; those
# are the domain's checks, and they answer 422 naming the field, as they should.
IMPOSSIBLE = [schemathesis.checks.positive_data_acceptance]
EXAMPLES = int(os.environ.get("SUANLI_FUZZ_EXAMPLES", "10"))   # more for a longer hunt
SEEDED = os.environ.get("SUANLI_FUZZ_RANDOM", "") == ""          # the same cases every run unless asked    # per route and role: the three runs take well under 90 s on the 2-core machine


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from suanli.store.db import sqlite_url

    w = make_world(sqlite_url(tmp_path_factory.mktemp("schemathesis")))
    w.client.post("/v1/agent/heartbeat", json={"free": {"a100": 8}}, headers=w.h("agent"))
    w.client.post("/v1/jobs", json={"command": ["true"]}, headers=w.h("tenant"))
    w.cycle()
    w.client.post("/v1/agent/lease", json={}, headers=w.h("agent"))
    yield w
    w.p.db.dispose()


def _fuzz(world: World, role: str) -> list[str]:
    """Every operation of the document, ``EXAMPLES`` generated cases each (schemathesis' strategies
    driven by hypothesis here: its pytest plugin does not run under this pytest); the failures."""
    api = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    failures: list[str] = []
    for result in api.get_all_operations():
        op = result.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=SEEDED, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=world.h(role), excluded_checks=IMPOSSIBLE)

        try:
            run()
        except Exception as exc:   # one report per operation; hypothesis raised its first failure
            failures.append(f"{role} {op.label}: {exc}"[:3000])
    return failures


@pytest.mark.parametrize("role", ["operator", "tenant", "agent"])
def test_every_route_keeps_its_documented_contract(fuzz_world: World, role: str) -> None:
    failures = _fuzz(fuzz_world, role)
    assert not failures, "\n\n".join(failures)
