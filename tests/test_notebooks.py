"""The notebooks under ``notebooks/`` run end to end and show what they say they show.

Each notebook is executed once (with nbclient, kernel ``python3``, working directory
``notebooks/``) in quick mode (``DUALAD_QUICK=1``: small sizes, few repeats, few epochs), with
this checkout first on the kernel's ``PYTHONPATH``. Its last cell prints one line
``RESULTS {json}`` with the key numbers, which the tests below parse and check. What the
timings illustrate is checked through the cost model behind them (counts of f's evaluations,
of sweeps and lanes), never as wall time: a test must not pass or fail on the machine's load
(the timings belong to the benchmarks, ``python -m dualad.benchmarks.*``).

The committed notebooks must carry no outputs (they are executed here, not stored executed).
"""
from __future__ import annotations

import functools
import json
import math
import os
import pathlib

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
for _module in ("ipykernel", "matplotlib", "sklearn"):
    pytest.importorskip(_module)

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["01_four_ways", "02_traces", "03_costs", "04_lanes", "05_verifying", "06_training",
         "07_sparse"]
EPS = np.finfo(np.float64).eps


@functools.lru_cache(maxsize=None)
def run(name):
    """Execute notebook ``name`` once; return the dict of its ``RESULTS`` line."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    saved = {k: os.environ.get(k) for k in ("DUALAD_QUICK", "PYTHONPATH", "MPLBACKEND")}
    os.environ["DUALAD_QUICK"] = "1"
    os.environ["MPLBACKEND"] = "Agg"  # the notebooks switch to inline; never a GUI backend
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))
    try:
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    lines = [line for cell in nb.cells if cell.cell_type == "code"
             for out in cell.get("outputs", []) if out.get("output_type") == "stream"
             for line in out.get("text", "").splitlines() if line.startswith("RESULTS ")]
    assert len(lines) == 1, f"{name}: expected one RESULTS line, found {len(lines)}"
    return json.loads(lines[0][len("RESULTS "):])


def close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel)


# ---------------------------------------------------------------------------------------------
# the committed files
# ---------------------------------------------------------------------------------------------

def test_the_notebooks_are_there():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_stripped(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell has outputs; strip them"
            assert cell.execution_count is None, f"{name}: a code cell has an execution count"
    assert nb.cells[0].cell_type == "markdown" and "What you should see" in nb.cells[0].source


# ---------------------------------------------------------------------------------------------
# 1. four ways to differentiate
# ---------------------------------------------------------------------------------------------

def test_01_manual_equals_ad():
    r = run("01_four_ways")
    assert close(r["manual"], r["ad"], 1e-13)
    assert close(r["forward_tangent"], r["ad"], 1e-13)
    assert close(r["ad"], 9.0660864, 1e-12)


def test_01_optimum_steps_near_theory():
    r = run("01_four_ways")
    # central differences: h* ~ eps^(1/3) * scale, forward differences: h* ~ eps^(1/2) * scale
    central = EPS ** (1 / 3) * r["scale_central"]
    forward = EPS ** 0.5 * r["scale_forward"]
    assert central / 10 < r["h_opt_central"] < central * 10
    assert forward / 10 < r["h_opt_forward"] < forward * 10
    assert r["h_opt_forward"] < r["h_opt_central"]
    assert r["best_error_central"] < r["best_error_forward"] / 10


def test_01_expression_swell_vs_constant_ad_cost():
    rows = run("01_four_ways")["swell"]
    assert [row["n"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [row["simplified_terms"] for row in rows] == [1, 2, 4, 8, 16, 32]
    trees = [row["tree_dl"] for row in rows]
    assert all(b > 2 * a for a, b in zip(trees[1:], trees[2:]))  # exponential swell
    assert [row["ad_ops"] for row in rows] == [0, 3, 6, 9, 12, 15]  # 3 ops per step


# ---------------------------------------------------------------------------------------------
# 2. traces: S1 Tables 2 and 3
# ---------------------------------------------------------------------------------------------

def test_02_table2_forward_trace():
    r = run("02_traces")
    ln2, sin5 = math.log(2.0), math.sin(5.0)
    expected = {"v1": (ln2, 0.5), "v2": (10.0, 5.0), "v3": (sin5, 0.0),
                "v4": (10.0 + ln2, 5.5), "v5": (10.0 + ln2 - sin5, 5.5)}
    assert set(r["table2"]) == set(expected)
    for name, (value, tangent) in expected.items():
        assert close(r["table2"][name][0], value), name
        assert close(r["table2"][name][1], tangent), name
    assert close(r["y"], 11.652071455223084) and round(r["y"], 3) == 11.652
    assert r["ydot"] == 5.5


def test_02_table3_adjoint_trace():
    r = run("02_traces")
    x2bar = 2.0 - math.cos(5.0)  # x1 - cos x2 = 1.7163...
    expected = {"v5": 1.0, "v4": 1.0, "v3": -1.0, "v2": 1.0, "v1": 1.0, "v0": x2bar,
                "v-1": 5.5}
    assert set(r["table3"]) == set(expected)
    for name, value in expected.items():
        assert close(r["table3"][name], value), name
    assert close(r["xbar"][0], 5.5) and close(r["xbar"][1], x2bar)
    assert round(r["xbar"][1], 3) == 1.716
    assert r["walk_matches_backward"] is True
    for key in ("backward_grad", "grad_reverse", "lanes_gradient"):
        assert np.allclose(r[key], [5.5, x2bar], rtol=1e-12), key
    assert r["dot_ops"] == 5


# ---------------------------------------------------------------------------------------------
# 3. costs: S1 Table 4 and the n/m crossover
# ---------------------------------------------------------------------------------------------

def test_03_table4_reverse_bounded_forward_grows():
    r = run("03_costs")
    table = r["table4"]
    ns = [row["n"] for row in table]
    assert ns[:8] == [1, 8, 15, 22, 29, 36, 43, 50] and ns[-1] > 50
    assert r["helmholtz"]["max_rel_diff"] < 1e-6  # the gradients agree
    # the cost model behind the timed table, as counts of f's evaluations: forward sweeps and
    # finite differences grow with n, one lane pass and one reverse sweep do not
    # (the timings themselves are the benchmarks' business: python -m dualad.benchmarks.reverse)
    for row in table:
        calls, n = row["calls"], row["n"]
        assert calls["fwd_sweeps"] == n
        assert calls["numerical"] == 2 * n  # central differences: two evaluations per entry
        assert calls["fwd_lanes"] == 1 and calls["reverse"] == 1
        for key in ("numerical", "fwd_sweeps", "fwd_lanes", "reverse"):
            assert row[key] > 0 and math.isfinite(row[key])


def test_03_jacobian_crossover_and_auto():
    rows = run("03_costs")["jacobians"]
    assert rows[0]["n"] < rows[0]["m"] and rows[-1]["n"] > rows[-1]["m"]
    for row in rows:
        # auto takes the side with fewer lanes: n forward lanes against m reverse cotangents
        assert row["auto_mode"] == ("forward" if row["n"] <= row["m"] else "reverse")
        assert row["error"] < 1e-12
        assert row["fastest"] in ("forward", "reverse")


# ---------------------------------------------------------------------------------------------
# 4. lanes
# ---------------------------------------------------------------------------------------------

def test_04_lanes_equal_loop_in_one_pass():
    r = run("04_lanes")
    assert r["lanes_vs_loop_max_diff"] < 1e-12 and r["lanes_error"] < 1e-12
    # n JVPs pass through f n times; the lanes carry all n directions through it once
    assert r["loop_passes"] == 64 and r["lanes_passes"] == 1


def test_04_chunk_trades_memory_for_passes():
    rows = run("04_lanes")["chunks"]
    first, last = rows[0], rows[-1]
    assert first["chunk"] == 1 and last["sweeps"] == 1
    assert all(row["error"] < 1e-12 for row in rows)
    # one pass through f per chunk of lanes (counted), and the peak memory grows with the chunk
    assert [row["sweeps"] for row in rows] == [-(-256 // row["chunk"]) for row in rows]
    assert last["peak_mb"] > 2 * first["peak_mb"]


def test_04_hessians_agree():
    r = run("04_lanes")
    assert r["hessian_max_diff"] < 1e-10
    for row in r["hessians"]:
        assert row["hvp diff"] < 1e-10 and row["asymmetry"] < 1e-12


# ---------------------------------------------------------------------------------------------
# 5. verifying
# ---------------------------------------------------------------------------------------------

def test_05_check_grads_catches_wrong_rules():
    r = run("05_verifying")
    for key in ("correct_passes", "my_sin_passes", "wrong_sign_caught", "off_by_0.1%_caught",
                "reverse_mode_caught", "nested_order1_passes", "nested_order2_caught",
                "kink_check_passes"):
        assert r[key] is True, key


def test_05_methods_accuracy():
    r = run("05_verifying")
    d = r["default_steps"]
    assert d["complex"]["error"] < 1e-14
    assert d["richardson"]["error"] < 1e-9
    assert d["central"]["error"] < 1e-8
    assert d["forward"]["error"] < 1e-6
    assert d["central"]["error"] < d["forward"]["error"]
    assert r["complex_max_error_tiny_h"] < 1e-14


def test_05_kink():
    r = run("05_verifying")
    k = r["kink"]
    assert k["AD forward"] == 0.0 and k["AD reverse"] == 0.0
    assert k["numeric forward"] == 1.0 and k["numeric central"] == 0.0
    near = r["near_kink"]
    assert abs(near["central, step 1e-3"] - 0.1) < 1e-9
    assert abs(near["central, default step"] - 1.0) < 1e-9 and near["AD"] == 1.0


# ---------------------------------------------------------------------------------------------
# 6. training
# ---------------------------------------------------------------------------------------------

def test_06_linear_regression_by_hand_equals_library():
    r = run("06_training")
    assert r["linreg_max_diff"] < 1e-12
    assert r["linreg_gd_vs_lstsq"] < 1e-6


def test_06_digits_accuracy():
    r = run("06_training")
    assert r["mlp_accuracy"] > 0.85
    assert r["cnn_accuracy"] > 0.85
    assert r["cnn_grad_error"] < 1e-5


def test_06_conv_methods_and_optimizers():
    r = run("06_training")
    assert r["conv_max_rel_diff"] < 1e-10
    assert {row["method"] for row in r["conv"]} == {"direct", "im2col", "fft", "winograd"}
    opt = r["optimizers"]
    assert opt["Rosenbrock/newton"]["dist"] < 1e-6
    assert opt["Beale/adam"]["fun"] < 1e-3
    assert opt["Rosenbrock/adam"]["fun"] < opt["Rosenbrock/sgd"]["fun"]


# ---------------------------------------------------------------------------------------------
# 7. sparse Jacobians
# ---------------------------------------------------------------------------------------------

def test_07_pattern_and_colors():
    r = run("07_sparse")
    assert r["pattern_exact"] and r["colors"] == r["lower_bound"] == 5
    assert r["nnz"] == 5 * 24 * 24 - 4 * 24


def test_07_newton_converges_quadratically():
    norms = run("07_sparse")["newton_norms"]
    assert norms[-1] < 1e-9
    for r0, r1 in zip(norms, norms[1:]):
        if r1 > 1e-10:  # above the rounding floor, each step squares the residual (scaled)
            assert r1 <= 10 * r0 ** 2
    assert run("07_sparse")["jac_err"] < 1e-12


def test_07_sparse_exact_fd_not_and_dense_grows():
    r = run("07_sparse")
    assert all(e < 1e-12 for e in r["sparse_errors"])
    assert all(1e-14 < e < 1e-6 for e in r["fd_errors"])
    # the cost behind the timed plot: dense jacfwd pushes n lanes, the sparse Jacobian one per
    # color, 5 whatever the grid (a count, not a time: the load of the machine cannot move it)
    assert [row["n"] for row in r["lanes"]] == [64, 256, 1024]
    assert all(row["sparse"] == 5 for row in r["lanes"])


def test_07_least_squares_with_the_sparse_jacobian():
    r = run("07_sparse")
    assert r["lsq_success"] and r["lsq_jac_err"] < 1e-12
