"""Load: concurrent transforms in threads equal the serial results; long scalar loops under
grad and hessian finish (no recursion anywhere in the sweep).

The hessian loop runs 20 000 steps in the suite (any recursive walk would have hit Python's
limit long before; forward over reverse costs ~25 s at 10⁵ steps on a small machine);
``DUALAD_LOAD_STEPS=100000`` runs both at 10⁵.
"""
import os
import threading

import numpy as np
import pytest

import dualad as ad


def _f(k):
    a = 0.5 + 0.1 * k

    def f(x):
        return np.sum(np.sin(a * x) * x) + a * np.prod(x)
    return f


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_threads_computing_different_gradients_equal_serial(mode):
    x = np.array([0.3, -1.2, 0.7])
    serial = [ad.grad(_f(k), mode=mode)(x) for k in range(8)]
    results = [[] for _ in range(8)]
    errors = []

    def work(k):
        try:
            g = ad.grad(_f(k), mode=mode)
            for _ in range(200):
                results[k].append(g(x))
        except BaseException as e:  # (reported below: an exception in a thread is lost)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(8):
        assert len(results[k]) == 200
        for r in results[k]:
            np.testing.assert_array_equal(r, serial[k])


def _loop(x, steps):
    # a slow drift: after 10⁵ steps x has moved by O(1), and so have both derivatives (a map
    # that contracts would underflow them to 0, which any wrong rule matches as well)
    h = 10.0 / steps
    for _ in range(steps):
        x = x + h * np.sin(x)
    return x


def _reference(x0, steps):
    """(f'(x0), f''(x0)) by the chain rule by hand, one step at a time."""
    h = 10.0 / steps
    x, d, dd = x0, 1.0, 0.0
    for _ in range(steps):
        # x ← x + h sin x: the first and second derivatives of the composition
        d1 = 1.0 + h * np.cos(x)
        d2 = -h * np.sin(x)
        dd = d1 * dd + d2 * d * d
        d = d1 * d
        x = x + h * np.sin(x)
    return d, dd


@pytest.mark.parametrize("transform", ["grad", "hessian"])
def test_long_scalar_loop(transform):
    steps = int(os.environ.get("DUALAD_LOAD_STEPS", 100_000 if transform == "grad" else 20_000))
    x0 = 0.3
    d, dd = _reference(x0, steps)
    assert abs(d) > 1e-3 and abs(dd) > 1e-3
    got = getattr(ad, transform)(lambda v: _loop(v, steps))(x0)
    np.testing.assert_allclose(got, d if transform == "grad" else dd, rtol=1e-8)
