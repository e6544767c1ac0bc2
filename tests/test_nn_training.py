"""End to end: nn models trained on scikit-learn's bundled digits, and nn.optim.minimize.

``load_digits`` ships inside scikit-learn (no download): 1797 8×8 images of the digits 0–9.
A fixed permutation holds out a quarter of them; seeds are fixed, so the accuracies are
reproducible.
"""
import numpy as np
import pytest

import nn
import nn.functional as F
import reverse as rv
from nn import init
from nn.optim import minimize


@pytest.fixture(scope="module")
def digits():
    # scikit-learn is in the test extra; a missing install fails these tests, never skips them
    from sklearn.datasets import load_digits
    data = load_digits()
    x = (data.images / 16.0).astype(np.float64)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    n_test = len(y) // 4
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def train(model, opt, x, y, epochs, batch=32, seed=0):
    rng = np.random.default_rng(seed)
    model.train()
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def accuracy(model, x, y):
    model.eval()
    with rv.no_grad():
        logits = model(x)
    logits = logits.data if isinstance(logits, rv.Tensor) else logits
    return float(np.mean(np.argmax(logits, axis=1) == y))


def fit(model, x, y, lr, epochs=10, final_epochs=3):
    """Adam at ``lr``, then a few epochs at ``lr / 10`` (set through ``param_groups``)."""
    opt = nn.optim.Adam(model.parameters(), lr=lr)
    losses = train(model, opt, x, y, epochs)
    for group in opt.param_groups:
        group["lr"] = lr / 10
    return losses + train(model, opt, x, y, final_epochs, seed=1)


def test_mlp_on_digits(digits):
    x_tr, y_tr, x_te, y_te = digits
    init.seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    losses = fit(model, x_tr, y_tr, lr=1e-2)
    assert np.mean(losses[-20:]) < 0.1 * np.mean(losses[:20])
    acc = accuracy(model, x_te, y_te)
    assert acc >= 0.95, f"held-out accuracy {acc:.3f}"


def test_cnn_on_digits(digits):
    x_tr, y_tr, x_te, y_te = digits
    init.seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8 × 4 × 4
        nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    fit(model, x_tr[:, None], y_tr, lr=2e-2)
    acc = accuracy(model, x_te[:, None], y_te)
    assert acc >= 0.97, f"held-out accuracy {acc:.3f}"


def test_sgd_momentum_trains_and_checkpoint_resumes(digits):
    x_tr, y_tr, _, _ = digits
    x, y = x_tr[:256], y_tr[:256]

    def fresh():
        init.seed(3)
        m = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
        return m, nn.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)

    model, opt = fresh()
    train(model, opt, x, y, epochs=2, seed=1)
    model_sd, opt_sd = model.state_dict(), opt.state_dict()
    straight = train(model, opt, x, y, epochs=2, seed=2)
    model2, opt2 = fresh()
    model2.load_state_dict(model_sd)
    opt2.load_state_dict(opt_sd)
    resumed = train(model2, opt2, x, y, epochs=2, seed=2)
    np.testing.assert_array_equal(straight, resumed)
    assert straight[-1] < straight[0]


# ---------------------------------------------------------------------------------------------
# minimize on Rosenbrock
# ---------------------------------------------------------------------------------------------

def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


X0 = np.array([-1.2, 1.0])


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_minimize_newton_rosenbrock(mode):
    res = minimize(rosenbrock, X0, method="newton", mode=mode, steps=50)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)
    assert res.fun < 1e-12
    assert res.path.shape == (res.nit + 1, 2)
    np.testing.assert_array_equal(res.path[0], X0)
    np.testing.assert_array_equal(res.path[-1], res.x)
    assert res.nit < 20  # quadratic convergence, not a crawl


def test_minimize_newton_numeric_rosenbrock():
    res = minimize(rosenbrock, X0, method="newton", mode="numeric", steps=50, gtol=1e-7)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_minimize_adam_rosenbrock(mode):
    res = minimize(rosenbrock, X0, method="adam", mode=mode, steps=3000, lr=0.05)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-3)
    assert res.path.shape == (res.nit + 1, 2)


def test_minimize_modes_agree():
    a = minimize(rosenbrock, X0, method="adam", mode="reverse", steps=50, lr=0.01)
    b = minimize(rosenbrock, X0, method="adam", mode="forward", steps=50, lr=0.01)
    c = minimize(rosenbrock, X0, method="adam", mode="numeric", steps=50, lr=0.01)
    np.testing.assert_allclose(a.path, b.path, rtol=1e-12)
    np.testing.assert_allclose(a.path, c.path, rtol=1e-5)
    assert not a.success and "gtol" in a.message


@pytest.mark.parametrize("method", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                    "adadelta", "rprop", "adamw", "adamax", "nadam"])
def test_minimize_every_method_descends(method):
    quad = lambda x: np.sum((x - np.array([1.0, -2.0])) ** 2)  # noqa: E731
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5,
          "adadelta": 20.0}.get(method, 0.05)
    res = minimize(quad, np.zeros(2), method=method, steps=200, lr=lr)
    assert res.fun < 0.1 * quad(np.zeros(2)), (method, res.fun)


def test_minimize_momentum_is_sgd_with_momentum():
    quad = lambda x: np.sum(x ** 2)  # noqa: E731
    res = minimize(quad, np.array([1.0]), method="momentum", steps=3, lr=0.05)
    # g = 2x; b1 = 2, x1 = 0.9; b2 = 1.8 + 1.8 = 3.6, x2 = 0.72; b3 = 3.24 + 1.44 = 4.68,
    # x3 = 0.486
    np.testing.assert_allclose(res.path[:, 0], [1.0, 0.9, 0.72, 0.486], rtol=1e-12)


def test_minimize_bad_method_or_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid methods: sgd, momentum, nesterov"):
        minimize(rosenbrock, X0, method="lbfgs")
    with pytest.raises(ValueError, match="valid modes: auto, reverse, forward, numeric"):
        minimize(rosenbrock, X0, mode="backward")


def test_minimize_reports_divergence():
    with np.errstate(over="ignore", invalid="ignore"):
        res = minimize(lambda x: -np.sum(x ** 4), np.array([1.0]), method="sgd", steps=50,
                       lr=1.0)
    assert not res.success and "diverged" in res.message
