"""The optimization passes, each on its own: what it removes, what it must keep, and that the
optimized program replays the unoptimized one's values."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import dualad as ad
from dualad.staging import cse, dce, optimize, simplify
from dualad.staging.passes import fold_reshapes

ONE = np.array(1.0)  # writable: the user may change it, so x * ONE is not folded


def names(eqs):
    return [e.name for e in eqs]


def test_dce_drops_unused_and_keeps_guards():
    def f(x):
        unused = np.exp(x) * 3.0  # noqa: F841 - dead on purpose
        if np.sum(x) > 0:  # a guard on a value the output does not use: kept
            return np.sin(x)
        return np.cos(x)

    prog = ad.trace(f, np.ones(3), optimize=False)
    assert "numpy.exp" in names(prog.equations)
    eqs, outs = dce(prog.equations, prog.outputs)
    assert "numpy.exp" not in names(eqs) and "numpy.multiply" not in names(eqs)
    assert names(eqs) == ["numpy.sum", "numpy.greater", "guard", "numpy.sin"]
    assert len(prog.equations) == 6  # the input list is not modified
    p2 = prog.rewrite(dce)
    x = np.array([0.5, 1.0, 2.0])
    np.testing.assert_array_equal(p2(x), np.sin(x))


def test_cse_merges_repeats_only():
    def f(x, y):
        return np.sin(x) * np.sin(x) + np.sin(y) + np.sum(x, axis=0) + np.sum(x, axis=1)[0]

    prog = ad.trace(f, np.ones((2, 2)), np.ones((2, 2)), optimize=False)
    assert names(prog.equations).count("numpy.sin") == 3
    eqs, outs = cse(prog.equations, prog.outputs)
    assert names(eqs).count("numpy.sin") == 2  # sin(x) once, sin(y) kept
    assert names(eqs).count("numpy.sum") == 2  # different axes are different sums
    p2 = prog.rewrite(cse)
    x, y = np.arange(4.0).reshape(2, 2), -np.arange(4.0).reshape(2, 2)
    np.testing.assert_allclose(p2(x, y), f(x, y), rtol=1e-15)


def test_cse_keeps_repeated_random_calls():
    def f(x):
        return np.random.default_rng(0).standard_normal() + x

    prog = ad.trace(f, 1.0, optimize=False)  # the draw is frozen: a constant
    assert prog(1.0) == ad.trace(f, 1.0)(1.0)


def test_cse_dedupes_guards():
    def f(x):
        a = x * 2 if x > 0 else x
        return a * 3 if x > 0 else a

    prog = ad.trace(f, 1.0, optimize=False)
    assert names(prog.equations).count("guard") == 2
    assert names(cse(prog.equations, prog.outputs)[0]).count("guard") == 1


def test_simplify_identities():
    def f(x):
        y = x * 1.0 + 0.0
        y = 1 * (0.0 + y) / 1.0 - 0.0
        y = np.reshape(y, (2, 3)) ** 1
        y = np.broadcast_to(y, (2, 3)).astype(np.float64)
        y = np.transpose(y, (0, 1))
        return y * ONE + np.reshape(y, (3, 2)).T

    prog = ad.trace(f, np.ones((2, 3)), optimize=False)
    eqs, outs = simplify(prog.equations, prog.outputs)
    assert names(eqs) == ["numpy.multiply", "numpy.reshape", "numpy.transpose", "numpy.add"]
    x = np.arange(6.0).reshape(2, 3)
    p2 = prog.rewrite(simplify)
    np.testing.assert_array_equal(p2(x), f(x))
    ONE[...] = 2.0  # the writable constant is read at replay, not folded away
    try:
        np.testing.assert_array_equal(p2(x), f(x))
    finally:
        ONE[...] = 1.0


def test_simplify_keeps_broadcasting_and_casting_identities():
    def f(x):
        return x * np.ones(3)[0] + np.zeros((2, 1)), (x * 1).astype(np.float32)

    prog = ad.trace(f, np.ones(3), optimize=False)
    eqs, _ = simplify(prog.equations, prog.outputs)
    # x + zeros((2, 1)) broadcasts to (2, 3) and the cast changes the dtype: both kept
    assert "numpy.add" in names(eqs) and "numpy.ndarray.astype" in names(eqs)


def test_default_pipeline_on_a_hessian_is_smaller_and_equal():
    A = np.random.default_rng(1).standard_normal((4, 4))

    def f(x):
        return ad.logsumexp(A @ x) + 0.5 * np.sum(x * x)

    h = ad.hessian(f)
    x0 = np.ones(4)
    raw = ad.trace(h, x0, optimize=False)
    opt = ad.trace(h, x0)
    assert len(opt.equations) < len(raw.equations)
    x = np.array([0.3, -1.0, 2.0, 0.1])
    np.testing.assert_allclose(opt(x), raw(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(opt(x), h(x), rtol=1e-13, atol=1e-14)


UNARY = [np.sin, np.tanh, np.cos, lambda v: v * 1.0, lambda v: v + 0.0, np.square,
         lambda v: np.reshape(v, v.shape)]


@given(st.lists(st.integers(0, len(UNARY) - 1), min_size=1, max_size=12),
       st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_optimize_preserves_values(ops, xs):
    def f(x):
        vals = [x]
        for k in ops:
            vals.append(UNARY[k](vals[-1]) + UNARY[k](vals[len(vals) // 2]))
        return np.sum(vals[-1]) + np.sum(np.sin(vals[0]))

    x = np.array(xs)
    prog = ad.trace(ad.grad(f), x, optimize=False)
    eqs, outs = optimize(prog.equations, prog.outputs)
    assert len(eqs) <= len(prog.equations)
    np.testing.assert_allclose(prog.rewrite(optimize)(x), prog(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(prog(x), ad.grad(f)(x), rtol=1e-13, atol=1e-13)


def test_fold_reshapes():
    def f(x, s):
        a = np.reshape(x[None], (1, 1))  # a scalar given and stripped of length-1 axes
        b = (a * s)[0][None]             # [0] then [None] of a (1, 3): itself
        c = np.reshape(np.reshape(s, (3, 1)), (1, 3))
        return a[0, 0] + b + c + x[None][0]

    prog = ad.trace(f, 2.0, np.ones(3), optimize=False)
    eqs, outs = dce(*fold_reshapes(prog.equations, prog.outputs))
    reshapes = [e for e in eqs if e.name in ("numpy.reshape", "numpy.ndarray.__getitem__")]
    # a = reshape(x); a[0, 0] is x again; b is a * s; c is one reshape of s; x[None][0] is x
    assert len(reshapes) == 2 and all(e.args[0] in prog.inputs for e in reshapes)
    p2 = prog.rewrite(fold_reshapes)
    s = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(p2(3.0, s), f(np.float64(3.0), s))


def test_fold_reshapes_keeps_real_indexing():
    def f(x):
        return x[1:][None] + x[0]  # a slice and an index of a length-3 axis are not reshapes

    prog = ad.trace(f, np.arange(3.0), optimize=False)
    eqs, _ = fold_reshapes(prog.equations, prog.outputs)
    names_ = [e.name for e in eqs]
    assert names_.count("numpy.ndarray.__getitem__") == 2  # x[1:] and x[0]
    assert names_.count("numpy.reshape") == 1  # (x[1:])[None]
    np.testing.assert_array_equal(prog.rewrite(fold_reshapes)(np.array([1.0, 2.0, 4.0])),
                                  [[3.0, 5.0]])


def test_reuse_buffers_writes_into_dead_temporaries_only(tmp_path):
    from dualad.staging.passes import reuse_buffers

    def f(x, y):
        a = np.sin(x)        # fresh
        b = a * y            # a dies here: written in place
        c = np.exp(b) + b    # b is read twice (exp, then +): exp allocates, + reuses
        return c, np.tanh(y) * x  # x, y are inputs: never written

    x, y = RNG_BIG.standard_normal(10000), RNG_BIG.standard_normal(10000)
    x0, y0 = x.copy(), y.copy()
    prog = ad.trace(f, x, y)
    assert prog.source.count("_into(") >= 2
    raw = ad.trace(f, x, y, optimize=False)
    eqs, _ = reuse_buffers(raw.equations, raw.outputs)
    into = [eq for eq in eqs if eq.name.endswith("(in place)")]
    # a * y into a, exp(b) + b into exp(b), tanh(y) * x into tanh(y)
    assert [eq.name for eq in into] == ["numpy.multiply (in place)", "numpy.add (in place)",
                                        "numpy.multiply (in place)"]
    assert all(eq.args[0] not in raw.inputs for eq in into)
    c, d = prog(x, y)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    ref = f(x, y)
    np.testing.assert_allclose(c, ref[0], rtol=1e-15)
    np.testing.assert_allclose(d, ref[1], rtol=1e-15)
    small = ad.trace(f, x[:10], y[:10])
    assert "_into(" not in small.source  # small arrays: a fresh allocation is cheaper
    # the saved module carries the helper
    prog.save(tmp_path / "inplace.py")
    assert "def _into(" in (tmp_path / "inplace.py").read_text()


RNG_BIG = np.random.default_rng(5)


def test_simplify_turns_times_minus_one_into_negation():
    prog = ad.trace(lambda x: np.float64(-1.0) * np.cos(x) + x * -1, 2.0, optimize=False)
    eqs, _ = simplify(prog.equations, prog.outputs)
    assert [e.name for e in eqs] == ["numpy.cos", "numpy.negative", "numpy.negative", "numpy.add"]
    assert prog.rewrite(simplify)(0.5) == -np.cos(0.5) - 0.5


def test_reuse_buffers_never_writes_under_a_live_view():
    from dualad.staging.passes import reuse_buffers

    def f(x):
        y = np.sin(x)
        z = y.reshape(-1)      # a view of y, read after y's last use
        t = y.T                # a view of y read by the same op as y's buffer
        w = np.cos(y).reshape(-1)
        return z + w, np.cos(y) * t

    x = RNG_BIG.standard_normal((100, 100))
    raw = ad.trace(f, x, optimize=False)
    eqs, _ = reuse_buffers(raw.equations, raw.outputs)
    sin_out = raw.equations[0].outs[0]
    assert not any(eq.name.endswith("(in place)") and eq.args[0] is sin_out for eq in eqs)
    ref = f(x)
    for got, want in zip(ad.trace(f, x)(x), ref):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(ad.jit(f)(x), ref):
        np.testing.assert_array_equal(got, want)


def _same_program(a, b):
    (ea, oa), (eb, ob) = a, b
    assert [repr(e) for e in ea] == [repr(e) for e in eb]
    assert [e.kwargs for e in ea] == [e.kwargs for e in eb]
    assert [repr(o) for o in oa] == [repr(o) for o in ob]


@pytest.mark.parametrize("which", ["hessian", "jacrev", "nn_grad"])
def test_one_walk_equals_the_passes_one_after_another(which):
    # optimize runs simplify, fold_reshapes and cse as rules of one walk: the same program as
    # running the three passes in turn
    import nn.functional as F
    A = np.random.default_rng(2).standard_normal((3, 4))
    fns = {
        "hessian": (ad.hessian(lambda x: ad.logsumexp(A @ x) + np.sum(np.sin(x) ** 2)),
                    (np.ones(4),)),
        "jacrev": (ad.jacrev(lambda x: np.tanh(A @ x) * x[:3] * 1.0 + 0.0), (np.ones(4),)),
        "nn_grad": (ad.grad(lambda w, x: F.cross_entropy(F.linear(F.relu(x), w), [1, 0, 2]),
                            argnums=(0, 1)), (A, np.ones((3, 4)))),
    }
    fn, args = fns[which]
    raw = ad.trace(fn, *args, optimize=False)
    eqs, outs = raw.equations, raw.outputs
    fused = optimize(eqs, outs)
    one_by_one = (eqs, outs)
    for p in (simplify, fold_reshapes, cse, dce):
        one_by_one = p(*one_by_one)
    from dualad.staging.passes import reuse_buffers
    _same_program(fused, reuse_buffers(*one_by_one))
    assert len(fused[0]) < len(eqs)


def test_recorded_inputs_are_what_the_equation_reads():
    # the tracer's fast path notes each equation's variables as it records it: the same list
    # Equation.inputs finds by looking through the arguments
    from dualad.staging.tracer import Equation

    def f(x, y):
        z = np.concatenate([x, y * 2.0]) + x[0]
        return np.sum(z * np.arange(6.0)) + np.where(x > 0, y, 1.0)[1] - 3.0 * x[2] ** 2

    from dualad.ops import Primitive
    scaled = Primitive("user.scaled", lambda x, pair: x * pair[0] + pair[1], nondiff=True)

    prog = ad.trace(ad.grad(f), np.ones(3), np.arange(3.0), optimize=False)
    # a variable inside a container argument
    both = ad.trace(lambda x, y: scaled.bind(x, (y, 1.0)), np.ones(2), 2.0, optimize=False)
    np.testing.assert_array_equal(both(np.full(2, 2.0), 3.0), [7.0, 7.0])  # x read anew
    assert both.equations[0].inputs == both.inputs
    for eq in prog.equations + both.equations:
        fresh = Equation(eq.prim, eq.args, eq.kwargs, eq.outs, None, eq.multi)
        assert eq.inputs == fresh.inputs, eq


def test_cse_keys_tell_unequal_literals_apart():
    # equal Python values that are different arguments (0.0 and -0.0, 1, True and 1.0, a list
    # and a tuple) never share a key; equal ones do
    from dualad.staging.passes import _key
    values = [(1, 2), [1, 2], (1.0, 2), ((1, 2),), [(1, 2)], {"a": (1, 2)}, {"a": [1, 2]},
              0.0, -0.0, (0.0,), (-0.0,), 1, True, 1.0, None, "x", (), [], np.float64(1.0)]
    keys = [_key(v) for v in values]
    for i in range(len(keys)):
        hash(keys[i])
        for j in range(i + 1, len(keys)):
            assert keys[i] != keys[j], (values[i], values[j])
    assert _key({"b": 1, "a": (2, 3)}) == _key({"a": (2, 3), "b": 1})
    assert _key([1, 2]) == _key([1, 2]) and _key(-0.0) == _key(-0.0)
