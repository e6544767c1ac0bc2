"""NumPy functions composed from the table's primitives: no rules of their own.

Each front below is what a tracer runs for the NumPy function it is registered for: it calls
NumPy functions on the traced values (which reach the primitives' rules) and computes on the
plain values only what has no derivative (indices, masks, orders). The derivative is then the
composition's, in both modes and at every order, with nothing to keep in step.

Where NumPy's own result is defined by its algorithm (``partition``'s order of the other
entries, ``quantile``'s interpolation), the front reproduces NumPy's values exactly; where it
is a sum in another order (``convolve``, ``correlate``, ``lstsq``) it agrees to rounding.
"""
from __future__ import annotations

import operator

import numpy as np
import scipy.special as sp

from .core import (Tracer, elementwise, implements, ndim_of, normalize_axis as _axis, reads,
                   plain_array as plain, shape_of)
from .elementwise import _register

__all__ = []


# ---------------------------------------------------------------------------------------------
# arranging
# ---------------------------------------------------------------------------------------------

@implements(np.append)
def _append(arr, values, axis=None):
    if axis is None:
        return np.concatenate([np.ravel(arr), np.ravel(values)])
    return np.concatenate([arr, values], axis=axis)


@implements(np.dsplit)
def _dsplit(ary, indices_or_sections):
    if ndim_of(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return np.split(ary, indices_or_sections, axis=2)


@implements(np.rollaxis)
def _rollaxis(a, axis, start=0):
    n = ndim_of(a)
    axis = _axis(axis, n, "rollaxis")
    start = operator.index(start)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(f"'start' arg requires {-n} <= start < {n + 1}, but "
                                      f"{start - n if start < 0 else start} was passed in")
    if axis < start:
        start -= 1  # the axis is taken out before it is put back
    if axis == start:
        return a
    order = [k for k in range(n) if k != axis]
    order.insert(start, axis)
    return np.transpose(a, order)


@implements(np.rot90)
def _rot90(m, k=1, axes=(0, 1)):
    axes = tuple(axes)
    n = ndim_of(m)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    if n < 2:
        raise ValueError("Axes must be different.") if axes[0] == axes[1] else \
            ValueError(f"Axes={axes} out of range for array of ndim={n}.")
    a0, a1 = _axis(axes[0], n, "rot90"), _axis(axes[1], n, "rot90")
    if a0 == a1:
        raise ValueError("Axes must be different.")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return np.flip(np.flip(m, a0), a1)
    order = list(range(n))
    order[a0], order[a1] = order[a1], order[a0]
    # a quarter turn: flip one axis, then swap the two (which one first gives the direction)
    return np.transpose(np.flip(m, a1), order) if k == 1 else np.flip(np.transpose(m, order), a1)


@implements(np.partition)
def _partition(a, kth, axis=-1, kind="introselect", order=None):
    if order is not None:
        raise NotImplementedError("numpy.partition: order= (structured arrays) is not "
                                  "supported on traced arrays")
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = _axis(axis, ndim_of(a), "partition")
    x = plain(a)
    p = np.partition(x, kth, axis=axis, kind=kind)
    # NumPy's own arrangement, as a permutation of a: the j-th entry of p is the r-th smallest
    # of p (stable ranks), which is the r-th smallest of a, which is a[argsort(a)[r]]
    ranks = np.argsort(np.argsort(p, axis=axis, kind="stable"), axis=axis, kind="stable")
    idx = np.take_along_axis(np.argsort(x, axis=axis, kind="stable"), ranks, axis=axis)
    return np.take_along_axis(a, idx, axis=axis)


@implements(np.select)
def _select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(choicelist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    out = np.broadcast_to(default, np.broadcast_shapes(*[shape_of(c) for c in condlist],
                                                       *[shape_of(c) for c in choicelist]))
    # the first true condition wins: apply them from the last to the first
    for cond, choice in zip(condlist[::-1], choicelist[::-1]):
        out = np.where(plain(cond).astype(bool), choice, out)
    return out


@implements(np.piecewise)
def _piecewise(x, condlist, funclist, *args, **kw):
    xv = plain(x)
    shape = xv.shape
    if isinstance(condlist, np.ndarray) and condlist.dtype == bool and condlist.ndim == \
            xv.ndim or not isinstance(condlist, (list, tuple, np.ndarray)):
        condlist = [condlist]
    conds = [np.broadcast_to(plain(c).astype(bool), shape) for c in condlist]
    n = len(conds)
    if len(funclist) == n + 1:  # the last function applies where no condition holds
        conds.append(~np.any(conds, axis=0) if n else np.ones(shape, bool))
    elif len(funclist) != n:
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are "
                         f"expected")
    # which piece each entry takes: the last true condition (NumPy assigns them in order)
    label = np.full(shape, -1)
    for k, c in enumerate(conds):
        label[c] = k
    flat_x, flat_label = np.ravel(x), label.ravel()
    pieces, where = [], []
    for k, (c, fun) in enumerate(zip(conds, funclist)):
        on = np.flatnonzero(c.ravel())
        vals = fun(flat_x[on], *args, **kw) if callable(fun) else np.full(on.size, fun, float)
        keep = flat_label[on] == k  # entries a later condition takes over are dropped
        vals = np.broadcast_to(vals, (on.size,)) if not np.shape(vals) else vals
        pieces.append(vals[np.flatnonzero(keep)])
        where.append(on[keep])
    rest = np.flatnonzero(flat_label < 0)  # no condition: zero, as NumPy leaves it
    pieces.append(np.zeros(rest.size, dtype=xv.dtype if xv.dtype.kind == "f" else float))
    where.append(rest)
    order = np.concatenate(where)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return np.reshape(np.concatenate(pieces)[inverse], shape)


@implements(np.meshgrid)
def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    n = len(xi)
    out = []
    for i, x in enumerate(xi):
        shape = [1] * n
        shape[i] = -1
        out.append(np.reshape(x, shape))
    if indexing == "xy" and n > 1:
        out[0] = np.reshape(out[0], (1, -1) + (1,) * (n - 2))
        out[1] = np.reshape(out[1], (-1, 1) + (1,) * (n - 2))
    if not sparse:
        out = list(np.broadcast_arrays(*out))
    return tuple(out)  # (copy= is moot: traced arrays are never written to)


@implements(np.ediff1d)
def _ediff1d(ary, to_end=None, to_begin=None):
    parts = [np.ravel(to_begin)] if to_begin is not None else []
    flat = np.ravel(ary)
    parts.append(flat[1:] - flat[:-1])
    if to_end is not None:
        parts.append(np.ravel(to_end))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


@implements(np.vander)
def _vander(x, N=None, increasing=False):
    if ndim_of(x) != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = shape_of(x)[0] if N is None else operator.index(N)
    # powers by repeated products: x**k's rule would meet 0 * x**-1 at x == 0
    cols = [np.ones_like(plain(x), dtype=float)] if n else []
    for _ in range(1, n):
        cols.append(cols[-1] * x)
    cols = cols if increasing else cols[::-1]
    return np.stack(cols, axis=1) if cols else np.zeros((shape_of(x)[0], 0))


@implements(np.nan_to_num)
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    # the replaced entries are constants (derivative zero); the finite ones pass through
    xv = plain(x)
    return np.where(np.isfinite(xv), x,
                    np.nan_to_num(xv, nan=nan, posinf=posinf, neginf=neginf))


@implements(np.unwrap)
def _unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    # the correction is a piecewise-constant multiple of the period: derivative zero; NumPy's
    # result is p plus it, to rounding
    x = plain(p)
    return p + (np.unwrap(x, discont=discont, axis=axis, period=period) - x)


# ---------------------------------------------------------------------------------------------
# sampling, integrating, differentiating, polynomials
# ---------------------------------------------------------------------------------------------

@implements(np.linspace)
def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
              *, device=None):
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = (num - 1) if endpoint else num
    start = start * 1.0
    stop = stop * 1.0
    delta = stop - start
    shape = (-1,) + (1,) * ndim_of(delta)
    ramp = np.arange(0, num, dtype=float).reshape(shape)
    step = delta / div if div > 0 else delta * np.nan
    y = ramp * step + start if div > 0 else ramp * delta + start
    if endpoint and num > 1:  # the last sample is stop itself, as NumPy makes it
        y = np.concatenate([y[:-1], np.reshape(stop, (1,) + tuple(shape_of(stop)))])
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if dtype is not None:
        y = y.astype(dtype)
    return (y, step) if retstep else y


@implements(np.trapezoid)
def _trapezoid(y, x=None, dx=1.0, axis=-1):
    nd = ndim_of(y)
    axis = _axis(axis, nd, "trapezoid")
    lo = (slice(None),) * axis + (slice(None, -1),)
    hi = (slice(None),) * axis + (slice(1, None),)
    if x is None:
        d = dx
    elif ndim_of(x) == 1:
        d = np.diff(x)
        d = np.reshape(d, (-1,) + (1,) * (nd - 1 - axis))
    else:
        d = np.diff(x, axis=axis)
    return np.sum(d * (y[hi] + y[lo]) / 2.0, axis=axis)


@implements(np.gradient)
def _gradient(f, *varargs, axis=None, edge_order=1):
    nd = ndim_of(f)
    axes = tuple(range(nd)) if axis is None else \
        tuple(_axis(a, nd, "gradient") for a in (axis if isinstance(axis, (tuple, list))
                                                   else [axis]))
    if len(set(axes)) != len(axes):
        raise ValueError("duplicate value in 'axis'")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(plain(varargs[0])) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    out = []
    for ax, h in zip(axes, spacing):
        if isinstance(h, Tracer) or np.ndim(h) != 0:
            raise NotImplementedError("numpy.gradient: only scalar, constant spacings are "
                                      "supported on traced arrays (coordinate arrays are not)")
        n = shape_of(f)[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")

        def s(sl, ax=ax):
            return f[(slice(None),) * ax + (sl,)]
        inner = (s(slice(2, None)) - s(slice(None, -2))) / (2.0 * h)
        if edge_order == 1:
            first = (s(slice(1, 2)) - s(slice(0, 1))) / h
            last = (s(slice(-1, None)) - s(slice(-2, -1))) / h
        else:
            first = (-1.5 * s(slice(0, 1)) + 2.0 * s(slice(1, 2)) - 0.5 * s(slice(2, 3))) / h
            last = (0.5 * s(slice(-3, -2)) - 2.0 * s(slice(-2, -1)) + 1.5 * s(slice(-1, None))) \
                / h
        out.append(np.concatenate([first, inner, last], axis=ax))
    return out[0] if len(out) == 1 else tuple(out)


@implements(np.polyval)
def _polyval(p, x):
    y = np.zeros_like(plain(x), dtype=np.result_type(plain(p), plain(x), float))
    for k in range(shape_of(p)[0]):
        y = y * x + p[k]  # Horner, as NumPy evaluates it
    return y


@implements(np.interp)
def _interp(x, xp, fp, left=None, right=None, period=None):
    if period is not None:
        raise NotImplementedError("numpy.interp: period= is not supported on traced arrays")
    xp = xp if isinstance(xp, Tracer) else np.asarray(xp, dtype=float)
    fp = fp if isinstance(fp, Tracer) else np.asarray(fp, dtype=float)
    xs, xps = plain(x), plain(xp)
    if ndim_of(xp) != 1 or ndim_of(fp) != 1 or shape_of(xp) != shape_of(fp):
        raise ValueError("fp and xp are not of the same length.")
    n = xps.shape[0]
    # the interval of each x (from the values: no derivative), clipped to the two ends
    j = np.clip(np.searchsorted(xps, xs, side="right") - 1, 0, max(n - 2, 0))
    if n == 1:
        y = np.broadcast_to(fp[0], xs.shape) * 1.0
    else:
        xl, xr, fl, fr = xp[j], xp[j + 1], fp[j], fp[j + 1]
        y = (fr - fl) / (xr - xl) * (x - xl) + fl
        y = np.where(xs == xps[-1], fp[-1], y)  # the right end exactly, not rounded
    y = np.where(xs < xps[0], fp[0] if left is None else left, y)
    return np.where(xs > xps[-1], fp[-1] if right is None else right, y)


# ---------------------------------------------------------------------------------------------
# convolution of 1-D sequences
# ---------------------------------------------------------------------------------------------

def _full_convolution(a, v):
    """Σ_j a[k - j] v[j], length n + m - 1: one gather of a's windows and one product."""
    n, m = shape_of(a)[0], shape_of(v)[0]
    padded = np.concatenate([np.zeros(m - 1), a, np.zeros(m - 1)])
    windows = padded[np.arange(n + m - 1)[:, None] + np.arange(m)[None, :]]  # (n+m-1, m)
    return windows @ v[::-1]


def _mode_slice(full, n, m, mode, name):
    long, short = max(n, m), min(n, m)
    if mode == "full":
        return full
    if mode == "same":
        start = (short - 1) // 2
        return full[start:start + long]
    if mode == "valid":
        return full[short - 1:long]
    raise ValueError(f"numpy.{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")


@implements(np.convolve)
def _convolve(a, v, mode="full"):
    if ndim_of(a) != 1 or ndim_of(v) != 1:
        raise ValueError("object too deep for desired array")
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0 or m == 0:
        raise ValueError("a cannot be empty" if n == 0 else "v cannot be empty")
    full = _full_convolution(a, v) if n >= m else _full_convolution(v, a)
    return _mode_slice(full, n, m, mode, "convolve")


@implements(np.correlate)
def _correlate(a, v, mode="valid"):
    if np.iscomplexobj(plain(v)):
        raise NotImplementedError("numpy.correlate: complex inputs are not supported on traced "
                                  "arrays")
    return _convolve(a, v[::-1], mode)


# ---------------------------------------------------------------------------------------------
# statistics that skip NaNs, and order statistics
# ---------------------------------------------------------------------------------------------

@implements(np.nansum)
def _nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
            where=np._NoValue):
    if out is not None or where is not np._NoValue:
        raise TypeError("numpy.nansum: out= and where= are not supported on traced arrays")
    kw = {} if initial is np._NoValue else {"initial": initial}
    return np.sum(np.where(np.isnan(plain(a)), 0.0, a), axis=axis, dtype=dtype,
                  keepdims=keepdims, **kw)


@implements(np.nanmean)
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    if out is not None or where is not np._NoValue:
        raise TypeError("numpy.nanmean: out= and where= are not supported on traced arrays")
    count = np.sum(~np.isnan(plain(a)), axis=axis, keepdims=keepdims)
    return _nansum(a, axis=axis, dtype=dtype, keepdims=keepdims) / count


_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(a, q, axis, method, keepdims, name):
    if method not in _METHODS:
        raise NotImplementedError(f"numpy.{name}: method={method!r} is not supported on traced "
                                  f"arrays; use one of {', '.join(map(repr, _METHODS))}")
    qv = np.asarray(plain(q), dtype=float)
    if isinstance(q, Tracer):
        raise NotImplementedError(f"numpy.{name}: a traced q is not supported")
    if np.any((qv < 0) | (qv > 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    nd = ndim_of(a)
    if axis is None:
        axes = tuple(range(nd))
    else:
        axes = tuple(sorted(_axis(x, nd, name) for x in
                            (axis if isinstance(axis, (tuple, list)) else [axis])))
    # the reduced axes moved last and merged into one
    rest = [k for k in range(nd) if k not in axes]
    moved = np.transpose(a, rest + list(axes))
    moved = np.reshape(moved, tuple(shape_of(moved)[:len(rest)]) + (-1,))
    n = shape_of(moved)[-1]
    srt = np.sort(moved, axis=-1)
    pos = qv * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    if method == "nearest":
        lo = hi = np.around(pos).astype(int)
    elif method == "higher":
        lo = hi = np.ceil(pos).astype(int)
    elif method == "lower":
        hi = lo
    below, above = srt[..., lo], srt[..., hi]
    if method == "midpoint":
        res = (below + above) / 2.0
    elif method == "linear":
        t = pos - lo
        d = above - below
        # NumPy's lerp: from the nearer end, so that q = 1 gives the maximum exactly
        res = np.where(t >= 0.5, above - d * (1.0 - t), below + d * t)
    else:
        res = below
    # NaN anywhere in a slice makes its quantile NaN, as in NumPy
    bad = np.any(np.isnan(plain(moved)), axis=-1)
    if np.any(bad):
        res = np.where(bad.reshape(bad.shape + (1,) * qv.ndim), np.nan, res)
    # q's axes go first, as NumPy puts them
    res = np.moveaxis(res, tuple(range(len(rest), len(rest) + qv.ndim)), tuple(range(qv.ndim)))
    if keepdims:
        shape = list(shape_of(a))
        for k in axes:
            shape[k] = 1
        res = np.reshape(res, qv.shape + tuple(shape))
    return res


@implements(np.quantile)
def _quantile_front(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                    keepdims=False, *, weights=None, interpolation=None):
    if out is not None or weights is not None or interpolation is not None:
        raise TypeError("numpy.quantile: out=, weights= and interpolation= are not supported "
                        "on traced arrays")
    return _quantile(a, q, axis, method, keepdims, "quantile")


@implements(np.percentile)
def _percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None, interpolation=None):
    if out is not None or weights is not None or interpolation is not None:
        raise TypeError("numpy.percentile: out=, weights= and interpolation= are not "
                        "supported on traced arrays")
    return _quantile(a, np.true_divide(plain(q), 100), axis, method, keepdims, "percentile")


@implements(np.median)
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    if out is not None:
        raise TypeError("numpy.median: out= is not supported on traced arrays")
    return _quantile(a, 0.5, axis, "midpoint" if _even(a, axis) else "lower", keepdims,
                     "median")


def _even(a, axis):
    shape = shape_of(a)
    if axis is None:
        return int(np.prod(shape)) % 2 == 0
    axes = axis if isinstance(axis, (tuple, list)) else [axis]
    return int(np.prod([shape[_axis(k, len(shape), "median")] for k in axes])) % 2 == 0


# ---------------------------------------------------------------------------------------------
# least squares, and the Bessel function np.i0
# ---------------------------------------------------------------------------------------------

@implements(np.linalg.lstsq)
def _lstsq(a, b, rcond=None):
    av = plain(a)
    m, n = av.shape[-2:] if av.ndim == 2 else (None, None)
    if av.ndim != 2 or ndim_of(b) not in (1, 2) or shape_of(b)[0] != m:
        raise np.linalg.LinAlgError("lstsq: a must be (M, N) and b (M,) or (M, K)")
    cutoff = rcond if rcond is not None else np.finfo(av.dtype).eps * max(m, n)
    x = np.linalg.pinv(a, rcond=cutoff) @ b
    sv = np.linalg.svd(a, compute_uv=False)
    rank = int(np.sum(plain(sv) > cutoff * plain(sv)[0])) if sv.size else 0
    if rank == n and m > n:
        r = a @ x - b
        residuals = np.sum(r * r, axis=0)
        residuals = np.reshape(residuals, (1,)) if ndim_of(b) == 1 else residuals
    else:
        residuals = np.zeros((0,))
    return x, residuals, rank, sv


def _i1_derivative(ans, x):
    """I1' = I0 − I1/x, whose limit at 0 is 1/2 (written so that every order stays finite)."""
    zero = plain(x) == 0
    return np.where(zero, 0.5, sp.i0(x) - sp.i1(x) / np.where(zero, 1.0, x))


# the modified Bessel functions I0 and I1 (scipy's ufuncs; np.i0 is a Python function)
_register(sp.i0, reads(0)(lambda ans, x: sp.i1(x)), name="scipy.special.i0")
_register(sp.i1, reads(0)(_i1_derivative), name="scipy.special.i1")
_i0_numpy = elementwise("numpy.i0", np.i0, reads(0)(lambda ans, x: sp.i1(x)))


@implements(np.i0)
def _i0(x):
    return _i0_numpy.bind(x)
