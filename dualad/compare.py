"""The measurements behind ``dualad compare``: every mode's Jacobian of one function, timed and
checked against the others.

For a :class:`Case` (a function and the point to differentiate it at) :func:`measure` takes the
Jacobian with respect to all arguments in five ways,

``forward``  :func:`dualad.jacfwd`, identity directions as DualArray lanes (chunked by its
             default memory budget);
``reverse``  :func:`dualad.jacrev`, one tape swept with identity cotangents as lanes;
``auto``     :func:`dualad.jacobian` with ``mode="auto"``: one of the two above, chosen by
             :func:`dualad.choose_mode` (which costs one extra evaluation of f);
``central``  :func:`dualad.numeric.jacobian`, central differences;
``complex``  the same with the complex step, when f accepts complex input (found by trying);

times each as the median of repeats (:func:`median_seconds`) next to one evaluation of f, and
takes the largest absolute difference between every pair of results. The numerical reference is
the complex step when it is available and agrees with central differences, central differences
otherwise. A scalar-valued f has a 1 x n Jacobian: its gradient.

The JSON document of ``dualad compare --json`` (:func:`document`) has these keys, always
present (``null`` where a value does not apply)::

    {
      "dualad_version": "0.1.0", "numpy_version": "2.4.0",
      "settings": {"repeats": 5, "quick": false, "seed": 0},
      "modes": ["forward", "reverse", "auto", "central", "complex"],
      "problems": [{
          "label": "helmholtz n=50",    # the row's name in the table
          "problem": "helmholtz",       # the --problem name, or "module:function"
          "description": "...",
          "n": 50, "m": 1,              # entries of all inputs / of the output
          "shapes": [[50]],             # the argument shapes
          "kind": "gradient",           # "gradient" (m == 1) or "jacobian"
          "f_seconds": 1.2e-05,         # one evaluation of f
          "times": {MODE: {"seconds": float|null, "ratio_to_f": float|null}},
          "available": {MODE: true|false},
          "auto_mode": "reverse",       # what jacobian(mode="auto") picks
          "fastest_mode": "reverse",    # the faster of forward and reverse
          "auto_was_fastest": true,     # (also true when the two are within the noise)
          "within_noise": false,        # forward and reverse differ by less than their noise
          "noise_seconds": {MODE: float|null},  # half the range of each mode's timed runs
          "reference": "complex",       # the numerical reference: "complex" or "central"
          "errors": {MODE: {MODE: float|null}},   # max |J_a - J_b|, symmetric
          "error_vs_reference": {MODE: float|null},
          "jacobian_max_abs": 2300.5,   # scale for the errors: max |J|
          "value": 11.65 | [...] | null,  # f(x), a number or nested lists, if <= 64 entries
          "jacobian": [[...]] | null,   # the forward-mode Jacobian, m x n, if <= 64 entries
          "wrong_modes": ["reverse"],   # AD modes off the reference by more than its accuracy
          "verdict": "ok" | "WRONG: reverse",   # what the table shows; `compare` exits 1 if
                                        # any problem's verdict is not "ok"
          "notes": ["..."]              # e.g. why the complex step was not available
      }]
    }

``null`` stands for a mode that was not available (complex step on a function that rejects
complex input; reverse mode without the ``reverse`` package) and for non-finite numbers.
"""
from __future__ import annotations

import gc
import math
import statistics
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import numeric
from .transforms import choose_mode, jacfwd, jacobian, jacrev
from .benchmarks import problems as bp
from .examples import f as seed_function

__all__ = ["MODES", "AD_MODES", "Case", "Problem", "PROBLEMS", "Settings", "CompareError",
           "measure", "document", "builtin_cases"]

#: every mode measured, in table order
MODES = ("forward", "reverse", "auto", "central", "complex")
#: the modes ``auto`` chooses between
AD_MODES = ("forward", "reverse")
#: results with at most this many entries go into the JSON document
_SMALL = 64
#: the complex step is trusted as the reference only if it is this close to central
#: differences, relative to max |J|: central differences are good to about ε^(2/3) ≈ 4e-11 of
#: f's scale, so this leaves room for badly scaled f, while a non-analytic f is off by O(1)
_AGREE = 1e-5
#: how far an AD mode may be from the reference, relative to 1 + max |J|, before it is called
#: wrong: the reference's own accuracy with a wide margin (the complex step is exact to rounding;
#: central differences to ~4e-11 on well-scaled functions, 1e-6 leaves room for curvature),
#: while a rule off by 0.1% is off by 1e-3
EXPECTED_ACCURACY = {"complex": 1e-9, "central": 1e-6}


class CompareError(Exception):
    """Bad input (a function that cannot be measured): one line for the user, exit status 2."""


@dataclass(frozen=True)
class Case:
    """One function at one point: one row of the comparison."""

    label: str          # the row's name, e.g. "helmholtz n=50"
    problem: str        # the --problem name (the plot draws one panel per problem)
    f: Callable
    args: tuple         # floating arrays, one per positional argument of f
    description: str = ""


@dataclass(frozen=True)
class Problem:
    """A built-in problem: a family of cases of growing size."""

    name: str
    description: str
    sizes: tuple        # the input sizes n of a full run
    quick_sizes: tuple  # ... and of a --quick run
    build: Callable     # build(n, seed) -> Case


@dataclass
class Settings:
    """How hard to measure."""

    repeats: int = 5
    min_time: float = 0.02    # seconds that each timed run lasts at least
    quick: bool = False
    seed: int = 0
    progress: Callable = field(default=lambda message: None)


# ---------------------------------------------------------------------------------------------
# the built-in problems
# ---------------------------------------------------------------------------------------------

def _helmholtz(n, seed):
    x, b, a = bp.helmholtz_setup(n, seed)
    return Case(f"helmholtz n={n}", "helmholtz", lambda v: bp.helmholtz(v, b, a), (x,),
                f"Helmholtz free energy, R^{n} -> R")


def _mlp_case(name, n, m, seed):
    x, w1, w2 = bp.mlp_setup(n, m, seed=seed)
    return Case(f"{name} n={n}", name, lambda v: bp.mlp(v, w1, w2), (x,),
                f"tanh(W2 tanh(W1 x)), R^{n} -> R^{m}, hidden 256")


_WIDE_M = 1024


def _seed_case(n, seed):
    # the point is fixed: the survey's (2, 5), whose gradient is (5.5, 1.716)
    return Case("seed", "seed", seed_function, (np.array(2.0), np.array(5.0)),
                "ln x1 + x1 x2 - sin x2 at (2, 5), R^2 -> R")


PROBLEMS = {p.name: p for p in (
    Problem("helmholtz", "Helmholtz free energy f: R^n -> R (Baydin et al. 2018, Table 4): "
            "reverse wins as n grows", (10, 30, 100, 300), (5, 20), _helmholtz),
    Problem("wide", f"tanh(W2 tanh(W1 x)): R^n -> R^{_WIDE_M}, n << m: forward wins",
            (2, 8, 32), (2, 8), lambda n, seed: _mlp_case("wide", n, _WIDE_M, seed)),
    Problem("square", "tanh(W2 tanh(W1 x)): R^n -> R^n: forward and reverse need as many "
            "passes", (16, 64, 256), (16, 64), lambda n, seed: _mlp_case("square", n, n, seed)),
    Problem("seed", "f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5): gradient (5.5, 1.716)",
            (2,), (2,), _seed_case),
)}


def builtin_cases(names, settings):
    """The cases of the named built-in problems, at the sizes of a full or a --quick run."""
    cases = []
    for name in names:
        p = PROBLEMS[name]
        for n in (p.quick_sizes if settings.quick else p.sizes):
            cases.append(p.build(n, settings.seed))
    return cases


# ---------------------------------------------------------------------------------------------
# running f and the modes
# ---------------------------------------------------------------------------------------------

def _describe(e):
    return f"{type(e).__name__}: {e}".rstrip(": ")


def _shapes(args):
    return ", ".join(str(tuple(a.shape)) for a in args)


def evaluate(case):
    """``f(*args)`` as an array, or :class:`CompareError` saying why it cannot be measured."""
    try:
        out = case.f(*[a.copy() for a in case.args])  # copies: f may write to its arguments
    except Exception as e:
        raise CompareError(f"{case.label} failed at a point of shape {_shapes(case.args)}: "
                           f"{_describe(e)}") from None
    if isinstance(out, (tuple, list, dict)):
        raise CompareError(f"{case.label} returned a {type(out).__name__}; it must return one "
                           f"array (np.stack or np.concatenate several outputs)")
    if not isinstance(out, (np.ndarray, np.generic, float, int)) or isinstance(out, bool):
        raise CompareError(f"{case.label} returned {type(out).__name__}, not an array of "
                           f"numbers")
    out = np.asarray(out)
    if not (np.issubdtype(out.dtype, np.number) or out.dtype == bool):
        raise CompareError(f"{case.label} returned an array of dtype {out.dtype}, not numbers")
    if np.issubdtype(out.dtype, np.complexfloating):
        raise CompareError(f"{case.label} returned complex values; dualad differentiates real "
                           f"functions of real arrays")
    if not np.all(np.isfinite(out)):
        raise CompareError(f"{case.label} is not finite at this point (it returned nan or inf); "
                           f"pick another point with --seed or --point")
    return out


class _Flat:
    """The arguments of a case as one flat vector, for the numerical Jacobian (one array)."""

    def __init__(self, case):
        self.f = case.f
        self.shapes = [a.shape for a in case.args]
        self.sizes = [a.size for a in case.args]
        self.x = np.concatenate([a.reshape(-1) for a in case.args]) if case.args else \
            np.zeros(0)

    def __call__(self, v):
        parts, at = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            parts.append(v[at:at + size].reshape(shape))
            at += size
        return self.f(*parts)


def _as_matrix(blocks, m):
    """AD blocks (one per argument, ``out.shape + arg.shape``) side by side as ``(m, n)``."""
    return np.hstack([np.asarray(b, dtype=np.float64).reshape(m, -1) for b in blocks])


def _mode_thunks(case, m):
    """For each mode, a function of no arguments returning the Jacobian as an ``(m, n)`` array
    (only the AD result is reshaped: the numerical ones are flat already)."""
    argnums = tuple(range(len(case.args)))
    f, args = case.f, case.args
    flat = _Flat(case)
    fwd, rev = jacfwd(f, argnums), jacrev(f, argnums)
    auto = jacobian(f, argnums, mode="auto")
    return {
        "forward": lambda: _as_matrix(fwd(*args), m),
        "reverse": lambda: _as_matrix(rev(*args), m),
        "auto": lambda: _as_matrix(auto(*args), m),
        "central": lambda: numeric.jacobian(flat, flat.x, "central").reshape(m, -1),
        "complex": lambda: numeric.jacobian(flat, flat.x, "complex").reshape(m, -1),
    }


_CALLS = {"forward": "jacfwd", "reverse": "jacrev", "auto": 'jacobian(mode="auto")',
          "central": "numeric central differences"}


def _first_run(case, mode, thunk):
    """Run ``thunk`` once: the Jacobian, or ``None`` with a note when the mode is unavailable
    here. A failure that is the function's fault raises :class:`CompareError`."""
    try:
        with warnings.catch_warnings():
            # a ComplexWarning means f dropped an imaginary part: the complex step is invalid
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            return thunk(), None
    except ModuleNotFoundError as e:
        if e.name == "reverse" and mode in ("reverse", "auto"):
            return None, f"{mode}: the reverse package is not installed"
        raise CompareError(f"{case.label}: {mode} mode failed: {_describe(e)}") from None
    except Exception as e:
        if mode == "complex":
            # numeric's own messages say what f did with the complex input; others are f's
            msg = str(e).removeprefix("numeric.jacobian: ").split(" Use method=")[0]
            why = msg if msg != str(e) else f"f failed on complex input ({_describe(e)})"
            return None, f"complex step not available: {why}"
        msg = str(e)
        if isinstance(e, TypeError) and msg.startswith("no ") and " rule for " in msg:
            raise CompareError(f"{case.label} uses an op without a derivative rule: {msg} "
                               f"(in {_CALLS[mode]})") from None
        raise CompareError(f"{case.label}: {_CALLS[mode]} failed: {_describe(e)}") from None


def _max_abs_diff(a, b):
    if a is None or b is None:
        return None
    d = float(np.max(np.abs(a - b))) if a.size else 0.0
    return d if math.isfinite(d) else None


def _finite(x):
    return x if x is not None and math.isfinite(x) else None


def _small(a):
    return a.tolist() if a is not None and a.size <= _SMALL else None


def median_seconds(fn, first, settings):
    """Median seconds per call of ``fn()`` over ``settings.repeats`` timed runs."""
    return timed_seconds(fn, first, settings)[0]


def timed_seconds(fn, first, settings):
    """``(median, noise)`` seconds per call of ``fn()`` over ``settings.repeats`` timed runs;
    ``noise`` is half the range of the runs (0 with one run).

    ``first`` is how long the untimed first call took: it sets how many calls each run makes
    (enough to last ``settings.min_time``), so a slow measurement is not repeated to calibrate
    the way :func:`~dualad.benchmarks.timing.median_time` does.
    """
    number = int(min(1 << 20, max(1, settings.min_time // max(first, 1e-7))))
    runs = []
    gc_was_on = gc.isenabled()
    gc.disable()  # as timeit does: a collection landing in one run would skew it
    try:
        for _ in range(settings.repeats):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            runs.append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_on:
            gc.enable()
    return statistics.median(runs), (max(runs) - min(runs)) / 2


def measure(case, settings):
    """Time and compare every mode on ``case``; the result is one entry of the JSON document's
    ``"problems"`` list (see the module docstring)."""
    with np.errstate(all="ignore"):
        return _measure(case, settings)


def _measure(case, settings):
    t0 = time.perf_counter()
    out = evaluate(case)
    f_time = median_seconds(lambda: case.f(*case.args), time.perf_counter() - t0, settings)
    n, m = sum(a.size for a in case.args), out.size
    jacs, times, noise, notes = {}, {}, {}, []
    for mode, thunk in _mode_thunks(case, m).items():
        settings.progress(f"{case.label}: {mode}")
        t0 = time.perf_counter()
        jacs[mode], note = _first_run(case, mode, thunk)
        first = time.perf_counter() - t0
        if note:
            notes.append(note)
        times[mode], noise[mode] = timed_seconds(thunk, first, settings) \
            if jacs[mode] is not None else (None, None)
    reference = _pick_reference(jacs, notes)
    try:
        auto_mode = choose_mode(case.f, case.args, tuple(range(len(case.args))))
    except Exception as e:  # _first_run already ran auto; this only guards a changed f
        raise CompareError(f"{case.label}: choose_mode failed: {_describe(e)}") from None
    ad_times = {k: times[k] for k in AD_MODES if times[k] is not None}
    fastest = min(ad_times, key=ad_times.get) if ad_times else None
    # forward and reverse within each other's measured noise: neither is faster, and auto's
    # pick cannot have missed
    tie = len(ad_times) == 2 and abs(times["forward"] - times["reverse"]) <= \
        noise["forward"] + noise["reverse"]
    errors = {a: {b: _max_abs_diff(jacs[a], jacs[b]) for b in MODES} for a in MODES}
    best = jacs["forward"]  # never None: a forward failure is a CompareError
    scale = 1.0 + (float(np.max(np.abs(jacs[reference]))) if jacs[reference].size else 0.0)
    allowed = EXPECTED_ACCURACY[reference] * scale
    wrong = [k for k in AD_MODES + ("auto",) if jacs[k] is not None and
             (errors[k][reference] is None or errors[k][reference] > allowed)]
    return {
        "label": case.label, "problem": case.problem, "description": case.description,
        "n": int(n), "m": int(m), "shapes": [list(a.shape) for a in case.args],
        "kind": "gradient" if m == 1 else "jacobian",
        "f_seconds": f_time,
        "times": {k: {"seconds": times[k], "ratio_to_f":
                      times[k] / f_time if times[k] is not None and f_time > 0 else None}
                  for k in MODES},
        "available": {k: jacs[k] is not None for k in MODES},
        "auto_mode": auto_mode, "fastest_mode": fastest,
        "auto_was_fastest": auto_mode == fastest or tie,
        "within_noise": tie,
        "noise_seconds": noise,
        "reference": reference,
        "errors": errors,
        "error_vs_reference": {k: errors[k][reference] for k in MODES},
        "jacobian_max_abs": _finite(float(np.max(np.abs(best)))) if best.size else 0.0,
        "value": _small(out), "jacobian": _small(best),
        "wrong_modes": wrong,
        "verdict": "WRONG: " + ", ".join(wrong) if wrong else "ok",
        "notes": notes,
    }


def _pick_reference(jacs, notes):
    """The complex step when it exists and agrees with central differences, else central."""
    cen, cpx = jacs["central"], jacs["complex"]
    if cpx is None:
        return "central"
    scale = 1.0 + float(np.max(np.abs(cen))) if cen.size else 1.0
    diff = _max_abs_diff(cen, cpx)
    if diff is None or diff > _AGREE * scale:
        # f runs on complex input but is not its analytic continuation (abs, comparisons,
        # np.real ...): its complex-step "derivative" is wrong, so it cannot be the reference
        notes.append(f"complex step disagrees with central differences (max |diff| "
                     f"{diff if diff is not None else float('nan'):.2g}): f is probably not "
                     f"analytic (abs, comparisons, np.real); central is the reference")
        return "central"
    return "complex"


def document(results, settings):
    """The JSON document (a dict) for the measured ``results``: see the module docstring."""
    import dualad
    return {
        "dualad_version": dualad.__version__, "numpy_version": np.__version__,
        "settings": {"repeats": settings.repeats, "quick": settings.quick,
                     "seed": settings.seed},
        "modes": list(MODES),
        "problems": results,
    }
