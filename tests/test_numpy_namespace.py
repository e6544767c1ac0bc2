"""``dualad.numpy``: NumPy's namespace, with ``array``/``asarray``/``r_``/``c_`` that build
arrays from traced values (what code written for autograd.numpy or jax.numpy does)."""
from __future__ import annotations

import numpy
import pytest
from hypothesis import given, settings, strategies as st

import dualad as ad
import dualad.numpy as np
import dualad.numpy.random as npr
import reverse as rv

X0 = numpy.array([1.0, 3.0])


def f(x):
    a = np.array([x[0] * 2, x[1] ** 2, 3.0])
    b = np.r_[x, a, 0:2]
    c = np.c_[x, x]
    d = np.asarray([[x[0], 1.0], [2.0, x[1]]], dtype=float)
    return np.sum(a) + np.sum(b) + np.sum(c) + np.sum(d ** 2) + np.linalg.det(d)


def test_gradient_through_built_arrays_by_hand():
    x0, x1 = X0
    # sum a: (2, 2 x1); sum b: 1 + that; sum c: 2; sum d²: (2 x0, 2 x1); det = x0 x1 - 2
    expected = numpy.array([2 + 1 + 2 + 2 + 2 * x0 + x1, 2 * x1 + 1 + 2 * x1 + 2 + 2 * x1 + x0])
    for mode in ("reverse", "forward"):
        numpy.testing.assert_allclose(ad.grad(f, mode=mode)(X0), expected, rtol=1e-15)
    ad.check_grads(f, (X0,), order=2)


def test_the_rest_is_numpy_itself():
    own = {"array", "asarray", "asanyarray", "r_", "c_"}
    for name in numpy.__all__:
        if name not in own and name not in ("linalg", "fft", "random"):
            assert getattr(np, name) is getattr(numpy, name), name
    assert np.linalg.inv is numpy.linalg.inv and npr.default_rng is numpy.random.default_rng
    assert np.fft.rfft is numpy.fft.rfft
    assert ad.numpy is np


def test_plain_inputs_give_numpy_results():
    for obj, kw in (([[1, 2], [3, 4]], {}), ([1.0, 2.0], {"ndmin": 3}), ((1, 2.5), {"dtype":
                    numpy.float32}), (numpy.arange(3), {"copy": False})):
        ours, theirs = np.array(obj, **kw), numpy.array(obj, **kw)
        assert type(ours) is numpy.ndarray and ours.dtype == theirs.dtype
        numpy.testing.assert_array_equal(ours, theirs)
    a = numpy.arange(3.0)
    assert np.asarray(a) is a and np.array(a) is not a
    numpy.testing.assert_array_equal(np.r_[1:3, [5], 7], numpy.r_[1:3, [5], 7])
    numpy.testing.assert_array_equal(np.c_[[1, 2], [3, 4]], numpy.c_[[1, 2], [3, 4]])
    numpy.testing.assert_array_equal(np.r_["0,2", [1, 2], [3, 4]],
                                     numpy.r_["0,2", [1, 2], [3, 4]])


def test_traced_values_keep_numpy_semantics():
    t = rv.Tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    assert np.asarray(t) is t
    copy = np.array(t)
    assert copy is not t
    copy[0] = 5.0  # a copy: the original is untouched
    assert t.data[0] == 1.0
    out = np.array([t, t], ndmin=3, dtype=numpy.float32)
    assert out.shape == (1, 2, 2) and out.dtype == numpy.float32
    c = np.c_[t, 1.0 + t, numpy.ones((2, 2))]
    numpy.testing.assert_array_equal(c.data, numpy.c_[t.data, 1.0 + t.data, numpy.ones((2, 2))])
    with pytest.raises(ValueError):
        np.array([t, [1.0]])  # ragged, as NumPy
    with pytest.raises(NotImplementedError, match="directive '0,2'"):
        np.r_["0,2", t, t]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.randoms(use_true_random=False))
def test_nested_lists_of_entries_have_the_permutation_jacobian(m, n, rnd):
    """Entry (i, j) of the built array is x[p(i, j)]: its Jacobian is that permutation's 0/1
    matrix, in both modes."""
    perm = list(range(m * n))
    rnd.shuffle(perm)

    def g(x):
        return np.array([[x[perm[i * n + j]] for j in range(n)] for i in range(m)])
    x = numpy.arange(1.0, m * n + 1.0)
    expected = numpy.zeros((m, n, m * n))
    for k, p in enumerate(perm):
        expected[k // n, k % n, p] = 1.0
    numpy.testing.assert_array_equal(g(x), x[perm].reshape(m, n))
    numpy.testing.assert_array_equal(ad.jacfwd(g)(x), expected)
    numpy.testing.assert_array_equal(ad.jacrev(g)(x), expected)
