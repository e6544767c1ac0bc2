"""Adam and AdamW: bias-corrected running moments of the gradient (AdamW decays the weights
apart from the gradient)."""
from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, buffers, check

__all__ = ["Adam", "AdamW", "adam_update", "adamw_update"]


def adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad):
    """One Adam step (``torch.optim.Adam``'s rule), pure.

    ::

        g ← g + λθ                                (weight_decay λ ≠ 0: an L2 penalty)
        m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
        v ← v_max ← max(v_max, v)                 (amsgrad)
        θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    With ``amsgrad`` the maximum is kept of the *uncorrected* ``v`` and corrected with the
    current step's factor, as ``torch.optim.Adam``'s code does.
    """
    beta1, beta2 = betas
    step = state.get("step", 0) + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    exp_avg, exp_avg_sq = buffers(state, param, "exp_avg", "exp_avg_sq")
    exp_avg = beta1 * exp_avg + (1 - beta1) * grad
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    new_state = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    second = exp_avg_sq
    if amsgrad:
        prev_max = state.get("max_exp_avg_sq")
        second = exp_avg_sq if prev_max is None else np.maximum(prev_max, exp_avg_sq)
        new_state["max_exp_avg_sq"] = second
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    denom = np.sqrt(second) / math.sqrt(bias_correction2) + eps
    return param - (lr / bias_correction1) * (exp_avg / denom), new_state


def adamw_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad):
    """One AdamW step (``torch.optim.AdamW``'s rule), pure: ``θ ← θ(1 − γλ)``, then Adam
    without the L2 term."""
    param = param * (1 - lr * weight_decay)
    return adam_update(param, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0,
                       amsgrad=amsgrad)


def _check_adam(lr, betas, eps, weight_decay):
    check("learning rate", lr >= 0.0, lr)
    check("epsilon value", eps >= 0.0, eps)
    check("beta parameter at index 0", 0.0 <= betas[0] < 1.0, betas[0])
    check("beta parameter at index 1", 0.0 <= betas[1] < 1.0, betas[1])
    check("weight_decay value", weight_decay >= 0.0, weight_decay)


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``.

    Parameters: ``lr`` (1e-3), ``betas`` ((0.9, 0.999)), ``eps`` (1e-8), ``weight_decay``
    (0, an L2 penalty added to the gradient), ``amsgrad`` (False), ``maximize`` (False).
    """

    update = staticmethod(adam_update)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False):
        _check_adam(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))


class AdamW(Optimizer):
    """AdamW (decoupled weight decay), as ``torch.optim.AdamW``.

    Parameters as :class:`Adam`, but ``weight_decay`` (default 1e-2) shrinks the weights
    directly, ``θ ← θ(1 − γλ)``, instead of entering the gradient.
    """

    update = staticmethod(adamw_update)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        _check_adam(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))
