"""reverse: reverse-mode automatic differentiation on an adjoint tape.

Write plain NumPy on :class:`Tensor`\\ s; the ops are recorded and ``backward`` sweeps them::

    import numpy as np
    import reverse as rv

    x = rv.Tensor(np.array([2.0, 5.0]), requires_grad=True)
    y = np.log(x[0]) + x[0] * x[1] - np.sin(x[1])
    y.backward()
    x.grad                       # array([5.5, 1.71633781])

or use the functional forms, which record on a tape of their own and nest::

    rv.grad(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))      # array([ 3., 12.])

========================  ==============================================================
module                    what it holds
========================  ==============================================================
:mod:`~reverse.tensor`    ``Tensor``: recording, ``backward``, hooks, in-place operations
:mod:`~reverse.tape`      ``Node`` and the reverse sweep
:mod:`~reverse.saving`    what the tape keeps: what each entry declares its VJP reads
:mod:`~reverse.functional`  ``vjp`` and ``grad``
:mod:`~reverse.modes`     ``no_grad``, ``enable_grad``, ``detect_anomaly``
:mod:`~reverse.graph`     ``to_dot``
:mod:`~reverse.hooks`     hook handles and ``retain_grad``
========================  ==============================================================
"""
from .functional import VJPFunction, grad, vjp
from .graph import to_dot
from .modes import (detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad,
                    set_grad_enabled)
from .hooks import RemovableHandle
from .tensor import USER_LEVEL, Tensor
from dualad.ops.core import UnexpectedTracerError

__all__ = ["Tensor", "USER_LEVEL", "RemovableHandle", "vjp", "grad", "VJPFunction", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
           "is_anomaly_enabled", "to_dot", "UnexpectedTracerError"]
