"""Optimization passes over a program's equation list.

Each pass takes ``(equations, outputs)`` and returns a new pair (``outputs`` is the flat list of
output leaves: :class:`Var`, :class:`Const` or literals); none mutates its input. Guards are
kept by every pass, in order: they are the program's only side effect.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..ops.core import UFUNC_RULES
from ..ops.shape import reshape_p
from .tracer import GUARD, Call, Const, Equation, Var, last_uses

__all__ = ["dce", "cse", "simplify", "fold_reshapes", "reuse_buffers", "optimize", "PASSES"]


def _sub(x, mapping):
    t = type(x)
    if t is Var:
        return mapping.get(x, x)
    if t is tuple or t is list:
        return t(_sub(o, mapping) for o in x)
    if t is dict:
        return {k: _sub(v, mapping) for k, v in x.items()}
    if t is slice:
        return slice(_sub(x.start, mapping), _sub(x.stop, mapping), _sub(x.step, mapping))
    return x


def substitute(eq, mapping):
    """``eq`` reading ``mapping[v]`` wherever it read the variable ``v``."""
    if not mapping:
        return eq
    for v in eq.inputs:
        if v in mapping:
            break
    else:
        return eq
    return Equation(eq.prim, _sub(eq.args, mapping), _sub(eq.kwargs, mapping), eq.outs,
                    eq._line, eq.multi)


def dce(equations, outputs):
    """Dead code elimination: drop equations none of whose results reach an output or guard."""
    live = {v for v in outputs if type(v) is Var}
    kept = []
    for eq in reversed(equations):
        outs = eq.outs
        if (outs[0] in live if len(outs) == 1 else
                eq.prim is GUARD or any(o in live for o in outs)):
            kept.append(eq)
            live.update(eq.inputs)
    kept.reverse()
    return kept, list(outputs)


def _key(x):
    """A hashable key for an argument (variables and arrays by identity), or raise TypeError."""
    t = type(x)
    if t is Var or t is Const:
        return (t.__name__, x.id)
    if t is tuple or t is list:
        return (t.__name__,) + tuple(_key(o) for o in x)
    if t is dict:
        return ("dict",) + tuple((k, _key(v)) for k, v in sorted(x.items()))
    if t is slice:
        return ("slice", _key(x.start), _key(x.stop), _key(x.step))
    if t is np.ndarray:
        return ("array", id(x))
    if isinstance(x, float) and x == 0.0:
        return (t, x, str(x))  # 0.0 and -0.0 compare equal but differ
    hash(x)
    return (t, x)


def _args_key(args):
    """:func:`_key` of a positional argument tuple, with its commonest entries inline."""
    out = []
    for a in args:
        t = type(a)
        if t is Var:
            out.append(a.id)
        elif t is float and a != 0.0:
            out.append((float, a))
        else:
            out.append(_key(a))
    return tuple(out)


def _pure(prim):
    return type(prim) is not Call or "random" not in prim.name


def cse(equations, outputs):
    """Common subexpression elimination: an equation repeating an earlier one (same primitive,
    same arguments) is dropped and its results renamed to the earlier results."""
    seen = {}
    mapping = {}
    kept = []
    for eq in equations:
        eq = substitute(eq, mapping)
        if not _pure(eq.prim):
            kept.append(eq)
            continue
        if eq.prim is GUARD:  # a check repeated on the same value holds if the first did
            try:
                key = ("guard", eq.args[0].id, eq.kwargs["kind"], _key(eq.kwargs["value"]))
                hash(key)
            except TypeError:
                kept.append(eq)
                continue
            if key not in seen:
                seen[key] = eq
                kept.append(eq)
            continue
        try:
            key = (id(eq.prim) if type(eq.prim) is not Call else eq.prim.impl,
                   _args_key(eq.args), _key(eq.kwargs) if eq.kwargs else None)
            hash(key)
        except TypeError:
            kept.append(eq)
            continue
        prev = seen.get(key)
        if prev is not None:
            mapping.update(zip(eq.outs, prev.outs))
            continue
        seen[key] = eq
        kept.append(eq)
    return kept, [_sub(o, mapping) for o in outputs]


def _is_scalar(x, value):
    """Whether ``x`` is a literal scalar (or a read-only size-1 constant) equal to ``value``.
    Writable constants may be the user's arrays, read anew at each replay: not folded."""
    if type(x) is Const:
        v = x.value
        return not v.flags.writeable and v.size == 1 and v.ndim == 0 and v == value
    if type(x) in (int, float) or isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x == value and type(x) is not bool
    return False


_SIMPLIFIED = frozenset({"numpy.multiply", "numpy.add", "numpy.subtract", "numpy.divide",
                         "numpy.power", "numpy.reshape", "numpy.broadcast_to", "numpy.transpose",
                         "numpy.sum", "numpy.ndarray.astype", "numpy.positive"})


def _identity_of(eq):
    """The variable ``eq`` returns unchanged (``x * 1``, ``x + 0``, a reshape to its own shape),
    or ``None``."""
    name = eq.prim.name
    if name not in _SIMPLIFIED or eq.multi or type(eq.prim) is Call:
        return None
    out = eq.outs[0]
    args = eq.args
    cand = None
    if len(args) == 2 and not eq.kwargs:
        a, b = args
        if name == "numpy.multiply":
            cand = a if _is_scalar(b, 1) else (b if _is_scalar(a, 1) else None)
        elif name == "numpy.add":
            cand = a if _is_scalar(b, 0) else (b if _is_scalar(a, 0) else None)
        elif name == "numpy.subtract":
            cand = a if _is_scalar(b, 0) else None
        elif name == "numpy.divide" or name == "numpy.power":
            cand = a if _is_scalar(b, 1) else None
    elif len(args) == 1:
        a = args[0]
        kw = eq.kwargs
        if name in ("numpy.reshape", "numpy.broadcast_to") and type(a) is Var:
            cand = a if tuple(kw["shape"]) == tuple(a.shape) else None
        elif name == "numpy.transpose" and type(a) is Var:
            axes = kw.get("axes")
            nd = len(a.shape)
            if (axes is None and nd <= 1) or (axes is not None and
                                              tuple(axes) == tuple(range(nd))):
                cand = a
        elif name == "numpy.sum" and type(a) is Var and tuple(kw["axis"] or (None,)) == ():
            cand = a  # a sum over no axes (an unbroadcast that had nothing to undo)
        elif name == "numpy.ndarray.astype" and type(a) is Var:
            cand = a if np.dtype(kw["dtype"]) == a.dtype else None
        elif name == "numpy.positive" and type(a) is Var:
            # a copy (x.copy(), a same-dtype astype): the program never writes in place
            cand = a
    if type(cand) is Var and tuple(cand.shape) == tuple(out.shape) and cand.dtype == out.dtype:
        return cand
    return None


def simplify(equations, outputs):
    """Drop multiplications and divisions by 1, additions and subtractions of 0, and reshapes,
    broadcasts, transposes and casts that leave their argument as it is (same shape, dtype);
    a multiplication by -1 becomes a negation."""
    mapping = {}
    kept = []
    for eq in equations:
        eq = substitute(eq, mapping)
        same = _identity_of(eq)
        if same is not None:
            mapping[eq.outs[0]] = same
            continue
        kept.append(_negation_of(eq) or eq)
    return kept, [_sub(o, mapping) for o in outputs]


def _negation_of(eq):
    """``-x`` for ``x * -1`` or ``-1 * x`` (same shape and dtype), else ``None``."""
    if eq.prim.name != "numpy.multiply" or len(eq.args) != 2 or eq.kwargs:
        return None
    a, b = eq.args
    x = a if _is_scalar(b, -1) else (b if _is_scalar(a, -1) else None)
    out = eq.outs[0]
    if type(x) is not Var or tuple(x.shape) != tuple(out.shape) or x.dtype != out.dtype:
        return None
    return Equation(UFUNC_RULES[np.negative], (x,), {}, eq.outs, eq._line, False)


def _reshape_source(eq, producers):
    """``(source var, shape)`` if ``eq`` only reshapes its argument (a reshape, or an index of
    ``None``, full slices and ``0`` on length-1 axes: the same elements in the same order),
    following such reshapes back through ``producers``; else ``None``."""
    name = eq.prim.name
    if eq.multi or type(eq.prim) is Call or len(eq.args) != 1 or type(eq.args[0]) is not Var:
        return None
    src = eq.args[0]
    if name == "numpy.reshape":
        pass
    elif name == "numpy.ndarray.__getitem__":
        dims = iter(src.shape)
        for k in eq.kwargs["idx"]:
            if k is None:
                continue
            n = next(dims, None)
            if n is None:
                return None
            if type(k) is slice and k == slice(None):
                continue
            if type(k) is int and k == 0 and n == 1:
                continue
            return None
    else:
        return None
    shape = tuple(eq.outs[0].shape)
    if math.prod(shape) != math.prod(src.shape):
        return None
    back = producers.get(src)
    if back is not None:
        src = back
    return src, shape


def fold_reshapes(equations, outputs):
    """Chains of reshapes (``x[None]``, ``reshape``, ``y[0]`` of a length-1 axis: the lane axis
    of one direction added and removed) become one reshape of the first argument, or nothing
    when the shape comes back to that argument's own."""
    mapping = {}
    producers = {}  # var -> the var it is a reshape of
    kept = []
    for eq in equations:
        eq = substitute(eq, mapping)
        found = _reshape_source(eq, producers) if eq.prim is not GUARD else None
        if found is None:
            kept.append(eq)
            continue
        src, shape = found
        out = eq.outs[0]
        if tuple(src.shape) == shape and src.dtype == out.dtype:
            mapping[out] = src
            continue
        producers[out] = src
        if eq.prim.name != "numpy.reshape" or eq.args[0] is not src:
            eq = Equation(reshape_p, (src,), {"shape": shape}, eq.outs, eq._line, False)
        kept.append(eq)
    return kept, [_sub(o, mapping) for o in outputs]


class Into:
    """The pseudo-primitive of an elementwise ufunc writing into its dead argument ``buffer``
    (``args == (buffer, *ufunc_args)``): ``_into(np.multiply, t5, t5, t3)``."""

    multiple_results = False

    def __init__(self, ufunc):
        self.ufunc = ufunc
        self.name = f"numpy.{ufunc.__name__} (in place)"

    def impl(self, buffer, *args):
        return self.ufunc(*args, out=buffer) if type(buffer) is np.ndarray else self.ufunc(*args)


#: arrays at least this large (elements) are reused in place: below it, a fresh allocation
#: costs less than the call through the helper
REUSE_MIN_SIZE = 8192


_OPERATOR_UFUNCS = {operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply,
                    operator.truediv: np.divide, operator.pow: np.power,
                    operator.neg: np.negative}
_UFUNC_OF: dict = {}  # id(prim) -> (prim, its elementwise ufunc or None)


def _ufunc_of(prim):
    hit = _UFUNC_OF.get(id(prim))
    if hit is not None and hit[0] is prim:
        return hit[1]
    impl = getattr(prim, "impl", None)
    u = _OPERATOR_UFUNCS.get(impl, impl) if callable(impl) else None
    if not (isinstance(u, np.ufunc) and u.nout == 1 and u.nin in (1, 2) and u.signature is None):
        u = None
    if type(prim) is not Call:  # (a Call is made per staged call: not worth keeping)
        _UFUNC_OF[id(prim)] = (prim, u)
    return u


def _view_groups(equations, is_fresh):
    """Variable -> the list of variables that may share its memory. An output of anything but
    an elementwise ufunc (a reshape, a transpose, an index, a call returning its argument) may
    be a view of any of its array inputs: they are put in one group."""
    parent = {}

    def root(v):
        while True:
            p = parent.get(v, v)
            if p is v:
                return v
            parent[v] = parent.get(p, p)
            v = p

    for eq, fresh in zip(equations, is_fresh):
        if fresh or eq.prim is GUARD:
            continue
        ins = eq.inputs
        if not ins:
            continue
        r = root(ins[0])
        for v in ins[1:]:
            rv = root(v)
            if rv is not r:
                parent[rv] = r
        for o in eq.outs:
            parent[o] = r
    groups = {}
    for v in list(parent):
        r = root(v)
        members = groups.get(r)
        if members is None:
            members = groups[r] = [r]
        if v is not r:
            members.append(v)
    return {v: groups[r] for r in groups for v in groups[r]}


def reuse_buffers(equations, outputs):
    """An elementwise op whose argument is a large fresh array (a ufunc's result) read for the
    last time writes its result into that array (``out=``) instead of allocating another of
    the same size: with many tangent lanes those are megabytes, each a page fault away.

    Never into an array a live view still reads: a reshape, transpose or index of the buffer
    read later (or in the same op) keeps it from being written."""
    ufuncs = [None if eq.prim is GUARD or eq.multi or eq.kwargs else _ufunc_of(eq.prim)
              for eq in equations]
    big = [u is not None and bool(eq.outs[0].shape) and
           math.prod(eq.outs[0].shape) >= REUSE_MIN_SIZE for eq, u in zip(equations, ufuncs)]
    if not any(big):
        return list(equations), list(outputs)
    groups = _view_groups(equations, [u is not None for u in ufuncs])
    fresh = set()
    last = last_uses(equations, outputs)
    kept = []
    for k, eq in enumerate(equations):
        u = ufuncs[k]
        if u is not None:
            out = eq.outs[0]
            if big[k]:
                for a in eq.args:
                    if type(a) is Var and a in fresh and last.get(a) == k and \
                            tuple(a.shape) == tuple(out.shape) and a.dtype == out.dtype and \
                            _unaliased(a, k, groups, last, eq.inputs):
                        fresh.discard(a)
                        eq = Equation(Into(u), (a,) + tuple(eq.args), {}, eq.outs, eq._line,
                                      False)
                        break
            if out.shape:
                fresh.add(out)
        kept.append(eq)
    return kept, list(outputs)


def _unaliased(a, k, groups, last, ins):
    """Whether no other view of ``a``'s memory is read at equation ``k`` or later."""
    for m in groups.get(a, ()):
        if m is not a and (last.get(m, -1) >= k or m in ins):
            return False
    return True


PASSES = (simplify, fold_reshapes, cse, dce, reuse_buffers)


def optimize(equations, outputs, passes=PASSES):
    """Run ``passes`` in order (by default: simplify, fold reshapes, CSE, dead code, then
    reuse of dead buffers)."""
    for p in passes:
        equations, outputs = p(equations, outputs)
    return equations, outputs
