"""Complex numbers (issue 13, item 1): JAX's convention in both modes.

JVPs are complex-linear; a VJP is the plain transpose for the pairing Re(sum(u * v)), so grad of
a real f of complex z is ∂f/∂x - i ∂f/∂y. Every entry the op table declares verified for complex
inputs (``complex_rules.VERIFIED_PRIMITIVES``) has a case below and is checked for: the adjoint
identity with complex u, v (hypothesis draws the points), its JVP against central differences
along a complex direction, and the reverse gradient of a real loss against forward JVPs. The
closed forms, the holomorphic transforms and the refusals of unchecked entries follow.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings, strategies as st

import dualad as ad
import reverse as rv
from dualad import DualArray
from dualad.ops import all_primitives
from dualad.ops.complex_rules import VERIFIED_PRIMITIVES, _Guarded
from dualad.ops.shape import index_add
from ophelpers import check_adjoint, check_forward

SEEDS = st.integers(0, 2 ** 20)


def crand(rng, shape, re=(-1.0, 1.0), im=(-1.0, 1.0)):
    return rng.uniform(*re, size=shape) + 1j * rng.uniform(*im, size=shape)


# domains (real part range, imaginary part range): away from poles and branch cuts
ANY = ((-1.0, 1.0), (-1.0, 1.0))
RIGHT = ((0.3, 1.5), (-1.0, 1.0))     # Re z > 0: log, sqrt, power's base
SMALL = ((-0.5, 0.5), (-0.5, 0.5))    # inside the unit disc: arcsin, arctanh...
LEFT = ((-2.0, -1.2), (0.2, 1.0))     # Re z < 0 off the real axis: arccosh's other half-plane

#: name -> (function, shapes, domains); the functions bind the named primitive
CASES = {
    "numpy.add": (lambda x, y: x + y, [(2, 3), (3,)], [ANY, ANY]),
    "numpy.subtract": (lambda x, y: x - y, [(3,), (3,)], [ANY, ANY]),
    "numpy.multiply": (lambda x, y: x * y, [(2, 3), (2, 3)], [ANY, ANY]),
    "numpy.divide": (lambda x, y: x / y, [(3,), (3,)], [ANY, RIGHT]),
    "numpy.power": (lambda x, y: x ** y, [(3,), (3,)], [RIGHT, ANY]),
    "numpy.float_power": (np.float_power, [(3,), (3,)], [RIGHT, ANY]),
    "numpy.negative": (np.negative, [(3,)], [ANY]),
    "numpy.positive": (np.positive, [(3,)], [ANY]),
    "numpy.square": (np.square, [(3,)], [ANY]),
    "numpy.sqrt": (np.sqrt, [(3,)], [RIGHT]),
    "numpy.reciprocal": (np.reciprocal, [(3,)], [RIGHT]),
    "numpy.exp": (np.exp, [(3,)], [ANY]),
    "numpy.exp2": (np.exp2, [(3,)], [ANY]),
    "numpy.expm1": (np.expm1, [(3,)], [ANY]),
    "numpy.log": (np.log, [(3,)], [RIGHT]),
    "numpy.log2": (np.log2, [(3,)], [RIGHT]),
    "numpy.log10": (np.log10, [(3,)], [RIGHT]),
    "numpy.log1p": (np.log1p, [(3,)], [RIGHT]),
    "numpy.sin": (np.sin, [(3,)], [ANY]),
    "numpy.cos": (np.cos, [(3,)], [ANY]),
    "numpy.tan": (np.tan, [(3,)], [SMALL]),
    "numpy.arcsin": (np.arcsin, [(3,)], [SMALL]),
    "numpy.arccos": (np.arccos, [(3,)], [SMALL]),
    "numpy.arctan": (np.arctan, [(3,)], [SMALL]),
    "numpy.sinh": (np.sinh, [(3,)], [ANY]),
    "numpy.cosh": (np.cosh, [(3,)], [ANY]),
    "numpy.tanh": (np.tanh, [(3,)], [SMALL]),
    "numpy.arcsinh": (np.arcsinh, [(3,)], [SMALL]),
    "numpy.arccosh": (np.arccosh, [(4,)], [LEFT]),
    "numpy.arctanh": (np.arctanh, [(3,)], [SMALL]),
    "numpy.where": (lambda x, y: np.where(np.array([True, False, True]), x, y), [(3,), (3,)],
                    [ANY, ANY]),
    "numpy.reshape": (lambda x: np.reshape(x, (3, 2)), [(2, 3)], [ANY]),
    "numpy.transpose": (lambda x: x.T, [(2, 3)], [ANY]),
    "numpy.broadcast_to": (lambda x: np.broadcast_to(x, (2, 3)), [(3,)], [ANY]),
    "numpy.concatenate": (lambda x, y: np.concatenate([x, y]), [(2,), (3,)], [ANY, ANY]),
    "numpy.ndarray.__getitem__": (lambda x: x[1:, ::2], [(3, 4)], [ANY]),
    # (real to complex: the transpose takes the real part)
    "numpy.ndarray.astype": (lambda x: np.real(x).astype(np.complex128) * x, [(3,)], [ANY]),
    "numpy.pad": (lambda x: np.pad(x, 1), [(3,)], [ANY]),
    "numpy.sum": (lambda x: np.sum(x, axis=0), [(2, 3)], [ANY]),
    "numpy.cumsum": (lambda x: np.cumsum(x), [(4,)], [ANY]),
    "numpy.matmul": (lambda a, b: a @ b, [(2, 3), (3, 2)], [ANY, ANY]),
    "numpy.einsum": (lambda a, b: np.einsum("ij,jk->ik", a, b), [(2, 3), (3, 2)], [ANY, ANY]),
    "numpy.prod": (lambda x: np.prod(x, axis=1), [(2, 3)], [ANY]),
    "numpy.cumprod": (np.cumprod, [(4,)], [ANY]),
    "numpy.linalg.inv": (lambda a: np.linalg.inv(a + 3 * np.eye(3)), [(3, 3)], [ANY]),
    "numpy.linalg.solve": (lambda a, b: np.linalg.solve(a + 3 * np.eye(3), b),
                           [(3, 3), (3, 2)], [ANY, ANY]),
    "numpy.linalg.det": (np.linalg.det, [(3, 3)], [ANY]),
    "numpy.conjugate": (np.conjugate, [(3,)], [ANY]),
    "numpy.real": (np.real, [(3,)], [ANY]),
    "numpy.imag": (np.imag, [(3,)], [ANY]),
    "numpy.angle": (np.angle, [(3,)], [RIGHT]),
    "numpy.absolute": (np.abs, [(3,)], [ANY]),
    "dualad.index_add": (lambda g: index_add(g, (np.array([0, 2, 0]),), (4,)), [(3,)], [ANY]),
    "scipy.special.erf": (sp.erf, [(3,)], [SMALL]),
    "scipy.special.erfc": (sp.erfc, [(3,)], [SMALL]),
    "scipy.special.erfcx": (sp.erfcx, [(3,)], [RIGHT]),
    "scipy.special.ndtr": (sp.ndtr, [(3,)], [SMALL]),
    "scipy.special.log_ndtr": (sp.log_ndtr, [(3,)], [RIGHT]),
    "scipy.special.xlogy": (sp.xlogy, [(3,), (3,)], [ANY, RIGHT]),
    "scipy.special.xlog1py": (sp.xlog1py, [(3,), (3,)], [ANY, RIGHT]),
}


def _args(name, seed):
    f, shapes, doms = CASES[name]
    rng = np.random.default_rng(seed)
    return f, [crand(rng, s, *d) for s, d in zip(shapes, doms)]


def test_every_verified_entry_has_a_case():
    fft = {"numpy.fft.fftn", "numpy.fft.rfft", "numpy.fft.irfft"}  # tests/test_fft.py
    assert set(CASES) | fft == set(VERIFIED_PRIMITIVES)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=5, deadline=None)
@given(seed=SEEDS)
def test_adjoint_identity_complex(name, seed):
    f, args = _args(name, seed)
    assert name in check_adjoint(f, args, seed=seed)


def _fd(f, args, dirs, h=1e-6):
    plus = f(*[a + h * d for a, d in zip(args, dirs)])
    minus = f(*[a - h * d for a, d in zip(args, dirs)])
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jvp_matches_central_differences_along_complex_directions(name):
    f, args = _args(name, 3)
    rng = np.random.default_rng(4)
    dirs = [crand(rng, a.shape) for a in args]
    _, t = ad.jvp(f, tuple(args), tuple(dirs))
    np.testing.assert_allclose(t, _fd(f, args, dirs), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reverse_gradient_agrees_with_forward(name):
    """For the real loss L = Re(sum(w f(args))): Re(sum(grad · v)) is L's derivative along v,
    the JVP; also by central differences."""
    f, args = _args(name, 5)
    rng = np.random.default_rng(6)
    w = crand(rng, np.shape(f(*args)))

    def loss(*a):
        return np.real(np.sum(w * f(*a)))
    nums = tuple(range(len(args)))
    grads = ad.grad(loss, argnums=nums)(*args)
    dirs = [crand(rng, a.shape) for a in args]
    _, along = ad.jvp(loss, tuple(args), tuple(dirs))
    paired = sum(np.real(np.sum(g * v)) for g, v in zip(grads, dirs))
    np.testing.assert_allclose(paired, along, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(paired, _fd(loss, args, dirs), rtol=1e-6, atol=1e-7)
    for g, a in zip(grads, args):
        assert g.dtype == a.dtype and g.shape == a.shape


# ---------------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------------

Z = 3.0 + 4.0j


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_closed_form_gradients_of_real_functions(mode):
    grad = lambda f: ad.grad(f, mode=mode)(Z)  # noqa: E731
    np.testing.assert_allclose(grad(lambda z: abs(z) ** 2), 6 - 8j)  # 2 conj(z)
    np.testing.assert_allclose(grad(np.abs), np.conj(Z) / 5.0)
    np.testing.assert_allclose(grad(np.real), 1.0)
    np.testing.assert_allclose(grad(np.imag), -1j)
    w = 0.5 - 2.0j
    np.testing.assert_allclose(grad(lambda z: np.real(np.conj(z) * w)), np.conj(w))
    # angle = atan2(y, x): ∂/∂x = -y/r², ∂/∂y = x/r², grad = ∂/∂x - i ∂/∂y
    np.testing.assert_allclose(grad(np.angle), (-4.0 - 3.0j) / 25.0)
    np.testing.assert_allclose(ad.grad(lambda z: np.angle(z, deg=True), mode=mode)(Z),
                               (-4.0 - 3.0j) / 25.0 * 180.0 / np.pi)


def test_closed_form_holomorphic_derivatives():
    d = lambda f, z=Z: ad.grad(f, holomorphic=True)(z)  # noqa: E731
    np.testing.assert_allclose(d(np.exp), np.exp(Z))
    np.testing.assert_allclose(d(np.log), 1.0 / Z)
    np.testing.assert_allclose(d(lambda z: z ** 3), 3.0 * Z ** 2)
    w = 1.5 + 0.5j
    np.testing.assert_allclose(d(lambda z: w ** z), np.log(w) * w ** Z)
    z = np.array([1.0 + 2.0j, -0.5 + 1.0j])
    np.testing.assert_allclose(d(lambda v: np.sum(v * v), z), 2.0 * z)
    np.testing.assert_allclose(d(lambda z: np.arccosh(z), -2.0 + 0.5j),
                               1.0 / np.sqrt((-2.0 + 0.5j) ** 2 - 1.0) * -1.0)


def test_closed_form_matmul_and_sum_gradients():
    rng = np.random.default_rng(0)
    a, b, w = crand(rng, (2, 3)), crand(rng, (3, 4)), crand(rng, (2, 4))
    ga, gb = ad.grad(lambda a, b: np.real(np.sum(w * (a @ b))), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, w @ b.T)  # no conjugation: the plain transpose
    np.testing.assert_allclose(gb, a.T @ w)
    np.testing.assert_allclose(ad.grad(lambda a: np.real(np.sum(a)))(a), np.ones((2, 3)))


def test_holomorphic_jacobians_both_modes():
    rng = np.random.default_rng(1)
    m, z = crand(rng, (3, 3)), crand(rng, (3,))

    def f(v):
        return np.exp(m @ v)
    expected = np.exp(m @ z)[:, None] * m
    for jac in (ad.jacfwd, ad.jacrev):
        np.testing.assert_allclose(jac(f, holomorphic=True)(z), expected, rtol=1e-12)
        with pytest.raises(TypeError, match="holomorphic=True"):  # JAX: it must be asked for
            jac(f)(z)
    for mode in ("forward", "reverse", "auto"):
        np.testing.assert_allclose(ad.jacobian(f, mode=mode, holomorphic=True)(z), expected,
                                   rtol=1e-12)
    with pytest.raises(NotImplementedError, match="numeric"):
        ad.jacobian(f, mode="numeric", holomorphic=True)
    out, t = ad.jvp(f, (z,), (1j * np.ones(3),))
    np.testing.assert_allclose(t, expected @ (1j * np.ones(3)), rtol=1e-12)
    out, vjp_fn = ad.vjp(f, z)
    np.testing.assert_allclose(vjp_fn(np.ones(3, complex))[0], expected.T @ np.ones(3),
                               rtol=1e-12)


def test_jacobians_of_a_complex_output_of_real_inputs():
    c = np.array([1.0 + 2.0j, -1.0j])

    def f(x):
        return np.exp(x * c)
    x = np.array([0.3, -0.4])
    np.testing.assert_allclose(ad.jacfwd(f)(x), np.diag(c * np.exp(x * c)), rtol=1e-14)
    with pytest.raises(TypeError, match="jacrev requires real outputs"):
        ad.jacrev(f)(x)
    with pytest.raises(TypeError, match=r"holomorphic=True\) requires complex inputs"):
        ad.jacrev(f, holomorphic=True)(x)


def test_jacobians_of_a_real_function_of_complex_inputs():
    """JAX's convention: not holomorphic, so forward mode refuses (lanes along the real axis
    alone would drop ∂f/∂y); jacrev's rows are the gradients grad gives, ∂f/∂x - i ∂f/∂y."""
    z = np.array([1.0 + 2.0j, 0.5 - 1.0j])

    def f(v):
        return np.abs(v) ** 2 * np.real(v)  # x³ + x y² per entry
    x, y = z.real, z.imag
    expected = np.diag((3 * x ** 2 + y ** 2) - 1j * (2 * x * y))
    np.testing.assert_allclose(ad.jacrev(f)(z), expected, rtol=1e-14)
    np.testing.assert_allclose(ad.jacobian(f)(z), expected, rtol=1e-14)  # auto: reverse
    for jac in (ad.jacfwd, lambda g: ad.jacobian(g, mode="forward"), ad.hessian):
        with pytest.raises(TypeError, match="requires real inputs.*holomorphic=True"):
            jac(lambda v: np.sum(f(v)))(z)
    with pytest.raises(TypeError, match="complex dtype"):
        ad.jacobian(f, mode="numeric")(z)
    with pytest.raises(TypeError, match=r"holomorphic=True\) requires complex outputs"):
        ad.jacfwd(f, holomorphic=True)(z)


def test_holomorphic_hessian():
    z = np.array([0.3 + 0.4j, -0.2 + 1.1j])

    def f(v):
        return np.sum(np.exp(v[0] * v[1]))
    p = z[0] * z[1]
    e = np.exp(p)
    expected = np.array([[z[1] ** 2 * e, e + p * e], [e + p * e, z[0] ** 2 * e]])
    np.testing.assert_allclose(ad.hessian(f, holomorphic=True)(z), expected, rtol=1e-13)


def test_complex_step_through_forward_mode():
    """A holomorphic f's JVP at x + ih is f'(x + ih), whose imaginary part over h is f''(x): the
    complex step applied to forward mode agrees with nesting forward mode in reals."""
    def f(x):
        return np.sin(x) * np.exp(x) / (1.0 + x * x)
    x, h = 0.7, 1e-20
    _, t = ad.jvp(f, (x + 1j * h,), (1.0 + 0j,))
    second = ad.jacfwd(ad.jacfwd(f))(x)
    np.testing.assert_allclose(np.imag(t) / h, second, rtol=1e-12)
    np.testing.assert_allclose(np.real(t), ad.grad(f)(x), rtol=1e-14)


def test_real_leaf_with_complex_intermediates_has_real_gradient():
    c = 2.0 + 1.0j
    x = np.array([0.5, -1.0, 2.0])

    def f(v):
        return np.real(v[0] * 1j * c) + np.sum(np.abs(v * c) ** 2)
    for mode in ("reverse", "forward"):
        g = ad.grad(f, mode=mode)(x)
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, np.array([-1.0, 0, 0]) + 2 * abs(c) ** 2 * x)
    t = rv.Tensor(x, requires_grad=True)
    f(t).backward()
    assert t.grad.dtype == np.float64
    d = f(DualArray(x, np.array([1.0, 0, 0])))
    assert d.tangent.dtype == np.float64


def test_tensor_and_dualarray_take_complex_values():
    z = rv.Tensor(np.array([1.0 + 1.0j, 2.0 - 1.0j]), requires_grad=True)
    np.sum(np.abs(z) ** 2).backward()
    np.testing.assert_allclose(z.grad, 2 * np.conj(z.data))
    d = DualArray(np.array(1.0 + 2.0j), 1j)
    np.testing.assert_allclose(np.exp(d).tangent, 1j * np.exp(1.0 + 2.0j))
    assert d.real.primal == 1.0 and d.imag.tangent == 1.0
    with pytest.raises(TypeError, match="real tangent"):
        DualArray(1.0, 1j)


def test_hessian_of_a_real_function_of_complex_intermediates():
    c = np.array([1.0 + 2.0j, -0.5j])

    def f(x):
        return np.sum(np.abs(np.exp(x * c)) ** 2)  # = Σ exp(2 x Re c)
    x = np.array([0.3, -0.2])
    np.testing.assert_allclose(ad.hessian(f)(x),
                               np.diag(4 * np.real(c) ** 2 * np.exp(2 * x * np.real(c))),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# what grad refuses, and what is not verified
# ---------------------------------------------------------------------------------------------

def test_grad_of_complex_output_needs_holomorphic():
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.grad(np.sin)(Z)
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.value_and_grad(lambda x: x * 1j)(1.0)
    with pytest.raises(TypeError, match="complex inputs"):
        ad.grad(np.sin, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="complex output"):
        ad.grad(np.abs, holomorphic=True)(Z)
    v, g = ad.value_and_grad(np.sin, holomorphic=True)(Z)
    np.testing.assert_allclose((v, g), (np.sin(Z), np.cos(Z)))
    with pytest.raises(TypeError, match="holomorphic=True"):
        ad.grad(np.sin, mode="forward")(Z)


def test_forward_and_reverse_gradients_agree_on_mixed_arguments():
    rng = np.random.default_rng(10)
    z, x = crand(rng, (3,)), rng.normal(size=(2,))
    tree = {"z": z, "x": x}

    def f(t, c):
        return np.sum(np.abs(t["z"] * c) ** 2) + np.real(np.sum(t["z"][:2] * t["x"])) * c
    g_rev = ad.grad(f)(tree, 1.5)
    g_fwd = ad.grad(f, mode="forward")(tree, 1.5)
    for k in tree:
        np.testing.assert_allclose(g_fwd[k], g_rev[k], rtol=1e-12)
        assert g_fwd[k].dtype == tree[k].dtype
    np.testing.assert_allclose(g_rev["x"], 1.5 * np.real(z[:2]))


def test_every_unverified_entry_is_guarded():
    for p in all_primitives():
        if p.name in VERIFIED_PRIMITIVES or p.nondiff:
            continue
        for rule in (p.jvp, p.vjp, p.vjp_plain):
            assert rule is None or isinstance(rule, _Guarded), p.name


Zm = np.array([[2.0 + 0.5j, 0.1j], [-0.1j, 1.0 + 0j]])


@pytest.mark.parametrize("f, name", [
    (np.linalg.eigh, "numpy.linalg.eigh"), (np.linalg.pinv, "numpy.linalg.pinv"),
    (np.ptp, "numpy.ptp"), (np.max, "numpy.max"), (np.linalg.slogdet, "numpy.linalg.slogdet"),
    (lambda z: np.maximum(z, 0.5), "numpy.maximum"), (np.sign, "numpy.sign"),
    (lambda z: np.linalg.norm(z, "nuc"), "numpy.linalg.svdvals"),
    (ad.logsumexp, "scipy.special.logsumexp"),
])
def test_unverified_entries_raise_on_complex_inputs(f, name):
    with pytest.raises(NotImplementedError, match=f"{name}: complex inputs"):
        f(DualArray(Zm, np.ones_like(Zm)))
    with pytest.raises(NotImplementedError, match=f"{name}: complex inputs"):
        # (ufuncs without a front record as usual: the rule raises when the sweep reaches it)
        np.sum(np.real(f(rv.Tensor(Zm, requires_grad=True)))).backward()


def test_unverified_entry_raises_on_complex_constant_mixed_with_real_tracer():
    with pytest.raises(NotImplementedError, match="numpy.maximum: complex"):
        ad.grad(lambda x: np.real(np.sum(np.maximum(x, Zm))))(np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------
# fronts declared verified: values equal NumPy's on complex inputs, JVPs equal differences
# ---------------------------------------------------------------------------------------------

_M = np.array([[1.0 + 2.0j, -0.5j, 0.3], [2.0, 1.0 - 1.0j, 0.5j], [0.1j, 0.2, 1.0 + 0.5j]])
FRONTS = {
    "mean": lambda a: np.mean(a, axis=0), "trace": np.trace, "kron": lambda a: np.kron(a, a[0]),
    "outer": lambda a: np.outer(a[0], a[1]), "inner": lambda a: np.inner(a, a),
    "dot": lambda a: np.dot(a, a), "tensordot": lambda a: np.tensordot(a, a, 1),
    "vdot": lambda a: np.vdot(a, a[::-1]), "matrix_power": lambda a: np.linalg.matrix_power(a, 3),
    "multi_dot": lambda a: np.linalg.multi_dot([a, a.T, a]), "roll": lambda a: np.roll(a, 1, 0),
    "tile": lambda a: np.tile(a, 2), "repeat": lambda a: np.repeat(a, 2, axis=1),
    "diag": lambda a: np.diag(a), "tril": np.tril, "diff": lambda a: np.diff(a, axis=1),
    "cross": lambda a: np.cross(a[0], a[1]), "stack": lambda a: np.stack([a, 2 * a]),
    "take": lambda a: np.take(a, [2, 0]), "flip": np.flip,
    "moveaxis": lambda a: np.moveaxis(a, 0, 1),
    "einsum": lambda a: np.einsum("ij,jk->ik", a, a), "conj-method": lambda a: a.conj() * a.real,
    "var": lambda a: np.var(a, axis=0), "std": lambda a: np.std(a, ddof=1),
    "norm": np.linalg.norm, "norm-1": lambda a: np.linalg.norm(a, 1, axis=0),
    "norm-3": lambda a: np.linalg.norm(a, 3, axis=1),
    "norm-inf": lambda a: np.linalg.norm(a, np.inf),
    "vector_norm": lambda a: np.linalg.vector_norm(a, axis=0),
    "matrix_norm": lambda a: np.linalg.matrix_norm(a, ord=1),
    "norm-0": lambda a: np.linalg.norm(a[0], 0) + np.abs(a[0, 0]),
    "average": lambda a: np.average(a, axis=1, weights=np.array([1.0, 2.0 - 1j, 0.5j])),
}


@pytest.mark.parametrize("name", sorted(FRONTS))
def test_verified_fronts_on_complex_inputs(name):
    f = FRONTS[name]
    v = np.random.default_rng(8).normal(size=_M.shape) * (1 - 2j)
    out, t = ad.jvp(f, (_M,), (v,))
    np.testing.assert_allclose(out, f(_M), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(t, _fd(f, [_M], [v]), rtol=1e-6, atol=1e-7)
    w = np.random.default_rng(9).normal(size=np.shape(out)) + 1j
    loss = lambda a: np.real(np.sum(w * f(a)))  # noqa: E731
    g = ad.grad(loss)(_M)
    np.testing.assert_allclose(np.real(np.sum(g * v)), _fd(loss, [_M], [v]), rtol=1e-6)


def test_predicates_on_complex_tracers():
    d = DualArray(_M, np.ones_like(_M))
    assert np.iscomplexobj(d) and not np.isrealobj(d)
    np.testing.assert_array_equal(np.iscomplex(d), np.iscomplex(_M))
    np.testing.assert_array_equal(np.isreal(d), np.isreal(_M))


_A = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.0]])
REAL_ONLY = {
    "solve": lambda x: np.linalg.solve(_A, x),
    "eigvalsh": lambda x: np.linalg.eigvalsh(_A + np.diag(x)),
    "inv": lambda x: np.linalg.inv(_A + np.diag(x)),
    "max": lambda x: np.max(x * x, axis=0, keepdims=True),
    "prod": np.prod, "maximum": lambda x: np.maximum(x, 0.1), "var": np.var,
    "logsumexp": ad.logsumexp, "norm": np.linalg.norm, "cumprod": np.cumprod, "sort": np.sort,
}


@pytest.mark.parametrize("name", sorted(REAL_ONLY))
def test_real_only_entries_under_complex_cotangents(name):
    """A real-only entry of real inputs stays usable when complex values meet its result: its
    rules see a complex cotangent, and the real leaf keeps the real part (the transpose of the
    promotion), so gradients equal forward mode's and differences."""
    op = REAL_ONLY[name]
    x = np.array([0.4, -0.7, 1.1])
    c = np.random.default_rng(11).normal(size=np.shape(op(x))) * (0.5 - 2.0j)
    loss = lambda v: np.real(np.sum(op(v) * c) * (1 + 1j))  # noqa: E731
    g = ad.grad(loss)(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, ad.grad(loss, mode="forward")(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, ad.numeric.gradient(loss, x), rtol=1e-6, atol=1e-8)


SECOND_ORDER = {
    "abs": lambda z: np.sum(np.abs(z) ** 3),
    "angle": lambda z: np.sum(np.angle(z) ** 2),
    "real-imag": lambda z: np.sum(np.real(z) ** 2 * np.imag(z)),
    "conj": lambda z: np.real(np.sum(np.conj(z) * z * z)),
    "exp-log": lambda z: np.real(np.sum(np.exp(z) * np.log(z))),
    "fft": lambda z: np.sum(np.abs(np.fft.fft(z * z)) ** 2),
    "irfft": lambda z: np.sum(np.fft.irfft(z * z, n=5) ** 2),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_through_complex_rules(name):
    """The rules are differentiable again: the JVP of the gradient (forward over reverse, and
    reverse over reverse through vjp) along v equals central differences of the gradient."""
    f = SECOND_ORDER[name]
    rng = np.random.default_rng(12)
    z = crand(rng, (3,), *RIGHT)
    v = crand(rng, (3,))
    g = ad.grad(f)
    _, hv = ad.jvp(g, (z,), (v,))
    np.testing.assert_allclose(hv, _fd(g, [z], [v]), rtol=1e-6, atol=1e-6)
    _, vjp_fn = ad.vjp(lambda w: np.real(np.sum(g(w) * v)), z)
    # reverse over reverse: the transpose of the (symmetric, as a real map) Hessian along v
    h_rev = vjp_fn(np.ones(()))[0]
    loss = lambda w: np.real(np.sum(g(w) * v))  # noqa: E731
    u = crand(rng, (3,))
    np.testing.assert_allclose(np.real(np.sum(h_rev * u)), _fd(loss, [z], [u]), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["abs", "conj", "real", "imag", "angle"])
def test_complex_entries_on_real_inputs(name):
    """abs and conj left the real elementwise tables: their real branches are checked here."""
    f = {"abs": np.abs, "conj": np.conj, "real": np.real,
         "imag": lambda x: np.imag(x) + x, "angle": lambda x: np.angle(x) + x}[name]
    x = np.array([0.7, -1.2, 0.4, -0.3])
    check_forward(f, [x])
    if name in ("abs", "conj"):
        assert check_adjoint(f, [x])
    ad.check_grads(lambda v: np.sum(f(v) ** 3), (x,), order=2, modes=("forward", "reverse"))
