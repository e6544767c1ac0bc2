"""Sparsity detection: each rule kind against the dense Jacobian's nonzeros, random programs
over a menu of ops (the detected pattern contains every nonzero), the fallback and its report,
the Hessian pattern, and the shapes and errors of the public functions."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, strategies as st

import dualad as ad

RNG = np.random.default_rng(0)


def dense_nonzeros(f, x):
    j = np.asarray(ad.jacfwd(f)(x))
    return j.reshape(-1, x.size) != 0


def pattern(f, x, **kw):
    return ad.jacobian_sparsity(f, **kw)(x)


def assert_exact(f, x):
    """The detected pattern is exactly the dense Jacobian's nonzeros at a generic point."""
    p = pattern(f, x)
    assert isinstance(p, sp.csr_array) and p.dtype == bool
    np.testing.assert_array_equal(p.toarray(), dense_nonzeros(f, x))


# -- one rule kind at a time: exact patterns --------------------------------------------------

X = RNG.uniform(0.5, 1.5, 12)

EXACT = {
    "unary elementwise": lambda x: np.sin(x) * np.exp(x),
    "broadcast elementwise": lambda x: x.reshape(3, 4) * x.reshape(3, 4)[:1] + x[:4],
    "reshape and transpose": lambda x: x.reshape(3, 4).T,
    "basic indexing": lambda x: x.reshape(3, 4)[1:, ::-2],
    "advanced indexing": lambda x: x[np.array([3, 3, 0, 11])],
    "pad": lambda x: np.pad(x.reshape(3, 4), ((1, 0), (2, 1)), constant_values=7.0),
    "concatenate": lambda x: np.concatenate([x[:3], np.ones(2), x[5:]]),
    "stack and broadcast_to": lambda x: np.stack([x, np.broadcast_to(x[0], (12,))]),
    "sum over an axis": lambda x: np.sum(x.reshape(3, 4) ** 2, axis=0),
    "prod": lambda x: np.prod(x.reshape(2, 6), axis=1),
    "cumsum": lambda x: np.cumsum(x.reshape(3, 4), axis=1),
    "cumprod": lambda x: np.cumprod(x.reshape(4, 3), axis=0),
    "matmul, constant left": lambda x: np.diag([1.0, 0.0, 2.0]) @ x.reshape(3, 4),
    "matmul, constant right": lambda x: x.reshape(3, 4) @ np.eye(4)[:, :2],
    "matvec, both traced": lambda x: x.reshape(3, 4) @ x[:4],
    "index_add (a getitem's transpose)": lambda x: ad.ops.shape.index_add(
        x[:4], (np.array([0, 2, 2, 5]),), (6,)),
}


@pytest.mark.parametrize("name", list(EXACT))
def test_rule_kind_gives_the_exact_pattern(name):
    assert_exact(EXACT[name], X)


def test_max_depends_on_its_whole_axis_at_every_point():
    # the pattern is global: any entry along the axis may be the maximum somewhere
    p = pattern(lambda x: np.max(x.reshape(3, 4), axis=1, keepdims=True), X).toarray()
    np.testing.assert_array_equal(p, np.kron(np.eye(3), np.ones(4)) != 0)
    assert not (dense_nonzeros(lambda x: np.max(x.reshape(3, 4), axis=1), X) & ~p).any()


def test_zero_derivative_ops_contribute_nothing():
    f = lambda x: np.floor(x) * x[0] + np.sign(x)
    p = pattern(f, X).toarray()
    assert p[:, 0].all() and not p[:, 1:].any()


def test_where_condition_and_constant_branch():
    f = lambda x: np.where(x > 1.0, x ** 2, 3.0)
    np.testing.assert_array_equal(pattern(f, X).toarray(), np.eye(12, dtype=bool))


def test_a_constant_output_has_empty_rows():
    p = ad.jacobian_sparsity(lambda x: (np.sin(x[:2]), np.ones(3)))(X)
    assert p.shape == (5, 12)
    np.testing.assert_array_equal(p.toarray()[:, :2], np.r_[np.eye(2), np.zeros((3, 2))] != 0)
    assert p[2:].nnz == 0


def test_bratu_pattern_is_the_five_point_stencil():
    n = 6
    def residual(u):
        up = np.pad(u.reshape(n, n), 1)
        lap = up[:-2, 1:-1] + up[2:, 1:-1] + up[1:-1, :-2] + up[1:-1, 2:] - 4 * up[1:-1, 1:-1]
        return (lap + np.exp(u.reshape(n, n))).ravel()
    p = pattern(residual, RNG.uniform(size=n * n))
    lap1 = sp.diags_array([1, 1, 1], offsets=[-1, 0, 1], shape=(n, n), dtype=float)
    stencil = sp.kron(lap1, sp.eye_array(n)) + sp.kron(sp.eye_array(n), lap1)
    np.testing.assert_array_equal(p.toarray(), stencil.toarray() != 0)
    assert p.nnz == 5 * n * n - 4 * n


# -- the fallback ------------------------------------------------------------------------------

def test_fallback_is_dense_over_the_operand_and_reported():
    def f(x):
        a = x[:4].reshape(2, 2) + np.eye(2) * 3
        return np.concatenate([np.linalg.inv(a).ravel(), np.sin(x[4:6])])
    p, report = ad.jacobian_sparsity(f, report=True)(X)
    assert report == {"numpy.linalg.inv": 1}
    expected = np.zeros((6, 12), dtype=bool)
    expected[:4, :4] = True
    expected[4, 4] = expected[5, 5] = True
    np.testing.assert_array_equal(p.toarray(), expected)
    assert dense_nonzeros(f, X)[~p.toarray()].sum() == 0


def test_no_fallback_reports_an_empty_dict():
    assert ad.jacobian_sparsity(np.sin, report=True)(X)[1] == {}


# -- random programs: never a missed nonzero ---------------------------------------------------

UNARY = [
    lambda a: np.sin(a), lambda a: np.exp(0.1 * a), lambda a: a ** 2, lambda a: np.tanh(a) * 3,
    lambda a: np.floor(a) + a, lambda a: a[::-1], lambda a: a[1:] if len(a) > 1 else a,
    lambda a: np.cumsum(a, axis=0), lambda a: np.pad(a, [(1, 1)] + [(0, 0)] * (a.ndim - 1)),
    lambda a: np.sum(a, axis=0, keepdims=True) * a, lambda a: np.max(a, axis=0),
    lambda a: a.T, lambda a: np.ravel(a), lambda a: np.maximum(a, 0.3),
    lambda a: np.where(a > 1.0, a, -a), lambda a: np.clip(a, 0.2, 1.2),
    lambda a: np.sort(a, axis=0), lambda a: np.diff(a, axis=0) if len(a) > 1 else a,
    lambda a: np.roll(a, 1, axis=0), lambda a: np.prod(a, axis=0, keepdims=True),
]
BINARY = [
    lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / (1.0 + b ** 2),
    lambda a, b: np.concatenate([a.ravel(), b.ravel()]), lambda a, b: np.hypot(a, b),
]


def run_program(steps, x):
    pool = [x.reshape(4, 3), x]
    for kind, i, j in steps:
        a = pool[i % len(pool)]
        a = np.reshape(a, (1,)) if np.ndim(a) == 0 else a
        if kind < len(UNARY):
            pool.append(UNARY[kind](a))
        else:
            b = pool[j % len(pool)]
            if np.shape(a) != np.shape(b):
                b = np.sum(b) * 0.5
            pool.append(BINARY[kind - len(UNARY)](a, b))
    m = RNG_CONST[:5, : pool[-1].shape[0]] if pool[-1].ndim else 1.0
    return np.ravel(pool[-1]) if pool[-1].ndim != 2 else np.ravel(m @ pool[-1])


RNG_CONST = np.where(RNG.uniform(size=(64, 64)) < 0.3, RNG.standard_normal((64, 64)), 0.0)

programs = st.lists(st.tuples(st.integers(0, len(UNARY) + len(BINARY) - 1),
                              st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=7)


@given(programs, st.integers(0, 2 ** 31 - 1))
def test_random_programs_never_miss_a_nonzero(steps, seed):
    x = np.random.default_rng(seed).uniform(0.3, 1.7, 12)
    f = lambda v: run_program(steps, v)
    p = pattern(f, x)
    nz = dense_nonzeros(f, x)
    assert p.shape == nz.shape
    assert not (nz & ~p.toarray()).any(), "the detected pattern misses a nonzero"


# -- Hessian patterns --------------------------------------------------------------------------

def test_hessian_pattern_of_chained_rosenbrock_is_tridiagonal():
    f = lambda x: np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    x = RNG.uniform(size=9)
    h = ad.hessian_sparsity(f)(x)
    np.testing.assert_array_equal(h.toarray(), np.asarray(ad.hessian(f)(x)) != 0)
    assert h.nnz == 9 + 2 * 8


def test_hessian_pattern_linear_terms_add_nothing():
    f = lambda x: np.sum(3 * x) + x[0] * x[2] + np.sin(x[4])
    h = ad.hessian_sparsity(f)(X[:6]).toarray()
    expected = np.zeros((6, 6), dtype=bool)
    expected[0, 2] = expected[2, 0] = expected[4, 4] = True
    np.testing.assert_array_equal(h, expected)


@given(programs, st.integers(0, 2 ** 31 - 1))
def test_random_hessian_patterns_never_miss_a_nonzero(steps, seed):
    x = np.random.default_rng(seed).uniform(0.3, 1.7, 12)
    f = lambda v: np.sum(np.sin(run_program(steps, v)))
    h = ad.hessian_sparsity(f)(x).toarray()
    dense = np.asarray(ad.hessian(f)(x)) != 0
    assert not (dense & ~h).any()
    np.testing.assert_array_equal(h, h.T)


# -- arguments ---------------------------------------------------------------------------------

def test_argnums_and_several_leaves_concatenate_columns():
    f = lambda a, b: a[:2] * b[1]
    p = ad.jacobian_sparsity(f, argnums=(0, 1))(X[:3], X[:2])
    expected = np.array([[1, 0, 0, 0, 1], [0, 1, 0, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(p.toarray(), expected)
    p1 = ad.jacobian_sparsity(f, argnums=1)(X[:3], X[:2])
    np.testing.assert_array_equal(p1.toarray(), expected[:, 3:])


def test_integer_argument_is_refused():
    with pytest.raises(TypeError, match="integer"):
        ad.jacobian_sparsity(np.sin)(np.arange(3))


# -- conv2d: its stencil -----------------------------------------------------------------------

CONV_CASES = [((2, 3, 6, 5), (4, 3, 3, 3), {}),
              ((1, 2, 7, 7), (3, 2, 3, 2), {"stride": 2, "padding": 1}),
              ((2, 1, 6, 6), (2, 1, 2, 2), {"dilation": 2, "padding": (1, 0)})]


@pytest.mark.parametrize("xs, ws, kw", CONV_CASES)
@pytest.mark.parametrize("traced", ["x", "w", "both"])
def test_conv2d_pattern_is_its_stencil(xs, ws, kw, traced):
    from dualad.ops.conv import conv2d
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    w[0, 0, 0, 0] = w[-1, 0, -1, 0] = 0.0  # a constant kernel's zeros are structural
    x[0, 0, 1, 1] = 0.0
    # method="direct": no FFT rounding, so the dense Jacobian's zeros are exact
    split = lambda v: (v[:x.size].reshape(xs), v[x.size:].reshape(ws))
    f, v = {"x": (lambda v: conv2d(v.reshape(xs), w, method="direct", **kw), x.ravel()),
            "w": (lambda v: conv2d(x, v.reshape(ws), method="direct", **kw), w.ravel()),
            "both": (lambda v: conv2d(*split(v), method="direct", **kw),
                     np.r_[x.ravel(), w.ravel()])}[traced]
    p, report = ad.jacobian_sparsity(f, report=True)(v)
    assert report == {}
    nz = dense_nonzeros(f, v)
    assert not (nz & ~p.toarray()).any()
    if traced != "both":  # one side traced: exact (both: x's zero entry still reads w)
        np.testing.assert_array_equal(p.toarray(), nz)


def test_a_primitive_with_several_results_falls_back_per_result():
    def f(x):
        a = x[:9].reshape(3, 3)
        return np.concatenate([np.linalg.eigh(a + a.T)[0], np.sin(x[9:])])
    p, report = ad.jacobian_sparsity(f, report=True)(X)
    assert report == {"numpy.linalg.eigh": 1}
    expected = np.zeros((6, 12), dtype=bool)
    expected[:3, :9] = True
    expected[3:, 9:] = np.eye(3, dtype=bool)
    np.testing.assert_array_equal(p.toarray(), expected)
    assert not (dense_nonzeros(f, X) & ~expected).any()
