"""Names that mean one thing: a name defined in two packages is one object, and two different
things have two different names."""
from __future__ import annotations

import numpy as np

import dualad as ad
import dualad.dual
import reverse as rv
from dualad.ops import core


def test_user_levels_are_defined_once_and_differ_per_tracer_type():
    # USER_LEVEL was 0 in dualad and 1 in reverse: two meanings under one name
    assert not hasattr(dualad.dual, "USER_LEVEL")
    assert rv.USER_LEVEL == core.TENSOR_USER_LEVEL == 1
    assert core.DUAL_USER_LEVEL == 0 != core.TENSOR_USER_LEVEL
    assert ad.DualArray(2.0, 1.0)._level == core.DUAL_USER_LEVEL
    assert rv.Tensor(2.0)._level == core.TENSOR_USER_LEVEL
    assert set(core.LIVE_LEVELS) >= {core.DUAL_USER_LEVEL, core.TENSOR_USER_LEVEL}


def test_transform_levels_are_above_both_user_levels():
    seen = []

    def f(x):
        seen.append(x._level)
        return x * x

    ad.grad(f)(2.0)
    ad.grad(f, mode="forward")(2.0)
    assert min(seen) > max(core.DUAL_USER_LEVEL, core.TENSOR_USER_LEVEL)


def test_hand_built_tensor_times_hand_built_dual_is_reverse_over_forward():
    # the Tensor's user level is the higher one: it records, the DualArray rides inside
    x = rv.Tensor(np.array(2.0), requires_grad=True)
    y = x * ad.DualArray(3.0, 1.0)
    y.backward()
    assert isinstance(x.grad, ad.DualArray)
    assert float(x.grad.primal) == 3.0 and float(x.grad.tangent) == 1.0


def test_one_removable_handle_class_for_tensor_and_module_hooks():
    import nn
    from nn.module import RemovableHandle as nn_handle
    assert nn.RemovableHandle is nn_handle is rv.RemovableHandle
    x = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h_tensor = x.register_hook(lambda g: None)
    h_module = nn.Linear(2, 1).register_forward_hook(lambda m, a, o: None)
    assert type(h_tensor) is type(h_module) is rv.RemovableHandle
    assert h_tensor.id != h_module.id


def test_a_tensor_hook_handle_removes_and_works_as_a_context_manager():
    x = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    calls = []
    with x.register_hook(lambda g: calls.append(g.copy()) or 2.0 * g):
        np.sum(x * x).backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])  # the hook doubled 2x
    x.zero_grad()
    np.sum(x * x).backward()  # removed on exit: no doubling, no call
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    assert len(calls) == 1
    h = x.register_hook(lambda g: 0.0 * g)
    keep = x.register_hook(lambda g: g + 1.0)
    h.remove()
    h.remove()  # twice: nothing
    x.zero_grad()
    np.sum(x * x).backward()
    np.testing.assert_array_equal(x.grad, [3.0, 5.0])  # only the hook still registered ran
    keep.remove()


def test_a_module_hook_handle_removes_only_its_own_hook():
    import nn
    lin = nn.Linear(2, 1)
    seen = []
    a = lin.register_forward_hook(lambda m, args, out: seen.append("a"))
    lin.register_forward_hook(lambda m, args, out: seen.append("b"))
    with lin.register_forward_pre_hook(lambda m, args: seen.append("pre")):
        lin(np.ones(2))
    a.remove()
    a.remove()
    lin(np.ones(2))
    assert seen == ["pre", "a", "b", "b"]


def test_the_mode_tuples_that_mean_the_same_are_one_object():
    from dualad import checking, compare, front
    assert front.MODES == ("forward", "reverse")
    assert checking.MODES is front.MODES  # was a dict of transform names under the same name
    assert compare.AD_MODES is front.MODES
    assert not hasattr(compare, "MODES")  # its five table columns are TIMED_MODES
    assert set(compare.TIMED_MODES) > set(front.MODES)
    assert set(front.DERIVATIVE_MODES) == {"auto", *front.MODES, "numeric"}


def test_every_mode_argument_accepts_its_documented_set_and_names_it_when_refusing():
    import pytest
    from dualad.front import DERIVATIVE_MODES, MODES
    from nn.optim import Newton, minimize
    from nn.optim.newton import derivatives
    f = lambda v: np.sum(v ** 2)  # noqa: E731
    x = np.array([1.0, -2.0])
    for mode in DERIVATIVE_MODES:
        np.testing.assert_allclose(ad.jacobian(f, mode=mode)(x), 2 * x, rtol=1e-6)
        assert minimize(f, x, method="newton", mode=mode, steps=3).success
    for mode in MODES + ("numeric",):
        np.testing.assert_allclose(derivatives(f, x, mode)[2], 2 * np.eye(2), atol=1e-5)
        Newton([rv.Tensor(x, requires_grad=True)], mode=mode)
    for mode in ("auto", *MODES):
        ad.sparse_jacobian(lambda v: v ** 2, mode=mode)(x)
    for call, listed in [(lambda: ad.jacobian(f, mode="sideways")(x), DERIVATIVE_MODES),
                         (lambda: minimize(f, x, mode="sideways"), DERIVATIVE_MODES),
                         (lambda: Newton([rv.Tensor(x, requires_grad=True)], mode="auto"),
                          ("reverse", "forward", "numeric")),
                         (lambda: ad.grad(f, mode="numeric"), MODES),
                         (lambda: ad.sparse_jacobian(f, mode="numeric"), ("auto", *MODES))]:
        with pytest.raises(ValueError) as info:
            call()
        for m in listed:
            assert m in str(info.value)
