"""``Module``: the base of the layers — parameters, submodules, modes, checkpoints and hooks.

Assigning a parameter (a leaf ``reverse.Tensor`` with ``requires_grad=True``, e.g. made by
:func:`Parameter`) or another ``Module`` to an attribute registers it, so names follow the
attribute path as in PyTorch (``"0.weight"``, ``"fc.bias"``). ``module(x)`` runs the hooks
around :meth:`Module.forward`:

1. forward pre-hooks ``hook(module, args)`` (may return new args);
2. with full backward hooks registered, the Tensor inputs pass through an identity op whose
   tensor hook will see the gradient with respect to them (``grad_input``);
3. ``forward(*args)``;
4. forward hooks ``hook(module, args, output)`` (may return a new output);
5. with full backward hooks, the output passes through an identity op whose tensor hook sees
   ``grad_output``; when the input's gradient arrives, the module's backward hooks
   ``hook(module, grad_input, grad_output)`` run and may replace ``grad_input``.

Every ``register_*_hook`` returns a :class:`RemovableHandle`.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

import reverse as rv

from ._hooks import BackwardHook

__all__ = ["Module", "Parameter", "RemovableHandle"]

Tensor = rv.Tensor
#: reverse's handle class, one for a Tensor's hooks and a Module's (kept here as nn's name)
RemovableHandle = rv.RemovableHandle


def Parameter(data, requires_grad=True):
    """A parameter: a leaf ``reverse.Tensor`` holding a copy of ``data``, requiring grad.

    Integer data becomes float64 (a parameter needs a floating dtype to have a gradient).
    """
    if isinstance(data, Tensor):
        data = data.data
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return Tensor(arr, requires_grad=requires_grad)


def _is_parameter(value):
    return isinstance(value, Tensor) and value.requires_grad and value.is_leaf


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _add_hook(hooks, hook, prepend):
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:  # dicts keep insertion order: rebuild with the new hook first
        items = [(handle.id, hook)] + [(k, v) for k, v in hooks.items() if k != handle.id]
        hooks.clear()
        hooks.update(items)
    return handle


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters and submodules as
    attributes, and define ``forward``. Call the module (``model(x)``), not ``forward``, so
    that the hooks run.
    """

    training: bool

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # -- attribute registration ------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if _is_parameter(value) or isinstance(value, Module):
            if params is None:
                raise AttributeError(f"cannot assign {name!r} before Module.__init__() call "
                                     f"(call super().__init__() first in "
                                     f"{type(self).__name__}.__init__)")
            self._forget(name)
            (params if not isinstance(value, Module) else d["_modules"])[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as parameter {name!r} "
                                f"(a leaf Tensor with requires_grad=True, or None, expected)")
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module "
                                f"{name!r} (a Module or None expected)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            d["_buffers"][name] = None if value is None else np.asarray(value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only called when normal lookup fails: parameters, buffers and submodules live here
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            entries = d.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if name in d.get(table, ()):
                del d[table][name]
                return
        object.__delattr__(self, name)

    def _forget(self, name):
        d = self.__dict__
        d.pop(name, None)
        for table in ("_parameters", "_buffers", "_modules"):
            d[table].pop(name, None)

    def _check_name(self, name, what):
        if not isinstance(name, str):
            raise TypeError(f"{what} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name can't be empty or contain '.', got {name!r}")
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register a {what} before Module.__init__() call")
        if hasattr(type(self), name) or (name in self.__dict__):
            raise KeyError(f"attribute {name!r} already exists")

    def register_parameter(self, name, param):
        """Register ``param`` (a leaf Tensor requiring grad, or ``None``) under ``name``."""
        if name not in self._parameters:
            self._check_name(name, "parameter")
        if param is not None and not _is_parameter(param):
            raise TypeError(f"cannot register a {type(param).__name__} as parameter {name!r} "
                            f"(a leaf Tensor with requires_grad=True, or None, expected)")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, array, persistent=True):
        """Register a non-trained array (saved in :meth:`state_dict` if ``persistent``)."""
        if name not in self._buffers:
            self._check_name(name, "buffer")
        self._forget(name)
        self._buffers[name] = None if array is None else np.asarray(array)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name, module):
        """Register ``module`` (or ``None``) as the child ``name``."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name not in self._modules:
            self._check_name(name, "module")
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # -- walking the tree ------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(name, module)`` for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                sub = f"{prefix}.{name}" if prefix else name
                yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """``(name, child)`` for the direct submodules."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self):
        """The direct submodules."""
        for _, child in self.named_children():
            yield child

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for mod_prefix, module in modules:
            for name, value in module.__dict__[table].items():
                if value is None:
                    continue
                if remove_duplicate:
                    key = value if table == "_parameters" else (module, name)
                    if key in seen:
                        continue
                    seen.add(key)
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """``(name, parameter)`` pairs, named by attribute path (``"0.weight"``); a parameter
        shared by several modules is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """The parameters (``reverse.Tensor``s), in registration order, each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """``(name, array)`` pairs of the registered buffers."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first) and on this one."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ---------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this module and its descendants; returns ``self``."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        """Evaluation mode (``train(False)``); returns ``self``."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the parameters' gradients (``None``, or zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros(p.shape, dtype=p.dtype)

    def requires_grad_(self, requires_grad=True):
        """Switch gradient recording for every parameter; returns ``self``."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, dtype):
        """Cast every parameter and floating buffer to ``dtype`` (e.g. ``np.float32``)."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            if p.dtype != dtype:
                p.data = np.asarray(p.data, dtype=dtype)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and np.issubdtype(b.dtype, np.floating):
                    m._buffers[name] = b.astype(dtype)
        return self

    def float(self):
        """Cast to float32; returns ``self``."""
        return self.to(np.float32)

    def double(self):
        """Cast to float64; returns ``self``."""
        return self.to(np.float64)

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self, prefix="", keep_vars=False):
        """An ordered dict ``name -> array`` of every parameter and persistent buffer.

        Arrays are copies (with ``keep_vars=True``: the parameter Tensors themselves). A
        parameter shared by two modules appears under both names, as in PyTorch.
        """
        out = OrderedDict()
        for mod_prefix, module in self.named_modules(prefix=prefix, remove_duplicate=False):
            lead = f"{mod_prefix}." if mod_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[lead + name] = p if keep_vars else np.array(p.data, copy=True)
            skip = module.__dict__.get("_non_persistent", ())
            for name, b in module._buffers.items():
                if b is not None and name not in skip:
                    out[lead + name] = b if keep_vars else np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy the arrays of ``state_dict`` into the parameters and buffers.

        Shapes must match exactly; with ``strict`` (default) the keys must match exactly too.
        Everything is checked before anything is loaded, so a failed load changes nothing.
        Returns ``(missing_keys, unexpected_keys)``. Parameters stay the same Tensor objects
        (an optimizer holding them keeps working); values are cast to each parameter's dtype.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"expected a mapping from names to arrays, got "
                            f"{type(state_dict).__name__}")
        targets = self._load_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors = []
        if strict:
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.append("Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        values = {}
        for key, (module, name, kind) in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = value._plain_value() if isinstance(value, Tensor) else np.asarray(value)
            current = module.__dict__[kind][name]
            if tuple(value.shape) != tuple(current.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(value.shape)} from checkpoint, the shape in current "
                              f"model is {tuple(current.shape)}.")
                continue
            values[key] = value
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, value in values.items():
            module, name, kind = targets[key]
            current = module.__dict__[kind][name]
            new = np.array(value, dtype=current.dtype, copy=True)
            if kind == "_parameters":
                current.data = new
            else:
                module.__dict__[kind][name] = new
        return _IncompatibleKeys(missing, unexpected)

    def _load_targets(self):
        """``state_dict key -> (module, attribute name, table)`` for every loadable entry."""
        targets = OrderedDict()
        for mod_prefix, module in self.named_modules(remove_duplicate=False):
            lead = f"{mod_prefix}." if mod_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    targets[lead + name] = (module, name, "_parameters")
            skip = module.__dict__.get("_non_persistent", ())
            for name, b in module._buffers.items():
                if b is not None and name not in skip:
                    targets[lead + name] = (module, name, "_buffers")
        return targets

    # -- hooks -----------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False):
        """``hook(module, args) -> None | new args`` runs before ``forward``.

        ``args`` is the tuple of positional inputs; a non-tuple return value is taken as the
        single new input.
        """
        return _add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook, *, prepend=False):
        """``hook(module, args, output) -> None | new output`` runs after ``forward``."""
        return _add_hook(self._forward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, *, prepend=False):
        """``hook(module, grad_output) -> None | new grad_output`` runs when the gradient with
        respect to the module's output is known, before it flows into the module."""
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, *, prepend=False):
        """``hook(module, grad_input, grad_output) -> None | new grad_input``.

        Runs when the gradient with respect to the module's positional inputs is known.
        ``grad_input`` and ``grad_output`` are tuples with one entry per positional input /
        output (``None`` where no gradient flows: inputs that are not Tensors requiring grad).
        A returned tuple replaces ``grad_input`` for the layers before. Inputs and outputs must
        not be changed in place by the module.
        """
        return _add_hook(self._backward_hooks, hook, prepend)

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        try:
            hooked = (d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"]
                      or d["_backward_pre_hooks"])
        except KeyError:
            raise AttributeError(f"{type(self).__name__} was not initialized: call "
                                 f"super().__init__() first in its __init__") from None
        if not hooked:
            return self.forward(*args, **kwargs)  # the hot path: no hook registered
        for hook in list(d["_forward_pre_hooks"].values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        bw = None
        if (d["_backward_hooks"] or d["_backward_pre_hooks"]) and rv.is_grad_enabled():
            bw = BackwardHook(self)
            args = bw.setup_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(d["_forward_hooks"].values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        if bw is not None:
            out = bw.setup_outputs(out)
        return out

    # -- printing --------------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        inner = ([extra] if extra else []) + lines
        return f"{type(self).__name__}(\n  " + "\n  ".join(inner) + "\n)"

    def __dir__(self):
        keys = set(super().__dir__())
        for table in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__.get(table, ()))
        return sorted(keys)
