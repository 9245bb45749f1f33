"""The parts of a sweep that need no Ray: seeds, the 95% interval, and bad input refused (exit 2)
before any Ray starts."""

from __future__ import annotations

import math

import pytest

from suanli.cli.main import main
from suanli.domain.errors import InvalidInput
from suanli.sweep.plan import parse_seeds
from suanli.sweep.summary import cell, interval95

# Student's t quantiles t(0.975, df) from a printed table (df = 1, 2, 9)
T975 = {1: 12.7062047, 2: 4.3026527, 9: 2.2621572}


@pytest.mark.parametrize(("text", "seeds"), [
    ("0-9", list(range(10))), ("3", [3]), ("0,3,7", [0, 3, 7]), ("0-2,10,1", [0, 1, 2, 10]), (" 4 - 5 ", [4, 5]),
])
def test_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "5-2", "-1", "0-", "1,,2"])
def test_bad_seeds_say_how_to_write_them(text):
    with pytest.raises(InvalidInput, match="0-9"):
        parse_seeds(text)


def test_interval_is_students_t_over_the_seeds():
    s = interval95([1.0, 2.0, 3.0])       # mean 2, s = 1, half = t(0.975, 2) / sqrt(3)
    assert s["n"] == 3 and s["mean"] == 2.0 and s["std"] == pytest.approx(1.0)
    assert s["ci95_low"] == pytest.approx(2.0 - T975[2] / math.sqrt(3), rel=1e-6)
    assert s["ci95_high"] == pytest.approx(2.0 + T975[2] / math.sqrt(3), rel=1e-6)
    ten = [float(v) for v in range(10)]   # mean 4.5, s^2 = 82.5 / 9
    s = interval95(ten)
    assert s["ci95_high"] - s["mean"] == pytest.approx(T975[9] * math.sqrt(82.5 / 9) / math.sqrt(10), rel=1e-6)
    assert interval95([5.0, 5.0])["ci95_low"] == 5.0 == interval95([5.0, 5.0])["ci95_high"]
    one = interval95([7.0])
    assert one["mean"] == 7.0 and one["ci95_low"] is None and one["std"] is None


def test_cell_shows_hours_and_the_half_width():
    s = interval95([3600.0, 7200.0])      # 1.5 h +- 12.706 x 0.5 h = 6.353 h
    assert cell(s, "h") == "1.50 ± 6.4"
    assert cell(interval95([188_000.0, 190_000.0]), "{:,.0f}") == "189,000 ± 13,000"   # 12.706 x 1,000
    assert cell(interval95([2000.0, 2000.0]), "{:d}") == "2,000 ± 0"
    assert cell(interval95([0.05]), "{:.2f}") == "0.0500"
    assert cell(interval95([]), "h") == "-"


@pytest.mark.parametrize(("argv", "message"), [
    (["--profiles", "balanced,nope"], "unknown profile. Fix: use one of: "),
    (["--seeds", "9-1"], "--seeds"),
    (["--trace", "nope"], "unknown trace reader"),
    (["--federation", "nope"], "federation"),
    (["--outage", "no-such-site@10:10"], "unknown site"),
    (["--trace-path", "/nonexistent/run-{seed}.csv", "--trace", "msr-itp"], "/nonexistent/run-0.csv"),
    (["--workers", "2", "--address", "127.0.0.1:1"], "--workers"),
    (["--limit", "0"], "--limit"),
    (["--address", "127.0.0.1:1"], "nothing answers there"),
    (["--address", "head-without-port"], "is not HOST:PORT"),
])
def test_bad_input_exits_2_before_any_ray_starts(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["sweep", "--seeds", "0-1", "--limit", "5", "--quiet", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("suanli: error:") and message in err[0], err
    assert not out.exists()               # nothing ran, nothing written


def test_unknown_profile_lists_the_valid_ones(capsys, tmp_path):
    assert main(["sweep", "--profiles", "balanced,no-such", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    for name in ("balanced", "fifo-firstfit", "cheapest", "random"):
        assert name in err
