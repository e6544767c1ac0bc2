"""nn.functional: conv2d by four methods against an independent reference, its JVP/VJP rules in
both modes to second order; pooling, activations and losses; type preservation."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import scipy.special as sp

import dualad as ad
import nn.functional as F
from dualad import DualArray
from dualad.ops import conv as C
from dualad.ops import winograd as W
from ophelpers import check_adjoint, check_forward

import reverse as rv

MODES = ("forward", "reverse")

METHODS = ("direct", "im2col", "fft", "winograd")


def rng_for(*key):
    """A generator seeded by ``key``: the same data on every run (``hash`` of str is salted)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ---------------------------------------------------------------------------------------------
# an independent reference: padding normalized here, patches gathered by index arithmetic
# ---------------------------------------------------------------------------------------------

def _ref_pads(padding, kernel, dilation):
    if padding == "valid":
        return [(0, 0), (0, 0)]
    if padding == "same":
        tot = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return [(t // 2, t - t // 2) for t in tot]
    if isinstance(padding, int):
        return [(padding, padding)] * 2
    return [p if isinstance(p, tuple) else (p, p) for p in padding]


def reference_conv(x, w, stride=1, padding=0, dilation=1):
    pair = (lambda v: (v, v) if isinstance(v, int) else tuple(v))
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    kh, kw = w.shape[2:]
    (pt, pb), (pl, pr) = _ref_pads(padding, (kh, kw), (dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    rows = np.arange(ho)[:, None] * sh + np.arange(kh)[None, :] * dh    # (ho, kh)
    cols = np.arange(wo)[:, None] * sw + np.arange(kw)[None, :] * dw    # (wo, kw)
    patches = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # n, c, ho, wo, kh, kw
    return np.einsum("ncpqij,ocij->nopq", patches, w)


# (x shape, w shape, stride, padding, dilation)
CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1),
    ((1, 2, 9, 8), (3, 2, 3, 2), (2, 3), (0, 1), 1),
    ((2, 2, 11, 10), (3, 2, 3, 3), (2, 1), 2, (2, 3)),
    ((1, 3, 5, 5), (2, 3, 3, 3), 1, "same", 1),
    ((2, 2, 12, 13), (2, 2, 5, 5), 1, "valid", 1),
    ((1, 1, 6, 7), (1, 1, 3, 3), 1, 4, 1),                 # padding wider than the kernel
    ((2, 3, 8, 8), (5, 3, 1, 1), 2, 0, 1),                 # 1x1 kernel
    ((1, 2, 10, 9), (3, 2, 4, 3), 3, (1, 2), 1),           # even kernel, stride 3
    ((1, 2, 7, 8), (2, 2, 3, 3), 1, "same", 2),            # same with dilation
    ((2, 2, 6, 5), (3, 2, 3, 3), 1, ((0, 2), (1, 0)), 1),  # asymmetric explicit padding
    ((1, 2, 5, 2), (3, 2, 3, 3), 1, ((1, 0), (6, 0)), 1),  # a kernel column only on padding
]


def _suits(method, w_shape, stride, dilation):
    return method != "winograd" or (w_shape[2:] == (3, 3) and stride == 1 and dilation == 1)


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_conv2d_methods_match_reference(case):
    xs, ws, s, p, d = case
    rng = rng_for("ref", xs, ws)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    ref = reference_conv(x, w, s, p, d)
    direct = F.conv2d(x, w, stride=s, padding=p, dilation=d, method="direct")
    scale = np.max(np.abs(ref))
    for method in METHODS + ("auto",):
        if not _suits(method, ws, s, d):
            continue
        y = F.conv2d(x, w, stride=s, padding=p, dilation=d, method=method)
        assert isinstance(y, np.ndarray) and y.shape == ref.shape, method
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12 * scale, err_msg=method)
        np.testing.assert_allclose(y, direct, rtol=0, atol=1e-12 * scale, err_msg=method)


def test_conv2d_partner_primitives_match_reference_adjoints():
    # the transposed convolution and the weight gradient, each method, against <u, conv(v)>
    for xs, ws, s, p, d in CASES:
        rng = rng_for("adj", xs, ws)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        stride, pads, dil, _ = C.normalize_conv_args(xs, ws, s, p, d)
        gy = rng.standard_normal(reference_conv(x, w, s, p, d).shape)
        for method in METHODS:
            if not _suits(method, ws, s, d):
                continue
            kw = dict(stride=stride, padding=pads, dilation=dil, method=method)
            dx = C.conv2d_transpose_x_p.bind(gy, w, in_hw=xs[2:], **kw)
            dw = C.conv2d_grad_w_p.bind(x, gy, k_hw=ws[2:], **kw)
            lhs_x = np.sum(reference_conv(x, w, s, p, d) * gy)
            assert dx.shape == xs and dw.shape == ws
            assert np.isclose(np.sum(dx * x), lhs_x, rtol=1e-11, atol=1e-11), method
            assert np.isclose(np.sum(dw * w), lhs_x, rtol=1e-11, atol=1e-11), method


def test_conv2d_bias_batch1_and_unbatched():
    rng = rng_for("bias")
    x, w, b = rng.standard_normal((1, 3, 6, 5)), rng.standard_normal((2, 3, 3, 3)), \
        rng.standard_normal(2)
    ref = reference_conv(x, w, 1, 1, 1) + b[None, :, None, None]
    for method in METHODS:
        np.testing.assert_allclose(F.conv2d(x, w, b, padding=1, method=method), ref, atol=1e-12)
        np.testing.assert_allclose(F.conv2d(x[0], w, b, padding=1, method=method), ref[0],
                                   atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_conv2d_float32_kept(method):
    rng = rng_for("f32", method)
    x, w = rng.standard_normal((2, 3, 9, 7)), rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1, method=method)
    assert y.dtype == np.float32
    ref = reference_conv(x, w, 1, 1, 1)
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-5 * np.max(np.abs(ref)))
    d = F.conv2d(DualArray(x.astype(np.float32), np.ones(x.shape, np.float32)),
                 w.astype(np.float32), padding=1, method=method)
    assert d.primal.dtype == np.float32 and d.tangent.dtype == np.float32
    gx, gw = ad.grad(lambda a, k: np.sum(F.conv2d(a, k, padding=1, method=method) ** 2),
                     argnums=(0, 1))(x.astype(np.float32), w.astype(np.float32))
    assert gx.dtype == np.float32 and gw.dtype == np.float32


def test_conv2d_errors():
    x, w = np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 5, 5))
    with pytest.raises(ValueError, match="5x5"):
        F.conv2d(x, w, method="winograd")
    with pytest.raises(ValueError, match="stride"):
        F.conv2d(x, np.zeros((3, 2, 3, 3)), stride=2, method="winograd")
    with pytest.raises(ValueError, match="dilation"):
        F.conv2d(x, np.zeros((3, 2, 3, 3)), dilation=2, method="winograd")
    with pytest.raises(ValueError, match="method"):
        F.conv2d(x, w, method="gemm")
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(x, np.zeros((3, 4, 3, 3)))
    with pytest.raises(ValueError, match="same"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="empty"):
        F.conv2d(x, np.zeros((3, 2, 9, 9)))
    with pytest.raises(ValueError, match="bias"):
        F.conv2d(x, w, np.zeros(2))


def test_conv2d_auto_caches_its_choice():
    C.clear_auto_cache()
    rng = rng_for("auto")
    x, w = rng.standard_normal((4, 8, 16, 16)), rng.standard_normal((8, 8, 3, 3))
    y = F.conv2d(x, w, padding=1, method="auto")
    np.testing.assert_allclose(y, reference_conv(x, w, 1, 1, 1), atol=1e-11)
    (key, choice), = C.AUTO_CACHE.items()
    assert key[0] == "conv" and choice in METHODS
    F.conv2d(x, w, padding=1, method="auto")
    assert len(C.AUTO_CACHE) == 1                        # the second call reuses the choice
    F.conv2d(x[:1, :1, :4, :4], w[:1, :1], method="auto")  # tiny: im2col without timing
    assert "im2col" in C.AUTO_CACHE.values()


def reference_grads(x, w, gy, stride=1, padding=0, dilation=1):
    """dx and dw of <conv(x, w), gy> by the reference's patch indices: dw contracts the gathered
    patches, dx scatters the patch cotangents back with ``np.add.at``."""
    pair = (lambda v: (v, v) if isinstance(v, int) else tuple(v))
    (sh, sw), (dh, dw_) = pair(stride), pair(dilation)
    kh, kw = w.shape[2:]
    (pt, pb), (pl, pr) = _ref_pads(padding, (kh, kw), (dh, dw_))
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ho, wo = gy.shape[2:]
    rows = np.arange(ho)[:, None] * sh + np.arange(kh)[None, :] * dh
    cols = np.arange(wo)[:, None] * sw + np.arange(kw)[None, :] * dw_
    idx = (slice(None), slice(None), rows[:, None, :, None], cols[None, :, None, :])
    dw = np.einsum("ncpqij,nopq->ocij", xp[idx], gy)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, idx, np.einsum("nopq,ocij->ncpqij", gy, w))
    return dxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]], dw


# stride 1 shapes whose batch is cut in several chunks and whose 3x3 Winograd tiles are ragged
CHUNK_CASES = [((5, 3, 11, 9), (4, 3, 3, 3), 1, 1, 1),
               ((3, 2, 10, 7), (3, 2, 3, 2), 1, ((2, 0), (1, 3)), (2, 1)),
               ((4, 2, 7, 13), (2, 2, 3, 3), 1, ((0, 3), (2, 1)), 1)]


@pytest.mark.parametrize("method", METHODS)
def test_conv2d_chunked_kernels_match_reference(method, monkeypatch):
    # the stride-1 kernels work on chunks of the batch (Winograd: bands of tile rows) with
    # scratch reused from chunk to chunk; one image/band per chunk, a partial last chunk and
    # everything at once must all give the reference's values, for all three primitives
    for xs, ws, s, p, d in CHUNK_CASES:
        if not _suits(method, ws, s, d):
            continue
        rng = rng_for("chunks", xs, ws)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        ref = reference_conv(x, w, s, p, d)
        gy = rng.standard_normal(ref.shape)
        dx_ref, dw_ref = reference_grads(x, w, gy, s, p, d)
        stride, pads, dil, _ = C.normalize_conv_args(xs, ws, s, p, d)
        kw = dict(stride=stride, padding=pads, dilation=dil, method=method)
        for chunk_bytes, band_bytes in ((1, 1), (25_000, 65_000), (1 << 40, 1 << 40)):
            monkeypatch.setattr(C, "CHUNK_BYTES", chunk_bytes)
            monkeypatch.setattr(W, "BAND_BYTES", band_bytes)
            for got, want in ((C.conv2d_p.bind(x, w, **kw), ref),
                              (C.conv2d_transpose_x_p.bind(gy, w, in_hw=xs[2:], **kw), dx_ref),
                              (C.conv2d_grad_w_p.bind(x, gy, k_hw=ws[2:], **kw), dw_ref)):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.max(np.abs(want)),
                                           err_msg=f"{method} {xs} {chunk_bytes}")


@pytest.mark.parametrize("method", METHODS)
def test_conv2d_float32_primitives_accurate_and_float32(method):
    # float32 all the way through (no float64 transform matrices or spectra promoting the
    # work): results float32, within a few float32 roundings of the float64 reference
    rng = rng_for("f32 primitives", method)
    x, w = rng.standard_normal((3, 16, 12, 10)), rng.standard_normal((8, 16, 3, 3))
    gy = rng.standard_normal((3, 8, 12, 10))
    kw = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), method=method)
    f32 = [a.astype(np.float32) for a in (x, w, gy)]
    dx_ref, dw_ref = reference_grads(x, w, gy, 1, 1, 1)
    for got, want in ((C.conv2d_p.bind(f32[0], f32[1], **kw), reference_conv(x, w, 1, 1, 1)),
                      (C.conv2d_transpose_x_p.bind(f32[2], f32[1], in_hw=(12, 10), **kw), dx_ref),
                      (C.conv2d_grad_w_p.bind(f32[0], f32[2], k_hw=(3, 3), **kw), dw_ref)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * np.max(np.abs(want)))


# ---------------------------------------------------------------------------------------------
# conv2d derivatives: JVP and VJP rules of every method, both modes, second order
# ---------------------------------------------------------------------------------------------

GRAD_CASES = [((2, 2, 5, 6), (3, 2, 3, 3), 1, 1, 1),
              ((1, 2, 7, 6), (2, 2, 3, 2), (2, 1), ((1, 0), (2, 1)), (1, 2))]


def _grad_cases(method):
    return [c for c in GRAD_CASES if _suits(method, c[1], c[2], c[4])]


@pytest.mark.parametrize("method", METHODS)
def test_conv2d_rules_forward_and_adjoint(method):
    for xs, ws, s, p, d in _grad_cases(method):
        rng = rng_for("rules", method, xs)
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        stride, pads, dil, _ = C.normalize_conv_args(xs, ws, s, p, d)
        kw = dict(stride=stride, padding=pads, dilation=dil, method=method)
        gy = rng.standard_normal(reference_conv(x, w, s, p, d).shape)

        def conv(a, b):
            return F.conv2d(a, b, stride=s, padding=p, dilation=d, method=method)

        def tx(g, b):
            return C.conv2d_transpose_x_p.bind(g, b, in_hw=xs[2:], **kw)

        def gw(a, g):
            return C.conv2d_grad_w_p.bind(a, g, k_hw=ws[2:], **kw)

        for f, args in ((conv, [x, w]), (tx, [gy, w]), (gw, [x, gy])):
            check_forward(f, args)
            assert check_adjoint(f, args)


@pytest.mark.parametrize("method", METHODS)
def test_conv2d_check_grads(method):
    for xs, ws, s, p, d in _grad_cases(method):
        rng = rng_for("grads", method, xs)
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        r = rng.standard_normal(reference_conv(x, w, s, p, d).shape)

        def conv(a, k, bias):
            return F.conv2d(a, k, bias, stride=s, padding=p, dilation=d, method=method)

        ad.check_grads(conv, (x, w, b), order=1, modes=MODES)
        # a nonlinear scalar readout: second derivatives in x·x, x·w and w·w are all nonzero
        ad.check_grads(lambda a, k: np.sum(np.tanh(conv(a, k, b)) * r), (x, w), order=2,
                       modes=MODES)


def test_conv2d_hessian_forward_over_reverse():
    # ad.hessian differentiates the VJP rules (the partner primitives) by their JVP rules;
    # forward-over-forward (checked numerically above) is the reference
    rng = rng_for("hessian")
    x, w = rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((2, 2, 3, 3))
    for method in METHODS:
        s, d = (1, 1) if method == "winograd" else ((2, 1), (1, 2))

        def f(a, k):
            return np.sum(np.tanh(F.conv2d(a, k, stride=s, padding=1, dilation=d,
                                           method=method)))
        for argnums in (0, 1, (0, 1)):
            h = ad.hessian(f, argnums=argnums)(x, w)
            ref = ad.jacfwd(ad.jacfwd(f, argnums=argnums), argnums=argnums)(x, w)
            for a, b in zip(ad.tree_flatten(h)[0], ad.tree_flatten(ref)[0]):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=method)


def test_conv2d_partner_primitives_check_grads():
    # forward mode differentiates the transpose and the weight gradient through their own JVPs
    xs, ws = (1, 2, 5, 5), (2, 2, 3, 3)
    rng = rng_for("partners")
    x, w, gy = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal((1, 2, 5, 5))
    kw = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), method="im2col")
    ad.check_grads(lambda g, b: C.conv2d_transpose_x_p.bind(g, b, in_hw=(5, 5), **kw),
                   (gy, w), modes=MODES)
    ad.check_grads(lambda a, g: C.conv2d_grad_w_p.bind(a, g, k_hw=(3, 3), **kw), (x, gy),
                   modes=MODES)


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------

def reference_pool(x, k, s, p, reduce, fill):
    pair = (lambda v: (v, v) if isinstance(v, int) else tuple(v))
    (kh, kw), (ph, pw) = pair(k), pair(p)
    (sh, sw) = pair(k if s is None else s)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    rows = np.arange(ho)[:, None] * sh + np.arange(kh)[None, :]
    cols = np.arange(wo)[:, None] * sw + np.arange(kw)[None, :]
    return reduce(xp[:, :, rows[:, None, :, None], cols[None, :, None, :]], axis=(4, 5))


POOL_CASES = [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1)), (3, None, 1), (2, 1, 0)]


@pytest.mark.parametrize("k,s,p", POOL_CASES)
def test_pooling_values_and_derivatives(k, s, p):
    rng = rng_for("pool", str(k), str(s), str(p))
    x = rng.standard_normal((2, 2, 7, 6))
    np.testing.assert_allclose(F.max_pool2d(x, k, s, p),
                               reference_pool(x, k, s, p, np.max, -np.inf), atol=1e-15)
    np.testing.assert_allclose(F.avg_pool2d(x, k, s, p),
                               reference_pool(x, k, s, p, np.mean, 0.0), atol=1e-15)
    for fn in (F.max_pool2d, F.avg_pool2d):
        def f(a):
            return fn(a, k, s, p)
        check_forward(f, [x])
        check_adjoint(f, [x])
        ad.check_grads(f, (x,), order=1, modes=MODES)
    ad.check_grads(lambda a: np.sum(np.sin(F.avg_pool2d(a, k, s, p))), (x[:1, :1],), order=2,
                   modes=MODES)


def test_pooling_semantics():
    ones = np.ones((1, 1, 4, 4))
    # avg pool counts the zero padding (count_include_pad=True): a corner window sees 4 of 9
    np.testing.assert_allclose(F.avg_pool2d(ones, 3, 2, 1)[0, 0, 0, 0], 4 / 9)
    # max pool pads with -inf: the padding never wins, even against negative values
    assert F.max_pool2d(-ones, 3, 2, 1)[0, 0, 0, 0] == -1.0
    # tied maxima share the derivative equally (documented)
    g = ad.grad(lambda a: np.sum(F.max_pool2d(a, 2)), mode="forward")(ones)
    np.testing.assert_allclose(g, np.full((1, 1, 4, 4), 0.25))
    # floor mode: windows that do not fit are dropped
    assert F.max_pool2d(np.ones((1, 1, 5, 5)), 2).shape == (1, 1, 2, 2)
    assert F.avg_pool2d(np.ones((3, 5, 5)), 2).shape == (3, 2, 2)
    with pytest.raises(ValueError, match="half"):
        F.max_pool2d(ones, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        F.avg_pool2d(ones, 0)


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------

def test_activation_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(F.relu(x), [0, 0, 0, 0.5, 3.0])
    np.testing.assert_allclose(F.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(F.tanh(x), np.tanh(x))
    m = np.arange(12.0).reshape(3, 4) / 7
    for axis in (0, 1, -1):
        np.testing.assert_allclose(F.softmax(m, axis), sp.softmax(m, axis=axis), rtol=1e-14)
        np.testing.assert_allclose(F.log_softmax(m, axis), sp.log_softmax(m, axis=axis),
                                   rtol=1e-14)


def test_relu_derivative_at_zero_is_zero():
    x = np.array([-1.0, 0.0, 2.0])
    for mode in ("forward", "reverse"):
        g = ad.grad(lambda a: np.sum(F.relu(a)), mode=mode)(x)
        np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])


@pytest.mark.parametrize("fn", [F.relu, F.sigmoid, F.tanh])
def test_elementwise_activation_derivatives(fn):
    x = np.array([[-1.3, -0.2, 0.4], [0.9, 2.1, -2.5]])
    check_forward(fn, [x])
    check_adjoint(fn, [x])
    ad.check_grads(fn, (x,), order=2, modes=MODES)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_derivatives(fn):
    x = rng_for("softmax").standard_normal((3, 4))
    for axis in (0, -1):
        def f(a):
            return fn(a, axis)
        check_forward(f, [x])
        check_adjoint(f, [x])
        ad.check_grads(f, (x,), order=2, modes=MODES)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.sigmoid])
def test_finite_at_extremes(fn):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 3.0]])
    assert np.all(np.isfinite(fn(x)))
    for mode in MODES:
        jac = ad.jacobian(fn, mode=mode)(x)
        assert np.all(np.isfinite(jac)), mode
    np.testing.assert_allclose(F.softmax(x)[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(F.log_softmax(x)[0], [0.0, -2e4, -1e4])


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------

def test_cross_entropy_by_hand():
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])
    labels = np.array([2, 0, 0])
    # -log(e^z_y / Σ e^z): written out for each row
    by_hand = np.array([np.log(np.exp(1) + np.exp(2) + np.exp(3)) - 3,
                        np.log(3.0),
                        np.log(2 + np.exp(5))])
    np.testing.assert_allclose(F.cross_entropy(logits, labels, "none"), by_hand, rtol=1e-14)
    np.testing.assert_allclose(F.cross_entropy(logits, labels), by_hand.mean(), rtol=1e-14)
    np.testing.assert_allclose(F.cross_entropy(logits, labels, "sum"), by_hand.sum(),
                               rtol=1e-14)
    # unbatched, and classes on axis 1 with extra axes (as PyTorch)
    np.testing.assert_allclose(F.cross_entropy(logits[0], np.int64(2)), by_hand[0], rtol=1e-14)
    spatial = np.stack([logits, logits[::-1]], axis=-1)  # (3, 3, 2)
    lab2 = np.stack([labels, labels[::-1]], axis=-1)
    np.testing.assert_allclose(F.cross_entropy(spatial, lab2, "none"),
                               np.stack([by_hand, by_hand[::-1]], axis=-1), rtol=1e-14)
    # the gradient is softmax - onehot, divided by N for the mean
    g = ad.grad(lambda z: F.cross_entropy(z, labels), mode="forward")(logits)
    np.testing.assert_allclose(g, (sp.softmax(logits, axis=1) - np.eye(3)[labels]) / 3,
                               atol=1e-15)


def test_loss_errors():
    logits, labels = np.zeros((2, 3)), np.array([0, 2])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, labels, "avg")
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(logits, logits, "max")
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(logits, labels.astype(float))
    with pytest.raises(IndexError, match="3"):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="shape"):
        F.mse_loss(np.zeros((4, 1)), np.zeros(4))


def test_loss_derivatives():
    rng = rng_for("losses")
    z, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    labels = np.array([0, 2, 1, 2])
    for red in ("mean", "sum", "none"):
        np.testing.assert_allclose(
            F.mse_loss(z, t, red), {"mean": np.mean, "sum": np.sum,
                                    "none": lambda v: v}[red]((z - t) ** 2), rtol=1e-15)
        ad.check_grads(lambda a, b: F.mse_loss(a, b, red), (z, t), order=2, modes=MODES)
        ad.check_grads(lambda a: F.cross_entropy(a, labels, red), (z,), order=2, modes=MODES)
    check_adjoint(lambda a: F.cross_entropy(a, labels, "none"), [z])
    check_forward(lambda a: F.cross_entropy(a, labels, "none"), [z])


# ---------------------------------------------------------------------------------------------
# every function returns the type it was given
# ---------------------------------------------------------------------------------------------

TYPED = [
    ("conv2d", lambda a: F.conv2d(a, np.ones((2, 2, 3, 3)), np.ones(2), padding=1)),
    ("max_pool2d", lambda a: F.max_pool2d(a, 2)),
    ("avg_pool2d", lambda a: F.avg_pool2d(a, 3, 1, 1)),
    ("relu", F.relu), ("sigmoid", F.sigmoid), ("tanh", F.tanh),
    ("softmax", lambda a: F.softmax(a, axis=1)), ("log_softmax", F.log_softmax),
    ("mse_loss", lambda a: F.mse_loss(a, np.zeros((1, 2, 4, 4)))),
    ("cross_entropy", lambda a: F.cross_entropy(a, np.zeros((1, 4, 4), dtype=int))),
]


@pytest.mark.parametrize("name,fn", TYPED, ids=[t[0] for t in TYPED])
def test_returns_the_type_it_was_given(name, fn):
    x = rng_for("types", name).standard_normal((1, 2, 4, 4))
    y = fn(x)
    assert type(y) in (np.ndarray, np.float64), name
    d = fn(DualArray(x, np.ones_like(x)))
    assert isinstance(d, DualArray), name
    np.testing.assert_allclose(d.primal, y, atol=1e-14)
    t = fn(rv.Tensor(x, requires_grad=True))
    assert isinstance(t, rv.Tensor), name
    np.testing.assert_allclose(t.data, y, atol=1e-14)
