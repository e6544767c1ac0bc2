"""Nesting levels of tracers, and the error for a tracer used after its transform returned.

Every transform run opens a level; tracers carry theirs, and a primitive applied to tracers of
several levels is processed by the highest (``core.Primitive.bind``). A level stays in
:data:`LIVE_LEVELS` while its transform runs; a tracer whose level is gone escaped the function
being differentiated, and using it raises :class:`UnexpectedTracerError` rather than giving a
silently wrong derivative. This module imports nothing of the project.
"""
from __future__ import annotations

import collections
import itertools

__all__ = ["DUAL_USER_LEVEL", "TENSOR_USER_LEVEL", "LIVE_LEVELS", "LEVEL_INPUTS", "UnexpectedTracerError", "new_level", "open_level",
           "close_level", "escaped"]

#: the user levels, one per tracer type, defined here once: DualArrays built by hand from plain
#: values share one perturbation (``DualArray(2., 1.) * DualArray(3., 1.)`` has tangent 5, as
#: with ForwardDiff's duals), Tensors built by hand one PyTorch-style graph. They differ, so a
#: hand-built DualArray and Tensor never meet at one level; the Tensor's is the higher, so
#: ``x * d`` of a hand-built Tensor ``x`` and DualArray ``d`` records reverse over forward.
DUAL_USER_LEVEL = 0
TENSOR_USER_LEVEL = 1  # reverse.USER_LEVEL
_levels = itertools.count(TENSOR_USER_LEVEL + 1)  # transforms and nested tracers: above both

#: level -> what made it, for every level whose tracers may still be used: the user levels,
#: levels of hand-built nested tracers (they live as long as their values) and the levels of
#: the transforms running now. A tracer processes an op only if its level is here (a dict
#: lookup per op: the price of never treating an escaped tracer as a constant).
LIVE_LEVELS: dict = {DUAL_USER_LEVEL: "a hand-built DualArray",
                     TENSOR_USER_LEVEL: "a hand-built Tensor"}
#: level -> the input tracers a running forward transform seeded (in-place writes to them raise,
#: as they do on the leaf Tensors of reverse mode)
LEVEL_INPUTS: dict = {}
#: recently closed levels -> the transform that made them, for the error message only
_FINISHED = collections.OrderedDict()
_FINISHED_KEEP = 4096


class UnexpectedTracerError(TypeError):
    """A tracer of a transform that has returned was used (JAX's error of the same name).

    A transform's tracers (the DualArrays of ``jvp``/``jacfwd``, the Tensors of
    ``grad``/``vjp``) mean something only while it runs; one that escaped (through a global, a
    closure, a list, an attribute) and is used later would be taken for a constant or returned
    as a value, giving a silently wrong derivative. dualad raises this instead.
    """


def new_level() -> int:
    """A fresh nesting level, higher than every level handed out before, live for good (for
    tracers built by hand)."""
    level = next(_levels)
    LIVE_LEVELS[level] = "a hand-built nested tracer"
    return level


def open_level(name: str) -> int:
    """A fresh level for one run of the transform ``name``; :func:`close_level` ends it."""
    level = next(_levels)
    LIVE_LEVELS[level] = name
    return level


def close_level(level: int):
    """The transform that opened ``level`` has returned: its tracers are dead from now on."""
    LEVEL_INPUTS.pop(level, None)
    name = LIVE_LEVELS.pop(level, None)
    if name is not None:
        _FINISHED[level] = name
        if len(_FINISHED) > _FINISHED_KEEP:
            _FINISHED.popitem(last=False)


def escaped(tracer) -> UnexpectedTracerError:
    """The error for ``tracer``, whose level is no longer live."""
    level = tracer._level
    name = _FINISHED.get(level)
    made = f"by a call of {name} that has returned" if name else \
        "by a transform that has returned"
    return UnexpectedTracerError(
        f"a {type(tracer).__name__} of level {level}, created {made}, was used after that "
        f"call ended: it escaped the function being differentiated (through a global, a "
        f"closure, a list or an attribute), and using it now would treat it as a constant or "
        f"return it as a value. Return what you need from the function (has_aux=True for extra "
        f"outputs), or take its value (.primal / .data) inside the function")
