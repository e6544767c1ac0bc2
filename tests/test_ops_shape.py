"""Table-driven tests of the shape and movement entries (``dualad.ops.shape``).

Each case of :data:`CASES` is a NumPy function of one or more float arrays; it is checked with
``check_forward`` (JVP against central differences, K lanes against single directions) and
``check_adjoint`` (⟨u, J v⟩ = ⟨Jᵀu, v⟩ for every primitive it binds). Indexing, the dtype cast,
float32 and the errors follow.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad as ad
from dualad import DualArray
from dualad.ops.shape import cast_p, getitem_p
from ophelpers import check_adjoint, check_forward


def _a(*shape, seed=0):
    rng = np.random.default_rng(seed + sum(shape))
    return rng.uniform(-1.0, 1.0, shape)


def _first(f):
    """``f`` returns a sequence: the test function concatenates the pieces (all differentiable)."""
    def g(*args):
        return np.concatenate([np.ravel(p) for p in f(*args)])
    return g


C = np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])

#: name -> (function, arguments); every argument is differentiated
CASES = {
    # reshape and friends
    "reshape": (lambda x: np.reshape(x, (4, 3)), [_a(3, 4)]),
    "reshape-minus1": (lambda x: np.reshape(x, (2, -1)), [_a(3, 4)]),
    "reshape-method": (lambda x: x.reshape(2, 6), [_a(3, 4)]),
    "reshape-method-tuple": (lambda x: x.reshape((6, 2)), [_a(3, 4)]),
    "reshape-0d": (lambda x: np.reshape(x, (1, 1)), [_a()]),
    "ravel": (np.ravel, [_a(2, 3, 2)]),
    "ravel-method": (lambda x: x.ravel(), [_a(2, 3, 2)]),
    "flatten": (lambda x: x.flatten(), [_a(2, 3)]),
    "transpose": (np.transpose, [_a(2, 3, 4)]),
    "transpose-axes": (lambda x: np.transpose(x, (1, 2, 0)), [_a(2, 3, 4)]),
    "transpose-neg-axes": (lambda x: np.transpose(x, (-1, 0, -2)), [_a(2, 3, 4)]),
    "transpose-method": (lambda x: x.transpose(2, 0, 1), [_a(2, 3, 4)]),
    "T": (lambda x: x.T, [_a(3, 4)]),
    "T-3d": (lambda x: x.T, [_a(2, 3, 4)]),
    "T-1d": (lambda x: x.T * 1.0, [_a(4)]),
    "mT": (lambda x: x.mT, [_a(2, 3, 4)]),
    "permute_dims": (lambda x: np.permute_dims(x, (2, 1, 0)), [_a(2, 3, 4)]),
    "swapaxes": (lambda x: np.swapaxes(x, 0, 2), [_a(2, 3, 4)]),
    "swapaxes-neg": (lambda x: np.swapaxes(x, -1, 1), [_a(2, 3, 4)]),
    "swapaxes-method": (lambda x: x.swapaxes(0, 1), [_a(2, 3, 4)]),
    "moveaxis": (lambda x: np.moveaxis(x, 0, -1), [_a(2, 3, 4)]),
    "moveaxis-multi": (lambda x: np.moveaxis(x, (0, 1), (2, 0)), [_a(2, 3, 4)]),
    "expand_dims": (lambda x: np.expand_dims(x, 1), [_a(3, 4)]),
    "expand_dims-tuple": (lambda x: np.expand_dims(x, (0, -1)), [_a(3, 4)]),
    "expand_dims-0d": (lambda x: np.expand_dims(x, 0), [_a()]),
    "squeeze": (np.squeeze, [_a(1, 3, 1, 2)]),
    "squeeze-axis": (lambda x: np.squeeze(x, axis=2), [_a(1, 3, 1, 2)]),
    "squeeze-neg-axis": (lambda x: np.squeeze(x, axis=(0, -2)), [_a(1, 3, 1, 2)]),
    "squeeze-method": (lambda x: x.squeeze(), [_a(1, 3, 1)]),
    "broadcast_to": (lambda x: np.broadcast_to(x, (2, 3, 4)), [_a(3, 1)]),
    "broadcast_to-0d": (lambda x: np.broadcast_to(x, (2, 3)), [_a()]),
    "broadcast_to-same": (lambda x: np.broadcast_to(x, (3, 4)) * 1.0, [_a(3, 4)]),
    "broadcast_arrays": (_first(lambda x, y, z: np.broadcast_arrays(x, y, z)),
                         [_a(3, 1), _a(4), _a()]),
    "atleast_2d": (lambda x: np.atleast_2d(x), [_a(4)]),
    "atleast_3d": (lambda x: np.atleast_3d(x), [_a(3, 4)]),
    "copy": (lambda x: np.copy(x) * 1.0, [_a(3)]),
    # joining
    "concatenate-0": (lambda x, y: np.concatenate([x, y]), [_a(2, 3), _a(4, 3)]),
    "concatenate-1": (lambda x, y: np.concatenate((x, y), axis=1), [_a(2, 3), _a(2, 5)]),
    "concatenate--1": (lambda x, y, z: np.concatenate([x, y, z], axis=-1),
                       [_a(2, 3), _a(2, 1), _a(2, 2)]),
    "concatenate-None": (lambda x, y: np.concatenate([x, y], axis=None), [_a(2, 3), _a(4)]),
    "concatenate-plain": (lambda x: np.concatenate([_a(1, 3, seed=5), x, _a(2, 3, seed=6)]),
                          [_a(2, 3)]),
    "concatenate-plain-first": (lambda x: np.concatenate([np.ones((2, 2)), x], axis=1),
                                [_a(2, 3)]),
    "stack": (lambda x, y: np.stack([x, y]), [_a(3, 4), _a(3, 4)]),
    "stack-1": (lambda x, y: np.stack([x, y], axis=1), [_a(3, 4), _a(3, 4)]),
    "stack--1": (lambda x, y: np.stack([x, y, np.zeros((3, 4))], axis=-1), [_a(3, 4), _a(3, 4)]),
    "stack-0d": (lambda x, y: np.stack([x, y]), [_a(), _a()]),
    "hstack": (lambda x, y: np.hstack([x, y]), [_a(3, 2), _a(3, 4)]),
    "hstack-1d": (lambda x, y: np.hstack([x, y]), [_a(2), _a(3)]),
    "hstack-0d": (lambda x, y: np.hstack([x, y]), [_a(), _a(3)]),
    "vstack": (lambda x, y: np.vstack([x, y]), [_a(2, 3), _a(3)]),
    "dstack": (lambda x, y: np.dstack([x, y]), [_a(2, 3), _a(2, 3)]),
    "dstack-1d": (lambda x, y: np.dstack([x, y]), [_a(3), _a(3)]),
    "column_stack": (lambda x, y: np.column_stack([x, y]), [_a(3), _a(3, 2)]),
    "split": (_first(lambda x: np.split(x, 3)), [_a(6, 2)]),
    "split-indices": (_first(lambda x: np.split(x, [1, 3], axis=1)), [_a(2, 5)]),
    "split-pieces": (lambda x: np.split(x, 2, axis=-1)[1] * 2.0, [_a(2, 4)]),
    "array_split": (_first(lambda x: np.array_split(x, 3)), [_a(7, 2)]),
    "array_split-axis": (lambda x: np.array_split(x, 4, axis=1)[0], [_a(2, 7)]),
    "hsplit": (_first(lambda x: np.hsplit(x, 2)), [_a(3, 4)]),
    "vsplit": (_first(lambda x: np.vsplit(x, [1])), [_a(3, 4)]),
    # repeating and reordering
    "tile": (lambda x: np.tile(x, 3), [_a(2, 3)]),
    "tile-2d": (lambda x: np.tile(x, (2, 1, 2)), [_a(2, 3)]),
    "repeat": (lambda x: np.repeat(x, 2), [_a(2, 3)]),
    "repeat-axis": (lambda x: np.repeat(x, 3, axis=1), [_a(2, 3)]),
    "repeat-per-element": (lambda x: np.repeat(x, [1, 0, 3], axis=-1), [_a(2, 3)]),
    "repeat-per-element-flat": (lambda x: np.repeat(x, [2, 1, 0, 3]), [_a(2, 2)]),
    "repeat-method": (lambda x: x.repeat(2, axis=0), [_a(2, 3)]),
    "flip": (np.flip, [_a(2, 3, 4)]),
    "flip-axis": (lambda x: np.flip(x, axis=1), [_a(2, 3, 4)]),
    "flip-axes": (lambda x: np.flip(x, axis=(0, -1)), [_a(2, 3, 4)]),
    "fliplr": (np.fliplr, [_a(3, 4)]),
    "flipud": (np.flipud, [_a(3, 4)]),
    "roll": (lambda x: np.roll(x, 2), [_a(3, 4)]),
    "roll-axis": (lambda x: np.roll(x, -1, axis=1), [_a(3, 4)]),
    "roll-tuple": (lambda x: np.roll(x, (1, -2), axis=(0, 1)), [_a(3, 4)]),
    "roll-tuple-none": (lambda x: np.roll(x, (1, 3)), [_a(3, 4)]),
    "pad": (lambda x: np.pad(x, 1), [_a(2, 3)]),
    "pad-constant": (lambda x: np.pad(x, ((1, 2), (0, 3)), constant_values=2.5), [_a(2, 3)]),
    "pad-constant-pairs": (lambda x: np.pad(x, (2, 1), mode="constant",
                                            constant_values=((1.0, -1.0), (0.5, 3.0))),
                           [_a(2, 3)]),
    "pad-1d": (lambda x: np.pad(x, (3, 0), constant_values=-1.0), [_a(4)]),
    "where": (lambda x, y: np.where(C, x, y), [_a(3, 4), _a(4)]),
    "take": (lambda x: np.take(x, [3, 0, 0, 5]), [_a(2, 3)]),
    "take-axis": (lambda x: np.take(x, [2, 0, 2], axis=1), [_a(2, 3)]),
    "take-2d-indices": (lambda x: np.take(x, [[1, 0], [1, 1]], axis=0), [_a(2, 3)]),
    "take-method": (lambda x: x.take([1, -1], axis=-1), [_a(2, 3)]),
    "take_along_axis": (lambda x: np.take_along_axis(x, np.array([[2, 0, 0], [1, 1, 2]]),
                                                     axis=1), [_a(2, 3)]),
    "take_along_axis-0": (lambda x: np.take_along_axis(x, np.array([[1, 0, 1]]), axis=0),
                          [_a(2, 3)]),
    "take_along_axis-None": (lambda x: np.take_along_axis(x, np.array([5, 0, 3]), axis=None),
                             [_a(2, 3)]),
    "sort": (np.sort, [_a(3, 4)]),
    "sort-axis0": (lambda x: np.sort(x, axis=0), [_a(3, 4)]),
    "sort-None": (lambda x: np.sort(x, axis=None), [_a(3, 4)]),
    "diff": (np.diff, [_a(3, 5)]),
    "diff-n2-axis0": (lambda x: np.diff(x, n=2, axis=0), [_a(4, 3)]),
    "diff-prepend": (lambda x: np.diff(x, prepend=0.5, append=np.ones((3, 1))), [_a(3, 4)]),
}


def _id(name):
    return name


@pytest.mark.parametrize("name", CASES, ids=_id)
def test_shape_forward(name):
    f, args = CASES[name]
    out = check_forward(f, args)
    ref = f(*args)
    np.testing.assert_array_equal(out.primal, ref)
    assert out.primal.shape == np.shape(ref)


@pytest.mark.parametrize("name", CASES, ids=_id)
def test_shape_adjoint(name):
    f, args = CASES[name]
    check_adjoint(f, args)


def test_concatenate_mixes_dual_and_plain_in_every_position():
    x, y, z = _a(2, 3), _a(1, 3), _a(3, 3)
    for argnums in [(0,), (1,), (2,), (0, 2), (0, 1, 2)]:
        check_forward(lambda a, b, c: np.concatenate([a, b, c]), [x, y, z], argnums=argnums)
        check_adjoint(lambda a, b, c: np.concatenate([a, b, c]), [x, y, z], argnums=argnums)


def test_concatenate_plain_parts_have_zero_tangent():
    x = _a(2, 2)
    _, t = ad.jvp(lambda a: np.concatenate([np.ones((1, 2)), a, np.ones((1, 2))]), (x,),
                  (np.ones((2, 2)),))
    np.testing.assert_array_equal(t, [[0, 0], [1, 1], [1, 1], [0, 0]])


def test_broadcast_arrays_returns_all_pieces():
    x, y = DualArray(_a(3, 1), np.ones((3, 1))), np.arange(4.0)
    bx, by = np.broadcast_arrays(x, y)
    assert isinstance(bx, DualArray) and bx.shape == (3, 4) and bx.tangent.shape == (3, 4)
    assert type(by) is np.ndarray and by.shape == (3, 4)


def test_split_returns_list_of_duals():
    x = DualArray(_a(6, 2), np.ones((6, 2)))
    parts = np.split(x, 3)
    assert len(parts) == 3 and all(p.shape == (2, 2) for p in parts)
    parts = np.array_split(x, 4)
    assert [p.shape[0] for p in parts] == [2, 2, 1, 1]
    with pytest.raises(ValueError):
        np.split(x, 4)


def test_take_vjp_accumulates():
    # the transpose of a gather sums the cotangents of the copies
    x = _a(3)
    idx = np.array([0, 2, 0, 0, 1])
    g = getitem_p.vjp(0, np.ones((1, 5)), x[idx], x, idx=(idx,))
    np.testing.assert_array_equal(g, [[3.0, 1.0, 1.0]])


# ---------------------------------------------------------------------------------------------
# indexing
# ---------------------------------------------------------------------------------------------

X3 = _a(3, 4, 2)
MASK = X3[..., 0] > 0
INDEXES = {
    "int": 1,
    "neg-int": -1,
    "int-pair": (2, 1),
    "ints-all": (1, 2, 0),
    "slice": slice(1, 3),
    "slice-step": (slice(None), slice(None, None, 2)),
    "slice-neg-step": (slice(None, None, -1), slice(3, 0, -2)),
    "slice-neg-bounds": (slice(-2, None), slice(None, -1)),
    "ellipsis": (Ellipsis, 1),
    "ellipsis-middle": (0, Ellipsis, slice(1, None)),
    "none": (None, 1),
    "none-middle": (slice(None), None, slice(1, 3)),
    "ellipsis-none": (Ellipsis, None),
    "fancy": [2, 0],
    "fancy-repeated": [1, 1, 0, 1],
    "fancy-negative": [-1, 0, -1],
    "fancy-2d": np.array([[0, 1], [1, 1]]),
    "fancy-two-adjacent": ([0, 2, 2], [1, 3, 1]),
    "fancy-two-adjacent-later": (slice(None), [0, 3, 0], [1, 0, 1]),
    "fancy-nonadjacent": ([0, 1], slice(None), [1, 0]),
    "fancy-nonadjacent-repeated": ([2, 2, 0], slice(1, 3), [1, 1, 1]),
    "fancy-int-nonadjacent": (1, slice(None), [1, 0, 1]),
    "fancy-none-between": ([0, 1], None, [1, 0]),
    "fancy-broadcast": (np.array([[0], [2]]), np.array([1, 3, 3])),
    "fancy-slice": ([2, 0, 2], slice(None, None, -1)),
    "fancy-ellipsis": (Ellipsis, [1, 1, 0]),
    "bool-full": X3 > 0,
    "bool-2d": MASK,
    "bool-1d": np.array([True, False, True]),
    "bool-axis1": (slice(None), np.array([True, False, True, True])),
    "bool-and-slice": (np.array([False, True, True]), slice(1, 3)),
    "bool-and-int": (np.array([True, False, True]), 1),
    "bool-nonadjacent": (np.array([True, False, True]), slice(None), [1, 0]),
    "bool-and-fancy": (np.array([True, False, True]), [3, 0]),
}


@pytest.mark.parametrize("name", INDEXES, ids=_id)
def test_indexing(name):
    idx = INDEXES[name]
    f = (lambda x: x[idx])
    out = check_forward(f, [X3])
    np.testing.assert_array_equal(out.primal, X3[idx])
    assert out.tangent.shape == (3,) + X3[idx].shape
    check_adjoint(f, [X3])


@pytest.mark.parametrize("idx", [[0, 0, 2, 0], ([1, 1], slice(None), [0, 0]),
                                 (np.array([[0, 0], [0, 2]]),), (Ellipsis, [1, 1])],
                         ids=["repeated", "nonadjacent-repeated", "2d-repeated", "ellipsis"])
def test_fancy_index_vjp_accumulates_repeats(idx):
    x = X3
    out = x[idx]
    g = getitem_p.vjp(0, np.ones((1,) + out.shape), out, x, idx=_norm(idx))
    counts = np.zeros_like(x)
    np.add.at(counts, idx, 1.0)
    assert counts.max() > 1
    np.testing.assert_array_equal(g[0], counts)


def _norm(idx):
    from dualad.ops.shape import normalize_index
    return normalize_index(idx)


def test_indexing_lanes_with_nonadjacent_advanced_indices():
    # lanes: the lane axis must stay first even when NumPy moves the advanced dims to the front
    x = X3
    lanes = np.stack([x, 2 * x, -x])
    d = DualArray(x, lanes, lanes=True)
    for idx in (([0, 1], slice(None), [1, 0]), (1, slice(None), [1, 0, 1]),
                (np.array([True, False, True]), slice(None), [1, 0])):
        r = d[idx]
        np.testing.assert_array_equal(r.primal, x[idx])
        for k in range(3):
            np.testing.assert_array_equal(r.tangent[k], lanes[k][idx])


def test_index_with_dual_mask_and_dual_indices():
    x = DualArray(_a(5), np.ones(5))
    r = x[x > 0]
    np.testing.assert_array_equal(r.primal, x.primal[x.primal > 0])
    i = DualArray(np.array([0.0, 2.0]), np.ones(2))
    with pytest.raises((TypeError, IndexError)):
        x[i]


def test_iteration_and_len():
    x = DualArray(_a(3, 2), np.ones((3, 2)))
    rows = list(x)
    assert len(x) == 3 and len(rows) == 3
    np.testing.assert_array_equal(rows[1].primal, x.primal[1])
    with pytest.raises(TypeError):
        len(DualArray(1.0, 1.0))


# ---------------------------------------------------------------------------------------------
# second derivatives through shape ops (the rules are themselves traceable)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["transpose-axes", "concatenate--1", "take", "pad-constant",
                                  "roll-tuple", "sort", "diff", "repeat-per-element"])
def test_shape_ops_nest(name):
    g, args = CASES[name]

    def f(*a):
        return np.sum(np.sin(g(*a)) * np.arange(1.0, 1.0 + np.size(g(*args))).reshape(
            np.shape(g(*args))))
    flat = np.concatenate([np.ravel(a) for a in args])
    sizes = np.cumsum([0] + [np.size(a) for a in args])

    def h(z):
        return f(*[np.reshape(z[sizes[i]:sizes[i + 1]], np.shape(a))
                   for i, a in enumerate(args)])
    rng = np.random.default_rng(0)
    v, w = rng.uniform(-1, 1, (2, flat.size))
    got = ad.jvp(lambda y: ad.jvp(h, (y,), (v,))[1], (flat,), (w,))[1]
    e = 1e-4
    ref = (h(flat + e * v + e * w) - h(flat + e * v - e * w) - h(flat - e * v + e * w)
           + h(flat - e * v - e * w)) / (4 * e * e)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------

def test_astype_between_float32_and_float64():
    x = np.array([0.5, -1.25, 2.0])
    d = DualArray(x, np.array([1.0, 2.0, 3.0]))
    d32 = d.astype(np.float32)
    assert d32.primal.dtype == np.float32 and d32.tangent.dtype == np.float32
    np.testing.assert_array_equal(d32.tangent, [1.0, 2.0, 3.0])
    d64 = d32.astype(np.float64)
    assert d64.primal.dtype == np.float64 and d64.tangent.dtype == np.float64
    same = d.astype(np.float64)
    assert same.tangent.dtype == np.float64
    # to an integer dtype: a plain array (no derivative)
    i = d.astype(np.int64)
    assert type(i) is np.ndarray and i.dtype == np.int64
    # the cast's rules: JVP casts the tangent, VJP casts the cotangent back; with values that
    # float32 represents exactly, the adjoint identity holds exactly
    u = np.array([[0.5, -2.0, 0.125]], np.float32)
    v = np.array([[1.5, 0.25, -4.0]])
    jv = cast_p.jvp((v,), x.astype(np.float32), x, dtype=np.dtype(np.float32))
    ju = cast_p.vjp(0, u, x.astype(np.float32), x, dtype=np.dtype(np.float32))
    assert jv.dtype == np.float32 and ju.dtype == np.float64
    assert np.sum(u * jv) == np.sum(ju * v)
    # float64 -> float32 -> float64 inside a function: the tangent is rounded like the value
    _, t = ad.jvp(lambda a: a.astype(np.float32).astype(np.float64) * 3.0, (x,),
                  (np.array([0.1, 0.2, 0.3]),))
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t, np.array([0.1, 0.2, 0.3], np.float32).astype(float) * 3)


@pytest.mark.parametrize("name", ["reshape", "transpose-axes", "concatenate-1", "stack",
                                  "tile", "repeat-per-element", "flip", "roll-tuple",
                                  "pad-constant", "take", "sort", "diff", "split", "where"])
def test_shape_ops_float32_stay_float32(name):
    f, args = CASES[name]
    duals = [DualArray(a.astype(np.float32), np.ones(a.shape, np.float32)) for a in args]
    r = f(*duals)
    assert r.primal.dtype == np.float32, f"{name}: primal {r.primal.dtype}"
    assert r.tangent.dtype == np.float32, f"{name}: tangent {r.tangent.dtype}"


def test_indexing_float32():
    d = DualArray(X3.astype(np.float32), np.ones(X3.shape, np.float32))
    for idx in (INDEXES["fancy-nonadjacent"], INDEXES["bool-2d"], INDEXES["slice-step"]):
        r = d[idx]
        assert r.primal.dtype == np.float32 and r.tangent.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------

def test_shape_errors():
    d = DualArray(_a(2, 3), np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="reflect"):
        np.pad(d, 1, mode="reflect")
    with pytest.raises(NotImplementedError):
        np.pad(d, 1, mode="edge")
    # item assignment works as in reverse mode (tests/test_inplace_views.py), except into a view
    with pytest.raises(ValueError, match="item assignment into a DualArray that is a view"):
        d.T[0] = 1.0
    with pytest.raises(ValueError, match="item assignment into a DualArray that is a view"):
        d[0][d.primal[0] > 0] = 0.0
    with pytest.raises(TypeError, match="out="):
        np.concatenate([d, d], out=np.empty((4, 3)))
    with pytest.raises(ValueError):
        np.concatenate([DualArray(1.0, 1.0), DualArray(2.0, 1.0)])
    with pytest.raises(ValueError):
        np.squeeze(d, axis=0)
    with pytest.raises(IndexError):
        d[np.array([0.5])]
    with pytest.raises(TypeError, match="JVP"):
        np.unique(d)
    with pytest.raises(TypeError):
        np.asarray(d)


_OUT_OF_RANGE = {
    "transpose": lambda v: np.transpose(v, (0, 5)),
    "swapaxes": lambda v: np.swapaxes(v, 0, 4),
    "moveaxis": lambda v: np.moveaxis(v, 3, 0),
    "concatenate": lambda v: np.concatenate([v, v], axis=3),
    "stack": lambda v: np.stack([v, v], axis=-4),
    "flip": lambda v: np.flip(v, 7),
    "roll": lambda v: np.roll(v, 1, axis=9),
    "take": lambda v: np.take(v, [0], axis=4),
    "take_along_axis": lambda v: np.take_along_axis(v, np.zeros((1, 1), int), axis=2),
    "expand_dims": lambda v: np.expand_dims(v, 4),
    "cumsum": lambda v: np.cumsum(v, axis=2),
    "diagonal": lambda v: np.diagonal(v, axis1=0, axis2=3),
}


@pytest.mark.parametrize("name", sorted(_OUT_OF_RANGE))
def test_out_of_range_axis_raises_as_numpy(name):
    # an axis past ndim raised on plain arrays but wrapped around (axis % ndim) on traced ones,
    # silently differentiating another function
    g, x = _OUT_OF_RANGE[name], _a(2, 3)
    with pytest.raises(np.exceptions.AxisError):
        g(x)
    with pytest.raises(np.exceptions.AxisError):
        g(DualArray(x, np.ones((2, 3))))
    with pytest.raises(np.exceptions.AxisError):
        ad.grad(lambda v: np.sum(g(v)))(x)
