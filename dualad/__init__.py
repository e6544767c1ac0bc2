"""dualad: NumPy-native automatic differentiation, forward and reverse mode.

Write plain NumPy; differentiate it with the transforms below, choosing the mode per call::

    import numpy as np
    import dualad as ad

    def f(x, y):
        return np.log(x) + x * y - np.sin(y)

    ad.grad(f, argnums=(0, 1))(2.0, 5.0)     # (5.5, 1.7163...)

Layering: the op table :mod:`dualad.ops` sits at the bottom and imports nothing else of the
project; the modes (``dualad.dual``, the ``reverse`` tape) consume it; the transforms choose a
mode. ``reverse`` imports ``dualad.ops``, which runs this file first, so this file imports only
the op table and names the rest in :data:`_EXPORTS`, loaded on first use (PEP 562, as SciPy
loads its submodules). An eager import of the transforms here would put ``dualad`` above
``reverse`` and below it at once.
"""
import importlib

from . import ops  # the op table; it also routes SciPy's functions to their rules

#: public name -> the module that defines it
_EXPORTS = {
    "DualArray": "dualad.dual",
    **dict.fromkeys(("MEMORY_BUDGET", "choose_mode", "elementwise_grad", "grad", "hessian",
                     "hvp", "jacfwd", "jacobian", "jacrev", "jvp", "value_and_grad"),
                    "dualad.transforms"),
    "vjp": "reverse",  # the tape's own: reverse mode is the only mode a vjp has
    "check_grads": "dualad.checking",
    **dict.fromkeys(("custom_jvp", "custom_vjp"), "dualad.custom"),
    "UnexpectedTracerError": "dualad.ops.core",
    "logsumexp": "dualad.ops.special",
    **dict.fromkeys(("tree_flatten", "tree_unflatten", "tree_map"), "dualad.pytree"),
    **dict.fromkeys(("Program", "jit", "trace"), "dualad.staging"),
    **dict.fromkeys(("hessian_sparsity", "jacobian_sparsity", "sparse_hessian",
                     "sparse_jacobian"), "dualad.sparsity"),
}
_SUBMODULES = ("numeric", "numpy", "checking", "custom", "dual", "front", "parallel", "pytree",
               "staging", "sparsity", "transforms", "compare", "cli", "examples", "benchmarks")

__all__ = ["DualArray", "jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev", "jacobian",
           "hessian", "hvp", "choose_mode", "logsumexp", "numeric", "check_grads", "tree_flatten",
           "tree_unflatten", "tree_map", "MEMORY_BUDGET", "ops", "custom_jvp", "custom_vjp",
           "elementwise_grad", "trace", "jit", "Program", "jacobian_sparsity",
           "hessian_sparsity", "sparse_jacobian", "sparse_hessian",
           "UnexpectedTracerError"]
__version__ = "0.1.0"


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'dualad' has no attribute {name!r}")
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
