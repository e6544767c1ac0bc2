"""Compressed evaluation: one lanes pass with one lane per color, decompressed into CSR.

Forward: the columns of one color are summed into one tangent lane, so lane ``c`` of the output
tangent holds ``J[i, j]`` at row ``i`` for the one column ``j`` of color ``c`` that row ``i``
touches. Reverse: the same with rows, cotangent lanes and the existing ``vjp(lanes=True)``.
Hessian: Hessian-vector products (forward over the reverse gradient) with one lane per color
of a symmetric coloring, each entry read from the lane of its column's color, or by symmetry
from its row's. Memory is O(nnz + colors · (n + m)), never O(m · n).
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
from reverse import vjp

from .. import parallel
from ..pytree import tree_flatten, tree_unflatten
from ..front import MODES, Args as _Args, check_mode
from ..transforms import _chunks, grad, jvp
from . import coloring as col
from .detect import _bind, hessian_sparsity, jacobian_sparsity

__all__ = ["sparse_jacobian", "sparse_hessian"]

#: which side is colored and compressed: columns (forward), rows (reverse), or "auto", the side
#: with fewer colors
_SIDES = ("auto", *MODES)
#: columns the ``check=True`` option compares against a dense Jacobian block
CHECK_COLUMNS = 32


def _user_pattern(sparsity, fname):
    """A user's ``sparsity=`` as canonical boolean CSR (its shape is checked at the call)."""
    if not sp.issparse(sparsity):
        raise ValueError(f"{fname}: sparsity must be a scipy.sparse array or matrix of shape "
                         f"(m, n) (or None to detect it), got {type(sparsity).__name__}")
    if sparsity.ndim != 2:
        raise ValueError(f"{fname}: sparsity must be 2-d (m, n), got shape {sparsity.shape}")
    p = sp.csr_array(sparsity, dtype=bool)
    p.sum_duplicates()
    p.eliminate_zeros()
    p.sort_indices()
    return p


def _check_shape(fname, p, m, n):
    if p.shape != (m, n):
        raise ValueError(f"{fname}: sparsity has shape {p.shape}, but the Jacobian is (m, n) = "
                         f"({m}, {n}) over the flattened output and input")


def _leaf_blocks(flat, spec):
    """Split ``(k, n)`` lanes into one ``(k, *leaf.shape)`` array per differentiated leaf."""
    if len(spec.leaves) == 1:
        return [flat.reshape((flat.shape[0],) + spec.leaves[0].shape)]
    return [np.ascontiguousarray(flat[:, off:off + size]).reshape((flat.shape[0],) + leaf.shape)
            for size, off, leaf in zip(spec.sizes, spec.offsets, spec.leaves)]


def _seeds(colors, k, dtype):
    """``(k, len(colors))`` lanes: lane ``c`` is the indicator of the entries of color ``c``."""
    s = np.zeros((k, len(colors)), dtype=dtype)
    s[colors, np.arange(len(colors))] = 1
    return s


def _flat_lanes(leaves, k):
    if len(leaves) == 1:
        return np.reshape(np.asarray(leaves[0]), (k, -1))
    return np.concatenate([np.reshape(np.asarray(t), (k, -1)) for t in leaves], axis=1) \
        if leaves else np.zeros((k, 0))


def _csr_positions(pattern):
    """``(rows, cols)`` of the nonzeros of the canonical CSR ``pattern``, in its order."""
    rows = np.repeat(np.arange(pattern.shape[0], dtype=np.int64), np.diff(pattern.indptr))
    return rows, pattern.indices.astype(np.int64)


class _Compressed:
    """One side's coloring of a pattern, with what every call reuses: the seed lanes, and the
    position in the flattened compressed lanes of each nonzero (in CSR order)."""

    def __init__(self, pattern, coloring, side):
        self.coloring = coloring
        self.pattern = pattern
        rows, cols = _csr_positions(pattern)
        m, n = pattern.shape
        k = coloring.colors
        # forward lanes are (colors, m): J[i, j] is at lane color(j), row i; reverse lanes are
        # (colors, n): J[i, j] is at lane color(i), column j
        if side == "forward":
            self.gather = k[cols] * m + rows
        elif side == "reverse":
            self.gather = k[rows] * n + cols
        else:  # symmetric: Hessian-vector lanes (colors, n)
            # H[i, j] is at lane color(j), row i, when no other column of row i has that color;
            # otherwise (a star coloring allows it) by symmetry at lane color(i), row j
            key = rows * coloring.num_colors + k[cols]
            _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
            direct = counts[inverse] == 1
            self.gather = np.where(direct, k[cols] * n + rows, k[rows] * n + cols)
        self.width = m if side == "forward" else n  # entries per compressed lane
        self._seeds = {}
        self._by_lane = None

    def seeds(self, dtype):
        s = self._seeds.get(dtype)
        if s is None:
            c = self.coloring
            s = self._seeds[dtype] = _seeds(c.colors, c.num_colors, dtype)
            s.flags.writeable = False
        return s

    def assemble(self, lanes, dtype):
        """The CSR Jacobian from the compressed ``lanes`` (colors, m or n)."""
        return self._csr(np.ravel(lanes).take(self.gather).astype(dtype, copy=False))

    def assemble_chunks(self, pieces, dtype):
        """The CSR Jacobian from ``(a, b, lanes)`` pieces, the lanes of colors ``a:b`` each:
        every piece fills its nonzeros and is dropped, so that the whole compressed array never
        exists (memory: one chunk's lanes and the values)."""
        if self._by_lane is None:  # the nonzeros grouped by the lane they are read from
            lane = self.gather // self.width
            order = np.argsort(lane, kind="stable")
            bounds = np.searchsorted(lane[order], np.arange(self.coloring.num_colors + 1))
            self._by_lane = order, bounds
        order, bounds = self._by_lane
        values = np.empty(len(self.gather), dtype=dtype)
        for a, b, lanes in pieces:
            which = order[bounds[a]:bounds[b]]
            values[which] = np.ravel(lanes).take(self.gather[which] - a * self.width)
        return self._csr(values)

    def _csr(self, values):
        p = self.pattern
        # the structure is copied: in-place methods of the result (eliminate_zeros...) must not
        # reach the pattern that later calls reuse
        return sp.csr_array((values, p.indices.copy(), p.indptr.copy()), shape=p.shape,
                            copy=False)


class _Plan:
    """A pattern with its colorings, computed once per pattern and reused on every call."""

    def __init__(self, pattern, mode, order):
        self.pattern = pattern
        fwd = rev = None
        if mode in ("auto", "forward"):
            fwd = col.column_coloring(pattern, order)
        # a row coloring needs at least as many colors as the densest column: when the column
        # coloring is within that, reverse mode cannot do better and is not colored at all
        densest_col = int(np.bincount(pattern.indices, minlength=pattern.shape[1]).max(
            initial=0)) if pattern.nnz else 0
        if mode == "reverse" or mode == "auto" and fwd.num_colors > max(densest_col, 1):
            rev = col.row_coloring(pattern, order)
        if mode == "auto":
            mode = "forward" if rev is None or fwd.num_colors <= rev.num_colors else "reverse"
        self.mode = mode
        self.fwd, self.rev = fwd, rev
        self.coloring = fwd if mode == "forward" else rev
        self.side = _Compressed(pattern, self.coloring, mode)


def _fun_of_leaves(f, spec):
    return lambda *leaves: spec.call(f, list(leaves))


def _lane_chunks(k, width, chunk, fname):
    """Color lanes per pass: ``chunk``, or all at once within :data:`MEMORY_BUDGET`."""
    return _chunks(k, 2 * np.dtype(np.float64).itemsize * width, chunk, fname)


def _forward_lanes(f, args, argnums, seeds):
    """``(f(*args), compressed lanes (k, m))`` for the seed lanes ``seeds`` (k, n): one forward
    pass. Module-level, so that an executor's worker process can run it."""
    spec = _Args("sparse_jacobian", args, argnums)
    lanes = _leaf_blocks(seeds, spec)
    out, out_t = jvp(_fun_of_leaves(f, spec), tuple(spec.leaves), tuple(lanes), lanes=True)
    return out, _flat_lanes(tree_flatten(out_t)[0], seeds.shape[0])


def _forward(f, spec, argnums, plan, dtype, chunk, executor, progress=False):
    side = plan.side
    k = side.coloring.num_colors
    seeds = side.seeds(dtype)
    if k == 0:  # no input entries: f still gives the output
        out = spec.call(f, list(spec.leaves))
        return out, side.assemble(np.zeros((0, plan.pattern.shape[0]), dtype=dtype), dtype)
    width = max(spec.n, plan.pattern.shape[0])
    chunks = _lane_chunks(k, width, 1 if executor is not None and chunk is None else chunk,
                          "sparse_jacobian")
    outs = []  # f's value, from each pass

    def lanes_of(result):
        outs.append(result[0])
        return result[1]
    run = lambda a, b: lanes_of(_forward_lanes(f, spec.args, argnums, seeds[a:b]))
    spread = None if executor is None else (
        lambda: parallel.run_blocks(executor, _forward_block, (f, spec.args, argnums), chunks,
                                    progress, "sparse_jacobian", lane_word="colors",
                                    extra=lambda a, b: (seeds[a:b].copy(),)))
    jac = _assemble(side, chunks, _pieces(chunks, run, spread, lanes_of), dtype)
    return outs[0], jac


def _forward_block(f, args, argnums, seeds, a, b):
    """A worker's chunk of colors ``a:b`` (its seed lanes ``seeds``), for parallel.run_blocks."""
    return _forward_lanes(f, args, argnums, seeds)


def _pieces(chunks, run, spread, unpack=lambda r: r):
    """``(a, b, lanes)`` per chunk of colors ``a:b``: from ``run(a, b)`` one after the other, or
    all at once from the workers (``spread()``, each result through ``unpack``)."""
    if spread is None:
        return ((a, b, run(a, b)) for a, b in chunks)
    return ((a, b, unpack(r)) for (a, b), r in zip(chunks, spread()))


def _assemble(side, chunks, pieces, dtype):
    if len(chunks) == 1:
        return side.assemble(next(iter(pieces))[2], dtype)
    return side.assemble_chunks(pieces, dtype)


def _cotangent_leaves(cots, out_leaves, o_def):
    sizes = [int(np.size(o)) for o in out_leaves]
    cut = np.cumsum([0] + sizes)
    k = cots.shape[0]
    return tree_unflatten(o_def, [cots[:, lo:hi].reshape((k,) + np.shape(o))
                                  for lo, hi, o in zip(cut[:-1], cut[1:], out_leaves)])


def _reverse_worker(f, args, argnums, cots):
    """Compressed lanes (k, n) for the cotangent lanes ``cots``, with a tape recorded here:
    what an executor's worker runs (the tape itself does not cross processes)."""
    spec = _Args("sparse_jacobian", args, argnums)
    out, vjp_fn = vjp(_fun_of_leaves(f, spec), *spec.leaves)
    out_leaves, o_def = tree_flatten(out)
    grads = vjp_fn(_cotangent_leaves(cots, out_leaves, o_def), lanes=True)
    return _flat_lanes(tree_flatten(grads)[0], cots.shape[0])


def _reverse_pass(f, spec, argnums, plan, out_leaves, o_def, vjp_fn, dtype, chunk, executor,
                  progress=False):
    side = plan.side
    k = side.coloring.num_colors
    cots = side.seeds(dtype)
    if k == 0:
        return side.assemble(np.zeros((0, spec.n), dtype=dtype), dtype)
    width = max(spec.n, plan.pattern.shape[0])
    chunks = _lane_chunks(k, width, 1 if executor is not None and chunk is None else chunk,
                          "sparse_jacobian")
    def run(a, b):
        grads = vjp_fn(_cotangent_leaves(cots[a:b], out_leaves, o_def), lanes=True)
        return _flat_lanes(tree_flatten(grads)[0], b - a)
    spread = None if executor is None else (
        lambda: parallel.run_blocks(executor, _reverse_block, (f, spec.args, argnums), chunks,
                                    progress, "sparse_jacobian", lane_word="colors",
                                    extra=lambda a, b: (cots[a:b].copy(),)))
    return _assemble(side, chunks, _pieces(chunks, run, spread), dtype)


def _reverse_block(f, args, argnums, cots, a, b):
    """A worker's chunk of colors ``a:b`` (its cotangent lanes ``cots``)."""
    return _reverse_worker(f, args, argnums, cots)


def _check(fname, f, spec, jac, dtype):
    """Compare ``jac`` with forward lanes: a dense block of identity columns spread over the
    input, and one random direction (which sees a wrong entry anywhere in the matrix)."""
    n = spec.n
    cols = np.unique(np.linspace(0, n - 1, min(n, CHECK_COLUMNS)).astype(np.int64))
    k = len(cols)
    s = np.zeros((k + 1, n), dtype=dtype)
    s[np.arange(k), cols] = 1
    s[k] = np.random.default_rng(0).standard_normal(n)
    _, out_t = jvp(_fun_of_leaves(f, spec), tuple(spec.leaves), tuple(_leaf_blocks(s, spec)),
                   lanes=True)
    dense = _flat_lanes(tree_flatten(out_t)[0], k + 1).T  # (m, k + 1)
    got = np.concatenate([jac[:, cols].toarray(), (jac @ s[k])[:, None]], axis=1)
    scale = max(float(np.max(np.abs(dense), initial=0.0)), 1.0)
    bad = np.abs(got - dense) > 1e-9 * scale
    if bad.any():
        i, j = np.argwhere(bad)[0]
        where = f"column {cols[j]}" if j < k else "a random direction"
        raise ValueError(f"{fname}: check=True found the result wrong (a nonzero missing from "
                         f"sparsity=?): row {i} along {where} is {float(dense[i, j])!r} by forward "
                         f"mode but {float(got[i, j])!r} from the compressed Jacobian")


def sparse_jacobian(f, argnums=0, sparsity=None, mode="auto", check=False, order="auto",
                    chunk=None, executor=None, progress=False):
    """The Jacobian of ``f`` as a ``scipy.sparse.csr_array`` ``(m, n)``, by compressed lanes.

    Shapes as :func:`jacobian_sparsity`: rows are the flattened (row-major, concatenated)
    output leaves, columns the flattened differentiated argument leaves. The pattern is
    colored and one lanes pass with one lane per color computes every nonzero: forward-mode
    tangent lanes for a column coloring, reverse-mode cotangent lanes for a row coloring;
    ``mode="auto"`` takes the side with fewer colors. The result has the pattern's structure
    (entries the pattern allows but that are zero at this point are stored as zeros). A
    non-finite entry (a NaN derivative) spreads to the entries that share its lane.

    ``sparsity``: a boolean scipy.sparse pattern ``(m, n)`` (from :func:`jacobian_sparsity`
    or known); it and its coloring are computed once and reused on every call. ``None``
    detects the pattern at each call. A pattern of the wrong type or shape raises
    ``ValueError``. ``check=True`` compares the result with one dense column block computed by
    forward lanes (up to ``CHECK_COLUMNS`` columns spread over the input, and one random
    direction that sees a wrong entry anywhere) and raises ``ValueError`` when they differ: a
    user pattern missing a nonzero. ``order`` is the coloring order
    (:func:`dualad.sparsity.coloring.column_coloring`). ``chunk`` bounds the color lanes per
    pass (less memory, more passes), as in :func:`dualad.jacfwd`; ``None`` is all at once
    within :data:`dualad.MEMORY_BUDGET`. ``executor``: a ``concurrent.futures.Executor`` that
    computes the chunks of lanes on its workers (one color per chunk unless ``chunk`` says
    otherwise); ``f`` must then be picklable. The result is identical to the serial one, and
    the payload, errors and ``progress`` behave as for :func:`dualad.jacfwd`'s executor
    (:mod:`dualad.parallel`).
    """
    fname = "sparse_jacobian"
    if executor is not None:
        parallel.check_executor(executor, fname)
    if chunk is not None:
        _chunks(1, 0, chunk, fname)  # a bad chunk raises now, not at the first call
    check_mode(fname, mode, _SIDES)
    if order not in col.ORDERS:
        raise ValueError(f"{fname}: order must be one of {', '.join(map(repr, col.ORDERS))}; "
                         f"got {order!r}")
    given = None if sparsity is None else _user_pattern(sparsity, fname)
    cache = {}

    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        return _jacobian(_bind(f, kwargs), args)

    def _jacobian(f, args):
        spec = _Args(fname, args, argnums)
        dtype = spec.dtype()
        if given is None:
            plan = _Plan(jacobian_sparsity(f, argnums)(*args), mode, order)
        else:
            if given.shape[1] != spec.n:  # (the rows are checked once f has run)
                _check_shape(fname, given, given.shape[0], spec.n)
            if "plan" not in cache:
                cache["plan"] = _Plan(given, mode, order)
            plan = cache["plan"]
        if plan.mode == "forward":
            out, jac = _forward(f, spec, argnums, plan, dtype, chunk, executor, progress)
            out_leaves, _ = tree_flatten(out)
            m = sum(int(np.size(o)) for o in out_leaves)
        else:
            out, vjp_fn = vjp(_fun_of_leaves(f, spec), *spec.leaves)
            out_leaves, o_def = tree_flatten(out)
            m = sum(int(np.size(o)) for o in out_leaves)
            _check_shape(fname, plan.pattern, m, spec.n)  # before seeding m cotangents
            jac = _reverse_pass(f, spec, argnums, plan, out_leaves, o_def, vjp_fn, dtype, chunk,
                                executor, progress)
        _check_shape(fname, plan.pattern, m, spec.n)
        if check:
            _check(fname, f, spec, jac, dtype)
        return jac
    return jac_fn


def _hessian_plan(pattern, order):
    return _Compressed(pattern, col.star_coloring(pattern, order), "symmetric")


def sparse_hessian(f, argnums=0, sparsity=None, order="auto"):
    """The Hessian of the scalar ``f`` as a symmetric ``scipy.sparse.csr_array`` ``(n, n)``
    over the flattened differentiated arguments, by compressed Hessian-vector products.

    The pattern (:func:`hessian_sparsity`, or ``sparsity=`` given as a symmetric boolean
    scipy.sparse ``(n, n)``, computed once and reused) gets a symmetric coloring; one pass of
    forward-over-reverse lanes, one lane per color, gives every entry.
    """
    fname = "sparse_hessian"
    given = None if sparsity is None else _user_pattern(sparsity, fname)
    cache = {}

    @functools.wraps(f)
    def hess_fn(*args, **kwargs):
        return _hessian(_bind(f, kwargs), args)

    def _hessian(f, args):
        spec = _Args(fname, args, argnums)
        n = spec.n
        dtype = spec.dtype()
        if given is None:
            plan = _hessian_plan(hessian_sparsity(f, argnums)(*args), order)
        else:
            _check_shape(fname, given, n, n)
            if "plan" not in cache:
                cache["plan"] = _hessian_plan(given, order)
            plan = cache["plan"]
        k = plan.coloring.num_colors
        lanes = _leaf_blocks(plan.seeds(dtype), spec)
        g = grad(_fun_of_leaves(f, spec), argnums=tuple(range(len(spec.leaves))))
        _, hv = jvp(g, tuple(spec.leaves), tuple(lanes), lanes=True)
        return plan.assemble(_flat_lanes(tree_flatten(hv)[0], k), dtype)  # lanes: H @ seeds
    return hess_fn
