"""In-place writes on traced arrays: both modes behave alike, and as NumPy where they can; a
write through a view (which a traced array cannot do) raises instead of being silently lost."""
import numpy as np
import pytest

import dualad as ad
import reverse as rv

MODES = ["reverse", "forward"]
X = np.array([1.0, 2.0, 3.0])


def through_ravel(v):
    r = v * 1.0
    r.ravel()[0] = 0.0
    return np.sum(r * r)


def through_transpose(v):
    d = np.outer(v, v)
    d.T[:] -= 1.0
    return np.sum(d)


def slice_then_imul(v):
    v = v * 1.0
    view = v[:2]
    view *= 3.0
    return np.sum(v * v)


def reshape_then_iadd(v):
    v = v * 1.0
    m = v.reshape(3, 1)
    m += 1.0
    return np.sum(v * v)


def row_of_matrix(v):
    d = np.outer(v, v)
    row = d[0]
    row[1] = 0.0
    return np.sum(d)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [through_ravel, through_transpose, slice_then_imul,
                               reshape_then_iadd, row_of_matrix])
def test_write_through_a_view_raises(f, mode):
    # before: reverse mode returned the derivative of another function (the base unchanged)
    with pytest.raises(ValueError, match="view of another array"):
        ad.grad(f, mode=mode)(X)


def set_items(v):
    r = v * 1.0
    r[0] = 5.0
    r[1:] *= 2.0       # x[i] op= y: stored back into r, as NumPy does
    r[2] += v[0]
    return np.sum(r * r)


def alias_then_iadd(v):
    r = v * 1.0
    a = r              # the same object: a write through either name is seen by both
    a += 1.0
    return np.sum(r * r)


def set_from_traced(v):
    r = v * 1.0
    r[1] = 2.0
    r[0] = v[2]
    r += v
    r[np.array([0, 2])] = v[:2] * v[1:]
    return np.sum(r ** 3)


def setitem_mask(v):
    r = np.sin(v)
    r[r > 0.5] = 0.25
    return np.sum(r * v)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [set_items, alias_then_iadd, set_from_traced, setitem_mask])
def test_item_assignment_and_inplace_ops_agree_with_numpy(f, mode):
    # the value is NumPy's, and the derivative matches central differences in both modes
    value, g = ad.value_and_grad(f, mode=mode)(X)
    np.testing.assert_allclose(value, f(X.copy()))
    np.testing.assert_allclose(g, ad.numeric.gradient(f, X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_inplace_on_an_input_raises_in_both_modes(mode):
    def f(v):
        v[0] = 1.0
        return np.sum(v)
    with pytest.raises(RuntimeError, match="in-place operation on"):
        ad.grad(f, mode=mode)(X)

    def g(v):
        v += 1.0
        return np.sum(v)
    with pytest.raises(RuntimeError, match="in-place operation on"):
        ad.grad(g, mode=mode)(X)


def test_jvp_item_assignment_tangent():
    def f(v):
        r = v * 2.0
        r[1] = v[0] ** 2
        return r
    out, t = ad.jvp(f, (X,), (np.array([1.0, 0.0, 1.0]),))
    np.testing.assert_allclose(out, [2.0, 1.0, 6.0])
    np.testing.assert_allclose(t, [2.0, 2.0, 2.0])


def test_hand_built_tensor_view_write_raises_and_plain_write_works():
    x = rv.Tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="view"):
        x.T[0] = 1.0
    x[0, 1] = 9.0
    assert x.data[0, 1] == 9.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make_copy", [lambda v: v.copy(), lambda v: np.copy(v),
                                       lambda v: v.astype(v.dtype), lambda v: np.array(v)
                                       if isinstance(v, np.ndarray) else v.copy()])
def test_a_copy_is_a_new_array(mode, make_copy):
    # writes into a copy must not reach the original (copy() used to return the tracer itself)
    def f(v):
        r = make_copy(v)
        r[0] = 5.0
        return np.sum(r * v)
    value, g = ad.value_and_grad(f, mode=mode)(X)
    np.testing.assert_allclose(value, f(X.copy()))
    np.testing.assert_allclose(g, ad.numeric.gradient(f, X), rtol=1e-6, atol=1e-8)
