"""Rprop: each coordinate moves by its own step size, grown or shrunk by the gradient's sign."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check

__all__ = ["Rprop", "rprop_update"]


def rprop_update(param, grad, state, *, lr, etas, step_sizes):
    """One Rprop step (``torch.optim.Rprop``'s rule), pure.

    Per coordinate, with ``p`` the previous (kept) gradient and ``η`` the step size (starting
    at ``lr``)::

        η ← min(η·η₊, Γmax) if p·g > 0;  max(η·η₋, Γmin) if p·g < 0;  else η
        g ← 0 where p·g < 0   (after a sign change, hold still for one step)
        θ ← θ − η·sign(g),  p ← g
    """
    etaminus, etaplus = etas
    step_min, step_max = step_sizes
    step = state.get("step", 0) + 1
    prev = state.get("prev")
    step_size = state.get("step_size")
    if prev is None:
        prev = np.zeros_like(param)
        step_size = np.full_like(param, lr)
    sign = np.sign(grad * prev)
    factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0))
    step_size = np.clip(step_size * factor, step_min, step_max).astype(param.dtype, copy=False)
    grad = np.where(sign < 0, 0.0, grad).astype(param.dtype, copy=False)
    new_param = param - step_size * np.sign(grad)
    return new_param, {"step": step, "prev": grad, "step_size": step_size}


class Rprop(Optimizer):
    """Resilient backpropagation, as ``torch.optim.Rprop``.

    Parameters: ``lr`` (1e-2, the initial step size), ``etas`` ((0.5, 1.2): the factors
    (η₋, η₊) that shrink and grow the step), ``step_sizes`` ((1e-6, 50): its bounds
    (Γmin, Γmax)), ``maximize`` (False).
    """

    update = staticmethod(rprop_update)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 maximize=False):
        check("learning rate", lr >= 0.0, lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                                      maximize=maximize))
