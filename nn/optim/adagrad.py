"""Adagrad: per-coordinate step sizes shrinking with the sum of squared gradients."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(param, grad, state, *, lr, lr_decay, weight_decay,
                   initial_accumulator_value, eps):
    """One Adagrad step (``torch.optim.Adagrad``'s rule), pure.

    ::

        g ← g + λθ                      (weight_decay λ ≠ 0)
        γ̃ ← γ / (1 + (t − 1)η)          (lr_decay η)
        s ← s + g²                      (s starts at initial_accumulator_value)
        θ ← θ − γ̃ g / (√s + ε)
    """
    step = state.get("step", 0) + 1
    acc = state.get("sum")
    if acc is None:
        acc = np.full_like(param, initial_accumulator_value)
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    acc = acc + grad * grad
    std = np.sqrt(acc) + eps
    return param - clr * (grad / std), {"step": step, "sum": acc}


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    Parameters: ``lr`` (1e-2), ``lr_decay`` (0), ``weight_decay`` (0),
    ``initial_accumulator_value`` (0), ``eps`` (1e-10), ``maximize`` (False).
    """

    update = staticmethod(adagrad_update)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, *, maximize=False):
        check("learning rate", lr >= 0.0, lr)
        check("lr_decay value", lr_decay >= 0.0, lr_decay)
        check("weight_decay value", weight_decay >= 0.0, weight_decay)
        check("initial_accumulator_value value", initial_accumulator_value >= 0.0,
              initial_accumulator_value)
        check("epsilon value", eps >= 0.0, eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))
