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


def test_scipy_logsumexp_on_a_dualarray_refuses_rather_than_dropping_the_tangent():
    with pytest.raises(TypeError, match="derivative would be dropped"):
        sp.logsumexp(ad.DualArray(np.array([1.0, 2.0]), np.ones(2)))
