"""``suanli agent`` refuses an engine it cannot use with one line and exit code 2, before it leases
anything: an unknown backend or option, a Slurm without ``sbatch`` on the PATH, an unreachable Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port


def agent(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "suanli.cli.main", "agent", "--site", "s1",
                           "--url", f"http://127.0.0.1:{free_port()}", "--token", "sl_x_y",
                           "--work-dir", str(tmp_path / "work"), *args],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("args", "env", "says"), [
    (["--backend", "kubernetes"], None, "no backend for engine 'kubernetes'; the backends are: local, slurm, ray"),
    (["--backend", "slurm", "--option", "colour=blue"], None,
     "unknown slurm option 'colour'; valid: partition, account, qos, sbatch_flags"),
    (["--backend", "ray", "--option", "address=http://127.0.0.1:9"], None, "ray at http://127.0.0.1:9"),
    (["--backend", "slurm"], {"PATH": "/nonexistent"}, "sbatch"),
    (["--backend", "slurm", "--option", "partition"], None, "expected KEY=VALUE"),
])
def test_an_unusable_engine_is_one_line_and_exit_2(tmp_path: Path, args: list[str], env: dict[str, str] | None,
                                                   says: str) -> None:
    out = agent(tmp_path, *args, env=env)
    assert out.returncode == 2, out.stderr
    assert says in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
