"""The staging tracer: every primitive applied to a :class:`Staged` value is computed (tracing
runs with concrete values) and appended to the active :class:`Trace` as an equation.

Level: ``STAGING_LEVEL`` is below every other level (the user levels 0 and 1 of ``DualArray``
and ``Tensor``, and every ``new_level()``), so any transform started inside the traced function
is processed first and its rules, written with NumPy calls, run on staged values: ``grad``,
``jvp``, ``hessian`` and ``nn`` are flattened into op-table primitives. ``Primitive.bind``
starts its search for the highest level at ``-1``, hence a level between ``-1`` and ``0``.

What leaves the staged world is guarded: ``bool``/``int``/``float``/index conversions and
``np.asarray`` of a staged value record a check that a replay repeats (see ``program.py``).
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ..ops import ArrayProtocol, Tracer
from ..ops.protocol import fit_inplace_result
from ..ops.core import LIVE_LEVELS, UFUNC_RULES

__all__ = ["Staged", "Trace", "Var", "Const", "Call", "Equation", "GUARD", "STAGING_LEVEL",
           "active_trace", "last_uses"]

#: below the user levels (0, 1) and every new_level(); above bind's starting point (-1)
STAGING_LEVEL = -0.5
# live for the escaped-tracer check of the other levels: a staged value outliving its trace
# is this module's to refuse (Trace marks its values dead when tracing ends)
LIVE_LEVELS[STAGING_LEVEL] = "ad.trace"

#: constants up to this many elements are checked for in-place changes during the trace
SNAPSHOT_MAX_SIZE = 1 << 14

_STACK: list = []  # the active trace (one at a time: a nested jit is inlined)

# frames in these directories are the library's (and NumPy's), not the user's line
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LIB_DIRS = tuple(os.path.join(_ROOT, d) + os.sep for d in ("dualad", "reverse", "nn")) + (
    os.path.dirname(np.__file__) + os.sep,)


def active_trace():
    """The trace being recorded, or ``None``."""
    return _STACK[-1] if _STACK else None


class Var:
    """A value of the program: produced by one equation (or an input)."""

    __slots__ = ("id", "shape", "dtype", "hint")

    def __init__(self, id, shape, dtype, hint="t"):
        self.id = id
        self.shape = shape
        self.dtype = dtype
        self.hint = hint

    @property
    def name(self):
        return f"{self.hint}{self.id}"

    def __repr__(self):
        return self.name


class Const:
    """An array the program captured without deriving it from the inputs (frozen at trace
    time; held by reference, so a global array mutated in place is read at replay)."""

    __slots__ = ("id", "value")

    def __init__(self, id, value):
        self.id = id
        self.value = value

    @property
    def name(self):
        return f"c{self.id}"

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def __repr__(self):
        return self.name


class Call:
    """A NumPy callable outside the op table staged as it is (``np.argmax``, ``np.isclose``,
    ``np.add.reduce``): staging needs no derivative rule, only the call."""

    __slots__ = ("name", "impl", "multiple_results")

    def __init__(self, name, impl):
        self.name = name
        self.impl = impl
        self.multiple_results = False


class Equation:
    """``outs = prim(*args, **kwargs)``: ``args``/``kwargs`` hold :class:`Var`, :class:`Const`
    or literals (kwargs possibly nested in tuples); ``line`` is the user's source line."""

    __slots__ = ("prim", "args", "kwargs", "outs", "_line", "multi", "_ins")

    def __init__(self, prim, args, kwargs, outs, line, multi, ins=None):
        self._ins = ins  # (the Vars read, if the maker knows them; else found when asked)
        self.prim = prim
        self.args = args
        self.kwargs = kwargs
        self.outs = outs
        self._line = line
        self.multi = multi

    @property
    def name(self):
        return self.prim.name

    @property
    def line(self):
        """``file.py:12``: the user's line that applied the primitive (``None`` if unknown)."""
        ln = self._line
        if ln is None:
            return None
        base = _BASENAMES.get(ln[0])
        if base is None:
            base = _BASENAMES[ln[0]] = os.path.basename(ln[0])
        return f"{base}:{ln[1]}"

    @property
    def inputs(self):
        """Every :class:`Var` this equation reads (positional and keyword)."""
        found = self._ins
        if found is None:
            found = []
            for a in self.args:
                if type(a) is Var:
                    found.append(a)
                elif type(a) in _NESTED:
                    _collect(a, found)
            if self.kwargs:
                _collect(self.kwargs, found)
            self._ins = found
        return found

    @property
    def shapes(self):
        return [tuple(v.shape) for v in self.outs]

    @property
    def dtypes(self):
        return [v.dtype for v in self.outs]

    def __repr__(self):
        outs = ", ".join(map(repr, self.outs))
        ins = ", ".join(map(repr, self.args))
        return f"{outs} = {self.name}({ins})"


class _GuardOp:
    """The pseudo-primitive of a guard record in the equation list: ``args == (var,)``,
    ``kwargs == {"kind": ..., "value": ...}``, no outputs. ``kind`` is ``"bool"``, ``"int"``,
    ``"index"``, ``"float"``, ``"complex"``, ``"array"`` (the whole value was read, e.g. by
    ``np.asarray``) or ``"value"`` (a Python result of a staged call)."""

    name = "guard"
    multiple_results = False

    def __repr__(self):
        return "<guard>"


GUARD = _GuardOp()


_NESTED = (tuple, list, dict, slice)


def _collect(obj, found):
    t = type(obj)
    if t is Var:
        found.append(obj)
    elif t is tuple or t is list:
        for o in obj:
            _collect(o, found)
    elif t is dict:
        for o in obj.values():
            _collect(o, found)
    elif t is slice:
        _collect((obj.start, obj.stop, obj.step), found)


_BASENAMES: dict = {}
_IS_LIB: dict = {}  # co_filename -> 0: the user's, 1: a library file, 2: one with a driver
# A driver is a library function that calls the rules of many primitives in turn (the tape's
# backward sweep): while one runs, the frames above it are suspended, so the user line found
# above it is the same for every equation it records: walked once per run (see user_line).
_DRIVERS = {os.path.join(_ROOT, "reverse", "tape.py"): frozenset({"sweep"})}
_MISS = object()


def _file_kind(fn):
    if not fn.startswith(_LIB_DIRS):
        return 0
    return 2 if fn in _DRIVERS else 1


def user_line(depth=2, stop=None, memo=None):
    """``file:line`` of the innermost frame outside dualad, reverse, nn and NumPy (or
    ``None``), as a ``(filename, lineno)`` pair: formatted only when read. The walk ends at the
    frame ``stop`` (the trace's own, which called the traced function): above it no line is the
    traced code's (an equation of a backward sweep would get the line calling ``ad.trace``).
    ``memo`` (a dict, emptied by the caller) keeps the answer found above each driver frame."""
    f = sys._getframe(depth)
    is_lib = _IS_LIB
    driver = None
    while f is not None and f is not stop:
        code = f.f_code
        fn = code.co_filename
        kind = is_lib.get(fn)
        if kind is None:
            kind = is_lib[fn] = _file_kind(fn)
        if not kind:
            found = (fn, f.f_lineno)
            break
        if kind == 2 and driver is None and memo is not None and \
                code.co_name in _DRIVERS[fn]:
            hit = memo.get(f, _MISS)
            if hit is not _MISS:
                return hit
            driver = f
        f = f.f_back
    else:
        found = None
    if driver is not None:
        memo[driver] = found
    return found


def last_uses(equations, outputs):
    """Variable -> the index of the last equation reading it (``len(equations)`` for an
    output): when its array may be freed or written over."""
    last = {}
    for k, eq in enumerate(equations):
        for v in eq.inputs:
            last[v] = k
    for o in outputs:
        if type(o) is Var:
            last[o] = len(equations)
    return last


class Trace:
    """The equations, constants and guards recorded while running a function once."""

    def __init__(self, lines=True):
        self.equations = []
        self.consts = {}  # id(array) -> Const
        self._snapshots = {}  # id(array) -> a copy: detects in-place changes during tracing
        self._count = 0
        self.lines = lines
        #: the frame that calls the traced function, while it runs, and the lines found above
        #: driver frames (see user_line); both emptied when it returns (frames hold the trace)
        self.entry = None
        self.line_memo = {}

    def new_var(self, value, hint="t"):
        self._count += 1
        try:
            return Var(self._count, value.shape, value.dtype, hint)
        except AttributeError:  # a Python scalar result
            return Var(self._count, tuple(np.shape(value)), _dtype(value), hint)

    def const(self, value):
        c = self.consts.get(id(value))
        if c is None:
            self._count += 1
            c = Const(self._count, value)
            self.consts[id(value)] = c
            if value.size <= SNAPSHOT_MAX_SIZE:
                self._snapshots[id(value)] = value.copy()
        return c

    def finish(self):
        """Constants changed in place while tracing (an accumulator reused after a rule read
        it) are replaced by the value they had when captured. Only arrays up to
        ``SNAPSHOT_MAX_SIZE`` elements are checked: copying a large weight matrix would
        cost more than the trace, and the library writes in place only into temporaries it
        has just made (the rules' ``out=`` additions), never into an array a rule read."""
        for key, snap in self._snapshots.items():
            c = self.consts[key]
            v = c.value
            # (== first: a tenth of np.array_equal's cost; NaNs, unequal to themselves, and
            # shapes changed by a resize are looked at again)
            if v.shape == snap.shape and (v == snap).all():
                continue
            if not np.array_equal(v, snap, equal_nan=v.dtype.kind in "fc"):
                c.value = snap
        self._snapshots = {}

    # -- recording ----------------------------------------------------------------------------
    def record(self, prim, args, kwargs):
        n = len(args)
        if n <= 2 and not kwargs and not prim.multiple_results and n:
            # one or two arguments, no keywords (most equations): unrolled, and the equation
            # and its value built in place (each call less counts: a long trace makes one per
            # primitive, and tracing should cost a few eager calls)
            a = args[0]
            if a.__class__ is Staged:
                if a._trace is not self:
                    raise _escaped(a)
                va, ia = a._value, a._var
            else:
                va, ia = _unstaged(a, self, prim), self._arg(a, prim)
            if n == 2:
                b = args[1]
                if b.__class__ is Staged:
                    if b._trace is not self:
                        raise _escaped(b)
                    vb, ib = b._value, b._var
                else:
                    vb, ib = _unstaged(b, self, prim), self._arg(b, prim)
                ans = prim.impl(va, vb)
                ins = (ia, ib)
                ca, cb = ia.__class__, ib.__class__
                if ca in _FLAT and cb in _FLAT:  # (else a container: Equation.inputs looks)
                    reads = [ia, ib] if cb is Var else [ia]
                    if ca is not Var:
                        reads = [ib] if cb is Var else []
                else:
                    reads = None
            else:
                ans = prim.impl(va)
                ins = (ia,)
                ca = ia.__class__
                reads = ([ia] if ca is Var else []) if ca in _FLAT else None
            self._count += 1
            try:
                out = Var(self._count, ans.shape, ans.dtype, "t")
            except AttributeError:  # a Python scalar result
                out = Var(self._count, tuple(np.shape(ans)), _dtype(ans), "t")
            line = user_line(2, self.entry, self.line_memo) if self.lines else None
            self.equations.append(Equation(prim, ins, kwargs, [out], line, False, reads))
            st = _new_staged(Staged)
            st._value, st._var, st._trace = ans, out, self
            return st
        vals = []
        ins = []
        for a in args:
            if isinstance(a, Staged):
                if a._trace is not self:
                    raise _escaped(a)
                vals.append(a._value)
                ins.append(a._var)
            elif type(a) is np.ndarray:
                vals.append(a)
                ins.append(self.const(a))
            elif isinstance(a, Tracer):  # pragma: no cover - bind picks the highest level
                raise TypeError(f"staging {prim.name}: unexpected {type(a).__name__} argument")
            else:
                vals.append(_unstaged(a, self, prim))
                ins.append(_literal(a, self, prim))
        if kwargs:
            kw_vals = {k: _freeze(v, self, prim.name) for k, v in kwargs.items()}
            kw_ins = {k: _literal(v, self, prim) for k, v in kw_vals.items()}
        else:
            kw_vals = kw_ins = kwargs
        ans = prim.impl(*vals, **kw_vals)
        return self._emit(prim, tuple(ins), kw_ins, ans, prim.multiple_results)

    def _arg(self, a, prim):
        """The program's view of a non-staged argument (see :meth:`record`)."""
        t = type(a)
        if t is float or t is int or t is _float64:
            return a
        if t is np.ndarray:
            return self.const(a)
        if isinstance(a, Tracer):  # pragma: no cover - bind picks the highest level
            raise TypeError(f"staging {prim.name}: unexpected {type(a).__name__} argument")
        return _literal(a, self, prim)

    def _emit(self, prim, ins, kw_ins, ans, multi):
        line = user_line(3, self.entry, self.line_memo) if self.lines else None
        if multi:
            outs = [self.new_var(a) for a in ans]
            self.equations.append(Equation(prim, ins, kw_ins, outs, line, True))
            return tuple(Staged(a, v, self) for a, v in zip(ans, outs))
        out = self.new_var(ans)
        self.equations.append(Equation(prim, ins, kw_ins, [out], line, False))
        return Staged(ans, out, self)

    def record_call(self, func, name, args, kwargs):
        """Stage ``func(*args, **kwargs)`` for a NumPy callable without an op-table entry."""
        vals = _substitute(args, self, name)
        kw_vals = _substitute(kwargs, self, name)
        ans = func(*vals, **kw_vals)
        call = Call(name, func)
        ins = _literal(tuple(args), self, call)
        kw_ins = {k: _literal(v, self, call) for k, v in kwargs.items()}
        if isinstance(ans, (np.ndarray, np.generic)):
            return self._emit(call, ins, kw_ins, ans, False)
        if isinstance(ans, tuple) and ans and all(isinstance(a, np.ndarray) for a in ans):
            return self._emit(call, ins, kw_ins, ans, True)
        # a Python result (np.allclose, np.shape): stage it and read it under a guard
        out = self._emit(call, ins, kw_ins, np.asarray(ans), False)
        self.guard(out._var, "value", ans)
        return ans

    def guard(self, var, kind, value):
        self.equations.append(Equation(GUARD, (var,), {"kind": kind, "value": value}, [],
                                       user_line(3, self.entry, self.line_memo)
                                       if self.lines else None, False))


_float64 = np.float64
_new_staged = object.__new__
#: argument kinds that hold no variable inside them (for the reads of an equation)
_FLAT = frozenset({Var, Const, float, int, bool, _float64, type(None)})


def _dtype(value):
    d = getattr(value, "dtype", None)
    return d if d is not None else np.asarray(value).dtype


def _escaped(a):
    return ValueError(f"a staged value ({a._var.name}) from another trace was used: values "
                      f"computed while tracing must not be kept and reused after it")


def _unstaged(a, trace, prim):
    """An argument as the implementation takes it: staged values inside a container replaced
    by their values (computing on them would record the implementation's own operations)."""
    t = type(a)
    if t is tuple or t is list or t is dict:
        return _substitute(a, trace, prim.name)
    return a


def _substitute(obj, trace, name):
    """``obj`` with staged values replaced by their concrete values (for running a call)."""
    if isinstance(obj, Staged):
        if obj._trace is not trace:
            raise _escaped(obj)
        return obj._value
    if isinstance(obj, Tracer):
        raise TypeError(f"staging {name}: cannot stage a {type(obj).__name__} argument")
    t = type(obj)
    if t is tuple or t is list:
        return t(_substitute(o, trace, name) for o in obj)
    if t is dict:
        return {k: _substitute(v, trace, name) for k, v in obj.items()}
    return obj


def _freeze(obj, trace, name):
    """A keyword argument of a primitive as a concrete value: staged values in it (an index
    array, a shape) are read under an ``array`` guard (keywords are static to the rules)."""
    if isinstance(obj, Staged):
        if obj._trace is not trace:
            raise _escaped(obj)
        trace.guard(obj._var, "array", np.array(obj._value, copy=True))
        return obj._value
    t = type(obj)
    if t is tuple or t is list:
        return t(_freeze(o, trace, name) for o in obj)
    if t is slice:
        return slice(*(_freeze(o, trace, name) for o in (obj.start, obj.stop, obj.step)))
    return obj


def _literal(obj, trace, prim):
    """The program's view of an argument: Var, Const, or the (immutable) value itself."""
    if isinstance(obj, Staged):
        return obj._var
    t = type(obj)
    if t is np.ndarray:
        return trace.const(obj)
    if t is tuple or t is list:
        return t(_literal(o, trace, prim) for o in obj)
    if t is dict:
        return {k: _literal(v, trace, prim) for k, v in obj.items()}
    if t is slice:
        return slice(*(_literal(o, trace, prim) for o in (obj.start, obj.stop, obj.step)))
    return obj


class Staged(ArrayProtocol):
    """A value computed while tracing: its concrete value and the program variable naming it."""

    __slots__ = ("_value", "_var", "_trace")
    _level = STAGING_LEVEL
    _rule_kind = "staging"
    _value_attr = "value"

    def __init__(self, value, var, trace):
        self._value = value
        self._var = var
        self._trace = trace

    def _aval(self):
        return self._value

    # (read from the variable, which has them already: rules ask for shapes all the time)
    @property
    def shape(self):
        return self._var.shape

    @property
    def dtype(self):
        return self._var.dtype

    def _plain_value(self):
        # no derivative lives here: "plain" (stop-gradient) uses stay staged, so a shift by the
        # maximum or a np.where condition is recomputed at replay instead of frozen
        return self

    def _process(self, prim, args, kwargs):
        return self._trace.record(prim, args, kwargs)

    def _assign(self, new, what):
        """An in-place write: the program stays single-assignment, this value names the new
        variable from here on (as a DualArray swaps in its new primal and tangent)."""
        new = fit_inplace_result(new, tuple(self.shape), self.dtype, "staged array", what)
        if not isinstance(new, Staged):  # a constant written over the whole array
            new = self._trace.record(UFUNC_RULES[np.positive], (np.asarray(new),), {})
        self._value, self._var = new._value, new._var

    def __repr__(self):
        return f"Staged({self._var.name}, shape={self._var.shape}, dtype={self._var.dtype})"

    def _process_call(self, func, name, args, kwargs, why):
        # a NumPy callable outside the op table (np.argmax, np.isclose, np.add.reduce): staging
        # needs no derivative rule, only the call
        if kwargs.get("out") is not None:
            raise TypeError(f"{name}: out= is not supported on staged arrays (they are "
                            f"immutable); assign the result instead")
        return self._trace.record_call(func, name, args, kwargs)

    # -- conversions to Python: guards -----------------------------------------------------------
    def _guarded(self, kind, value):
        if self._trace is not active_trace():
            raise _escaped(self)
        self._trace.guard(self._var, kind, value)
        return value

    def __bool__(self):
        return self._guarded("bool", bool(self._value))

    def __float__(self):
        return self._guarded("float", float(self._value))

    def __int__(self):
        return self._guarded("int", int(self._value))

    def __index__(self):
        return self._guarded("index", self._value.__index__())

    def __complex__(self):
        return self._guarded("complex", complex(self._value))

    def item(self, *args):
        return self._guarded("array", np.array(self._value, copy=True)).item(*args)

    def tolist(self):
        return self._guarded("array", np.array(self._value, copy=True)).tolist()

    def __array__(self, dtype=None, copy=None):
        v = np.array(self._value, copy=True)
        self._guarded("array", v)
        return v if dtype is None else v.astype(dtype)
