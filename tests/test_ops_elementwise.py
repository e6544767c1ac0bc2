"""Table-driven tests of the elementwise entries (``dualad.ops.elementwise``).

Every entry of ``UNARY``, ``UNARY_SPECIAL``, ``BINARY`` and ``BINARY_SPECIAL`` is found by
iterating the tables, so a new entry is tested as soon as it is added; it only needs an input
domain below when the default one (-0.9, 0.9) is not valid for it.

Each entry is checked for: the JVP against central differences and K lanes against single
directions (``check_forward``), the adjoint identity between its JVP and VJP rules
(``check_adjoint``), the second derivative by nesting ``ad.jvp`` against a second-order central
difference, and float32 in → float32 out. The documented non-differentiable points
(README) and the error messages are checked at the end.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp

import dualad as ad
from dualad import DualArray
from dualad.ops import UFUNC_RULES
from dualad.ops.elementwise import (BINARY, BINARY_SPECIAL, NONDIFF_UFUNCS, IN_X_SPECIAL,
                                    UNARY, UNARY_SPECIAL)
from ophelpers import check_adjoint, check_forward


# ---------------------------------------------------------------------------------------------
# input domains
# ---------------------------------------------------------------------------------------------

class Dom:
    """Uniform on (lo, hi); ``signed=True``: on ±(lo, hi) (both signs, away from zero)."""

    def __init__(self, lo, hi, signed=False):
        self.lo, self.hi, self.signed = lo, hi, signed

    def sample(self, rng, shape):
        x = rng.uniform(self.lo, self.hi, size=shape)
        if self.signed:
            x = x * rng.choice([-1.0, 1.0], size=shape)
        return np.asarray(x, dtype=float)

    def __repr__(self):
        return f"Dom({self.lo}, {self.hi}{', signed' if self.signed else ''})"


class IntDom(Dom):
    """Integers in [lo, hi): an argument that is a constant (e.g. ldexp's exponent)."""

    def sample(self, rng, shape):
        return np.asarray(rng.integers(self.lo, self.hi, size=shape))


DEFAULT = Dom(-0.9, 0.9)
AWAY = Dom(0.4, 1.8, signed=True)   # both signs, away from the kink/pole at 0
POS = Dom(0.5, 2.0)
UNIT = Dom(0.1, 0.9)

UNARY_DOMAIN = {
    np.absolute: AWAY, np.fabs: AWAY, np.cbrt: AWAY, np.reciprocal: AWAY,
    np.sqrt: POS, np.log: POS, np.log2: POS, np.log10: POS, np.log1p: Dom(-0.5, 1.5),
    np.arccosh: Dom(1.5, 3.0), np.arctan: Dom(-2.0, 2.0), np.arcsinh: Dom(-2.0, 2.0),
    np.deg2rad: Dom(-90.0, 90.0), np.sinh: Dom(-2.0, 2.0), np.cosh: Dom(-2.0, 2.0),
    np.tanh: Dom(-2.0, 2.0), np.exp: Dom(-2.0, 2.0), np.exp2: Dom(-2.0, 2.0),
    np.expm1: Dom(-2.0, 2.0), np.square: Dom(-2.0, 2.0),
    sp.logit: UNIT, sp.erfinv: Dom(-0.8, 0.8), sp.ndtri: UNIT,
    sp.expit: Dom(-3.0, 3.0), sp.erf: Dom(-1.5, 1.5), sp.erfc: Dom(-1.5, 1.5),
    sp.ndtr: Dom(-2.0, 2.0), sp.log_ndtr: Dom(-2.0, 2.0), sp.erfcx: Dom(-1.0, 2.0),
    sp.gamma: Dom(0.5, 3.0), sp.gammaln: Dom(0.5, 3.0), sp.digamma: Dom(0.5, 3.0),
}

BINARY_DOMAIN = {
    np.divide: (DEFAULT, AWAY),
    np.power: (POS, Dom(-1.5, 1.5)),
    np.float_power: (POS, Dom(-1.5, 1.5)),
    np.arctan2: (Dom(-1.0, 1.0), Dom(0.5, 2.0)),   # away from the branch cut x < 0, y = 0
    np.hypot: (AWAY, AWAY),
    np.copysign: (AWAY, AWAY),
    # x / y in (1.09, 1.8): away from the jumps at integer ratios, and a nonzero ∂/∂y
    np.remainder: (Dom(1.2, 1.8), Dom(1.0, 1.1)),
    np.fmod: (Dom(1.2, 1.8), Dom(1.0, 1.1)),
    np.ldexp: (DEFAULT, IntDom(-2, 3)),
    sp.xlogy: (DEFAULT, POS),
    sp.xlog1py: (DEFAULT, Dom(-0.5, 1.5)),
}


def _name(op):
    return getattr(op, "__name__", repr(op))


UNARY_OPS = [*UNARY, *UNARY_SPECIAL]
BINARY_OPS = [*BINARY, *BINARY_SPECIAL]


def unary_sample(op, rng, shape):
    x = UNARY_DOMAIN.get(op, DEFAULT).sample(rng, shape)
    with np.errstate(all="ignore"):
        y = op(x)
    assert np.all(np.isfinite(y)), f"{_name(op)}: give it a valid domain in UNARY_DOMAIN"
    return x


def binary_sample(op, rng, xshape, yshape):
    dx, dy = BINARY_DOMAIN.get(op, (DEFAULT, DEFAULT))
    x, y = dx.sample(rng, xshape), dy.sample(rng, yshape)
    if op in (np.maximum, np.minimum, np.fmax, np.fmin):
        # away from ties, where finite differences straddle the kink
        xb, yb = np.broadcast_arrays(x, y)
        assert np.min(np.abs(xb - yb), initial=1.0) > 1e-3, "pick another seed: near a tie"
    with np.errstate(all="ignore"):
        z = op(x, y)
    assert np.all(np.isfinite(z)), f"{_name(op)}: give it a valid domain in BINARY_DOMAIN"
    return x, y


def int_second(op):
    return isinstance(BINARY_DOMAIN.get(op, (None, None))[1], IntDom)


UNARY_SHAPES = [(), (5,), (3, 4), (2, 3, 2)]
BINARY_SHAPES = [((), ()), ((5,), (5,)), ((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)),
                 ((), (3,)), ((4,), (3, 4))]


def _fd_second(f, x, v, w, h):
    """∂²/∂s∂t f(x + s v + t w) at 0 by the four-point central difference."""
    return (f(x + h * v + h * w) - f(x + h * v - h * w) - f(x - h * v + h * w)
            + f(x - h * v - h * w)) / (4 * h * h)


def _nested_second(f, x, v, w):
    """Second directional derivative by nesting ``ad.jvp`` (forward over forward)."""
    return ad.jvp(lambda y: ad.jvp(f, (y,), (v,))[1], (x,), (w,))[1]


# ---------------------------------------------------------------------------------------------
# unary entries
# ---------------------------------------------------------------------------------------------

def test_every_unary_entry_is_a_registered_ufunc_rule():
    for op in UNARY_OPS:
        assert op in UFUNC_RULES, f"{_name(op)} is in the table but not registered"
        assert UFUNC_RULES[op].jvp is not None and UFUNC_RULES[op].vjp is not None


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", UNARY_OPS, ids=_name)
def test_unary_forward(op, shape):
    rng = np.random.default_rng(1)
    x = unary_sample(op, rng, shape)
    out = check_forward(op, [x])
    np.testing.assert_array_equal(out.primal, op(x))
    assert out.tangent.shape == (3,) + shape


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", UNARY_OPS, ids=_name)
def test_unary_adjoint(op, shape):
    rng = np.random.default_rng(2)
    x = unary_sample(op, rng, shape)
    checked = check_adjoint(op, [x])
    assert checked == [UFUNC_RULES[op].name]


@pytest.mark.parametrize("op", UNARY_OPS, ids=_name)
def test_unary_second_derivative_by_nesting(op):
    rng = np.random.default_rng(3)
    x = unary_sample(op, rng, (6,))
    v, w = rng.uniform(-1, 1, (2, 6))
    got = _nested_second(op, x, v, w)
    h = 1e-4 * max(1.0, float(np.max(np.abs(x))))
    ref = _fd_second(op, x, v, w, h)
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("op", UNARY_OPS, ids=_name)
def test_unary_float32_stays_float32(op):
    rng = np.random.default_rng(4)
    x = unary_sample(op, rng, (5,))
    t = rng.uniform(-1, 1, 5)
    d = op(DualArray(x.astype(np.float32), t.astype(np.float32)))
    assert d.primal.dtype == np.float32, f"{_name(op)} primal is {d.primal.dtype}"
    assert d.tangent.dtype == np.float32, f"{_name(op)} tangent is {d.tangent.dtype}"
    ref = op(DualArray(x, t)).tangent
    np.testing.assert_allclose(d.tangent, ref, rtol=2e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# binary entries
# ---------------------------------------------------------------------------------------------

def test_every_binary_entry_is_a_registered_ufunc_rule():
    for op in BINARY_OPS:
        assert op in UFUNC_RULES, f"{_name(op)} is in the table but not registered"


ARGNUMS = {"both": (0, 1), "first": (0,), "second": (1,)}
# an integer argument (ldexp's exponent) is a constant: only the first argument is dual there
BINARY_FORWARD = [pytest.param(op, argnums, id=f"{_name(op)}-{name}")
                  for op in BINARY_OPS for name, argnums in ARGNUMS.items()
                  if not int_second(op) or argnums == (0,)]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("op,argnums", BINARY_FORWARD)
def test_binary_forward(op, argnums, shapes):
    rng = np.random.default_rng(5)
    x, y = binary_sample(op, rng, *shapes)
    if int_second(op):
        out = check_forward(lambda a: op(a, y), [x])
    else:
        out = check_forward(op, [x, y], argnums=argnums)
    np.testing.assert_array_equal(out.primal, op(x, y))
    assert out.tangent.shape == (3,) + np.broadcast_shapes(*shapes)


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("op", BINARY_OPS, ids=_name)
def test_binary_adjoint(op, shapes):
    rng = np.random.default_rng(6)
    x, y = binary_sample(op, rng, *shapes)
    argnums = (0,) if int_second(op) else (0, 1)
    checked = check_adjoint(op, [x, y], argnums=argnums)
    assert checked == [UFUNC_RULES[op].name] * len(argnums)


@pytest.mark.parametrize("op", BINARY_OPS, ids=_name)
def test_binary_second_derivatives_by_nesting(op):
    """All second partials at once: the direction (v, w) moves both arguments."""
    rng = np.random.default_rng(7)
    x, y = binary_sample(op, rng, (5,), (5,))
    if int_second(op):
        f = (lambda a: op(a, y))
        z, v, w = x, rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    else:
        def f(z):
            return op(z[0], z[1])
        z, v, w = np.stack([x, y]), rng.uniform(-1, 1, (2, 5)), rng.uniform(-1, 1, (2, 5))
    got = _nested_second(f, z, v, w)
    h = 1e-4 * max(1.0, float(np.max(np.abs(z))))
    np.testing.assert_allclose(got, _fd_second(f, z, v, w, h), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("op", BINARY_OPS, ids=_name)
def test_binary_float32_stays_float32(op):
    rng = np.random.default_rng(8)
    x, y = binary_sample(op, rng, (3, 4), (4,))
    tx = rng.uniform(-1, 1, x.shape)
    dx = DualArray(x.astype(np.float32), tx.astype(np.float32))
    yy = y if int_second(op) else DualArray(y.astype(np.float32), np.ones(y.shape, np.float32))
    d = op(dx, yy)
    if op is np.float_power:  # computes in float64 by definition, as NumPy's
        assert d.primal.dtype == np.float64 and d.tangent.dtype == np.float64
        return
    assert d.primal.dtype == np.float32, f"{_name(op)} primal is {d.primal.dtype}"
    assert d.tangent.dtype == np.float32, f"{_name(op)} tangent is {d.tangent.dtype}"
    yy64 = y if int_second(op) else DualArray(y, np.ones(y.shape))
    np.testing.assert_allclose(d.tangent, op(DualArray(x, tx), yy64).tangent,
                               rtol=2e-3, atol=1e-4)


def test_float32_with_python_scalars_stays_float32():
    d = DualArray(np.array([1.5, 2.0], np.float32), np.ones(2, np.float32))
    for r in (d * 2.0, 2.0 * d, d / 3.0, d ** 2.0, 2.0 ** d, d - 1.0, np.maximum(d, 1.7),
              np.logaddexp(d, 0.5)):
        assert r.primal.dtype == np.float32 and r.tangent.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# power: dual base, dual exponent, both; the seed rules
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argnums", [(0,), (1,), (0, 1)], ids=["base", "exponent", "both"])
@pytest.mark.parametrize("op", [np.power, np.float_power, lambda x, y: x ** y],
                         ids=["power", "float_power", "operator"])
def test_power_dual_base_exponent_both(op, argnums):
    rng = np.random.default_rng(9)
    x, y = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(-2.0, 2.0, (4,))
    out = check_forward(op, [x, y], argnums=argnums)
    dx = y * x ** (y - 1)
    dy = x ** y * np.log(x)
    # directions of check_forward are random; the ones below are the analytic partials
    _, tb = ad.jvp(op, (x, y), (np.ones_like(x), np.zeros_like(y)))
    _, te = ad.jvp(op, (x, y), (np.zeros_like(x), np.ones_like(y)))
    np.testing.assert_allclose(tb, dx, rtol=1e-12)
    np.testing.assert_allclose(te, dy, rtol=1e-12)
    assert out.tangent.shape == (3, 3, 4)


def test_power_special_points():
    # x**y with a constant exponent, negative base: integer exponents work
    out = check_forward(lambda x: x ** 3.0, [np.array([-1.5, -0.5, 0.7])])
    np.testing.assert_allclose(out.primal, [-3.375, -0.125, 0.343])
    # x**0 is the constant 1, also at x == 0
    _, t = ad.jvp(lambda x: x ** 0.0, (np.array([0.0, 2.0]),), (np.ones(2),))
    np.testing.assert_array_equal(t, [0.0, 0.0])
    # d/dx x**2 at 0 is 0; d/dy 0**y at y > 0 is 0
    _, t = ad.jvp(lambda x: x ** 2.0, (0.0,), (1.0,))
    assert t == 0.0
    _, t = ad.jvp(lambda y: 0.0 ** y, (2.0,), (1.0,))
    assert t == 0.0
    # scalar ** dual: d/dy 2**y = 2**y ln 2
    _, t = ad.jvp(lambda y: 2.0 ** y, (3.0,), (1.0,))
    np.testing.assert_allclose(t, 8.0 * math.log(2.0))


def test_power_mixed_second_partial_at_zero_exponent():
    # ∂²(x**y)/∂x∂y = x**(y-1) (1 + y ln x) = 1/x at y = 0
    def dfdx(x, y):
        return ad.jvp(lambda a: a ** y, (x,), (1.0,))[1]
    _, t = ad.jvp(lambda y: dfdx(2.0, y), (0.0,), (1.0,))
    np.testing.assert_allclose(t, 0.5, rtol=1e-12)
    _, t = ad.jvp(lambda y: dfdx(2.0, y), (0.5,), (1.0,))
    np.testing.assert_allclose(t, 2.0 ** -0.5 * (1 + 0.5 * math.log(2.0)), rtol=1e-12)


def test_seed_rules():
    def f(x1, x2):
        return np.log(x1) + x1 * x2 - np.sin(x2)
    val, t = ad.jvp(f, (2.0, 5.0), (1.0, 0.0))
    np.testing.assert_allclose(val, 11.652071455223084)
    np.testing.assert_allclose(t, 5.5)
    # log to base s via division, with a dual base
    _, t = ad.jvp(lambda x, s: np.log(x) / np.log(s), (8.0, 2.0), (1.0, 1.0))
    ref = 1 / (8 * math.log(2)) - math.log(8) / (2 * math.log(2) ** 2)
    np.testing.assert_allclose(t, ref)
    _, t = ad.jvp(np.arctan, (2.0,), (1.0,))
    np.testing.assert_allclose(t, 0.2)
    _, t = ad.jvp(lambda x: abs(x), (-3.0,), (1.0,))
    assert t == -1.0


# ---------------------------------------------------------------------------------------------
# clip, where, sinc: elementwise entries that are not ufuncs
# ---------------------------------------------------------------------------------------------

def _away_from(x, bounds, gap=0.05):
    for b in bounds:
        x = np.where(np.abs(x - b) < gap, x + 2 * gap, x)
    return x


CLIP_CASES = {
    "scalar-bounds": ((3, 4), -0.5, 0.6),
    "array-bounds": ((3, 4), np.full((4,), -0.4), np.full((3, 1), 0.5)),
    "0d": ((), -0.5, 0.6),
    "vector": ((7,), -0.3, 0.3),
}


@pytest.mark.parametrize("case", CLIP_CASES, ids=str)
def test_clip(case):
    shape, lo, hi = CLIP_CASES[case]
    rng = np.random.default_rng(10)
    x = _away_from(rng.uniform(-1.0, 1.0, shape), [-0.5, -0.4, -0.3, 0.3, 0.5, 0.6])
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    out = check_forward(np.clip, [x, lo, hi])
    np.testing.assert_array_equal(out.primal, np.clip(x, lo, hi))
    check_adjoint(np.clip, [x, lo, hi])
    check_forward(lambda a: np.clip(a, lo, None), [x])
    check_forward(lambda a: np.clip(a, None, hi), [x])
    check_forward(lambda a: a.clip(min=-0.5, max=0.6), [x])
    check_adjoint(lambda a: np.clip(a, -0.5, 0.6), [x])


def test_clip_derivative_is_one_inside_zero_outside():
    x = np.array([-2.0, -0.2, 0.3, 2.0])
    _, t = ad.jvp(lambda a: np.clip(a, -1.0, 1.0), (x,), (np.ones(4),))
    np.testing.assert_array_equal(t, [0.0, 1.0, 1.0, 0.0])
    _, t = ad.jvp(lambda lo: np.clip(x, lo, 1.0), (-1.0,), (1.0,))
    np.testing.assert_array_equal(t, [1.0, 0.0, 0.0, 0.0])


WHERE_SHAPES = [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ()), ((4,), (3, 1), (3, 4)),
                ((), (5,), (5,)), ((), (), (5,))]


@pytest.mark.parametrize("argnums", [(0, 1), (0,), (1,)], ids=["both", "x", "y"])
@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where(shapes, argnums):
    cs, xs, ys = shapes
    rng = np.random.default_rng(11)
    cond = rng.uniform(size=cs) > 0.5
    x, y = rng.uniform(-1, 1, xs), rng.uniform(-1, 1, ys)
    out = check_forward(lambda a, b: np.where(cond, a, b), [x, y], argnums=argnums)
    np.testing.assert_array_equal(out.primal, np.where(cond, x, y))
    check_adjoint(lambda a, b: np.where(cond, a, b), [x, y], argnums=argnums)
    # a condition computed from a dual array is a plain mask
    check_forward(lambda a, b: np.where(a > 0, a, b * a), [x, y], argnums=argnums)


def test_clip_where_sinc_float32():
    x = DualArray(np.array([0.0, 0.3, -0.7], np.float32), np.ones(3, np.float32))
    for f in (np.sinc, lambda a: np.clip(a, -0.5, 0.5), lambda a: np.where(a > 0.1, a, 2.0 * a)):
        r = f(x)
        assert r.primal.dtype == np.float32 and r.tangent.dtype == np.float32


def test_where_one_argument_is_nonzero():
    d = DualArray(np.array([0.0, 1.5, 0.0, 2.0]), np.ones(4))
    (idx,) = np.where(d)
    np.testing.assert_array_equal(idx, [1, 3])


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
def test_sinc(shape):
    rng = np.random.default_rng(12)
    x = Dom(0.1, 1.9, signed=True).sample(rng, shape)
    out = check_forward(np.sinc, [x])
    np.testing.assert_allclose(out.primal, np.sinc(x), rtol=1e-15)
    check_adjoint(np.sinc, [x])


def test_sinc_derivatives_at_zero():
    # the removable singularity: sinc'(0) = 0, sinc''(0) = -π²/3
    x = np.array([0.0, 0.5])
    _, t = ad.jvp(np.sinc, (x,), (np.ones(2),))
    np.testing.assert_allclose(t, [0.0, (math.cos(math.pi / 2) - np.sinc(0.5)) / 0.5],
                               atol=1e-15)
    got = _nested_second(np.sinc, x, np.ones(2), np.ones(2))
    ref = _fd_second(np.sinc, x, np.ones(2), np.ones(2), 1e-4)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    np.testing.assert_allclose(got[0], -math.pi ** 2 / 3, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# special points of individual entries
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [sp.xlogy, sp.xlog1py], ids=_name)
def test_xlogy_at_x_zero(op):
    # xlogy(x, y) = x log y: at x == 0 (y > 0) ∂/∂x is log y and ∂/∂y is 0
    x, y = np.array([0.0, 0.0, 0.5]), np.array([2.0, 0.5, 1.5])
    check_forward(op, [x, y])
    check_adjoint(op, [x, y])
    log = np.log if op is sp.xlogy else np.log1p
    _, t = ad.jvp(op, (x, y), (np.ones(3), np.zeros(3)))
    np.testing.assert_allclose(t, log(y), rtol=1e-14)
    # the second partials by nesting, at x == 0 too
    z, v, w = np.stack([x, y]), np.ones((2, 3)), np.array([[1.0] * 3, [-0.5] * 3])
    f = (lambda zz: op(zz[0], zz[1]))
    np.testing.assert_allclose(_nested_second(f, z, v, w), _fd_second(f, z, v, w, 1e-4),
                               rtol=1e-6, atol=1e-8)


def test_xlogy_at_both_zero_is_finite_in_y():
    # xlogy(0, y) == 0 for every y >= 0: the y-derivative at (0, 0) is 0, not nan
    _, t = ad.jvp(lambda y: sp.xlogy(0.0, y), (np.array([0.0, 1.0]),), (np.ones(2),))
    np.testing.assert_array_equal(t, [0.0, 0.0])


def test_fmax_fmin_ignore_nan():
    x = np.array([np.nan, 1.0, 2.0])
    y = np.array([0.5, np.nan, 3.0])
    for op, ref in ((np.fmax, [[0, 1, 0], [1, 0, 1]]), (np.fmin, [[0, 1, 1], [1, 0, 0]])):
        _, tx = ad.jvp(lambda a: op(a, y), (x,), (np.ones(3),))
        _, ty = ad.jvp(lambda b: op(x, b), (y,), (np.ones(3),))
        np.testing.assert_array_equal(tx, ref[0])
        np.testing.assert_array_equal(ty, ref[1])


# ---------------------------------------------------------------------------------------------
# documented non-differentiable points (README) in both rules
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [np.absolute, np.fabs, abs], ids=["absolute", "fabs", "abs"])
def test_abs_derivative_at_zero_is_zero(op):
    x = np.array([-2.0, 0.0, 3.0])
    _, t = ad.jvp(op, (x,), (np.ones(3),))
    np.testing.assert_array_equal(t, [-1.0, 0.0, 1.0])
    if op is not abs:
        prim = UFUNC_RULES[op]
        g = prim.vjp(0, np.ones((1, 3)), op(x), x)
        np.testing.assert_array_equal(g, [[-1.0, 0.0, 1.0]])


@pytest.mark.parametrize("op", [np.maximum, np.minimum, np.fmax, np.fmin], ids=_name)
def test_extremum_ties_split_half_half(op):
    x = np.array([1.0, 2.0, -3.0])
    y = np.array([1.0, 0.0, 0.0])  # tie at index 0
    first = 1.0 if op in (np.maximum, np.fmax) else 0.0
    _, tx = ad.jvp(lambda a: op(a, y), (x,), (np.ones(3),))
    _, ty = ad.jvp(lambda b: op(x, b), (y,), (np.ones(3),))
    np.testing.assert_array_equal(tx, [0.5, first, 1.0 - first])
    np.testing.assert_array_equal(ty, [0.5, 1.0 - first, first])
    _, both = ad.jvp(op, (x, y), (np.ones(3), np.ones(3)))
    np.testing.assert_array_equal(both, [1.0, 1.0, 1.0])
    prim = UFUNC_RULES[op]
    g = np.ones((1, 3))
    ans = op(x, y)
    np.testing.assert_array_equal(prim.vjp(0, g, ans, x, y), [[0.5, first, 1.0 - first]])
    np.testing.assert_array_equal(prim.vjp(1, g, ans, x, y), [[0.5, 1.0 - first, first]])
    # a tie against a broadcast scalar: the scalar collects half of each tied entry
    _, ts = ad.jvp(lambda s: op(np.array([1.0, 1.0, 5.0]), s), (1.0,), (1.0,))
    np.testing.assert_array_equal(ts, [0.5, 0.5, 1.0 - first])


ZERO_DERIVATIVE = {
    "sign": np.sign, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint,
    "round": np.round, "around": np.around, "round-2": lambda x: np.round(x, 2),
    "method-round": lambda x: x.round(), "fix": np.fix,
    "floor_divide": lambda x: np.floor_divide(x, 0.7), "floordiv-op": lambda x: x // 0.7,
    "heaviside": lambda x: np.heaviside(x, 0.5),
}


@pytest.mark.parametrize("name", ZERO_DERIVATIVE, ids=str)
def test_zero_derivative_ops_return_plain_arrays(name):
    op = ZERO_DERIVATIVE[name]
    x = np.array([-1.7, -0.2, 0.4, 2.6])
    r = op(DualArray(x, np.ones(4)))
    assert type(r) is np.ndarray, f"{name} returned {type(r).__name__}"
    np.testing.assert_array_equal(r, op(x))
    out, t = ad.jvp(op, (x,), (np.ones(4),))
    np.testing.assert_array_equal(out, op(x))
    np.testing.assert_array_equal(t, np.zeros(4))


COMPARISONS = {
    "less": np.less, "less_equal": np.less_equal, "greater": np.greater,
    "greater_equal": np.greater_equal, "equal": np.equal, "not_equal": np.not_equal,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@pytest.mark.parametrize("name", COMPARISONS, ids=str)
def test_comparisons_return_plain_boolean_arrays(name):
    op = COMPARISONS[name]
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    dx, dy = DualArray(x, np.ones(3)), DualArray(y, np.ones(3))
    for a, b in ((dx, dy), (dx, y), (x, dy), (dx, 2.0), (2.0, dx)):
        r = op(a, b)
        assert type(r) is np.ndarray and r.dtype == bool, f"{name}: {type(r).__name__}"
        pa = a.primal if isinstance(a, DualArray) else a
        pb = b.primal if isinstance(b, DualArray) else b
        np.testing.assert_array_equal(r, op(pa, pb))
    r0 = op(DualArray(1.0, 1.0), 2.0)  # 0-d: a NumPy bool, not a DualArray
    assert not isinstance(r0, DualArray) and np.asarray(r0).dtype == bool


@pytest.mark.parametrize("op", [np.isnan, np.isinf, np.isfinite, np.signbit], ids=_name)
def test_predicates_return_plain_boolean_arrays(op):
    x = np.array([1.0, -2.0, 0.5])
    r = op(DualArray(x, np.ones(3)))
    assert type(r) is np.ndarray and r.dtype == bool
    np.testing.assert_array_equal(r, op(x))


def test_nondiff_table_entries_return_plain_values():
    x = DualArray(np.array([1.0, 2.0]), np.ones(2))
    for u in NONDIFF_UFUNCS:
        assert UFUNC_RULES[u].nondiff
    assert type(np.floor(x)) is np.ndarray


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------

def _dual(shape=(3, 3)):
    rng = np.random.default_rng(0)
    return DualArray(rng.uniform(size=shape), np.ones(shape))


@pytest.mark.parametrize("call,name", [
    (lambda d: np.linalg.eig(d), "numpy.linalg.eig"),
    (lambda d: np.nanmedian(d), "numpy.nanmedian"),
    (lambda d: np.histogram(d), "numpy.histogram"),
    (lambda d: sp.jv(1.0, d), "scipy.special.jv"),
], ids=["eig", "nanmedian", "histogram", "scipy-jv"])
def test_function_without_rule_raises_type_error_naming_it(call, name):
    with pytest.raises(TypeError) as e:
        call(_dual())
    msg = str(e.value)
    assert name in msg and "JVP" in msg, msg


def test_ufunc_methods_other_than_call_raise():
    with pytest.raises(TypeError, match="numpy.add.reduce"):
        np.add.reduce(_dual())


def test_conversions_raise_type_error():
    d = _dual()
    with pytest.raises(TypeError):
        np.asarray(d)
    with pytest.raises(TypeError):
        np.array(d)
    with pytest.raises(TypeError):
        float(DualArray(1.0, 1.0))
    with pytest.raises(TypeError):
        int(DualArray(1.0, 1.0))


def test_out_argument_raises_type_error():
    d = _dual()
    buf = np.empty((3, 3))
    with pytest.raises(TypeError, match="out="):
        np.sin(d, out=buf)
    with pytest.raises(TypeError, match="out="):
        np.add(d, d, out=buf)
    with pytest.raises(TypeError, match="out="):
        np.clip(d, 0.0, 1.0, out=buf)
    with pytest.raises(TypeError, match="out="):
        np.round(d, out=buf)


def test_item_assignment_works_as_in_reverse_mode():
    # (it used to raise in forward mode only; tests/test_inplace_views.py has the full story)
    d = _dual()
    before = d.primal.copy()
    d[0, 0] = 1.0
    d[:, 1] = DualArray(np.zeros(3), np.full(3, 2.0))
    expect = before.copy()
    expect[0, 0] = 1.0
    expect[:, 1] = 0.0
    np.testing.assert_array_equal(d.primal, expect)
    tangent = np.ones((3, 3))
    tangent[0, 0] = 0.0
    tangent[:, 1] = 2.0
    np.testing.assert_array_equal(d.tangent, tangent)


# ---------------------------------------------------------------------------------------------
# distribution functions differentiable in their last argument only
# ---------------------------------------------------------------------------------------------

#: op -> (the density d op / dx as a function of (shape parameters..., x), domain of x)
DENSITIES = {
    sp.betainc: (lambda a, b, x: x ** (a - 1) * (1 - x) ** (b - 1) / sp.beta(a, b), UNIT),
    sp.betaincc: (lambda a, b, x: -x ** (a - 1) * (1 - x) ** (b - 1) / sp.beta(a, b), UNIT),
    sp.gammainc: (lambda a, x: x ** (a - 1) * np.exp(-x) / sp.gamma(a), POS),
    sp.gammaincc: (lambda a, x: -x ** (a - 1) * np.exp(-x) / sp.gamma(a), POS),
    sp.stdtr: (lambda df, t: sp.gamma((df + 1) / 2) / (np.sqrt(df * np.pi) * sp.gamma(df / 2))
               * (1 + t * t / df) ** (-(df + 1) / 2), Dom(-2.0, 2.0)),
}


def test_every_in_x_entry_has_a_density():
    assert set(DENSITIES) == set(IN_X_SPECIAL)


@pytest.mark.parametrize("op", list(IN_X_SPECIAL), ids=_name)
def test_in_x_entries(op):
    rng = np.random.default_rng(7)
    density, dom = DENSITIES[op]
    params = [POS.sample(rng, (4,)) + 0.5 for _ in range(op.nin - 1)]
    x = dom.sample(rng, (4,))
    args = params + [x]
    last = op.nin - 1
    out = check_forward(op, args, argnums=[last])
    np.testing.assert_array_equal(out.primal, op(*args))
    assert check_adjoint(op, args, argnums=[last]) == [UFUNC_RULES[op].name]
    expected = np.diag(density(*params, x))  # the closed form
    np.testing.assert_allclose(ad.jacfwd(lambda v: op(*params, v))(x), expected, rtol=1e-12)
    np.testing.assert_allclose(ad.jacrev(lambda v: op(*params, v))(x), expected, rtol=1e-12)
    ad.check_grads(lambda v: op(*[p[0] for p in params], v), (x,), order=2)
    for k in range(last):
        with pytest.raises(NotImplementedError, match=f"argument {k} is not implemented"):
            ad.grad(lambda v: np.sum(op(*[v if j == k else args[j] for j in range(op.nin)])))(
                args[k])
