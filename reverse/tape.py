"""The adjoint tape: recorded ops (:class:`Node`) and the reverse sweep over them.

Recording
    Each op applied to a Tensor that requires grad becomes a :class:`Node` holding the op-table
    primitive, the primal arguments and the answer as far as its entry declares the VJP rule
    reads them (see :mod:`reverse.saving`), the residuals of an entry with a ``fwd``, the
    keyword arguments, and its *edges*: for each argument that needs a cotangent, where to
    send it — the Node that produced it (a :class:`Port` naming the output, for ops with
    several results) or, for a leaf, the leaf Tensor itself. Nodes point at their producers,
    never at the Tensors they produced, so an intermediate Tensor the program drops is freed
    with its value unless a rule needs that value: the graph is owned by the outputs, as in
    PyTorch. The first two arguments and their edges live in slots of the node rather than in
    tuples: a recorded graph is long-lived, and every container it holds is one more object for
    Python's cyclic garbage collector to walk, which on scalar code cost more than the sweep.

Ordering
    Every node takes a key from one decreasing counter when it is recorded, so a node's key is
    smaller than the keys of all its producers. The sweep keeps the nodes that have received a
    cotangent in a heap by key and pops the latest-recorded first: the tape read backwards,
    restricted to the part the output depends on. When a node is popped, every consumer of its
    result (all recorded later) has already been swept, so its cotangent is complete. No
    recursion and no topological sort.

Memory
    A node's accumulated cotangent is dropped once its rules have run, and its saved values too
    unless ``retain_graph``; a second sweep reaching a freed node raises ``RuntimeError``.

Lanes
    With ``lanes=True`` cotangents carry a leading lane axis (``core``'s convention): K
    cotangents are swept at once by calling each rule once on ``(K, *shape)`` arrays. A plain
    backward (one cotangent, K = 1) sweeps them without the axis: on 0-d values that turns every
    cotangent into a NumPy scalar, whose arithmetic costs a tenth of a one-element array's
    (the scalar hot path). An entry with a ``vjp_plain`` rule (every elementwise entry, whose
    ``core.elementwise`` generates it from the partials; matmul, sum) gets the cotangent as it
    is; any other rule is called with the axis added and removed around it. The sweep only
    calls rules: how a broadcast cotangent is summed lives in ``core.sum_to``.
"""
from __future__ import annotations

import heapq
import itertools
import traceback

import numpy as np

from dualad.ops import Tracer
from dualad.ops.core import rule_zero_division

from .modes import ANOMALY, GRAD
from .saving import MIN_DROP_BYTES, Meta, trim

__all__ = ["Node", "Port", "node_keys", "record", "sweep", "own", "hook_result", "lift",
           "keep_own_copies"]

#: keys for the sweep's min-heap: later ops get smaller keys, so they pop first
node_keys = itertools.count(0, -1)

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray
_generic = np.generic


class Node:
    """One recorded op: what its VJP rules need and where their results go.

    The saved arguments are ``a0``, ``a1`` and the tuple ``arest`` of the others, ``nargs`` in
    all (``-1`` once freed; :attr:`args` has them as one tuple). ``e0``, ``e1`` and ``erest``
    are their edges, ``None`` for an argument that needs no cotangent (``erest`` is ``None``
    when all of those are). ``res`` holds the residuals of a primitive with a ``fwd`` (else
    ``None``), handed to its VJP as ``residuals=``. ``gout`` accumulates the cotangent of the
    output during a sweep (a dict ``{k: cotangent}`` for ops with several results). ``hooks`` holds ``[k, fn, handle]``
    entries of hooks registered on the output Tensors; ``trace`` where the op was recorded (in
    anomaly mode). :func:`record` fills the slots of a ``Node()``: a class without
    ``__init__`` is the cheapest object to make, and this is the forward hot path. ``key``
    comes from :data:`node_keys`.
    """

    __slots__ = ("prim", "nargs", "a0", "a1", "arest", "kwargs", "ans", "res", "e0", "e1",
                 "erest", "key", "gout", "hooks", "trace", "__weakref__")

    @property
    def args(self):
        """The saved arguments as a tuple (``None`` once freed)."""
        n = self.nargs
        if n < 0:
            return None
        if n <= 2:
            return (self.a0, self.a1)[:n]
        return (self.a0, self.a1) + self.arest

    def targets(self):
        """Where each argument's cotangent goes, aligned with the arguments (``None``: nowhere;
        padded with ``None`` to two entries)."""
        if self.erest is None:
            return (self.e0, self.e1)
        return (self.e0, self.e1) + self.erest

    @property
    def edges(self):
        """``(i, producer, k)`` for each argument ``i`` that needs a cotangent: output ``k`` of
        the Node ``producer``, or ``producer`` is the leaf Tensor itself (``k == 0``)."""
        out = []
        for i, target in enumerate(self.targets()):
            if type(target) is Port:
                out.append((i, target.node, target.k))
            elif target is not None:
                out.append((i, target, 0))
        return tuple(out)

    @property
    def name(self):
        return self.prim.name

    def __repr__(self):
        return f"<Node {self.prim.name}{' (freed)' if self.nargs < 0 else ''}>"


class Port:
    """Output ``k`` of a node with several results: where its cotangents go."""

    __slots__ = ("node", "k")

    def __init__(self, node, k):
        self.node = node
        self.k = k

    def __repr__(self):
        return f"<Port {self.k} of {self.node!r}>"


def where_recorded():
    """A short description of the caller outside this package (for anomaly mode)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        fname = frame.filename.replace("\\", "/")
        if "/reverse/" not in fname and "/dualad/ops/" not in fname:
            code = f": {frame.line}" if frame.line else ""
            return f"{frame.filename}:{frame.lineno} in {frame.name}{code}"
    return "an unknown place"


# ---------------------------------------------------------------------------------------------
# recording
# ---------------------------------------------------------------------------------------------

def record(prim, ans, res, kwargs, n, va, vb, vals, ea, eb, erest, mode):
    """The :class:`Node` recording ``prim``: the answer, the residuals ``res`` of its ``fwd``,
    the ``n`` arguments ``va``, ``vb`` and ``vals[2:]`` (``vals``: all of them, or ``None`` for
    two) less what the entry declares its rules do not read, and the edges ``ea``, ``eb``,
    ``erest`` where their cotangents go; ``mode`` is the recording mode (``reverse.modes``).
    ``Tensor._process`` calls it for every recorded op: the forward hot path."""
    if prim.vjp is None:
        raise TypeError(f"no VJP rule for {prim.name}")
    rest = vals[2:] if n > 2 else None
    saved = ans
    saves = prim.saves
    if saves.trims:
        if type(ans) is _ndarray:
            small = ans.nbytes < MIN_DROP_BYTES
        else:  # a NumPy scalar (small), or a tracer when modes nest
            small = not isinstance(ans, Tracer)
        # a small answer is not worth a Meta, nor are the arguments of an elementwise op
        # (never larger than the answer)
        if not small or not saves.elementwise:
            # which arguments need a cotangent decides what their rules read
            if n <= 2:
                plan = saves.fast[(n - 1) * 4 + (ea is not None) + (eb is not None) * 2]
                # (spelled out: trim()'s tuples cost more than the scalar ops they would save)
                if not small and not plan.keep_ans:
                    saved = Meta(ans.shape, ans.dtype)
                if plan.drop0 and (type(va) is _ndarray and va.nbytes >= MIN_DROP_BYTES or
                                   isinstance(va, Tracer)):
                    va = Meta(va.shape, va.dtype)
                if plan.drop1 and (type(vb) is _ndarray and vb.nbytes >= MIN_DROP_BYTES or
                                   isinstance(vb, Tracer)):
                    vb = Meta(vb.shape, vb.dtype)
            else:
                mask = (ea is not None) + (eb is not None) * 2
                if erest is not None:
                    for j, e in enumerate(erest):
                        if e is not None:
                            mask |= 4 << j
                plan = saves.plan(n, mask)
                if plan.trims and (not small or plan.drop):
                    saved, kept = trim(plan, ans, (va, vb) + rest)
                    va, vb, rest = kept[0], kept[1], kept[2:]
    node = Node()  # (a class without __init__, its slots filled here: the cheapest object)
    node.prim = prim
    node.nargs = n
    node.a0 = va
    node.a1 = vb
    node.arest = rest
    node.kwargs = kwargs
    node.ans = saved
    node.res = res
    node.e0 = ea
    node.e1 = eb
    node.erest = erest
    node.key = next(node_keys)
    node.gout = None
    node.hooks = None
    node.trace = None if mode == GRAD or not mode & ANOMALY else where_recorded()
    return node


# ---------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------

def sweep(seeds, retain_graph=False, create_graph=None, anomaly=False, level=None,
          lanes=True):
    """Run the reverse sweep from ``seeds``, a list of ``(target, g)``.

    ``target`` is where the cotangent ``g`` goes (a Node, a Port or a leaf Tensor); ``g``
    has the leading lane axis if ``lanes`` (else it is one cotangent, shaped like the value).
    Returns the leaf Tensors reached, in first-reached order, each with its summed cotangent in
    ``leaf._gacc`` (the caller takes it from there and resets it). With ``create_graph`` the
    rules run on Tensors of ``level`` (see :func:`lift`) so that the sweep itself is recorded:
    ``create_graph`` is then the Tensor class itself (the tape sits below ``reverse.tensor``,
    so the caller hands its class down rather than the tape importing it).
    """
    heap = []
    leaves = []
    pop = heapq.heappop
    # the lean path, most nodes of a plain backward: one cotangent, nothing to record or check,
    # a rule that needs no lane axis (a vjp_plain: every elementwise entry has one)
    lean = not (lanes or create_graph or anomaly)
    node = None
    try:
        for target, g in seeds:
            _send(target, g, heap, leaves)
        while heap:
            node = pop(heap)[1]
            g = node.gout
            node.gout = None
            rule = node.prim.vjp_plain
            if lean and rule is not None and node.nargs > 0 and node.hooks is None:
                kwargs = node.kwargs
                # (spelled out: a call without building a tuple, or **{}, is cheaper)
                if node.nargs == 2 and not kwargs:
                    # (both arguments spelled out: no tuple and no enumerate per node)
                    a0, a1, ans = node.a0, node.a1, node.ans
                    target = node.e0
                    if target is not None:
                        ct = rule(0, g, ans, a0, a1)
                        if ct is not None:
                            _send(target, ct, heap, leaves)
                    target = node.e1
                    if target is not None:
                        ct = rule(1, g, ans, a0, a1)
                        if ct is not None:
                            _send(target, ct, heap, leaves)
                    a0 = a1 = ans = target = None  # (drop this node's arrays before the next pop)
                elif node.nargs == 1:  # (its one argument is the one with an edge)
                    ct = rule(0, g, node.ans, node.a0, **kwargs) if kwargs else \
                        rule(0, g, node.ans, node.a0)
                    if ct is not None:
                        _send(node.e0, ct, heap, leaves)
                else:
                    args = node.args
                    for i, target in enumerate(node.targets()):
                        if target is not None:
                            ct = rule(i, g, node.ans, *args, **kwargs)
                            if ct is not None:
                                _send(target, ct, heap, leaves)
                    args = None
                ct = None
            else:
                _general(node, g, heap, leaves, create_graph, anomaly, level, lanes)
            if not retain_graph:  # drop the saved values: a second sweep here raises
                node.nargs = -1
                node.a0 = node.a1 = node.arest = node.ans = node.kwargs = node.res = None
            g = None
    except BaseException as e:
        _abandon(heap, leaves, node, e)
        raise
    return leaves


def _abandon(heap, leaves, node, e):
    """A sweep raised ``e`` at ``node``: leave no half-summed cotangents behind for the next
    sweep, and name the op whose rule divided a Python number by zero."""
    for _, waiting in heap:
        waiting.gout = None
    for leaf in leaves:
        leaf._gacc = None
    if isinstance(e, ZeroDivisionError) and node is not None:
        raise ZeroDivisionError(rule_zero_division("VJP", node.prim.name)) from e


def _general(node, g, heap, leaves, create_graph, anomaly, level, lanes):
    """Send the cotangents of ``node``'s arguments on, given its output cotangent ``g``: by the
    rule from the table (on cotangents with the lane axis), after hooks, recording the rule
    with ``create_graph``."""
    n = node.nargs
    if n < 0:
        raise RuntimeError(
            f"backward through {node.prim.name} a second time: its saved values were "
            f"freed by an earlier sweep. Pass retain_graph=True to the first sweep "
            f"(backward(retain_graph=True), or vjp_fn(..., retain_graph=True)) to sweep "
            f"the same graph again")
    args = node.args
    prim = node.prim
    ans = node.ans
    if prim.multiple_results:
        g = _fill(g, ans, lanes)
    if create_graph:
        g, ans, args = lift(node, g, level, create_graph)
    if node.hooks is not None:
        g = _run_node_hooks(node, g, lanes)
    kwargs = node.kwargs
    if prim.fwd is not None:
        # the forward pass's residuals; not under create_graph, whose rules must see the
        # (lifted) arguments to be differentiable: they recompute them
        kwargs = dict(kwargs, residuals=None if create_graph else node.res)
    if lanes:
        vjp, gl = prim.vjp, g
    elif prim.vjp_plain is not None:  # the rule for one cotangent, no lane axis
        vjp, gl = prim.vjp_plain, g
    else:  # the lane rule, the axis added around it
        vjp, gl = prim.vjp, _add_lane(g)
    strip = gl is not g
    for i, target in enumerate(node.targets()):
        if target is None:
            continue
        # (a call without **{} is measurably cheaper on the scalar hot path)
        ct = vjp(i, gl, ans, *args, **kwargs) if kwargs else vjp(i, gl, ans, *args)
        if ct is None:
            continue
        if strip:
            ct = ct[0]
        if anomaly:
            _check_finite(ct, node, i)
        _send(target, ct, heap, leaves)


def _add_lane(g):
    return tuple(x[None] for x in g) if isinstance(g, tuple) else g[None]


def _send(target, g, heap, leaves):
    """Add the cotangent ``g`` where ``target`` says: a Node, a Port or a leaf Tensor."""
    if type(target) is Node:
        prev = target.gout
        if prev is None:
            target.gout = g
            heapq.heappush(heap, (target.key, target))
        else:
            target.gout = prev + g
    elif type(target) is Port:
        node = target.node
        if node.gout is None:  # {output index: cotangent}
            node.gout = {}
            heapq.heappush(heap, (node.key, node))
        acc = node.gout.get(target.k)
        node.gout[target.k] = g if acc is None else acc + g
    else:
        prev = target._gacc
        if prev is None:
            target._gacc = g
            leaves.append(target)
        else:
            target._gacc = prev + g


def _fill(gout, ans, lanes):
    """The tuple of output cotangents of a multiple-result op, zeros where none arrived."""
    if ans is None:  # freed: the sweep raises for it right after
        return gout
    lead = (next(iter(gout.values())).shape[0],) if lanes else ()
    return tuple(gout[n] if n in gout else np.zeros(lead + tuple(a.shape), dtype=a.dtype)
                 for n, a in enumerate(ans))


def _run_node_hooks(node, g, lanes):
    """Hooks on the output Tensors of ``node`` see (and may replace) their total cotangent."""
    multiple = node.prim.multiple_results
    g = list(g) if multiple else g
    for k, fn, _ in list(node.hooks):
        cur = g[k] if multiple else g
        new = fn(cur[0] if lanes else cur)
        if new is not None:
            new = hook_result(new, cur[0] if lanes else cur)
            if lanes:
                new = new[None]
            if multiple:
                g[k] = new
            else:
                g = new
    return tuple(g) if multiple else g


def hook_result(value, like):
    """A hook's replacement gradient, checked against the gradient ``like`` it replaces."""
    if not isinstance(value, Tracer):
        try:
            value = np.asarray(value, dtype=like.dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"a hook returned {type(value).__name__} {value!r:.60}, which is "
                            f"not a gradient: return an array of shape {tuple(like.shape)} "
                            f"(or None to keep the gradient)") from e
    if tuple(value.shape) != tuple(like.shape):
        raise RuntimeError(f"a hook returned a gradient of shape {tuple(value.shape)}; "
                           f"expected {tuple(like.shape)}")
    return value


def own(g, seen):
    """``g`` as an array no other gradient handed out in this sweep shares (``seen``: ids).

    Rules may hand one array to several arguments (``x + y`` gives ``g`` to both) or views of
    it, and broadcasting views are read-only; ``.grad`` and ``vjp_fn``'s results must be
    writable and must not alias one another, so those are copied. A view of an array nobody
    else got (the lane axis dropped from a rule's fresh result) is kept as it is.
    """
    if type(g) is _ndarray:
        base = g.base
        if not g.flags.writeable or id(g) in seen or base is not None and id(base) in seen:
            g = g.copy()
            base = None
        seen.add(id(g))
        if base is not None:
            seen.add(id(base))
        return g
    if isinstance(g, _generic):
        return np.asarray(g)
    return g


def _check_finite(ct, node, i):
    v = ct._plain_value() if isinstance(ct, Tracer) else ct
    if not np.all(np.isfinite(v)):
        bad = "nan" if np.any(np.isnan(v)) else "inf"
        where = f" The op was recorded at {node.trace}." if node.trace else \
            " (Enter detect_anomaly() before the forward pass too to learn where it was recorded.)"
        raise RuntimeError(
            f"detect_anomaly: the VJP of {node.prim.name} (for its argument {i}) produced "
            f"{bad} values.{where}")


def lift(node, g, level, tensor):
    """The rule inputs of ``node`` as Tensors of ``level``, for a sweep that is itself recorded.

    The cotangent becomes a (constant) Tensor if it is not one; each argument that has an edge
    becomes a Tensor whose history is that edge (a leaf is itself); the answer becomes a Tensor
    produced by ``node``, so derivatives of the rule flow back through this very op.
    ``tensor`` is the Tensor class.
    """
    wrap = tensor._wrap
    if isinstance(g, tuple):
        g = tuple(x if _is_tensor(x, level, tensor) else wrap(x, level, None) for x in g)
    elif not _is_tensor(g, level, tensor):
        g = wrap(g, level, None)
    args = list(node.args)
    for i, target in enumerate(node.targets()):
        if target is None:
            continue
        if type(target) is Node or type(target) is Port:
            args[i] = wrap(args[i], level, target)
            continue
        # a leaf is its own history; its value must still be the one the op saw (a different
        # but equal array is fine: .data hands out a copy of an array the tape holds)
        if target._value is not args[i] and type(args[i]) is not Meta and \
                not _same_value(target._value, args[i]):
            raise RuntimeError(
                f"a leaf Tensor used by {node.prim.name} was given a new value (an in-place "
                f"update under no_grad, or .data) after the op saved it; differentiating the "
                f"sweep again (create_graph=True) needs the value the op saw. Recompute the "
                f"forward pass after updating the leaf")
        args[i] = target
    ans = node.ans
    if node.prim.multiple_results:
        ans = tuple(wrap(a, level, Port(node, k)) for k, a in enumerate(ans))
    else:
        ans = wrap(ans, level, node)
    return g, ans, args


def _same_value(a, b):
    plain = [x._plain_value() if isinstance(x, Tracer) else x for x in (a, b)]
    return np.array_equal(*plain)


def _is_tensor(x, level, tensor):
    return isinstance(x, tensor) and x._level == level


# ---------------------------------------------------------------------------------------------
# a graph that outlives its recording keeps its own copies of the arrays others may write to
# ---------------------------------------------------------------------------------------------

def keep_own_copies(targets):
    """Copy, in the part of the graph that ``targets`` reach, every saved array that someone
    other than the tape may change in place: constants the ops read (``x * c``), the primal
    arrays themselves, views of either, and index arrays among the keyword arguments. Answers
    the tape computed (fresh arrays only it holds) are left alone.

    For a graph swept later (``vjp``'s ``vjp_fn``): a write to ``c`` between the recording and
    the sweep must not change the derivative. One walk and one copy per array (each copied
    once however many ops saved it) per recording, nothing per op: the eager hot path pays
    nothing, and a call that sweeps at once (``grad``, ``jacrev``) does not walk at all.
    """
    nodes = []
    stack = [t.node if type(t) is Port else t for t in targets if t is not None]
    seen = set()
    while stack:
        node = stack.pop()
        if type(node) is not Node or id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        for target in node.targets():
            if target is not None:
                stack.append(target.node if type(target) is Port else target)
    private = set()  # ids of the answers the tape made: no one else holds them
    for node in nodes:
        for a in (node.ans if node.prim.multiple_results else (node.ans,)):
            if type(a) is _ndarray and a.base is None:
                private.add(id(a))
    for node in nodes:  # (an impl may hand back its argument itself: a constant stays one)
        args = node.args or ()
        for v, target in zip(args, node.targets()):
            if target is None or type(target) is not Node and type(target) is not Port:
                private.discard(id(v))
    copies = {}  # id -> (original, copy): the original is kept alive, so its id stays unique

    def own_copy(v):
        if type(v) is not _ndarray or id(v) in private or v.base is None and \
                not v.flags.writeable:
            return v
        hit = copies.get(id(v))
        if hit is None:
            hit = copies[id(v)] = (v, v.copy())
        return hit[1]

    for node in nodes:
        if node.nargs < 0:
            continue
        node.a0 = own_copy(node.a0)
        node.a1 = own_copy(node.a1)
        if node.arest is not None:
            node.arest = tuple(own_copy(v) for v in node.arest)
        if node.prim.multiple_results:
            node.ans = tuple(own_copy(a) for a in node.ans)
        else:
            node.ans = own_copy(node.ans)
        if node.kwargs:
            node.kwargs = {k: tuple(own_copy(e) for e in v) if type(v) is tuple else own_copy(v)
                           for k, v in node.kwargs.items()}
