"""What the tape keeps of an op: what its entry declares the VJP reads, stand-ins for the rest.

An op-table entry states what its VJP reads (``Primitive.saves``, see :mod:`dualad.ops.saves`):
``tanh``'s reads ``ans`` and not ``x``, ``matmul``'s cotangent of one operand reads the other.
Keeping everything would hold every pre-activation of a network alive until the sweep (twice
the activation memory of hand-written backprop), so the recorder keeps a shape-and-dtype
:class:`Meta` in place of each array the declaration leaves out. The plan for a call is
precomputed per primitive; here are only the stand-in and the trimming itself.
"""
from __future__ import annotations

import numpy as np

from dualad.ops import Tracer

__all__ = ["Meta", "meta_of", "trim", "MIN_DROP_BYTES"]

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray


class Meta:
    """Stands in for an array the tape did not keep: its shape and dtype, nothing else.

    Any NumPy use of it raises: the entry declared that its rule does not read the value, and
    a rule that did would otherwise compute garbage.
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
            "reverse: a VJP rule read a value that the tape did not keep: the op's entry "
            "declares (saves=, or its rule kind) that the rule does not read it. The "
            "declaration is wrong; please report this with the op's name")

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
    """``(saved answer, saved args)`` of an op under ``plan`` (a ``dualad.ops.saves.SavePlan``):
    a :class:`Meta` for each value the rules do not read and dropping which frees memory."""
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
