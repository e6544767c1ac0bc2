"""Escaped tracers: a tracer used after the transform that made it has returned raises
UnexpectedTracerError naming that transform (never a constant, never a returned value)."""
import numpy as np
import pytest

import dualad as ad
import reverse as rv


def leak_from(transform, **kw):
    """Run ``transform`` on a function that stores its traced argument; return that tracer."""
    box = []

    def f(x):
        box.append(x)
        return np.sin(x) * 1.0

    if transform in ("jvp",):
        ad.jvp(f, (1.0,), (1.0,))
    elif transform == "vjp":
        ad.vjp(f, 1.0)
    else:
        getattr(ad, transform)(f, **kw)(np.float64(1.0))
    return box[0]


CASES = [("grad", {}), ("grad", {"mode": "forward"}), ("jvp", {}), ("vjp", {}),
         ("jacfwd", {}), ("jacrev", {}), ("hessian", {})]


@pytest.mark.parametrize("transform,kw", CASES)
def test_escaped_tracer_used_as_constant_raises(transform, kw):
    leaked = leak_from(transform, **kw)
    # before the fix: the inner tracer was taken as a constant (gradient 1 instead of an error)
    made_by = {"hessian": "grad"}.get(transform, transform)
    with pytest.raises(ad.UnexpectedTracerError, match=made_by):
        ad.grad(lambda y: y * leaked)(2.0)
    with pytest.raises(ad.UnexpectedTracerError):
        ad.grad(lambda y: y * leaked, mode="forward")(2.0)


@pytest.mark.parametrize("transform,kw", CASES)
def test_escaped_tracer_returned_or_used_outside_raises(transform, kw):
    leaked = leak_from(transform, **kw)
    with pytest.raises(ad.UnexpectedTracerError):
        np.sin(leaked)
    with pytest.raises(ad.UnexpectedTracerError):
        ad.grad(lambda y: leaked)(2.0)  # before: gradient 0 and the tracer as the value
    with pytest.raises(ad.UnexpectedTracerError):
        ad.jvp(lambda y: leaked, (2.0,), (1.0,))
    with pytest.raises(ad.UnexpectedTracerError):
        ad.vjp(lambda y: leaked, 2.0)


def test_error_is_a_type_error_and_exported():
    assert issubclass(ad.UnexpectedTracerError, TypeError)
    assert rv.UnexpectedTracerError is ad.UnexpectedTracerError


def test_escaped_from_nested_transform():
    box = []

    def outer(x):
        def inner(y):
            box.append(y)
            return y * x
        return ad.grad(inner)(x) * x

    # the nested results are right, and the inner tracer is dead afterwards
    np.testing.assert_allclose(ad.grad(outer)(3.0), 6.0)
    with pytest.raises(ad.UnexpectedTracerError, match="grad"):
        ad.grad(lambda z: z * box[0])(1.0)

    # an inner tracer used by the outer function while it still runs, after inner returned
    def outer2(x):
        keep = []

        def inner(y):
            keep.append(y)
            return y * y
        ad.grad(inner)(x)
        return x * keep[0]

    with pytest.raises(ad.UnexpectedTracerError):
        ad.grad(outer2)(3.0)
    with pytest.raises(ad.UnexpectedTracerError):
        ad.hessian(outer2)(3.0)


def test_escaped_backward_raises_and_aux_is_checked():
    leaked = leak_from("grad")
    with pytest.raises(ad.UnexpectedTracerError):
        leaked.backward()
    with pytest.raises(ad.UnexpectedTracerError):
        ad.grad(lambda y: (y * 2.0, leaked), has_aux=True)(1.0)


def test_live_tracers_still_work():
    # the user levels and hand-built tracers stay live; nesting is unaffected
    x = rv.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    d = ad.DualArray(2.0, 1.0)
    assert float((d * d).tangent) == 4.0
    np.testing.assert_allclose(ad.hessian(lambda v: np.sum(v ** 3))(np.array([1.0, 2.0])),
                               np.diag([6.0, 12.0]))


@pytest.mark.parametrize("transform", [ad.jacfwd, ad.jacrev, ad.grad])
def test_tracer_kept_from_a_pass_that_raised_is_dead(transform):
    # the transform's level is closed however its pass ends
    leaked = []

    def f(x):
        leaked.append(x)
        raise ArithmeticError("f fails")

    with pytest.raises(ArithmeticError, match="f fails"):
        transform(f)(np.ones(2))
    with pytest.raises(ad.UnexpectedTracerError):
        np.sin(leaked[0])
