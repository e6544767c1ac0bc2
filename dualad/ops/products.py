"""Product entries: matmul, einsum and the vector ufuncs; dot, tensordot, trace, ... composed.

Five primitives carry rules: ``matmul`` (the ``@`` ufunc), ``einsum``, and NumPy 2's gufuncs
``vecdot``, ``matvec`` and ``vecmat``. Everything else is composed from them and from the shape
entries: ``tensordot`` is transpose + reshape + one ``matmul`` (so BLAS does the contraction),
``dot``/``inner``/``vdot``/``multi_dot`` pick ``matmul`` or ``tensordot``, ``outer``/``kron``/
``cross`` are broadcast products, ``diagonal``/``trace`` are strided slices of a flattened
matrix, and ``diag`` of a vector masks a padded row with an identity matrix.

Inputs are real: the conjugations of ``vdot``/``vecdot`` are the identity there.
"""
from __future__ import annotations

import operator
import string
from collections import Counter

import numpy as np

from .core import (UFUNC_RULES, Primitive, Tracer, align, bilinear, implements, is_identity,
                   ndim_of, normalize_axis as _axis, shape_of, sum_to)
from .shape import astype, getitem_p

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray

__all__ = ["matmul_p", "einsum_p", "vecdot_p", "matvec_p", "vecmat_p"]


def _mT(x):
    return x.swapaxes(-1, -2) if type(x) is np.ndarray else np.swapaxes(x, -1, -2)


def _last_axis(x, axis):
    """``np.expand_dims(x, axis)`` for axis -1 or -2; indexing when ``x`` is an ndarray (a
    tenth of the cost: these rules run on every backward through ``@``)."""
    if type(x) is np.ndarray:
        return x[..., None] if axis == -1 else x[..., None, :]
    return np.expand_dims(x, axis)


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _reshape(x, shape):
    """``np.reshape`` that binds nothing when the shape is already right."""
    shape = tuple(shape)
    if type(x) is np.ndarray:
        return x.reshape(shape)
    return x if shape_of(x) == shape else np.reshape(x, shape)


def _dtype(x):
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)


def _no_out(name, out):
    if out is not None:
        raise TypeError(f"numpy.{name}: out= is not supported on traced arrays")


# ---------------------------------------------------------------------------------------------
# matmul: the primitive the contractions are built on. Lane axes are folded into GEMM rows
# wherever the layout allows, so K tangents cost one BLAS call rather than K small ones.
# ---------------------------------------------------------------------------------------------

def _lane_left(t, ans, a, b):
    """``t @ b`` for a lane-carrying ``t`` of shape ``(K, *shape(a))``: ``(K, *shape(ans))``."""
    nda, ndb = ndim_of(a), ndim_of(b)
    k = shape_of(t)[0]
    if nda == 1:
        if ndb == 2 and is_identity(t) and type(b) is _ndarray:  # I @ b is b
            return b.astype(np.result_type(t, b), order="K")  # (a copy: never alias b)
        r = np.matmul(t, b)  # the lanes are the rows of a (K, k) matrix
        return r if ndb <= 2 else np.moveaxis(r, -2, 0)
    if ndb <= 2:
        ts = shape_of(t)
        r = np.matmul(_reshape(t, (_prod(ts[:-1]), ts[-1])), b)
        return _reshape(r, (k,) + shape_of(ans))
    return np.matmul(align(t, max(nda, ndb)), b)


def _lane_right(t, ans, a, b):
    """``a @ t`` for a lane-carrying ``t`` of shape ``(K, *shape(b))``: ``(K, *shape(ans))``."""
    nda, ndb = ndim_of(a), ndim_of(b)
    if ndb == 1:
        if nda == 1:
            return np.matmul(t, a)
        # a @ t_κ for every lane κ is the row block t @ aᵀ: one GEMM over all rows of a
        if nda == 2 and is_identity(t) and type(a) is _ndarray:  # I @ aᵀ is aᵀ
            return a.T.astype(np.result_type(t, a), order="K")  # (a copy: never alias a)
        sa = shape_of(a)
        r = np.matmul(t, _mT(_reshape(a, (_prod(sa[:-1]), sa[-1]))))
        return _reshape(r, (shape_of(t)[0],) + shape_of(ans))
    return np.matmul(a, align(t, max(nda, ndb)))


def _matmul_lhs_transpose(g, a, b):
    """The cotangent of ``a`` in ``a @ b`` from the lane-carrying ``g``."""
    nda, ndb = ndim_of(a), ndim_of(b)
    if ndb == 1:  # the outer product with b (hot: x @ y)
        return np.multiply(_last_axis(g, -1), b)
    sa, sb, sg = shape_of(a), shape_of(b), shape_of(g)
    if nda == 1:  # contract b's batch axes and columns together: one (K, B·m) @ (B·m, k)
        bm = _reshape(_mT(b), (_prod(sb[:-2]) * sb[-1], sb[-2]))
        return np.matmul(_reshape(g, (sg[0], _prod(sg[1:]))), bm)
    if ndb == 2:  # fold lanes and batch into rows: one (K·…·n, m) @ (m, k)
        r = np.matmul(_reshape(g, (_prod(sg[:-1]), sg[-1])), _mT(b))
        return sum_to(_reshape(r, sg[:-1] + (sb[0],)), sa, lanes=True)
    return sum_to(np.matmul(g, _mT(b)), sa, lanes=True)


def _matmul_rhs_transpose(g, a, b):
    """The cotangent of ``b`` in ``a @ b`` from the lane-carrying ``g``."""
    nda, ndb = ndim_of(a), ndim_of(b)
    if nda == 1:
        if ndb == 1:
            return np.multiply(_last_axis(g, -1), a)
        return np.multiply(_last_axis(a, -1), _last_axis(g, -2))
    sa, sg = shape_of(a), shape_of(g)
    if ndb == 1:  # contract a's batch axes and rows together: one (K, A·n) @ (A·n, k)
        return np.matmul(_reshape(g, (sg[0], _prod(sg[1:]))),
                         _reshape(a, (_prod(sa[:-1]), sa[-1])))
    return sum_to(np.matmul(_mT(a), g), shape_of(b), lanes=True)


def _matmul_vjp_plain(i, g, ans, a, b):
    """The transposes for one cotangent without the lane axis: vectors and matrices of plain
    arrays take one product each (the lane rule's reshapes cost more than the product on small
    arrays); the rest goes through the lane rules. Only the operand the cotangent reads must be
    an array: of the other (which the tape may not have kept) the rule needs the rank alone."""
    if type(b if i == 0 else a) is _ndarray and not isinstance(g, Tracer):
        nda = len(a.shape)
        ndb = len(b.shape)
        if ndb == 1:
            if nda == 1:  # x @ y: g is a scalar
                return g * (b if i == 0 else a)
            if nda == 2:
                return g[:, None] * b if i == 0 else g @ a
        elif ndb == 2:
            if nda == 1:
                return b @ g if i == 0 else a[:, None] * g
            if nda == 2:
                return g @ b.T if i == 0 else a.T @ g
    return (_matmul_rhs_transpose if i else _matmul_lhs_transpose)(g[None], a, b)[0]


matmul_p = bilinear("numpy.matmul", np.matmul, _matmul_lhs_transpose, _matmul_rhs_transpose,
                    lhs=_lane_left, rhs=_lane_right, vjp_plain=_matmul_vjp_plain)
UFUNC_RULES[np.matmul] = matmul_p


@implements(np.linalg.matmul)
def _linalg_matmul(x1, x2, /):
    return matmul_p.bind(x1, x2)


# ---------------------------------------------------------------------------------------------
# vecdot, matvec, vecmat (NumPy 2 gufuncs). Lane axes broadcast in front of the loop axes once
# the tangent has as many loop axes as the widest argument (``align``).
# ---------------------------------------------------------------------------------------------

def _gufunc(name, fn, core_a, core_b, lhs_transpose, rhs_transpose):
    """A gufunc ``fn`` linear in each argument (``core_*``: its core dims): the lanes broadcast
    in front of the loop axes once the tangent has as many as the widest argument."""
    def loop(a, b):
        return max(ndim_of(a) - core_a, ndim_of(b) - core_b)
    return bilinear(name, fn, lhs_transpose, rhs_transpose,
                    lhs=lambda ta, ans, a, b: fn(align(ta, loop(a, b) + core_a), b),
                    rhs=lambda tb, ans, a, b: fn(a, align(tb, loop(a, b) + core_b)))


vecdot_p = _gufunc(
    "numpy.vecdot", np.vecdot, 1, 1,
    lambda g, a, b: sum_to(np.multiply(_last_axis(g, -1), b), shape_of(a), lanes=True),
    lambda g, a, b: sum_to(np.multiply(_last_axis(g, -1), a), shape_of(b), lanes=True))
matvec_p = _gufunc(
    "numpy.matvec", np.matvec, 2, 1,
    lambda g, m, v: sum_to(np.multiply(_last_axis(g, -1), _last_axis(v, -2)), shape_of(m),
                           lanes=True),
    lambda g, m, v: sum_to(np.vecmat(g, m), shape_of(v), lanes=True))
vecmat_p = _gufunc(
    "numpy.vecmat", np.vecmat, 1, 2,
    lambda g, v, m: sum_to(np.matvec(m, g), shape_of(v), lanes=True),
    lambda g, v, m: sum_to(np.multiply(_last_axis(v, -1), _last_axis(g, -2)), shape_of(m),
                           lanes=True))
UFUNC_RULES[np.vecdot] = vecdot_p
UFUNC_RULES[np.matvec] = matvec_p
UFUNC_RULES[np.vecmat] = vecmat_p


@implements(np.linalg.vecdot)
def _linalg_vecdot(x1, x2, /, *, axis=-1):
    def last(x):  # NumPy places the axis in each operand separately
        return np.moveaxis(x, _axis(axis, ndim_of(x), "linalg.vecdot"), -1)
    return vecdot_p.bind(last(x1), last(x2))


# ---------------------------------------------------------------------------------------------
# einsum: its own primitive. The front rewrites every call into one canonical form (letters
# only, explicit output, no broadcasting of size-1 axes), so the rules need no special cases.
# ---------------------------------------------------------------------------------------------

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's implicit output order


def _fresh(used, n, what):
    free = [c for c in _LETTERS if c not in used]
    if len(free) < n:
        raise NotImplementedError(f"numpy.einsum: {what} needs more than the 52 subscript "
                                  f"letters on traced arrays")
    return free[:n]


def _sublist(sub):
    parts = []
    for s in sub:
        if s is Ellipsis:
            parts.append("...")
        else:
            s = operator.index(s)
            if not 0 <= s < len(_LETTERS):
                raise ValueError(f"numpy.einsum: subscript {s} is not in [0, 52)")
            parts.append(_LETTERS[s])
    return "".join(parts)


def _einsum_input(operands):
    """``(subscripts, arrays)`` from either calling convention of ``np.einsum``."""
    if not operands:
        raise ValueError("numpy.einsum: no operands given")
    if isinstance(operands[0], str):
        return operands[0], list(operands[1:])
    ops = list(operands)
    out = _sublist(ops.pop()) if len(ops) % 2 else None
    arrays, subs = ops[0::2], [_sublist(s) for s in ops[1::2]]
    return ",".join(subs) + ("" if out is None else "->" + out), arrays


def _canonical(subscripts, shapes):
    """Rewrite ``subscripts`` for operands of ``shapes`` into ``(specs, output, squeeze)``.

    ``...`` becomes fresh letters, an implicit output becomes explicit, and an operand's size-1
    axis under a letter that is longer elsewhere (NumPy broadcasts it) is listed in ``squeeze``
    to be reshaped away: a constant along that letter is the same as not having it.
    """
    s = subscripts.replace(" ", "")
    ins, arrow, out = s.partition("->")
    specs = ins.split(",")
    if len(specs) != len(shapes):
        raise ValueError(f"numpy.einsum: {len(specs)} operand subscripts for {len(shapes)} "
                         f"operands")
    for part in specs + [out]:
        if any(c not in _LETTERS for c in part.replace("...", "", 1)):
            raise ValueError(f"numpy.einsum: invalid subscript string {subscripts!r}")
    n_ell = []
    for spec, shape in zip(specs, shapes):
        n = len(shape) - (len(spec) - 3 if "..." in spec else len(spec))
        if n < 0 or (n and "..." not in spec):
            raise ValueError(f"numpy.einsum: subscripts {spec!r} do not match an operand of "
                             f"{len(shape)} dimensions")
        n_ell.append(n)
    ell = "".join(_fresh(set(s), max(n_ell, default=0), "'...'"))
    if arrow:
        if "..." in out:
            out = out.replace("...", ell)
        elif ell:
            raise ValueError("numpy.einsum: output has more dimensions than subscripts given "
                             "in einstein sum, but no '...' ellipsis provided to broadcast the "
                             "extra dimensions.")
    else:
        counts = Counter("".join(specs).replace("...", ""))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    specs = [sp.replace("...", ell[len(ell) - n:] if n else "") for sp, n in zip(specs, n_ell)]

    sizes = {}
    for spec, shape in zip(specs, shapes):
        own = {}
        for c, n in zip(spec, shape):
            if own.setdefault(c, n) != n:
                raise ValueError(f"numpy.einsum: subscript {c!r} is repeated with sizes "
                                 f"{own[c]} and {n} in one operand")
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise ValueError(f"numpy.einsum: operands could not be broadcast: subscript "
                                 f"{c!r} has sizes {sizes[c]} and {n}")
            if n != 1 or c not in sizes:
                sizes[c] = n
    if len(set(out)) != len(out) or any(c not in sizes for c in out):
        raise ValueError(f"numpy.einsum: invalid output subscripts {out!r}")
    squeeze = []
    for i, (spec, shape) in enumerate(zip(specs, shapes)):
        keep = [n != 1 or sizes[c] == 1 for c, n in zip(spec, shape)]
        if not all(keep):
            specs[i] = "".join(c for c, k in zip(spec, keep) if k)
            squeeze.append(tuple(n for n, k in zip(shape, keep) if k))
        else:
            squeeze.append(None)
    return specs, out, squeeze


def _split(subscripts):
    ins, _, out = subscripts.partition("->")
    return ins.split(","), out


def _rule_optimize(optimize):
    # an explicit contraction path is only valid for the operand count it was made for
    return optimize if isinstance(optimize, (bool, str)) else True


def _einsum_jvp(tangents, ans, *ops, subscripts, optimize):
    specs, out = _split(subscripts)
    (lane,) = _fresh(subscripts, 1, "the lane axis")
    opt = _rule_optimize(optimize)
    res = None
    for j, t in enumerate(tangents):
        if t is None:
            continue
        sp = list(specs)
        sp[j] = lane + sp[j]
        term = np.einsum(",".join(sp) + "->" + lane + out, *ops[:j], t, *ops[j + 1:],
                         optimize=opt)
        res = term if res is None else res + term
    return res


def _einsum_vjp(i, g, ans, *ops, subscripts, optimize):
    """Contract the cotangent with the other operands into operand i's subscripts.

    A letter repeated in operand i gets a fresh letter per repeat tied to the first by an
    identity matrix, so the result is zero off that diagonal; a letter that appears nowhere but
    in operand i (summed over in the forward pass) is broadcast back afterwards.
    """
    specs, out = _split(subscripts)
    shape = shape_of(ops[i])
    repeats = len(specs[i]) - len(set(specs[i]))
    spare = iter(_fresh(subscripts, 1 + repeats, "the cotangent"))
    lane = next(spare)
    in_specs = [lane + out] + specs[:i] + specs[i + 1:]
    in_ops = [g, *ops[:i], *ops[i + 1:]]
    target = []
    for c, n in zip(specs[i], shape):
        if c in target:
            d = next(spare)
            in_specs.append(c + d)
            in_ops.append(np.eye(n, dtype=_dtype(g)))
            c = d
        target.append(c)
    present = set("".join(in_specs))
    kept = "".join(c for c in target if c in present)
    r = np.einsum(",".join(in_specs) + "->" + lane + kept, *in_ops,
                  optimize=_rule_optimize(optimize))
    if len(kept) < len(target):
        k = shape_of(g)[0]
        r = np.reshape(r, (k,) + tuple(n if c in present else 1 for c, n in zip(target, shape)))
        r = np.broadcast_to(r, (k,) + shape)
    return r


#: linear in each operand: the JVP is one einsum per tangent, the VJP one einsum per operand
einsum_p = Primitive(
    "numpy.einsum", lambda *ops, subscripts, optimize: np.einsum(subscripts, *ops,
                                                                 optimize=optimize),
    jvp=_einsum_jvp, vjp=_einsum_vjp, kind="multilinear")


@implements(np.einsum)
def _einsum(*operands, out=None, optimize=False, dtype=None, order="K", casting="safe"):
    _no_out("einsum", out)
    subscripts, arrays = _einsum_input(operands)
    specs, output, squeeze = _canonical(subscripts, [shape_of(a) for a in arrays])
    arrays = [a if s is None else np.reshape(a, s) for a, s in zip(arrays, squeeze)]
    r = einsum_p.bind(*arrays, subscripts=",".join(specs) + "->" + output, optimize=optimize)
    return r if dtype is None else astype(r, dtype)


# ---------------------------------------------------------------------------------------------
# compositions on matmul: tensordot, dot, inner, vdot, multi_dot
# ---------------------------------------------------------------------------------------------

def _tensordot_axes(axes, nda, ndb):
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(nda, ndb):
            raise ValueError(f"numpy.tensordot: axes={n} for arrays of {nda} and {ndb} "
                             f"dimensions")
        return list(range(nda - n, nda)), list(range(n))
    try:
        axa, axb = axes
    except (TypeError, ValueError):
        raise ValueError("numpy.tensordot: axes must be an int or a pair of axis lists") from None
    axa = [axa] if isinstance(axa, (int, np.integer)) else list(axa)
    axb = [axb] if isinstance(axb, (int, np.integer)) else list(axb)
    if len(axa) != len(axb):
        raise ValueError("numpy.tensordot: shape-mismatch for sum (axis lists differ in length)")
    return ([_axis(x, nda, "tensordot") for x in axa], [_axis(x, ndb, "tensordot") for x in axb])


@implements(np.tensordot, np.linalg.tensordot)
def _tensordot(a, b, axes=2):
    """Move the summed axes together, flatten both sides to matrices: one matmul."""
    sa, sb = shape_of(a), shape_of(b)
    axa, axb = _tensordot_axes(axes, len(sa), len(sb))
    if any(sa[x] != sb[y] for x, y in zip(axa, axb)):
        raise ValueError("numpy.tensordot: shape-mismatch for sum")
    free_a = [n for n in range(len(sa)) if n not in axa]
    free_b = [n for n in range(len(sb)) if n not in axb]
    c = _prod(sa[x] for x in axa)
    a2 = _reshape(np.transpose(a, free_a + axa), (_prod(sa[n] for n in free_a), c))
    b2 = _reshape(np.transpose(b, axb + free_b), (c, _prod(sb[n] for n in free_b)))
    return _reshape(matmul_p.bind(a2, b2),
                    tuple(sa[n] for n in free_a) + tuple(sb[n] for n in free_b))


@implements(np.dot)
def _dot(a, b, out=None):
    _no_out("dot", out)
    nda, ndb = ndim_of(a), ndim_of(b)
    if nda == 0 or ndb == 0:
        return np.multiply(a, b)
    if nda == 1 or ndb == 1 or (nda == 2 and ndb == 2):
        return matmul_p.bind(a, b)  # matmul's broadcasting agrees with dot in these cases
    return _tensordot(a, b, ([nda - 1], [ndb - 2]))


@implements(np.inner)
def _inner(a, b, /):
    nda, ndb = ndim_of(a), ndim_of(b)
    if nda == 0 or ndb == 0:
        return np.multiply(a, b)
    if ndb == 1:
        return matmul_p.bind(a, b)
    return _tensordot(a, b, ([nda - 1], [ndb - 1]))


def _conj(x):
    return np.conjugate(x) if np.issubdtype(_dtype(x), np.complexfloating) else x


@implements(np.vdot)
def _vdot(a, b, /):
    return matmul_p.bind(_reshape(_conj(a), (_prod(shape_of(a)),)),
                         _reshape(b, (_prod(shape_of(b)),)))


def _chain_splits(dims):
    """Where to split each sub-chain of matrices ``dims[i] x dims[i+1]`` for the fewest flops."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = float("inf")
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def _chain(arrays, split, i, j):
    if i == j:
        return arrays[i]
    s = split[i][j]
    return matmul_p.bind(_chain(arrays, split, i, s), _chain(arrays, split, s + 1, j))


@implements(np.linalg.multi_dot)
def _multi_dot(arrays, *, out=None):
    _no_out("linalg.multi_dot", out)
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("numpy.linalg.multi_dot: expecting at least two arrays")
    if len(arrays) == 2:
        return _dot(*arrays)
    first, last = ndim_of(arrays[0]), ndim_of(arrays[-1])
    if first == 1:
        arrays[0] = np.reshape(arrays[0], (1, -1))
    if last == 1:
        arrays[-1] = np.reshape(arrays[-1], (-1, 1))
    if any(ndim_of(x) != 2 for x in arrays):
        raise ValueError("numpy.linalg.multi_dot: inner arrays must be 2-d, the first and last "
                         "1-d or 2-d")
    dims = [shape_of(arrays[0])[0]] + [shape_of(x)[1] for x in arrays]
    r = _chain(arrays, _chain_splits(dims), 0, len(arrays) - 1)
    shape = shape_of(r)
    return _reshape(r, shape[first == 1:len(shape) - (last == 1)])


# ---------------------------------------------------------------------------------------------
# broadcast products: outer, kron, cross
# ---------------------------------------------------------------------------------------------

@implements(np.outer)
def _outer(a, b, out=None):
    _no_out("outer", out)
    return np.multiply(np.reshape(a, (-1, 1)), np.reshape(b, (1, -1)))


@implements(np.linalg.outer)
def _linalg_outer(x1, x2, /):
    if ndim_of(x1) != 1 or ndim_of(x2) != 1:
        raise ValueError("numpy.linalg.outer: the inputs must be 1-d")
    return _outer(x1, x2)


@implements(np.kron)
def _kron(a, b):
    """Interleave the axes of ``a`` and ``b`` as (a0, b0, a1, b1, ...), multiply, merge pairs."""
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    if nd == 0:
        return np.multiply(a, b)
    ai = np.reshape(a, tuple(x for n in sa for x in (n, 1)))
    bi = np.reshape(b, tuple(x for n in sb for x in (1, n)))
    return np.reshape(np.multiply(ai, bi), tuple(p * q for p, q in zip(sa, sb)))


_NEXT = np.array([1, 2, 0])
_PREV = np.array([2, 0, 1])


@implements(np.cross)
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(a, _axis(axisa, ndim_of(a), "cross"), -1)
    b = np.moveaxis(b, _axis(axisb, ndim_of(b), "cross"), -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if (na, nb) != (3, 3):
        if {na, nb} <= {2, 3}:
            raise NotImplementedError("numpy.cross: 2-element vectors on traced arrays "
                                      "(deprecated by NumPy); append a zero third component")
        raise ValueError("numpy.cross: incompatible dimensions for cross product "
                         "(dimension must be 2 or 3)")
    # c_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1}, all three components in one product each
    c = (np.multiply(np.take(a, _NEXT, axis=-1), np.take(b, _PREV, axis=-1))
         - np.multiply(np.take(a, _PREV, axis=-1), np.take(b, _NEXT, axis=-1)))
    return np.moveaxis(c, -1, _axis(axisc, ndim_of(c), "cross"))


@implements(np.linalg.cross)
def _linalg_cross(x1, x2, /, *, axis=-1):
    if shape_of(x1)[axis] != 3 or shape_of(x2)[axis] != 3:
        raise ValueError("numpy.linalg.cross: both inputs must be 3-element vectors along axis")
    return _cross(x1, x2, axis=axis)


# ---------------------------------------------------------------------------------------------
# diagonal, trace, diag: a diagonal of a flattened matrix is a strided slice, so both it and
# its transpose are basic indexing with no scatter
# ---------------------------------------------------------------------------------------------

def _diag_slice(n1, n2, offset):
    """The ``offset`` diagonal of an ``n1 x n2`` matrix as a slice of the flattened matrix."""
    r0, c0 = max(-offset, 0), max(offset, 0)
    length = max(0, min(n1 - r0, n2 - c0))
    start = r0 * n2 + c0
    return slice(start, start + (length - 1) * (n2 + 1) + 1 if length else start, n2 + 1)


@implements(np.diagonal)
def _diagonal(a, offset=0, axis1=0, axis2=1):
    shape = shape_of(a)
    nd = len(shape)
    if nd < 2:
        raise ValueError("numpy.diagonal: the array needs at least two dimensions")
    ax1, ax2 = _axis(axis1, nd, "diagonal"), _axis(axis2, nd, "diagonal")
    if ax1 == ax2:
        raise ValueError("numpy.diagonal: axis1 and axis2 cannot be the same")
    rest = [n for n in range(nd) if n not in (ax1, ax2)]
    n1, n2 = shape[ax1], shape[ax2]
    flat = _reshape(np.transpose(a, rest + [ax1, ax2]),
                    tuple(shape[n] for n in rest) + (n1 * n2,))
    sl = _diag_slice(n1, n2, operator.index(offset))
    return getitem_p.bind(flat, idx=(slice(None),) * len(rest) + (sl,))


@implements(np.linalg.diagonal)
def _linalg_diagonal(x, /, *, offset=0):
    return _diagonal(x, offset, -2, -1)


@implements(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out("trace", out)
    r = np.sum(_diagonal(a, offset, axis1, axis2), axis=-1)
    return r if dtype is None else astype(r, dtype)


@implements(np.linalg.trace)
def _linalg_trace(x, /, *, offset=0, dtype=None):
    return _trace(x, offset, -2, -1, dtype)


@implements(np.diag)
def _diag(v, k=0):
    k = operator.index(k)
    nd = ndim_of(v)
    if nd == 2:
        return _diagonal(v, k)
    if nd != 1:
        raise ValueError("numpy.diag: input must be 1-d or 2-d")
    # column j of the k-th diagonal holds v[j - max(k, 0)]: mask a row of those by eye(m, k).
    # (index_add would scatter without the mask, but its in-place impl cannot nest.)
    m = shape_of(v)[0] + abs(k)
    row = np.pad(v, ((max(k, 0), max(-k, 0)),))
    return np.multiply(np.eye(m, k=k, dtype=_dtype(v)), np.reshape(row, (1, m)))
