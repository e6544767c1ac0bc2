"""Sparsity detection: a third interpretation of the op table, next to forward and reverse.

A :class:`SparsityTracer` carries a primal value and, per entry, the set of input indices the
entry depends on (a boolean CSR pattern, see :mod:`.patterns`). Each primitive applied to it
computes the plain result and maps the sets by the primitive's rule kind (:mod:`.rules`). The
pattern found is global: it holds at every point on the traced branch of ``f``, and it is
conservative (a superset of the nonzeros of the Jacobian there).
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp

from ..ops import ArrayProtocol, Tracer, new_level
from ..pytree import tree_flatten
from ..front import Args as _Args
from ..transforms import grad
from . import patterns as pat
from .rules import rule_for

__all__ = ["SparsityTracer", "jacobian_sparsity", "hessian_sparsity"]


class _Run:
    """What one detection run shares: the input size and the primitives that fell back."""

    __slots__ = ("n", "fallbacks")

    def __init__(self, n):
        self.n = n
        self.fallbacks = {}


class SparsityTracer(ArrayProtocol):
    """A primal array with, per entry, the set of input indices it depends on."""

    __slots__ = ("_primal", "_pattern", "_level", "_run")
    _rule_kind = "sparsity"

    def __init__(self, primal, pattern, level, run):
        self._primal = primal
        self._pattern = pattern
        self._level = level
        self._run = run

    @property
    def primal(self):
        return self._primal

    @property
    def pattern(self):
        """The boolean CSR ``(self.size, n)``: row ``e`` is entry ``e``'s set of inputs."""
        return self._pattern

    def _aval(self):
        return self._primal

    def _plain_value(self):
        p = self._primal
        return p._plain_value() if isinstance(p, Tracer) else p

    def __repr__(self):
        return f"SparsityTracer(shape={self.shape}, nnz={self._pattern.nnz})"

    def _process(self, prim, args, kwargs):
        level, run = self._level, self._run
        primals, patterns = [], []
        for a in args:
            if a.__class__ is SparsityTracer and a._level == level:
                primals.append(a._primal)
                patterns.append(a._pattern)
            else:
                primals.append(a)
                patterns.append(None)
        ans = prim.impl(*primals, **kwargs)
        if prim.nondiff:
            return ans  # a zero derivative: the result depends on no input
        rule = rule_for(prim)
        out = NotImplemented if rule is None or prim.multiple_results else \
            rule(ans, primals, patterns, kwargs, run.n)
        if out is NotImplemented:  # no rule (or a case it does not cover): depend on everything
            run.fallbacks[prim.name] = run.fallbacks.get(prim.name, 0) + 1
            cols = pat.columns(patterns)
            if prim.multiple_results:
                return tuple(self._wrap(a, pat.dense_rows(_size(a), cols, run.n)) for a in ans)
            return self._wrap(ans, pat.dense_rows(_size(ans), cols, run.n))
        return self._wrap(ans, out)

    def _wrap(self, ans, pattern):
        ans = ans if isinstance(ans, (np.ndarray, Tracer)) else np.asarray(ans)
        return SparsityTracer(ans, pattern, self._level, self._run)


def _size(x):
    return int(np.prod(np.shape(x) if not hasattr(x, "shape") else x.shape, dtype=np.int64))


def _output_pattern(outs, level, n):
    leaves, _ = tree_flatten(outs)
    blocks = []
    for o in leaves:
        if isinstance(o, SparsityTracer) and o._level == level:
            blocks.append(o._pattern)
        else:
            blocks.append(pat.empty(_size(o), n))
    p = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
    p = sp.csr_array(p, dtype=bool)
    p.sum_duplicates()  # canonical: sorted indices, no duplicates
    return p


def _trace(f, fname, args, argnums):
    spec = _Args(fname, args, argnums)
    n = spec.n
    run = _Run(n)
    level = new_level()
    seeds = [SparsityTracer(x, pat.seed(size, off, n), level, run)
             for x, size, off in zip(spec.leaves, spec.sizes, spec.offsets)]
    out = spec.call(f, seeds)
    return _output_pattern(out, level, n), run


def jacobian_sparsity(f, argnums=0, report=False):
    """The sparsity pattern of the Jacobian of ``f``, found without computing a derivative.

    Returns a function of ``f``'s arguments giving a boolean ``scipy.sparse.csr_array`` of shape
    ``(m, n)``: ``m`` is the total size of ``f``'s output leaves (flattened row-major and
    concatenated), ``n`` that of the differentiated argument leaves. Entry ``(i, j)`` is True
    when output ``i`` may depend on input ``j``: the pattern is conservative (it contains every
    nonzero of the Jacobian at any point where ``f`` takes the same branches) and costs
    O(nnz) to find. A primitive without a sparsity rule makes its outputs depend on all of its
    inputs; with ``report=True`` the function returns ``(pattern, fallbacks)``, ``fallbacks``
    a dict from the names of those primitives to how often they fell back.
    """
    @functools.wraps(f)
    def sparsity_fn(*args, **kwargs):
        p, run = _trace(_bind(f, kwargs), "jacobian_sparsity", args, argnums)
        return (p, dict(run.fallbacks)) if report else p
    return sparsity_fn


def _bind(f, kwargs):
    """``f`` with its keyword arguments fixed (they are passed through, never differentiated)."""
    return functools.partial(f, **kwargs) if kwargs else f


def hessian_sparsity(f, argnums=0, report=False):
    """The sparsity pattern of the Hessian of the scalar ``f``: a symmetric boolean
    ``scipy.sparse.csr_array`` ``(n, n)`` over the flattened differentiated arguments.

    Found as the Jacobian pattern of ``f``'s reverse-mode gradient: the sparsity tracer runs
    through the tape's backward sweep, so which inputs interact nonlinearly follows from the
    same op table (second-order propagation for free). Conservative, as
    :func:`jacobian_sparsity`; ``report`` as there.
    """
    g = grad(f, argnums)

    @functools.wraps(f)
    def sparsity_fn(*args, **kwargs):
        p, run = _trace(_bind(g, kwargs), "hessian_sparsity", args, argnums)
        p = sp.csr_array(p + p.T, dtype=bool)
        p.sum_duplicates()
        return (p, dict(run.fallbacks)) if report else p
    return sparsity_fn
