"""Long programs: a 1000-step loop under hessian, and 10⁵ equations, trace, compile and replay
(the generated code is flat: no recursion grows with the program's length)."""
import numpy as np

import dualad as ad


def slow_drift(x, steps=1000):
    for _ in range(steps):
        x = x + 0.001 * np.sin(x)
    return np.sum(x * x)


def test_hessian_of_a_1000_step_loop():
    h = ad.hessian(slow_drift)
    x = np.array([0.3, -0.2, 1.5])
    prog = ad.trace(h, x)
    assert len(prog.equations) > 15000
    ref = h(np.array([0.5, 0.1, -1.0]))
    assert np.abs(ref).max() > 0.5  # a Hessian far from zero, so the comparison means something
    np.testing.assert_allclose(prog(np.array([0.5, 0.1, -1.0])), ref, rtol=1e-11, atol=1e-12)


def test_hundred_thousand_equations():
    def f(x):
        return slow_drift(x, steps=34000)

    x = np.array([0.7, -0.4])
    prog = ad.trace(f, x, lines=False)
    assert len(prog.equations) >= 100_000
    assert prog.source.count("\n") >= 100_000
    y = np.array([0.1, 2.0])
    assert prog(y) == f(y)  # the same operations in the same order: bitwise equal
