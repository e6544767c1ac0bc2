"""reverse.vjp and reverse.grad: pytrees, dtypes, lanes, errors, nesting (reverse over reverse,
forward over reverse), perturbation confusion, and the memory the tape keeps."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import dualad as ad
import reverse as rv
from dualad import DualArray
from dualad.ops import new_level
from reverse.saving import Meta


def seed_f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


# ---------------------------------------------------------------------------------------------
# vjp
# ---------------------------------------------------------------------------------------------

def test_vjp_seed_and_results_are_plain_arrays():
    out, vjp_fn = rv.vjp(seed_f, 2.0, 5.0)
    assert float(out) == pytest.approx(11.652071455223084)
    g1, g2 = vjp_fn(1.0)
    assert isinstance(g1, np.ndarray) and g1.shape == () and g1.dtype == np.float64
    assert float(g1) == 5.5 and float(g2) == pytest.approx(1.7163378145367738)
    # calling it again works (the tape is kept for vjp_fn), and scales linearly
    h1, h2 = vjp_fn(2.0)
    assert float(h1) == 11.0 and float(h2) == pytest.approx(2 * 1.7163378145367738)
    assert ad.vjp is rv.vjp


def test_vjp_pytrees_keep_their_containers():
    def f(p, scale):
        return {"a": p["w"] * scale, "b": [np.sum(p["v"][0] ** 2), p["v"][1]]}
    p = {"w": np.array([1.0, 2.0]), "v": (np.array([3.0]), 4.0)}
    out, vjp_fn = rv.vjp(f, p, 2.0)
    assert set(out) == {"a", "b"} and isinstance(out["b"], list)
    ct = {"a": np.array([1.0, 1.0]), "b": [np.float64(1.0), 1.0]}
    gp, gs = vjp_fn(ct)
    assert isinstance(gp, dict) and isinstance(gp["v"], tuple)
    np.testing.assert_allclose(gp["w"], [2.0, 2.0])
    np.testing.assert_allclose(gp["v"][0], [6.0])
    assert gp["v"][1].shape == () and float(gp["v"][1]) == 1.0
    assert float(gs) == 3.0
    with pytest.raises(ValueError, match="structure"):
        vjp_fn({"a": np.ones(2)})


def test_vjp_lanes_equal_single_cotangents():
    a = np.random.default_rng(0).uniform(-1, 1, (3, 4))
    f = lambda x: np.tanh(a @ x)  # noqa: E731
    x = np.linspace(-1, 1, 4)
    out, vjp_fn = rv.vjp(f, x)
    us = np.random.default_rng(1).uniform(-1, 1, (5, 3))
    (lanes,) = vjp_fn(us, lanes=True)
    assert lanes.shape == (5, 4)
    for k in range(5):
        np.testing.assert_allclose(lanes[k], vjp_fn(us[k])[0], rtol=1e-14)
    # the identity as lanes gives the Jacobian
    (jac,) = vjp_fn(np.eye(3), lanes=True)
    np.testing.assert_allclose(jac, (1 - out[:, None] ** 2) * a, rtol=1e-13)
    with pytest.raises(ValueError, match=r"\(K, \*\(3,\)\)"):
        vjp_fn(np.ones(3), lanes=True)
    with pytest.raises(ValueError, match="cotangent 0 has shape"):
        vjp_fn(np.ones(4))


def test_vjp_dtypes_integers_and_constants():
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    out, vjp_fn = rv.vjp(lambda x, n: x ** n * 3.0, x32, 2)
    assert out.dtype == np.float32
    gx, gn = vjp_fn(np.ones(2, np.float32))
    assert gx.dtype == np.float32
    np.testing.assert_allclose(gx, [6.0, 12.0])
    assert float(gn) == 0.0  # integer primals are constants: a zero cotangent
    # an output that does not depend on the input, and an output that is the input
    out, vjp_fn = rv.vjp(lambda x: (np.ones(2), x), np.array([1.0, 2.0]))
    (g,) = vjp_fn((np.ones(2), np.array([3.0, 4.0])))
    np.testing.assert_allclose(g, [3.0, 4.0])


def test_vjp_has_aux_returns_plain_aux():
    def f(x):
        y = np.sin(x)
        return np.sum(y), {"y": y, "n": 3}
    out, vjp_fn, aux = rv.vjp(f, np.array([0.1, 0.2]), has_aux=True)
    assert isinstance(aux["y"], np.ndarray) and not isinstance(aux["y"], rv.Tensor)
    np.testing.assert_allclose(aux["y"], np.sin([0.1, 0.2]))
    np.testing.assert_allclose(vjp_fn(1.0)[0], np.cos([0.1, 0.2]))
    with pytest.raises(TypeError, match="pair"):
        rv.vjp(lambda x: x, 1.0, has_aux=True)


def test_vjp_out_is_read_only_so_the_tape_stays_right():
    out, vjp_fn = rv.vjp(np.exp, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="read-only"):
        out[0] = 5.0
    np.testing.assert_allclose(vjp_fn(np.ones(2))[0], np.exp([0.0, 1.0]))


def test_vjp_fn_retain_graph_false_frees_the_tape():
    out, vjp_fn = rv.vjp(lambda x: np.sum(np.exp(x)), np.ones(3))
    np.testing.assert_allclose(vjp_fn(1.0, retain_graph=False)[0], np.exp(np.ones(3)))
    with pytest.raises(RuntimeError, match="retain_graph"):
        vjp_fn(1.0)


def test_vjp_ignores_an_outer_no_grad_and_leaves_the_user_graph_alone():
    w = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with rv.no_grad():
        out, vjp_fn = rv.vjp(lambda x: np.sum(x * x), np.array([1.0, 3.0]))
    np.testing.assert_allclose(vjp_fn(1.0)[0], [2.0, 6.0])
    assert w.grad is None


# ---------------------------------------------------------------------------------------------
# grad
# ---------------------------------------------------------------------------------------------

def test_grad_argnums_and_aux():
    g = rv.grad(seed_f, argnums=(0, 1))(2.0, 5.0)
    assert isinstance(g, tuple) and float(g[0]) == 5.5
    assert float(rv.grad(seed_f)(2.0, 5.0)) == 5.5
    assert float(rv.grad(seed_f, argnums=-1)(2.0, 5.0)) == pytest.approx(1.7163378145367738)
    gr, aux = rv.grad(lambda x: (np.sum(x ** 2), np.max(x)), has_aux=True)(np.array([1.0, 3.0]))
    np.testing.assert_allclose(gr, [2.0, 6.0])
    assert float(aux) == 3.0 and not isinstance(aux, rv.Tensor)
    assert rv.grad(lambda x, scale=1.0: scale * np.sum(x))(np.ones(2), scale=3.0)[0] == 3.0


def test_grad_errors_say_what_to_do():
    with pytest.raises(TypeError, match=r"grad needs a scalar output \(shape \(\)\), got shape "
                                        r"\(3,\)\. Use jacfwd/jacrev/jacobian or vjp"):
        rv.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(TypeError, match="got a list"):
        rv.grad(lambda x: [x])(1.0)
    with pytest.raises(TypeError, match="integer.*constants.*Pass a float"):
        rv.grad(lambda x: x * 2.0)(3)
    with pytest.raises(TypeError, match="dtype int64"):
        rv.grad(lambda x: np.sum(x * 2.0))(np.arange(3))
    with pytest.raises(ValueError, match="out of range"):
        rv.grad(seed_f, argnums=2)(2.0, 5.0)


def test_reverse_grad_is_dualad_grad_in_reverse_mode():
    # one argument front: the same results and the same messages, keywords and complex alike
    f = lambda x, scale=1.0: np.sum(np.abs(x) ** 2) * scale  # noqa: E731
    z = np.array([3.0 + 4.0j, 1.0 - 2.0j])
    np.testing.assert_array_equal(rv.grad(f)(z, scale=2.0), ad.grad(f)(z, scale=2.0))
    np.testing.assert_allclose(rv.grad(f)(z, scale=2.0), 4 * np.conj(z))  # JAX's convention
    for bad in (lambda x: x * 2, lambda x: (x, x)):
        with pytest.raises(TypeError) as a:
            rv.grad(bad)(np.ones(2))
        with pytest.raises(TypeError) as b:
            ad.grad(bad)(np.ones(2))
        assert str(a.value) == str(b.value)


def test_grad_float32_and_pytree_argument():
    x = np.array([1.0, 2.0], dtype=np.float32)
    g = rv.grad(lambda x: np.sum(np.sin(x) * 2.0))(x)
    assert g.dtype == np.float32
    p = {"a": np.array([1.0, 2.0]), "b": [3.0]}
    gp = rv.grad(lambda p: np.sum(p["a"] ** 2) * p["b"][0])(p)
    np.testing.assert_allclose(gp["a"], [6.0, 12.0])
    assert isinstance(gp["b"], list) and float(gp["b"][0]) == 5.0


def test_grad_of_a_constant_function_is_zero():
    g = rv.grad(lambda x: 3.0)(np.ones(2))
    np.testing.assert_array_equal(g, [0.0, 0.0])


# ---------------------------------------------------------------------------------------------
# nesting
# ---------------------------------------------------------------------------------------------

def logsumexp_problem(rng, m=5, n=4):
    a = rng.uniform(-1, 1, (m, n))

    def f(x):
        return ad.logsumexp(a @ x) + 0.5 * np.sum(x * x)

    def hess(x):
        z = a @ x
        p = np.exp(z - np.max(z))
        p = p / p.sum()
        return a.T @ (np.diag(p) - np.outer(p, p)) @ a + np.eye(len(x))
    return f, hess


def test_reverse_over_reverse_second_derivatives():
    assert float(rv.grad(rv.grad(lambda x: x ** 3))(2.0)) == 12.0
    assert float(rv.grad(rv.grad(rv.grad(lambda x: np.sin(x))))(0.3)) == pytest.approx(
        -np.cos(0.3), rel=1e-14)
    rng = np.random.default_rng(0)
    f, hess = logsumexp_problem(rng)
    x = rng.uniform(-1, 1, 4)
    # the Hessian by reverse over reverse: vjp of the gradient with identity lanes
    _, vjp_fn = rv.vjp(rv.grad(f), x)
    (h,) = vjp_fn(np.eye(4), lanes=True)
    np.testing.assert_allclose(h, hess(x), rtol=1e-12, atol=1e-14)


def test_forward_over_reverse_hessian():
    rng = np.random.default_rng(1)
    f, hess = logsumexp_problem(rng)
    x = rng.uniform(-1, 1, 4)
    g = rv.grad(f)(DualArray(x, np.eye(4), lanes=True))
    assert isinstance(g, DualArray)
    np.testing.assert_allclose(g.primal, rv.grad(f)(x), rtol=1e-14)
    np.testing.assert_allclose(g.tangent, hess(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ad.hessian(f)(x), hess(x), rtol=1e-12, atol=1e-14)


def test_forward_over_reverse_through_the_tensor_api():
    # a Tensor around a DualArray: backward() runs the rules on DualArrays
    xv = np.array([0.5, -1.0])
    x = rv.Tensor(DualArray(xv, np.eye(2), lanes=True), requires_grad=True)
    y = np.sum(np.sin(x) * x[0])
    y.backward()
    grad = x.grad
    assert isinstance(grad, DualArray)
    expected = np.array([[-np.sin(xv[0]) * xv[0] + 2 * np.cos(xv[0]), np.cos(xv[1])],
                         [np.cos(xv[1]), -np.sin(xv[1]) * xv[0]]])
    np.testing.assert_allclose(grad.tangent, expected, rtol=1e-13)


def test_cotangent_may_be_a_tracer():
    # a DualArray cotangent: d/ds of Jᵀ(u + s·w) is Jᵀw
    out, vjp_fn = rv.vjp(lambda x: np.sin(x) * 2.0, np.array([0.1, 0.2]))
    (g,) = vjp_fn(DualArray(np.ones(2), np.array([1.0, 3.0])))
    np.testing.assert_allclose(g.tangent, 2.0 * np.cos([0.1, 0.2]) * [1.0, 3.0])
    # a user-level Tensor cotangent: the sweep is recorded on the user graph
    u = rv.Tensor(np.ones(2), requires_grad=True)
    (g,) = vjp_fn(u)
    assert isinstance(g, rv.Tensor)
    g.sum().backward()
    np.testing.assert_allclose(u.grad, 2.0 * np.cos([0.1, 0.2]))


def test_functional_grad_of_a_user_tensor_expression():
    # rv.grad inside the user graph: d/dx (x·w) = w is a Tensor on the user graph
    w = rv.Tensor(2.0, requires_grad=True)
    g = rv.grad(lambda x: x * w * x)(3.0)   # 2·x·w = 12
    assert isinstance(g, rv.Tensor) and float(g.data) == 12.0
    g.backward()                            # d/dw (2·x·w) = 2x = 6
    assert float(w.grad) == 6.0


def _jvp_fresh(f, x, t):
    """A forward-mode derivative at a fresh level (what a transform does)."""
    return f(DualArray._new(np.asarray(x, float), np.asarray(t, float)[None], new_level(),
                            False)).tangent


def test_perturbation_confusion_reverse_over_reverse():
    # D(λx. x · D(λy. x + y)(1))(1) == 1
    assert float(rv.grad(lambda x: x * rv.grad(lambda y: x + y)(1.0))(1.0)) == 1.0
    # D(λx. x · D(λy. x · y)(2))(3) = D(x²)(3) = 6
    assert float(rv.grad(lambda x: x * rv.grad(lambda y: x * y)(2.0))(3.0)) == 6.0
    # the user-level graph around a functional grad
    x = rv.Tensor(1.0, requires_grad=True)
    z = x * rv.grad(lambda y: x + y)(1.0)
    z.backward()
    assert float(x.grad) == 1.0


def test_perturbation_confusion_forward_over_reverse():
    # outer forward derivative, inner reverse: still 1
    d = ad.jvp(lambda x: x * rv.grad(lambda y: x + y)(1.0), (1.0,), (1.0,))[1]
    assert float(d) == 1.0
    d = ad.jvp(lambda x: x * rv.grad(lambda y: x * y)(2.0), (3.0,), (1.0,))[1]
    assert float(d) == 6.0


def test_perturbation_confusion_reverse_over_forward():
    g = rv.grad(lambda x: x * _jvp_fresh(lambda y: x + y, 1.0, 1.0))(1.0)
    assert float(g) == 1.0
    g = rv.grad(lambda x: x * _jvp_fresh(lambda y: x * y, 2.0, 1.0))(3.0)
    assert float(g) == 6.0


# ---------------------------------------------------------------------------------------------
# what the tape keeps
# ---------------------------------------------------------------------------------------------

def test_tape_keeps_only_what_the_rules_read():
    x = rv.Tensor(np.full((32, 32), 0.01), requires_grad=True)
    w = rv.Tensor(np.ones((32, 32)), requires_grad=True)
    z = w @ x
    h = np.tanh(z)
    assert isinstance(h._node.args[0], Meta)            # tanh's rule reads only its answer
    assert not isinstance(h._node.ans, Meta)             # ...which it keeps
    assert isinstance(z._node.ans, Meta)                # matmul's rule does not read its answer
    assert not isinstance(z._node.args[0], Meta)        # ...but reads both arguments
    small = np.tanh(rv.Tensor(np.ones(3), requires_grad=True) * 2.0)
    assert not isinstance(small._node.args[0], Meta)    # tiny arrays are not worth a Meta
    h.sum().backward()                                  # and the sweep still works
    np.testing.assert_allclose(w.grad, 32 * (1 - np.tanh(0.32) ** 2) * 0.01 * np.ones((32, 32)))


def _peak(fn):
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_memory_of_a_deep_tanh_network_matches_hand_written_backprop():
    layers, width, batch = 20, 128, 32
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((width, width)) / np.sqrt(width) for _ in range(layers)]
    x0 = rng.standard_normal((width, batch))

    def f(x):
        h = x
        for w in ws:
            h = np.tanh(w @ h)
        return np.sum(h)

    def by_hand(x):
        hs = [x]
        for w in ws:
            hs.append(np.tanh(w @ hs[-1]))
        g = np.ones_like(hs[-1])
        for i in reversed(range(layers)):
            g = ws[i].T @ (g * (1.0 - hs[i + 1] ** 2))
            hs[i + 1] = None
        return g

    hand_peak, g_hand = _peak(lambda: by_hand(x0))
    tape_peak, g_tape = _peak(lambda: rv.grad(f)(x0))
    np.testing.assert_allclose(g_tape, g_hand, rtol=1e-12)
    assert tape_peak <= 1.1 * hand_peak, (tape_peak, hand_peak)
