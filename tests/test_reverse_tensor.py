"""reverse.Tensor: the seed examples, the Tensor surface, hooks, modes, errors, in-place safety,
anomaly detection, graph export and higher order with create_graph."""
from __future__ import annotations

import gc
import math
import threading

import numpy as np
import pytest

import dualad as ad
import reverse as rv
from dualad.ops import Primitive
from test_ops_elementwise import UNARY_OPS, unary_sample


def T(x, requires_grad=True):
    return rv.Tensor(np.asarray(x, dtype=float), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------------
# the seed examples
# ---------------------------------------------------------------------------------------------

def test_s1_table3_adjoints_in_one_sweep():
    # S1 Table 3: f = ln x1 + x1 x2 − sin x2 at (2, 5); one reverse sweep gives both adjoints
    x = T([2.0, 5.0])
    y = np.log(x[0]) + x[0] * x[1] - np.sin(x[1])
    assert y.data == pytest.approx(11.652071455223084, abs=1e-12)
    y.backward()
    np.testing.assert_allclose(x.grad, [5.5, 2.0 - math.cos(5.0)], rtol=1e-15)
    assert x.grad[1] == pytest.approx(1.716, abs=5e-4)


def test_s1_separate_leaves():
    x1, x2 = T(2.0), T(5.0)
    y = np.log(x1) + x1 * x2 - np.sin(x2)
    y.backward()
    assert float(x1.grad) == 5.5 and float(x2.grad) == pytest.approx(1.7163378145367738)


def test_s0_section_4_3_fan_out():
    # x = 2, x2 = x², y = x2·x2 + x2·x2: y = 32, dy/dx = 4·4·x³... = 64
    x = T(2.0)
    x2 = x ** 2
    y = x2 * x2 + x2 * x2
    assert float(y.data) == 32.0
    y.backward()
    assert float(x.grad) == 64.0


def test_s3_square_exp_square():
    x = T(0.5)
    y = np.square(np.exp(np.square(x)))
    assert float(y.data) == pytest.approx(1.648721270700128, abs=1e-15)
    y.backward()
    assert float(x.grad) == pytest.approx(3.297442541400256, abs=1e-15)


def test_s3_add_same_variable_twice():
    x = T(3.0)
    y = np.add(x, x)
    y.backward()
    assert float(x.grad) == 2.0
    # and accumulates across backward calls until zero_grad
    y2 = np.add(np.add(x, x), x)
    y2.backward()
    assert float(x.grad) == 5.0
    x.zero_grad()
    assert x.grad is None
    np.add(np.add(x, x), x).backward()
    assert float(x.grad) == 3.0


def test_s3_fan_out_through_generations():
    # a = x², then two branches square(a) each; y = their sum: y = 2x⁴, y' = 8x³ = 64 at x = 2
    x = T(2.0)
    a = np.square(x)
    y = np.add(np.square(a), np.square(a))
    y.backward()
    assert float(y.data) == 32.0 and float(x.grad) == 64.0


def test_s3_deep_chain_no_recursion_limit():
    x = T(0.5)
    y = x
    for _ in range(20000):
        y = y * 1.0
    y.backward()
    assert float(x.grad) == 1.0


def test_s2_quadratic_form_and_detach():
    xv = np.array([1.0, -2.0, 3.0])
    x = T(xv)
    y = 2.0 * (x.T @ x)
    y.backward()
    np.testing.assert_allclose(x.grad, 4.0 * xv)
    # detach: the same value, cut from the graph; gradients only flow through the other path
    x.zero_grad()
    y = 2.0 * (x.detach() @ x)
    assert not x.detach().requires_grad and x.detach().is_leaf
    y.backward()
    np.testing.assert_allclose(x.grad, 2.0 * xv)


# ---------------------------------------------------------------------------------------------
# the Tensor surface
# ---------------------------------------------------------------------------------------------

def test_construction_levels_and_attributes():
    data = np.arange(6.0).reshape(2, 3)
    t = rv.Tensor(data)
    assert t._level == rv.USER_LEVEL == 1
    assert t.shape == (2, 3) and t.dtype == np.float64 and t.ndim == 2 and t.size == 6
    assert not t.requires_grad and t.grad is None and t.is_leaf and t.op is None
    data[0, 0] = 99.0  # the Tensor took a copy
    assert t.data[0, 0] == 0.0
    assert t.T.shape == (3, 2)
    assert rv.Tensor(2.0).dtype == np.float64 and rv.Tensor(2.0).shape == ()
    f32 = rv.Tensor(np.ones(2, np.float32), requires_grad=True)
    (f32 * 2.0).sum().backward()
    assert f32.grad.dtype == np.float32
    # a Tensor around a tracer takes a fresh level, above the user levels
    d = rv.Tensor(ad.DualArray(1.0, 1.0))
    assert d._level > rv.USER_LEVEL
    assert rv.Tensor(ad.DualArray(1.0, 1.0))._level != d._level


def test_repr_and_item():
    x = T([1.0, 2.0])
    assert repr(x) == "Tensor(array([1., 2.]), requires_grad=True)"
    y = (x * 2).sum()
    assert "op=numpy.sum" in repr(y)
    assert y.item() == 6.0 and isinstance(y.item(), float)
    assert repr(rv.Tensor(1.5)) == "Tensor(array(1.5))"


def test_requires_grad_rules():
    with pytest.raises(TypeError, match="floating"):
        rv.Tensor(np.arange(3), requires_grad=True)
    i = rv.Tensor(np.arange(3))
    assert i.dtype.kind == "i"
    x = T([1.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    z = rv.Tensor([1.0, 2.0]).requires_grad_()
    assert z.requires_grad


def test_ops_without_grad_give_tensors_that_do_not_require_grad():
    c = rv.Tensor([1.0, 2.0])
    y = np.sin(c) * 2
    assert isinstance(y, rv.Tensor) and not y.requires_grad and y.op is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_comparisons_are_plain_and_integer_results_constant():
    x = T([1.0, -2.0, 3.0])
    m = x > 0
    assert isinstance(m, np.ndarray) and m.dtype == bool
    assert np.argmax(x) == 2
    y = np.where(x > 0, x, 0.0).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, [1.0, 0.0, 1.0])


def test_no_rule_errors_name_the_function():
    x = T(np.eye(2))
    with pytest.raises(TypeError, match="no VJP rule for numpy.linalg.eig"):
        np.linalg.eig(x)
    novjp = Primitive("test.novjp", np.sin, jvp=lambda ts, ans, x: ts[0] * np.cos(x))
    with pytest.raises(TypeError, match="no VJP rule for test.novjp"):
        novjp.bind(T(1.0))
    # without anything to differentiate, the op just runs
    assert float(novjp.bind(rv.Tensor(0.0)).data) == 0.0


def test_conversion_to_ndarray_refused():
    x = T([1.0, 2.0])
    with pytest.raises(TypeError, match=r"\.data"):
        np.asarray(x)
    with pytest.raises(TypeError):
        float(x[0])


def test_hashable_by_identity():
    x, y = T(1.0), T(1.0)
    state = {x: "a", y: "b"}
    assert state[x] == "a" and state[y] == "b"


# ---------------------------------------------------------------------------------------------
# backward: cotangents, retain_graph, errors
# ---------------------------------------------------------------------------------------------

def test_backward_needs_a_cotangent_for_non_scalars():
    x = T([1.0, 2.0, 3.0])
    y = x * x
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*y.backward\(np.ones"):
        y.backward()
    y.backward(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, 12.0])
    with pytest.raises(RuntimeError, match=r"cotangent has shape \(2,\)"):
        (x * x).backward(np.ones(2))
    # a one-element output needs none
    (x[1:2] * 3).backward()


def test_second_sweep_over_freed_graph_raises_and_retain_graph_allows_it():
    x = T(3.0)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    x.zero_grad()
    y = np.sin(x) * x
    y.backward(retain_graph=True)
    first = float(x.grad)
    y.backward()
    assert float(x.grad) == pytest.approx(2 * first)
    with pytest.raises(RuntimeError, match="numpy.multiply"):
        y.backward()


def test_backward_frees_saved_values():
    x = T(np.ones(4))
    y = np.exp(x) * 2.0
    node = y._node
    y.sum().backward()
    assert node.args is None and node.ans is None


def test_backward_of_a_leaf_and_user_cotangent_is_not_aliased():
    x = T([1.0, 2.0])
    ct = np.array([3.0, 4.0])
    x.backward(ct)
    ct[0] = 100.0
    np.testing.assert_allclose(x.grad, [3.0, 4.0])
    x.grad[0] = 7.0  # .grad is an array of its own, writable
    assert ct[0] == 100.0


def test_sum_gradient_is_a_writable_array():
    x = T(np.ones((2, 3)))
    x.sum().backward()
    assert x.grad.flags.writeable and x.grad.shape == (2, 3)
    x.grad *= 2


# ---------------------------------------------------------------------------------------------
# hooks
# ---------------------------------------------------------------------------------------------

def test_hooks_see_the_total_gradient_once_and_may_replace_it():
    x = T([1.0, 2.0])
    z = x * 3.0
    seen = []

    def hook(g):
        seen.append(np.array(g))
        return g * 10.0
    handle = z.register_hook(hook)
    y = (z * z).sum() + z.sum()  # two uses of z: the hook sees their sum, once
    y.backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * 3.0 * np.array([1.0, 2.0]) + 1.0)
    np.testing.assert_allclose(x.grad, 3.0 * 10.0 * seen[0])
    handle.remove()
    x.zero_grad()
    ((x * 3.0) * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])
    handle.remove()  # a second remove is harmless


def test_leaf_hook_and_removal():
    x = T([1.0, 2.0])
    calls = []
    h = x.register_hook(lambda g: calls.append(g) or -g)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [-2.0, -4.0])
    assert len(calls) == 1
    h.remove()
    x.zero_grad()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        rv.Tensor(1.0).register_hook(print)


def test_hook_with_wrong_shape_raises():
    x = T([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: np.ones(3))
    with pytest.raises(RuntimeError, match="hook returned a gradient of shape"):
        y.sum().backward()


def test_retain_grad_on_intermediate():
    x = T([1.0, 2.0])
    z = x * 3.0
    z.retain_grad()
    z.retain_grad()  # idempotent
    (z * z).sum().backward()
    np.testing.assert_allclose(z.grad, 2 * z.data)


# ---------------------------------------------------------------------------------------------
# grad modes
# ---------------------------------------------------------------------------------------------

def test_no_grad_and_enable_grad():
    x = T([1.0, 2.0])
    assert rv.is_grad_enabled()
    with rv.no_grad():
        assert not rv.is_grad_enabled()
        y = x * 2
        with rv.enable_grad():
            z = x * 2
        w = x * 2
    assert rv.is_grad_enabled()
    assert not y.requires_grad and z.requires_grad and not w.requires_grad

    @rv.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad and rv.is_grad_enabled()
    with rv.set_grad_enabled(False):
        assert not (x * 2).requires_grad


def test_no_grad_is_per_thread():
    results = {}
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        results["worker"] = rv.is_grad_enabled()
    with rv.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        barrier.wait()
        t.join()
    assert results["worker"] is True


def test_no_grad_update_step():
    w = T([1.0, 2.0])
    loss = (w * w).sum()
    loss.backward()
    with rv.no_grad():
        w -= 0.25 * w.grad
    np.testing.assert_allclose(w.data, [0.5, 1.0])
    assert w.is_leaf and w.requires_grad


# ---------------------------------------------------------------------------------------------
# in-place operations never give a wrong gradient
# ---------------------------------------------------------------------------------------------

def test_inplace_on_leaf_that_requires_grad_raises():
    x = T([1.0, 2.0])
    for op in (lambda: x.__iadd__(1.0), lambda: x.__setitem__(0, 3.0),
               lambda: np.add(x, 1.0, out=x), lambda: x.__imul__(2.0)):
        with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
            op()
    np.testing.assert_allclose(x.data, [1.0, 2.0])


def test_inplace_on_saved_intermediate_is_recorded():
    xv = np.array([1.0, 2.0, 3.0])
    x = T(xv)
    y = x * 2
    z = y * y        # saves y
    y += 1           # y is now 2x + 1; z still used the old y
    y *= 3           # 6x + 3
    (z.sum() + y.sum()).backward()
    np.testing.assert_allclose(x.grad, 8 * xv + 6)
    np.testing.assert_allclose(y.data, 6 * xv + 3)


def test_setitem_on_intermediate():
    xv = np.array([1.0, 2.0, 3.0])
    x = T(xv)
    y = np.exp(x)
    y[0] = 5.0                       # the exp node saved y: unaffected
    y[np.array([2])] = x[1] * 2.0    # the new value flows from x[1]
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 2 * np.exp(2.0) * np.exp(2.0) + 8 * 2.0, 0.0])
    np.testing.assert_allclose(y.data, [5.0, np.exp(2.0), 4.0])
    with pytest.raises(RuntimeError, match="repeated indices"):
        z = x * 1.0
        z[[0, 0]] = x[:2]


def test_setitem_and_inplace_without_grad():
    c = rv.Tensor([1.0, 2.0, 3.0])
    c[1] = 7.0
    c += 1.0
    np.add(c, 1.0, out=c)
    np.testing.assert_allclose(c.data, [3.0, 9.0, 5.0])
    with pytest.raises(ValueError, match="does not fit"):
        c += np.ones((2, 3))
    i = rv.Tensor(np.arange(3))
    with pytest.raises(TypeError, match="same_kind"):
        i += 0.5


def test_constant_becomes_tracked_when_assigned_a_tracked_value():
    x = T(2.0)
    buf = rv.Tensor(np.zeros(3))
    buf[1] = x * 3.0
    assert buf.requires_grad and not buf.is_leaf
    (buf * buf).sum().backward()
    assert float(x.grad) == pytest.approx(2 * 6.0 * 3.0)


def test_out_argument_records():
    x = T([1.0, 2.0])
    y = x * 1.0
    r = np.multiply(y, y, out=y)
    assert r is y
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    with pytest.raises(TypeError, match="single Tensor"):
        np.add(x, 1.0, out=np.zeros(2))


def test_writes_through_data_after_save_do_not_change_the_gradient():
    x = T([1.0, 2.0])
    c = rv.Tensor([3.0, 4.0])
    y = np.exp(x) * c      # saves exp(x) (for c) and c (for x)
    e = y._node            # (keep the node to look at it)
    c.data[0] = 100.0      # the tape holds its own array: .data hands out a copy
    y.data[1] = -1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp([1.0, 2.0]) * [3.0, 4.0])
    assert e is not None
    np.testing.assert_allclose(c.data, [100.0, 4.0])


def test_stale_data_handle_cannot_write_into_a_saved_array():
    x = T([1.0, 2.0])
    handle = x.data
    y = x * x
    with pytest.raises(ValueError, match="read-only"):
        handle[0] = 5.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    fresh = x.data
    fresh[0] = 5.0  # a new array: writable, and the Tensor sees it
    assert x.data[0] == 5.0


def test_no_grad_update_between_forward_and_retained_sweep():
    w = T([1.0, 2.0])
    y = (w * w).sum()
    y.backward(retain_graph=True)
    with rv.no_grad():
        w -= 1.0           # a new value for w; the tape kept the old one
    w.zero_grad()
    y.backward()
    np.testing.assert_allclose(w.grad, [2.0, 4.0])
    np.testing.assert_allclose(w.data, [0.0, 1.0])


def test_copy_is_not_an_alias():
    x = T([1.0, 2.0])
    y = x * 1.0
    z = y.copy()
    w = np.copy(y)
    p = +y
    z += 1.0
    w += 2.0
    p += 3.0
    np.testing.assert_allclose(y.data, [1.0, 2.0])
    (z + w + p).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


# ---------------------------------------------------------------------------------------------
# detect_anomaly
# ---------------------------------------------------------------------------------------------

def test_detect_anomaly_names_the_op():
    with rv.detect_anomaly():
        x = T([0.0, 1.0])
        y = np.sqrt(x).sum()
        with np.errstate(divide="ignore"), \
                pytest.raises(RuntimeError, match=r"numpy\.sqrt.*inf.*recorded at .*test_reverse"):
            y.backward()
    assert not rv.is_anomaly_enabled()
    # without it, the inf just arrives
    x = T([0.0, 1.0])
    with np.errstate(divide="ignore"):
        np.sqrt(x).sum().backward()
    assert np.isinf(x.grad[0])


def test_detect_anomaly_nan():
    x = T([-1.0, 1.0])
    with np.errstate(invalid="ignore"):
        y = np.log(x).sum()
    with rv.detect_anomaly(), np.errstate(invalid="ignore"):
        y.backward(retain_graph=True)  # 1/x is finite: the nan is only in the forward value
        z = (np.sqrt(x) * 1.0).sum()
        with pytest.raises(RuntimeError, match="numpy.sqrt.*nan"):
            z.backward()


# ---------------------------------------------------------------------------------------------
# graph export
# ---------------------------------------------------------------------------------------------

def test_to_dot():
    x = rv.Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    w = rv.Tensor(np.ones(3), requires_grad=True)
    y = np.tanh(x * w).sum()
    dot = rv.to_dot(y, names={"weight": w})
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for text in ("numpy.tanh", "numpy.multiply", "numpy.sum", "x\\n(2, 3) float64",
                 "weight\\n(3,) float64", "(2, 3) float64"):
        assert text in dot, text
    assert dot.count("shape=box") == 3          # three ops
    assert dot.count("->") == 7                 # 2 leaves -> mul -> t -> tanh -> t -> sum -> out
    assert "\"leaf\\n" not in dot                            # every leaf has a name
    assert "\"leaf\\n(3,)" in rv.to_dot(y)                   # w has none of its own
    with pytest.raises(TypeError):
        rv.to_dot(np.ones(2))
    assert "lightblue" in rv.to_dot(x)


# ---------------------------------------------------------------------------------------------
# higher order: create_graph
# ---------------------------------------------------------------------------------------------

def test_s3_second_derivative_with_create_graph():
    # y = x⁴ − 2x² at x = 2: y' = 4x³ − 4x = 24, y'' = 12x² − 4 = 44
    x = T(2.0)
    y = x ** 4 - 2 * x ** 2
    y.backward(create_graph=True)
    gx = x.grad
    assert isinstance(gx, rv.Tensor) and float(gx.data) == 24.0
    x.zero_grad()
    gx.backward()
    assert float(x.grad) == 44.0


def test_newton_iteration_with_create_graph():
    # Newton's method on y = x⁴ − 2x²: converges to the minimum at x = 1 from x = 2
    x = T(2.0)
    for _ in range(10):
        x.zero_grad()
        y = x ** 4 - 2 * x ** 2
        y.backward(create_graph=True)
        gx = x.grad
        x.zero_grad()
        gx.backward()
        gx2 = x.grad
        with rv.no_grad():
            x.data = x.data - gx.data / gx2.data
    assert float(x.data) == pytest.approx(1.0, abs=1e-12)


def test_third_derivative():
    x = T(0.7)
    y = np.sin(x) * x
    y.backward(create_graph=True)
    g1 = x.grad
    x.zero_grad()
    g1.backward(create_graph=True)
    g2 = x.grad
    x.zero_grad()
    g2.backward()
    xv = 0.7
    assert float(x.grad) == pytest.approx(-3 * np.sin(xv) - xv * np.cos(xv), rel=1e-12)


@pytest.mark.parametrize("op", UNARY_OPS, ids=lambda op: getattr(op, "__name__", repr(op)))
def test_second_derivative_of_every_unary_entry(op):
    rng = np.random.default_rng(7)
    xv = unary_sample(op, rng, (3,))
    x = rv.Tensor(xv, requires_grad=True)
    op(x).sum().backward(create_graph=True)
    g = x.grad
    # forward over forward as the reference
    v = np.ones(3)
    ref = ad.jvp(lambda y: ad.jvp(op, (y,), (v,))[1], (xv,), (v,))[1]
    if not g.requires_grad:  # a linear op: its gradient is a constant
        np.testing.assert_array_equal(ref, 0.0)
        return
    x.zero_grad()
    g.sum().backward()
    np.testing.assert_allclose(x.grad, ref, rtol=1e-9, atol=1e-12)


def test_create_graph_hessian_vector_product_matches_analytic():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    xv = np.array([0.3, -0.4])
    x = T(xv)
    y = 0.5 * (x @ (a @ x)) + np.sum(x ** 3)
    y.backward(create_graph=True)
    g = x.grad
    x.zero_grad()
    v = np.array([1.0, 2.0])
    (g * v).sum().backward()
    np.testing.assert_allclose(x.grad, (a + np.diag(6 * xv)) @ v, rtol=1e-13)


def test_create_graph_hook_receives_a_tensor():
    x = T(1.5)
    y = x * x
    kinds = []
    y.register_hook(lambda g: kinds.append(type(g)))
    (y * 2.0).backward(create_graph=True)
    assert kinds == [rv.Tensor]


def test_graph_is_collected_when_outputs_die():
    x = T(np.ones(1000))
    y = np.exp(x) * 2.0
    node = y._node
    import weakref
    ref = weakref.ref(node)
    del y, node
    gc.collect()
    assert ref() is None


def test_a_failed_sweep_leaves_nothing_behind():
    x = T(2.0)
    shared = x * 3.0
    y = shared * shared
    y.backward(retain_graph=False)
    x.zero_grad()
    z = shared * 2.0        # reaches the freed graph below `shared`
    with pytest.raises(RuntimeError, match="a second time"):
        z.backward()
    assert shared._node.gout is None and x._gacc is None
    w = x * 5.0
    w.backward()            # a fresh graph over the same leaf is unaffected
    assert float(x.grad) == 5.0


def test_node_edges_format():
    # (i, producer, k) per argument that needs a cotangent: the notebooks walk the tape with it
    x = T(2.0)
    c = rv.Tensor(3.0)
    a = x * c                   # argument 1 is a constant: no edge
    y = np.sin(a) + x
    assert a._node.edges == ((0, x, 0),)
    (i0, p0, k0), (i1, p1, k1) = y._node.edges
    assert (i0, k0, i1, k1) == (0, 0, 1, 0) and p0.name == "numpy.sin" and p1 is x
    assert p0.edges == ((0, a._node, 0),) and p0.key > y._node.key
    np.testing.assert_allclose(y._node.args[0], np.sin(6.0))
    w, v = np.linalg.eigh(T(np.diag([1.0, 2.0])))
    z = w + v[:, 0]             # outputs 0 and 1 of one node with several results
    (_, eig, k_w), (_, getitem, _) = z._node.edges
    assert eig.name == "numpy.linalg.eigh" and k_w == 0
    assert getitem.edges == ((0, eig, 1),)


def test_create_graph_after_reading_data_and_after_a_real_update():
    x = T([1.0, 2.0])
    y = (x * x * x).sum()
    _ = x.data                       # a copy of the saved array: nothing changed
    y.backward(create_graph=True)
    g = x.grad
    x.zero_grad()
    g.sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 12.0])
    x = T([1.0, 2.0])
    y = (x * x * x).sum()
    with rv.no_grad():
        x -= 1.0                     # a real update between the forward pass and the sweep
    with pytest.raises(RuntimeError, match="numpy.multiply was given a new value"):
        y.backward(create_graph=True)


def test_gradients_never_alias_each_other():
    a, b = T([1.0, 2.0]), T([3.0, 4.0])
    (a + b).sum().backward()          # add hands the same cotangent to both arguments
    a.grad[0] = 100.0
    np.testing.assert_allclose(b.grad, [1.0, 1.0])
    x = T(np.ones((2, 3)))
    parts = np.split(x, 3, axis=1)    # views of one cotangent come back to one leaf: summed
    (parts[0] * 2.0 + parts[2]).sum().backward()
    np.testing.assert_allclose(x.grad, [[2.0, 0.0, 1.0], [2.0, 0.0, 1.0]])
    ga, gb = rv.vjp(lambda u, v: u + v, np.ones(2), np.ones(2))[1](np.array([1.0, 2.0]))
    ga[0] = 9.0
    np.testing.assert_allclose(gb, [1.0, 2.0])
