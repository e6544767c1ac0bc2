"""Optimization passes over a program's equation list.

Each pass takes ``(equations, outputs)`` and returns a new pair (``outputs`` is the flat list of
output leaves: :class:`Var`, :class:`Const` or literals); none mutates its input. Guards are
kept by every pass, in order: they are the program's only side effect.

The forward rewrites (``simplify``, ``fold_reshapes``, ``cse``) are each one *rule* applied to
every equation in order (:func:`_walk`); :func:`optimize` runs consecutive ones in a single
walk, each equation going through the rules one after the other. That is the result of the
passes run one after another (a rule only reads the equation and what came before it), for a
third of the cost: tracing a long program spent as much time in the passes as in the trace.
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
    ins = eq._ins
    for v in (ins if ins is not None else eq.inputs):
        if v in mapping:
            break
    else:
        return eq
    return Equation(eq.prim, _sub(eq.args, mapping), _sub(eq.kwargs, mapping), eq.outs,
                    eq._line, eq.multi)


def _walk(equations, outputs, rules):
    """Apply ``rules`` to every equation, its inputs renamed after the earlier equations that
    were dropped. A rule returns the equation to keep (itself or a rewrite of it, which the next
    rule gets), or, to drop it, the values its results are (aligned with ``eq.outs``)."""
    mapping = {}
    kept = []
    for eq in equations:
        if mapping:
            eq = substitute(eq, mapping)
        for rule in rules:
            r = rule(eq)
            if r.__class__ is not Equation:
                for o, v in zip(eq.outs, r):
                    mapping[o] = v
                break
            eq = r
        else:
            kept.append(eq)
    return kept, [_sub(o, mapping) for o in outputs]


def _forward(rule_factory):
    """The pass of one rule (``rule_factory()`` makes it, with its own state): the pass keeps
    the factory as ``.rule``, for :func:`optimize` to walk several rules at once."""
    def run(equations, outputs):
        return _walk(equations, outputs, (rule_factory(),))
    run.rule = rule_factory
    return run


def dce(equations, outputs):
    """Dead code elimination: drop equations none of whose results reach an output or guard."""
    live = {v for v in outputs if type(v) is Var}
    kept = []
    for eq in reversed(equations):
        outs = eq.outs
        if (outs[0] in live if len(outs) == 1 else
                eq.prim is GUARD or any(o in live for o in outs)):
            kept.append(eq)
            ins = eq._ins
            live.update(ins if ins is not None else eq.inputs)
    kept.reverse()
    return kept, list(outputs)


def _key(x):
    """A hashable key for an argument (variables and arrays by identity), or raise TypeError."""
    t = type(x)
    if t is float and x != 0.0:
        return (float, x)
    if t is int or t is bool or t is str or x is None:  # (shapes, axes, flags: most keywords)
        return (t, x)
    if t is Var or t is Const:
        return (t.__name__, x.id)
    if t is tuple or t is list:
        for o in x:
            if type(o) is not int:
                return (t.__name__,) + tuple([_key(o) for o in x])
        return (t, x if t is tuple else tuple(x))  # a shape or axes: hashable as it is
    if t is dict:
        return ("dict",) + tuple([(k, _key(x[k])) for k in sorted(x)])
    if t is slice:
        return ("slice", _key(x.start), _key(x.stop), _key(x.step))
    if t is np.ndarray:
        return ("array", id(x))
    if isinstance(x, float) and x == 0.0:
        return (t, x, str(x))  # 0.0 and -0.0 compare equal but differ
    hash(x)
    return (t, x)


def _args_key(args):
    """:func:`_key` of a positional argument tuple, with its commonest entries inline
    (a variable by itself: it hashes by identity, and no literal is a Var)."""
    out = []
    for a in args:
        t = type(a)
        if t is Var:
            out.append(a)
        elif t is float and a != 0.0:
            out.append((float, a))
        else:
            out.append(_key(a))
    return tuple(out)


def _cse_rule():
    seen = {}

    def rule(eq):
        prim = eq.prim
        if prim is GUARD:  # a check repeated on the same value holds if the first did
            try:
                key = ("guard", eq.args[0].id, eq.kwargs["kind"], _key(eq.kwargs["value"]))
                first = seen.setdefault(key, eq)
            except TypeError:
                return eq
            return eq if first is eq else ()  # (a guard has no results to rename)
        if prim.__class__ is Call:
            if "random" in prim.name:  # a draw repeated is another draw
                return eq
            prim = prim.impl  # (a Call is made per call: the function says which)
        args = eq.args
        try:
            if len(args) == 2 and not eq.kwargs:  # (the commonest key, spelled out)
                a, b = args
                key = (prim, (a if a.__class__ is Var else _key(a),
                              b if b.__class__ is Var else _key(b)), None)
            else:
                key = (prim, _args_key(args), _key(eq.kwargs) if eq.kwargs else None)
            prev = seen.get(key)
        except TypeError:  # an unhashable argument: never merged
            return eq
        if prev is not None:
            return prev.outs
        seen[key] = eq
        return eq
    return rule


cse = _forward(_cse_rule)
cse.__name__ = "cse"
cse.__doc__ = """Common subexpression elimination: an equation repeating an earlier one (same
primitive, same arguments) is dropped and its results renamed to the earlier results."""


def _is_scalar(x, value):
    """Whether ``x`` is a literal scalar (or a read-only size-1 constant) equal to ``value``.
    Writable constants may be the user's arrays, read anew at each replay: not folded."""
    t = type(x)
    if t is Var:  # (most arguments: answered first)
        return False
    if t is float or t is int or t is _float64:
        return x == value
    if t is Const:
        v = x.value
        return not v.flags.writeable and v.size == 1 and v.ndim == 0 and v == value
    if type(x) in (int, float) or isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x == value and type(x) is not bool
    return False


_float64 = np.float64
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


#: binary ops with an identity element: the element, and whether it may be the left operand
_UNITS = {"numpy.multiply": (1, True), "numpy.add": (0, True), "numpy.subtract": (0, False),
          "numpy.divide": (1, False), "numpy.power": (1, False)}


def _simplify_eq(eq):
    args = eq.args
    if len(args) == 2 and not eq.kwargs:  # (most equations: decided here, cheaply)
        a, b = args
        va, vb = a.__class__ is Var, b.__class__ is Var
        if va and vb:
            return eq  # no literal to fold
        unit = _UNITS.get(eq.prim.name)
        if unit is None or eq.prim.__class__ is Call or eq.multi:
            return eq
        value, left = unit
        cand = a if not vb and _is_scalar(b, value) else \
            (b if left and not va and _is_scalar(a, value) else None)
        if cand is not None and cand.__class__ is Var:
            out = eq.outs[0]
            if tuple(cand.shape) == tuple(out.shape) and cand.dtype == out.dtype:
                return (cand,)
        return _negation_of(eq) or eq if value == 1 and left else eq
    same = _identity_of(eq)
    if same is not None:
        return (same,)
    if eq.prim.name == "numpy.multiply":
        return _negation_of(eq) or eq
    return eq


simplify = _forward(lambda: _simplify_eq)
simplify.__name__ = "simplify"
simplify.__doc__ = """Drop multiplications and divisions by 1, additions and subtractions of 0,
and reshapes, broadcasts, transposes and casts that leave their argument as it is (same shape,
dtype); a multiplication by -1 becomes a negation."""


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
    if name != "numpy.reshape" and name != "numpy.ndarray.__getitem__" or eq.multi or \
            type(eq.prim) is Call or len(eq.args) != 1 or type(eq.args[0]) is not Var:
        return None  # (guards too)
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


def _fold_rule():
    producers = {}  # var -> the var it is a reshape of

    def rule(eq):
        found = _reshape_source(eq, producers)
        if found is None:
            return eq
        src, shape = found
        out = eq.outs[0]
        if tuple(src.shape) == shape and src.dtype == out.dtype:
            return (src,)
        producers[out] = src
        if eq.prim.name != "numpy.reshape" or eq.args[0] is not src:
            eq = Equation(reshape_p, (src,), {"shape": shape}, eq.outs, eq._line, False)
        return eq
    return rule


fold_reshapes = _forward(_fold_rule)
fold_reshapes.__name__ = "fold_reshapes"
fold_reshapes.__doc__ = """Chains of reshapes (``x[None]``, ``reshape``, ``y[0]`` of a length-1
axis: the lane axis of one direction added and removed) become one reshape of the first
argument, or nothing when the shape comes back to that argument's own."""


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
    for eq in equations:  # (most programs have no large elementwise result: found out first)
        s = eq.outs[0].shape if eq.outs else ()
        if s and math.prod(s) >= REUSE_MIN_SIZE and not eq.multi and not eq.kwargs and \
                _ufunc_of(eq.prim) is not None:
            break
    else:
        return list(equations), list(outputs)
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
    reuse of dead buffers); consecutive forward rewrites share one walk (see the module doc).
    """
    passes = tuple(passes)
    k = 0
    while k < len(passes):
        rules = []
        while k < len(passes) and getattr(passes[k], "rule", None) is not None:
            rules.append(passes[k].rule())
            k += 1
        if rules:
            equations, outputs = _walk(equations, outputs, rules)
        else:
            equations, outputs = passes[k](equations, outputs)
            k += 1
    return equations, outputs
