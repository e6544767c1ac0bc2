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
