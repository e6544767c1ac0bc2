"""NumPy's namespace, for code written against ``autograd.numpy`` or ``jax.numpy``.

dualad differentiates plain NumPy: ``import numpy as np`` is all a user needs, since traced
values reach the op table through NumPy's own protocols. A few NumPy entry points are outside
those protocols, though: ``np.array([t1, t2])`` and ``np.asarray`` of a list holding traced
values, ``np.r_`` and ``np.c_`` convert their contents to plain arrays, which a traced value
refuses (its derivative would be lost). Here they build the array from the traced values
instead (a stack, as autograd and JAX do); every other name is NumPy's own object::

    import dualad.numpy as np          # in place of autograd.numpy / jax.numpy
    ad.grad(lambda x: np.sum(np.array([x[0] * x[1], np.sin(x[0])])))(np.ones(2))

``np.linalg``, ``np.fft`` and ``np.random`` are NumPy's modules (also importable as
``dualad.numpy.linalg`` and so on).
"""
import numpy as _np
from numpy import *  # noqa: F401,F403  (the namespace itself)

from . import fft, linalg, random  # noqa: F401
from ._build import array, asarray, asanyarray, c_, r_  # noqa: F401

__all__ = sorted(set(_np.__all__) | {"array", "asarray", "asanyarray", "r_", "c_"})


def __getattr__(name):
    # the rest of NumPy's namespace (names outside numpy.__all__), unchanged
    return getattr(_np, name)

