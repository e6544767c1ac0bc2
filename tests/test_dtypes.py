"""float32 in, float32 derivatives out, in every transform; derivatives take the input's dtype."""
import numpy as np
import pytest

import dualad as ad

X32 = np.array([[1.5, 2.0], [0.5, 1.25]], dtype=np.float32)

PROGRAMS = {
    "prod": lambda x: np.prod(x),
    "prod_axis": lambda x: np.sum(np.prod(x, axis=0) ** 2),
    "where": lambda x: np.sum(np.where(x > 1, x * x, 0.5)),
    "where_scalar_branch": lambda x: np.sum(np.where(x > 1, np.sin(x), np.float32(1.0)) * x),
    "rpow": lambda x: np.sum(2.0 ** x),
    "rpow_array_base": lambda x: np.sum(np.array([3.0, 1.5], dtype=np.float32) ** x),
    "mixed_float64_scalar": lambda x: np.sum(x * np.float64(2.0) + np.sin(x)) ** 2,
    "mixed_float64_array": lambda x: np.sum(x * np.ones(2) * x),
    "to_float32": lambda x: np.sum(np.tanh(x.astype(np.float32)) ** 2),
}

TRANSFORMS = {
    "grad_reverse": lambda f, x: ad.grad(f)(x),
    "grad_forward": lambda f, x: ad.grad(f, mode="forward")(x),
    "jacfwd": lambda f, x: ad.jacfwd(f)(x),
    "jacrev": lambda f, x: ad.jacrev(f)(x),
    "hessian": lambda f, x: ad.hessian(f)(x),
    "hvp": lambda f, x: ad.hvp(f, (x,), (np.ones_like(x),))[0],
}


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_derivative_takes_the_input_dtype(program, transform):
    f, run = PROGRAMS[program], TRANSFORMS[transform]
    got32 = run(f, X32)
    assert got32.dtype == np.float32, (program, transform, got32.dtype)
    x64 = X32.astype(np.float64)
    got64 = run(f, x64)
    assert got64.dtype == np.float64, (program, transform, got64.dtype)
    np.testing.assert_allclose(got32, got64, rtol=2e-4, atol=1e-4)


def test_float64_derivatives_are_right():
    # the float64 reference itself against central differences (a step float32 can resolve
    # for the program that computes in float32)
    for name, f in PROGRAMS.items():
        x = X32.astype(np.float64)
        low = name == "to_float32"
        num = ad.numeric.gradient(f, x, step=1e-2 if low else None)
        np.testing.assert_allclose(ad.grad(f)(x), num, rtol=1e-3 if low else 1e-6, atol=1e-8,
                                   err_msg=name)
