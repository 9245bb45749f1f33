"""Token lifetimes, rotation, revocation that reaches every replica at once, and HTTPS with the
certificate ``suanli up --tls`` makes."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from suanli.services import tokens
from suanli.services.errors import Unauthorized
from suanli.services.platform import SYSTEM, bootstrap
from tests.api.helpers import make_world
from tests.conftest import Cli, Procs, free_port, wait_for


class Clock:
    def __init__(self) -> None:
        self.t = 1_900_000_000.0

    def __call__(self) -> float:
        return self.t


def test_a_token_with_a_lifetime_is_refused_after_it(store_url: str) -> None:
    w = make_world(store_url)
    clock = Clock()
    w.p.clock = clock
    op = w.h("operator")
    r = w.client.post("/v1/tokens", json={"role": "tenant", "tenant": "demo", "expires_in": 60}, headers=op)
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"] == clock.t + 60
    secret = r.json()["secret"]
    me = {"Authorization": f"Bearer {secret}"}
    assert w.client.get("/v1/jobs", headers=me).status_code == 200
    clock.t += 59
    assert w.client.get("/v1/jobs", headers=me).status_code == 200      # cached, and still inside its life
    clock.t += 2
    r = w.client.get("/v1/jobs", headers=me)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    bad = w.client.post("/v1/tokens", json={"role": "tenant", "tenant": "demo", "expires_in": 0}, headers=op)
    assert bad.status_code == 422 and bad.json()["error"]["field"].endswith("expires_in")


def test_rotation_gives_a_new_secret_and_the_old_one_stops(store_url: str) -> None:
    w = make_world(store_url)
    op = w.h("operator")
    made = w.client.post("/v1/tokens", json={"role": "tenant", "tenant": "demo"}, headers=op).json()
    old = {"Authorization": f"Bearer {made['secret']}"}
    assert w.client.get("/v1/jobs", headers=old).status_code == 200
    rotated = w.client.post(f"/v1/tokens/{made['id']}/rotate", headers=old)    # a token may rotate itself
    assert rotated.status_code == 200, rotated.text
    new = {"Authorization": f"Bearer {rotated.json()['secret']}"}
    assert rotated.json()["id"] == made["id"] and rotated.json()["secret"] != made["secret"]
    assert w.client.get("/v1/jobs", headers=old).status_code == 401
    assert w.client.get("/v1/jobs", headers=new).status_code == 200
    # a tenant cannot rotate somebody else's token
    other = w.client.post(f"/v1/tokens/{made['id']}/rotate", headers=w.h("other_tenant"))
    assert other.status_code == 404


@pytest.mark.postgres
def test_revocation_reaches_another_replica_at_once(pg_url: str) -> None:
    a, b = bootstrap(pg_url), bootstrap(pg_url, migrate=False)
    stop = threading.Event()
    try:
        tokens.listen_for_token_changes(b, stop)
        from suanli.services.tenancy import create_tenant

        create_tenant(a, SYSTEM, name="t1")
        row, secret = tokens.create_token(a, SYSTEM, role="tenant", tenant="t1")
        assert tokens.authenticate(b, secret).tenant == "t1"          # replica B verified and cached it
        time.sleep(0.5)                                               # the listener is connected
        tokens.revoke_token(a, SYSTEM, row["id"])                     # revoked on replica A
        t0 = time.monotonic()

        def refused() -> bool:
            try:
                tokens.authenticate(b, secret)
                return False
            except Unauthorized:
                return True

        wait_for(refused, timeout=2, interval=0.05, what="replica B to refuse the revoked token")
        assert time.monotonic() - t0 < b.settings.token_cache_s       # sooner than its cache would expire
    finally:
        stop.set()
        a.db.dispose()
        b.db.dispose()


@pytest.mark.slow
def test_up_with_tls_serves_https_that_clients_verify(procs: Procs, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    procs.start(["up", "--tls", "--port", str(port), "--data-dir", str(data)], "up", {"SUANLI_CYCLE_S": "0.2"})
    cert = data / "tls.crt"
    ctx = None

    def healthy() -> bool:
        nonlocal ctx
        if not cert.exists():
            return False
        ctx = ssl.create_default_context(cafile=str(cert))
        try:
            return httpx.get(url + "/healthz", verify=ctx, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=30, what="https /healthz")
    with pytest.raises(httpx.ConnectError):                     # without the certificate: refused, not trusted
        httpx.get(url + "/healthz", timeout=2)
    cli = Cli(url, (data / "tenant.token").read_text().strip(), tmp_path)
    cli.env["SUANLI_CA_FILE"] = str(cert)
    wait_for(lambda: all(s["health"] == "up" for s in cli.json("sites")["items"]), timeout=20,
             what="agents up over https")
    job = cli.json("submit", "--", "sh", "-c", "echo over-tls")
    wait_for(lambda: cli.json("job", "show", job["id"])["state"] == "succeeded", timeout=30, what="the job")
    untrusted = Cli(url, (data / "tenant.token").read_text().strip(), tmp_path)
    r = untrusted.run("jobs", check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr
