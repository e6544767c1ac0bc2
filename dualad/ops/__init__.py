"""The shared op table: one entry per primitive (NumPy implementation, JVP rule, VJP rule).

Forward mode (:class:`dualad.DualArray`) and the reverse tape (:class:`reverse.Tensor`) both
read it; a new primitive is added here and nowhere else. The entries are grouped by kind:

============================  =====================================================
module                        what it holds
============================  =====================================================
:mod:`~dualad.ops.core`       ``Primitive``, rule kinds, lane and broadcasting helpers
:mod:`~.elementwise`          ufuncs (NumPy and ``scipy.special``), ``clip``, ``where``
:mod:`~.reductions`           ``sum``, ``prod``, ``max``/``min``, ``cumsum``, ``cumprod``...
:mod:`~.shape`                reshape, transpose, broadcasting, indexing, joining, ``pad``
:mod:`~.products`             ``matmul``, ``dot``, ``einsum``, ``tensordot``, ``trace``...
:mod:`~.linalg`               ``np.linalg``: ``inv``, ``det``, ``solve``, ``cholesky``...
:mod:`~.special`              ``logsumexp``, ``softmax``, ``log_softmax`` (SciPy's), ``relu``
:mod:`~.conv`                 ``conv2d`` and its transposes: direct, im2col, fft, winograd
:mod:`~.winograd`             the Winograd F(m×m, 3×3) kernels of :mod:`~.conv`
:mod:`~.layers`               fused ``linear`` and softmax cross-entropy (one record each)
:mod:`~.composed`             NumPy functions composed from the entries (``interp``, ``median``...)
:mod:`~.fft`                  ``np.fft`` and ``scipy.fft``: c2c, r2c, c2r, shifts
:mod:`~.complex_rules`        ``conj real imag angle abs``; complex inputs refused where unchecked
:mod:`~.protocol`             the NumPy protocols and operators every tracer shares
:mod:`~.scipy_stats`,         rules for SciPy's Python-level functions (distributions,
:mod:`~.scipy_linalg`         ``scipy.linalg``, ``scipy.signal``)
:mod:`~.scipy_support`        routes those SciPy functions, called on traced values, to them
:mod:`~.calls`                callables outside the table: the highest tracer decides
============================  =====================================================

This package imports nothing else of the project.
"""
from . import core, elementwise, reductions, shape  # noqa: F401  (registration side effects)
from . import products, linalg, special, conv, layers, composed  # noqa: F401
from . import fft  # noqa: F401
from . import complex_rules  # noqa: F401  (after elementwise: it replaces conj, abs, sign)
from .core import (FUNCTION_RULES, UFUNC_RULES, ZERO, Primitive, Tracer, align, elementwise as
                   elementwise_kind, implements, is_identity, mark_identity, new_level, nondiff,
                   sum_to, open_level, close_level, check_live, LIVE_LEVELS,
                   UnexpectedTracerError)
from .protocol import ArrayProtocol

__all__ = ["Primitive", "Tracer", "ArrayProtocol", "UFUNC_RULES", "FUNCTION_RULES", "ZERO",
           "implements", "elementwise_kind", "nondiff", "align", "sum_to", "new_level",
           "open_level", "close_level", "check_live", "LIVE_LEVELS", "UnexpectedTracerError",
           "mark_identity", "is_identity", "all_primitives"]


def all_primitives():
    """Every registered primitive, each once (for table-driven tests and docs)."""
    seen = {}
    for p in UFUNC_RULES.values():
        seen[id(p)] = p
    for mod in (elementwise, reductions, shape, products, linalg, special, conv, layers,
                composed, complex_rules, fft):
        for v in vars(mod).values():
            if isinstance(v, Primitive):
                seen[id(v)] = v
    return list(seen.values())


# entries not checked on complex inputs raise for them (after every registration above)
complex_rules.guard(all_primitives())

# SciPy's functions with rules, called on a tracer of any mode, reach them (after the
# registrations: scipy.special's entries are looked up in FUNCTION_RULES)
from . import scipy_support  # noqa: E402
scipy_support.install()
