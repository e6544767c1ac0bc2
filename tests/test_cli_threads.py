"""``dualad compare`` times with one BLAS thread, set in its own process by threadpoolctl
(it used to re-execute the command with OPENBLAS_NUM_THREADS=1, and only from the console)."""
from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import dualad.cli as cli

VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _blas_threads():
    counts = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert len(counts) == 1, counts
    return counts.pop()


@pytest.fixture
def seen(monkeypatch):
    for v in VARS:
        monkeypatch.delenv(v, raising=False)
    out = []
    monkeypatch.setattr(cli, "compare", lambda args: out.append(_blas_threads()) or 0)
    monkeypatch.setattr(cli.os, "execve", lambda *a: pytest.fail("compare re-executed itself"))
    return out


def test_compare_runs_on_one_blas_thread_and_restores_the_count(seen):
    with threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() == 2
        assert cli.main(["compare", "--quick"]) == 0
        assert seen == [1]
        assert _blas_threads() == 2  # the caller's count again


@pytest.mark.parametrize("var", VARS)
def test_a_thread_count_the_user_chose_is_left_alone(seen, monkeypatch, var):
    monkeypatch.setenv(var, "2")
    with threadpool_limits(limits=2, user_api="blas"):
        assert cli.main(["compare", "--quick"]) == 0
    assert seen == [2]
