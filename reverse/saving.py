"""What the tape keeps of an op: only the values its VJP rule reads.

A VJP rule has the signature ``vjp(i, g, ans, *args, **kwargs)``, but most rules read only
some of them: ``tanh``'s reads ``ans`` and not ``x``, ``matmul``'s reads ``a`` and ``b`` and not
``ans``. Keeping everything would hold every pre-activation of a network alive until the sweep
(twice the activation memory of hand-written backprop), so the tape asks, once per primitive,
which parameters the rule's code loads, and keeps a shape-and-dtype :class:`Meta` in place of an
array that no rule reads.

The answer is read off the rule's bytecode (which local names it loads). It errs only towards
keeping: a rule that is not a plain Python function, takes ``*args`` and reads them, or hands a
parameter to a nested function counts as reading everything it could. For ``elementwise``
entries the partials ``derivs[i](ans, *args)`` are examined instead of the generated rule, which
reads the arguments only for their shapes (to undo broadcasting) — a :class:`Meta` has them;
for ``linear`` and ``bilinear`` entries, the transposes the generated rule calls.
"""
from __future__ import annotations

import dis
import inspect

import numpy as np

from dualad.ops import Tracer

__all__ = ["Meta", "SavePlan", "plan_for", "trim"]

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray


class Meta:
    """Stands in for an array the tape did not keep: its shape and dtype, nothing else.

    Any NumPy use of it raises: the saving analysis said the rule does not read the value, and
    a rule that does would otherwise compute garbage.
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    def _refuse(self, *args, **kwargs):
        raise RuntimeError(
            "reverse: a VJP rule read a value that the tape did not keep (the saving analysis "
            "in reverse/saving.py judged it unused). Please report this with the op's name")

    __array__ = __array_ufunc__ = __array_function__ = _refuse

    def __repr__(self):
        return f"Meta(shape={self.shape}, dtype={self.dtype})"


#: arrays smaller than this are kept even when unread: dropping them saves next to nothing and
#: costs a Meta on every op (small arrays are the per-op-overhead regime)
MIN_DROP_BYTES = 4096


def meta_of(v):
    """A :class:`Meta` for ``v`` when dropping ``v`` frees memory, else ``v`` itself."""
    if type(v) is _ndarray:
        return Meta(v.shape, v.dtype) if v.nbytes >= MIN_DROP_BYTES else v
    if isinstance(v, Tracer):
        return Meta(v.shape, v.dtype)
    return v


def trim(plan, ans, vals):
    """``(saved answer, saved args)`` of an op under ``plan``: a :class:`Meta` for each value no
    rule reads and dropping which frees memory."""
    saved = ans if plan.keep_ans else meta_of(ans)
    drop = plan.drop
    if drop:
        out = None
        n = len(vals)
        for j in drop:
            if j < n:
                v = vals[j]
                m = meta_of(v)
                if m is not v:
                    if out is None:
                        out = list(vals)
                    out[j] = m
        if out is not None:
            vals = tuple(out)
    return saved, vals


class SavePlan:
    """For one primitive: whether the VJP reads ``ans``, and which positional args it never reads.
    """

    __slots__ = ("keep_ans", "drop", "trims", "elementwise")

    def __init__(self, keep_ans=True, drop=(), elementwise=False):
        self.keep_ans = keep_ans
        self.drop = tuple(drop)  # indices of positional args no rule of this op reads
        #: whether anything may be left out at all (the recorder checks this first)
        self.trims = not keep_ans or bool(self.drop)
        #: arguments are never larger than the answer (they broadcast to it), so a small answer
        #: means there is nothing worth dropping
        self.elementwise = elementwise

    def __repr__(self):
        return f"SavePlan(keep_ans={self.keep_ans}, drop={self.drop})"


_KEEP_ALL = SavePlan()
_PLANS: dict = {}  # Primitive -> SavePlan (primitives are hashable by identity and live forever)


def plan_for(prim) -> SavePlan:
    """The (cached) :class:`SavePlan` of ``prim``."""
    plan = _PLANS.get(prim)
    if plan is None:
        try:
            plan = _analyse(prim)
        except Exception:  # never let an optimization break recording: keep everything
            plan = _KEEP_ALL
        _PLANS[prim] = plan
    return plan


def _reads(fn, skip):
    """Which positional parameters of ``fn`` (after the first ``skip``) its code loads:
    ``(named, star)`` with ``named[j]`` for parameter ``skip + j`` and ``star`` for ``*args``;
    ``None`` when it cannot be told (not a plain Python function)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    params = code.co_varnames[:code.co_argcount]
    varargs = code.co_varnames[code.co_argcount + code.co_kwonlyargcount] \
        if code.co_flags & inspect.CO_VARARGS else None
    loaded = set(code.co_cellvars)  # captured by a nested function: assume it reads them
    for ins in dis.get_instructions(code):
        if ins.opname.startswith("LOAD_FAST") or ins.opname in ("LOAD_DEREF", "LOAD_CLOSURE"):
            names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            loaded.update(names)
    return [p in loaded for p in params[skip:]], varargs is not None and varargs in loaded


def _read(named, star, j):
    """Whether positional parameter ``j`` of the ones ``named``/``star`` describe is read."""
    return named[j] if j < len(named) else star


def _analyse(prim) -> SavePlan:
    derivs = prim.derivs
    if derivs is not None:  # an elementwise entry: the union over its partials d(ans, *args)
        nargs = len(derivs)
        keep_ans = False
        read = [False] * nargs
        for d in derivs:
            if d is None or type(d) is float or not callable(d):  # missing, constant, ZERO
                continue
            r = _reads(d, 0)
            if r is None:
                return _KEEP_ALL
            named, star = r
            keep_ans = keep_ans or _read(named, star, 0)
            for j in range(nargs):
                read[j] = read[j] or _read(named, star, j + 1)
        return SavePlan(keep_ans, tuple(j for j in range(nargs) if not read[j]),
                        elementwise=True)
    if prim.vjp is None:
        return _KEEP_ALL
    # the rules the sweep may call, each with the parameters to skip and whether it is handed
    # ``ans``: the generated vjp of a linear or bilinear entry reads its arguments only by
    # passing them to the transposes, so the transposes are what tell
    if prim.kind == "linear":
        rules = [(prim.parts[1], 1, False)]  # transpose(g, x, **params)
    elif prim.kind == "bilinear":
        rules = [(prim.parts[2], 1, False), (prim.parts[3], 1, False)]  # (g, a, b, **params)
    else:
        rules = [(prim.vjp, 2, True)]  # vjp(i, g, ans, *args)
    if prim.vjp_plain is not None:
        rules.append((prim.vjp_plain, 2, True))
    keep_ans = False
    drop = None
    for rule, skip, gets_ans in rules:  # the sweep calls one or another: the union
        r = _reads(rule, skip)
        if r is None:
            return _KEEP_ALL
        named, star = r
        if gets_ans:
            keep_ans = keep_ans or _read(named, star, 0)
            named = named[1:]
        # only named parameters can be dropped: past them, how many args come is not known
        unread = {j for j in range(len(named)) if not named[j]}
        drop = unread if drop is None else drop & unread
    return SavePlan(keep_ans, tuple(sorted(drop)))
