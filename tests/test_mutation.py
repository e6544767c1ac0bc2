"""Arrays changed in place after the tape saved them: the derivative must not change."""
import numpy as np
import pytest

import dualad as ad
import reverse as rv


def test_vjp_keeps_constants_it_read():
    c = np.array([1.0, 2.0, 3.0])
    x0 = np.array([3.0, 4.0, 5.0])
    out, fn = ad.vjp(lambda x: x * c + np.sin(x) * c[::-1], x0)
    expect = c + np.cos(x0) * c[::-1]
    c[:] = 5.0  # before the fix, fn used the new c
    np.testing.assert_allclose(fn(np.ones(3))[0], expect)


def test_vjp_keeps_primals_and_views_of_them():
    x0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[0.5, -1.0], [2.0, 1.0]])
    out, fn = ad.vjp(lambda x: np.sum((x.T @ w) ** 2), x0)
    ref = 2 * (w @ (x0.T @ w).T)  # d/dx sum((xᵀw)²) = 2 w (xᵀw)ᵀ
    num = ad.numeric.gradient(lambda x: np.sum((x.T @ w) ** 2), x0.copy())
    x0[:] = 0.0
    w[:] = 7.0
    np.testing.assert_allclose(fn(1.0)[0], ref, rtol=1e-6)
    np.testing.assert_allclose(num, ref, rtol=1e-6)


def test_vjp_keeps_index_arrays():
    idx = np.array([0, 2])
    out, fn = ad.vjp(lambda x: x[idx] * 2.0, np.array([1.0, 2.0, 3.0]))
    idx[:] = 1
    np.testing.assert_allclose(fn(np.ones(2))[0], [2.0, 0.0, 2.0])


def test_one_constant_used_many_times_is_copied_once():
    c = np.array([0.5, 1.5, -2.0, 3.0])

    def f(x):
        for _ in range(50):
            x = x * c + 1.0
        return x

    out, fn = ad.vjp(f, np.full(4, 2.0))
    node = fn._targets[0]
    saved = []
    while type(node).__name__ == "Node":
        saved.extend(v for v in node.args if isinstance(v, np.ndarray) and v.shape == (4,)
                     and np.array_equal(v, c))
        node = node.e0
    assert len(saved) == 50 and all(v is saved[0] for v in saved)  # one copy for all 50 ops
    assert saved[0] is not c
    c[:] = 0.0
    # the derivative of 50 steps x -> x*c + 1 is c**50, elementwise
    np.testing.assert_allclose(fn(np.ones(4))[0], np.array([0.5, 1.5, -2.0, 3.0]) ** 50)


def test_grad_of_mutating_f_unaffected_when_writes_come_after_sweep():
    c = np.array([2.0])
    g = ad.grad(lambda x: np.sum(x * c))
    np.testing.assert_allclose(g(np.array([1.0])), [2.0])
    c[:] = 3.0
    np.testing.assert_allclose(g(np.array([1.0])), [3.0])  # a new call reads the new c


@pytest.mark.parametrize("lanes", [False, True])
def test_jacrev_unchanged(lanes):
    c = np.array([1.0, -2.0])
    np.testing.assert_allclose(ad.jacrev(lambda x: x * c)(np.ones(2)), np.diag(c))
