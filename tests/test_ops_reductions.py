"""Table-driven tests of the reduction entries (``dualad.ops.reductions``).

Every reduction runs over every ``axis`` form (None, int, negative int, tuple) and both
``keepdims`` on a 3-D input: JVP against central differences with K lanes and single
directions (``check_forward``), and the adjoint identity of every primitive bound
(``check_adjoint``). Zeros in ``prod``/``cumprod``, ties in ``max``/``min``, float32, the method
forms and a hypothesis test of random compositions of table ops follow.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, strategies as st

import dualad as ad
from dualad import DualArray
from dualad.ops.reductions import max_p, min_p
from ophelpers import check_adjoint, check_forward, fd_jvp

SHAPE = (2, 3, 4)
AXES = [None, 0, 1, 2, -1, -3, (0, 2), (-1, 0), (1,), (0, 1, 2)]
KEEPDIMS = [False, True]


def _x(seed=0, shape=SHAPE, low=0.5, high=1.5):
    """Distinct entries (no ties for max/min), away from zero (prod), with both-sign options."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    vals = np.linspace(low, high, n) + rng.uniform(0, 0.3 * (high - low) / max(n, 1), n)
    return rng.permutation(vals).reshape(shape)


REDUCTIONS = {
    "sum": lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    "mean": lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
    "prod": lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    "max": lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
    "min": lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
    "amax": lambda x, axis, keepdims: np.amax(x, axis=axis, keepdims=keepdims),
    "amin": lambda x, axis, keepdims: np.amin(x, axis=axis, keepdims=keepdims),
    "var": lambda x, axis, keepdims: np.var(x, axis=axis, keepdims=keepdims),
    "var-ddof1": lambda x, axis, keepdims: np.var(x, axis=axis, keepdims=keepdims, ddof=1),
    "std": lambda x, axis, keepdims: np.std(x, axis=axis, keepdims=keepdims),
    "std-ddof1": lambda x, axis, keepdims: np.std(x, axis=axis, keepdims=keepdims, ddof=1),
    "ptp": lambda x, axis, keepdims: np.ptp(x, axis=axis, keepdims=keepdims),
    "average": lambda x, axis, keepdims: np.average(x, axis=axis, keepdims=keepdims),
    "average-weights": lambda x, axis, keepdims: np.average(
        x, axis=axis, keepdims=keepdims, weights=np.linspace(0.5, 2.0, x.size).reshape(SHAPE)),
}


def _axis_id(a):
    return "None" if a is None else str(a).replace(" ", "")


@pytest.mark.parametrize("keepdims", KEEPDIMS, ids=["flat", "keepdims"])
@pytest.mark.parametrize("axis", AXES, ids=_axis_id)
@pytest.mark.parametrize("name", REDUCTIONS, ids=str)
def test_reduction(name, axis, keepdims):
    red = REDUCTIONS[name]
    x = _x(1, low=-1.5, high=1.5) if name not in ("prod",) else _x(1)
    f = (lambda a: red(a, axis, keepdims))
    out = check_forward(f, [x])
    ref = red(x, axis, keepdims)
    np.testing.assert_allclose(out.primal, ref, rtol=1e-14)
    assert out.primal.shape == np.shape(ref)
    assert out.tangent.shape == (3,) + np.shape(ref)
    check_adjoint(f, [x])


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -2], ids=_axis_id)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative(name, axis):
    op = getattr(np, name)
    x = _x(2, low=-1.5, high=1.5)
    out = check_forward(lambda a: op(a, axis=axis), [x])
    np.testing.assert_allclose(out.primal, op(x, axis=axis), rtol=1e-14)
    check_adjoint(lambda a: op(a, axis=axis), [x])


# ---------------------------------------------------------------------------------------------
# products with zeros: exact derivatives, no division by zero
# ---------------------------------------------------------------------------------------------

def _with_zeros(n_zeros, axis):
    x = _x(3, low=0.5, high=1.5)
    lead = np.moveaxis(x, axis, -1)  # a view: zeros along ``axis`` in the first row(s)
    lead[0, 0, :n_zeros] = 0.0
    lead[-1, -1, 1:1 + n_zeros] = 0.0
    return x


@pytest.mark.parametrize("keepdims", KEEPDIMS, ids=["flat", "keepdims"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1, (0, 2), None], ids=_axis_id)
@pytest.mark.parametrize("n_zeros", [1, 2], ids=["one-zero", "two-zeros"])
def test_prod_with_zeros(n_zeros, axis, keepdims):
    ax = axis if isinstance(axis, int) else 2
    x = _with_zeros(n_zeros, ax)
    f = (lambda a: np.prod(a, axis=axis, keepdims=keepdims))
    out = check_forward(f, [x])
    assert np.all(np.isfinite(out.tangent))
    check_adjoint(f, [x])


def test_prod_gradient_with_one_and_two_zeros_exact():
    x = np.array([2.0, 0.0, 3.0, 4.0])
    _, t = ad.jvp(np.prod, (x,), (np.eye(4),), lanes=True)
    np.testing.assert_array_equal(t, [0.0, 24.0, 0.0, 0.0])
    x = np.array([2.0, 0.0, 3.0, 0.0])
    _, t = ad.jvp(np.prod, (x,), (np.eye(4),), lanes=True)
    np.testing.assert_array_equal(t, [0.0, 0.0, 0.0, 0.0])
    # second derivatives at a zero, by nesting: ∂²/∂x1∂x3 of x0 x1 x2 x3 at x1 = 0 is x0 x2
    x = np.array([2.0, 0.0, 3.0, 4.0])
    e1, e3 = np.eye(4)[1], np.eye(4)[3]
    h = ad.jvp(lambda y: ad.jvp(np.prod, (y,), (e1,))[1], (x,), (e3,))[1]
    np.testing.assert_allclose(h, 6.0, rtol=1e-14)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, None], ids=_axis_id)
@pytest.mark.parametrize("n_zeros", [1, 2], ids=["one-zero", "two-zeros"])
def test_cumprod_with_zeros(n_zeros, axis):
    x = _with_zeros(n_zeros, 2 if axis is None else axis)
    f = (lambda a: np.cumprod(a, axis=axis))
    out = check_forward(f, [x])
    assert np.all(np.isfinite(out.tangent))
    check_adjoint(f, [x])


# ---------------------------------------------------------------------------------------------
# max / min: ties split the derivative equally (README)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op,prim", [(np.max, max_p), (np.min, min_p), (np.amax, max_p),
                                     (np.amin, min_p)], ids=["max", "min", "amax", "amin"])
def test_extreme_reduction_ties_split_equally(op, prim):
    s = 1.0 if op in (np.max, np.amax) else -1.0
    x = s * np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    _, t = ad.jvp(op, (x,), (np.eye(5),), lanes=True)
    np.testing.assert_allclose(t, [0.0, 1 / 3, 1 / 3, 0.0, 1 / 3], rtol=1e-15)
    g = prim.vjp(0, np.ones((1,)), op(x), x, axis=(0,), keepdims=False)
    np.testing.assert_allclose(g, [[0.0, 1 / 3, 1 / 3, 0.0, 1 / 3]], rtol=1e-15)
    # along an axis: each row splits among its own ties
    m = s * np.array([[1.0, 2.0, 2.0], [5.0, 4.0, 3.0]])
    _, t = ad.jvp(lambda a: op(a, axis=1), (m,), (np.ones_like(m),))
    np.testing.assert_allclose(t, [1.0, 1.0])
    _, t = ad.jvp(lambda a: op(a, axis=1), (m,), (np.array([[0, 1, 0], [1, 0, 0.0]]),))
    np.testing.assert_allclose(t, [0.5, 1.0])
    g = prim.vjp(0, np.ones((1, 2)), op(m, axis=1), m, axis=(1,), keepdims=False)
    np.testing.assert_allclose(g, [[[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]])
    # a row of equal entries
    _, t = ad.jvp(op, (np.full(4, 2.0),), (np.array([1.0, 2.0, 3.0, 6.0]),))
    np.testing.assert_allclose(t, 3.0)


def test_max_ties_with_keepdims_and_tuple_axis():
    x = np.zeros((2, 2, 3))
    x[0, :, 0] = 1.0
    x[1, 1, 2] = 1.0
    f = (lambda a: np.max(a, axis=(0, 1), keepdims=True))
    _, t = ad.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_allclose(t, np.ones((1, 1, 3)))
    _, t = ad.jvp(f, (x,), (x,))
    np.testing.assert_allclose(t, [[[1.0, 0.0, 1.0]]])  # col 1 ties four zeros: mean of x = 0
    check_adjoint(f, [x])


# ---------------------------------------------------------------------------------------------
# average with weights, var/std, methods
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -1], ids=_axis_id)
def test_average_with_1d_weights_both_dual(axis):
    x = _x(4, low=-1, high=1)
    w = np.linspace(0.5, 1.5, SHAPE[axis])
    f = (lambda a, b: np.average(a, axis=axis, weights=b))
    out = check_forward(f, [x, w])
    np.testing.assert_allclose(out.primal, np.average(x, axis=axis, weights=w), rtol=1e-14)
    check_adjoint(f, [x, w])
    avg, scl = np.average(DualArray(x, np.ones_like(x)), axis=axis, weights=w, returned=True)
    ravg, rscl = np.average(x, axis=axis, weights=w, returned=True)
    np.testing.assert_allclose(avg.primal, ravg, rtol=1e-14)
    np.testing.assert_allclose(scl, rscl, rtol=1e-14)


def test_average_full_weights_dual():
    x = _x(5, low=-1, high=1)
    w = _x(6, low=0.5, high=1.5)
    for axis in (None, 1, (0, 2)):
        f = (lambda a, b: np.average(a, axis=axis, weights=b))
        check_forward(f, [x, w])
        check_adjoint(f, [x, w])


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_var_std_ddof(ddof):
    x = _x(7, low=-1, high=1)
    for op in (np.var, np.std):
        for axis in (None, 1, (0, 2)):
            f = (lambda a: op(a, axis=axis, ddof=ddof))
            out = check_forward(f, [x])
            np.testing.assert_allclose(out.primal, op(x, axis=axis, ddof=ddof), rtol=1e-13)
            check_adjoint(f, [x])


METHODS = {
    "sum": lambda x: x.sum(axis=1),
    "sum-keepdims": lambda x: x.sum(axis=(0, 2), keepdims=True),
    "sum-all": lambda x: x.sum(),
    "mean": lambda x: x.mean(axis=-1),
    "prod": lambda x: x.prod(axis=0),
    "max": lambda x: x.max(axis=2),
    "min": lambda x: x.min(axis=(0, 1), keepdims=True),
    "var": lambda x: x.var(axis=1, ddof=1),
    "std": lambda x: x.std(),
    "cumsum": lambda x: x.cumsum(axis=1),
    "cumsum-flat": lambda x: x.cumsum(),
    "cumprod": lambda x: x.cumprod(axis=-1),
}


@pytest.mark.parametrize("name", METHODS, ids=str)
def test_method_forms(name):
    f = METHODS[name]
    x = _x(8)
    out = check_forward(f, [x])
    np.testing.assert_allclose(out.primal, f(x), rtol=1e-14)
    check_adjoint(f, [x])


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "var", "std", "cumsum",
                                  "cumprod", "ptp"])
def test_reductions_on_0d_and_1d(name):
    op = getattr(np, name)
    # the std of one entry is identically 0 but sqrt'(0) is infinite: not tested at 0-d
    for x in (np.array(1.3), np.array([0.7, 1.9, 1.2]))[name == "std":]:
        out = check_forward(op, [x])
        np.testing.assert_allclose(out.primal, op(x), rtol=1e-14)
        check_adjoint(op, [x])


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "var", "std", "cumsum",
                                  "cumprod", "ptp", "average"])
def test_reductions_float32_stay_float32(name):
    op = getattr(np, name)
    x = _x(9).astype(np.float32)
    for kw in ({}, {"axis": 1}):
        d = op(DualArray(x, np.ones_like(x)), **kw)
        assert d.primal.dtype == np.float32, f"{name} primal {d.primal.dtype}"
        assert d.tangent.dtype == np.float32, f"{name} tangent {d.tangent.dtype}"
        ref = op(DualArray(x.astype(float), np.ones(x.shape)), **kw)
        np.testing.assert_allclose(d.tangent, ref.tangent, rtol=1e-4, atol=1e-5)


def test_sum_and_mean_dtype_argument():
    x = _x(10)
    d = np.sum(DualArray(x, np.ones_like(x)), dtype=np.float32)
    assert d.primal.dtype == np.float32 and d.tangent.dtype == np.float32
    np.testing.assert_allclose(d.tangent, x.size, rtol=1e-6)


def test_reduction_second_derivatives_by_nesting():
    x = _x(11, shape=(5,), low=0.5, high=1.5)
    v, w = np.linspace(-1, 1, 5), np.cos(np.arange(5.0))
    for f in (np.prod, np.var, np.std, lambda a: np.cumprod(a)[-1], lambda a: np.mean(a) ** 3):
        got = ad.jvp(lambda y: ad.jvp(f, (y,), (v,))[1], (x,), (w,))[1]
        h = 1e-4
        ref = (f(x + h * v + h * w) - f(x + h * v - h * w) - f(x - h * v + h * w)
               + f(x - h * v - h * w)) / (4 * h * h)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------

def test_reduction_errors():
    d = DualArray(_x(12), np.ones(SHAPE))
    buf = np.empty(3)
    for op in (np.sum, np.mean, np.prod, np.max, np.min, np.var, np.std):
        with pytest.raises(TypeError, match="out="):
            op(d, axis=(0, 2), out=buf)
    with pytest.raises(TypeError, match="out="):
        np.cumsum(d, out=np.empty(d.size))
    with pytest.raises(np.exceptions.AxisError):
        np.sum(d, axis=3)
    with pytest.raises(ValueError):
        np.sum(d, axis=(1, 1))
    with pytest.raises(ValueError):
        np.max(DualArray(np.empty((0, 3)), np.empty((0, 3))))
    with pytest.raises(TypeError, match="no JVP rule for numpy.nanmedian"):
        np.nanmedian(d)


# ---------------------------------------------------------------------------------------------
# hypothesis: random compositions of table ops vs central differences
# ---------------------------------------------------------------------------------------------

# total, smooth and bounded-derivative on the reals: safe to chain in any order
SAFE_UNARY = [np.sin, np.cos, np.tanh, np.arctan, np.arcsinh, sp.expit, sp.erf,
              lambda x: np.log1p(x * x), lambda x: np.sqrt(x * x + 1.0),
              lambda x: np.exp(-0.5 * x * x), lambda x: np.abs(np.tanh(x) + 3.0),
              lambda x: x ** 2.0, lambda x: np.cbrt(x * x + 1.0), lambda x: 1.0 / (2.0 + np.cos(x))]
SAFE_BINARY = [np.add, np.subtract, np.multiply, np.logaddexp,
               lambda x, y: x / (1.5 + np.sin(y)), lambda x, y: np.hypot(x, 1.0 + y * y),
               lambda x, y: np.arctan2(x, 2.0 + np.cos(y)),
               lambda x, y: (1.0 + x * x) ** np.tanh(y)]
SAFE_REDUCTION = ["sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "logsumexp"]


def _apply_reduction(name, x, axis):
    if name == "logsumexp":  # SciPy's converts with asarray first: dualad ships its own
        return ad.logsumexp(x, axis=axis)
    if name == "prod":
        return np.prod(1.0 + 0.5 * np.tanh(x), axis=axis)
    if name == "std":
        return np.std(x, axis=axis) + 0.0
    if name in ("cumsum",):
        return np.cumsum(x, axis=axis)
    return getattr(np, name)(x, axis=axis)


@st.composite
def programs(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)))
    steps = []
    others = []
    cur = shape
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce"]))
        if kind == "unary":
            steps.append(("unary", draw(st.integers(0, len(SAFE_UNARY) - 1))))
        elif kind == "binary":
            # a shape broadcastable against the current one: a suffix with some axes set to 1,
            # maybe one leading axis more
            k = draw(st.integers(0, len(cur)))
            other = tuple(1 if draw(st.booleans()) else n for n in cur[len(cur) - k:])
            if len(cur) < 3 and draw(st.booleans()):
                other = (draw(st.integers(1, 3)),) + tuple(cur)
            swap = draw(st.booleans())
            steps.append(("binary", draw(st.integers(0, len(SAFE_BINARY) - 1)), len(others),
                          swap))
            others.append(other)
            cur = np.broadcast_shapes(cur, other)
        else:
            name = draw(st.sampled_from(SAFE_REDUCTION))
            if name in ("var", "std") and int(np.prod(cur)) < 2:
                continue
            if cur and draw(st.booleans()):
                axis = draw(st.integers(-len(cur), len(cur) - 1))
                if name in ("var", "std") and cur[axis] < 2:
                    continue
            else:
                axis = None
            steps.append(("reduce", name, axis))
            if name == "cumsum":
                cur = (int(np.prod(cur)),) if axis is None else cur
            else:
                cur = () if axis is None else tuple(n for i, n in enumerate(cur)
                                                    if i != axis % len(cur))
    return shape, others, steps, draw(st.integers(0, 2 ** 32 - 1))


def _run(steps, x, others):
    for step in steps:
        if step[0] == "unary":
            x = SAFE_UNARY[step[1]](x)
        elif step[0] == "binary":
            _, op, j, swap = step
            x = SAFE_BINARY[op](others[j], x) if swap else SAFE_BINARY[op](x, others[j])
        else:
            x = _apply_reduction(step[1], x, step[2])
    return x


@given(programs())
def test_random_compositions_jvp_equals_finite_differences(program):
    shape, other_shapes, steps, seed = program
    rng = np.random.default_rng(seed)
    # values from a seeded generator, not hypothesis' floats: no exact ties for max/min
    args = [rng.uniform(-1.0, 1.0, shape)] + [rng.uniform(-1.0, 1.0, s) for s in other_shapes]
    dirs = [rng.uniform(-1.0, 1.0, np.shape(a)) for a in args]

    def f(x, *others):
        return _run(steps, x, others)

    out, t = ad.jvp(f, tuple(args), tuple(dirs))
    np.testing.assert_allclose(out, f(*args), rtol=1e-13, atol=1e-13)
    ref = fd_jvp(f, args, dirs, eps=1e-6)
    scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    np.testing.assert_allclose(t, ref, rtol=1e-5, atol=1e-6 * scale,
                               err_msg=f"program {steps} on shapes {shape}, {other_shapes}")
