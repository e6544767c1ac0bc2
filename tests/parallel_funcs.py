"""Module-level functions for tests/test_parallel.py: worker processes import them by name."""
import numpy as np

import dualad as ad
from reverse import Tensor


def mixed(x, w, scale):
    """Two outputs from two differentiated arguments and a constant: a pytree on both sides."""
    h = np.tanh(w["a"] @ x + w["b"]) * scale
    return {"h": h, "s": np.sum(np.sin(x) * x) + np.prod(w["b"][:2])}


def with_aux(x):
    y = np.exp(np.sin(x)) * x[::-1]
    return y, {"norm": np.sqrt(np.sum(x * x))}


def fails_on_lane_4(x):
    """Raises in exactly the block whose first forward lane seeds entry 4 (chunk=2: block 3)."""
    if isinstance(x, ad.DualArray) and x.tangent[0, 4] == 1:
        raise ValueError("boom at lane 4")
    return np.cos(x) * x


def fails_when_taped(x):
    """Runs plainly, raises on the tape: jacrev's local evaluation passes, every worker fails."""
    if isinstance(x, Tensor):
        raise ArithmeticError("boom on the tape")
    return np.cos(x) * x


def ode_residual(x, steps=20):
    """A small explicit-Euler integration: the kind of f the executors are for."""
    y = x
    for _ in range(steps):
        y = y + 0.05 * (np.roll(y, 1) - 2 * y + np.roll(y, -1) - y ** 3)
    return y
