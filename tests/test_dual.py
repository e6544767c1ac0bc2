"""DualArray: construction, the array surface, the seed dual rules, nesting without confusion."""
import math

import numpy as np
import pytest

import dualad as ad
from dualad import DualArray


def seed_f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


# -- the seed numbers ---------------------------------------------------------------------------

def test_seed_forward_trace_table2():
    # S1 Table 2: one forward pass with x1' = 1, x2' = 0 gives y = 11.652, y' = 5.5
    y = seed_f(DualArray(2.0, 1.0), 5.0)
    assert y.primal == pytest.approx(11.652071455223084, abs=1e-12)
    assert y.tangent == pytest.approx(5.5, abs=1e-15)
    y2 = seed_f(2.0, DualArray(5.0, 1.0))
    assert y2.tangent == pytest.approx(2.0 - math.cos(5.0), abs=1e-15)  # 1.716...


def test_seed_both_partials_in_one_lane_pass():
    x1 = DualArray(np.float64(2.0), np.array([1.0, 0.0]), lanes=True)
    x2 = DualArray(np.float64(5.0), np.array([0.0, 1.0]), lanes=True)
    y = seed_f(x1, x2)
    np.testing.assert_allclose(y.tangent, [5.5, 2.0 - math.cos(5.0)], rtol=1e-15)


@pytest.mark.parametrize("name, f, df", [
    ("pow, dual base", lambda x: x ** 3.0, lambda x: 3 * x ** 2),
    ("pow, dual exponent", lambda x: 2.0 ** x, lambda x: math.log(2) * 2 ** x),
    ("pow, both dual", lambda x: x ** x, lambda x: x ** x * (math.log(x) + 1)),
    ("log to base 3", lambda x: np.log(x) / np.log(3.0), lambda x: 1 / (x * math.log(3))),
    ("log2", np.log2, lambda x: 1 / (x * math.log(2))),
    ("log10", np.log10, lambda x: 1 / (x * math.log(10))),
    ("atan", np.arctan, lambda x: 1 / (1 + x * x)),
    ("tan", np.tan, lambda x: 1 / math.cos(x) ** 2),
    ("sqrt", np.sqrt, lambda x: 0.5 / math.sqrt(x)),
    ("exp", np.exp, math.exp),
    ("abs", np.abs, lambda x: math.copysign(1, x)),
    ("division", lambda x: 1.0 / x, lambda x: -1 / x ** 2),
    ("subtraction", lambda x: 3.0 - x, lambda x: -1.0),
])
@pytest.mark.parametrize("x", [0.7, 1.9])
def test_seed_dual_rules(name, f, df, x):
    y = f(DualArray(x, 1.0))
    assert y.tangent == pytest.approx(df(x), rel=1e-13), name


def test_abs_at_zero_is_zero():
    assert np.abs(DualArray(0.0, 1.0)).tangent == 0.0


# -- construction and the array surface -----------------------------------------------------------

def test_tangent_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)|\(2,\).*\(3,\)"):
        DualArray(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2,\)"):
        DualArray(np.zeros(2), np.zeros((4, 3)), lanes=True)


def test_integer_primal_is_refused():
    with pytest.raises(TypeError, match="floating"):
        DualArray(np.arange(3), np.ones(3))


def test_python_float_becomes_0d_float64():
    d = DualArray(2.0, 1.0)
    assert d.primal.shape == () and d.primal.dtype == np.float64
    assert isinstance(d.tangent, np.ndarray) and d.tangent.shape == ()


def test_lane_tangent_of_a_scalar_has_shape_k():
    d = DualArray(2.0, np.array([1.0, 2.0, 3.0]), lanes=True)
    assert d.tangent.shape == (3,)
    assert (d * d).tangent.tolist() == [4.0, 8.0, 12.0]


def test_attributes_len_and_iteration():
    p = np.arange(6.0).reshape(2, 3)
    d = DualArray(p, np.ones((2, 3)))
    assert d.shape == (2, 3) and d.ndim == 2 and d.size == 6 and d.dtype == np.float64
    assert len(d) == 2
    assert d.T.shape == (3, 2)
    rows = list(d)
    assert len(rows) == 2 and isinstance(rows[0], DualArray)
    np.testing.assert_array_equal(rows[1].primal, p[1])
    with pytest.raises(TypeError):
        len(DualArray(1.0, 1.0))


def test_repr_shows_primal_tangent_and_lanes():
    r = repr(DualArray(np.array([1.0]), np.array([[2.0], [3.0]]), lanes=True))
    assert "primal" in r and "tangent" in r and "lanes=True" in r


def test_comparisons_return_plain_boolean_arrays():
    d = DualArray(np.array([1.0, 2.0]), np.ones(2))
    for out in (d < 1.5, d >= 2.0, d == d, np.greater(d, 0.0), np.isnan(d)):
        assert type(out) is np.ndarray and out.dtype == bool
    assert (d > 1.5).tolist() == [False, True]


def test_float32_is_preserved():
    x = DualArray(np.float32([1.0, 2.0]), np.float32([1.0, 1.0]))
    for y in (np.sin(x) * 2.0 + x / 3.0, np.exp(x) ** 2.0, x @ x, np.sum(x * x)):
        assert y.primal.dtype == np.float32 and y.tangent.dtype == np.float32


def test_float64_tangent_is_cast_to_float32_primal():
    x = DualArray(np.float32([1.0]), np.array([1.0]))
    assert x.tangent.dtype == np.float32


def test_conversions_that_would_drop_the_tangent_raise():
    d = DualArray(np.array([1.0, 2.0]), np.ones(2))
    with pytest.raises(TypeError, match="derivative"):
        np.asarray(d)
    with pytest.raises(TypeError, match="derivative"):
        float(DualArray(1.0, 1.0))
    # item assignment is not a conversion: it works as in reverse mode (a constant enters)
    d[0] = 3.0
    np.testing.assert_allclose(d.primal, [3.0, 2.0])
    np.testing.assert_allclose(d.tangent, [0.0, 1.0])


def test_unknown_numpy_function_names_itself_and_the_mode():
    d = DualArray(np.eye(2), np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"no JVP rule for numpy\.linalg\.eig"):
        np.linalg.eig(d)
    with pytest.raises(TypeError, match=r"no JVP rule for numpy\.add\.reduce"):
        np.add.reduce(d)


def test_lane_counts_must_agree():
    a = DualArray(np.ones(2), np.ones((3, 2)), lanes=True)
    b = DualArray(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="lanes"):
        a + b


def test_dualarrays_built_by_hand_share_one_perturbation():
    # like ForwardDiff's untagged duals: d(xy) = x' y + x y'
    y = DualArray(2.0, 1.0) * DualArray(3.0, 1.0)
    assert y.tangent == 5.0


# -- nesting ---------------------------------------------------------------------------------------

def D(f):
    """Derivative of a scalar function by forward mode."""
    return lambda x: ad.jvp(f, (x,), (1.0,))[1]


def test_perturbation_confusion_is_avoided():
    # D(λx. x · D(λy. x + y)(1))(1) == 1 (a confused implementation gives 2)
    assert D(lambda x: x * D(lambda y: x + y)(1.0))(1.0) == 1.0


def test_perturbation_confusion_inner_closure_uses_outer_value():
    # d/dx [x · d/dy (x·y)] = d/dx x² = 2x
    assert D(lambda x: x * D(lambda y: x * y)(2.0))(3.0) == pytest.approx(6.0)


@pytest.mark.parametrize("x", [0.3, 1.1, -2.0])
def test_fourth_derivative_of_sin_is_sin(x):
    assert D(D(D(D(np.sin))))(x) == pytest.approx(math.sin(x), rel=1e-14)


def test_hand_nested_dualarray_gives_second_derivative():
    # x(ε1, ε2) = 1.5 + ε1 + ε2: the ε1ε2 coefficient of x³ is 6x
    inner = DualArray(1.5, 1.0)
    outer = DualArray(inner, DualArray(1.0, 0.0))
    y = outer ** 3.0
    assert y.tangent.tangent == pytest.approx(9.0)   # 6 * 1.5
    assert y.tangent.primal == pytest.approx(3 * 1.5 ** 2)
    assert y.primal.tangent == pytest.approx(3 * 1.5 ** 2)


def test_nested_lanes_give_a_hessian():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    f = lambda x: 0.5 * x @ (A @ x) + np.sum(np.sin(x))
    x0 = np.array([0.3, -0.4])
    hess = ad.jacfwd(ad.jacfwd(f))(x0)
    np.testing.assert_allclose(hess, A - np.diag(np.sin(x0)), rtol=1e-13)


def test_large_lane_tangents_are_summed_in_place_without_touching_the_inputs():
    # K·n above core.INPLACE_MIN_SIZE: the binary rule adds into its fresh product; the input
    # tangents (a constant partial hands one of them on as it is) must stay untouched
    from dualad.ops.core import INPLACE_MIN_SIZE
    rng = np.random.default_rng(1)
    k, n = 100, 120
    assert k * n >= INPLACE_MIN_SIZE
    px, py = rng.standard_normal(n), rng.standard_normal(n)
    tx, ty = rng.standard_normal((k, n)), rng.standard_normal((k, n))
    x, y = DualArray(px, tx.copy(), lanes=True), DualArray(py, ty.copy(), lanes=True)
    np.testing.assert_allclose((x * y).tangent, tx * py + px * ty, rtol=1e-15)
    np.testing.assert_allclose((x + y).tangent, tx + ty, rtol=1e-15)
    np.testing.assert_allclose((x - y).tangent, tx - ty, rtol=1e-15)
    np.testing.assert_allclose((x / y).tangent, tx / py - ty * px / py**2, rtol=1e-12)
    np.testing.assert_array_equal(x.tangent, tx)
    np.testing.assert_array_equal(y.tangent, ty)
