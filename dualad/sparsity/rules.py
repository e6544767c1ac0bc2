"""Sparsity rules: how each kind of primitive maps its operands' index sets to its output's.

A rule is ``rule(ans, primals, patterns, kwargs, n) -> pattern`` where ``patterns`` is aligned
with ``primals`` (``None`` for a constant) and a pattern is a boolean CSR ``(entries, n)``
(see :mod:`.patterns`). The kind comes from the primitive itself:

* elementwise entries (``Primitive.derivs``): union of the broadcast operands' sets, skipping
  operands whose partial is ``ZERO``;
* layout-preserving ops (reshape, a float cast): the operand's pattern unchanged;
* movement ops (transpose, broadcast_to, indexing, pad, concatenate): the op applied to an array
  of entry ids tells which entry each output entry copies;
* index_add, reductions and cumulative ops: a structure matrix applied to the operand's sets;
* matmul of 1-d/2-d operands and conv2d: structural, using a constant operand's nonzeros
  (conv2d's stencil from im2col applied to entry ids).

:func:`rule_for` returns ``None`` for a primitive without a rule; the tracer then falls back
to "every output entry depends on every input set of the op" (correct, conservative); so
does a rule returning ``NotImplemented`` for a case it does not cover.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..ops import ZERO, shape as shape_ops
from ..ops import conv, products, reductions
from . import patterns as pat

__all__ = ["rule_for"]


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _shape(x):
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def _broadcast_rows(shape, out_shape):
    """For each entry of ``out_shape``, the entry of a ``shape`` operand broadcast onto it."""
    ids = np.arange(_size(shape), dtype=np.int64).reshape(shape)
    return np.broadcast_to(ids, out_shape).ravel()


# ---------------------------------------------------------------------------------------------
# elementwise
# ---------------------------------------------------------------------------------------------

def _elementwise(prim):
    derivs = prim.derivs

    def rule(ans, primals, patterns, kwargs, n):
        out_shape = _shape(ans)
        parts = []
        for i, (x, p) in enumerate(zip(primals, patterns)):
            if p is None or (i < len(derivs) and derivs[i] is ZERO):
                continue
            xs = _shape(x)
            parts.append(p if xs == out_shape else pat.take_rows(p, _broadcast_rows(xs, out_shape)))
        return pat.union(parts) if parts else pat.empty(_size(out_shape), n)
    return rule


# ---------------------------------------------------------------------------------------------
# layout and movement
# ---------------------------------------------------------------------------------------------

def _same(ans, primals, patterns, kwargs, n):
    # row-major order of entries is kept (reshape, a float cast): the sets are unchanged
    return patterns[0]


def _probe(impl, impl_kwargs=None):
    """A movement op: run it on entry ids (``id + 1``; 0 is a filled-in constant)."""
    def rule(ans, primals, patterns, kwargs, n):
        ids, stacked, offset = [], [], 0
        for x, p in zip(primals, patterns):
            size = _size(_shape(x))
            if p is None:
                ids.append(np.zeros(_shape(x), dtype=np.int64))
                continue
            ids.append(np.arange(offset + 1, offset + size + 1, dtype=np.int64)
                       .reshape(_shape(x)))
            stacked.append(p)
            offset += size
        kw = dict(kwargs)
        if impl_kwargs:
            kw.update(impl_kwargs)
        out = np.asarray(impl(*ids, **kw))
        source = stacked[0] if len(stacked) == 1 else sp.vstack(stacked, format="csr")
        return pat.take_rows(source, out.ravel() - 1)
    return rule


def _index_add(ans, primals, patterns, kwargs, n):
    g = primals[0]
    idx, shape = kwargs["idx"], kwargs["shape"]
    target = np.arange(_size(shape), dtype=np.int64).reshape(shape)[idx]
    gs = _size(_shape(g))
    # g broadcasts onto the indexed positions as in ``z[idx] += g``: pair them entry by entry
    source = _broadcast_rows(_shape(g), target.shape)
    s = pat.structure(target.ravel(), source, (_size(shape), gs))
    return pat.apply(s, patterns[0])


# ---------------------------------------------------------------------------------------------
# reductions and cumulative ops
# ---------------------------------------------------------------------------------------------

def _reduction(ans, primals, patterns, kwargs, n):
    xs = _shape(primals[0])
    axes = kwargs["axis"]
    kept = tuple(1 if a in axes else d for a, d in enumerate(xs))
    out_size = _size(kept)
    group = np.broadcast_to(np.arange(out_size, dtype=np.int64).reshape(kept), xs).ravel()
    s = pat.structure(group, np.arange(len(group), dtype=np.int64), (out_size, len(group)))
    return pat.apply(s, patterns[0])


def _cumulative(ans, primals, patterns, kwargs, n):
    xs = _shape(primals[0])
    axis = kwargs["axis"]
    ids = np.moveaxis(np.arange(_size(xs), dtype=np.int64).reshape(xs), axis, -1)
    length = xs[axis]
    lines = ids.reshape(-1, length)
    later, earlier = np.tril_indices(length)  # output position p takes inputs q <= p
    rows = lines[:, later].ravel()
    cols = lines[:, earlier].ravel()
    return pat.apply(pat.structure(rows, cols, (_size(xs), _size(xs))), patterns[0])


# ---------------------------------------------------------------------------------------------
# products
# ---------------------------------------------------------------------------------------------

def _weights(x, p):
    """Structural nonzeros of a matmul operand: a constant's own, all ones for a traced one."""
    if p is None:
        return sp.csr_array(np.asarray(_plain(x)) != 0)
    return sp.csr_array(np.ones(_shape(x), dtype=bool))


def _matmul(ans, primals, patterns, kwargs, n):
    a, b = primals
    sa, sb = _shape(a), _shape(b)
    if len(sa) > 2 or len(sb) > 2:
        return NotImplemented  # batched: the generic fallback
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    (i, j), k = a2, b2[1]
    pa, pb = patterns
    parts = []
    if pb is not None:  # out[i, k] <- b[j, k] wherever a[i, j] is (structurally) nonzero
        wa = _weights(a, pa).reshape(a2)
        parts.append(pat.apply(sp.kron(wa, sp.eye_array(k, dtype=bool), format="csr"), pb))
    if pa is not None:  # out[i, k] <- a[i, j] wherever b[j, k] is nonzero
        wb = _weights(b, pb).reshape(b2)
        parts.append(pat.apply(sp.kron(sp.eye_array(i, dtype=bool), wb.T, format="csr"), pa))
    return pat.union(parts)


def _conv2d(ans, primals, patterns, kwargs, n):
    """conv2d's stencil: im2col applied to entry ids says which input entry each tap of each
    output position reads (0: padding); output (n, o, p, q) takes the taps where w[o] is
    (structurally) nonzero, and from a traced w every w[o] entry whose tap reads the input."""
    x, w = primals
    px, pw = patterns
    g = conv._geometry("conv", _shape(x), _shape(w), kwargs["stride"], kwargs["padding"],
                       kwargs["dilation"], None)
    ids = np.arange(1, _size(_shape(x)) + 1, dtype=np.int64).reshape(_shape(x))
    taps = conv._patches(conv._pad(ids, g), g)            # (c·kh·kw, n·ho·wo), ids + 1
    out_ids = np.arange(_size(_shape(ans)), dtype=np.int64).reshape(_shape(ans))
    out_rows = np.ascontiguousarray(out_ids.transpose(1, 0, 2, 3)).reshape(g.o, -1)
    out_size, parts = _size(_shape(ans)), []
    if px is not None:
        wz = (np.asarray(_plain(w)) != 0 if pw is None else np.ones(_shape(w), dtype=bool))
        wz = wz.reshape(g.o, -1)                           # (o, c·kh·kw)
        o_idx, r_idx = np.nonzero(wz)
        rows, cols = out_rows[o_idx].ravel(), taps[r_idx].ravel() - 1
        keep = cols >= 0
        s = pat.structure(rows[keep], cols[keep], (out_size, _size(_shape(x))))
        parts.append(pat.apply(s, px))
    if pw is not None:
        reads = taps > 0
        if px is None:  # a constant input's zeros read nothing
            flat = np.asarray(_plain(x)).ravel()
            reads &= np.concatenate([[False], flat != 0])[taps]
        r_idx, col_idx = np.nonzero(reads)                # tap r at output column (n, p, q)
        o = np.arange(g.o, dtype=np.int64)[:, None]
        rows = out_rows[:, col_idx]                        # (o, pairs)
        cols = o * taps.shape[0] + r_idx[None, :]
        s = pat.structure(rows.ravel(), cols.ravel(), (out_size, _size(_shape(w))))
        parts.append(pat.apply(s, pw))
    return pat.union(parts)


def _plain(x):
    return x._plain_value() if hasattr(x, "_plain_value") else x


# ---------------------------------------------------------------------------------------------
# the table of non-elementwise rules, keyed by primitive
# ---------------------------------------------------------------------------------------------

_RULES = {
    shape_ops.reshape_p: _same,
    shape_ops.cast_p: _same,
    shape_ops.index_add_p: _index_add,
    reductions.sum_p: _reduction,
    reductions.max_p: _reduction,
    reductions.min_p: _reduction,
    reductions.prod_p: _reduction,
    reductions.cumsum_p: _cumulative,
    reductions.cumprod_p: _cumulative,
    products.matmul_p: _matmul,
    conv.conv2d_p: _conv2d,
}

for _prim, _extra in ((shape_ops.transpose_p, None), (shape_ops.broadcast_to_p, None),
                      (shape_ops.getitem_p, None), (shape_ops.concatenate_p, None),
                      (shape_ops.pad_p, {"constant_values": 0})):
    _RULES[_prim] = _probe(_prim.impl, _extra)

_ELEMENTWISE: dict = {}


def rule_for(prim):
    """The sparsity rule of ``prim``, or ``None`` when it has none (the caller falls back)."""
    rule = _RULES.get(prim)
    if rule is not None:
        return rule
    if prim.derivs is not None:
        rule = _ELEMENTWISE.get(prim)
        if rule is None:
            rule = _ELEMENTWISE[prim] = _elementwise(prim)
        return rule
    return None
