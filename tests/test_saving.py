"""What the tape keeps: every entry's declaration of what its VJP reads is checked by running it.

Each entry states what its VJP reads (``saves=``, a rule-kind fact, or an elementwise partial's
``reads``), and the tape keeps only that, a :class:`reverse.saving.Meta` (which raises on any
use) in place of the rest. For every differentiable entry of the table and every argument that
takes a cotangent, the rule is run twice, on everything and on only what the declaration says
the cotangent of that argument reads (every other array a Meta), lane rule and plain rule; the
results must be identical. Cases come from the table: elementwise entries are generated from
their partials, linear and bilinear ones from the kind tests' examples, and a test fails if an
entry has no case. Then the tape itself: it keeps what the plan says, and nothing is dropped
without a declaration.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.special as sp

import reverse as rv
from dualad.ops import ZERO, Primitive, Tracer, all_primitives
from dualad.ops import scipy_linalg
from reverse.saving import Meta
from test_rule_kinds import BILINEAR, LINEAR

RNG = np.random.default_rng(20261204)


def _meta(v):
    return Meta(v.shape, v.dtype) if type(v) is np.ndarray or isinstance(v, Tracer) else v


def _call(rule, *args, **kwargs):
    """``("ok", result)`` or ``("raised", exception type)``: a rule that raises must raise the
    same way on only what it declares (a missing partial, for one)."""
    try:
        with np.errstate(all="ignore"):
            return "ok", rule(*args, **kwargs)
    except (NotImplementedError, ValueError, np.linalg.LinAlgError) as e:
        return "raised", type(e)


def _same(a, b, what):
    assert a[0] == b[0], f"{what}: {a} vs {b}"
    if a[0] == "raised":
        assert a[1] is b[1], what
        return
    x, y = a[1], b[1]
    xs, ys = (x, y) if isinstance(x, tuple) else ((x,), (y,))
    for u, v in zip(xs, ys):
        if u is None or v is None:
            assert u is None and v is None, what
        else:
            np.testing.assert_array_equal(np.asarray(u), np.asarray(v), err_msg=what)


def check_declaration(prim, args, kwargs, argnums):
    """The VJP of ``prim`` for each argument in ``argnums`` on only what it declares equals the
    VJP on everything (K = 2 lanes, and K = 1 through ``vjp_plain`` when there is one)."""
    with np.errstate(all="ignore"):
        if prim.fwd is not None:
            ans, res = prim.fwd(*args, **kwargs)
            kwargs = dict(kwargs, residuals=res)
            impl_kwargs = {k: v for k, v in kwargs.items() if k != "residuals"}
            np.testing.assert_array_equal(ans, prim.impl(*args, **impl_kwargs))
        else:
            ans = prim.impl(*args, **kwargs)
    outs = ans if prim.multiple_results else (ans,)
    us = tuple(RNG.standard_normal((2,) + np.shape(o)).astype(np.result_type(o)) for o in outs)
    u = us if prim.multiple_results else us[0]
    n = len(args)
    for i in argnums:
        keep_ans, positions = prim.saves.reads(i, n)
        if positions is None:  # keeps everything: nothing to check
            continue
        lean_ans = ans if keep_ans else _meta(ans)
        lean = [a if j in positions else _meta(a) for j, a in enumerate(args)]
        what = f"{prim.name}, argument {i}"
        _same(_call(prim.vjp, i, u, ans, *args, **kwargs),
              _call(prim.vjp, i, u, lean_ans, *lean, **kwargs), what)
        if prim.vjp_plain is not None and not prim.multiple_results:
            g = u[0][()] if u.ndim == 1 else u[0]
            _same(_call(prim.vjp_plain, i, g, ans, *args, **kwargs),
                  _call(prim.vjp_plain, i, g, lean_ans, *lean, **kwargs), what + " (plain)")


# ---------------------------------------------------------------------------------------------
# the cases, from the table
# ---------------------------------------------------------------------------------------------

def _spd(n=3):
    a = RNG.uniform(-1, 1, (n, n))
    return a @ a.T + n * np.eye(n)


def _lu(n=3):
    lu, piv = scipy.linalg.lu_factor(_spd(n))
    return lu, piv


#: entries of no factory kind: name -> (args, kwargs, argnums), built on demand
GENERAL = {
    "dualad.linear": lambda: ((RNG.standard_normal((4, 3)), RNG.standard_normal((2, 3)),
                              RNG.standard_normal(2)), {}, (0, 1, 2)),
    "dualad.softmax_cross_entropy": lambda: (
        (RNG.standard_normal((5, 4)),), {"labels": np.array([0, 3, 1, 3, 2]),
                                         "reduction": "mean"}, (0,)),
    "numpy.absolute": lambda: ((RNG.standard_normal((3, 4)),), {}, (0,)),
    "numpy.angle": lambda: ((RNG.standard_normal(4) + 1j * RNG.standard_normal(4),),
                            {"deg": True}, (0,)),
    "numpy.conjugate": lambda: ((RNG.standard_normal(4) + 1j * RNG.standard_normal(4),), {},
                                (0,)),
    "numpy.real": lambda: ((RNG.standard_normal(4) + 1j * RNG.standard_normal(4),), {}, (0,)),
    "numpy.imag": lambda: ((RNG.standard_normal(4) + 1j * RNG.standard_normal(4),), {}, (0,)),
    "numpy.cumprod": lambda: ((RNG.uniform(0.5, 2.0, (3, 4)),), {"axis": 1}, (0,)),
    "numpy.max": lambda: ((RNG.standard_normal((3, 4)),), {"axis": (1,), "keepdims": False},
                          (0,)),
    "numpy.min": lambda: ((RNG.standard_normal((3, 4)),), {"axis": (0, 1), "keepdims": True},
                          (0,)),
    "numpy.prod": lambda: ((RNG.uniform(0.5, 2.0, (3, 4)),), {"axis": (0,),
                                                              "keepdims": False}, (0,)),
    "numpy.fft.fftn": lambda: ((RNG.standard_normal((4, 3)),),
                               {"s": (6,), "axes": (0,), "norm": None, "inverse": False}, (0,)),
    "numpy.fft.rfft": lambda: ((RNG.standard_normal(6),), {"n": 6, "axis": 0, "norm": None},
                               (0,)),
    "numpy.fft.irfft": lambda: ((RNG.standard_normal(4) + 1j * RNG.standard_normal(4),),
                                {"n": 6, "axis": 0, "norm": "ortho"}, (0,)),
    "numpy.linalg.inv": lambda: ((_spd(),), {}, (0,)),
    "numpy.linalg.det": lambda: ((_spd(),), {}, (0,)),
    "numpy.linalg.slogdet": lambda: ((_spd(),), {}, (0,)),
    "numpy.linalg.solve": lambda: ((_spd(), RNG.standard_normal((3, 2))), {}, (0, 1)),
    "numpy.linalg.cholesky": lambda: ((_spd(),), {"upper": False}, (0,)),
    "numpy.linalg.eigh": lambda: ((_spd(),), {"UPLO": "L"}, (0,)),
    "numpy.linalg.eigvalsh": lambda: ((_spd(),), {"UPLO": "U"}, (0,)),
    "numpy.linalg.qr": lambda: ((RNG.standard_normal((4, 3)),), {}, (0,)),
    "numpy.linalg.svd": lambda: ((RNG.standard_normal((4, 3)),), {"full_matrices": False},
                                 (0,)),
    "numpy.linalg.svdvals": lambda: ((RNG.standard_normal((4, 3)),), {}, (0,)),
    "numpy.linalg.pinv": lambda: ((RNG.standard_normal((4, 3)),), {}, (0,)),
    "scipy.special.softmax": lambda: ((RNG.standard_normal((3, 4)),), {"axis": 1}, (0,)),
    "scipy.special.log_softmax": lambda: ((RNG.standard_normal((3, 4)),), {"axis": 0}, (0,)),
    "numpy.concatenate": lambda: ((RNG.standard_normal((2, 3)), RNG.standard_normal((1, 3)),
                                   RNG.standard_normal((4, 3))), {"axis": 0}, (0, 1, 2)),
    "numpy.einsum": lambda: ((RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2)),
                              RNG.standard_normal(2)),
                             {"subscripts": "ij,jk,k->i", "optimize": False}, (0, 1, 2)),
    "scipy.linalg.expm": lambda: ((0.3 * RNG.standard_normal((3, 3)),), {}, (0,)),
    "scipy.linalg.sqrtm": lambda: ((_spd(),), {}, (0,)),
    "scipy.linalg.lu_solve": lambda: ((RNG.standard_normal((3, 2)), *_lu()), {"trans": 0},
                                      (0,)),
}


def _table():
    prims = {p.name: p for p in all_primitives()}
    for p in (scipy_linalg.expm_p, scipy_linalg.sqrtm_p, scipy_linalg.lu_solve_p):
        prims[p.name] = p  # (registered with SciPy's functions, outside the ops package list)
    return {name: p for name, p in prims.items() if not p.nondiff}


def _elementwise_cases(p):
    """Every argument full-shaped, then each broadcast (a scalar, a row) against the others;
    zero-derivative arguments get small integers (orders, conditions, exponents)."""
    n = len(p.derivs)
    ints = {j for j, d in enumerate(p.derivs) if d is ZERO}
    layouts = [((3, 4),) * n] + [tuple(s if j == i else (3, 4) for j in range(n))
                                 for i in range(n) for s in ((), (1, 4))]
    for shapes in layouts:
        for lo, hi in ((0.2, 0.8), (1.1, 1.9)):
            args = tuple(np.asarray(RNG.integers(1, 3, s)) if j in ints else
                         np.asarray(RNG.uniform(lo, hi, s)) for j, s in enumerate(shapes))
            yield args, {}, tuple(j for j in range(n) if j not in ints)


def _cases():
    for name, p in sorted(_table().items()):
        if p.kind == "elementwise":
            for n, (args, kwargs, argnums) in enumerate(_elementwise_cases(p)):
                yield pytest.param(p, args, kwargs, argnums, id=f"{name}-{n}")
        elif name in GENERAL:
            args, kwargs, argnums = GENERAL[name]()
            yield pytest.param(p, args, kwargs, argnums, id=name)
        elif p.kind == "linear":
            for n, (shape, params) in enumerate(LINEAR.get(name, ())):
                yield pytest.param(p, (RNG.standard_normal(shape),), params, (0,),
                                   id=f"{name}-{n}")
        elif p.kind == "bilinear":
            for n, (sa, sb, params) in enumerate(BILINEAR.get(name, ())):
                yield pytest.param(p, (RNG.standard_normal(sa), RNG.standard_normal(sb)),
                                   params, (0, 1), id=f"{name}-{n}")


CASES = list(_cases())


def test_every_differentiable_entry_has_a_case():
    covered = {c.values[0].name for c in CASES}
    table = _table()
    assert len(table) > 100, "the table was not found"
    assert set(table) <= covered, f"entries without a case: {sorted(set(table) - covered)}"


def test_every_elementwise_partial_of_the_table_is_declared():
    # an undeclared partial keeps everything (safe, but it would quietly give back the memory
    # the declarations save): every entry of the table declares
    for p in _table().values():
        if p.kind == "elementwise":
            for d in p.derivs:
                assert d is None or d is ZERO or type(d) is float or hasattr(d, "reads"), \
                    f"{p.name}: a partial without a reads() declaration"


@pytest.mark.parametrize("prim, args, kwargs, argnums", CASES)
def test_the_vjp_reads_only_what_its_entry_declares(prim, args, kwargs, argnums):
    check_declaration(prim, args, kwargs, argnums)


def test_a_wrong_declaration_fails_the_check():
    # the check can fail: a rule that reads x, declared as reading nothing
    wrong = Primitive("wrong_sin", np.sin, jvp=lambda ts, ans, x: ts[0] * np.cos(x),
                      vjp=lambda i, g, ans, x: g * np.cos(x), saves=())
    with pytest.raises(RuntimeError, match="did not keep"):
        check_declaration(wrong, (RNG.standard_normal(5),), {}, (0,))


# ---------------------------------------------------------------------------------------------
# the tape applies the declarations
# ---------------------------------------------------------------------------------------------

BIG = (32, 32)  # 8 KiB of float64: above the size worth a Meta


def test_a_cotangent_that_is_not_needed_keeps_nothing_of_its_own():
    x = rv.Tensor(RNG.standard_normal(BIG), requires_grad=True)
    c = RNG.standard_normal(BIG)
    y = x * c                     # x's cotangent reads c, and nothing needs c's
    assert isinstance(y._node.args[0], Meta) and y._node.args[1] is c
    w = rv.Tensor(RNG.standard_normal(BIG), requires_grad=True)
    z = w * x                     # both need cotangents: both kept
    assert not any(isinstance(a, Meta) for a in z._node.args)
    h = np.tanh(y) @ c            # matmul: a's cotangent reads b
    assert isinstance(h._node.args[0], Meta) and h._node.args[1] is c
    np.sum(h).backward()
    expected = ((1 - np.tanh(x.data * c) ** 2) * (np.ones(BIG) @ c.T)) * c
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_an_undeclared_rule_keeps_everything():
    prim = Primitive("undeclared_sin", np.sin, jvp=lambda ts, ans, x: ts[0] * np.cos(x),
                     vjp=lambda i, g, ans, x: g * np.cos(x))
    x = rv.Tensor(RNG.standard_normal(BIG), requires_grad=True)
    y = prim.bind(x)
    assert not isinstance(y._node.args[0], Meta) and not isinstance(y._node.ans, Meta)
    np.sum(y).backward()
    np.testing.assert_allclose(x.grad, np.cos(x.data), rtol=1e-14)


def test_shape_only_rules_keep_no_values():
    x = rv.Tensor(RNG.standard_normal(BIG), requires_grad=True)
    r = np.reshape(x, (64, 16))        # linear kind: shapes only
    assert isinstance(r._node.args[0], Meta) and isinstance(r._node.ans, Meta)
    e = np.exp(x)                      # the partial reads the answer only
    assert isinstance(e._node.args[0], Meta) and not isinstance(e._node.ans, Meta)
    np.sum(r).backward()
    np.testing.assert_allclose(x.grad, np.ones(BIG))


def test_relu_keeps_its_answer_not_its_input():
    import nn.functional as F
    x = rv.Tensor(RNG.standard_normal(BIG), requires_grad=True)
    y = F.relu(x)
    assert isinstance(y._node.args[0], Meta) and not isinstance(y._node.ans, Meta)
    np.sum(y * 3.0).backward()
    np.testing.assert_allclose(x.grad, 3.0 * (x.data > 0))
    assert sp.expit(0.0) == 0.5  # (scipy.special imported for the table's entries)
