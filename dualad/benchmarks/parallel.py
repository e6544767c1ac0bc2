"""Jacobians across workers (issue 16): jacfwd on 2 worker processes against the serial path.

* f: a Lorenz-96 system of n = 64 variables integrated by classical RK4 in plain NumPy, with the
  step count calibrated so that one plain call costs ~50 ms;
* ``jacfwd(f, chunk=4)``: 64 lanes in 16 blocks, serial and on a
  ``ProcessPoolExecutor(2)`` (started and warmed before timing, as a cluster would be), timed in
  alternating rounds of the same run; target: parallel ≤ 0.6× serial;
* overhead per block (submit + transfer of f, x and the block's rows + assembly): the same
  16-block jacfwd of a trivial f on the pool, divided by the blocks.

Run: ``python -m dualad.benchmarks.parallel`` (``--quick`` for a short check).
"""
from __future__ import annotations

import concurrent.futures
import sys

import numpy as np

import dualad as ad

from .timing import paired_times, timer

N, BLOCKS = 64, 16


def lorenz96(x, steps, dt=0.01, forcing=8.0):
    """``steps`` RK4 steps of dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F, from ``x``."""
    def rhs(y):
        return (np.roll(y, -1) - np.roll(y, 2)) * np.roll(y, 1) - y + forcing
    for _ in range(steps):
        k1 = rhs(x)
        k2 = rhs(x + 0.5 * dt * k1)
        k3 = rhs(x + 0.5 * dt * k2)
        k4 = rhs(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


class Simulation:
    """A picklable f of one argument: the Lorenz-96 flow map over a fixed number of steps."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, x):
        return lorenz96(x, self.steps)


def trivial(x):
    return x * 2.0


def calibrate_steps(x, target=0.05):
    """RK4 steps that make one plain call of f cost about ``target`` seconds."""
    per_step = timer(lambda: lorenz96(x, 200)).timeit(1) / 200
    return max(1, round(target / per_step))


def measure(quick=False, workers=2):
    rng = np.random.default_rng(0)
    x = 8.0 + rng.standard_normal(N)
    f = Simulation(calibrate_steps(x, 0.01 if quick else 0.05))
    t_f = min(_time(lambda: f(x)) for _ in range(3))
    chunk = N // BLOCKS
    serial = ad.jacfwd(f, chunk=chunk)
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        spread = ad.jacfwd(f, chunk=chunk, executor=pool)
        j_ser, j_par = serial(x), spread(x)  # (also warms the workers: imports, first calls)
        assert np.array_equal(j_ser, j_par), "executor result differs from the serial one"
        t_par, t_ser = paired_times(lambda: spread(x), lambda: serial(x),
                                    rounds=2 if quick else 3, min_time=0.0)
        cheap = ad.jacfwd(trivial, chunk=chunk, executor=pool)
        cheap(x)
        t_cheap, t_cheap_serial = paired_times(lambda: cheap(x),
                                               lambda: ad.jacfwd(trivial, chunk=chunk)(x),
                                               rounds=5, min_time=0.05)
    return {"n": N, "blocks": BLOCKS, "workers": workers, "steps": f.steps,
            "f_ms": t_f * 1e3, "serial_s": t_ser, "parallel_s": t_par,
            "ratio": t_par / t_ser, "target": 0.6,
            "overhead_us_per_block": (t_cheap - t_cheap_serial) / BLOCKS * 1e6,
            "trivial_pool_us_per_block": t_cheap / BLOCKS * 1e6}


def _time(fn):
    return timer(fn).timeit(1)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    r = measure(quick="--quick" in argv)
    print(f"f: Lorenz-96, n = {r['n']}, {r['steps']} RK4 steps, {r['f_ms']:.1f} ms per call")
    print(f"jacfwd, {r['blocks']} blocks of {r['n'] // r['blocks']} lanes: serial "
          f"{r['serial_s']:.3f} s, {r['workers']} worker processes {r['parallel_s']:.3f} s: "
          f"{r['ratio']:.2f}x serial (target <= {r['target']}x)")
    print(f"overhead per block (submit + transfer + assemble, trivial f, pool minus serial): "
          f"{r['overhead_us_per_block']:.0f} us ({r['trivial_pool_us_per_block']:.0f} us a block "
          f"in all)")
    return r


if __name__ == "__main__":
    main()
