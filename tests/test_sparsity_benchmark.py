"""The sparse benchmark script runs, at small sizes, and reports what it claims (structure and
accuracy only: its timings are figures for the note, never checked here)."""
import numpy as np

from dualad.benchmarks import sparse as bench


def test_bratu_figures():
    r = bench.bratu(n=16, repeats=1)
    assert r["colors"] == r["lower_bound"] == 5
    assert r["nnz"] == 5 * 16 * 16 - 4 * 16
    assert r["sparse_err"] < 1e-12 < r["fd_err"] < 1e-5  # exact vs finite differences
    assert all(np.isfinite(r[k]) and r[k] > 0 for k in ("detect_color_ratio", "sparse_ratio",
                                                        "fd_ratio"))


def test_rosenbrock_figures():
    r = bench.chained_rosenbrock(n=1000, repeats=1)
    assert r["colors"] == 3
    assert r["sparse_err"] < 1e-12 < r["fd_err"] < 1e-5


def test_memory_figures():
    r = bench.memory(n=20)
    assert r["colors"] == 5 and r["nnz"] == 5 * 400 - 80
    assert r["peak_ratio"] > 0 and r["peak_ratio_chunk1"] > 0  # (sizes too small to compare)


def test_analytic_references_agree_with_dense_derivatives():
    import dualad as ad
    u = np.random.default_rng(0).uniform(size=36)
    np.testing.assert_allclose(bench.bratu_jacobian(u, 6).toarray(),
                               ad.jacfwd(lambda v: bench.bratu_residual(v, 6))(u), rtol=1e-13)
    x = np.random.default_rng(1).uniform(-1, 1, 7)
    np.testing.assert_allclose(bench.rosenbrock_grad(x), ad.grad(bench.rosenbrock)(x),
                               rtol=1e-13)
    np.testing.assert_allclose(bench.rosenbrock_hessian(x).toarray(),
                               ad.hessian(bench.rosenbrock)(x), rtol=1e-13)
