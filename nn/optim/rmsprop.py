"""RMSprop: steps scaled by a running root mean square of the gradient (optionally centered)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check

__all__ = ["RMSprop", "rmsprop_update"]


def rmsprop_update(param, grad, state, *, lr, alpha, eps, weight_decay, momentum, centered):
    """One RMSprop step (``torch.optim.RMSprop``'s rule), pure.

    ::

        g ← g + λθ                            (weight_decay λ ≠ 0)
        v ← αv + (1 − α)g²
        v̄ ← v − ḡ², ḡ ← αḡ + (1 − α)g         (centered: ḡ updated first)
        d ← √v̄ + ε   (√v + ε if not centered)
        b ← μb + g/d,  θ ← θ − γb             (momentum μ > 0)
        θ ← θ − γ g/d                         (otherwise)
    """
    step = state.get("step", 0) + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg = state.get("square_avg")
    square_avg = np.zeros_like(param) if square_avg is None else square_avg
    square_avg = alpha * square_avg + (1 - alpha) * grad * grad
    new_state = {"step": step, "square_avg": square_avg}
    if centered:
        grad_avg = state.get("grad_avg")
        grad_avg = np.zeros_like(param) if grad_avg is None else grad_avg
        grad_avg = alpha * grad_avg + (1 - alpha) * grad
        new_state["grad_avg"] = grad_avg
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0:
        buf = state.get("momentum_buffer")
        buf = np.zeros_like(param) if buf is None else buf
        buf = momentum * buf + grad / avg
        new_state["momentum_buffer"] = buf
        return param - lr * buf, new_state
    return param - lr * (grad / avg), new_state


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    Parameters: ``lr`` (1e-2), ``alpha`` (0.99, the smoothing constant), ``eps`` (1e-8),
    ``weight_decay`` (0), ``momentum`` (0), ``centered`` (False: divide by the uncentered
    second moment), ``maximize`` (False).
    """

    update = staticmethod(rmsprop_update)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        check("learning rate", lr >= 0.0, lr)
        check("epsilon value", eps >= 0.0, eps)
        check("momentum value", momentum >= 0.0, momentum)
        check("weight_decay value", weight_decay >= 0.0, weight_decay)
        check("alpha value", alpha >= 0.0, alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize))
