"""Trace readers: packaged copies, user files, row errors with file/line/field, skipping."""

from __future__ import annotations

import gzip

import pytest

from suanli.cli.main import main
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.traces import TraceOptions, read_trace, reader_names, register_reader

MSR_HEADER = "cluster,job_id,submit_time_s,duration_s,num_gpus,gpu_type,status,user,vc\n"


def test_registry_lists_readers_and_rejects_unknown_and_duplicates():
    assert {"msr-itp", "openb", "synthetic"} <= set(reader_names())
    with pytest.raises(UnknownName, match="msr-itp"):
        read_trace("philly")
    with pytest.raises(ValueError):
        register_reader("msr-itp", lambda: None)  # type: ignore[arg-type,return-value]


def test_msr_itp_packaged_copy():
    tr = read_trace("msr-itp", TraceOptions(regions=("east", "west"), home_regions={"cluster04": "west"}))
    assert len(tr.jobs) == 52049 and tr.skipped_total == 0
    assert len({j.tenant for j in tr.jobs}) == 10
    assert all(j.data[0].region == "west" for j in tr.jobs if j.tenant == "cluster04")
    submits = [j.submit_time for j in tr.jobs]
    assert submits == sorted(submits)
    assert max(j.gpus for j in tr.jobs) == 64


def test_malformed_row_names_file_line_and_field(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(MSR_HEADER + "c1,a,0,600,1,,,,\nc1,b,10,ten,1,,,,\nc2,c,20,700,0,,,,\n")
    with pytest.raises(InvalidInput) as err:
        read_trace("msr-itp", TraceOptions(path=path))
    assert str(err.value).startswith(f"{path}:3: duration_s = 'ten': is not a number")
    tr = read_trace("msr-itp", TraceOptions(path=path, skip_bad_rows=True))
    assert [j.id for j in tr.jobs] == ["a"]
    assert tr.skipped == {"malformed duration_s": 1, "malformed num_gpus": 1}


def test_missing_column_and_gzip_user_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("cluster,job_id,submit_time_s\nc1,a,0\n")
    with pytest.raises(InvalidInput, match="missing column"):
        read_trace("msr-itp", TraceOptions(path=bad))
    good = tmp_path / "good.csv.gz"
    good.write_bytes(gzip.compress((MSR_HEADER + "c1,a,5,600,8,,,,\n").encode()))
    (job,) = read_trace("msr-itp", TraceOptions(path=good)).jobs
    assert (job.id, job.gpus, job.duration_s, job.submit_time) == ("a", 8, 600.0, 5.0)


def test_openb_fractional_gpus_models_and_skips():
    tr = read_trace("openb")
    assert tr.skipped["cpu-only"] == 1088
    fractional = [j for j in tr.jobs if dict(j.labels)["gpu_milli"] != "1000"]
    assert fractional and all(j.gpus == 1 for j in fractional)
    assert {j.tenant for j in tr.jobs} <= {"openb-LS", "openb-BE", "openb-Burstable", "openb-Guaranteed"}


def test_openb_models_map_to_the_catalog_and_unknown_is_a_row_error(tmp_path):
    path = tmp_path / "pods.csv"
    header = "job_id,submit_time_s,duration_s,num_gpus,gpu_milli,gpu_type,qos\n"
    path.write_text(header + "p1,0,100,1,500,T4|A10,LS\np2,5,100,2,1000,G2,BE\n")
    one, two = read_trace("openb", TraceOptions(path=path)).jobs
    assert one.allowed_models == ("a10-pcie-24gb", "t4-pcie-16gb") and dict(one.labels)["gpu_milli"] == "500"
    assert two.allowed_models == ()          # G2 is an undisclosed model: any chip
    path.write_text(header + "p1,0,100,1,500,B200,LS\n")
    with pytest.raises(InvalidInput, match=r"pods.csv:2: gpu_type"):
        read_trace("openb", TraceOptions(path=path))


def test_synthetic_is_seeded_and_shaped_like_msr():
    a = read_trace("synthetic", TraceOptions(seed=5, limit=3000))
    b = read_trace("synthetic", TraceOptions(seed=5, limit=3000))
    c = read_trace("synthetic", TraceOptions(seed=6, limit=3000))
    assert a.jobs == b.jobs and a.jobs != c.jobs
    single = sum(j.gpus == 1 for j in a.jobs) / len(a.jobs)
    assert 0.82 < single < 0.89                      # MSR: 85.7% of jobs use one GPU
    assert min(j.duration_s for j in a.jobs) >= 600


def test_cli_bad_row_exits_2_and_skip_bad_rows_reports(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text(MSR_HEADER + "c1,a,0,600,1,,,,\nc1,b,10,-5,1,,,,\n")
    out = tmp_path / "out"
    argv = ["simulate", "--trace", "msr-itp", "--trace-path", str(path), "--compare", "", "--out", str(out),
            "--no-plots", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: duration_s = '-5'" in err and len(err.strip().splitlines()) == 1
    assert main([*argv, "--skip-bad-rows"]) == 0
    assert "skipped rows: 1 (malformed duration_s: 1)" in capsys.readouterr().err
