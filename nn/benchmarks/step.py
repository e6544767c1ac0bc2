"""The MLP training step (issues 4 and 14): ``nn`` through the tape, and the same loss staged
by ``ad.jit``, against hand-written NumPy.

One SGD step of a 64→128→10 ReLU MLP with softmax cross-entropy on a batch of 64, float64:

* **dualad**: ``nn.Sequential`` + ``nn.functional.cross_entropy`` + ``Tensor.backward`` +
  ``nn.optim.SGD`` — ``zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward();
  opt.step()``;
* **hand-written**: the same forward pass, backward pass and update written out in NumPy;
* **jit** (``--jit``): ``ad.jit(ad.value_and_grad(loss))`` of the functional loss plus the SGD
  update, its cache hit timed against the hand-written step (target: at most 1.2×), with the
  cost of tracing it as a multiple of one eager call.

Both start from the same weights; the script first checks that a few steps give the same
losses and parameters, then times both in alternating rounds of the same run (the fastest round
of each) and prints the ratio. Target: at most 2× the hand-written step.

Run: ``python -m nn.benchmarks.step`` (``--json`` for machine-readable output,
``--blas-threads 0`` to time with the BLAS library's own thread count).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

import dualad as ad
import nn
import nn.functional as F
from dualad.benchmarks.staging import trace_cost
from dualad.benchmarks.timing import paired_times, timer
from nn import init

N_IN, N_HIDDEN, N_OUT, BATCH, LR = 64, 128, 10, 64, 0.1
TARGET, JIT_TARGET = 2.0, 1.2


def make_problem(seed=0):
    """Inputs, labels and a seeded model with its optimizer."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, N_IN))
    y = rng.integers(0, N_OUT, size=BATCH)
    init.seed(seed)
    model = nn.Sequential(nn.Linear(N_IN, N_HIDDEN), nn.ReLU(), nn.Linear(N_HIDDEN, N_OUT))
    opt = nn.optim.SGD(model.parameters(), lr=LR)
    return x, y, model, opt


def dualad_step_fn(x, y, model, opt):
    """One training step through ``nn``, the tape and ``nn.optim``."""
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


class HandWritten:
    """The same step with the forward pass, its derivative and the update written out."""

    def __init__(self, params, x, y):
        self.w1, self.b1, self.w2, self.b2 = [np.array(p, copy=True) for p in params]
        self.x, self.y = x, y
        self.rows = np.arange(len(y))

    def step(self):
        x, y, rows = self.x, self.y, self.rows
        h = x @ self.w1.T + self.b1
        a = np.maximum(h, 0.0)
        z = a @ self.w2.T + self.b2
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - z[rows, y])
        dz = e / s
        dz[rows, y] -= 1.0
        dz /= len(y)
        dw2 = dz.T @ a
        db2 = dz.sum(axis=0)
        dh = (dz @ self.w2) * (h > 0)
        dw1 = dh.T @ x
        db1 = dh.sum(axis=0)
        self.w1 -= LR * dw1
        self.b1 -= LR * db1
        self.w2 -= LR * dw2
        self.b2 -= LR * db2
        return loss

    def params(self):
        return [self.w1, self.b1, self.w2, self.b2]


def check_agreement(steps=5):
    """Raise unless both implementations produce the same losses and parameters."""
    x, y, model, opt = make_problem()
    ours = dualad_step_fn(x, y, model, opt)
    ref = HandWritten([p.data for p in model.parameters()], x, y)
    for _ in range(steps):
        l1 = ours().item()
        l2 = ref.step()
        np.testing.assert_allclose(l1, l2, rtol=1e-12)
    for p, q in zip(model.parameters(), ref.params()):
        np.testing.assert_allclose(p.data, q, rtol=1e-10, atol=1e-13)


def measure(rounds=15, number=100):
    """Seconds per step of both, and their ratio.

    The two are timed in alternating rounds and each keeps its fastest round: on a shared
    machine, other processes only ever add time, so the minimum is the steadiest estimate and
    alternating exposes both to the same conditions.
    """
    check_agreement()
    x, y, model, opt = make_problem()
    ours = dualad_step_fn(x, y, model, opt)
    ref = HandWritten([p.data for p in model.parameters()], x, y)
    for _ in range(number):  # warm up caches, lazy imports and allocator pools
        ours()
        ref.step()
    t_ours = t_ref = float("inf")
    timed_ours, timed_ref = timer(ours), timer(ref.step)
    for _ in range(rounds):
        t_ours = min(t_ours, timed_ours.timeit(number) / number)
        t_ref = min(t_ref, timed_ref.timeit(number) / number)
    return {"dualad_us": t_ours * 1e6, "numpy_us": t_ref * 1e6, "ratio": t_ours / t_ref,
            "target_ratio": TARGET}


def measure_jit():
    """The staged step: ``ad.jit`` of ``value_and_grad`` of the functional loss, plus the SGD
    update, against the hand-written step (and the eager transform against it too)."""
    x, y, model, _ = make_problem()
    params = [np.array(p.data, copy=True) for p in model.parameters()]

    def loss(w1, b1, w2, b2):
        return F.cross_entropy(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2), y)

    vg = ad.value_and_grad(loss, argnums=(0, 1, 2, 3))
    jvg = ad.jit(vg)
    ref = HandWritten(params, x, y)
    ours = [p.copy() for p in params]

    def step(fn):
        value, grads = fn(*ours)
        for p, g in zip(ours, grads):
            p -= LR * g
        return value

    for _ in range(3):  # the same losses as the hand-written step
        assert abs(step(jvg) - ref.step()) <= 1e-12
    t_jit, t_ref = paired_times(lambda: step(jvg), ref.step)
    t_eager, t_ref2 = paired_times(lambda: step(vg), ref.step, rounds=5)
    return {"jit": t_jit / t_ref, "eager": t_eager / t_ref2, "trace_x": trace_cost(vg, *ours),
            "target_ratio": JIT_TARGET}


def _blas_threads(n):
    """A context limiting BLAS to ``n`` threads (``0``: the library's default), and its label.

    The matrices here are tiny: BLAS threads only add wake-up latency, which on a busy machine
    swamps both timings (more so the tape's, whose BLAS calls are further apart).
    """
    import contextlib
    if not n:
        return contextlib.nullcontext(), "library default"
    from threadpoolctl import threadpool_limits  # (a dependency of dualad)
    return threadpool_limits(limits=n, user_api="blas"), str(n)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="BLAS threads while timing (0: the library's default; default 1)")
    parser.add_argument("--jit", action="store_true",
                        help="time the step staged by ad.jit instead of nn + the tape")
    args = parser.parse_args(argv)
    limit, threads = _blas_threads(args.blas_threads)
    with limit:
        r = measure_jit() if args.jit else measure()
    r["blas_threads"] = threads
    if args.json:
        print(json.dumps(r))
        return
    if args.jit:
        trace, compile_ = r["trace_x"]
        print(f"value_and_grad MLP loss + SGD (BLAS threads: {threads}): jit {r['jit']:.2f}x "
              f"hand-written, eager {r['eager']:.2f}x (target ≤ {JIT_TARGET:g}x); trace "
              f"{trace:.1f}x eager (+{compile_:.1f}x to compile and replay once)")
        return
    print(f"MLP step {N_IN}->{N_HIDDEN}->{N_OUT}, batch {BATCH}, float64, SGD "
          f"(BLAS threads: {threads}): nn + tape {r['dualad_us']:.0f} µs, hand-written NumPy "
          f"{r['numpy_us']:.0f} µs: {r['ratio']:.2f}x (target ≤ {TARGET:g}x)")


if __name__ == "__main__":
    main()
