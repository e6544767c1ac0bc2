"""ad.jit: one trace per signature, replays after; guards for Python control flow on traced
values (a branch, a value-dependent trip count, the specialization cap); every transform and
nn under jit against eager, and against finite differences through check_grads."""
import warnings

import numpy as np
import pytest

import dualad as ad
import nn
import nn.functional as F
from dualad.staging import MAX_SPECIALIZATIONS

RNG = np.random.default_rng(11)
W = RNG.standard_normal((3, 4))


def f(x):
    return np.sum(np.sin(W @ x) ** 2) + np.sum(np.exp(0.1 * x))


def g(x):
    return np.tanh(W @ x) * x[:3]


def test_cache_per_signature():
    jf = ad.jit(f)
    x = RNG.standard_normal(4)
    assert jf(x) == pytest.approx(f(x), rel=1e-14)
    assert jf(x + 1) == pytest.approx(f(x + 1), rel=1e-14)
    assert jf.traces == 1 and len(jf.programs(x)) == 1
    jf(x.astype(np.float32))  # another dtype
    assert jf.traces == 2
    jf(np.ones((4, 1))[:, 0] * 2)  # same signature (a view is an ndarray of that shape)
    assert jf.traces == 2
    with pytest.raises(ValueError):  # another shape: a new trace, which fails in f itself
        jf(np.ones(5))


def test_static_argnums():
    def h(x, n, mode):
        return x ** n if mode == "pow" else x * n

    jh = ad.jit(h, static_argnums=(1, 2))
    assert jh(3.0, 2, "pow") == 9.0 and jh(3.0, 3, "pow") == 27.0 and jh(3.0, 3, "mul") == 9.0
    assert jh(2.0, 3, "pow") == 8.0
    assert jh.traces == 3


def test_branch_traced_at_positive_is_right_at_negative():
    def branchy(x):
        if x > 0:
            return x ** 2
        return -3.0 * x

    jb = ad.jit(branchy)
    assert jb(2.0) == 4.0
    assert jb(-2.0) == 6.0  # the guard x > 0 fails: a second specialization
    assert jb(5.0) == 25.0 and jb(-1.0) == 3.0
    assert jb.traces == 2
    jg = ad.jit(ad.grad(branchy))
    assert jg(2.0) == 4.0 and jg(-2.0) == -3.0 and jg(3.0) == 6.0


def test_array_condition_branch():
    def h(x):
        return np.sum(x) if np.all(x > 0) else np.sum(x ** 2)

    jh = ad.jit(h)
    assert jh(np.ones(3)) == 3.0
    assert jh(np.array([1.0, -2.0, 1.0])) == 6.0
    assert jh(np.array([2.0, 2.0, 2.0])) == 6.0
    assert jh.traces == 2


def test_value_dependent_trip_count():
    def doubling(x):
        while x < 10:
            x = x * 2.0
        return x

    jd = ad.jit(doubling)
    assert jd(1.0) == 16.0  # four steps
    assert jd(3.0) == 12.0  # two steps: the third guard fails, a new trace
    assert jd(1.5) == 12.0  # three steps
    assert jd(2.0) == 16.0 and jd(0.75) == 12.0  # replays of the first two
    assert jd.traces == 3
    jgd = ad.jit(ad.grad(doubling))
    assert jgd(1.0) == 16.0 and jgd(3.0) == 4.0 and jgd(1.25) == 8.0


def test_range_of_a_traced_int():
    def s(x, n):
        total = 0.0
        for _ in range(n):  # __index__ of a traced integer: a guard on its value
            total = total + x
        return total

    js = ad.jit(s)
    assert js(2.0, 3) == 6.0 and js(2.0, 4) == 8.0 and js(1.0, 3) == 3.0
    assert js.traces == 2


def test_specialization_cap_warns_once_then_runs_eagerly():
    def stairs(x):
        return x * int(np.floor(x))

    js = ad.jit(stairs, max_specializations=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [js(k + 0.5) for k in range(6)]
    assert results == [(k + 0.5) * k for k in range(6)]
    assert js.traces == 3
    assert sum(issubclass(w.category, RuntimeWarning) for w in caught) == 1


TRANSFORMS = {
    "f": f,
    "grad": ad.grad(f),
    "value_and_grad": ad.value_and_grad(f),
    "jvp": lambda x: ad.jvp(g, (x,), (np.ones(4),)),
    "vjp": lambda x: ad.vjp(g, x)[1](np.ones(3)),
    "jacfwd": ad.jacfwd(g),
    "jacrev": ad.jacrev(g),
    "hessian": ad.hessian(f),
    "hvp": lambda x: ad.hvp(f, (x,), (np.arange(4.0),)),
    "has_aux": ad.grad(lambda x: (f(x), {"x2": x * 2}), has_aux=True),
    "nested": ad.jacfwd(ad.grad(lambda x: ad.grad(f)(x) @ x)),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transforms_under_jit(name):
    fn = TRANSFORMS[name]
    jf = ad.jit(fn)
    for _ in range(3):
        x = RNG.standard_normal(4)
        a, b = jf(x), fn(x)
        la, da = ad.tree_flatten(a)
        lb, db = ad.tree_flatten(b)
        assert da == db
        for u, v in zip(la, lb):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13)
    assert jf.traces == 1


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_check_grads_through_jitted_programs(name):
    # warmed up, the jitted function replays its program on the derivative tracers (every
    # transform: issue 14's "tested under jit against check_grads")
    calls = []

    def fn(x):
        calls.append(type(x).__name__)
        return TRANSFORMS[name](x)

    jf = ad.jit(fn)
    x = RNG.standard_normal(4)
    jf(x)
    ad.check_grads(jf, (x,))
    assert jf.traces == 1
    assert calls == ["Staged"]  # the checked derivatives are the program's, not f run again


def test_nn_functional_loss_with_parameters_as_arguments():
    labels = np.array([2, 0, 1])

    def loss(params, x):
        h = F.relu(F.linear(x, params["w1"], params["b1"]))
        return F.cross_entropy(F.linear(h, params["w2"]), labels)

    params = {"w1": RNG.standard_normal((6, 4)), "b1": RNG.standard_normal(6),
              "w2": RNG.standard_normal((3, 6))}
    step = ad.jit(ad.value_and_grad(loss))
    for _ in range(3):
        x = RNG.standard_normal((3, 4))
        (v1, g1), (v2, g2) = step(params, x), ad.value_and_grad(loss)(params, x)
        assert v1 == pytest.approx(v2, rel=1e-13)
        for k in params:
            np.testing.assert_allclose(g1[k], g2[k], rtol=1e-12, atol=1e-13)
        params = {k: v - 0.1 * g1[k] for k, v in params.items()}
    assert step.traces == 1


def test_nn_module_forward_and_backward():
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))

    def grads(x, y):
        model.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss, [p.grad for p in model.parameters()]

    jg = ad.jit(grads)
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 2))
    loss_j, g_j = jg(x, y)  # traced: side effects on .grad happen while tracing
    model.zero_grad()
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 2))
    loss_j, g_j = jg(x, y)  # replayed
    model.zero_grad()
    loss_e, g_e = grads(x, y)
    assert float(loss_j) == pytest.approx(loss_e.item(), rel=1e-13)
    for a, b in zip(g_j, g_e):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    fwd = ad.jit(lambda x: model(x))
    np.testing.assert_allclose(fwd(x), model(x).data, rtol=1e-14)


def test_jit_inside_trace_is_inlined():
    jf = ad.jit(f)
    prog = ad.trace(lambda x: 2.0 * jf(x), np.ones(4))
    x = RNG.standard_normal(4)
    assert prog(x) == pytest.approx(2 * f(x), rel=1e-14)
    assert jf.traces == 0


def test_decorator_forms():
    @ad.jit
    def a(x):
        return x + 1.0

    @ad.jit(static_argnums=1)
    def b(x, k):
        return x * k

    assert a(1.0) == 2.0 and b(2.0, 3) == 6.0
    assert MAX_SPECIALIZATIONS == 8


def test_keyword_arguments_are_refused_by_name():
    with pytest.raises(TypeError, match="keyword arguments.*scale"):
        ad.jit(lambda x, scale=1.0: x * scale)(1.0, scale=2.0)


def test_under_an_enclosing_transform_with_int_guards():
    def stairs(x):
        return x ** 2 * int(np.floor(x))  # an int guard: int() of a tracer cannot be checked

    js = ad.jit(stairs)
    assert js(2.5) == 12.5
    # grad outside the jitted function: the program cannot run its guard on a tracer, so f
    # runs eagerly under the transform
    assert ad.grad(js)(2.5) == pytest.approx(2 * 2.5 * 2)
    assert ad.grad(js)(3.5) == pytest.approx(2 * 3.5 * 3)


def test_a_hit_on_float64_arrays_runs_the_compiled_program_directly(monkeypatch):
    # no argument needs converting: the cache hit skips Program.replay (a float64 dtype
    # compares equal to float, which once sent every float64 signature the slow way)
    from dualad.staging import Program

    jf = ad.jit(lambda a, b: (a * b, {"s": a + b}))
    x, y = np.ones(3), np.arange(3.0)
    jf(x, y)
    jf(2.0, 3.0)
    replays = []
    real = Program.replay
    monkeypatch.setattr(Program, "replay", lambda self, leaves: replays.append(1) or
                        real(self, leaves))
    p, d = jf(x * 2, y)
    np.testing.assert_array_equal(p, 2 * y)
    np.testing.assert_array_equal(d["s"], 2 + y)
    assert replays == []
    assert jf(4.0, 0.5) == (2.0, {"s": 4.5}) and replays == [1]  # floats become np.float64
    assert jf.traces == 2
