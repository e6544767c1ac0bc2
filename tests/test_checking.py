"""dualad.check_grads: passes on correct derivatives, fails (with a useful report) on wrong ones.

The checker is only worth having if it fails: the central tests here build primitives whose rule
is off by 0.1% (first order) or whose rule's own derivative is off by 0.1% (second order) and
assert that the AssertionError names the mode, the argument, the worst entry and the step.
Until the reverse tape lands, the checks run ``modes=("forward",)``.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import dualad.numeric as numeric
from dualad import transforms
from dualad.checking import DEFAULT_TOLERANCES, check_grads
from dualad.ops.core import elementwise

FWD = ("forward",)

#: sin with a derivative off by 0.1% everywhere
bad_sin_prim = elementwise("bad_sin", np.sin, lambda ans, x: 1.001 * np.cos(x))
#: cos with a derivative off by 0.1%: used *inside* a rule, it makes second derivatives wrong
bad_cos_prim = elementwise("bad_cos", np.cos, lambda ans, x: -1.001 * np.sin(x))
#: sin whose derivative is exactly cos (right at first order) but computed by bad_cos, so the
#: derivative of its derivative is off by 0.1% (wrong at second order)
sin_bad2_prim = elementwise("sin_bad2", np.sin, lambda ans, x: bad_cos_prim.bind(x))


def seed(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def layer(w, x):
    return np.tanh(w @ x) * np.exp(0.3 * x[:2])


# ---------------------------------------------------------------------------------------------
# correct functions pass
# ---------------------------------------------------------------------------------------------

def test_seed_passes_to_second_order():
    assert check_grads(seed, (2.0, 5.0), order=2, modes=FWD) is None


def test_matrix_and_vector_arguments_pass():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 3))
    x = rng.normal(size=3)
    check_grads(layer, (w, x), order=2, modes=FWD)


@pytest.mark.parametrize("f, args", [
    (lambda x: np.sum(x ** 2), (np.array([1.0, -2.0, 3.0]),)),
    (lambda x, y: x * y, (np.ones((2, 3)), np.array([1.0, 2.0, 3.0]))),   # broadcasting
    (lambda a: np.linalg.inv(a), (np.array([[2.0, 1.0], [0.5, 3.0]]),)),
    (lambda x: np.prod(x), (np.array([0.5, -1.5, 2.0]),)),
    (lambda x: (np.sin(x), np.cumsum(x)), (np.array([0.1, 0.2]),)),     # pytree output
])
def test_correct_functions_pass(f, args):
    check_grads(f, args, order=2, modes=FWD)


def test_float32_arguments_pass_with_float32_tolerances():
    x = np.array([0.3, -0.8, 1.2], dtype=np.float32)
    check_grads(lambda v: np.tanh(v) * np.exp(v), (x,), order=2, modes=FWD)


def test_integer_arguments_are_constants():
    seen = []

    def f(x, n):
        seen.append(n)
        return x ** n

    check_grads(f, (np.array([1.5, 2.5]), 3), modes=FWD)
    assert all(n == 3 for n in seen)


def test_small_x_next_to_an_offset_passes_with_the_second_opinion():
    # relative central steps at x = 1e-5 lose ~3e-5 to rounding against the offset 100; the
    # Richardson estimate (adaptive step) is accurate, so a correct function still passes
    x = np.array([1e-5, 0.5])
    f = lambda v: v + 100.0  # noqa: E731
    central = numeric.jacobian(f, x)
    assert abs(central[0, 0] - 1.0) > DEFAULT_TOLERANCES[x.dtype][0]
    check_grads(f, (x,), modes=FWD)


# ---------------------------------------------------------------------------------------------
# a rule off by 0.1% fails, with a report
# ---------------------------------------------------------------------------------------------

def test_rule_off_by_a_tenth_of_a_percent_fails():
    x = np.array([0.3, 1.4, 2.9])
    weights = np.array([1.0, 1.0, 10.0])  # makes entry (2, 2) the worst: |10·cos 2.9| ≈ 9.7

    def f(v):
        return bad_sin_prim.bind(v) * weights

    with pytest.raises(AssertionError) as info:
        check_grads(f, (x,), modes=FWD)
    msg = str(info.value)
    assert "mode 'forward'" in msg
    assert "argument 0" in msg and "order 1" in msg
    assert "worst entry: d out[2] / d arg0[2]" in msg and "(2, 2)" in msg
    analytic = float(re.search(r"analytic = (\S+)", msg).group(1))
    numeric_value = float(re.search(r"numeric  = (\S+)", msg).group(1))
    np.testing.assert_allclose(analytic, 10 * 1.001 * np.cos(2.9), rtol=1e-12)
    np.testing.assert_allclose(numeric_value, 10 * np.cos(2.9), rtol=1e-8)
    step = numeric.default_step(x, "central")[2]
    assert f"step h = {step:.3g}" in msg
    assert "rel error = 1.000e-03" in msg
    assert "rtol = 1e-05" in msg and "atol = 1e-06" in msg


def test_the_wrong_argument_is_named():
    def f(x, y):
        return x * bad_sin_prim.bind(y)

    check_grads(f, (np.array([2.0, 3.0]), np.array([0.5, 1.0])), modes=FWD, rtol=2e-3)
    with pytest.raises(AssertionError, match=r"argument 1, order 1") as info:
        check_grads(f, (np.array([2.0, 3.0]), np.array([0.5, 1.0])), modes=FWD)
    assert "d arg1[" in str(info.value)


def test_wrong_output_leaf_is_named():
    def f(x):
        return np.sin(x), bad_sin_prim.bind(x) * 2.0

    with pytest.raises(AssertionError, match="output leaf 1 of 2"):
        check_grads(f, (np.array([0.2, 0.4]),), modes=FWD)


def test_rule_off_by_a_tenth_of_a_percent_fails_in_float32():
    x = np.array([0.3, 1.1, -0.7], dtype=np.float32)
    with pytest.raises(AssertionError, match="float32 defaults") as info:
        check_grads(lambda v: bad_sin_prim.bind(v) * 3.0, (x,), modes=FWD)
    assert "in float64" in str(info.value)  # the reference is evaluated in float64


def test_order_two_catches_a_wrong_second_derivative():
    x = np.array([0.7, 1.2])

    def f(v, c):
        return sin_bad2_prim.bind(v) * c

    check_grads(f, (x, 2.0), order=1, modes=FWD)   # the first derivative is right
    with pytest.raises(AssertionError) as info:
        check_grads(f, (x, 2.0), order=2, modes=FWD)
    msg = str(info.value)
    assert "mode 'forward', argument 0, order 2" in msg
    # worst entry: d²out[1] / dx[1]², where |sin 1.2| is largest
    assert "d^2 out[1] / d arg0[1] d arg0[1]" in msg and "(1, 1, 1)" in msg
    assert "rel error = 1.000e-03" in msg


def test_explicit_tolerances_are_used():
    with pytest.raises(AssertionError, match=r"rtol = 1e-14, atol = 0 \(given\)"):
        check_grads(seed, (2.0, 5.0), modes=FWD, rtol=1e-14, atol=0.0)
    check_grads(lambda v: bad_sin_prim.bind(v), (np.array([0.5, 1.0]),), modes=FWD, rtol=2e-3)


# ---------------------------------------------------------------------------------------------
# arguments, modes, errors
# ---------------------------------------------------------------------------------------------

def test_unknown_mode_and_bad_order():
    with pytest.raises(ValueError, match="'forward', 'reverse'"):
        check_grads(seed, (2.0, 5.0), modes=("sideways",))
    with pytest.raises(ValueError, match="order"):
        check_grads(seed, (2.0, 5.0), order=0, modes=FWD)


def test_bad_args():
    with pytest.raises(TypeError, match="tuple"):
        check_grads(np.sin, np.ones(3), modes=FWD)
    with pytest.raises(TypeError, match="no floating argument"):
        check_grads(lambda n: n * 2, (3,), modes=FWD)


def test_not_implemented_mode_propagates(monkeypatch):
    def jacrev(f, argnums=0, chunk=None, has_aux=False):
        def jac_fn(*args):
            raise NotImplementedError("jacrev: no tape yet")
        return jac_fn

    monkeypatch.setattr(transforms, "jacrev", jacrev)
    with pytest.raises(NotImplementedError, match="no tape yet"):
        check_grads(seed, (2.0, 5.0), modes=("forward", "reverse"))


def test_modes_are_checked_with_their_own_jacobian(monkeypatch):
    # a "reverse" Jacobian that is off by 0.1% must be reported as the reverse mode's failure
    def jacrev(f, argnums=0, chunk=None, has_aux=False):
        jf = transforms.jacfwd(f, argnums=argnums)
        return lambda *args: 1.001 * jf(*args)

    monkeypatch.setattr(transforms, "jacrev", jacrev)
    with pytest.raises(AssertionError, match="mode 'reverse', argument 0, order 1"):
        check_grads(seed, (2.0, 5.0), modes=("forward", "reverse"))
