"""Winograd F(m×m, 3×3) kernels for :mod:`dualad.ops.conv` (stride 1, dilation 1).

``Y = Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A`` on α×α input tiles (α = m + 2) taken every m rows and
columns (Lavin & Gray, 2016): F(4×4, 3×3) in float64 (36 products per 16 outputs instead of
144), F(2×2, 3×3) in float32, where F(4×4)'s larger transform coefficients cost ~30× direct's
rounding error. Tiles are laid out (H, W, N, C), so that every tile transform is a GEMM of a
small matrix with contiguous blocks and the channel sums are one GEMM per transform point,
(tiles·N, C) @ (C, O).

The whole batch is processed a band of tile rows at a time, with the scratch of one band
allocated once per call and reused: a band's transformed tiles are still cached when its channel
GEMMs read them, and there are no multi-MB temporaries (their page faults would cost more than
the transforms). Each band's input rows are copied from NCHW to (H, W, N, C) as they are needed;
the result is computed in the output tiles' (H, W, N, O) order and returned as an NCHW view.

The functions take the :class:`~dualad.ops.conv.Geometry` of the convolution as ``g``.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv", "grad_w", "suits"]

#: a scheme is (Bᵀ (α, α), G (α, 3), Aᵀ (m, α)) for m×m outputs from α×α tiles
Scheme = namedtuple("Scheme", "bt g at")

#: interpolation points 0, ±1, ∞: exact in binary, error ~ direct's
F2 = Scheme(np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float),
            np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]]),
            np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float))
#: points 0, ±1, ±2, ∞: 36 products per 4×4 outputs (F(2×2): 64, direct: 144), but larger
#: transform coefficients amplify rounding: measured ~1e-14 relative in float64 (fine), ~4e-6 in
#: float32 (30× direct's), so float32 uses F(2×2, 3×3)
F4 = Scheme(np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                      [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float),
            np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                      [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]),
            np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                      [0, 1, -1, 8, -8, 1]], float))

#: bytes of scratch per band of tile rows (transformed input and products): small enough to stay
#: cached between the transforms and the GEMMs (8 MB measured ~2× slower here)
BAND_BYTES = 2 << 20


def suits(kernel, stride, dilation):
    return tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)


def scheme(dtype):
    """The scheme for ``dtype``, its matrices cast to it (no float64 operands in float32)."""
    f = F4 if np.dtype(dtype).itemsize >= 8 else F2
    return Scheme(*(a.astype(dtype) for a in f))


def _tile_rows(a, axis, m, alpha, count):
    """Read-only view of ``a`` with ``axis`` split into ``count`` windows of ``alpha`` taken
    every ``m``. ``sliding_window_view`` (not raw strides) cannot reach past ``a``'s memory:
    too few rows for ``count`` windows is an error here, not a read of whatever follows."""
    v = sliding_window_view(a, alpha, axis=axis)[(slice(None),) * axis + (slice(None, None, m),)]
    if v.shape[axis] < count:
        raise ValueError(f"winograd: {count} tiles of {alpha} every {m} need "
                         f"{(count - 1) * m + alpha} rows on axis {axis}, got {a.shape[axis]}")
    v = v[(slice(None),) * axis + (slice(0, count),)]
    # the window axis (last) right after the tile axis (np.moveaxis costs 40× this)
    order = tuple(range(axis + 1)) + (v.ndim - 1,) + tuple(range(axis + 1, v.ndim - 1))
    return v.transpose(order)


def _tiles(g, f):
    m = f.at.shape[0]
    return -(-g.ho // m), -(-g.wo // m)


def _band(g, f):
    """Tile rows per band: as many as fit :data:`BAND_BYTES` of transformed tiles (C channels)
    and their products (O channels), at least one and at most all."""
    m, alpha = f.at.shape
    th, tw = _tiles(g, f)
    per_row = alpha * alpha * tw * g.n * (g.c + g.o) * f.at.itemsize
    return max(1, min(th, BAND_BYTES // per_row))


def _gather(buf, a, row0, pad_left):
    """Rows ``row0`` on of ``a`` (N, K, H, W), transposed to (rows, W, N, K) into ``buf``
    starting at column ``pad_left``. Rows outside ``a`` are zeroed (``buf`` is reused, so the
    zeros of the last band may not be there), the other columns are left as they are."""
    rows = buf.shape[0]
    r0, r1 = max(0, row0), min(a.shape[2], row0 + rows)
    buf[:max(0, r0 - row0)] = 0
    buf[max(0, r1 - row0):] = 0
    if r1 > r0:
        # a transposing copy reads one cache line per element: from a contiguous copy of the
        # band those lines are few and cached, from ``a`` they are spread over the whole batch
        band = np.ascontiguousarray(a[:, :, r0:r1])
        buf[r0 - row0:r1 - row0, pad_left:pad_left + a.shape[3]] = band.transpose(2, 3, 0, 1)
    return buf


def _input_band(x, g, f, t0, k, buf, r, v):
    """Bᵀ d B of the tiles of tile rows t0 … t0+k−1: (α², k·tw·N, C). Bands must come in
    order, t0 advancing by the band size: a band's first two input rows are the previous
    band's last two, moved within ``buf`` rather than transposed from ``x`` again."""
    m, alpha = f.at.shape
    _, tw = _tiles(g, f)
    rows = m * k + 2
    if t0:
        last = buf.shape[0] - 2
        buf[:2] = buf[last:last + 2]
        _gather(buf[2:rows], x, m * t0 - g.pt + 2, g.pl)
    else:
        _gather(buf[:rows], x, -g.pt, g.pl)
    # rows: each tile row is a contiguous (α, W·N·C) block, so Bᵀ @ block needs no copy
    r = r[:k]
    np.matmul(f.bt, _tile_rows(buf[:rows].reshape(rows, -1), 0, m, alpha, k), out=r)
    # columns: the same on (α, N·C) blocks, written straight into the GEMM layout
    v = v[:, :, :k]
    np.matmul(f.bt, _tile_rows(r.reshape(k, alpha, buf.shape[1], -1), 2, m, alpha, tw),
              out=v.transpose(2, 0, 3, 1, 4))
    return v.reshape(alpha * alpha, -1, g.c)


def _scratch(g, f, band):
    """The reused buffers of :func:`_input_band` for ``band`` tile rows."""
    m, alpha = f.at.shape
    _, tw = _tiles(g, f)
    wq, dt = m * tw + 2, f.at.dtype
    return (np.zeros((m * band + 2, wq, g.n, g.c), dtype=dt),
            np.empty((band, alpha, wq * g.n * g.c), dtype=dt),
            np.empty((alpha, alpha, band, tw, g.n * g.c), dtype=dt))


def conv(x, w, g):
    """The correlation of ``x`` (N, C, H, W) with 3×3 ``w`` (O, C, 3, 3)."""
    f = scheme(x.dtype)
    m, alpha = f.at.shape
    th, tw = _tiles(g, f)
    u = np.tensordot(f.g, np.tensordot(w, f.g, axes=([3], [1])), axes=([1], [2]))  # a,o,c,b
    u = np.ascontiguousarray(u.transpose(0, 3, 2, 1)).reshape(alpha * alpha, g.c, g.o)
    band = _band(g, f)
    buf, r, v = _scratch(g, f, band)
    prod = np.empty((alpha * alpha, band * tw * g.n, g.o), dtype=x.dtype)
    s = np.empty((m, alpha * band * tw * g.n * g.o), dtype=x.dtype)
    y = np.empty((th * m, tw * m, g.n, g.o), dtype=x.dtype)  # the tiles' own order
    for t0 in range(0, th, band):
        k = min(band, th - t0)
        vk = _input_band(x, g, f, t0, k, buf, r, v)
        p = prod[:, :vk.shape[1]]
        np.matmul(vk, u, out=p)  # one GEMM per transform point
        # Aᵀ · A: rows as one GEMM, columns written straight into (H, W, N, O) order
        sk = s[:, :alpha * p.shape[1] * g.o]
        np.matmul(f.at, p.reshape(alpha, -1), out=sk)
        sk = sk.reshape(m, alpha, k, tw, g.n * g.o)
        yk = y[m * t0:m * (t0 + k)].reshape(k, m, tw, m, g.n * g.o)
        np.matmul(f.at, sk.transpose(0, 2, 3, 1, 4), out=yk.transpose(1, 0, 2, 3, 4))
    return y.transpose(2, 3, 0, 1)[:, :, :g.ho, :g.wo]


def grad_w(x, gy, g):
    """The gradient with respect to ``w`` of ``<conv(x, w), gy>``: (O, C, 3, 3)."""
    # the transposition principle: y = Aᵀ[(G w Gᵀ) ⊙ V]A is linear in w with adjoint
    # w̄ = Gᵀ[(A ȳ Aᵀ) ⊙ V]G, summed over tiles and batch: one GEMM per transform point
    f = scheme(x.dtype)
    m, alpha = f.at.shape
    th, tw = _tiles(g, f)
    a = np.ascontiguousarray(f.at.T)
    band = _band(g, f)
    buf, r, v = _scratch(g, f, band)
    gbuf = np.zeros((m * band, m * tw, g.n, g.o), dtype=gy.dtype)  # output tiles: no overlap
    yt = np.empty((alpha, alpha, band, tw, g.n * g.o), dtype=gy.dtype)
    mbar = np.zeros((alpha * alpha, g.o, g.c), dtype=gy.dtype)
    for t0 in range(0, th, band):
        k = min(band, th - t0)
        vk = _input_band(x, g, f, t0, k, buf, r, v)
        gb = _gather(gbuf[:m * k], gy, m * t0, 0)
        rk = np.matmul(a, gb.reshape(k, m, -1)).reshape(k, alpha, tw, m, g.n * g.o)
        ytk = yt[:, :, :k]
        np.matmul(a, rk, out=ytk.transpose(2, 0, 3, 1, 4))
        mbar += np.matmul(ytk.reshape(alpha * alpha, -1, g.o).transpose(0, 2, 1), vk)
    mbar = mbar.reshape(alpha, alpha, g.o, g.c)
    return np.tensordot(np.tensordot(mbar, f.g, axes=([1], [0])), f.g, axes=([0], [0])
                        ).transpose(0, 1, 3, 2)  # (o, c, j, i) → (o, c, i, j)
