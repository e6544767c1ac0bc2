"""``minimize``: run any optimizer of this package on a plain NumPy function of one array."""
from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

import dualad as ad
import reverse as rv
from dualad.front import DERIVATIVE_MODES

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .newton import Newton
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["minimize", "METHODS"]

#: method name -> (optimizer class, settings it implies); "momentum" and "nesterov" are SGD
METHODS = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "rmsprop": (RMSprop, {}),
    "adadelta": (Adadelta, {}),
    "rprop": (Rprop, {}),
    "adam": (Adam, {}),
    "adamw": (AdamW, {}),
    "adamax": (Adamax, {}),
    "nadam": (NAdam, {}),
    "newton": (Newton, {}),
}



def _gradient_fn(f, mode):
    if mode == "numeric":
        return lambda x: ad.numeric.gradient(f, x)
    return ad.grad(f, mode=mode)


def minimize(f, x0, method="adam", mode="auto", steps=100, *, gtol=1e-10, callback=None,
             **hyper):
    """Minimize the scalar function ``f(x)`` of one array from ``x0`` with an optimizer.

    Parameters
    ----------
    f : callable
        A plain NumPy function of one array returning a scalar.
    x0 : array_like
        The starting point (integers become float64).
    method : str
        The lower-case name of an optimizer: ``"sgd"``, ``"adagrad"``, ``"rmsprop"``,
        ``"adadelta"``, ``"rprop"``, ``"adam"``, ``"adamw"``, ``"adamax"``, ``"nadam"``,
        ``"newton"``; or ``"momentum"`` (SGD with ``momentum=0.9``) and ``"nesterov"`` (SGD
        with ``momentum=0.9, nesterov=True``).
    mode : str
        How the gradient is taken: ``"reverse"`` (the tape), ``"forward"`` (DualArray lanes),
        ``"numeric"`` (central differences), or ``"auto"``: reverse, which takes the gradient
        of a scalar function in one sweep. For ``"newton"`` the Hessian is taken in the same
        mode (forward over reverse for ``"reverse"``).
    steps : int
        The most optimizer steps to take.
    gtol : float
        Stop (successfully) once ``max |∇f(x)| <= gtol``.
    callback : callable, optional
        Called as ``callback(x)`` after every step.
    **hyper
        Hyperparameters of the optimizer (``lr``, ``betas``, ``momentum``, ``damping``...),
        overriding the method's defaults.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (the last iterate), ``fun`` (``f(x)``), ``jac`` (the gradient at ``x``),
        ``nit`` (steps taken), ``success`` (the gradient tolerance was met), ``message``, and
        ``path``: the iterates ``x0, x1, ...`` stacked, shape ``(nit + 1, *x0.shape)``.
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"minimize: unknown method {method!r}; valid methods: "
                         f"{', '.join(METHODS)}")
    if mode not in DERIVATIVE_MODES:  # "auto" is reverse: one sweep for a scalar function
        raise ValueError(f"minimize: unknown mode {mode!r}; valid modes: "
                         f"{', '.join(DERIVATIVE_MODES)}")
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"minimize: steps must be a non-negative int, got {steps!r}")
    method = method.lower()
    chosen = "reverse" if mode == "auto" else mode
    x0 = np.array(x0, copy=True)
    if not np.issubdtype(x0.dtype, np.floating):
        x0 = x0.astype(np.float64)

    param = rv.Tensor(x0, requires_grad=True)
    cls, implied = METHODS[method]
    settings = {**implied, **hyper}
    if cls is Newton:
        settings["mode"] = chosen
    opt = cls([param], **settings)
    grad_fn = _gradient_fn(f, chosen)

    x = x0
    path = [x0.copy()]
    success = False
    message = f"the gradient did not reach gtol={gtol:g} in {steps} steps"
    nit = 0
    g = None
    for nit in range(steps + 1):
        g = np.asarray(grad_fn(x))
        if not np.all(np.isfinite(g)) or not np.all(np.isfinite(x)):
            message = f"non-finite value or gradient at step {nit}: the iteration diverged"
            break
        if np.max(np.abs(g), initial=0.0) <= gtol:
            success = True
            message = f"max |gradient| <= gtol={gtol:g}"
            break
        if nit == steps:
            break
        if cls is Newton:
            opt.step(f)
        else:
            param.grad = g
            opt.step()
        x = np.array(param.data)
        path.append(x.copy())
        if callback is not None:
            callback(x.copy())
    fun = np.asarray(f(x))
    return OptimizeResult(x=x, fun=fun[()] if fun.ndim == 0 else fun, jac=g, nit=nit,
                          success=success, message=message, path=np.stack(path),
                          method=method, mode=chosen)
