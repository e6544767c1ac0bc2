"""Damped Newton steps with the Hessian taken by automatic differentiation.

Unlike the first-order optimizers, Newton needs the loss as a function it can differentiate
twice, not a gradient left in ``.grad``: ``step(closure)`` takes ``closure(*arrays)``, a plain
NumPy function of the parameters' values returning the loss, and differentiates it with
:func:`dualad.grad` and :func:`dualad.hessian` (forward over reverse).
"""
from __future__ import annotations

import numpy as np

import dualad as ad
from dualad.front import DERIVATIVE_MODES, check_mode

from .optimizer import Optimizer, _value, check

__all__ = ["Newton", "newton_update", "derivatives"]

#: dualad's derivative modes but "auto": the caller picks (minimize resolves its "auto" first)
_NEWTON_MODES = tuple(m for m in DERIVATIVE_MODES if m != "auto")


def newton_update(param, grad, hess, state, *, lr, damping, diagonal):
    """One damped Newton step on the flat vector ``param``, pure.

    Solves ``(H + δI) p = g`` (``damping`` δ), or with ``diagonal`` the seed's
    diagonal-Hessian preconditioning ``p = g / (diag H + δ)``, and returns
    ``(param − γp, state)`` with ``γ = lr``. A singular system raises ``ValueError``
    suggesting a positive damping.
    """
    step = state.get("step", 0) + 1
    if diagonal:
        d = np.diagonal(hess) + damping
        if np.any(d == 0):
            raise ValueError("Newton: a diagonal entry of the damped Hessian is zero; pass "
                             "damping > 0")
        direction = grad / d
    else:
        system = hess + damping * np.eye(hess.shape[0], dtype=hess.dtype)
        try:
            direction = np.linalg.solve(system, grad)
        except np.linalg.LinAlgError:
            raise ValueError("Newton: the damped Hessian H + damping·I is singular; pass "
                             "damping > 0 (or diagonal=True)") from None
    return param - lr * direction, {"step": step}


def derivatives(f, x, mode="reverse"):
    """``(f(x), ∇f(x), ∇²f(x))`` of a scalar ``f`` of a flat vector, in the mode asked for.

    ``"reverse"``: gradient by the tape, Hessian forward over reverse (:func:`dualad.hessian`);
    ``"forward"``: both by DualArray lanes (forward over forward); ``"numeric"``: central
    differences (the Hessian as differences of the numerical gradient).
    """
    check_mode("Newton", mode, _NEWTON_MODES)
    if mode == "numeric":
        grad = ad.numeric.gradient(f, x)
        # differences of the numerical gradient, whose own error is ~ε^(2/3): a larger step
        # than the default ε^(1/3) balances that noise against the truncation error
        step = np.finfo(x.dtype).eps ** 0.25 * np.maximum(np.abs(x), 1.0)
        hess = ad.numeric.jacobian(lambda v: ad.numeric.gradient(f, v), x, step=step)
        hess = 0.5 * (hess + hess.T)  # symmetric, as the exact Hessian is
        return np.asarray(f(x)), grad, hess
    value, grad = ad.value_and_grad(f, mode=mode)(x)
    if mode == "reverse":
        hess = ad.hessian(f)(x)
    else:
        hess = ad.jacfwd(ad.grad(f, mode="forward"))(x)
    return value, np.asarray(grad), np.asarray(hess)


class Newton(Optimizer):
    """Damped Newton's method: ``θ ← θ − γ (H + δI)⁻¹ ∇f``.

    Parameters
    ----------
    params : iterable
        The parameters; they are treated as one vector (the Hessian couples them), so a
        single parameter group only.
    lr : float
        Step length γ (1.0: the full Newton step).
    damping : float
        δ added to the Hessian's diagonal (Levenberg damping; keeps the step a descent
        direction where the Hessian is indefinite, if large enough).
    diagonal : bool
        Precondition with the Hessian's diagonal only, ``p = g / (diag H + δ)`` (the seed's
        diagonal-Hessian preconditioning).
    mode : str
        How the derivatives are taken: ``"reverse"`` (default; Hessian forward over reverse),
        ``"forward"`` or ``"numeric"``.

    ``step(closure)`` needs ``closure(*arrays)``: a plain NumPy function of the parameters'
    values (in order) returning the loss; it returns the loss before the step.
    The full Hessian is formed (n² entries for n parameter values): for small problems.
    """

    def __init__(self, params, lr=1.0, damping=0.0, diagonal=False, mode="reverse"):
        check("learning rate", lr >= 0.0, lr)
        check("damping value", damping >= 0.0, damping)
        check_mode("Newton", mode, _NEWTON_MODES)
        super().__init__(params, dict(lr=lr, damping=damping, diagonal=diagonal, mode=mode))
        if len(self.param_groups) != 1:
            raise ValueError("Newton doesn't support per-parameter options (parameter groups): "
                             "its Hessian couples all parameters")

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("Newton doesn't support more than one parameter group")
        super().add_param_group(param_group)

    def step(self, closure=None):
        """One damped Newton step; returns the loss at the parameters before the step."""
        if closure is None:
            raise TypeError("Newton.step needs closure(*arrays): a plain NumPy function of the "
                            "parameters' values returning the loss")
        group = self.param_groups[0]
        params = group["params"]
        values = [_value(p) for p in params]
        shapes = [v.shape for v in values]
        sizes = [v.size for v in values]
        offsets = np.cumsum([0] + sizes)
        dtype = np.result_type(*[v.dtype for v in values])
        x = np.concatenate([v.ravel() for v in values]).astype(dtype, copy=False)

        def flat_loss(v):
            parts = [np.reshape(v[offsets[i]:offsets[i + 1]], shapes[i])
                     for i in range(len(shapes))]
            return closure(*parts)

        loss, grad, hess = derivatives(flat_loss, x, group["mode"])
        # state is kept per optimizer (the Newton system is one), under the first parameter
        key = params[0]
        new_x, new_state = newton_update(x, grad, hess, self.state.get(key, {}),
                                         lr=group["lr"], damping=group["damping"],
                                         diagonal=group["diagonal"])
        self.state[key] = new_state
        for i, p in enumerate(params):
            p.data = np.reshape(new_x[offsets[i]:offsets[i + 1]], shapes[i]).astype(
                values[i].dtype, copy=True)
        return loss
