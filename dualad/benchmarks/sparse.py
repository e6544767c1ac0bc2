"""Sparse Jacobian and Hessian targets (issue 15), each a ratio against f timed in the same run.

* 2-D Bratu residual on a 256×256 grid (n = 65,536): colors, detection + coloring, and
  ``sparse_jacobian`` with a reused pattern, exact against the analytic stencil;
* chained Rosenbrock, n = 10⁵: Hessian colors and ``sparse_hessian`` with a reused pattern;
* ``scipy.optimize.approx_derivative(..., sparsity=...)`` on the same problems in the same run
  (same number of function calls per color group), time and error;
* peak memory of ``sparse_jacobian`` at n = 10⁶ (a 1000×1000 grid), against the size of x.

Run: ``python -m dualad.benchmarks.sparse`` (``--quick`` skips the n = 10⁶ memory run).
"""
from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
from scipy.optimize._numdiff import approx_derivative

import dualad as ad
from dualad.sparsity import coloring

from .timing import paired_times


# ---------------------------------------------------------------------------------------------
# the problems
# ---------------------------------------------------------------------------------------------

def bratu_residual(u, n, lam=6.0):
    """F(u) = -Δu - λ eᵘ on the unit square, zero Dirichlet boundary, an n×n interior grid."""
    h = 1.0 / (n + 1)
    up = np.pad(u.reshape(n, n), 1)
    lap = (up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:]
           - 4 * up[1:-1, 1:-1]) / (h * h)
    return (-lap - lam * np.exp(u.reshape(n, n))).ravel()


def bratu_jacobian(u, n, lam=6.0):
    """The analytic Jacobian of :func:`bratu_residual` (CSR)."""
    h = 1.0 / (n + 1)
    lap1 = sp.diags_array([1.0, -2.0, 1.0], offsets=[-1, 0, 1], shape=(n, n))
    lap = sp.kron(lap1, sp.eye_array(n)) + sp.kron(sp.eye_array(n), lap1)
    return sp.csr_array(-lap / (h * h) - lam * sp.diags_array(np.exp(u)))


def rosenbrock(x):
    """The chained Rosenbrock function Σ 100 (x[i+1] - x[i]²)² + (1 - x[i])²."""
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    g = np.zeros_like(x)
    r = x[1:] - x[:-1] ** 2
    g[:-1] += -400 * x[:-1] * r - 2 * (1 - x[:-1])
    g[1:] += 200 * r
    return g


def rosenbrock_hessian(x):
    d = np.zeros_like(x)
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    return sp.csr_array(sp.diags_array([off, d, off], offsets=[-1, 0, 1]))


def _rel_err(a, ref):
    return float(abs(a - ref).max() / abs(ref).max())


def _once(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------

def bratu(n=256, repeats=3):
    u = np.random.default_rng(0).uniform(0.0, 1.0, n * n)
    f = lambda v: bratu_residual(v, n)
    ref = bratu_jacobian(u, n)

    def detect_and_color():
        p = ad.jacobian_sparsity(f)(u)
        return p, coloring.column_coloring(p)
    # detection + coloring run once per use: the best of a few single runs, f timed alongside
    t_detect = min(_once(detect_and_color)[1] for _ in range(repeats))
    p, c = detect_and_color()
    jac = ad.sparse_jacobian(f, sparsity=p)
    j = jac(u)
    t_sparse, t_f = paired_times(lambda: jac(u), lambda: f(u))
    # scipy gets the same groups (one f call per color beyond f(x)): same number of f calls
    groups = (sp.csc_array(p), c.colors)
    fd = lambda: approx_derivative(f, u, sparsity=groups, method="2-point")
    t_fd, t_f2 = paired_times(fd, lambda: f(u), rounds=5)
    j_fd = fd()
    orders = {}
    for order in ("natural", "largest_first", "smallest_last", "dsatur"):
        got, t = _once(lambda: coloring.column_coloring(p, order))
        orders[order] = (got.num_colors, t / t_f)
    return {
        "n": n * n, "colors": c.num_colors, "lower_bound": c.lower_bound, "nnz": p.nnz,
        "orders": orders,
        "detect_color_ratio": t_detect / t_f, "detect_color_ms": t_detect * 1e3,
        "sparse_ratio": t_sparse / t_f, "sparse_ms": t_sparse * 1e3, "f_ms": t_f * 1e3,
        "sparse_err": _rel_err(j, ref),
        "fd_ratio": t_fd / t_f2, "fd_ms": t_fd * 1e3, "fd_err": _rel_err(sp.csr_array(j_fd), ref),
    }


def chained_rosenbrock(n=100_000, repeats=3):
    x = np.random.default_rng(1).uniform(-1.0, 1.0, n)
    ref = rosenbrock_hessian(x)

    def detect_and_color():
        h = ad.hessian_sparsity(rosenbrock)(x)
        return h, coloring.star_coloring(h)
    t_detect = min(_once(detect_and_color)[1] for _ in range(repeats))
    h, c = detect_and_color()
    hess = ad.sparse_hessian(rosenbrock, sparsity=h)
    hx = hess(x)
    t_sparse, t_f = paired_times(lambda: hess(x), lambda: rosenbrock(x))
    # finite differences of the analytic gradient over the same color groups
    groups = (sp.csc_array(h), c.colors)
    fd = lambda: approx_derivative(rosenbrock_grad, x, sparsity=groups)
    t_fd, t_f2 = paired_times(fd, lambda: rosenbrock(x), rounds=5)
    h_fd = sp.csr_array(fd())
    return {
        "n": n, "colors": c.num_colors, "detect_color_ratio": t_detect / t_f,
        "sparse_ratio": t_sparse / t_f, "sparse_ms": t_sparse * 1e3, "f_ms": t_f * 1e3,
        "sparse_err": _rel_err(hx, ref), "fd_ratio": t_fd / t_f2, "fd_ms": t_fd * 1e3,
        "fd_err": _rel_err(h_fd, ref),
    }


def memory(n=1000):
    """Peak traced memory (NumPy allocations) of detection + coloring and of one
    ``sparse_jacobian`` call with the pattern reused (all color lanes in one pass, and one lane
    per pass), in multiples of x's bytes."""
    u = np.random.default_rng(2).uniform(0.0, 1.0, n * n)
    f = lambda v: bratu_residual(v, n)
    tracemalloc.start()
    p = ad.jacobian_sparsity(f)(u)
    _, peak_detect = tracemalloc.get_traced_memory()
    c = coloring.column_coloring(p)
    _, peak_color = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = {"n": n * n, "colors": c.num_colors, "nnz": p.nnz,
           "detect_peak_ratio": peak_detect / u.nbytes, "color_peak_ratio": peak_color / u.nbytes}
    for key, chunk in (("peak_ratio", None), ("peak_ratio_chunk1", 1)):
        jac = ad.sparse_jacobian(f, sparsity=p, chunk=chunk)
        jac(u)  # the coloring, once
        tracemalloc.start()
        jac(u)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[key] = peak / u.nbytes
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    b = bratu()
    print(f"Bratu 2-D, 256x256 (n = {b['n']:,}, nnz = {b['nnz']:,}), f = {b['f_ms']:.2f} ms:")
    print(f"  colors: {b['colors']} (lower bound {b['lower_bound']}; target ≤ 5)")
    print(f"  detection + coloring: {b['detect_color_ratio']:.1f}x f (target ≤ 30x; "
          f"{b['detect_color_ms']:.0f} ms)")
    print("  coloring orders: " + ", ".join(f"{o} {k} colors ({r:.0f}x f)"
                                            for o, (k, r) in b["orders"].items()))
    print(f"  sparse_jacobian, pattern reused: {b['sparse_ratio']:.1f}x f (target ≤ 8x; "
          f"{b['sparse_ms']:.1f} ms), max error {b['sparse_err']:.1e} relative to the stencil")
    print(f"  scipy approx_derivative(sparsity=P): {b['fd_ratio']:.1f}x f "
          f"({b['fd_ms']:.1f} ms), max error {b['fd_err']:.1e}")
    r = chained_rosenbrock()
    print(f"chained Rosenbrock, n = {r['n']:,}, f = {r['f_ms']:.2f} ms:")
    print(f"  Hessian colors: {r['colors']} (target ≤ 3); detection + coloring "
          f"{r['detect_color_ratio']:.1f}x f")
    print(f"  sparse_hessian, pattern reused: {r['sparse_ratio']:.1f}x f (target ≤ 25x; "
          f"{r['sparse_ms']:.1f} ms), max error {r['sparse_err']:.1e}")
    print(f"  scipy approx_derivative(analytic gradient, sparsity=H): {r['fd_ratio']:.1f}x f "
          f"({r['fd_ms']:.1f} ms), max error {r['fd_err']:.1e}")
    if "--quick" not in argv:
        m = memory()
        print(f"memory, 1000x1000 grid (n = {m['n']:,}, {m['colors']} colors), peak in "
              f"multiples of x's bytes (target ≤ 20x):")
        print(f"  sparse_jacobian, pattern reused: {m['peak_ratio']:.1f}x (all lanes in one "
              f"pass), {m['peak_ratio_chunk1']:.1f}x (chunk=1)")
        print(f"  detection {m['detect_peak_ratio']:.1f}x, detection + coloring "
              f"{m['color_peak_ratio']:.1f}x")


if __name__ == "__main__":
    main()
