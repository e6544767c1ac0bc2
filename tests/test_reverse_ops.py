"""The op table through the reverse tape: every elementwise entry and a broad set of NumPy calls.

For each case the tape's vector-Jacobian product ``Jᵀu`` (through ``Tensor.backward``) is checked
against the transposition identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩, with ``J v`` from central differences
and from forward mode (``DualArray``); the functional form ``rv.vjp`` must give the same numbers,
and ``lanes=True`` with K cotangents must equal K single sweeps.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad as ad
import reverse as rv
from dualad import DualArray
from ophelpers import fd_jvp, rand
from test_ops_elementwise import (BINARY_OPS, BINARY_SHAPES, UNARY_OPS, binary_sample, int_second,
                                  unary_sample)


def tape_vjp(f, args, u, argnums):
    """Jᵀu through the user-level Tensor API: one backward() with cotangent u."""
    ts = [rv.Tensor(a, requires_grad=True) if i in argnums else a for i, a in enumerate(args)]
    y = f(*ts)
    assert isinstance(y, rv.Tensor) and y.requires_grad, "f did not record on the tape"
    y.backward(u)
    # a leaf no cotangent reached keeps grad None (PyTorch's convention): a zero here
    return [ts[i].grad if ts[i].grad is not None else np.zeros(np.shape(args[i]))
            for i in argnums]


def forward_jvp(f, args, dirs, argnums):
    """J v by forward mode, the independent reference with no step error."""
    duals = [DualArray(a, dirs[i]) if i in argnums else a for i, a in enumerate(args)]
    return f(*duals).tangent


def _fill(args, argnums, diff):
    full = list(args)
    for i, d in zip(argnums, diff):
        full[i] = d
    return full


def check_reverse(f, args, *, argnums=None, seed=0, k=3, rtol_fd=1e-5, atol_fd=1e-6):
    rng = np.random.default_rng(seed)
    args = [np.asarray(a) for a in args]
    if argnums is None:
        argnums = [i for i, a in enumerate(args) if np.issubdtype(a.dtype, np.floating)]
    out = np.asarray(f(*args))
    u = rand(rng, out.shape)
    grads = tape_vjp(f, args, u, argnums)
    for i, g in zip(argnums, grads):
        assert isinstance(g, np.ndarray), f"grad of argument {i} is a {type(g).__name__}"
        assert g.shape == args[i].shape and g.dtype == args[i].dtype

    # the transposition identity against central differences and against forward mode
    for trial in range(2):
        dirs = [rand(rng, a.shape) if i in argnums else np.zeros(a.shape)
                for i, a in enumerate(args)]
        rhs = sum(np.sum(g * dirs[i]) for i, g in zip(argnums, grads))
        jv_fd = fd_jvp(lambda *d: f(*_fill(args, argnums, d)), [args[i] for i in argnums],
                       [dirs[i] for i in argnums])
        np.testing.assert_allclose(rhs, np.sum(u * jv_fd), rtol=rtol_fd, atol=atol_fd,
                                   err_msg="<J^T u, v> from the tape != <u, J v> by differences")
        jv_fwd = forward_jvp(f, args, dirs, argnums)
        np.testing.assert_allclose(rhs, np.sum(u * jv_fwd), rtol=1e-9, atol=1e-11,
                                   err_msg="<J^T u, v> from the tape != <u, J v> forward mode")

    # the functional form, and K cotangents in one sweep
    def g(*diff):
        return f(*_fill(args, argnums, diff))
    out2, vjp_fn = rv.vjp(g, *[args[i] for i in argnums])
    np.testing.assert_allclose(np.asarray(out2), out, rtol=1e-14, atol=1e-15)
    single = vjp_fn(u)
    for a, b in zip(single, grads):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    us = rand(rng, (k,) + out.shape)
    lanes = vjp_fn(us, lanes=True)
    for j in range(k):
        one = vjp_fn(us[j])
        for n, (a, b) in enumerate(zip(lanes, one)):
            assert a.shape == (k,) + b.shape
            np.testing.assert_allclose(a[j], b, rtol=1e-12, atol=1e-14,
                                       err_msg=f"lane {j} of argument {n} != a single sweep")
    return grads


# ---------------------------------------------------------------------------------------------
# every elementwise entry (found by iterating the tables)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", UNARY_OPS, ids=lambda op: getattr(op, "__name__", repr(op)))
@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
def test_unary_entry_vjp(op, shape):
    rng = np.random.default_rng(1)
    x = unary_sample(op, rng, shape)
    check_reverse(op, [x])


@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: getattr(op, "__name__", repr(op)))
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_entry_vjp(op, shapes):
    rng = np.random.default_rng(2)
    x, y = binary_sample(op, rng, *shapes)
    check_reverse(op, [x, y], argnums=[0] if int_second(op) else [0, 1])


# ---------------------------------------------------------------------------------------------
# reductions, indexing, shape, products, linear algebra, compositions
# ---------------------------------------------------------------------------------------------

MASK = np.array([[True, False, True, False], [False, False, True, True],
                 [True, True, False, False]])
COND = np.array([[True, False, True, True], [False, True, False, False],
                 [True, False, False, True]])


def spd(rng, n=3):
    a = rng.uniform(-1, 1, (n, n))
    return a @ a.T + n * np.eye(n)


CASES = {
    # reductions
    "sum": (lambda x: np.sum(x), [(3, 4)]),
    "sum_axis": (lambda x: np.sum(x, axis=1), [(3, 4)]),
    "sum_keepdims": (lambda x: x.sum(axis=0, keepdims=True), [(3, 4)]),
    "mean_axes": (lambda x: np.mean(x, axis=(0, 2)), [(2, 3, 4)]),
    "prod": (lambda x: np.prod(x, axis=0), [(3, 4)]),
    "max": (lambda x: np.max(x, axis=1), [(3, 4)]),
    "min_all": (lambda x: np.min(x), [(3, 4)]),
    "var": (lambda x: np.var(x, axis=0), [(5, 3)]),
    "std_ddof": (lambda x: np.std(x, ddof=1), [(6,)]),
    "cumsum": (lambda x: np.cumsum(x, axis=1), [(3, 4)]),
    "cumprod": (lambda x: np.cumprod(x), [(5,)]),
    # indexing
    "index_basic": (lambda x: x[1:, ::-1], [(3, 4)]),
    "index_int": (lambda x: x[1], [(3, 4)]),
    "index_negative_step_3d": (lambda x: x[::-2, 1, 1:], [(4, 3, 3)]),
    "index_newaxis_ellipsis": (lambda x: x[None, ..., 2], [(3, 4)]),
    "index_fancy_repeats": (lambda x: x[[0, 2, 0, 0]], [(3, 4)]),
    "index_fancy_pairs": (lambda x: x[np.array([0, 1, 1, 2]), np.array([3, 0, 0, 3])],
                          [(3, 4)]),
    "index_fancy_separated": (lambda x: x[[0, 1], :, [1, 0]], [(2, 3, 2)]),
    "index_bool": (lambda x: x[MASK], [(3, 4)]),
    "index_bool_row": (lambda x: x[np.array([True, False, True])], [(3, 4)]),
    "take": (lambda x: np.take(x, [2, 0, 2], axis=1), [(3, 4)]),
    "take_along_axis": (lambda x: np.take_along_axis(x, np.array([[0], [3], [1]]), axis=1),
                        [(3, 4)]),
    # shape and movement
    "reshape": (lambda x: x.reshape(2, 6), [(3, 4)]),
    "ravel": (lambda x: np.ravel(x), [(3, 4)]),
    "transpose": (lambda x: x.T, [(3, 4)]),
    "transpose_axes": (lambda x: np.transpose(x, (1, 2, 0)), [(2, 3, 4)]),
    "swapaxes": (lambda x: np.swapaxes(x, 0, 2), [(2, 3, 4)]),
    "moveaxis": (lambda x: np.moveaxis(x, 0, -1), [(2, 3, 4)]),
    "squeeze_expand": (lambda x: np.expand_dims(np.squeeze(x), 0), [(3, 1, 4)]),
    "broadcast_to": (lambda x: np.broadcast_to(x, (4, 3)), [(3,)]),
    "broadcast_arith": (lambda x, y: x * y + x - y / 2.0, [(3, 1), (1, 4)]),
    "broadcast_scalar": (lambda x, y: x * y, [(), (2, 3)]),
    # a scalar against an array: its cotangent is a full sum, taken as one dot product
    "broadcast_scalar_divide": (lambda x, y: y / x + x / (y + 2.0), [(), (2, 3)]),
    "broadcast_scalar_vector": (lambda x, y: y * x - y / x, [(), (5,)]),
    "concatenate": (lambda x, y: np.concatenate([x, y, x], axis=1), [(3, 2), (3, 4)]),
    "stack": (lambda x, y: np.stack([x, y], axis=1), [(3,), (3,)]),
    "hstack_vstack": (lambda x, y: np.vstack([np.hstack([x, y]), np.hstack([y, x])]),
                      [(2, 1), (2, 2)]),
    "split": (lambda x: np.split(x, 2, axis=1)[1] * 2.0, [(3, 4)]),
    "flip_roll": (lambda x: np.roll(np.flip(x, 0), 1, axis=1), [(3, 4)]),
    "repeat_tile": (lambda x: np.tile(np.repeat(x, 2, axis=0), (1, 2)), [(2, 3)]),
    "pad": (lambda x: np.pad(x, ((1, 0), (2, 1))), [(2, 3)]),
    "sort": (lambda x: np.sort(x, axis=1), [(3, 4)]),
    "diff": (lambda x: np.diff(x, axis=0), [(4, 3)]),
    "where": (lambda x, y: np.where(COND, x, y), [(3, 4), (3, 4)]),
    "where_broadcast": (lambda x, y: np.where(COND, x, y), [(3, 4), (4,)]),
    "where_traced_condition": (lambda x: np.where(x > 0, x * x, -x), [(3, 4)]),
    "clip": (lambda x: np.clip(x, -0.5, 0.6) * x, [(10,)]),
    "astype": (lambda x: x.astype(np.float32).astype(np.float64) * 0 + x * 2, [(3,)]),
    # products
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matvec": (lambda a, b: a @ b, [(3, 4), (4,)]),
    "vecmat": (lambda a, b: a @ b, [(4,), (4, 2)]),
    "matmul_batched": (lambda a, b: np.matmul(a, b), [(2, 3, 4), (4, 5)]),
    "dot_vectors": (lambda a, b: np.dot(a, b), [(4,), (4,)]),
    "einsum": (lambda a, b: np.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)]),
    "einsum_trace": (lambda a: np.einsum("ii->", a), [(3, 3)]),
    "tensordot": (lambda a, b: np.tensordot(a, b, axes=([1, 2], [0, 1])),
                  [(2, 3, 4), (3, 4, 2)]),
    "outer": (lambda a, b: np.outer(a, b), [(3,), (2,)]),
    "trace": (lambda a: np.trace(a), [(3, 3)]),
    # compositions
    "seed_function": (lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), [(), ()]),
    "softmax": (lambda x: np.exp(x - ad.logsumexp(x, axis=1, keepdims=True)), [(3, 4)]),
    "logsumexp": (lambda x: ad.logsumexp(x, axis=0), [(3, 4)]),
    "norm_like": (lambda x: np.sqrt(np.sum(x * x, axis=-1) + 1.0), [(3, 4)]),
}

POSITIVE = {"seed_function", "prod", "cumprod"}


@pytest.mark.parametrize("name", list(CASES))
def test_function_vjp(name):
    f, shapes = CASES[name]
    rng = np.random.default_rng(3)
    if name in POSITIVE:
        args = [rng.uniform(0.5, 2.0, s) for s in shapes]
    else:
        args = [rng.uniform(-1.0, 1.0, s) for s in shapes]
    check_reverse(f, args)


LINALG = {
    "inv": (lambda a: np.linalg.inv(a), 1),
    "det": (lambda a: np.linalg.det(a), 1),
    "slogdet": (lambda a: np.linalg.slogdet(a)[1], 1),
    "solve": (lambda a, b: np.linalg.solve(a, b), 2),
    "cholesky": (lambda a: np.linalg.cholesky(a), 1),
    # several results: cotangents arrive for some outputs only, zeros stand in for the rest
    "eigh_values": (lambda a: np.linalg.eigh(a)[0], 1),
    "eigh_both": (lambda a: np.linalg.eigh(a)[0][:, None] * np.abs(np.linalg.eigh(a)[1]), 1),
    "svd_values": (lambda a: np.linalg.svd(a)[1], 1),
}


@pytest.mark.parametrize("name", list(LINALG))
def test_linalg_vjp(name):
    f, nargs = LINALG[name]
    rng = np.random.default_rng(4)
    a = spd(rng)
    if name in ("eigh_values", "eigh_both", "cholesky"):
        # symmetric functions of a symmetric matrix: differentiate along symmetric directions
        check_reverse(lambda m: f((m + m.T) / 2.0), [a])
    elif nargs == 2:
        check_reverse(f, [a, rng.uniform(-1, 1, (3, 2))])
    else:
        check_reverse(f, [a])


# ---------------------------------------------------------------------------------------------
# vjp_plain: the rule for one cotangent without the lane axis (a plain backward) must agree with
# the entry's lane rule at K = 1
# ---------------------------------------------------------------------------------------------

def _all_primitives():
    import dualad.ops as ops_pkg
    from dualad.ops import UFUNC_RULES, Primitive
    seen = {id(p): p for p in UFUNC_RULES.values()}
    for mod in vars(ops_pkg).values():
        for value in vars(mod).values() if hasattr(mod, "__dict__") else ():
            if isinstance(value, Primitive):
                seen[id(value)] = value
    return list(seen.values())


def _matmul_cases():
    shapes = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)),
              ((2, 3, 4), (4,)), ((4,), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5))]
    for sa, sb in shapes:
        for dtype in (np.float64, np.float32):
            yield "numpy.matmul", (sa, sb), {}, dtype


def _sum_cases():
    for shape, axis in [((5,), (0,)), ((3, 4), (0, 1)), ((3, 4), (1,)), ((3, 4), (0,)),
                        ((2, 3, 4), (0, 2)), ((), ())]:
        for keepdims in (False, True):
            for dtype in (np.float64, np.float32):
                yield "numpy.sum", (shape,), {"axis": axis, "keepdims": keepdims}, dtype


def _unary_cases():
    # (complex dtypes get real values here; tests/test_complex.py covers complex ones)
    for name in ("numpy.absolute", "numpy.conjugate"):
        for shape in ((), (5,), (3, 4)):
            for dtype in (np.float64, np.float32, np.complex128):
                yield name, (shape,), {}, dtype


def _elementwise_cases():
    # generated from the table: every entry with declared partials, every argument in turn
    # broadcast (a scalar, a row) against full-shaped others; a zero-derivative argument gets
    # integers (exponents, conditions), which every such entry accepts
    from dualad.ops import ZERO
    for p in _all_primitives():
        if p.derivs is None:
            continue
        n = len(p.derivs)
        layouts = [((3, 4),) * n]
        if n > 1:
            for i in range(n):
                for small in ((), (4,), (1, 4)):
                    layouts.append(tuple(small if j == i else (3, 4) for j in range(n)))
        else:
            layouts.append(((),))
        for shapes in layouts:
            ints = tuple(j for j, d in enumerate(p.derivs) if d is ZERO)
            yield p.name, shapes, {"ints": ints}, np.float64


ELEMENTWISE_CASES = list(_elementwise_cases())
PLAIN_CASES = list(_matmul_cases()) + list(_sum_cases()) + list(_unary_cases()) + \
    ELEMENTWISE_CASES


def test_every_vjp_plain_has_cases():
    with_plain = {p.name for p in _all_primitives() if p.vjp_plain is not None}
    assert with_plain, "no entry has a vjp_plain: the collection of primitives is broken"
    assert with_plain <= {name for name, *_ in PLAIN_CASES}, \
        f"entries with vjp_plain but no test case: {with_plain - {n for n, *_ in PLAIN_CASES}}"
    assert len({n for n, *_ in ELEMENTWISE_CASES}) > 60, "the elementwise entries were not found"


@pytest.mark.parametrize("case", PLAIN_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3].__name__}")
def test_vjp_plain_equals_lane_rule(case):
    name, shapes, kwargs, dtype = case
    prim = next(p for p in _all_primitives() if p.name == name)
    rng = np.random.default_rng(7)
    ints = kwargs.pop("ints", None)
    if ints is None:
        args = [rng.uniform(-1.0, 1.0, s).astype(dtype) for s in shapes]
        ans = prim.impl(*args, **kwargs)
    else:  # in (0.2, 0.8), or (1.1, 1.9) where that is outside the domain (arccosh)
        for lo, hi in ((0.2, 0.8), (1.1, 1.9)):
            args = [rng.integers(1, 3, s) if j in ints else rng.uniform(lo, hi, s)
                    for j, s in enumerate(shapes)]
            with np.errstate(all="ignore"):
                ans = prim.impl(*args, **kwargs)
            if np.all(np.isfinite(ans)):
                break
    g = np.asarray(rng.uniform(-1.0, 1.0, np.shape(ans))).astype(dtype)
    if g.ndim == 0:
        g = g[()]  # a plain backward hands scalars on as NumPy scalars
    for i in range(len(args)):
        try:
            lane = prim.vjp(i, np.asarray(g)[None], ans, *args, **kwargs)
        except NotImplementedError:  # a partial not implemented: raises in both rules
            with pytest.raises(NotImplementedError):
                prim.vjp_plain(i, g, ans, *args, **kwargs)
            continue
        plain = prim.vjp_plain(i, g, ans, *args, **kwargs)
        if lane is None:  # a zero derivative: both say so
            assert plain is None
            continue
        lane = lane[0]
        assert ints is None or np.all(np.isfinite(lane)), "the case left the entry's domain"
        assert np.shape(plain) == args[i].shape
        assert np.asarray(plain).dtype == np.asarray(lane).dtype
        np.testing.assert_allclose(plain, lane, rtol=1e-5 if dtype == np.float32 else 1e-13,
                                   atol=1e-6 if dtype == np.float32 else 1e-14)
