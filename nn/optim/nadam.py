"""NAdam: Adam with Nesterov momentum and a warming-up momentum schedule."""
from __future__ import annotations

import numpy as np

from .adam import _check_adam
from .optimizer import Optimizer, buffers, check

__all__ = ["NAdam", "nadam_update"]


def nadam_update(param, grad, state, *, lr, betas, eps, weight_decay, momentum_decay,
                 decoupled_weight_decay):
    """One NAdam step (``torch.optim.NAdam``'s rule), pure.

    ::

        g ← g + λθ   (or θ ← θ(1 − γλ) with decoupled_weight_decay)
        μₜ = β₁(1 − ½·0.96^(tψ)),  μₜ₊₁ = β₁(1 − ½·0.96^((t+1)ψ))      (momentum_decay ψ)
        m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²
        d = √(v / (1 − β₂ᵗ)) + ε
        θ ← θ − γ(1 − μₜ)/(1 − Πᵢ≤ₜ μᵢ) · g/d − γμₜ₊₁/(1 − Πᵢ≤ₜ₊₁ μᵢ) · m/d

    The running product ``Πμᵢ`` is kept in the state as ``mu_product``, in float64.
    (``torch.optim.NAdam`` keeps it in torch's default dtype, float32 unless
    ``torch.set_default_dtype(torch.float64)``: the runs then differ by ~1e-9.)
    """
    beta1, beta2 = betas
    step = state.get("step", 0) + 1
    if weight_decay != 0:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            grad = grad + weight_decay * param
    exp_avg, exp_avg_sq = buffers(state, param, "exp_avg", "exp_avg_sq")
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = state.get("mu_product", 1.0) * mu
    exp_avg = beta1 * exp_avg + (1 - beta1) * grad
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    denom = np.sqrt(exp_avg_sq / (1 - beta2 ** step)) + eps
    new_param = (param - (lr * (1 - mu) / (1 - mu_product)) * (grad / denom)
                 - (lr * mu_next / (1 - mu_product * mu_next)) * (exp_avg / denom))
    return new_param, {"step": step, "mu_product": mu_product, "exp_avg": exp_avg,
                       "exp_avg_sq": exp_avg_sq}


class NAdam(Optimizer):
    """NAdam, as ``torch.optim.NAdam``.

    Parameters: ``lr`` (2e-3), ``betas`` ((0.9, 0.999)), ``eps`` (1e-8), ``weight_decay``
    (0), ``momentum_decay`` (4e-3), ``decoupled_weight_decay`` (False), ``maximize`` (False).
    """

    update = staticmethod(nadam_update)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        _check_adam(lr, betas, eps, weight_decay)
        check("momentum_decay value", momentum_decay >= 0.0, momentum_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))
