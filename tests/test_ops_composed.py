"""Table-driven tests of the NumPy functions composed from the entries (``dualad.ops.composed``)
and of the entries added with them.

Each case is checked four ways: the traced primal against NumPy's own result (exactly, or to
rounding where the composition sums in another order), forward lanes against central
differences (``check_forward``), ⟨u, J v⟩ = ⟨Jᵀu, v⟩ for every primitive it binds
(``check_adjoint``), and ``check_grads`` to second order in both modes.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import dualad as ad
from dualad import DualArray
from ophelpers import check_adjoint, check_forward


def _a(*shape, lo=0.1, hi=0.9, seed=0):
    rng = np.random.default_rng(seed + sum(shape))
    return rng.uniform(lo, hi, shape)


R = _a(7, seed=11)
SORTED = np.sort(_a(6, seed=3))  # distinct, increasing knots


MASK = np.array([[True, False, False], [False, False, True], [False, False, False],
                 [True, False, False]])


def _nanned(v):
    return np.where(MASK, np.nan, v)  # NaNs at fixed places, a constant mask


#: name -> (function, arguments, exact): ``exact`` says the primal equals NumPy's bit for bit
CASES = {
    "append": (lambda x: np.append(x, x[:2] * 2.0), [_a(5)], True),
    "append-axis": (lambda x, y: np.append(x, y, axis=1), [_a(2, 3), _a(2, 2)], True),
    "dsplit": (lambda x: np.concatenate([np.ravel(p) for p in np.dsplit(x, 2)]),
               [_a(1, 2, 4)], True),
    "rollaxis": (lambda x: np.rollaxis(x, 2), [_a(2, 3, 4)], True),
    "rollaxis-start": (lambda x: np.rollaxis(x, 0, 3), [_a(2, 3, 4)], True),
    "rot90": (np.rot90, [_a(2, 3)], True),
    "rot90-k2": (lambda x: np.rot90(x, 2), [_a(2, 3)], True),
    "rot90-k3-axes": (lambda x: np.rot90(x, -1, axes=(2, 0)), [_a(2, 3, 4)], True),
    "partition": (lambda x: np.partition(x, 3), [_a(7)], True),
    "partition-axis0": (lambda x: np.partition(x, (0, 2), axis=0), [_a(4, 3)], True),
    "partition-None": (lambda x: np.partition(x, 4, axis=None), [_a(3, 3)], True),
    "select": (lambda x, y: np.select([x > 0.5, x < 0.3], [x ** 2, y * 3.0], default=x),
               [_a(6), _a(6, seed=1)], True),
    "piecewise": (lambda x: np.piecewise(x, [x < 0.4, x > 0.7], [lambda t: t ** 2, np.sin,
                                                                  lambda t: -t]), [_a(8)], True),
    "piecewise-scalar": (lambda x: np.piecewise(x, [x < 0.5], [lambda t: t * 3.0, 1.5]) * x,
                         [_a(8)], True),
    "meshgrid-xy": (lambda x, y: np.stack(np.meshgrid(x, y)), [_a(2), _a(3, seed=1)], True),
    "meshgrid-ij-sparse": (lambda x, y: np.meshgrid(x, y, indexing="ij", sparse=True)[0] *
                           np.meshgrid(x, y, indexing="ij", sparse=True)[1],
                           [_a(2), _a(3, seed=1)], True),
    "ediff1d": (lambda x: np.ediff1d(x, to_end=x[:1] * 2.0, to_begin=-1.0), [_a(2, 3)], True),
    "vander": (lambda x: np.vander(x, 4), [_a(3)], True),
    "vander-increasing": (lambda x: np.vander(np.concatenate([x, [0.0]]), increasing=True),
                          [_a(3)], True),
    "unwrap": (lambda x: np.unwrap(x * 9.0), [_a(6)], False),
    "nan_to_num": (lambda x: np.nan_to_num(np.where(MASK, [np.inf, np.nan, -np.inf], x),
                                            posinf=2.0), [_a(4, 3)], True),
    "linspace": (lambda x: np.linspace(x[0], x[1], 7), [_a(2)], True),
    "linspace-arrays": (lambda x, y: np.linspace(x, y, 4, endpoint=False, axis=1),
                        [_a(3), _a(3, seed=1)], True),
    "linspace-retstep": (lambda x: np.linspace(0.0, x, 5, retstep=True)[1] * x, [_a()], True),
    "trapezoid": (np.trapezoid, [_a(3, 5)], True),
    "trapezoid-x": (lambda y, x: np.trapezoid(y, np.cumsum(x), axis=0), [_a(4, 2), _a(4)],
                    True),
    "trapezoid-dx": (lambda y: np.trapezoid(y, dx=0.25, axis=0), [_a(4, 2)], True),
    "gradient": (np.gradient, [_a(6)], True),
    "gradient-2d": (lambda x: np.stack(np.gradient(x, 0.5)), [_a(3, 4)], True),
    "gradient-edge2": (lambda x: np.gradient(x, 2.0, axis=1, edge_order=2), [_a(3, 4)], True),
    "polyval": (lambda p, x: np.polyval(p, x), [_a(4), _a(3, seed=1)], True),
    "interp": (lambda x: np.interp(x, SORTED, np.sin(SORTED) * 3.0),
               [np.array([0.05, 0.3, 0.55, 0.97])], True),
    "interp-knots-values": (lambda xp, fp: np.interp(np.array([-1.0, 0.45, 2.0]), xp, fp),
                            [SORTED, _a(6, seed=4)], True),
    "interp-left-right": (lambda x: np.interp(x, [0.2, 0.6], [1.0, 2.0], left=-1.0,
                                              right=x[0]), [_a(5)], True),
    "convolve": (np.convolve, [_a(6), _a(3, seed=1)], True),
    "convolve-short-first-same": (lambda a, v: np.convolve(a, v, "same"),
                                  [_a(2), _a(5, seed=1)], False),
    "convolve-valid": (lambda a, v: np.convolve(a, v, "valid"), [_a(6), _a(4, seed=1)], False),
    "correlate": (np.correlate, [_a(6), _a(3, seed=1)], False),
    "correlate-full": (lambda a, v: np.correlate(a, v, "full"), [_a(2), _a(5, seed=1)], False),
    "nansum": (lambda x: np.nansum(_nanned(x), axis=0), [_a(4, 3)], True),
    "nanmean": (lambda x: np.nanmean(_nanned(x), axis=1, keepdims=True), [_a(4, 3)], True),
    "median-even": (np.median, [_a(6)], True),
    "median-odd-axis": (lambda x: np.median(x, axis=0), [_a(5, 2)], True),
    "median-axes-keepdims": (lambda x: np.median(x, axis=(0, 2), keepdims=True),
                             [_a(3, 2, 2)], True),
    "percentile": (lambda x: np.percentile(x, [10.0, 50.0, 99.0]), [_a(7)], True),
    "quantile-axis": (lambda x: np.quantile(x, 0.3, axis=1), [_a(3, 5)], True),
    "quantile-methods": (lambda x: np.stack([np.quantile(x, 0.37, method=m) for m in
                                             ("lower", "higher", "midpoint", "nearest")]),
                         [_a(6)], True),
    "lstsq": (lambda a, b: np.linalg.lstsq(a, b)[0], [_a(4, 2), _a(4, seed=1)], False),
    "lstsq-residuals": (lambda a, b: np.linalg.lstsq(a, b)[1], [_a(4, 2), _a(4, 3, seed=1)],
                        False),
    "i0": (np.i0, [_a(5)], True),
    "scipy-i0-i1": (lambda x: sp.i0(x) * sp.i1(x), [_a(5)], True),
    "degrees-radians": (lambda x: np.degrees(x) * np.radians(x), [_a(4)], True),
    "beta-betaln": (lambda a, b: sp.beta(a, b) + sp.betaln(a, b), [_a(3) + 1, _a(3) + 2], True),
}


def _ravel(out):
    if isinstance(out, (tuple, list)):
        return np.concatenate([np.ravel(o) for o in out])
    return out


@pytest.mark.parametrize("name", CASES)
def test_primal_is_numpys(name):
    f, args, exact = CASES[name]
    ref = np.asarray(f(*args))
    duals = [DualArray(a, np.ones_like(a)) for a in args]
    got = f(*duals)
    assert isinstance(got, DualArray)
    assert got.primal.shape == ref.shape and got.primal.dtype == ref.dtype
    if exact:
        np.testing.assert_array_equal(got.primal, ref)
    else:
        np.testing.assert_allclose(got.primal, ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_forward_against_differences(name):
    f, args, _ = CASES[name]
    check_forward(f, args)


@pytest.mark.parametrize("name", CASES)
def test_adjoint(name):
    f, args, _ = CASES[name]
    check_adjoint(f, args)


@pytest.mark.parametrize("name", CASES)
def test_both_modes_second_order(name):
    f, args, _ = CASES[name]
    ad.check_grads(f, tuple(args), order=2)


def test_closed_forms():
    # interp: slope between the knots; nan_to_num: zero where replaced; median: the middle
    x = np.array([0.25, 0.75])
    np.testing.assert_allclose(ad.jacfwd(lambda v: np.interp(v, [0.0, 0.5, 1.0],
                                                             [0.0, 2.0, 1.0]))(x),
                               np.diag([4.0, -2.0]))
    g = ad.grad(lambda v: np.median(v))(np.array([3.0, 1.0, 2.0, 5.0]))
    np.testing.assert_array_equal(g, [0.5, 0.0, 0.5, 0.0])
    # (an infinite partial upstream still gives 0 * inf = nan, as in JAX: the rule is zero,
    # the chain through it is not)
    g = ad.grad(lambda v: np.sum(np.nan_to_num(v) * 2.0))(np.array([1.0, np.inf, np.nan]))
    np.testing.assert_array_equal(g, [2.0, 0.0, 0.0])
    # lstsq's solution is the pseudo-inverse's: x = (AᵀA)⁻¹Aᵀb, so dx/db = (AᵀA)⁻¹Aᵀ
    a, b = _a(5, 2), _a(5, seed=2)
    np.testing.assert_allclose(ad.jacrev(lambda v: np.linalg.lstsq(a, v)[0])(b),
                               np.linalg.solve(a.T @ a, a.T), rtol=1e-10)
    # the Bessel derivatives: I0' = I1, and I1'(0) is its limit 1/2
    np.testing.assert_allclose(ad.grad(lambda v: np.sum(np.i0(v)))(x), sp.i1(x), rtol=1e-14)
    assert ad.grad(lambda v: sp.i1(v))(0.0) == 0.5


def test_errors():
    d = DualArray(_a(4), np.ones(4))
    with pytest.raises(NotImplementedError, match="period="):
        np.interp(d, [0.0, 1.0], [0.0, 1.0], period=1.0)
    with pytest.raises(NotImplementedError, match="method='weibull'"):
        np.quantile(d, 0.5, method="weibull")
    with pytest.raises(NotImplementedError, match="coordinate arrays"):
        np.gradient(d, np.arange(4.0))
    with pytest.raises(ValueError, match="same length"):
        np.select([d > 0.5], [d, d])
    with pytest.raises(ValueError, match="dimensions"):
        np.dsplit(DualArray(_a(2, 4), np.ones((2, 4))), 2)
    with pytest.raises(ValueError, match="Quantiles must be in the range"):
        np.quantile(d, 1.5)
    with pytest.raises(np.exceptions.AxisError):
        np.rollaxis(d, 3)
