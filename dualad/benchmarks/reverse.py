"""Reverse-mode targets (issue 3), each as a ratio against a baseline timed in the same run.

* scalar overhead: ``ad.grad`` of the 1000-step logistic map, µs per primitive (forward and
  backward together);
* ``ad.grad`` of the Helmholtz free energy against one evaluation of f (n = 50 and 1000);
* ``ad.jacrev`` of ``tanh(W2 @ tanh(W1 @ x))``, n = 1024, m = 16, against the analytic Jacobian;
* ``ad.hessian`` of logsumexp(Ax) + ½‖x‖², n = 200, A 300×200, against the analytic Hessian;
* peak memory (tracemalloc) of the gradient of ``sum(h_50)``, ``h_{i+1} = tanh(W_i h_i)``, 50
  layers of width 512, batch 64, against hand-written NumPy backprop.

Run: ``python -m dualad.benchmarks.reverse``.
"""
from __future__ import annotations

import math
import tracemalloc

import numpy as np

import dualad as ad

from .problems import helmholtz, helmholtz_setup, logistic_map, mlp, mlp_jacobian, mlp_setup
from .timing import paired_times


def scalar_overhead(steps=1000):
    g = ad.grad(lambda x: logistic_map(x, steps))
    # the fastest of alternating rounds: the target is in µs, and this shared machine has
    # stretches where everything, plain NumPy scalars included, runs 1.5-2x slower
    t_ad, t_plain = paired_times(lambda: g(0.3), lambda: logistic_map(np.float64(0.3), steps))
    return {"us_per_primitive": t_ad / (3 * steps) * 1e6,
            "plain_us_per_primitive": t_plain / (3 * steps) * 1e6, "target_us": 5.0}


def helmholtz_grad(n):
    x, b, a = helmholtz_setup(n)
    g = ad.grad(lambda v: helmholtz(v, b, a))
    # 60 rounds: each is short (~20 ms), and the more rounds, the likelier both sides get a
    # quiet one on a shared machine; the ratio is near its target at n = 1000
    t_ad, t_f = paired_times(lambda: g(x), lambda: helmholtz(x, b, a), rounds=60)
    return {"n": n, "ratio": t_ad / t_f, "grad_us": t_ad * 1e6, "f_us": t_f * 1e6}


def mlp_jacrev(n=1024, m=16):
    x, w1, w2 = mlp_setup(n, m)
    jr = ad.jacrev(lambda v: mlp(v, w1, w2))
    np.testing.assert_allclose(jr(x), mlp_jacobian(x, w1, w2), rtol=1e-10, atol=1e-12)
    t_ad, t_ref = paired_times(lambda: jr(x), lambda: mlp_jacobian(x, w1, w2))
    return {"ratio": t_ad / t_ref, "jacrev_ms": t_ad * 1e3, "analytic_ms": t_ref * 1e3}


def lse_setup(n=200, m=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)) / math.sqrt(n), rng.standard_normal(n)


def lse_hessian_analytic(a, x):
    z = a @ x
    p = np.exp(z - z.max())
    p /= p.sum()
    ap = a.T * p
    return ap @ a - np.outer(ap.sum(axis=1), ap.sum(axis=1)) + np.eye(len(x))


def hessian_lse(n=200, m=300):
    a, x = lse_setup(n, m)
    h = ad.hessian(lambda v: ad.logsumexp(a @ v) + 0.5 * np.sum(v * v))
    np.testing.assert_allclose(h(x), lse_hessian_analytic(a, x), rtol=1e-9, atol=1e-12)
    t_ad, t_ref = paired_times(lambda: h(x), lambda: lse_hessian_analytic(a, x))
    return {"ratio": t_ad / t_ref, "hessian_ms": t_ad * 1e3, "analytic_ms": t_ref * 1e3}


def deep_tanh_setup(layers=50, width=512, batch=64, seed=0):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((width, width)) / math.sqrt(width) for _ in range(layers)]
    return ws, rng.standard_normal((width, batch))


def deep_tanh(ws, h):
    for w in ws:
        h = np.tanh(w @ h)
    return np.sum(h)


def deep_tanh_backprop(ws, h):
    """Hand-written backprop: keep each layer's output, sweep back, free as we go."""
    hs = [h]
    for w in ws:
        hs.append(np.tanh(w @ hs[-1]))
    g = np.ones_like(hs[-1])
    grads = [None] * len(ws)
    for i in range(len(ws) - 1, -1, -1):
        out = hs.pop()
        g = g * (1.0 - out * out)
        grads[i] = g @ hs[-1].T
        g = ws[i].T @ g
    return grads


def peak_bytes(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def deep_tanh_memory():
    ws, h = deep_tanh_setup()
    g = ad.grad(deep_tanh)
    got = g(ws, h)
    ref = deep_tanh_backprop(ws, h)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-9, atol=1e-12)
    ours = peak_bytes(lambda: g(ws, h))
    hand = peak_bytes(lambda: deep_tanh_backprop(ws, h))
    return {"ratio": ours / hand, "ours_mib": ours / 2 ** 20, "hand_mib": hand / 2 ** 20}


def main():
    s = scalar_overhead()
    print(f"grad of the logistic map: {s['us_per_primitive']:.2f} µs per primitive "
          f"(target ≤ {s['target_us']}; plain np.float64: {s['plain_us_per_primitive']:.3f} µs)")
    for n, target in ((50, 14), (1000, 3)):
        r = helmholtz_grad(n)
        print(f"grad Helmholtz, n={n}: {r['ratio']:.2f}x f (target ≤ {target}x; "
              f"{r['grad_us']:.0f} µs vs {r['f_us']:.1f} µs)")
    r = mlp_jacrev()
    print(f"jacrev tanh(W2 tanh(W1 x)), n=1024, m=16: {r['ratio']:.2f}x analytic (target ≤ 2x; "
          f"{r['jacrev_ms']:.2f} ms vs {r['analytic_ms']:.2f} ms)")
    r = hessian_lse()
    print(f"hessian logsumexp(Ax) + ½|x|², n=200: {r['ratio']:.2f}x analytic (target ≤ 4x; "
          f"{r['hessian_ms']:.2f} ms vs {r['analytic_ms']:.2f} ms)")
    r = deep_tanh_memory()
    print(f"peak memory, grad of a 50-layer tanh net: {r['ratio']:.2f}x hand-written backprop "
          f"(target ≤ 1.1x; {r['ours_mib']:.1f} MiB vs {r['hand_mib']:.1f} MiB)")


if __name__ == "__main__":
    main()
