"""The layers: ``Linear``, ``Conv2d``, pooling, activations, ``Flatten``, containers.

Each layer is a :class:`~nn.module.Module` whose ``forward`` is written with ``nn.functional``
and NumPy calls, so it works on ndarrays and on ``reverse.Tensor``\\ s alike (the parameters
are Tensors, so an ndarray input gives a Tensor output that ``backward`` can sweep).
Parameters are named, shaped and initialized as in PyTorch.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from numpy.lib.array_utils import normalize_axis_index


from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "Flatten", "Identity", "Sequential", "ModuleList", "MSELoss",
           "CrossEntropyLoss"]


def _pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {v!r}")
        return tuple(int(a) for a in v)
    return (int(v), int(v))


# ---------------------------------------------------------------------------------------------
# layers with parameters
# ---------------------------------------------------------------------------------------------

def _add_weight_and_bias(module, shape, bias, dtype):
    """Register ``weight`` of ``shape`` (and ``bias``, one per output, or ``None``) on a
    Linear or Conv2d ``module`` and give them PyTorch's default initialization."""
    module.weight = Parameter(np.empty(shape, dtype=dtype))
    if bias:
        module.bias = Parameter(np.empty(shape[0], dtype=dtype))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()


def _reset_weight_and_bias(module):
    """``kaiming_uniform_(a=√5)`` for the weight and ``U(-1/√fan_in, 1/√fan_in)`` for the bias:
    PyTorch's defaults for Linear and Conv2d alike."""
    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        bound = init.default_bias_bound(module.weight)
        init.uniform_(module.bias, -bound, bound)


class Linear(Module):
    """``y = x Wᵀ + b``, with ``weight`` of shape ``(out_features, in_features)`` and ``bias``
    ``(out_features,)``.

    Initialized as PyTorch's: ``W ~ U(-1/√in, 1/√in)`` (``kaiming_uniform_`` with
    ``a=√5``) and the same bound for ``b``. ``dtype`` sets the parameters' dtype
    (float64 by default).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float64):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        _add_weight_and_bias(self, (self.out_features, self.in_features), bias, dtype)

    def reset_parameters(self):
        """PyTorch's default initialization (see the class docstring)."""
        _reset_weight_and_bias(self)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Conv2d(Module):
    """2-D convolution (cross-correlation) of NCHW input, by ``nn.functional.conv2d``.

    ``weight`` has shape ``(out_channels, in_channels, kh, kw)`` and ``bias``
    ``(out_channels,)``; both initialized as PyTorch's (bound ``1/√(in_channels·kh·kw)``).
    ``padding`` is an int, a pair, ``"same"`` or ``"valid"``; ``method`` picks the algorithm
    (``"direct"``, ``"im2col"``, ``"fft"``, ``"winograd"`` or ``"auto"``).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, bias=True, method="auto", dtype=np.float64):
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        self.method = method
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        _add_weight_and_bias(self, shape, bias, dtype)

    def reset_parameters(self):
        """PyTorch's default initialization (see the class docstring)."""
        _reset_weight_and_bias(self)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        dilation=self.dilation, method=self.method)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        if self.method != "auto":
            s += f", method={self.method!r}"
        return s


# ---------------------------------------------------------------------------------------------
# layers without parameters
# ---------------------------------------------------------------------------------------------

class _Pool2d(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x):
        return type(self)._fn(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling over ``kernel_size`` windows (``stride`` defaults to ``kernel_size``)."""

    _fn = staticmethod(F.max_pool2d)


class AvgPool2d(_Pool2d):
    """Average pooling over ``kernel_size`` windows (``stride`` defaults to ``kernel_size``)."""

    _fn = staticmethod(F.avg_pool2d)


class ReLU(Module):
    """``max(x, 0)`` elementwise (derivative 0 at 0)."""

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise, without overflow."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x):
        return F.tanh(x)


class Softmax(Module):
    """Softmax along ``dim`` (PyTorch's name for the axis)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Log-softmax along ``dim``, max-subtracted."""

    def forward(self, x):
        return F.log_softmax(x, axis=self.dim)


class Flatten(Module):
    """Flatten axes ``start_dim`` to ``end_dim`` (default: all but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        shape = tuple(x.shape)
        nd = len(shape)
        # a 0-d input becomes one entry (as torch.flatten); otherwise both must be axes of x:
        # ``% nd`` took start_dim=5 of a 2-d input for axis 1
        start = normalize_axis_index(self.start_dim, nd, "Flatten start_dim") if nd else 0
        end = normalize_axis_index(self.end_dim, nd, "Flatten end_dim") if nd else 0
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim "
                             f"{self.end_dim} for a {nd}-d input")
        new = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
        return np.reshape(x, new)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input."""

    def forward(self, x):
        return x


class MSELoss(Module):
    """``nn.functional.mse_loss`` as a module (``reduction``: "mean", "sum" or "none")."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, pred, target):
        return F.mse_loss(pred, target, reduction=self.reduction)


class CrossEntropyLoss(MSELoss):
    """``nn.functional.cross_entropy`` of logits and integer labels, as a module."""

    def forward(self, logits, labels):
        return F.cross_entropy(logits, labels, reduction=self.reduction)


# ---------------------------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------------------------

class Sequential(Module):
    """Modules applied in order: ``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict)``.

    Children are named ``"0"``, ``"1"``, ... (or by the dict's keys), so parameters are named
    ``"0.weight"`` and so on. Indexable (an int gives a module, a slice a new Sequential),
    iterable, and ``len`` counts the modules.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def _index(self, idx):
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a {type(self).__name__} of "
                             f"{n} module(s)")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            items = list(self._modules.items())[idx]
            return type(self)(OrderedDict(items))
        return list(self._modules.values())[self._index(int(idx))]

    def __setitem__(self, idx, module):
        key = list(self._modules)[self._index(int(idx))]
        self.add_module(key, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add ``module`` at the end; returns ``self``."""
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of submodules (registered, so their parameters are found), for models whose
    ``forward`` uses them in its own way (e.g. parallel branches)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[idx]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
