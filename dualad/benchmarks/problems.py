"""Benchmark problems shared by the benchmark scripts and ``dualad compare``."""
from __future__ import annotations

import math

import numpy as np

R_GAS = 8.314
TEMPERATURE = 273.0


def helmholtz_setup(n, seed=0):
    """Inputs of the Helmholtz free energy (Baydin et al. 2018, Table 4) of size ``n``:
    ``(x, b, A)`` with x, b in (0, 1)ⁿ, A symmetric, and bᵀx < 1 so the logs are defined."""
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.0, 1.0, n) / n
    x = rng.uniform(0.0, 1.0, n)
    a = rng.uniform(-1.0, 1.0, (n, n))
    return x, b, (a + a.T) / 2


def helmholtz(x, b, A):
    """f(x) = RT Σ xᵢ log(xᵢ / (1 − bᵀx)) − xᵀAx / (√8 bᵀx) · log((1 + (1+√2) bᵀx) / (1 + (1−√2) bᵀx))."""
    bx = b @ x
    first = R_GAS * TEMPERATURE * np.sum(x * np.log(x / (1.0 - bx)))
    ratio = (1.0 + (1.0 + math.sqrt(2.0)) * bx) / (1.0 + (1.0 - math.sqrt(2.0)) * bx)
    return first - (x @ (A @ x)) / (math.sqrt(8.0) * bx) * np.log(ratio)


def mlp_setup(n, m, hidden=256, seed=0):
    """Weights and a point for the two-layer map ``tanh(W2 @ tanh(W1 @ x))``: ℝⁿ → ℝᵐ."""
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((hidden, n)) / math.sqrt(n)
    w2 = rng.standard_normal((m, hidden)) / math.sqrt(hidden)
    return rng.standard_normal(n), w1, w2


def mlp(x, w1, w2):
    return np.tanh(w2 @ np.tanh(w1 @ x))


def mlp_jacobian(x, w1, w2):
    """The hand-written analytic Jacobian of :func:`mlp`: diag(1−y²) W2 diag(1−h²) W1."""
    h = np.tanh(w1 @ x)
    y = np.tanh(w2 @ h)
    return ((1.0 - y * y)[:, None] * w2) @ ((1.0 - h * h)[:, None] * w1)


def logistic_map(x, steps=1000):
    """``l ← 4 l (1 − l)`` repeated: three primitives per step."""
    for _ in range(steps):
        x = 4.0 * x * (1.0 - x)
    return x
