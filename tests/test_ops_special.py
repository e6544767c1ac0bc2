"""scipy.special.logsumexp, composed from table entries and exported as dualad.logsumexp."""
import numpy as np
import pytest
import scipy.special as sp

import dualad as ad
from ophelpers import check_adjoint, check_forward

X = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_scipy_and_differentiates(axis, keepdims):
    f = lambda x: ad.logsumexp(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(f(X), sp.logsumexp(X, axis=axis, keepdims=keepdims), rtol=1e-15)
    out = check_forward(f, [X])
    np.testing.assert_allclose(out.primal, sp.logsumexp(X, axis=axis, keepdims=keepdims))
    check_adjoint(f, [X])


def test_logsumexp_gradient_is_softmax():
    x = np.array([1.0, 2.0, -0.5])
    np.testing.assert_allclose(ad.grad(lambda v: ad.logsumexp(v), mode="forward")(x),
                               sp.softmax(x), rtol=1e-15)


def test_logsumexp_large_inputs_stay_finite():
    x = np.array([1000.0, 1000.0])
    g = ad.grad(lambda v: ad.logsumexp(v), mode="forward")(x)
    np.testing.assert_allclose(g, [0.5, 0.5])


def test_logsumexp_weights_and_sign():
    b = np.array([1.0, -2.0])
    f = lambda v, w: ad.logsumexp(v, b=w, return_sign=True)[0]
    check_forward(f, [np.array([1.0, 2.0]), b])
    out, sign = ad.logsumexp(ad.DualArray(np.array([1.0, 2.0]), np.ones(2)), b=b,
                             return_sign=True)
    ref, ref_sign = sp.logsumexp([1.0, 2.0], b=b, return_sign=True)
    assert out.primal == pytest.approx(ref) and sign == ref_sign
    # d/dv log|e^v1 - 2 e^v2| along (1, 1) is 1
    assert out.tangent == pytest.approx(1.0)


def test_scipy_logsumexp_on_a_dualarray_is_the_entry():
    # scipy.special.logsumexp, called as usual, reaches the table's entry (dualad.ops.scipy_support)
    x = np.array([1.0, 2.0])
    out = sp.logsumexp(ad.DualArray(x, np.array([1.0, 0.0])))
    assert out.primal == pytest.approx(sp.logsumexp(x), rel=1e-15)
    assert out.tangent == pytest.approx(np.exp(1.0 - sp.logsumexp(x)), rel=1e-14)  # softmax_0


# -- softmax, log_softmax, relu: one entry each ----------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_entries_match_scipy_and_their_rules(name, axis):
    from dualad.ops import special
    f = lambda x: getattr(special, name)(x, axis)
    np.testing.assert_allclose(f(X), getattr(sp, name)(X, axis=axis), rtol=1e-14)
    check_forward(f, [X])
    assert check_adjoint(f, [X]) == [f"scipy.special.{name}"]


def test_softmax_entries_finite_at_large_inputs():
    from dualad.ops import special
    x = np.array([[1e4, -1e4, 0.0]])
    for f in (special.softmax, special.log_softmax):
        out, t = ad.jvp(f, (x,), (np.ones_like(x),))
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(t))
    ad.check_grads(lambda v: np.sum(special.log_softmax(v, 1) ** 2), (X,), order=2)


def test_relu_derivative_is_zero_at_zero_and_one_above():
    from dualad.ops import special
    x = np.array([-1.0, 0.0, 2.0])
    _, t = ad.jvp(special.relu, (x,), (np.ones(3),))
    np.testing.assert_array_equal(t, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ad.grad(lambda v: np.sum(special.relu(v)))(x), [0, 0, 1])


def test_relu_values_keep_nan_and_dtype():
    from dualad.ops import special
    x = np.array([-2.0, 0.0, 3.5, np.nan])
    np.testing.assert_array_equal(special.relu(x), [0.0, 0.0, 3.5, np.nan])  # NaN stays NaN
    assert special.relu(np.ones(2, dtype=np.float32)).dtype == np.float32
