"""jacobian(mode=...) builds its jacfwd/jacrev once, not on every call."""
import numpy as np
import pytest

import dualad as ad
from dualad import transforms


@pytest.mark.parametrize("mode,name", [("forward", "jacfwd"), ("reverse", "jacrev"),
                                       ("auto", "jacrev")])
def test_transform_built_once(monkeypatch, mode, name):
    made = []
    real = getattr(transforms, name)

    def counting(*args, **kwargs):
        made.append(name)
        return real(*args, **kwargs)
    monkeypatch.setattr(transforms, name, counting)
    jac = ad.jacobian(lambda v: np.sum(v ** 2), mode=mode)
    x = np.array([1.0, 2.0, 3.0])
    for _ in range(3):
        np.testing.assert_allclose(jac(x), 2 * x)
    assert len(made) <= 1


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev, ad.jacobian])
def test_empty_inputs_and_outputs(jac):
    # shapes out.shape + x.shape with a zero somewhere (before: reshape/concatenate errors)
    assert jac(lambda v: v * 2.0)(np.ones(0)).shape == (0, 0)
    assert jac(lambda v: v[:0])(np.ones(3)).shape == (0, 3)
    assert jac(lambda v: np.sum(v))(np.ones(0)).shape == (0,)
    j = jac(lambda v: np.ones((2, 0)) @ v[:0])(np.ones(3))
    np.testing.assert_array_equal(j, np.zeros((2, 3)))
    assert ad.hessian(lambda v: np.sum(v ** 3))(np.ones(0)).shape == (0, 0)
