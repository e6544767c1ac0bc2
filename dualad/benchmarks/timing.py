"""Timing helpers: the median of repeats, each repeat long enough to dwarf the clock."""
from __future__ import annotations

import time


def median_time(fn, repeats=7, min_time=0.05):
    """Median seconds per call of ``fn()`` over ``repeats`` runs of enough calls each."""
    number = _calibrate(fn, min_time)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    runs.sort()
    return runs[len(runs) // 2]


def paired_times(fn, ref, rounds=15, min_time=0.02):
    """``(t_fn, t_ref)``: seconds per call of ``fn()`` and of ``ref()``, timed in alternating
    rounds of the same run, the fastest round of each.

    For a ratio on a shared machine: load that comes and goes hits both alike, and the fastest
    round is the least disturbed estimate of each (a median of separate runs can pair a quiet
    stretch for one with a busy one for the other).
    """
    numbers = [_calibrate(fn, min_time), _calibrate(ref, min_time)]
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for k, (g, number) in enumerate(zip((fn, ref), numbers)):
            t0 = time.perf_counter()
            for _ in range(number):
                g()
            best[k] = min(best[k], (time.perf_counter() - t0) / number)
    return best[0], best[1]


def _calibrate(fn, min_time):
    """How many calls of ``fn()`` take at least ``min_time`` seconds (after a warm-up call)."""
    fn()  # warm caches and lazy imports
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= min_time or number >= 1 << 20:
            return number
        number *= 2
