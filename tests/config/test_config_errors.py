"""A wrong federation or job file names the file, the field, the value and the fix."""

import pytest

from suanli.config.federation_file import load_federation, parse_federation
from suanli.config.jobs_file import parse_jobs
from suanli.domain.errors import ConfigError
from tests.scheduling.builders import TWO_SITES, federation


def test_good_file_parses():
    fed = federation()
    assert [s.name for s in fed.sites] == ["east-a100", "west-h100"]
    assert fed.link("west", "east").rtt_ms == 40  # links are symmetric
    assert fed.link("east", "east").rtt_ms == 1.0


@pytest.mark.parametrize(("old", "new", "field", "fix_part"), [
    ("accelerator: A100", "accelerator: GTX1080", "sites[0].pools[0].accelerator", "h100-sxm5-80gb"),
    ("region: west\n", "region: mars\n", "sites[1].region", "east"),
    ("nodes: 1}]\n  - name: west", "nodes: 0}]\n  - name: west", "sites[0].pools[0].nodes", "1 or more"),
    ("pue: 1.5", "pue: 0.9", "sites[0].pue", ">= 1.0"),
    ("green_share: 0.5", "green_share: 50", "sites[1].green_share", "<= 1.0"),
    ("tier: hub", "tier: mega", "sites[1].tier", "hub, city, edge"),
    ("price_per_pf16h: 8", "price_per_pf16h: cheap", "sites[1].price_per_pf16h", "number"),
    ("    pue: 1.2", "    pue: 1.2\n    colour: blue", "sites[1].colour", "price_per_pf16h"),
    ("price_per_pf16h: 8", "price_per_pf16h: -3", "sites[1].price_per_pf16h", ">= 0"),
    ("{name: west, carbon_g_per_kwh: 150}", "{name: east, carbon_g_per_kwh: 150}", "regions[1].name",
     "unique name"),
    ("  - name: west-h100", "  - name: east-a100", "sites[1].name", "unique name"),
    ("{src: east, dst: west,", "{src: east, dst: atlantis,", "links[0].dst", "east, west"),
    ("    pue: 1.2", "    pue: 1.2\n    engine: slurm\n    engine_options: {partition: gpu, nodes: 3}",
     "sites[1].engine_options.nodes", "account, partition, qos, sbatch_flags"),
    ("    pue: 1.2", "    pue: 1.2\n    engine: warp", "sites[1].engine", "local, slurm, ray"),
])
def test_wrong_federation_names_file_field_value_and_fix(old, new, field, fix_part):
    assert old in TWO_SITES
    with pytest.raises(ConfigError) as err:
        parse_federation(TWO_SITES.replace(old, new, 1), "fed.yaml")
    text = str(err.value)
    assert text.startswith("fed.yaml: ")
    assert field in text
    assert "Fix:" in text and fix_part in text


def test_invalid_yaml_and_missing_file():
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_federation("sites: [", "broken.yaml")
    with pytest.raises(ConfigError, match="file not found"):
        load_federation("/nonexistent/fed.yaml")
    with pytest.raises(ConfigError, match="no such packaged federation"):
        load_federation("atlantis")


@pytest.mark.parametrize(("job", "field", "problem"), [
    ("{id: a, gpus: 0}", "jobs[0].gpus", "positive"),
    ("{id: a, gpus: -2}", "jobs[0].gpus", "positive"),
    ("{id: a, gpus: 64}", "jobs[0].gpus", "the largest pool holds 8: ask for at most 8 accelerators"),
    ("{id: a, allowed_models: [T4]}", "jobs[0].allowed_models", "model refuses"),
    ("{id: a, deadline: 50}", "jobs[0].deadline", "in the past"),
    ("{id: a, allowed_models: [TPUv9]}", "jobs[0].allowed_models", "unknown accelerator"),
    ("{id: a, data: [{region: moon, size_gb: 1}]}", "jobs[0].data[0].region", "unknown region"),
    ("{id: a, user_region: moon}", "jobs[0].user_region", "unknown region"),
    ("{id: a, class: dance}", "jobs[0].class", "not a valid choice"),
    ("{id: a, latency_slo_ms: 20}", "jobs[0].latency_slo_ms", "needs a positive value and a user_region"),
])
def test_wrong_job_gets_a_specific_error(job, field, problem):
    with pytest.raises(ConfigError) as err:
        parse_jobs(f"now: 100\njobs:\n  - {job}\n", "q.yaml", federation())
    text = str(err.value)
    assert text.startswith("q.yaml: ")
    assert field in text and problem in text


def test_duplicate_job_ids_are_refused():
    with pytest.raises(ConfigError, match="duplicate job id"):
        parse_jobs("jobs: [{id: a}, {id: a}]", "q.yaml")


def test_up_with_a_bad_federation_file_says_what_is_wrong_and_starts_nothing(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text(TWO_SITES.replace("{src: east, dst: west,", "{src: east, dst: atlantis,", 1))
    data = tmp_path / "data"
    out = subprocess.run([sys.executable, "-m", "suanli.cli.main", "up", "--federation", str(bad), "--data-dir",
                          str(data), "--port", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "links[0].dst" in out.stderr and "atlantis" in out.stderr and "Traceback" not in out.stderr
    assert not data.exists()                      # nothing half-made: no store, no tokens
