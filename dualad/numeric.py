"""Numerical differentiation of plain NumPy functions of one array: the reference for checks.

``jacobian(f, x)`` has shape ``out.shape + x.shape`` (as :func:`dualad.jacobian`),
``gradient(f, x)`` needs a scalar output and has shape ``x.shape``, ``derivative(f, x)`` needs a
scalar ``x`` and has shape ``out.shape``. Python floats (and integers) become float64 arrays.

Methods
-------
``"forward"``
    ``(f(x + h e_j) - f(x)) / h``: n + 1 evaluations, error O(h) + O(ε/h).
``"central"`` (default)
    ``(f(x + h e_j) - f(x - h e_j)) / 2h``: 2n evaluations, error O(h²) + O(ε/h).
``"complex"``
    ``Im f(x + i h e_j) / h``: n evaluations with no subtractive cancellation, so the step can be
    tiny and the result is accurate to a few ulps. ``f`` must accept complex input and be the
    analytic continuation of the real function (no ``abs``, ``np.real``, ``conj``, casts to
    float, or comparisons that should look at the real part only).
``"richardson"``
    Richardson extrapolation of central differences with an adaptive step, by
    :func:`scipy.differentiate.jacobian` (order-8 stencils, step halved until the estimate
    settles). Accurate for smooth real functions without a step to tune, at ~10-30
    evaluations per entry.

Steps
-----
The default step (:func:`default_step`) comes from the dtype's machine epsilon ε and is relative
to each ``|x_j|`` (absolute, i.e. relative to 1, only where ``x_j == 0``), so a tiny positive
``x_j`` is never stepped across zero: ``√ε·|x_j|`` for forward, ``ε^(1/3)·|x_j|`` for central
(the steps that balance truncation against rounding error), ``ε·|x_j|`` for the complex step
(its truncation error is relative ``(h/x)²``, negligible; there is no rounding error to balance)
and ``|x_j|/2`` as the largest (initial) step for Richardson. An explicit ``step`` is absolute:
a scalar or an array of ``x``'s shape (one per entry); for Richardson it is the initial step.
Finite-difference steps are rounded so that ``x + h`` is exact, and every quotient divides by
the difference of the points actually evaluated.

float32 (and other low-precision) inputs: ``f`` is evaluated at inputs of ``x``'s dtype with
steps sized for that dtype's ε, but the differences and quotients are taken in float64 and the
result is float64 — best effort, so no rounding beyond ``f``'s own is added. Expect a relative
accuracy of about ε^(2/3) ≈ 2e-5 for central differences of float32 functions, less where
``|x_j|`` is small next to ``|f|/|f'|`` (the relative step is then small against f's rounding).

``f`` is a general function of ``x``: it is called once per perturbed point (n + 1 calls for
forward, 2n for central, n for complex; Richardson as many as SciPy asks for), each time on a
fresh array. The perturbed inputs and the stacked results are built with array operations, in
blocks that bound memory for large ``x``.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["derivative", "gradient", "jacobian", "default_step", "METHODS"]

#: the methods accepted by every function of this module
METHODS = ("forward", "central", "complex", "richardson")

#: perturbed inputs built at once (elements): bounds the memory of one block of evaluations
_BLOCK_ELEMENTS = 2 ** 22


# ---------------------------------------------------------------------------------------------
# inputs, methods and steps
# ---------------------------------------------------------------------------------------------

def _as_input(x, fname):
    """``x`` as a real floating array (Python floats and integers become float64)."""
    if isinstance(x, (tuple, list, dict)) and not isinstance(x, np.ndarray):
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError(f"numeric.{fname}: x must be one array, got a {type(x).__name__}; "
                            f"wrap f to take a single flat array")
        x = arr
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.complexfloating):
        raise TypeError(f"numeric.{fname}: x has complex dtype {x.dtype}; numerical "
                        f"differentiation here is for real functions of real arrays")
    if not np.issubdtype(x.dtype, np.floating):
        if not (np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
            raise TypeError(f"numeric.{fname}: x must be a real array, got dtype {x.dtype}")
        x = x.astype(np.float64)
    return x


def _check_method(method, fname):
    if method not in METHODS:
        raise ValueError(f"numeric.{fname}: method must be one of "
                         f"{', '.join(map(repr, METHODS))}; got {method!r}")


def _exact_step(x, h):
    """Round the step ``h`` (float64) so that ``x + h`` is exact in ``x``'s dtype.

    Without this the quotient divides by an ``h`` that is not the distance between the points
    actually evaluated, an error of up to ε|x|/h relative.
    """
    h_x = h.astype(x.dtype)
    exact = (x + h_x) - x
    # where x + h_x rounds back to x the step is below the dtype's resolution: keep it, and let
    # the caller report it rather than silently dividing by zero
    return np.where(exact != 0, exact, h_x).astype(np.float64)


def default_step(x, method="central"):
    """The default step for each entry of ``x`` (float64, shape ``x.shape``).

    ``√ε·|x|`` (forward), ``ε^(1/3)·|x|`` (central), ``ε·|x|`` (complex), ``|x|/2`` (initial
    step of Richardson), with ``|x|`` replaced by 1 where ``x == 0`` and ε the machine epsilon
    of ``x``'s dtype (float64 for Python floats and integers). Finite-difference steps are
    rounded so that ``x + h`` is exact: this is the step the quotient divides by.
    """
    x = _as_input(x, "default_step")
    _check_method(method, "default_step")
    eps = float(np.finfo(x.dtype).eps)
    factor = {"forward": eps ** 0.5, "central": eps ** (1.0 / 3.0), "complex": eps,
              "richardson": 0.5}[method]
    scale = np.abs(x).astype(np.float64)
    scale = np.where(scale == 0.0, 1.0, scale)
    h = factor * scale
    if method in ("forward", "central"):
        h = _exact_step(x, h)
    return h


def _resolve_step(x, method, step, fname):
    """The float64 step per entry: the default, or the user's absolute ``step`` broadcast."""
    if step is None:
        return default_step(x, method)
    h = np.asarray(step, dtype=np.float64)
    if h.shape != () and h.shape != x.shape:
        raise ValueError(f"numeric.{fname}: step must be a scalar or have x's shape {x.shape}; "
                         f"got shape {h.shape}")
    h = np.broadcast_to(h, x.shape)
    if not np.all(np.isfinite(h)) or np.any(h == 0):
        raise ValueError(f"numeric.{fname}: step must be finite and nonzero; got {step!r}")
    if method == "richardson" and np.any(h < 0):
        raise ValueError(f"numeric.{fname}: the Richardson step is the (positive) initial step "
                         f"size; got {step!r}")
    return np.array(h)


# ---------------------------------------------------------------------------------------------
# evaluating f
# ---------------------------------------------------------------------------------------------

class _Evaluator:
    """Calls ``f`` and checks that it returns arrays of one shape (a scalar for ``gradient``)."""

    def __init__(self, f, fname, scalar_output=False):
        self.f = f
        self.fname = fname
        self.scalar_output = scalar_output
        self.shape = None

    def __call__(self, x):
        out = self.f(x)
        if isinstance(out, (tuple, list, dict)):
            raise TypeError(f"numeric.{self.fname}: f returned a {type(out).__name__}; it must "
                            f"return one array (concatenate several outputs, or differentiate "
                            f"each one)")
        out = np.asarray(out)
        if not (np.issubdtype(out.dtype, np.number) or out.dtype == bool):
            raise TypeError(f"numeric.{self.fname}: f returned dtype {out.dtype}, not numbers")
        if self.shape is None:
            self.shape = out.shape
            if self.scalar_output and out.shape != ():
                raise TypeError(f"numeric.gradient requires f to return a scalar (shape ()); "
                                f"got shape {out.shape}. Use numeric.jacobian for non-scalar "
                                f"outputs")
        elif out.shape != self.shape:
            raise ValueError(f"numeric.{self.fname}: f returned shape {out.shape} at one point "
                             f"and {self.shape} at another")
        return out

    def stack(self, points):
        """``f`` at each of ``points`` (shape ``(k, *x.shape)``), stacked on a leading axis."""
        return np.stack([self(p) for p in points])


def _blocks(n):
    """Index ranges of the entries perturbed together, bounding the perturbed inputs' size."""
    size = max(1, _BLOCK_ELEMENTS // max(n, 1))
    return [np.arange(a, min(a + size, n)) for a in range(0, n, size)]


def _perturbed(flat, idx, delta, shape):
    """``len(idx)`` copies of ``flat``, copy ``r`` with ``delta[r]`` added at ``idx[r]``,
    reshaped to ``(len(idx), *shape)``."""
    points = np.repeat(flat[None, :], len(idx), axis=0)
    points[np.arange(len(idx)), idx] += delta
    return points.reshape((len(idx),) + shape)


def _work_dtype(out):
    """float64 (complex128 for complex outputs), or wider if ``out`` is wider."""
    return np.result_type(out.dtype, np.float64)


def _per_row(d, out_ndim):
    """Shape the per-entry denominators ``(k,)`` to divide rows of shape ``(k, *out.shape)``."""
    return d.reshape(d.shape + (1,) * out_ndim)


def _too_small(x_flat, h_flat, denom, idx, fname):
    bad = np.flatnonzero(denom == 0)
    if bad.size:
        j = idx[bad[0]]
        raise ValueError(f"numeric.{fname}: step {h_flat[j]:.3g} is too small for x = "
                         f"{x_flat[j]!r} in {x_flat.dtype} (x + h == x) at flat index {j}")


# ---------------------------------------------------------------------------------------------
# the methods: each returns rows of shape (n, *out.shape), one per input entry
# ---------------------------------------------------------------------------------------------

def _forward_rows(ev, x, h, fname):
    flat, n = x.reshape(-1), x.size
    h_flat = h.reshape(-1)
    f0 = ev(x.copy())
    dt = _work_dtype(f0)
    rows = []
    for idx in _blocks(n):
        plus = _perturbed(flat, idx, h_flat[idx].astype(x.dtype), x.shape)
        denom = plus.reshape(len(idx), -1)[np.arange(len(idx)), idx].astype(np.float64) \
            - flat[idx].astype(np.float64)
        _too_small(flat, h_flat, denom, idx, fname)
        fp = ev.stack(plus).astype(dt)
        rows.append((fp - f0.astype(dt)) / _per_row(denom, f0.ndim))
    return rows


def _central_rows(ev, x, h, fname):
    flat, n = x.reshape(-1), x.size
    h_flat = h.reshape(-1)
    rows = []
    for idx in _blocks(n):
        delta = h_flat[idx].astype(x.dtype)
        plus = _perturbed(flat, idx, delta, x.shape)
        minus = _perturbed(flat, idx, -delta, x.shape)
        at = np.arange(len(idx))
        # the distance between the points actually evaluated, taken before f sees them
        denom = plus.reshape(len(idx), -1)[at, idx].astype(np.float64) \
            - minus.reshape(len(idx), -1)[at, idx].astype(np.float64)
        _too_small(flat, h_flat, denom, idx, fname)
        fp = ev.stack(plus)
        fm = ev.stack(minus)
        dt = _work_dtype(fp)
        rows.append((fp.astype(dt) - fm.astype(dt)) / _per_row(denom, fp.ndim - 1))
    return rows


def _complex_rows(ev, x, h, fname):
    flat, n = x.reshape(-1), x.size
    h_flat = h.reshape(-1)
    cdtype = np.result_type(x.dtype, np.complex64)
    zflat = flat.astype(cdtype)
    rows = []
    for idx in _blocks(n):
        # the real part stays exactly x; the imaginary part is exactly h in x's precision
        delta = (1j * h_flat[idx].astype(x.dtype)).astype(cdtype)
        points = _perturbed(zflat, idx, delta, x.shape)
        h_used = points.reshape(len(idx), -1)[np.arange(len(idx)), idx].imag.astype(np.float64)
        _too_small(flat, h_flat, h_used, idx, fname)
        try:
            out = ev.stack(points)
        except TypeError as e:
            raise TypeError(f"numeric.{fname}: method='complex' evaluates f at complex points "
                            f"x + i·h·e_j, and f does not accept complex input ({e}). Use "
                            f"method='central' or 'richardson'") from e
        if not np.issubdtype(out.dtype, np.complexfloating):
            raise TypeError(f"numeric.{fname}: method='complex' needs f to return complex "
                            f"values for complex input, but it returned {out.dtype} (it drops "
                            f"the imaginary part, e.g. by a cast to float, np.real or abs). "
                            f"Use method='central' or 'richardson'")
        rows.append(out.imag.astype(np.float64) / _per_row(h_used, out.ndim - 1))
    return rows


def _richardson_jacobian(ev, x, h, fname):
    """Richardson extrapolation by ``scipy.differentiate.jacobian``: ``(m, n)`` for flat out/x.

    SciPy's ``jacobian`` wants ``f`` vectorized over trailing axes of evaluation points
    (``(n, ...)`` in, ``(m, ...)`` out); ``f`` here takes one point, so the wrapper below loops
    over the points of each call. SciPy chooses the abscissae itself, in ``x``'s dtype.
    """
    from scipy.differentiate import jacobian as scipy_jacobian

    shape, n = x.shape, x.size

    def vectorized(points):
        batch = points.shape[1:]
        cols = points.reshape(n, -1)
        outs = [ev(np.ascontiguousarray(cols[:, k]).reshape(shape))
                for k in range(cols.shape[1])]
        stacked = np.stack(outs, axis=-1)
        if np.issubdtype(stacked.dtype, np.complexfloating):
            raise TypeError(f"numeric.{fname}: method='richardson' needs a real-valued f, got "
                            f"{stacked.dtype}; use method='central' for complex outputs")
        return stacked.reshape((-1,) + batch)

    res = scipy_jacobian(vectorized, x.reshape(-1), initial_step=h.reshape(-1).astype(x.dtype))
    if np.any(res.status == -3):
        warnings.warn(f"numeric.{fname}: Richardson extrapolation met non-finite values of f "
                      f"for some entries; their derivatives are unreliable", RuntimeWarning,
                      stacklevel=3)
    return np.asarray(res.df, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------

def _jacobian(f, x, method, step, fname, scalar_output=False):
    x = _as_input(x, fname)
    _check_method(method, fname)
    h = _resolve_step(x, method, step, fname)
    ev = _Evaluator(f, fname, scalar_output)
    if x.size == 0:
        out = ev(x.copy())
        return np.zeros(out.shape + x.shape, dtype=_work_dtype(out))
    if method == "richardson":
        jac = _richardson_jacobian(ev, x, h, fname)  # (m, n)
        return jac.reshape(ev.shape + x.shape)
    rows = {"forward": _forward_rows, "central": _central_rows,
            "complex": _complex_rows}[method](ev, x, h, fname)
    rows = rows[0] if len(rows) == 1 else np.concatenate(rows, axis=0)  # (n, *out.shape)
    out_shape = rows.shape[1:]
    # rows are indexed (input entry, output entry); the Jacobian is (output, input)
    return np.ascontiguousarray(rows.reshape(x.size, -1).T).reshape(out_shape + x.shape)


def jacobian(f, x, method="central", step=None):
    """Numerical Jacobian of ``f`` at ``x``, shape ``f(x).shape + x.shape``.

    Parameters
    ----------
    f : callable
        A NumPy function of one array returning one array (or scalar). It must not modify its
        argument in place. For ``method="complex"`` it must accept complex input.
    x : array_like
        The point. Python floats and integers become float64.
    method : {"central", "forward", "complex", "richardson"}
        See the module documentation for accuracy and cost.
    step : None, float or array_like
        ``None``: :func:`default_step` (relative to ``|x|``). Otherwise an absolute step, a
        scalar or one per entry of ``x`` (the initial step for ``"richardson"``).

    Returns
    -------
    ndarray
        float64 (complex128 when ``f`` is complex-valued with ``"forward"``/``"central"``).

    Examples
    --------
    >>> f = lambda x: np.array([np.log(x[0]) + x[0] * x[1] - np.sin(x[1])])
    >>> jacobian(f, np.array([2.0, 5.0])).round(4)
    array([[5.5   , 1.7163]])
    """
    return _jacobian(f, x, method, step, "jacobian")


def gradient(f, x, method="central", step=None):
    """Numerical gradient of the scalar-valued ``f`` at ``x``, shape ``x.shape``.

    ``f`` must return a scalar (shape ``()``); otherwise ``TypeError`` naming the shape it
    returned. ``method`` and ``step`` as in :func:`jacobian`.
    """
    return _jacobian(f, x, method, step, "gradient", scalar_output=True)


def derivative(f, x, method="central", step=None):
    """Numerical derivative of ``f`` at the scalar ``x``, shape ``f(x).shape``.

    ``x`` must be a scalar (a Python float or a 0-d array); ``ValueError`` otherwise.
    ``method`` and ``step`` as in :func:`jacobian`.

    Examples
    --------
    >>> float(derivative(np.sin, 0.5, method="complex")) == float(np.cos(0.5))
    True
    """
    if np.ndim(x) != 0:
        raise ValueError(f"numeric.derivative needs a scalar x; got shape {np.shape(x)}. Use "
                         f"numeric.jacobian (or gradient) for array inputs")
    return _jacobian(f, x, method, step, "derivative")
