"""Axis arguments on traced arrays go through NumPy's own normalizer
(``numpy.lib.array_utils.normalize_axis_index`` / ``normalize_axis_tuple``): an axis out of
range raises NumPy's ``AxisError`` (an ``IndexError`` and a ``ValueError`` at once, so code
catching either, as for plain arrays, catches it), a repeated axis ``ValueError``, and the
message names the argument (or the function) at fault.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import dualad as ad
import nn
import reverse as rv
from dualad import DualArray

X = np.random.default_rng(0).uniform(0.5, 1.5, (2, 3))

# name -> (function of one array, what the message must name); every axis is out of range
OUT_OF_RANGE = {
    "sum": (lambda v: np.sum(v, axis=5), "axis 5"),
    "sum tuple": (lambda v: np.sum(v, axis=(0, -3)), "axis -3"),
    "max": (lambda v: np.max(v, axis=2), "axis 2"),
    "fft": (lambda v: np.fft.fft(v, axis=2), "numpy.fft.fft"),
    "rfft": (lambda v: np.fft.rfft(v, axis=-3), "numpy.fft.rfft"),
    "fftn": (lambda v: np.fft.fftn(v, axes=(0, 3)), "numpy.fft.fftn"),
    "norm": (lambda v: np.linalg.norm(v, axis=(0, 5)), "axis 5"),
    "vector_norm": (lambda v: np.linalg.vector_norm(v, axis=4), "axis 4"),
    "moveaxis source": (lambda v: np.moveaxis(v, 5, 0), "source"),
    "moveaxis destination": (lambda v: np.moveaxis(v, 0, 7), "destination"),
    "softmax": (lambda v: sp.softmax(v, axis=3), "scipy.special.softmax"),
    "log_softmax": (lambda v: sp.log_softmax(v, axis=-3), "scipy.special.log_softmax"),
}

REPEATED = {
    "sum": (lambda v: np.sum(v, axis=(1, 1)), "`axis`"),
    "sum negative": (lambda v: np.sum(v, axis=(1, -1)), "`axis`"),
    "vector_norm": (lambda v: np.linalg.vector_norm(v, axis=(0, 0)), "`axis`"),
    "moveaxis": (lambda v: np.moveaxis(v, (0, 0), (0, 1)), "`source`"),
    "norm": (lambda v: np.linalg.norm(v, axis=(0, 0)), "Duplicate axes"),  # NumPy's message
}

TRACED = {
    "DualArray": lambda f: f(DualArray(X, np.ones_like(X))),
    "Tensor": lambda f: f(rv.Tensor(X, requires_grad=True)),
    "grad": lambda f: ad.grad(lambda v: np.sum(np.abs(f(v)) ** 2))(X),
}


@pytest.mark.parametrize("how", sorted(TRACED))
@pytest.mark.parametrize("name", sorted(OUT_OF_RANGE))
def test_out_of_range_axis_is_numpys_axis_error_naming_it(name, how):
    f, named = OUT_OF_RANGE[name]
    with pytest.raises((IndexError, ValueError)):  # what plain NumPy raises for it
        f(X)
    with pytest.raises(np.exceptions.AxisError, match=named):
        TRACED[how](f)


@pytest.mark.parametrize("how", sorted(TRACED))
@pytest.mark.parametrize("name", sorted(REPEATED))
def test_repeated_axis_is_a_value_error_naming_the_argument(name, how):
    f, named = REPEATED[name]
    with pytest.raises(ValueError):
        f(X)
    with pytest.raises(ValueError, match=named) as info:
        TRACED[how](f)
    assert not isinstance(info.value, np.exceptions.AxisError)  # in range, only repeated


def test_in_range_negative_axes_are_the_same_axes():
    # the normalizer maps -1 to the last axis: the derivative is that of the plain function
    f = lambda v: np.sum(np.cumsum(np.moveaxis(v, -1, 0), axis=-1) * np.sum(v, axis=-1))  # noqa
    g = lambda v: np.sum(np.cumsum(np.moveaxis(v, 1, 0), axis=1) * np.sum(v, axis=1))  # noqa
    np.testing.assert_allclose(ad.grad(f)(X), ad.grad(g)(X), rtol=1e-14)
    ad.check_grads(f, (X,))


def test_softmax_of_a_0d_array_takes_axis_0_and_minus_1_as_scipy_does():
    for axis in (0, -1):
        assert float(sp.softmax(np.array(2.0), axis=axis)) == 1.0
        d = sp.softmax(DualArray(2.0, 1.0), axis=axis)
        assert float(d.primal) == 1.0 and float(d.tangent) == 0.0
    for f in (sp.softmax, sp.log_softmax):
        with pytest.raises(np.exceptions.AxisError):
            f(np.array(2.0), axis=1)
        with pytest.raises(np.exceptions.AxisError):  # it used to ignore the axis
            f(DualArray(2.0, 1.0), axis=1)


@pytest.mark.parametrize("dims", [dict(start_dim=5), dict(end_dim=-4), dict(start_dim=-3)])
def test_flatten_refuses_a_dim_the_input_lacks(dims):
    # start_dim % ndim used to take start_dim=5 of a 2-d input for axis 1: a silent reshape
    with pytest.raises(np.exceptions.AxisError, match="Flatten"):
        nn.Flatten(**dims)(X)


def test_flatten_negative_dims_count_from_the_end():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert nn.Flatten(start_dim=-2)(x).shape == (2, 12)
    assert nn.Flatten(start_dim=0, end_dim=-2)(x).shape == (6, 4)
    assert nn.Flatten()(np.array(1.0)).shape == (1,)  # 0-d: one entry, as torch.flatten
