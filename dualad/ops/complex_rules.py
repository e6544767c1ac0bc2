"""Complex numbers: the non-holomorphic entries, and the guard on entries not checked for them.

The convention is JAX's. A JVP is the (complex-linear) derivative applied to the tangent; a
VJP is its plain transpose for the real bilinear pairing ``<u, v> = Re(sum(u * v))``, without
conjugation. So a holomorphic elementwise op's VJP is ``g * f'(z)``, what the partials of
:mod:`.elementwise` already give, and ``grad`` of a real ``f`` of ``z`` is ``∂f/∂x - i ∂f/∂y``
(``grad(|z|²) = 2 conj(z)``).

The entries here are the ones that are *not* complex-linear in their tangent: ``conj``,
``real``, ``imag``, ``angle``, ``abs``. For a real output of a complex input the JVP is
``Re(d * t)`` and the VJP ``Re(g) * d`` for one complex ``d`` per entry (``abs``:
``conj(z)/|z|``, ``imag``: ``-i``, ``angle``: ``-i conj(z)/|z|²``): the cotangent of a real value
is real, so its imaginary part (which mixing with complex constants downstream may leave) is
dropped first.

Entries whose rules were never checked on complex inputs stay real-only: :func:`guard` wraps
their rules so that a complex argument raises ``NotImplementedError`` naming the entry. The
wrapper sits on those entries alone, so verified entries (the arithmetic hot path) pay nothing.
"""
from __future__ import annotations

import numpy as np

from .calls import call_plain
from .core import (FUNCTION_RULES, UFUNC_RULES, Primitive, Tracer, implements, nondiff,
                   plain_array as _plain, qualname)

__all__ = ["conj_p", "real_p", "imag_p", "angle_p", "abs_p", "VERIFIED_PRIMITIVES",
           "VERIFIED_FUNCTIONS", "guard", "unsupported"]


def _is_complex(x):
    dt = getattr(x, "dtype", None)
    if dt is not None:
        return dt.kind == "c"
    return isinstance(x, complex)


# ---------------------------------------------------------------------------------------------
# conj: real-linear, not complex-linear (its JVP conjugates the tangent)
# ---------------------------------------------------------------------------------------------

def _conj_vjp(i, g, ans, x):
    # <g, conj(t)> = Re(sum(g conj(t))) = Re(sum(conj(g) t))
    return np.conjugate(g)


conj_p = Primitive("numpy.conjugate", np.conjugate,
                   jvp=lambda ts, ans, x: np.conjugate(ts[0]), vjp=_conj_vjp,
                   vjp_plain=_conj_vjp, saves=())
UFUNC_RULES[np.conjugate] = conj_p


# ---------------------------------------------------------------------------------------------
# real, imag, angle, abs: real outputs
# ---------------------------------------------------------------------------------------------

def _as_input_dtype(g, x):
    """A real cotangent in the dtype of the complex input it goes to."""
    return g.astype(x.dtype) if g.dtype != x.dtype else g


real_p = Primitive("numpy.real", np.real, jvp=lambda ts, ans, x: np.real(ts[0]),
                   vjp=lambda i, g, ans, x: _as_input_dtype(np.real(g), x), saves=())

imag_p = Primitive("numpy.imag", np.imag, jvp=lambda ts, ans, x: np.imag(ts[0]),
                   vjp=lambda i, g, ans, x: -1j * np.real(g), saves=())


def _safe(r):
    """``r`` with zeros replaced by ones: the partials below are 0 at z == 0 (a documented
    choice, as abs'(0) = 0), and 0/0 must not appear, not even in a branch that is not taken."""
    return np.where(r == 0, 1.0, r)


def _angle_d(ans, x):
    r2 = np.real(x * np.conjugate(x))
    return -1j * np.conjugate(x) / _safe(r2)


def _angle_impl(x, deg):
    return np.angle(x, deg=deg)


def _angle_scale(deg):
    return 180.0 / np.pi if deg else 1.0


angle_p = Primitive(
    "numpy.angle", _angle_impl,
    jvp=lambda ts, ans, x, deg: np.real(ts[0] * (_angle_scale(deg) * _angle_d(ans, x))),
    vjp=lambda i, g, ans, x, deg: np.real(g) * (_angle_scale(deg) * _angle_d(ans, x)),
    saves=(0,))


def _abs_jvp(ts, ans, x):
    if _is_complex(x):
        return np.real(ts[0] * (np.conjugate(x) / _safe(ans)))
    return ts[0] * np.sign(x)  # documented choice: abs'(0) = 0


def _abs_vjp(i, g, ans, x):
    if _is_complex(x):
        return np.real(g) * (np.conjugate(x) / _safe(ans))
    return g * np.sign(x)


#: not an elementwise-kind entry: its complex JVP is not "tangent times a partial"
abs_p = Primitive("numpy.absolute", np.absolute, jvp=_abs_jvp, vjp=_abs_vjp, vjp_plain=_abs_vjp,
                  saves=("ans", 0))
UFUNC_RULES[np.absolute] = abs_p


@implements(np.real)
def _real(val):
    if not _is_complex(val):
        return val  # NumPy returns the array itself
    return real_p.bind(val)


@implements(np.imag)
def _imag(val):
    if not _is_complex(val):
        return np.zeros_like(_plain(val))  # a constant zero
    return imag_p.bind(val)


@implements(np.angle)
def _angle(z, deg=False):
    if not _is_complex(z):
        return call_plain(np.angle, z, deg=deg)  # 0 or π: piecewise constant
    return angle_p.bind(z, deg=bool(deg))


def _sign_impl(x):
    if _is_complex(x):
        raise NotImplementedError("numpy.sign: complex inputs are not supported yet (sign(z) = "
                                  "z/|z| is differentiable there); write z / np.abs(z)")
    return np.sign(x)


UFUNC_RULES[np.sign] = nondiff("numpy.sign", _sign_impl)


# ---------------------------------------------------------------------------------------------
# the guard: entries not checked on complex inputs raise for them
# ---------------------------------------------------------------------------------------------

#: primitives whose rules are right for complex inputs (holomorphic partials, linear and
#: bilinear ops without conjugation, the entries above); each is in tests/test_complex.py
VERIFIED_PRIMITIVES = frozenset(
    [f"numpy.{n}" for n in (
        "add subtract multiply divide power float_power negative positive square sqrt "
        "reciprocal exp exp2 expm1 log log2 log10 log1p sin cos tan arcsin arccos arctan sinh "
        "cosh tanh arcsinh arccosh arctanh where reshape transpose broadcast_to concatenate "
        "ndarray.__getitem__ ndarray.astype pad sum cumsum matmul einsum conjugate real "
        "imag angle absolute prod cumprod linalg.inv linalg.solve linalg.det").split()]
    + ["dualad.index_add", "numpy.fft.fftn", "numpy.fft.rfft", "numpy.fft.irfft"]
    + [f"scipy.special.{n}" for n in "erf erfc erfcx ndtr log_ndtr xlogy xlog1py".split()])

#: NumPy functions whose fronts are right for complex inputs: movement, linear and bilinear
#: compositions of verified primitives, and functions without a derivative
VERIFIED_FUNCTIONS = frozenset(f"numpy.{n}" for n in (
    "reshape transpose swapaxes matrix_transpose moveaxis broadcast_to broadcast_arrays "
    "concatenate stack hstack vstack dstack column_stack split array_split hsplit vsplit "
    "atleast_1d atleast_2d atleast_3d expand_dims squeeze ravel flip fliplr flipud roll repeat "
    "tile take take_along_axis diagonal linalg.diagonal diag tril triu pad copy where shape ndim "
    "size isscalar result_type can_cast min_scalar_type iscomplex iscomplexobj isreal isrealobj "
    "zeros_like ones_like empty_like full_like nonzero flatnonzero argwhere count_nonzero all "
    "any array_equal array_equiv isclose allclose argmax argmin argsort round around sum mean "
    "cumsum trace linalg.trace diff dot tensordot linalg.tensordot einsum inner outer "
    "linalg.outer kron linalg.matmul linalg.multi_dot linalg.matrix_power vdot cross linalg.cross "
    "real imag angle prod cumprod linalg.inv linalg.solve linalg.det var std average "
    # (the norms compose abs and |x|²; those from singular values raise in svdvals)
    "linalg.norm linalg.vector_norm linalg.matrix_norm").split()) | frozenset(
    f"numpy.fft.{n}" for n in (
        "fft ifft fft2 ifft2 fftn ifftn rfft irfft rfft2 irfft2 rfftn irfftn hfft ihfft fftshift "
        "ifftshift").split())


def unsupported(name):
    return NotImplementedError(f"{name}: complex inputs are not supported yet")


def _any_complex(values):
    for v in values:
        if _is_complex(v):
            return True
        if isinstance(v, (list, tuple)):
            for w in v:
                if _is_complex(w):
                    return True
    return False


class _Guarded:
    """A rule of an entry not checked on complex inputs: raises for them, else calls ``rule``.

    The guard reads only dtypes, which the tape's stand-ins for values it did not keep have:
    what the entry declares its rule reads stays true of the guarded rule.
    """

    __slots__ = ("rule", "name", "skip")

    def __init__(self, rule, name, skip):
        self.rule = rule
        self.name = name
        self.skip = skip  # leading parameters that are not values: (tangents,), (i, g), ()

    def __call__(self, *args, **kwargs):
        if _any_complex(args[self.skip:]):
            raise unsupported(self.name)
        return self.rule(*args, **kwargs)


def _guard_front(front, name):
    def guarded(*args, **kwargs):
        if _any_complex(args) or _any_complex(kwargs.values()):
            raise unsupported(name)
        return front(*args, **kwargs)
    guarded.__doc__ = front.__doc__
    guarded.__wrapped__ = front
    guarded._complex_guard = True
    return guarded


def _public_name(f):
    """``scipy.special.logsumexp`` rather than its private home ``scipy.special._logsumexp``."""
    name = qualname(f)
    head, _, tail = name.rpartition(".")
    parts = [p for p in head.split(".") if not p.startswith("_")]
    return ".".join(parts + [tail])


def guard(primitives):
    """Wrap the rules of every primitive in ``primitives`` and the front of every registered
    NumPy function that is not verified for complex inputs (idempotent)."""
    for p in primitives:
        if p.name in VERIFIED_PRIMITIVES:
            continue
        if p.nondiff:
            continue  # no derivative to get wrong (sign, which has one for complex, raises)
        if p.jvp is not None and not isinstance(p.jvp, _Guarded):
            p.jvp = _Guarded(p.jvp, p.name, 1)
        if p.vjp is not None and not isinstance(p.vjp, _Guarded):
            p.vjp = _Guarded(p.vjp, p.name, 2)
        if p.vjp_plain is not None and not isinstance(p.vjp_plain, _Guarded):
            p.vjp_plain = _Guarded(p.vjp_plain, p.name, 2)
    for f, front in list(FUNCTION_RULES.items()):
        name = _public_name(f)
        if name in VERIFIED_FUNCTIONS or getattr(front, "_complex_guard", False):
            continue
        FUNCTION_RULES[f] = _guard_front(front, name)
