"""Staged programs (issue 14): ``ad.jit`` replays against plain NumPy, in the same run.

Each workload times the jitted transform (a cache hit: the replay of its program) and its
baseline in alternating rounds (:func:`timing.paired_times`), and the eager transform too:

* ``grad`` of the 1000-step logistic map: µs per primitive (3 per step), and plain np.float64;
* ``grad`` of the Helmholtz free energy, n = 50 and 1000, against one evaluation of f;
* ``jacfwd`` of ``tanh(W2 @ tanh(W1 @ x))``, n = m = 256, against the analytic Jacobian;
* ``hessian`` of logsumexp(Ax) + ½‖x‖², n = 200, against the analytic Hessian;

and the cost of tracing (one ``ad.trace`` as a multiple of one eager call), the overhead of a
cache hit (a jitted ``x + 1`` against calling its compiled program directly), and the peak
memory of a replay against the eager transform (tracemalloc).

Run: ``python -m dualad.benchmarks.staging``. The staged MLP training step (``nn``'s loss
under ``ad.jit``) is ``python -m nn.benchmarks.step --jit``: ``dualad`` imports nothing of ``nn``.
"""
from __future__ import annotations

import numpy as np

import dualad as ad

from .problems import helmholtz, helmholtz_setup, logistic_map, mlp, mlp_jacobian, mlp_setup
from .reverse import hessian_lse, lse_hessian_analytic, lse_setup, peak_bytes  # noqa: F401
from .timing import paired_times


def trace_cost(fn, *args):
    """``(trace, compile)``: one ``ad.trace(fn, *args)``, and the writing and compiling of its
    source with the first replay, each as a multiple of one eager ``fn(*args)`` (alternating
    rounds, like the ratios: the load of this shared machine changes within seconds)."""
    t_trace, t_eager = paired_times(lambda: ad.trace(fn, *args), lambda: fn(*args), rounds=5)
    t_both, t_eager2 = paired_times(lambda: ad.trace(fn, *args)(*args), lambda: fn(*args),
                                    rounds=5)
    return t_trace / t_eager, max(t_both / t_eager2 - t_trace / t_eager, 0.0)


def logistic(steps=1000):
    g = ad.grad(lambda x: logistic_map(x, steps))
    jg = ad.jit(g)
    assert abs(jg(0.3) - g(0.3)) <= 1e-9 * abs(g(0.3))
    t_jit, t_plain = paired_times(lambda: jg(0.3), lambda: logistic_map(np.float64(0.3), steps))
    t_eager, _ = paired_times(lambda: g(0.3), lambda: None, rounds=5)
    n = 3 * steps
    return {"jit_us": t_jit / n * 1e6, "eager_us": t_eager / n * 1e6,
            "plain_us": t_plain / n * 1e6, "trace_x": trace_cost(g, 0.3)}


def helmholtz_grad(n):
    x, b, a = helmholtz_setup(n)
    g = ad.grad(lambda v: helmholtz(v, b, a))
    jg = ad.jit(g)
    np.testing.assert_allclose(jg(x), g(x), rtol=1e-11)
    t_jit, t_f = paired_times(lambda: jg(x), lambda: helmholtz(x, b, a), rounds=40)
    t_eager, t_f2 = paired_times(lambda: g(x), lambda: helmholtz(x, b, a), rounds=10)
    return {"jit": t_jit / t_f, "eager": t_eager / t_f2, "trace_x": trace_cost(g, x),
            "memory": _memory_ratio(jg, g, x)}


def _memory_ratio(jitted, eager, *args):
    return peak_bytes(lambda: jitted(*args)) / peak_bytes(lambda: eager(*args))


def mlp_jacfwd(n=256, m=256):
    x, w1, w2 = mlp_setup(n, m)
    jf = ad.jacfwd(lambda v: mlp(v, w1, w2))
    jj = ad.jit(jf)
    np.testing.assert_allclose(jj(x), mlp_jacobian(x, w1, w2), rtol=1e-10, atol=1e-12)
    t_jit, t_ref = paired_times(lambda: jj(x), lambda: mlp_jacobian(x, w1, w2))
    t_eager, t_ref2 = paired_times(lambda: jf(x), lambda: mlp_jacobian(x, w1, w2), rounds=5)
    return {"jit": t_jit / t_ref, "eager": t_eager / t_ref2, "trace_x": trace_cost(jf, x),
            "memory": _memory_ratio(jj, jf, x)}


def lse_hessian(n=200, m=300):
    a, x = lse_setup(n, m)
    h = ad.hessian(lambda v: ad.logsumexp(a @ v) + 0.5 * np.sum(v * v))
    jh = ad.jit(h)
    np.testing.assert_allclose(jh(x), lse_hessian_analytic(a, x), rtol=1e-9, atol=1e-12)
    t_jit, t_ref = paired_times(lambda: jh(x), lambda: lse_hessian_analytic(a, x))
    t_eager, t_ref2 = paired_times(lambda: h(x), lambda: lse_hessian_analytic(a, x), rounds=5)
    return {"jit": t_jit / t_ref, "eager": t_eager / t_ref2, "trace_x": trace_cost(h, x),
            "memory": _memory_ratio(jh, h, x)}


def cache_hit_overhead():
    """µs a cache hit adds to running the compiled program itself."""
    jf = ad.jit(lambda x: x + 1.0)
    x = np.ones(3)
    jf(x)
    prog = jf.programs(x)[0]
    fn = prog._fn
    t_hit, t_fn = paired_times(lambda: jf(x), lambda: fn(x))
    return {"overhead_us": (t_hit - t_fn) * 1e6, "hit_us": t_hit * 1e6}


def _costs(r):
    trace, compile_ = r["trace_x"]
    return f"trace {trace:.1f}x eager (+{compile_:.1f}x to compile and replay once)"


def main():
    r = logistic()
    print(f"grad logistic map (1000 steps): jit {r['jit_us']:.2f} µs/primitive, eager "
          f"{r['eager_us']:.2f}, plain np.float64 {r['plain_us']:.3f} (target ≤ 0.5); "
          f"{_costs(r)}")
    for n, target in ((50, 3.0), (1000, 2.2)):
        r = helmholtz_grad(n)
        print(f"grad Helmholtz n={n}: jit {r['jit']:.2f}x f, eager {r['eager']:.2f}x f "
              f"(target ≤ {target}x); {_costs(r)}; replay memory {r['memory']:.2f}x eager")
    r = mlp_jacfwd()
    print(f"jacfwd tanh MLP n=m=256: jit {r['jit']:.2f}x analytic, eager {r['eager']:.2f}x "
          f"(target ≤ 1.3x); {_costs(r)}; memory {r['memory']:.2f}x eager")
    r = lse_hessian()
    print(f"hessian logsumexp n=200: jit {r['jit']:.2f}x analytic, eager {r['eager']:.2f}x "
          f"(target ≤ 1.5x); {_costs(r)}; memory {r['memory']:.2f}x eager")
    r = cache_hit_overhead()
    print(f"cache hit: {r['overhead_us']:.2f} µs over the compiled program (target ≤ 3); "
          f"a jitted x + 1.0 takes {r['hit_us']:.2f} µs")


if __name__ == "__main__":
    main()
