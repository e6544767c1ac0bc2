"""The seed example, run as ``python -m dualad.examples``: f(x1, x2) = ln x1 + x1·x2 − sin x2.

Shows the value at (2, 5) and its gradient by every mode dualad has, with the numerical
reference beside them.
"""
from __future__ import annotations

import numpy as np

import dualad as ad


def f(x1, x2):
    """The seed function of the AD survey (Baydin et al. 2018, Tables 2 and 3)."""
    return np.log(x1) + x1 * x2 - np.sin(x2)


def main():
    x = (2.0, 5.0)
    print("f(x1, x2) = ln x1 + x1*x2 - sin x2   at (x1, x2) = (2, 5)")
    print(f"  value            {float(f(*x)):.6f}")
    dual = f(ad.DualArray(2.0, 1.0), 5.0)
    print(f"  DualArray        df/dx1 = {float(dual.tangent):.6f}   (one forward pass, x1' = 1)")
    _, lanes = ad.jvp(f, x, (np.array([1.0, 0.0]), np.array([0.0, 1.0])), lanes=True)
    print(f"  jvp, 2 lanes     grad   = {np.round(lanes, 6)}   (one pass, both directions)")
    for mode in ("forward", "reverse"):
        g = ad.grad(f, argnums=(0, 1), mode=mode)(*x)
        print(f"  grad {mode:<8}    grad   = {np.round(np.array(g, dtype=float), 6)}")
    num = ad.numeric.gradient(lambda v: f(v[0], v[1]), np.array(x))
    print(f"  numeric central  grad   = {np.round(num, 6)}")


if __name__ == "__main__":
    main()
