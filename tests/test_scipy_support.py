"""SciPy's Python-level functions called as usual on traced values: values equal SciPy's,
derivatives checked against closed forms and finite differences, in both modes."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.signal as ss
import scipy.special as sp
import scipy.stats as st

import dualad as ad
from dualad import DualArray
from dualad.ops import scipy_support

ROOT = Path(__file__).resolve().parents[1]
X = np.array([0.3, 0.8, 1.4])
A = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.0]])
W = np.arange(9.0).reshape(3, 3)
LU = sl.lu_factor(A)

#: name -> (function, arguments): every argument is differentiated
CASES = {
    "logsumexp": (lambda v: sp.logsumexp(v * 2.0), [X]),
    "softmax": (lambda v: sp.softmax(v) * np.arange(3.0), [X]),
    "norm.logpdf": (lambda v, m, s: st.norm.logpdf(v, m, s), [X, 0.5, 2.0]),
    "norm.pdf-cdf-sf": (lambda v: st.norm.pdf(v, loc=0.2) + st.norm.cdf(v, scale=1.5)
                        + st.norm.sf(v) + st.norm.logcdf(v) + st.norm.logsf(v), [X]),
    "norm-frozen": (lambda v, m: st.norm(m, 1.5).logpdf(v), [X, 0.1]),
    "t": (lambda v, s: st.t.logpdf(v, 3.0, scale=s) + st.t.cdf(v, 4.0) + st.t.pdf(v, 2.5),
          [X, 1.3]),
    "gamma": (lambda v, a, s: st.gamma.logpdf(v, a, scale=s) + st.gamma.cdf(v, 2.0),
              [X, 1.7, 0.9]),
    "beta": (lambda v, a, b: st.beta.logpdf(v / 2, a, b) + st.beta.cdf(v / 2, 2.0, 3.0)
             + st.beta.pdf(v / 2, a, 1.5), [X, 1.7, 2.5]),
    "poisson": (lambda mu: st.poisson.logpmf([0, 1, 3], mu) + st.poisson.cdf([0, 2, 4], mu)
                + st.poisson.pmf([1, 1, 2], mu), [2.5]),
    "binom": (lambda p: st.binom.logpmf([0, 1, 3], 5, p) + st.binom.cdf([1, 2, 4], 5, p),
              [0.35]),
    "multivariate_normal": (lambda v, m: st.multivariate_normal.logpdf(v, m, A), [X, X * 0.5]),
    "multivariate_normal-cov": (lambda c: st.multivariate_normal.pdf(X, X * 0, c @ c.T + np.eye(3)),
                                [A]),
    "multivariate_normal-frozen": (
        lambda v: st.multivariate_normal(np.zeros(3), A).logpdf(np.stack([v, v * 2])), [X]),
    "cholesky": (lambda a: sl.cholesky(a @ a.T + np.eye(3)) * W, [A]),
    "cholesky-lower": (lambda a: sl.cholesky(a @ a.T + np.eye(3), lower=True) * W, [A]),
    "cho_solve": (lambda a, b: sl.cho_solve(sl.cho_factor(a @ a.T + np.eye(3)), b), [A, X]),
    "cho_solve-lower": (lambda a, b: sl.cho_solve(sl.cho_factor(a @ a.T + np.eye(3),
                                                                lower=True), b), [A, X]),
    "solve_triangular": (lambda a, b: sl.solve_triangular(a, b, lower=True), [A, X]),
    "solve_triangular-T-unit": (lambda a, b: sl.solve_triangular(a, b, trans=1,
                                                                 unit_diagonal=True), [A, X]),
    "solve-inv-det": (lambda a, b: sl.solve(a, b) + sl.inv(a) @ b + sl.det(a), [A, X]),
    "expm": (lambda a: sl.expm(a * 0.5) * W, [A]),
    "sqrtm": (lambda a: sl.sqrtm(a) * W, [A]),
    "lu_solve": (lambda b: sl.lu_solve(LU, b) * np.arange(3.0), [X]),
    "lu_solve-T": (lambda b: sl.lu_solve(LU, np.stack([b, 2 * b], axis=1), trans=1), [X]),
    "signal.convolve-same": (lambda a, v: ss.convolve(a, v, mode="same"), [X, X[:2]]),
    "signal.convolve-valid": (lambda a, v: ss.convolve(a, v, mode="valid"), [X, X[:2]]),
    "signal.correlate": (lambda a, v: ss.correlate(a, v), [X, X[:2] + 1.0]),
}
#: rules whose second derivative is not implemented (documented in their errors)
FIRST_ORDER_ONLY = {"sqrtm"}


def _plain_call(f, args):
    """SciPy itself, on plain arrays: the reference values."""
    return np.asarray(f(*[np.asarray(a, dtype=float) for a in args]))


@pytest.mark.parametrize("name", CASES)
def test_values_are_scipys(name):
    f, args = CASES[name]
    ref = _plain_call(f, args)
    got = f(*[DualArray(np.asarray(a, float), np.ones(np.shape(a))) for a in args])
    np.testing.assert_allclose(got.primal, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", CASES)
def test_derivatives_both_modes(name):
    f, args = CASES[name]
    ad.check_grads(lambda *a: f(*a), tuple(np.asarray(a, float) for a in args),
                   order=1 if name in FIRST_ORDER_ONLY else 2)


def test_closed_forms():
    m, s = 0.5, 2.0
    np.testing.assert_allclose(ad.grad(lambda v: np.sum(st.norm.logpdf(v, m, s)))(X),
                               -(X - m) / s ** 2, rtol=1e-14)
    # d/dmu log Poisson(k; mu) = k/mu - 1
    k = np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(ad.grad(lambda mu: np.sum(st.poisson.logpmf(k, mu)))(2.5),
                               np.sum(k / 2.5 - 1), rtol=1e-14)
    # expm of a diagonal matrix: d e^D / dD_ii = e^D_ii on the diagonal
    d = np.diag([0.1, -0.3, 0.7])
    j = ad.jacfwd(sl.expm)(d)
    np.testing.assert_allclose(np.einsum("iiii->i", j), np.exp(np.diag(d)), rtol=1e-13)
    # sqrtm of a diagonal matrix: d sqrt(D) / dD_ii = 1 / (2 sqrt(D_ii))
    j = ad.jacrev(sl.sqrtm)(np.diag([1.0, 4.0, 9.0]))
    np.testing.assert_allclose(np.einsum("iiii->i", j), 1 / (2 * np.array([1.0, 2.0, 3.0])),
                               rtol=1e-12)
    # the Student t CDF in x is the density
    np.testing.assert_allclose(ad.jacfwd(lambda v: st.t.cdf(v, 4.0))(X),
                               np.diag(st.t.pdf(X, 4.0)), rtol=1e-12)


def test_plain_calls_are_scipys_own():
    # the wrappers are transparent: same results, SciPy's function behind them
    assert scipy_support.original(sl.expm) is not sl.expm
    assert scipy_support.original(sl.expm).__module__.startswith("scipy.linalg")
    np.testing.assert_array_equal(sl.expm(A), scipy_support.original(sl.expm)(A))
    assert st.norm.logpdf(0.3) == scipy_support.original(type(st.norm).logpdf)(st.norm, 0.3)
    assert {"scipy.linalg.expm", "scipy.stats.norm.logpdf", "scipy.special.logsumexp",
            "scipy.signal.convolve"} <= set(scipy_support.WRAPPED)


def test_unsupported_is_clear():
    with pytest.raises(TypeError, match=r"scipy\.stats\..*ppf has no dualad rule"):
        ad.grad(lambda v: np.sum(st.norm.ppf(v)))(np.array([0.3]))
    with pytest.raises(NotImplementedError, match="lu_factor"):
        ad.grad(lambda a: np.sum(sl.lu_factor(a)[0]))(A)
    with pytest.raises(NotImplementedError, match="order 2"):
        ad.hessian(lambda a: np.sum(sl.sqrtm(a)))(A)
    with pytest.raises(NotImplementedError, match="1-D"):
        ss.convolve(DualArray(A, np.ones((3, 3))), A)
    with pytest.raises(NotImplementedError, match="argument 0"):  # t's cdf in df
        ad.grad(lambda df: st.t.cdf(0.5, df))(3.0)
    with pytest.raises(TypeError, match="np.stack"):
        ad.grad(lambda v: np.sum(np.array([v[0], v[1]])))(X)


def _run(code, env=None):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                       **(env or {})})


def test_scipy_imported_before_or_after_dualad():
    code = ("import numpy as np\n{first}\n{second}\n"
            "print(ad.grad(lambda v: np.sum(st.norm.logpdf(v)))(np.array([0.5]))[0])")
    for first, second in [("import dualad as ad", "import scipy.stats as st"),
                          ("import scipy.stats as st", "import dualad as ad")]:
        res = _run(code.format(first=first, second=second))
        assert res.returncode == 0, res.stderr
        assert float(res.stdout) == -0.5
    # dualad itself never imports the heaviest SciPy modules (scipy.linalg comes with
    # scipy.sparse, which the sparse Jacobians use)
    res = _run("import sys, dualad; print(sorted(m for m in ('scipy.stats', 'scipy.signal') "
               "if m in sys.modules))")
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr
    res = _run("import dualad, scipy.linalg as sl; print(hasattr(sl.expm, '__dualad_original__'))",
               env={"DUALAD_NO_SCIPY": "1"})
    assert res.stdout.strip() == "False", res.stderr
