"""Fixtures for the dashboard tests: one real ``suanli up`` (API, scheduler, three local sites with
their agents) per module, and Debian's Chromium driven by the ``playwright`` package.

Without /usr/bin/chromium or the playwright package the tests skip -- except under ``CI=true``,
where they fail (``.ci/run`` installs Chromium; ``make install`` installs playwright).
Never run ``playwright install``: the browser is the system's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Procs, free_port, wait_for, wait_healthy

CHROMIUM = Path(os.environ.get("SUANLI_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}


def _require(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}; under CI=true the browser tests must run (.ci/services.sh installs chromium)")
    pytest.skip(why)


class Platform:
    """A running ``suanli up``: its URL, tokens and an API client per token."""

    def __init__(self, url: str, data: Path, procs: Procs) -> None:
        self.url = url
        self.data = data
        self.procs = procs
        self.operator = (data / "operator.token").read_text().strip()
        self.tenant = (data / "tenant.token").read_text().strip()

    def api(self, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return httpx.request(method, self.url + "/v1" + path, headers=headers, timeout=10, **kw)

    def get(self, token: str, path: str, **kw: Any) -> Any:
        r = self.api(token, "GET", path, **kw)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require(CHROMIUM.exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def platform(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("web")
    procs = Procs(tmp)
    data = tmp / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs.start(["up", "--port", str(port), "--data-dir", str(data)], "up",
                {"SUANLI_LEASE_S": "5", "SUANLI_CYCLE_S": "0.2", "SUANLI_HISTORY_S": "1"})
    try:
        wait_healthy(url, timeout=60)          # generous: the machine may be busy with other suites
        wait_for(lambda: (data / "tenant.token").exists(), timeout=15, what="the tokens")
        p = Platform(url, data, procs)
        wait_for(lambda: all(s["health"] == "up" for s in p.get(p.operator, "/sites")["items"]),
                 timeout=45, what="the three site agents")
    except AssertionError as e:
        procs.close()
        raise AssertionError(f"{e}\n--- suanli up log ---\n{procs.log('up')[-3000:]}") from None
    try:
        yield p
    finally:
        procs.close()


@pytest.fixture
def page(browser: Any, platform: Platform) -> Iterator[Any]:
    """A fresh browser context (empty sessionStorage) at 1280x800; page errors fail the test."""
    ctx = browser.new_context(base_url=platform.url, viewport=VIEWPORT)
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
