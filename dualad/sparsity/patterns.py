"""Index-set arithmetic on CSR patterns: the payload of the sparsity tracer.

A *pattern* is a boolean ``scipy.sparse.csr_array`` of shape ``(entries, n)``: row ``e`` is the
set of input indices that array entry ``e`` (row-major order) depends on. Every operation here
costs O(nnz of its operands and result), never O(entries · n).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["seed", "empty", "take_rows", "union", "apply", "dense_rows", "columns"]


def _csr(indices, indptr, rows, n):
    data = np.ones(len(indices), dtype=bool)
    return sp.csr_array((data, indices, indptr), shape=(rows, n))


def seed(size, offset, n):
    """Rows ``e -> {offset + e}``: the pattern of an input leaf of ``size`` entries."""
    return _csr(np.arange(offset, offset + size, dtype=np.int64),
                np.arange(size + 1, dtype=np.int64), size, n)


def empty(rows, n):
    """``rows`` empty sets (the pattern of a constant)."""
    return _csr(np.zeros(0, dtype=np.int64), np.zeros(rows + 1, dtype=np.int64), rows, n)


def take_rows(p, rows):
    """The pattern whose row ``k`` is ``p``'s row ``rows[k]``; ``rows[k] == -1`` is the empty set.

    Vectorized gather of CSR segments: each output nonzero's source position is its offset in
    the output row plus the start of its source row.
    """
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if len(rows) and rows.min() >= 0:  # no filled-in rows: SciPy's compiled row gather
        return p[rows]
    indptr = p.indptr
    lens = np.diff(indptr)
    valid = rows >= 0
    r = np.where(valid, rows, 0)
    out_lens = np.where(valid, lens[r], 0)
    out_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(out_lens, out=out_ptr[1:])
    total = int(out_ptr[-1])
    src = np.arange(total, dtype=np.int64) - np.repeat(out_ptr[:-1] - indptr[r], out_lens)
    return _csr(p.indices[src], out_ptr, len(rows), p.shape[1])


def union(patterns):
    """Row-wise union of same-shaped patterns (``None`` entries are skipped)."""
    out = None
    for p in patterns:
        if p is None:
            continue
        out = p if out is None else out + p
    return out


def apply(s, p):
    """``s @ p`` for a boolean ``(out_entries, entries)`` structure matrix ``s``: output entry
    ``o`` depends on the union of the sets of the entries ``s`` links it to."""
    out = s @ p
    if not isinstance(out, sp.csr_array):
        out = sp.csr_array(out)
    return out


def columns(patterns):
    """The union of every set in ``patterns`` (sorted input indices)."""
    cols = [p.indices for p in patterns if p is not None and p.nnz]
    if not cols:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(cols))


def dense_rows(rows, cols, n):
    """``rows`` copies of the set ``cols``: the conservative pattern of an op without a rule."""
    k = len(cols)
    indptr = np.arange(rows + 1, dtype=np.int64) * k
    return _csr(np.tile(cols, rows), indptr, rows, n)


def structure(rows, cols, shape):
    """A boolean structure matrix with ones at ``(rows[k], cols[k])`` (duplicates merged)."""
    s = sp.csr_array((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)
    s.sum_duplicates()
    return s
