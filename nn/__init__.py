"""nn: convolution, pooling, activations and losses (``nn.functional``), layers, optimizers."""
from . import functional  # noqa: F401
from . import init, optim  # noqa: E402,F401
from .module import Module, Parameter, RemovableHandle  # noqa: E402,F401
from .layers import (AvgPool2d, Conv2d, CrossEntropyLoss, Flatten, Identity,  # noqa: E402,F401
                     Linear, LogSoftmax, MaxPool2d, ModuleList, MSELoss, ReLU, Sequential,
                     Sigmoid, Softmax, Tanh)
