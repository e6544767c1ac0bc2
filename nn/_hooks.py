"""The machinery behind ``Module.register_full_backward_hook``, built on tensor hooks.

A module's full backward hook wants two things the tape does not single out: the gradient
with respect to the module's *inputs* — not the total gradient of those Tensors, which may
also be used elsewhere — and the gradient with respect to its *outputs*, all at once. So, for
one call of the module:

* the Tensor inputs pass through an identity op (``np.positive``), and the module runs on the
  copies: the gradient reaching a copy is exactly the module's ``grad_input`` entry;
* the outputs pass through an identity op too, whose tensor hook records ``grad_output``
  (and runs the backward pre-hooks, which may replace it);
* when the copies' gradient arrives, the module's backward hooks run with
  ``(grad_input, grad_output)`` and may return a new ``grad_input``, which the tensor hook
  returns in place of the gradient.

A tensor hook sees one Tensor's gradient, but a backward hook sees all inputs' gradients at
once and may replace them all. With several Tensor inputs (or outputs), they are therefore
flattened and concatenated into one vector first, and the module sees slices of it: one
identity node, one hook, every gradient at once.
"""
from __future__ import annotations

import numpy as np

import reverse as rv

__all__ = ["BackwardHook"]


def _needs_grad(x):
    return isinstance(x, rv.Tensor) and x.requires_grad


class _Pack:
    """Routes the Tensors at ``positions`` of a tuple through one identity node with a hook.

    ``route(values, on_grad)`` returns the tuple with those entries replaced by copies that
    share the node; ``on_grad(grads)`` gets the tuple of their gradients (``None`` elsewhere)
    and returns ``None`` or a replacement tuple.
    """

    def __init__(self, values):
        self.n = len(values)
        self.positions = [i for i, v in enumerate(values) if _needs_grad(v)]
        self.shapes = [tuple(values[i].shape) for i in self.positions]
        self.dtypes = [values[i].dtype for i in self.positions]

    def route(self, values, on_grad):
        values = list(values)
        pos = self.positions
        if len(pos) == 1:
            copy = np.positive(values[pos[0]])
            copy.register_hook(lambda g: self._single(g, on_grad))
            values[pos[0]] = copy
            return tuple(values)
        flat = np.concatenate([np.ravel(values[i]) for i in pos])
        flat.register_hook(lambda g: self._packed(g, on_grad))
        start = 0
        for i, shape, dtype in zip(pos, self.shapes, self.dtypes):
            size = int(np.prod(shape))
            part = np.reshape(flat[start:start + size], shape)
            values[i] = part if part.dtype == dtype else part.astype(dtype)
            start += size
        return tuple(values)

    def _expand(self, grads):
        full = [None] * self.n
        for i, g in zip(self.positions, grads):
            full[i] = g
        return tuple(full)

    def _single(self, g, on_grad):
        new = on_grad(self._expand([g]))
        return None if new is None else new[self.positions[0]]

    def _packed(self, g, on_grad):
        grads = []
        start = 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            grads.append(np.reshape(g[start:start + size], shape))
            start += size
        new = on_grad(self._expand(grads))
        if new is None:
            return None
        parts = []
        for i, shape, old in zip(self.positions, self.shapes, grads):
            gi = new[i]
            parts.append(np.ravel(np.zeros(shape, dtype=old.dtype) if gi is None else gi))
        return np.concatenate(parts)


def _check_length(module, what, new, expected):
    if not isinstance(new, (tuple, list)) or len(new) != expected:
        got = len(new) if isinstance(new, (tuple, list)) else type(new).__name__
        raise RuntimeError(f"a backward hook of {type(module).__name__} returned {what} of "
                           f"length {got}; expected a tuple of {expected}")
    return tuple(new)


class BackwardHook:
    """One module call's full backward hooks: set up around ``forward``, fired by the sweep."""

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.inputs = None
        self.grad_output = None

    def setup_inputs(self, args):
        """The positional inputs, Tensors needing a gradient routed through the input hook."""
        self.n_inputs = len(args)
        pack = _Pack(args)
        if not pack.positions:
            return args
        self.inputs = pack
        return pack.route(args, self._on_grad_input)

    def setup_outputs(self, out):
        """The output, routed through the output hook (a tuple output entry by entry)."""
        many = isinstance(out, tuple)
        outs = out if many else (out,)
        pack = _Pack(outs)
        if not pack.positions:
            return out
        routed = pack.route(outs, self._on_grad_output)
        return routed if many else routed[0]

    def _on_grad_output(self, grad_output):
        module = self.module
        changed = False
        for hook in list(module._backward_pre_hooks.values()):
            new = hook(module, grad_output)
            if new is not None:
                grad_output = _check_length(module, "grad_output", new, len(grad_output))
                changed = True
        self.grad_output = grad_output
        if self.inputs is None:
            # no input takes a gradient, so no input hook will fire: the hooks run now, with
            # grad_input all None (as in PyTorch); a replacement would have nowhere to go
            self._run(tuple([None] * self.n_inputs))
        return grad_output if changed else None

    def _on_grad_input(self, grad_input):
        new = self._run(grad_input)
        return None if new is grad_input else new

    def _run(self, grad_input):
        module = self.module
        current = grad_input
        for hook in list(module._backward_hooks.values()):
            new = hook(module, current, self.grad_output)
            if new is not None:
                current = _check_length(module, "grad_input", new, len(current))
        return current
