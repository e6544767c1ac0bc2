"""Calling SciPy as usual on traced values: SciPy's Python-level functions routed to rules.

SciPy's Python functions (``scipy.stats`` distributions, ``scipy.linalg``, ``scipy.signal``,
``scipy.special.logsumexp``) start with ``np.asarray``, which a traced value refuses, and they
are not NumPy functions, so ``__array_function__`` never sees them. dualad therefore wraps the
ones it has rules for, in SciPy's own namespaces: a call whose arguments hold a traced value
goes to the rule (:mod:`dualad.ops.scipy_stats`, :mod:`dualad.ops.scipy_linalg`, the
``scipy.special`` entries of the op table); every other call goes to SciPy's function
unchanged, after one scan of its arguments.

The wrapping happens when the SciPy module is imported (or when the op table loads, at ``import
dualad`` or ``import reverse``, for the ones already imported): dualad never imports
``scipy.stats``, ``scipy.linalg`` or ``scipy.signal`` itself. A name taken from SciPy *before*
dualad was imported (``from scipy.linalg import expm`` above ``import dualad``) is SciPy's
unwrapped function; the conversion error then says so. :func:`original` gives back SciPy's
function; ``DUALAD_NO_SCIPY=1`` in the environment turns all of this off.
"""
from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys

from .core import FUNCTION_RULES, Tracer
from .scipy_linalg import LINALG, SIGNAL
from .scipy_stats import METHODS, MULTIVARIATE

__all__ = ["install", "original", "WRAPPED"]

#: "module.name" of every SciPy callable dualad wraps -> the wrapper
WRAPPED: dict = {}


def _holds_tracer(args, kwargs):
    for a in args:
        if isinstance(a, Tracer):
            return True
    return _nested_tracer(args) or _nested_tracer(kwargs)


def _nested_tracer(x):
    # SciPy's arguments nest only in lists, tuples and dicts (a list of arrays, say)
    if isinstance(x, Tracer):
        return True
    if isinstance(x, dict):
        x = x.values()
    elif not isinstance(x, (list, tuple)):
        return False
    return any(_nested_tracer(v) for v in x)


def original(fn):
    """SciPy's own function behind a dualad wrapper (``fn`` itself if it is not one)."""
    return getattr(fn, "__dualad_original__", fn)


def _routed(fn, rule, name):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _holds_tracer(args, kwargs):
            return rule(*args, **kwargs)
        return fn(*args, **kwargs)
    wrapper.__dualad_original__ = fn
    WRAPPED[name] = wrapper
    return wrapper


def _wrap_functions(module, table, prefix):
    for name, rule in table.items():
        fn = getattr(module, name, None)
        if fn is None or hasattr(fn, "__dualad_original__"):
            continue
        setattr(module, name, _routed(fn, rule, f"{prefix}.{name}"))


# ---------------------------------------------------------------------------------------------
# the modules
# ---------------------------------------------------------------------------------------------

def _special(module):
    # the entries registered for scipy.special's Python functions (logsumexp, softmax, ...)
    table = {}
    for name in ("logsumexp", "softmax", "log_softmax"):
        fn = getattr(module, name, None)
        if fn is not None and FUNCTION_RULES.get(original(fn)) is not None:
            table[name] = FUNCTION_RULES[original(fn)]
    _wrap_functions(module, table, "scipy.special")


def _linalg(module):
    _wrap_functions(module, LINALG, "scipy.linalg")


def _signal(module):
    _wrap_functions(module, SIGNAL, "scipy.signal")


def _stats(module):
    for (dist, method), rule in METHODS.items():
        cls = type(getattr(module, dist))
        fn = getattr(cls, method)
        if hasattr(fn, "__dualad_original__"):
            continue
        setattr(cls, method, _routed(fn, _distribution_rule(rule), f"scipy.stats.{dist}."
                                                                   f"{method}"))
    gen = type(module.multivariate_normal)
    frozen = type(module.multivariate_normal([0.0]))
    for method, rule in MULTIVARIATE.items():
        fn = getattr(gen, method)
        if not hasattr(fn, "__dualad_original__"):
            setattr(gen, method, _routed(fn, _mvn_rule(rule),
                                         f"scipy.stats.multivariate_normal.{method}"))
        fn = getattr(frozen, method)
        if not hasattr(fn, "__dualad_original__"):
            setattr(frozen, method, _routed(fn, _mvn_frozen_rule(rule),
                                            f"scipy.stats.multivariate_normal(...).{method}"))


def _distribution_rule(rule):
    def apply(dist, x, *args, **kwds):
        shapes, loc, scale = dist._parse_args(*args, **kwds)
        discrete = hasattr(dist, "_pmf") or hasattr(dist, "_logpmf")
        return rule(x, *shapes, loc) if discrete else rule(x, *shapes, loc, scale)
    return apply


def _mvn_rule(rule):
    def apply(gen, x, mean=None, cov=1, allow_singular=False):
        return rule(x, mean, cov)
    return apply


def _mvn_frozen_rule(rule):
    def apply(frozen, x):
        return rule(x, frozen.mean, frozen.cov)
    return apply


_PATCHES = {"scipy.special": _special, "scipy.linalg": _linalg, "scipy.signal": _signal,
            "scipy.stats": _stats}


# ---------------------------------------------------------------------------------------------
# when: now for modules already imported, at their import for the others
# ---------------------------------------------------------------------------------------------

class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of a watched SciPy module so that the module is
    patched right after it has executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and not isinstance(spec.loader, _PatchingLoader):
            spec.loader = _PatchingLoader(spec.loader, fullname)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, name):
        self._loader, self._name = loader, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        module.__loader__ = self._loader  # SciPy's own loader from here on
        _PATCHES[self._name](module)

    def __getattr__(self, name):  # is_package, get_resource_reader, ...: the real loader's
        return getattr(self._loader, name)


_installed = False


def install():
    """Wrap SciPy's functions that have rules (idempotent); called when the op table loads
    (``import dualad``, ``import reverse``: every mode's tracers reach the rules)."""
    global _installed
    if _installed or os.environ.get("DUALAD_NO_SCIPY") == "1":
        return
    _installed = True
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _AfterImport())
