"""Notebook 02's section on ad.trace: the recorded equations, the derivative programs of the
seed function and of the logistic map against the hand-derived formulas."""
import math

from test_notebooks import run  # one execution of the notebook, shared with its other tests


def test_02_staged_trace_section():
    r = run("02_traces")
    assert r["staged_ops"] == ["numpy.log", "numpy.multiply", "numpy.sin", "numpy.add",
                               "numpy.subtract"]
    assert math.isclose(r["staged_y"], 11.652071455223084, rel_tol=1e-15)
    d1, d2 = r["staged_grad"]
    assert d1 == 5.5 and math.isclose(d2, 2.0 - math.cos(5.0), rel_tol=1e-15)
    assert r["staged_matches_formula"] is True
    assert r["logistic_staged_matches"] is True
