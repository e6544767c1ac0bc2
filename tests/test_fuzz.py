"""A random-program fuzzer: forward mode, reverse mode and central differences must agree.

Hypothesis draws a short straight-line program over a menu of op-table ops (unary, binary with
broadcasting, reductions, shape and indexing ops, matmul, item assignment), inputs of odd shapes
(0-d, size-1 axes, broadcast partners) and dtypes (float64, sometimes float32), evaluates it
with NumPy, and checks both modes' Jacobians against numerical differentiation with
:func:`dualad.check_grads` (which also names the mode, argument and entry of a failure). Each
program's value under every transform must equal plain NumPy's too.

The menu keeps every op smooth on the values it can see (logs and square roots of positive
expressions, divisions by ``1 + x²``...) and the growing ones squashed by ``tanh``, so that
central differences stay accurate: a disagreement is a wrong rule, not a kink or a step.

Budget: the CI run takes a fixed number of examples (no wall time decides anything); a longer
run is one environment variable away::

    DUALAD_FUZZ_EXAMPLES=5000 python -m pytest -q tests/test_fuzz.py

(``DUALAD_FUZZ_RANDOM=1`` draws new programs each run; unset, the run is derandomized).
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualad as ad

from ophelpers import check_adjoint

EXAMPLES = int(os.environ.get("DUALAD_FUZZ_EXAMPLES", "400"))
RANDOM = os.environ.get("DUALAD_FUZZ_RANDOM") == "1"
FUZZ = settings(max_examples=EXAMPLES, derandomize=not RANDOM, database=None)

SHAPES = [(), (1,), (3,), (2, 3), (3, 1), (1, 3), (2, 1, 3), (1, 1)]

# name -> function of plain-NumPy-style arguments (applies to ndarrays and tracers alike)
UNARY = {
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "exp": lambda x: np.exp(np.tanh(x)),
    "log": lambda x: np.log(x * x + 1.0),
    "log1p": lambda x: np.log1p(x * x),
    "sqrt": lambda x: np.sqrt(x * x + 0.5),
    "arctan": np.arctan,
    "square": lambda x: np.square(np.tanh(x)) + x,
    "neg": lambda x: -x,
    "rpow": lambda x: 1.5 ** np.tanh(x),
    "pow": lambda x: (np.tanh(x) ** 2 + 1.0) ** 1.5,
    "recip": lambda x: 1.0 / (x * x + 1.0),
    "sum": lambda x: np.sum(x, axis=-1) if np.ndim(x) else x,
    "sum_keep": lambda x: np.sum(x, axis=0, keepdims=True) if np.ndim(x) else x,
    "mean": lambda x: np.mean(x, axis=0) if np.ndim(x) else x,
    "prod": lambda x: np.prod(x, axis=-1) if np.ndim(x) else x,
    "cumsum": lambda x: np.cumsum(x, axis=-1) if np.ndim(x) else x,
    "logsumexp": lambda x: ad.logsumexp(x, axis=-1) if np.ndim(x) else x,
    "transpose": lambda x: np.transpose(x),
    "ravel": lambda x: np.ravel(x),
    "reverse": lambda x: x[..., ::-1] if np.ndim(x) else x,
    "first": lambda x: x[0] if np.ndim(x) else x,
    "expand": lambda x: np.expand_dims(x, 0),
    "concat": lambda x: np.concatenate([x, 2.0 * x], axis=-1) if np.ndim(x) else x,
    "stack": lambda x: np.stack([x, np.sin(x)]),
    "broadcast": lambda x: np.broadcast_to(x, (2,) + np.shape(x)),
    "where": lambda x: np.where(_mask(np.shape(x)), x * x, np.cos(x)),
    "setitem": lambda x: _setitem(x),
    "iadd": lambda x: _iadd(x),
    "max": lambda x: np.max(x, axis=-1) if np.ndim(x) else x,
    "sort": lambda x: np.sort(x, axis=-1) if np.ndim(x) else x,
    "var": lambda x: np.var(x, axis=-1) if np.ndim(x) and np.shape(x)[-1] > 1 else x,
    "std": lambda x: np.std(x * x + 1.0),
    "clip": lambda x: np.clip(x, -1.05, 1.05),
    "norm": lambda x: np.linalg.norm(x + 3.0),
    "einsum": lambda x: np.einsum("...i,...i->...", x, np.sin(x)) if np.ndim(x) else x,
    "square_matrix": lambda x: _square(x),
}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
    "pow": lambda a, b: (a * a + 1.0) ** (0.5 * np.tanh(b)),
    "arctan2": lambda a, b: np.arctan2(a, b * b + 1.0),
    "hypot": lambda a, b: np.hypot(a, b * b + 0.5),
    "maximum_shift": lambda a, b: np.maximum(a, b + 10.0),  # never a tie: b + 10 wins
}


def _square(x):
    """inv, solve and det of a well-conditioned matrix built from x (any shape)."""
    v = np.ravel(x)[:2]
    if np.shape(v) != (2,):
        return x
    m = np.outer(v, np.cos(v)) + 3.0 * np.eye(2)
    return np.linalg.inv(m) @ np.linalg.solve(m, v) * np.linalg.det(m)


def _mask(shape):
    """A fixed checkerboard of the shape (a constant condition: no kink)."""
    return (np.indices(shape).sum(axis=0) % 2 == 0) if shape else np.bool_(True)


def _setitem(x):
    if not np.ndim(x):
        return x
    r = x * 1.0
    r[..., 0] = np.sin(x[..., -1])
    return r


def _iadd(x):
    r = np.cos(x)
    r += x * x
    return r


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        return False
    return True


@st.composite
def programs(draw):
    """``(inputs, steps)``: 1 or 2 inputs, then 1 to 5 ops on values computed so far."""
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float64, np.float32]))
    n_in = draw(st.integers(1, 2))
    inputs = []
    for _ in range(n_in):
        shape = draw(st.sampled_from(SHAPES))
        size = int(np.prod(shape))
        # values on a grid of tenths in [-2, 2], made distinct by a small offset: no denormal
        # or tiny values (central differences step relative to |x| and lose them against an
        # O(1) term), and no accidental ties
        vals = draw(st.lists(st.integers(-20, 20), min_size=size, max_size=size))
        x = (0.1 * np.asarray(vals, dtype=np.float64) + 0.013 * np.arange(size)).reshape(shape)
        inputs.append(x.astype(dtype))
    steps = []
    n_values = n_in
    for _ in range(draw(st.integers(1, 5))):
        if n_values > 1 and draw(st.booleans()):
            op = draw(st.sampled_from(sorted(BINARY) + ["matmul"]))
            i = draw(st.integers(0, n_values - 1))
            j = draw(st.integers(0, n_values - 1))
            steps.append(("binary", op, i, j))
        else:
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY))),
                          draw(st.integers(0, n_values - 1)), None))
        n_values += 1
    return inputs, steps


def run(steps, *xs):
    """Interpret a program; ops whose operands do not fit (shapes) fall back to sin."""
    values = list(xs)
    for kind, op, i, j in steps:
        a = values[i]
        if kind == "unary":
            out = UNARY[op](a)
        else:
            b = values[j]
            if op == "matmul":
                fits = np.ndim(a) >= 1 and np.ndim(b) >= 1 and \
                    np.shape(a)[-1] == np.shape(b)[-2 if np.ndim(b) > 1 else 0]
                out = a @ b if fits else np.sin(a)
            else:
                out = BINARY[op](a, b) if _broadcastable(a, b) else np.sin(a)
        values.append(out)
    return values[-1]


def _describe(inputs, steps):
    return f"inputs {[(x.shape, x.dtype.name) for x in inputs]}, program {steps}"


@FUZZ
@given(programs())
def test_random_programs_forward_reverse_numeric_agree(program):
    inputs, steps = program
    f = lambda *xs: run(steps, *xs)  # noqa: E731
    expect = run(steps, *inputs)
    # the value under each transform is plain NumPy's (dtype included)
    out, _ = ad.vjp(f, *inputs)
    # (to rounding: a composed op such as logsumexp may take another path on tracers)
    vtol = 1e-6 if any(x.dtype == np.float32 for x in inputs) else 1e-12
    np.testing.assert_allclose(out, expect, rtol=vtol, atol=vtol,
                               err_msg=_describe(inputs, steps))
    assert out.dtype == np.asarray(expect).dtype, _describe(inputs, steps)
    tangents = tuple(np.ones_like(x) for x in inputs)
    out_f, _ = ad.jvp(f, tuple(inputs), tangents)
    np.testing.assert_allclose(out_f, expect, rtol=vtol, atol=vtol,
                               err_msg=_describe(inputs, steps))
    # both modes against central differences, argument by argument
    ad.check_grads(f, tuple(inputs), modes=("forward", "reverse"))
    # and against each other, tightly (they share the op table but not the code paths)
    argnums = tuple(range(len(inputs)))
    jf = ad.jacfwd(f, argnums=argnums)(*inputs)
    jr = ad.jacrev(f, argnums=argnums)(*inputs)
    tol = 1e-5 if any(x.dtype == np.float32 for x in inputs) else 1e-10
    for a, b, x in zip(jf, jr, inputs):
        assert a.dtype == b.dtype == x.dtype, _describe(inputs, steps)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=_describe(inputs, steps))


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(programs())
def test_random_programs_scalar_gradients_and_hessians(program):
    inputs, steps = program
    inputs = [x.astype(np.float64) for x in inputs]
    f = lambda *xs: np.sum(run(steps, *xs))  # noqa: E731
    argnums = tuple(range(len(inputs)))
    g_rev = ad.grad(f, argnums=argnums)(*inputs)
    g_fwd = ad.grad(f, argnums=argnums, mode="forward")(*inputs)
    for a, b in zip(g_rev, g_fwd):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10,
                                   err_msg=_describe(inputs, steps))
    # second order: each mode's derivative differentiated again, against numerics
    ad.check_grads(f, tuple(inputs), order=2, modes=("reverse",))
    h = ad.hessian(f)(*inputs)
    x = inputs[0]
    num = ad.numeric.jacobian(lambda v: ad.grad(f)(v, *inputs[1:]), x)
    np.testing.assert_allclose(h, num, rtol=1e-5, atol=1e-6, err_msg=_describe(inputs, steps))


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(programs(), st.integers(0, 2 ** 32 - 1))
def test_random_programs_adjoint_identity(program, seed):
    """⟨u, J v⟩ = ⟨Jᵀu, v⟩ for the whole program (its JVP against its VJP, no numerics), and
    for every table entry it binds, each on the values it saw (the adjoint probe)."""
    inputs, steps = program
    inputs = [x.astype(np.float64) for x in inputs]
    rng = np.random.default_rng(seed)
    f = lambda *xs: run(steps, *xs)  # noqa: E731
    vs = tuple(rng.standard_normal(np.shape(x)) for x in inputs)
    out, jv = ad.jvp(f, tuple(inputs), vs)
    u = rng.standard_normal(np.shape(out))
    _, vjp_fn = ad.vjp(f, *inputs)
    jtu = vjp_fn(u)
    lhs = np.sum(u * jv)
    rhs = sum(np.sum(a * b) for a, b in zip(jtu, vs))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10,
                               err_msg=_describe(inputs, steps))
    if not any(op in ("setitem", "iadd") for _, op, _, _ in steps):  # (probes are not written)
        check_adjoint(f, inputs, seed=seed, require=False)  # (a program may bind none)


def test_the_adjoint_fuzzer_catches_a_wrong_transpose(monkeypatch):
    # a VJP off by 1% (its JVP right) breaks the identity: the adjoint test can fail
    from dualad.ops import UFUNC_RULES
    from dualad.ops.core import elementwise
    sin = UFUNC_RULES[np.sin]
    wrong = elementwise("numpy.sin", np.sin, lambda ans, x: np.cos(x) * 1.01)
    monkeypatch.setattr(sin, "vjp", wrong.vjp)
    monkeypatch.setattr(sin, "vjp_plain", wrong.vjp_plain)
    program = ([np.array([0.3, 1.1, -0.7])], [("unary", "sin", 0, None)])
    with pytest.raises(AssertionError):
        test_random_programs_adjoint_identity.hypothesis.inner_test(program, 1)


def test_the_fuzzer_catches_a_wrong_rule(monkeypatch):
    # a rule off by 0.1% must fail: the fuzzer can fail
    from dualad.ops import UFUNC_RULES
    from dualad.ops.core import elementwise
    sin = UFUNC_RULES[np.sin]
    wrong = elementwise("numpy.sin", np.sin, lambda ans, x: np.cos(x) * 1.001)
    for rule in ("jvp", "vjp", "vjp_plain"):
        monkeypatch.setattr(sin, rule, getattr(wrong, rule))
    x = np.array([0.3, 1.1, -0.7])
    with pytest.raises(AssertionError):
        ad.check_grads(lambda v: run([("unary", "sin", 0, None)], v), (x,))
