"""dualad.numeric: every method against hand-derived derivatives, shapes, steps, errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import dualad.numeric as numeric

METHODS = numeric.METHODS
#: relative accuracy each method reaches on the smooth functions below (float64)
ACCURACY = {"forward": 1e-6, "central": 1e-9, "complex": 1e-14, "richardson": 1e-9}


def seed(x):
    """f(x1, x2) = ln x1 + x1·x2 − sin x2, the seed example."""
    return np.log(x[0]) + x[0] * x[1] - np.sin(x[1])


def vec_map(x):
    """R³ → R²: [x0·x1², exp(x2)·sin(x0)]."""
    return np.stack([x[0] * x[1] ** 2, np.exp(x[2]) * np.sin(x[0])])


def vec_map_jacobian(x):
    return np.array([[x[1] ** 2, 2 * x[0] * x[1], 0.0],
                     [np.exp(x[2]) * np.cos(x[0]), 0.0, np.exp(x[2]) * np.sin(x[0])]])


class Counter:
    """Wraps f and records every point it is called with."""

    def __init__(self, f):
        self.f, self.calls = f, []

    def __call__(self, x):
        self.calls.append(np.array(x, copy=True))
        return self.f(x)


# ---------------------------------------------------------------------------------------------
# hand-derived derivatives
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("f, df", [(np.sin, np.cos), (np.exp, np.exp),
                                   (np.arctan, lambda x: 1 / (1 + x * x))])
def test_derivative_of_elementary_functions(method, f, df):
    for x in (-2.3, 0.0, 0.4, 7.5):
        got = numeric.derivative(f, x, method=method)
        np.testing.assert_allclose(got, df(x), rtol=ACCURACY[method], atol=ACCURACY[method])


@pytest.mark.parametrize("method", METHODS)
def test_seed_gradient(method):
    g = numeric.gradient(seed, np.array([2.0, 5.0]), method=method)
    assert g.shape == (2,)
    np.testing.assert_allclose(g, [5.5, 2.0 - np.cos(5.0)], rtol=ACCURACY[method])
    assert abs(g[1] - 1.7163378) < 1e-6


@pytest.mark.parametrize("method", METHODS)
def test_vector_to_vector_jacobian(method):
    x = np.array([0.7, -1.3, 0.4])
    jac = numeric.jacobian(vec_map, x, method=method)
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac, vec_map_jacobian(x), rtol=ACCURACY[method],
                               atol=ACCURACY[method])


def test_matrix_function_jacobian():
    a = np.array([[1.0, 2.0], [3.0, 5.0]])
    # d(A⁻¹)/dA_kl = −A⁻¹ e_k e_lᵀ A⁻¹, i.e. J[i, j, k, l] = −inv[i, k] · inv[l, j]
    inv = np.linalg.inv(a)
    expected = -np.einsum("ik,lj->ijkl", inv, inv)
    for method in METHODS:
        jac = numeric.jacobian(np.linalg.inv, a, method=method if method != "complex" else
                               "central")
        assert jac.shape == (2, 2, 2, 2)
        np.testing.assert_allclose(jac, expected, rtol=1e-6, atol=1e-9)
    # np.linalg.inv accepts complex input, and is analytic: the complex step works too
    np.testing.assert_allclose(numeric.jacobian(np.linalg.inv, a, method="complex"), expected,
                               rtol=1e-13, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("x_shape, out_fn, out_shape", [
    ((), lambda x: x ** 2, ()),
    ((), lambda x: np.stack([x, x ** 2, x ** 3]), (3,)),
    ((4,), lambda x: np.sum(x ** 2), ()),
    ((4,), lambda x: np.cumsum(x), (4,)),
    ((2, 3), lambda x: x.T @ x, (3, 3)),
    ((2, 3), lambda x: np.sum(x * x), ()),
    ((3,), lambda x: np.outer(x, x), (3, 3)),
])
def test_jacobian_shape(method, x_shape, out_fn, out_shape):
    x = np.linspace(0.5, 1.5, int(np.prod(x_shape))).reshape(x_shape)
    jac = numeric.jacobian(out_fn, x, method=method)
    assert jac.shape == out_shape + x_shape
    assert jac.dtype == np.float64
    if out_shape == ():
        np.testing.assert_allclose(numeric.gradient(out_fn, x, method=method), jac)
    if x_shape == ():
        np.testing.assert_allclose(numeric.derivative(out_fn, x, method=method), jac)


def test_jacobian_entries_are_in_out_then_x_order():
    # J[i, j] = d out_i / d x_j for a map whose Jacobian is far from symmetric
    a = np.arange(12.0).reshape(3, 4)
    jac = numeric.jacobian(lambda x: a @ x, np.ones(4))
    np.testing.assert_allclose(jac, a, rtol=1e-9)


def test_python_float_and_integer_inputs_become_float64():
    d = numeric.derivative(lambda x: x ** 3, 2.0)
    assert isinstance(d, np.ndarray) and d.shape == () and d.dtype == np.float64
    np.testing.assert_allclose(d, 12.0, rtol=1e-9)
    g = numeric.gradient(lambda x: np.sum(x ** 2), [1, 2, 3])
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0], rtol=1e-9)


def test_empty_input():
    jac = numeric.jacobian(lambda x: np.array([np.sum(x), 1.0]), np.zeros(0))
    assert jac.shape == (2, 0)


def test_gradient_requires_scalar_output():
    with pytest.raises(TypeError, match=r"scalar.*\(3,\)"):
        numeric.gradient(lambda x: x * 2, np.ones(3))


def test_derivative_requires_scalar_input():
    with pytest.raises(ValueError, match=r"scalar x.*\(2,\)"):
        numeric.derivative(np.sin, np.ones(2))


# ---------------------------------------------------------------------------------------------
# steps
# ---------------------------------------------------------------------------------------------

def test_default_steps_follow_dtype_precision_and_are_relative():
    x = np.array([0.0, 1e-8, 2.0, -3.0])
    scale = np.array([1.0, 1e-8, 2.0, 3.0])  # |x|, and 1 where x == 0
    for dtype in (np.float64, np.float32):
        eps = np.finfo(dtype).eps
        xd = x.astype(dtype)
        expected = {"forward": np.sqrt(eps) * scale, "central": eps ** (1 / 3) * scale,
                    "complex": eps * scale, "richardson": 0.5 * scale}
        for method, h in expected.items():
            got = numeric.default_step(xd, method)
            assert got.shape == x.shape
            # rounding h so that x + h is exact moves it by at most ulp(x)/h relative
            np.testing.assert_allclose(got, h, rtol=1e-3 if dtype == np.float32 else 1e-7)
    # finite-difference steps are rounded so that x + h is exact: the quotient's denominator
    for method in ("forward", "central"):
        h = numeric.default_step(x, method)
        np.testing.assert_array_equal((x + h) - x, h)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("f, df", [(np.sqrt, lambda x: 0.5 / np.sqrt(x)),
                                   (np.log, lambda x: 1 / x)])
def test_relative_step_at_tiny_positive_x(method, f, df):
    # an absolute step of 1e-5 would step x = 1e-8 across zero, into log/sqrt's NaN region
    x = 1e-8
    got = numeric.derivative(f, x, method=method)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, df(x), rtol=ACCURACY[method])


def test_absolute_step_crosses_zero_where_relative_does_not():
    # the failure the relative default avoids
    with np.errstate(invalid="ignore"):
        assert np.isnan(numeric.derivative(np.log, 1e-8, step=1e-5))


def test_explicit_scalar_step_is_absolute():
    x = np.array([1.0, 4.0, 100.0])
    h = 2.0 ** -10
    # forward differences of x² are exactly 2x + h; central differences of x³ are 3x² + h²
    fwd = numeric.jacobian(lambda v: v ** 2, x, method="forward", step=h)
    np.testing.assert_allclose(np.diag(fwd), 2 * x + h, rtol=1e-12)
    cen = numeric.jacobian(lambda v: v ** 3, x, method="central", step=h)
    np.testing.assert_allclose(np.diag(cen), 3 * x ** 2 + h ** 2, rtol=1e-12)


def test_explicit_step_per_entry():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    h = np.array([[2.0 ** -4, 2.0 ** -6], [2.0 ** -8, 2.0 ** -3]])
    jac = numeric.jacobian(lambda v: v ** 2, x, method="forward", step=h)
    np.testing.assert_allclose(np.einsum("ijij->ij", jac), 2 * x + h, rtol=1e-12)
    # a one-sided backward difference is a negative forward step
    back = numeric.jacobian(lambda v: v ** 2, x, method="forward", step=-h)
    np.testing.assert_allclose(np.einsum("ijij->ij", back), 2 * x - h, rtol=1e-12)


@pytest.mark.parametrize("method", ["forward", "central"])
def test_quotient_divides_by_the_distance_actually_stepped(method):
    # 1 + 1e-10 is not representable: the evaluated points are ~1e-16 off from x ± h, a 1e-6
    # relative error if the quotient divided by the nominal h. For f(v) = 2v, computed without
    # rounding, it is exact.
    x = np.array([1.0, 3.0, 1e5])
    jac = numeric.jacobian(lambda v: 2.0 * v, x, method=method, step=1e-10)
    np.testing.assert_allclose(np.diag(jac), 2.0, rtol=1e-14)


def test_explicit_step_validation():
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(2,\)"):
        numeric.jacobian(np.sin, np.ones(3), step=np.ones(2))
    with pytest.raises(ValueError, match="nonzero"):
        numeric.jacobian(np.sin, np.ones(3), step=0.0)
    with pytest.raises(ValueError, match="too small"):
        numeric.derivative(np.sin, 1.0, step=1e-30)
    with pytest.raises(ValueError, match="positive"):
        numeric.derivative(np.sin, 1.0, method="richardson", step=-0.1)


def test_richardson_step_is_the_initial_step():
    # a huge initial step still converges (SciPy shrinks it); a tiny one is used as given
    np.testing.assert_allclose(numeric.derivative(np.sin, 0.3, method="richardson", step=1.0),
                               np.cos(0.3), rtol=1e-9)
    np.testing.assert_allclose(numeric.derivative(np.sin, 0.3, method="richardson", step=1e-3),
                               np.cos(0.3), rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# complex step
# ---------------------------------------------------------------------------------------------

def test_complex_step_reaches_machine_precision():
    def f(x):
        return np.exp(x) * np.sin(x) / (1.0 + x * x)

    def df(x):
        return (np.exp(x) * (np.sin(x) + np.cos(x)) / (1 + x * x)
                - np.exp(x) * np.sin(x) * 2 * x / (1 + x * x) ** 2)

    x = np.array([-1.7, 0.3, 1.0, 2.5])
    got = np.diag(numeric.jacobian(f, x, method="complex"))
    err_complex = np.max(np.abs(got - df(x)) / np.abs(df(x)))
    err_central = np.max(np.abs(np.diag(numeric.jacobian(f, x)) - df(x)) / np.abs(df(x)))
    assert err_complex < 1e-15
    assert err_complex < err_central / 100  # no subtractive cancellation


def test_complex_step_needs_complex_input():
    import scipy.special as sp

    with pytest.raises(TypeError, match="does not accept complex input"):
        numeric.derivative(sp.gammaln, 0.5, method="complex")
    with pytest.raises(TypeError, match="does not accept complex input"):
        numeric.derivative(lambda x: np.floor(x) + x, 0.5, method="complex")


def test_complex_step_needs_complex_output():
    import math

    with pytest.raises(TypeError, match="returned float64"):
        numeric.derivative(lambda x: np.abs(x) ** 2, 0.5, method="complex")
    with pytest.raises(TypeError, match="returned float64"):
        numeric.derivative(lambda x: np.real(x) * 2.0, 0.5, method="complex")
    with pytest.warns(np.exceptions.ComplexWarning), \
            pytest.raises(TypeError, match="returned float64"):
        numeric.derivative(lambda x: np.asarray(math.sin(x)), 0.5, method="complex")


# ---------------------------------------------------------------------------------------------
# evaluation: counts, blocks, float32, errors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, calls", [("forward", 4), ("central", 6), ("complex", 3)])
def test_one_evaluation_per_perturbed_entry(method, calls):
    f = Counter(lambda x: np.sum(x ** 2))
    x = np.array([1.0, 2.0, 3.0])
    numeric.gradient(f, x, method=method)
    assert len(f.calls) == calls
    # each call sees an array of x's shape, perturbed in exactly one entry
    for p in f.calls:
        assert p.shape == x.shape
        assert np.count_nonzero(p != x) <= 1


def test_blocks_give_the_same_jacobian(monkeypatch):
    x = np.linspace(-1.0, 1.0, 7)
    whole = numeric.jacobian(vec_map_long := (lambda v: np.cumsum(np.sin(v))), x)
    monkeypatch.setattr(numeric, "_BLOCK_ELEMENTS", 10)  # blocks of 1 entry
    for method in ("forward", "central", "complex"):
        np.testing.assert_allclose(numeric.jacobian(vec_map_long, x, method=method), whole,
                                   rtol=1e-6, atol=1e-9)


def test_float32_input():
    x = np.array([0.5, 1.5], dtype=np.float32)
    f = Counter(lambda v: np.sin(v) * v)
    for method in METHODS:
        f.calls.clear()
        jac = numeric.jacobian(f, x, method=method)
        assert jac.dtype == np.float64
        # f is evaluated in float32 (complex64 for the complex step)
        assert all(p.dtype in (np.float32, np.complex64) for p in f.calls)
        expected = np.diag(np.sin(x.astype(float)) + x * np.cos(x.astype(float)))
        # (Richardson in float32: scipy.differentiate's extrapolation can stop on the round-off
        # floor, status -2, leaving an off-diagonal near 5e-4 on some CPUs)
        tol = {"forward": 1e-3, "central": 1e-4, "complex": 1e-6, "richardson": 1e-3}[method]
        np.testing.assert_allclose(jac, expected, rtol=tol, atol=tol)


def test_bad_method():
    with pytest.raises(ValueError) as info:
        numeric.jacobian(np.sin, np.ones(2), method="backward")
    for m in METHODS:
        assert repr(m) in str(info.value)
    with pytest.raises(ValueError, match="'central'"):
        numeric.default_step(1.0, "secant")


def test_bad_outputs():
    shapes = iter([(2,), (3,)])
    with pytest.raises(ValueError, match=r"shape"):
        numeric.jacobian(lambda x: np.zeros(next(shapes)), np.ones(2))
    with pytest.raises(TypeError, match="tuple"):
        numeric.jacobian(lambda x: (x, x), np.ones(2))
    with pytest.raises(TypeError, match="complex dtype"):
        numeric.jacobian(np.sin, np.ones(2, dtype=complex))


def test_complex_valued_function_with_central_differences():
    jac = numeric.derivative(lambda x: np.exp(1j * x), 0.3)
    np.testing.assert_allclose(jac, 1j * np.exp(0.3j), rtol=1e-9)


def test_exported_from_the_package():
    # a fresh interpreter: `from dualad import numeric` must work before anything imported it
    code = "from dualad import numeric, check_grads; import dualad; print(dualad.numeric.METHODS)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
