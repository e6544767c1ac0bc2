"""``nn.functional``: convolution, pooling, activations and losses as plain NumPy functions.

Every function here is written with NumPy calls on its arguments (``conv2d`` binds its op-table
primitive), so it works unchanged on ndarrays, on ``dualad.DualArray`` (forward mode) and on
``reverse.Tensor`` (reverse mode), nested to any order, and returns the type it was given.

Documented choices at non-differentiable points (the README's "Non-differentiable points"):
``relu'(0) = 0``; in ``max_pool2d`` a window with tied maxima splits the derivative equally
among them (the ``np.max`` rule; PyTorch gives it all to the first maximum).
"""
from __future__ import annotations

import numpy as np
import scipy.special as sp

from dualad.ops import special as _special
from dualad.ops.core import shape_of
from dualad.ops.conv import conv2d as _conv2d
from dualad.ops.layers import linear_p as _linear_p
from dualad.ops.layers import softmax_cross_entropy_p as _cross_entropy_p
from dualad.ops.shape import plain

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "relu", "sigmoid", "tanh", "softmax",
           "log_softmax", "mse_loss", "cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")
_UNSIGNED = {n: np.dtype(f"u{n}") for n in (1, 2, 4, 8)}


# ---------------------------------------------------------------------------------------------
# affine map and convolution
# ---------------------------------------------------------------------------------------------

def linear(x, w, b=None):
    """``x @ w.T + b`` (PyTorch's ``F.linear``), one op-table entry (``dualad.ops.layers``).

    Parameters
    ----------
    x : array (..., in_features)
    w : array (out_features, in_features)
    b : array (out_features,), optional

    Returns
    -------
    (..., out_features), of ``x``'s type (a ``Tensor`` if any argument is one).

    Raises
    ------
    ValueError
        A weight that is not 2-d, an input whose last axis is not ``in_features``, a bias
        that is not ``(out_features,)``.
    """
    return _linear_p.bind(x, w) if b is None else _linear_p.bind(x, w, b)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, method="auto"):
    """2-D cross-correlation of NCHW ``x`` with ``w`` (C_out, C_in, kh, kw), plus bias ``b``.

    Parameters
    ----------
    x : array (N, C_in, H, W), or (C_in, H, W) for one image
    w : array (C_out, C_in, kh, kw)
    b : array (C_out,), optional
    stride, dilation : int or pair
    padding : int, pair, ((top, bottom), (left, right)), ``"same"`` (stride 1; an odd total
        puts the extra row/column at the bottom/right, as PyTorch) or ``"valid"`` (none)
    method : ``"direct"``, ``"im2col"``, ``"fft"``, ``"winograd"`` (3×3, stride 1, dilation 1)
        or ``"auto"`` (times the suited methods on the first call for a shape and keeps the
        fastest; see :mod:`dualad.ops.conv`). All agree to ~1e-14 relative in float64.

    Returns
    -------
    (N, C_out, H_out, W_out), of ``x``'s type; float32 inputs give float32.

    Raises
    ------
    ValueError
        Mismatched channels, an empty output, an unknown method, ``"winograd"`` on another
        kernel/stride/dilation, ``"same"`` with stride > 1.
    """
    unbatched = np.ndim(x) == 3
    if unbatched:
        x = np.expand_dims(x, 0)
    y = _conv2d(x, w, stride=stride, padding=padding, dilation=dilation, method=method)
    if b is not None:
        if np.shape(b) != (np.shape(w)[0],):
            raise ValueError(f"conv2d: bias must have shape ({np.shape(w)[0]},) for "
                             f"{np.shape(w)[0]} output channels, got {np.shape(b)}")
        y = y + np.reshape(b, (1, -1, 1, 1))
    return y[0] if unbatched else y


# ---------------------------------------------------------------------------------------------
# pooling: strided slices of the padded input, so every mode differentiates them as it would
# any indexing; non-overlapping windows (stride == kernel) are a reshape instead
# ---------------------------------------------------------------------------------------------

def _pool_args(name, x, kernel_size, stride, padding):
    def pair(v, what, low):
        t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
        if len(t) != 2 or any(isinstance(k, bool) or int(k) != k or k < low for k in t):
            raise ValueError(f"{name}: {what} must be an int >= {low} or a pair of them, "
                             f"got {v!r}")
        return tuple(int(k) for k in t)

    if np.ndim(x) not in (3, 4):
        raise ValueError(f"{name}: x must be (N, C, H, W) or (C, H, W), got shape {np.shape(x)}")
    k = pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else pair(stride, "stride", 1)
    p = pair(padding, "padding", 0)
    if any(2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(f"{name}: padding {p} must be at most half the kernel size {k} "
                         f"(as in PyTorch), else a window could hold only padding")
    h, w = np.shape(x)[-2:]
    out = tuple((n + 2 * pi - ki) // si + 1 for n, pi, ki, si in zip((h, w), p, k, s))
    if min(out) < 1:
        raise ValueError(f"{name}: the {k[0]}x{k[1]} window does not fit the input "
                         f"{(h, w)} padded by {p}")
    return k, s, p, out


def _windows(name, x, kernel_size, stride, padding, fill):
    """The padded input and the pooling geometry; or the windows stacked on a last axis."""
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = _pool_args(name, x, kernel_size, stride, padding)
    if ph or pw:
        pads = ((0, 0),) * (np.ndim(x) - 2) + ((ph, ph), (pw, pw))
        x = np.pad(x, pads, constant_values=fill)
    lead = (slice(None),) * (np.ndim(x) - 2)
    if (kh, kw) == (sh, sw):
        # non-overlapping: crop the remainder, split each spatial axis into (out, kernel)
        x = x[lead + (slice(0, ho * kh), slice(0, wo * kw))]
        shape = np.shape(x)[:-2] + (ho, kh, wo, kw)
        return np.reshape(x, shape), (-3, -1)
    # overlapping or gapped windows: one strided slice per kernel offset, stacked last
    parts = [x[lead + (slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))]
             for i in range(kh) for j in range(kw)]
    return np.stack(parts, axis=-1), (-1,)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum over ``kernel_size`` windows every ``stride`` (default: ``kernel_size``).

    Pads with ``-inf`` (padding at most half the kernel, as PyTorch); windows that do not fit
    are dropped (floor mode). Tied maxima in a window share the derivative equally.
    """
    if not np.issubdtype(np.result_type(x), np.floating):
        x = np.asarray(x, dtype=float)  # -inf padding needs a floating dtype
    win, axes = _windows("max_pool2d", x, kernel_size, stride, padding, -np.inf)
    return np.max(win, axis=axes)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over ``kernel_size`` windows every ``stride`` (default: ``kernel_size``).

    Zero padding counts in the mean (PyTorch's ``count_include_pad=True``); windows that do not
    fit are dropped (floor mode).
    """
    win, axes = _windows("avg_pool2d", x, kernel_size, stride, padding, 0.0)
    return np.mean(win, axis=axes)


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------

def relu(x):
    """``max(x, 0)``; the derivative at 0 is 0 (``np.maximum`` would split it 0.5/0.5).
    One op-table entry (``dualad.ops.special.relu_p``)."""
    return _special.relu(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` by ``scipy.special.expit``: no overflow for any finite ``x``."""
    return sp.expit(x)


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(x)


def softmax(x, axis=-1):
    """``exp(x) / Σ exp(x)`` along ``axis``, max-subtracted: finite for any finite ``x``.
    One op-table entry (``dualad.ops.special.softmax_p``)."""
    return _special.softmax(x, axis)


def log_softmax(x, axis=-1):
    """``x - log Σ exp(x)`` along ``axis``, max-subtracted: finite for any finite ``x``.
    One op-table entry (``dualad.ops.special.log_softmax_p``)."""
    return _special.log_softmax(x, axis)


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------

def _reduce(name, loss, reduction):
    if reduction == "mean":
        return np.mean(loss)
    if reduction == "sum":
        return np.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                     f"got {reduction!r}")


def mse_loss(pred, target, reduction="mean"):
    """Squared error ``(pred - target)²``, averaged (``"mean"``), summed or kept (``"none"``).

    ``target`` must have ``pred``'s shape or broadcast to it; a broadcast that would *grow*
    ``pred`` (say (N, 1) against (N,)) is almost always a bug and raises ``ValueError``.
    """
    if reduction not in _REDUCTIONS:
        _reduce("mse_loss", None, reduction)
    ps, ts = np.shape(pred), np.shape(target)
    try:
        ok = np.broadcast_shapes(ps, ts) == ps
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"mse_loss: target shape {ts} does not match prediction shape {ps}")
    d = pred - target
    return _reduce("mse_loss", d * d, reduction)


def cross_entropy(logits, labels, reduction="mean"):
    """Softmax cross-entropy of ``logits`` against integer class ``labels``.

    ``logits`` is (N, C) with ``labels`` (N,), or (N, C, d1, ...) with labels (N, d1, ...)
    (classes on axis 1, as PyTorch), or (C,) with a scalar label. The loss per sample is
    ``-log_softmax(logits)[label]``; ``reduction`` ``"mean"`` averages over samples,
    ``"sum"`` adds them, ``"none"`` returns them.

    Raises ``TypeError`` for non-integer labels, ``IndexError`` for labels outside
    ``[0, C)``, ``ValueError`` for mismatched shapes or an unknown reduction.
    """
    if reduction not in _REDUCTIONS:
        _reduce("cross_entropy", None, reduction)
    labels = np.asarray(plain(labels))
    if labels.dtype.kind not in "iu":  # signed or unsigned integers (np.integer)
        raise TypeError(f"cross_entropy: labels must be integer class indices, got dtype "
                        f"{labels.dtype}")
    shape = tuple(shape_of(logits))
    axis = 0 if len(shape) == 1 else 1
    expected = shape[:axis] + shape[axis + 1:]
    if labels.shape != expected:
        raise ValueError(f"cross_entropy: labels of shape {labels.shape} do not match logits "
                         f"of shape {shape} (expected labels of shape {expected})")
    n_classes = shape[axis]
    # one reduction for both bounds: seen as unsigned, a negative label is a huge one
    as_unsigned = labels.view(_UNSIGNED[labels.itemsize]) if labels.dtype.kind == "i" else labels
    if labels.size and np.maximum.reduce(as_unsigned, axis=None) >= n_classes:
        bad = labels[(labels < 0) | (labels >= n_classes)].flat[0]
        raise IndexError(f"cross_entropy: label {bad} is out of range for {n_classes} classes")
    if len(shape) == 2 and shape[0]:
        # the common case: one op-table entry for log-softmax, gather and reduction
        return _cross_entropy_p.bind(logits, labels=labels, reduction=reduction)
    logp = log_softmax(logits, axis=axis)
    if len(shape) == 2:  # one gather, not a one-hot mask and a sum
        picked = logp[np.arange(shape[0]), labels]
    else:
        classes = np.arange(n_classes).reshape((n_classes,) + (1,) * (len(shape) - axis - 1))
        onehot = np.expand_dims(labels, axis) == classes
        # where() rather than onehot * logp: a -inf logit elsewhere must not give 0·inf
        picked = np.sum(np.where(onehot, logp, 0.0), axis=axis)
    if reduction == "mean":  # one scaling instead of a negation and a division
        return np.sum(picked) * (-1.0 / max(picked.size, 1)) if picked.size else -np.mean(picked)
    return _reduce("cross_entropy", -picked, reduction)
