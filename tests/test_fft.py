"""FFT entries (issue 13, item 2): ``np.fft`` and ``scipy.fft`` as linear table entries.

Every transform is checked for: values against NumPy/SciPy; the adjoint identity of each
primitive it binds with complex (or, for real inputs, real) u, v — for every norm, odd and even
lengths, and sizes that crop or zero-pad, which is where the Hermitian weighting of irfft's
transpose shows; the JVP against the transform of the tangent (the op is linear); and
check_grads to second order in both modes on a real loss.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sf
from hypothesis import given, settings, strategies as st

import dualad as ad
import reverse as rv
from dualad import DualArray
from ophelpers import check_adjoint

NORMS = [None, "backward", "ortho", "forward"]


def crand(rng, shape):
    return rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)


def rrand(rng, shape):
    return rng.uniform(-1, 1, shape)


#: (name, numpy function, call kwargs, input shape, complex input?)
ONE_D = []
for _n in (7, 8):
    for _kw in ({}, {"n": 5}, {"n": 11}, {"n": 10}):
        _m = _n // 2 + 1
        ONE_D += [("fft", np.fft.fft, _kw, (3, _n), True),
                  ("ifft", np.fft.ifft, _kw, (3, _n), True),
                  ("rfft", np.fft.rfft, _kw, (3, _n), False),
                  ("irfft", np.fft.irfft, _kw, (3, _m), True),
                  ("hfft", np.fft.hfft, _kw, (3, _m), True),
                  ("ihfft", np.fft.ihfft, _kw, (3, _n), False)]
ONE_D += [("fft-axis0", np.fft.fft, {"axis": 0}, (5, 2), True),
          ("rfft-axis0", np.fft.rfft, {"axis": 0}, (6, 2), False),
          ("irfft-axis0", np.fft.irfft, {"axis": 0, "n": 7}, (4, 2), True)]

N_D = [
    ("fft2", np.fft.fft2, {}, (2, 5, 4), True),
    ("ifft2", np.fft.ifft2, {"s": (3, 6)}, (5, 4), True),
    ("fftn", np.fft.fftn, {}, (3, 4, 5), True),
    ("fftn-axes", np.fft.fftn, {"axes": (0, 2)}, (3, 4, 5), True),
    ("ifftn", np.fft.ifftn, {"s": (4, 3), "axes": (1, 0)}, (3, 5), True),
    ("rfft2", np.fft.rfft2, {}, (2, 5, 6), False),
    ("rfftn", np.fft.rfftn, {"s": (4, 7), "axes": (0, 1)}, (3, 5), False),
    ("irfft2", np.fft.irfft2, {}, (2, 5, 4), True),
    ("irfftn", np.fft.irfftn, {"s": (4, 7), "axes": (0, 1)}, (3, 5), True),
    ("irfftn-3d", np.fft.irfftn, {}, (3, 2, 4), True),
    ("fftshift", np.fft.fftshift, {}, (3, 4), True),
    ("ifftshift", np.fft.ifftshift, {"axes": 1}, (3, 5), True),
]
CASES = ONE_D + N_D
SHIFTS = ("fftshift", "ifftshift")


def _input(case, seed):
    name, f, kw, shape, cplx = case
    rng = np.random.default_rng(seed)
    return crand(rng, shape) if cplx else rrand(rng, shape)


def _call(case, norm):
    name, f, kw, shape, cplx = case
    kw = dict(kw) if name.startswith(SHIFTS) else dict(kw, norm=norm)
    return lambda x: f(x, **kw)


def _ids(c):
    return f"{c[0]}-{c[2]}-{c[3]}"


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_values_and_jvp_are_the_transform(case, norm):
    f = _call(case, norm)
    x = _input(case, 0)
    v = _input(case, 1)
    out, t = ad.jvp(f, (x,), (v,))
    np.testing.assert_allclose(out, f(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(t, f(v), rtol=1e-12, atol=1e-12)  # linear: J v = f(v)
    d = f(DualArray(x, v))
    np.testing.assert_allclose(d.primal, f(x), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2 ** 20))
def test_adjoint_identity(case, norm, seed):
    checked = check_adjoint(_call(case, norm), [_input(case, seed)], seed=seed)
    assert checked


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_vjp_is_the_transpose_of_the_dense_jacobian(case, norm):
    """Independent of the rules: the Jacobian from transforming basis vectors, transposed."""
    f = _call(case, norm)
    x = _input(case, 2)
    n = x.size
    cols = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        cols.append(np.ravel(f(e.reshape(x.shape).astype(x.dtype))))
    jac = np.stack(cols, axis=1)  # complex-linear in the input: J e_j per column
    rng = np.random.default_rng(3)
    out = f(x)
    u = crand(rng, out.shape) if np.iscomplexobj(out) else rrand(rng, out.shape)
    _, vjp_fn = ad.vjp(f, x)
    got = vjp_fn(u)[0]
    expected = (np.ravel(u) @ jac).reshape(x.shape)  # Jᵀu
    if not np.iscomplexobj(x):
        expected = np.real(expected)
    if not np.iscomplexobj(out) and np.iscomplexobj(x):
        # a real output of a complex input (irfft, hfft) is only real-linear: J i·e_j is not
        # i·J e_j, so its transpose needs both columns
        cols_i = [np.ravel(f((1j * np.eye(n)[j]).reshape(x.shape))) for j in range(n)]
        jac_i = np.stack(cols_i, axis=1)
        expected = ((np.ravel(u) @ jac) - 1j * (np.ravel(u) @ jac_i)).reshape(x.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert got.dtype == x.dtype


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fft2", "rfftn", "irfftn", "hfft"])
def test_check_grads_second_order_both_modes(name):
    rng = np.random.default_rng(4)
    x = rrand(rng, (2, 6))
    w = crand(rng, (2, 6))
    f = getattr(np.fft, name)

    def loss(x):
        y = f(x * x + 0j) if name in ("irfft", "irfftn", "hfft") else f(x * x)
        return np.sum(np.abs(y) ** 2 * np.arange(y.shape[-1])) + \
            np.real(np.sum(y[..., :1] * w[0, 0]))
    ad.check_grads(loss, (x,), order=2, modes=("forward", "reverse"))


def test_parseval_gradient_closed_form():
    x = np.random.default_rng(5).normal(size=9)
    for mode in ("reverse", "forward"):
        g = ad.grad(lambda v: np.sum(np.abs(np.fft.fft(v)) ** 2), mode=mode)(x)
        np.testing.assert_allclose(g, 2 * 9 * x, rtol=1e-12)  # Σ|X|² = n Σx²
    z = crand(np.random.default_rng(6), (4,))
    g = ad.grad(lambda v: np.sum(np.abs(np.fft.ifft(v, norm="ortho")) ** 2))(z)
    np.testing.assert_allclose(g, 2 * np.conj(z), rtol=1e-12)  # unitary: Σ|y|² = Σ|z|²


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "fftn",
                                  "ifftn", "rfft2", "irfft2", "rfftn", "irfftn", "hfft",
                                  "ihfft"])
def test_scipy_fft_dispatches_to_the_same_rules(name):
    rng = np.random.default_rng(7)
    real_in = name in ("rfft", "rfft2", "rfftn", "ihfft")
    x = rrand(rng, (4, 6)) if real_in else crand(rng, (4, 6))
    sfun, nfun = getattr(sf, name), getattr(np.fft, name)
    w = crand(rng, np.shape(sfun(x)))

    def loss(fn):
        return lambda v: np.real(np.sum(w * fn(v, norm="ortho")))
    np.testing.assert_allclose(ad.grad(loss(sfun))(x), ad.grad(loss(nfun))(x), rtol=1e-12)
    t = rv.Tensor(x, requires_grad=True)
    loss(sfun)(t).backward()
    np.testing.assert_allclose(t.grad, ad.grad(loss(nfun))(x), rtol=1e-12)
    np.testing.assert_allclose(sfun(DualArray(x, x)).primal, sfun(x), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sfun(x), nfun(x), rtol=1e-12, atol=1e-13)  # plain calls unchanged


def test_scipy_fft_shifts_and_unsupported_functions():
    x = np.arange(5.0)
    np.testing.assert_allclose(sf.fftshift(DualArray(x, x)).tangent, np.fft.fftshift(x))
    with pytest.raises(TypeError, match="no rule for scipy.fft.dct"):
        sf.dct(DualArray(x, x))
    with pytest.raises(TypeError, match="plan="):
        sf.fft(DualArray(x, x), plan=object())


def test_bad_arguments():
    x = DualArray(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="invalid norm"):
        np.fft.fft(x, norm="sideways")
    with pytest.raises(TypeError, match="out="):
        np.fft.fft(x, out=np.zeros(4, complex))
    with pytest.raises(ValueError, match="invalid number of data points"):
        np.fft.fft(x, n=0)
    with pytest.raises(ValueError, match="out of bounds"):
        np.fft.fft(x, axis=1)
    with pytest.raises(TypeError, match="takes real input"):
        np.fft.rfft(DualArray(np.ones(4) + 0j, np.ones(4) + 0j))
