"""`dualad compare`, run as a user runs it: ``python -m dualad compare ...`` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODES = ["forward", "reverse", "auto", "central", "complex"]
PROBLEM_KEYS = {"label", "problem", "description", "n", "m", "shapes", "kind", "f_seconds",
                "times", "available", "auto_mode", "fastest_mode", "fastest_is_clear",
                "auto_was_fastest", "auto_missed", "reference", "errors", "error_vs_reference",
                "expected_accuracy", "verdicts", "wrong_modes", "jit", "sparse",
                "jacobian_max_abs", "value", "jacobian", "notes"}

USER_MODULE = '''
import numpy as np

W = np.arange(12.0).reshape(3, 4)

def sinsum(x):
    return np.sin(x) * np.sum(x)

def matvec(a, b):
    return np.tanh(a @ b)

def needs4(x):
    return W @ x

def text(x):
    return "not an array"

def nothing(x):
    return None

def eig(x):
    return np.linalg.eig(np.outer(x, x) + np.eye(x.size))[0]

def log_shifted(x):
    return np.log(x - 5.0)

def angle(x):
    return np.arctan2(x, 2.0)

def kink(x):
    return np.abs(x - 0.5) * x

not_callable = 3
'''


def run(*args, cwd=ROOT, pythonpath=()):
    """``python -m dualad compare ARGS`` with the repository (and ``pythonpath``) importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), str(ROOT)])
    env.pop("PYTHONSTARTUP", None)
    # one BLAS thread: nothing here measures speed, and idle BLAS threads spin on a busy CI box
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return subprocess.run([sys.executable, "-m", "dualad", "compare", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def run_json(*args, **kw):
    res = run(*args, "--json", "--quick", **kw)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture
def usermod(tmp_path):
    """A directory holding ``usermod.py`` with the functions above."""
    (tmp_path / "usermod.py").write_text(USER_MODULE)
    return tmp_path


# ---------------------------------------------------------------------------------------------
# the built-in problems
# ---------------------------------------------------------------------------------------------

def test_default_run_prints_every_mode_and_the_auto_pick():
    res = run("--quick")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # progress only on a terminal or with --verbose
    out = res.stdout
    header = next(line for line in out.splitlines() if line.startswith("problem") and
                  "forward" in line)
    for column in MODES + ["auto picks", "fastest", "f(x)"]:
        assert column in header
    for label in ("helmholtz n=5", "helmholtz n=20", "wide n=2", "square n=16", "seed"):
        assert label in out
    assert "auto picked the faster AD mode (or one within the timing noise of it) in" in out
    # the seed row ends "auto picks, fastest": auto picks reverse (2 inputs, 1 output)
    seed_row = next(line for line in out.splitlines() if line.startswith("seed "))
    assert seed_row.split()[-2] == "reverse"
    assert seed_row.split()[-1] in ("forward", "reverse", "tie")
    # the error table uses the complex step as reference for these analytic functions, and
    # every row's verdict is ok
    last_seed = next(line for line in out.splitlines()[::-1] if line.startswith("seed "))
    assert "complex" in last_seed and last_seed.split()[-1] == "ok"
    assert "WRONG" not in out
    assert max(len(line) for line in out.splitlines()) <= 100
    jit_header = next(line for line in out.splitlines() if "trace + compile" in line)
    assert jit_header.split()[0] == "problem" and "replay" in jit_header


def test_json_seed_gradient_and_agreement():
    doc = run_json("--problem", "seed")
    assert set(doc) == {"dualad_version", "numpy_version", "settings", "modes", "problems"}
    assert doc["modes"] == MODES
    assert doc["settings"] == {"repeats": 3, "quick": True, "seed": 0}
    (p,) = doc["problems"]
    assert set(p) == PROBLEM_KEYS
    assert (p["n"], p["m"], p["kind"], p["shapes"]) == (2, 1, "gradient", [[], []])
    np.testing.assert_allclose(p["value"], np.log(2) + 10 - np.sin(5), rtol=1e-14)
    np.testing.assert_allclose(p["jacobian"], [[5.5, 2 - np.cos(5)]], rtol=1e-14)
    assert p["auto_mode"] == "reverse" and p["reference"] == "complex"
    assert all(p["available"].values())
    for a in MODES:
        assert set(p["errors"][a]) == set(MODES)
        assert p["errors"][a][a] == 0
        for b in MODES:
            assert p["errors"][a][b] <= 1e-6, (a, b)
    assert p["errors"]["forward"]["reverse"] <= 1e-14
    for k in MODES:
        t = p["times"][k]
        assert t["seconds"] > 0 and t["ratio_to_f"] == pytest.approx(t["seconds"] /
                                                                   p["f_seconds"])
        assert t["spread"] >= 0
    assert p["fastest_mode"] in ("forward", "reverse")
    assert p["auto_was_fastest"] == (p["fastest_mode"] == "reverse")
    gap = abs(p["times"]["forward"]["seconds"] - p["times"]["reverse"]["seconds"])
    assert p["fastest_is_clear"] == (gap > p["times"]["forward"]["spread"] +
                                     p["times"]["reverse"]["spread"])
    assert p["auto_missed"] == (p["fastest_is_clear"] and not p["auto_was_fastest"])
    assert p["verdicts"] == {"forward": "ok", "reverse": "ok", "auto": "ok", "central": None,
                             "complex": None}
    assert p["wrong_modes"] == [] and 0 < p["expected_accuracy"] < 1e-6
    # the staged column: ad.jit of auto's pick, its trace timed apart from its replays
    jit = p["jit"]
    assert jit["verdict"] == "ok" and jit["error_vs_reference"] <= 1e-12
    assert jit["trace_seconds"] > 0 and jit["seconds"] > 0
    assert jit["ratio_to_f"] == pytest.approx(jit["seconds"] / p["f_seconds"])


def test_json_builtin_problems_show_each_modes_side():
    doc = run_json()
    by_label = {p["label"]: p for p in doc["problems"]}
    assert {p["problem"] for p in doc["problems"]} == {"helmholtz", "wide", "square", "seed",
                                                       "bratu"}
    for p in doc["problems"]:
        assert set(p) == PROBLEM_KEYS
        scale = 1.0 + p["jacobian_max_abs"]
        assert p["errors"]["forward"]["reverse"] <= 1e-12 * scale
        assert p["error_vs_reference"]["forward"] <= 1e-6 * scale
        assert p["auto_mode"] == ("forward" if p["n"] <= p["m"] else "reverse")
    assert by_label["wide n=8"]["auto_mode"] == "forward"
    assert by_label["helmholtz n=20"]["kind"] == "gradient"
    assert by_label["wide n=8"]["m"] == 1024 and by_label["wide n=8"]["jacobian"] is None
    # the sparse column: measured where the Jacobian is sparse, and says so where it is not
    dense = by_label["wide n=8"]["sparse"]
    assert dense["density"] == 1.0 and dense["seconds"] is None and dense["verdict"] is None
    bratu = by_label["bratu n=64"]["sparse"]
    assert bratu["density"] == pytest.approx((5 * 64 - 4 * 8) / 64 ** 2)  # the 5-point stencil
    assert bratu["colors"] == 5 and bratu["verdict"] == "ok"
    assert bratu["pattern_seconds"] > 0 and bratu["ratio_to_f"] > 0
    assert bratu["error_vs_reference"] <= 1e-6 * (1 + by_label["bratu n=64"]["jacobian_max_abs"])


WRONG_RULE_MODULE = '''
import numpy as np
from dualad.ops.core import UFUNC_RULES, elementwise

# a deliberately wrong rule, as a user's mistake would be: d cbrt(x)/dx written as 1/cbrt(x)
UFUNC_RULES[np.cbrt] = elementwise("numpy.cbrt", np.cbrt, lambda ans, x: 1.0 / ans)


def cube_root(x):
    return np.cbrt(x) + x
'''


def test_wrong_derivative_is_flagged_with_exit_status_1(tmp_path):
    (tmp_path / "wrongrule.py").write_text(WRONG_RULE_MODULE)
    point = tmp_path / "x.npy"
    np.save(point, np.array([2.0, 3.0]))
    res = run("wrongrule:cube_root", "--point", point, "--quick", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert "WRONG derivatives: wrongrule:cube_root (forward, reverse, auto, jit)" in res.stderr
    row = next(line for line in res.stdout.splitlines()[::-1]
               if line.startswith("wrongrule:cube_root"))
    assert row.split()[-1] == "WRONG"
    assert "a wrong derivative rule, or f is not differentiable at this point" in res.stdout
    assert max(len(line) for line in res.stdout.splitlines()) <= 100
    res = run("wrongrule:cube_root", "--point", point, "--quick", "--json", cwd=tmp_path)
    assert res.returncode == 1
    (p,) = json.loads(res.stdout)["problems"]
    assert p["wrong_modes"] == ["forward", "reverse", "auto", "jit"]
    assert p["verdicts"]["forward"] == "wrong" and p["reference"] == "central"  # (cbrt: real only)
    # the size of the error is the rule's: (1/cbrt(x) - 1/(3 cbrt(x)^2)) at x = 2
    x = 2.0
    assert p["error_vs_reference"]["forward"] == pytest.approx(
        1 / np.cbrt(x) - 1 / (3 * np.cbrt(x) ** 2), rel=1e-6)


def test_list_names_the_problems():
    res = run("--list")
    assert res.returncode == 0
    lines = [line for line in res.stdout.splitlines() if not line.startswith(" ")]
    assert [line.split()[0] for line in lines] == ["helmholtz", "wide", "square", "seed", "bratu"]
    assert all(len(line.split()) > 3 for line in lines)  # each with a description
    assert max(len(line) for line in res.stdout.splitlines()) <= 100  # wrapped, indented


def test_verbose_shows_progress_on_stderr():
    res = run("--problem", "seed", "--quick", "--verbose")
    assert res.returncode == 0
    assert "[1/1] seed: forward" in res.stderr and "seed: complex" in res.stderr


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "times.png"
    res = run("--problem", "helmholtz", "--quick", "--plot", out)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
    assert "helmholtz n=20" in res.stdout  # the table still goes to stdout


def test_plot_without_matplotlib_is_one_line(tmp_path):
    # a package that fails to import hides the installed matplotlib from the subprocess
    fake = tmp_path / "hide" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    res = run("--problem", "seed", "--quick", "--plot", tmp_path / "x.png",
              pythonpath=[tmp_path / "hide"])
    assert_usage_error(res, "needs matplotlib")
    assert not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------------------------------------
# a user's function
# ---------------------------------------------------------------------------------------------

def sinsum_jacobian(x):
    return np.diag(np.cos(x) * x.sum()) + np.sin(x)[:, None]


def test_user_function_from_the_current_directory(usermod):
    doc = run_json("usermod:sinsum", "--shape", "5", "--seed", "3", cwd=usermod)
    (p,) = doc["problems"]
    assert (p["label"], p["n"], p["m"], p["kind"]) == ("usermod:sinsum", 5, 5, "jacobian")
    x = np.random.default_rng(3).uniform(0.1, 1.0, 5)  # the documented random point
    np.testing.assert_allclose(p["value"], np.sin(x) * x.sum(), rtol=1e-14)
    np.testing.assert_allclose(p["jacobian"], sinsum_jacobian(x), rtol=1e-12)
    assert p["auto_mode"] == "forward"
    assert max(p["error_vs_reference"].values()) <= 1e-6


def test_user_function_table(usermod):
    res = run("usermod:sinsum", "--shape", "4", "--quick", cwd=usermod)
    assert res.returncode == 0, res.stderr
    assert "usermod:sinsum" in res.stdout and "auto picks" in res.stdout


def test_user_function_of_two_arguments_via_pythonpath(usermod, tmp_path):
    doc = run_json("usermod:matvec", "--shape", "3,4", "--shape", "4", pythonpath=[usermod])
    (p,) = doc["problems"]
    assert (p["n"], p["m"], p["shapes"]) == (16, 3, [[3, 4], [4]])
    assert p["auto_mode"] == "reverse"
    assert max(p["error_vs_reference"].values()) <= 1e-6


def test_complex_step_left_out_when_f_rejects_complex_input(usermod):
    doc = run_json("usermod:angle", "--shape", "3", cwd=usermod)
    (p,) = doc["problems"]
    assert p["available"]["complex"] is False and p["reference"] == "central"
    assert p["times"]["complex"] == {"seconds": None, "spread": None, "ratio_to_f": None}
    assert p["errors"]["forward"]["complex"] is None
    assert any("complex" in note for note in p["notes"])
    assert p["error_vs_reference"]["forward"] <= 1e-8


def test_complex_step_not_trusted_on_a_non_analytic_f(usermod):
    # np.abs runs on complex input but is not analytic: its complex step is wrong
    doc = run_json("usermod:kink", "--shape", "3", cwd=usermod)
    (p,) = doc["problems"]
    assert p["reference"] == "central"
    assert any("complex step disagrees with central" in note for note in p["notes"])
    assert p["error_vs_reference"]["forward"] <= 1e-8
    assert p["errors"]["forward"]["complex"] > 0.1


def test_point_from_npy(usermod):
    x = np.array([0.5, -1.0, 2.0])
    np.save(usermod / "x.npy", x)
    doc = run_json("usermod:sinsum", "--point", "x.npy", cwd=usermod)
    (p,) = doc["problems"]
    np.testing.assert_allclose(p["value"], np.sin(x) * x.sum(), rtol=1e-14)
    np.testing.assert_allclose(p["jacobian"], sinsum_jacobian(x), rtol=1e-12)
    assert "x.npy" in p["description"]


def test_point_from_npz_for_two_arguments(usermod):
    a, b = np.arange(6.0).reshape(2, 3) / 10, np.array([1.0, -2.0, 0.5])
    np.savez(usermod / "ab.npz", a, b)
    doc = run_json("usermod:matvec", "--point", "ab.npz", cwd=usermod)
    (p,) = doc["problems"]
    np.testing.assert_allclose(p["value"], np.tanh(a @ b), rtol=1e-14)
    assert p["shapes"] == [[2, 3], [3]]


def test_integer_point_is_taken_as_float(usermod):
    np.save(usermod / "i.npy", np.array([1, 2, 3]))
    doc = run_json("usermod:sinsum", "--point", "i.npy", cwd=usermod)
    np.testing.assert_allclose(doc["problems"][0]["jacobian"],
                               sinsum_jacobian(np.array([1.0, 2.0, 3.0])), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# bad input: one line on stderr, exit status 2, no traceback
# ---------------------------------------------------------------------------------------------

def assert_usage_error(res, *fragments):
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("dualad compare: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


BAD_INPUT = {
    "unimportable module": (["no_such_module_xyz:f", "--shape", "3"],
                            ["cannot import module 'no_such_module_xyz'"]),
    "missing function": (["usermod:nope", "--shape", "3"], ["has no function 'nope'"]),
    "not callable": (["usermod:not_callable", "--shape", "3"], ["not a function"]),
    "no colon": (["usermod", "--shape", "3"], ["expected MODULE:FUNCTION"]),
    "empty function": (["usermod:", "--shape", "3"], ["expected MODULE:FUNCTION"]),
    "shape that does not fit": (["usermod:needs4", "--shape", "5"],
                                ["ValueError", "matmul", "(5,)"]),
    "returns a string": (["usermod:text", "--shape", "3"], ["returned str, not an array"]),
    "returns None": (["usermod:nothing", "--shape", "3"], ["returned NoneType"]),
    "op without a rule": (["usermod:eig", "--shape", "3"],
                          ["no JVP rule for numpy.linalg.eig"]),
    "not finite at the point": (["usermod:log_shifted", "--shape", "3"], ["not finite"]),
    "no shape": (["usermod:sinsum"], ["--shape"]),
    "malformed shape": (["usermod:sinsum", "--shape", "3,x"], ["bad --shape '3,x'"]),
    "missing point file": (["usermod:sinsum", "--point", "missing.npy"],
                           ["cannot read --point file 'missing.npy'"]),
    "garbage point file": (["usermod:sinsum", "--point", "garbage.npy"],
                           ["cannot read --point file 'garbage.npy'"]),
    "npz with names": (["usermod:matvec", "--point", "named.npz"], ["arr_0, arr_1"]),
    "point and shape disagree": (["usermod:sinsum", "--point", "x.npy", "--shape", "4"],
                                 ["--shape gives (4,)"]),
    "complex point": (["usermod:sinsum", "--point", "z.npy"], ["complex128"]),
    "unknown problem": (["--problem", "nope"],
                        ["unknown problem 'nope'", "helmholtz, wide, square, seed"]),
    "function and problem": (["usermod:sinsum", "--shape", "3", "--problem", "seed"],
                             ["not both"]),
    "shape without function": (["--shape", "3"], ["give the function too"]),
    "plot into a missing folder": (["--problem", "seed", "--plot", "no/such/dir/p.png"],
                                   ["no directory"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(usermod, case):
    if case == "plot into a missing folder":
        pytest.importorskip("matplotlib")
    (usermod / "garbage.npy").write_text("this is not an array file\n")
    np.savez(usermod / "named.npz", a=np.ones(2), b=np.ones(2))
    np.save(usermod / "x.npy", np.ones(3))
    np.save(usermod / "z.npy", np.ones(3) * 1j)
    args, fragments = BAD_INPUT[case]
    assert_usage_error(run(*args, "--quick", cwd=usermod), *fragments)


def test_no_command_prints_help_and_exits_2():
    res = subprocess.run([sys.executable, "-m", "dualad"], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2 and "compare" in res.stderr and "Traceback" not in res.stderr
