"""Grad mode and anomaly mode: context managers over one context variable.

The mode lives in a :class:`contextvars.ContextVar`, not a module global, so threads and
asyncio tasks each have their own and a nested transform cannot trample an outer one. The
variable holds a small int of flags, read once per recorded op (the scalar hot path).
"""
from __future__ import annotations

import contextvars
import functools

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
           "is_anomaly_enabled"]

GRAD = 1       #: record ops on the tape
ANOMALY = 2    #: check every cotangent of a sweep for NaN/inf, and remember where ops came from

MODE = contextvars.ContextVar("reverse_mode", default=GRAD)


class _ModeSwitch:
    """Sets or clears ``flag`` for the ``with`` block (or the decorated function)."""

    flag = 0
    on = True

    def __init__(self):
        self._tokens = []  # a stack, so one instance can be entered again while active

    def __enter__(self):
        mode = MODE.get()
        self._tokens.append(MODE.set(mode | self.flag if self.on else mode & ~self.flag))
        return self

    def __exit__(self, *exc):
        MODE.reset(self._tokens.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapped


class no_grad(_ModeSwitch):
    """Context manager (or decorator): ops inside are not recorded on the tape.

    Results are Tensors that do not require grad. Use it for parameter updates and evaluation::

        with rv.no_grad():
            w -= 0.1 * w.grad
    """

    flag = GRAD
    on = False


class enable_grad(_ModeSwitch):
    """Context manager (or decorator): record ops again inside a :class:`no_grad` block."""

    flag = GRAD
    on = True


class set_grad_enabled(_ModeSwitch):
    """``with rv.set_grad_enabled(False):`` — :class:`no_grad` or :class:`enable_grad` by flag."""

    flag = GRAD

    def __init__(self, mode: bool):
        super().__init__()
        self.on = bool(mode)

    def __call__(self, fn):
        on = self.on

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with set_grad_enabled(on):
                return fn(*args, **kwargs)
        return wrapped


class detect_anomaly(_ModeSwitch):
    """Context manager: the first NaN or inf produced in a backward sweep raises.

    Inside the block each recorded op also remembers where it was called, and the
    ``RuntimeError`` names the op whose VJP produced the bad value and that place. It costs a
    check per cotangent, so use it to debug, not to train.
    """

    flag = ANOMALY
    on = True


def is_grad_enabled() -> bool:
    """Whether ops are being recorded here (False inside :class:`no_grad`)."""
    return bool(MODE.get() & GRAD)


def is_anomaly_enabled() -> bool:
    """Whether :class:`detect_anomaly` is active here."""
    return bool(MODE.get() & ANOMALY)
