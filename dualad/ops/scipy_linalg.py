"""Rules for ``scipy.linalg`` and ``scipy.signal`` functions real code calls on traced values.

Most are fronts over the ``np.linalg`` entries (a Cholesky factor is ``np.linalg.cholesky``'s,
a triangular solve is a solve with the triangle: only that triangle is read, so only it gets a
derivative). ``expm``, ``sqrtm`` and ``lu_solve`` are primitives of their own:

- ``expm``: the Fréchet derivative by the block-triangular identity
  ``expm([[A, E], [0, A]]) = [[e^A, L(A, E)], [0, e^A]]`` (all lanes in one batched call); its
  transpose is ``L(Aᵀ, ·)``, the same identity again;
- ``sqrtm``: ``X dX + dX X = dA`` (a Sylvester equation), transposed with ``Xᵀ``;
- ``lu_solve`` with a constant factorization: linear in ``b``, transposed by ``trans``.

SciPy is imported when a rule runs, never when dualad loads (``scipy.linalg`` takes a third
of a second); :mod:`dualad.ops.scipy_support` routes calls here once the user has imported it.
"""
from __future__ import annotations

import numpy as np

from .core import Primitive, Tracer, ndim_of, plain_array as _plain, shape_of

__all__ = ["LINALG", "SIGNAL", "expm_p", "sqrtm_p", "lu_solve_p"]


def _sl():
    import scipy.linalg
    return scipy.linalg


def _real_only(name, *xs, module="linalg"):
    for x in xs:
        if np.iscomplexobj(_plain(x)):
            raise NotImplementedError(f"scipy.{module}.{name}: complex inputs are not supported "
                                      f"on traced arrays")


def _square(name, a):
    if ndim_of(a) != 2 or shape_of(a)[0] != shape_of(a)[1]:
        raise ValueError(f"scipy.linalg.{name}: expected a square 2-D matrix, got shape "
                         f"{tuple(shape_of(a))}")


# ---------------------------------------------------------------------------------------------
# fronts over np.linalg
# ---------------------------------------------------------------------------------------------

def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    _real_only("cholesky", a)
    factor = np.linalg.cholesky(a)
    return factor if lower else np.swapaxes(factor, -1, -2)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    # SciPy leaves the other triangle unspecified; here it is zero
    return cholesky(a, lower=lower), lower


def _triangle(c, lower):
    return np.tril(c) if lower else np.triu(c)


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    c, lower = c_and_lower
    _real_only("cho_solve", c, b)
    low = _triangle(c, lower)
    low = low if lower else np.swapaxes(low, -1, -2)
    return np.linalg.solve(np.swapaxes(low, -1, -2), np.linalg.solve(low, b))


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    _real_only("solve_triangular", a, b)
    _square("solve_triangular", a)
    t = _triangle(a, lower)
    if unit_diagonal:  # the diagonal is taken to be ones, whatever a holds there
        n = shape_of(a)[0]
        t = t - np.diag(np.diagonal(t)) + np.eye(n)
    if trans in (1, "T", 2, "C"):
        t = np.swapaxes(t, -1, -2)
    elif trans not in (0, "N"):
        raise ValueError(f"scipy.linalg.solve_triangular: trans must be 0, 1, 2, 'N', 'T' or "
                         f"'C', got {trans!r}")
    return np.linalg.solve(t, b)


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
          assume_a=None, transposed=False):
    _real_only("solve", a, b)
    return np.linalg.solve(np.swapaxes(a, -1, -2) if transposed else a, b)


def inv(a, overwrite_a=False, check_finite=True):
    return np.linalg.inv(a)


def det(a, overwrite_a=False, check_finite=True):
    return np.linalg.det(a)


def lu_factor(a, overwrite_a=False, check_finite=True):
    raise NotImplementedError("scipy.linalg.lu_factor: derivatives through the LU factors are "
                              "not implemented; solve with the traced matrix itself "
                              "(scipy.linalg.solve or np.linalg.solve)")


# ---------------------------------------------------------------------------------------------
# expm: the Fréchet derivative by the block identity
# ---------------------------------------------------------------------------------------------

def _frechet(a, e):
    """L(A, E) for every lane of ``e`` (``(K, ..., n, n)`` against ``a`` ``(..., n, n)``: the
    rule's own expm is batched when it is differentiated again): one batched expm."""
    n = shape_of(a)[-1]
    big = np.broadcast_to(a, shape_of(e))
    top = np.concatenate([big, e], axis=-1)
    bottom = np.concatenate([np.zeros(shape_of(e)), big], axis=-1)
    return expm_p.bind(np.concatenate([top, bottom], axis=-2))[..., :n, n:]


def _expm_impl(a):
    return _sl().expm(a)


expm_p = Primitive(
    "scipy.linalg.expm", _expm_impl,
    jvp=lambda ts, ans, a: _frechet(a, ts[0]),
    vjp=lambda i, g, ans, a: _frechet(np.swapaxes(a, -1, -2), g), saves=(0,))


def expm(A):
    _real_only("expm", A)
    _square("expm", A)
    return expm_p.bind(A)


# ---------------------------------------------------------------------------------------------
# sqrtm: a Sylvester equation per lane
# ---------------------------------------------------------------------------------------------

def _sylvester_lanes(x, rhs):
    """Solve ``x D + D x = rhs[k]`` for every lane k (SciPy's solver takes one at a time)."""
    if isinstance(x, Tracer) or isinstance(rhs, Tracer):
        raise NotImplementedError("scipy.linalg.sqrtm: derivatives of order 2 and higher are "
                                  "not implemented (they need scipy.linalg.solve_sylvester's)")
    sl = _sl()
    return np.stack([sl.solve_sylvester(x, x, r) for r in rhs])


def _sqrtm_impl(a):
    root = _sl().sqrtm(a)
    if np.iscomplexobj(root) and not np.iscomplexobj(a):
        raise NotImplementedError("scipy.linalg.sqrtm: this matrix has no real square root; "
                                  "complex results are not supported on traced arrays")
    return root


sqrtm_p = Primitive(
    "scipy.linalg.sqrtm", _sqrtm_impl,
    jvp=lambda ts, ans, a: _sylvester_lanes(ans, ts[0]),
    vjp=lambda i, g, ans, a: _sylvester_lanes(np.swapaxes(ans, -1, -2), g), saves=("ans",))


def sqrtm(A, disp=True, blocksize=64):
    _real_only("sqrtm", A)
    _square("sqrtm", A)
    return sqrtm_p.bind(A)


# ---------------------------------------------------------------------------------------------
# lu_solve with a constant factorization: linear in b
# ---------------------------------------------------------------------------------------------

def _lanes_last(b):
    """``(K, n, ...)`` lanes as the trailing columns ``(n, ... * K)`` that LAPACK solves at once."""
    k = b.shape[0]
    moved = np.moveaxis(b, 0, -1)
    return moved.reshape(moved.shape[0], -1), moved.shape, k


def _lu_solve_lanes(lu, piv, b, trans):
    cols, shape, k = _lanes_last(b)
    out = _sl().lu_solve((lu, piv), cols, trans=trans).reshape(shape)
    return np.moveaxis(out, -1, 0)


lu_solve_p = Primitive(
    "scipy.linalg.lu_solve",
    lambda b, lu, piv, trans: _sl().lu_solve((lu, piv), b, trans=trans),
    jvp=lambda ts, ans, b, lu, piv, trans: _lu_solve_lanes(lu, piv, ts[0], trans),
    vjp=lambda i, g, ans, b, lu, piv, trans: _lu_solve_lanes(lu, piv, g, 1 - trans),
    saves=(1, 2))  # (the factors: linear in b, whose value it does not need)


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    lu, piv = lu_and_piv
    if isinstance(lu, Tracer):
        lu_factor(lu)  # (raises: the factors themselves have no derivative here)
    trans = {"N": 0, "T": 1, "C": 1}.get(trans, trans)
    if trans not in (0, 1, 2):
        raise ValueError(f"scipy.linalg.lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    _real_only("lu_solve", b)
    return lu_solve_p.bind(b, lu=np.asarray(lu), piv=np.asarray(piv), trans=min(trans, 1))


#: scipy.linalg name -> front
LINALG = {"cholesky": cholesky, "cho_factor": cho_factor, "cho_solve": cho_solve,
          "solve_triangular": solve_triangular, "solve": solve, "inv": inv, "det": det,
          "expm": expm, "sqrtm": sqrtm, "lu_factor": lu_factor, "lu_solve": lu_solve}


# ---------------------------------------------------------------------------------------------
# scipy.signal: 1-D convolution and correlation (SciPy's 'same' is relative to in1)
# ---------------------------------------------------------------------------------------------

def _signal_slice(full, n1, n2, mode, name):
    if mode == "full":
        return full
    if mode == "same":
        start = (shape_of(full)[0] - n1) // 2
        return full[start:start + n1]
    if mode == "valid":
        if n2 > n1:
            raise ValueError(f"scipy.signal.{name}: for 'valid' mode, in1 must be at least as "
                             f"large as in2 in every dimension (after the swap SciPy makes "
                             f"this is the same result); pass the longer one first")
        return full[n2 - 1:n1]
    raise ValueError(f"scipy.signal.{name}: mode must be 'full', 'same' or 'valid', got "
                     f"{mode!r}")


def _signal(name, in1, in2, mode, flip):
    if ndim_of(in1) != 1 or ndim_of(in2) != 1:
        raise NotImplementedError(f"scipy.signal.{name}: only 1-D inputs are supported on "
                                  f"traced arrays (for images, nn.functional.conv2d)")
    _real_only(name, in1, in2, module="signal")
    n1, n2 = shape_of(in1)[0], shape_of(in2)[0]
    full = np.convolve(in1, in2[::-1] if flip else in2, "full")
    return _signal_slice(full, n1, n2, mode, name)


def signal_convolve(in1, in2, mode="full", method="auto"):
    return _signal("convolve", in1, in2, mode, flip=False)


def signal_correlate(in1, in2, mode="full", method="auto"):
    # correlation is convolution with the reversed second sequence (real inputs)
    return _signal("correlate", in1, in2, mode, flip=True)


#: scipy.signal name -> front
SIGNAL = {"convolve": signal_convolve, "correlate": signal_correlate}
