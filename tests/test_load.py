"""Load: concurrent transforms in threads, and very long scalar programs (issue 12)."""
import threading

import numpy as np
import pytest

import dualad as ad


def _objective(k):
    def f(x):
        return np.sum(np.sin(x * (k + 1)) * np.tanh(x) ** 2) + np.prod(x[:2]) * k
    return f


def test_eight_threads_both_modes_equal_serial():
    rng = np.random.default_rng(0)
    fs = [_objective(k) for k in range(8)]
    xs = [rng.standard_normal(5) for _ in range(8)]
    ref = {(k, m): ad.grad(fs[k], mode=m)(xs[k]) for k in range(8) for m in ("forward", "reverse")}
    # the references agree with each other and with the hand-derived gradient of objective 0
    x = xs[0]
    hand = np.cos(x) * np.tanh(x) ** 2 + np.sin(x) * 2 * np.tanh(x) / np.cosh(x) ** 2
    np.testing.assert_allclose(ref[(0, "reverse")], hand, rtol=1e-12)
    mismatches, errors = [], []

    def work(k):
        try:
            for i in range(200):
                for m in ("forward", "reverse"):
                    if not np.array_equal(ad.grad(fs[k], mode=m)(xs[k]), ref[(k, m)]):
                        mismatches.append((k, m, i))
        except Exception as e:  # noqa: BLE001 - reported below, with the thread's number
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and mismatches == []


H, STEPS = 1e-5, 100_000


def _long_loop(x):
    """Explicit Euler for x' = -x³: slow decay, so the derivatives stay of order one."""
    for _ in range(STEPS):
        x = x - H * x ** 3
    return x


def _hand_derivatives(x0):
    """x_{k+1} = x - h x³: d' = (1 - 3h x²) d, s' = (1 - 3h x²) s - 6h x d² (the chain rule)."""
    x, d, s = x0, 1.0, 0.0
    for _ in range(STEPS):
        s = (1 - 3 * H * x * x) * s - 6 * H * x * d * d
        d = (1 - 3 * H * x * x) * d
        x = x - H * x ** 3
    return x, d, s


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_hundred_thousand_step_loop_under_grad(mode):
    x, d, _ = _hand_derivatives(0.8)
    assert 0.2 < d < 0.5  # (1 + 2 x0²)^(-3/2), about, for the continuous flow
    value, g = ad.value_and_grad(_long_loop, mode=mode)(0.8)
    assert value == pytest.approx(x, rel=1e-13) and g == pytest.approx(d, rel=1e-10)


def test_hundred_thousand_step_loop_under_hessian():
    _, _, s = _hand_derivatives(0.8)
    assert abs(s) > 0.1
    assert ad.hessian(_long_loop)(0.8) == pytest.approx(s, rel=1e-10)
