"""``nn.optim``: optimizers with ``torch.optim``'s update rules, defaults and names.

A run reproduces a PyTorch run step for step. The files, in reading order from the simplest
to the most complex algorithm:

==================  =========================================================================
:mod:`.optimizer`   the base class: ``param_groups``, ``state``, ``step``, checkpoints
:mod:`.sgd`         ``SGD`` (momentum, dampening, Nesterov, weight decay); the seed's
                    "Momentum" and "Nesterov" methods are SGD settings
:mod:`.adagrad`     ``Adagrad``
:mod:`.rmsprop`     ``RMSprop`` (centered, momentum)
:mod:`.adadelta`    ``Adadelta``
:mod:`.rprop`       ``Rprop``
:mod:`.adam`        ``Adam`` (amsgrad), ``AdamW``
:mod:`.adamax`      ``Adamax``
:mod:`.nadam`       ``NAdam``
:mod:`.newton`      ``Newton``: damped Newton steps with the Hessian by AD (and the diagonal
                    preconditioning of the seed)
:mod:`.minimize`    ``minimize(f, x0, method, mode, steps)`` for plain NumPy functions
==================  =========================================================================

Each algorithm is a pure function ``update(param, grad, state, **hyper) -> (param, state)``
(``sgd_update``, ``adam_update``...), which its class's ``step()`` calls per parameter.
"""
from .optimizer import Optimizer, required
from .sgd import SGD, sgd_update
from .adagrad import Adagrad, adagrad_update
from .rmsprop import RMSprop, rmsprop_update
from .adadelta import Adadelta, adadelta_update
from .rprop import Rprop, rprop_update
from .adam import Adam, AdamW, adam_update, adamw_update
from .adamax import Adamax, adamax_update
from .nadam import NAdam, nadam_update
from .newton import Newton, newton_update
from .minimize import minimize

__all__ = ["Optimizer", "required", "SGD", "Adagrad", "RMSprop", "Adadelta", "Rprop", "Adam",
           "AdamW", "Adamax", "NAdam", "Newton", "minimize", "sgd_update", "adagrad_update",
           "rmsprop_update", "adadelta_update", "rprop_update", "adam_update", "adamw_update",
           "adamax_update", "nadam_update", "newton_update"]
