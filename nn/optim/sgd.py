"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay.

The seed's separate methods "Momentum" and "Nesterov" are settings of this one optimizer:
``SGD(params, lr, momentum=0.9)`` and ``SGD(params, lr, momentum=0.9, nesterov=True)``
(``nn.optim.minimize`` also accepts them by those names).
"""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check

__all__ = ["SGD", "sgd_update"]

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray
_subtract = np.subtract


def sgd_update(param, grad, state, *, lr, momentum, dampening, weight_decay, nesterov):
    """One SGD step (``torch.optim.SGD``'s rule), pure: returns ``(new_param, new_state)``.

    ::

        g ← g + λθ                                  (weight_decay λ ≠ 0)
        b ← g on the first step, else μb + (1 − τ)g (momentum μ ≠ 0, dampening τ)
        g ← g + μb if nesterov else b
        θ ← θ − γg
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    new_state = {}
    if momentum != 0:
        buf = state.get("momentum_buffer")
        # the first buffer is the gradient itself, undamped (as PyTorch starts it)
        buf = grad.copy() if buf is None else momentum * buf + (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
        new_state["momentum_buffer"] = buf
    return _descend(param, grad, lr), new_state


def _descend(param, grad, lr):
    """``θ − γg``, computed into the fresh array ``γg``: one allocation, no input written to."""
    if type(param) is _ndarray and type(grad) is _ndarray and grad.dtype == param.dtype \
            and type(lr) is float:
        step = grad * lr  # a Python float takes the array's dtype: the same product, sooner
    else:
        step = np.multiply(grad, lr, dtype=np.result_type(param, grad))
    return _subtract(param, step, out=step)


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups (dicts).
    lr : float
        Learning rate γ (default 1e-3, PyTorch's).
    momentum : float
        Momentum factor μ (default 0: plain gradient descent).
    dampening : float
        Dampening τ of the momentum (default 0).
    weight_decay : float
        L2 penalty λ (default 0).
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool
        Maximize the objective instead of minimizing it.

    "Momentum" is ``SGD(params, lr, momentum=0.9)``; "Nesterov" is
    ``SGD(params, lr, momentum=0.9, nesterov=True)``.
    """

    update = staticmethod(sgd_update)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        check("learning rate", lr >= 0.0, lr)
        check("momentum value", momentum >= 0.0, momentum)
        check("weight_decay value", weight_decay >= 0.0, weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))
