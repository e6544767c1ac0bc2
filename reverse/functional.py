"""The functional forms of reverse mode: :func:`vjp` and :func:`grad` (JAX semantics).

Each call takes a fresh level and records ``f`` on a graph of its own, separate from the
user-level graph of hand-built Tensors, so calls nest: ``grad`` of a function that calls
``grad`` (reverse over reverse), and ``DualArray`` primals or cotangents flowing through the
tape (forward over reverse) — the VJP rules are NumPy calls, so they dispatch on whatever
values the tape saved. Arguments and results are pytrees (:mod:`dualad.pytree`).
"""
from __future__ import annotations

import numpy as np

from dualad.front import (Args, as_arrays, check_numeric_output, grad_function, output_check,
                          split_aux, strip_tree)
from dualad.ops import Tracer, check_live, close_level, open_level
from dualad.pytree import tree_flatten, tree_unflatten

from .modes import ANOMALY, GRAD, MODE, enable_grad
from .tape import keep_own_copies, own, sweep
from .tensor import Tensor, _is_inexact, leaf_dtype, real_part_for

__all__ = ["vjp", "grad", "VJPFunction"]

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray


def _input_leaf(x, level):
    """A primal leaf as the Tensor ``f`` sees (``None`` for a constant: integers, bools...)."""
    if type(x) is _ndarray:  # (the common case)
        value = x
    elif isinstance(x, Tracer):
        check_live(x)
        value = x
    elif isinstance(x, float):
        value = np.asarray(x, dtype=np.float64)
    elif isinstance(x, complex):
        value = np.asarray(x, dtype=np.complex128)
    elif isinstance(x, (np.ndarray, np.generic)):
        value = np.asarray(x)
    else:
        return None  # Python ints and bools, None, strings...: passed through as constants
    if not _is_inexact(value.dtype):
        return None
    t = Tensor._wrap(value, level, None)
    t._requires_grad = True
    return t


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _dtype(x):
    """The dtype of a leaf (float64 for what NumPy cannot type: strings are constants too)."""
    if hasattr(x, "dtype"):
        return x.dtype
    try:
        return np.result_type(x)
    except TypeError:
        return np.dtype(np.float64)


def _frozen(v):
    """A read-only view of an array the tape may hold (results behave as immutable, as in JAX)."""
    if type(v) is _ndarray:
        v = v.view()
        v.flags.writeable = False
    return v


def _strip(x, level):
    """The value of ``x`` without the perturbation of ``level``."""
    if isinstance(x, Tensor) and x._level == level:
        return _frozen(x._value)
    check_live(x)
    return x if isinstance(x, Tracer) or x is None else _frozen(np.asarray(x))


class VJPFunction:
    """``vjp_fn(cotangents, lanes=False, retain_graph=True)``: the cotangents of the primals.

    ``cotangents`` has the structure of ``f``'s output (each leaf its shape, or with
    ``lanes=True`` a leading axis of K cotangents swept at once). Returns a tuple with one
    cotangent per primal, structured like the primal. ``retain_graph=False`` frees the tape as
    the sweep passes it (for the last call: less memory); a later call then raises.
    """

    __slots__ = ("_level", "_inputs", "_in_defs", "_targets", "_out_def", "_out_avals")

    def __init__(self, level, inputs, in_defs, targets, out_def, out_avals):
        self._level = level
        self._inputs = inputs        # per primal: list of (Tensor or None, shape, dtype) per leaf
        self._in_defs = in_defs      # per primal: its TreeDef
        self._targets = targets      # per output leaf: Node, Port, leaf Tensor, or None
        self._out_def = out_def
        self._out_avals = out_avals  # per output leaf: (shape, dtype)

    def __call__(self, cotangents, lanes=False, retain_graph=True):
        leaves, td = tree_flatten(cotangents)
        if td != self._out_def:
            raise ValueError(f"vjp_fn: the cotangents have structure {td} but f's output has "
                             f"structure {self._out_def}; pass one cotangent per output leaf")
        seeds = []
        k = None
        outs = zip(leaves, self._targets, self._out_avals)
        for n, (ct, target, (shape, dtype)) in enumerate(outs):
            g = _lane_cotangent(ct, shape, dtype, lanes, n)
            if lanes:
                if k is not None and g.shape[0] != k:
                    raise ValueError(f"vjp_fn: every cotangent needs the same number of lanes; "
                                     f"got {k} and {g.shape[0]}")
                k = g.shape[0]
            if target is not None:
                seeds.append((target, g))
        k = 1 if k is None else k
        reached = sweep(seeds, retain_graph, None, bool(MODE.get() & ANOMALY), self._level,
                        lanes=lanes) if seeds else []
        mine = set()
        seen = set()
        results = []
        for leaves_in, in_def in zip(self._inputs, self._in_defs):
            out = []
            for t, shape, dtype in leaves_in:
                g = None
                if t is not None:
                    mine.add(id(t))
                    g = t._gacc
                    t._gacc = None
                if g is None:
                    g = np.zeros(((k,) if lanes else ()) + shape,
                                 dtype=dtype if _is_inexact(dtype) else np.float64)
                g = own(g, seen)
                if isinstance(g, Tracer):
                    g = real_part_for(g, dtype)
                if (type(g) is _ndarray or isinstance(g, Tracer)) and g.dtype != dtype and \
                        _is_inexact(dtype):  # (a rule may promote: the input's dtype again)
                    g = leaf_dtype(g, dtype)
                out.append(g)
            results.append(tree_unflatten(in_def, out))
        for leaf in reached:  # ids are safe here: `reached` keeps every leaf alive
            if id(leaf) not in mine:
                leaf._gacc = None
        return tuple(results)


def _lane_cotangent(ct, shape, dtype, lanes, n):
    """Cotangent leaf ``n`` with its lane axis, checked against the output's shape."""
    if isinstance(ct, Tracer):
        g = ct
    else:
        g = np.array(ct, dtype=dtype if _is_inexact(dtype) else None, copy=True)
    gshape = tuple(g.shape)
    if lanes:
        if gshape[1:] != shape or len(gshape) != len(shape) + 1:
            raise ValueError(f"vjp_fn: with lanes=True cotangent {n} must have shape "
                             f"(K, *{shape}); got {gshape}")
        return g
    if gshape != shape:
        raise ValueError(f"vjp_fn: cotangent {n} has shape {gshape} but the output has shape "
                         f"{shape} (pass lanes=True for a leading axis of K cotangents)")
    if not gshape and type(g) is _ndarray:
        return g[()]  # a NumPy scalar: arithmetic on it costs a tenth of a 0-d array's
    return g


def vjp(f, *primals, has_aux=False, **kwargs):
    """Vector-Jacobian product of ``f`` at ``primals``, by the reverse tape.

    Returns ``(out, vjp_fn)`` — or ``(out, vjp_fn, aux)`` with ``has_aux=True``, when ``f``
    returns ``(out, aux)`` — where ``vjp_fn(cotangents)`` gives one cotangent per primal (see
    :class:`VJPFunction`; ``lanes=True`` sweeps K cotangents at once). Primals are pytrees of
    arrays and floats (Python floats are 0-d float64); integer and boolean leaves are constants
    and get zero cotangents. ``out`` and ``aux`` come back as plain (read-only) arrays;
    ``vjp_fn`` may be called any number of times, and changing the primals or the constants
    ``f`` read in place afterwards does not change what it returns: the tape keeps its own
    copies of the arrays it saved that others may write to. Other keyword arguments are
    passed to ``f`` (not differentiated).
    """
    return _vjp_at_new_level(f, primals, has_aux, True, kwargs, "vjp")


def vjp_now(f, *primals, has_aux=False, name="vjp"):
    """:func:`vjp` for a caller that calls ``vjp_fn`` before anything else runs (``jacrev``):
    the tape holds the arrays it saved as they are, without copying those that others may
    change later. ``name`` is the transform escaped-tracer errors name."""
    return _vjp_at_new_level(f, primals, has_aux, False, {}, name)


def _vjp_at_new_level(f, primals, has_aux, keep, kwargs, name):
    level = open_level(name)
    try:
        return _vjp(f, primals, has_aux, level, keep, kwargs)
    finally:
        close_level(level)


def _vjp(f, primals, has_aux, level, keep, kwargs):
    inputs, in_defs, args = [], [], []
    for p in primals:
        leaves, td = tree_flatten(p)
        row, wrapped = [], []
        for x in leaves:
            t = _input_leaf(x, level)
            wrapped.append(x if t is None else t)
            value = x if t is None else t._value
            row.append((t, _shape(value), _dtype(value)))
        inputs.append(row)
        in_defs.append(td)
        args.append(tree_unflatten(td, wrapped))
    with enable_grad():  # as in torch.func: an outer no_grad does not switch a transform off
        res = f(*args, **kwargs)
    res, aux = split_aux("vjp", res, has_aux)
    o_leaves, out_def = tree_flatten(res)
    targets, avals, values = [], [], []
    for o in o_leaves:
        if isinstance(o, Tensor) and o._level == level:
            targets.append((o if o._node is None else o._node) if o._requires_grad else None)
            value = o._value
        else:
            targets.append(None)
            value = o if isinstance(o, Tracer) else np.asarray(o)
            if not isinstance(value, Tracer):
                check_numeric_output(value, "vjp", o)
        avals.append((tuple(value.shape), value.dtype))
        values.append(value)
    out = tree_unflatten(out_def, [_strip(v, level) for v in values])
    if keep:
        keep_own_copies(targets)
    fn = VJPFunction(level, inputs, in_defs, targets, out_def, avals)
    if has_aux:
        return out, fn, strip_tree(aux, _strip, level)
    return out, fn


_ONES: dict = {}  # dtype -> the seed 1 of that dtype (np.dtype(...).type(1) costs microseconds)


def value_and_grad_leaves(fun, leaves, has_aux, check_out):
    """``(out, grads, aux)`` of a scalar ``fun(*leaves)`` by one sweep: the lean path of
    ``grad`` (no output pytree, no lane axis, no :class:`VJPFunction`).

    ``leaves`` are arrays, floats or tracers (constants such as ints get zero gradients);
    ``check_out(out)`` raises for an output that is not a scalar, before the sweep.
    """
    level = open_level("grad")
    try:
        return _value_and_grad_leaves(fun, leaves, has_aux, check_out, level)
    finally:
        close_level(level)


def _value_and_grad_leaves(fun, leaves, has_aux, check_out, level):
    if len(leaves) == 1:  # (most calls: no list comprehensions, each a call of its own)
        x = leaves[0]
        t = _input_leaf(x, level)
        inputs = (t,)
        args = (x if t is None else t,)
    else:
        inputs = [_input_leaf(x, level) for x in leaves]
        args = [x if t is None else t for x, t in zip(leaves, inputs)]
    token = MODE.set(MODE.get() | GRAD)  # as enable_grad(): an outer no_grad does not apply
    try:
        res = fun(*args)
    finally:
        MODE.reset(token)
    aux = None
    if has_aux:
        res, aux = split_aux("grad", res, True)
        aux = strip_tree(aux, _strip, level)
    target = None
    if isinstance(res, Tensor) and res._level == level:
        if res._requires_grad:
            target = res if res._node is None else res._node
        out = _frozen(res._value)
    elif isinstance(res, (np.ndarray, np.generic, float, int, Tracer)):
        out = _strip(res, level)
    else:
        out = res  # a tuple, a list...: check_out says what is wrong with it
    check_out(out)
    reached = []
    if target is not None:
        # a NumPy scalar seed: arithmetic on it costs a tenth of a 0-d array's
        dtype = out.dtype
        one = _ONES.get(dtype)
        if one is None:
            one = _ONES[dtype] = (dtype if _is_inexact(dtype) else np.dtype(np.float64)).type(1)
        reached = sweep([(target, one)], False, None, bool(MODE.get() & ANOMALY), level,
                        lanes=False)
    grads = []
    seen = set()
    for x, t in zip(leaves, inputs):
        g = None
        if t is not None:
            g = t._gacc
            t._gacc = None
            dtype = t._value.dtype
        else:
            dtype = _dtype(x)
        if g is None:
            g = np.zeros(_shape(x), dtype=dtype if _is_inexact(dtype) else np.float64)
        g = own(g, seen)
        if isinstance(g, Tracer):
            g = real_part_for(g, dtype)
        if (type(g) is _ndarray or isinstance(g, Tracer)) and g.dtype != dtype and \
                _is_inexact(dtype):  # (a rule may promote: the input's dtype again)
            g = leaf_dtype(g, dtype)
        grads.append(g)
    for leaf in reached:  # leaves of this level that are not inputs keep nothing either
        leaf._gacc = None
    return out, grads, aux


def gradient(f, args, argnums, has_aux, holomorphic=False, kwargs=None):
    """``(value, gradient, aux)`` of the scalar ``f`` at ``args`` by one sweep (``kwargs``
    passed through): what :func:`grad` and ``dualad.value_and_grad(mode="reverse")`` run."""
    spec = Args("grad", args, argnums, kwargs)
    out, grads, aux = value_and_grad_leaves(spec.leaf_function(f), spec.leaves, has_aux,
                                            output_check(spec, holomorphic))
    return out, spec.structure(grads), (as_arrays(aux) if has_aux else None)


def grad(f, argnums=0, has_aux=False, holomorphic=False):
    """The gradient of the scalar function ``f``, by one reverse sweep: what
    ``dualad.grad(f, argnums, has_aux, mode="reverse", holomorphic)`` returns (one argument
    front, :mod:`dualad.front`: the same checks and messages, keyword arguments, pytrees and
    complex inputs handled alike).

    Returns a function with ``f``'s signature that returns ``∂f/∂args[argnums]`` shaped like
    that argument (a tuple of them for a tuple ``argnums``); with ``has_aux=True`` (``f`` returns
    ``(value, aux)``) it returns ``(gradient, aux)``. Keyword arguments are passed to ``f`` (not
    differentiated). Differentiated arguments must be floating or complex (Python floats are
    0-d float64); float32 gives float32 gradients. For complex arguments of a real ``f`` the
    gradient is JAX's ``∂f/∂x - i ∂f/∂y``; ``holomorphic=True`` asks for the complex derivative
    ``f'(z)`` of a holomorphic ``f`` of complex arguments.
    """
    return grad_function(gradient, f, argnums, has_aux, holomorphic)
