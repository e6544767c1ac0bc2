"""2-D convolution (cross-correlation, NCHW) as op-table entries, by four algorithms.

Three primitives share one trilinear form ``B(x, w, g) = <conv2d(x, w), g>``:

=============================  ==============  =========================================
primitive                      arguments       result (the partial derivative of ``B``)
=============================  ==============  =========================================
``conv2d_p``                   ``x, w``        ``y``  (N, C_out, H_out, W_out)
``conv2d_transpose_x_p``       ``g, w``        ``dx`` (N, C_in, H, W): ∂B/∂x
``conv2d_grad_w_p``            ``x, g``        ``dw`` (C_out, C_in, kh, kw): ∂B/∂w
=============================  ==============  =========================================

Each is bilinear, so its JVP is the op applied to one tangent at a time, and the VJP with
respect to one argument is the *partner* primitive that fills that argument's slot of ``B``
(e.g. the VJP of ``conv2d_p`` for ``x`` is ``conv2d_transpose_x_p``, and that one's VJP for
``g`` is ``conv2d_p`` again). The three close under differentiation, so every order in both
modes needs no further code. Tangent and cotangent lanes are folded into an axis the op treats
independently (batch, or a channel axis that is not contracted), so K lanes cost one call.

``method`` picks how the *values* are computed; the rules do not depend on it:

``direct``
    Σ over the kh·kw kernel offsets of one GEMM of a strided slice of the padded input with
    ``w[:, :, i, j]``: vectorized over batch, channels and positions. At stride 1 the slice is
    a contiguous run of the flattened image (rows computed padded-width wide), so no copies.
``im2col``
    the patch matrix (C_in·kh·kw, N·H_out·W_out) copied out of a ``sliding_window_view`` in the
    order that makes one contiguous GEMM. The transpose is, at stride 1, the same algorithm on
    the flipped kernel; otherwise one GEMM and col2im, a strided add per kernel offset.
``fft``
    ``scipy.fft.rfft2`` of the padded input and of the dilated kernel at a fast size ≥ the
    padded input, a per-frequency channel contraction, ``irfft2``, then subsampling by the
    stride. Cost independent of the kernel size: for large kernels.
``winograd``
    for 3×3 kernels with stride 1 and dilation 1 (Lavin & Gray, 2016): F(4×4, 3×3) in float64
    (36 products per 16 outputs instead of 144) and F(2×2, 3×3) in float32, where F(4×4)'s
    larger transform coefficients cost ~30× direct's rounding error. The channel sums are one
    GEMM per transform point. The weight gradient is the transposed algorithm (transposition
    principle), the input gradient the forward algorithm on the flipped kernel.
``auto``
    times the suited methods on the first call for a (primitive, shapes, geometry, dtype) key
    (each once, the two fastest twice), keeps the fastest in :data:`AUTO_CACHE` and uses it
    from then on; the transpose and the weight gradient choose separately. Problems under
    :data:`AUTO_MIN_MACS` multiply-adds use ``im2col`` untimed (overhead dominates there).
    A timed choice adapts to the machine (BLAS threads, cache sizes) where a cost model would
    not; the price is a slower first call per shape, and a choice that can differ between
    runs (all methods agree to ~1e-14, so only the speed can).
"""
from __future__ import annotations

import time
from collections import namedtuple

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .core import Primitive, Tracer, shape_of

__all__ = ["conv2d_p", "conv2d_transpose_x_p", "conv2d_grad_w_p", "conv2d",
           "normalize_conv_args", "check_method", "METHODS", "AUTO_CACHE", "clear_auto_cache"]

METHODS = ("direct", "im2col", "fft", "winograd", "auto")


# ---------------------------------------------------------------------------------------------
# geometry and argument normalization
# ---------------------------------------------------------------------------------------------

class Geometry(namedtuple("Geometry", "n c o h w kh kw ho wo sh sw dh dw pt pb pl pr")):
    """Every size of one convolution, whichever of its three primitives is computed: batch,
    input and output channels, input, kernel and output sizes, stride, dilation, padding."""

    __slots__ = ()

    @property
    def hp(self):
        return self.h + self.pt + self.pb

    @property
    def wp(self):
        return self.w + self.pl + self.pr

    def window(self, i, j):
        """The (rows, cols) slices of the padded input that kernel offset (i, j) reads."""
        r0, c0 = i * self.dh, j * self.dw
        return (slice(r0, r0 + self.sh * (self.ho - 1) + 1, self.sh),
                slice(c0, c0 + self.sw * (self.wo - 1) + 1, self.sw))


def _out_size(n, k, s, lo, hi, d):
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def _geometry(kind, a_shape, b_shape, stride, padding, dilation, extra):
    """The geometry from the shapes of a primitive's arguments (``extra``: the input's (H, W)
    for the transpose, the kernel's (kh, kw) for the weight gradient)."""
    (sh, sw), (dh, dw), ((pt, pb), (pl, pr)) = stride, dilation, padding
    if kind == "conv":
        (n, c, h, w), (o, _, kh, kw) = a_shape, b_shape
    elif kind == "tx":
        (n, o, _, _), (_, c, kh, kw), (h, w) = a_shape, b_shape, extra
    else:
        (n, c, h, w), (_, o, _, _), (kh, kw) = a_shape, b_shape, extra
    ho, wo = _out_size(h, kh, sh, pt, pb, dh), _out_size(w, kw, sw, pl, pr, dw)
    return Geometry(n, c, o, h, w, kh, kw, ho, wo, sh, sw, dh, dw, pt, pb, pl, pr)


def _pair(v, name):
    t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(t) != 2 or any(isinstance(k, bool) or int(k) != k or k < 1 for k in t):
        raise ValueError(f"conv2d: {name} must be a positive int or a pair of them, got {v!r}")
    return tuple(int(k) for k in t)


def _padding(padding, stride, dilation, kernel):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding != "same":
            raise ValueError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', "
                             f"got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"conv2d: padding='same' needs stride 1 (as in PyTorch), got "
                             f"stride {stride}")
        # as PyTorch: an odd total puts the extra row/column at the bottom/right
        tot = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in tot)
    p = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    p = tuple(tuple(q) if isinstance(q, (tuple, list)) else (q, q) for q in p)
    if len(p) != 2 or any(len(q) != 2 for q in p) or any(
            isinstance(k, bool) or int(k) != k or k < 0 for q in p for k in q):
        raise ValueError(f"conv2d: padding must be a non-negative int, a pair (ph, pw), "
                         f"((top, bottom), (left, right)), 'same' or 'valid'; got {padding!r}")
    return tuple(tuple(int(k) for k in q) for q in p)


def check_method(method, kernel, stride, dilation):
    """Raise ``ValueError`` for an unknown method, or winograd on a shape it cannot do."""
    if method not in METHODS:
        raise ValueError(f"conv2d: method must be one of {', '.join(map(repr, METHODS))}, got "
                         f"{method!r}")
    if method == "winograd" and not _winograd_suits(kernel, stride, dilation):
        raise ValueError(f"conv2d: method='winograd' needs a 3x3 kernel with "
                         f"stride 1 and dilation 1; got a {kernel[0]}x{kernel[1]} kernel, "
                         f"stride {stride}, dilation {dilation}. Use 'im2col', 'fft', 'direct' "
                         f"or 'auto'")


def _winograd_suits(kernel, stride, dilation):
    return tuple(kernel) == (3, 3) and stride == (1, 1) and dilation == (1, 1)


def normalize_conv_args(x_shape, w_shape, stride=1, padding=0, dilation=1, method="auto"):
    """Check the shapes and return ``(stride, padding, dilation, method)`` normalized.

    ``padding`` becomes ``((top, bottom), (left, right))``; raises ``ValueError`` naming the
    problem for mismatched channels, an empty output, or an unsuited method.
    """
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"conv2d: x must be (N, C_in, H, W) and w (C_out, C_in, kh, kw); got "
                         f"shapes {tuple(x_shape)} and {tuple(w_shape)}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"conv2d: x has {x_shape[1]} channels but w expects {w_shape[1]} "
                         f"(x {tuple(x_shape)}, w {tuple(w_shape)})")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _padding(padding, stride, dilation, w_shape[2:])
    check_method(method, w_shape[2:], stride, dilation)
    g = _geometry("conv", tuple(x_shape), tuple(w_shape), stride, padding, dilation, None)
    if g.ho < 1 or g.wo < 1:
        raise ValueError(f"conv2d: the output would be empty ({g.ho}x{g.wo}): input "
                         f"{tuple(x_shape[2:])} padded by {padding} is smaller than the "
                         f"{w_shape[2]}x{w_shape[3]} kernel dilated by {dilation}")
    return stride, padding, dilation, method


def conv2d(x, w, stride=1, padding=0, dilation=1, method="auto"):
    """``conv2d_p`` with its arguments normalized (no bias; see ``nn.functional.conv2d``)."""
    stride, padding, dilation, method = normalize_conv_args(
        shape_of(x), shape_of(w), stride, padding, dilation, method)
    return conv2d_p.bind(x, w, stride=stride, padding=padding, dilation=dilation, method=method)


# ---------------------------------------------------------------------------------------------
# shared array helpers (plain ndarrays only)
# ---------------------------------------------------------------------------------------------

def _pad(x, g, extra_h=0, extra_w=0):
    if not (g.pt or g.pb or g.pl or g.pr or extra_h or extra_w):
        return x
    return np.pad(x, ((0, 0), (0, 0), (g.pt, g.pb + extra_h), (g.pl, g.pr + extra_w)))


def _crop_input(dxp, g):
    """The unpadded part of a gradient computed over the padded input."""
    return dxp[..., g.pt:g.pt + g.h, g.pl:g.pl + g.w]


def _patches(xp, g):
    """The im2col matrix (C·kh·kw, N·H_out·W_out): rows ordered (c, i, j), columns (n, p, q),
    so that ``w.reshape(O, -1) @ cols`` is one contiguous GEMM."""
    eh, ew = g.dh * (g.kh - 1) + 1, g.dw * (g.kw - 1) + 1
    v = sliding_window_view(xp, (eh, ew), axis=(2, 3))[:, :, ::g.sh, ::g.sw, ::g.dh, ::g.dw]
    # one copy, in the order whose reshape needs none: (c, i, j, n, p, q)
    cols = np.ascontiguousarray(v.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(g.c * g.kh * g.kw, g.n * g.ho * g.wo)


def _channels_first(g_out):
    """(N, O, H_out, W_out) → the (O, N·H_out·W_out) matrix the GEMMs want (one copy)."""
    n, o = g_out.shape[:2]
    return np.ascontiguousarray(g_out.transpose(1, 0, 2, 3)).reshape(o, -1)


# ---------------------------------------------------------------------------------------------
# direct: one GEMM per kernel offset
# ---------------------------------------------------------------------------------------------

def _flat_padded(x, g):
    """The padded input flattened per channel, (N, C, (Hp + 1)·Wp): one spare zero row keeps
    the last flat window of :func:`_direct_conv` inside the buffer."""
    xp = np.zeros((g.n, g.c, g.hp + 1, g.wp), dtype=x.dtype)
    xp[:, :, g.pt:g.pt + g.h, g.pl:g.pl + g.w] = x
    return xp.reshape(g.n, g.c, -1)


def _direct_conv(x, w, g):
    if g.sh == g.sw == 1:
        # stride 1: what offset (i, j) reads of a row-major padded image is one contiguous run
        # of it, if output rows are computed Wp wide (their last Wp − Wo entries wrap around
        # and are dropped). So each offset is a GEMM on a view of the input: no copies.
        xf, run = _flat_padded(x, g), g.ho * g.wp
        y = None
        for i in range(g.kh):
            for j in range(g.kw):
                off = i * g.dh * g.wp + j * g.dw
                part = np.matmul(w[:, :, i, j], xf[:, :, off:off + run])  # (N, O, run)
                y = part if y is None else np.add(y, part, out=y)
        return y.reshape(g.n, g.o, g.ho, g.wp)[..., :g.wo]
    xp = _pad(x, g)
    y = None
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = g.window(i, j)
            part = np.tensordot(xp[:, :, rs, cs], w[:, :, i, j], axes=([1], [1]))  # n,p,q,o
            y = part if y is None else np.add(y, part, out=y)
    return y.transpose(0, 3, 1, 2)


def _direct_tx(gy, w, g):
    if g.sh == g.sw == 1:
        return _flipped_correlation(gy, w, g, _direct_conv)
    dxp = np.zeros((g.n, g.hp, g.wp, g.c), dtype=gy.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = g.window(i, j)
            dxp[:, rs, cs, :] += np.tensordot(gy, w[:, :, i, j], axes=([1], [0]))  # n,p,q,c
    return _crop_input(dxp.transpose(0, 3, 1, 2), g)


def _direct_gw(x, gy, g):
    dw = np.empty((g.o, g.c, g.kh, g.kw), dtype=gy.dtype)
    if g.sh == g.sw == 1:
        # the flat windows of _direct_conv again; the wrapped-around columns get g = 0
        xf, run = _flat_padded(x, g), g.ho * g.wp
        ge = np.zeros((g.n, g.o, g.ho, g.wp), dtype=gy.dtype)
        ge[..., :g.wo] = gy
        ge = ge.reshape(g.n, g.o, run)
        for i in range(g.kh):
            for j in range(g.kw):
                off = i * g.dh * g.wp + j * g.dw
                win = xf[:, :, off:off + run].transpose(0, 2, 1)  # (N, run, C)
                dw[:, :, i, j] = np.matmul(ge, win).sum(axis=0)
        return dw
    xp = _pad(x, g)
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = g.window(i, j)
            dw[:, :, i, j] = np.tensordot(gy, xp[:, :, rs, cs], axes=([0, 2, 3], [0, 2, 3]))
    return dw


# ---------------------------------------------------------------------------------------------
# im2col: one patch copy and one GEMM; col2im scatters back with one strided add per offset
# ---------------------------------------------------------------------------------------------

def _im2col_conv(x, w, g):
    y = w.reshape(g.o, -1) @ _patches(_pad(x, g), g)
    return y.reshape(g.o, g.n, g.ho, g.wo).transpose(1, 0, 2, 3)


def _im2col_tx(gy, w, g):
    if g.sh == g.sw == 1:
        # stride 1: the transpose is itself a correlation of the padded g with the flipped
        # kernel, and a patch copy + GEMM beats GEMM + col2im's kh·kw scattered adds
        return _flipped_correlation(gy, w, g, _im2col_conv)
    dcols = (w.reshape(g.o, -1).T @ _channels_first(gy)).reshape(
        g.c, g.kh, g.kw, g.n, g.ho, g.wo)
    dxp = np.zeros((g.c, g.n, g.hp, g.wp), dtype=dcols.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = g.window(i, j)
            dxp[:, :, rs, cs] += dcols[:, i, j]
    return _crop_input(dxp.transpose(1, 0, 2, 3), g)


def _im2col_gw(x, gy, g):
    dw = _channels_first(gy) @ _patches(_pad(x, g), g).T
    return dw.reshape(g.o, g.c, g.kh, g.kw)


def _flipped_correlation(gy, w, g, conv):
    """The stride-1 input gradient as a forward correlation: pad (or crop) g by k−1−p on each
    side and correlate with the spatially flipped kernel whose channel axes are swapped."""
    lo_h, hi_h = g.dh * (g.kh - 1) - g.pt, g.dh * (g.kh - 1) - g.pb
    lo_w, hi_w = g.dw * (g.kw - 1) - g.pl, g.dw * (g.kw - 1) - g.pr
    # negative amounts (padding wider than the kernel) crop instead
    gy = gy[:, :, max(-lo_h, 0):g.ho - max(-hi_h, 0), max(-lo_w, 0):g.wo - max(-hi_w, 0)]
    wf = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    pads = ((max(lo_h, 0), max(hi_h, 0)), (max(lo_w, 0), max(hi_w, 0)))
    h2, w2 = gy.shape[2], gy.shape[3]
    g2 = Geometry(g.n, g.o, g.c, h2, w2, g.kh, g.kw, g.h, g.w, 1, 1, g.dh, g.dw,
                  pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    return conv(gy, wf, g2)


# ---------------------------------------------------------------------------------------------
# fft: real transforms at a fast size that holds the padded input, so nothing wraps around
# ---------------------------------------------------------------------------------------------

def _fft_size(g):
    return (sfft.next_fast_len(g.hp, real=True), sfft.next_fast_len(g.wp, real=True))


def _rfft(a, size):
    return sfft.rfft2(a, s=size, axes=(2, 3))


def _spread(a, sh, sw):
    """``a`` with sh−1 (sw−1) zero rows (columns) between its entries: stride/dilation."""
    if sh == sw == 1:
        return a
    n0, n1, h, w = a.shape
    out = np.zeros((n0, n1, sh * (h - 1) + 1, sw * (w - 1) + 1), dtype=a.dtype)
    out[:, :, ::sh, ::sw] = a
    return out


def _freq_contract(a, b, a_axes, b_axes):
    """Per frequency, contract the spectra ``a`` and ``b`` (4-d, frequencies on axes 2, 3) over
    their shared channel axis: one batched complex GEMM over all frequencies.

    ``a_axes``/``b_axes`` name which of axes 0, 1 are (row, inner) and (inner, col); the
    result is (row, col, *frequencies).
    """
    f1, f2 = a.shape[2:]
    am = np.moveaxis(a.reshape(a.shape[0], a.shape[1], -1), 2, 0).transpose(
        (0,) + tuple(1 + k for k in a_axes))
    bm = np.moveaxis(b.reshape(b.shape[0], b.shape[1], -1), 2, 0).transpose(
        (0,) + tuple(1 + k for k in b_axes))
    r = np.matmul(am, bm)  # (F, row, col)
    return np.moveaxis(r, 0, 2).reshape(r.shape[1], r.shape[2], f1, f2)


def _fft_conv(x, w, g):
    size = _fft_size(g)
    xf = _rfft(_pad(x, g), size)
    wf = np.conj(_rfft(_spread(w, g.dh, g.dw), size))
    yf = _freq_contract(xf, wf, (0, 1), (1, 0))  # Σ_c X[n,c]·conj(W[o,c])
    y = sfft.irfft2(yf, s=size, axes=(2, 3))
    return y[:, :, :g.sh * (g.ho - 1) + 1:g.sh, :g.sw * (g.wo - 1) + 1:g.sw]


def _fft_tx(gy, w, g):
    size = _fft_size(g)
    gf = _rfft(_spread(gy, g.sh, g.sw), size)
    wf = _rfft(_spread(w, g.dh, g.dw), size)
    dxf = _freq_contract(gf, wf, (0, 1), (0, 1))  # Σ_o G[n,o]·W[o,c]: a convolution
    dxp = sfft.irfft2(dxf, s=size, axes=(2, 3))
    return _crop_input(dxp, g)


def _fft_gw(x, gy, g):
    size = _fft_size(g)
    xf = _rfft(_pad(x, g), size)
    gf = np.conj(_rfft(_spread(gy, g.sh, g.sw), size))
    dwf = _freq_contract(gf, xf, (1, 0), (0, 1))  # Σ_n conj(G[n,o])·X[n,c]
    dw = sfft.irfft2(dwf, s=size, axes=(2, 3))
    return dw[:, :, :g.dh * (g.kh - 1) + 1:g.dh, :g.dw * (g.kw - 1) + 1:g.dw]


# ---------------------------------------------------------------------------------------------
# winograd F(m x m, 3x3): Y = Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A on α x α input tiles (α = m + 2) taken
# every m rows/columns. Arrays are laid out (H, W, N, C) here so that every tile transform is a
# GEMM of a small matrix with contiguous blocks, and the channel GEMMs are (tiles·N, C) @ (C, O).
# ---------------------------------------------------------------------------------------------

#: a scheme is (Bᵀ (α, α), G (α, 3), Aᵀ (m, α)) for m x m outputs from α x α tiles
_Scheme = namedtuple("_Scheme", "bt g at")


#: interpolation points 0, ±1, ∞ (Lavin & Gray 2016): exact in binary, error ~ direct's
_F2 = _Scheme(np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float),
              np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]]),
              np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float))
#: points 0, ±1, ±2, ∞: 36 products per 4x4 outputs (F(2x2): 64, direct: 144), but larger
#: transform coefficients amplify rounding: measured ~1e-14 relative in float64 (fine), ~4e-6 in
#: float32 (30x direct's), so float32 uses F(2x2, 3x3)
_F4 = _Scheme(np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                        [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float),
              np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                        [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]),
              np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                        [0, 1, -1, 8, -8, 1]], float))


def _scheme(dtype):
    return _F4 if np.dtype(dtype).itemsize >= 8 else _F2


def _tile_rows(a, axis, m, alpha, count):
    """View of ``a`` with ``axis`` split into ``count`` windows of ``alpha`` taken every ``m``."""
    s = a.strides
    return as_strided(a, a.shape[:axis] + (count, alpha) + a.shape[axis + 1:],
                      s[:axis] + (m * s[axis], s[axis]) + s[axis + 1:], writeable=False)


def _winograd_input(x, g, f):
    """Bᵀ d B of every tile: (α², th·tw·N, C), and the tile counts (th, tw)."""
    m, alpha = f.at.shape
    th, tw = -(-g.ho // m), -(-g.wo // m)
    # padding and the (H, W, N, C) layout in one copy; whole tiles pad the ragged edge too
    xp = np.zeros((m * th + 2, m * tw + 2, g.n, g.c), dtype=x.dtype)
    xp[g.pt:g.pt + g.h, g.pl:g.pl + g.w] = x.transpose(2, 3, 0, 1)
    bt = f.bt.astype(x.dtype)
    # rows: each tile row is a contiguous (α, W·N·C) block, so Bᵀ @ block needs no copy
    r = np.matmul(bt, _tile_rows(xp.reshape(xp.shape[0], -1), 0, m, alpha, th))
    r = r.reshape(th, alpha, xp.shape[1], g.n * g.c)
    # columns: the same on (α, N·C) blocks, written straight into the GEMM layout
    v = np.empty((alpha, alpha, th, tw, g.n * g.c), dtype=x.dtype)
    np.matmul(bt, _tile_rows(r, 2, m, alpha, tw), out=v.transpose(2, 0, 3, 1, 4))
    return v.reshape(alpha * alpha, th * tw * g.n, g.c), th, tw


def _winograd_conv(x, w, g):
    f = _scheme(x.dtype)
    m, alpha = f.at.shape
    gm, at = f.g.astype(w.dtype), f.at.astype(w.dtype)
    u = (gm @ w @ gm.T).transpose(2, 3, 1, 0).reshape(alpha * alpha, g.c, g.o)  # G w Gᵀ
    v, th, tw = _winograd_input(x, g, f)
    prod = np.matmul(v, u)  # (α², th·tw·N, O): one GEMM per transform point
    # Aᵀ · A: rows as one GEMM, columns written straight into (H, W, N, O) order
    s = np.matmul(at, prod.reshape(alpha, -1)).reshape(m, alpha, th, tw, g.n * g.o)
    y = np.empty((th, m, tw, m, g.n * g.o), dtype=x.dtype)
    np.matmul(at, s.transpose(0, 2, 3, 1, 4), out=y.transpose(1, 0, 2, 3, 4))
    return y.reshape(th * m, tw * m, g.n, g.o).transpose(2, 3, 0, 1)[:, :, :g.ho, :g.wo]


def _winograd_tx(gy, w, g):
    return _flipped_correlation(gy, w, g, _winograd_conv)


def _winograd_gw(x, gy, g):
    # the transposition principle: y = Aᵀ[(G w Gᵀ) ⊙ V]A is linear in w with adjoint
    # w̄ = Gᵀ[(A ȳ Aᵀ) ⊙ V]G, summed over tiles and batch: one GEMM per transform point
    f = _scheme(x.dtype)
    m, alpha = f.at.shape
    v, th, tw = _winograd_input(x, g, f)
    a = f.at.T.astype(gy.dtype)
    yp = np.zeros((m * th, m * tw, g.n, g.o), dtype=gy.dtype)  # output tiles do not overlap
    yp[:g.ho, :g.wo] = gy.transpose(2, 3, 0, 1)
    r = np.matmul(a, yp.reshape(th, m, -1)).reshape(th, alpha, tw, m, g.n * g.o)
    yt = np.empty((alpha, alpha, th, tw, g.n * g.o), dtype=gy.dtype)
    np.matmul(a, r, out=yt.transpose(2, 0, 3, 1, 4))
    mbar = np.matmul(yt.reshape(alpha * alpha, -1, g.o).transpose(0, 2, 1), v)  # (α², O, C)
    gm = f.g.astype(gy.dtype)
    return gm.T @ mbar.reshape(alpha, alpha, g.o, g.c).transpose(2, 3, 0, 1) @ gm


# ---------------------------------------------------------------------------------------------
# dispatch by method, and auto's timed choice
# ---------------------------------------------------------------------------------------------

_KERNELS = {
    "direct": {"conv": _direct_conv, "tx": _direct_tx, "gw": _direct_gw},
    "im2col": {"conv": _im2col_conv, "tx": _im2col_tx, "gw": _im2col_gw},
    "fft": {"conv": _fft_conv, "tx": _fft_tx, "gw": _fft_gw},
    "winograd": {"conv": _winograd_conv, "tx": _winograd_tx, "gw": _winograd_gw},
}

#: auto's choices: (primitive kind, shapes, stride, padding, dilation, dtype) -> method name
AUTO_CACHE: dict = {}

#: below this many multiply-adds, auto uses im2col without timing anything
AUTO_MIN_MACS = 200_000


def clear_auto_cache():
    """Forget auto's choices (e.g. after the machine's load changed)."""
    AUTO_CACHE.clear()


def _auto(kind, a, b, g, key):
    """Time every suited method, remember the fastest; return a result."""
    if g.n * g.o * g.c * g.ho * g.wo * g.kh * g.kw < AUTO_MIN_MACS:
        AUTO_CACHE[key] = "im2col"
        return _KERNELS["im2col"][kind](a, b, g)
    times, result = {}, None
    for name, kernels in _KERNELS.items():
        if name == "winograd" and not _winograd_suits((g.kh, g.kw), (g.sh, g.sw), (g.dh, g.dw)):
            continue
        t0 = time.perf_counter()
        result = kernels[kind](a, b, g)
        times[name] = time.perf_counter() - t0
    # a second run of the two fastest, so that one disturbed run (a busy machine) cannot decide
    for name in sorted(times, key=times.get)[:2]:
        t0 = time.perf_counter()
        result = _KERNELS[name][kind](a, b, g)
        times[name] = min(times[name], time.perf_counter() - t0)
    AUTO_CACHE[key] = min(times, key=times.get)
    return result


def _run(kind, a, b, stride, padding, dilation, method, extra=None):
    dtype = np.result_type(a, b)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    a, b = np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype)
    g = _geometry(kind, a.shape, b.shape, stride, padding, dilation, extra)
    if method == "auto":
        key = (kind, a.shape, b.shape, stride, padding, dilation, extra, dtype.str)
        method = AUTO_CACHE.get(key)
        if method is None:
            return _auto(kind, a, b, g, key)
    return _KERNELS[method][kind](a, b, g)


# ---------------------------------------------------------------------------------------------
# the three primitives and their rules
# ---------------------------------------------------------------------------------------------

#: where K lanes go, per primitive and argument: (axis of that argument they are merged into,
#: axis of the result they come out of). Each is an axis the op keeps independent.
_FOLD = {"conv": ((0, 0), (0, 1)),   # x: batch → batch;  w: C_out → C_out
         "tx": ((0, 0), (1, 1)),     # g: batch → batch;  w: C_in → C_in
         "gw": ((1, 1), (1, 0))}     # x: C_in → C_in;    g: C_out → C_out


def _fold(t, axis):
    """(K, *s) → s with axis ``axis`` K times longer, lane-major."""
    s = shape_of(t)
    rest = s[1:]
    if axis:
        t = np.moveaxis(t, 0, axis)
    return np.reshape(t, rest[:axis] + (s[0] * rest[axis],) + rest[axis + 1:])


def _unfold(r, axis, k):
    s = shape_of(r)
    r = np.reshape(r, s[:axis] + (k, s[axis] // k) + s[axis + 1:])
    return np.moveaxis(r, axis, 0) if axis else r


#: the keywords of each primitive: the geometry, plus what its arguments' shapes do not say
_KEYWORDS = {"conv": ("stride", "padding", "dilation", "method"),
             "tx": ("stride", "padding", "dilation", "method", "in_hw"),
             "gw": ("stride", "padding", "dilation", "method", "k_hw")}


def _geo(a, b, kw):
    """The keywords of all three primitives, from any one's arguments ``a, b`` and keywords:
    the input size is ``a``'s unless given (tx), the kernel size ``b``'s unless given (gw)."""
    return dict(kw, in_hw=tuple(kw.get("in_hw", shape_of(a)[2:])),
                k_hw=tuple(kw.get("k_hw", shape_of(b)[2:])))


def _lanes_call(kind, pos, t, other, geo):
    """Primitive ``kind`` with the lane-carrying ``t`` as argument ``pos``: (K, *result)."""
    k = shape_of(t)[0]
    into, out = _FOLD[kind][pos]
    folded = _fold(t, into)
    args = (folded, other) if pos == 0 else (other, folded)
    r = _PRIMS[kind].bind(*args, **{key: geo[key] for key in _KEYWORDS[kind]})
    return _unfold(r, out, k)


#: VJP partners: for the primitive ``kind`` and argument i, the primitive filling that slot
#: of B(x, w, g), and (position of the cotangent in it, the other argument's index in kind)
_PARTNER = {"conv": (("tx", 0, 1), ("gw", 1, 0)),   # x̄ = tx(ȳ, w),  w̄ = gw(x, ȳ)
            "tx": (("conv", 0, 1), ("gw", 0, 0)),   # ḡ = conv(u, w), w̄ = gw(u, g)
            "gw": (("tx", 1, 1), ("conv", 1, 0))}   # x̄ = tx(g, u),   ḡ = conv(x, u)


def _bilinear(kind, name):
    def impl(a, b, **kw):
        if isinstance(a, Tracer) or isinstance(b, Tracer):  # nested: a lower level handles it
            return prim.bind(a, b, **kw)
        extra = kw.pop("in_hw", None) or kw.pop("k_hw", None)
        return _run(kind, a, b, extra=extra, **kw)

    def jvp(tangents, ans, a, b, **kw):
        geo = _geo(a, b, kw)
        out = None
        for pos, (t, other) in enumerate(((tangents[0], b), (tangents[1], a))):
            if t is not None:
                term = _lanes_call(kind, pos, t, other, geo)
                out = term if out is None else out + term
        return out

    def vjp(i, g, ans, a, b, **kw):
        partner, pos, other = _PARTNER[kind][i]
        return _lanes_call(partner, pos, g, (a, b)[other], _geo(a, b, kw))

    prim = Primitive(name, impl, jvp=jvp, vjp=vjp)
    return prim


conv2d_p = _bilinear("conv", "dualad.conv2d")
conv2d_transpose_x_p = _bilinear("tx", "dualad.conv2d_transpose_x")
conv2d_grad_w_p = _bilinear("gw", "dualad.conv2d_grad_w")
_PRIMS = {"conv": conv2d_p, "tx": conv2d_transpose_x_p, "gw": conv2d_grad_w_p}
