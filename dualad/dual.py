"""``DualArray``: forward mode with K tangent lanes propagated in one NumPy call per op.

A ``DualArray`` holds a primal value and its tangents stacked on a leading *lane* axis, shape
``(K, *primal.shape)``; a single direction is simply ``K == 1`` (and ``.tangent`` hides the lane
axis again). Each primitive applied to it runs the op table's JVP rule once on all lanes.

Nesting: each ``DualArray`` has a level. A primitive applied to arguments of several levels is
processed by the highest one, which treats the lower ones as constants (they live inside its
primal). Transforms take a fresh level each time they run, so an inner derivative never
confuses its perturbation with an outer one.
"""
from __future__ import annotations

import numpy as np

from .ops import ArrayProtocol, Tracer, new_level
from .ops.core import DUAL_USER_LEVEL, LEVEL_INPUTS, LIVE_LEVELS, escaped, rule_zero_division
from .ops.protocol import fit_inplace_result

__all__ = ["DualArray"]

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray


def _as_value(x, name):
    if isinstance(x, Tracer):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        return x
    try:
        return np.asarray(x, dtype=float if isinstance(x, (int, float)) else None)
    except (TypeError, ValueError) as e:
        raise TypeError(f"DualArray: {name} must be array-like, got {type(x).__name__}") from e


class DualArray(ArrayProtocol):
    """A primal array with one tangent (``lanes=False``) or K tangents (``lanes=True``).

    Parameters
    ----------
    primal : array_like
        The value. Python floats become 0-d float64 arrays. Must have a floating or complex
        dtype (complex tangents are complex-linear, as in JAX).
    tangent : array_like
        ``tangent.shape == primal.shape`` for one direction; with ``lanes=True``,
        ``tangent.shape == (K, *primal.shape)`` for K directions at once. Cast to the primal's
        dtype (float32 stays float32).
    lanes : bool
        Whether ``tangent`` carries a leading lane axis.

    Examples
    --------
    >>> x = DualArray(2.0, 1.0)
    >>> y = np.log(x) + x * 5.0 - np.sin(5.0)
    >>> float(y.tangent)
    5.5
    """

    __slots__ = ("_primal", "_tangent", "_level", "_lanes")
    _rule_kind = "JVP"

    def __init__(self, primal, tangent, lanes=False):
        primal = _as_value(primal, "primal")
        tangent = _as_value(tangent, "tangent")
        pshape = tuple(primal.shape)
        tshape = tuple(tangent.shape)
        if lanes:
            if tshape[1:] != pshape or len(tshape) != len(pshape) + 1:
                raise ValueError(
                    f"DualArray: with lanes=True the tangent must have shape (K, *primal.shape) "
                    f"= (K, {', '.join(map(str, pshape))}{',' if len(pshape) == 1 else ''}); "
                    f"got tangent shape {tshape} for primal shape {pshape}")
        elif tshape != pshape:
            raise ValueError(f"DualArray: tangent shape {tshape} does not match primal shape "
                             f"{pshape} (pass lanes=True for a leading axis of K directions)")
        dtype = primal.dtype
        if dtype.kind not in "fc":
            raise TypeError(f"DualArray: the primal must have a floating or complex dtype to "
                            f"carry a derivative, got {dtype}; integer values are constants")
        if not isinstance(tangent, Tracer) and tangent.dtype != dtype:
            if tangent.dtype.kind == "c" and dtype.kind != "c":
                raise TypeError(f"DualArray: a real primal ({dtype}) needs a real tangent; got "
                                f"dtype {tangent.dtype}")
            tangent = tangent.astype(dtype)
        inner = [v._level for v in (primal, tangent) if isinstance(v, Tracer)]
        self._primal = primal
        self._tangent = tangent if lanes else tangent[None]
        self._lanes = bool(lanes)
        # wrapping DualArrays makes a new, higher level; plain values share the user level
        self._level = new_level() if inner else DUAL_USER_LEVEL

    @classmethod
    def _new(cls, primal, tangent, level, lanes):
        d = object.__new__(cls)
        d._primal = primal
        d._tangent = tangent
        d._level = level
        d._lanes = lanes
        return d

    # -- what a user reads ---------------------------------------------------------------------
    @property
    def primal(self):
        p = self._primal
        return p if isinstance(p, (np.ndarray, Tracer)) else np.asarray(p)

    @property
    def tangent(self):
        t = self._tangent if self._lanes else self._tangent[0]
        return t if isinstance(t, (np.ndarray, Tracer)) else np.asarray(t)

    # reverse mode's attribute names, answered clearly (see reverse.Tensor.tangent)
    @property
    def grad(self):
        self._not_reverse("grad")

    @property
    def data(self):
        self._not_reverse("data")

    def backward(self, *args, **kwargs):
        self._not_reverse("backward")

    def _not_reverse(self, name):
        raise AttributeError(
            f"'DualArray' object has no attribute '{name}': this is a forward-mode DualArray "
            f"(its value is .primal, its derivative .tangent). An op on a Tensor and a "
            f"DualArray gives a DualArray when the DualArray's transform is the inner one; "
            f"read .{name} on the Tensor outside it")

    @property
    def lanes(self):
        """Whether the tangent has a leading lane axis (K directions)."""
        return self._lanes

    @property
    def num_lanes(self):
        """K, the number of tangent directions carried."""
        return self._tangent.shape[0]

    def _aval(self):
        return self._primal

    def _plain_value(self):
        p = self._primal
        return p._plain_value() if isinstance(p, Tracer) else p

    def __repr__(self):
        body = repr(self.primal).replace("\n", "\n" + " " * 10)
        tan = repr(self.tangent).replace("\n", "\n" + " " * 10)
        lanes = ", lanes=True" if self._lanes else ""
        return f"DualArray(primal={body},\n          tangent={tan}{lanes})"

    # -- forward mode: one JVP rule call for all lanes -----------------------------------------
    def _process(self, prim, args, kwargs):
        level = self._level
        if level not in LIVE_LEVELS:
            raise escaped(self)
        lanes = self._lanes
        jvp = prim.jvp
        # binary arithmetic is the scalar hot path: unrolled, no tuples rebuilt, no star-calls
        if len(args) == 2 and not kwargs:
            a, b = args
            if a.__class__ is DualArray and a._level == level:
                pa, ta = a._primal, a._tangent
            else:
                pa, ta = a, None
            if b.__class__ is DualArray and b._level == level:
                pb, tb = b._primal, b._tangent
                if ta is not None:
                    _same_lanes(prim, ta, tb)
                    lanes = a._lanes or b._lanes
            else:
                pb, tb = b, None
            impl = prim.impl  # (then a call: see reverse/tensor.py)
            ans = impl(pa, pb)
            if jvp is None:
                return self._no_rule(prim, ans)
            try:  # (free in CPython 3.11 when nothing is raised)
                t = jvp((ta, tb), ans, pa, pb)
            except ZeroDivisionError as e:
                raise ZeroDivisionError(rule_zero_division("JVP", prim.name)) from e
        else:
            if len(args) == 1:
                primals = (self._primal,)
                tangents = (self._tangent,)
            else:
                primals, tangents, lanes = self._split(prim, args)
            ans = prim.impl(*primals, **kwargs)
            if jvp is None:
                return self._no_rule(prim, ans)
            try:
                t = jvp(tangents, ans, *primals, **kwargs)
            except ZeroDivisionError as e:
                raise ZeroDivisionError(rule_zero_division("JVP", prim.name)) from e
        if t.__class__ is _ndarray and t.dtype is ans.dtype and not prim.multiple_results:
            d = object.__new__(DualArray)  # DualArray._new, inlined (one call less): keep alike
            d._primal = ans
            d._tangent = t
            d._level = level
            d._lanes = lanes
            return d
        return self._finish(prim, ans, t, lanes)

    def _finish(self, prim, ans, t, lanes):
        """Wrap the results when the fast path does not apply (several results, a zero or
        traced tangent, a dtype to restore)."""
        k = self._tangent.shape[0]
        if prim.multiple_results:
            outs = t if t is not None else (None,) * len(ans)
            return tuple(_wrap(a, t, self._level, lanes, k) for a, t in zip(ans, outs))
        return _wrap(ans, t, self._level, lanes, k)

    @staticmethod
    def _no_rule(prim, ans):
        if prim.nondiff:
            return ans
        raise TypeError(f"no JVP rule for {prim.name}")

    def _split(self, prim, args):
        level = self._level
        lanes = self._lanes
        primals = []
        tangents = []
        for a in args:
            if a.__class__ is DualArray and a._level == level:
                _same_lanes(prim, self._tangent, a._tangent)
                lanes = lanes or a._lanes
                primals.append(a._primal)
                tangents.append(a._tangent)
            else:
                primals.append(a)
                tangents.append(None)
        return primals, tangents, lanes

    # -- in-place writes (see ArrayProtocol): this DualArray takes the result as its value -----
    def _assign(self, new, what):
        level = self._level
        if isinstance(new, Tracer) and new._level > level:
            raise TypeError(f"{what}: the result is a {type(new).__name__} of a higher level "
                            f"than this DualArray; write x = x + y instead of an in-place op")
        if any(s is self for s in LEVEL_INPUTS.get(level, ())):
            raise RuntimeError(
                f"{what}: in-place operation on an input the transform differentiates with "
                f"respect to (as on a leaf Tensor that requires grad in reverse mode). Compute "
                f"a new array (y = x + 1, or y = np.where(mask, value, x)) instead")
        new = fit_inplace_result(new, tuple(self.shape), self.dtype, "DualArray", what)
        if new.__class__ is DualArray and new._level == level:
            # (new came from an op on self, which checked that the lanes agree)
            self._primal, self._tangent = new._primal, new._tangent
            self._lanes = self._lanes or new._lanes
        else:  # nothing perturbed went in: a constant from here on
            self._primal = new
            self._tangent = np.zeros(self._tangent.shape, dtype=self.dtype)


def _same_lanes(prim, t1, t2):
    # NumPy would broadcast 1 lane against K silently: refuse instead
    if t1.shape[0] != t2.shape[0]:
        raise ValueError(f"{prim.name}: DualArrays with {t1.shape[0]} and {t2.shape[0]} tangent "
                         f"lanes cannot be combined")


def _wrap(ans, t, level, lanes, k):
    if t is None:
        t = np.zeros((k,) + tuple(ans.shape), dtype=ans.dtype)
    else:
        td, ad = t.dtype, ans.dtype
        # keep the tangent in the primal's precision (float32 stays float32), also when it is
        # traced (a rule's constant may have promoted it); a real primal keeps a real tangent
        if td is not ad and td != ad and ad.kind == "f":
            t = (np.real(t) if td.kind == "c" else t).astype(ad)
    return DualArray._new(ans, t, level, lanes)
