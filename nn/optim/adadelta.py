"""Adadelta: steps in the units of the parameter, from running averages of g² and Δθ²."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, buffers, check

__all__ = ["Adadelta", "adadelta_update"]


def adadelta_update(param, grad, state, *, lr, rho, eps, weight_decay):
    """One Adadelta step (``torch.optim.Adadelta``'s rule), pure.

    ::

        g ← g + λθ                          (weight_decay λ ≠ 0)
        v ← ρv + (1 − ρ)g²
        Δ ← √(u + ε) / √(v + ε) · g
        u ← ρu + (1 − ρ)Δ²
        θ ← θ − γΔ
    """
    step = state.get("step", 0) + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg, acc_delta = buffers(state, param, "square_avg", "acc_delta")
    square_avg = rho * square_avg + (1 - rho) * grad * grad
    std = np.sqrt(square_avg + eps)
    delta = np.sqrt(acc_delta + eps) / std * grad
    acc_delta = rho * acc_delta + (1 - rho) * delta * delta
    return param - lr * delta, {"step": step, "square_avg": square_avg, "acc_delta": acc_delta}


class Adadelta(Optimizer):
    """Adadelta, as ``torch.optim.Adadelta``.

    Parameters: ``lr`` (1.0, scales Δ), ``rho`` (0.9), ``eps`` (1e-6), ``weight_decay`` (0),
    ``maximize`` (False).
    """

    update = staticmethod(adadelta_update)

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        check("learning rate", lr >= 0.0, lr)
        check("rho value", 0.0 <= rho <= 1.0, rho)
        check("epsilon value", eps >= 0.0, eps)
        check("weight_decay value", weight_decay >= 0.0, weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))
