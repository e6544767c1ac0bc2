"""Shape and movement entries: reshape, transpose, broadcasting, indexing, joining, padding.

All of them are linear (``core.linear``): the JVP applies the op to the lane-carrying tangent
(with axes shifted past the lane axis) and the VJP applies its transpose. Only a few are
primitives —
``reshape``, ``transpose``, ``broadcast_to``, ``getitem`` (with its transpose ``index_add``),
``concatenate``, ``pad`` and the dtype cast — everything else is composed from them.
"""
from __future__ import annotations

import math
import operator

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from .calls import call_plain
from .core import (Primitive, Tracer, align, implements, linear, ndim_of,
                   normalize_axis as _axis, shape_of, sum_to)

__all__ = ["reshape_p", "transpose_p", "broadcast_to_p", "getitem_p", "index_add_p",
           "concatenate_p", "pad_p", "cast_p", "normalize_index", "astype", "plain"]


def plain(x):
    """The plain value of ``x`` with every level of tracing stripped (indices, conditions)."""
    return x._plain_value() if isinstance(x, Tracer) else x


def _lanes(t):
    return t.shape[0]


# ---------------------------------------------------------------------------------------------
# reshape, transpose, broadcast_to, cast
# ---------------------------------------------------------------------------------------------

reshape_p = linear(
    "numpy.reshape", lambda x, shape: np.reshape(x, shape),
    lanes=lambda t, shape: np.reshape(t, (_lanes(t),) + shape),
    transpose=lambda g, x, shape: np.reshape(g, (_lanes(g),) + shape_of(x)))


def _as_shape(shape):
    if isinstance(shape, (tuple, list)):
        return tuple(operator.index(s) for s in shape)
    return (operator.index(shape),)


def _resolve(shape, old):
    """``shape`` with a ``-1`` replaced by the size it stands for (NumPy's message if none
    fits): the primitive's rules then need no answer to know the output shape."""
    if -1 not in shape:
        return shape
    size = math.prod(old)
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if known == 0 or size % known:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return tuple(size // known if n == -1 else n for n in shape)


@implements(np.reshape)
def _reshape(a, /, shape=None, order="C", *, newshape=None, copy=None):
    if order not in ("C", None):
        raise NotImplementedError(f"numpy.reshape: order={order!r} on traced arrays")
    shape = newshape if shape is None else shape
    return reshape_p.bind(a, shape=_resolve(_as_shape(shape), shape_of(a)))


def _inverse_perm(axes):
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


transpose_p = linear(
    "numpy.transpose", lambda x, axes: np.transpose(x, axes),
    lanes=lambda t, axes: np.transpose(t, (0,) + tuple(a + 1 for a in axes)),
    transpose=lambda g, x, axes: np.transpose(g, (0,) + tuple(a + 1 for a in _inverse_perm(axes))))


def _transpose(a, axes):
    nd = ndim_of(a)
    axes = tuple(reversed(range(nd))) if axes is None else tuple(_axis(x, nd) for x in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"numpy.transpose: axes {axes} do not match an array of {nd} dimensions")
    if axes == tuple(range(nd)):
        return a
    return transpose_p.bind(a, axes=axes)


@implements(np.transpose, np.permute_dims)
def _transpose_front(a, axes=None):
    return _transpose(a, axes)


@implements(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    nd = ndim_of(a)
    axes = list(range(nd))
    i, j = _axis(axis1, nd), _axis(axis2, nd)
    axes[i], axes[j] = axes[j], axes[i]
    return _transpose(a, axes)


@implements(np.matrix_transpose)
def _matrix_transpose(x, /):
    return _swapaxes(x, -1, -2)


@implements(np.moveaxis)
def _moveaxis(a, source, destination):
    nd = ndim_of(a)
    src = normalize_axis_tuple(source, nd, "source")
    dst = normalize_axis_tuple(destination, nd, "destination")
    if len(src) != len(dst):
        raise ValueError("numpy.moveaxis: source and destination need the same number of axes")
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _transpose(a, order)


def _broadcast_to_lanes(t, shape):
    t = align(t, len(shape))
    return np.broadcast_to(t, (_lanes(t),) + shape)


broadcast_to_p = linear(
    "numpy.broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
    lanes=_broadcast_to_lanes,
    transpose=lambda g, x, shape: sum_to(g, shape_of(x), lanes=True))


@implements(np.broadcast_to)
def _broadcast_to(array, shape, subok=False):
    shape = _as_shape(shape)
    if shape_of(array) == shape:
        return array
    return broadcast_to_p.bind(array, shape=shape)


@implements(np.broadcast_arrays)
def _broadcast_arrays(*args, subok=False):
    shape = np.broadcast_shapes(*(shape_of(a) for a in args))
    return tuple(_broadcast_to(a, shape) if isinstance(a, Tracer) else np.broadcast_to(a, shape)
                 for a in args)


def _is_inexact(dtype):
    """Floating or complex: the dtypes that carry a derivative."""
    return np.issubdtype(np.dtype(dtype), np.inexact)


def _cast_transpose(g, x, dtype):
    if not _is_inexact(dtype):
        return None
    # a real input's cotangent is real: a cast to complex transposes to the real part
    if g.dtype.kind == "c" and x.dtype.kind != "c":
        g = np.real(g)
    return g.astype(x.dtype)


cast_p = linear(
    "numpy.ndarray.astype", lambda x, dtype: x.astype(dtype),
    lanes=lambda t, dtype: t.astype(dtype) if _is_inexact(dtype) else None,
    transpose=_cast_transpose)


def astype(x, dtype):
    """``x.astype(dtype)``: differentiable to a floating or complex dtype, a constant otherwise."""
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if not _is_inexact(dtype):
        return plain(x).astype(dtype)
    return cast_p.bind(x, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# indexing: getitem and its transpose index_add
# ---------------------------------------------------------------------------------------------

def normalize_index(idx):
    """A hashable-enough tuple index with lists turned into arrays and tracers into plain values."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for k in idx:
        k = plain(k)
        if isinstance(k, list):
            k = np.asarray(k)
        if isinstance(k, np.ndarray) and k.dtype.kind not in "biu":
            raise IndexError("only integers, slices, ellipsis, None and integer or boolean "
                             f"arrays are valid indices (got an array of dtype {k.dtype})")
        out.append(k)
    return tuple(out)


def _nonadjacent_advanced(idx):
    """Where NumPy puts the lane axis when ``(slice(None),) + idx`` indexes a lane array.

    Advanced indices that are separated by a slice (or ``None``/``...``) send their broadcast
    dimensions to the front of the result, ahead of the lane axis; return how many such
    dimensions there are, or ``None`` when the lane axis stays first.
    """
    arrays = [k for k in idx if isinstance(k, np.ndarray)]
    if not arrays:
        return None
    positions = [n for n, k in enumerate(idx)
                 if isinstance(k, np.ndarray) or isinstance(k, (int, np.integer))
                 and not isinstance(k, bool)]
    if positions == list(range(positions[0], positions[-1] + 1)):
        return None
    ints = [k for k in arrays if k.dtype != bool]
    nd = max((k.ndim for k in ints), default=0)
    return max(nd, 1) if any(k.dtype == bool for k in arrays) else nd


def _lane_getitem(t, idx):
    r = getitem_p.bind(t, idx=(slice(None),) + idx)
    p = _nonadjacent_advanced(idx)
    return r if p is None else np.moveaxis(r, p, 0)


def _lane_index_add(g, idx, shape):
    k = _lanes(g)
    p = _nonadjacent_advanced(idx)
    if p is not None:
        g = np.moveaxis(g, 0, p)
    return index_add_p.bind(g, idx=(slice(None),) + idx, shape=(k,) + tuple(shape))


def _is_basic(idx):
    return not any(isinstance(k, np.ndarray) for k in idx)


def _index_add_impl(g, idx, shape):
    if isinstance(g, Tracer):  # a lower-level tracer: writing it into zeros would drop it
        return index_add_p.bind(g, idx=idx, shape=shape)
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic(idx):
        z[idx] = g  # basic indexing never repeats a position
    else:
        np.add.at(z, idx, g)
    return z


getitem_p = linear(
    "numpy.ndarray.__getitem__", lambda x, idx: x[idx],
    lanes=lambda t, idx: _lane_getitem(t, idx),
    transpose=lambda g, x, idx: _lane_index_add(g, idx, shape_of(x)))

#: adds ``g`` into zeros of ``shape`` at ``idx`` (repeated positions accumulate):
#: the transpose of getitem, and a primitive itself so that its own derivatives exist
index_add_p = linear(
    "dualad.index_add", _index_add_impl,
    lanes=lambda t, idx, shape: _lane_index_add(t, idx, shape),
    transpose=lambda gg, g, idx, shape: _lane_getitem(gg, idx))


def index_add(g, idx, shape):
    """Zeros of ``shape`` with ``g`` added at ``idx`` (differentiable in ``g``)."""
    return index_add_p.bind(g, idx=normalize_index(idx), shape=tuple(shape))


@implements(np.take)
def _take(a, indices, axis=None, out=None, mode="raise"):
    if out is not None or mode != "raise":
        raise NotImplementedError("numpy.take: out= and mode= are not supported on traced arrays")
    indices = np.asarray(plain(indices))
    if axis is None:
        return getitem_p.bind(_reshape(a, -1), idx=(indices,))
    nd = ndim_of(a)
    return getitem_p.bind(a, idx=(slice(None),) * _axis(axis, nd) + (indices,))


@implements(np.take_along_axis)
def _take_along_axis(arr, indices, axis=-1):
    indices = np.asarray(plain(indices))
    if axis is None:
        return _take(arr, indices.ravel())
    nd = ndim_of(arr)
    axis = _axis(axis, nd)
    shape = shape_of(arr)
    idx = tuple(indices if n == axis else
                np.arange(shape[n]).reshape([-1 if m == n else 1 for m in range(nd)])
                for n in range(nd))
    return getitem_p.bind(arr, idx=idx)


# ---------------------------------------------------------------------------------------------
# concatenate and its relatives
# ---------------------------------------------------------------------------------------------

def _concatenate_jvp(ts, ans, *xs, axis):
    k = next(_lanes(t) for t in ts if t is not None)
    parts = [t if t is not None else np.zeros((k,) + shape_of(x), dtype=np.result_type(ans))
             for t, x in zip(ts, xs)]
    return np.concatenate(parts, axis=axis + 1)


def _concatenate_vjp(i, g, ans, *xs, axis):
    start = sum(shape_of(x)[axis] for x in xs[:i])
    stop = start + shape_of(xs[i])[axis]
    return getitem_p.bind(g, idx=(slice(None),) * (axis + 1) + (slice(start, stop),))


#: linear in all its arguments together (a sum of linear maps of each): rules by hand, as the
#: one-argument factory does not cover it
concatenate_p = Primitive(
    "numpy.concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
    jvp=_concatenate_jvp, vjp=_concatenate_vjp, kind="linear")


@implements(np.concatenate)
def _concatenate(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    if out is not None:
        raise TypeError("numpy.concatenate: out= is not supported on traced arrays")
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [_reshape(a, -1) for a in arrays], 0
    nd = ndim_of(arrays[0])
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    out = concatenate_p.bind(*arrays, axis=_axis(axis, nd))
    return out if dtype is None else astype(out, dtype)


def _expand(a, axis):
    shape = list(shape_of(a))
    shape.insert(axis, 1)
    return _reshape(a, shape)


@implements(np.stack)
def _stack(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    arrays = list(arrays)
    nd = ndim_of(arrays[0]) + 1
    axis = _axis(axis, nd)
    return _concatenate([_expand(a, axis) for a in arrays], axis=axis, out=out, dtype=dtype)


@implements(np.atleast_1d)
def _atleast_1d(*arys):
    res = [a if ndim_of(a) >= 1 else _reshape(a, (1,)) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


@implements(np.atleast_2d)
def _atleast_2d(*arys):
    res = [a if ndim_of(a) >= 2 else _reshape(a, (1,) * (2 - ndim_of(a)) + shape_of(a))
           for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


@implements(np.atleast_3d)
def _atleast_3d(*arys):
    def three(a):
        s = shape_of(a)
        return a if len(s) >= 3 else _reshape(a, {0: (1, 1, 1), 1: (1,) + s + (1,),
                                                  2: s + (1,)}[len(s)])
    res = [three(a) for a in arys]
    return res[0] if len(res) == 1 else tuple(res)


@implements(np.hstack)
def _hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = [_atleast_1d(a) for a in tup]
    return _concatenate(arrs, axis=0 if ndim_of(arrs[0]) == 1 else 1, dtype=dtype)


@implements(np.vstack)
def _vstack(tup, *, dtype=None, casting="same_kind"):
    return _concatenate([_atleast_2d(a) for a in tup], axis=0, dtype=dtype)


@implements(np.dstack)
def _dstack(tup):
    return _concatenate([_atleast_3d(a) for a in tup], axis=2)


@implements(np.column_stack)
def _column_stack(tup):
    cols = [_reshape(a, (-1, 1)) if ndim_of(a) < 2 else a for a in tup]
    return _concatenate(cols, axis=1)


def _split_points(n, indices_or_sections, exact):
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0")
        if exact and n % sections:
            raise ValueError("array split does not result in an equal division")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        return list(np.cumsum([0] + sizes))
    pts = [min(max(int(p) if p >= 0 else n + int(p), 0), n) for p in indices_or_sections]
    return [0] + pts + [n]


def _split(ary, indices_or_sections, axis, exact):
    nd = ndim_of(ary)
    axis = _axis(axis, nd)
    pts = _split_points(shape_of(ary)[axis], indices_or_sections, exact)
    pre = (slice(None),) * axis
    return [getitem_p.bind(ary, idx=pre + (slice(a, max(a, b)),)) for a, b in zip(pts, pts[1:])]


@implements(np.split)
def _split_front(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, exact=True)


@implements(np.array_split)
def _array_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, exact=False)


@implements(np.hsplit)
def _hsplit(ary, indices_or_sections):
    return _split(ary, indices_or_sections, 1 if ndim_of(ary) > 1 else 0, exact=True)


@implements(np.vsplit)
def _vsplit(ary, indices_or_sections):
    return _split(ary, indices_or_sections, 0, exact=True)


# ---------------------------------------------------------------------------------------------
# pad, and the compositions that reorder or repeat elements
# ---------------------------------------------------------------------------------------------

def _pad_transpose(g, x, pad_width, constant_values):
    return getitem_p.bind(g, idx=(slice(None),) + tuple(
        slice(lo, lo + n) for (lo, _), n in zip(pad_width, shape_of(x))))


#: affine in x (the constant is not differentiated: the front passes a plain number), so its
#: derivative is the linear part, padding with zeros
pad_p = linear(
    "numpy.pad",
    lambda x, pad_width, constant_values: np.pad(x, pad_width, constant_values=constant_values),
    lanes=lambda t, pad_width, constant_values: np.pad(t, ((0, 0),) + pad_width),
    transpose=_pad_transpose)


@implements(np.pad)
def _pad(array, pad_width, mode="constant", **kwargs):
    if mode != "constant":
        raise NotImplementedError(f"numpy.pad: mode={mode!r} on traced arrays (only 'constant')")
    nd = ndim_of(array)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (nd, 2))
    c = kwargs.pop("constant_values", 0)
    if kwargs:
        raise TypeError(f"numpy.pad: unexpected arguments {sorted(kwargs)}")
    if isinstance(c, Tracer):
        raise NotImplementedError("numpy.pad: traced constant_values")
    return pad_p.bind(array, pad_width=tuple(tuple(int(v) for v in row) for row in pw),
                      constant_values=c)


@implements(np.flip)
def _flip(m, axis=None):
    nd = ndim_of(m)
    axes = range(nd) if axis is None else \
        [_axis(a, nd) for a in (axis if isinstance(axis, (tuple, list)) else [axis])]
    idx = tuple(slice(None, None, -1) if n in axes else slice(None) for n in range(nd))
    return getitem_p.bind(m, idx=idx)


implements(np.fliplr)(lambda m: _flip(m, 1))
implements(np.flipud)(lambda m: _flip(m, 0))


@implements(np.roll)
def _roll(a, shift, axis=None):
    if axis is None:
        return _reshape(_roll(_reshape(a, -1), shift, 0), shape_of(a))
    shifts = shift if isinstance(shift, (tuple, list)) else [shift]
    axes = axis if isinstance(axis, (tuple, list)) else [axis]
    shifts, axes = np.broadcast_arrays(np.asarray(shifts), np.asarray(axes))
    nd = ndim_of(a)
    for s, ax in zip(shifts.ravel(), axes.ravel()):
        ax = _axis(ax, nd)
        n = shape_of(a)[ax]
        a = _take(a, np.roll(np.arange(n), int(s)), axis=ax)
    return a


@implements(np.repeat)
def _repeat(a, repeats, axis=None):
    if axis is None:
        a, axis = _reshape(a, -1), 0
    axis = _axis(axis, ndim_of(a))
    index = np.repeat(np.arange(shape_of(a)[axis]), np.asarray(plain(repeats)))
    return _take(a, index, axis=axis)


@implements(np.tile)
def _tile(A, reps):
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (int(reps),)
    nd = max(ndim_of(A), len(reps))
    A = _reshape(A, (1,) * (nd - ndim_of(A)) + shape_of(A))
    reps = (1,) * (nd - len(reps)) + reps
    for ax, r in enumerate(reps):
        if r != 1:
            A = _take(A, np.tile(np.arange(shape_of(A)[ax]), r), axis=ax)
    return A


@implements(np.expand_dims)
def _expand_dims(a, axis):
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    nd = ndim_of(a) + len(axes)
    axes = sorted(_axis(x, nd) for x in axes)
    shape = list(shape_of(a))
    for x in axes:
        shape.insert(x, 1)
    return _reshape(a, shape)


@implements(np.squeeze)
def _squeeze(a, axis=None):
    s = shape_of(a)
    if axis is None:
        axes = [n for n, d in enumerate(s) if d == 1]
    else:
        axes = [_axis(x, len(s)) for x in (axis if isinstance(axis, (tuple, list)) else [axis])]
        if any(s[x] != 1 for x in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return _reshape(a, tuple(d for n, d in enumerate(s) if n not in axes))


@implements(np.ravel)
def _ravel(a, order="C"):
    if order not in ("C", None):
        raise NotImplementedError(f"numpy.ravel: order={order!r} on traced arrays")
    return _reshape(a, -1)


@implements(np.sort)
def _sort(a, axis=-1, kind=None, order=None, stable=None):
    if axis is None:
        a, axis = _reshape(a, -1), 0
    idx = np.argsort(plain(a), axis=axis, kind=kind, stable=stable)
    return _take_along_axis(a, idx, axis=axis)


@implements(np.diff)
def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    nd = ndim_of(a)
    axis = _axis(axis, nd)
    parts = [p for p in (prepend, a, append) if p is not np._NoValue]
    if len(parts) > 1:
        shape = list(shape_of(a))
        shape[axis] = 1
        parts = [p if ndim_of(p) == nd else np.broadcast_to(p, shape) for p in parts]
        a = _concatenate(parts, axis=axis)
    pre = (slice(None),) * axis
    for _ in range(n):
        a = getitem_p.bind(a, idx=pre + (slice(1, None),)) - \
            getitem_p.bind(a, idx=pre + (slice(None, -1),))
    return a


@implements(np.copy)
def _copy(a, order="K", subok=False):
    # a new tracer with a new array, as NumPy's copy: traced arrays take in-place writes, and
    # a write into the copy must not reach the original
    return np.positive(a)


# ---------------------------------------------------------------------------------------------
# queries and constructors: no derivative flows through them
# ---------------------------------------------------------------------------------------------

implements(np.shape)(lambda a: shape_of(a))
implements(np.ndim)(lambda a: ndim_of(a))
implements(np.size)(lambda a, axis=None: int(np.prod(shape_of(a))) if axis is None
                    else shape_of(a)[axis])


def _constant_front(numpy_function):
    """Fronts for functions whose result does not depend differentiably on traced inputs."""
    def front(*args, **kwargs):
        return call_plain(numpy_function, *args, **kwargs)
    front.__name__ = numpy_function.__name__
    return front


for _f in (np.zeros_like, np.ones_like, np.empty_like, np.argmax, np.argmin,
           np.argsort, np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, np.any,
           np.all, np.isclose, np.allclose, np.array_equal, np.array_equiv, np.searchsorted,
           np.iscomplexobj, np.isrealobj, np.isscalar, np.result_type, np.can_cast,
           np.min_scalar_type, np.digitize,
           np.isneginf, np.isposinf, np.iscomplex, np.isreal):
    implements(_f)(_constant_front(_f))


@implements(np.full_like)
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    shape = shape_of(a) if shape is None else _as_shape(shape)
    if isinstance(fill_value, Tracer):  # the fill value carries a derivative: broadcast it
        out = _broadcast_to(fill_value, shape)
        return out if dtype is None else astype(out, dtype)
    return np.full(shape, fill_value, dtype=plain(a).dtype if dtype is None else dtype)
