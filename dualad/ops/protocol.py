"""What every tracer type shares: NumPy's dispatch protocols, operators and array methods.

``DualArray`` and ``reverse.Tensor`` both derive from :class:`ArrayProtocol`; all they add is
how to *process* a primitive (propagate tangents, or record it on a tape). Every NumPy call on a
tracer ends in :meth:`Primitive.bind` through the registries of :mod:`dualad.ops.core`; a NumPy
callable that is not in the table raises ``TypeError`` naming it and the mode.
"""
from __future__ import annotations

import dis
import math
import sys

import numpy as np

from .calls import bind_call
from .core import FUNCTION_RULES, UFUNC_RULES, Tracer, qualname, shape_of
from .products import matmul_p
from .shape import astype, getitem_p, index_add, normalize_index

__all__ = ["ArrayProtocol", "fit_inplace_result"]


_STORE_BACK: dict = {}  # (code, offset) -> whether the in-place op there is x[i] op= y


def _stored_by_subscript(frame):
    """Whether the augmented assignment running in ``frame`` is ``x[i] op= y``.

    Python runs it as ``t = x[i]; t = t.__iop__(y); x[i] = t``: the in-place op on the view
    ``t`` is followed by storing the result back into ``x``, so NumPy's write through the view
    happens anyway, by our item assignment on ``x``. ``v = x[i]; v op= y`` stores into a name
    instead, and must raise. The bytecode after the op tells them apart (looked up once per
    call site).
    """
    key = (frame.f_code, frame.f_lasti)
    hit = _STORE_BACK.get(key)
    if hit is None:
        hit = False
        for ins in dis.get_instructions(frame.f_code):
            if ins.offset <= frame.f_lasti or ins.opname in (
                    "SWAP", "ROT_TWO", "ROT_THREE", "ROT_FOUR", "CACHE", "EXTENDED_ARG"):
                continue
            hit = ins.opname == "STORE_SUBSCR"
            break
        _STORE_BACK[key] = hit
    return hit


def fit_inplace_result(new, shape, dtype, kind, what):
    """``new``, the result of an in-place op on a ``kind`` of ``shape`` and ``dtype``, made to
    fit it as NumPy would: broadcast to the shape, cast under the 'same_kind' rule."""
    nshape = tuple(shape_of(new))
    if nshape != shape:
        if np.broadcast_shapes(nshape, shape) != shape:
            raise ValueError(f"{what}: the result has shape {nshape}, which does not fit "
                             f"in this {kind}'s shape {shape}")
        # (an addition, not np.broadcast_to: the new value must be an array of its own, not a
        # read-only view, which a later in-place write would take for a view of another array)
        new = new + np.zeros(shape, dtype=new.dtype if hasattr(new, "dtype") else dtype)
    ndtype = new.dtype if hasattr(new, "dtype") else np.result_type(new)
    if ndtype != dtype:
        if not np.can_cast(ndtype, dtype, "same_kind"):
            raise TypeError(f"{what}: cannot cast the result from {ndtype} to the {kind}'s "
                            f"dtype {dtype} under the 'same_kind' rule")
        new = new.astype(dtype)
    return new

_add = UFUNC_RULES[np.add]
_sub = UFUNC_RULES[np.subtract]
_mul = UFUNC_RULES[np.multiply]
_div = UFUNC_RULES[np.divide]
_pow = UFUNC_RULES[np.power]
_neg = UFUNC_RULES[np.negative]
_invert = UFUNC_RULES[np.invert]


def _binary(prim):
    """``x op y`` and ``y op x`` for a tracer ``x``: the primitive bound, as NumPy's dispatch
    would (skipping ``__array_ufunc__``, whose generic argument handling costs as much as the
    op on scalars)."""
    bind = prim.bind

    def op(self, other):
        return bind(self, other)

    def rop(self, other):
        return bind(other, self)
    return op, rop

# (bound once: CPython 3.11 does not specialize a method looked up on a global object)
_ufunc_rule = UFUNC_RULES.get
_function_rule = FUNCTION_RULES.get


#: what to do about an op without a rule, appended to the error naming it
_NEXT_STEP = ("; wrap the code that calls it in a function with its own rule "
              "(ad.custom_jvp or ad.custom_vjp)")


def _scipy_caller():
    """``module.function`` of the SciPy function the user called, if the conversion happens
    inside SciPy (its outermost frame on the stack), else None. Only on the error path."""
    frame, entry = sys._getframe(2), None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == "scipy" or module.startswith("scipy."):
            code = frame.f_code
            entry = f"{module}.{getattr(code, 'co_qualname', code.co_name)}"
        elif entry is not None:
            return entry
        frame = frame.f_back
    return entry


class ArrayProtocol(Tracer):
    """Operators, NumPy protocols and ndarray-like methods, written once for all tracers.

    Subclasses provide ``_aval()`` (the value whose shape/dtype the tracer has) besides
    ``_process`` and ``_plain_value``.
    """

    __slots__ = ()
    __array_priority__ = 1000.0
    __hash__ = None  # == is elementwise, as for ndarrays

    # -- NumPy protocols ------------------------------------------------------------------------
    # Every call ends in Primitive.bind, or, for a callable outside the table (or a use of an
    # entry its rules do not take), in bind_call: the highest-level tracer among the arguments
    # decides in both, so a tracer type only says how it processes one (_process, and
    # _process_call, which raises for derivative tracers).
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not kwargs and method == "__call__":  # np.log(x): the common case, checked first
            prim = _ufunc_rule(ufunc)
            if prim is not None:
                return prim.bind(*inputs)
        name = qualname(ufunc)
        if method == "at" or kwargs.get("out") is not None:
            what = ".at, an in-place update," if method == "at" else ": out="
            raise TypeError(f"{name}{what} is not supported on traced arrays (they are "
                            f"immutable); assign the result instead")
        if method != "__call__":
            name = f"{name}.{method}"
            return bind_call(getattr(ufunc, method), name, inputs, kwargs,
                             f"no {{kind}} rule for {name} (use the matching function, e.g. "
                             f"np.sum for np.add.reduce)")
        bad = [k for k in ("where", "signature", "axes", "axis") if k in kwargs]
        prim = UFUNC_RULES.get(ufunc)
        if prim is None or bad:
            why = (f"{name}: the {bad[0]}= argument is not supported on traced arrays" if bad
                   else f"no {{kind}} rule for {name}{_NEXT_STEP}")
            return bind_call(ufunc, name, inputs, kwargs, why)
        out = prim.bind(*inputs)
        dtype = kwargs.get("dtype")
        return out if dtype is None else out.astype(dtype)

    def __array_function__(self, func, types, args, kwargs):
        front = _function_rule(func)
        if front is None:
            name = qualname(func)
            return bind_call(func, name, args, kwargs, f"no {{kind}} rule for {name}{_NEXT_STEP}")
        return front(*args, **kwargs)

    def __array__(self, dtype=None, copy=None):
        caller = _scipy_caller()
        if caller is not None:
            raise TypeError(
                f"{caller} has no dualad rule: it converts its arguments with np.asarray, which "
                f"would drop the derivative of this {type(self).__name__}. Wrap the call in a "
                f"function with its own rule (ad.custom_jvp / ad.custom_vjp); if dualad has a "
                f"rule for it (dualad.ops.scipy_support.WRAPPED), import dualad before taking the "
                f"name from SciPy")
        raise TypeError(
            f"cannot convert a {type(self).__name__} to a plain ndarray (np.asarray, np.array, "
            f"np.asarray(x, dtype=...) or a function without a rule that converts its "
            f"arguments): its derivative would be dropped. Inside a function being "
            f"differentiated, leave the value as it is: NumPy functions, operators and methods "
            f"take traced arrays directly (x.astype(float) for a cast; np.stack([...]) to build "
            f"an array from traced values, which np.array([...]) cannot, or import dualad.numpy "
            f"as np, whose np.array can). For its value alone, "
            f"as a constant, take x.{self._value_attr}")

    _value_attr = "primal"

    # -- array attributes -----------------------------------------------------------------------
    @property
    def shape(self):
        return shape_of(self._aval())

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def dtype(self):
        return self._aval().dtype

    @property
    def T(self):
        return np.transpose(self)

    @property
    def mT(self):
        return np.swapaxes(self, -1, -2)

    def __len__(self):
        s = self.shape
        if not s:
            raise TypeError("len() of unsized object (a 0-d array)")
        return s[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        return bool(self._plain_value())

    def _no_conversion(self, kind):
        raise TypeError(f"cannot convert a {type(self).__name__} to {kind}: its derivative "
                        f"would be dropped. Keep it an array, or take .{self._value_attr}")

    def __float__(self):
        self._no_conversion("float")

    def __int__(self):
        self._no_conversion("int")

    def __complex__(self):
        self._no_conversion("complex")

    def __index__(self):
        self._no_conversion("an index")

    def item(self, *args):
        self._no_conversion("a Python scalar")

    def tolist(self):
        self._no_conversion("a list")

    # -- operators: each binds its primitive, as every NumPy call does (see _binary) ----------
    __add__, __radd__ = _binary(_add)
    __sub__, __rsub__ = _binary(_sub)
    __mul__, __rmul__ = _binary(_mul)
    __truediv__, __rtruediv__ = _binary(_div)
    __pow__, __rpow__ = _binary(_pow)
    __matmul__, __rmatmul__ = _binary(matmul_p)

    # integer and boolean operators (masks combined with & | ~): zero-derivative entries
    __and__, __rand__ = _binary(UFUNC_RULES[np.bitwise_and])
    __or__, __ror__ = _binary(UFUNC_RULES[np.bitwise_or])
    __xor__, __rxor__ = _binary(UFUNC_RULES[np.bitwise_xor])
    __lshift__, __rlshift__ = _binary(UFUNC_RULES[np.left_shift])
    __rshift__, __rrshift__ = _binary(UFUNC_RULES[np.right_shift])

    def __invert__(self):
        return _invert.bind(self)

    def __neg__(self):
        return _neg.bind(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return np.absolute(self)

    def __floordiv__(self, o):
        return np.floor_divide(self, o)

    def __rfloordiv__(self, o):
        return np.floor_divide(o, self)

    def __mod__(self, o):
        return np.remainder(self, o)

    def __rmod__(self, o):
        return np.remainder(o, self)

    def __lt__(self, o):
        return np.less(self, o)

    def __le__(self, o):
        return np.less_equal(self, o)

    def __gt__(self, o):
        return np.greater(self, o)

    def __ge__(self, o):
        return np.greater_equal(self, o)

    def __eq__(self, o):
        return np.equal(self, o)

    def __ne__(self, o):
        return np.not_equal(self, o)

    def __getitem__(self, idx):
        return getitem_p.bind(self, idx=normalize_index(idx))

    # -- in-place writes: the tracer takes the out-of-place result as its new value ------------
    # Both modes behave alike: the tracer object itself changes (so every name bound to it sees
    # the write, as with an ndarray), and the new value is recorded like any op. What a traced
    # array cannot do is write through a view into the array it was taken from, so a write into
    # a view raises instead of silently leaving that array unchanged.
    def _check_writable(self, what, frame=None):
        v = self._plain_value()
        if type(v) is np.ndarray and v.base is not None and not (
                frame is not None and _stored_by_subscript(frame)):
            raise ValueError(
                f"{what} into a {type(self).__name__} that is a view of another array (made "
                f"by slicing, reshape, ravel, .T, ...): NumPy would write through to that "
                f"array, which a traced array cannot do. Write into the array itself "
                f"(x[:2] *= 3 or x[:2] = x[:2] * 3, not v = x[:2]; v *= 3), or build a new "
                f"array with np.where or np.concatenate")

    def _assign(self, new, what):  # pragma: no cover - abstract
        raise NotImplementedError

    def _inplace(self, ufunc, other):
        what = f"in-place {qualname(ufunc)}"
        # (the frame of the user's `x op= y`: this is called by the __iop__ method)
        self._check_writable(what, sys._getframe(2))
        self._assign(ufunc(self, other), what)
        return self

    def __iadd__(self, o):
        return self._inplace(np.add, o)

    def __isub__(self, o):
        return self._inplace(np.subtract, o)

    def __imul__(self, o):
        return self._inplace(np.multiply, o)

    def __itruediv__(self, o):
        return self._inplace(np.divide, o)

    def __ipow__(self, o):
        return self._inplace(np.power, o)

    def __imatmul__(self, o):
        return self._inplace(np.matmul, o)

    def __setitem__(self, idx, value):
        self._check_writable("item assignment")
        self._set_traced(normalize_index(idx), value)

    def _set_traced(self, idx, value):
        """``self[idx] = value`` as ops: the value scattered into place, selected by a mask."""
        shape = tuple(self.shape)
        mask = np.zeros(shape, dtype=bool)
        mask[idx] = True
        if any(isinstance(k, np.ndarray) and k.dtype != bool for k in idx):
            count = np.zeros(shape, dtype=np.intp)
            np.add.at(count, idx, 1)
            if count.max() > 1:
                raise RuntimeError(
                    f"item assignment with repeated indices on a {type(self).__name__}: NumPy "
                    f"keeps the last write, which has no derivative rule here. Use unique "
                    f"indices, or build the array with np.where")
        if not isinstance(value, Tracer):
            value = np.asarray(value, dtype=self.dtype)
        placed = index_add(np.broadcast_to(value, mask[idx].shape), idx, shape)
        self._assign(np.where(mask, placed, self), "item assignment")

    # -- ndarray methods: each forwards to the NumPy function, which dispatches -----------------
    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return np.reshape(self, tuple(shape), order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return np.transpose(self, tuple(axes) if axes else None)

    def swapaxes(self, a, b):
        return np.swapaxes(self, a, b)

    def ravel(self, order="C"):
        return np.ravel(self, order=order)

    def flatten(self, order="C"):
        return np.ravel(self, order=order)

    def squeeze(self, axis=None):
        return np.squeeze(self, axis=axis)

    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return np.sum(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return np.mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False):
        return np.prod(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def max(self, axis=None, out=None, keepdims=False):
        return np.max(self, axis=axis, out=out, keepdims=keepdims)

    def min(self, axis=None, out=None, keepdims=False):
        return np.min(self, axis=axis, out=out, keepdims=keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return np.var(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return np.std(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)

    def cumsum(self, axis=None):
        return np.cumsum(self, axis=axis)

    def cumprod(self, axis=None):
        return np.cumprod(self, axis=axis)

    def dot(self, other):
        return np.dot(self, other)

    def clip(self, min=None, max=None):
        return np.clip(self, min, max)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return np.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1):
        return np.trace(self, offset, axis1, axis2)

    def round(self, decimals=0):
        return np.round(self, decimals)

    def repeat(self, repeats, axis=None):
        return np.repeat(self, repeats, axis=axis)

    def take(self, indices, axis=None):
        return np.take(self, indices, axis=axis)

    def conj(self):
        return np.conjugate(self)

    conjugate = conj

    @property
    def real(self):
        return np.real(self)

    @property
    def imag(self):
        return np.imag(self)

    def copy(self):
        """A new array (a new tracer): writes into it do not reach this one."""
        return np.positive(self)

    def argmax(self, axis=None, keepdims=False):
        return np.argmax(self._plain_value(), axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return np.argmin(self._plain_value(), axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return np.any(self._plain_value(), axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return np.all(self._plain_value(), axis=axis, keepdims=keepdims)

    def astype(self, dtype, copy=True):
        out = astype(self, dtype)
        return np.positive(out) if copy and out is self else out
