"""Queue-wait estimates from predicted ends, and claims that make later jobs queue behind."""

import numpy as np

from suanli.scheduling.types import RunningJob
from suanli.scheduling.waits import WaitEstimator
from tests.scheduling.builders import job


def estimator():
    # pool 0: 4 accelerators free at t=100, 4 more at t=200; pool 1: nothing running
    running = [RunningJob(job("a", gpus=4), 0, 4, 0, 100), RunningJob(job("b", gpus=4), 0, 4, 0, 200)]
    return WaitEstimator(2, running, now=10)


def waits(w, pool, need):
    return float(w.waits(np.array([pool]), np.array([need]))[0])


def test_wait_until_enough_is_freed():
    w = estimator()
    assert waits(w, 0, 4) == 90
    assert waits(w, 0, 8) == 190
    assert waits(w, 0, 9) == np.inf
    assert waits(w, 1, 1) == np.inf


def test_claims_queue_later_jobs_behind_and_can_repeat():
    w = estimator()
    w.claim(0, 4, start=100, end=1000)   # takes what frees at 100 until 1000
    assert waits(w, 0, 4) == 190         # the next 4 free at 200
    assert waits(w, 0, 8) == 990         # all 8 only once the claim ends
    w.claim(0, 4, start=200, end=500)
    assert waits(w, 0, 4) == 490
    assert waits(w, 0, 8) == 990


def test_overdue_work_counts_as_ending_now():
    w = WaitEstimator(1, [RunningJob(job("late", gpus=2), 0, 2, 0, 5)], now=50)
    assert waits(w, 0, 2) == 0
