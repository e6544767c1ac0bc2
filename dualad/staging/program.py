"""``trace(f, *args)``: run ``f`` once under the staging level and keep what it computed as a
:class:`Program`, straight-line NumPy source that replays without dualad's dispatch.
"""
from __future__ import annotations

import base64
import gc
import io
import itertools
import linecache
import operator
import sys

import numpy as np
import scipy.special as sps

from ..ops import Tracer
from ..ops.layers import linear_p
from ..ops.shape import index_add_p
from ..ops.special import log_softmax_p, softmax_p
from ..pytree import tree_flatten, tree_unflatten
from . import codegen, tracer
from .codegen import GuardFailure, UnsavableError
from .passes import optimize as run_passes
from .tracer import _STACK, Staged, Trace, active_trace

__all__ = ["trace", "Program", "GuardFailure", "UnsavableError", "signature"]

_serial = itertools.count(1)

#: constants up to this many elements are written into a saved module as np.array literals;
#: larger ones go into one base64 .npz blob in the same file
LITERAL_MAX = 16


def _static_set(static_argnums, n, fname):
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    try:
        nums = tuple(operator.index(a) for a in static_argnums)
    except TypeError:
        raise TypeError(f"{fname}: static_argnums must be an int or a tuple of ints, got "
                        f"{static_argnums!r}") from None
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"{fname}: static_argnums {static_argnums!r} out of range for "
                             f"{n} positional argument(s)")
    return frozenset(a % n for a in nums)


def as_input(x, what):
    """A dynamic argument leaf as the value the program sees (Python numbers as NumPy scalars,
    so trace and replay compute with the same types)."""
    t = type(x)
    if t is np.ndarray or isinstance(x, (np.generic, Tracer)):
        return x  # (a tracer: the program's NumPy code dispatches on it, differentiably)
    if t is float:
        return np.float64(x)
    if t is bool:
        return np.bool_(x)
    if t is int:
        return np.int64(x)
    if isinstance(x, np.ndarray):
        return np.asarray(x)
    raise TypeError(f"{what} is a {t.__name__}: dynamic arguments must be arrays or numbers "
                    f"(pass it in static_argnums to specialize on its value)")


def _leaf_sig(x):
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype)
    if t is float or t is int or t is bool:
        return t
    if isinstance(x, Tracer):  # replayed as NumPy code on it, like the array it stands for
        return (tuple(x.shape), x.dtype)
    return (t, np.shape(x), getattr(x, "dtype", None))


def signature(args, static):
    """The cache key of a call: pytree structure, leaf types/shapes/dtypes, static values."""
    dyn = []
    stat = []
    for i, a in enumerate(args):
        if i in static:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"static argument {i} must be hashable, got "
                                f"{type(a).__name__}") from None
            stat.append((i, type(a), a))
        else:
            dyn.append(a)
    leaves, td = tree_flatten(tuple(dyn))
    return (td, tuple(_leaf_sig(x) for x in leaves), tuple(stat)), leaves


def trace(f, *args, static_argnums=(), optimize=True, lines=True):
    """Run ``f(*args)`` once, recording every primitive, and return the :class:`Program`.

    Every transform called inside ``f`` (``grad``, ``jvp``, ``hessian``, ``nn`` modules) is
    flattened into op-table primitives. Arguments in ``static_argnums`` are taken by value (the
    program is specialized to them); the others must be arrays, numbers or pytrees of them.
    Values computed without the inputs (globals, ``np.random`` draws) are frozen into the
    program; an array the function reads is held by reference, so a global changed in place
    is read anew at replay. Python side effects of ``f`` happen once, while tracing.
    ``optimize`` runs the passes of :mod:`dualad.staging.passes`; ``lines`` records the user's
    source line of each primitive (a comment in the source).
    """
    if not callable(f):
        raise TypeError(f"trace: f must be callable, got {type(f).__name__}")
    if active_trace() is not None:
        raise NotImplementedError("trace: tracing inside a traced function is not supported "
                                  "(ad.jit inside a trace is inlined; call f directly)")
    static = _static_set(static_argnums, len(args), "trace")
    key, leaves = signature(args, static)
    return _trace(f, args, static, key, leaves, optimize, lines)[0]


def _trace(f, args, static, key, leaves, optimize=True, lines=True):
    """``(program, concrete outputs of this call)``."""
    # tracing makes several objects per primitive and keeps them all: the cyclic collector
    # would rescan them again and again (a third of the trace time on long programs)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _trace_body(f, args, static, key, leaves, optimize, lines)
    finally:
        if gc_was_enabled:
            gc.enable()


def _trace_body(f, args, static, key, leaves, optimize, lines):
    t = Trace(lines)
    inputs = []
    staged = []
    for k, leaf in enumerate(leaves):
        v = as_input(leaf, f"trace: argument leaf {k}")
        var = t.new_var(v, "x")
        inputs.append(var)
        staged.append(Staged(v, var, t))
    td = key[0]
    dyn = iter(tree_unflatten(td, staged))
    call_args = [args[i] if i in static else next(dyn) for i in range(len(args))]
    _STACK.append(t)
    t.entry = sys._getframe()
    try:
        out = f(*call_args)
    finally:
        t.entry = None  # (the frames hold t: cycles)
        t.line_memo.clear()
        _STACK.pop()
        t.finish()
    o_leaves, o_def = tree_flatten(out)
    outputs = []
    values = []
    for n, x in enumerate(o_leaves):
        if isinstance(x, Tracer) and not isinstance(x, Staged):
            x = x._plain_value()  # a Tensor or DualArray of f's own: its value is returned
        if isinstance(x, Staged):
            if x._trace is not t:
                raise ValueError("trace: f returned a staged value of another trace")
            outputs.append(x._var)
            values.append(x._value)
        elif type(x) is np.ndarray:
            outputs.append(t.const(x))
            values.append(x)
        elif isinstance(x, (np.generic, int, float, complex)):
            outputs.append(x)
            values.append(x)
        else:
            raise TypeError(f"trace: output leaf {n} of f is a {type(x).__name__}; a traced "
                            f"function must return arrays or numbers (or pytrees of them)")
    t.finish()  # (consts captured for the outputs)
    eqs = t.equations
    if optimize:
        eqs, outputs = run_passes(eqs, outputs)
    prog = Program(getattr(f, "__name__", "f"), inputs, eqs, outputs, o_def, key, static)
    return prog, tree_unflatten(o_def, values)


class Program:
    """A traced function: its equations, their NumPy source, and a replay of it.

    ``equations``: the Wengert list, each with ``.name`` (the primitive), ``.inputs``,
    ``.outs`` (variables with ``.shape``/``.dtype``), ``.shapes``, ``.dtypes`` and ``.line``
    (guards appear as equations named ``"guard"``). ``source``/``str(prog)``: the program as
    Python. ``prog(*args)`` replays for arguments of the traced signature (another structure,
    shape or dtype raises ``ValueError``; a failing guard raises :class:`GuardFailure`).
    """

    def __init__(self, name, inputs, equations, outputs, out_def, key, static):
        self.name = name
        self.inputs = inputs
        self.equations = equations
        self.outputs = outputs
        self.out_def = out_def
        self.key = key
        self.static = static
        self._single = out_def.kind == "leaf"
        self._rendered = None
        self.has_guards = any(eq.prim is codegen.GUARD for eq in equations)
        self._compiled = None

    def _render(self):
        r = self._rendered
        if r is None:
            r = self._rendered = codegen.render(self.inputs, self.equations, self.outputs,
                                                single=self._single)
        return r

    @property
    def source(self):
        """The program as Python source: ``def program(x1, ...)``, one statement per
        primitive (written on first use)."""
        return self._render()[0]

    @property
    def _names(self):
        return self._render()[1]

    @property
    def _fn(self):
        """The compiled ``program`` (compiled on first use: tracing for the equations alone,
        or a jit's first call, which returns the traced values, need no compilation)."""
        fn = self._compiled
        if fn is None:
            ns = {"np": np, "sps": sps, "GuardFailure": GuardFailure, "_same": codegen.same}
            ns.update(_live_helpers())
            ns.update(self._names.ns)
            filename = f"<dualad program {next(_serial)}: {self.name}>"
            lines_ = self.source.splitlines(True)
            linecache.cache[filename] = (len(self.source), None, lines_, filename)
            exec(compile(self.source, filename, "exec"), ns)  # noqa: S102 - generated above
            fn = self._compiled = ns["program"]
        return fn

    def evaluate(self, *args):
        """Every value of the program for these arguments, by interpreting the equations one
        by one with their primitives' implementations: ``{variable: value}`` (inputs
        included), for printing a trace table. Guards are checked (:class:`GuardFailure`)."""
        key, leaves = signature(args, self.static)
        if key != self.key:
            raise ValueError(f"Program {self.name}: the arguments do not match the traced "
                             f"signature")
        env = {v: as_input(x, "argument") for v, x in zip(self.inputs, leaves)}

        def val(a):
            t = type(a)
            if t is tracer.Var:
                return env[a]
            if t is tracer.Const:
                return a.value
            if t is tuple or t is list:
                return t(val(o) for o in a)
            if t is dict:
                return {k: val(v) for k, v in a.items()}
            if t is slice:
                return slice(val(a.start), val(a.stop), val(a.step))
            return a

        for eq in self.equations:
            if eq.prim is codegen.GUARD:
                continue  # (the values are those of the traced branch only if guards hold)
            ans = eq.prim.impl(*val(eq.args), **val(eq.kwargs))
            for v, a in zip(eq.outs, ans if eq.multi else (ans,)):
                env[v] = a
        self._check_guards(env)
        return env

    def _check_guards(self, env):
        for eq in self.equations:
            if eq.prim is not codegen.GUARD:
                continue
            v, kind, expect = env[eq.args[0]], eq.kwargs["kind"], eq.kwargs["value"]
            got = (np.array_equal(v, expect) if kind == "array" else
                   codegen.same(v, expect) if kind == "value" else
                   {"bool": bool, "int": int, "index": int, "float": float,
                    "complex": complex}[kind](v) == expect)
            if not got:
                raise GuardFailure(f"{eq!r}: {kind}({eq.args[0].name}) != {expect!r}")

    def rewrite(self, *passes):
        """A new program: these passes (functions of ``(equations, outputs)``, see
        :mod:`dualad.staging.passes`) applied to this one's equations."""
        eqs, outs = self.equations, self.outputs
        for p in passes:
            eqs, outs = p(eqs, outs)
        return Program(self.name, self.inputs, eqs, outs, self.out_def, self.key, self.static)

    @property
    def consts(self):
        """The captured constants, by name."""
        return {k: v for k, v in self._names.ns.items() if k not in self._names.opaque}

    def __str__(self):
        return self.source

    def __repr__(self):
        n = sum(eq.prim is not codegen.GUARD for eq in self.equations)
        return f"<Program {self.name}: {len(self.inputs)} inputs, {n} equations>"

    def __len__(self):
        return len(self.equations)

    def __call__(self, *args):
        key, leaves = signature(args, self.static)
        if key != self.key:
            raise ValueError(f"Program {self.name}: the arguments do not match the traced "
                             f"signature (structure, shapes, dtypes and static values): "
                             f"traced {self.key}, got {key}")
        return self.replay(leaves)

    def replay(self, leaves):
        """Run the program on the flat dynamic leaves (no signature check)."""
        vals = [as_input(x, "argument") for x in leaves]
        res = self._fn(*vals)
        if self._single:
            return res
        return tree_unflatten(self.out_def, list(res))

    def unflatten(self, res):
        """The output structure from the flat results of the compiled function."""
        return tree_unflatten(self.out_def, list(res))

    # -- saving --------------------------------------------------------------------------------
    def module_source(self, doc=None):
        """The source of a standalone module (imports numpy, scipy and the standard library
        only) defining ``program`` and a ``run(*args)`` that rebuilds the output structure
        as nested tuples/lists/dicts."""
        names = self._names
        if names.opaque:
            objs = ", ".join(f"{k} ({type(names.ns[k]).__name__})" for k in names.opaque)
            raise UnsavableError(f"Program {self.name} cannot be saved: it calls objects "
                                 f"without a NumPy/SciPy spelling: {objs}")
        small, large = {}, {}
        for k, v in names.ns.items():
            v = np.asarray(v)
            if v.size <= LITERAL_MAX and v.dtype.kind in "biuf" and \
                    (v.dtype.kind != "f" or np.isfinite(v).all()):
                small[k] = v
            else:
                large[k] = v
        out = [f'"""{doc or f"Program {self.name}, generated by dualad.trace."}\n\n'
               f"Standalone: imports only numpy, scipy and the standard library.\n"
               f'Call run(*args) (the traced pytree structure) or program(*leaves)."""',
               "import base64", "import io", "", "import numpy as np",
               "import scipy.special as sps", "", "",
               "class GuardFailure(Exception):",
               '    """A value took another branch than the traced one."""', "", ""]
        out.append(codegen.SAME_SOURCE)
        for h in sorted(names.helpers):
            out.append(codegen.HELPERS[h])
        for k, v in small.items():
            out.append(f"{k} = np.array({v.tolist()!r}, dtype=np.dtype({v.dtype.str!r}))")
        if large:
            buf = io.BytesIO()
            np.savez(buf, **large)
            blob = base64.b64encode(buf.getvalue()).decode("ascii")
            lines = [blob[i:i + 96] for i in range(0, len(blob), 96)]
            out.append("_BLOB = (\n" + "".join(f"    {s!r}\n" for s in lines) + ")")
            out.append("with np.load(io.BytesIO(base64.b64decode(''.join(_BLOB)))) as _z:")
            for k in large:
                out.append(f"    {k} = _z[{k!r}]")
        out += ["", "", self.source, "",
                f"_OUT = {_treedef_source(self.out_def)}", "",
                "",
                "def run(*args):",
                '    """Flatten the arguments (nested tuples/lists/dicts), run the program, '
                'rebuild the output."""',
                "    leaves = []",
                "    _flatten(args, leaves)",
                "    res = program(*leaves)",
                f"    res = {'(res,)' if self._single else 'res'}",
                "    return _unflatten(_OUT, iter(res))",
                "", "", _FLATTEN_SOURCE]
        return "\n".join(out) + "\n"

    def save(self, path):
        """Write :meth:`module_source` to ``path`` (constants embedded in the file)."""
        src = self.module_source()
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(src)
        return path


def _live_helpers():
    """In memory the helpers are the op-table entries themselves: the same implementation as
    eager, and a program replayed on tracers differentiates through them (a saved module
    carries NumPy source for them instead, :data:`codegen.HELPERS`)."""
    return {"_softmax": lambda x, axis: softmax_p.bind(x, axis=axis),
            "_log_softmax": lambda x, axis: log_softmax_p.bind(x, axis=axis),
            "_index_add": lambda g, idx, shape: index_add_p.bind(g, idx=idx, shape=shape),
            "_linear": linear_p.bind,
            "_into": _into}


def _into(ufunc, buffer, *args):
    return ufunc(*args, out=buffer) if type(buffer) is np.ndarray else ufunc(*args)


def _treedef_source(td):
    if td.kind == "leaf":
        return "'*'"
    if td.kind == "none":
        return "None"
    kids = ", ".join(_treedef_source(c) for c in td.children)
    if td.kind == "dict":
        return "('dict', " + repr(list(td.meta)) + ", [" + kids + "])"
    kind = td.kind if isinstance(td.kind, str) else "tuple"
    return f"({kind!r}, [{kids}])"


_FLATTEN_SOURCE = '''def _flatten(x, leaves):
    if isinstance(x, (tuple, list)):
        for v in x:
            _flatten(v, leaves)
    elif isinstance(x, dict):
        for k in sorted(x):
            _flatten(x[k], leaves)
    elif x is not None:
        leaves.append(np.float64(x) if type(x) is float else x)


def _unflatten(td, it):
    if td == '*':
        return next(it)
    if td is None:
        return None
    if td[0] == 'dict':
        return {k: _unflatten(c, it) for k, c in zip(td[1], td[2])}
    kids = [_unflatten(c, it) for c in td[1]]
    return kids if td[0] == 'list' else tuple(kids)
'''
