"""Forward transforms: jvp (one direction and lanes), jacfwd (chunks, budget, pytrees), grad in
forward mode, argnums and the bad-input errors."""
import math

import numpy as np
import pytest

import dualad as ad
import dualad.transforms as tr


def seed_f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


SEED_GRAD = (5.5, 2.0 - math.cos(5.0))


# -- jvp ---------------------------------------------------------------------------------------

def test_jvp_seed_example():
    out, t = ad.jvp(seed_f, (2.0, 5.0), (1.0, 0.0))
    assert out == pytest.approx(11.652071455223084) and t == pytest.approx(5.5)
    assert isinstance(out, np.ndarray) and out.shape == () and isinstance(t, np.ndarray)


def test_jvp_lanes_is_a_jacobian_matrix_product():
    A = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    f = lambda x: np.tanh(A @ x)
    x = np.array([0.1, 0.2, -0.3])
    V = np.random.default_rng(0).standard_normal((4, 3))
    out, T = ad.jvp(f, (x,), (V,), lanes=True)
    J = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    np.testing.assert_allclose(T, V @ J.T, rtol=1e-14)
    for k in range(4):  # lanes equal K separate single-direction passes
        np.testing.assert_allclose(ad.jvp(f, (x,), (V[k],))[1], T[k], rtol=1e-15)


def test_jvp_pytrees_keep_their_containers():
    def f(p):
        return {"s": p["a"] * p["b"][0], "t": [p["b"][1] ** 2]}
    primals = ({"a": 2.0, "b": [3.0, 4.0]},)
    tangents = ({"a": 1.0, "b": [0.0, 1.0]},)
    out, t = ad.jvp(f, primals, tangents)
    assert isinstance(out, dict) and isinstance(out["t"], list)
    assert t["s"] == pytest.approx(3.0) and t["t"][0] == pytest.approx(8.0)


def test_jvp_constant_output_has_zero_tangent():
    out, t = ad.jvp(lambda x: np.ones(3), (np.zeros(2),), (np.ones(2),))
    np.testing.assert_array_equal(t, np.zeros(3))


def test_jvp_wrong_tangent_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        ad.jvp(np.sin, (np.zeros(2),), (np.zeros(3),))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        ad.jvp(np.sin, (np.zeros(2),), (np.zeros((2, 3)),), lanes=True)


def test_jvp_structure_mismatch_and_non_tuple():
    with pytest.raises(ValueError, match="structure"):
        ad.jvp(lambda a, b: a, (1.0, 2.0), (1.0,))
    with pytest.raises(TypeError, match="tuple"):
        ad.jvp(np.sin, 1.0, 1.0)


def test_jvp_integer_primal_is_refused():
    with pytest.raises(TypeError, match="integer"):
        ad.jvp(np.sin, (np.arange(3),), (np.ones(3),))


def test_jvp_float32_in_float32_out():
    out, t = ad.jvp(lambda x: np.exp(x) * 3.0, (np.float32([1.0, 2.0]),), (np.float32([1, 1]),))
    assert out.dtype == np.float32 and t.dtype == np.float32


# -- jacfwd -------------------------------------------------------------------------------------

def test_jacfwd_shape_is_out_shape_plus_in_shape():
    f = lambda x: np.sin(x)[:, :, None] * np.ones(4)
    x = np.random.default_rng(1).standard_normal((2, 3))
    J = ad.jacfwd(f)(x)
    assert J.shape == (2, 3, 4, 2, 3)
    expected = np.zeros((2, 3, 4, 2, 3))
    for i in range(2):
        for j in range(3):
            expected[i, j, :, i, j] = np.cos(x[i, j])
    np.testing.assert_allclose(J, expected, rtol=1e-15)


@pytest.mark.parametrize("chunk", [None, 1, 2, 3, 5, 100])
def test_jacfwd_chunks_agree(chunk):
    A = np.random.default_rng(2).standard_normal((3, 5))
    f = lambda x: np.exp(A @ x)
    x = np.linspace(-0.5, 0.5, 5)
    np.testing.assert_allclose(ad.jacfwd(f, chunk=chunk)(x), np.exp(A @ x)[:, None] * A,
                               rtol=1e-14)


# identity seeds: jacfwd's lanes for one vector argument are the identity, and a product with
# them is the other factor itself (no GEMM); the reference here is that factor


def test_identity_seed_marking():
    from dualad.ops import is_identity, mark_identity
    eye = mark_identity(np.eye(3))
    assert is_identity(eye) and not eye.flags.writeable
    assert not is_identity(eye[:, :]) and not is_identity(np.eye(3))  # views and lookalikes
    key = id(eye)
    del eye
    from dualad.ops.core import _IDENTITY_SEEDS
    assert key not in _IDENTITY_SEEDS  # no entry outlives its array
    with pytest.raises(ValueError, match="square"):
        mark_identity(np.zeros((2, 3)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jacfwd_of_products_with_the_argument_is_the_other_factor(dtype):
    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 3)).astype(dtype)
    B = rng.standard_normal((3, 5)).astype(dtype)
    x = rng.standard_normal(3)
    # inf elsewhere in A: a GEMM with the identity would give 0·inf = nan there; the
    # derivative of A @ x is A entry for entry
    A[0, 0] = np.inf
    for f, expected in ((lambda v: A @ v, A), (lambda v: v @ B, B.T)):
        J = ad.jacfwd(f)(x)
        np.testing.assert_array_equal(J, expected)
        assert J.dtype == np.result_type(dtype, np.float64)
        J[...] = 0.0  # the Jacobian is the caller's to change: it must not alias A or B
        assert np.isfinite(B).all() and A[0, 0] == np.inf and A[1, 1] != 0.0
    # a chunked pass (rows of the identity) takes the general path to the same result
    np.testing.assert_array_equal(ad.jacfwd(lambda v: A[1:] @ v, chunk=2)(x), A[1:])


@pytest.mark.parametrize("f", [lambda v: v, lambda v: v[::-1], lambda v: 1.0 * v],
                         ids=["identity", "reversed view", "scaled"])
def test_jacfwd_results_are_writable_even_when_they_are_the_seed(f):
    x = np.arange(3.0)
    J = ad.jacfwd(f)(x)
    assert J.flags.writeable
    J[...] = 7.0  # the next call's seed is not this array
    np.testing.assert_array_equal(ad.jacfwd(lambda v: v)(x), np.eye(3))


def test_identity_seed_is_read_only_to_the_function():
    def f(v):
        with pytest.raises(ValueError, match="read-only"):
            v.tangent[0, 0] = 5.0
        return v * 2.0
    np.testing.assert_array_equal(ad.jacfwd(f)(np.ones(3)), 2.0 * np.eye(3))


def test_jacfwd_memory_budget_splits_into_fewest_equal_chunks(monkeypatch):
    calls = []
    f = lambda x: np.sin(x)

    def counting(x):
        calls.append(x.num_lanes)
        return f(x)
    n = 100
    # lanes cost 2 * 8 * n bytes each: a budget of 30 lanes' worth needs 4 chunks of 25
    monkeypatch.setattr(tr, "MEMORY_BUDGET", 30 * 16 * n)
    J = ad.jacfwd(counting)(np.linspace(0, 1, n))
    assert calls == [25, 25, 25, 25]
    np.testing.assert_allclose(J, np.diag(np.cos(np.linspace(0, 1, n))), rtol=1e-15)


def test_jacfwd_bad_chunk():
    with pytest.raises(ValueError, match="chunk"):
        ad.jacfwd(np.sin, chunk=0)(np.ones(2))


def test_jacfwd_argnums_tuple_and_pytree_arguments():
    f = lambda p, y: p["w"] * y + p["b"]
    p = {"w": np.array([1.0, 2.0]), "b": 0.5}
    y = 3.0
    Jp, Jy = ad.jacfwd(f, argnums=(0, 1))(p, y)
    assert set(Jp) == {"w", "b"}
    np.testing.assert_allclose(Jp["w"], 3.0 * np.eye(2))
    np.testing.assert_allclose(Jp["b"], [1.0, 1.0])
    np.testing.assert_allclose(Jy, [1.0, 2.0])


def test_jacfwd_output_pytree():
    J = ad.jacfwd(lambda x: (x ** 2, np.sum(x)))(np.array([1.0, 2.0]))
    assert isinstance(J, tuple)
    np.testing.assert_allclose(J[0], np.diag([2.0, 4.0]))
    np.testing.assert_allclose(J[1], [1.0, 1.0])


def test_jacfwd_has_aux_returns_plain_aux():
    J, aux = ad.jacfwd(lambda x: (x * 2.0, x ** 2), has_aux=True)(np.array([3.0]))
    np.testing.assert_allclose(J, [[2.0]])
    assert type(aux) is np.ndarray and aux.tolist() == [9.0]


def test_jacfwd_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        ad.jacfwd(lambda x: x, argnums=2)(1.0)


# -- grad in forward mode -------------------------------------------------------------------------

def test_grad_forward_seed():
    g = ad.grad(seed_f, argnums=(0, 1), mode="forward")(2.0, 5.0)
    assert isinstance(g, tuple)
    np.testing.assert_allclose(g, SEED_GRAD, rtol=1e-15)
    assert ad.grad(seed_f, mode="forward")(2.0, 5.0) == pytest.approx(5.5)


def test_value_and_grad_forward_with_aux():
    f = lambda x: (np.sum(x ** 2), {"n": np.sum(x)})
    (v, aux), g = ad.value_and_grad(f, has_aux=True, mode="forward")(np.array([1.0, 2.0]))
    assert v == pytest.approx(5.0) and aux["n"] == pytest.approx(3.0)
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_grad_forward_non_scalar_output_raises():
    with pytest.raises(TypeError, match=r"scalar.*\(2,\)"):
        ad.grad(np.sin, mode="forward")(np.ones(2))


def test_grad_integer_argument_raises():
    with pytest.raises(TypeError, match="integer"):
        ad.grad(lambda x: x * 2.0, mode="forward")(3)
    with pytest.raises(TypeError, match="int64|integer"):
        ad.grad(lambda x: np.sum(x * 2.0), mode="forward")(np.arange(3))


def test_grad_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        ad.grad(np.sin, mode="sideways")


def test_integer_argument_not_differentiated_is_a_constant():
    f = lambda x, n: x ** n
    assert ad.grad(f, mode="forward")(2.0, 3) == pytest.approx(12.0)


def test_nth_derivative_by_nesting_grad():
    d = lambda f: ad.grad(f, mode="forward")
    assert d(d(d(d(np.sin))))(0.4) == pytest.approx(math.sin(0.4), rel=1e-14)
    assert d(d(lambda x: x ** 5.0))(2.0) == pytest.approx(20 * 8.0)


def test_jacobian_auto_numeric_and_forward_agree():
    A = np.random.default_rng(3).standard_normal((4, 2))
    f = lambda x: np.tanh(A @ x)
    x = np.array([0.3, -0.1])
    fwd = ad.jacobian(f, mode="forward")(x)
    np.testing.assert_allclose(ad.jacobian(f, mode="auto")(x), fwd, rtol=1e-14)
    np.testing.assert_allclose(ad.jacobian(f, mode="numeric")(x), fwd, rtol=1e-7)
    assert ad.choose_mode(f, (x,)) == "forward"
    with pytest.raises(ValueError, match="mode"):
        ad.jacobian(f, mode="magic")
