"""nn.optim: each optimizer against its update rule written out by hand, checkpoints, groups.

The expected iterates are computed here with explicit NumPy arithmetic following the
pseudo-code of torch.optim's documentation — never by calling the implementation — on a tiny
problem whose gradient is a fixed nonlinear function of the parameter, set into ``.grad`` by
hand so that only the optimizer is under test.
"""
import math

import numpy as np
import pytest

import reverse as rv
from nn import optim

THETA0 = np.array([1.0, -2.0, 0.5])
SHIFT = np.array([1.0, -3.0, 0.25])


def grad_at(theta):
    """The gradient of a smooth convex-ish objective, a fixed function of θ."""
    return 2.0 * theta - SHIFT + 0.5 * theta ** 2


def run(cls, steps=3, theta0=THETA0, **hyper):
    """Iterates θ1..θsteps of optimizer ``cls`` fed ``grad_at``."""
    p = rv.Tensor(theta0, requires_grad=True)
    opt = cls([p], **hyper)
    out = []
    for _ in range(steps):
        p.grad = grad_at(np.array(p.data))
        opt.step()
        out.append(np.array(p.data))
    return np.array(out)


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# the update rules, one by one
# ---------------------------------------------------------------------------------------------

def test_sgd_literal_numbers():
    # f = θ²/2 from θ = 1, lr 0.1, momentum 0.9: by hand, b1 = 1, θ1 = 0.9; b2 = 0.9 + 0.9 =
    # 1.8, θ2 = 0.72; b3 = 1.62 + 0.72 = 2.34, θ3 = 0.486
    p = rv.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    got = []
    for _ in range(3):
        p.grad = np.array(p.data)
        opt.step()
        got.append(p.data[0])
    close(got, [0.9, 0.72, 0.486])


@pytest.mark.parametrize("hyper", [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    dict(lr=0.1, momentum=0.5, maximize=True),
])
def test_sgd(hyper):
    lr = hyper["lr"]
    mu = hyper.get("momentum", 0.0)
    tau = hyper.get("dampening", 0.0)
    lam = hyper.get("weight_decay", 0.0)
    theta, b, expected = THETA0.copy(), None, []
    for t in range(1, 4):
        g = grad_at(theta)
        if hyper.get("maximize"):
            g = -g
        g = g + lam * theta
        if mu != 0:
            b = g.copy() if t == 1 else mu * b + (1 - tau) * g
            g = g + mu * b if hyper.get("nesterov") else b
        theta = theta - lr * g
        expected.append(theta)
    close(run(optim.SGD, **hyper), expected)


@pytest.mark.parametrize("hyper", [
    dict(),
    dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
])
def test_adagrad(hyper):
    lr, eta = hyper.get("lr", 1e-2), hyper.get("lr_decay", 0.0)
    lam, eps = hyper.get("weight_decay", 0.0), hyper.get("eps", 1e-10)
    theta = THETA0.copy()
    state_sum = np.full(3, hyper.get("initial_accumulator_value", 0.0))
    expected = []
    for t in range(1, 4):
        g = grad_at(theta) + lam * theta
        lr_t = lr / (1 + (t - 1) * eta)
        state_sum = state_sum + g ** 2
        theta = theta - lr_t * g / (np.sqrt(state_sum) + eps)
        expected.append(theta)
    close(run(optim.Adagrad, **hyper), expected)


@pytest.mark.parametrize("hyper", [
    dict(),
    dict(lr=0.01, alpha=0.9, centered=True),
    dict(lr=0.01, alpha=0.95, momentum=0.7, weight_decay=0.1),
    dict(lr=0.02, centered=True, momentum=0.5, eps=1e-4),
])
def test_rmsprop(hyper):
    lr, alpha = hyper.get("lr", 1e-2), hyper.get("alpha", 0.99)
    eps, lam = hyper.get("eps", 1e-8), hyper.get("weight_decay", 0.0)
    mu, centered = hyper.get("momentum", 0.0), hyper.get("centered", False)
    theta = THETA0.copy()
    v, g_avg, b = np.zeros(3), np.zeros(3), np.zeros(3)
    expected = []
    for _ in range(3):
        g = grad_at(theta) + lam * theta
        v = alpha * v + (1 - alpha) * g ** 2
        v_tilde = v
        if centered:
            g_avg = g_avg * alpha + (1 - alpha) * g
            v_tilde = v_tilde - g_avg ** 2
        if mu > 0:
            b = mu * b + g / (np.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (np.sqrt(v_tilde) + eps)
        expected.append(theta)
    close(run(optim.RMSprop, **hyper), expected)


@pytest.mark.parametrize("hyper", [dict(), dict(lr=0.5, rho=0.8, eps=1e-3, weight_decay=0.2)])
def test_adadelta(hyper):
    lr, rho = hyper.get("lr", 1.0), hyper.get("rho", 0.9)
    eps, lam = hyper.get("eps", 1e-6), hyper.get("weight_decay", 0.0)
    theta, v, u, expected = THETA0.copy(), np.zeros(3), np.zeros(3), []
    for _ in range(3):
        g = grad_at(theta) + lam * theta
        v = v * rho + g ** 2 * (1 - rho)
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = u * rho + dx ** 2 * (1 - rho)
        theta = theta - lr * dx
        expected.append(theta)
    close(run(optim.Adadelta, **hyper), expected)


@pytest.mark.parametrize("hyper", [dict(lr=0.6), dict(lr=0.3, etas=(0.4, 1.5),
                                                      step_sizes=(0.1, 0.5))])
def test_rprop(hyper):
    lr = hyper["lr"]
    eta_minus, eta_plus = hyper.get("etas", (0.5, 1.2))
    gmin, gmax = hyper.get("step_sizes", (1e-6, 50))
    theta, expected = THETA0.copy(), []
    g_prev = np.zeros(3)
    eta = np.full(3, lr)
    sign_changes = 0
    for _ in range(5):
        g = grad_at(theta)
        for i in range(3):  # coordinate by coordinate, as the pseudo-code reads
            if g_prev[i] * g[i] > 0:
                eta[i] = min(eta[i] * eta_plus, gmax)
            elif g_prev[i] * g[i] < 0:
                eta[i] = max(eta[i] * eta_minus, gmin)
                g[i] = 0.0
                sign_changes += 1
            else:
                eta[i] = min(max(eta[i], gmin), gmax)
        theta = theta - eta * np.sign(g)
        g_prev = g
        expected.append(theta)
    assert sign_changes > 0  # the problem exercises the shrinking branch
    close(run(optim.Rprop, steps=5, **hyper), expected)


def _adam_reference(hyper, decoupled=False, steps=3, theta0=THETA0):
    lr, (b1, b2) = hyper.get("lr", 1e-3), hyper.get("betas", (0.9, 0.999))
    eps = hyper.get("eps", 1e-8)
    lam = hyper.get("weight_decay", 1e-2 if decoupled else 0.0)
    theta, m, v, v_max, expected = theta0.copy(), 0.0, 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = grad_at(theta)
        if hyper.get("maximize"):
            g = -g
        if decoupled:
            theta = theta - lr * lam * theta
        else:
            g = g + lam * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        if hyper.get("amsgrad"):
            v_max = np.maximum(v_max, v)  # the maximum of the raw second moment...
            v_hat = v_max / (1 - b2 ** t)  # ...corrected with this step's factor
        else:
            v_hat = v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(theta)
    return np.array(expected)


def test_adam_first_step_is_lr_times_sign():
    # m̂1 = g and v̂1 = g², so the first step is lr·g/(|g| + eps) ≈ lr·sign(g)
    got = run(optim.Adam, steps=1, lr=0.1)[0]
    g = grad_at(THETA0)
    close(got, THETA0 - 0.1 * g / (np.abs(g) + 1e-8))
    np.testing.assert_allclose(got, THETA0 - 0.1 * np.sign(g), atol=1e-8)


@pytest.mark.parametrize("hyper", [
    dict(),
    dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    dict(lr=0.1, amsgrad=True),
    dict(lr=0.05, maximize=True),
])
def test_adam(hyper):
    close(run(optim.Adam, **hyper), _adam_reference(hyper))


def test_adam_amsgrad_keeps_the_largest_second_moment():
    # a gradient that shrinks makes v fall, so amsgrad's maximum differs from plain Adam
    hyper = dict(lr=0.5, betas=(0.5, 0.6), amsgrad=True)
    got = run(optim.Adam, steps=6, **hyper)
    close(got, _adam_reference(hyper, steps=6))
    assert not np.allclose(got, _adam_reference(dict(hyper, amsgrad=False), steps=6))


@pytest.mark.parametrize("hyper", [dict(), dict(lr=0.1, weight_decay=0.3, amsgrad=True)])
def test_adamw(hyper):
    close(run(optim.AdamW, **hyper), _adam_reference(hyper, decoupled=True))


@pytest.mark.parametrize("hyper", [dict(), dict(lr=0.1, betas=(0.7, 0.9), weight_decay=0.2)])
def test_adamax(hyper):
    lr, (b1, b2) = hyper.get("lr", 2e-3), hyper.get("betas", (0.9, 0.999))
    eps, lam = hyper.get("eps", 1e-8), hyper.get("weight_decay", 0.0)
    theta, m, u, expected = THETA0.copy(), np.zeros(3), np.zeros(3), []
    for t in range(1, 4):
        g = grad_at(theta) + lam * theta
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        theta = theta - lr * m / ((1 - b1 ** t) * u)
        expected.append(theta)
    close(run(optim.Adamax, **hyper), expected)


@pytest.mark.parametrize("hyper", [
    dict(),
    dict(lr=0.1, betas=(0.8, 0.95), weight_decay=0.1, momentum_decay=0.05),
])
def test_nadam(hyper):
    lr, (b1, b2) = hyper.get("lr", 2e-3), hyper.get("betas", (0.9, 0.999))
    eps, lam = hyper.get("eps", 1e-8), hyper.get("weight_decay", 0.0)
    psi = hyper.get("momentum_decay", 4e-3)
    theta, m, v, expected = THETA0.copy(), np.zeros(3), np.zeros(3), []
    mus = {}
    for t in range(1, 4):
        g = grad_at(theta) + lam * theta
        mus[t] = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mus[t + 1] = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        prod_t = math.prod(mus[i] for i in range(1, t + 1))
        prod_t1 = prod_t * mus[t + 1]
        m_hat = mus[t + 1] * m / (1 - prod_t1) + (1 - mus[t]) * g / (1 - prod_t)
        v_hat = v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(theta)
    close(run(optim.NAdam, **hyper), expected)


def test_update_functions_are_pure():
    param, grad = THETA0.copy(), grad_at(THETA0)
    state = {"step": 2, "exp_avg": np.ones(3), "exp_avg_sq": np.ones(3)}
    snapshot = {k: np.copy(v) for k, v in state.items()}
    new_param, new_state = optim.adam_update(param, grad, state, lr=0.1, betas=(0.9, 0.999),
                                             eps=1e-8, weight_decay=0.1, amsgrad=False)
    close(param, THETA0)
    close(grad, grad_at(THETA0))
    for k, v in snapshot.items():
        close(state[k], v)
    assert new_state["step"] == 3 and new_param is not param


@pytest.mark.parametrize("dtype,grad_dtype,lr", [
    (np.float64, np.float64, 0.1), (np.float32, np.float32, 0.1),
    (np.float32, np.float32, np.float64(0.1)), (np.float32, np.float64, 0.3),
    (np.float64, np.float64, np.float32(0.1))])
@pytest.mark.parametrize("maximize", [False, True])
def test_plain_sgd_step_is_the_update_rule_bit_for_bit(dtype, grad_dtype, lr, maximize):
    # plain SGD (no momentum, no weight decay) takes a shorter path through step(); its
    # result must be exactly what the documented update function gives, dtype included
    theta = np.array([1.0, -2.0, 0.5], dtype=dtype)
    p = rv.Tensor(theta, requires_grad=True)
    opt = optim.SGD([p], lr=lr, maximize=maximize)
    for _ in range(3):
        theta = np.array(p.data)
        g = grad_at(theta).astype(grad_dtype)
        d = -g if maximize else g
        # θ − γg, γg in the parameter's and gradient's common dtype
        expected = theta - np.multiply(d, lr, dtype=np.result_type(theta, d))
        p.grad = g
        opt.step()
        assert p.data.dtype == expected.dtype
        np.testing.assert_array_equal(p.data, expected)
        assert opt.state[p] == {}


def test_sgd_reads_changed_hyperparameters_on_every_step():
    p = rv.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()
    close(p.data, [0.9])
    opt.param_groups[0]["lr"] = 0.5  # a schedule
    opt.step()
    close(p.data, [0.4])
    opt.param_groups[0]["momentum"] = 0.9  # the first momentum step: the buffer is g
    opt.step()
    close(p.data, [-0.1])
    close(opt.state[p]["momentum_buffer"], [1.0])


def test_sgd_subclass_with_its_own_update_rule_is_used():
    class HalfSGD(optim.SGD):
        @staticmethod
        def update(param, grad, state, **hyper):
            return optim.sgd_update(param, 0.5 * grad, state, **hyper)

    p = rv.Tensor(np.array([1.0]), requires_grad=True)
    opt = HalfSGD([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()
    close(p.data, [0.95])


# ---------------------------------------------------------------------------------------------
# the base class: groups, zero_grad, checkpoints, errors
# ---------------------------------------------------------------------------------------------

def test_param_groups_with_different_lr():
    a = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = rv.Tensor(np.array([[3.0]]), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.0  # defaults fill the group
    a.grad, b.grad = np.array([1.0, -1.0]), np.array([[2.0]])
    opt.step()
    close(a.data, [0.9, 2.1])
    close(b.data, [[2.0]])


def test_step_skips_parameters_without_grad_and_zero_grad_clears():
    a = rv.Tensor(np.array([1.0]), requires_grad=True)
    b = rv.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.array([1.0])
    opt.step()
    close(b.data, [1.0])
    assert b not in opt.state and opt.state[a]["step"] == 1
    opt.zero_grad()
    assert a.grad is None
    a.grad = np.array([3.0])
    opt.zero_grad(set_to_none=False)
    close(a.grad, [0.0])


def test_state_is_keyed_by_the_parameter_object():
    p = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(2)
    opt.step()
    assert list(opt.state) == [p]
    close(opt.state[p]["momentum_buffer"], np.ones(2))


def _make(cls, hyper):
    w = rv.Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    b = rv.Tensor(np.array([0.1, -0.2]), requires_grad=True)
    return [w, b], cls([{"params": [w]}, {"params": [b], "lr": 0.05}], **hyper)


def _train(params, opt, steps):
    for _ in range(steps):
        w, b = params
        loss = np.sum((w @ np.array([1.0, 2.0]) + b - 1.0) ** 2) + np.sum(w ** 4) * 0.01
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [np.array(p.data) for p in params]


@pytest.mark.parametrize("cls, hyper", [
    (optim.SGD, dict(lr=0.01, momentum=0.9, nesterov=True)),
    (optim.Adagrad, dict(lr=0.1)),
    (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    (optim.Adadelta, dict()),
    (optim.Rprop, dict(lr=0.01)),
    (optim.Adam, dict(lr=0.01, amsgrad=True)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.Adamax, dict(lr=0.01)),
    (optim.NAdam, dict(lr=0.01)),
])
def test_state_dict_round_trip_resumes_identically(cls, hyper):
    params, opt = _make(cls, hyper)
    _train(params, opt, 3)
    saved = opt.state_dict()
    values = [np.array(p.data) for p in params]
    straight = _train(params, opt, 3)

    assert set(saved) == {"state", "param_groups"}
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    assert sorted(saved["state"]) == [0, 1]
    assert saved["param_groups"][1]["lr"] == 0.05

    params2, opt2 = _make(cls, hyper)
    for p, v in zip(params2, values):
        p.data = v.copy()
    opt2.load_state_dict(saved)
    resumed = _train(params2, opt2, 3)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    assert opt2.param_groups[1]["lr"] == 0.05


def test_state_dict_is_a_copy():
    p = rv.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"][...] = 99.0
    sd["param_groups"][0]["lr"] = 5.0
    assert opt.state[p]["exp_avg"][0] != 99.0 and opt.param_groups[0]["lr"] == 0.1


def test_load_state_dict_rejects_mismatched_groups():
    a = rv.Tensor(np.array([1.0]), requires_grad=True)
    b = rv.Tensor(np.array([1.0]), requires_grad=True)
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter group"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


def test_bad_arguments():
    p = rv.Tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1.0)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="single"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2.0], lr=0.1)
    with pytest.raises(ValueError, match="Invalid eta values"):
        optim.Rprop([p], etas=(1.5, 1.2))


# ---------------------------------------------------------------------------------------------
# Newton
# ---------------------------------------------------------------------------------------------

A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 4.0]])
B = np.array([1.0, -2.0, 0.5])


def quadratic(x):
    return 0.5 * x @ (A @ x) - B @ x


@pytest.mark.parametrize("mode", ["reverse", "forward", "numeric"])
def test_newton_solves_a_quadratic_in_one_step(mode):
    p = rv.Tensor(np.array([5.0, -1.0, 2.0]), requires_grad=True)
    opt = optim.Newton([p], mode=mode)
    loss = opt.step(quadratic)
    np.testing.assert_allclose(loss, quadratic(np.array([5.0, -1.0, 2.0])), rtol=1e-12)
    tol = 1e-12 if mode != "numeric" else 1e-5  # differences of differences
    np.testing.assert_allclose(p.data, np.linalg.solve(A, B), rtol=tol, atol=tol)


def test_newton_damping_and_diagonal():
    x0 = np.array([5.0, -1.0, 2.0])
    g = A @ x0 - B  # the gradient, by hand
    p = rv.Tensor(x0, requires_grad=True)
    optim.Newton([p], lr=0.5, damping=2.0).step(quadratic)
    close(p.data, x0 - 0.5 * np.linalg.solve(A + 2.0 * np.eye(3), g))
    q = rv.Tensor(x0, requires_grad=True)
    optim.Newton([q], damping=1.0, diagonal=True).step(quadratic)
    close(q.data, x0 - g / (np.diag(A) + 1.0))


def test_newton_several_parameters_are_one_system():
    w = rv.Tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    c = rv.Tensor(np.array(3.0), requires_grad=True)

    def loss(w, c):  # a quadratic in (w00, w01, c)
        x = np.concatenate([np.ravel(w), np.reshape(c, (1,))])
        return quadratic(x)

    opt = optim.Newton([w, c])
    opt.step(loss)
    sol = np.linalg.solve(A, B)
    close(w.data, sol[:2].reshape(1, 2))
    close(c.data, sol[2])
    assert w.data.shape == (1, 2) and c.data.shape == ()


def test_newton_errors():
    p = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="closure"):
        optim.Newton([p]).step()
    with pytest.raises(ValueError, match="singular"):
        optim.Newton([p]).step(lambda x: np.sum(x) * 2.0)
    with pytest.raises(ValueError, match="mode"):
        optim.Newton([p], mode="sideways")


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adadelta,
                                 optim.Rprop, optim.Adam, optim.AdamW, optim.Adamax,
                                 optim.NAdam])
def test_float32_stays_float32(cls):
    p = rv.Tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    opt = cls([p], lr=0.01)
    for _ in range(2):
        p.grad = np.array([0.5, -1.5], dtype=np.float32)
        opt.step()
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values()
               if isinstance(v, np.ndarray))


def test_step_with_closure_evaluates_then_updates():
    p = rv.Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = np.sum(p * p)
        loss.backward()
        return loss

    with rv.no_grad():  # the closure records anyway
        loss = opt.step(closure)
    assert loss.item() == 9.0
    close(p.data, [3.0 - 0.25 * 6.0])
