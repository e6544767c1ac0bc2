"""Equations to Python source: one statement per primitive, NumPy/SciPy calls only.

:func:`render` returns the source of ``def program(x1, ...)`` and the names it reads (the
captured constants and, for primitives without a NumPy spelling, their implementations).
The statements are a flat list, so programs of any length compile without deep recursion.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..ops.core import qualname
from .tracer import GUARD, Call, Const, Var, last_uses

__all__ = ["render", "GuardFailure", "HELPERS", "literal", "UnsavableError"]


class GuardFailure(Exception):
    """A replay met a value for which the traced branch (a guard) does not hold."""


class UnsavableError(NotImplementedError):
    """The program refers to a Python object that has no NumPy/SciPy source spelling."""


# helpers the generated code calls; a saved module carries their source
HELPERS = {
    "_softmax": '''def _softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - np.where(np.isfinite(m), m, 0.0))
    return e / np.sum(e, axis=axis, keepdims=True)
''',
    "_log_softmax": '''def _log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    z = x - np.where(np.isfinite(m), m, 0.0)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
''',
    "_index_add": '''def _index_add(g, idx, shape):
    z = np.zeros(shape, dtype=g.dtype)
    np.add.at(z, idx, g)
    return z
''',
    "_into": '''def _into(ufunc, buffer, *args):
    # the result written into a dead temporary of its shape (a tracer has no buffer to reuse)
    return ufunc(*args, out=buffer) if type(buffer) is np.ndarray else ufunc(*args)
''',
    "_linear": '''def _linear(x, w, b=None):
    y = np.matmul(x, w.T)
    return y if b is None else y + b
''',
}

_INFIX = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
          operator.pow: "**", np.matmul: "@"}

# name -> template; {0}, {1}... are the positional arguments, {name} the keywords, {args} all
# positional arguments joined
_TEMPLATES = {
    # methods where they exist: no Python layer of np.reshape & co., and tracers have them too
    "numpy.reshape": "{0}.reshape({shape})",
    "numpy.broadcast_to": "np.broadcast_to({0}, {shape})",
    "numpy.ndarray.__getitem__": "{0}[{idx}]",
    "numpy.ndarray.astype": "{0}.astype({dtype})",
    "numpy.concatenate": "np.concatenate(({args},), axis={axis})",
    "numpy.einsum": "np.einsum({subscripts}, {args}, optimize={optimize})",
    "numpy.max": "{0}.max(axis={axis}, keepdims={keepdims})",
    "numpy.min": "{0}.min(axis={axis}, keepdims={keepdims})",
    "numpy.prod": "np.prod({0}, axis={axis}, keepdims={keepdims})",
    "numpy.cumsum": "np.cumsum({0}, axis={axis})",
    "numpy.cumprod": "np.cumprod({0}, axis={axis})",
    "numpy.pad": "np.pad({0}, {pad_width}, constant_values={constant_values})",
    "numpy.where": "np.where({0}, {1}, {2})",
    "numpy.clip": "np.minimum(np.maximum({0}, {1}), {2})",
    "numpy.round": "np.round({0}, {decimals})",
    "scipy.special.polygamma": "sps.polygamma({0}, {1})",
    "dualad.relu": "np.maximum({0}, 0.0)",
    "numpy.linalg.inv": "np.linalg.inv({0})",
    "numpy.linalg.det": "np.linalg.det({0})",
    "numpy.linalg.slogdet": "np.linalg.slogdet({0})",
    "numpy.linalg.solve": "np.linalg.solve({0}, {1})",
    "numpy.linalg.cholesky": "np.linalg.cholesky({0}, upper={upper})",
    "numpy.linalg.eigh": "np.linalg.eigh({0}, UPLO={UPLO})",
    "numpy.linalg.eigvalsh": "np.linalg.eigvalsh({0}, UPLO={UPLO})",
    "numpy.linalg.qr": "np.linalg.qr({0}, mode='reduced')",
    "numpy.linalg.svd": "np.linalg.svd({0}, full_matrices={full_matrices})",
    "numpy.linalg.svdvals": "np.linalg.svd({0}, compute_uv=False)",
    "numpy.linalg.pinv": "np.linalg.pinv({0}{kw})",
    "scipy.special.softmax": "_softmax({0}, {axis})",
    "scipy.special.log_softmax": "_log_softmax({0}, {axis})",
    "dualad.index_add": "_index_add({0}, {idx}, {shape})",
    "dualad.linear": "_linear({args})",
}
_HELPER_OF = {"scipy.special.softmax": "_softmax", "scipy.special.log_softmax": "_log_softmax",
              "dualad.index_add": "_index_add", "dualad.linear": "_linear"}


def module_name(qual):
    """The generated spelling of a NumPy/SciPy qualified name, or ``None``."""
    for prefix, short in (("numpy.linalg.", "np.linalg."), ("numpy.", "np."),
                          ("scipy.special.", "sps."), ("scipy.linalg.", "scipy.linalg.")):
        if qual.startswith(prefix):
            rest = qual[len(prefix):]
            return short + rest
    return None


class _Names:
    """Names of the non-literal objects the source reads (constants, implementations)."""

    def __init__(self):
        self.ns = {}
        self.opaque = []  # names of objects without a source spelling (not savable)
        self.helpers = set()

    def obj(self, value, hint):
        for k, v in self.ns.items():
            if v is value:
                return k
        name = f"_{hint}{len(self.ns)}"
        self.ns[name] = value
        self.opaque.append(name)
        return name


def literal(x, names):
    """Python source for an argument: a variable, a constant, or a literal value."""
    t = type(x)
    if t is Var or t is Const:
        if t is Const:
            names.ns[x.name] = x.value
        return x.name
    if x is None or t is bool or t is str or x is Ellipsis:
        return "..." if x is Ellipsis else repr(x)
    if t is int:
        return repr(x) if x >= 0 else f"({x!r})"
    if t is float:
        if math.isfinite(x):
            return repr(x) if x >= 0 or x != x else f"({x!r})"
        return "np.nan" if x != x else ("np.inf" if x > 0 else "(-np.inf)")
    if isinstance(x, np.generic) and type(x).__module__ == "numpy":
        name = type(x).__name__
        if x.dtype.kind in "biuf":
            v = x.item()
            inner = repr(v) if type(v) is not float or math.isfinite(v) else literal(v, names)
            return f"np.{name}({inner})"
    if t is tuple:
        inner = ", ".join(literal(o, names) for o in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if t is list:
        return "[" + ", ".join(literal(o, names) for o in x) + "]"
    if t is dict:
        return "{" + ", ".join(f"{k!r}: {literal(v, names)}" for k, v in x.items()) + "}"
    if t is slice:
        return f"slice({literal(x.start, names)}, {literal(x.stop, names)}, " \
               f"{literal(x.step, names)})"
    if isinstance(x, np.dtype):
        return f"np.dtype({x.str!r})" if x.names is None else names.obj(x, "o")
    if isinstance(x, type) and issubclass(x, np.generic):
        return f"np.{x.__name__}"
    return names.obj(x, "o")


def _index(idx, names):
    """An index tuple as subscript source (``x[1:3, None]``)."""
    def one(k):
        if type(k) is slice:
            parts = [("" if v is None else literal(v, names)) for v in (k.start, k.stop, k.step)]
            return ":".join(parts[:2]) + (":" + parts[2] if k.step is not None else "")
        return literal(k, names)
    if not idx:
        return "()"
    return ", ".join(one(k) for k in idx)


def expression(eq, names):
    """The right-hand side of ``eq`` as source."""
    prim = eq.prim
    args = [literal(a, names) for a in eq.args]
    if type(prim).__name__ == "Into":
        names.helpers.add("_into")
        spelled = module_name(qualname(prim.ufunc))
        if spelled is None or not _resolves(spelled, prim.ufunc):
            spelled = names.obj(prim.ufunc, "f")
        return f"_into({spelled}, {', '.join(args)})"
    kw = eq.kwargs
    name = prim.name
    if type(prim) is Call:
        spelled = module_name(name)
        if spelled is None:
            spelled = names.obj(prim.impl, "f")
        elif "." in spelled and not _resolves(spelled, prim.impl):
            spelled = names.obj(prim.impl, "f")
        parts = [literal(a, names) for a in eq.args]
        parts += [f"{k}={literal(v, names)}" for k, v in kw.items()]
        return f"{spelled}({', '.join(parts)})"
    impl = prim.impl
    op = _INFIX.get(impl) if not isinstance(impl, np.ufunc) or impl is np.matmul else None
    if op is not None and len(args) == 2 and not kw:
        return f"{args[0]} {op} {args[1]}"
    if impl is operator.neg:
        return f"-{args[0]}"
    if name == "numpy.transpose":
        axes = kw["axes"]
        return f"{args[0]}.T" if axes is None else f"{args[0]}.transpose({literal(axes, names)})"
    if name == "numpy.sum":
        # the method skips np.sum's Python layer (and works on tracers: a program is NumPy
        # code that dualad can differentiate again)
        return f"{args[0]}.sum(axis={literal(kw['axis'], names)}, " \
               f"keepdims={literal(kw['keepdims'], names)})"
    template = _TEMPLATES.get(name)
    if template is not None:
        fields = {k: literal(v, names) for k, v in kw.items()}
        if name == "numpy.ndarray.__getitem__":
            fields["idx"] = _index(kw["idx"], names)
        if name == "numpy.linalg.pinv":
            fields["kw"] = "".join(f", {k}={literal(v, names)}" for k, v in kw.items())
        fields["args"] = ", ".join(args)
        helper = _HELPER_OF.get(name)
        if helper is not None:
            names.helpers.add(helper)
        return template.format(*args, **fields)
    if isinstance(impl, np.ufunc) and not kw:
        spelled = module_name(prim.name)
        if spelled is not None and _resolves(spelled, impl):
            return f"{spelled}({', '.join(args)})"
    # a primitive without a NumPy spelling (conv2d, a user's Primitive): call its impl
    fn = names.obj(impl, "impl_")
    parts = args + [f"{k}={literal(v, names)}" for k, v in kw.items()]
    return f"{fn}({', '.join(parts)})"


def _resolves(spelled, obj):
    import scipy.special as sps
    root, _, rest = spelled.partition(".")
    base = {"np": np, "sps": sps}.get(root)
    if base is None:
        return False
    try:
        for part in rest.split("."):
            base = getattr(base, part)
    except AttributeError:
        return False
    # (a ufunc's method, np.add.reduce, is a new bound object at each lookup: equal, not same)
    return base is obj or type(obj) is _BUILTIN_METHOD and base == obj


_BUILTIN_METHOD = type(np.add.reduce)


def _guard_source(eq, names, k):
    v = eq.args[0].name
    kind, value = eq.kwargs["kind"], eq.kwargs["value"]
    where = f" at {eq.line}" if eq.line else ""
    fail = f"raise GuardFailure({f'guard {k}: {kind}({v}) == {value!r}{where}'[:200]!r})"
    if kind == "bool":
        return f"if {'not ' if value else ''}{v}: {fail}"
    if kind in ("int", "index"):
        return f"if int({v}) != {value!r}: {fail}"
    if kind == "float":
        if value != value:
            return f"if float({v}) == float({v}): {fail}"
        return f"if float({v}) != {literal(float(value), names)}: {fail}"
    if kind == "complex":
        return f"if complex({v}) != {value!r}: {fail}"
    if kind == "array":
        c = names.obj(value, "g")
        names.opaque.remove(c)  # an array: saved with the constants
        return f"if not np.array_equal({v}, {c}, equal_nan={value.dtype.kind in 'fc'}): {fail}"
    lit = literal(value, names)
    return f"if not _same({v}, {lit}): {fail}"


#: temporaries with at least this many elements are deleted after their last use, so that a
#: replay holds no more large arrays than the eager computation would
DEL_MIN_SIZE = 256


def render(inputs, equations, outputs, line_comments=True, single=False):
    """``(source, names)``: the function ``program`` computing the flat ``outputs`` from
    ``inputs`` (the one output itself when ``single``); ``names`` holds the objects the
    source reads besides numpy/scipy."""
    names = _Names()
    sig = ", ".join(v.name for v in inputs)
    body = []
    k = 0
    last = last_uses(equations, outputs)
    params = set(inputs)
    for n, eq in enumerate(equations):
        if eq.prim is GUARD:
            body.append(_guard_source(eq, names, k))
            k += 1
        else:
            rhs = expression(eq, names)
            lhs = ", ".join(v.name for v in eq.outs)
            if eq.multi and len(eq.outs) == 1:
                lhs += ","
            stmt = f"{lhs} = {rhs}"
            if line_comments and eq._line is not None:
                stmt += f"  # {eq.line}"
            body.append(stmt)
        dead = None
        for v in eq.inputs:
            if v.shape and last.get(v) == n and v not in params and \
                    math.prod(v.shape) >= DEL_MIN_SIZE:
                last[v] = -1  # (once, if it is read twice here)
                dead = [v.name] if dead is None else dead + [v.name]
        for v in eq.outs:  # results nobody reads (a multiple-result op's extras)
            if v.shape and v not in last and math.prod(v.shape) >= DEL_MIN_SIZE:
                dead = [v.name] if dead is None else dead + [v.name]
        if dead:
            body.append(f"del {', '.join(dead)}")
    if single:
        body.append(f"return {literal(outputs[0], names)}")
    else:
        outs = ", ".join(literal(o, names) for o in outputs)
        body.append(f"return ({outs}{',' if len(outputs) == 1 else ''})")
    src = f"def program({sig}):\n" + "".join(f"    {s}\n" for s in body)
    return src, names


def same(a, b):
    """Equality of a replayed Python result with the traced one (tuples of arrays included)."""
    try:
        return bool(np.all(np.asarray(a == b))) if not isinstance(a, tuple) else \
            len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    except Exception:  # noqa: BLE001 - incomparable means different
        return False


SAME_SOURCE = '''def _same(a, b):
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(_same, a, b))
    try:
        return bool(np.all(np.asarray(a == b)))
    except Exception:
        return False
'''
