"""The ``dualad`` command line (also ``python -m dualad``). Its main job is ``dualad compare``.

::

    dualad compare                          # the built-in problems: the modes' trade-off
    dualad compare --list                   # their names, one line each
    dualad compare --problem helmholtz      # one of them
    dualad compare mypkg.mod:func --shape 100            # a plain NumPy function of one array
    dualad compare mod:f --shape 3,4 --shape 4           # ... of two arrays
    dualad compare mod:f --point x.npy                   # ... at a given point (.npz: several)
    dualad compare --json                   # one JSON document instead of the tables
    dualad compare --plot times.png         # time against n for each mode (needs matplotlib)

For each problem it takes the Jacobian (the gradient when f is scalar-valued) by forward mode,
reverse mode, ``jacobian(mode="auto")`` and numerical differentiation, prints each one's time as
a multiple of one evaluation of f, the largest differences between them, which mode ``auto``
picks and whether that was the faster one. The measurements, and the keys of the ``--json``
document, are described in :mod:`dualad.compare`.

A user's function is imported by name, with the current directory on ``sys.path`` (as
``python -m`` does), and called at a seeded random point with entries uniform in [0.1, 1) (so
logs and square roots are defined), or at the arrays of ``--point``.

Exit status: 0 on success; 2 for bad input (an unimportable module, a missing function, a shape
f rejects, a result that is not an array, an op without a derivative rule, an unreadable
``--point`` file, an unknown ``--problem``), reported as one line on stderr starting with
``dualad compare: error:``.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import textwrap
import zipfile

import numpy as np

from .compare import (AD_MODES, PROBLEMS, TIMED_MODES, Case, CompareError, Settings,
                      builtin_cases, document, measure)

__all__ = ["main", "build_parser"]

_PROG = "dualad"
#: a user's random point: uniform in [LOW, HIGH), away from zero and the kinks of abs/sqrt/log
_LOW, _HIGH = 0.1, 1.0
_QUICK_REPEATS, _QUICK_MIN_TIME = 3, 0.002


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser():
    """The argument parser of ``dualad`` and its ``compare`` command."""
    parser = _Parser(prog=_PROG, description="NumPy-native automatic differentiation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser(
        "compare", help="time and check forward, reverse and numerical derivatives",
        description="Time forward-mode, reverse-mode, auto and numerical Jacobians (gradients "
                    "for scalar functions) on built-in problems or on your NumPy function, and "
                    "compare them.",
        epilog="Timings are this machine's at this moment. BLAS runs on one thread, steadier "
               "on a busy machine, unless OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or "
               "MKL_NUM_THREADS is set.")
    c.add_argument("function", nargs="?", metavar="MODULE:FUNCTION",
                   help="a plain NumPy function to differentiate, e.g. mypkg.mod:func")
    c.add_argument("--shape", action="append", type=_shape, metavar="N[,N...]",
                   help="shape of one argument of FUNCTION (repeat for several arguments); "
                        "'()' for a scalar")
    c.add_argument("--point", metavar="FILE",
                   help="differentiate at this point: a .npy file (one argument) or a .npz "
                        "file with arr_0, arr_1, ... (as np.savez writes)")
    c.add_argument("--seed", type=_nonnegative, default=0,
                   help="seed of the random point (default 0)")
    c.add_argument("--problem", metavar="NAME", help="run one built-in problem (see --list)")
    c.add_argument("--list", action="store_true", help="list the built-in problems and exit")
    c.add_argument("--repeats", type=_positive, default=None,
                   help="timed runs per measurement, the median is reported (default 5; 3 "
                        "with --quick)")
    c.add_argument("--quick", action="store_true",
                   help="smaller problems and short timings (for tests and CI)")
    c.add_argument("--json", action="store_true", help="print one JSON document instead")
    c.add_argument("--plot", metavar="FILE.png", help="draw time against n for each mode")
    c.add_argument("--verbose", action="store_true",
                   help="show progress on stderr even when it is not a terminal")
    return parser


def _shape(text):
    body = text.strip().strip("()[]").strip()
    if not body:
        return ()
    try:
        dims = tuple(int(p) for p in body.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --shape {text!r}: expected integers separated "
                                         f"by commas, e.g. 100 or 3,4") from None
    if any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"bad --shape {text!r}: dimensions must be positive")
    return dims


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonnegative(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------------
# a user's function and its point
# ---------------------------------------------------------------------------------------------

def load_function(spec):
    """Import ``module:function`` (the function may be a dotted attribute path)."""
    modname, sep, attr = spec.partition(":")
    if not sep or not modname or not attr or ":" in attr:
        raise CompareError(f"expected MODULE:FUNCTION (e.g. mypkg.mod:func), got {spec!r}")
    # like `python -m`: modules in the current directory are importable
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if e.name and (modname == e.name or modname.startswith(e.name + ".")):
            raise CompareError(f"cannot import module {modname!r}: no module named "
                               f"{e.name!r} (run from the directory that contains it, or "
                               f"set PYTHONPATH)") from None
        raise CompareError(f"importing module {modname!r} failed: {e}") from None
    except Exception as e:
        raise CompareError(f"importing module {modname!r} raised {type(e).__name__}: "
                           f"{e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CompareError(f"module {modname!r} has no function {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CompareError(f"{spec} is not a function (it is of type {type(obj).__name__})")
    return obj


def load_point(path, shapes):
    """The arrays stored in ``path`` (.npy: one, .npz: arr_0, arr_1, ...), as float arrays."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        # np.load takes any file it does not recognize for a pickle, which we refuse
        why = "not a .npy or .npz file of numbers" if "pickle" in str(e) else str(e)
        raise CompareError(f"cannot read --point file {path!r}: {why}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            names = [f"arr_{i}" for i in range(len(data.files))]
            if sorted(data.files) != sorted(names) or not names:
                raise CompareError(f"--point file {path!r} holds {sorted(data.files)}; expected "
                                   f"arr_0, arr_1, ... (np.savez(file, x, y) without names)")
            try:
                arrays = [data[name] for name in names]
            except (OSError, ValueError, zipfile.BadZipFile) as e:
                raise CompareError(f"cannot read --point file {path!r}: {e}") from None
    else:
        arrays = [data]
    out = []
    for k, a in enumerate(arrays):
        if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
            a = a.astype(np.float64)  # an integer argument would be a constant
        if not np.issubdtype(a.dtype, np.floating):
            raise CompareError(f"--point file {path!r}: array {k} has dtype {a.dtype}; the "
                               f"point must be real floating-point numbers")
        out.append(a)
    if shapes and [tuple(s) for s in shapes] != [a.shape for a in out]:
        raise CompareError(f"--point file {path!r} holds shapes "
                           f"{', '.join(str(a.shape) for a in out)} but --shape gives "
                           f"{', '.join(str(tuple(s)) for s in shapes)}")
    return tuple(out)


def user_case(args):
    """The :class:`Case` of ``dualad compare MODULE:FUNCTION``."""
    f = load_function(args.function)
    if args.point is not None:
        point = load_point(args.point, args.shape)
        where = f"at the point in {args.point}"
    elif args.shape:
        rng = np.random.default_rng(args.seed)
        point = tuple(rng.uniform(_LOW, _HIGH, shape) for shape in args.shape)
        where = f"at a random point (seed {args.seed}, uniform in [{_LOW}, {_HIGH}))"
    else:
        raise CompareError(f"give the shape of each argument of {args.function} with --shape "
                           f"(e.g. --shape 100), or a point with --point FILE")
    return Case(args.function, args.function, f, point, f"{args.function} {where}")


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------

def _seconds(s):
    if s is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _ratio(r):
    if r is None:
        return "n/a"
    return f"{r:.1f}" if r < 1000 else f"{r:.0f}"


def _err(e):
    return "-" if e is None else "0" if e == 0 else f"{e:.1e}"


def _table(headers, rows, left=1):
    """Aligned text: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = []
    for row in [headers] + rows:
        cells = [str(x).ljust(w) if i < left else str(x).rjust(w)
                 for i, (x, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_report(results, settings):
    """The tables ``dualad compare`` prints."""
    times = _table(
        ["problem", "n", "m", "f(x)", *TIMED_MODES, "auto picks", "fastest"],
        [[r["label"], r["n"], r["m"], _seconds(r["f_seconds"]),
          *[_ratio(r["times"][k]["ratio_to_f"]) for k in TIMED_MODES],
          r["auto_mode"], _fastest(r)] for r in results], left=1)
    errors = _table(
        ["problem", "ref", "max|J|", "fwd-rev", "fwd-ref", "rev-ref", "auto-ref",
         "central-complex", "verdict"],
        [[r["label"], r["reference"], f"{r['jacobian_max_abs'] or 0:.3g}",
          _err(r["errors"]["forward"]["reverse"]),
          *[_err(r["error_vs_reference"][k]) for k in ("forward", "reverse", "auto")],
          _err(r["errors"]["central"]["complex"]),
          "WRONG" if r["wrong_modes"] else "ok"] for r in results], left=1)
    lines = [
        *_wrap(f"Jacobians (gradients when m = 1) of f: R^n -> R^m by forward mode (jacfwd), "
               f"reverse mode (jacrev), auto (jacobian(mode='auto')) and numerical "
               f"differentiation (central differences, complex step)."),
        "",
        *_wrap(f"time of one evaluation of f, and of each mode as a multiple of it (median of "
               f"{settings.repeats} repeats; 'tie': forward and reverse within the timing "
               f"noise):"),
        times,
        "",
        *_wrap("staged: ad.jit of auto's pick; its first call traces the Jacobian into a "
               "NumPy program and compiles it, later calls replay it (times as multiples of "
               "f; error against the reference):"),
        _table(["problem", "trace + compile", "replay", "vs auto", "error-ref"],
               [[r["label"], _seconds(r["jit"]["trace_seconds"]),
                 _ratio(r["jit"]["ratio_to_f"]), _jit_vs_auto(r),
                 _err(r["jit"]["error_vs_reference"])] for r in results], left=1),
        "",
        *_wrap("sparse: the share of nonzeros in the Jacobian; where it is at most 25%, "
               "sparse_jacobian with the pattern found once (detection + coloring timed apart, "
               "the evaluation as a multiple of f):"),
        _table(["problem", "nonzeros", "colors", "pattern + coloring", "sparse", "error-ref"],
               [[r["label"], f"{100 * r['sparse']['density']:.3g}%",
                 r["sparse"]["colors"] if r["sparse"]["colors"] is not None else "-",
                 _seconds(r["sparse"]["pattern_seconds"]) if r["sparse"]["seconds"] else "-",
                 _ratio(r["sparse"]["ratio_to_f"]) if r["sparse"]["seconds"] else "dense",
                 _err(r["sparse"]["error_vs_reference"])] for r in results], left=1),
        "",
        *_wrap("max |difference| between the Jacobians (ref: the numerical reference; "
               "verdict: every AD mode within the reference's expected accuracy):"),
        errors,
        "",
        *_wrap(_auto_summary(results)),
    ]
    notes = [f"{r['label']}: {note}" for r in results for note in r["notes"]]
    if notes:
        lines += ["", "notes:"] + [line for note in notes
                                   for line in _wrap(note, indent="  ", more="    ")]
    return "\n".join(lines)


#: the report fits a terminal this wide
WIDTH = 100


def _wrap(text, indent="", more=""):
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=more,
                         break_on_hyphens=False, break_long_words=False) or [""]


def _jit_vs_auto(r):
    replay, auto = r["jit"]["seconds"], r["times"]["auto"]["seconds"]
    return "n/a" if replay is None or not auto else f"{replay / auto:.2f}x"


def _fastest(r):
    if r["fastest_mode"] is None:
        return "n/a"
    return r["fastest_mode"] if r["fastest_is_clear"] else "tie"


def _auto_summary(results):
    """One line: how often ``auto`` picked the faster of forward and reverse."""
    rated = [r for r in results if r["fastest_mode"] is not None
             and all(r["times"][k]["seconds"] is not None for k in AD_MODES)]
    if not rated:
        return "auto: reverse mode was not available, so its pick could not be rated."
    misses = [r for r in rated if r["auto_missed"]]
    line = f"auto picked the faster AD mode (or one within the timing noise of it) in " \
           f"{len(rated) - len(misses)} of {len(rated)} problems"
    if not misses:
        return line + "."
    details = []
    for r in misses:
        picked, best = r["times"][r["auto_mode"]]["seconds"], \
            r["times"][r["fastest_mode"]]["seconds"]
        details.append(f"{r['label']}: {r['auto_mode']} took {picked / best:.2f}x "
                       f"{r['fastest_mode']}'s time")
    return line + "; missed " + "; ".join(details) + "."


def _import_pyplot():
    """matplotlib.pyplot on the Agg backend, or a :class:`CompareError` if it is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CompareError("--plot needs matplotlib, which is not installed "
                           "(pip install matplotlib)") from None
    return plt


def write_plot(plt, results, path):
    """One panel per problem: seconds against n for f and each mode, on log-log axes."""
    problems = list(dict.fromkeys(r["problem"] for r in results))
    ncols = min(2, len(problems))
    nrows = -(-len(problems) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 4.2 * nrows), squeeze=False)
    for ax in axes.flat[len(problems):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, problems):
        rows = sorted((r for r in results if r["problem"] == name), key=lambda r: r["n"])
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["f_seconds"] for r in rows], "k--", marker=".", label="f")
        for mode in TIMED_MODES:
            points = [(r["n"], r["times"][mode]["seconds"]) for r in rows
                      if r["times"][mode]["seconds"] is not None]
            if points:
                # auto repeats forward or reverse: dotted, so the line under it shows
                ax.plot(*zip(*points), marker="o", linestyle=":" if mode == "auto" else "-",
                        label=mode)
        ms = {r["m"] for r in rows}
        size = f"m = {ms.pop()}" if len(ms) == 1 else \
            "m = n" if all(r["m"] == r["n"] for r in rows) else "m varies"
        ax.set(xscale="log", yscale="log", xlabel="n (inputs)", ylabel="seconds",
               title=f"{name} ({size})")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as e:
        raise CompareError(f"cannot write the plot to {path!r}: {e}") from None
    finally:
        plt.close(fig)


class _Progress:
    """Progress on stderr, one overwritten line on a terminal, full lines with --verbose."""

    def __init__(self, verbose):
        self.tty = sys.stderr.isatty()
        self.on = self.tty or verbose

    def __call__(self, message):
        if not self.on:
            return
        if self.tty:
            sys.stderr.write(f"\r\033[K{message}")
        else:
            sys.stderr.write(message + "\n")
        sys.stderr.flush()

    def done(self):
        if self.on and self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# ---------------------------------------------------------------------------------------------
# the commands
# ---------------------------------------------------------------------------------------------

def _list_problems():
    width = max(map(len, PROBLEMS))
    for p in PROBLEMS.values():
        text = f"{p.description} (n = {', '.join(map(str, p.sizes))})"
        print("\n".join(_wrap(text, indent=f"{p.name.ljust(width)}  ",
                               more=" " * (width + 2))))


def _cases(args, settings):
    if args.function is not None:
        if args.problem is not None:
            raise CompareError("give either MODULE:FUNCTION or --problem, not both")
        return [user_case(args)]
    if args.shape or args.point is not None:
        raise CompareError("--shape and --point describe the arguments of MODULE:FUNCTION; "
                           "give the function too")
    if args.problem is None:
        return builtin_cases(list(PROBLEMS), settings)
    if args.problem not in PROBLEMS:
        raise CompareError(f"unknown problem {args.problem!r}; choose from "
                           f"{', '.join(PROBLEMS)}")
    return builtin_cases([args.problem], settings)


def compare(args):
    """``dualad compare``: measure, then print the tables or the JSON document."""
    if args.list:
        _list_problems()
        return 0
    plt = None
    if args.plot is not None:
        plt = _import_pyplot()  # fail before the slow part
        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder):
            raise CompareError(f"cannot write the plot to {args.plot!r}: no directory "
                               f"{folder!r}")
    progress = _Progress(args.verbose)
    settings = Settings(repeats=args.repeats or (_QUICK_REPEATS if args.quick else 5),
                        quick=args.quick, seed=args.seed, progress=progress)
    if args.quick:
        settings.min_time = _QUICK_MIN_TIME
    cases = _cases(args, settings)
    results = []
    try:
        for k, case in enumerate(cases, 1):
            settings.progress = lambda msg, k=k: progress(f"[{k}/{len(cases)}] {msg}")
            results.append(measure(case, settings))
    finally:
        progress.done()
    if plt is not None:
        write_plot(plt, results, args.plot)
    if args.json:
        print(json.dumps(document(results, settings), indent=2, allow_nan=False))
    else:
        print(format_report(results, settings))
    wrong = [f"{r['label']} ({', '.join(r['wrong_modes'])})" for r in results
             if r["wrong_modes"]]
    if wrong:
        print(f"{_PROG} compare: WRONG derivatives: {'; '.join(wrong)}", file=sys.stderr)
        return 1
    return 0


_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread():
    """A context running BLAS on one thread, unless the user chose a thread count.

    Small matrix products on a multithreaded BLAS are erratic on a shared machine (10–30×
    slowdowns seen on 2 cores), which would make the timing table say more about the machine
    than about the modes. threadpoolctl sets the loaded BLAS's thread count in this process
    and restores it on exit: no re-executing the command (the interpreter started and imported
    everything twice, a debugger attached to the first process lost it), and ``main(argv)``
    called from Python gets one thread too.
    """
    if any(v in os.environ for v in _BLAS_THREAD_VARS):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # (its scan of loaded libraries: only here)
    return threadpool_limits(limits=1, user_api="blas")


def main(argv=None):
    """Entry point of the ``dualad`` console script; returns the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # a user's message may hold characters a legacy console encoding lacks: never crash on it
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with _one_blas_thread():
            return compare(args)
    except CompareError as e:
        # one line, whatever the user's exception message looked like
        print(f"{_PROG} compare: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_PROG} compare: interrupted", file=sys.stderr)
        return 130
