"""Timing helpers on :class:`timeit.Timer`: the median of repeats, or paired alternating rounds,
each run long enough to dwarf the clock."""
from __future__ import annotations

import timeit


def timer(fn):
    """A :class:`timeit.Timer` of ``fn()`` that leaves the garbage collector on.

    timeit turns it off while timing; here it stays on (as it always was in these benchmarks):
    the tape and the lanes allocate objects plain NumPy does not, and the collections they
    trigger are part of the cost the ratios measure.
    """
    return timeit.Timer(fn, "gc.enable()")


def median_time(fn, repeats=7, min_time=0.05):
    """Median seconds per call of ``fn()`` over ``repeats`` runs of enough calls each."""
    t = timer(fn)
    number = _calibrate(t, min_time)
    runs = sorted(run / number for run in t.repeat(repeats, number))
    return runs[len(runs) // 2]


def paired_times(fn, ref, rounds=15, min_time=0.02):
    """``(t_fn, t_ref)``: seconds per call of ``fn()`` and of ``ref()``, timed in alternating
    rounds of the same run, the fastest round of each.

    For a ratio on a shared machine: load that comes and goes hits both alike, and the fastest
    round is the least disturbed estimate of each (a median of separate runs can pair a quiet
    stretch for one with a busy one for the other).
    """
    timers = [timer(fn), timer(ref)]
    numbers = [_calibrate(t, min_time) for t in timers]
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for k, (t, number) in enumerate(zip(timers, numbers)):
            best[k] = min(best[k], t.timeit(number) / number)
    return best[0], best[1]


def _calibrate(t, min_time):
    """How many calls of the timer ``t``'s function take at least ``min_time`` seconds (after a
    warm-up call). Doubling, not :meth:`timeit.Timer.autorange`: that one aims at 0.2 s."""
    t.timeit(1)  # warm caches and lazy imports
    number = 1
    while True:
        if t.timeit(number) >= min_time or number >= 1 << 20:
            return number
        number *= 2
