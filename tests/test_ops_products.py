"""Tests for dualad/ops/products.py: matmul, einsum, the vector gufuncs and their compositions.

Every case runs through ``check_forward`` (DualArray lanes vs central differences, lanes vs
single directions, for all arguments together and for each alone), compares the primal with
plain NumPy, and runs ``check_adjoint`` (⟨u, J v⟩ = ⟨Jᵀu, v⟩ for every primitive bound).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from dualad import DualArray  # noqa: E402
from dualad.ops.products import einsum_p, matmul_p, matvec_p, vecdot_p, vecmat_p  # noqa: E402
from ophelpers import check_adjoint, check_forward  # noqa: E402

MM = {"numpy.matmul"}
ES = {"numpy.einsum"}


def _args(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, s) for s in shapes]


def _check(f, shapes, prims=(), seed=0):
    args = _args(shapes, seed)
    out = check_forward(f, args, seed=seed)
    np.testing.assert_allclose(out.primal, f(*args), rtol=1e-12, atol=1e-12,
                               err_msg="primal differs from plain NumPy")
    if len(args) > 1:
        for i in range(len(args)):
            check_forward(f, args, seed=seed + 1 + i, argnums=[i])
    checked = check_adjoint(f, args, seed=seed)
    assert set(prims) <= set(checked), f"expected {prims} among the checked {checked}"


def _einsum(subscripts, **kw):
    return lambda *ops: np.einsum(subscripts, *ops, **kw)


_PATH = np.einsum_path("ij,jk,kl->il", np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 2)))[0]

CASES = [
    # matmul and @: 1-D, 2-D, batched, broadcast batch dims, 1-D against N-D
    ("matmul 1d@1d", np.matmul, [(3,), (3,)], MM),
    ("matmul 2d@1d", np.matmul, [(2, 3), (3,)], MM),
    ("matmul 1d@2d", np.matmul, [(3,), (3, 4)], MM),
    ("matmul 2d@2d", lambda a, b: a @ b, [(2, 3), (3, 4)], MM),
    ("matmul 3d@2d", np.matmul, [(5, 2, 3), (3, 4)], MM),
    ("matmul 2d@3d", np.matmul, [(2, 3), (5, 3, 4)], MM),
    ("matmul batched", np.matmul, [(5, 2, 3), (5, 3, 4)], MM),
    ("matmul broadcast", np.matmul, [(5, 1, 2, 3), (4, 3, 2)], MM),
    ("matmul broadcast ones", np.matmul, [(1, 4, 2, 3), (5, 1, 3, 2)], MM),
    ("matmul 1d@3d", np.matmul, [(3,), (5, 3, 4)], MM),
    ("matmul 3d@1d", np.matmul, [(5, 2, 3), (3,)], MM),
    ("matmul 4d@1d", np.matmul, [(2, 1, 2, 3), (3,)], MM),
    ("linalg.matmul", np.linalg.matmul, [(2, 3), (3,)], MM),
    # dot, vdot, inner, outer
    ("dot scalar", np.dot, [(), (3,)], {"numpy.multiply"}),
    ("dot 1d", np.dot, [(3,), (3,)], MM),
    ("dot 2d@1d", np.dot, [(2, 3), (3,)], MM),
    ("dot 1d@2d", np.dot, [(3,), (3, 4)], MM),
    ("dot 2d@2d", np.dot, [(2, 3), (3, 4)], MM),
    ("dot 1d@3d", np.dot, [(3,), (2, 3, 4)], MM),
    ("dot 3d@3d", np.dot, [(2, 3, 4), (5, 4, 2)], MM),
    ("vdot", np.vdot, [(2, 3), (3, 2)], MM),
    ("inner 1d", np.inner, [(3,), (3,)], MM),
    ("inner 2d", np.inner, [(2, 3), (4, 3)], MM),
    ("inner 3d,1d", np.inner, [(2, 2, 3), (3,)], MM),
    ("inner scalar", np.inner, [(), (3,)], {"numpy.multiply"}),
    ("outer", np.outer, [(3,), (4,)], {"numpy.multiply"}),
    ("outer flattens", np.outer, [(2, 3), (4,)], {"numpy.multiply"}),
    ("linalg.outer", np.linalg.outer, [(3,), (2,)], {"numpy.multiply"}),
    # tensordot
    ("tensordot 0", lambda a, b: np.tensordot(a, b, 0), [(2, 3), (3, 2)], MM),
    ("tensordot 1", lambda a, b: np.tensordot(a, b, 1), [(2, 3, 4), (4, 2)], MM),
    ("tensordot 2", np.tensordot, [(2, 3, 4), (3, 4, 2)], MM),
    ("tensordot lists", lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])),
     [(2, 3, 4), (3, 5, 2)], MM),
    ("tensordot ints", lambda a, b: np.tensordot(a, b, axes=(-1, 0)), [(2, 3, 4), (4, 3)], MM),
    ("linalg.tensordot", lambda a, b: np.linalg.tensordot(a, b, axes=1), [(2, 3), (3,)], MM),
    # einsum
    ("einsum matmul", _einsum("ij,jk->ik"), [(2, 3), (3, 4)], ES),
    ("einsum implicit", _einsum("ij,jk"), [(2, 3), (3, 4)], ES),
    ("einsum implicit transpose", _einsum("ji"), [(2, 3)], ES),
    ("einsum implicit case order", _einsum("bA,AC"), [(2, 3), (3, 4)], ES),
    ("einsum diag", _einsum("ii->i"), [(3, 3)], ES),
    ("einsum trace", _einsum("ii"), [(3, 3)], ES),
    ("einsum triple repeat", _einsum("iii->i"), [(2, 2, 2)], ES),
    ("einsum repeat and sum", _einsum("iij->j"), [(3, 3, 2)], ES),
    ("einsum repeat with other", _einsum("ii,i->i"), [(3, 3), (3,)], ES),
    ("einsum sum all", _einsum("ij->"), [(2, 3)], ES),
    ("einsum sum one operand", _einsum("ij,k->ik"), [(2, 3), (4,)], ES),
    ("einsum inner", _einsum("i,i"), [(3,), (3,)], ES),
    ("einsum three", _einsum("i,j,k->ijk"), [(2,), (3,), (2,)], ES),
    ("einsum batched", _einsum("bij,bjk->bik"), [(2, 3, 4), (2, 4, 2)], ES),
    ("einsum ellipsis broadcast", _einsum("...ij,...jk->...ik"), [(2, 1, 2, 3), (4, 3, 2)], ES),
    ("einsum ellipsis diag", _einsum("...ii->...i"), [(2, 3, 3)], ES),
    ("einsum ellipsis implicit", _einsum("...i,i"), [(2, 2, 3), (3,)], ES),
    ("einsum size-1 broadcast", _einsum("ij,ij->ij"), [(1, 3), (4, 3)], ES),
    ("einsum scalar operand", _einsum(",i->i"), [(), (3,)], ES),
    ("einsum sublists", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]),
     [(2, 3), (3, 4)], ES),
    ("einsum sublist ellipsis", lambda a, b: np.einsum(a, [Ellipsis, 1], b, [1]),
     [(2, 2, 3), (3,)], ES),
    ("einsum optimize", _einsum("ij,jk,kl->il", optimize=True), [(2, 3), (3, 4), (4, 2)], ES),
    ("einsum path", _einsum("ij,jk,kl->il", optimize=_PATH), [(2, 3), (3, 4), (4, 2)], ES),
    # trace, diagonal, diag
    ("trace", np.trace, [(3, 3)], {"numpy.sum"}),
    ("trace offset", lambda a: np.trace(a, 1), [(3, 4)], {"numpy.sum"}),
    ("trace axes", lambda a: a.trace(-1, 2, 0), [(3, 2, 4)], {"numpy.sum"}),
    ("linalg.trace", np.linalg.trace, [(2, 3, 3)], {"numpy.sum"}),
    ("diagonal", np.diagonal, [(3, 4)], {"numpy.ndarray.__getitem__"}),
    ("diagonal offset axes", lambda a: np.diagonal(a, 1, 2, 0), [(3, 2, 4)],
     {"numpy.ndarray.__getitem__", "numpy.transpose"}),
    ("diagonal negative offset", lambda a: a.diagonal(-2), [(4, 3)], set()),
    ("diagonal empty", lambda a: np.diagonal(a, 5), [(3, 4)], set()),
    ("linalg.diagonal", lambda a: np.linalg.diagonal(a, offset=1), [(2, 3, 4)], set()),
    ("diag 1d", np.diag, [(3,)], {"numpy.pad", "numpy.multiply"}),
    ("diag 1d k=1", lambda v: np.diag(v, 1), [(3,)], {"numpy.pad", "numpy.multiply"}),
    ("diag 1d k=-2", lambda v: np.diag(v, k=-2), [(3,)], {"numpy.pad", "numpy.multiply"}),
    ("diag 2d", np.diag, [(3, 4)], {"numpy.ndarray.__getitem__"}),
    ("diag 2d k=1", lambda v: np.diag(v, 1), [(3, 4)], set()),
    ("diag 2d k=-1", lambda v: np.diag(v, -1), [(3, 4)], set()),
    # kron, cross
    ("kron 1d", np.kron, [(2,), (3,)], {"numpy.multiply"}),
    ("kron 2d", np.kron, [(2, 2), (3, 2)], {"numpy.multiply"}),
    ("kron mixed ndim", np.kron, [(2,), (2, 3)], {"numpy.multiply"}),
    ("kron 3d", np.kron, [(2, 1, 2), (2, 3, 1)], {"numpy.multiply"}),
    ("cross", np.cross, [(3,), (3,)], {"numpy.multiply"}),
    ("cross broadcast", np.cross, [(4, 3), (3,)], {"numpy.multiply"}),
    ("cross axis", lambda a, b: np.cross(a, b, axis=0), [(3, 4), (3, 4)], {"numpy.multiply"}),
    ("cross axisa/b/c", lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0),
     [(3, 4), (4, 3)], {"numpy.multiply"}),
    ("linalg.cross", np.linalg.cross, [(2, 3), (3,)], {"numpy.multiply"}),
    # multi_dot
    ("multi_dot two", lambda a, b: np.linalg.multi_dot([a, b]), [(2, 3), (3,)], MM),
    ("multi_dot 1d first", lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     [(3,), (3, 4), (4, 2)], MM),
    ("multi_dot 1d both", lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     [(3,), (3, 4), (4,)], MM),
    ("multi_dot four", lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]),
     [(2, 6), (6, 4), (4, 5), (5,)], MM),
    # vecdot, matvec, vecmat
    ("vecdot", np.vecdot, [(3,), (3,)], {"numpy.vecdot"}),
    ("vecdot batched", np.vecdot, [(4, 3), (3,)], {"numpy.vecdot"}),
    ("vecdot broadcast", np.vecdot, [(2, 1, 3), (4, 3)], {"numpy.vecdot"}),
    ("linalg.vecdot axis", lambda a, b: np.linalg.vecdot(a, b, axis=0), [(3, 4), (3, 1)],
     {"numpy.vecdot"}),
    ("matvec", np.matvec, [(2, 3), (3,)], {"numpy.matvec"}),
    ("matvec batched A", np.matvec, [(5, 2, 3), (3,)], {"numpy.matvec"}),
    ("matvec batched x", np.matvec, [(2, 3), (5, 3)], {"numpy.matvec"}),
    ("matvec broadcast", np.matvec, [(5, 1, 2, 3), (4, 3)], {"numpy.matvec"}),
    ("vecmat", np.vecmat, [(3,), (3, 2)], {"numpy.vecmat"}),
    ("vecmat batched", np.vecmat, [(5, 3), (3, 2)], {"numpy.vecmat"}),
    ("vecmat broadcast", np.vecmat, [(4, 1, 3), (5, 3, 2)], {"numpy.vecmat"}),
]


@pytest.mark.parametrize("f,shapes,prims", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_forward_and_adjoint(f, shapes, prims):
    _check(f, shapes, prims)


@settings(max_examples=40, deadline=None)
@given(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=4,
                                         max_side=3), st.integers(0, 2 ** 16))
def test_matmul_random_broadcast(shapes, seed):
    _check(np.matmul, list(shapes.input_shapes), MM, seed=seed)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([np.vecdot, np.matvec, np.vecmat]).flatmap(
    lambda f: st.tuples(st.just(f), hnp.mutually_broadcastable_shapes(
        signature=f.signature, max_dims=4, max_side=3))), st.integers(0, 2 ** 16))
def test_gufuncs_random_broadcast(f_shapes, seed):
    f, shapes = f_shapes
    _check(f, list(shapes.input_shapes), seed=seed)


# ---------------------------------------------------------------------------------------------
# nesting: rules dispatch again when their arguments are DualArrays
# ---------------------------------------------------------------------------------------------

def test_nested_second_derivative_of_quadratic_form():
    rng = np.random.default_rng(3)
    x, v, w = rng.normal(size=(3, 4))
    A = rng.normal(size=(4, 4))
    X = DualArray(DualArray(x, v), DualArray(w, np.zeros(4)))
    y = X @ A @ X
    np.testing.assert_allclose(y.primal.primal, x @ A @ x, rtol=1e-12)
    np.testing.assert_allclose(y.primal.tangent, v @ (A + A.T) @ x, rtol=1e-12)
    np.testing.assert_allclose(y.tangent.primal, w @ (A + A.T) @ x, rtol=1e-12)
    np.testing.assert_allclose(y.tangent.tangent, v @ (A + A.T) @ w, rtol=1e-12)


_A = np.random.default_rng(4).uniform(-1, 1, (3, 3))

NESTED = [
    ("matmul", lambda x: x @ _A @ x, (3,)),
    ("matmul 2d", lambda X: X @ X, (3, 3)),
    ("matmul batched", lambda X: np.matmul(X, X[0]), (2, 3, 3)),
    ("einsum", lambda x: np.einsum("i,ij,j->", x, _A, x), (3,)),
    ("einsum repeated", lambda X: np.einsum("ii,ij->j", X, X), (3, 3)),
    ("einsum summed", lambda X: np.einsum("ij,kl->ik", X, X), (3, 3)),
    ("tensordot", lambda X: np.tensordot(X, X, axes=([0], [1])), (3, 3)),
    ("dot", lambda X: np.dot(X, X[:, 0]), (3, 3)),
    ("trace", lambda X: np.trace(X @ X), (3, 3)),
    ("diag", lambda X: np.diag(np.diag(X) * np.diag(X, 1).sum()), (3, 3)),
    ("kron", lambda x: np.kron(x, x), (3,)),
    ("outer", lambda x: np.outer(x, x), (3,)),
    ("cross", lambda x: np.cross(x, np.tanh(x)), (3,)),
    ("multi_dot", lambda X: np.linalg.multi_dot([X, X, X]), (3, 3)),
    ("vecdot", lambda X: np.vecdot(X, X), (2, 3)),
    ("matvec", lambda X: np.matvec(X, X[0]), (3, 3)),
    ("vecmat", lambda X: np.vecmat(X[1], X), (3, 3)),
]


@pytest.mark.parametrize("f,shape", [c[1:] for c in NESTED], ids=[c[0] for c in NESTED])
def test_nested_lanes_over_single_direction(f, shape):
    """d/dw of (d/dv f): an inner DualArray along v, lanes of the outer one along w."""
    v = np.random.default_rng(5).uniform(-1, 1, shape)
    check_forward(lambda x: f(DualArray(x, v)).tangent, _args([shape], seed=6), rtol=1e-5,
                  atol=1e-6)


_EK = {"optimize": False}
RULES = [
    ("matmul 2d@1d", matmul_p, {}, [(2, 3), (3,)]),
    ("matmul 1d@2d", matmul_p, {}, [(3,), (3, 4)]),
    ("matmul 1d@1d", matmul_p, {}, [(3,), (3,)]),
    ("matmul 3d@2d", matmul_p, {}, [(5, 2, 3), (3, 4)]),
    ("matmul broadcast", matmul_p, {}, [(5, 1, 2, 3), (4, 3, 2)]),
    ("matmul 1d@3d", matmul_p, {}, [(3,), (5, 3, 4)]),
    ("matmul 3d@1d", matmul_p, {}, [(5, 2, 3), (3,)]),
    ("einsum repeated", einsum_p, dict(subscripts="ii,ij->j", **_EK), [(3, 3), (3, 2)]),
    ("einsum summed", einsum_p, dict(subscripts="ij,k->k", **_EK), [(2, 3), (4,)]),
    ("vecdot", vecdot_p, {}, [(2, 3), (3,)]),
    ("matvec", matvec_p, {}, [(2, 3), (4, 1, 3)]),
    ("vecmat", vecmat_p, {}, [(3,), (4, 3, 2)]),
]


@pytest.mark.parametrize("prim,kw,shapes", [c[1:] for c in RULES], ids=[c[0] for c in RULES])
def test_rules_are_differentiable_numpy(prim, kw, shapes):
    """The JVP and VJP rules themselves, called on DualArrays (as in forward-over-reverse),
    dispatch again and have the right derivatives in every argument, tangents included."""
    args = _args(shapes, seed=7)
    ans = prim.impl(*args, **kw)
    k = 2
    for i in range(len(args)):
        t = _args([(k,) + np.shape(args[i])], seed=8 + i)[0]

        def jvp(t, *xs, i=i):
            return prim.jvp(tuple(t if j == i else None for j in range(len(xs))), ans, *xs, **kw)
        check_forward(jvp, [t] + args, rtol=1e-5, atol=1e-6)
        g = _args([(k,) + np.shape(ans)], seed=9 + i)[0]
        check_forward(lambda g, *xs, i=i: prim.vjp(i, g, ans, *xs, **kw), [g] + args,
                      rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------

F32 = [
    ("matmul", lambda x, A: A @ x, [(3,), (2, 3)]),
    ("matmul batched", lambda x, A: np.matmul(np.reshape(x, (1, 3, 1)), A[:1]), [(3,), (2, 3)]),
    ("einsum", lambda x, A: np.einsum("ij,j->i", A, x), [(3,), (2, 3)]),
    ("tensordot", lambda x, A: np.tensordot(A, x, 1), [(3,), (2, 3)]),
    ("diag", lambda x, A: np.diag(x, 1), [(3,), (2, 3)]),
    ("trace", lambda x, A: np.trace(np.outer(x, x)), [(3,), (2, 3)]),
    ("kron", lambda x, A: np.kron(A, x), [(3,), (2, 3)]),
    ("cross", lambda x, A: np.cross(x, A), [(3,), (2, 3)]),
    ("vecdot", lambda x, A: np.vecdot(A, x), [(3,), (2, 3)]),
]


@pytest.mark.parametrize("f,shapes", [c[1:] for c in F32], ids=[c[0] for c in F32])
def test_float32_in_float32_out(f, shapes):
    x, A = (a.astype(np.float32) for a in _args(shapes))
    t = np.ones((2,) + x.shape, dtype=np.float32)
    y = f(DualArray(x, t, lanes=True), A)
    assert y.primal.dtype == np.float32 and y.tangent.dtype == np.float32


def test_float32_vjp_rules_keep_dtype():
    f32 = np.float32
    a, b = np.ones((2, 3), f32), np.ones((3,), f32)
    g = np.ones((2, 2), f32)
    assert matmul_p.vjp(0, g, None, a, b).dtype == f32
    assert matmul_p.vjp(1, g, None, a, b).dtype == f32
    x = np.ones((3, 3), f32)
    for subs, gshape in (("ii->i", (2, 3)), ("ij->", (2,)), ("ii->", (2,))):
        r = einsum_p.vjp(0, np.ones(gshape, f32), None, x, subscripts=subs, optimize=False)
        assert r.dtype == f32 and r.shape == (2, 3, 3)


# ---------------------------------------------------------------------------------------------
# constants, operators, errors
# ---------------------------------------------------------------------------------------------

def test_constant_left_operand_and_integer_constants():
    x = DualArray(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    A = np.array([[1, 2], [3, 4]])  # integers: a constant
    y = A @ x
    np.testing.assert_array_equal(y.primal, [5.0, 11.0])
    np.testing.assert_array_equal(y.tangent, [1.0, 3.0])
    np.testing.assert_array_equal(np.dot(A, x).tangent, [1.0, 3.0])


def test_einsum_dtype_argument():
    x = DualArray(np.ones(3), np.ones(3))
    y = np.einsum("i,i", x, x, dtype=np.float32)
    assert y.primal.dtype == np.float32 and float(y.tangent) == 6.0


def _d(shape):
    return DualArray(np.ones(shape), np.ones(shape))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: np.einsum("ij,jk->ik", _d((2, 3)), np.ones((3, 2)), out=np.empty((2, 2))),
     TypeError, "numpy.einsum: out= is not supported on traced arrays"),
    (lambda: np.dot(_d((2, 3)), np.ones(3), out=np.empty(2)), TypeError, "numpy.dot: out="),
    (lambda: np.outer(_d(2), np.ones(3), out=np.empty((2, 3))), TypeError, "numpy.outer"),
    (lambda: np.trace(_d((2, 2)), out=np.empty(())), TypeError, "numpy.trace"),
    (lambda: np.einsum("ij,jk->ik", _d((2, 3)), np.ones((4, 2))), ValueError, "subscript 'j'"),
    (lambda: np.einsum("ij->ik", _d((2, 3))), ValueError, "output subscripts"),
    (lambda: np.einsum("ij,j", _d((2, 3))), ValueError, "operand"),
    (lambda: np.einsum("...i->i", _d((2, 3))), ValueError, "ellipsis"),
    (lambda: np.einsum("i1", _d((2, 3))), ValueError, "invalid subscript"),
    (lambda: np.einsum("ii", _d((2, 3))), ValueError, "repeated"),
    (lambda: np.tensordot(_d((2, 3)), np.ones((2, 3)), 1), ValueError, "shape-mismatch"),
    (lambda: np.tensordot(_d((2, 3)), np.ones((2, 3)), 3), ValueError, "numpy.tensordot"),
    (lambda: np.cross(_d(2), np.ones(2)), NotImplementedError, "2-element vectors"),
    (lambda: np.cross(_d(4), np.ones(4)), ValueError, "incompatible dimensions"),
    (lambda: np.diag(_d((2, 2, 2))), ValueError, "1-d or 2-d"),
    (lambda: np.diagonal(_d((2, 2)), 0, 1, 1), ValueError, "cannot be the same"),
    (lambda: np.diagonal(_d(3)), ValueError, "two dimensions"),
    (lambda: np.linalg.multi_dot([_d((2, 2))]), ValueError, "at least two"),
    (lambda: np.linalg.multi_dot([_d((2, 2)), _d((2, 2, 2)), _d((2, 2))]), ValueError, "2-d"),
    (lambda: np.linalg.outer(_d((2, 2)), np.ones(2)), ValueError, "1-d"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
