"""Arrays built from traced values: ``array``, ``asarray``, ``r_`` and ``c_``.

Each does what NumPy's does when nothing traced is inside (it *is* NumPy's call then); with a
traced value inside a (nested) list or tuple, the array is a stack of the entries, so the
entries' derivatives flow into it. NumPy's shape rules hold: ragged nesting raises NumPy's
``ValueError``.
"""
from __future__ import annotations

import numpy as np

from ..ops import Tracer

__all__ = ["array", "asarray", "asanyarray", "r_", "c_"]


def _holds_tracer(x):
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return any(_holds_tracer(v) for v in x)
    return False


def _stacked(x):
    """``x`` (a tracer, or a list/tuple nesting some) as one traced array."""
    if isinstance(x, Tracer):
        return x
    if not _holds_tracer(x):
        return np.asarray(x)
    return np.stack([_stacked(v) for v in x])


def _shaped(out, dtype, ndmin):
    if dtype is not None:
        out = out.astype(dtype)
    if ndmin > out.ndim:
        out = out.reshape((1,) * (ndmin - out.ndim) + tuple(out.shape))
    return out


def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    """:func:`numpy.array`, also of traced values and lists holding them (a stack).

    A traced ``object`` with ``copy=True`` gives a new traced array (``np.copy``): writing into
    the result never changes ``object``. ``order`` and ``subok`` only concern memory layout and
    subclasses, which a traced value does not have, so they are ignored for it.
    """
    if not _holds_tracer(object):
        return np.array(object, dtype=dtype, copy=copy, order=order, subok=subok, ndmin=ndmin,
                        like=like)
    out = _stacked(object)
    if out is object and copy:
        out = np.copy(out)
    return _shaped(out, dtype, ndmin)


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """:func:`numpy.asarray`, also of traced values (returned as they are) and of lists
    holding them (a stack)."""
    if not _holds_tracer(a):
        return np.asarray(a, dtype=dtype, order=order, device=device, copy=copy, like=like)
    out = _stacked(a)
    if copy and out is a:
        out = np.copy(out)
    return _shaped(out, dtype, 0)


def asanyarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """:func:`numpy.asanyarray`: as :func:`asarray` (a traced value is its own array type)."""
    if not _holds_tracer(a):
        return np.asanyarray(a, dtype=dtype, order=order, device=device, copy=copy, like=like)
    return asarray(a, dtype, order, device=device, copy=copy)


class _Concatenator:
    """``r_`` / ``c_``: NumPy's when nothing traced is among the items; with a traced item,
    the items (arrays, scalars, lists, slices as ranges) joined as NumPy joins them."""

    def __init__(self, numpy_version, columns):
        self._numpy = numpy_version
        self._columns = columns

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        if not any(_holds_tracer(v) for v in items):
            return self._numpy[key]
        name = "c_" if self._columns else "r_"
        parts = []
        for v in items:
            if isinstance(v, str):
                raise NotImplementedError(
                    f"dualad.numpy.{name}: the directive {v!r} with traced items; join them "
                    f"with np.concatenate / np.stack instead")
            if isinstance(v, slice):
                v = self._numpy[v]  # a range of plain numbers, NumPy's own reading of it
            v = _stacked(v) if _holds_tracer(v) else np.asarray(v)
            parts.append(self._column(v) if self._columns else np.atleast_1d(v))
        return np.concatenate(parts, axis=-1 if self._columns else 0)

    @staticmethod
    def _column(v):
        # np.c_ is r_['-1,2,0']: at least 2-d, a 1-d item standing as a column
        if v.ndim == 0:
            return v.reshape(1, 1)
        if v.ndim == 1:
            return v.reshape(-1, 1)
        return v

    def __len__(self):
        return 0


r_ = _Concatenator(np.r_, columns=False)
c_ = _Concatenator(np.c_, columns=True)
