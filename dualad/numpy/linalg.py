"""``numpy.linalg``, under ``dualad.numpy`` (its functions take traced values as they are)."""
import numpy.linalg as _mod
from numpy.linalg import *  # noqa: F401,F403

__all__ = list(getattr(_mod, "__all__", ()))


def __getattr__(name):
    return getattr(_mod, name)
