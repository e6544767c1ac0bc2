"""sparse_jacobian and sparse_hessian: values against the dense Jacobian/Hessian on random
programs, the 2-D Bratu residual against its analytic stencil, modes, pattern reuse, check=True
and bad input."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, strategies as st

import dualad as ad
from dualad.sparsity import evaluate
from test_sparsity_detect import programs, run_program


def bratu_residual(u, n, lam=1.0):
    h = 1.0 / (n + 1)
    up = np.pad(u.reshape(n, n), 1)
    lap = (up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:]
           - 4 * up[1:-1, 1:-1]) / h ** 2
    return (-lap - lam * np.exp(u.reshape(n, n))).ravel()


def bratu_jacobian(u, n, lam=1.0):
    """The analytic Jacobian: -Laplacian (5-point, Dirichlet) minus lam * diag(exp(u))."""
    h = 1.0 / (n + 1)
    lap1 = sp.diags_array([1.0, -2.0, 1.0], offsets=[-1, 0, 1], shape=(n, n))
    lap = sp.kron(lap1, sp.eye_array(n)) + sp.kron(sp.eye_array(n), lap1)
    return sp.csr_array(-lap / h ** 2 - lam * sp.diags_array(np.exp(u)))


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_bratu_is_exact_against_the_analytic_stencil(mode):
    n = 40
    u = np.random.default_rng(0).uniform(size=n * n)
    j = ad.sparse_jacobian(lambda v: bratu_residual(v, n), mode=mode)(u)
    ref = bratu_jacobian(u, n)
    assert isinstance(j, sp.csr_array) and j.shape == (n * n, n * n)
    assert j.nnz == ref.nnz == 5 * n * n - 4 * n
    assert abs(j - ref).max() <= 1e-12 * abs(ref).max()


@given(programs, st.integers(0, 2 ** 31 - 1), st.sampled_from(["forward", "reverse"]))
def test_random_programs_equal_the_dense_jacobian(steps, seed, mode):
    x = np.random.default_rng(seed).uniform(0.3, 1.7, 12)
    f = lambda v: run_program(steps, v)
    dense = np.asarray(ad.jacfwd(f)(x)).reshape(-1, 12)
    assume(np.isfinite(dense).all())  # a NaN spreads over the entries sharing its lane
    got = ad.sparse_jacobian(f, mode=mode)(x).toarray()
    np.testing.assert_allclose(got, dense, rtol=1e-12, atol=1e-12 * max(1.0, abs(dense).max()))


@given(programs, st.integers(0, 2 ** 31 - 1))
def test_random_hessians_equal_the_dense_hessian(steps, seed):
    x = np.random.default_rng(seed).uniform(0.3, 1.7, 12)
    f = lambda v: np.sum(np.sin(run_program(steps, v)))
    dense = np.asarray(ad.hessian(f)(x))
    assume(np.isfinite(dense).all())  # a NaN spreads over the entries sharing its lane
    got = ad.sparse_hessian(f)(x).toarray()
    np.testing.assert_allclose(got, dense, rtol=1e-11, atol=1e-11 * max(1.0, abs(dense).max()))


def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    d = np.zeros_like(x)
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    return sp.csr_array(sp.diags_array([off, d, off], offsets=[-1, 0, 1]))


def test_chained_rosenbrock_hessian_against_the_formula():
    x = np.random.default_rng(1).uniform(-1, 1, 2000)
    h = ad.sparse_hessian(rosenbrock)(x)
    ref = rosenbrock_hessian(x)
    assert abs(h - ref).max() <= 1e-12 * abs(ref).max()
    assert evaluate.col.star_coloring(ad.hessian_sparsity(rosenbrock)(x)).num_colors == 3


def test_auto_takes_the_side_with_fewer_colors():
    # a dense last row: every column conflicts (forward needs n lanes), rows need 2
    f = lambda x: np.concatenate([np.sin(x), np.sum(x)[None]])
    x = np.linspace(0.1, 1.0, 30)
    p = ad.jacobian_sparsity(f)(x)
    plan = evaluate._Plan(p, "auto", "dsatur")
    assert plan.mode == "reverse" and plan.coloring.num_colors == 2
    assert plan.fwd.num_colors == 30
    np.testing.assert_allclose(ad.sparse_jacobian(f)(x).toarray(), ad.jacfwd(f)(x), rtol=1e-14)


def test_a_given_pattern_is_colored_once_and_reused(monkeypatch):
    n = 8
    f = lambda v: bratu_residual(v, n)
    u = np.random.default_rng(2).uniform(size=n * n)
    jac = ad.sparse_jacobian(f, sparsity=ad.jacobian_sparsity(f)(u))
    calls = []
    real = evaluate.col.column_coloring
    monkeypatch.setattr(evaluate.col, "column_coloring", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(evaluate, "jacobian_sparsity", None)  # never detected again
    for k in range(3):
        np.testing.assert_allclose(jac(u + k).toarray(), bratu_jacobian(u + k, n).toarray(),
                                   rtol=1e-12)
    assert len(calls) == 1  # on the first call only (5 colors: no row coloring can beat it)


def test_several_arguments_and_outputs():
    f = lambda a, b: (a * b[0], np.cumsum(b) * a[1])
    a, b = np.array([0.5, 2.0, 3.0]), np.array([1.5, -1.0])
    j = ad.sparse_jacobian(f, argnums=(0, 1))(a, b).toarray()
    ja, jb = ad.jacfwd(f, argnums=(0, 1))(a, b)[0], ad.jacfwd(f, argnums=(0, 1))(a, b)[1]
    dense = np.block([[ja[0], ja[1]], [jb[0], jb[1]]])
    np.testing.assert_allclose(j, dense, rtol=1e-14)


def test_check_catches_a_pattern_missing_a_nonzero():
    n = 6
    f = lambda v: bratu_residual(v, n)
    u = np.random.default_rng(3).uniform(size=n * n)
    p = ad.jacobian_sparsity(f)(u).tolil()
    p[7, 8] = False  # drop one neighbor
    bad = sp.csr_array(p)
    ad.sparse_jacobian(f, sparsity=bad)(u)  # silently wrong without the check
    with pytest.raises(ValueError, match="check=True"):
        ad.sparse_jacobian(f, sparsity=bad, check=True)(u)
    good = ad.sparse_jacobian(f, sparsity=ad.jacobian_sparsity(f)(u), check=True)(u)
    assert abs(good - bratu_jacobian(u, n)).max() < 1e-9


def test_bad_sparsity_arguments():
    f = lambda v: np.sin(v[:3])
    x = np.ones(5)
    with pytest.raises(ValueError, match="sparsity must be a scipy.sparse"):
        ad.sparse_jacobian(f, sparsity=np.ones((3, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"sparsity has shape \(3, 4\)"):
        ad.sparse_jacobian(f, sparsity=sp.csr_array(np.ones((3, 4))))(x)
    with pytest.raises(ValueError, match=r"sparsity has shape \(2, 5\)"):
        ad.sparse_jacobian(f, sparsity=sp.csr_array(np.ones((2, 5))), mode="reverse")(x)
    with pytest.raises(ValueError, match=r"sparsity has shape \(4, 5\)"):
        ad.sparse_jacobian(f, sparsity=sp.csr_array(np.ones((4, 5))))(x)
    with pytest.raises(ValueError, match="mode"):
        ad.sparse_jacobian(f, mode="sideways")
    with pytest.raises(ValueError, match=r"sparsity has shape \(4, 4\)"):
        ad.sparse_hessian(lambda v: np.sum(v ** 3), sparsity=sp.eye_array(4))(x)
    with pytest.raises(TypeError, match="integer"):
        ad.sparse_jacobian(f)(np.arange(5))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_chunked_lanes_give_the_same_jacobian(mode):
    n = 12
    f = lambda v: bratu_residual(v, n)
    u = np.random.default_rng(4).uniform(size=n * n)
    p = ad.jacobian_sparsity(f)(u)
    whole = ad.sparse_jacobian(f, sparsity=p, mode=mode)(u)
    for chunk in (1, 2, 4):
        part = ad.sparse_jacobian(f, sparsity=p, mode=mode, chunk=chunk)(u)
        assert abs(part - whole).max() == 0.0
    with pytest.raises(ValueError, match="chunk"):
        ad.sparse_jacobian(f, chunk=0)


def test_hessian_of_two_arguments():
    f = lambda a, b: np.sum(a ** 2 * b[0]) + np.sin(b[1]) * a[-1]
    a, b = np.array([0.5, 2.0, 3.0]), np.array([1.5, -1.0])
    h = ad.sparse_hessian(f, argnums=(0, 1))(a, b).toarray()
    dense = ad.hessian(f, argnums=(0, 1))(a, b)
    full = np.block([[dense[0][0], dense[0][1]], [dense[1][0], dense[1][1]]])
    np.testing.assert_allclose(h, full, rtol=1e-14)
    p = ad.hessian_sparsity(f, argnums=(0, 1))(a, b).toarray()
    assert not (full != 0)[~p].any() and not p[0, 1]  # a0, a1 do not interact


def bratu_10(v):  # module level: picklable for a process pool
    return bratu_residual(v, 10)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_an_executor_gives_the_serial_result(mode):
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
    u = np.random.default_rng(5).uniform(size=100)
    p = ad.jacobian_sparsity(bratu_10)(u)
    serial = ad.sparse_jacobian(bratu_10, sparsity=p, mode=mode)(u)
    with ThreadPoolExecutor(2) as ex:
        threads = ad.sparse_jacobian(bratu_10, sparsity=p, mode=mode, executor=ex)(u)
    with ProcessPoolExecutor(2) as ex:
        procs = ad.sparse_jacobian(bratu_10, sparsity=p, mode=mode, executor=ex, chunk=2)(u)
    assert abs(threads - serial).max() == 0.0 and abs(procs - serial).max() == 0.0


def test_changing_a_result_in_place_leaves_the_reused_pattern_alone():
    n = 6
    f = lambda v: bratu_residual(v, n) * (v > 0.5)  # some structural entries are 0 here
    u = np.random.default_rng(6).uniform(size=n * n)
    jac = ad.sparse_jacobian(f, sparsity=ad.jacobian_sparsity(f)(u))
    first = jac(u)
    first.eliminate_zeros()
    np.testing.assert_array_equal(jac(1.0 - u).toarray(), ad.jacfwd(f)(1.0 - u))
