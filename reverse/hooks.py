"""Hook bookkeeping: the handle ``Tensor.register_hook`` returns, and ``retain_grad``'s hook.

A hook lives in a list next to what it watches: a leaf's own list, or the producing node's
(entries ``[k, fn, handle]``, ``k`` the output index), where the sweep finds it when that
Tensor's total gradient is known.
"""
from __future__ import annotations

import numpy as np

__all__ = ["RemovableHandle", "RetainGrad"]


class RemovableHandle:
    """Returned by :meth:`Tensor.register_hook`; ``remove()`` unregisters the hook."""

    __slots__ = ("_where",)

    def __init__(self):
        self._where = None

    def remove(self):
        if self._where is None:
            return
        hooks, entry = self._where
        self._where = None
        for n, e in enumerate(hooks):
            if e is entry:
                del hooks[n]
                break


class RetainGrad:
    """The hook behind :meth:`Tensor.retain_grad`: accumulate into the Tensor's ``.grad``."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor

    def __call__(self, g):
        t = self.tensor
        if type(g) is np.ndarray and not g.flags.writeable:
            g = g.copy()
        t.grad = g if t.grad is None else t.grad + g
