"""Fused layer entries: an affine map (``linear``) and softmax cross-entropy with its reduction.

Both can be composed from other entries (``x @ w.T + b`` is transpose, matmul and add;
cross-entropy is log-softmax, a gather, a sum and a scaling), but a network applies them on
every step and on small arrays each recorded op costs more in bookkeeping than in arithmetic.
One entry each makes a dense layer one tape record and a classification loss another, and lets
their rules call BLAS exactly as hand-written backpropagation would.

``linear(x, w, b=None)`` follows PyTorch's ``F.linear``: ``x`` is ``(..., in)``, ``w``
``(out, in)``, ``b`` ``(out,)``, and the result ``(..., out)``. The leading axes of ``x`` (and
the lane axis of tangents and cotangents) are folded into the rows of one GEMM.

``softmax_cross_entropy(logits, labels, reduction)`` takes ``(N, C)`` logits and ``(N,)``
integer labels; it is max-subtracted, so finite for any finite logits. Its VJP needs the
softmax the implementation computed on the way to the loss: the entry's ``fwd`` returns the
exponentials and their row sums as declared residuals, which the tape keeps with the record
and hands to the rule (``residuals=``); called without them (forward mode, a second-order
sweep, tracers) the rules recompute the softmax.

The rules use array methods (``.reshape``, ``.sum``, ``.swapaxes``, ``@``) that plain arrays
and tracers both have, so they differentiate again when nested; plain ndarrays take shortcuts
that skip NumPy's Python-level dispatch.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .core import Primitive, Tracer, shape_of
from .special import softmax as _softmax

__all__ = ["linear", "softmax_cross_entropy", "linear_p", "softmax_cross_entropy_p"]

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray
_generic = np.generic
_intp = np.intp

REDUCTIONS = ("mean", "sum", "none")

# reductions as ufunc methods: ndarray.sum/.max go through a Python-level wrapper first
_add = np.add.reduce


# ---------------------------------------------------------------------------------------------
# linear: y = x wᵀ + b
# ---------------------------------------------------------------------------------------------

def _linear_shape_error(xs, ws, bs):
    """The ``ValueError`` for arguments of shapes ``xs``, ``ws`` (and ``bs``) that do not fit."""
    if len(ws) != 2:
        return ValueError(f"linear: the weight must be 2-d (out_features, in_features), got "
                          f"shape {ws}")
    if len(xs) == 0 or xs[-1] != ws[1]:
        return ValueError(f"linear: the input's last axis must have in_features = {ws[1]} "
                          f"entries for a weight of shape {ws}, got an input of shape {xs}")
    return ValueError(f"linear: the bias must have shape ({ws[0]},) for a weight of shape "
                      f"{ws}, got {bs}")


def _linear_impl(x, w, b=None):
    if type(x) is not _ndarray or type(w) is not _ndarray or (
            b is not None and type(b) is not _ndarray):
        if isinstance(x, Tracer) or isinstance(w, Tracer) or isinstance(b, Tracer):
            # a lower-level tracer: let its own level process the op
            return linear_p.bind(x, w) if b is None else linear_p.bind(x, w, b)
        x, w = np.asarray(x), np.asarray(w)
        b = None if b is None else np.asarray(b)
    xs, ws = x.shape, w.shape
    if len(ws) != 2 or xs[-1:] != ws[1:] or (b is not None and b.shape != ws[:1]):
        raise _linear_shape_error(xs, ws, None if b is None else b.shape)
    if len(xs) <= 2:
        y = x @ w.T
    else:  # one GEMM over all leading axes, rather than matmul's loop over them
        y = (x.reshape(math.prod(xs[:-1]), xs[-1]) @ w.T).reshape(xs[:-1] + ws[:1])
    if b is not None:
        if y.dtype == b.dtype:
            y += b  # y is fresh: adding in place saves an allocation of the output's size
        else:
            y = y + b
    return y


def _linear_jvp(tangents, ans, x, w, b=None):
    """``ẋ wᵀ + x ẇᵀ + ḃ``, each term one GEMM over lanes and rows."""
    tx, tw = tangents[0], tangents[1]
    tb = tangents[2] if len(tangents) > 2 else None
    ys = tuple(ans.shape)
    out = None
    if tx is not None:
        k = tx.shape[0]
        out = (tx.reshape(k * math.prod(ys[:-1]), tx.shape[-1]) @ w.T).reshape((k,) + ys)
    if tw is not None:
        k = tw.shape[0]
        xs = tuple(x.shape)
        # (M, in) @ (K, in, out): the rows of x against every lane of the weight's tangent
        term = (x.reshape(math.prod(xs[:-1]), xs[-1]) @ tw.swapaxes(-1, -2)).reshape((k,) + ys)
        out = term if out is None else out + term
    if tb is not None:
        k = tb.shape[0]
        tb = tb.reshape((k,) + (1,) * (len(ys) - 1) + ys[-1:])
        out = np.broadcast_to(tb, (k,) + ys) if out is None else out + tb
    return out


def _linear_vjp(i, g, ans, x, w, b=None):
    """``gx = g w``, ``gw = gᵀ x`` and ``gb = Σ g``, the leading axes folded into GEMM rows."""
    if type(g) is _ndarray:
        gs = g.shape
        if len(gs) == 3 and gs[0] == 1:  # the usual case, spelled out: one direction, 2-d x
            # (each cotangent reads only the other operand: the tape may keep just that one)
            if i == 0:
                if type(w) is _ndarray:
                    return (g[0] @ w)[None]
            elif i == 1:
                if type(x) is _ndarray:
                    return (g[0].T @ x)[None]
            else:
                return _add(g, axis=1)
    gs = tuple(g.shape)
    n_out = gs[-1]
    if i == 0:
        ws = tuple(w.shape)
        return (g.reshape(math.prod(gs[:-1]), n_out) @ w).reshape(gs[:-1] + ws[1:])
    k = gs[0]
    m = math.prod(gs[1:-1])
    if i == 1:
        xs = tuple(x.shape)
        x2 = x.reshape(m, xs[-1])
        if k == 1:  # one direction: a plain (out, M) @ (M, in) GEMM
            return (g.reshape(m, n_out).T @ x2).reshape((1, n_out, xs[-1]))
        return g.reshape(k, m, n_out).swapaxes(1, 2) @ x2
    if len(gs) == 2:  # a 1-d input: the bias's cotangent is g itself
        return g
    g3 = g.reshape(k, m, n_out)
    return _add(g3, axis=1) if type(g3) is _ndarray else g3.sum(axis=1)


#: x's cotangent reads w, w's reads x, the bias's neither: a layer whose weight is not trained
#: does not keep its input
linear_p = Primitive("dualad.linear", _linear_impl, jvp=_linear_jvp, vjp=_linear_vjp,
                     saves={0: (1,), 1: (0,), 2: ()})


def linear(x, w, b=None):
    """``x @ w.T + b`` as one op-table entry (PyTorch's ``F.linear``).

    ``x`` is ``(..., in_features)``, ``w`` ``(out_features, in_features)``, ``b``
    ``(out_features,)`` or ``None``; returns ``(..., out_features)`` of the type given (ndarray,
    ``DualArray``, ``Tensor``). Raises ``ValueError`` for shapes that do not fit.
    """
    return linear_p.bind(x, w) if b is None else linear_p.bind(x, w, b)


# ---------------------------------------------------------------------------------------------
# softmax cross-entropy of integer labels, reduced
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _flat_rows(n, c):
    """The flat index of each row's first entry in a C-contiguous ``(n, c)`` array (cached,
    read-only: a batch size is used over and over)."""
    r = np.arange(0, n * c, c)
    r.flags.writeable = False
    return r


@functools.lru_cache(maxsize=64)
def _ones(c, dtype):
    r = np.ones(c, dtype=dtype)
    r.flags.writeable = False
    return r


def _shifted(logits, starts, guard):
    """The C-contiguous ndarray ``logits`` minus each row's maximum: a constant shift, as the
    loss does not depend on it.

    The maximum is gathered at ``argmax``: along a short last axis, ``max`` reduces row by row
    at several times the cost. With ``guard``, a non-finite maximum shifts by 0, as
    ``log_softmax`` does. Without it such a row comes out NaN, which is how the callers learn
    that they need the guard: a finite loss proves every maximum was finite, so the usual case
    skips the check.
    """
    m = logits.reshape(-1)[starts + logits.argmax(axis=1)].reshape(-1, 1)
    if guard and not np.isfinite(m).all():
        m = np.where(np.isfinite(m), m, 0.0)
    return logits - m


def _row_sums(e):
    """``e.sum(axis=1, keepdims=True)`` as a matrix-vector product: along a short last axis
    ``sum`` reduces row by row at twice the cost."""
    return (e @ _ones(e.shape[1], e.dtype)).reshape(-1, 1)


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"softmax_cross_entropy: reduction must be one of "
                         f"{', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")


def _contiguous(logits):
    # the flat gathers and scatters below need a C-contiguous layout (so do the outputs of
    # the ufuncs applied to it: they follow the input's layout)
    return logits if logits.flags.c_contiguous else np.ascontiguousarray(logits)


def _ce_loss(logits, labels, reduction, guard):
    """The reduced loss, and the exponentials ``e`` and their row sums ``s`` (softmax = e/s)."""
    n, c = logits.shape
    starts = _flat_rows(n, c)
    z = _shifted(logits, starts, guard)
    e = np.exp(z)
    s = _row_sums(e)
    loss = np.log(s).reshape(n) - z.reshape(-1)[starts + labels]
    if reduction == "none":
        return loss, e, s
    total = _add(loss, axis=None)
    if reduction == "sum":
        return total, e, s
    # scaling by 1/N (not dividing by N) keeps the composed formula's exact result; the mean
    # of no samples is NaN, as np.mean's
    return (total * (1.0 / n) if n else total * np.nan), e, s


def _finite(ans):
    """Whether the loss ``ans`` is finite (False: unknown, or not)."""
    if isinstance(ans, _generic):
        return math.isfinite(ans)
    if type(ans) is _ndarray:
        return math.isfinite(_add(ans, axis=None))
    return False


def _ce_fwd(logits, *, labels, reduction):
    """``(loss, (e, s))``: the loss and, as residuals for the VJP, the exponentials of the
    shifted logits and their row sums (``None`` for a tracer: its own level computes)."""
    if isinstance(logits, Tracer):
        # a lower-level tracer: let its own level process the op
        return softmax_cross_entropy_p.bind(logits, labels=labels, reduction=reduction), None
    if type(logits) is not _ndarray:
        logits = np.asarray(logits)
    _check_reduction(reduction)
    if logits.ndim != 2 or np.shape(labels) != logits.shape[:1]:
        raise ValueError(f"softmax_cross_entropy: needs (N, C) logits and (N,) labels, got "
                         f"shapes {logits.shape} and {np.shape(labels)}")
    if logits.shape[1] == 0:
        raise ValueError("softmax_cross_entropy: the logits have no classes (C = 0)")
    logits = _contiguous(logits)
    labels = _indices(labels)
    out, e, s = _ce_loss(logits, labels, reduction, guard=False)
    if not _finite(out):
        out, e, s = _ce_loss(logits, labels, reduction, guard=True)
    return out, (e, s)


def _ce_impl(logits, *, labels, reduction):
    return _ce_fwd(logits, labels=labels, reduction=reduction)[0]


def _indices(labels):
    """``labels`` as an ``intp`` array: added to the row offsets, uint64 would give floats."""
    if type(labels) is not _ndarray or labels.dtype != _intp:
        labels = np.asarray(labels).astype(np.intp)
    return labels


def _scaled_residual(logits, labels, scale, guard, saved=None):
    """``(softmax(logits) − onehot(labels)) · scale`` of an ndarray, in one fresh array;
    ``scale`` is a scalar, ``(1, 1)`` or one per row ``(N, 1)``. ``saved``: the forward pass's
    ``(e, s)``, read only (a retained graph is swept with them again); else recomputed."""
    n, c = shape_of(logits)
    starts = _flat_rows(n, c)
    if saved is None:
        e = np.exp(_shifted(_contiguous(logits), starts, guard))
        s = _row_sums(e)
        e *= scale / s  # the scale joins the (N, 1) normalizers, not the (N, C) array
    else:
        e, s = saved
        e = e * (scale / s)  # (the same product, into a fresh array)
    flat = e.reshape(-1)
    # (flat: a quarter of the cost of e[rows, labels])
    flat[starts + _indices(labels)] -= scale.reshape(-1) if type(scale) is _ndarray else scale
    return e


def _onehot(labels, n_classes, dtype):
    """The constant ``(N, n_classes)`` one-hot matrix of ``labels``."""
    return (np.asarray(labels)[:, None] == np.arange(n_classes)).astype(dtype)


def _residual(logits, labels, ans, saved=None):
    """``softmax(logits) − onehot(labels)`` for an ndarray or a tracer (``saved``: the forward
    pass's ``(e, s)`` of an ndarray)."""
    if type(logits) is _ndarray:
        return _scaled_residual(logits, labels, 1.0, not _finite(ans), saved)
    return _softmax(logits, 1) - _onehot(labels, shape_of(logits)[1], logits.dtype)


def _ce_jvp(tangents, ans, logits, *, labels, reduction):
    """``Σ_c (softmax − onehot)·ṫ`` per sample, reduced as the loss is."""
    t = tangents[0]
    d = (_residual(logits, labels, ans) * t).sum(axis=-1)
    if reduction == "none":
        return d
    d = d.sum(axis=1)
    return d * (1.0 / max(t.shape[1], 1)) if reduction == "mean" else d


def _ce_vjp(i, g, ans, logits, *, labels, reduction, residuals=None):
    """``(softmax − onehot) · g``, divided by N for the mean; ``residuals``: ``fwd``'s
    ``(e, s)``, the softmax without recomputing it."""
    n, c = logits.shape
    k = g.shape[0]
    if reduction == "none":
        scale = g.reshape((k, n, 1))
    else:
        scale = g if reduction == "sum" else g * (1.0 / max(n, 1))
        scale = scale.reshape((k, 1, 1))
    if k == 1 and type(logits) is _ndarray and type(g) is _ndarray:
        # one direction: the scale folded into the softmax's normalization
        q = _scaled_residual(logits, labels, scale[0], not _finite(ans), residuals)
        return q.reshape((1, n, c))
    return scale * _residual(logits, labels, ans, residuals)


#: the rules read the logits (the residuals are absent for tracers) and the loss (whether the
#: softmax needs the guard against infinite logits)
softmax_cross_entropy_p = Primitive("dualad.softmax_cross_entropy", _ce_impl, jvp=_ce_jvp,
                                    vjp=_ce_vjp, fwd=_ce_fwd, saves=("ans", 0))


def softmax_cross_entropy(logits, labels, reduction="mean"):
    """Softmax cross-entropy of ``(N, C)`` ``logits`` against ``(N,)`` integer ``labels``,
    as one op-table entry.

    The per-sample loss is ``log Σ_c exp(logits[n, c]) − logits[n, labels[n]]``, computed with
    the row maximum subtracted; ``reduction`` ``"mean"`` averages it, ``"sum"`` adds it up,
    ``"none"`` returns it. ``labels`` are constants (no derivative).

    Raises ``ValueError`` for other shapes or an unknown reduction, ``TypeError`` for labels
    that are not integers, ``IndexError`` for labels outside ``[0, C)`` (the entry itself
    indexes the flattened logits and does not check them).
    """
    _check_reduction(reduction)
    labels = np.asarray(labels._plain_value() if isinstance(labels, Tracer) else labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: labels must be integers, got {labels.dtype}")
    shape = shape_of(logits)
    if len(shape) == 2 and labels.size and (labels.min() < 0 or labels.max() >= shape[1]):
        raise IndexError(f"softmax_cross_entropy: labels must be in [0, {shape[1]})")
    return softmax_cross_entropy_p.bind(logits, labels=labels, reduction=reduction)
