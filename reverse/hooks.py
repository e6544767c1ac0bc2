"""Hook bookkeeping: the handle a hook registration returns (``Tensor.register_hook`` and
``nn.Module``'s ``register_*_hook`` alike), and ``retain_grad``'s hook.

A hook lives in a list next to what it watches: a leaf's own list, or the producing node's
(entries ``[k, fn, handle]``, ``k`` the output index), where the sweep finds it when that
Tensor's total gradient is known.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["RemovableHandle", "RetainGrad"]


_ids = itertools.count()


class RemovableHandle:
    """A registered hook: ``remove()`` unregisters it (removing twice does nothing); also a
    context manager that removes it on exit. ``id`` is unique among handles.

    One class for both packages' hooks (PyTorch has one ``RemovableHandle`` too): a Tensor's
    hooks are ``[k, fn, handle]`` entries of a list, found by identity; a Module's are a dict
    keyed by the handle's ``id``. ``hooks`` is that container (a dict is keyed by ``id``);
    a list's entry is attached after construction, as ``_where = (hooks, entry)``.
    """

    __slots__ = ("_where", "id")

    def __init__(self, hooks=None):
        self.id = next(_ids)
        self._where = None if hooks is None else (hooks, self.id)

    def remove(self):
        """Unregister the hook; removing twice does nothing."""
        if self._where is None:
            return
        hooks, entry = self._where
        self._where = None
        if isinstance(hooks, dict):
            hooks.pop(entry, None)
            return
        for n, e in enumerate(hooks):
            if e is entry:
                del hooks[n]
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


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
