"""Effective compute by roofline, run-time scaling between chips, energy and carbon.

Roofline: a job class has an arithmetic intensity I (FLOP per byte of memory traffic). On a chip
with dense FP16 peak P (TFLOPS) and memory bandwidth B (GB/s) the attainable throughput is
``min(P, I x B / 1000)`` TFLOPS. Defaults per class (documented in README):

========  =====  ===============================================================
class     I      why
========  =====  ===============================================================
train     300    large dense matmuls, compute-bound on every listed chip
finetune  200    smaller batches, mostly compute-bound
infer     30     token-by-token decoding reads weights per token: memory-bound
batch     100    mixed offline work
========  =====  ===============================================================

A job's run time on chip B, measured (or declared) on chip A, is ``t_A x eff(A) / eff(B)``.
Energy = TDP x count x hours x PUE (kWh); carbon = energy x grid intensity x (1 - green share).
"""

from __future__ import annotations

from suanli.domain.accelerators import Accelerator
from suanli.domain.jobs import Job, JobClass
from suanli.domain.units import SECONDS_PER_HOUR, TFLOPS_PER_PFLOPS

DEFAULT_INTENSITY: dict[JobClass, float] = {
    JobClass.TRAIN: 300.0,
    JobClass.FINETUNE: 200.0,
    JobClass.INFER: 30.0,
    JobClass.BATCH: 100.0,
}


def intensity_of(job: Job) -> float:
    """The job's arithmetic intensity: its own override, else its class default."""
    return job.arithmetic_intensity if job.arithmetic_intensity is not None else DEFAULT_INTENSITY[job.job_class]


def effective_tflops(acc: Accelerator, intensity: float) -> float:
    """Attainable FP16 TFLOPS by roofline: min(peak, intensity x bandwidth)."""
    return min(acc.fp16_tflops, intensity * acc.memory_bw_gbps / 1000.0)


def speed_ratio(source: Accelerator, target: Accelerator, intensity: float) -> float:
    """How many times faster ``target`` runs work of this intensity than ``source``."""
    return effective_tflops(target, intensity) / effective_tflops(source, intensity)


def runtime_on(job: Job, target: Accelerator, reference: Accelerator) -> float:
    """Seconds the job runs on ``job.gpus`` chips of ``target``."""
    intensity = intensity_of(job)
    if job.compute_pf16h is not None:
        eff_pflops = effective_tflops(target, intensity) * job.gpus / TFLOPS_PER_PFLOPS
        return job.compute_pf16h / eff_pflops * SECONDS_PER_HOUR
    return job.duration_s / speed_ratio(reference, target, intensity)


def energy_kwh(acc: Accelerator, count: float, seconds: float, pue: float) -> float:
    """Facility energy of running ``count`` chips at TDP for ``seconds``, PUE included."""
    return acc.tdp_w * count * seconds / SECONDS_PER_HOUR / 1000.0 * pue


def carbon_kg(energy: float, g_per_kwh: float, green_share: float) -> float:
    """kg CO2 of ``energy`` kWh drawn from a grid of ``g_per_kwh`` with a green-power share."""
    return energy * g_per_kwh * (1.0 - green_share) / 1000.0
