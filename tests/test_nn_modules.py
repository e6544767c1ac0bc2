"""nn layers: registration and names, modes, state dicts, hooks, nn.init."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import reverse as rv
import nn
from nn import init


@pytest.fixture(autouse=True)
def _seeded():
    init.seed(0)


def mlp():
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


X = np.random.default_rng(1).normal(size=(5, 4))


# ---------------------------------------------------------------------------------------------
# parameters, names, containers
# ---------------------------------------------------------------------------------------------

def test_parameter_names_and_shapes_follow_pytorch():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    got = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
    assert got == [("0.weight", (8, 1, 3, 3)), ("0.bias", (8,)), ("4.weight", (10, 128)),
                   ("4.bias", (10,))]
    for p in model.parameters():
        assert isinstance(p, rv.Tensor) and p.requires_grad and p.is_leaf
        assert isinstance(p.data, np.ndarray) and p.data.flags.writeable
        assert p.dtype == np.float64


def test_attribute_assignment_registers_submodules_and_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.scale = nn.Parameter(np.ones(2))
            self.note = "not a parameter"
            self.constant = rv.Tensor(np.ones(2))  # requires no grad: a plain attribute

        def forward(self, x):
            return self.fc(x) * self.scale

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in net.named_children()] == ["fc"]
    assert list(net.state_dict()) == ["scale", "fc.weight", "fc.bias"]
    net.fc = None
    assert [n for n, _ in net.named_parameters()] == ["scale"]
    with pytest.raises(TypeError, match="parameter 'scale'"):
        net.scale = np.ones(2)

    class Forgetful(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Forgetful()


def test_shared_parameter_is_listed_once():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_indexing_len_iteration():
    model = mlp()
    assert len(model) == 3
    assert isinstance(model[0], nn.Linear) and model[-1] is model[2]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    with pytest.raises(IndexError):
        model[3]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert "(fc): Linear(in_features=2, out_features=2, bias=True)" in repr(named)


def test_ndarray_and_tensor_inputs():
    model = mlp()
    out = model(X)
    assert isinstance(out, rv.Tensor) and out.requires_grad and out.shape == (5, 2)
    w1, b1, w2, b2 = [np.array(p.data) for p in model.parameters()]
    expected = np.maximum(X @ w1.T + b1, 0) @ w2.T + b2
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)
    x = rv.Tensor(X, requires_grad=True)
    np.sum(model(x)).backward()
    assert x.grad.shape == X.shape
    with rv.no_grad():
        assert not model(X).requires_grad


def test_layers_forward_values():
    x = np.random.default_rng(2).normal(size=(2, 3, 6, 6))
    conv = nn.Conv2d(3, 4, 3, stride=1, padding=1)
    w, b = np.array(conv.weight.data), np.array(conv.bias.data)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((2, 4, 6, 6))
    for i in range(6):
        for j in range(6):
            ref[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + 3, j:j + 3], w) + b
    np.testing.assert_allclose(conv(x).data, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(nn.MaxPool2d(2)(x), x.reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5)))
    np.testing.assert_allclose(nn.AvgPool2d(3)(x), x.reshape(2, 3, 2, 3, 2, 3).mean(axis=(3, 5)))
    assert nn.Flatten()(x).shape == (2, 108)
    assert nn.Flatten(0, 1)(x).shape == (6, 6, 6)
    np.testing.assert_allclose(nn.Sigmoid()(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(nn.Tanh()(x), np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(nn.ReLU()(x), np.maximum(x, 0))


# ---------------------------------------------------------------------------------------------
# modes and checkpoints
# ---------------------------------------------------------------------------------------------

def test_train_eval_propagate():
    model = mlp()
    assert model.training and model[0].training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad():
    model = mlp()
    np.sum(model(X)).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_state_dict_round_trip():
    a, b = mlp(), mlp()
    assert not np.allclose(a(X).data, b(X).data)
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    weight_before = b[0].weight
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(a(X).data, b(X).data)
    assert b[0].weight is weight_before  # same Tensor object: an optimizer keeps working
    sd["0.weight"][...] = 7.0  # a copy: changing it changes neither model
    assert not np.any(a[0].weight.data == 7.0) and not np.any(b[0].weight.data == 7.0)


def test_load_state_dict_errors_are_clear_and_change_nothing():
    model = mlp()
    before = [np.array(p.data) for p in model.parameters()]
    sd = mlp().state_dict()
    sd["0.weight"] = np.zeros((4, 3))
    del sd["2.bias"]
    sd["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "2.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra"' in msg
    assert "size mismatch for 0.weight" in msg and "(4, 3)" in msg and "(3, 4)" in msg
    for p, v in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, v)
    sd["0.weight"] = np.zeros((3, 4))
    res = model.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["2.bias"] and res.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].weight.data, 0.0)


# ---------------------------------------------------------------------------------------------
# hooks
# ---------------------------------------------------------------------------------------------

def test_forward_hooks_fire_in_order_with_the_right_arguments():
    model = mlp()
    calls = []
    model[0].register_forward_pre_hook(lambda m, args: calls.append(("pre0", m, args)))
    model[0].register_forward_hook(lambda m, args, out: calls.append(("fwd0", m, args, out)))
    model.register_forward_pre_hook(lambda m, args: calls.append(("pre_seq", m, args)))
    model.register_forward_hook(lambda m, args, out: calls.append(("fwd_seq", m, args, out)))
    model[2].register_forward_hook(lambda m, args, out: calls.append(("fwd2", m, args, out)))
    out = model(X)
    assert [c[0] for c in calls] == ["pre_seq", "pre0", "fwd0", "fwd2", "fwd_seq"]
    assert calls[1][1] is model[0] and calls[1][2][0] is X
    assert isinstance(calls[2][2], tuple) and calls[2][2][0] is X
    assert calls[2][3].shape == (5, 3)
    assert calls[3][3] is out and calls[4][3] is out and calls[4][1] is model


def test_hooks_replace_args_and_output_and_remove():
    lin = nn.Linear(4, 3)
    plain = np.array(lin(X).data)
    h_pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 2.0,))
    doubled = np.array(lin(X).data)
    np.testing.assert_allclose(doubled - lin.bias.data, 2 * (plain - lin.bias.data))
    h_fwd = lin.register_forward_hook(lambda m, args, out: out + 100.0)
    np.testing.assert_allclose(lin(X).data, doubled + 100.0)
    h_pre.remove()
    np.testing.assert_allclose(lin(X).data, plain + 100.0)
    h_fwd.remove()
    h_fwd.remove()  # a second remove does nothing
    np.testing.assert_allclose(lin(X).data, plain)
    h_none = lin.register_forward_pre_hook(lambda m, args: X * 0.0)  # non-tuple: one input
    np.testing.assert_allclose(lin(X).data, np.broadcast_to(lin.bias.data, (5, 3)))
    with h_none:
        pass
    np.testing.assert_allclose(lin(X).data, plain)


def test_prepend_puts_a_hook_first():
    lin = nn.Linear(4, 3)
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append("first"))
    lin.register_forward_hook(lambda m, a, o: order.append("zeroth"), prepend=True)
    lin(X)
    assert order == ["zeroth", "first"]


def test_full_backward_hook_sees_grad_output_and_grad_input():
    model = mlp()
    seen = []
    model[2].register_full_backward_hook(
        lambda m, gi, go: seen.append(("fc2", m, [np.array(g) for g in gi],
                                       [np.array(g) for g in go])))
    model[1].register_full_backward_hook(
        lambda m, gi, go: seen.append(("relu", m, [np.array(g) for g in gi],
                                       [np.array(g) for g in go])))
    x = rv.Tensor(X, requires_grad=True)
    out = model(x)
    cot = np.random.default_rng(3).normal(size=(5, 2))
    out.backward(cot)
    assert [s[0] for s in seen] == ["fc2", "relu"]  # the backward order
    _, mod, gi, go = seen[0]
    assert mod is model[2]
    w2 = np.array(model[2].weight.data)
    np.testing.assert_allclose(go[0], cot)
    np.testing.assert_allclose(gi[0], cot @ w2)          # ∂L/∂(fc2's input)
    h = np.array(X @ model[0].weight.data.T + model[0].bias.data)
    np.testing.assert_allclose(seen[1][3][0], cot @ w2)  # relu's grad_output
    np.testing.assert_allclose(seen[1][2][0], (cot @ w2) * (h > 0))


def test_full_backward_hook_replaces_grad_input_and_removes():
    lin = nn.Linear(4, 3)
    x = rv.Tensor(X, requires_grad=True)
    handle = lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.0 + 1.0,))
    np.sum(lin(x)).backward()
    np.testing.assert_allclose(x.grad, np.ones_like(X))
    # the parameters' gradients are not grad_input: unchanged
    np.testing.assert_allclose(lin.weight.grad, np.ones((5, 3)).T @ X)
    handle.remove()
    x.zero_grad()
    np.sum(lin(x)).backward()
    np.testing.assert_allclose(x.grad, np.ones((5, 3)) @ lin.weight.data)


def test_full_backward_hook_input_without_grad():
    lin = nn.Linear(4, 3)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    np.sum(lin(X)).backward()  # an ndarray input: no gradient with respect to it
    assert seen == [((None,), (5, 3))]


def test_full_backward_hook_with_two_inputs():
    class Bilinear(nn.Module):
        def forward(self, a, b):
            return a * b

    mod = Bilinear()
    a = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = rv.Tensor(np.array([[3.0], [4.0], [5.0]]), requires_grad=True)
    seen = []

    def hook(m, gi, go):
        seen.append([np.array(g) for g in gi] + [np.array(go[0])])
        return (gi[0] * 10.0, None)

    mod.register_full_backward_hook(hook)
    mod.register_full_backward_pre_hook(lambda m, go: (go[0] * 2.0,))
    np.sum(mod(a, b)).backward()
    ga, gb, go = seen[0]
    np.testing.assert_allclose(go, np.full((3, 2), 2.0))  # doubled by the pre-hook
    np.testing.assert_allclose(ga, [24.0, 24.0])
    np.testing.assert_allclose(gb, [[6.0], [6.0], [6.0]])
    np.testing.assert_allclose(a.grad, [240.0, 240.0])
    np.testing.assert_allclose(b.grad, np.zeros((3, 1)))  # None: no gradient


def test_backward_hook_returning_a_wrong_length_raises():
    lin = nn.Linear(4, 3)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="length 2"):
        np.sum(lin(rv.Tensor(X, requires_grad=True))).backward()


# ---------------------------------------------------------------------------------------------
# nn.init
# ---------------------------------------------------------------------------------------------

def test_calculate_gain_and_fans():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(2 / 6)
    assert init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    assert init.calculate_fan_in_and_fan_out(np.zeros((8, 3, 5, 5))) == (75, 200)
    assert init._calculate_fan_in_and_fan_out(np.zeros((10, 128))) == (128, 10)
    with pytest.raises(ValueError, match="at least 2"):
        init.calculate_fan_in_and_fan_out(np.zeros(3))


def test_kaiming_uniform_bounds_and_statistics():
    w = np.empty((400, 250))
    init.kaiming_uniform_(w, a=0.0, nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 250)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound
    np.testing.assert_allclose(w.var(), bound ** 2 / 3, rtol=0.02)  # U(-b, b) has var b²/3
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    assert np.abs(w).max() <= math.sqrt(2.0) * math.sqrt(3.0 / 400)
    init.kaiming_normal_(w, nonlinearity="relu")
    np.testing.assert_allclose(w.std(), math.sqrt(2.0 / 250), rtol=0.02)


def test_layer_default_init_is_pytorchs():
    lin = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=√5) gives 1/√fan_in
    assert np.abs(lin.weight.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.99 * bound
    assert np.abs(lin.bias.data).max() <= bound
    conv = nn.Conv2d(3, 64, 5)
    cb = 1 / math.sqrt(3 * 25)
    assert np.abs(conv.weight.data).max() <= cb and np.abs(conv.weight.data).max() > 0.98 * cb
    assert np.abs(conv.bias.data).max() <= cb


def test_xavier_and_fillers_and_seed():
    w = rv.Tensor(np.empty((300, 200)), requires_grad=True)
    assert init.xavier_uniform_(w, gain=2.0) is w
    assert np.abs(w.data).max() <= 2.0 * math.sqrt(6.0 / 500)
    init.xavier_normal_(w)
    np.testing.assert_allclose(w.data.std(), math.sqrt(2.0 / 500), rtol=0.02)
    init.constant_(w, 0.5)
    assert np.all(w.data == 0.5)
    init.zeros_(w)
    assert np.all(w.data == 0.0)
    init.ones_(w)
    assert np.all(w.data == 1.0)
    init.normal_(w, mean=3.0, std=0.1)
    np.testing.assert_allclose(w.data.mean(), 3.0, atol=0.01)
    a = init.uniform_(np.empty(5), -1, 1, generator=np.random.default_rng(7))
    b = init.uniform_(np.empty(5), -1, 1, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    init.seed(11)
    m1 = mlp()
    init.seed(11)
    m2 = mlp()
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_init_keeps_float32():
    lin = nn.Linear(3, 2, dtype=np.float32)
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    assert lin(np.ones((1, 3), dtype=np.float32)).dtype == np.float32
    assert mlp().float()[0].weight.dtype == np.float32


def test_inception_block_builds_from_the_layers():
    class Inception(nn.Module):
        """Three conv branches (1×1, 3×3, 5×5) + ReLU, concatenated on channels."""

        def __init__(self, c_in, c):
            super().__init__()
            self.branches = nn.ModuleList([nn.Conv2d(c_in, c, 1), nn.Conv2d(c_in, c, 3, padding=1),
                                           nn.Conv2d(c_in, c, 5, padding=2)])
            self.act = nn.ReLU()

        def forward(self, x):
            return np.concatenate([self.act(b(x)) for b in self.branches], axis=1)

    block = Inception(3, 4)
    names = [n for n, _ in block.named_parameters()]
    assert names == [f"branches.{i}.{k}" for i in range(3) for k in ("weight", "bias")]
    x = rv.Tensor(np.random.default_rng(4).normal(size=(2, 3, 7, 7)), requires_grad=True)
    out = block(x)
    assert out.shape == (2, 12, 7, 7)
    np.sum(out * out).backward()
    assert x.grad.shape == x.shape
    assert all(p.grad is not None and np.any(p.grad != 0) for p in block.parameters())


def test_buffers_and_dtype_casts():
    m = nn.Linear(2, 2)
    m.register_buffer("running", np.zeros(2))
    m.register_buffer("scratch", np.ones(3), persistent=False)
    assert list(m.state_dict()) == ["weight", "bias", "running"]
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    m.to(np.float32)
    assert m.weight.dtype == np.float32 and m.running.dtype == np.float32
    sd = m.state_dict()
    sd["running"] = np.array([1.0, 2.0])
    m.load_state_dict(sd)
    np.testing.assert_array_equal(m.running, [1.0, 2.0])
    assert m.running.dtype == np.float32
