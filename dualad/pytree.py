"""Pytrees: nested tuples, lists and dicts of arrays, flattened to leaves and rebuilt.

The transforms accept and return pytrees; flattening happens here once. A leaf is anything that
is not a tuple, list or dict (``None`` is an empty subtree). Dict keys are visited in sorted
order, as in JAX, so two dicts with the same keys flatten alike.
"""
from __future__ import annotations

import numpy as np

__all__ = ["tree_flatten", "tree_unflatten", "tree_map", "TreeDef"]


class TreeDef:
    """The structure of a pytree without its leaves."""

    __slots__ = ("kind", "children", "meta", "num_leaves")

    def __init__(self, kind, children=(), meta=None):
        self.kind = kind          # "leaf", "none", "tuple", "list", "dict" or a namedtuple type
        self.children = tuple(children)
        self.meta = meta          # dict keys for dicts
        self.num_leaves = 1 if kind == "leaf" else sum(c.num_leaves for c in self.children)

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.kind == other.kind
                and self.meta == other.meta and self.children == other.children)

    def __hash__(self):
        return hash((str(self.kind), self.meta, self.children))

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children))
            return "{" + inner + "}"
        return f"[{inner}]" if self.kind == "list" else f"({inner})"


_LEAF = TreeDef("leaf")
_NONE = TreeDef("none")
_PLAIN_LEAVES = frozenset({np.ndarray, float, int, np.float64, np.float32})


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def tree_flatten(tree):
    """``(leaves, treedef)`` for a pytree."""
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(x, leaves):
    kind = type(x)
    if kind in _PLAIN_LEAVES:  # arrays and numbers first: they are most of the calls
        leaves.append(x)
        return _LEAF
    if kind is tuple or kind is list:  # (every transform call flattens its argument tuple)
        return TreeDef(kind.__name__, [_flatten(v, leaves) for v in x])
    if x is None:
        return _NONE
    if isinstance(x, dict):
        keys = tuple(sorted(x))
        return TreeDef("dict", [_flatten(x[k], leaves) for k in keys], keys)
    if _is_namedtuple(x):
        return TreeDef(kind, [_flatten(v, leaves) for v in x])
    if isinstance(x, (tuple, list)):
        return TreeDef("tuple" if isinstance(x, tuple) else "list",
                       [_flatten(v, leaves) for v in x])
    leaves.append(x)
    return _LEAF


def tree_unflatten(treedef, leaves):
    """Rebuild the pytree of ``treedef`` from ``leaves`` (an iterable, consumed in order)."""
    return _unflatten(treedef, iter(leaves))


def _unflatten(td, it):
    # (a module-level function: a nested one calling itself is a reference cycle, which would
    # keep the leaves, often large arrays, alive until the cyclic collector runs)
    kind = td.kind
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    kids = [_unflatten(c, it) for c in td.children]
    if kind == "dict":
        return dict(zip(td.meta, kids))
    if kind == "list":
        return kids
    if kind == "tuple":
        return tuple(kids)
    return kind(*kids)  # a namedtuple type


def tree_map(f, tree, *rest):
    """Apply ``f`` leafwise to ``tree`` (and to the matching leaves of ``rest``)."""
    leaves, td = tree_flatten(tree)
    others = []
    for r in rest:
        lr, tr = tree_flatten(r)
        if tr != td:
            raise ValueError(f"pytree structures differ: {td} and {tr}")
        others.append(lr)
    return tree_unflatten(td, [f(*xs) for xs in zip(leaves, *others)])
