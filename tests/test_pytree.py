"""dualad.pytree: flattening order, rebuilt containers, and the argument fast paths."""
import gc
import weakref
from collections import namedtuple

import numpy as np

import dualad as ad
from dualad.pytree import tree_flatten, tree_map, tree_unflatten

Point = namedtuple("Point", "x y")


class Items(list):
    """A list subclass: rebuilt as a plain list (its items are what counts)."""


def test_flatten_order_and_round_trip():
    tree = {"b": [1.0, (np.zeros(2), None)], "a": Point(np.ones(3), 2.5)}
    leaves, td = tree_flatten(tree)
    # dict keys sorted, then depth first; None is an empty subtree
    assert [np.shape(v) for v in leaves] == [(3,), (), (), (2,)]
    back = tree_unflatten(td, leaves)
    assert isinstance(back["a"], Point) and isinstance(back["b"], list)
    assert isinstance(back["b"][1], tuple) and back["b"][1][1] is None
    assert td.num_leaves == 4


def test_list_subclass_and_tuple_of_leaves():
    leaves, td = tree_flatten(Items([1.0, 2.0]))
    assert leaves == [1.0, 2.0] and tree_unflatten(td, [3.0, 4.0]) == [3.0, 4.0]
    leaves, td = tree_flatten((np.float64(1.0), np.float32(2.0), 3))
    assert len(leaves) == 3 and tree_unflatten(td, leaves) == (1.0, 2.0, 3)


def test_structures_compare_by_shape_not_values():
    assert tree_flatten([1.0, {"k": 2.0}])[1] == tree_flatten([5.0, {"k": 6.0}])[1]
    assert tree_flatten([1.0, {"k": 2.0}])[1] != tree_flatten((1.0, {"k": 2.0}))[1]
    assert tree_map(lambda a, b: a + b, [1.0, (2.0,)], [10.0, (20.0,)]) == [11.0, (22.0,)]


def test_grad_of_a_tuple_argnums_returns_a_tuple_in_both_modes():
    f = lambda a, b: np.sum(a * b) ** 2  # noqa: E731
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    s = np.sum(a * b)  # hand-derived: ∂/∂a = 2 s b, ∂/∂b = 2 s a
    for mode in ("reverse", "forward"):
        ga, gb = ad.grad(f, argnums=(0, 1), mode=mode)(a, b)
        np.testing.assert_allclose(ga, 2 * s * b, rtol=1e-15)
        np.testing.assert_allclose(gb, 2 * s * a, rtol=1e-15)


def test_unflatten_keeps_no_leaf_alive():
    # a rebuilt tree holds its leaves only through itself: dropping it frees them at once,
    # without waiting for the cyclic collector (large results would pile up in memory)
    class Leaf:
        pass

    _, td = tree_flatten({"a": (1.0, [2.0]), "b": 3.0})
    gc.disable()
    try:
        leaf = Leaf()
        ref = weakref.ref(leaf)
        tree = tree_unflatten(td, [leaf, 2.0, 3.0])
        assert tree["a"][0] is leaf
        del tree, leaf
        assert ref() is None
    finally:
        gc.enable()
