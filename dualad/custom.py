"""User-defined derivative rules: :func:`custom_jvp` and :func:`custom_vjp`, JAX's shape.

A decorated function becomes an op-table entry of its own (a :class:`~dualad.ops.Primitive`
made for it), so both modes and every nesting of them meet it like any NumPy function:

- ``custom_jvp``: the user gives ``jvp(primals, tangents) -> (primal_out, tangent_out)``.
  Forward mode calls it (once per tangent lane); reverse mode transposes it by recording it on
  a tape of its own (the rule is linear in the tangents, so its VJP is exact), as JAX does.
- ``custom_vjp``: the user gives ``fwd(*args) -> (out, residuals)`` and
  ``bwd(residuals, g) -> cotangents``, one per positional argument (``None`` for zero).
  Reverse mode calls ``fwd`` when the function runs and ``bwd`` in the sweep (once per
  cotangent lane). Forward mode differentiates the function's own code: JAX refuses forward
  mode here; we take the derivative of what the function computes, which is the same
  derivative whenever the function is differentiable by dualad at all.

Arguments are positional pytrees of arrays (``nondiff_argnums`` name the ones that are not
differentiated, passed by value: ints, strings, callables); outputs are pytrees of arrays.
The rules may be written for one tangent or cotangent: lanes are handled here.
"""
from __future__ import annotations

import functools

import numpy as np

import reverse

from .ops import Primitive, Tracer
from .pytree import tree_flatten, tree_unflatten
from .transforms import jvp

__all__ = ["custom_jvp", "custom_vjp"]


class _Custom:
    """What both decorators share: splitting the arguments, binding the primitive."""

    kind = ""

    def __init__(self, fun, nondiff_argnums=()):
        if not callable(fun):
            raise TypeError(f"{self.kind}: expected a function, got {type(fun).__name__}")
        try:
            self.nondiff_argnums = tuple(sorted({int(i) for i in nondiff_argnums}))
        except TypeError:
            raise TypeError(f"{self.kind}: nondiff_argnums must be a tuple of ints, got "
                            f"{nondiff_argnums!r}") from None
        self.fun = fun
        functools.update_wrapper(self, fun)
        name = f"{getattr(fun, '__module__', None) or 'user'}.{getattr(fun, '__qualname__', fun)}"
        # no saves= declaration: the tape keeps every leaf and the outputs (a user's rule may
        # read any of them)
        self.prim = Primitive(name, lambda *a, **k: self._impl(*a, **k),
                              jvp=lambda *a, **k: self._jvp(*a, **k),
                              vjp=lambda *a, **k: self._vjp(*a, **k), multiple_results=True)

    def __call__(self, *args):
        leaves, tree, static = self._split(args)
        if not any(isinstance(x, Tracer) for x in leaves):
            return self.fun(*args)
        self._check_rules()
        # what one call keeps for its rules: the output structure ("tree", filled in by
        # _impl), custom_vjp's residuals ("res") and the cotangents last swept ("swept")
        cell = {"tree": None, "res": None, "swept": None}
        outs = self.prim.bind(*leaves, tree=tree, static=static, cell=cell)
        return tree_unflatten(cell["tree"], list(outs))

    def _split(self, args):
        n = len(args)
        for i in self.nondiff_argnums:
            if not 0 <= i < n:
                raise ValueError(f"{self.kind} {self.__name__}: nondiff_argnums {i} out of range "
                                 f"for {n} positional argument(s)")
        static = tuple((i, args[i]) for i in self.nondiff_argnums)
        diff = tuple(a for i, a in enumerate(args) if i not in self.nondiff_argnums)
        leaves, tree = tree_flatten(diff)
        for i, a in static:
            if any(isinstance(x, Tracer) for x in tree_flatten(a)[0]):
                raise TypeError(f"{self.kind} {self.__name__}: argument {i} is in "
                                f"nondiff_argnums but holds a traced value; its derivative "
                                f"would be dropped. Differentiate it, or pass a plain value")
        return leaves, tree, static

    @staticmethod
    def _join(tree, static, leaves):
        """The user's positional arguments from the differentiated leaves and the static ones."""
        args = list(tree_unflatten(tree, list(leaves)))
        for i, a in static:
            args.insert(i, a)
        return args

    def _run(self, fun, tree, static, leaves):
        """``fun(*args)`` with the output flattened: ``(leaves, treedef)``."""
        out = fun(*self._join(tree, static, leaves))
        o_leaves, o_tree = tree_flatten(out)
        return [x if isinstance(x, Tracer) else np.asarray(x) for x in o_leaves], o_tree


def _lanes_of(tangents):
    for t in tangents:
        if t is not None:
            return t.shape[0]
    return 0


def _zeros(x, k=None):
    shape = tuple(np.shape(x)) if not isinstance(x, Tracer) else tuple(x.shape)
    dtype = getattr(x, "dtype", None) or np.result_type(x)
    dtype = dtype if np.issubdtype(dtype, np.inexact) else np.float64
    return np.zeros(shape if k is None else (k,) + shape, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# custom_jvp
# ---------------------------------------------------------------------------------------------

class custom_jvp(_Custom):
    """A function with a user-defined JVP rule.

    >>> @custom_jvp
    ... def log1pexp(x):
    ...     return np.log1p(np.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t / (1.0 + np.exp(-x))   # stable where exp(x) overflows

    ``jvp(primals, tangents)`` gets the tuple of (differentiated) arguments and a tuple of
    tangents like them (zeros where an argument is constant) and returns
    ``(primal_out, tangent_out)``; it must be linear in the tangents. Call the decorated
    function (not the undecorated one) inside the rule, so that higher derivatives use the rule
    again.
    """

    kind = "custom_jvp"

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums)
        self.jvp_rule = None

    def defjvp(self, jvp):
        """Set the JVP rule (usable as a decorator); returns it."""
        if not callable(jvp):
            raise TypeError(f"custom_jvp.defjvp: expected a function, got {type(jvp).__name__}")
        self.jvp_rule = jvp
        return jvp

    def _check_rules(self):
        if self.jvp_rule is None:
            raise TypeError(f"custom_jvp {self.__name__} has no rule: define it with "
                            f"@{self.__name__}.defjvp before differentiating")

    def _impl(self, *leaves, tree, static, cell):
        # the decorated function, not fun: tracers of enclosing levels meet the rule again
        outs, cell["tree"] = self._run(self, tree, static, leaves)
        return tuple(outs)

    def _rule_lane(self, tree, static, leaves, tangents):
        """The user's rule for one tangent per leaf: the output tangent leaves."""
        primals = self._join(tree, static, leaves)
        dual = self._join(tree, static, tangents)
        for i, _ in static:  # static arguments get no tangent: the rule sees None there
            dual[i] = None
        res = self.jvp_rule(tuple(primals), tuple(dual))
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TypeError(f"custom_jvp {self.__name__}: the JVP rule must return "
                            f"(primal_out, tangent_out), got {type(res).__name__}")
        t_leaves, t_tree = tree_flatten(res[1])
        o_tree = tree_flatten(res[0])[1]
        if t_tree != o_tree:
            raise ValueError(f"custom_jvp {self.__name__}: the JVP rule's tangent_out has "
                             f"structure {t_tree}, its primal_out {o_tree}")
        return t_leaves

    def _jvp(self, tangents, ans, *leaves, tree, static, cell):
        k = _lanes_of(tangents)
        per_lane = []
        for lane in range(k):
            ts = [_zeros(x) if t is None else t[lane] for x, t in zip(leaves, tangents)]
            per_lane.append(self._rule_lane(tree, static, leaves, ts))
        out = []
        for j, a in enumerate(ans):
            # a plain tangent (a Python 0.0, say) is broadcast to its output's shape
            lanes = [x if isinstance(x, Tracer) else
                     np.broadcast_to(np.asarray(x, dtype=a.dtype), np.shape(a))
                     for x in (per_lane[lane][j] for lane in range(k))]
            out.append(np.stack(lanes))
        return tuple(out)

    def _vjp(self, i, g, ans, *leaves, tree, static, cell):
        # the transpose of the (linear) rule, recorded on a tape of its own; computed for all
        # arguments at the first one's call and kept for the others (same cotangent object)
        cache = cell["swept"]
        if cache is None or cache[0] is not g:
            zeros = [_zeros(x) for x in leaves]
            _, vjp_fn = reverse.vjp(
                lambda *ts: tuple(self._rule_lane(tree, static, leaves, ts)), *zeros)
            k = g[0].shape[0]
            rows = [vjp_fn(tuple(gj[lane] for gj in g)) for lane in range(k)]
            cts = [np.stack([row[m] for row in rows]) for m in range(len(leaves))]
            cell["swept"] = cache = (g, cts)
        return cache[1][i]


# ---------------------------------------------------------------------------------------------
# custom_vjp
# ---------------------------------------------------------------------------------------------

class custom_vjp(_Custom):
    """A function with a user-defined VJP rule.

    >>> @custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> def fwd(x):
    ...     return x, None                       # (output, residuals for bwd)
    >>> def bwd(res, g):
    ...     return (np.clip(g, -1.0, 1.0),)      # one cotangent per positional argument
    >>> clip_gradient.defvjp(fwd, bwd)

    ``fwd(*args)`` returns ``(out, residuals)``; ``bwd(residuals, g)`` gets one output
    cotangent ``g`` (shaped like ``out``) and returns a tuple with one cotangent per positional
    argument that is not in ``nondiff_argnums`` (``None`` means zero). Forward mode
    differentiates the function's own code.
    """

    kind = "custom_vjp"

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        """Set the forward pass (returning the residuals) and the backward rule."""
        for name, rule in (("fwd", fwd), ("bwd", bwd)):
            if not callable(rule):
                raise TypeError(f"custom_vjp.defvjp: {name} must be a function, got "
                                f"{type(rule).__name__}")
        self.fwd, self.bwd = fwd, bwd

    def _check_rules(self):
        if self.fwd is None:
            raise TypeError(f"custom_vjp {self.__name__} has no rule: define it with "
                            f"{self.__name__}.defvjp(fwd, bwd) before differentiating")

    def _impl(self, *leaves, tree, static, cell):
        if any(isinstance(x, Tracer) for x in leaves):
            # enclosing levels: they meet the rule again through the decorated function, and
            # the residuals carry their derivatives (for derivatives of the sweep)
            outs, cell["tree"] = self._run(self, tree, static, leaves)
            cell["res"] = self._fwd(tree, static, leaves)[1]
        else:
            out, cell["res"] = self._fwd(tree, static, leaves)
            o_leaves, cell["tree"] = tree_flatten(out)
            outs = [np.asarray(x) for x in o_leaves]
        return tuple(outs)

    def _fwd(self, tree, static, leaves):
        res = self.fwd(*self._join(tree, static, leaves))
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TypeError(f"custom_vjp {self.__name__}: fwd must return (out, residuals), "
                            f"got {type(res).__name__}")
        return res

    def _jvp(self, tangents, ans, *leaves, tree, static, cell):
        k = _lanes_of(tangents)
        ts = [_zeros(x, k) if t is None else t for x, t in zip(leaves, tangents)]
        _, out_t = jvp(lambda *xs: tuple(self._run(self.fun, tree, static, xs)[0]),
                       tuple(leaves), tuple(ts), lanes=True)
        return tuple(out_t)

    def _vjp(self, i, g, ans, *leaves, tree, static, cell):
        cache = cell["swept"]
        if cache is None or cache[0] is not g:
            res = cell["res"]
            k = g[0].shape[0]
            n_args = len(tree.children)  # (the differentiated arguments, a tuple)
            rows = []
            for lane in range(k):
                out_ct = tree_unflatten(cell["tree"], [gj[lane] for gj in g])
                cts = self.bwd(res, out_ct)
                if not isinstance(cts, (tuple, list)) or len(cts) != n_args:
                    raise TypeError(f"custom_vjp {self.__name__}: bwd must return a tuple "
                                    f"of {n_args} cotangent(s), one per differentiated "
                                    f"argument; got {type(cts).__name__}"
                                    + (f" of {len(cts)}" if isinstance(cts, (tuple, list))
                                       else ""))
                rows.append(self._flat_cts(tree, cts, leaves))
            cell["swept"] = cache = (g, [np.stack([row[m] for row in rows])
                                         for m in range(len(leaves))])
        return cache[1][i]

    def _flat_cts(self, tree, cts, leaves):
        out = []
        for arg_tree, ct in zip(tree.children, cts):
            n = arg_tree.num_leaves
            base = len(out)
            if ct is None:
                out.extend(_zeros(leaves[base + m]) for m in range(n))
                continue
            c_leaves, c_tree = tree_flatten(ct)
            if c_tree != arg_tree and not (n == 1 and arg_tree.kind == "leaf"):
                raise ValueError(f"custom_vjp {self.__name__}: bwd's cotangent has structure "
                                 f"{c_tree}, its argument {arg_tree}")
            for m, c in enumerate(c_leaves):
                x = leaves[base + m]
                c = c if isinstance(c, Tracer) else np.asarray(c, dtype=_zeros(x).dtype)
                if tuple(np.shape(c)) != tuple(np.shape(x)):
                    raise ValueError(f"custom_vjp {self.__name__}: bwd returned a cotangent of "
                                     f"shape {tuple(np.shape(c))} for an argument of shape "
                                     f"{tuple(np.shape(x))}")
                out.append(c)
        return out
