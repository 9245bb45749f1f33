"""Shared fixtures: real stores (SQLite files and a real PostgreSQL server), free ports, and real
processes that are always killed at the end.

PostgreSQL: ``SUANLI_TEST_DATABASE_URL`` (set by ``.ci/services.sh``) or a throwaway cluster
started here from the PostgreSQL 15 binaries (``initdb``/``pg_ctl``; as the ``postgres`` user when
running as root). Without one the PostgreSQL tests skip -- except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from suanli.api import client

PG_BIN = Path(os.environ.get("SUANLI_PG_BIN", "/usr/local/bin"))
SUANLI = [sys.executable, "-m", "suanli.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _start_cluster() -> tuple[str, str] | None:
    if not (PG_BIN / "initdb").exists():
        return None
    root = tempfile.mkdtemp(prefix="suanli-test-pg-")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    try:
        subprocess.run(_as_pg_user([str(PG_BIN / "initdb"), "-D", f"{root}/data", "-A", "trust", "-U", "suanli",
                                    "--no-sync"]), check=True, capture_output=True, timeout=60)
        subprocess.run(_as_pg_user([str(PG_BIN / "pg_ctl"), "-D", f"{root}/data", "-l", f"{root}/log", "-w", "-o",
                                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200",
                                    "start"]), check=True, capture_output=True, timeout=60)
    except (subprocess.SubprocessError, OSError):
        return None
    return f"postgresql+psycopg://suanli@127.0.0.1:{port}/postgres", root


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    url = os.environ.get("SUANLI_TEST_DATABASE_URL")
    root = None
    if not url:
        started = _start_cluster()
        if started is None:
            if os.environ.get("CI") == "true":
                pytest.fail("no PostgreSQL for the tests under CI=true: set SUANLI_TEST_DATABASE_URL "
                            "(.ci/services.sh does) or install PostgreSQL 15 binaries at /usr/local/bin")
            pytest.skip("no PostgreSQL server available (set SUANLI_TEST_DATABASE_URL)")
        url, root = started
    yield url
    if root is not None:
        subprocess.run(_as_pg_user([str(PG_BIN / "pg_ctl"), "-D", f"{root}/data", "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _admin(url: str) -> object:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


@contextmanager
def fresh_database(server: str, prefix: str = "t_") -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    name = prefix + secrets.token_hex(6)
    with _admin(server) as conn:  # type: ignore[attr-defined]
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with _admin(server) as conn:  # type: ignore[attr-defined]
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server."""
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from suanli.store.db import sqlite_url as make

    return make(tmp_path / "data")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def module_store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One store for a whole module, once on a real SQLite file and once on a real PostgreSQL
    database (the suites of roles, errors, agents and bad input run on both)."""
    if request.param == "sqlite":
        from suanli.store.db import sqlite_url as make

        yield make(tmp_path_factory.mktemp("store") / "data")
        return
    with fresh_database(request.getfixturevalue("pg_server"), "m_") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test against a real SQLite file and a real PostgreSQL database."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


# -- real processes --------------------------------------------------------------------------------
class Procs:
    """Processes a test starts; all killed (process group) at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.items: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen([*SUANLI, *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        self.items.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def close(self) -> None:
        for p in self.items:
            if p.poll() is None:
                self.kill(p)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    yield p
    p.close()


def sleepers(tag: str) -> list[int]:
    """Live processes running ``sleep <tag>...``: how the tests find a job's processes, however they
    left its process group or session (a zombie has no command line: it runs nothing)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                argv = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"sleep") and len(argv) > 1 and argv[1].startswith(tag.encode()):
                out.append(int(d))
    return out


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    if not client.wait_healthy(url, timeout):
        raise AssertionError(f"{url}/healthz never answered 200")


def wait_for(predicate: object, timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> object:
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = predicate()  # type: ignore[operator]
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


class Cli:
    """The ``suanli`` command as a user runs it, against one API with one token."""

    def __init__(self, url: str, token: str, cwd: Path) -> None:
        self.env = {**os.environ, "SUANLI_URL": url, "SUANLI_TOKEN": token, "SUANLI_CONFIG": str(cwd / "none.json")}
        self.cwd = cwd

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "-m", "suanli.cli.main", *args], env=self.env, cwd=self.cwd,
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def json(self, *args: str) -> Any:
        at = args.index("--") if "--" in args else len(args)
        return json.loads(self.run(*args[:at], "--json", *args[at:]).stdout)


def agent_pids(data: Path, site: str | None = None) -> list[int]:
    """Pids of live ``suanli agent`` processes started for the data directory ``data`` (by ``up``),
    of one site or all."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (b"agent" in cmd and any(str(data).encode() in c for c in cmd)
                    and (site is None or site.encode() in cmd)):
                out.append(int(d.name))
    return out


# -- the engines (Slurm, Ray) the agent tests run against ------------------------------------------
CI_SLURM_CONF = Path(os.environ.get("SUANLI_SLURM_DIR", "/tmp/suanli-slurm")) / "etc" / "slurm.conf"


def needs(what: str, how: str) -> None:
    """Skip: a component the test needs is missing; under ``CI=true`` fail instead, saying how."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} under CI=true: {how}")
    pytest.skip(what)


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30)


def slurm_problem() -> str:
    """Why the test Slurm cluster cannot be used, or "" when it answers."""
    if not os.environ.get("SLURM_CONF") and CI_SLURM_CONF.exists():
        os.environ["SLURM_CONF"] = str(CI_SLURM_CONF)    # a shell that did not source .ci/slurm.sh
    if not os.environ.get("SUANLI_SLURM") and not os.environ.get("SLURM_CONF"):
        return "SUANLI_SLURM is not set (start one with .ci/slurm.sh start)"
    if shutil.which("sbatch") is None:
        return "sbatch is not on PATH"
    try:
        p = sh("sinfo", "-h", "-o", "%P")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo: {exc}"
    return "" if p.returncode == 0 else f"sinfo: {p.stderr.strip()}"
