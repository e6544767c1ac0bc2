"""The machinery of the op table: primitives, rule kinds, lane helpers, registries.

A :class:`Primitive` holds one operation's NumPy implementation and its two derivative rules:

``jvp(tangents, ans, *args, **kw)``
    ``tangents`` is a tuple aligned with ``args``; an entry is ``None`` where that argument is a
    constant (a symbolic zero). Every tangent carries a leading *lane* axis: shape
    ``(K, *shape(arg))``. Returns the output tangent, shape ``(K, *shape(ans))``, or ``None`` for a
    zero tangent (a tuple of those for primitives with several results).

``vjp(i, g, ans, *args, **kw)``
    The cotangent for ``args[i]`` given the output cotangent ``g`` of shape ``(K, *shape(ans))``
    (a tuple for several results). Returns shape ``(K, *shape(args[i]))`` or ``None`` for zero.

One tangent and one cotangent are simply ``K == 1``: rules never special-case the lane axis.
An entry may add ``vjp_plain(i, g, ans, *args, **kw)``, the same rule for one cotangent
*without* the lane axis (``g`` shaped like ``ans``). A plain ``backward`` is the commonest sweep,
and there adding and removing the lane axis around the rule costs more than the rule itself on
small arrays (matmul of vectors, a full sum). It must agree with ``vjp`` for ``K == 1`` exactly
(a test checks every entry that has one); for cases it does not specialize it calls ``vjp``.
:func:`elementwise` generates all three rules of an entry from its partial derivatives.
Rules are written with NumPy calls on their arguments, so when those arguments are themselves
tracers (``DualArray``, ``reverse.Tensor``) the calls dispatch again: that is how modes nest.

This module imports nothing else of the project; forward mode and the reverse tape only read it.
"""
from __future__ import annotations

import operator
import os
import sys
import weakref

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from .levels import (DUAL_USER_LEVEL, LEVEL_INPUTS, LIVE_LEVELS, TENSOR_USER_LEVEL,
                     UnexpectedTracerError, close_level, escaped, new_level, open_level)
from .saves import Saves, reads

__all__ = [
    "Primitive", "Tracer", "new_level", "open_level", "close_level", "check_live", "LIVE_LEVELS",
    "DUAL_USER_LEVEL", "TENSOR_USER_LEVEL",
    "UnexpectedTracerError", "rule_zero_division",
    "LEVEL_INPUTS", "ZERO", "UFUNC_RULES", "FUNCTION_RULES", "implements",
    "elementwise", "linear", "bilinear", "nondiff", "KINDS", "align", "sum_to", "shift_axis",
    "shape_of", "ndim_of",
    "qualname", "mark_identity", "is_identity", "reads",
]

# NumPy's module defines __getattr__, so CPython 3.11 cannot specialize ``np.X`` lookups
# (each costs a dict search, ~45 ns): the hot paths below use module-level names.
_ndarray = np.ndarray
_GENERATED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "<generated rule>")

# ---------------------------------------------------------------------------------------------
# registries: NumPy callable -> how a tracer handles it
# ---------------------------------------------------------------------------------------------

#: ``np.ufunc`` -> :class:`Primitive` (``ufunc.__call__`` only)
UFUNC_RULES: dict = {}
#: NumPy (or SciPy) function -> front function taking NumPy's signature and binding primitives
FUNCTION_RULES: dict = {}


def implements(*numpy_functions):
    """Register the decorated front function as the tracer implementation of ``numpy_functions``."""
    def register(front):
        for f in numpy_functions:
            FUNCTION_RULES[f] = front
        return front
    return register


def qualname(f) -> str:
    """``numpy.linalg.eig``-style name of a NumPy callable, for error messages."""
    if isinstance(f, np.ufunc):
        # a ufunc's type is numpy's wherever it was made: find the module that exports it
        if getattr(np, f.__name__, None) is f:
            return f"numpy.{f.__name__}"
        special = sys.modules.get("scipy.special")
        if special is not None and getattr(special, f.__name__, None) is f:
            return f"scipy.special.{f.__name__}"
        return f"{f.__name__} (a ufunc)"
    mod = getattr(f, "__module__", None) or "numpy"
    if mod.startswith("numpy.") and mod.count(".") > 1 and "linalg" in mod:
        mod = "numpy.linalg"
    elif mod.startswith("numpy._") or mod == "numpy.core.multiarray":
        mod = "numpy"
    return f"{mod}.{getattr(f, '__name__', repr(f))}"


# ---------------------------------------------------------------------------------------------
# tracers and binding (their nesting levels live in levels.py)
# ---------------------------------------------------------------------------------------------

class Tracer:
    """Base of the values that carry derivative information (``DualArray``, ``reverse.Tensor``).

    ``_level`` orders nested transforms: a primitive applied to tracers of several levels is
    processed by the highest level, which treats lower-level tracers as constants. Levels come
    from one increasing counter, so a transform started later (an inner one) has a higher level;
    this is what keeps nested perturbations apart.
    """

    __slots__ = ()
    _level: int
    #: "JVP" or "VJP": which rule this tracer needs, for error messages
    _rule_kind = "JVP"

    def _process(self, prim, args, kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def _plain_value(self):  # pragma: no cover - abstract
        """The underlying plain array, every level of tracing stripped (for non-derivative use)."""
        raise NotImplementedError

    def _process_call(self, func, name, args, kwargs, why):
        """``func(*args, **kwargs)``, a NumPy callable without an op-table entry (or a use of
        one its entry does not take), this tracer being the highest level among the arguments
        (:func:`dualad.ops.calls.bind_call`). A derivative needs a rule: ``TypeError(why)``, ``{kind}`` in it
        naming this tracer's rule kind. (The staging tracer needs none: it records the call.)
        """
        raise TypeError(why.format(kind=self._rule_kind))


def check_live(x):
    """Raise :class:`UnexpectedTracerError` if ``x`` is a tracer of a finished transform."""
    if isinstance(x, Tracer) and x._level not in LIVE_LEVELS:
        raise escaped(x)


class _ZeroDerivative:
    """Marker in an elementwise entry: the derivative with respect to this argument is zero."""

    def __repr__(self):
        return "ZERO"


ZERO = _ZeroDerivative()


class Primitive:
    """One op-table entry: ``impl`` plus its ``jvp`` and ``vjp`` rules (see the module doc).

    ``nondiff=True`` marks a zero-derivative op (comparisons, ``floor``, ``sign``...): applied to
    tracers it returns the plain result. ``multiple_results=True`` marks ops returning a tuple.

    ``kind`` is one of :data:`KINDS`: what is known of the rules beyond their code. The
    factories :func:`elementwise`, :func:`linear`, :func:`bilinear` and :func:`nondiff` set it
    and generate ``jvp``/``vjp`` from the parts they are given, kept in ``parts`` (for
    ``elementwise`` in ``derivs``) for the interpretations that read them; "multilinear" and
    "general" entries are written by hand.

    ``saves`` declares what the VJP reads, so that the reverse tape keeps only that (see
    :mod:`~dualad.ops.saves`): ``("ans", 0)``, or ``{i: (...)}`` per argument; the factories
    derive it from the rule kind; ``None`` keeps everything. ``fwd(*args, **kw) -> (ans,
    residuals)`` (JAX's ``custom_vjp`` shape) computes the answer and values the VJP wants from
    the forward pass; the tape calls it in place of ``impl`` when it records the op, keeps the
    residuals with the record and passes them to the VJP as ``residuals=`` (``None`` when there
    are none: a second-order sweep, a call outside the tape; the rule then recomputes them).
    Residuals are read-only to the rule: a retained graph is swept again with the same ones.
    """

    __slots__ = ("name", "impl", "jvp", "vjp", "vjp_plain", "nondiff", "multiple_results",
                 "derivs", "kind", "parts", "saves", "fwd", "own_record", "__weakref__")

    def __init__(self, name, impl, jvp=None, vjp=None, *, vjp_plain=None, nondiff=False,
                 multiple_results=False, kind=None, saves=None, fwd=None):
        if nondiff and (jvp is not None or vjp is not None):
            raise ValueError(f"{name}: a zero-derivative primitive takes no rules")
        if vjp_plain is not None and vjp is None:
            raise ValueError(f"{name}: vjp_plain specializes vjp, which is missing")
        kind = ("nondiff" if nondiff else "general") if kind is None else kind
        if kind not in KINDS:
            raise ValueError(f"{name}: kind must be one of {KINDS}, got {kind!r}")
        if (kind == "nondiff") != bool(nondiff):
            raise ValueError(f"{name}: kind='nondiff' and nondiff=True go together")
        self.kind = kind
        self.parts = None  # what linear/bilinear generated jvp and vjp from
        self.name = name
        self.impl = impl
        self.jvp = jvp
        self.vjp = vjp
        self.vjp_plain = vjp_plain
        self.nondiff = nondiff
        self.multiple_results = multiple_results
        self.derivs = None  # elementwise entries keep their partial derivatives here
        if fwd is not None and vjp is None:
            raise ValueError(f"{name}: fwd computes residuals for a vjp, which is missing")
        if saves is None and kind == "linear":  # (by hand: jointly linear, concatenate)
            saves = ()  # a transpose reads the arguments' shapes, no values
        if saves is None and kind == "multilinear":
            saves = Saves(others=True)  # a cotangent reads the other operands
        self.saves = Saves.declared(saves, name)
        self.fwd = fwd
        #: the tape records this op by its general path (several results, or residuals): the
        #: fast path of one or two arguments tests this one flag
        self.own_record = multiple_results or fwd is not None

    def bind(self, *args, **kwargs):
        """Apply the primitive; the highest-level tracer among ``args`` processes it."""
        if len(args) == 2:  # binary ops are most calls: the loop spelled out
            a, b = args
            ta = isinstance(a, Tracer)
            if isinstance(b, Tracer):
                if ta and a._level > b._level:
                    return a._process(self, args, kwargs)
                return b._process(self, args, kwargs)
            if ta:
                return a._process(self, args, kwargs)
            return self.impl(*args, **kwargs)
        if len(args) == 1:  # reductions and shape ops on one array
            a = args[0]
            if isinstance(a, Tracer):
                return a._process(self, args, kwargs)
            return self.impl(a, **kwargs)
        top = None
        level = -1
        for a in args:
            if isinstance(a, Tracer) and a._level > level:
                top, level = a, a._level
        if top is None:
            return self.impl(*args, **kwargs)
        return top._process(self, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self.bind(*args, **kwargs)

    def __repr__(self):
        return f"<primitive {self.name}>"


# ---------------------------------------------------------------------------------------------
# identity seeds: jacfwd pushes the identity as its K = n tangent lanes. A rule that knows its
# tangent is that identity can skip a product with it (a @ I is a, column for column); which
# arrays are seeds is known by identity of the object, never by looking at its values.
# ---------------------------------------------------------------------------------------------

_IDENTITY_SEEDS: dict = {}  # id(array) -> weak reference to the array


def mark_identity(lanes):
    """Mark ``lanes``, a ``(n, n)`` identity of tangent lanes for a vector of size ``n``, as
    such; it is made read-only so that it stays the identity. Returns it."""
    if lanes.ndim != 2 or lanes.shape[0] != lanes.shape[1]:
        raise ValueError(f"mark_identity: expected a square (n, n) array, got {lanes.shape}")
    lanes.flags.writeable = False
    key = id(lanes)
    _IDENTITY_SEEDS[key] = weakref.ref(lanes, lambda _, key=key: _IDENTITY_SEEDS.pop(key, None))
    return lanes


def is_identity(t) -> bool:
    """Whether ``t`` is an array :func:`mark_identity` marked (views of it are not)."""
    ref = _IDENTITY_SEEDS.get(id(t))
    return ref is not None and ref() is t


# ---------------------------------------------------------------------------------------------
# shape helpers that work on arrays, scalars and tracers alike
# ---------------------------------------------------------------------------------------------

def plain_array(x):
    """``x``'s value with every level of tracing stripped, as an ndarray: for what has no
    derivative (indices, masks, orders computed from a traced value)."""
    return x._plain_value() if isinstance(x, Tracer) else np.asarray(x)


def normalize_axis(axis, ndim, name=None):
    """``axis`` in ``range(ndim)``; out of range raises NumPy's own ``AxisError`` (naming
    ``numpy.<name>`` if given), as on plain arrays."""
    return normalize_axis_index(operator.index(axis), ndim,
                                None if name is None else f"numpy.{name}")


def shape_of(x) -> tuple:
    s = getattr(x, "shape", None)
    return s if s is not None else np.shape(x)


def ndim_of(x) -> int:
    s = getattr(x, "shape", None)
    return len(s) if s is not None else np.ndim(x)


def shift_axis(axis, ndim=None):
    """Translate an ``axis`` argument of the primal to the lane-carrying array (one axis more).

    Negative axes count from the end and so stay as they are; ``None`` (all axes) becomes every
    axis but the lane axis, which needs the primal's ``ndim``.
    """
    if axis is None:
        if ndim is None:
            raise ValueError("shift_axis(None) needs ndim")
        return tuple(range(1, ndim + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(a if a < 0 else a + 1 for a in axis)
    axis = int(axis)
    return axis if axis < 0 else axis + 1


def align(t, nd: int):
    """Give the lane-carrying tangent ``t`` (shape ``(K, *s)``) ``nd`` primal axes by inserting
    size-1 axes after the lane axis, so that it broadcasts like its primal against ``nd``-d arrays.
    """
    s = t.shape
    missing = nd - (len(s) - 1)
    if missing <= 0:
        return t
    return t.reshape((s[0],) + (1,) * missing + tuple(s[1:]))


def sum_to(g, shape, *, lanes=False, times=None):
    """Sum the cotangent ``g`` (times ``times`` if given) down to ``shape``: broadcasting undone.

    ``lanes``: ``g`` carries the leading lane axis (shape ``(K, *gs)``, summed to
    ``(K, *shape)``); without it ``g`` is one cotangent, and summing everything gives a NumPy
    scalar, whose arithmetic in the rest of a plain sweep is the cheapest there is. The one
    place where broadcasting is undone, for every rule in the table and both sweeps.

    ``times=d`` is ``sum_to(g * d, shape)``; when everything is summed and ``g`` and ``d`` are
    arrays of one shape (a scalar argument broadcast against an array, ``x * s``) that is their
    dot product: one pass, no temporary the size of ``g`` (no conjugation: the VJP is the
    transpose of the JVP).
    """
    shape = tuple(shape)
    if times is not None:
        if not shape and not lanes and g.__class__ is _ndarray and \
                times.__class__ is _ndarray and g.shape == times.shape:
            # (the method: np.dot's dispatch costs half as much again)
            return g.dot(times) if g.ndim == 1 else g.ravel().dot(times.ravel())
        g = g * times
    gs = tuple(g.shape)
    lead = 1 if lanes else 0
    if gs[lead:] == shape:
        return g
    if not shape and not lanes and g.__class__ is _ndarray:
        return g.sum()
    extra = len(gs) - lead - len(shape)
    axes = tuple(range(lead, lead + extra)) + tuple(
        lead + extra + i for i, n in enumerate(shape) if n == 1 and gs[lead + extra + i] != 1)
    shape = gs[:lead] + shape
    if g.__class__ is _ndarray:  # methods: np.sum/np.reshape cost microseconds in dispatch
        return (g.sum(axis=axes) if axes else g).reshape(shape)
    if axes:
        g = np.sum(g, axis=axes)
    return np.reshape(g, shape)


# ---------------------------------------------------------------------------------------------
# rule kinds
# ---------------------------------------------------------------------------------------------

#: what a primitive's rules are known to be, JAX's rule kinds: ``elementwise`` (partials
#: declared once), ``linear`` (in its one differentiable argument: the JVP is the op itself on
#: the tangent lanes, the VJP its transpose), ``bilinear`` (linear in each of two arguments),
#: ``multilinear`` (linear in each of its operands: einsum), ``nondiff`` (zero derivative) and
#: ``general`` (rules written by hand)
KINDS = ("elementwise", "linear", "bilinear", "multilinear", "nondiff", "general")

#: tangents at least this large (elements) are accumulated in place: below it, ``out=`` costs
#: more than the temporary it saves
INPLACE_MIN_SIZE = 8192


def elementwise(name, impl, *derivs):
    """An elementwise op whose partial derivatives are declared once.

    ``derivs[i](ans, *args)`` returns ``∂ans/∂args[i]`` (broadcastable to ``ans``); a Python
    float is a constant partial (``1.0`` and ``-1.0`` cost no multiplication); ``ZERO`` marks an
    argument with zero derivative and ``None`` one whose derivative is not implemented (a tangent
    arriving there raises). All three rules are generated from the same partials:
    ``jvp = Σ tᵢ·dᵢ``, ``vjp_i = sum_to(g·dᵢ)`` with the lane axis and ``vjp_plain`` the same
    without it (specialized here, once, to the kind of each partial), so the modes cannot drift
    apart. ``prim.derivs`` keeps the partials for the interpretations that read them
    (sparsity detection). What the tape keeps for the cotangent of argument ``i`` is what
    ``derivs[i]`` declares with :func:`~dualad.ops.saves.reads` (a constant reads nothing; the
    generated rules read the arguments only for their shapes); an undeclared callable partial
    keeps everything.
    """
    def missing(i):
        def raise_missing(ans, *args):
            raise NotImplementedError(
                f"{name}: the derivative with respect to argument {i} is not implemented")
        return raise_missing

    # None (not implemented) becomes a partial that raises, so the hot path needs no check
    parts = tuple(missing(i) if d is None else d for i, d in enumerate(derivs))

    def scale(t, d):
        if d.__class__ is float:
            return t if d == 1.0 else (-t if d == -1.0 else t * d)
        return t * d

    def jvp(tangents, ans, *args):
        if len(tangents) == 1:  # unary: tangent and answer have the same shape, no alignment
            d = parts[0]
            return scale(tangents[0], d) if d.__class__ is float else tangents[0] * d(ans, *args)
        out = None
        ashape = ans.shape
        broadcast = False
        i = -1
        for t in tangents:
            i += 1
            if t is None:
                continue
            d = parts[i]
            if d is ZERO:
                continue
            if t.shape[1:] != ashape:  # a broadcast argument
                t = align(t, len(ashape))
                broadcast = True
            if d.__class__ is float:
                term = t if d == 1.0 else (-t if d == -1.0 else t * d)
            else:
                term = t * d(ans, *args)
            out = term if out is None else out + term
        if broadcast and out is not None and out.shape[1:] != ashape:
            # every contributing argument was broadcast and its partial did not broadcast it
            # back (a constant, or a partial of the argument's own shape): expand to the output
            out = np.broadcast_to(out, (out.shape[0],) + tuple(ashape))
        return out

    if len(parts) == 2:
        d0, d1 = parts
        general = jvp

        def jvp(tangents, ans, x, y):  # noqa: F811  the binary hot path, spelled out
            t0, t1 = tangents
            if t0 is not None and t1 is not None:
                shape = ans.shape
                if d0 is ZERO or d1 is ZERO or t0.shape[1:] != shape or t1.shape[1:] != shape:
                    return general(tangents, ans, x, y)
                a = scale(t0, d0) if d0.__class__ is float else t0 * d0(ans, x, y)
                b = scale(t1, d1) if d1.__class__ is float else t1 * d1(ans, x, y)
                if ans.__class__ is _ndarray and a.__class__ is _ndarray and \
                        a.size >= INPLACE_MIN_SIZE and a is not t0 and \
                        b.__class__ is _ndarray and a.dtype == b.dtype:
                    # a is a fresh product of the output's shape and dtype: add into it, one
                    # K-lane temporary less (with many lanes they run to megabytes, and on this
                    # kind of machine every fresh megabyte costs page faults)
                    return np.add(a, b, out=a)
                return a + b
            if t0 is not None:
                t, d = t0, d0
            else:
                t, d = t1, d1
            if d is ZERO:
                return None
            if t.shape[1:] != ans.shape:
                return general(tangents, ans, x, y)
            if d.__class__ is float:
                return t if d == 1.0 else (-t if d == -1.0 else t * d)
            return t * d(ans, x, y)

    def vjp(i, g, ans, *args):
        d = parts[i]
        if d is ZERO:
            return None
        return sum_to(scale(g, d if d.__class__ is float else d(ans, *args)),
                      shape_of(args[i]), lanes=True)

    saves = Saves({i: _partial_reads(d) for i, d in enumerate(derivs)}, elementwise=True)
    prim = Primitive(name, impl, jvp, vjp, vjp_plain=_plain_vjp(parts), kind="elementwise",
                     saves=saves)
    prim.derivs = derivs
    return prim


def _partial_reads(d):
    """``(keep_ans, positions)`` the cotangent through the partial ``d`` reads: nothing for a
    constant, a missing or a zero partial; its declaration; everything if it has none."""
    if d is None or d is ZERO or d.__class__ is float:
        return (False, frozenset())
    return getattr(d, "reads", (True, None))


def _plain_vjp(parts):
    """The VJP of an elementwise entry for one cotangent without the lane axis (the commonest
    sweep, where a call costs as much as the arithmetic), generated here as one function whose
    body is specialized to the arity and the kind of each partial: no call tests them.

    ``g`` has the answer's shape, so only a broadcast argument needs :func:`sum_to`; the
    argument asked for is an array (the tape asks only for arguments that need a cotangent).
    """
    n = len(parts)
    names = ("x", "y") if n == 2 else ("x",) if n == 1 else tuple(f"a{j}" for j in range(n))
    env = {"sum_to": sum_to}
    branches = []
    for j, d in enumerate(parts):
        x = names[j]
        if d is ZERO:
            body = ["return None"]
        elif d.__class__ is float:
            env[f"c{j}"] = d
            ct = "g" if d == 1.0 else "-g" if d == -1.0 else f"g * c{j}"
            body = [f"return {ct}"] if n == 1 else \
                [f"ct = {ct}", f"return ct if ct.shape == {x}.shape else sum_to(ct, {x}.shape)"]
        else:
            env[f"d{j}"] = d
            call = f"d{j}(ans, {', '.join(names)})"
            body = [f"return g * {call}"] if n == 1 else \
                [f"dv = {call}",
                 f"return g * dv if g.shape == {x}.shape else sum_to(g, {x}.shape, times=dv)"]
        branches.append((j, body))
    lines = [f"def vjp_plain(i, g, ans, {', '.join(names)}):"]
    for j, body in branches[1:][::-1]:  # (i == 0, the first argument, falls through)
        lines.append(f"    if i == {j}:" if n > 2 else "    if i:")
        lines += [f"        {b}" for b in body]
    lines += [f"    {b}" for b in branches[0][1]]
    source = "\n".join(lines)
    # (compiled as a file of this package: a staged program's line comments name the user's
    # code, and frames of generated rules must read as the library's, not as a "<string>")
    exec(compile(source, _GENERATED, "exec"), env)  # noqa: S102  (built from fixed pieces)
    env["vjp_plain"].source = source  # (what was generated, for a reader or a debugger)
    return env["vjp_plain"]


def linear(name, impl, transpose, *, lanes=None, vjp_plain=None):
    """A primitive linear in its one differentiable argument: ``impl(x, **params)``.

    ``transpose(g, x, **params)`` applies the transpose to the lane-carrying cotangent ``g``
    (shape ``(K, *shape(ans))``), giving ``(K, *shape(x))`` (``None`` for a zero one; rules read
    ``x`` for its shape and dtype). ``lanes(t, **params)`` is ``impl`` on every lane of the
    lane-carrying tangent ``t`` at once (the lane axis carried along as one more leading axis);
    without it ``impl`` runs lane by lane, a loop over the ``K`` lanes, which every entry of
    the table avoids by giving it. The rules are generated: ``jvp = lanes(t)`` and
    ``vjp = transpose(g)``, so the property test of the kind (``lanes`` is ``impl`` lane by
    lane, ``transpose`` its adjoint) covers every member. A transpose needs no value of the op,
    only ``x``'s shape and dtype: the tape keeps neither ``x`` nor ``ans``.
    """
    if lanes is None:
        def lanes(t, **params):
            return np.stack([impl(t[k], **params) for k in range(t.shape[0])])

    def jvp(tangents, ans, x, **params):
        return lanes(tangents[0], **params)

    def vjp(i, g, ans, x, **params):
        return transpose(g, x, **params)

    prim = Primitive(name, impl, jvp, vjp, vjp_plain=vjp_plain, kind="linear", saves={0: ()})
    prim.parts = (lanes, transpose)
    return prim


def bilinear(name, impl, lhs_transpose, rhs_transpose, *, lhs, rhs, vjp_plain=None):
    """A primitive linear in each of its two arguments separately: ``impl(a, b, **params)``.

    ``lhs(ta, ans, a, b, **params)`` is ``impl(ta_κ, b)`` for every lane κ of the lane-carrying
    ``ta`` at once, ``rhs(tb, ans, a, b, **params)`` is ``impl(a, tb_κ)`` (``ans`` gives the
    output's shape); ``lhs_transpose(g, a, b, **params)`` and ``rhs_transpose(g, a, b,
    **params)`` are their transposes on a lane-carrying cotangent: the cotangents of ``a`` and
    ``b``. The rules are generated from the four: ``jvp = lhs(ta) + rhs(tb)`` (the product
    rule) and ``vjp_i`` the ``i``-th transpose, so the two modes share them. The cotangent of
    one operand reads the other (and its own shape): the tape keeps ``b`` for ``a``'s and ``a``
    for ``b``'s, never ``ans``.
    """
    def jvp(tangents, ans, a, b, **params):
        ta, tb = tangents
        out = None if ta is None else lhs(ta, ans, a, b, **params)
        if tb is not None:
            term = rhs(tb, ans, a, b, **params)
            out = term if out is None else out + term
        return out

    def vjp(i, g, ans, a, b, **params):
        return rhs_transpose(g, a, b, **params) if i else lhs_transpose(g, a, b, **params)

    prim = Primitive(name, impl, jvp, vjp, vjp_plain=vjp_plain, kind="bilinear",
                     saves={0: (1,), 1: (0,)})
    prim.parts = (lhs, rhs, lhs_transpose, rhs_transpose)
    return prim


def nondiff(name, impl):
    """An op with zero derivative everywhere it is defined: tracers in, plain values out."""
    return Primitive(name, impl, nondiff=True)


# ---------------------------------------------------------------------------------------------
# the message of a rule that divided by zero, shared by both modes
# ---------------------------------------------------------------------------------------------

def rule_zero_division(kind, name):
    """The message for Python's ZeroDivisionError raised inside the ``kind`` ("JVP"/"VJP") rule
    of the primitive ``name``."""
    return (f"the {kind} rule of {name} divided by zero (Python numbers divide with "
            f"ZeroDivisionError where NumPy gives inf or nan): pass the constant as a NumPy "
            f"value, e.g. np.float64(0.0), or avoid the singular point")
