"""A small HTTP client of the API, shared by the CLI and the site agent.

Errors come back as ``ApiError`` carrying the API's status, code, message and field; a server
that cannot be reached raises ``ApiUnreachable``. Configuration: ``SUANLI_URL`` and
``SUANLI_TOKEN``, else the JSON file at ``SUANLI_CONFIG`` (default ``~/.config/suanli/config.json``)
with ``{"url": ..., "token": ...}``.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from pathlib import Path
from typing import Any

import httpx

from suanli.domain.errors import SuanliError

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(SuanliError):
    def __init__(self, status: int, code: str, message: str, field: str = "") -> None:
        self.status, self.code, self.message, self.field = status, code, message, field
        self.exit_code = 2 if 400 <= status < 500 else 1  # the caller's mistake: bad input
        super().__init__(f"{message} (HTTP {status} {code})")


class ApiUnreachable(SuanliError):
    pass


def config_file() -> Path:
    return Path(os.environ.get("SUANLI_CONFIG", Path.home() / ".config" / "suanli" / "config.json"))


def resolve(url: str | None = None, token: str | None = None) -> tuple[str, str | None]:
    conf: dict[str, Any] = {}
    path = config_file()
    if path.exists():
        try:
            conf = json.loads(path.read_text())
        except ValueError:
            conf = {}
    return (url or os.environ.get("SUANLI_URL") or conf.get("url") or DEFAULT_URL,
            token or os.environ.get("SUANLI_TOKEN") or conf.get("token"))


class Client:
    """The API over HTTP(S). ``ca_file`` (default ``$SUANLI_CA_FILE``): the certificate (or CA) to
    trust for an ``https://`` URL, e.g. the self-signed one ``suanli up --tls`` writes; without it
    the system's CAs are trusted. Certificates are always verified."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 10.0,
                 ca_file: str | None = None) -> None:
        self.url, self.token = resolve(url, token)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        ca = ca_file or os.environ.get("SUANLI_CA_FILE") or None
        self.http = httpx.Client(base_url=self.url.rstrip("/"), headers=headers, timeout=timeout,
                                 verify=ssl.create_default_context(cafile=ca) if ca else True)

    def request(self, method: str, path: str, *, json_body: Any = None, params: Any = None,
                headers: dict[str, str] | None = None) -> Any:
        try:
            r = self.http.request(method, path, json=json_body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiUnreachable(f"cannot reach the suanli API at {self.url} ({exc}); is `suanli up` running? "
                                 "set SUANLI_URL") from None
        if r.status_code >= 400:
            try:
                e = r.json()["error"]
                raise ApiError(r.status_code, e.get("code", ""), e.get("message", ""), e.get("field", ""))
            except (ValueError, KeyError, TypeError):
                raise ApiError(r.status_code, "http", r.text[:200]) from None
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, json_body=body if body is not None else {}, headers=headers)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json_body=body)

    def close(self) -> None:
        self.http.close()


def wait_healthy(url: str, timeout: float = 30.0) -> bool:
    """Poll ``url/healthz`` until it answers 200 (True) or ``timeout`` seconds pass (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False
