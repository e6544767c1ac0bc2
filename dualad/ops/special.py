"""``scipy.special`` functions that are not ufuncs, composed from table entries.

``scipy.special.logsumexp`` converts its input with ``asarray`` before any NumPy dispatch can
see it, so a traced array cannot reach it through SciPy; :func:`logsumexp` here has the same
signature and results, works on plain arrays and tracers alike, and is what ``dualad.logsumexp``
exports. Its entry is registered under SciPy's function too, for dispatchers that look it up.
"""
from __future__ import annotations

import numpy as np
import scipy.special as sp

from .core import Tracer, implements, ndim_of
from .reductions import normalize_axes

__all__ = ["logsumexp"]


@implements(sp.logsumexp)
def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis``, computed stably, differentiable in ``a`` and ``b``.

    Same signature and results as ``scipy.special.logsumexp``. The shift by the maximum is a
    constant: the result does not depend on it, so no derivative flows through it (and ties
    in the maximum cannot bias the gradient).
    """
    if not isinstance(a, Tracer) and not isinstance(b, Tracer):
        return sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
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
