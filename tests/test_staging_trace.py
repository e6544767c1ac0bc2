"""ad.trace: the recorded program, its source, replays at other points than the traced one
(against eager dualad, hand-derived formulas and finite differences), and saved modules run
in a fresh isolated interpreter."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import dualad as ad
import nn.functional as F
from dualad import numeric
from dualad.ops import Primitive
from dualad.staging import GuardFailure, UnsavableError

RNG = np.random.default_rng(3)
W = RNG.standard_normal((3, 5))


def seed_f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def scalar_f(x):
    return np.sum(np.tanh(W @ x) ** 2) + ad.logsumexp(x) + 0.5 * np.sum(x * x)


def vector_g(x):
    return np.tanh(W @ x) * np.sin(x[:3])


def aux_f(x):
    return np.sum(x ** 3), {"peak": np.max(x), "n": x.shape[0]}


def _leaves_close(a, b, rtol=1e-12, atol=1e-12):
    la, da = ad.tree_flatten(a)
    lb, db = ad.tree_flatten(b)
    assert da == db
    for u, v in zip(la, lb):
        np.testing.assert_allclose(np.asarray(u, float), np.asarray(v, float), rtol=rtol,
                                   atol=atol)


# -- the seed function ------------------------------------------------------------------------

def test_seed_value_and_source():
    prog = ad.trace(seed_f, 2.0, 5.0)
    assert math.isclose(prog(2.0, 5.0), math.log(2) + 10 - math.sin(5), rel_tol=1e-15)
    assert round(float(prog(2.0, 5.0)), 3) == 11.652
    src = str(prog)
    assert src == prog.source and src.startswith("def program(x1, x2):")
    assert "np.log(x1)" in src and "np.sin(x2)" in src and "x1 * x2" in src
    names = [eq.name for eq in prog.equations]
    assert names == ["numpy.log", "numpy.multiply", "numpy.add", "numpy.sin", "numpy.subtract"]
    assert all(eq.shapes == [()] and eq.dtypes == [np.float64] for eq in prog.equations)
    assert prog.equations[1].inputs == prog.inputs  # x1 * x2 reads both inputs
    assert "test_staging_trace.py" in prog.equations[0].line  # the user's line


def test_seed_gradient_replays_at_other_points():
    prog = ad.trace(ad.grad(seed_f, argnums=(0, 1)), 2.0, 5.0)
    d1, d2 = prog(2.0, 5.0)
    assert d1 == pytest.approx(5.5, abs=1e-15)
    assert d2 == pytest.approx(2.0 - math.cos(5.0), abs=1e-15)  # 1.7163...
    for x1, x2 in [(0.5, -1.0), (3.0, 0.25)]:
        d1, d2 = prog(x1, x2)  # ∂/∂x1 = 1/x1 + x2, ∂/∂x2 = x1 − cos x2
        assert d1 == pytest.approx(1 / x1 + x2, rel=1e-14)
        assert d2 == pytest.approx(x1 - math.cos(x2), rel=1e-14)
    assert "np.cos(x2)" in prog.source and "numpy.log" not in [e.name for e in prog.equations]


# -- every transform, replayed at a new point ---------------------------------------------------

X0 = RNG.standard_normal(5)
X1 = RNG.standard_normal(5)
V = RNG.standard_normal(5)
U = RNG.standard_normal(3)

TRANSFORMS = {
    "grad": (ad.grad(scalar_f), lambda x: (x,)),
    "grad_forward": (ad.grad(scalar_f, mode="forward"), lambda x: (x,)),
    "value_and_grad": (ad.value_and_grad(scalar_f), lambda x: (x,)),
    "jvp": (lambda x, v: ad.jvp(vector_g, (x,), (v,)), lambda x: (x, V)),
    "vjp": (lambda x, u: ad.vjp(vector_g, x)[1](u), lambda x: (x, U)),
    "jacfwd": (ad.jacfwd(vector_g), lambda x: (x,)),
    "jacrev": (ad.jacrev(vector_g), lambda x: (x,)),
    "hessian": (ad.hessian(scalar_f), lambda x: (x,)),
    "hvp": (lambda x, v: ad.hvp(scalar_f, (x,), (v,)), lambda x: (x, V)),
    "has_aux": (ad.grad(aux_f, has_aux=True), lambda x: (x,)),
    "nested": (ad.grad(lambda x: np.sum(ad.grad(scalar_f)(x) ** 2)), lambda x: (x,)),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_traced_equals_eager(name):
    fn, args = TRANSFORMS[name]
    prog = ad.trace(fn, *args(X0))
    _leaves_close(prog(*args(X0)), fn(*args(X0)))
    _leaves_close(prog(*args(X1)), fn(*args(X1)))  # replay elsewhere: nothing stale


def test_traced_derivatives_match_finite_differences():
    g = ad.trace(ad.grad(scalar_f), X0)
    np.testing.assert_allclose(g(X1), numeric.gradient(scalar_f, X1), rtol=1e-7, atol=1e-8)
    h = ad.trace(ad.hessian(scalar_f), X0)
    np.testing.assert_allclose(h(X1), numeric.jacobian(ad.grad(scalar_f), X1), rtol=1e-6,
                               atol=1e-7)
    j = ad.trace(ad.jacrev(vector_g), X0)
    np.testing.assert_allclose(j(X1), numeric.jacobian(vector_g, X1), rtol=1e-7, atol=1e-8)


def test_program_is_numpy_code_dualad_differentiates():
    # the replay is NumPy code: check_grads differentiates it again, both modes
    prog = ad.trace(scalar_f, X0)
    ad.check_grads(prog, (X1,))
    gprog = ad.trace(ad.grad(scalar_f), X0)
    np.testing.assert_allclose(ad.jacfwd(gprog)(X1), ad.hessian(scalar_f)(X1), rtol=1e-10,
                               atol=1e-12)


def test_nn_functional_and_cross_entropy():
    labels = np.array([1, 0])

    def loss(w, b, x):
        return F.cross_entropy(F.linear(F.relu(x), w, b), labels)

    w, b, x = RNG.standard_normal((4, 6)), RNG.standard_normal(4), RNG.standard_normal((2, 6))
    fn = ad.grad(loss, argnums=(0, 1))
    prog = ad.trace(fn, w, b, x)
    _leaves_close(prog(w, b, x), fn(w, b, x))
    x2 = RNG.standard_normal((2, 6))
    _leaves_close(prog(w * 2, b, x2), fn(w * 2, b, x2))


@given(st.floats(0.1, 10.0), st.floats(-10.0, 10.0))
def test_seed_gradient_property(x1, x2):
    prog = _SEED_GRAD
    d1, d2 = prog(x1, x2)
    assert d1 == pytest.approx(1 / x1 + x2, rel=1e-12, abs=1e-12)
    assert d2 == pytest.approx(x1 - math.cos(x2), rel=1e-12, abs=1e-12)


_SEED_GRAD = ad.trace(ad.grad(seed_f, argnums=(0, 1)), 2.0, 5.0)


# -- structure, statics, bad input --------------------------------------------------------------

def test_pytrees_and_static_arguments():
    def f(p, n):
        return {"y": p["a"] * n + np.sum(p["b"] ** 2), "z": (p["a"], 3.0)}

    p = {"a": np.ones(2), "b": np.arange(3.0)}
    prog = ad.trace(f, p, 4, static_argnums=1)
    out = prog({"a": np.full(2, 2.0), "b": np.ones(3)}, 4)
    np.testing.assert_allclose(out["y"], [11.0, 11.0])
    assert out["z"][1] == 3.0
    with pytest.raises(ValueError, match="signature"):
        prog(p, 5)  # another static value
    with pytest.raises(ValueError, match="signature"):
        prog({"a": np.ones(3), "b": np.ones(3)}, 4)  # another shape: never a wrong result


def test_bad_outputs_and_arguments():
    with pytest.raises(TypeError, match="output leaf 0 .* str"):
        ad.trace(lambda x: "no", 1.0)
    with pytest.raises(TypeError, match="static_argnums"):
        ad.trace(lambda x, s: x, 1.0, "s")
    with pytest.raises(TypeError, match="must be callable"):
        ad.trace(3, 1.0)


def test_unstageable_op_names_it():
    with pytest.raises(TypeError, match="numpy.add.at"):
        ad.trace(lambda x: np.add.at(x, [0], 1.0), np.ones(3))


def test_escaped_value_is_refused():
    kept = []

    def f(x):
        kept.append(x * 2)
        return x

    ad.trace(f, np.ones(2))
    with pytest.raises(ValueError, match="another trace"):
        ad.trace(lambda x: x + kept[0], np.ones(2))


def test_functions_outside_the_op_table_are_staged_as_calls():
    def f(x):
        i = np.argmax(x)  # no derivative rule needed to stage it
        return np.where(x > 0, x, 0.0) * 2.0, i

    prog = ad.trace(f, np.array([1.0, -2.0, 3.0]))
    y, i = prog(np.array([5.0, -1.0, 2.0]))
    np.testing.assert_array_equal(y, [10.0, 0.0, 4.0])
    assert i == 0
    assert "np.argmax(x1)" in prog.source


def test_guard_failure_on_replay():
    def f(x):
        return x * 2 if x > 0 else -x

    prog = ad.trace(f, 1.0)
    assert prog(3.0) == 6.0
    assert [e.name for e in prog.equations].count("guard") == 1
    with pytest.raises(GuardFailure, match="bool"):
        prog(-3.0)


# -- frozen values ---------------------------------------------------------------------------

SCALE = np.array([1.0, 2.0])


def test_global_array_is_read_at_replay_and_draws_are_frozen():
    draw = []

    def f(x):
        noise = np.random.default_rng(0).standard_normal(2)
        draw.append(noise)
        return x * SCALE + noise

    prog = ad.trace(f, np.zeros(2))
    np.testing.assert_allclose(prog(np.ones(2)), SCALE + draw[0])
    SCALE[:] = [10.0, 20.0]  # the array itself: read again at replay
    try:
        np.testing.assert_allclose(prog(np.ones(2)), SCALE + draw[0])
    finally:
        SCALE[:] = [1.0, 2.0]
    assert len(draw) == 1  # side effects happen once, while tracing


# -- saved modules -----------------------------------------------------------------------------

# the packages of this project made unimportable, also where dualad is installed next to numpy
_BLOCK = "import sys; sys.modules.update(dualad=None, reverse=None, nn=None)\n"


def _run_isolated(tmp_path, code):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run([sys.executable, "-I", "-c", _BLOCK + code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_saved_program_runs_without_dualad(tmp_path):
    h = ad.trace(ad.hessian(scalar_f), X0)  # W (15 entries) and larger seeds as constants
    g = ad.trace(ad.grad(seed_f, argnums=(0, 1)), 2.0, 5.0)
    h.save(tmp_path / "hess.py")
    g.save(tmp_path / "seedgrad.py")
    src = (tmp_path / "hess.py").read_text()
    assert "dualad" not in src.replace("dualad.trace", "")
    np.save(tmp_path / "x1.npy", X1)
    code = ("import sys; sys.path.insert(0, '.')\n"
            "try:\n    import dualad\nexcept ImportError:\n    print('no dualad')\n"
            "import numpy as np, hess, seedgrad\n"
            "np.save('h.npy', hess.run(np.load('x1.npy')))\n"
            "print(repr(seedgrad.run(2.0, 5.0)))\n")
    out = _run_isolated(tmp_path, code)
    assert out.splitlines()[0] == "no dualad"
    np.testing.assert_allclose(np.load(tmp_path / "h.npy"), ad.hessian(scalar_f)(X1),
                               rtol=1e-12, atol=1e-13)
    assert "5.5" in out.splitlines()[1] and "1.7163378145367738" in out.splitlines()[1]


def test_saved_large_constants_and_pytrees(tmp_path):
    big = RNG.standard_normal((40, 40))

    def f(x):
        return {"a": big @ x, "b": [np.sum(x), x[::2]]}

    prog = ad.trace(f, X0[:4].repeat(10))
    prog.save(tmp_path / "big.py")
    x = RNG.standard_normal(40)
    np.save(tmp_path / "x.npy", x)
    _run_isolated(tmp_path, "import sys; sys.path.insert(0, '.')\nimport numpy as np, big\n"
                            "r = big.run(np.load('x.npy'))\n"
                            "np.save('a.npy', r['a']); np.save('b1.npy', r['b'][1])\n")
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), big @ x, rtol=1e-14)
    np.testing.assert_array_equal(np.load(tmp_path / "b1.npy"), x[::2])


def test_unsavable_program_says_why(tmp_path):
    double = Primitive("user.double", lambda x: 2.0 * x, nondiff=True)  # no NumPy spelling
    prog = ad.trace(lambda x: double.bind(x) + 1.0, np.ones(2))
    np.testing.assert_array_equal(prog(np.full(2, 3.0)), [7.0, 7.0])
    with pytest.raises(UnsavableError, match="function"):
        prog.save(tmp_path / "x.py")


def test_evaluate_interprets_the_equations():
    prog = ad.trace(seed_f, 2.0, 5.0)
    env = prog.evaluate(3.0, 1.0)
    values = [float(env[eq.outs[0]]) for eq in prog.equations]
    assert values == [math.log(3.0), 3.0, math.log(3.0) + 3.0, math.sin(1.0),
                      math.log(3.0) + 3.0 - math.sin(1.0)]
    branchy = ad.trace(lambda x: x * 2 if x > 0 else -x, 1.0)
    with pytest.raises(GuardFailure):
        branchy.evaluate(-1.0)


def test_in_place_writes_stay_single_assignment():
    # item assignment and x op= y on a staged array rebind it to a new variable
    def f(x):
        y = x * 2.0
        y[0] = 5.0
        y += x
        return y
    prog = ad.trace(f, np.ones(3))
    x = np.arange(3.0)
    np.testing.assert_array_equal(prog(x), [5.0, 3.0, 6.0])
    g = ad.grad(lambda v: np.sum(f(v) ** 2))
    np.testing.assert_array_equal(ad.trace(g, np.ones(3))(x), g(x))


def test_constants_changed_while_tracing_keep_their_captured_value():
    # an array read by a primitive and then written in place while tracing: the program keeps
    # the value it was read with; one left alone (NaNs included) stays the array itself, read
    # anew at replay
    acc = np.array([1.0, 2.0])
    same = np.array([np.nan, 3.0])

    def f(x):
        y = x * acc + same
        acc[:] = 0.0  # after the read: the traced value was [1, 2]
        return y

    prog = ad.trace(f, np.ones(2))
    acc[:] = [5.0, 6.0]
    np.testing.assert_array_equal(prog(np.ones(2)), [np.nan, 5.0])
    same[1] = 10.0
    np.testing.assert_array_equal(prog(np.ones(2)), [np.nan, 12.0])


def test_backward_equations_get_no_line_of_the_trace_call():
    # the forward equations carry the traced function's lines; the sweep's equations have no
    # user frame inside the traced function (not the line that called ad.trace)
    prog = ad.trace(ad.grad(seed_f, argnums=(0, 1)), 2.0, 5.0, optimize=False)
    lines = [eq.line for eq in prog.equations]
    here = "test_staging_trace.py"
    assert lines[0] is not None and here in lines[0]
    src_line = seed_f.__code__.co_firstlineno + 1
    assert all(ln is None or ln == f"{here}:{src_line}" for ln in lines)
    assert None in lines


def test_a_sweep_inside_the_function_has_the_line_that_started_it():
    import reverse as rv

    def f(x):
        t = rv.Tensor(x, requires_grad=True)
        y = np.sum(np.sin(t) * t)
        y.backward()  # the sweep's equations: this line
        return t.grad

    prog = ad.trace(f, np.ones(3), optimize=False)
    start = f.__code__.co_firstlineno
    lines = [eq.line for eq in prog.equations]
    here = "test_staging_trace.py"
    assert lines[:3] == [f"{here}:{start + 2}"] * 3  # sin, multiply, sum
    assert len(lines) > 3 and set(lines[3:]) == {f"{here}:{start + 3}"}
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(prog(x), np.sin(x) + x * np.cos(x), rtol=1e-15)


def test_ufunc_methods_are_spelled_and_saved(tmp_path):
    def f(x):
        return np.add.reduce(x) + np.maximum.accumulate(x)

    prog = ad.trace(f, np.ones(4))
    assert "np.add.reduce(x1)" in prog.source and "np.maximum.accumulate(x1)" in prog.source
    prog.save(tmp_path / "methods.py")
    x = np.array([3.0, -1.0, 4.0, 1.0])
    np.save(tmp_path / "x.npy", x)
    _run_isolated(tmp_path, "import sys; sys.path.insert(0, '.')\nimport numpy as np, methods\n"
                            "np.save('y.npy', methods.run(np.load('x.npy')))\n")
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), f(x))
