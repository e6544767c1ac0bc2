"""grad's argnums and outputs: repeated argnums, and clear errors for outputs with no gradient."""
import numpy as np
import pytest

import dualad as ad
import reverse as rv

MODES = ["reverse", "forward"]


@pytest.mark.parametrize("mode", MODES)
def test_repeated_argnums_give_the_gradient_each_time(mode):
    f = lambda x, y: x * x * y  # noqa: E731
    g = ad.grad(f, argnums=(0, 0), mode=mode)(3.0, 2.0)
    np.testing.assert_allclose(g, (12.0, 12.0))  # before: (0, 12)
    g = ad.grad(f, argnums=(1, 0, 1), mode=mode)(3.0, 2.0)
    np.testing.assert_allclose(g, (9.0, 12.0, 9.0))
    assert g[0] is not g[2]  # separate arrays, as each is writable


def test_repeated_argnums_reverse_grad_and_jacobians():
    f = lambda x, y: x * x * y  # noqa: E731
    np.testing.assert_allclose(rv.grad(f, argnums=(0, 0))(3.0, 2.0), (12.0, 12.0))
    x = np.array([1.0, 2.0])
    for jac in (ad.jacfwd, ad.jacrev):
        j = jac(lambda a: a ** 2, argnums=(0, 0))(x)
        np.testing.assert_allclose(j[0], np.diag(2 * x))
        np.testing.assert_allclose(j[1], np.diag(2 * x))
    vg = ad.value_and_grad(f, argnums=(0, 0))(3.0, 2.0)
    np.testing.assert_allclose(vg[1], (12.0, 12.0))


@pytest.mark.parametrize("mode", MODES)
def test_complex_output_raises(mode):
    with pytest.raises(TypeError, match="complex"):
        ad.grad(lambda x: x * 1j, mode=mode)(3.0)
    with pytest.raises(TypeError, match="complex"):
        ad.grad(lambda x: np.sum(x * (1 + 2j)), mode=mode)(np.ones(2))


def test_complex_output_raises_in_reverse_grad():
    with pytest.raises(TypeError, match="complex"):
        rv.grad(lambda x: x * 1j)(3.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("out", ["a", np.str_("b"), None, object()])
def test_non_numeric_output_raises(mode, out):
    with pytest.raises(TypeError, match="grad needs a|outputs must be numbers"):
        ad.grad(lambda x: out, mode=mode)(3.0)


@pytest.mark.parametrize("mode", MODES)
def test_tuple_output_message(mode):
    with pytest.raises(TypeError, match="grad needs a scalar output, got a tuple of 2"):
        ad.grad(lambda x: (x, x), mode=mode)(3.0)
    with pytest.raises(TypeError, match="got a list of 3"):
        ad.value_and_grad(lambda x: [x, x, x], mode=mode)(3.0)


@pytest.mark.parametrize("mode", MODES)
def test_one_element_output_says_index_or_sum(mode):
    for x in (np.array([3.0]), np.ones((1, 1))):
        with pytest.raises(TypeError, match=r"index it .* or sum it"):
            ad.grad(lambda v: v * 2.0, mode=mode)(x)
    with pytest.raises(TypeError, match=r"shape \(3,\)") as e:
        ad.grad(lambda v: v * 2.0, mode=mode)(np.ones(3))
    assert "index it" not in str(e.value)
    # as asked: indexing gives the gradient
    np.testing.assert_allclose(ad.grad(lambda v: (v * 2.0)[0], mode=mode)(np.array([3.0])),
                               [2.0])


@pytest.mark.parametrize("mode", MODES)
def test_integer_output_is_a_constant(mode):
    np.testing.assert_allclose(ad.grad(lambda x: 3, mode=mode)(2.0), 0.0)
