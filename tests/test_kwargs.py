"""Keyword arguments pass through every transform to f; only positional ones are differentiated."""
import numpy as np
import pytest

import dualad as ad


def loss(x, y=None, *, scale=1.0, offset=0.0):
    base = np.sum(x ** 3) if y is None else np.sum(x ** 3 * y)
    return scale * base + offset


X = np.array([1.0, 2.0, -0.5])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_grad_and_value_and_grad(mode):
    g = ad.grad(loss, mode=mode)(X, scale=3.0)
    np.testing.assert_allclose(g, 9.0 * X ** 2)
    v, g = ad.value_and_grad(loss, mode=mode)(X, scale=3.0, offset=1.0)
    np.testing.assert_allclose(v, 3.0 * np.sum(X ** 3) + 1.0)
    np.testing.assert_allclose(g, 9.0 * X ** 2)
    # a keyword array is not differentiated, even when it is a float array
    y = np.array([2.0, 1.0, 1.0])
    np.testing.assert_allclose(ad.grad(loss, mode=mode)(X, y=y), 3.0 * X ** 2 * y)


def test_jacobians_and_hessian():
    f = lambda x, *, scale: scale * x ** 2  # noqa: E731
    expect = np.diag(6.0 * X)
    for jac in (ad.jacfwd(f), ad.jacrev(f), ad.jacobian(f), ad.jacobian(f, mode="forward"),
                ad.jacobian(f, mode="reverse")):
        np.testing.assert_allclose(jac(X, scale=3.0), expect)
    np.testing.assert_allclose(ad.jacobian(f, mode="numeric")(X, scale=3.0), expect, rtol=1e-6)
    np.testing.assert_allclose(ad.hessian(loss)(X, scale=3.0), np.diag(18.0 * X))


def test_jvp_vjp_hvp():
    out, t = ad.jvp(loss, (X,), (np.ones(3),), scale=2.0)
    np.testing.assert_allclose(t, 6.0 * np.sum(X ** 2))
    out, fn = ad.vjp(loss, X, scale=2.0)
    np.testing.assert_allclose(fn(1.0)[0], 6.0 * X ** 2)
    out, fn, aux = ad.vjp(lambda x, k: (loss(x, scale=k), k), X, has_aux=True, k=2.0)
    np.testing.assert_allclose(fn(1.0)[0], 6.0 * X ** 2)
    v = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(ad.hvp(loss, (X,), (v,), scale=2.0)[0], 12.0 * X * v)


def test_sparse_transforms_pass_keyword_arguments():
    def f(x, scale=1.0):
        return np.sin(x) * scale + x[::-1] * x

    def g(x, scale=1.0):
        return np.sum(np.sin(x) * x) * scale

    x = np.linspace(0.1, 0.9, 5)
    dense = ad.jacfwd(f)(x, scale=3.0)
    np.testing.assert_array_equal(ad.jacobian_sparsity(f)(x, scale=3.0).toarray(), dense != 0)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(ad.sparse_jacobian(f, mode=mode)(x, scale=3.0).toarray(),
                                   dense, rtol=1e-14)
    np.testing.assert_allclose(ad.sparse_hessian(g)(x, scale=2.0).toarray(),
                               ad.hessian(g)(x, scale=2.0), rtol=1e-13)
    assert ad.hessian_sparsity(g)(x, scale=2.0).shape == (5, 5)
