"""Roofline, run-time scaling, PF16-hours, energy and carbon: hand-computed values."""

import pytest

from suanli.domain.accelerators import default_catalog
from suanli.domain.jobs import Job, JobClass
from suanli.domain.units import pf16_hours
from suanli.metering.capacity import capacity_summary
from suanli.metering.compute import carbon_kg, effective_tflops, energy_kwh, runtime_on, speed_ratio

CAT = default_catalog()


@pytest.mark.parametrize(("chip", "intensity", "expected"), [
    # min(peak FP16 dense, intensity x bandwidth / 1000)
    ("A100", 300, 312.0),            # 300 x 2039 / 1000 = 611.7 > 312
    ("A100", 30, 61.17),             # 30 x 2039 / 1000
    ("H100", 300, 989.4),            # 300 x 3350 / 1000 = 1005 > 989.4
    ("H100", 30, 100.5),
    ("H20", 300, 148.0),             # H20: 148 dense, 4000 GB/s
    ("H20", 30, 120.0),
    ("910B", 300, 320.0),            # Ascend 910B: 320, 1600 GB/s -> 480 > 320
    ("910B", 30, 48.0),
])
def test_effective_tflops_by_roofline(chip, intensity, expected):
    assert effective_tflops(CAT.get(chip), intensity) == pytest.approx(expected)


@pytest.mark.parametrize(("job_class", "target", "expected_s"), [
    (JobClass.TRAIN, "H100", 3600 * 312 / 989.4),   # compute-bound: ratio of peaks
    (JobClass.TRAIN, "H20", 3600 * 312 / 148),      # H20 is slow at training
    (JobClass.TRAIN, "910B", 3600 * 312 / 320),
    (JobClass.INFER, "H20", 3600 * 61.17 / 120),    # memory-bound: H20's bandwidth wins
    (JobClass.INFER, "H100", 3600 * 61.17 / 100.5),
    (JobClass.INFER, "910B", 3600 * 61.17 / 48),
])
def test_runtime_scales_by_effective_throughput(job_class, target, expected_s):
    job = Job(id="j", tenant="t", job_class=job_class, duration_s=3600, reference_accelerator="A100")
    assert runtime_on(job, CAT.get(target), CAT.get("A100")) == pytest.approx(expected_s)


def test_infer_runs_faster_on_h20_than_a100_but_training_does_not():
    a100, h20 = CAT.get("A100"), CAT.get("H20")
    assert speed_ratio(a100, h20, 30) > 1.9
    assert speed_ratio(a100, h20, 300) < 0.5


def test_compute_demand_becomes_run_time():
    # 2 PF16-h of training on 4 H100: 2 / (4 x 0.9894) h
    job = Job(id="j", tenant="t", gpus=4, compute_pf16h=2.0)
    assert runtime_on(job, CAT.get("H100"), CAT.get("A100")) == pytest.approx(2 / (4 * 0.9894) * 3600)


@pytest.mark.parametrize(("chip", "count", "hours", "expected"), [
    ("A100", 1, 1, 0.312), ("H100", 1, 1, 0.9894), ("H100", 8, 0.5, 3.9576), ("910B", 16, 2, 10.24),
])
def test_pf16_hours(chip, count, hours, expected):
    assert pf16_hours(CAT.get(chip).fp16_tflops, count, hours * 3600) == pytest.approx(expected)


def test_energy_and_carbon():
    energy = energy_kwh(CAT.get("A100"), 8, 3600, pue=1.25)  # 400 W x 8 x 1 h x 1.25
    assert energy == pytest.approx(4.0)
    assert carbon_kg(energy, 584.9, green_share=0.2) == pytest.approx(4.0 * 584.9 * 0.8 / 1000)
    assert carbon_kg(energy, 584.9, green_share=1.0) == 0


def test_capacity_summary_by_site_region_tier():
    from tests.scheduling.builders import federation

    summary = capacity_summary(federation())
    assert summary.total.accelerators == 16
    assert summary.total.pflops_fp16 == pytest.approx(8 * 0.312 + 8 * 0.9894)
    assert summary.total.pflops_fp32 == pytest.approx(8 * 0.0195 + 8 * 0.0669)
    assert summary.by_region["west"].pflops_fp16 == pytest.approx(8 * 0.9894)
    assert summary.by_tier["city"].accelerators == 8
    assert set(summary.by_site) == {"east-a100", "west-h100"}


def test_catalog_keeps_sources_and_rejects_unknown_chips():
    from suanli.domain.errors import UnknownName

    assert "datasheet" in CAT.get("a100-sxm4-80gb").source.lower()
    with pytest.raises(UnknownName) as err:
        CAT.get("GTX 1080")
    assert "h100-sxm5-80gb" in str(err.value)
