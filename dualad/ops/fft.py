"""Discrete Fourier transforms: ``np.fft`` and ``scipy.fft`` as linear entries.

Three primitives carry every transform: ``c2c`` (complex to complex over several axes, forward
or inverse), ``r2c`` (``rfft`` along one axis) and ``c2r`` (``irfft`` along one axis). The 2-D
and n-D real transforms compose them as NumPy does (``rfftn`` = ``fftn`` over the leading axes
of ``rfft`` over the last; ``irfftn`` the reverse), and ``hfft``/``ihfft`` are ``irfft``/``rfft``
with a conjugation, as in NumPy. Each primitive is linear: its JVP is the transform of the
tangent.

Transposes, for the pairing ``Re(sum(u * v))`` without conjugation (see :mod:`.complex_rules`):

* the DFT matrix is symmetric, so ``fftn``'s transpose is ``fftn`` itself with the same
  ``norm`` (and ``ifftn``'s is ``ifftn``); a size ``s`` that cropped or zero-padded the input
  transposes to zero-padding or cropping the cotangent back;
* ``rfft`` keeps the first ``n//2 + 1`` outputs of the DFT of a real input: its transpose is the
  real part of the DFT of the zero-padded cotangent;
* ``irfft`` reads each stored frequency ``k`` twice (itself and its mirror ``n - k``) except
  ``k = 0`` and, for even ``n``, the Nyquist frequency, whose imaginary parts it ignores: it is
  ``scale · Re(Σ_k c_k Y_k ω^{kj})`` with ``c_k`` = 1 or 2, so its transpose is
  ``scale · c_k · conj(DFT(g))_k`` — the Hermitian weighting an adjoint test catches when it is
  left out.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from .core import Primitive, Tracer, implements, ndim_of, normalize_axis, shape_of

__all__ = ["c2c_p", "r2c_p", "c2r_p", "ScipyFFTBackend", "SCIPY_FFT_FUNCTIONS"]

_NORMS = (None, "backward", "ortho", "forward")


def _is_complex(x):
    return getattr(x, "dtype", np.dtype(float)).kind == "c"


def _lane(axes):
    return tuple(a + 1 for a in axes)


def _fit(g, sizes, axes):
    """``g`` cropped or zero-padded at the end of each axis in ``axes`` to ``sizes``."""
    shape = shape_of(g)
    idx = [slice(None)] * len(shape)
    pad = [(0, 0)] * len(shape)
    crop = padded = False
    for a, n in zip(axes, sizes):
        if shape[a] > n:
            idx[a] = slice(0, n)
            crop = True
        elif shape[a] < n:
            pad[a] = (0, n - shape[a])
            padded = True
    if crop:
        g = g[tuple(idx)]
    if padded:
        g = np.pad(g, pad)
    return g


def _real_for(x, g):
    """A real input's cotangent is real (the transpose of its promotion to complex)."""
    return g if _is_complex(x) else np.real(g)


# ---------------------------------------------------------------------------------------------
# c2c: fftn / ifftn with explicit sizes and axes
# ---------------------------------------------------------------------------------------------

def _c2c_impl(x, s, axes, norm, inverse):
    return (np.fft.ifftn if inverse else np.fft.fftn)(x, s=s, axes=axes, norm=norm)


def _c2c_jvp(ts, ans, x, s, axes, norm, inverse):
    return _c2c_impl(ts[0], s, _lane(axes), norm, inverse)


def _c2c_vjp(i, g, ans, x, s, axes, norm, inverse):
    # the DFT matrix (and its inverse) is symmetric: the transpose is the same transform
    ct = _c2c_impl(g, None, _lane(axes), norm, inverse)
    xshape = shape_of(x)
    return _real_for(x, _fit(ct, [xshape[a] for a in axes], _lane(axes)))


# (linear maps: the transposes read x for its shape and dtype only)
c2c_p = Primitive("numpy.fft.fftn", _c2c_impl, jvp=_c2c_jvp, vjp=_c2c_vjp, saves=())


# ---------------------------------------------------------------------------------------------
# r2c: rfft along one axis
# ---------------------------------------------------------------------------------------------

def _r2c_impl(x, n, axis, norm):
    return np.fft.rfft(x, n=n, axis=axis, norm=norm)


def _r2c_jvp(ts, ans, x, n, axis, norm):
    return _r2c_impl(ts[0], n, axis + 1, norm)


def _r2c_vjp(i, g, ans, x, n, axis, norm):
    # rfft = the first n//2 + 1 rows of the (symmetric) DFT, applied to a real input
    full = np.fft.fft(_fit(g, [n], [axis + 1]), axis=axis + 1, norm=norm)
    return _fit(np.real(full), [shape_of(x)[axis]], [axis + 1])


r2c_p = Primitive("numpy.fft.rfft", _r2c_impl, jvp=_r2c_jvp, vjp=_r2c_vjp, saves=())


# ---------------------------------------------------------------------------------------------
# c2r: irfft along one axis
# ---------------------------------------------------------------------------------------------

def _c2r_impl(x, n, axis, norm):
    return np.fft.irfft(x, n=n, axis=axis, norm=norm)


def _c2r_jvp(ts, ans, x, n, axis, norm):
    return _c2r_impl(ts[0], n, axis + 1, norm)


def _scale(n, norm):
    """The factor irfft multiplies its unnormalized sum by."""
    if norm in (None, "backward"):
        return 1.0 / n
    return 1.0 / math.sqrt(n) if norm == "ortho" else 1.0


def _hermitian_weights(n, nd, axis):
    """``c_k`` for the ``n//2 + 1`` stored frequencies: 1 at k = 0 (and at n/2 for even n),
    else 2; shaped to broadcast along ``axis`` of an ``nd``-d array."""
    m = n // 2 + 1
    c = np.full(m, 2.0)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    shape = [1] * nd
    shape[axis] = m
    return c.reshape(shape)


def _c2r_vjp(i, g, ans, x, n, axis, norm):
    nd = ndim_of(g)
    summed = np.conjugate(np.fft.rfft(np.real(g), axis=axis + 1))  # Σ_j g_j ω^{+kj}
    ct = summed * (_scale(n, norm) * _hermitian_weights(n, nd, axis + 1))
    return _real_for(x, _fit(ct, [shape_of(x)[axis]], [axis + 1]))


c2r_p = Primitive("numpy.fft.irfft", _c2r_impl, jvp=_c2r_jvp, vjp=_c2r_vjp, saves=())


# ---------------------------------------------------------------------------------------------
# fronts: NumPy's signatures, arguments resolved to explicit sizes and axes
# ---------------------------------------------------------------------------------------------

def _checks(name, norm, out):
    if out is not None:
        raise TypeError(f"numpy.fft.{name}: out= is not supported on traced arrays")
    if norm not in _NORMS:
        raise ValueError(f'numpy.fft.{name}: invalid norm value {norm!r}; should be "backward", '
                         f'"ortho" or "forward"')


def _length(name, n, default):
    if n is None:
        return default
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"numpy.fft.{name}: invalid number of data points ({n}) specified")
    return n


def _nd_args(name, a, s, axes, real_inverse=False):
    """Explicit ``(s, axes)`` for an n-D transform, as NumPy resolves them."""
    shape = shape_of(a)
    nd = len(shape)
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    else:
        axes = tuple(normalize_axis(ax, nd, f"fft.{name}") for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"numpy.fft.{name}: repeated axes {axes} are not supported on traced "
                         f"arrays")
    if s is None:
        s = [shape[ax] for ax in axes]
        if real_inverse and axes:
            s[-1] = 2 * (shape[axes[-1]] - 1)
    else:
        s = list(s)
        if len(s) != len(axes):
            raise ValueError(f"numpy.fft.{name}: shape s and axes have different lengths")
        s = [_length(name, n, None) for n in s]
    return tuple(s), axes


def _c2c(name, a, s, axes, norm, inverse):
    if not axes:
        return a
    return c2c_p.bind(a, s=s, axes=axes, norm=norm, inverse=inverse)


def _refuse_complex(name, a):
    if _is_complex(a):
        raise TypeError(f"numpy.fft.{name}: the input is complex; {name} takes real input "
                        f"(NumPy would drop the imaginary part). Use np.fft.fft, or np.real first")


def _rfft1(name, a, n, axis, norm):
    _refuse_complex(name, a)
    n = _length(name, n, shape_of(a)[axis])
    return r2c_p.bind(a, n=n, axis=axis, norm=norm)


def _irfft1(name, a, n, axis, norm):
    n = _length(name, n, 2 * (shape_of(a)[axis] - 1))
    return c2r_p.bind(a, n=n, axis=axis, norm=norm)


@implements(np.fft.fft)
def fft(a, n=None, axis=-1, norm=None, out=None):
    _checks("fft", norm, out)
    ax = normalize_axis(axis, ndim_of(a), "fft.fft")
    return _c2c("fft", a, (_length("fft", n, shape_of(a)[ax]),), (ax,), norm, False)


@implements(np.fft.ifft)
def ifft(a, n=None, axis=-1, norm=None, out=None):
    _checks("ifft", norm, out)
    ax = normalize_axis(axis, ndim_of(a), "fft.ifft")
    return _c2c("ifft", a, (_length("ifft", n, shape_of(a)[ax]),), (ax,), norm, True)


@implements(np.fft.fftn)
def fftn(a, s=None, axes=None, norm=None, out=None):
    _checks("fftn", norm, out)
    s, axes = _nd_args("fftn", a, s, axes)
    return _c2c("fftn", a, s, axes, norm, False)


@implements(np.fft.ifftn)
def ifftn(a, s=None, axes=None, norm=None, out=None):
    _checks("ifftn", norm, out)
    s, axes = _nd_args("ifftn", a, s, axes)
    return _c2c("ifftn", a, s, axes, norm, True)


@implements(np.fft.fft2)
def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return fftn(a, s, axes, norm, out)


@implements(np.fft.ifft2)
def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return ifftn(a, s, axes, norm, out)


@implements(np.fft.rfft)
def rfft(a, n=None, axis=-1, norm=None, out=None):
    _checks("rfft", norm, out)
    return _rfft1("rfft", a, n, normalize_axis(axis, ndim_of(a), "fft.rfft"), norm)


@implements(np.fft.irfft)
def irfft(a, n=None, axis=-1, norm=None, out=None):
    _checks("irfft", norm, out)
    return _irfft1("irfft", a, n, normalize_axis(axis, ndim_of(a), "fft.irfft"), norm)


@implements(np.fft.rfftn)
def rfftn(a, s=None, axes=None, norm=None, out=None):
    _checks("rfftn", norm, out)
    s, axes = _nd_args("rfftn", a, s, axes)
    if not axes:
        raise ValueError("numpy.fft.rfftn: at least one axis is needed")
    r = _rfft1("rfftn", a, s[-1], axes[-1], norm)
    return _c2c("rfftn", r, s[:-1], axes[:-1], norm, False)


@implements(np.fft.irfftn)
def irfftn(a, s=None, axes=None, norm=None, out=None):
    _checks("irfftn", norm, out)
    s, axes = _nd_args("irfftn", a, s, axes, real_inverse=True)
    if not axes:
        raise ValueError("numpy.fft.irfftn: at least one axis is needed")
    c = _c2c("irfftn", a, s[:-1], axes[:-1], norm, True)
    return _irfft1("irfftn", c, s[-1], axes[-1], norm)


@implements(np.fft.rfft2)
def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return rfftn(a, s, axes, norm, out)


@implements(np.fft.irfft2)
def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return irfftn(a, s, axes, norm, out)


_SWAP = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


@implements(np.fft.hfft)
def hfft(a, n=None, axis=-1, norm=None, out=None):
    # NumPy's definition: irfft of the conjugate, with the normalization direction swapped
    _checks("hfft", norm, out)
    return _irfft1("hfft", np.conjugate(a), n, normalize_axis(axis, ndim_of(a), "fft.hfft"),
                   _SWAP[norm])


@implements(np.fft.ihfft)
def ihfft(a, n=None, axis=-1, norm=None, out=None):
    _checks("ihfft", norm, out)
    r = _rfft1("ihfft", a, n, normalize_axis(axis, ndim_of(a), "fft.ihfft"), _SWAP[norm])
    return np.conjugate(r)


def _shift(x, axes, sign):
    nd = ndim_of(x)
    shape = shape_of(x)
    if axes is None:
        axes = tuple(range(nd))
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    shifts = [sign * (shape[ax] // 2) for ax in axes]
    return np.roll(x, shifts, tuple(axes))


@implements(np.fft.fftshift)
def fftshift(x, axes=None):
    return _shift(x, axes, 1)


@implements(np.fft.ifftshift)
def ifftshift(x, axes=None):
    return _shift(x, axes, -1)


# ---------------------------------------------------------------------------------------------
# scipy.fft: its functions dispatch through uarray backends, not __array_function__. A backend
# registered with scipy.fft.register_backend is tried before SciPy's own (which SciPy installs
# with try_last=True); it takes calls with a tracer among the arguments and declines the rest.
# ---------------------------------------------------------------------------------------------

#: scipy.fft function name -> the front it maps to (same arguments, plus SciPy's extras)
SCIPY_FFT_FUNCTIONS = {
    "fft": fft, "ifft": ifft, "fft2": fft2, "ifft2": ifft2, "fftn": fftn, "ifftn": ifftn,
    "rfft": rfft, "irfft": irfft, "rfft2": rfft2, "irfft2": irfft2, "rfftn": rfftn,
    "irfftn": irfftn, "hfft": hfft, "ihfft": ihfft,
}


def _has_tracer(args, kwargs):
    # every scipy.fft call in the process passes here: the one-array call is checked first
    if len(args) == 1 and not kwargs:
        return isinstance(args[0], Tracer)
    for v in args:
        if isinstance(v, Tracer):
            return True
    for v in kwargs.values():
        if isinstance(v, Tracer):
            return True
    return False


class ScipyFFTBackend:
    """The uarray backend that gives ``scipy.fft`` calls on tracers the rules of ``np.fft``."""

    __ua_domain__ = "numpy.scipy.fft"

    @staticmethod
    def __ua_function__(method, args, kwargs):
        if not _has_tracer(args, kwargs):
            return NotImplemented  # plain arrays: SciPy's own backend
        name = method.__name__
        front = SCIPY_FFT_FUNCTIONS.get(name)
        if front is None:
            raise TypeError(f"no rule for scipy.fft.{name} on traced arrays (the rules cover "
                            f"{', '.join(sorted(SCIPY_FFT_FUNCTIONS))})")
        kwargs = dict(kwargs)
        kwargs.pop("overwrite_x", None)
        kwargs.pop("workers", None)
        if kwargs.pop("plan", None) is not None:
            raise TypeError(f"scipy.fft.{name}: plan= is not supported on traced arrays")
        return front(*args, **kwargs)


def register_scipy_backend():
    import scipy.fft
    scipy.fft.register_backend(ScipyFFTBackend)


register_scipy_backend()
