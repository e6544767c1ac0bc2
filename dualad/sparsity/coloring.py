"""Coloring a Jacobian pattern so that one lane per color recovers every nonzero.

Column coloring (forward mode): columns that share a row get different colors, so the columns
of one color can be summed into one seed and each nonzero read back from its row. Row coloring
(reverse mode) is the column coloring of the transpose. For a symmetric Hessian,
:func:`star_coloring` returns a coloring from which :mod:`.evaluate` recovers ``H`` by symmetry.

* :func:`first_fit` is sequential greedy over an order (natural, largest-first, smallest-last),
  through SciPy's compiled column grouping: one color class at a time, O(colors · nnz), without
  forming the column intersection graph ``PᵀP``.
* :func:`greedy` is the same coloring vectorized over the CSR arrays of ``PᵀP``: each NumPy
  round colors every vertex whose earlier neighbors are all colored (a wavefront of the order),
  with the smallest color they leave free (the fallback without SciPy's routine).
* ``dsatur`` colors, per round, the uncolored vertices of highest saturation (number of
  distinct neighbor colors) that have no neighbor of higher priority (saturation, then degree,
  then lower index) among them: DSATUR run on an independent set at a time. It finds the
  optimal 5 colors of a 5-point stencil where the greedy orders take 6-7, at the price of a
  round per step of its front (about 5 per grid row).

The number of colors is at least the densest row of the pattern (its columns all conflict),
returned as ``lower_bound``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

try:  # SciPy's compiled first-fit column grouping (for approx_derivative); private, so optional
    from scipy.optimize._group_columns import group_sparse as _group_sparse
except ImportError:  # pragma: no cover - the vectorized wavefront below does the same
    _group_sparse = None

__all__ = ["Coloring", "column_coloring", "row_coloring", "star_coloring", "first_fit",
           "greedy", "conflict_graph", "is_valid_column_coloring", "ORDERS"]

ORDERS = ("auto", "natural", "largest_first", "smallest_last", "dsatur")


class Coloring(NamedTuple):
    """``colors[j]`` in ``range(num_colors)`` per column (or row); ``lower_bound`` is the size
    of the densest row (column) of the pattern, which no coloring can beat."""

    colors: np.ndarray
    num_colors: int
    lower_bound: int


def _pattern(p, name):
    if not sp.issparse(p):
        raise ValueError(f"{name}: the pattern must be a scipy.sparse array or matrix, got "
                         f"{type(p).__name__}")
    if p.ndim != 2:
        raise ValueError(f"{name}: the pattern must be 2-d, got shape {p.shape}")
    p = sp.csr_array(p, dtype=bool)
    p.sum_duplicates()
    p.eliminate_zeros()
    return p


def conflict_graph(p):
    """The column intersection graph of the boolean CSR ``p``: symmetric CSR ``(n, n)``,
    ``(j, k)`` set when columns ``j`` and ``k`` share a row (neighbor lists in no particular
    order). The diagonal is kept: every algorithm here ignores a vertex's own entry (it is
    uncolored while it is colored, and a uniform +1 on every degree changes no order), and
    removing it would cost as much as a third of the product."""
    return sp.csr_array(p.T) @ p  # (CSR times CSR: SciPy's product needs no conversion)


def _segments(indptr, vertices):
    """``(owner, position)`` of every neighbor slot of ``vertices`` in a CSR with ``indptr``:
    ``owner[k]`` indexes ``vertices``, ``position[k]`` the slot in the indices array."""
    starts = indptr[vertices]
    lens = indptr[vertices + 1] - starts
    owner = np.repeat(np.arange(len(vertices)), lens)
    offs = np.zeros(len(vertices) + 1, dtype=np.int64)
    np.cumsum(lens, out=offs[1:])
    position = np.arange(offs[-1], dtype=np.int64) - np.repeat(offs[:-1] - starts, lens)
    return owner, position


def _smallest_free(owner, neighbor_colors, count, width):
    """Per vertex ``0..count-1``, the smallest color not among its ``neighbor_colors``."""
    used = np.zeros((count, width + 1), dtype=bool)
    ok = neighbor_colors >= 0
    used[owner[ok], neighbor_colors[ok]] = True
    return np.argmin(used, axis=1)  # the first False (column ``width`` is always free)


def _order(c, order):
    n = c.shape[0]
    deg = np.diff(c.indptr)
    if order == "natural":
        return np.arange(n)
    if order == "largest_first":
        return np.argsort(-deg, kind="stable")
    if order == "smallest_last":
        return _smallest_last(c, deg)
    raise ValueError(f"order must be one of {', '.join(map(repr, ORDERS))}; got {order!r}")


def _smallest_last(c, deg):
    """Smallest-last order, peeling every vertex of minimum remaining degree at once (the
    batch variant: each peel removes a whole level, then the degrees are updated; a long
    chain peels from both ends, so takes a round per two vertices)."""
    n = c.shape[0]
    deg = deg.astype(np.int64).copy()
    alive = np.ones(n, dtype=bool)
    removed = []
    remaining = n
    while remaining:
        live = np.flatnonzero(alive)
        peel = live[deg[live] == deg[live].min()]
        removed.append(peel)
        alive[peel] = False
        remaining -= len(peel)
        owner, pos = _segments(c.indptr, peel)
        nbr = c.indices[pos]
        np.subtract.at(deg, nbr[alive[nbr]], 1)
    return np.concatenate(removed[::-1]) if removed else np.zeros(0, dtype=np.int64)


def first_fit(p, order):
    """The sequential greedy (first-fit) column coloring of the pattern ``p`` over the column
    ``order``, without forming ``PᵀP``: SciPy's compiled grouping builds one color class at a
    time (first-fit by classes picks exactly what first-fit by vertices does), in
    O(colors · nnz). Without it, :func:`greedy` on the conflict graph."""
    if _group_sparse is None:
        return greedy(conflict_graph(p), order)
    order = np.asarray(order)
    a = sp.csc_array(p[:, order])
    idx = a.indices.astype(np.int64)
    ptr = a.indptr.astype(np.int64)
    groups = np.asarray(_group_sparse(a.shape[0], a.shape[1], idx, ptr), dtype=np.int64)
    out = np.empty_like(groups)
    out[order] = groups
    return out


def greedy(c, order):
    """The sequential greedy coloring of the conflict graph ``c`` over the vertex ``order``
    (an array permutation), computed one wavefront of the order per round."""
    n = c.shape[0]
    rank = np.empty(n, dtype=np.int64)
    rank[np.asarray(order)] = np.arange(n)
    indptr, indices = c.indptr, c.indices
    src = np.repeat(np.arange(n), np.diff(indptr))
    earlier = rank[indices] < rank[src]  # edge slot points to an earlier vertex
    pending = np.bincount(src[earlier], minlength=n)
    colors = np.full(n, -1, dtype=np.int64)
    wave = np.flatnonzero(pending == 0)
    width = 1
    while len(wave):
        owner, pos = _segments(indptr, wave)
        nbr = indices[pos]
        got = _smallest_free(owner, colors[nbr], len(wave), width)
        colors[wave] = got
        width = max(width, int(got.max()) + 1)
        later = ~earlier[pos]
        succ = nbr[later]
        np.subtract.at(pending, succ, 1)
        wave = np.unique(succ[pending[succ] == 0])
    return colors


def _dsatur(c, tie_break=None):
    n = c.shape[0]
    indptr, indices = c.indptr, c.indices
    deg = np.diff(indptr).astype(np.int64)
    # neighbor colors seen, per vertex; more columns than colors so far, so that a row always
    # has a free one (grown as colors are added: no (n, max degree) table for a dense row)
    used = np.zeros((n, 8), dtype=bool)
    num_colors = 0
    sat = np.zeros(n, dtype=np.int64)
    colors = np.full(n, -1, dtype=np.int64)
    # ties: higher degree first, then the tie-break rank (a total order: choices are exact)
    rank = np.arange(n)[::-1] if tie_break is None else tie_break
    tie = deg * n + rank
    prio = np.full(n, -1, dtype=np.int64)  # tie of this round's candidates, -1 elsewhere
    front = np.zeros(0, dtype=np.int64)  # uncolored vertices with a colored neighbor
    in_front = np.zeros(n, dtype=bool)
    stamp = np.zeros(n, dtype=np.int64)
    left = n
    rounds = 0
    while left:
        rounds += 1
        pool = front if len(front) else np.flatnonzero(colors < 0)
        s = sat[pool]
        cand = pool[s == s.max()]
        prio[cand] = tie[cand]
        owner, pos = _segments(indptr, cand)
        nbr = indices[pos]
        beaten = np.zeros(len(cand), dtype=bool)
        beaten[owner[prio[nbr] > prio[cand][owner]]] = True
        prio[cand] = -1
        chosen = cand[~beaten]
        got = np.argmin(used[chosen], axis=1)
        colors[chosen] = got
        in_front[chosen] = False
        left -= len(chosen)
        num_colors = max(num_colors, int(got.max()) + 1)
        if num_colors >= used.shape[1]:
            used = np.concatenate([used, np.zeros_like(used)], axis=1)
        keep = ~beaten[owner]
        nb = nbr[keep]
        col = colors[cand[owner[keep]]]
        unc = colors[nb] < 0
        nb, col = nb[unc], col[unc]
        used[nb, col] = True
        # nb without repeats, by last-writer-wins stamps (no sort)
        k = np.arange(len(nb))
        stamp[nb] = k
        touched = nb[stamp[nb] == k]
        sat[touched] = used[touched].sum(axis=1)
        new = touched[~in_front[touched]]
        in_front[new] = True
        front = np.concatenate([front[colors[front] < 0], new])
    _dsatur.rounds = rounds
    return colors


def _colors(p, order, graph):
    if order == "natural":
        return first_fit(p, np.arange(p.shape[1]))
    if graph[0] is None:
        graph[0] = conflict_graph(p)
    if order == "dsatur":
        return _dsatur(graph[0])
    return first_fit(p, _order(graph[0], order))


def column_coloring(p, order="auto"):
    """Color the columns of the pattern ``p`` (boolean sparse ``(m, n)``) so that no two
    columns of a color share a row: the seeds of a forward-mode compressed Jacobian.

    ``order``: ``"natural"``, ``"largest_first"`` or ``"smallest_last"`` (first-fit greedy
    over that order), ``"dsatur"`` (fewest colors on stencils, slower), or ``"auto"``
    (default): the natural order (banded patterns reach the lower bound there), and DSATUR
    when that is above the lower bound, keeping the fewer colors. Returns a
    :class:`Coloring`.
    """
    p = _pattern(p, "column_coloring")
    if order not in ORDERS:
        raise ValueError(f"column_coloring: order must be one of "
                         f"{', '.join(map(repr, ORDERS))}; got {order!r}")
    lower = max(int(np.diff(p.indptr).max(initial=0)), 1)
    n = p.shape[1]
    if n == 0:
        return Coloring(np.zeros(0, dtype=np.int64), 0, 0)
    graph = [None]  # the conflict graph, built only for the orders that need it
    if order != "auto":
        colors = _colors(p, order, graph)
    else:
        colors = None
        for o in ("natural", "dsatur"):
            got = _colors(p, o, graph)
            if colors is None or got.max() < colors.max():
                colors = got
            if colors.max() + 1 <= lower:
                break
    return Coloring(colors, int(colors.max()) + 1, lower)


def row_coloring(p, order="auto"):
    """Color the rows of ``p`` so that no two rows of a color share a column: the cotangent
    seeds of a reverse-mode compressed Jacobian (the column coloring of ``p.T``)."""
    p = _pattern(p, "row_coloring")
    return column_coloring(sp.csr_array(p.T), order)


def star_coloring(h, order="auto"):
    """A coloring of the symmetric pattern ``h`` (with its diagonal) from which a Hessian is
    recovered by symmetry: every path on four vertices uses at least three colors.

    Computed as a distance-2 coloring (the column coloring of ``h`` with its diagonal), which
    is a star coloring; recovery (:func:`dualad.sparsity.evaluate`) reads ``H[i, j]`` from
    the lane of ``j``'s color at row ``i``, or by symmetry from ``i``'s color at row ``j``.
    """
    h = _pattern(h, "star_coloring")
    if h.shape[0] != h.shape[1]:
        raise ValueError(f"star_coloring: the pattern must be square, got shape {h.shape}")
    h = sp.csr_array(h + sp.eye_array(h.shape[0], dtype=bool) + h.T, dtype=bool)
    return column_coloring(h, order)


def is_valid_column_coloring(p, colors):
    """Whether no two columns of one color share a row of ``p`` (for tests and ``check``)."""
    p = _pattern(p, "is_valid_column_coloring")
    coo = p.tocoo()
    keys = coo.row.astype(np.int64) * (int(colors.max(initial=0)) + 1) + colors[coo.col]
    return len(np.unique(keys)) == len(keys)
