"""``jit(f)``: trace on the first call per signature, replay the cached program afterwards."""
from __future__ import annotations

import functools
import warnings

import numpy as np

from ..ops import Tracer
from .program import GuardFailure, _static_set, _trace, signature
from .tracer import _STACK, active_trace

__all__ = ["jit", "Jitted", "MAX_SPECIALIZATIONS"]

#: programs kept per signature (one per branch the guards told apart); past it, jit warns once
#: and runs the function eagerly for that signature
MAX_SPECIALIZATIONS = 8

_ndarray = np.ndarray


class Jitted:
    """The callable :func:`jit` returns. ``programs(*args)`` lists the programs cached for the
    signature of ``args``; ``traces`` counts the traces taken so far."""

    def __init__(self, f, static_argnums, optimize, max_specializations):
        self.f = f
        self.static_argnums = static_argnums
        self.optimize = optimize
        self.max_specializations = max_specializations
        self._cache = {}
        self._fast = {}  # _fast_key -> (program, whether no argument needs converting)
        self._eager = set()
        self._static = {}  # number of arguments -> static set
        self.traces = 0
        functools.update_wrapper(self, f)

    def _static_for(self, n):
        s = self._static.get(n)
        if s is None:
            s = self._static[n] = _static_set(self.static_argnums, n, "jit")
        return s

    def programs(self, *args):
        key, _ = signature(args, self._static_for(len(args)))
        return list(self._cache.get(key, ()))

    def _fast_key(self, args):
        """The signature of plain positional arrays and floats, cheaply (``None`` otherwise)."""
        k = []
        for a in args:
            c = a.__class__
            if c is _ndarray:
                k.append(a.shape)
                k.append(a.dtype)
            elif c is float:
                k.append(float)
            else:
                return None
        return tuple(k)

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"jit({getattr(self.f, '__name__', 'f')}): keyword arguments are "
                            f"not supported ({', '.join(kwargs)}); pass them positionally, in "
                            f"static_argnums if they are not arrays")
        fast = self._fast
        if fast and not _STACK:  # the common hit: plain arrays, one guard-free program
            if len(args) == 1 and args[0].__class__ is _ndarray:  # (the key spelled out)
                a = args[0]
                hit = fast.get((a.shape, a.dtype))
            else:
                hit = fast.get(self._fast_key(args))
            if hit is not None:
                prog, plain = hit
                if plain:
                    fn = prog._compiled
                    res = (fn if fn is not None else prog._fn)(*args)
                    return res if prog._single else prog.unflatten(res)
                return prog.replay(args)
        if active_trace() is not None:  # inside another trace: inline f into it
            return self.f(*args)
        key, leaves = signature(args, self._static_for(len(args)))
        progs = self._cache.get(key)
        for x in leaves:
            if isinstance(x, Tracer):  # under an enclosing transform
                return self._under_transform(progs, leaves, args)
        if progs is not None:
            if len(progs) == 1 and not progs[0].has_guards:
                return progs[0].replay(leaves)
            for p in progs:
                try:
                    return p.replay(leaves)
                except GuardFailure:
                    continue
        else:
            progs = self._cache[key] = []
        if key in self._eager:
            return self.f(*args)
        if len(progs) >= self.max_specializations:
            self._eager.add(key)
            warnings.warn(f"jit({getattr(self.f, '__name__', 'f')}): {len(progs)} "
                          f"specializations of one signature failed their guards (Python "
                          f"control flow on traced values); running it eagerly from now on "
                          f"for this signature", RuntimeWarning, stacklevel=2)
            return self.f(*args)
        prog, out = _trace(self.f, args, self._static_for(len(args)), key, leaves,
                           self.optimize)
        self.traces += 1
        progs.append(prog)
        fk = None if self.static_argnums not in ((), None) else self._fast_key(args)
        if fk is not None:
            if len(progs) == 1 and not prog.has_guards:
                # (no Python float to convert; `float in fk` would be True for a float64 dtype,
                # which compares equal to float)
                self._fast[fk] = (prog, not any(k is float for k in fk))
            else:
                self._fast.pop(fk, None)
        return out


    def _under_transform(self, progs, leaves, args):
        """Arguments carry derivatives of an enclosing transform: a cached program runs as the
        NumPy code it is, on them (so it is differentiated); without one, ``f`` runs eagerly
        (no trace is taken from derivative tracers)."""
        for p in progs or ():
            try:
                return p.replay(leaves)
            except (GuardFailure, TypeError):
                # (a guard's int()/float() of a tracer raises TypeError: the eager call
                # below decides, and raises itself if the error is f's)
                continue
        return self.f(*args)


def jit(f=None, static_argnums=(), *, optimize=True, max_specializations=MAX_SPECIALIZATIONS):
    """``f`` compiled to staged programs: each new signature (pytree structure, shapes, dtypes
    and the values of ``static_argnums``) traces ``f`` once with :func:`trace`; later calls
    replay the program, without dualad's dispatch.

    Python control flow on traced values is recorded as guards: a replay whose guard fails
    traces another specialization (at most ``max_specializations`` per signature; then a
    warning and eager calls). Values that do not depend on the arguments are frozen at trace
    time (see :func:`trace`). Called inside a trace, a jitted function is inlined; called on
    tracers of an enclosing transform, it runs its cached program as NumPy code on them (or
    ``f`` itself). Usable as a decorator, with or without arguments. One trace at a time per
    process: tracing from several threads at once is not supported.
    """
    if f is None:
        return lambda g: jit(g, static_argnums, optimize=optimize,
                             max_specializations=max_specializations)
    if not callable(f):
        raise TypeError(f"jit: f must be callable, got {type(f).__name__}")
    return Jitted(f, static_argnums, optimize, max_specializations)
