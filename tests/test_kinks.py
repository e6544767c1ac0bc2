"""Points where a derivative is a convention or a limit: the documented choice, in both modes."""
import numpy as np
import pytest

import dualad as ad

MODES = ["reverse", "forward"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,axis", [((1,), None), ((3, 1), 1), ((1, 4), 0), ((1, 1), None)])
def test_std_of_one_element_has_derivative_zero(mode, shape, axis):
    # std over one element is the constant 0: derivative 0 (central differences agree), not
    # sqrt'(0)·0 = NaN
    x = np.linspace(0.5, 2.0, int(np.prod(shape))).reshape(shape)
    f = lambda v: np.sum(np.std(v, axis=axis) * 3.0) + np.sum(v)  # noqa: E731
    g = ad.grad(f, mode=mode)(x)
    np.testing.assert_allclose(g, np.ones(shape))
    np.testing.assert_allclose(g, ad.numeric.gradient(f, x), atol=1e-8)
    np.testing.assert_allclose(np.std(x, axis=axis), ad.jvp(lambda v: np.std(v, axis=axis),
                                                            (x,), (np.ones(shape),))[0])


@pytest.mark.parametrize("mode", MODES)
def test_std_elsewhere_unchanged(mode):
    x = np.array([1.0, 2.0, 4.0])
    f = lambda v: np.std(v)  # noqa: E731
    np.testing.assert_allclose(ad.grad(f, mode=mode)(x), ad.numeric.gradient(f, x), rtol=1e-7)
    f1 = lambda v: np.std(v, ddof=1)  # noqa: E731
    np.testing.assert_allclose(ad.grad(f1, mode=mode)(x), ad.numeric.gradient(f1, x), rtol=1e-7)


@pytest.mark.parametrize("mode", MODES)
def test_clip_at_a_bound_splits_like_maximum_and_minimum(mode):
    # clip(x, lo, hi) = minimum(maximum(x, lo), hi); at a tie the derivative is split 0.5/0.5
    # between x and the bound (as np.maximum/np.minimum and JAX), traced bound or not: what
    # central differences give
    for f, args in [(lambda x, h: np.clip(x, 0.0, h), (1.0, 1.0)),
                    (lambda x, lo: np.clip(x, lo, 5.0), (1.0, 1.0)),
                    (lambda x, lo, hi: np.clip(x, lo, hi), (1.0, 1.0, 3.0)),
                    (lambda x, lo, hi: np.clip(x, lo, hi), (2.0, 1.0, 3.0)),
                    (lambda x, lo, hi: np.clip(x, lo, hi), (0.0, 1.0, 3.0))]:
        n = len(args)
        g = ad.grad(f, argnums=tuple(range(n)), mode=mode)(*args)
        num = [ad.numeric.derivative(lambda t, k=k: f(*[t if j == k else a
                                                        for j, a in enumerate(args)]), args[k])
               for k in range(n)]
        np.testing.assert_allclose(g, num, atol=1e-8)
    np.testing.assert_allclose(ad.grad(lambda x: np.clip(x, 0.0, 1.0), mode=mode)(1.0), 0.5)
    x = np.array([-2.0, -0.2, 0.3, 2.0])
    np.testing.assert_array_equal(ad.grad(lambda v: np.sum(np.clip(v, -1.0, 1.0)), mode=mode)(x),
                                  [0.0, 1.0, 1.0, 0.0])
