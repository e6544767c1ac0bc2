"""Errors that used to be unclear (or Python's own) name the op, the type and what to do."""
import numpy as np
import pytest

import dualad as ad
import reverse as rv

MODES = ["reverse", "forward"]


@pytest.mark.parametrize("mode", MODES)
def test_division_by_a_python_zero_follows_numpy(mode):
    # the primal x / 0 is NumPy's inf; its derivative 1/0 was Python's ZeroDivisionError
    with np.errstate(divide="ignore", invalid="ignore"):
        assert ad.grad(lambda x: x / 0, mode=mode)(1.0) == np.inf
        assert ad.grad(lambda x: x / -0.0, mode=mode)(1.0) == -np.inf
        assert ad.grad(lambda x: x ** 0.5 / 0, mode=mode)(4.0) == np.inf
    # a Python divisor promotes nothing: float32 stays float32
    assert ad.grad(lambda x: x / 2, mode=mode)(np.float32(1.0)).dtype == np.float32


@pytest.mark.parametrize("mode", MODES)
def test_asarray_inside_f_says_what_to_use(mode):
    with pytest.raises(TypeError, match=r"np\.asarray.*leave the value as it is.*take x\."):
        ad.grad(lambda x: np.sum(np.asarray(x)), mode=mode)(np.ones(2))


def test_tensor_meeting_a_dualarray_says_which_is_which():
    d = ad.DualArray(2.0, 1.0)
    with pytest.raises(AttributeError, match="reverse-mode Tensor .*wraps a DualArray"):
        ad.grad(lambda x: (x * d).tangent)(3.0)
    with pytest.raises(AttributeError, match="no attribute 'primal'"):
        rv.Tensor(np.ones(2)).primal
    with pytest.raises(AttributeError, match="forward-mode DualArray"):
        d.grad
    with pytest.raises(AttributeError, match="no attribute 'backward'"):
        d.backward()
    # what does work: the derivative of x * d is d, a DualArray
    g = ad.grad(lambda x: x * d)(3.0)
    assert isinstance(g, ad.DualArray) and float(g.primal) == 2.0 and float(g.tangent) == 1.0


@pytest.mark.parametrize("out", ["a", object(), np.array(["x", "y"])])
def test_non_numeric_outputs_raise_in_every_transform(out):
    x = np.ones(2)
    for run in (lambda: ad.jacfwd(lambda v: out)(x), lambda: ad.jacrev(lambda v: out)(x),
                lambda: ad.jvp(lambda v: out, (x,), (x,)), lambda: ad.vjp(lambda v: out, x),
                lambda: ad.jacobian(lambda v: (v, out))(x)):
        with pytest.raises(TypeError, match="outputs must be numbers"):  # before: zeros
            run()


def test_hook_returning_a_non_array_says_so():
    x = rv.Tensor(np.ones(3), requires_grad=True)
    x.register_hook(lambda g: "abc")
    with pytest.raises(TypeError, match=r"a hook returned str .* shape \(3,\)"):
        np.sum(x * 2.0).backward()


@pytest.mark.parametrize("mode", MODES)
def test_zero_division_inside_a_rule_names_the_op(mode, monkeypatch):
    # a rule computing with Python numbers may divide by a Python zero: the error names the op
    from dualad.ops import UFUNC_RULES
    from dualad.ops.core import elementwise
    mul = UFUNC_RULES[np.multiply]
    broken = elementwise("numpy.multiply", np.multiply, lambda ans, x, y: y / 0, mul.derivs[1])
    for rule in ("jvp", "vjp", "vjp_plain"):  # the rules generated from a partial that divides
        monkeypatch.setattr(mul, rule, getattr(broken, rule))
    with pytest.raises(ZeroDivisionError, match="rule of numpy.multiply divided by zero"):
        ad.grad(lambda x: x * 2.0, mode=mode)(1.0)
