"""Run the API (uvicorn) with the scheduler loop beside it: what ``suanli serve`` and
``suanli up`` call. Every replica tries for the scheduler leadership; one gets it."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

import uvicorn

from suanli.api.app import create_app
from suanli.control.leader import leader_for
from suanli.control.loop import SchedulerLoop
from suanli.services.platform import Platform
from suanli.services.tokens import listen_for_token_changes


def make_server(p: Platform, host: str, port: int, *, scheduler: bool = True,
                tls: tuple[str, str] | None = None) -> tuple[uvicorn.Server, Any]:
    """``tls``: (certificate file, key file) to serve HTTPS."""
    app = create_app(p)
    loop = None
    if scheduler:
        loop = SchedulerLoop(p, leader_for(p.db))
        p.loop = loop
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            loop="uvloop", http="httptools", timeout_graceful_shutdown=3,
                            ssl_certfile=tls[0] if tls else None, ssl_keyfile=tls[1] if tls else None)
    return uvicorn.Server(config), loop


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def serve(p: Platform, host: str, port: int, *, scheduler: bool = True, reuse_port: bool = False,
          tls: tuple[str, str] | None = None) -> None:
    """``reuse_port``: several processes may listen on the same port (SO_REUSEPORT); the kernel
    spreads connections between them."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server, loop = make_server(p, host, port, scheduler=scheduler, tls=tls)
    stop = threading.Event()
    sockets = None
    if reuse_port:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sockets = [sock]
    if loop is not None:
        loop.start()
    listen_for_token_changes(p, stop)
    signal.signal(signal.SIGTERM, _interrupt)   # uvicorn re-raises SIGTERM after its shutdown
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if loop is not None:
            loop.stop.set()
