"""Jacobians across workers: ``executor=`` on jacfwd/jacrev equals the serial path bitwise."""
import concurrent.futures
import functools

import numpy as np
import pytest

import dualad as ad
from dualad import parallel

import parallel_funcs as pf


@pytest.fixture(scope="module")
def pool():
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        yield ex


@pytest.fixture(scope="module")
def threads():
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        yield ex


class InlineExecutor(concurrent.futures.Executor):
    """Runs each task in submit, and counts the submits (a test double, not a pool)."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, *args, **kwargs):
        self.submitted += 1
        fut = concurrent.futures.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as e:  # noqa: BLE001
            fut.set_exception(e)
        return fut


def _point(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(7)
    w = {"a": rng.standard_normal((5, 7)), "b": rng.standard_normal(5)}
    return x, w


def _assert_same_tree(a, b):
    la, da = ad.tree_flatten(a)
    lb, db = ad.tree_flatten(b)
    assert da == db
    for u, v in zip(la, lb):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)  # bitwise: same chunks, same arithmetic


@pytest.mark.parametrize("transform", [ad.jacfwd, ad.jacrev])
@pytest.mark.parametrize("which", ["pool", "threads"])
def test_equals_serial_bitwise(transform, which, request):
    ex = request.getfixturevalue(which)
    x, w = _point()
    serial = transform(pf.mixed, argnums=(0, 1), chunk=3)(x, w, 0.5)
    spread = transform(pf.mixed, argnums=(0, 1), chunk=3, executor=ex)(x, w, 0.5)
    _assert_same_tree(serial, spread)
    # and against an independent reference: central differences of the flat map
    num = ad.jacobian(pf.mixed, argnums=0, mode="numeric")(x, w, 0.5)
    np.testing.assert_allclose(spread["h"][0], num["h"], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("transform", [ad.jacfwd, ad.jacrev])
def test_has_aux(transform, pool):
    x = np.linspace(0.1, 1.3, 6)
    (j1, aux1) = transform(pf.with_aux, chunk=2, has_aux=True)(x)
    (j2, aux2) = transform(pf.with_aux, chunk=2, has_aux=True, executor=pool)(x)
    _assert_same_tree(j1, j2)
    _assert_same_tree(aux1, aux2)
    np.testing.assert_allclose(aux2["norm"], np.linalg.norm(x))


@pytest.mark.parametrize("transform", [ad.jacfwd, ad.jacrev])
def test_default_chunk_keeps_every_worker_busy(transform, pool):
    x = np.linspace(-1, 1, 10)
    seen = []
    jac = transform(pf.ode_residual, executor=pool, progress=lambda d, t: seen.append((d, t)))(x)
    assert seen == [(k, 4) for k in range(5)]  # 2 workers -> 2 blocks each; 0..4 done of 4
    np.testing.assert_array_equal(jac, transform(pf.ode_residual, chunk=3)(x))  # ceil(10/4)


def test_unknown_worker_count_uses_default_blocks():
    ex = InlineExecutor()
    seen = []
    ad.jacfwd(pf.ode_residual, executor=ex, progress=lambda d, t: seen.append(t))(np.ones(32))
    assert ex.submitted == parallel.DEFAULT_BLOCKS and set(seen) == {parallel.DEFAULT_BLOCKS}


def test_chunk_still_bounds_blocks(pool):
    seen = []
    ad.jacfwd(pf.ode_residual, chunk=5, executor=pool,
              progress=lambda d, t: seen.append(t))(np.ones(12))
    assert set(seen) == {3}


def test_worker_exception_arrives_as_itself_naming_the_block(pool):
    with pytest.raises(ValueError, match="boom at lane 4") as info:
        ad.jacfwd(pf.fails_on_lane_4, chunk=2, executor=pool)(np.ones(10))
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "jacfwd: in block 3 of 5 (lanes 4:6)" in notes and "ProcessPoolExecutor" in notes


def test_worker_exception_jacrev(pool):
    with pytest.raises(ArithmeticError, match="boom on the tape") as info:
        ad.jacrev(pf.fails_when_taped, chunk=2, executor=pool)(np.ones(4))
    assert "output rows" in " ".join(info.value.__notes__)


def test_unpicklable_f_refused_before_submitting():
    ex = InlineExecutor()  # pickles like a process pool (it is not a thread pool)
    g = lambda x: np.sin(x)  # noqa: E731
    with pytest.raises(TypeError, match="module level"):
        ad.jacfwd(g, executor=ex)(np.ones(3))
    with pytest.raises(TypeError, match="module level"):
        ad.jacrev(g, executor=ex)(np.ones(3))
    assert ex.submitted == 0


def test_lambda_runs_on_threads(threads):
    g = lambda x: np.sin(x) * x[0]  # noqa: E731 - threads need no pickling
    x = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(ad.jacfwd(g, chunk=1, executor=threads)(x),
                                  ad.jacfwd(g, chunk=1)(x))


def test_refuses_traced_values(pool):
    def outer(x):
        return ad.jacfwd(pf.ode_residual, executor=pool)(x).sum()
    with pytest.raises(NotImplementedError, match="inside another transform"):
        ad.grad(outer)(np.ones(3))
    # a tracer hidden in f's closure: caught by the payload scan, even on threads
    def closure(x):
        g = functools.partial(pf.mixed, w={"a": np.eye(3), "b": x}, scale=1.0)
        return ad.jacrev(g, executor=InlineExecutor())(np.ones(3))["s"].sum()
    with pytest.raises(TypeError, match="traced value"):
        ad.grad(closure)(np.ones(3))


def test_bad_arguments():
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        ad.jacfwd(np.sin, executor=4)
    with pytest.raises(TypeError, match="progress must be a bool or a callable"):
        ad.jacfwd(np.sin, progress="yes")(np.ones(2))
    with pytest.raises(ValueError, match="chunk must be a positive int"):
        ad.jacrev(np.sin, chunk=0, executor=InlineExecutor())(np.ones(2))


def test_progress_line(capsys, threads):
    ad.jacrev(pf.ode_residual, chunk=2, executor=threads, progress=True)(np.ones(4))
    err = capsys.readouterr().err
    assert "jacrev: 0/2 blocks" in err and err.endswith("jacrev: 2/2 blocks\n")
    ad.jacfwd(pf.ode_residual, chunk=3, progress=True)(np.ones(6))  # serial: the same display
    assert capsys.readouterr().err.endswith("jacfwd: 2/2 blocks\n")


def test_dask_local_cluster():
    distributed = pytest.importorskip(
        "distributed", reason="Dask is the optional extra: pip install 'dualad[distributed]'")
    x, w = _point(1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ex = client.get_executor()
        for transform in (ad.jacfwd, ad.jacrev):
            serial = transform(pf.mixed, argnums=(0, 1), chunk=2)(x, w, 2.0)
            spread = transform(pf.mixed, argnums=(0, 1), chunk=2, executor=ex)(x, w, 2.0)
            _assert_same_tree(serial, spread)
        seen = []
        ad.jacfwd(pf.ode_residual, executor=ex, progress=lambda d, t: seen.append(t))(x)
        assert set(seen) == {4}  # the cluster's 2 worker threads -> 4 blocks
        # cloudpickle sends a lambda; a worker's exception comes back as itself
        g = lambda v: np.cos(v) * v[0]  # noqa: E731
        np.testing.assert_array_equal(ad.jacfwd(g, chunk=3, executor=ex)(x),
                                      ad.jacfwd(g, chunk=3)(x))
        with pytest.raises(ValueError, match="boom at lane 4") as info:
            ad.jacfwd(pf.fails_on_lane_4, chunk=2, executor=ex)(np.ones(6))
        assert "block 3 of 3" in " ".join(info.value.__notes__)


def test_sparse_jacobian_on_workers(pool):
    sp = pytest.importorskip("scipy.sparse")
    x = np.linspace(0.2, 1.0, 12)
    pattern = ad.jacobian_sparsity(pf.ode_residual)(x)
    seen = []
    for mode in ("forward", "reverse"):
        serial = ad.sparse_jacobian(pf.ode_residual, sparsity=pattern, mode=mode)(x)
        spread = ad.sparse_jacobian(pf.ode_residual, sparsity=pattern, mode=mode, executor=pool,
                                    progress=lambda d, t: seen.append((d, t)))(x)
        assert isinstance(spread, sp.csr_array)
        np.testing.assert_array_equal(spread.toarray(), serial.toarray())
    np.testing.assert_allclose(serial.toarray(), ad.jacfwd(pf.ode_residual)(x), atol=1e-15)
    assert seen[-1][0] == seen[-1][1] > 1  # one block per color, all reported done
    ex = InlineExecutor()
    with pytest.raises(TypeError, match="module level"):
        ad.sparse_jacobian(lambda v: v * 2.0, sparsity=sp.eye_array(3, format="csr") != 0,
                           executor=ex)(np.ones(3))
    assert ex.submitted == 0
    with pytest.raises(ValueError, match="boom at lane 4"):
        ad.sparse_jacobian(pf.fails_on_lane_4, sparsity=sp.eye_array(10, format="csr") != 0,
                           mode="forward", executor=pool, chunk=1)(np.ones(10))
