"""One dispatch path: the staging tracer shares the operators and NumPy protocols of every
tracer (dualad.ops.protocol) and only says how it processes a primitive (records it) or a
callable outside the op table (stages the call); the integer and boolean operators are
zero-derivative entries for all tracers."""
import operator

import numpy as np
import pytest

import dualad as ad
import reverse as rv
from dualad.ops import ArrayProtocol
from dualad.staging.tracer import Staged

INTS = np.array([5, 12, -3, 7])
OTHER = np.array([3, 10, 6, 1])
BINARY = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]


def test_staged_defines_no_protocol_of_its_own():
    own = set(vars(Staged))
    for name in ("__array_ufunc__", "__array_function__", "__and__", "__or__", "__xor__",
                 "__invert__", "__add__", "argmax", "any", "copy"):
        assert name not in own, name
    assert issubclass(Staged, ArrayProtocol)


UFUNC_OF = {operator.and_: np.bitwise_and, operator.or_: np.bitwise_or,
            operator.xor: np.bitwise_xor, operator.lshift: np.left_shift,
            operator.rshift: np.right_shift}


def _leaves_equal(a, b):
    la, da = ad.tree_flatten(a)
    lb, db = ad.tree_flatten(b)
    assert da == db
    for u, v in zip(la, lb):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("op", BINARY, ids=lambda o: o.__name__)
def test_integer_operators_staged(op):
    def f(a, b):
        return op(a, b), op(a, 2), op(9, b)

    prog = ad.trace(f, INTS, OTHER)
    a, b = INTS[::-1].copy(), OTHER * 2
    _leaves_equal(prog(a, b), f(a, b))
    # each is the op-table entry (a primitive), not a call staged without one
    assert [eq.prim for eq in prog.equations] == [ad.ops.UFUNC_RULES[UFUNC_OF[op]]] * 3


def test_masks_combined_under_every_tracer():
    x = np.array([-2.0, 0.5, 1.5, 3.0])

    def f(v):
        inside = (v > 0) & (v < 2)
        outside = ~inside | (v == 3.0)
        return np.where(inside ^ outside, v * v, -v)

    want = np.where(((x > 0) & (x < 2)) ^ (~((x > 0) & (x < 2)) | (x == 3.0)), x * x, -x)
    np.testing.assert_array_equal(f(x), want)
    np.testing.assert_array_equal(ad.trace(f, x + 1.0)(x), want)
    # the derivative of where's branches passes; the masks themselves carry none
    np.testing.assert_allclose(ad.jacfwd(f)(x), ad.jacrev(f)(x), rtol=0, atol=0)
    np.testing.assert_allclose(np.diag(ad.jacfwd(ad.jit(f))(x)),
                               np.where(want == x * x, 2 * x, -1.0))


def test_integer_operators_on_derivative_tracers_give_plain_arrays():
    d = ad.DualArray(np.array([1.0, 2.0]), np.ones(2))
    m = d > 1.5
    assert type(m) is np.ndarray
    t = rv.Tensor(INTS)
    for op in BINARY:
        got = op(t, rv.Tensor(OTHER))
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, op(INTS, OTHER))
    np.testing.assert_array_equal(~t, ~INTS)
    # on floats, NumPy's own refusal, as for an ndarray
    with pytest.raises(TypeError, match="bitwise_and.*not supported for the input types"):
        d & d


def test_copy_of_a_staged_array_is_a_new_value():
    def f(x):
        y = x * 2.0
        z = y.copy()
        z += 1.0  # must not reach y
        w = np.copy(y)
        w[0] = 7.0
        return y, z, w

    x = np.array([1.0, 2.0])
    for got in (ad.trace(f, np.zeros(2))(x), ad.jit(f)(x)):
        for u, v in zip(got, f(x)):
            np.testing.assert_array_equal(u, v)


CONSTANT_FRONTS = {
    "argmax": lambda x: np.argmax(x),
    "argmin_axis": lambda x: np.argmin(x.reshape(2, 3), axis=1),
    "argsort": lambda x: np.argsort(x),
    "nonzero": lambda x: np.nonzero(x > 0)[0],
    "flatnonzero": lambda x: np.flatnonzero(x > 0.5),
    "count_nonzero": lambda x: np.count_nonzero(x > 0),
    "isclose": lambda x: np.isclose(x, 1.0),
    "zeros_like": lambda x: np.zeros_like(x) + x,
    "angle_real": lambda x: np.angle(x),
    "methods": lambda x: (x.argmax(), x.argmin(), x.any(), (x > 0).all()),
    "reduce": lambda x: np.add.reduce(x) + np.maximum.accumulate(x),
}


@pytest.mark.parametrize("name", sorted(CONSTANT_FRONTS))
def test_constant_uses_are_staged_and_read_anew(name):
    # a front that strips derivatives (argmax, isclose) calls NumPy again on the values: on a
    # staged value that is the staged call, recomputed at replay (not frozen)
    fn = CONSTANT_FRONTS[name]
    x0 = np.array([0.3, -1.0, 2.0, 1.0, -0.5, 0.7])
    prog = ad.trace(fn, x0)
    assert prog.equations  # nothing frozen into a constant
    for x1 in (x0, np.array([-2.0, 1.0, 0.1, 3.0, 0.0, 1.5])):
        _leaves_equal(prog(x1), fn(x1))


def test_outside_table_under_a_derivative_tracer_names_its_rule_kind():
    # the highest-level tracer decides: a DualArray over a staged value has no rule for it
    def f(x):
        return ad.jvp(lambda y: np.add.reduce(y), (x,), (np.ones(3),))

    with pytest.raises(TypeError, match=r"no JVP rule for numpy\.add\.reduce"):
        ad.trace(f, np.ones(3))
    with pytest.raises(TypeError, match=r"no VJP rule for numpy\.add\.reduce"):
        ad.trace(ad.grad(lambda y: np.add.reduce(y)), np.ones(3))
    with pytest.raises(TypeError, match=r"numpy\.add\.at.*immutable"):
        ad.trace(lambda x: np.add.at(x, [0], 1.0), np.ones(3))
