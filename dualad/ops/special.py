"""``scipy.special`` functions that are not ufuncs (logsumexp, softmax, log_softmax) and relu.

``scipy.special.logsumexp`` converts its input with ``asarray`` before any NumPy dispatch can
see it, so a traced array cannot reach it through SciPy; :func:`logsumexp` here has the same
signature and results, works on plain arrays and tracers alike, and is what ``dualad.logsumexp``
exports. Its entry is registered under SciPy's function too, for dispatchers that look it up.
"""
from __future__ import annotations

import operator

import numpy as np
import scipy.special as sp
from numpy.lib.array_utils import normalize_axis_index

from .core import Primitive, Tracer, elementwise, implements, ndim_of, reads
from .reductions import normalize_axes

__all__ = ["logsumexp", "softmax", "log_softmax", "relu", "softmax_p", "log_softmax_p", "relu_p"]


@implements(sp.logsumexp)
def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis``, computed stably, differentiable in ``a`` and ``b``.

    Same signature and results as ``scipy.special.logsumexp``. The shift by the maximum is a
    constant: the result does not depend on it, so no derivative flows through it (and ties
    in the maximum cannot bias the gradient).
    """
    if not isinstance(a, Tracer) and not isinstance(b, Tracer):
        return sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    if any(np.iscomplexobj(v) for v in (a, b) if v is not None):
        # (the complex shift by the maximum could move the result by 2πi: not checked yet)
        raise NotImplementedError("scipy.special.logsumexp: complex inputs are not supported "
                                  "yet")
    axes = normalize_axes(axis, ndim_of(a))
    plain_a = a._plain_value() if isinstance(a, Tracer) else np.asarray(a)
    shift = np.max(plain_a, axis=axes, keepdims=True) if plain_a.size else np.zeros(())
    shift = np.where(np.isfinite(shift), shift, 0.0)
    e = np.exp(a - shift)
    s = np.sum(e if b is None else b * e, axis=axes, keepdims=True)
    plain_s = s._plain_value() if isinstance(s, Tracer) else s
    sign = np.sign(plain_s)
    out = np.log(np.abs(s) if return_sign else s) + shift
    if not keepdims:
        out = np.reshape(out, tuple(d for n, d in enumerate(out.shape) if n not in axes))
        sign = np.reshape(sign, out.shape)
    return (out, sign) if return_sign else out


# ---------------------------------------------------------------------------------------------
# softmax and log_softmax: one entry each (composed, they would cost five tape records), with
# the max subtracted so they are finite for any finite input
# ---------------------------------------------------------------------------------------------

def _max_shift(x, axis):
    """The maximum along ``axis`` as a constant: the results do not depend on it."""
    plain_x = x._plain_value() if isinstance(x, Tracer) else np.asarray(x)
    m = plain_x.max(axis=axis, keepdims=True)
    return m if np.isfinite(m).all() else np.where(np.isfinite(m), m, 0.0)


def _log_softmax_impl(x, axis):
    if isinstance(x, Tracer):  # a lower-level tracer: let its own level process the op
        return log_softmax_p.bind(x, axis=axis)
    z = x - _max_shift(x, axis)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _softmax_impl(x, axis):
    if isinstance(x, Tracer):
        return softmax_p.bind(x, axis=axis)
    e = np.exp(x - _max_shift(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


# d log_softmax = t − Σ softmax·t ;  its transpose: g − softmax·Σ g      (softmax = exp(ans))
log_softmax_p = Primitive(
    "scipy.special.log_softmax", _log_softmax_impl,
    jvp=lambda ts, ans, x, axis: ts[0] - np.sum(np.exp(ans) * ts[0], axis=axis + 1,
                                                keepdims=True),
    vjp=lambda i, g, ans, x, axis: g - np.exp(ans) * np.sum(g, axis=axis + 1, keepdims=True),
    saves=("ans",))

# d softmax = s·(t − Σ s·t) ;  self-adjoint: s·(g − Σ s·g)
softmax_p = Primitive(
    "scipy.special.softmax", _softmax_impl,
    jvp=lambda ts, ans, x, axis: ans * (ts[0] - np.sum(ans * ts[0], axis=axis + 1,
                                                       keepdims=True)),
    vjp=lambda i, g, ans, x, axis: ans * (g - np.sum(ans * g, axis=axis + 1, keepdims=True)),
    saves=("ans",))


def _one_axis(name, x, axis):
    nd = ndim_of(x)
    if axis is None or isinstance(axis, (tuple, list)):
        raise NotImplementedError(f"{name}: only a single integer axis is supported on traced "
                                  f"arrays, got axis={axis!r}")
    if nd == 0 and operator.index(axis) in (0, -1):
        return 0  # SciPy takes axis 0 or -1 of a 0-d array, as NumPy's reductions do
    return normalize_axis_index(operator.index(axis), nd, f"scipy.special.{name}")


@implements(sp.log_softmax)
def log_softmax(x, axis=-1):
    """``x − log Σ exp(x)`` along one ``axis``, max-subtracted (SciPy's signature, but
    differentiable; SciPy's own converts traced arrays with ``asarray`` and refuses them)."""
    axis = _one_axis("log_softmax", x, axis)  # first: a 0-d array refuses axis=1 as SciPy does
    if ndim_of(x) == 0:
        return x - x
    return log_softmax_p.bind(x, axis=axis)


@implements(sp.softmax)
def softmax(x, axis=-1):
    """``exp(x) / Σ exp(x)`` along one ``axis``, max-subtracted."""
    axis = _one_axis("softmax", x, axis)  # first: a 0-d array refuses axis=1 as SciPy does
    if ndim_of(x) == 0:
        return x / x
    return softmax_p.bind(x, axis=axis)


# ---------------------------------------------------------------------------------------------
# relu: one elementwise entry; relu'(0) = 0 (README), where np.maximum's own entry would
# split the derivative 0.5/0.5 at the tie. The value is np.maximum's (a quarter of np.where's
# cost, and NaN stays NaN, as in PyTorch); the derivative is this entry's.
# ---------------------------------------------------------------------------------------------

#: the partial reads the answer, not x (ans > 0 exactly where x > 0, NaN included): the tape
#: keeps the activation the next layer keeps anyway, and frees the pre-activation
relu_p = elementwise("dualad.relu", lambda x: np.maximum(x, 0.0),
                     reads("ans")(lambda ans, x: (ans > 0).astype(ans.dtype)))


def relu(x):
    """``max(x, 0)`` with derivative 0 at 0."""
    return relu_p.bind(x)
