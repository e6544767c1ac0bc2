"""Parameter initializers, as in ``torch.nn.init``: each fills an array in place and returns it.

Every function takes a ``reverse.Tensor`` (its ``.data`` is filled) or a writable ndarray, and
an optional ``generator`` (a :class:`numpy.random.Generator`). Without one they draw from this
module's default generator, which :func:`seed` resets, so that::

    nn.init.seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))

builds the same weights every time. The layers' default initialization is PyTorch's:
``kaiming_uniform_(w, a=sqrt(5))`` for weights, i.e. ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``,
and the same bound for biases (see :func:`default_bias_bound`).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["seed", "default_generator", "calculate_gain", "calculate_fan_in_and_fan_out",
           "uniform_", "normal_", "constant_", "zeros_", "ones_", "kaiming_uniform_",
           "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "default_bias_bound"]

_default = np.random.default_rng()


def seed(n):
    """Reset the default generator of the initializers to ``np.random.default_rng(n)``."""
    global _default
    _default = np.random.default_rng(n)
    return _default


def default_generator() -> np.random.Generator:
    """The generator the initializers draw from when none is passed."""
    return _default


def _array(tensor):
    """The ndarray to fill: a Tensor's ``.data`` or the ndarray itself."""
    arr = getattr(tensor, "data", tensor) if not isinstance(tensor, np.ndarray) else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"nn.init: expected a Tensor or an ndarray, got {type(tensor).__name__}")
    if not arr.flags.writeable:
        raise ValueError("nn.init: the array is read-only and cannot be filled in place")
    return arr


def _fill(tensor, values):
    arr = _array(tensor)
    arr[...] = values  # casts to the parameter's dtype (float32 stays float32)
    return tensor


def _rng(generator):
    return _default if generator is None else generator


# ---------------------------------------------------------------------------------------------
# gains and fans
# ---------------------------------------------------------------------------------------------

def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table).

    ``linear``, ``conv1d/2d/3d``, ``conv_transpose*``, ``sigmoid``: 1; ``tanh``: 5/3;
    ``relu``: √2; ``leaky_relu``: √(2 / (1 + slope²)) with ``param`` the negative slope
    (default 0.01); ``selu``: 3/4.
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one "
                     f"of {', '.join(linear)}, sigmoid, tanh, relu, leaky_relu, selu")


def calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *kernel)``.

    ``fan_in = in · prod(kernel)`` and ``fan_out = out · prod(kernel)``; a weight needs at
    least two dimensions.
    """
    shape = tuple(np.shape(_array(tensor)))
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions; "
                         f"got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # PyTorch's private name


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def default_bias_bound(weight):
    """The bound of ``Linear``/``Conv2d``'s default bias init: ``1/sqrt(fan_in)`` (0 if empty)."""
    fan_in, _ = calculate_fan_in_and_fan_out(weight)
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# the fillers
# ---------------------------------------------------------------------------------------------

def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from ``U(a, b)``."""
    arr = _array(tensor)
    return _fill(tensor, _rng(generator).uniform(a, b, size=arr.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from ``N(mean, std²)``."""
    arr = _array(tensor)
    return _fill(tensor, _rng(generator).normal(mean, std, size=arr.shape))


def constant_(tensor, val):
    """Fill with the constant ``val``."""
    return _fill(tensor, val)


def zeros_(tensor):
    """Fill with zeros."""
    return _fill(tensor, 0.0)


def ones_(tensor):
    """Fill with ones."""
    return _fill(tensor, 1.0)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He initialization, uniform: ``U(-bound, bound)`` with ``bound = gain·sqrt(3 / fan)``.

    ``gain = calculate_gain(nonlinearity, a)``; ``fan`` is the fan in or out by ``mode``.
    With ``a=sqrt(5)`` (the layers' default) the bound is ``1/sqrt(fan_in)``.
    """
    fan = _fan(tensor, mode)
    if fan == 0:  # an empty weight: nothing to draw (PyTorch warns and does the same)
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He initialization, normal: ``N(0, std²)`` with ``std = gain / sqrt(fan)``."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot initialization, uniform: bound ``gain·sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot initialization, normal: ``std = gain·sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)
