"""dualad: NumPy-native automatic differentiation, forward and reverse mode.

Write plain NumPy; differentiate it with the transforms below, choosing the mode per call::

    import numpy as np
    import dualad as ad

    def f(x, y):
        return np.log(x) + x * y - np.sin(y)

    ad.grad(f, argnums=(0, 1))(2.0, 5.0)     # (5.5, 1.7163...)
"""
from . import numeric, ops
from .checking import check_grads
from .custom import custom_jvp, custom_vjp
from .dual import DualArray
from .ops.core import UnexpectedTracerError
from .ops.special import logsumexp
from .transforms import (MEMORY_BUDGET, choose_mode, elementwise_grad, grad, hessian, hvp, jacfwd,
                         jacobian, jacrev, jvp, value_and_grad)
from .pytree import tree_flatten, tree_unflatten, tree_map
from .staging import Program, jit, trace
from .sparsity import hessian_sparsity, jacobian_sparsity, sparse_hessian, sparse_jacobian
from . import scipy_support

scipy_support.install()  # SciPy's functions with rules, called on traced values, reach them

__all__ = ["DualArray", "jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev", "jacobian",
           "hessian", "hvp", "choose_mode", "logsumexp", "numeric", "check_grads", "tree_flatten",
           "tree_unflatten", "tree_map", "MEMORY_BUDGET", "ops", "custom_jvp", "custom_vjp",
           "elementwise_grad", "trace", "jit", "Program", "jacobian_sparsity",
           "hessian_sparsity", "sparse_jacobian", "sparse_hessian",
           "UnexpectedTracerError"]
__version__ = "0.1.0"


def __getattr__(name):
    # ``ad.vjp`` *is* ``reverse.vjp``; importing it lazily lets ``reverse`` import dualad first
    if name == "vjp":
        from reverse import vjp
        return vjp
    raise AttributeError(f"module 'dualad' has no attribute {name!r}")
