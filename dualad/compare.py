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
          "times": {MODE: {"seconds": float|null,   # median of the repeats
                           "spread": float|null,    # largest distance of a repeat from it
                           "ratio_to_f": float|null}},
          "available": {MODE: true|false},
          "auto_mode": "reverse",       # what jacobian(mode="auto") picks
          "fastest_mode": "reverse",    # the faster of forward and reverse
          "fastest_is_clear": true,     # their gap exceeds both spreads (else: a tie)
          "auto_was_fastest": true,
          "auto_missed": false,         # auto took the clearly slower one
          "reference": "complex",       # the numerical reference: "complex" or "central"
          "errors": {MODE: {MODE: float|null}},   # max |J_a - J_b|, symmetric
          "error_vs_reference": {MODE: float|null},
          "expected_accuracy": 4.9e-05, # how far from the reference a right Jacobian may be
          "verdicts": {MODE: "ok"|"wrong"|null},  # forward, reverse, auto against it
          "wrong_modes": [],            # the modes judged wrong (and "jit"): exit status 1
          "sparse": {"density": 0.01,           # nonzeros / (m n) of the Jacobian
                     "colors": 5|null, "pattern_seconds": float|null,  # detection + coloring
                     "seconds": float|null, "ratio_to_f": float|null,  # sparse_jacobian
                     "error_vs_reference": float|null, "verdict": "ok"|"wrong"|null},
                                        # measured only where density <= 0.25
          "jit": {"trace_seconds": float|null,  # first call: trace + compile the program
                  "seconds": float|null,        # a replay (median of the repeats)
                  "ratio_to_f": float|null, "error_vs_reference": float|null,
                  "verdict": "ok"|"wrong"|null},  # ad.jit of auto's pick; null: unavailable
          "jacobian_max_abs": 2300.5,   # scale for the errors: max |J|
          "value": 11.65 | [...] | null,  # f(x), a number or nested lists, if <= 64 entries
          "jacobian": [[...]] | null,   # the forward-mode Jacobian, m x n, if <= 64 entries
          "notes": ["..."]              # e.g. why the complex step was not available
      }]
    }

``null`` stands for a mode that was not available (complex step on a function that rejects
complex input) and for non-finite numbers.
"""
from __future__ import annotations

import math
import statistics
import time
import timeit
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import __version__, numeric
from .front import MODES as AD_MODES  # the modes ``auto`` chooses between
from .transforms import choose_mode, jacfwd, jacobian, jacrev
from .benchmarks import problems as bp
from .benchmarks.sparse import bratu_residual
from .sparsity import jacobian_sparsity, sparse_jacobian
from .sparsity.coloring import column_coloring
from .staging import jit
from .examples import f as seed_function

__all__ = ["TIMED_MODES", "AD_MODES", "Case", "Problem", "PROBLEMS", "Settings", "CompareError",
           "measure", "document", "builtin_cases"]

#: every mode measured, in table order (the JSON document's "modes")
TIMED_MODES = ("forward", "reverse", "auto", "central", "complex")
#: results with at most this many entries go into the JSON document
_SMALL = 64
#: the complex step is trusted as the reference only if it is this close to central
#: differences, relative to max |J|: central differences are good to about ε^(2/3) ≈ 4e-11 of
#: f's scale, so this leaves room for badly scaled f, while a non-analytic f is off by O(1)
_AGREE = 1e-5


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
    Problem("bratu", "2-D Bratu residual on a k x k grid, R^n -> R^n, n = k^2: a 5-point "
            "stencil, the Jacobian is sparse (5 colors)", (64, 256, 1024), (16, 64),
            lambda n, seed: _bratu_case(n, seed)),
)}


def _bratu_case(n, seed):
    k = math.isqrt(n)
    u = np.random.default_rng(seed).uniform(0.0, 0.1, k * k)
    return Case(f"bratu n={k * k}", "bratu", lambda v: bratu_residual(v, k), (u,),
                f"-Δu - 6 e^u on a {k}x{k} grid, R^{k * k} -> R^{k * k}")


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
    """``(median, spread)``: seconds per call of ``fn()`` over ``settings.repeats`` timed runs,
    the median and the largest distance of a run from it (the noise a comparison must beat).

    ``first`` is how long the untimed first call took: it sets how many calls each run makes
    (enough to last ``settings.min_time``), so a slow measurement is not repeated to calibrate
    the way :func:`~dualad.benchmarks.timing.median_time` does.
    """
    number = int(min(1 << 20, max(1, settings.min_time // max(first, 1e-7))))
    # timeit turns the garbage collector off while timing: a collection landing in one run
    # would skew the median and the spread
    runs = [t / number for t in timeit.Timer(fn).repeat(settings.repeats, number)]
    mid = statistics.median(runs)
    return mid, max(abs(r - mid) for r in runs)


def measure(case, settings):
    """Time and compare every mode on ``case``; the result is one entry of the JSON document's
    ``"problems"`` list (see the module docstring)."""
    with np.errstate(all="ignore"):
        return _measure(case, settings)


def _measure(case, settings):
    t0 = time.perf_counter()
    out = evaluate(case)
    f_time = median_seconds(lambda: case.f(*case.args), time.perf_counter() - t0, settings)[0]
    n, m = sum(a.size for a in case.args), out.size
    jacs, times, spreads, notes = {}, {}, {}, []
    for mode, thunk in _mode_thunks(case, m).items():
        settings.progress(f"{case.label}: {mode}")
        t0 = time.perf_counter()
        jacs[mode], note = _first_run(case, mode, thunk)
        first = time.perf_counter() - t0
        if note:
            notes.append(note)
        times[mode], spreads[mode] = median_seconds(thunk, first, settings) \
            if jacs[mode] is not None else (None, None)
    reference = _pick_reference(jacs, notes)
    try:
        auto_mode = choose_mode(case.f, case.args, tuple(range(len(case.args))))
    except Exception as e:  # _first_run already ran auto; this only guards a changed f
        raise CompareError(f"{case.label}: choose_mode failed: {_describe(e)}") from None
    ad_times = {k: times[k] for k in AD_MODES if times[k] is not None}
    fastest = min(ad_times, key=ad_times.get) if ad_times else None
    # "faster" only when the gap is larger than both timings' noise
    clear = len(ad_times) == 2 and abs(times["forward"] - times["reverse"]) > \
        spreads["forward"] + spreads["reverse"]
    errors = {a: {b: _max_abs_diff(jacs[a], jacs[b]) for b in TIMED_MODES}
              for a in TIMED_MODES}
    best = jacs["forward"]  # never None: a forward failure is a CompareError
    scale = _finite(float(np.max(np.abs(best)))) if best.size else 0.0
    accuracy = _EXPECTED[reference] * (1.0 + (scale or 0.0))
    verdicts = {k: _verdict(jacs[k], errors[k][reference], accuracy) if k in _JUDGED else None
                for k in TIMED_MODES}
    jit = _measure_jit(case, auto_mode, jacs[reference], accuracy, f_time, settings, notes)
    sparse = _measure_sparse(case, best, jacs[reference], accuracy, f_time, settings, notes)
    wrong = [k for k in _JUDGED if verdicts[k] == "wrong"] + \
        [k for k, r in (("jit", jit), ("sparse", sparse)) if r["verdict"] == "wrong"]
    if wrong:
        extra = {"jit": jit["error_vs_reference"], "sparse": sparse["error_vs_reference"]}
        found = [extra[k] if k in extra else errors[k][reference] for k in wrong]
        worst = max((e for e in found if e is not None), default=float("nan"))
        notes.append(f"WRONG: {', '.join(wrong)} differ from the {reference} reference by "
                     f"{worst:.2g} (expected at most {accuracy:.2g}): a wrong derivative rule, "
                     f"or f is not differentiable at this point")
    return {
        "label": case.label, "problem": case.problem, "description": case.description,
        "n": int(n), "m": int(m), "shapes": [list(a.shape) for a in case.args],
        "kind": "gradient" if m == 1 else "jacobian",
        "f_seconds": f_time,
        "times": {k: {"seconds": times[k], "spread": spreads[k], "ratio_to_f":
                      times[k] / f_time if times[k] is not None and f_time > 0 else None}
                  for k in TIMED_MODES},
        "available": {k: jacs[k] is not None for k in TIMED_MODES},
        "auto_mode": auto_mode, "fastest_mode": fastest,
        "fastest_is_clear": clear,
        "auto_was_fastest": auto_mode == fastest,
        "auto_missed": clear and auto_mode != fastest,
        "reference": reference,
        "errors": errors,
        "error_vs_reference": {k: errors[k][reference] for k in TIMED_MODES},
        "expected_accuracy": accuracy,
        "verdicts": verdicts,
        "wrong_modes": wrong,
        "jit": jit,
        "sparse": sparse,
        "jacobian_max_abs": scale,
        "value": _small(out), "jacobian": _small(best),
        "notes": notes,
    }


def _measure_jit(case, mode, reference, accuracy, f_time, settings, notes):
    """``ad.jit`` of the Jacobian in ``mode``: the first call (trace and compile) timed on its
    own, then replays timed like the modes, and judged against the reference like them."""
    m = reference.shape[0]  # (the reference Jacobian is m x n: f need not run again)
    staged = jit(jacfwd(case.f, tuple(range(len(case.args)))) if mode == "forward" else
                 jacrev(case.f, tuple(range(len(case.args)))))
    settings.progress(f"{case.label}: jit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            first = _as_matrix(staged(*case.args), m)
            trace = time.perf_counter() - t0
            t0 = time.perf_counter()
            _as_matrix(staged(*case.args), m)
            replay = median_seconds(lambda: staged(*case.args), time.perf_counter() - t0,
                                    settings)[0]
    except Exception as e:  # noqa: BLE001 - an op the stager cannot take: the column says so
        notes.append(f"jit not available: {_describe(e)}")
        return {"trace_seconds": None, "seconds": None, "ratio_to_f": None,
                "error_vs_reference": None, "verdict": None}
    error = _max_abs_diff(first, reference)
    return {"trace_seconds": trace, "seconds": replay,
            "ratio_to_f": replay / f_time if f_time > 0 else None,
            "error_vs_reference": error, "verdict": _verdict(first, error, accuracy)}


#: a Jacobian with at most this share of nonzeros is measured by sparse_jacobian too
SPARSE_DENSITY = 0.25


def _measure_sparse(case, dense, reference, accuracy, f_time, settings, notes):
    """Where the Jacobian is sparse: the pattern and coloring found once (timed on their own),
    then ``sparse_jacobian`` with it, timed like the modes and judged like them."""
    m, n = dense.shape
    density = float(np.count_nonzero(dense)) / (m * n) if m * n else 1.0
    result = {"density": density, "colors": None, "pattern_seconds": None, "seconds": None,
              "ratio_to_f": None, "error_vs_reference": None, "verdict": None}
    if density > SPARSE_DENSITY or m * n < 4:
        return result
    argnums = tuple(range(len(case.args)))
    settings.progress(f"{case.label}: sparse")
    try:
        t0 = time.perf_counter()
        pattern = jacobian_sparsity(case.f, argnums)(*case.args)
        staged = sparse_jacobian(case.f, argnums, sparsity=pattern)
        got = np.asarray(staged(*case.args).toarray(), dtype=np.float64)
        result["pattern_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        staged(*case.args)
        result["seconds"] = median_seconds(lambda: staged(*case.args),
                                           time.perf_counter() - t0, settings)[0]
        result["colors"] = int(column_coloring(pattern).num_colors)
    except Exception as e:  # noqa: BLE001 - the column says why it is missing
        notes.append(f"sparse mode not available: {_describe(e)}")
        return result
    result["ratio_to_f"] = result["seconds"] / f_time if f_time > 0 else None
    result["error_vs_reference"] = _max_abs_diff(got, reference)
    result["verdict"] = _verdict(got, result["error_vs_reference"], accuracy)
    return result


#: the AD modes whose result is judged against the numerical reference
_JUDGED = ("forward", "reverse", "auto")
#: how close to the reference a right derivative lands, relative to 1 + max |J|: the complex
#: step is exact to rounding; central differences to about ε^(2/3) of f's scale, with room for
#: a badly scaled f. A wrong rule is off by O(1) of the entry it gets wrong.
_EXPECTED = {"complex": 1e-8, "central": 1e-5}


def _verdict(jac, error, accuracy):
    """"ok", "wrong" (beyond the expected accuracy, or not finite), or None (not measured)."""
    if jac is None:
        return None
    return "ok" if error is not None and error <= accuracy else "wrong"


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
    return {
        "dualad_version": __version__, "numpy_version": np.__version__,
        "settings": {"repeats": settings.repeats, "quick": settings.quick,
                     "seed": settings.seed},
        "modes": list(TIMED_MODES),
        "problems": results,
    }
