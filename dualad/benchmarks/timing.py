"""Timing helpers: the median of repeats, each repeat long enough to dwarf the clock."""
from __future__ import annotations

import time


def median_time(fn, repeats=7, min_time=0.05):
    """Median seconds per call of ``fn()`` over ``repeats`` runs of enough calls each."""
    fn()  # warm caches and lazy imports
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= min_time or number >= 1 << 20:
            break
        number *= 2
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    runs.sort()
    return runs[len(runs) // 2]
