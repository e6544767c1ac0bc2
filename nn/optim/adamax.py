"""Adamax: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

import numpy as np

from .adam import _check_adam
from .optimizer import Optimizer, buffers

__all__ = ["Adamax", "adamax_update"]


def adamax_update(param, grad, state, *, lr, betas, eps, weight_decay):
    """One Adamax step (``torch.optim.Adamax``'s rule), pure.

    ::

        g ← g + λθ                       (weight_decay λ ≠ 0)
        m ← β₁m + (1 − β₁)g
        u ← max(β₂u, |g| + ε)
        θ ← θ − γ/(1 − β₁ᵗ) · m / u
    """
    beta1, beta2 = betas
    step = state.get("step", 0) + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    exp_avg, exp_inf = buffers(state, param, "exp_avg", "exp_inf")
    exp_avg = beta1 * exp_avg + (1 - beta1) * grad
    exp_inf = np.maximum(beta2 * exp_inf, np.abs(grad) + eps)
    clr = lr / (1 - beta1 ** step)
    return param - clr * (exp_avg / exp_inf), {"step": step, "exp_avg": exp_avg,
                                               "exp_inf": exp_inf}


class Adamax(Optimizer):
    """Adamax, as ``torch.optim.Adamax``.

    Parameters: ``lr`` (2e-3), ``betas`` ((0.9, 0.999)), ``eps`` (1e-8), ``weight_decay``
    (0), ``maximize`` (False).
    """

    update = staticmethod(adamax_update)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 maximize=False):
        _check_adam(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize))
