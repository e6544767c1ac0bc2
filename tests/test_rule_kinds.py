"""Rule kinds: one property test per kind proves its rules for every member.

``core.linear`` generates an entry's JVP and VJP from ``lanes`` (the op on the tangent lanes)
and ``transpose``; ``core.bilinear`` from ``lhs``/``rhs`` and their transposes. For every member
of a kind the same two properties are drawn by hypothesis:

* the lane form is the op itself, lane by lane (``lanes(t)[κ] == impl(t[κ])``; for a bilinear
  op ``lhs(ta)[κ] == impl(ta[κ], b)`` and ``rhs(tb)[κ] == impl(a, tb[κ])``), so the JVP is the
  derivative (a linear map is its own derivative);
* the transpose is its adjoint: ``⟨u, lanes(t)⟩ == ⟨transpose(u), t⟩`` lane by lane, through
  the entry's generated ``jvp``/``vjp`` (what both modes call).

Members are found in the table, not listed by hand: a test fails if an entry of a kind has no
example here, and the entries the issue names must have their kind.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dualad.ops import all_primitives
from dualad.ops.core import KINDS
from dualad.ops.products import einsum_p, matmul_p, matvec_p, vecdot_p, vecmat_p
from dualad.ops.reductions import cumsum_p, sum_p
from dualad.ops.shape import (broadcast_to_p, cast_p, concatenate_p, getitem_p, index_add_p,
                              pad_p, reshape_p, transpose_p)
from dualad.ops.conv import conv2d_grad_w_p, conv2d_p, conv2d_transpose_x_p

_GEOMETRY = {"stride": (1, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1),
             "method": "direct"}
_STRIDED = {"stride": (2, 2), "padding": ((0, 1), (1, 0)), "dilation": (1, 1),
            "method": "im2col"}

#: name -> list of (shape of x, params); x is float64 unless the params say otherwise
LINEAR = {
    "numpy.reshape": [((2, 3, 4), {"shape": (6, 4)}), ((2, 3, 4), {"shape": (24,)}),
                      ((), {"shape": (1, 1)})],
    "numpy.transpose": [((2, 3, 4), {"axes": (2, 0, 1)}), ((3, 4), {"axes": (1, 0)})],
    "numpy.broadcast_to": [((3, 1), {"shape": (2, 3, 4)}), ((), {"shape": (3,)})],
    "numpy.ndarray.astype": [((3,), {"dtype": np.dtype(np.float32)}),
                             ((2, 2), {"dtype": np.dtype(np.complex128)})],
    "numpy.ndarray.__getitem__": [
        ((4, 5), {"idx": (slice(1, 3), np.array([0, 2, 2]))}),        # a repeated position
        ((3, 4, 5), {"idx": (np.array([0, 2]), slice(None), np.array([1, 1]))}),  # split
        ((6,), {"idx": (np.array([True, False, True, True, False, False]),)}),
        ((4, 5), {"idx": (2,)})],
    "dualad.index_add": [((3,), {"idx": (np.array([0, 2, 0]),), "shape": (4,)}),
                         ((2, 3), {"idx": (slice(1, 3),), "shape": (4, 3)})],
    "numpy.sum": [((3, 4), {"axis": (1,), "keepdims": False}),
                  ((3, 4), {"axis": (0, 1), "keepdims": True}), ((5,), {"axis": (0,),
                                                                   "keepdims": False})],
    "numpy.cumsum": [((3, 4), {"axis": 1}), ((5,), {"axis": 0})],
    "numpy.pad": [((3, 4), {"pad_width": ((1, 2), (0, 1)), "constant_values": 0.0})],
}

#: name -> list of (shape of a, shape of b, params)
BILINEAR = {
    "numpy.matmul": [((4,), (4,), {}), ((3, 4), (4,), {}), ((4,), (4, 5), {}),
                     ((3, 4), (4, 5), {}), ((2, 3, 4), (4, 5), {}), ((3, 4), (2, 4, 5), {}),
                     ((2, 3, 4), (2, 4, 5), {}), ((4,), (2, 4, 5), {}), ((2, 3, 4), (4,), {})],
    "numpy.vecdot": [((3, 4), (4,), {}), ((4,), (2, 4), {})],
    "numpy.matvec": [((2, 3, 4), (4,), {}), ((3, 4), (2, 4), {})],
    "numpy.vecmat": [((4,), (2, 4, 3), {}), ((2, 3), (3, 5), {})],
    "dualad.conv2d": [((2, 3, 5, 5), (4, 3, 3, 3), _GEOMETRY),
                      ((1, 2, 6, 5), (3, 2, 2, 3), _STRIDED)],
    "dualad.conv2d_transpose_x": [((2, 4, 5, 5), (4, 3, 3, 3), dict(_GEOMETRY, in_hw=(5, 5))),
                                  ((1, 3, 3, 2), (3, 2, 2, 3), dict(_STRIDED, in_hw=(6, 5)))],
    "dualad.conv2d_grad_w": [((2, 3, 5, 5), (2, 4, 5, 5), dict(_GEOMETRY, k_hw=(3, 3))),
                             ((1, 2, 6, 5), (1, 3, 3, 2), dict(_STRIDED, k_hw=(2, 3)))],
}

#: what the issue asks of the table: these entries have these kinds
EXPECTED = {
    "linear": [reshape_p, transpose_p, broadcast_to_p, cast_p, getitem_p, index_add_p,
               concatenate_p, pad_p, sum_p, cumsum_p],
    "bilinear": [matmul_p, vecdot_p, matvec_p, vecmat_p, conv2d_p, conv2d_transpose_x_p,
                 conv2d_grad_w_p],
    "multilinear": [einsum_p],
}


def _members(kind):
    return sorted((p for p in all_primitives() if p.kind == kind and p.parts is not None),
                  key=lambda p: p.name)


def _cases(table, kind):
    return [pytest.param(p, case, id=f"{p.name}-{n}")
            for p in _members(kind) for n, case in enumerate(table.get(p.name, ()))]


def _rand(rng, shape, dtype=np.float64):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return np.asarray(x, dtype=dtype)


def _pair(u, v):
    """⟨u, v⟩ per lane (real part: the identity is the real transpose)."""
    return np.real(np.sum(u * v, axis=tuple(range(1, np.ndim(u)))))


def _stack(values, like_shape):
    return np.stack([np.asarray(v) for v in values]).reshape(like_shape)


def test_every_entry_has_a_known_kind():
    for p in all_primitives():
        assert p.kind in KINDS, p.name
        assert (p.kind == "nondiff") == p.nondiff, p.name
        assert (p.kind == "elementwise") == (p.derivs is not None), p.name


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_the_named_entries_have_their_kind(kind):
    for p in EXPECTED[kind]:
        assert p.kind == kind, f"{p.name} is {p.kind}, expected {kind}"


@pytest.mark.parametrize("kind, table", [("linear", LINEAR), ("bilinear", BILINEAR)])
def test_every_member_of_a_kind_has_examples(kind, table):
    members = {p.name for p in _members(kind)}
    assert members, f"no {kind} entry found in the table"
    assert members <= set(table), f"{kind} entries without examples: {members - set(table)}"


@pytest.mark.parametrize("prim, case", _cases(LINEAR, "linear"))
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 3))
def test_linear_rules(prim, case, seed, k):
    shape, params = case
    rng = np.random.default_rng(seed)
    x = _rand(rng, shape)
    ans = prim.impl(x, **params)
    lanes, transpose = prim.parts
    t = _rand(rng, (k,) + shape)
    jt = prim.jvp((t,), ans, x, **params)
    if jt is None:  # a cast to a non-float: zero both ways
        assert prim.vjp(0, np.zeros((k,) + ans.shape), ans, x, **params) is None
        return
    # the lane form is the op, lane by lane: the JVP of a linear op is the op
    np.testing.assert_allclose(jt, _stack([prim.impl(t[j], **params) for j in range(k)],
                                           (k,) + ans.shape), rtol=1e-6, atol=1e-12)
    assert jt.shape == (k,) + ans.shape
    # the transpose is the adjoint of the lane form
    u = _rand(rng, (k,) + ans.shape, ans.dtype)
    ju = prim.vjp(0, u, ans, x, **params)
    assert ju.shape == (k,) + shape and ju.dtype == x.dtype
    # each pairing sums terms of both signs: its error is relative to the sum of their sizes, at
    # the precision of the lowest dtype involved (a cast to float32 rounds each term)
    eps = max(np.finfo(np.asarray(v).dtype).eps for v in (jt, ju))
    # (both sides: a full sum's ⟨u, Σt⟩ is one product, but ⟨Jᵀu, t⟩ adds u·tᵢ over all i, and
    # its rounding is relative to Σ|u·tᵢ|, which cancellation in Σt can make much larger)
    scale = np.sum(np.abs(u * jt), axis=tuple(range(1, np.ndim(u)))) + \
        np.sum(np.abs(ju * t), axis=tuple(range(1, np.ndim(t))))
    np.testing.assert_array_less(np.abs(_pair(u, jt) - _pair(ju, t)), 64 * eps * scale + 1e-300)


@pytest.mark.parametrize("prim, case", _cases(BILINEAR, "bilinear"))
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 3))
def test_bilinear_rules(prim, case, seed, k):
    sa, sb, params = case
    rng = np.random.default_rng(seed)
    a, b = _rand(rng, sa), _rand(rng, sb)
    ans = prim.impl(a, b, **params)
    lhs, rhs, _, _ = prim.parts
    ta, tb = _rand(rng, (k,) + sa), _rand(rng, (k,) + sb)
    out = (k,) + ans.shape
    # each lane form is the op with that argument's tangent in its place
    np.testing.assert_allclose(lhs(ta, ans, a, b, **params),
                               _stack([prim.impl(ta[j], b, **params) for j in range(k)], out),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rhs(tb, ans, a, b, **params),
                               _stack([prim.impl(a, tb[j], **params) for j in range(k)], out),
                               rtol=1e-10, atol=1e-12)
    # the product rule, through the generated JVP
    np.testing.assert_allclose(
        prim.jvp((ta, tb), ans, a, b, **params),
        lhs(ta, ans, a, b, **params) + rhs(tb, ans, a, b, **params), rtol=1e-12, atol=1e-12)
    # each transpose is the adjoint of its lane form, through the generated VJP
    u = _rand(rng, out)
    for i, t in enumerate((ta, tb)):
        tangents = (t, None) if i == 0 else (None, t)
        jt = prim.jvp(tangents, ans, a, b, **params)
        ju = prim.vjp(i, u, ans, a, b, **params)
        assert ju.shape == t.shape
        np.testing.assert_allclose(_pair(u, jt), _pair(ju, t), rtol=1e-9, atol=1e-9)


def test_a_wrong_transpose_fails_the_kind_test():
    # the property test can fail: a transpose off by a factor breaks the adjoint identity
    from dualad.ops.core import linear
    wrong = linear("numpy.cumsum", cumsum_p.impl, lambda g, x, axis: 1.01 * g,
                   lanes=cumsum_p.parts[0])
    with pytest.raises(AssertionError):
        test_linear_rules.hypothesis.inner_test(wrong, LINEAR["numpy.cumsum"][0], 0, 2)


def test_linear_without_a_lane_form_applies_the_op_lane_by_lane():
    from dualad.ops.core import linear
    flip = linear("flip", lambda x: x[::-1], lambda g, x: g[:, ::-1])
    t = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(flip.jvp((t,), None, t[0]), t[:, ::-1])
