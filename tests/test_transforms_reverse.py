"""Reverse and mixed-mode transforms: grad/value_and_grad by the tape, jacrev, jacobian(mode=),
hessian (forward over reverse) against other nestings and the analytic Hessian, hvp."""
import math

import numpy as np
import pytest

import dualad as ad
import reverse as rv

RNG = np.random.default_rng(7)
A = RNG.standard_normal((6, 4))


def seed_f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def lse_objective(x):
    """logsumexp(Ax) + ½‖x‖²: the Hessian is Aᵀ(diag p − p pᵀ)A + I with p = softmax(Ax)."""
    return ad.logsumexp(A @ x) + 0.5 * np.sum(x * x)


def lse_hessian(x):
    z = A @ x
    p = np.exp(z - np.max(z))
    p /= p.sum()
    return A.T @ (np.diag(p) - np.outer(p, p)) @ A + np.eye(len(x))


X0 = np.array([0.3, -0.2, 0.5, 0.1])


def test_vjp_is_reverse_vjp():
    assert ad.vjp is rv.vjp


def test_grad_reverse_seed_table3():
    g = ad.grad(seed_f, argnums=(0, 1))(2.0, 5.0)
    np.testing.assert_allclose(g, (5.5, 2.0 - math.cos(5.0)), rtol=1e-15)
    assert all(isinstance(v, np.ndarray) and v.shape == () for v in g)


def test_value_and_grad_reverse_has_aux():
    f = lambda x: (np.sum(np.sin(x)), {"mean": np.mean(x)})
    (v, aux), g = ad.value_and_grad(f, has_aux=True)(X0)
    assert v == pytest.approx(np.sum(np.sin(X0)))
    assert type(aux["mean"]) is np.ndarray and aux["mean"] == pytest.approx(np.mean(X0))
    np.testing.assert_allclose(g, np.cos(X0), rtol=1e-15)


def test_grad_modes_agree_on_pytrees():
    f = lambda p: np.sum(np.tanh(A @ p["w"]) * p["s"][0])
    params = {"w": X0, "s": [1.5]}
    fwd = ad.grad(f, mode="forward")(params)
    rev = ad.grad(f)(params)
    assert isinstance(rev, dict) and isinstance(rev["s"], list)
    np.testing.assert_allclose(rev["w"], fwd["w"], rtol=1e-13)
    np.testing.assert_allclose(rev["s"][0], fwd["s"][0], rtol=1e-13)


def test_grad_reverse_errors():
    with pytest.raises(TypeError, match="scalar"):
        ad.grad(np.sin)(np.ones(3))
    with pytest.raises(TypeError, match="integer"):
        ad.grad(lambda x: x * 2.0)(3)


def test_grad_reverse_float32():
    g = ad.grad(lambda x: np.sum(np.exp(x) * 2.0))(np.float32([0.5, 1.0]))
    assert g.dtype == np.float32


@pytest.mark.parametrize("chunk", [None, 1, 4])
def test_jacrev_equals_jacfwd_and_analytic(chunk):
    f = lambda x: np.tanh(A @ x)
    J = (1 - np.tanh(A @ X0) ** 2)[:, None] * A
    np.testing.assert_allclose(ad.jacrev(f, chunk=chunk)(X0), J, rtol=1e-14)
    np.testing.assert_allclose(ad.jacfwd(f)(X0), J, rtol=1e-14)


def test_jacrev_of_a_scalar_function_is_its_gradient():
    # one output lane: jacrev takes the plain sweep (no lane axis) and adds the axis back
    f = lambda x, y: np.sum(np.sin(x) * y) + np.log(y[0])
    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, 2.5])
    jx, jy = ad.jacrev(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(jx, np.cos(x) * y, rtol=1e-15)
    np.testing.assert_allclose(jy, np.sin(x) + np.array([1 / y[0], 0.0, 0.0]), rtol=1e-15)
    assert jx.shape == (3,) and jx.flags.writeable and not np.shares_memory(jx, jy)


def test_jacrev_shapes_and_structure():
    f = lambda x, y: {"p": np.outer(x, y), "s": np.sum(x * y[0])}
    x, y = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])
    jx, jy = ad.jacrev(f, argnums=(0, 1))(x, y)["p"], ad.jacrev(f, argnums=1)(x, y)["p"]
    assert jx[0].shape == (3, 2, 3) and jx[1].shape == (3, 2, 2) and jy.shape == (3, 2, 2)
    np.testing.assert_allclose(jx[0], ad.jacfwd(f, argnums=0)(x, y)["p"])


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto", "numeric"])
def test_jacobian_modes_agree(mode):
    wide = lambda x: np.sin(A @ x)        # 4 inputs, 6 outputs
    narrow = lambda x: np.sin(A.T @ x)    # 6 inputs, 4 outputs
    for f, x in ((wide, X0), (narrow, np.linspace(-1, 1, 6))):
        tol = 1e-7 if mode == "numeric" else 1e-14
        np.testing.assert_allclose(ad.jacobian(f, mode=mode)(x), ad.jacfwd(f)(x), rtol=tol,
                                   atol=tol)


def test_auto_picks_forward_for_wide_and_reverse_for_narrow():
    assert ad.choose_mode(lambda x: np.sin(A @ x), (X0,)) == "forward"
    assert ad.choose_mode(lambda x: np.sin(A.T @ x), (np.ones(6),)) == "reverse"
    assert ad.choose_mode(lse_objective, (X0,)) == "reverse"


def test_hessian_is_analytic_and_agrees_with_other_nestings():
    H = ad.hessian(lse_objective)(X0)
    np.testing.assert_allclose(H, lse_hessian(X0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ad.jacfwd(ad.jacrev(lse_objective))(X0), H, rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(ad.jacrev(ad.jacrev(lse_objective))(X0), H, rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(ad.jacfwd(ad.jacfwd(lse_objective))(X0), H, rtol=1e-12,
                               atol=1e-14)


def test_hessian_shape_for_matrix_input():
    f = lambda m: np.sum(m ** 3)
    m = np.arange(6.0).reshape(2, 3)
    H = ad.hessian(f)(m)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H.reshape(6, 6), np.diag(6 * m.ravel()))


def test_hvp_without_forming_the_hessian():
    v = np.array([1.0, -1.0, 0.5, 2.0])
    (hv,) = ad.hvp(lse_objective, (X0,), (v,))
    np.testing.assert_allclose(hv, lse_hessian(X0) @ v, rtol=1e-12)
    h1, h2 = ad.hvp(seed_f, (2.0, 5.0), (1.0, 0.0))
    # ∂²f/∂x1² = −1/x1², ∂²f/∂x2∂x1 = 1
    assert h1 == pytest.approx(-0.25) and h2 == pytest.approx(1.0)


def D_fwd(f):
    return lambda x: ad.jvp(f, (x,), (1.0,))[1]


def D_rev(f):
    return ad.grad(f)


@pytest.mark.parametrize("outer, inner", [(D_fwd, D_rev), (D_rev, D_fwd), (D_rev, D_rev)])
def test_perturbation_confusion_across_modes(outer, inner):
    assert outer(lambda x: x * inner(lambda y: x + y)(1.0))(1.0) == pytest.approx(1.0)
    assert outer(lambda x: x * inner(lambda y: x * y)(2.0))(3.0) == pytest.approx(6.0)


def test_check_grads_both_modes_second_order():
    ad.check_grads(lse_objective, (X0,), order=2, modes=("forward", "reverse"))
    ad.check_grads(seed_f, (2.0, 5.0), order=2)
