"""Op-table entries for ``np.linalg`` (and ``np.tril``/``np.triu``): forward mode against finite
differences, JVP/VJP adjointness of every primitive bound, batching, second order, float32 and
the documented errors."""
import numpy as np
import pytest

import dualad as ad
from dualad import DualArray
from dualad.ops import linalg as la
from ophelpers import check_adjoint, check_forward, fd_jvp

RNG = np.random.default_rng(1234)


def rand(*shape):
    return RNG.uniform(-1.0, 1.0, size=shape)


def well(*shape):
    """A well-conditioned square (batch of) matrix."""
    n = shape[-1]
    return rand(*shape) + n * np.eye(n)


def spd(x):
    """Symmetric positive definite, built inside f from an arbitrary square x."""
    n = x.shape[-1]
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n, dtype=x.dtype)


def check(f, *args, **kw):
    """check_forward and check_adjoint together; returns the forward output."""
    out = check_forward(f, args, **kw)
    check_adjoint(f, args, argnums=kw.get("argnums"))
    return out


def same_primal(f, *args):
    ref = f(*args)
    out = f(*[DualArray(a, np.zeros_like(a)) for a in args])
    np.testing.assert_array_equal(out.primal, ref)


# ---------------------------------------------------------------------------------------------
# tril / triu
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [np.tril, np.triu])
@pytest.mark.parametrize("k", [-1, 0, 2])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 3, 4)])
def test_tril_triu(fn, k, shape):
    x = rand(*shape)
    out = check(lambda a: fn(a, k), x)
    np.testing.assert_array_equal(out.primal, fn(x, k))


# ---------------------------------------------------------------------------------------------
# inv, det, slogdet, solve
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3)])
@pytest.mark.parametrize("name", ["inv", "det", "logabsdet"])
def test_inv_det_slogdet(name, shape):
    f = {"inv": np.linalg.inv, "det": np.linalg.det,
         "logabsdet": lambda a: np.linalg.slogdet(a).logabsdet}[name]
    a = well(*shape)
    check(f, a)
    same_primal(f, a)


def test_slogdet_sign_is_constant_and_negative_det():
    a = well(3, 3)
    a[[0, 1]] = a[[1, 0]]  # a row swap: negative determinant
    res = np.linalg.slogdet(DualArray(a, rand(3, 3)))
    assert isinstance(res.sign, (np.ndarray, np.generic)) and res.sign == -1
    sign, logabsdet = res  # unpacks like NumPy's result
    assert isinstance(logabsdet, DualArray) and logabsdet.primal == np.linalg.slogdet(a)[1]
    check(lambda x: np.linalg.slogdet(x).logabsdet, a)
    check(np.linalg.det, a)


@pytest.mark.parametrize("ashape, bshape", [
    ((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (3, 2)),
    ((3, 3), (2, 3, 4)), ((2, 3, 3), (2, 3, 1)), ((2, 1, 3, 3), (4, 3, 2))])
def test_solve(ashape, bshape):
    a, b = well(*ashape), rand(*bshape)
    out = check(np.linalg.solve, a, b)
    np.testing.assert_array_equal(out.primal, np.linalg.solve(a, b))
    check(np.linalg.solve, a, b, argnums=(0,))
    check(np.linalg.solve, a, b, argnums=(1,))


# ---------------------------------------------------------------------------------------------
# cholesky, eigh, eigvalsh
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(shape, upper):
    x = rand(*shape)
    check(lambda x: np.linalg.cholesky(spd(x), upper=upper), x)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_symmetric_directions(upper):
    # the input is taken to be symmetric (JAX/PyTorch): along symmetric directions the rule
    # matches finite differences of NumPy's function, which reads one triangle
    a = spd(rand(2, 4, 4))
    check(lambda a: np.linalg.cholesky(0.5 * (a + np.swapaxes(a, -1, -2)), upper=upper), a)
    same_primal(lambda a: np.linalg.cholesky(a, upper=upper), a)


@pytest.mark.parametrize("UPLO", ["L", "U"])
@pytest.mark.parametrize("part", ["w", "vv", "eigvalsh"])
def test_eigh_reads_one_triangle_as_numpy(UPLO, part):
    # NumPy reads only the UPLO triangle: on a non-symmetric A the Jacobian (both modes) equals
    # central differences of NumPy's function entry by entry, zero on the other triangle
    f = {"w": lambda a: np.linalg.eigh(a, UPLO=UPLO)[0],
         "vv": lambda a: np.linalg.eigh(a, UPLO=UPLO)[1] ** 2,
         "eigvalsh": lambda a: np.linalg.eigvalsh(a, UPLO=UPLO)}[part]
    a = rand(4, 4) + np.diag([0.0, 3.0, 6.0, 9.0])
    num = ad.numeric.jacobian(f, a)
    unread = np.triu(np.ones((4, 4)), 1) if UPLO == "L" else np.tril(np.ones((4, 4)), -1)
    assert np.all(num[..., unread == 1] == 0)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(ad.jacobian(f, mode=mode)(a), num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [lambda a: np.linalg.cholesky(a)])
def test_symmetric_convention_tangent_and_cotangent(fn):
    a = spd(rand(4, 4)) + np.diag([0.0, 2.0, 4.0, 6.0])
    v = rand(4, 4)
    sym = 0.5 * (v + v.T)
    # a non-symmetric direction counts by its symmetric part ...
    np.testing.assert_allclose(fn(DualArray(a, v)).tangent, fn(DualArray(a, sym)).tangent,
                               rtol=1e-12, atol=1e-12)
    # ... and so the cotangent of A is symmetric: ⟨ū, J v⟩ = ⟨Āᵀ, v⟩ for every v
    ans = fn(a)
    u = rand(*np.shape(ans))
    lanes = np.stack([np.eye(16)[k].reshape(4, 4) for k in range(16)])
    jac = fn(DualArray(a, lanes, lanes=True)).tangent.reshape(16, -1)
    abar = (jac @ u.ravel()).reshape(4, 4)
    np.testing.assert_allclose(abar, abar.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 3)])
@pytest.mark.parametrize("part", ["w", "vv", "eigvalsh"])
def test_eigh(shape, part):
    f = {"w": lambda x: np.linalg.eigh(spd(x)).eigenvalues,
         "vv": lambda x: np.linalg.eigh(spd(x)).eigenvectors ** 2,  # column signs cancel
         "eigvalsh": lambda x: np.linalg.eigvalsh(spd(x))}[part]
    check(f, rand(*shape))


@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh_symmetric_directions(UPLO):
    a = rand(2, 4, 4) + np.diag([0.0, 2.0, 4.0, 6.0])  # well-separated eigenvalues
    a = 0.5 * (a + np.swapaxes(a, -1, -2))
    sym = lambda x: 0.5 * (x + np.swapaxes(x, -1, -2))
    check(lambda x: np.linalg.eigh(sym(x), UPLO=UPLO)[1] ** 2, a)
    check(lambda x: np.linalg.eigvalsh(sym(x), UPLO=UPLO), a)
    same_primal(lambda x: np.linalg.eigh(x, UPLO=UPLO).eigenvectors, a)


def test_eigh_unused_eigenvectors_skip_the_gap_condition():
    # repeated eigenvalues: only the eigenvector terms are undefined, and they are skipped
    a = np.diag([1.0, 1.0, 2.0])
    w, v = np.linalg.eigh(a)
    gw = rand(2, 3)
    ga = la.eigh_p.vjp(0, (gw, np.zeros((2, 3, 3))), (w, v), a, UPLO="L")
    q = v @ (gw[:, :, None] * np.eye(3)) @ v.T  # V diag(w̄) Vᵀ, gathered on the lower triangle
    np.testing.assert_allclose(ga, np.tril(q) + np.tril(q, -1), atol=1e-14)
    with pytest.raises(ValueError, match="numpy.linalg.eigh: derivative undefined for repeated"):
        la.eigh_p.vjp(0, (gw, rand(2, 3, 3)), (w, v), a, UPLO="L")
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        np.linalg.eigh(DualArray(a, rand(3, 3)))
    out = np.linalg.eigvalsh(DualArray(a, np.eye(3)))  # the eigenvalues alone are fine
    np.testing.assert_allclose(out.tangent, np.ones(3))


# ---------------------------------------------------------------------------------------------
# qr
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (4, 1), (2, 5, 2)])
@pytest.mark.parametrize("part", ["Q", "R", "r-mode"])
def test_qr(shape, part):
    f = {"Q": lambda a: np.linalg.qr(a).Q, "R": lambda a: np.linalg.qr(a).R,
         "r-mode": lambda a: np.linalg.qr(a, mode="r")}[part]
    a = rand(*shape)
    check(f, a)
    same_primal(f, a)


def test_qr_complete_square_and_errors():
    check(lambda a: np.linalg.qr(a, mode="complete").Q, rand(3, 3))
    with pytest.raises(NotImplementedError, match="numpy.linalg.qr: no derivative for mode='co"):
        np.linalg.qr(DualArray(rand(4, 2), rand(4, 2)), mode="complete")
    with pytest.raises(NotImplementedError, match="numpy.linalg.qr: no derivative rule for m < n"):
        np.linalg.qr(DualArray(rand(2, 4), rand(2, 4)))
    with pytest.raises(NotImplementedError, match="raw"):
        np.linalg.qr(DualArray(rand(3, 3), rand(3, 3)), mode="raw")


# ---------------------------------------------------------------------------------------------
# svd, svdvals
# ---------------------------------------------------------------------------------------------

SVD_PARTS = {
    "s": lambda a: np.linalg.svd(a, full_matrices=False).S,
    "uu": lambda a: np.linalg.svd(a, full_matrices=False).U ** 2,  # column signs cancel
    "vv": lambda a: np.linalg.svd(a, full_matrices=False).Vh ** 2,
    "u1v1": lambda a: (lambda r: r.U[..., :, :1] * r.Vh[..., :1, :])(
        np.linalg.svd(a, full_matrices=False)),
    "values": lambda a: np.linalg.svd(a, compute_uv=False),
    "svdvals": lambda a: np.linalg.svdvals(a),
}


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (2, 4, 3), (2, 2, 4)])
@pytest.mark.parametrize("part", list(SVD_PARTS))
def test_svd(shape, part):
    check(SVD_PARTS[part], rand(*shape))


def test_svd_square_full_matrices_and_primal():
    a = rand(2, 3, 3)
    check(lambda a: np.linalg.svd(a)[0] ** 2, a)  # NumPy's default full_matrices=True
    same_primal(lambda a: np.linalg.svd(a, full_matrices=False).Vh, rand(4, 3))
    same_primal(lambda a: np.linalg.svd(a, compute_uv=False), rand(4, 3))


def test_svd_repeated_singular_values_raise():
    q1, q2 = np.linalg.qr(rand(3, 3)).Q, np.linalg.qr(rand(3, 3)).Q
    a = q1 @ np.diag([2.0, 2.0, 1.0]) @ q2.T
    with pytest.raises(ValueError, match="numpy.linalg.svd: derivative undefined for repeated "
                                         "singular values"):
        np.linalg.svd(DualArray(a, rand(3, 3)))
    u, s, vh = np.linalg.svd(a)
    g = (rand(2, 3, 3), rand(2, 3), rand(2, 3, 3))
    with pytest.raises(ValueError, match="repeated singular values"):
        la.svd_p.vjp(0, g, (u, s, vh), a, full_matrices=True)
    # only s used: the U and V terms are skipped and nothing raises
    gs = (np.zeros((2, 3, 3)), g[1], np.zeros((2, 3, 3)))
    ga = la.svd_p.vjp(0, gs, (u, s, vh), a, full_matrices=True)
    np.testing.assert_allclose(ga, (u * g[1][:, None, :]) @ vh, atol=1e-14)
    # the singular values alone are fine (a directional derivative of the sorted values)
    np.linalg.svd(DualArray(a, rand(3, 3)), compute_uv=False)


def test_svd_errors():
    z = np.linalg.svd(rand(4, 3), full_matrices=False)
    zero = z.U @ np.diag([3.0, 1.0, 0.0]) @ z.Vh  # non-square with a zero singular value
    with pytest.raises(ValueError, match="zero singular values"):
        np.linalg.svd(DualArray(zero, rand(4, 3)), full_matrices=False)
    with pytest.raises(NotImplementedError, match="full_matrices=True on a non-square"):
        np.linalg.svd(DualArray(rand(4, 3), rand(4, 3)))
    with pytest.raises(NotImplementedError, match="hermitian"):
        np.linalg.svd(DualArray(rand(3, 3), rand(3, 3)), hermitian=True)


# ---------------------------------------------------------------------------------------------
# pinv, matrix_power
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (2, 4, 2)])
def test_pinv(shape):
    a = rand(*shape)
    check(np.linalg.pinv, a)
    same_primal(np.linalg.pinv, a)


def test_pinv_constant_rank_deficient():
    b, c = rand(5, 2), rand(2, 4)  # rank 2 stays rank 2 along every direction of b and c
    check(lambda b, c: np.linalg.pinv(b @ c), b, c)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2])
def test_matrix_power(n):
    a = well(2, 3, 3) / 3.0
    f = lambda a: np.linalg.matrix_power(a, n)  # noqa: E731
    out = f(DualArray(a, rand(2, 3, 3)))
    np.testing.assert_allclose(getattr(out, "primal", out), np.linalg.matrix_power(a, n),
                               rtol=1e-13, atol=1e-13)
    if n == 1:  # a itself: no primitive bound
        check_forward(f, [a])
    elif n != 0:
        check(f, a)
    else:
        np.testing.assert_array_equal(out, np.broadcast_to(np.eye(3), (2, 3, 3)))


# ---------------------------------------------------------------------------------------------
# norm
# ---------------------------------------------------------------------------------------------

NORM_CASES = [
    ((5,), None, None), ((5,), 2, None), ((5,), 1, None), ((5,), np.inf, None),
    ((5,), -np.inf, None), ((5,), 3, None), ((5,), 0.5, None), ((5,), -1.5, None),
    ((3, 4), None, None), ((3, 4), "fro", None), ((3, 4), "nuc", None), ((3, 4), 2, None),
    ((3, 4), -2, None), ((3, 4), 1, None), ((3, 4), -1, None), ((3, 4), np.inf, None),
    ((3, 4), -np.inf, None), ((2, 3, 4), None, None), ((2, 3, 4), None, 1), ((2, 3, 4), 3, -1),
    ((2, 3, 4), np.inf, 0), ((2, 3, 4), "fro", (0, 2)), ((2, 3, 4), "nuc", (2, 1)),
    ((2, 3, 4), 2, (1, 2)), ((2, 3, 4), -2, (-1, 0)), ((2, 3, 4), 1, (2, 0)),
    ((2, 3, 4), -1, (0, 1)), ((2, 3, 4), np.inf, (1, 2)), ((2, 3, 4), -np.inf, (2, 1)),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, ord, axis", NORM_CASES)
def test_norm(shape, ord, axis, keepdims):
    x = rand(*shape)
    f = lambda x: np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)  # noqa: E731
    out = check(f, x)
    np.testing.assert_allclose(out.primal, f(x), rtol=1e-14)
    assert out.primal.shape == np.shape(f(x))


def test_norm_zero_count_and_zero_vector():
    x = np.array([0.0, 2.0, -1.0])
    assert np.linalg.norm(DualArray(x, rand(3)), ord=0) == 2.0  # a count: a plain constant
    out = np.linalg.norm(DualArray(np.zeros(3), rand(3)))
    assert out.primal == 0 and out.tangent == 0  # documented subgradient at 0
    with pytest.raises(ValueError, match="Invalid norm order 'nuc' for vectors"):
        np.linalg.norm(DualArray(x, rand(3)), ord="nuc")
    with pytest.raises(ValueError, match="Invalid norm order for matrices"):
        np.linalg.norm(DualArray(rand(2, 2), rand(2, 2)), ord=3)


@pytest.mark.parametrize("axis, ord, keepdims", [(None, 2, False), (None, 1, True),
                                                 ((0, 2), 2, True), (1, np.inf, False)])
def test_vector_norm(axis, ord, keepdims):
    x = rand(2, 3, 4)
    f = lambda x: np.linalg.vector_norm(x, axis=axis, ord=ord, keepdims=keepdims)  # noqa: E731
    out = check(f, x)
    np.testing.assert_allclose(out.primal, f(x), rtol=1e-14)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -1])
def test_matrix_norm(ord):
    x = rand(2, 3, 4)
    out = check(lambda x: np.linalg.matrix_norm(x, ord=ord, keepdims=True), x)
    np.testing.assert_allclose(out.primal, np.linalg.matrix_norm(x, ord=ord, keepdims=True))


# ---------------------------------------------------------------------------------------------
# second order: a DualArray of DualArrays
# ---------------------------------------------------------------------------------------------

def nested(f, a, v, w):
    """d/dε d/dδ f(a + εv + δw) through a DualArray of DualArrays."""
    x = DualArray(DualArray(a, v), DualArray(w, np.zeros_like(w)))
    return f(x).tangent.tangent


def test_second_derivative_of_logdet():
    a, v, w = well(4, 4), rand(4, 4), rand(4, 4)
    ai = np.linalg.inv(a)
    expected = -np.trace(ai @ v @ ai @ w)
    for f in (lambda x: np.linalg.slogdet(x).logabsdet, lambda x: np.log(np.linalg.det(x))):
        np.testing.assert_allclose(nested(f, a, v, w), expected, rtol=1e-12)


SECOND_ORDER = {
    "inv": (np.linalg.inv, well(2, 3, 3)),
    "det": (np.linalg.det, well(3, 3)),
    "solve": (lambda a: np.linalg.solve(a, np.arange(3.0)), well(3, 3)),
    "cholesky": (lambda x: np.linalg.cholesky(spd(x)), rand(3, 3)),
    "eigh": (lambda x: np.linalg.eigh(spd(x)).eigenvectors ** 2, rand(3, 3)),
    "eigvalsh": (lambda x: np.linalg.eigvalsh(spd(x)), rand(3, 3)),
    "qr": (lambda a: np.linalg.qr(a).Q, rand(4, 3)),
    "svd": (SVD_PARTS["u1v1"], rand(4, 3)),
    "svdvals": (SVD_PARTS["values"], rand(3, 4)),
    "pinv": (np.linalg.pinv, rand(4, 3)),
    "norm-nuc": (lambda a: np.linalg.norm(a, "nuc"), rand(3, 4)),
    "tril": (lambda a: np.tril(a * a, -1), rand(3, 3)),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_second_order_against_finite_differences(name):
    f, a = SECOND_ORDER[name]
    v, w = rand(*a.shape), rand(*a.shape)
    ref = fd_jvp(lambda a: f(DualArray(a, w)).tangent, [a], [v])
    np.testing.assert_allclose(nested(f, a, v, w), ref, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# float32 in, float32 out
# ---------------------------------------------------------------------------------------------

FLOAT32 = {
    "inv": np.linalg.inv, "det": np.linalg.det,
    "logabsdet": lambda a: np.linalg.slogdet(a).logabsdet,
    "solve": lambda a: np.linalg.solve(a, a[0, :, 0]),
    "cholesky": lambda a: np.linalg.cholesky(spd(a)),
    "eigh": lambda a: np.linalg.eigh(spd(a)).eigenvectors,
    "eigvalsh": lambda a: np.linalg.eigvalsh(spd(a)),
    "qr": lambda a: np.linalg.qr(a).Q, "svd": lambda a: np.linalg.svd(a).Vh,
    "svdvals": lambda a: np.linalg.svd(a, compute_uv=False), "pinv": np.linalg.pinv,
    "matrix_power": lambda a: np.linalg.matrix_power(a, -3), "tril": np.tril,
    "norm": lambda a: np.linalg.norm(a), "norm-2": lambda a: np.linalg.norm(a, 2),
    "norm-p": lambda a: np.linalg.norm(a, 3.0, axis=0),
}


@pytest.mark.parametrize("name", list(FLOAT32))
def test_float32_preserved(name):
    a = well(2, 3, 3).astype(np.float32)
    if name == "norm-2":
        a = a[0]
    out = FLOAT32[name](DualArray(a, np.ones_like(a)))
    assert out.primal.dtype == np.float32 and out.tangent.dtype == np.float32
    assert np.all(np.isfinite(out.tangent))


# ---------------------------------------------------------------------------------------------
# other errors
# ---------------------------------------------------------------------------------------------

def test_errors_name_the_function():
    z = np.zeros((3, 3))
    with pytest.raises(np.linalg.LinAlgError, match="numpy.linalg.det: .*nonsingular"):
        np.linalg.det(DualArray(z, rand(3, 3)))
    with pytest.raises(TypeError, match="no JVP rule for numpy.linalg.eig"):
        np.linalg.eig(DualArray(well(3, 3), rand(3, 3)))
    with pytest.raises(np.linalg.LinAlgError, match="at least two-dimensional"):
        np.linalg.cholesky(DualArray(np.ones(3), np.ones(3)))
    with pytest.raises(NotImplementedError, match="numpy.linalg.pinv: hermitian"):
        np.linalg.pinv(DualArray(well(3, 3), rand(3, 3)), hermitian=True)


# ---------------------------------------------------------------------------------------------
# VJP rules nest too (forward-over-reverse Hessians): run them on DualArrays
# ---------------------------------------------------------------------------------------------

def _sym(n):
    return spd(rand(n, n)) + np.diag(np.arange(n) * 2.0)


VJP_NESTING = [  # (primitive, args, kwargs, which cotangent, which argument is perturbed)
    (la.inv_p, [well(2, 3, 3)], {}, 0, 0), (la.det_p, [well(3, 3)], {}, 0, 0),
    (la.slogdet_p, [well(3, 3)], {}, 0, 0), (la.solve_p, [well(3, 3), rand(3)], {}, 0, 0),
    (la.solve_p, [well(3, 3), rand(3)], {}, 0, 1),
    (la.solve_p, [well(2, 3, 3), rand(3, 2)], {}, 1, 0),
    (la.cholesky_p, [_sym(3)], {"upper": False}, 0, 0),
    (la.cholesky_p, [_sym(3)], {"upper": True}, 0, 0),
    (la.eigh_p, [_sym(3)], {"UPLO": "L"}, 0, 0), (la.eigvalsh_p, [_sym(3)], {"UPLO": "U"}, 0, 0),
    (la.qr_p, [rand(4, 3)], {}, 0, 0), (la.svd_p, [rand(4, 3)], {"full_matrices": False}, 0, 0),
    (la.svd_p, [rand(3, 4)], {"full_matrices": False}, 0, 0),
    (la.svdvals_p, [rand(3, 4)], {}, 0, 0), (la.pinv_p, [rand(4, 3)], {"rcond": None}, 0, 0),
]


@pytest.mark.parametrize("prim, args, kw, i, j", VJP_NESTING,
                         ids=lambda p: getattr(p, "name", None))
def test_vjp_rules_nest(prim, args, kw, i, j):
    ans = prim.impl(*args, **kw)
    outs = ans if prim.multiple_results else (ans,)
    gs = tuple(rand(2, *np.shape(o)) for o in outs)
    g = gs if prim.multiple_results else gs[0]
    v = rand(*args[j].shape)
    if prim in (la.cholesky_p, la.eigh_p, la.eigvalsh_p):  # symmetric inputs, symmetric directions
        v = 0.5 * (v + np.swapaxes(v, -1, -2))

    def rule(a):
        xs = list(args)
        xs[j] = a
        return prim.vjp(i, g, prim.impl(*xs, **kw), *xs, **kw)

    out = rule(DualArray(args[j], v))
    np.testing.assert_allclose(out.tangent, fd_jvp(rule, [args[j]], [v]), rtol=1e-6, atol=1e-7)
