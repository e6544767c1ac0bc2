"""Forward-mode targets (issue 2), each as a ratio against a baseline timed in the same run.

* scalar overhead: the 1000-step logistic map on a 0-d DualArray, µs per primitive;
* ``jacfwd`` of ``tanh(W2 @ tanh(W1 @ x))`` (hidden 256) against the analytic Jacobian;
* ``jacfwd`` of the Helmholtz free energy against one evaluation of f.

Run: ``python -m dualad.benchmarks.forward``.
"""
from __future__ import annotations

import numpy as np

import dualad as ad

from .problems import helmholtz, helmholtz_setup, logistic_map, mlp, mlp_jacobian, mlp_setup
from .timing import paired_times


def scalar_overhead(steps=1000):
    x = ad.DualArray(0.3, 1.0)
    plain = np.float64(0.3)
    # the fastest of alternating rounds (as the reverse-mode benchmark): the target is in µs,
    # and this shared machine has stretches where everything runs 1.5-2x slower
    t_dual, t_plain = paired_times(lambda: logistic_map(x, steps),
                                   lambda: logistic_map(plain, steps))
    per_prim = t_dual / (3 * steps)
    return {"us_per_primitive": per_prim * 1e6, "plain_us_per_primitive":
            t_plain / (3 * steps) * 1e6, "target_us": 3.0}


def mlp_jacfwd(n, m):
    x, w1, w2 = mlp_setup(n, m)
    jf = ad.jacfwd(lambda v: mlp(v, w1, w2))
    np.testing.assert_allclose(jf(x), mlp_jacobian(x, w1, w2), rtol=1e-10, atol=1e-12)
    t_ad, t_ref = paired_times(lambda: jf(x), lambda: mlp_jacobian(x, w1, w2))
    return {"n": n, "m": m, "ratio": t_ad / t_ref, "jacfwd_ms": t_ad * 1e3,
            "analytic_ms": t_ref * 1e3}


def helmholtz_jacfwd(n):
    x, b, a = helmholtz_setup(n)
    g = ad.jacfwd(lambda v: helmholtz(v, b, a))
    t_ad, t_f = paired_times(lambda: g(x), lambda: helmholtz(x, b, a))
    return {"n": n, "ratio": t_ad / t_f, "jacfwd_us": t_ad * 1e6, "f_us": t_f * 1e6}


def main():
    s = scalar_overhead()
    print(f"logistic map, 0-d DualArray: {s['us_per_primitive']:.2f} µs per primitive "
          f"(target ≤ {s['target_us']}; plain np.float64: {s['plain_us_per_primitive']:.3f} µs)")
    for n, m, target in ((256, 256, 2.5), (16, 1024, 2.0)):
        r = mlp_jacfwd(n, m)
        print(f"jacfwd tanh(W2 tanh(W1 x)), n={n}, m={m}: {r['ratio']:.2f}x analytic "
              f"(target ≤ {target}x; {r['jacfwd_ms']:.2f} ms vs {r['analytic_ms']:.2f} ms)")
    for n, target in ((50, 25), (200, 60)):
        r = helmholtz_jacfwd(n)
        print(f"jacfwd Helmholtz, n={n}: {r['ratio']:.1f}x f (target ≤ {target}x; "
              f"{r['jacfwd_us']:.0f} µs vs {r['f_us']:.1f} µs)")


if __name__ == "__main__":
    main()
