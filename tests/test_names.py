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
