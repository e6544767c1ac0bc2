"""Linear-algebra entries: ``np.linalg`` and the triangle masks ``np.tril`` / ``np.triu``.

Matrices are the last two axes and every entry is batched over the leading ones, as in NumPy;
lane-carrying tangents and cotangents put their lane axis in front of those, so ``matmul``
broadcasting carries the K lanes without special cases. The rules (Giles 2008, "An extended
collection of matrix derivative results"; Murray 2016 for Cholesky; Townsend 2016 for the SVD)
are written with NumPy calls on their arguments, so they nest like every other entry.

Primitives: ``inv``, ``det``, ``slogdet``, ``solve``, ``cholesky``, ``eigh``, ``eigvalsh``, ``qr``,
``svd``, singular values alone, ``pinv``. Composed from them and from other entries: ``norm``
(and the Array-API ``vector_norm``/``matrix_norm``), ``matrix_power``, ``tril``, ``triu``.

Symmetric inputs: ``cholesky`` takes its argument to be symmetric, as JAX and PyTorch do: a
tangent ``dA`` counts by its symmetric part ``(dA + dAᵀ)/2`` and the cotangent of ``A`` is
symmetric. ``eigh``/``eigvalsh`` follow NumPy instead: they read only the triangle ``UPLO``
names (the other one may hold anything), so their derivative is with respect to that
triangle: ``A`` enters as ``S = tril(A) + tril(A, -1)ᵀ`` (``triu`` for ``"U"``), and the
cotangent of ``A`` is zero on the triangle not read. Along symmetric directions all these
conventions agree.
"""
from __future__ import annotations

import collections
import operator

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from .core import Primitive, align, implements, ndim_of, shape_of, sum_to
from .shape import plain

__all__ = ["inv_p", "det_p", "slogdet_p", "solve_p", "cholesky_p", "eigh_p", "eigvalsh_p",
           "qr_p", "svd_p", "svdvals_p", "pinv_p", "EighResult", "QRResult", "SVDResult",
           "SlogdetResult"]


def _result_type(name, fields):
    # NumPy's own result classes where they exist, so that fields and reprs match NumPy's
    found = getattr(getattr(np.linalg, "_linalg", None), name, None)
    return found if found is not None else collections.namedtuple(name, fields)


EighResult = _result_type("EighResult", "eigenvalues eigenvectors")
QRResult = _result_type("QRResult", "Q R")
SVDResult = _result_type("SVDResult", "U S Vh")
SlogdetResult = _result_type("SlogdetResult", "sign logabsdet")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def _mT(x):
    return np.swapaxes(x, -1, -2)


def _eye(n, like):
    return np.eye(n, dtype=like.dtype)


def _matrix_shape(a, name, square=False):
    s = shape_of(a)
    if len(s) < 2:
        raise np.linalg.LinAlgError(f"{name}: {len(s)}-dimensional array given. Array must be "
                                    f"at least two-dimensional")
    if square and s[-1] != s[-2]:
        raise np.linalg.LinAlgError(f"{name}: last 2 dimensions of the array must be square")
    return s[-2], s[-1]


def _nonzero(g):
    """Whether a cotangent can contribute (outputs that were not used arrive as zeros)."""
    return g is not None and bool(np.any(g != 0))


def _inverse(a, name, why="the derivative is taken through the inverse and needs a nonsingular "
                          "matrix"):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(f"{name}: {why}") from None


def _sym(t):
    """The symmetric part: the tangent of a symmetric input, and (being its own adjoint) the
    cotangent, so gradients with respect to symmetric matrices are symmetric."""
    return 0.5 * (t + _mT(t))


def _gap_inverse(d):
    """``F[..., i, j] = 1 / (d_j - d_i)`` off the diagonal, 0 on it."""
    n = shape_of(d)[-1]
    eye = np.eye(n, dtype=bool)
    diff = d[..., None, :] - d[..., :, None]
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, diff))


def _check_distinct(values, name, what, nonzero=False):
    """Raise ``ValueError`` where the rule would divide by a zero gap (or a zero value).

    "Repeated" means equal up to the rounding error of the decomposition, relative to the
    largest magnitude in the same matrix.
    """
    v = np.abs(np.asarray(plain(values)))
    n = v.shape[-1]
    tol = 10.0 * n * np.finfo(v.dtype).eps * np.max(v, axis=-1, keepdims=True)
    if n > 1 and np.any(np.diff(np.sort(v, axis=-1), axis=-1) <= tol):
        raise ValueError(f"{name}: derivative undefined for repeated {what}: the vectors that "
                         f"belong to them are not unique (the {what} alone have a derivative)")
    if nonzero and np.any(v <= tol):
        raise ValueError(f"{name}: derivative of the singular vectors of a non-square matrix "
                         f"undefined for zero singular values")


# ---------------------------------------------------------------------------------------------
# np.tril / np.triu: a constant 0/1 mask, so linear with the same mask as derivative
# ---------------------------------------------------------------------------------------------

@implements(np.tril)
def _tril(m, k=0):
    mask = np.tri(*shape_of(m)[-2:], k=k, dtype=bool)
    return np.where(mask, m, 0.0)


@implements(np.triu)
def _triu(m, k=0):
    mask = np.tri(*shape_of(m)[-2:], k=k - 1, dtype=bool)
    return np.where(mask, 0.0, m)


# ---------------------------------------------------------------------------------------------
# inv, det, slogdet, solve
# ---------------------------------------------------------------------------------------------

#: d(A⁻¹) = -A⁻¹ dA A⁻¹
inv_p = Primitive(
    "numpy.linalg.inv", lambda a: np.linalg.inv(a),
    jvp=lambda ts, ans, a: -(ans @ ts[0] @ ans),
    vjp=lambda i, g, ans, a: -(_mT(ans) @ g @ _mT(ans)), saves=("ans",))


_inv = implements(np.linalg.inv)(lambda a: inv_p.bind(a))


def _inv_transpose(a, name):
    return _mT(_inverse(a, name))


# d det A = det A · tr(A⁻¹ dA) = det A · Σ (A⁻ᵀ ∘ dA)
det_p = Primitive(
    "numpy.linalg.det", lambda a: np.linalg.det(a),
    jvp=lambda ts, ans, a: ans * np.sum(_inv_transpose(a, "numpy.linalg.det") * ts[0],
                                        axis=(-2, -1)),
    vjp=lambda i, g, ans, a: (g * ans)[..., None, None] * _inv_transpose(a, "numpy.linalg.det"),
    saves=("ans", 0))

implements(np.linalg.det)(lambda a: det_p.bind(a))


# (sign, log|det A|); the sign is piecewise constant, so only the second result has a tangent
slogdet_p = Primitive(
    "numpy.linalg.slogdet", lambda a: tuple(np.linalg.slogdet(a)),
    jvp=lambda ts, ans, a: (None, np.sum(_inv_transpose(a, "numpy.linalg.slogdet") * ts[0],
                                         axis=(-2, -1))),
    vjp=lambda i, g, ans, a: g[1][..., None, None] * _inv_transpose(a, "numpy.linalg.slogdet"),
    multiple_results=True, saves=(0,))


@implements(np.linalg.slogdet)
def _slogdet(a):
    """``(sign, logabsdet)`` like NumPy's; ``sign`` is a plain array (a constant)."""
    sign, logabsdet = slogdet_p.bind(a)
    return SlogdetResult(plain(sign), logabsdet)


def _solve_jvp(ts, ans, a, b):
    # x = A⁻¹ b, dx = A⁻¹ (db - dA x); a 1-D b is one vector (NumPy 2), made a column here
    ta, tb = ts
    vec = ndim_of(b) == 1
    x = ans[..., None] if vec else ans
    nd = ndim_of(x)
    rhs = None
    if tb is not None:
        rhs = align(tb[..., None] if vec else tb, nd)  # lanes must not meet a's batch axes
    if ta is not None:
        term = -(align(ta, nd) @ x)
        rhs = term if rhs is None else rhs + term
    dx = np.linalg.solve(a, rhs)
    return dx[..., 0] if vec else dx


def _solve_vjp(i, g, ans, a, b):
    # b̄ = A⁻ᵀ ḡ, Ā = -b̄ xᵀ, each summed over the batch axes its argument was broadcast along
    vec = ndim_of(b) == 1
    gb = np.linalg.solve(_mT(a), g[..., None] if vec else g)
    if i == 1:
        return sum_to(gb[..., 0] if vec else gb, shape_of(b), lanes=True)
    x = ans[..., None] if vec else ans
    return sum_to(-(gb @ _mT(x)), shape_of(a), lanes=True)


#: b's cotangent needs only A; A's needs the solution x too
solve_p = Primitive("numpy.linalg.solve", lambda a, b: np.linalg.solve(a, b),
                    jvp=_solve_jvp, vjp=_solve_vjp, saves={0: ("ans", 0), 1: (0,)})

implements(np.linalg.solve)(lambda a, b: solve_p.bind(a, b))


# ---------------------------------------------------------------------------------------------
# cholesky (Murray 2016): dL = L Φ(L⁻¹ dA L⁻ᵀ), Φ = lower triangle with the diagonal halved
# ---------------------------------------------------------------------------------------------

def _phi(x):
    n = shape_of(x)[-1]
    return x * (np.tri(n, dtype=x.dtype) - 0.5 * np.eye(n, dtype=x.dtype))


def _cholesky_jvp(ts, ans, a, upper):
    low = _mT(ans) if upper else ans  # upper=True returns Lᵀ and reads the upper triangle
    s = _sym(ts[0])
    linv = np.linalg.inv(low)
    dl = low @ _phi(linv @ s @ _mT(linv))
    return _mT(dl) if upper else dl


def _cholesky_vjp(i, g, ans, a, upper):
    low = _mT(ans) if upper else ans
    gl = _mT(g) if upper else g
    linv = np.linalg.inv(low)
    return _sym(_mT(linv) @ _phi(_mT(low) @ gl) @ linv)


cholesky_p = Primitive("numpy.linalg.cholesky",
                       lambda a, upper: np.linalg.cholesky(a, upper=upper),
                       jvp=_cholesky_jvp, vjp=_cholesky_vjp, saves=("ans",))


@implements(np.linalg.cholesky)
def _cholesky(a, /, *, upper=False):
    """Cholesky factor of the symmetric matrix NumPy reads from one triangle of ``a`` (the
    lower one, or the upper one with ``upper=True``); see the module doc for the convention."""
    _matrix_shape(a, "numpy.linalg.cholesky", square=True)
    return cholesky_p.bind(a, upper=bool(upper))


# ---------------------------------------------------------------------------------------------
# eigh, eigvalsh: A = V diag(w) Vᵀ; dw = diag(Vᵀ dA V), dV = V (F ∘ Vᵀ dA V), F = 1/(w_j - w_i)
# ---------------------------------------------------------------------------------------------

def _from_triangle(t, UPLO):
    """The symmetric matrix that eigh reads from the ``UPLO`` triangle of ``t`` (its tangent
    too: the map is linear)."""
    if UPLO == "L":
        return np.tril(t) + _mT(np.tril(t, -1))
    return np.triu(t) + _mT(np.triu(t, 1))


def _to_triangle(g, UPLO):
    """The transpose of :func:`_from_triangle` applied to a symmetric cotangent ``g``: each
    off-diagonal entry of the read triangle stands for two entries of ``S``."""
    n = shape_of(g)[-1]
    if UPLO == "L":
        return 2.0 * np.tril(g, -1) + g * _eye(n, g)
    return 2.0 * np.triu(g, 1) + g * _eye(n, g)


def _eigh_jvp(ts, ans, a, UPLO):
    w, v = ans
    _check_distinct(w, "numpy.linalg.eigh", "eigenvalues")
    m = _mT(v) @ _from_triangle(ts[0], UPLO) @ v
    dw = np.sum(m * _eye(shape_of(w)[-1], m), axis=-1)
    return dw, v @ (_gap_inverse(w) * m)


def _eigh_vjp(i, g, ans, a, UPLO):
    w, v = ans
    gw, gv = g
    inner = None
    if _nonzero(gw):
        inner = gw[..., None, :] * _eye(shape_of(w)[-1], gw)
    if _nonzero(gv):
        _check_distinct(w, "numpy.linalg.eigh", "eigenvalues")
        term = _gap_inverse(w) * (_mT(v) @ gv)
        inner = term if inner is None else inner + term
    if inner is None:
        return None
    return _to_triangle(_sym(v @ inner @ _mT(v)), UPLO)


eigh_p = Primitive("numpy.linalg.eigh", lambda a, UPLO: tuple(np.linalg.eigh(a, UPLO=UPLO)),
                   jvp=_eigh_jvp, vjp=_eigh_vjp, multiple_results=True, saves=("ans",))


def _eigvalsh_jvp(ts, ans, a, UPLO):
    v = np.linalg.eigh(a, UPLO=UPLO).eigenvectors
    return np.sum(v * (_from_triangle(ts[0], UPLO) @ v), axis=-2)


def _eigvalsh_vjp(i, g, ans, a, UPLO):
    v = np.linalg.eigh(a, UPLO=UPLO).eigenvectors
    return _to_triangle(_sym((v * g[..., None, :]) @ _mT(v)), UPLO)


#: eigenvalues alone: differentiable wherever they are distinct, without eigenvector rules
eigvalsh_p = Primitive("numpy.linalg.eigvalsh",
                       lambda a, UPLO: np.linalg.eigvalsh(a, UPLO=UPLO),
                       jvp=_eigvalsh_jvp, vjp=_eigvalsh_vjp, saves=(0,))


def _uplo(UPLO):
    UPLO = str(UPLO).upper()
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return UPLO


@implements(np.linalg.eigh)
def _eigh(a, UPLO="L"):
    """``(eigenvalues, eigenvectors)`` of the symmetric matrix read from one triangle of ``a``.

    As in NumPy only the ``UPLO`` triangle of ``a`` is read, so the derivative is with respect
    to that triangle (zero on the other one).

    The eigenvector derivatives need distinct eigenvalues: the rules raise ``ValueError`` on
    repeated ones (use ``eigvalsh`` when only the eigenvalues matter).
    """
    _matrix_shape(a, "numpy.linalg.eigh", square=True)
    w, v = eigh_p.bind(a, UPLO=_uplo(UPLO))
    return EighResult(w, v)


@implements(np.linalg.eigvalsh)
def _eigvalsh(a, UPLO="L"):
    _matrix_shape(a, "numpy.linalg.eigvalsh", square=True)
    return eigvalsh_p.bind(a, UPLO=_uplo(UPLO))


# ---------------------------------------------------------------------------------------------
# qr (reduced, m ≥ n, full column rank): with C = Qᵀ dA R⁻¹ and Ω = tril(C,-1) - tril(C,-1)ᵀ
# (QᵀdQ is antisymmetric, dR R⁻¹ upper triangular): dR = (C - Ω) R, dQ = dA R⁻¹ - Q (C - Ω)
# ---------------------------------------------------------------------------------------------

_QR_RANK = "the derivative needs a matrix of full column rank (R invertible)"


def _qr_jvp(ts, ans, a):
    q, r = ans
    da_rinv = ts[0] @ _inverse(r, "numpy.linalg.qr", _QR_RANK)
    c = _mT(q) @ da_rinv
    low = np.tril(c, -1)
    m = c - low + _mT(low)
    return da_rinv - q @ m, m @ r


def _qr_vjp(i, g, ans, a):
    # Ā = (Q̄ + Q N) R⁻ᵀ with B = R̄ Rᵀ - Qᵀ Q̄ and N = triu(B) + tril(Bᵀ, -1)
    q, r = ans
    gq, gr = g
    b = gr @ _mT(r) if _nonzero(gr) else None
    if _nonzero(gq):
        b = -(_mT(q) @ gq) if b is None else b - _mT(q) @ gq
    if b is None:
        return None
    ga = q @ (np.triu(b) + np.tril(_mT(b), -1))
    if _nonzero(gq):
        ga = ga + gq
    return ga @ _mT(_inverse(r, "numpy.linalg.qr", _QR_RANK))


qr_p = Primitive("numpy.linalg.qr", lambda a: tuple(np.linalg.qr(a, mode="reduced")),
                 jvp=_qr_jvp, vjp=_qr_vjp, multiple_results=True, saves=("ans",))


@implements(np.linalg.qr)
def _qr(a, mode="reduced"):
    """QR of a matrix with m ≥ n and full column rank, modes ``'reduced'`` and ``'r'`` (and
    ``'complete'`` for square matrices, where it is the same)."""
    name = "numpy.linalg.qr"
    m, n = _matrix_shape(a, name)
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    if mode == "raw":
        raise NotImplementedError(f"{name}: mode='raw' returns Householder reflectors, which "
                                  f"have no derivative rule; use mode='reduced'")
    if m < n:
        raise NotImplementedError(
            f"{name}: no derivative rule for m < n (a {m}x{n} matrix): R is not square, so the "
            f"rule's R⁻¹ does not exist; for A = [X | Y] with X square, take Q, Rx = qr(X) "
            f"and R = [Rx | Qᵀ Y]")
    if mode == "complete" and m > n:
        raise NotImplementedError(
            f"{name}: no derivative for mode='complete' with m > n: the last m - n columns of "
            f"Q are any orthonormal basis of the complement of A's range, not a function of A; "
            f"use mode='reduced'")
    q, r = qr_p.bind(a)
    return r if mode == "r" else QRResult(q, r)


# ---------------------------------------------------------------------------------------------
# svd (Townsend 2016), reduced: A = U S Vᵀ with P = Uᵀ dA V, F = 1/(s_j² - s_i²),
#   dS = diag(P), dU = U (F ∘ (PS + SPᵀ)) + (I - UUᵀ) dA V S⁻¹,
#                 dV = V (F ∘ (SP + PᵀS)) + (I - VVᵀ) dAᵀ U S⁻¹
# (the S⁻¹ terms vanish for square matrices, whose U and V are complete)
# ---------------------------------------------------------------------------------------------

def _svd_jvp(ts, ans, a, full_matrices):
    u, s, vh = ans
    m, n = shape_of(a)[-2:]
    _check_distinct(s, "numpy.linalg.svd", "singular values", nonzero=m != n)
    k = min(m, n)
    t = ts[0]
    v = _mT(vh)
    tv = t @ v
    p = _mT(u) @ tv
    ds = np.sum(p * _eye(k, p), axis=-1)
    f = _gap_inverse(s * s)
    ps = p * s[..., None, :]
    sp = s[..., :, None] * p
    du = u @ (f * (ps + _mT(ps)))
    dv = v @ (f * (sp + _mT(sp)))
    if m > k:
        du = du + (tv - u @ p) / s[..., None, :]
    if n > k:
        dv = dv + (_mT(t) @ u - v @ _mT(p)) / s[..., None, :]
    return du, ds, _mT(dv)


def _svd_vjp(i, g, ans, a, full_matrices):
    u, s, vh = ans
    gu, gs, gvh = g
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    use_u, use_v = _nonzero(gu), _nonzero(gvh)
    inner = gs[..., None, :] * _eye(k, gs) if _nonzero(gs) else None
    extra = None
    if use_u or use_v:
        _check_distinct(s, "numpy.linalg.svd", "singular values", nonzero=m != n)
        f = _gap_inverse(s * s)
    if use_u:
        j = f * (_mT(u) @ gu)
        term = (j + _mT(j)) * s[..., None, :]
        inner = term if inner is None else inner + term
        if m > k:
            extra = ((gu - u @ (_mT(u) @ gu)) / s[..., None, :]) @ vh
    if use_v:
        v, gv = _mT(vh), _mT(gvh)
        kk = f * (_mT(v) @ gv)
        term = s[..., :, None] * (kk + _mT(kk))
        inner = term if inner is None else inner + term
        if n > k:
            term = u @ (_mT(gv - v @ (_mT(v) @ gv)) / s[..., :, None])
            extra = term if extra is None else extra + term
    if inner is None:
        return None
    ga = u @ inner @ vh
    return ga if extra is None else ga + extra


svd_p = Primitive(
    "numpy.linalg.svd",
    lambda a, full_matrices: tuple(np.linalg.svd(a, full_matrices=full_matrices)),
    jvp=_svd_jvp, vjp=_svd_vjp, multiple_results=True, saves=("ans",))


def _svdvals_jvp(ts, ans, a):
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u * (ts[0] @ _mT(vh)), axis=-2)


def _svdvals_vjp(i, g, ans, a):
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return (u * g[..., None, :]) @ vh


#: singular values alone: ds = diag(Uᵀ dA V), Ā = U diag(s̄) Vᵀ; no condition on the gaps
svdvals_p = Primitive("numpy.linalg.svdvals", lambda a: np.linalg.svd(a, compute_uv=False),
                      jvp=_svdvals_jvp, vjp=_svdvals_vjp, saves=(0,))


@implements(np.linalg.svd)
def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """SVD with derivatives. ``compute_uv=False``: the singular values alone, differentiable
    wherever they are distinct. With ``U`` and ``Vh``: their derivatives need distinct singular
    values, and nonzero ones for a non-square matrix; the rules raise ``ValueError`` otherwise.
    ``full_matrices=True`` is supported for square matrices only (NumPy's default: pass
    ``full_matrices=False`` for the reduced SVD of a non-square one)."""
    name = "numpy.linalg.svd"
    m, n = _matrix_shape(a, name)
    if hermitian:
        raise NotImplementedError(f"{name}: hermitian=True reads one triangle only and has no "
                                  f"derivative rule; pass hermitian=False")
    if not compute_uv:
        return svdvals_p.bind(a)
    if full_matrices and m != n:
        raise NotImplementedError(
            f"{name}: full_matrices=True on a non-square ({m}x{n}) matrix: the extra singular "
            f"vectors are any orthonormal basis of a complement, not a function of the matrix; "
            f"pass full_matrices=False")
    return SVDResult(*svd_p.bind(a, full_matrices=bool(full_matrices)))


@implements(np.linalg.svdvals)
def _svdvals(x, /):
    _matrix_shape(x, "numpy.linalg.svdvals")
    return svdvals_p.bind(x)


# ---------------------------------------------------------------------------------------------
# pinv (Golub & Pereyra 1973), valid wherever the rank is locally constant:
#   dA⁺ = -A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I - AA⁺) + (I - A⁺A) dAᵀ A⁺ᵀA⁺
# ---------------------------------------------------------------------------------------------

def _pinv_jvp(ts, ans, a, **cutoff):
    t, p = ts[0], ans
    m, n = shape_of(a)[-2:]
    pt, tt = _mT(p), _mT(t)
    return (-(p @ t @ p) + p @ pt @ tt @ (_eye(m, p) - a @ p)
            + (_eye(n, p) - p @ a) @ tt @ pt @ p)


def _pinv_vjp(i, g, ans, a, **cutoff):
    p = ans
    m, n = shape_of(a)[-2:]
    pt, gt = _mT(p), _mT(g)
    return (-(pt @ g @ pt) + (_eye(m, p) - a @ p) @ gt @ p @ pt
            + pt @ p @ gt @ (_eye(n, p) - p @ a))


pinv_p = Primitive("numpy.linalg.pinv", lambda a, **cutoff: np.linalg.pinv(a, **cutoff),
                   jvp=_pinv_jvp, vjp=_pinv_vjp, saves=("ans", 0))


@implements(np.linalg.pinv)
def _pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    name = "numpy.linalg.pinv"
    _matrix_shape(a, name)
    if hermitian:
        raise NotImplementedError(f"{name}: hermitian=True reads one triangle only and has no "
                                  f"derivative rule; pass hermitian=False")
    cutoff = {"rcond": rcond} if rtol is np._NoValue else {"rcond": rcond, "rtol": rtol}
    return pinv_p.bind(a, **cutoff)


# ---------------------------------------------------------------------------------------------
# compositions: matrix_power, norm
# ---------------------------------------------------------------------------------------------

@implements(np.linalg.matrix_power)
def _matrix_power(a, n):
    """``a`` to the integer power ``n`` by repeated squaring (``inv`` first when ``n < 0``)."""
    n = operator.index(n)
    size = _matrix_shape(a, "numpy.linalg.matrix_power", square=True)[0]
    if n == 0:  # the identity does not depend on a
        return np.broadcast_to(_eye(size, a), shape_of(a)).copy()
    if n < 0:
        a, n = _inv(a), -n
    result, z = None, None
    while n > 0:
        z = a if z is None else z @ z
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else result @ z
    return result


def _two_norm(x, axis, keepdims):
    # √Σ|x|²; at x = 0 the derivative is taken as 0 (a subgradient, like abs'(0) = 0)
    xx = np.real(x * np.conjugate(x)) if x.dtype.kind == "c" else x * x
    s = np.sum(xx, axis=axis, keepdims=keepdims)
    zero = s == 0
    return np.where(zero, 0.0, np.sqrt(np.where(zero, 1.0, s)))


def _vector_norm(x, ord, axis, keepdims):
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord is None or ord == 2:
        return _two_norm(x, axis, keepdims)
    if ord == np.inf:
        return np.max(np.abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(np.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:  # a count: no derivative
        return np.sum(plain(x) != 0, axis=axis, keepdims=keepdims).astype(
            np.finfo(x.dtype).dtype)  # (real also for complex x, as NumPy's)
    if ord == 1:
        return np.sum(np.abs(x), axis=axis, keepdims=keepdims)
    p = float(ord)  # a Python float: NumPy scalars would promote float32
    return np.sum(np.abs(x) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _matrix_norm(x, ord, row, col, keepdims):
    if ord in ("fro", "f", None):
        r = _two_norm(x, (row, col), False)
    elif ord in ("nuc", 2, -2):
        s = svdvals_p.bind(np.moveaxis(x, (row, col), (-2, -1)))
        r = {"nuc": np.sum, 2: np.max, -2: np.min}[ord](s, axis=-1)
    elif ord in (1, -1, np.inf, -np.inf):
        inner, outer = (row, col) if ord in (1, -1) else (col, row)
        if outer > inner:
            outer -= 1  # after the inner axis is summed away
        reduce = np.max if ord > 0 else np.min
        r = reduce(np.sum(np.abs(x), axis=inner), axis=outer)
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        shape = list(shape_of(x))
        shape[row] = shape[col] = 1
        r = np.reshape(r, shape)
    return r


@implements(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms composed from differentiable entries (the 2, nuclear and -2
    matrix norms from the singular values); derivative 0 where the 2-norm is 0."""
    nd = ndim_of(x)
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            return _two_norm(x, tuple(range(nd)), keepdims)
        if nd not in (1, 2):
            raise ValueError("Improper number of dimensions to norm.")
        axis = tuple(range(nd))
    # repeats pass here, to raise NumPy's own "Duplicate axes given." below
    axes = normalize_axis_tuple(axis, nd, "axis", allow_duplicate=True)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError("Duplicate axes given.")
        return _matrix_norm(x, ord, axes[0], axes[1], keepdims)
    raise ValueError("Improper number of dimensions to norm.")


@implements(np.linalg.vector_norm)
def _vector_norm_front(x, /, *, axis=None, keepdims=False, ord=2):
    nd = ndim_of(x)
    axes = tuple(range(nd)) if axis is None else normalize_axis_tuple(axis, nd, "axis")
    return _vector_norm(x, ord, axes, keepdims)


@implements(np.linalg.matrix_norm)
def _matrix_norm_front(x, /, *, keepdims=False, ord="fro"):
    nd = ndim_of(x)
    _matrix_shape(x, "numpy.linalg.matrix_norm")
    return _matrix_norm(x, ord, nd - 2, nd - 1, keepdims)


@implements(np.linalg.matrix_rank)
def _matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """A count: no derivative, so the plain value answers."""
    return np.linalg.matrix_rank(plain(A), tol=plain(tol), hermitian=hermitian, rtol=rtol)
