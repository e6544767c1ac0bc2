"""``check_grads``: every requested mode's derivatives against numerical differentiation.

For each mode and each floating argument of ``f`` (the others held fixed) the mode's Jacobian
(``jacfwd`` for ``"forward"``, ``jacrev`` for ``"reverse"``) is compared entry by entry with
:func:`dualad.numeric.jacobian` by central differences. With ``order=2`` the mode's Jacobian
*function* is differentiated again by the same mode and compared with the numerical Jacobian of
that function, for every pair of arguments; higher orders continue the chain. This catches rules
whose values are right but which do not differentiate correctly when nested (a rule computed
with an op whose own rule is wrong, or one that drops the outer perturbation). A rule wrong
only *away* from the checked point is invisible to any check at that point.

An entry passes when ``|analytic - numeric| <= atol + rtol * |numeric|``. Central differences
with a step relative to ``|x|`` lose accuracy where ``f`` is large compared with ``x·f'`` (a
tiny ``x`` next to a constant offset). So when central differences disagree, the argument's
Jacobian is recomputed by Richardson extrapolation (:mod:`scipy.differentiate`, adaptive step)
and an entry fails only if it disagrees with every estimate: a wrong rule disagrees with every
accurate estimate, a right one agrees with at least the better of them. For float32 arguments
the estimates are computed in float64 (with a last one in float32), see :func:`_references`.
"""
from __future__ import annotations

import numpy as np

from . import transforms
from .front import MODES  # the modes check_grads knows
from .numeric import default_step, jacobian as numeric_jacobian
from .pytree import tree_flatten

__all__ = ["check_grads", "MODES", "DEFAULT_TOLERANCES"]

#: the Jacobian transform of each mode, by the name reports give it
_JACOBIAN = {"forward": "jacfwd", "reverse": "jacrev"}

#: ``(rtol, atol)`` by the precision of the least precise checked argument.
#: float64: central differences are good to ~1e-10 relative on well-scaled functions (measured
#: worst 3e-8 over a battery of ops at random points, after the Richardson second opinion), so
#: rtol = 1e-5 leaves a margin of 300 while a rule off by 0.1% fails by a factor of 100; atol
#: covers entries whose true value is 0 (a 0.1% error is caught on entries above 1e-3).
#: float32: the reference is computed in float64 (see :func:`_references`); the float32
#: analytic values themselves carry rounding, measured up to 2e-5 relative, so rtol = 2e-4 —
#: a 0.1% error still fails by a factor of 5.
DEFAULT_TOLERANCES = {
    np.dtype(np.float64): (1e-5, 1e-6),
    np.dtype(np.float32): (2e-4, 1e-4),
}


# ---------------------------------------------------------------------------------------------
# arguments, modes, tolerances
# ---------------------------------------------------------------------------------------------

def _prepare_args(args):
    """Python floats become 0-d float64 arrays; the indices of the floating (checked) ones."""
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"check_grads: args must be a tuple of f's positional arguments, got "
                        f"{type(args).__name__} (write (x,) for a single argument)")
    out, checked = [], []
    for i, a in enumerate(args):
        if isinstance(a, float):
            a = np.asarray(a, dtype=np.float64)
        if isinstance(a, (tuple, list, dict)):
            raise TypeError(f"check_grads: argument {i} is a {type(a).__name__}; check_grads "
                            f"takes arrays and floats (pass the leaves as separate arguments)")
        if isinstance(a, (np.ndarray, np.generic)):
            if np.issubdtype(a.dtype, np.complexfloating):
                raise TypeError(f"check_grads: argument {i} has complex dtype {a.dtype}; "
                                f"dualad differentiates real functions of real arrays")
            if np.issubdtype(a.dtype, np.floating):
                a = np.asarray(a)
                checked.append(i)
        # integers, booleans and other objects are constants, held fixed and not checked
        out.append(a)
    if not checked:
        raise TypeError("check_grads: no floating argument to check (integer and boolean "
                        "arguments are constants); pass floats, e.g. 2.0 rather than 2")
    return out, checked


def _prepare_modes(modes):
    if isinstance(modes, str):
        modes = (modes,)
    modes = tuple(modes)
    for m in modes:
        if m not in MODES:
            raise ValueError(f"check_grads: unknown mode {m!r}; modes must be among "
                             f"{', '.join(map(repr, MODES))}")
    if not modes:
        raise ValueError("check_grads: modes is empty; nothing would be checked")
    return modes


def _tolerances(args, checked, rtol, atol):
    """The defaults of the least precise checked argument, overridden by the caller's."""
    eps = {np.dtype(d): np.finfo(d).eps for d in DEFAULT_TOLERANCES}
    worst = max((args[i].dtype for i in checked), key=lambda d: np.finfo(d).eps)
    # a dtype without its own defaults (float16, longdouble) takes those of the nearest ε
    key = min(eps, key=lambda d: abs(np.log(eps[d]) - np.log(np.finfo(worst).eps)))
    d_rtol, d_atol = DEFAULT_TOLERANCES[key]
    if rtol is None and atol is None:
        source = f"{key.name} defaults"
    elif rtol is None or atol is None:
        source = f"{'atol' if rtol is None else 'rtol'} given, the other the {key.name} default"
    else:
        source = "given"
    return (d_rtol if rtol is None else float(rtol), d_atol if atol is None else float(atol),
            source)


def _jacobian_function(mode):
    """``jacfwd`` or ``jacrev``."""
    return getattr(transforms, _JACOBIAN[mode])


# ---------------------------------------------------------------------------------------------
# numerical reference for one argument of a (possibly pytree-valued) function
# ---------------------------------------------------------------------------------------------

def _replace(args, k, x):
    new = list(args)
    new[k] = x
    return new


def _numeric_leaves(g, args, k, method):
    """The numerical Jacobian of every output leaf of ``g`` with respect to ``args[k]``.

    The leaves are raveled and concatenated so that one ``numeric.jacobian`` call serves all.
    """
    shapes = []

    def flat(x):
        leaves = [np.asarray(v) for v in tree_flatten(g(*_replace(args, k, x)))[0]]
        shapes[:] = [v.shape for v in leaves]
        if not leaves:
            return np.zeros(0)
        return np.concatenate([v.reshape(-1).astype(np.result_type(v.dtype, np.float64))
                               for v in leaves])

    jac = numeric_jacobian(flat, args[k], method=method)  # (M, *x.shape)
    xshape = np.shape(args[k])
    sizes = [int(np.prod(s)) for s in shapes]
    parts = np.split(jac, np.cumsum(sizes)[:-1], axis=0) if sizes else []
    return [p.reshape(tuple(s) + xshape) for p, s in zip(parts, shapes)]


# ---------------------------------------------------------------------------------------------
# comparison and report
# ---------------------------------------------------------------------------------------------

def _violation(a, n, rtol, atol):
    """``|a - n| / (atol + rtol|n|)`` entrywise (> 1 fails); NaN anywhere but on both is inf."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - n)
        ratio = err / (atol + rtol * np.abs(n))
    same = (a == n) | (np.isnan(a) & np.isnan(n))
    ratio = np.where(same, 0.0, ratio)
    return np.where(np.isnan(ratio), np.inf, ratio)


def _num(v):
    """A number as Python prints a float (``0.41`` rather than ``np.float64(0.41)``)."""
    return repr(float(v))


def _entry_name(index, shapes, path):
    """``out[2] w.r.t. arg0[1], arg1[0]`` for a flat ``index`` into ``out + args of path``."""
    parts, start = [], 0
    for name, shape in zip(["out"] + [f"arg{k}" for k in path], shapes):
        sub = index[start:start + len(shape)]
        start += len(shape)
        parts.append(name + (f"[{', '.join(map(str, sub))}]" if sub else ""))
    return f"d{'^' + str(len(path)) if len(path) > 1 else ''} {parts[0]} / " + \
        " ".join(f"d {p}" for p in parts[1:])


class _Reference:
    """One numerical estimate of the Jacobians of ``g`` with respect to ``args[k]``, computed
    when first asked for."""

    def __init__(self, label, method, args):
        self.label, self.method, self.args = label, method, args
        self._leaves = None

    def leaves(self, g, k):
        if self._leaves is None:
            self._leaves = _numeric_leaves(g, self.args, k, self.method)
        return self._leaves

    def describe(self, k, x_index):
        x = self.args[k]
        h = default_step(x, self.method)[x_index]
        step = "initial step" if self.method == "richardson" else "step"
        where = f"arg{k}{list(map(int, x_index)) if x_index else ''}"
        return f"{self.label}, {step} h = {h:.3g} at {where} = {_num(x[x_index])}"


def _references(args, checked):
    """The numerical estimates to compare with, in the order they are tried.

    Central differences first; where they disagree, Richardson extrapolation as a second
    opinion. Arguments less precise than float64 are upcast for these: ``f`` is a NumPy
    function, its float64 evaluation is the reference its float32 derivatives approximate, and
    float32 differences are only good to ~1e-4 (worse with relative steps at small ``|x|``). A
    last estimate in the arguments' own dtype covers functions that insist on it.
    """
    f64 = np.finfo(np.float64).eps
    low = [i for i in checked if np.finfo(args[i].dtype).eps > f64]
    wide = [np.asarray(a, dtype=np.float64) if i in low else a for i, a in enumerate(args)]
    tag = " (in float64)" if low else ""
    refs = [(f"central differences{tag}", "central", wide),
            (f"Richardson extrapolation{tag}", "richardson", wide)]
    if low:
        native = np.result_type(*[args[i].dtype for i in low]).name
        refs.append((f"central differences in {native}", "central", list(args)))
    return refs


def _report(f, mode, path, leaf, n_leaves, analytic, used, args, ratio, tols):
    """The AssertionError message for the worst entry of one failed comparison."""
    rtol, atol, tol_source = tols
    k = path[-1]
    order = len(path)
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.ndim else ()
    xshape = np.shape(args[k])
    x_index = worst[len(worst) - len(xshape):] if xshape else ()
    # the Jacobian's shape is out.shape + the shapes of the arguments along path
    out_shape = analytic.shape[:analytic.ndim - sum(len(np.shape(args[p])) for p in path)]
    shapes = [out_shape] + [np.shape(args[p]) for p in path]
    a = analytic[worst]
    values = [n[worst] for _, n in used]
    # the errors are stated against the estimate closest to the analytic value
    n = min(values, key=lambda v: abs(a - v) if np.isfinite(v) else np.inf)
    err = abs(a - n)
    rel = err / abs(n) if n != 0 else np.inf
    fname = getattr(f, "__name__", repr(f))
    jac = _JACOBIAN[mode]
    what = (f"the {mode}-mode Jacobian {jac}({fname}, argnums={k})" if order == 1 else
            f"the {mode}-mode derivative of order {order} of {fname} (the {jac} Jacobian with "
            f"respect to argument {k} of the order-{order - 1} derivative along arguments "
            f"{list(path[:-1])})")
    leaf_note = f" (output leaf {leaf} of {n_leaves})" if n_leaves > 1 else ""
    lines = [
        f"check_grads: mode {mode!r}, argument {k}, order {order}: {what} differs from "
        f"numerical differentiation{leaf_note}",
        f"  worst entry: {_entry_name(worst, shapes, path)}   (index "
        f"{tuple(map(int, worst))} in shape {' + '.join(str(tuple(s)) for s in shapes)})",
        f"  analytic = {_num(a)}",
    ]
    lines += [f"  numeric  = {_num(v)}   ({ref.describe(k, x_index)})"
              for (ref, _), v in zip(used, values)]
    lines += [
        f"  abs error = {err:.3e}, rel error = {rel:.3e}",
        f"  tolerance: |analytic - numeric| <= atol + rtol*|numeric| with rtol = {rtol:g}, "
        f"atol = {atol:g} ({tol_source})",
        f"  {int(np.count_nonzero(ratio > 1))} of {ratio.size} entries out of tolerance "
        f"against every estimate",
    ]
    return "\n".join(lines)


def _compare(f, mode, path, g, jac_g, args, refs, tols):
    """Check ``jac_g`` (the mode's Jacobian of ``g`` w.r.t. ``args[path[-1]]``) numerically.

    An entry passes if it agrees with any of the estimates ``refs`` (tried in order, each
    computed only if entries are still failing).
    """
    rtol, atol, _ = tols
    k = path[-1]
    analytic = [np.asarray(v) for v in tree_flatten(jac_g(*args))[0]]
    refs = [_Reference(*r) for r in refs]
    first = refs[0].leaves(g, k)
    if len(analytic) != len(first):
        raise AssertionError(f"check_grads: mode {mode!r}, argument {k}, order {len(path)}: "
                             f"the Jacobian has {len(analytic)} output leaves, expected "
                             f"{len(first)}")
    for leaf, a in enumerate(analytic):
        if a.shape != first[leaf].shape:
            raise AssertionError(f"check_grads: mode {mode!r}, argument {k}, order "
                                 f"{len(path)}: the Jacobian has shape {a.shape}, expected "
                                 f"{first[leaf].shape} (output shape + argument shapes)")
        a = a.astype(np.result_type(a.dtype, np.float64))
        ratio, used = None, []
        for ref in refs:
            n = ref.leaves(g, k)[leaf]
            v = _violation(a, n, rtol, atol)
            ratio = v if ratio is None else np.minimum(ratio, v)
            used.append((ref, n))
            if not np.any(ratio > 1):
                break
        else:
            raise AssertionError(_report(f, mode, path, leaf, len(analytic), a, used, args,
                                         ratio, tols))


def check_grads(f, args, order=1, modes=("forward", "reverse"), rtol=None, atol=None):
    """Check ``f``'s derivatives in every requested mode against numerical differentiation.

    Parameters
    ----------
    f : callable
        A NumPy function of the positional ``args``, returning an array (or a pytree of them).
    args : tuple
        The point. Floating arrays and Python floats are checked, each argument separately with
        the others held fixed; integer and boolean arguments are constants and are not checked.
    order : int
        1 checks Jacobians; 2 also the Jacobian of each mode's Jacobian function (by that mode
        nested twice) against the numerical Jacobian of the Jacobian function, for every pair
        of arguments; n continues the chain to order n.
    modes : tuple of str
        Among ``"forward"`` (``jacfwd``) and ``"reverse"`` (``jacrev``). A mode whose Jacobian
        is not implemented raises ``NotImplementedError``.
    rtol, atol : float, optional
        An entry passes when ``|analytic - numeric| <= atol + rtol*|numeric|``. Defaults by the
        least precise argument dtype: see :data:`DEFAULT_TOLERANCES` (float64: 1e-5 and
        1e-6; float32: 2e-4 and 1e-4).

    Raises
    ------
    AssertionError
        On the first mismatch, with a report: the mode, the argument, the order, the worst
        entry (its index in output-and-argument coordinates), analytic and numerical values,
        absolute and relative error, the tolerances and the step used.

    Examples
    --------
    >>> check_grads(lambda x, y: np.log(x) + x * y - np.sin(y), (2.0, 5.0),
    ...             order=2, modes=("forward",))
    """
    args, checked = _prepare_args(args)
    modes = _prepare_modes(modes)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"check_grads: order must be a positive int, got {order!r}")
    tols = _tolerances(args, checked, rtol, atol)
    refs = _references(args, checked)
    for mode in modes:
        jac = _jacobian_function(mode)
        # (path of argument indices, the derivative function of that path)
        level = [((), f)]
        for _ in range(int(order)):
            nxt = []
            for path, g in level:
                for k in checked:
                    jac_g = jac(g, argnums=k)
                    _compare(f, mode, path + (k,), g, jac_g, args, refs, tols)
                    nxt.append((path + (k,), jac_g))
            level = nxt
