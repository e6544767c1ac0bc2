"""User-defined rules: ``custom_jvp``, ``custom_vjp`` and ``elementwise_grad``, in both modes and
nested, against closed forms and finite differences."""
import numpy as np
import pytest

import dualad as ad


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@ad.custom_jvp
def log1pexp(x):
    return np.log1p(np.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * sigmoid(x)  # the decorated function: second order uses the rule


@ad.custom_jvp
def ste_round(x):
    """Round, with the straight-through derivative 1: a rule that is not f's own derivative."""
    return np.round(x)


@ste_round.defjvp
def _ste_jvp(primals, tangents):
    return ste_round(primals[0]), tangents[0]


X = np.array([-1.3, 0.2, 2.5])


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_custom_jvp_values_both_modes(mode):
    g = ad.grad(lambda v: np.sum(log1pexp(v) * v), mode=mode)(X)
    np.testing.assert_allclose(g, sigmoid(X) * X + np.log1p(np.exp(X)), rtol=1e-14)
    # the rule is what is used: round's own derivative is 0, the rule says 1
    np.testing.assert_array_equal(ad.grad(lambda v: np.sum(ste_round(v) * 2.0), mode=mode)(X),
                                  np.full(3, 2.0))


def test_custom_jvp_jacobians_lanes_and_hessian():
    jf, jr = ad.jacfwd(log1pexp)(X), ad.jacrev(log1pexp)(X)
    np.testing.assert_allclose(jf, np.diag(sigmoid(X)), rtol=1e-14)
    np.testing.assert_allclose(jr, jf, rtol=1e-14)
    h = ad.hessian(lambda v: np.sum(log1pexp(v)))(X)
    np.testing.assert_allclose(h, np.diag(sigmoid(X) * (1 - sigmoid(X))), rtol=1e-12, atol=1e-15)
    ad.check_grads(lambda v: np.sum(log1pexp(v) ** 2), (X,), order=2)


@ad.custom_jvp
def scaled_product(x, p, power):
    return p["a"] * x ** power + p["b"]


@scaled_product.defjvp
def _sp_jvp(primals, tangents):
    x, p, power = primals
    tx, tp, tpow = tangents
    assert tpow is None  # a nondiff argument gets no tangent
    out = scaled_product(x, p, power)
    return out, tp["a"] * x ** power + p["a"] * power * x ** (power - 1) * tx + tp["b"]


scaled_product_static = ad.custom_jvp(scaled_product.fun, nondiff_argnums=(2,))
scaled_product_static.defjvp(_sp_jvp)


def test_custom_jvp_pytrees_nondiff_and_adjoint():
    x = np.array([0.5, 1.5])
    p = {"a": np.array([2.0, -1.0]), "b": np.array(0.25)}
    f = lambda x, p: scaled_product_static(x, p, 3)  # noqa: E731
    jf = ad.jacfwd(f, argnums=(0, 1))(x, p)
    jr = ad.jacrev(f, argnums=(0, 1))(x, p)
    np.testing.assert_allclose(jf[0], np.diag(3 * p["a"] * x ** 2), rtol=1e-14)
    np.testing.assert_allclose(jf[1]["a"], np.diag(x ** 3), rtol=1e-14)
    np.testing.assert_allclose(jf[1]["b"], np.ones(2), rtol=1e-14)
    for a, b in zip(ad.tree_flatten(jf)[0], ad.tree_flatten(jr)[0]):
        np.testing.assert_allclose(a, b, rtol=1e-14)  # the transposed rule is the rule's adjoint
    with pytest.raises(TypeError, match="nondiff_argnums but holds a traced value"):
        ad.grad(lambda k: np.sum(scaled_product_static(x, p, k)))(3.0)


@ad.custom_vjp
def clip_gradient(x, limit):
    return x


def _clip_fwd(x, limit):
    return x, limit


def _clip_bwd(limit, g):
    return (np.clip(g, -limit, limit), None)


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


@ad.custom_vjp
def mysin(x):
    return np.sin(x)


mysin.defvjp(lambda x: (np.sin(x), np.cos(x)), lambda cos_x, g: (g * cos_x,))


def test_custom_vjp_rule_is_used_in_reverse_mode():
    x = np.array([0.1, 2.0, -3.0])
    f = lambda v: np.sum(clip_gradient(v, 1.0) ** 2)  # noqa: E731
    np.testing.assert_array_equal(ad.grad(f)(x), np.clip(2 * x, -1, 1))
    # lanes: jacrev sweeps every cotangent through bwd
    j = ad.jacrev(lambda v: clip_gradient(v, 0.5) * 4.0)(x)
    np.testing.assert_array_equal(j, np.diag(np.full(3, 0.5)))
    # forward mode differentiates the function's own code (documented)
    np.testing.assert_array_equal(ad.grad(f, mode="forward")(x), 2 * x)


def test_custom_vjp_nested_and_checked():
    x = np.array([0.3, 1.1])
    np.testing.assert_allclose(ad.grad(lambda v: np.sum(mysin(v) * v))(x),
                               np.cos(x) * x + np.sin(x), rtol=1e-14)
    np.testing.assert_allclose(ad.hessian(lambda v: np.sum(mysin(v)))(x), np.diag(-np.sin(x)),
                               rtol=1e-14, atol=1e-16)
    ad.check_grads(lambda v: np.sum(mysin(v) ** 2 * v), (x,), order=2)
    # a plain call runs the function itself
    np.testing.assert_array_equal(mysin(x), np.sin(x))


def test_bad_rules_are_clear():
    @ad.custom_vjp
    def f(x):
        return x * 2.0
    with pytest.raises(TypeError, match="has no rule: define it with f.defvjp"):
        ad.grad(lambda v: np.sum(f(v)))(np.ones(2))
    f.defvjp(lambda x: (x * 2.0, None), lambda r, g: (g, g))
    with pytest.raises(TypeError, match="bwd must return a tuple of 1 cotangent"):
        ad.grad(lambda v: np.sum(f(v)))(np.ones(2))
    f.defvjp(lambda x: (x * 2.0, None), lambda r, g: (g[:1],))
    with pytest.raises(ValueError, match="cotangent of shape"):
        ad.grad(lambda v: np.sum(f(v)))(np.ones(2))
    f.defvjp(lambda x: x * 2.0, lambda r, g: (g,))
    with pytest.raises(TypeError, match="fwd must return"):
        ad.grad(lambda v: np.sum(f(v)))(np.ones(2))

    @ad.custom_jvp
    def h(x):
        return x
    with pytest.raises(TypeError, match="has no rule: define it with @h.defjvp"):
        ad.grad(lambda v: np.sum(h(v)), mode="forward")(np.ones(2))
    h.defjvp(lambda p, t: p[0])
    with pytest.raises(TypeError, match=r"must return \(primal_out, tangent_out\)"):
        ad.grad(lambda v: np.sum(h(v)), mode="forward")(np.ones(2))
    with pytest.raises(TypeError, match="expected a function"):
        ad.custom_jvp(3)
    with pytest.raises(TypeError, match="fwd must be a function"):
        f.defvjp(None, lambda r, g: g)


def test_elementwise_grad():
    x = np.linspace(-2.0, 2.0, 7)
    np.testing.assert_allclose(ad.elementwise_grad(np.tanh)(x), 1 / np.cosh(x) ** 2,
                               rtol=1e-14)
    # not elementwise in b (a scalar): the gradient of sum(f)
    np.testing.assert_allclose(ad.elementwise_grad(lambda a, b: a * b, argnums=1)(x + 1, 3.0),
                               np.sum(x + 1))
    with pytest.raises(TypeError, match="floating"):
        ad.elementwise_grad(lambda v: v > 0)(x)


def test_missing_rule_names_the_real_module_and_the_next_step():
    sp = pytest.importorskip("scipy.special")
    x = np.array([0.3, 0.6])
    with pytest.raises(TypeError, match=r"no VJP rule for scipy\.special\.struve; .*custom_vjp"):
        ad.grad(lambda v: np.sum(sp.struve(1.0, v)))(x)
    with pytest.raises(TypeError, match=r"no JVP rule for numpy\.nanmedian; .*ad\.custom_jvp"):
        ad.grad(lambda v: np.nanmedian(v), mode="forward")(x)
