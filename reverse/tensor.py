"""``Tensor``: reverse mode. Ops on Tensors that require grad are recorded; ``backward`` sweeps.

A Tensor holds a value (an ndarray, or a lower-level tracer when modes nest), its *level*, and
— if an op produced it — the recording :class:`~reverse.tape.Node` (a
:class:`~reverse.tape.Port` for one output of an op with several results). It is the
reverse-mode sibling of :class:`dualad.DualArray`: NumPy calls reach :meth:`Tensor._process`
through the shared protocols, which runs the op-table implementation and records the op when
an argument requires grad.

Levels: Tensors built by hand from plain data share :data:`USER_LEVEL` (one PyTorch-style
graph); a Tensor wrapping a tracer, and every functional transform (:func:`reverse.vjp`), takes a
fresh level, so nested derivatives never confuse their perturbations.

Values are never mutated behind the tape's back. In-place operations (``x += 1``,
``x[0] = 3``, ``np.add(x, 1, out=x)``) give the Tensor a new array, recording the op when a
gradient must flow through it; ``.data`` hands out an array the tape does not hold (copying
first if it might), and an array handed out earlier is made read-only when an op saves it, so a
stale handle cannot write into it.
"""
from __future__ import annotations

import numpy as np

from dualad.ops import FUNCTION_RULES, UFUNC_RULES, ArrayProtocol, Tracer, new_level
from dualad.ops.protocol import fit_inplace_result
from dualad.ops.core import LIVE_LEVELS, TENSOR_USER_LEVEL, escaped, qualname, shape_of
from dualad.ops.shape import normalize_index

from .modes import ANOMALY, GRAD, MODE
from .hooks import RemovableHandle, RetainGrad
from .tape import Port, hook_result, own, record as _record, sweep

__all__ = ["Tensor", "USER_LEVEL"]

#: the level of Tensors built by hand from plain data: they all share one graph (defined with
#: DualArray's, which differs, in dualad.ops.core)
USER_LEVEL = TENSOR_USER_LEVEL

# who else may hold a Tensor's array (see the module docstring)
_PRIVATE = 0   # nobody: in-place writes could go straight into it
_SHARED = 1    # the tape (or another Tensor) may hold it: copy before handing it out
_EXPOSED = 2   # the user holds it (through .data or the constructor): freeze it when saved

_pos = UFUNC_RULES[np.positive]
_new = object.__new__

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray
_np_copy = np.copy
_dtype = np.dtype
# (bound once: CPython 3.11 does not specialize a method looked up on a global object)
_mode = MODE.get
_ufunc_rule = UFUNC_RULES.get
_function_rule = FUNCTION_RULES.get


def _is_inexact(dtype):
    """Floating or complex (a tenth of the cost of np.issubdtype(dtype, np.inexact))."""
    return _dtype(dtype).kind in "fc"


def leaf_dtype(g, dtype):
    """The gradient ``g`` (an ndarray of another dtype) in its leaf's ``dtype``. A real leaf's
    gradient is the real part: mixing with complex values leaves imaginary parts in cotangents
    of real values, which the transpose of the real-to-complex promotion drops."""
    if g.dtype.kind == "c" and _dtype(dtype).kind != "c":
        g = g.real
    return g.astype(dtype)


def real_part_for(g, dtype):
    """The traced gradient ``g`` (nested modes), its real part if its leaf's ``dtype`` is real."""
    if g.dtype.kind == "c" and _dtype(dtype).kind != "c":
        return np.real(g)
    return g


class Tensor(ArrayProtocol):
    """An array that records the ops applied to it, for reverse-mode differentiation.

    Parameters
    ----------
    data : array_like
        The value (copied). Python floats become 0-d float64 arrays. A tracer (for example a
        ``DualArray``) is kept as is and the Tensor takes a fresh level: forward-over-reverse.
    requires_grad : bool
        Record the ops applied to this Tensor so that ``backward`` can reach it. Needs a
        floating dtype.
    name : str, optional
        A label for :func:`reverse.to_dot`.

    Examples
    --------
    >>> x = Tensor(np.array([2.0, 5.0]), requires_grad=True)
    >>> y = np.log(x[0]) + x[0] * x[1] - np.sin(x[1])
    >>> y.backward()
    >>> x.grad
    array([5.5       , 1.71633781])
    """

    __slots__ = ("_value", "_level", "_node", "_requires_grad", "grad", "_hooks", "_gacc",
                 "_state", "name")
    _rule_kind = "VJP"
    _value_attr = "data"
    # == is elementwise, but hashing by identity lets a Tensor key a dict (optimizer state,
    # as torch.optim does); distinct live objects never compare equal-by-hash.
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad=False, *, name=None):
        if isinstance(data, Tracer):
            value, level = data, new_level()
        else:
            value = np.array(data, copy=True)
            if value.dtype == object:
                raise TypeError(f"Tensor: data must be numeric array-like; got "
                                f"{type(data).__name__} (an object array)")
            level = USER_LEVEL
        self._value = value
        self._level = level
        self._node = None
        self._requires_grad = False
        self.grad = None
        self._hooks = None
        self._gacc = None
        self._state = _PRIVATE if level == USER_LEVEL else _SHARED
        self.name = name
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _wrap(value, level, node):
        """A Tensor for an op's result: ``node`` (or a Port) recorded it, ``None`` if nothing."""
        t = _new(Tensor)
        t._value = value
        t._level = level
        t._node = node
        t._requires_grad = node is not None
        t.grad = None
        t._hooks = None
        t._gacc = None
        t._state = _SHARED
        t.name = None
        return t

    # -- what a user reads ---------------------------------------------------------------------
    @property
    def data(self):
        """The value, as an ndarray you may write to (or the inner tracer when modes nest).

        If the tape may hold the current array, the Tensor first takes a copy, so writing to
        ``.data`` never changes a value a recorded op saved.
        """
        v = self._value
        if isinstance(v, Tracer):
            return v
        if self._state == _SHARED:
            v = self._value = np.array(v)
        self._state = _EXPOSED
        return v

    @data.setter
    def data(self, value):
        if not isinstance(value, Tracer):
            value = np.asarray(value)
        if self._requires_grad and not _is_inexact(value.dtype):
            raise TypeError(f"Tensor.data: a Tensor that requires grad needs a floating value; "
                            f"got dtype {value.dtype}")
        self._value = value
        self._state = _EXPOSED

    @property
    def requires_grad(self):
        """Whether ops on this Tensor are recorded (settable on leaves only)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if self._node is not None:
            if not flag:
                raise RuntimeError(
                    f"requires_grad can only be changed on leaf Tensors; this one was computed "
                    f"by {self.op}. Use .detach() for a Tensor outside the graph")
            return
        if flag and not _is_inexact(self.dtype):
            raise TypeError(f"only floating-point Tensors can require grad; got dtype "
                            f"{self.dtype}. Build it from float data, e.g. "
                            f"Tensor(np.asarray(data, dtype=float), requires_grad=True)")
        self._requires_grad = flag

    def requires_grad_(self, flag=True):
        """Set :attr:`requires_grad` and return the Tensor (PyTorch style)."""
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self):
        """True for Tensors no recorded op produced (inputs and parameters)."""
        return self._node is None

    @property
    def op(self):
        """The name of the op that produced this Tensor (``None`` for a leaf)."""
        return None if self._node is None else self._producer()[0].prim.name

    def _producer(self):
        """``(node, output index)`` of the op that produced this Tensor (``(None, 0)``: a leaf)."""
        node = self._node
        if type(node) is Port:
            return node.node, node.k
        return node, 0

    def _aval(self):
        return self._value

    # forward mode's attribute names: a Tensor that wraps a DualArray is what a DualArray
    # becomes inside a reverse transform (and vice versa), and plain AttributeErrors about
    # them did not say so
    @property
    def tangent(self):
        self._not_forward("tangent")

    @property
    def primal(self):
        self._not_forward("primal")

    def _not_forward(self, name):
        inner = self._value
        what = f"it wraps a {type(inner).__name__}, reached through .data" if \
            isinstance(inner, Tracer) else "its value is .data"
        raise AttributeError(
            f"'Tensor' object has no attribute '{name}': this is a reverse-mode Tensor ({what}). "
            f"An op on a DualArray and a Tensor gives a Tensor when the Tensor's transform "
            f"(grad, vjp, a hand-built Tensor) is the inner one. Read .{name} on the DualArray "
            f"that a forward transform returns, or return the DualArray from the function and "
            f"read it outside the reverse transform")

    # (read off the value: ArrayProtocol's forms go through _aval(), a call more)
    @property
    def shape(self):
        return shape_of(self._value)

    @property
    def dtype(self):
        return self._value.dtype

    def _plain_value(self):
        v = self._value
        return v._plain_value() if isinstance(v, Tracer) else v

    def item(self):
        """The value of a one-element Tensor as a Python number (for logging a loss)."""
        return np.asarray(self._plain_value()).item()

    def detach(self):
        """A Tensor with the same value, outside the graph (no history, no grad)."""
        t = Tensor._wrap(self._value, self._level, None)
        if self._state == _EXPOSED:
            t._state = _EXPOSED  # the user's handle reaches this value too
        else:
            self._state = _SHARED
        return t

    def copy(self):
        """A new Tensor with a copy of the value; gradients flow through it (np.positive)."""
        return self._process(_pos, (self,), {})

    __pos__ = copy

    def zero_grad(self):
        """Forget the accumulated gradient (``.grad`` becomes ``None``)."""
        self.grad = None

    def __repr__(self):
        v = self._value
        body = repr(v if isinstance(v, (np.ndarray, Tracer)) else np.asarray(v))
        body = body.replace("\n", "\n       ")
        if self._node is not None:
            extra = f", op={self.op}"
        elif self._requires_grad:
            extra = ", requires_grad=True"
        else:
            extra = ""
        return f"Tensor({body}{extra})"

    # -- recording -----------------------------------------------------------------------------
    def _process(self, prim, args, kwargs):
        level = self._level
        if level not in LIVE_LEVELS:
            raise escaped(self)
        n = len(args)
        if n > 2 or n == 0 or prim.own_record:
            return self._process_general(prim, args, kwargs)
        # the fast path, one or two arguments (the scalar hot path): unrolled, no tuples built
        a = args[0]
        ea = eb = vb = None
        # (type() first: exact Tensors are most calls; isinstance admits subclasses)
        if (type(a) is Tensor or isinstance(a, Tensor)) and a._level == level:
            if a._state != _SHARED:
                a._share()
            va = a._value
            if a._requires_grad:
                ea = a if a._node is None else a._node
        else:
            va = a
        if n == 2:
            b = args[1]
            if (type(b) is Tensor or isinstance(b, Tensor)) and b._level == level:
                if b._state != _SHARED:
                    b._share()
                vb = b._value
                if b._requires_grad:
                    eb = b if b._node is None else b._node
            else:
                vb = b
        impl = prim.impl  # (then a call: prim.impl(...) is a method lookup CPython 3.11 cannot
        if n == 2:        # specialize)
            ans = impl(va, vb, **kwargs) if kwargs else impl(va, vb)
        else:
            ans = impl(va, **kwargs) if kwargs else impl(va)
        if prim.nondiff:
            return ans
        node = None
        if ea is not None or eb is not None:
            mode = _mode()
            if mode == GRAD or mode & GRAD:  # (== first: the cheaper test, and the usual case)
                node = _record(prim, ans, None, kwargs, n, va, vb, None, ea, eb, None, mode)
        t = _new(Tensor)  # Tensor._wrap, inlined (one call less): keep the two alike
        t._value, t._level, t._node, t._state = ans, level, node, _SHARED
        t._requires_grad = node is not None
        t.grad = t._hooks = t._gacc = t.name = None
        return t

    def _process_general(self, prim, args, kwargs):
        """:meth:`_process` for any number of arguments (and results)."""
        vals, edges = self._split(args)
        mode = _mode() if edges is not None else 0
        res = None
        if mode & GRAD and prim.fwd is not None:  # recorded: the residuals too
            ans, res = prim.fwd(*vals, **kwargs)
        else:
            ans = prim.impl(*vals, **kwargs)
        if prim.nondiff:
            return ans
        level = self._level
        node = None
        if edges is not None:
            if mode & GRAD:
                n = len(vals)
                erest = edges[2:] if n > 2 and any(e is not None for e in edges[2:]) else None
                node = _record(prim, ans, res, kwargs, n, vals[0] if n else None,
                               vals[1] if n > 1 else None, vals, edges[0] if n else None,
                               edges[1] if n > 1 else None, erest, mode)
        if prim.multiple_results:
            return tuple(Tensor._wrap(x, level, None if node is None else Port(node, k))
                         for k, x in enumerate(ans))
        return Tensor._wrap(ans, level, node)

    def _split(self, args):
        """``(values, edges)`` of the arguments: values as the op's implementation takes them,
        and, aligned with them, where each one's cotangent goes (``None`` when nowhere)."""
        level = self._level
        vals = []
        edges = []
        needed = False
        for a in args:
            if isinstance(a, Tensor) and a._level == level:
                if a._state != _SHARED:
                    a._share()
                vals.append(a._value)
                if a._requires_grad:
                    edges.append(a if a._node is None else a._node)
                    needed = True
                    continue
            else:
                vals.append(a)
            edges.append(None)
        return tuple(vals), (tuple(edges) if needed else None)

    def _share(self):
        """The tape is about to hold this Tensor's array: a handle the user holds turns read-only.
        """
        if self._state == _EXPOSED:
            v = self._value
            if type(v) is _ndarray:
                v.flags.writeable = False
        self._state = _SHARED

    # -- backward ------------------------------------------------------------------------------
    def backward(self, cotangent=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this Tensor into ``.grad`` of every leaf it depends on.

        Parameters
        ----------
        cotangent : array_like, optional
            ∂L/∂self, the vector in the vector-Jacobian product; defaults to 1 for a
            one-element Tensor and is required otherwise.
        retain_graph : bool, optional
            Keep the saved values for another sweep (defaults to ``create_graph``).
        create_graph : bool
            Record the sweep itself, so the gradients are Tensors that can be differentiated
            again (``x.grad.backward()``).
        """
        if self._level not in LIVE_LEVELS:
            raise escaped(self)
        if not self._requires_grad:
            raise RuntimeError(
                "backward() on a Tensor that does not require grad: no recorded op leads to "
                "it. Create the inputs with requires_grad=True (and outside rv.no_grad())")
        if retain_graph is None:
            retain_graph = create_graph
        g = self._seed(cotangent, create_graph)
        target = self if self._node is None else self._node
        anomaly = bool(MODE.get() & ANOMALY)
        # one cotangent: swept without the lane axis (see reverse.tape)
        leaves = sweep([(target, g)], retain_graph, Tensor if create_graph else None, anomaly,
                       self._level, lanes=False)
        seen = set()
        for leaf in leaves:
            leaf._take_grad(seen)

    def _seed(self, cotangent, create_graph):
        """The output cotangent: one, so without a lane axis (see :func:`reverse.tape.sweep`)."""
        shape = self.shape
        if cotangent is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() needs a cotangent for a non-scalar output; this Tensor has "
                    f"shape {shape}. Pass one of that shape, e.g. y.backward(np.ones({shape})), "
                    f"or reduce y to a scalar first (y.sum().backward())")
            g = np.ones(shape, dtype=self.dtype)
        elif isinstance(cotangent, Tensor) and cotangent._level == self._level:
            g = cotangent if create_graph else cotangent._value
        elif isinstance(cotangent, Tracer):
            g = cotangent
        else:
            dtype = self.dtype
            g = np.array(cotangent, dtype=dtype if _is_inexact(dtype) else None, copy=True)
        if tuple(g.shape) != tuple(shape):
            raise RuntimeError(f"backward(): the cotangent has shape {tuple(g.shape)} but the "
                               f"output has shape {tuple(shape)}; they must match")
        return g

    def _take_grad(self, seen):
        """Move the cotangent a sweep left in ``_gacc`` into ``.grad``, through the hooks."""
        g = self._gacc
        self._gacc = None
        if self._hooks:
            for _, fn, _ in list(self._hooks):
                new = fn(g)
                if new is not None:
                    g = hook_result(new, g)
        g = own(g, seen)
        if type(g) is _ndarray or isinstance(g, Tracer):
            dtype = self._value.dtype
            if g.dtype != dtype and _is_inexact(dtype):
                g = leaf_dtype(g, dtype)
        elif isinstance(g, Tracer):
            g = real_part_for(g, self._value.dtype)
        prev = self.grad
        self.grad = g if prev is None else prev + g

    # -- hooks ---------------------------------------------------------------------------------
    def register_hook(self, fn):
        """Call ``fn(grad)`` once per sweep with this Tensor's total gradient.

        ``grad`` is an ndarray (a Tensor when the sweep has ``create_graph=True``); ``fn`` may
        return a replacement gradient or ``None``. Returns a handle whose ``.remove()``
        unregisters the hook.
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a Tensor that does not require grad "
                               "(no gradient will ever reach it)")
        handle = RemovableHandle()
        node, k = self._producer()
        if node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if node.hooks is None:
                node.hooks = []
            hooks = node.hooks
        entry = [k, fn, handle]
        hooks.append(entry)
        handle._where = (hooks, entry)
        return handle

    def retain_grad(self):
        """Keep the gradient of this non-leaf Tensor in ``.grad`` too (leaves always do)."""
        if self._node is None:
            return
        hooks = self._producer()[0].hooks or []
        if not any(isinstance(fn, RetainGrad) and fn.tensor is self for _, fn, _ in hooks):
            self.register_hook(RetainGrad(self))

    # -- in-place operations: a new value for this Tensor, recorded when it must be --------------
    def _assign(self, new, what):
        """Make ``new`` (the out-of-place result of an in-place op on self) this Tensor's value.
        """
        level = self._level
        if isinstance(new, Tracer) and new._level > level:
            raise TypeError(f"{what}: the result is a {type(new).__name__} of a higher level "
                            f"than this Tensor; write x = x + y instead of an in-place op")
        new = fit_inplace_result(new, tuple(self.shape), self.dtype, "Tensor", what)
        ours = isinstance(new, Tensor) and new._level == level
        if ours and new._requires_grad:
            self._check_not_leaf(what)
            self._value, self._node = new._value, new._node
            self._requires_grad = True
        else:
            if self._requires_grad and MODE.get() & GRAD:
                self._check_not_leaf(what)
                # recorded, and nothing that requires grad went in: the value is a constant now
                self._node, self._requires_grad = None, False
            self._value = new._value if ours else new
        self._state = _SHARED

    def _check_not_leaf(self, what):
        if self._node is None and self._requires_grad:
            raise RuntimeError(
                f"{what}: in-place operation on a leaf Tensor that requires grad. Update it "
                f"under rv.no_grad() (e.g. an optimizer step), or compute a new Tensor "
                f"(y = x + 1) instead")

    def __setitem__(self, idx, value):
        self._check_writable("item assignment")
        idx = normalize_index(idx)
        level = self._level
        ours = isinstance(value, Tensor) and value._level == level
        tracked = MODE.get() & GRAD and (self._requires_grad or ours and value._requires_grad)
        if not tracked and not isinstance(self._value, Tracer) and (
                ours or not isinstance(value, Tracer)):
            new = np.array(self._value)  # a copy: the tape may hold the old array
            new[idx] = value._plain_value() if ours else value
            self._assign(new, "item assignment")
            return
        self._set_traced(idx, value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not kwargs and method == "__call__":  # np.log(x): straight to the entry
            prim = _ufunc_rule(ufunc)
            if prim is not None:
                return prim.bind(*inputs)
        if "out" not in kwargs:
            return _protocol_ufunc(self, ufunc, method, *inputs, **kwargs)
        out = kwargs.pop("out")
        out = out if isinstance(out, tuple) else (out,)
        if len(out) != 1 or not isinstance(out[0], Tensor):
            raise TypeError(f"{qualname(ufunc)}: out= must be a single Tensor when Tensors "
                            f"are involved (got {', '.join(type(o).__name__ for o in out)})")
        out[0]._check_writable(f"{qualname(ufunc)}(out=...)")
        res = _protocol_ufunc(self, ufunc, method, *inputs, **kwargs)
        out[0]._assign(res, f"{qualname(ufunc)}(out=...)")
        return out[0]

    def __array_function__(self, func, types, args, kwargs):
        front = _function_rule(func)
        if front is not None and func is not _np_copy:
            return front(*args, **kwargs)
        if func is _np_copy and args and isinstance(args[0], Tensor):
            return args[0].copy()  # NumPy's copy is a new array, never an alias
        return _protocol_function(self, func, types, args, kwargs)


_protocol_ufunc = ArrayProtocol.__array_ufunc__
_protocol_function = ArrayProtocol.__array_function__
