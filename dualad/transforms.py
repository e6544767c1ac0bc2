"""The functional transforms: each call picks a mode (forward lanes or the reverse tape).

``jvp``, ``jacfwd`` and ``grad(mode="forward")`` run :class:`~dualad.DualArray` lanes; ``vjp``,
``jacrev`` and ``grad(mode="reverse")`` run the :mod:`reverse` tape; ``hessian`` and ``hvp``
nest them (forward over reverse). Semantics follow JAX: results keep the pytree structure of
the arguments, ``jacobian(f)(x).shape == out.shape + x.shape``, Python floats are 0-d float64
arrays, integer arguments are constants and asking for their derivative raises ``TypeError``.

:func:`_Args` handles ``argnums`` and pytrees once for every transform.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .dual import DualArray
from .ops.core import LEVEL_INPUTS, check_numeric_output, check_scalar_output
from .ops import Tracer, check_live, close_level, mark_identity, open_level
from .pytree import _PLAIN_LEAVES, tree_flatten, tree_map, tree_unflatten

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray
_float64 = np.float64

__all__ = ["jvp", "jacfwd", "jacrev", "jacobian", "grad", "value_and_grad", "hessian", "hvp",
           "MEMORY_BUDGET"]

#: bytes that the tangent (or cotangent) lanes of one pass may take before jacfwd/jacrev split
#: the work into chunks
MEMORY_BUDGET = 256 * 2 ** 20

_MODES = ("forward", "reverse")


# ---------------------------------------------------------------------------------------------
# arguments: argnums, pytrees, dtype checks — in one place
# ---------------------------------------------------------------------------------------------

def as_leaf(x, what):
    """A differentiable leaf as an array: Python floats become 0-d float64; ints are refused.

    ``what`` names the leaf in error messages: a string, or a function returning one (built
    only when an error is raised: formatting it costs more than the check on every call).
    """
    if type(x) is np.ndarray and x.dtype.kind == "f":  # the common case, checked first
        return x
    if isinstance(x, Tracer):
        check_live(x)
        dtype = x.dtype
    else:
        if isinstance(x, bool) or isinstance(x, (int, np.integer)) and not isinstance(x, float):
            raise TypeError(f"{_name(what)} is the integer {x!r}: integer arguments are "
                            f"constants and have no derivative. Pass a float (e.g. "
                            f"{float(x)!r}) to differentiate with respect to it")
        x = np.asarray(x, dtype=float if isinstance(x, float) else None)
        dtype = x.dtype
    kind = dtype.kind  # (np.issubdtype costs microseconds, on every transform call)
    if kind not in "fc":
        raise TypeError(f"{_name(what)} has dtype {dtype}: integer and boolean arguments are "
                        f"constants and have no derivative. Convert it to a floating dtype to "
                        f"differentiate with respect to it")
    if kind == "c":
        raise TypeError(f"{_name(what)} has complex dtype {dtype}: dualad differentiates real "
                        f"functions of real arrays")
    return x


def _name(what):
    return what if isinstance(what, str) else what()


class _Args:
    """The arguments of one transform call, split into differentiated leaves and the rest.

    ``kwargs`` are passed to ``f`` as they are: only positional arguments are differentiated.
    """

    def __init__(self, fname, args, argnums, kwargs=None):
        self.kwargs = kwargs or None
        n = len(args)
        if n == 1 and argnums == 0 and type(argnums) is int:  # f(x) of one float array: most calls
            x = args[0]
            if type(x) is _ndarray and x.dtype.kind == "f":
                self.nums, self.single, self.args, self.leaves = (0,), True, args, [x]
                self._treedef, self.flat, self._order = None, True, None
                return
        if type(argnums) is int and -n <= argnums < n:  # one argument: most calls
            nums, self.single = (argnums % n,), True
        else:
            if isinstance(argnums, (int, np.integer)):
                nums, self.single = (int(argnums),), True
            else:
                try:
                    nums = tuple(int(a) for a in argnums)
                except TypeError:
                    raise TypeError(f"{fname}: argnums must be an int or a tuple of ints, "
                                    f"got {argnums!r}") from None
                self.single = False
            for a in nums:
                if not -n <= a < n:
                    raise ValueError(f"{fname}: argnums {argnums!r} out of range for "
                                     f"{n} positional argument(s)")
            nums = tuple(a % n for a in nums)
        self._order = None
        if len(set(nums)) != len(nums):
            # argnums=(0, 0): differentiate each argument once, and hand its derivative back
            # at every place it was asked for (as JAX does)
            unique = tuple(dict.fromkeys(nums))
            self._order = tuple(unique.index(a) for a in nums)
            nums = unique
        self.nums = nums
        self.args = args
        chosen = tuple(args[i] for i in nums)
        if all(type(x) in _PLAIN_LEAVES for x in chosen):
            # every differentiated argument is itself a leaf: no pytree to rebuild (the usual
            # case); the structure is built only if asked for
            leaves, self._treedef, self.flat = chosen, None, True
        else:
            leaves, self._treedef = tree_flatten(chosen)
            self.flat = all(c.kind == "leaf" for c in self._treedef.children)
        self.leaves = [as_leaf(x, lambda k=k: f"{fname}: argument {self._where(k)}")
                       for k, x in enumerate(leaves)]

    @property
    def treedef(self):
        """The pytree structure of the tuple of differentiated arguments."""
        if self._treedef is None:
            self._treedef = tree_flatten(tuple(self.args[i] for i in self.nums))[1]
        return self._treedef

    # sizes and offsets are for the Jacobian transforms; grad never asks for them
    @property
    def sizes(self):
        return [math.prod(x.shape) for x in self.leaves]

    @property
    def offsets(self):
        out, total = [], 0
        for size in self.sizes:
            out.append(total)
            total += size
        return out

    @property
    def n(self):
        return sum(self.sizes)

    def _where(self, k):
        if len(self.nums) == 1 and self.treedef.children[0].kind == "leaf":
            return f"{self.nums[0]}"
        return f"{self.nums} (leaf {k})"

    def call(self, f, new_leaves):
        """Call ``f`` with the differentiated leaves replaced by ``new_leaves``."""
        args = list(self.args)
        rebuilt = new_leaves if self.flat else tree_unflatten(self.treedef, new_leaves)
        for j, i in enumerate(self.nums):
            args[i] = rebuilt[j]
        kwargs = self.kwargs
        return f(*args, **kwargs) if kwargs else f(*args)

    def structure(self, leaves):
        """Leaves arranged like the differentiated arguments (one argnum: that argument)."""
        if self.flat:
            tree = tuple(leaves)
        else:
            tree = tree_unflatten(self.treedef, leaves)
        if self.single:
            return tree[0]
        if self._order is not None:  # a repeated argnum: its derivative again, as a copy
            firsts = set()
            out = []
            for j in self._order:
                out.append(tree[j] if j not in firsts else tree_map(_copy_leaf, tree[j]))
                firsts.add(j)
            tree = tuple(out)
        return tree

    def dtype(self):
        return np.result_type(*[x.dtype for x in self.leaves]) if self.leaves else np.float64


def _copy_leaf(x):
    return x.copy() if type(x) is _ndarray else x


def _split_aux(fname, out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{fname}: with has_aux=True, f must return a pair (output, aux); "
                        f"got {type(out).__name__}")
    return out[0], out[1]


def _plain_tree(tree, level):
    """Strip the perturbation of ``level`` from every leaf (auxiliary outputs come back plain)."""
    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [_primal_at(x, level) for x in leaves])


def _as_arrays(tree):
    """Leaves as NumPy arrays (0-d for scalars); tracers of enclosing transforms stay as they are."""
    return tree_map(lambda x: x if isinstance(x, Tracer) else np.asarray(x), tree)


def _primal_at(x, level):
    while isinstance(x, DualArray) and x._level >= level:
        x = x._primal
    check_live(x)
    return x if isinstance(x, Tracer) else np.asarray(x)


# ---------------------------------------------------------------------------------------------
# forward mode
# ---------------------------------------------------------------------------------------------

def _seed(leaves, tangents, level, lanes):
    seeds = [DualArray._new(p, t, level, lanes) for p, t in zip(leaves, tangents)]
    LEVEL_INPUTS[level] = seeds
    return seeds


def _out_tangent(x, level, k, dtype):
    """``(primal, lane tangent)`` of an output leaf for the perturbation of ``level``."""
    if isinstance(x, DualArray) and x._level == level:
        return x._primal, x._tangent
    check_live(x)
    value = x if isinstance(x, Tracer) else np.asarray(x)
    if not isinstance(value, Tracer):
        check_numeric_output(value, "the forward transform", x)
    out_dtype = value.dtype if np.issubdtype(value.dtype, np.inexact) else dtype
    return value, np.zeros((k,) + tuple(value.shape), dtype=out_dtype)


def jvp(f, primals, tangents, lanes=False, **kwargs):
    """Jacobian-vector product of ``f`` at ``primals`` along ``tangents``, by forward mode.

    Parameters
    ----------
    f : callable
        A function of ``len(primals)`` positional arguments, written with NumPy.
    primals, tangents : tuple
        The point and the direction, tuples (or lists) of the same pytree structure; each
        tangent leaf has its primal's shape, or with ``lanes=True`` a leading axis of K
        directions: shape ``(K, *primal.shape)``.
    lanes : bool
        Propagate K directions in one pass; the output tangent then has the leading K axis
        too (a Jacobian-matrix product).
    **kwargs
        Passed to ``f`` as they are (not differentiated).

    Returns
    -------
    (out, out_tangent)
        ``f(*primals)`` and its tangent, both with ``f``'s output structure.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (or lists) of arguments, "
                        f"got {type(primals).__name__} and {type(tangents).__name__}")
    p_leaves, p_def = tree_flatten(tuple(primals))
    t_leaves, t_def = tree_flatten(tuple(tangents))
    if p_def != t_def:
        raise ValueError(f"jvp: primals and tangents must have the same structure; got "
                         f"{p_def} and {t_def}")
    p_leaves = [as_leaf(p, f"jvp: primal {k}") for k, p in enumerate(p_leaves)]
    seeds = []
    k_lanes = None
    for n, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        t = t if isinstance(t, Tracer) else np.asarray(t, dtype=p.dtype)
        pshape, tshape = tuple(p.shape), tuple(t.shape)
        if lanes:
            if tshape[1:] != pshape or len(tshape) != len(pshape) + 1:
                raise ValueError(f"jvp: with lanes=True tangent {n} must have shape "
                                 f"(K, *{pshape}); got {tshape} for primal shape {pshape}")
            if k_lanes is not None and tshape[0] != k_lanes:
                raise ValueError(f"jvp: every tangent needs the same number of lanes; got "
                                 f"{k_lanes} and {tshape[0]}")
            k_lanes = tshape[0]
            seeds.append(t)
        else:
            if tshape != pshape:
                raise ValueError(f"jvp: tangent {n} has shape {tshape} but its primal has shape "
                                 f"{pshape} (tangents must match their primals' shapes)")
            seeds.append(t[None])
    k = k_lanes if lanes else 1
    if k is None:  # no leaves at all
        k = 0
    level = open_level("jvp")
    try:
        out = f(*tree_unflatten(p_def, _seed(p_leaves, seeds, level, bool(lanes))), **kwargs)
        o_leaves, o_def = tree_flatten(out)
        dtype = np.result_type(*[p.dtype for p in p_leaves]) if p_leaves else np.float64
        pairs = [_out_tangent(x, level, k, dtype) for x in o_leaves]
    finally:
        close_level(level)
    out_p = [p if isinstance(p, Tracer) else np.asarray(p) for p, _ in pairs]
    out_t = [t if lanes else t[0] for _, t in pairs]
    out_t = [t if isinstance(t, Tracer) else np.asarray(t) for t in out_t]
    return tree_unflatten(o_def, out_p), tree_unflatten(o_def, out_t)


def _chunks(n, m_bytes_per_lane, chunk, fname):
    """Split ``n`` lanes into the fewest equal chunks that keep the lanes under the budget."""
    if chunk is not None:
        if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
            raise ValueError(f"{fname}: chunk must be a positive int or None, got {chunk!r}")
        size = int(chunk)
    else:
        count = max(1, math.ceil(n * m_bytes_per_lane / MEMORY_BUDGET))
        size = max(1, math.ceil(n / count))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _identity_lanes(a, b, sizes, offsets, shapes, dtype):
    """Rows ``a:b`` of the identity, cut per leaf and shaped ``(b - a, *leaf.shape)``.

    When that is the whole identity of one vector leaf, it is marked as such
    (``ops.mark_identity``): products with it need no GEMM.
    """
    k = b - a
    out = []
    for size, off, shape in zip(sizes, offsets, shapes):
        if len(sizes) == 1 and a == 0 and k == size and len(shape) == 1:
            out.append(mark_identity(np.eye(size, dtype=dtype)))
            continue
        t = np.zeros((k, size), dtype=dtype)
        idx = np.arange(max(a, off), min(b, off + size))
        t[idx - a, idx - off] = 1
        out.append(t.reshape((k,) + tuple(shape)))
    return out


def _fwd_blocks(rows, spec, out_shape):
    """Split ``rows`` (``(n, *out_shape)``, one row per input entry) into one Jacobian per input
    leaf, each of shape ``out_shape + leaf.shape``."""
    blocks = []
    # (the size spelled out: -1 cannot be inferred when there are no rows, an empty input)
    flat = rows.reshape(rows.shape[0], math.prod(rows.shape[1:]))
    for size, off, leaf in zip(spec.sizes, spec.offsets, spec.leaves):
        block = flat[off:off + size].T  # (m, size)
        block = block.reshape(tuple(out_shape) + tuple(leaf.shape))
        if block.dtype != leaf.dtype and leaf.dtype.kind == "f" and block.dtype.kind == "f":
            block = block.astype(leaf.dtype)  # derivatives take the input's dtype, as jacrev's
        blocks.append(block)
    return blocks


def _forward_jacobian(f, spec, chunk, has_aux, fname):
    """Run the lane passes; returns ``(out_tree, jac_tree, aux)``."""
    dtype = spec.dtype()
    itemsize = np.dtype(dtype).itemsize
    shapes = [tuple(x.shape) for x in spec.leaves]
    # the input lanes and a working set as large again: the outputs' lanes are the Jacobian
    chunks = _chunks(spec.n, 2 * itemsize * spec.n, chunk, fname) if spec.n else [(0, 0)]
    per_out = None
    out = aux = o_def = None
    for a, b in chunks:
        # (closed when the pass is done; a pass that raises leaves its level live, which only
        # forgoes the escaped-tracer check for its tracers)
        level = open_level(fname)
        seeds = _identity_lanes(a, b, spec.sizes, spec.offsets, shapes, dtype)
        res = spec.call(f, _seed(spec.leaves, seeds, level, True))
        res, aux_c = _split_aux(fname, res, has_aux)
        o_leaves, o_def = tree_flatten(res)
        pairs = [_out_tangent(x, level, b - a, dtype) for x in o_leaves]
        if per_out is None:
            per_out = [[] for _ in pairs]
            out = [p if isinstance(p, Tracer) else np.asarray(p) for p, _ in pairs]
            aux = _plain_tree(aux_c, level) if has_aux else None
        close_level(level)
        for acc, (_, t) in zip(per_out, pairs):
            acc.append(t)
    jacs = []
    for acc, o in zip(per_out, out):
        rows = acc[0] if len(acc) == 1 else np.concatenate(acc, axis=0)
        if type(rows) is np.ndarray and not rows.flags.writeable:
            rows = rows.copy()  # (the read-only identity seed itself, or a view of it)
        jacs.append(spec.structure(_fwd_blocks(rows, spec, o.shape)))
    return tree_unflatten(o_def, out), tree_unflatten(o_def, jacs), aux


def jacfwd(f, argnums=0, chunk=None, has_aux=False):
    """Jacobian of ``f`` by forward mode: identity directions pushed as DualArray lanes.

    ``chunk`` bounds the lanes per pass; ``None`` means all at once unless the lanes would
    pass :data:`MEMORY_BUDGET` (256 MiB), then the fewest equal chunks that fit. The result has
    shape ``out.shape + x.shape`` for each output leaf and each differentiated argument leaf,
    arranged as the output pytree of the arguments' pytree (a tuple of them for a tuple
    ``argnums``).
    """
    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        spec = _Args("jacfwd", args, argnums, kwargs)
        out, jac, aux = _forward_jacobian(f, spec, chunk, has_aux, "jacfwd")
        return (jac, aux) if has_aux else jac
    return jac_fn


def _check_scalar(fname, out):
    check_scalar_output(fname, out)


def _check_grad_out(out):
    _check_scalar("grad", out)


def _check_mode(fname, mode, allowed=_MODES):
    if mode not in allowed:
        raise ValueError(f"{fname}: mode must be one of {', '.join(map(repr, allowed))}; "
                         f"got {mode!r}")


def value_and_grad(f, argnums=0, has_aux=False, mode="reverse"):
    """Function returning ``(f(*args), gradient)``; with ``has_aux``, ``((value, aux), grad)``.

    ``f`` must return a scalar. ``mode="reverse"`` takes one sweep of the tape;
    ``mode="forward"`` pushes one lane per input entry through DualArrays.
    """
    _check_mode("value_and_grad", mode)

    @functools.wraps(f)
    def vg_fn(*args, **kwargs):
        out, jac, aux = _gradient(f, args, argnums, has_aux, mode, kwargs)
        return ((out, aux), jac) if has_aux else (out, jac)
    return vg_fn


def _gradient(f, args, argnums, has_aux, mode, kwargs=None):
    """``(value, gradient, aux)`` of the scalar ``f`` at ``args`` (``kwargs`` passed through)."""
    spec = _Args("grad", args, argnums, kwargs)
    if mode == "forward":
        out, jac, aux = _forward_jacobian(f, spec, None, has_aux, "grad")
        _check_scalar("grad", out)
        return out, jac, aux
    return _reverse_gradient(f, spec, has_aux)


def grad(f, argnums=0, has_aux=False, mode="reverse"):
    """Gradient of the scalar function ``f`` with respect to the arguments ``argnums``.

    Returns a function with ``f``'s signature returning the gradient, shaped like the argument
    (a tuple for a tuple ``argnums``); with ``has_aux=True`` it returns ``(grad, aux)``.
    ``mode`` is ``"reverse"`` (default, the tape) or ``"forward"`` (DualArray lanes).
    """
    _check_mode("grad", mode)

    @functools.wraps(f)
    def grad_fn(*args, **kwargs):
        out, g, aux = _gradient(f, args, argnums, has_aux, mode, kwargs)
        return (g, aux) if has_aux else g
    return grad_fn


# ---------------------------------------------------------------------------------------------
# reverse mode (the tape lives in the `reverse` package, imported when first needed)
# ---------------------------------------------------------------------------------------------

def _reverse():
    import reverse
    return reverse


_value_and_grad_leaves = None  # reverse.functional's, once imported (an import per call costs)


def _reverse_gradient(f, spec, has_aux):
    global _value_and_grad_leaves
    if _value_and_grad_leaves is None:
        from reverse.functional import value_and_grad_leaves
        _value_and_grad_leaves = value_and_grad_leaves
    # f itself when its arguments are exactly the leaves (one array argument): a frame less
    fun = f if spec.flat and not spec.kwargs and spec.nums == tuple(range(len(spec.args))) else \
        (lambda *leaves: spec.call(f, list(leaves)))
    out, grads, aux = _value_and_grad_leaves(fun, spec.leaves, has_aux, _check_grad_out)
    return out, spec.structure(grads), (_as_arrays(aux) if has_aux else None)


def _rev_blocks(rows, spec, out_shape):
    """One Jacobian per input leaf from per-leaf cotangent rows ``(m, *leaf.shape)``."""
    return [np.reshape(r, tuple(out_shape) + tuple(leaf.shape))
            for r, leaf in zip(rows, spec.leaves)]


def jacrev(f, argnums=0, chunk=None, has_aux=False):
    """Jacobian of ``f`` by reverse mode: one tape, identity cotangents swept as lanes.

    ``chunk`` bounds the cotangent lanes per sweep (``None``: all at once within
    :data:`MEMORY_BUDGET`). Shapes and structure as :func:`jacfwd`.
    """
    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        rv = _reverse()
        spec = _Args("jacrev", args, argnums, kwargs)
        res = rv.functional.vjp_now(lambda *leaves: spec.call(f, list(leaves)), *spec.leaves,
                                    has_aux=has_aux, name="jacrev")
        out, vjp_fn = res[0], res[1]
        o_leaves, o_def = tree_flatten(out)
        o_leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in o_leaves]
        o_sizes = [x.size for x in o_leaves]
        m = sum(o_sizes)
        o_offsets = np.cumsum([0] + o_sizes)[:-1].tolist()
        dtype = spec.dtype()
        itemsize = np.dtype(dtype).itemsize
        rows = [[] for _ in spec.leaves]
        for a, b in (_chunks(m, 2 * itemsize * m, chunk, "jacrev") if m else []):
            cots = _identity_lanes(a, b, o_sizes, o_offsets, [x.shape for x in o_leaves], dtype)
            if b - a == 1:  # one cotangent (a scalar f): the plain sweep, lane axis added after
                grads = vjp_fn(tree_unflatten(o_def, [c[0] for c in cots]))
                grads = [g[None] if type(g) is np.ndarray else np.expand_dims(g, 0)
                         for g in grads]
            else:
                grads = vjp_fn(tree_unflatten(o_def, cots), lanes=True)
            for acc, g in zip(rows, grads):
                acc.append(g)
        jacs = []
        for o, off, size in zip(o_leaves, o_offsets, o_sizes):
            per_leaf = []
            for acc, leaf in zip(rows, spec.leaves):
                full = (acc[0] if len(acc) == 1 else np.concatenate(acc, axis=0)) if m else None
                per_leaf.append(full[off:off + size] if m else
                                np.zeros((0,) + tuple(leaf.shape), dtype=dtype))
            jacs.append(spec.structure(_rev_blocks(per_leaf, spec, o.shape)))
        jac = tree_unflatten(o_def, jacs)
        return (jac, _as_arrays(res[2])) if has_aux else jac
    return jac_fn


# ---------------------------------------------------------------------------------------------
# choosing a mode, and second order
# ---------------------------------------------------------------------------------------------

def jacobian(f, argnums=0, mode="auto"):
    """Jacobian of ``f`` in the mode asked for.

    ``mode``: ``"forward"`` (:func:`jacfwd`), ``"reverse"`` (:func:`jacrev`), ``"numeric"``
    (central differences, :mod:`dualad.numeric`), or ``"auto"``: forward when the
    differentiated inputs have at most as many entries as the output, reverse otherwise.
    """
    _check_mode("jacobian", mode, ("auto", "forward", "reverse", "numeric"))
    # built once, not per call
    fwd = jacfwd(f, argnums) if mode in ("auto", "forward") else None
    rev = jacrev(f, argnums) if mode in ("auto", "reverse") else None

    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        chosen = mode
        if mode == "auto":
            chosen = choose_mode(f, args, argnums, **kwargs)
        if chosen == "forward":
            return fwd(*args, **kwargs)
        if chosen == "reverse":
            return rev(*args, **kwargs)
        return _numeric_jacobian(f, args, argnums, kwargs)
    return jac_fn


def choose_mode(f, args, argnums=0, **kwargs):
    """The mode ``jacobian(mode="auto")`` takes for ``f`` at ``args``: ``"forward"`` when the
    inputs are no more than the outputs (forward needs one lane per input, reverse one per
    output), else ``"reverse"``. Evaluates ``f`` once to learn the output size."""
    spec = _Args("jacobian", args, argnums)
    out_leaves, _ = tree_flatten(f(*args, **kwargs))
    m = sum(int(np.prod(np.shape(x))) if not isinstance(x, Tracer) else x.size
            for x in out_leaves)
    return "forward" if spec.n <= m else "reverse"


def _numeric_jacobian(f, args, argnums, kwargs=None):
    from . import numeric
    spec = _Args("jacobian", args, argnums, kwargs)
    out = spec.call(f, spec.leaves)
    o_leaves, o_def = tree_flatten(out)
    per_out = [[] for _ in o_leaves]
    for k, leaf in enumerate(spec.leaves):
        def along(x, k=k):
            leaves = list(spec.leaves)
            leaves[k] = x
            return tuple(np.asarray(v) for v in tree_flatten(spec.call(f, leaves))[0])
        cols = [numeric.jacobian(lambda x, j=j: along(x)[j], leaf)
                for j in range(len(o_leaves))]
        for acc, c in zip(per_out, cols):
            acc.append(c)
    return tree_unflatten(o_def, [spec.structure(blocks) for blocks in per_out])


def hessian(f, argnums=0):
    """Hessian of the scalar ``f``, forward over reverse: the gradient's tape swept once with
    DualArray lanes flowing through it. Shape ``x.shape + x.shape``. Keyword arguments of the
    returned function are passed to ``f`` (not differentiated)."""
    return jacfwd(grad(f, argnums), argnums)


def hvp(f, primals, tangents, **kwargs):
    """Hessian-vector product ``H·v`` of the scalar ``f`` at ``primals`` along ``tangents``,
    without forming ``H`` (a JVP of the reverse-mode gradient). Same structure as ``primals``.
    Keyword arguments are passed to ``f`` (not differentiated).
    """
    if not isinstance(primals, (tuple, list)):
        raise TypeError(f"hvp: primals must be a tuple of arguments, got "
                        f"{type(primals).__name__}")
    g = grad(f, argnums=tuple(range(len(primals))))
    return jvp(g, tuple(primals), tuple(tangents), **kwargs)[1]
