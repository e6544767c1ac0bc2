"""The functional transforms: each call picks a mode (forward lanes or the reverse tape).

``jvp``, ``jacfwd`` and ``grad(mode="forward")`` run :class:`~dualad.DualArray` lanes; ``vjp``,
``jacrev`` and ``grad(mode="reverse")`` run the :mod:`reverse` tape; ``hessian`` and ``hvp``
nest them (forward over reverse). Semantics follow JAX: results keep the pytree structure of
the arguments, ``jacobian(f)(x).shape == out.shape + x.shape``, Python floats are 0-d float64
arrays, integer arguments are constants and asking for their derivative raises ``TypeError``.

The argument front (``argnums``, pytrees, dtype and output checks, ``has_aux``) is
:mod:`dualad.front`, shared with the reverse tape's :mod:`reverse.functional`.
"""
from __future__ import annotations

import functools
import math

import numpy as np

import reverse
import reverse.functional as rv_functional

from . import numeric, parallel
from .dual import DualArray
from .front import (DERIVATIVE_MODES, Args, as_arrays, as_leaf, check_complex_inputs,
                    check_jacobian_outputs, check_mode, check_numeric_output, grad_function,
                    output_check, split_aux, strip_tree, value_and_grad_function)
from .ops.core import LEVEL_INPUTS
from .ops import Tracer, check_live, close_level, mark_identity, open_level
from .pytree import tree_flatten, tree_unflatten


__all__ = ["jvp", "jacfwd", "jacrev", "jacobian", "grad", "value_and_grad", "hessian", "hvp",
           "elementwise_grad",
           "MEMORY_BUDGET"]

#: bytes that the tangent (or cotangent) lanes of one pass may take before jacfwd/jacrev split
#: the work into chunks
MEMORY_BUDGET = 256 * 2 ** 20


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


def _chunks(n, m_bytes_per_lane, chunk, fname, executor=None):
    """Split ``n`` lanes into the fewest equal chunks that keep the lanes under the budget
    (with an executor: enough chunks for its workers, :func:`dualad.parallel.block_size`)."""
    if chunk is not None:
        if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
            raise ValueError(f"{fname}: chunk must be a positive int or None, got {chunk!r}")
        size = int(chunk)
    else:
        count = max(1, math.ceil(n * m_bytes_per_lane / MEMORY_BUDGET))
        size = max(1, math.ceil(n / count))
        if executor is not None:
            size = parallel.block_size(n, size, executor)
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


def _forward_block(f, spec, a, b, has_aux, fname, first):
    """One lane pass, lanes ``a:b``: ``(head, tangents)`` with the output tangent rows of each
    output leaf; ``head`` is ``(o_def, out leaves, aux)`` for the ``first`` block, else None."""
    dtype = spec.dtype()
    level = open_level(fname)
    try:  # (closed however the pass ends: a tracer kept from a pass that raised is dead too)
        seeds = _identity_lanes(a, b, spec.sizes, spec.offsets,
                                [tuple(x.shape) for x in spec.leaves], dtype)
        res = spec.call(f, _seed(spec.leaves, seeds, level, True))
        res, aux_c = split_aux(fname, res, has_aux)
        o_leaves, o_def = tree_flatten(res)
        pairs = [_out_tangent(x, level, b - a, dtype) for x in o_leaves]
        tangents = [t for _, t in pairs]
        head = None
        if first:
            out = [p if isinstance(p, Tracer) else np.asarray(p) for p, _ in pairs]
            head = (o_def, out, strip_tree(aux_c, _primal_at, level) if has_aux else None)
    finally:
        close_level(level)
    return head, tangents


def _jacfwd_task(f, args, argnums, has_aux, kwargs, a, b):
    """A worker's block of :func:`jacfwd` (module level, so that it pickles by name)."""
    return _forward_block(f, Args("jacfwd", args, argnums, kwargs), a, b, has_aux, "jacfwd",
                          a == 0)


def _forward_jacobian(f, spec, chunk, has_aux, fname, executor=None, progress=None):
    """Run the lane passes; returns ``(out_tree, jac_tree, aux)``."""
    itemsize = np.dtype(spec.dtype()).itemsize
    # the input lanes and a working set as large again: the outputs' lanes are the Jacobian
    chunks = _chunks(spec.n, 2 * itemsize * spec.n, chunk, fname, executor) if spec.n else [(0, 0)]
    if executor is not None:
        _plain_args(fname, spec.args)
        payload = (f, spec.args, spec.nums[0] if spec.single else spec.nums, has_aux,
                   spec.kwargs)
        results = parallel.run_blocks(executor, _jacfwd_task, payload, chunks, progress, fname)
    else:
        shown = parallel.Progress(progress, len(chunks), fname) if progress else None
        results = []
        for a, b in chunks:
            results.append(_forward_block(f, spec, a, b, has_aux, fname, not results))
            if shown is not None:
                shown.step()
    (o_def, out, aux), per_out = results[0][0], [[] for _ in results[0][1]]
    for _, tangents in results:
        for acc, t in zip(per_out, tangents):
            acc.append(t)
    jacs = []
    for acc, o in zip(per_out, out):
        rows = acc[0] if len(acc) == 1 else np.concatenate(acc, axis=0)
        if type(rows) is np.ndarray and not rows.flags.writeable:
            rows = rows.copy()  # (the read-only identity seed itself, or a view of it)
        jacs.append(spec.structure(_fwd_blocks(rows, spec, o.shape)))
    return tree_unflatten(o_def, out), tree_unflatten(o_def, jacs), aux


def _plain_args(fname, args):
    leaves, _ = tree_flatten(tuple(args))
    if any(isinstance(x, Tracer) for x in leaves):
        raise NotImplementedError(
            f"{fname}: executor= needs plain array arguments; it cannot run inside another "
            f"transform (its traced values cannot be sent to workers). Take the Jacobian on "
            f"workers outermost, or drop executor= here")


def jacfwd(f, argnums=0, chunk=None, has_aux=False, executor=None, progress=False,
           holomorphic=False):
    """Jacobian of ``f`` by forward mode: identity directions pushed as DualArray lanes.

    ``chunk`` bounds the lanes per pass; ``None`` means all at once unless the lanes would
    pass :data:`MEMORY_BUDGET` (256 MiB), then the fewest equal chunks that fit. The result has
    shape ``out.shape + x.shape`` for each output leaf and each differentiated argument leaf,
    arranged as the output pytree of the arguments' pytree (a tuple of them for a tuple
    ``argnums``).

    ``executor``: a :class:`concurrent.futures.Executor` (process or thread pool, or Dask's
    ``Client.get_executor()``) that computes the chunks on its workers, see
    :mod:`dualad.parallel`; the result is bitwise the serial one for the same ``chunk``. With an
    executor, ``chunk=None`` cuts two blocks per worker (:data:`~dualad.parallel.DEFAULT_BLOCKS`
    when the executor does not tell its worker count). ``f`` must be picklable for a process
    pool (defined at module level). ``progress``: ``True`` draws blocks done / total on stderr,
    a callable is called with ``(done, total)``.

    Complex numbers as in JAX: complex inputs need ``holomorphic=True`` (then ``f`` must be
    holomorphic, its outputs complex, and the result is the complex derivative); without it
    the inputs must be real (a complex output of real inputs is fine).
    """
    if executor is not None:
        parallel.check_executor(executor, "jacfwd")

    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        spec = Args("jacfwd", args, argnums, kwargs)
        check_complex_inputs("jacfwd", spec, holomorphic)
        out, jac, aux = _forward_jacobian(f, spec, chunk, has_aux, "jacfwd", executor, progress)
        if holomorphic:
            check_jacobian_outputs("jacfwd", tree_flatten(out)[0], True, False)
        return (jac, aux) if has_aux else jac
    return jac_fn


# ---------------------------------------------------------------------------------------------
# gradients: forward mode here, the reverse one is the tape's (reverse.grad)
# ---------------------------------------------------------------------------------------------

def grad(f, argnums=0, has_aux=False, mode="reverse", holomorphic=False):
    """Gradient of the scalar function ``f`` with respect to the arguments ``argnums``.

    Returns a function with ``f``'s signature returning the gradient, shaped like the argument
    (a tuple for a tuple ``argnums``); with ``has_aux=True`` it returns ``(grad, aux)``.
    ``mode`` is ``"reverse"`` (default, the tape: what :func:`reverse.grad` returns, the same
    function) or ``"forward"`` (DualArray lanes).

    Complex arguments follow JAX: for a real-valued ``f`` of complex ``z`` the gradient is
    ``∂f/∂x - i ∂f/∂y`` (``grad(lambda z: abs(z)**2)(z) == 2 * conj(z)``). A complex output
    raises ``TypeError`` unless ``holomorphic=True``: then ``f`` must be holomorphic in complex
    arguments and the result is its complex derivative ``f'(z)``.
    """
    check_mode("grad", mode)
    if mode == "reverse":
        return reverse.grad(f, argnums, has_aux, holomorphic)
    return grad_function(_forward_gradient, f, argnums, has_aux, holomorphic)


def value_and_grad(f, argnums=0, has_aux=False, mode="reverse", holomorphic=False):
    """Function returning ``(f(*args), gradient)``; with ``has_aux``, ``((value, aux), grad)``.

    ``f`` must return a scalar. ``mode="reverse"`` takes one sweep of the tape;
    ``mode="forward"`` pushes one lane per input entry through DualArrays. ``holomorphic`` as
    for :func:`grad`.
    """
    check_mode("value_and_grad", mode)
    gradient = rv_functional.gradient if mode == "reverse" else _forward_gradient
    return value_and_grad_function(gradient, f, argnums, has_aux, holomorphic)


def _forward_gradient(f, args, argnums, has_aux, holomorphic=False, kwargs=None):
    """``(value, gradient, aux)`` of the scalar ``f`` at ``args`` by forward mode: one lane per
    input entry (``kwargs`` passed through)."""
    spec = Args("grad", args, argnums, kwargs)
    check = output_check(spec, holomorphic)
    if not holomorphic and any(x.dtype.kind == "c" for x in spec.leaves):
        return _forward_complex_gradient(f, spec, has_aux, check)
    out, jac, aux = _forward_jacobian(f, spec, None, has_aux, "grad")
    check(out)
    return out, jac, aux


def _forward_complex_gradient(f, spec, has_aux, check):
    """JAX's gradient ∂f/∂x - i ∂f/∂y of a real ``f`` of complex leaves, by forward mode: the
    lanes along the real axes, then along the imaginary ones (``f`` at ``z0 + i (w - z0)``)."""
    base = list(spec.leaves)
    flat = Args("grad", tuple(base), tuple(range(len(base))))

    def along_real(*leaves):
        return spec.call(f, list(leaves))

    def along_imag(*leaves):
        return spec.call(f, [z0 + 1j * (w - z0) if z0.dtype.kind == "c" else w
                             for w, z0 in zip(leaves, base)])
    out, jx, aux = _forward_jacobian(along_real, flat, None, has_aux, "grad")
    check(out)
    _, jy, _ = _forward_jacobian(along_imag, flat, None, has_aux, "grad")
    grads = [gx - 1j * gy if z0.dtype.kind == "c" else gx for gx, gy, z0 in zip(jx, jy, base)]
    return out, spec.structure(grads), aux


# ---------------------------------------------------------------------------------------------
# reverse mode (the tape lives in the `reverse` package, below the transforms)
# ---------------------------------------------------------------------------------------------

def _rev_blocks(rows, spec, out_shape):
    """One Jacobian per input leaf from per-leaf cotangent rows ``(m, *leaf.shape)``."""
    return [np.reshape(r, tuple(out_shape) + tuple(leaf.shape))
            for r, leaf in zip(rows, spec.leaves)]


class _Outputs:
    """Sizes, offsets and shapes of f's output leaves: what cuts and lays out cotangent lanes."""

    def __init__(self, leaves, treedef):
        self.treedef = treedef
        self.shapes = [tuple(x.shape) for x in leaves]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.offsets = np.cumsum([0] + self.sizes)[:-1].tolist()
        self.m = sum(self.sizes)
        self.complex = any(x.dtype.kind == "c" for x in leaves)

    def cotangent_dtype(self, dtype):
        """The identity cotangents' dtype: the inputs' ``dtype``, real for real outputs (a
        complex input's rows are still gradients of real outputs, seeded by real ones)."""
        return dtype if self.complex else np.empty(0, dtype).real.dtype


def _reverse_block(vjp_fn, outs, dtype, a, b):
    """Cotangent lanes ``a:b`` swept through ``vjp_fn``: one ``(b - a, *leaf.shape)`` row block
    per differentiated leaf."""
    cots = _identity_lanes(a, b, outs.sizes, outs.offsets, outs.shapes,
                           outs.cotangent_dtype(dtype))
    if b - a == 1:  # one cotangent (a scalar f): the plain sweep, lane axis added after
        grads = vjp_fn(tree_unflatten(outs.treedef, [c[0] for c in cots]))
        return [g[None] if type(g) is np.ndarray else np.expand_dims(g, 0) for g in grads]
    return list(vjp_fn(tree_unflatten(outs.treedef, cots), lanes=True))


def _jacrev_task(f, args, argnums, has_aux, kwargs, outs, a, b):
    """A worker's block of :func:`jacrev`: its own tape of ``f``, swept for lanes ``a:b``."""
    spec = Args("jacrev", args, argnums, kwargs)
    res = rv_functional.vjp_now(lambda *leaves: spec.call(f, list(leaves)),
                                        *spec.leaves, has_aux=has_aux, name="jacrev")
    return _reverse_block(res[1], outs, spec.dtype(), a, b)


def jacrev(f, argnums=0, chunk=None, has_aux=False, executor=None, progress=False,
           holomorphic=False):
    """Jacobian of ``f`` by reverse mode: one tape, identity cotangents swept as lanes.

    ``chunk`` bounds the cotangent lanes per sweep (``None``: all at once within
    :data:`MEMORY_BUDGET`). Shapes and structure as :func:`jacfwd`.

    ``executor`` and ``progress`` as for :func:`jacfwd`. With an executor, ``f`` is evaluated
    once here (to learn its outputs) and each worker records its own tape of ``f`` and sweeps
    its block of output rows.

    Complex numbers as in JAX: without ``holomorphic=True`` the outputs must be real (complex
    inputs are fine: each row is then the gradient ``grad`` gives); with it, inputs and
    outputs must be complex and the result is the complex derivative of a holomorphic ``f``.
    """
    if executor is not None:
        parallel.check_executor(executor, "jacrev")

    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        spec = Args("jacrev", args, argnums, kwargs)
        if holomorphic:
            check_complex_inputs("jacrev", spec, True)
        dtype = spec.dtype()
        if executor is None:
            res = rv_functional.vjp_now(lambda *leaves: spec.call(f, list(leaves)),
                                                *spec.leaves, has_aux=has_aux, name="jacrev")
            out, vjp_fn, aux = res[0], res[1], (res[2] if has_aux else None)
        else:
            _plain_args("jacrev", args)
            out, aux = split_aux("jacrev", spec.call(f, spec.leaves), has_aux)
        o_leaves, o_def = tree_flatten(out)
        o_leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in o_leaves]
        outs = _Outputs(o_leaves, o_def)
        check_jacobian_outputs("jacrev", o_leaves, holomorphic, True)
        m = outs.m
        chunks = _chunks(m, 2 * np.dtype(dtype).itemsize * m, chunk, "jacrev", executor) \
            if m else []
        if executor is not None:
            payload = (f, args, spec.nums[0] if spec.single else spec.nums, has_aux,
                       spec.kwargs, outs)
            rows = parallel.run_blocks(executor, _jacrev_task, payload, chunks, progress,
                                       "jacrev", lane_word="output rows")
        else:
            shown = parallel.Progress(progress, len(chunks), "jacrev") if progress else None
            rows = []
            for a, b in chunks:
                rows.append(_reverse_block(vjp_fn, outs, dtype, a, b))
                if shown is not None:
                    shown.step()
        per_input = list(zip(*rows)) if rows else [[] for _ in spec.leaves]
        jacs = []
        for o, off, size in zip(o_leaves, outs.offsets, outs.sizes):
            per_leaf = []
            for acc, leaf in zip(per_input, spec.leaves):
                if not m:  # no output entries: no sweep ran, the Jacobian is empty
                    per_leaf.append(np.zeros((0,) + tuple(leaf.shape), dtype=dtype))
                    continue
                full = acc[0] if len(acc) == 1 else np.concatenate(acc, axis=0)
                per_leaf.append(full[off:off + size])
            jacs.append(spec.structure(_rev_blocks(per_leaf, spec, o.shape)))
        jac = tree_unflatten(o_def, jacs)
        return (jac, as_arrays(aux)) if has_aux else jac
    return jac_fn


# ---------------------------------------------------------------------------------------------
# choosing a mode, and second order
# ---------------------------------------------------------------------------------------------

def jacobian(f, argnums=0, mode="auto", holomorphic=False):
    """Jacobian of ``f`` in the mode asked for.

    ``mode``: ``"forward"`` (:func:`jacfwd`), ``"reverse"`` (:func:`jacrev`), ``"numeric"``
    (central differences, :mod:`dualad.numeric`), or ``"auto"``: forward when the
    differentiated inputs have at most as many entries as the output, reverse otherwise.
    ``holomorphic`` as for :func:`jacfwd` and :func:`jacrev` (complex inputs need it in
    forward mode: lanes along the real axis alone give ∂f/∂x); numeric mode is for real
    functions of real inputs.
    """
    check_mode("jacobian", mode, DERIVATIVE_MODES)
    if holomorphic and mode == "numeric":
        raise NotImplementedError("jacobian(mode='numeric') has no holomorphic=True: its central "
                                  "differences are for real functions of real inputs")
    # built once, not per call: the transform is what a user keeps and calls in a loop
    by_mode = {"forward": jacfwd(f, argnums, holomorphic=holomorphic),
               "reverse": jacrev(f, argnums, holomorphic=holomorphic),
               "numeric": lambda *args, **kw: _numeric_jacobian(f, args, argnums, kw)}

    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        chosen = mode
        if mode == "auto":
            # complex inputs of a function not declared holomorphic: only reverse mode has
            # their Jacobian (rows of gradients, for real outputs)
            chosen = "reverse" if not holomorphic and _any_complex(args, argnums) else \
                choose_mode(f, args, argnums, **kwargs)
        return by_mode[chosen](*args, **kwargs)
    return jac_fn


def _any_complex(args, argnums):
    return any(x.dtype.kind == "c" for x in Args("jacobian", args, argnums).leaves)


def choose_mode(f, args, argnums=0, **kwargs):
    """The mode ``jacobian(mode="auto")`` takes for ``f`` at ``args``: ``"forward"`` when the
    inputs are no more than the outputs (forward needs one lane per input, reverse one per
    output), else ``"reverse"``. Evaluates ``f`` once to learn the output size."""
    spec = Args("jacobian", args, argnums)
    out_leaves, _ = tree_flatten(f(*args, **kwargs))
    m = sum(int(np.prod(np.shape(x))) if not isinstance(x, Tracer) else x.size
            for x in out_leaves)
    return "forward" if spec.n <= m else "reverse"


def _numeric_jacobian(f, args, argnums, kwargs=None):
    spec = Args("jacobian", args, argnums, kwargs)
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


def hessian(f, argnums=0, holomorphic=False):
    """Hessian of the scalar ``f``, forward over reverse: the gradient's tape swept once with
    DualArray lanes flowing through it. Shape ``x.shape + x.shape``. Keyword arguments of the
    returned function are passed to ``f`` (not differentiated). ``holomorphic=True``: the
    complex second derivative of a holomorphic ``f`` of complex inputs (as in JAX, complex
    inputs need it)."""
    return jacfwd(grad(f, argnums, holomorphic=holomorphic), argnums, holomorphic=holomorphic)


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


def elementwise_grad(f, argnums=0):
    """The derivative of an elementwise ``f`` at every entry: the VJP with a cotangent of
    ones (HIPS autograd's ``elementwise_grad``), by one reverse sweep.

    For an elementwise ``f`` (each output entry depends only on the matching input entry) this
    is ``df/dx`` entry by entry; for any other ``f`` it is the gradient of ``sum(f(x))``, which
    is what the name promises only in the elementwise case. Shaped like the arguments.
    """
    @functools.wraps(f)
    def eg_fn(*args):
        spec = Args("elementwise_grad", args, argnums)
        out, vjp_fn = reverse.vjp(lambda *leaves: spec.call(f, list(leaves)), *spec.leaves)
        o_leaves, o_def = tree_flatten(out)
        for o in o_leaves:
            if not np.issubdtype(np.asarray(o).dtype, np.inexact):
                raise TypeError(f"elementwise_grad: f must return floating arrays, got dtype "
                                f"{np.asarray(o).dtype}")
        ones = tree_unflatten(o_def, [np.ones(np.shape(o), dtype=np.asarray(o).dtype)
                                      for o in o_leaves])
        return spec.structure(list(vjp_fn(ones)))
    return eg_fn
