"""The optimizer base class: parameter groups, per-parameter state, ``step`` and checkpoints.

An optimizer is three things, kept apart so that each can be read (and tested) alone:

* ``param_groups``: a list of dicts, each holding ``"params"`` (a list of parameters) and the
  hyperparameters for them (``lr``, ``momentum``, ...), defaults filled in from the
  constructor, as in ``torch.optim``;
* ``state``: a dict keyed by the parameter object itself (``reverse.Tensor`` hashes by
  identity), holding what the algorithm carries from step to step (``step``, ``exp_avg``...);
* a *pure update function* ``update(param, grad, state, **hyper) -> (new_param, new_state)``
  of plain arrays that reads its inputs and returns new ones. :meth:`Optimizer.step` only
  feeds it: for each parameter with a gradient, it calls the update function and stores what
  comes back.

A parameter is anything with a ``.data`` array and a ``.grad`` (``None`` or an array): the
layers' ``reverse.Tensor`` parameters, or a Tensor of your own with ``requires_grad=True``.
The new value is assigned to ``param.data`` (a new array, never written into the old one, so
a graph recorded before the step keeps the value it saw).
"""
from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

import reverse
from dualad.ops import Tracer

__all__ = ["Optimizer", "required"]

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray


class _Required:
    """Marker for a hyperparameter without a default (PyTorch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()

#: group keys that are not hyperparameters of the update function
_NOT_HYPER = ("params", "maximize")


def _value(p):
    """The current value of parameter ``p`` as a plain array, for reading only.

    ``Tensor.data`` copies when the tape may hold the array (so that a caller can write into
    what it gets); the update function never writes, so the copy is skipped here.
    """
    if isinstance(p, Tracer):
        return p._plain_value()
    return np.asarray(p.data)


def buffers(state, param, *names):
    """The running averages ``names`` of a parameter's ``state``: zeros shaped like ``param``
    before the first step (every buffer starts together, as in torch.optim)."""
    if state.get(names[0]) is None:
        return tuple(np.zeros_like(param) for _ in names)
    return tuple(state[n] for n in names)


def _grad_value(g):
    """A gradient as a plain array (a Tensor after ``backward(create_graph=True)``)."""
    if isinstance(g, Tracer):
        return g._plain_value()
    return np.asarray(g)


class Optimizer:
    """Base of the optimizers: ``param_groups``, ``state``, ``step``, ``zero_grad``, checkpoints.

    Subclasses set :attr:`update` to their pure update function and pass their defaults.

    Parameters
    ----------
    params : iterable
        Parameters (``reverse.Tensor`` with ``requires_grad=True``), or dicts defining
        parameter groups: ``{"params": [...], "lr": 0.1}`` (keys missing from a group take
        the defaults).
    defaults : dict
        Every hyperparameter with its default value.
    """

    #: the pure update function: ``update(param, grad, state, **hyper) -> (param, state)``
    update = None

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        # a parameter's state, created empty on first access as in torch.optim
        self.state = defaultdict(dict)
        self.param_groups = []
        if _is_tensor_like(params):
            raise TypeError(f"params must be an iterable of parameters or of dicts, got a "
                            f"single {type(params).__name__}; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- groups --------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group: a dict with ``"params"`` and any hyperparameters that differ."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        if _is_tensor_like(params):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("parameters must be given in a fixed order (a list or tuple), "
                            "not a set: the order numbers them in state_dict()")
        else:
            params = list(params)
        for p in params:
            if not _is_tensor_like(p):
                raise TypeError(f"optimizer can only optimize Tensors (objects with .data "
                                f"and .grad); got {type(p).__name__}")
            if getattr(p, "is_leaf", True) is False:
                raise ValueError("can't optimize a non-leaf Tensor (one computed by an op); "
                                 "optimize the leaves it was computed from")
        if len(set(params)) != len(params):  # Tensors hash by identity
            raise ValueError("a parameter group contains the same parameter twice")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {p for g in self.param_groups for p in g["params"]}
        if any(p in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # -- the step ------------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter (``None``, or zeros with
        ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = np.zeros_like(_grad_value(p.grad))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given.

        ``closure`` re-evaluates the model and returns the loss (it typically calls
        ``zero_grad()``, the forward pass and ``backward()``); it runs with gradient recording
        on, before the update.
        """
        loss = None
        if closure is not None:
            with reverse.enable_grad():
                loss = closure()
        update = type(self).update
        state = self.state
        for group in self.param_groups:
            # hyperparameters are read afresh on every step: a schedule may change them
            hyper = {k: v for k, v in group.items() if k not in _NOT_HYPER}
            maximize = group.get("maximize", False)
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.__class__ is not _ndarray:
                    g = _grad_value(g)
                if maximize:  # every torch.optim algorithm maximizes by negating the gradient
                    g = -g
                new_value, new_state = update(_value(p), g, state.get(p, {}), **hyper)
                state[p] = new_state
                p.data = new_value
        return loss

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state as plain data, in ``torch.optim``'s layout.

        ``{"state": {index: {name: value}}, "param_groups": [{hyper..., "params": [index]}]}``
        where parameters are numbered in group order from 0. Arrays are copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(p, len(index))
                ids.append(index[p])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[p]] = _copy_state(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict`: hyperparameters and per-parameter state.

        The groups must have the same sizes as this optimizer's; parameters are matched by
        position. Arrays are copied (and cast to their parameter's floating dtype).
        """
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError("an optimizer state dict needs the keys 'state' and "
                             "'param_groups'") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter group(s); "
                             f"this optimizer has {len(self.param_groups)}")
        for n, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group ({n}) that "
                                 f"doesn't match the size of optimizer's group: "
                                 f"{len(saved['params'])} vs {len(mine['params'])} parameters")
        by_index = {}
        for mine, saved in zip(self.param_groups, saved_groups):
            for p, i in zip(mine["params"], saved["params"]):
                by_index[i] = p
        unknown = set(saved_state) - set(by_index)
        if unknown:
            raise ValueError(f"loaded state dict has state for parameter index(es) "
                             f"{sorted(unknown)} that no parameter group lists")
        new_state = defaultdict(dict)
        for i, st in saved_state.items():
            p = by_index[i]
            new_state[p] = _copy_state(st, like=_value(p))
        new_groups = []
        for mine, saved in zip(self.param_groups, saved_groups):
            group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            group["params"] = mine["params"]
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for n, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {n}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _is_tensor_like(x):
    return hasattr(x, "data") and hasattr(x, "grad") and not isinstance(x, (dict, np.ndarray))


def _copy_state(st, like=None):
    """A deep copy of one parameter's state; floating arrays take ``like``'s dtype."""
    out = {}
    for k, v in st.items():
        if isinstance(v, np.ndarray):
            v = v.copy()
            if like is not None and np.issubdtype(v.dtype, np.floating) \
                    and v.shape == like.shape and v.dtype != like.dtype:
                v = v.astype(like.dtype)
        else:
            v = copy.deepcopy(v)
        out[k] = v
    return out


def check(name, ok, value):
    """Raise PyTorch's ``ValueError("Invalid <name>: <value>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"Invalid {name}: {value}")
