"""The fused layer entries of dualad.ops.layers: ``linear`` and softmax cross-entropy.

Each entry is checked against a formula written out here, then through every path its rules
run on: forward mode (K lanes against finite differences and against K single directions), the
adjoint identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩ between its JVP and VJP rules (probes, no tape), the
reverse tape (``check_reverse``: finite differences, forward mode, the functional form, K
cotangents in one sweep), and second derivatives in both modes (``check_grads(order=2)``, which
runs the rules on tracers). ``nn.Linear`` and ``nn.functional.cross_entropy``, which now use the
entries, are compared with the composed formulas they replaced.
"""
import numpy as np
import pytest
import scipy.special as sp

import dualad as ad
import nn
import nn.functional as F
import reverse as rv
from dualad import DualArray
from dualad.ops import all_primitives, layers
from ophelpers import check_adjoint, check_forward
from test_reverse_ops import check_reverse

MODES = ("forward", "reverse")
REDUCTIONS = ("mean", "sum", "none")


def rng_for(*tags):
    return np.random.default_rng(abs(hash(("layers",) + tags)) % 2 ** 32)


# ---------------------------------------------------------------------------------------------
# linear
# ---------------------------------------------------------------------------------------------

def linear_by_hand(x, w, b=None):
    """y[..., j] = Σ_k x[..., k] w[j, k] + b[j], as a broadcast product and a sum."""
    y = np.sum(x[..., None, :] * w, axis=-1)
    return y if b is None else y + b


# (x shape, weight shape): a batch, one vector, and extra leading axes
LINEAR_SHAPES = [((5, 4), (3, 4)), ((4,), (3, 4)), ((2, 3, 4), (5, 4))]


@pytest.mark.parametrize("xs,ws", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_the_formula(xs, ws, bias):
    rng = rng_for("linear", xs, bias)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[:1]) if bias else None
    ref = linear_by_hand(x, w, b)
    for fn in (layers.linear, F.linear):
        y = fn(x, w, b)
        assert type(y) is np.ndarray and y.shape == ref.shape
        np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-14)
    y32 = F.linear(x.astype(np.float32), w.astype(np.float32),
                   None if b is None else b.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs,ws", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_rules(xs, ws, bias):
    rng = rng_for("linear rules", xs, bias)
    args = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        args.append(rng.standard_normal(ws[:1]))
    out = check_forward(F.linear, args)
    np.testing.assert_allclose(out.primal, linear_by_hand(*args), rtol=1e-13, atol=1e-14)
    assert check_adjoint(F.linear, args) == ["dualad.linear"] * len(args)
    check_reverse(F.linear, args)
    # one argument at a time: the other rules must cope with constants
    for i in range(len(args)):
        check_forward(F.linear, args, argnums=[i])
        check_reverse(F.linear, args, argnums=[i])


@pytest.mark.parametrize("xs,ws", LINEAR_SHAPES[::2], ids=str)
def test_linear_second_order(xs, ws):
    rng = rng_for("linear order 2", xs)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[:1])
    ad.check_grads(lambda x, w, b: np.sin(F.linear(x, w, b)), (x, w, b), order=2,
                   modes=MODES)


def test_linear_bias_tangent_alone_broadcasts_over_rows():
    x, w, b = np.ones((3, 2)), np.ones((4, 2)), np.zeros(4)
    tb = np.arange(4.0)
    _, t = ad.jvp(lambda bb: F.linear(x, w, bb), (b,), (tb,))
    np.testing.assert_array_equal(t, np.broadcast_to(tb, (3, 4)))


def test_linear_on_tensors_gives_the_composed_gradients():
    rng = rng_for("linear tape")
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    u = rng.standard_normal((6, 3))
    tx, tw, tb = (rv.Tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.linear(tx, tw, tb)
    assert isinstance(y, rv.Tensor) and y.op == "dualad.linear"
    y.backward(u)
    # by hand: dy/dx = w, dy/dw = x, dy/db = 1, contracted with u
    np.testing.assert_allclose(tx.grad, u @ w, rtol=1e-13)
    np.testing.assert_allclose(tw.grad, u.T @ x, rtol=1e-13)
    np.testing.assert_allclose(tb.grad, u.sum(axis=0), rtol=1e-13)


def test_linear_errors():
    x, w = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="weight must be 2-d"):
        F.linear(x, np.ones(3))
    with pytest.raises(ValueError, match="in_features = 3"):
        F.linear(np.ones((2, 5)), w)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.linear(x, w, np.ones(3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.linear(rv.Tensor(x, requires_grad=True), w, np.ones((2, 4)))
    with pytest.raises(ValueError, match="in_features"):
        F.linear(DualArray(np.ones(2), np.ones(2)), w)


def test_nn_linear_unchanged():
    """nn.Linear's output and parameter gradients are those of ``x @ W.T + b``."""
    rng = rng_for("nn.Linear")
    lin = nn.Linear(4, 3)
    w, b = np.array(lin.weight.data), np.array(lin.bias.data)
    for xs in [(5, 4), (4,), (2, 5, 4)]:
        x = rng.standard_normal(xs)
        y = lin(x)
        assert isinstance(y, rv.Tensor)
        np.testing.assert_allclose(y.data, x @ w.T + b, rtol=1e-13, atol=1e-14)
        u = rng.standard_normal(y.shape)
        lin.zero_grad()
        y.backward(u)
        u2, x2 = u.reshape(-1, 3), x.reshape(-1, 4)
        np.testing.assert_allclose(lin.weight.grad, u2.T @ x2, rtol=1e-13)
        np.testing.assert_allclose(lin.bias.grad, u2.sum(axis=0), rtol=1e-13)
    nobias = nn.Linear(4, 3, bias=False)
    x = rng.standard_normal((2, 4))
    np.testing.assert_allclose(nobias(x).data, x @ np.array(nobias.weight.data).T, rtol=1e-13)


def test_nn_linear_with_a_computed_weight():
    """A weight replaced by a plain attribute (e.g. computed from another parameter) is used."""
    lin = nn.Linear(2, 2)
    del lin.weight
    lin.weight = np.eye(2) * 3.0
    np.testing.assert_allclose(lin(np.ones((1, 2))).data,
                               3.0 + np.array(lin.bias.data)[None], rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# softmax cross-entropy
# ---------------------------------------------------------------------------------------------

def ce_by_hand(z, labels, reduction):
    """log Σ_c exp z[n, c] − z[n, label], through scipy's logsumexp."""
    loss = sp.logsumexp(z, axis=1) - z[np.arange(len(labels)), labels]
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def ce_grad_by_hand(z, labels, reduction, u=1.0):
    """(softmax − onehot) times the cotangent (/N for the mean)."""
    r = sp.softmax(z, axis=1) - np.eye(z.shape[1])[labels]
    if reduction == "none":
        return r * np.asarray(u)[:, None]
    return r * u / (len(labels) if reduction == "mean" else 1)


Z = rng_for("ce").standard_normal((5, 4))
LABELS = np.array([0, 3, 1, 3, 2])
EXTREME = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 3.0], [0.0, 1e4, -1e4], [2.0, 2.0, 2.0]])
EXTREME_LABELS = np.array([0, 1, 2, 1])


def ce(reduction):
    return lambda z: layers.softmax_cross_entropy(z, LABELS, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_entry_matches_the_formula(reduction):
    for fn in (layers.softmax_cross_entropy, F.cross_entropy):
        np.testing.assert_allclose(fn(Z, LABELS, reduction), ce_by_hand(Z, LABELS, reduction),
                                   rtol=1e-14, atol=1e-15)
    # logits of ±1e4: finite, and exact where the formula is
    out = layers.softmax_cross_entropy(EXTREME, EXTREME_LABELS, "none")
    np.testing.assert_allclose(out, [0.0, 1e4 + 3.0, 2e4, np.log(3.0)], rtol=1e-15, atol=0)
    np.testing.assert_allclose(layers.softmax_cross_entropy(EXTREME, EXTREME_LABELS, reduction),
                               ce_by_hand(EXTREME, EXTREME_LABELS, reduction), rtol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_rules(reduction):
    out = check_forward(ce(reduction), [Z])
    np.testing.assert_allclose(out.primal, ce_by_hand(Z, LABELS, reduction), rtol=1e-14)
    assert check_adjoint(ce(reduction), [Z]) == ["dualad.softmax_cross_entropy"]
    check_reverse(ce(reduction), [Z])
    ad.check_grads(ce(reduction), (Z,), order=2, modes=MODES)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("z,labels", [(Z, LABELS), (EXTREME, EXTREME_LABELS)],
                         ids=["normal", "1e4"])
def test_cross_entropy_gradient_is_softmax_minus_onehot(reduction, z, labels):
    u = np.linspace(0.5, 2.0, len(labels)) if reduction == "none" else 1.0
    expected = ce_grad_by_hand(z, labels, reduction, u)
    f = lambda v: layers.softmax_cross_entropy(v, labels, reduction)  # noqa: E731
    out, vjp_fn = ad.vjp(f, z)
    (g,) = vjp_fn(np.asarray(u, dtype=float))
    np.testing.assert_allclose(g, expected, rtol=1e-13, atol=1e-15)
    # forward mode, one basis direction per lane: the same Jacobian
    _, jac = ad.jvp(f, (z,), (np.eye(z.size).reshape((z.size,) + z.shape),), lanes=True)
    jac = np.moveaxis(np.asarray(jac), 0, -1).reshape(np.shape(out) + z.shape)
    contracted = jac if reduction != "none" else np.tensordot(u, jac, axes=1)
    np.testing.assert_allclose(contracted, expected, rtol=1e-13, atol=1e-15)
    assert np.all(np.isfinite(g))


def test_cross_entropy_hessian_forward_over_reverse():
    """H = (diag(p) − p pᵀ)/N for each row, zero across rows: the VJP differentiated again."""
    h = ad.hessian(ce("mean"))(Z)
    p = sp.softmax(Z, axis=1)
    n, c = Z.shape
    expected = np.zeros((n, c, n, c))
    for i in range(n):  # (one block per sample, written out)
        expected[i, :, i, :] = (np.diag(p[i]) - np.outer(p[i], p[i])) / n
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-14)


def test_cross_entropy_create_graph():
    z = rv.Tensor(Z, requires_grad=True)
    loss = layers.softmax_cross_entropy(z, LABELS, "sum")
    loss.backward(create_graph=True)
    np.testing.assert_allclose(z.grad.data, ce_grad_by_hand(Z, LABELS, "sum"), rtol=1e-13)
    # Σ of the gradient over classes is 0 per row whatever z is: its derivative is 0
    w = rng_for("create_graph").standard_normal(Z.shape)
    g2 = z.grad
    z.grad = None
    np.sum(g2 * w).backward()
    p = sp.softmax(Z, axis=1)
    expected = p * (w - np.sum(p * w, axis=1, keepdims=True))  # (diag(p) − p pᵀ) w, per row
    np.testing.assert_allclose(z.grad, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_residuals_are_declared_read_only_and_optional(reduction):
    prim = layers.softmax_cross_entropy_p
    kw = dict(labels=LABELS, reduction=reduction)
    g = np.ones((1,) + np.shape(ce_by_hand(Z, LABELS, reduction)))
    expected = ce_grad_by_hand(Z, LABELS, reduction, g[0])[None]
    ans, residuals = prim.fwd(Z, **kw)
    np.testing.assert_allclose(ans, prim.impl(Z, **kw), rtol=0, atol=0)
    e, s = residuals
    before = (e.copy(), s.copy())
    with_res = prim.vjp(0, g, ans, Z, residuals=residuals, **kw)
    np.testing.assert_allclose(with_res, expected, rtol=1e-13, atol=1e-16)
    # the rule did not write into them: a retained graph is swept with the same residuals again
    np.testing.assert_array_equal(e, before[0])
    np.testing.assert_array_equal(s, before[1])
    again = prim.vjp(0, 2.0 * g, ans, Z, residuals=residuals, **kw)
    np.testing.assert_allclose(again, 2.0 * expected, rtol=1e-13, atol=1e-16)
    without = prim.vjp(0, g, ans, Z, **kw)  # none given: recomputed
    np.testing.assert_allclose(without, with_res, rtol=1e-14, atol=1e-17)


def test_the_tape_keeps_the_cross_entropy_residuals_with_its_record():
    t = rv.Tensor(Z, requires_grad=True)
    loss = F.cross_entropy(t, LABELS)
    e, s = loss._node.res
    p = sp.softmax(Z, axis=1)
    np.testing.assert_allclose(e / s, p, rtol=1e-14)
    assert "workspace" not in loss._node.kwargs
    loss.backward()
    assert loss._node.res is None  # freed with the record's other values
    np.testing.assert_allclose(t.grad, ce_grad_by_hand(Z, LABELS, "mean"), rtol=1e-13)


def test_cross_entropy_second_sweep_recomputes():
    t = rv.Tensor(Z, requires_grad=True)
    loss = F.cross_entropy(t, LABELS)
    loss.backward(retain_graph=True)
    first = np.array(t.grad)
    t.zero_grad()
    loss.backward()
    np.testing.assert_allclose(t.grad, first, rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(first, ce_grad_by_hand(Z, LABELS, "mean"), rtol=1e-13,
                               atol=1e-16)


@pytest.mark.parametrize("order", ["C", "F"])
def test_cross_entropy_non_contiguous_logits(order):
    z = np.asarray(Z, order=order)[:, ::-1]
    for data in (z, np.asfortranarray(z)):
        t = rv.Tensor(data, requires_grad=True)
        loss = F.cross_entropy(t, LABELS)
        loss.backward()
        np.testing.assert_allclose(loss.data, ce_by_hand(z, LABELS, "mean"), rtol=1e-14)
        np.testing.assert_allclose(t.grad, ce_grad_by_hand(z, LABELS, "mean"), rtol=1e-13,
                                   atol=1e-15)


def test_cross_entropy_non_finite_logits_match_the_composed_path():
    z = np.array([[0.0, -np.inf, 1.0], [np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf],
                  [1.0, 2.0, np.nan]])
    labels = np.array([0, 1, 2, 0])
    with np.errstate(all="ignore"):
        fused = layers.softmax_cross_entropy(z, labels, "none")
        # the composed path is still what (N, C, 1) logits take
        composed = F.cross_entropy(z[..., None], labels[:, None], "none")[:, 0]
    np.testing.assert_array_equal(fused, composed)
    assert np.isfinite(fused[0]) and np.isinf(fused[1]) and np.isnan(fused[2])


def test_cross_entropy_empty_batch():
    z, labels = np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    assert np.isnan(layers.softmax_cross_entropy(z, labels, "mean"))
    assert layers.softmax_cross_entropy(z, labels, "sum") == 0.0
    assert layers.softmax_cross_entropy(z, labels, "none").shape == (0,)


def test_cross_entropy_entry_errors():
    with pytest.raises(ValueError, match="reduction"):
        layers.softmax_cross_entropy(Z, LABELS, "avg")
    with pytest.raises(ValueError, match=r"\(N, C\) logits"):
        layers.softmax_cross_entropy(Z[0], LABELS[0])
    with pytest.raises(ValueError, match="no classes"):
        layers.softmax_cross_entropy_p.bind(np.zeros((2, 0)), labels=np.zeros(2, dtype=int),
                                            reduction="mean")
    with pytest.raises(TypeError, match="integers"):
        layers.softmax_cross_entropy(Z, LABELS.astype(float))
    for bad in (-1, 4):
        with pytest.raises(IndexError, match=r"\[0, 4\)"):
            layers.softmax_cross_entropy(Z, np.where(LABELS == 3, bad, LABELS))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nn_cross_entropy_unchanged(reduction):
    """The fused (N, C) path equals the composed path that (N, C, 1) logits still take, in value
    and gradient, and is one tape record."""
    t = rv.Tensor(Z, requires_grad=True)
    fused = F.cross_entropy(t, LABELS, reduction)
    assert fused.op == "dualad.softmax_cross_entropy"
    t3 = rv.Tensor(Z[..., None], requires_grad=True)
    composed = F.cross_entropy(t3, LABELS[:, None], reduction)
    assert composed.op != "dualad.softmax_cross_entropy"
    composed_value = composed.data if reduction != "none" else composed.data[:, 0]
    np.testing.assert_allclose(fused.data, composed_value, rtol=1e-15, atol=1e-15)
    u = np.linspace(1.0, 2.0, len(LABELS)) if reduction == "none" else None
    fused.backward(u)
    composed.backward(None if u is None else u[:, None])
    np.testing.assert_allclose(t.grad, t3.grad[..., 0], rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint64, np.int32, np.int64])
def test_cross_entropy_any_integer_labels(dtype):
    t = rv.Tensor(Z, requires_grad=True)
    loss = F.cross_entropy(t, LABELS.astype(dtype))
    loss.backward()
    np.testing.assert_allclose(loss.data, ce_by_hand(Z, LABELS, "mean"), rtol=1e-14)
    np.testing.assert_allclose(t.grad, ce_grad_by_hand(Z, LABELS, "mean"), rtol=1e-13,
                               atol=1e-16)
    check_forward(lambda z: layers.softmax_cross_entropy(z, LABELS.astype(dtype)), [Z])


def test_cross_entropy_float32():
    z32 = Z.astype(np.float32)
    t = rv.Tensor(z32, requires_grad=True)
    loss = F.cross_entropy(t, LABELS)
    loss.backward()
    assert np.asarray(loss.data).dtype == np.float32 and t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad, ce_grad_by_hand(Z, LABELS, "mean"), rtol=1e-5,
                               atol=1e-6)


# ---------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------

def test_every_layers_entry_is_registered_and_checked_here():
    entries = {p.name for p in all_primitives() if p.name.startswith("dualad.")} & {
        v.name for v in vars(layers).values() if isinstance(v, type(layers.linear_p))}
    assert entries == {"dualad.linear", "dualad.softmax_cross_entropy"}
    for p in (layers.linear_p, layers.softmax_cross_entropy_p):
        assert p.derivs is None and p.jvp is not None and p.vjp is not None
