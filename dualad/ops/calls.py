"""NumPy callables outside the op table, on tracers: as :meth:`Primitive.bind` does for an
entry, the highest-level tracer among the arguments decides what happens
(:meth:`Tracer._process_call`): a derivative tracer raises ``TypeError`` naming the callable and
its rule kind, the staging tracer records the call (it needs no derivative rule).
"""
from __future__ import annotations

from .core import Tracer, qualname

__all__ = ["bind_call", "call_plain"]


def _highest(obj, top):
    """The highest-level tracer in ``obj`` (searched into tuples, lists and dicts) or ``top``."""
    if isinstance(obj, Tracer):
        return obj if top is None or obj._level > top._level else top
    t = type(obj)
    if t is tuple or t is list:
        for o in obj:
            top = _highest(o, top)
    elif t is dict:
        for o in obj.values():
            top = _highest(o, top)
    return top


def bind_call(func, name, args, kwargs, why):
    """:meth:`Primitive.bind` for a NumPy callable outside the table (``name`` is its qualified
    name): the highest-level tracer among the arguments processes it, by
    :meth:`Tracer._process_call` (a derivative tracer raises ``why``); none: ``func`` runs."""
    top = _highest(kwargs, _highest(args, None))
    if top is None:
        return func(*args, **kwargs)
    return top._process_call(func, name, args, kwargs, why)


def call_plain(func, *args, **kwargs):
    """``func`` of the plain values of its arguments, for a result with no derivative
    (``np.argmax``, ``np.isclose``). A tracer whose plain value is a tracer again (the staging
    tracer records constant uses too) would come back to ``func``'s own front: the call is
    handed to :func:`bind_call` instead."""
    args = tuple(a._plain_value() if isinstance(a, Tracer) else a for a in args)
    if kwargs:
        kwargs = {k: v._plain_value() if isinstance(v, Tracer) else v for k, v in kwargs.items()}
    if _highest(kwargs, _highest(args, None)) is not None:
        return bind_call(func, qualname(func), args, kwargs,
                         f"no {{kind}} rule for {qualname(func)}")
    return func(*args, **kwargs)
