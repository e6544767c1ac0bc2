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
    at stride 1, for a chunk of the batch at a time: kw copies of the padded images shifted by
    one kernel column each, whose windows at the kh kernel-row offsets are the patch matrix's
    kh blocks of C_in·kw rows: kh GEMMs, results already in NCHW order, 1/kh of the patch
    matrix's copying. Otherwise the patch matrix (C_in·kh·kw, N·H_out·W_out) copied out of a
    ``sliding_window_view`` in the order that makes one contiguous GEMM. The transpose is, at
    stride 1, the same algorithm on the flipped kernel; otherwise one GEMM and col2im, a
    strided add per kernel offset.
``fft``
    ``scipy.fft.rfft2`` of the padded input and of the dilated kernel at a fast size ≥ the
    padded input, a per-frequency channel contraction, ``irfft2``, then subsampling by the
    stride. Cost independent of the kernel size: for large kernels.
``winograd``
    for 3×3 kernels with stride 1 and dilation 1 (Lavin & Gray, 2016): F(4×4, 3×3) in float64
    (36 products per 16 outputs instead of 144) and F(2×2, 3×3) in float32, where F(4×4)'s
    larger transform coefficients cost ~30× direct's rounding error. The channel sums are one
    GEMM per transform point, a band of tile rows at a time (:mod:`dualad.ops.winograd`). The
    weight gradient is the transposed algorithm (transposition principle), the input gradient
    the forward algorithm on the flipped kernel.
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
from numpy.lib.stride_tricks import sliding_window_view

from . import winograd
from .core import Tracer, bilinear, shape_of

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
    if method == "winograd" and not winograd.suits(kernel, stride, dilation):
        raise ValueError(f"conv2d: method='winograd' needs a 3x3 kernel with "
                         f"stride 1 and dilation 1; got a {kernel[0]}x{kernel[1]} kernel, "
                         f"stride {stride}, dilation {dilation}. Use 'im2col', 'fft', 'direct' "
                         f"or 'auto'")


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

#: bytes of scratch per chunk of the batch in the stride-1 kernels: about an L2 cache, so that
#: what a chunk copies is still cached when its GEMMs read it
CHUNK_BYTES = 1 << 20


def _chunked(n, per_image_bytes, dtype, scratch, body):
    """Run ``body(s, k, *buffers)`` over chunks of the batch: ``k`` images from ``s`` on, as
    many as fit :data:`CHUNK_BYTES` (at least one). The buffers, zeroed arrays of the shapes in
    ``scratch`` with a leading chunk axis, are allocated once and reused by every chunk: fresh
    multi-MB arrays are paid in page faults, measured here at 0.3-1 ms/MB, more than the copies
    into them cost."""
    nb = max(1, min(n, CHUNK_BYTES // max(per_image_bytes, 1)))
    bufs = [np.zeros((nb,) + shape, dtype=dtype) for shape in scratch]
    for s in range(0, n, nb):
        body(s, min(nb, n - s), *bufs)


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

def _fill_flat(buf, x, g):
    """The k images ``x`` padded, flattened per channel: (k, C, (Hp + 1)·Wp), in ``buf``
    (nb, C, Hp + 1, Wp). Only its interior is written, so a zeroed buffer reused from chunk to
    chunk keeps its padding. The spare zero row keeps the last flat window of
    :func:`_flat_offsets` inside the buffer."""
    k = x.shape[0]
    buf[:k, :, g.pt:g.pt + g.h, g.pl:g.pl + g.w] = x
    return buf[:k].reshape(k, x.shape[1], -1)


def _flat_offsets(g):
    """Stride 1: what kernel offset (i, j) reads of a row-major padded image is one contiguous
    run of it, starting here, if output rows are computed Wp wide (their last Wp − Wo entries
    wrap around into the next row and are dropped). So every GEMM operand is a view."""
    return [(i, j, i * g.dh * g.wp + j * g.dw) for i in range(g.kh) for j in range(g.kw)]


def _wide(gy, g, buf):
    """The output gradient widened to the Wp-wide rows of the flat windows, (k, O, Ho·Wp): the
    wrapped-around columns get zero. ``buf`` is reused, so those columns stay zero."""
    k = gy.shape[0]
    buf[:k, :, :, :g.wo] = gy
    return buf[:k].reshape(k, g.o, -1)


def _chunked_flat(x, g, per_image_bytes, scratch, body):
    """:func:`_chunked` over ``x`` with ``body(s, k, xf, *buffers)`` also given the chunk's
    flat padded images ``xf`` (:func:`_fill_flat`)."""
    per_image_bytes += g.c * (g.hp + 1) * g.wp * x.itemsize
    flat = [(g.c, g.hp + 1, g.wp)]
    _chunked(g.n, per_image_bytes, x.dtype, flat + scratch,
             lambda s, k, buf, *bufs: body(s, k, _fill_flat(buf, x[s:s + k], g), *bufs))


def _direct_conv(x, w, g):
    if g.sh == g.sw == 1:
        run = g.ho * g.wp
        y = np.empty((g.n, g.o, run), dtype=x.dtype)
        wk = np.ascontiguousarray(w.transpose(2, 3, 0, 1))  # (kh, kw, O, C)

        def body(s, k, xf, part):
            acc = y[s:s + k]
            for step, (i, j, off) in enumerate(_flat_offsets(g)):
                out = part[:k] if step else acc
                np.matmul(wk[i, j], xf[:, :, off:off + run], out=out)
                if step:
                    acc += out
        _chunked_flat(x, g, g.o * run * x.itemsize, [(g.o, run)], body)
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
    if g.sh == g.sw == 1:
        dw = np.zeros((g.kh, g.kw, g.o, g.c), dtype=gy.dtype)

        def body(s, k, xf, ge):
            gw = _wide(gy[s:s + k], g, ge)
            for i, j, off in _flat_offsets(g):
                dw[i, j] += np.matmul(gw, xf[:, :, off:off + g.ho * g.wp].transpose(0, 2, 1)
                                      ).sum(axis=0)
        _chunked_flat(x, g, g.o * g.ho * g.wp * x.itemsize, [(g.o, g.ho, g.wp)], body)
        return dw.transpose(2, 3, 0, 1)
    dw = np.empty((g.o, g.c, g.kh, g.kw), dtype=gy.dtype)
    xp = _pad(x, g)
    for i in range(g.kh):
        for j in range(g.kw):
            rs, cs = g.window(i, j)
            dw[:, :, i, j] = np.tensordot(gy, xp[:, :, rs, cs], axes=([0, 2, 3], [0, 2, 3]))
    return dw


# ---------------------------------------------------------------------------------------------
# im2col: patch copies and GEMMs with C·kh·kw terms (stride 1: kh GEMMs of C·kw); col2im
# scatters back with one strided add per offset
# ---------------------------------------------------------------------------------------------

def _shifted(x, g, buf):
    """Stride 1: the kw copies of a chunk's padded images shifted left by j·dw and cut to Wo
    columns, (k, C·kw, Hp·Wo), rows ordered (c, j). Kernel row i's patch matrix is these read
    from column i·dh·Wo on (whole output rows), so the (c, i, j) patch matrix is never copied
    in full: kh GEMMs with C·kw terms each. The padding is the zeros of ``buf`` that are never
    written, so ``buf`` is reused from chunk to chunk as it is."""
    k = x.shape[0]
    buf = buf[:k]
    for j in range(g.kw):
        q0, q1 = max(0, g.pl - j * g.dw), min(g.wo, g.w + g.pl - j * g.dw)
        if q1 > q0:
            c0 = q0 + j * g.dw - g.pl
            buf[:, :, j, g.pt:g.pt + g.h, q0:q1] = x[:, :, :, c0:c0 + q1 - q0]
    return buf.reshape(k, -1, g.hp * g.wo)


def _row_windows(cols, g):
    run = g.ho * g.wo
    return [cols[:, :, i * g.dh * g.wo:i * g.dh * g.wo + run] for i in range(g.kh)]


def _im2col_conv(x, w, g):
    if g.sh == g.sw == 1:
        # per chunk of images, whose (O, Ho·Wo) results are already in NCHW order
        run = g.ho * g.wo
        y = np.empty((g.n, g.o, run), dtype=x.dtype)
        # (kh, O, C·kw): kernel row i's weights, columns (c, j) as the rows of _shifted
        wr = np.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(g.kh, g.o, -1)

        def body(s, k, buf, part):
            acc = y[s:s + k]
            for i, win in enumerate(_row_windows(_shifted(x[s:s + k], g, buf), g)):
                np.matmul(wr[i], win, out=acc if i == 0 else part[:k])
                if i:
                    acc += part[:k]
        _chunked(g.n, (g.c * g.kw * g.hp + g.o * g.ho) * g.wo * x.itemsize, x.dtype,
                 [(g.c, g.kw, g.hp, g.wo), (g.o, run)], body)
        return y.reshape(g.n, g.o, g.ho, g.wo)
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
    if g.sh == g.sw == 1:
        dw = np.zeros((g.kh, g.o, g.c * g.kw), dtype=gy.dtype)
        gm = gy.reshape(g.n, g.o, g.ho * g.wo)

        def body(s, k, buf):
            for i, win in enumerate(_row_windows(_shifted(x[s:s + k], g, buf), g)):
                dw[i] += np.matmul(gm[s:s + k], win.transpose(0, 2, 1)).sum(axis=0)
        _chunked(g.n, g.c * g.kw * g.hp * g.wo * x.itemsize, x.dtype,
                 [(g.c, g.kw, g.hp, g.wo)], body)
        return dw.reshape(g.kh, g.o, g.c, g.kw).transpose(1, 2, 0, 3)
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


def _winograd_tx(gy, w, g):
    return _flipped_correlation(gy, w, g, winograd.conv)


# ---------------------------------------------------------------------------------------------
# dispatch by method, and auto's timed choice
# ---------------------------------------------------------------------------------------------

_KERNELS = {
    "direct": {"conv": _direct_conv, "tx": _direct_tx, "gw": _direct_gw},
    "im2col": {"conv": _im2col_conv, "tx": _im2col_tx, "gw": _im2col_gw},
    "fft": {"conv": _fft_conv, "tx": _fft_tx, "gw": _fft_gw},
    "winograd": {"conv": winograd.conv, "tx": _winograd_tx, "gw": winograd.grad_w},
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
        if name == "winograd" and not winograd.suits((g.kh, g.kw), (g.sh, g.sw), (g.dh, g.dw)):
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

    def transpose(i):
        partner, pos, other = _PARTNER[kind][i]
        return lambda g, a, b, **kw: _lanes_call(partner, pos, g, (a, b)[other], _geo(a, b, kw))

    prim = bilinear(name, impl, transpose(0), transpose(1),
                    lhs=lambda t, ans, a, b, **kw: _lanes_call(kind, 0, t, b, _geo(a, b, kw)),
                    rhs=lambda t, ans, a, b, **kw: _lanes_call(kind, 1, t, a, _geo(a, b, kw)))
    return prim


conv2d_p = _bilinear("conv", "dualad.conv2d")
conv2d_transpose_x_p = _bilinear("tx", "dualad.conv2d_transpose_x")
conv2d_grad_w_p = _bilinear("gw", "dualad.conv2d_grad_w")
_PRIMS = {"conv": conv2d_p, "tx": conv2d_transpose_x_p, "gw": conv2d_grad_w_p}
