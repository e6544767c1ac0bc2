"""The benchmark timers (timeit underneath): paired rounds alternate, each run lasts long
enough, the garbage collector stays on in the benchmarks and off in ``dualad compare``."""
from __future__ import annotations

import gc
import time
import types

from dualad.benchmarks import timing
from dualad.benchmarks.conv import best_times
from dualad.compare import median_seconds


def _logging(log, name, seconds=0.0):
    def fn():
        log.append((name, gc.isenabled()))
        if seconds:
            time.sleep(seconds)
    return fn


def test_paired_times_alternates_whole_rounds_and_keeps_the_collector_on():
    log = []
    t_a, t_b = timing.paired_times(_logging(log, "a", 1e-3), _logging(log, "b"), rounds=3,
                                   min_time=2e-3)
    assert t_a >= 1e-3 > t_b > 0.0
    assert all(on for _, on in log)  # gc on, as the hand loops had it: its cost is measured
    runs = [name for k, (name, _) in enumerate(log) if k == 0 or log[k - 1][0] != name]
    # calibration (warm-up, then doubling) of each, then three a-b rounds
    assert runs == ["a", "b", "a", "b", "a", "b", "a", "b"]
    calls_a = sum(1 for name, _ in log if name == "a")
    assert calls_a >= 2 + 3 * 2  # each round of a lasts >= min_time: at least 2 sleeps of 1 ms


def test_median_time_takes_the_median_of_runs():
    log = []
    t = timing.median_time(_logging(log, "a", 1e-3), repeats=3, min_time=1e-3)
    assert 1e-3 <= t < 0.5


def test_conv_best_times_interleaves_with_an_untimed_call_before_each_timed_one():
    log = []
    best = best_times({"a": _logging(log, "a"), "b": _logging(log, "b", 1e-3)}, repeats=2)
    assert [name for name, _ in log] == ["a", "a", "b", "b"] * 2
    assert best["b"] >= 1e-3 > best["a"]


def test_compare_median_seconds_times_with_the_collector_off():
    log = []
    settings = types.SimpleNamespace(min_time=3e-3, repeats=5)
    mid, spread = median_seconds(_logging(log, "a", 1e-3), 1e-3, settings)
    assert len(log) == 5 * 3 and not any(on for _, on in log)
    assert gc.isenabled()  # and back on after
    assert mid >= 1e-3 and 0.0 <= spread < mid * 100
