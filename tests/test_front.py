"""One argument front, one grad (issue 11 item 4): ``reverse.grad`` and
``dualad.grad(mode="reverse")`` are the same function, and both modes read their arguments,
check their outputs and strip ``has_aux`` through :mod:`dualad.front`.

Every gradient is checked against a hand formula; the two modes are checked against each other.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

import dualad as ad
import reverse as rv
from dualad import front


def _ways(**kw):
    """The three gradient functions of one request: the tape's own name, dualad's reverse mode
    and dualad's forward mode (the reference the two reverse names are held to)."""
    return {"reverse.grad": lambda f: rv.grad(f, **kw),
            "ad.grad reverse": lambda f: ad.grad(f, mode="reverse", **kw),
            "ad.grad forward": lambda f: ad.grad(f, mode="forward", **kw)}


def _assert_tree_close(a, b, rtol=1e-12):
    la, ta = ad.tree_flatten(a)
    lb, tb = ad.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert isinstance(x, np.ndarray)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-14)


def test_reverse_grad_is_what_dualad_grad_returns_in_reverse_mode():
    # one implementation: the function dualad.grad(mode="reverse") hands back is reverse.grad's
    f = lambda x: np.sum(x ** 2)  # noqa: E731
    assert ad.grad(f).__code__ is rv.grad(f).__code__
    assert ad.grad(f, mode="reverse").__code__ is rv.grad(f, has_aux=True).__code__
    assert ad.grad(f).__wrapped__ is f and rv.grad(f).__wrapped__ is f
    # value_and_grad's reverse mode runs the tape's gradient too
    v, g = ad.value_and_grad(f)(np.array([1.0, 2.0]))
    assert float(v) == 5.0
    np.testing.assert_array_equal(g, [2.0, 4.0])


@pytest.mark.parametrize("way", list(_ways()))
def test_complex_inputs_take_jaxs_convention(way):
    # a real f of complex z: the gradient is ∂f/∂x - i ∂f/∂y; |z|² · s gives 2 s conj(z)
    z = np.array([3.0 + 4.0j, 1.0 - 2.0j, -0.5 + 0.25j])
    g = _ways()[way](lambda z: np.sum(np.abs(z) ** 2) * 1.5)(z)
    assert g.dtype == np.complex128
    np.testing.assert_allclose(g, 3.0 * np.conj(z), rtol=1e-13)


@pytest.mark.parametrize("way", list(_ways(holomorphic=True)))
def test_holomorphic_derivative(way):
    # f(z) = z³ + exp(z): f'(z) = 3 z² + exp(z), the complex derivative
    z = np.complex128(0.7 - 0.2j)
    g = _ways(holomorphic=True)[way](lambda z: z ** 3 + np.exp(z))(z)
    np.testing.assert_allclose(g, 3 * z ** 2 + np.exp(z), rtol=1e-13)


@pytest.mark.parametrize("holomorphic, bad, match", [
    (True, lambda x: x ** 2, "requires complex inputs; argument 0 has dtype float64"),
    (False, lambda z: z ** 2, "complex dtype complex128"),
])
def test_holomorphic_refusals_are_the_same_message(holomorphic, bad, match):
    x = 1.5 if holomorphic else np.complex128(1 + 1j)
    messages = set()
    for make in _ways(holomorphic=holomorphic).values():
        with pytest.raises(TypeError, match=match) as e:
            make(bad)(x)
        messages.add(str(e.value))
    assert len(messages) == 1


@pytest.mark.parametrize("way", list(_ways()))
def test_keyword_arguments_pass_through_undifferentiated(way):
    def f(x, y, *, scale, shift=0.0):
        return np.sum(scale * x * y + shift * x)
    x, y = np.array([1.0, -2.0]), np.array([3.0, 0.5])
    gx, gy = _ways(argnums=(0, 1))[way](f)(x, y, scale=2.0, shift=1.0)
    np.testing.assert_allclose(gx, 2.0 * y + 1.0)
    np.testing.assert_allclose(gy, 2.0 * x)


@pytest.mark.parametrize("way", list(_ways()))
def test_pytree_arguments_keep_their_containers(way):
    def f(p, c):
        return np.sum(p["w"] ** 2) * c + p["b"][0] * p["b"][1]
    p = {"w": np.array([1.0, 2.0]), "b": [3.0, np.float64(-4.0)]}
    g = _ways()[way](f)(p, 0.5)
    assert isinstance(g, dict) and isinstance(g["b"], list)
    _assert_tree_close(g, {"w": np.array([1.0, 2.0]), "b": [np.array(-4.0), np.array(3.0)]})


@pytest.mark.parametrize("way", list(_ways()))
def test_has_aux_comes_back_plain(way):
    def f(x):
        y = np.sin(x)
        return np.sum(y), {"y": y, "n": 3}
    x = np.array([0.1, 0.2])
    g, aux = _ways(has_aux=True)[way](f)(x)
    np.testing.assert_allclose(g, np.cos(x))
    assert type(aux["y"]) is np.ndarray and aux["n"].shape == ()
    np.testing.assert_allclose(aux["y"], np.sin(x))


@pytest.mark.parametrize("way", list(_ways()))
def test_repeated_argnums_give_independent_copies(way):
    g0, g1 = _ways(argnums=(0, 0))[way](lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g0, [3.0, 12.0])
    g1[0] = 99.0
    assert g0[0] == 3.0


@given(arrays(np.complex128, st.integers(1, 5),
              elements=st.complex_numbers(max_magnitude=10, allow_nan=False,
                                          allow_infinity=False)),
       st.floats(0.1, 3.0))
def test_modes_and_names_agree_on_complex_inputs_with_keywords(z, s):
    def f(z, s=1.0):
        return np.sum(np.real(z) ** 3 * s + np.imag(z) * np.real(z))
    x, y = np.real(z), np.imag(z)
    expected = (3 * s * x ** 2 + y) - 1j * x  # ∂f/∂x - i ∂f/∂y
    for make in _ways().values():
        np.testing.assert_allclose(make(f)(z, s=s), expected, rtol=1e-12, atol=1e-12)


def test_front_imports_neither_mode():
    # the front sits below both modes: it may read the op table and pytrees only
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(front))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "functools", "math", "numpy", "ops", "ops.core", "pytree"}
