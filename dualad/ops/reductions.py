"""Reduction entries: sum, prod, max/min, cumsum, cumprod; mean, var, std composed from them.

Axes are normalized once by the fronts to a tuple of non-negative ints, so the rules only shift
them past the lane axis. Reductions with ties (max/min) split the derivative equally among the
tied entries (README, "Non-differentiable points").
"""
from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from .core import Primitive, implements, linear, ndim_of, shape_of
from .shape import plain

__all__ = ["sum_p", "prod_p", "max_p", "min_p", "cumsum_p", "cumprod_p", "normalize_axes"]


_ALL_AXES = [tuple(range(nd)) for nd in range(33)]  # NumPy's limit is 32 (or 64) dimensions


def normalize_axes(axis, nd):
    """``axis`` as a sorted tuple of distinct non-negative ints (``None``: all axes).

    NumPy's own normalizer: an axis out of range raises its ``AxisError``, a repeated one
    ``ValueError``, both naming the ``axis`` argument.
    """
    if axis is None:
        return _ALL_AXES[nd] if nd < 33 else tuple(range(nd))
    return tuple(sorted(normalize_axis_tuple(axis, nd, "axis")))


_add_reduce = np.add.reduce

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray
_ARRAY_TYPES = (np.ndarray, np.generic)
_empty = np.empty
_NoValue = np._NoValue


def _kept_shape(xshape, axes):
    return tuple(1 if n in axes else d for n, d in enumerate(xshape))


def _expand(g, xshape, axes, keepdims):
    """Broadcast the lane-carrying reduced cotangent back over the reduced axes."""
    k = g.shape[0]
    if type(g) is np.ndarray:
        # a filled fresh array: a tenth of np.broadcast_to's cost on small arrays, and the
        # sweep need not copy a read-only view before handing it out as a gradient
        out = np.empty((k,) + tuple(xshape), dtype=g.dtype)
        out[...] = g if keepdims else g.reshape((k,) + _kept_shape(xshape, axes))
        return out
    if not keepdims:
        g = np.reshape(g, (k,) + _kept_shape(xshape, axes))
    return np.broadcast_to(g, (k,) + tuple(xshape))


def _lane_axes(axes):
    return tuple(a + 1 for a in axes)


def _check_unsupported(name, out=None, where=True, initial=np._NoValue, dtype=None):
    if out is not None:
        raise TypeError(f"numpy.{name}: out= is not supported on traced arrays")
    if where is not True:
        raise NotImplementedError(f"numpy.{name}: where= on traced arrays")
    if initial is not np._NoValue:
        raise NotImplementedError(f"numpy.{name}: initial= on traced arrays")


# ---------------------------------------------------------------------------------------------
# sum
# ---------------------------------------------------------------------------------------------

def _sum_impl(x, axis, keepdims):
    if type(x) is _ndarray:  # the ufunc's reduce: no Python-level layer of np.sum or .sum
        return _add_reduce(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


def _sum_vjp_plain(i, g, ans, x, axis, keepdims):
    """The sum's VJP for one cotangent without the lane axis: a full sum (``np.sum(x)``, the
    usual loss) fills an array with the one number; the rest goes through the lane rule."""
    xshape = shape_of(x)
    if not keepdims and len(axis) == len(xshape) and isinstance(g, _ARRAY_TYPES):
        out = _empty(xshape, dtype=g.dtype)
        out.fill(g)
        return out
    return _expand(g[None], xshape, axis, keepdims)[0]


sum_p = linear(
    "numpy.sum", _sum_impl,
    lanes=lambda t, axis, keepdims: np.sum(t, axis=_lane_axes(axis), keepdims=keepdims),
    transpose=lambda g, x, axis, keepdims: _expand(g, shape_of(x), axis, keepdims),
    vjp_plain=_sum_vjp_plain)


@implements(np.sum)
def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue, where=True):
    if out is not None or where is not True or initial is not _NoValue:
        _check_unsupported("sum", out, where, initial)
    r = sum_p.bind(a, axis=normalize_axes(axis, ndim_of(a)), keepdims=bool(keepdims))
    return r if dtype is None else r.astype(dtype)


def _count(a, axes):
    s = shape_of(a)
    return int(np.prod([s[n] for n in axes])) if axes else 1


@implements(np.mean)
def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    _check_unsupported("mean", out, where)
    axes = normalize_axes(axis, ndim_of(a))
    r = sum_p.bind(a, axis=axes, keepdims=bool(keepdims)) / float(_count(a, axes))
    return r if dtype is None else r.astype(dtype)


@implements(np.average)
def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    if weights is None:
        avg = _mean(a, axis=axis, keepdims=keepdims)
        scl = float(_count(a, normalize_axes(axis, ndim_of(a))))
    else:
        if shape_of(weights) != shape_of(a):
            if axis is None or ndim_of(weights) != 1:
                raise TypeError("numpy.average: weights of a different shape need an axis")
            shape = [1] * ndim_of(a)
            shape[int(axis)] = -1
            weights = np.reshape(weights, shape)
        scl = _sum(np.broadcast_to(weights, shape_of(a)), axis=axis, keepdims=keepdims)
        avg = _sum(a * weights, axis=axis, keepdims=keepdims) / scl
    return (avg, scl) if returned else avg


@implements(np.var)
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
         mean=np._NoValue, correction=np._NoValue):
    _check_unsupported("var", out, where)
    if correction is not np._NoValue:
        ddof = correction
    axes = normalize_axes(axis, ndim_of(a))
    m = _mean(a, axis=axes, keepdims=True) if mean is np._NoValue else mean
    d = a - m
    # (complex: NumPy's variance is the mean of |d|², a real number)
    dd = np.real(d * np.conjugate(d)) if d.dtype.kind == "c" else d * d
    r = sum_p.bind(dd, axis=axes, keepdims=bool(keepdims)) / float(_count(a, axes) - ddof)
    return r if dtype is None else r.astype(dtype)


@implements(np.std)
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
         mean=np._NoValue, correction=np._NoValue):
    axes = normalize_axes(axis, ndim_of(a))
    if _count(a, axes) == 1 and mean is np._NoValue and \
            (ddof if correction is np._NoValue else correction) == 0:
        # the std of one element is the constant 0, whose derivative is 0; sqrt(var) would
        # give sqrt'(0)·0 = inf·0 = NaN. |x - mean(x)| is the same value with derivative 0
        _check_unsupported("std", out, where)
        r = sum_p.bind(np.abs(a - _mean(a, axis=axes, keepdims=True)), axis=axes,
                       keepdims=bool(keepdims))
        return r if dtype is None else r.astype(dtype)
    return np.sqrt(_var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                        correction=correction))


# ---------------------------------------------------------------------------------------------
# max / min: ties share the derivative equally
# ---------------------------------------------------------------------------------------------

def _tie_partial(ans, x, axis, keepdims):
    """∂ans/∂x for a max/min reduction: 1/(number of tied extremes) at each extreme, else 0."""
    a = ans if keepdims else np.reshape(ans, _kept_shape(shape_of(x), axis))
    mask = np.asarray(x == a)
    d = mask / np.sum(mask, axis=axis, keepdims=True)
    return d.astype(x.dtype)


def _extreme(name, fn):
    return Primitive(
        f"numpy.{name}", lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims),
        jvp=lambda ts, ans, x, axis, keepdims: np.sum(
            ts[0] * _tie_partial(ans, x, axis, keepdims), axis=_lane_axes(axis),
            keepdims=keepdims),
        vjp=lambda i, g, ans, x, axis, keepdims: _expand(g, shape_of(x), axis, keepdims)
        * _tie_partial(ans, x, axis, keepdims), saves=("ans", 0))


max_p = _extreme("max", np.max)
min_p = _extreme("min", np.min)


def _extreme_front(prim, name):
    def front(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=True):
        _check_unsupported(name, out, where, initial)
        if 0 in shape_of(a):
            raise ValueError(f"numpy.{name}: zero-size array to reduction operation")
        return prim.bind(a, axis=normalize_axes(axis, ndim_of(a)), keepdims=bool(keepdims))
    return front


implements(np.max, np.amax)(_extreme_front(max_p, "max"))
implements(np.min, np.amin)(_extreme_front(min_p, "min"))


@implements(np.ptp)
def _ptp(a, axis=None, out=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------------------------
# prod: the derivative is the product of the other entries, exact also with zeros
# ---------------------------------------------------------------------------------------------

def _others_product(ans, x, axis, keepdims):
    """∂prod/∂x_j = ∏_{k≠j} x_k along the reduced axes, without dividing by zero."""
    if not np.any(plain(x) == 0):
        a = ans if keepdims else np.reshape(ans, _kept_shape(shape_of(x), axis))
        return a / x
    xshape = shape_of(x)
    nd = len(xshape)
    rest = [n for n in range(nd) if n not in axis]
    moved = np.transpose(x, rest + list(axis))
    n = int(np.prod([xshape[a] for a in axis]))
    flat = np.reshape(moved, tuple(xshape[r] for r in rest) + (n,))
    # row j of the matrix holds x with x_j replaced by 1; its product leaves x_j out
    others = np.prod(np.where(np.eye(n, dtype=bool), 1.0, np.expand_dims(flat, -2)), axis=-1)
    back = np.reshape(others, tuple(xshape[r] for r in rest) + tuple(xshape[a] for a in axis))
    return np.transpose(back, np.argsort(rest + list(axis)))


prod_p = Primitive(
    "numpy.prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    jvp=lambda ts, ans, x, axis, keepdims: np.sum(
        ts[0] * _others_product(ans, x, axis, keepdims), axis=_lane_axes(axis),
        keepdims=keepdims),
    vjp=lambda i, g, ans, x, axis, keepdims: _expand(g, shape_of(x), axis, keepdims)
    * _others_product(ans, x, axis, keepdims), saves=("ans", 0))


@implements(np.prod)
def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue, where=True):
    _check_unsupported("prod", out, where, initial)
    r = prod_p.bind(a, axis=normalize_axes(axis, ndim_of(a)), keepdims=bool(keepdims))
    return r if dtype is None else r.astype(dtype)


# ---------------------------------------------------------------------------------------------
# cumulative sum and product
# ---------------------------------------------------------------------------------------------

def _reverse_cumsum(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


cumsum_p = linear(
    "numpy.cumsum", lambda x, axis: np.cumsum(x, axis=axis),
    lanes=lambda t, axis: np.cumsum(t, axis=axis + 1),
    transpose=lambda g, x, axis: _reverse_cumsum(g, axis + 1))


def _cum_front(prim, name):
    def front(a, axis=None, dtype=None, out=None):
        if out is not None:
            raise TypeError(f"numpy.{name}: out= is not supported on traced arrays")
        if axis is None:
            a, axis = np.reshape(a, -1), 0
        r = prim.bind(a, axis=normalize_axes(axis, ndim_of(a))[0])
        return r if dtype is None else r.astype(dtype)
    return front


def _cumprod_matrix(x, axis):
    """D[..., i, j] = ∂cumprod_i/∂x_j = ∏_{k≤i, k≠j} x_k for j ≤ i, else 0 (axis moved last)."""
    xm = np.moveaxis(x, axis, -1)
    n = shape_of(xm)[-1]
    eye = np.eye(n, dtype=bool)
    rows = np.cumprod(np.where(eye, 1.0, np.expand_dims(xm, -2)), axis=-1)  # [.., j, i]
    return np.where(np.tril(np.ones((n, n), dtype=bool)), np.swapaxes(rows, -1, -2), 0.0)


def _cumprod_jvp(ts, ans, x, axis):
    t = ts[0]
    if not np.any(plain(x) == 0):
        return ans * np.cumsum(t / x, axis=axis + 1)
    d = _cumprod_matrix(x, axis)
    tm = np.moveaxis(t, axis + 1, -1)
    return np.moveaxis(np.matmul(d, np.expand_dims(tm, -1))[..., 0], -1, axis + 1)


def _cumprod_vjp(i, g, ans, x, axis):
    if not np.any(plain(x) == 0):
        return _reverse_cumsum(g * ans, axis + 1) / x
    d = _cumprod_matrix(x, axis)
    gm = np.moveaxis(g, axis + 1, -1)
    return np.moveaxis(np.matmul(np.expand_dims(gm, -2), d)[..., 0, :], -1, axis + 1)


cumprod_p = Primitive("numpy.cumprod", lambda x, axis: np.cumprod(x, axis=axis),
                      jvp=_cumprod_jvp, vjp=_cumprod_vjp, saves=("ans", 0))

implements(np.cumsum)(_cum_front(cumsum_p, "cumsum"))
implements(np.cumprod)(_cum_front(cumprod_p, "cumprod"))
