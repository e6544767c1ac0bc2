"""Pointers in the README and the docstrings lead somewhere: every ``python -m MODULE`` names a
module that exists, and every file named by path (or a ``.md`` page) is in the repository
(comments used to cite a DESIGN.md the repository does not hold)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([ROOT / "README.md", *ROOT.glob("dualad/**/*.py"), *ROOT.glob("nn/**/*.py"),
                  *ROOT.glob("reverse/**/*.py"), *ROOT.glob("tests/*.py"),
                  *ROOT.glob("notebooks/*.ipynb")])
SOURCES.remove(Path(__file__).resolve())  # (its docstring names the missing file)
MODULE = re.compile(r"python -m ((?:dualad|nn|reverse)(?:\.\w+)*)")
PATH = re.compile(r"(?<![\w/.-])((?:(?:dualad|nn|reverse|tests|notebooks)/[\w/]+\.\w+)"
                  r"|[\w-]+\.md)\b")


def _found(pattern, group=1):
    return sorted({(m.group(group), p.relative_to(ROOT).as_posix()) for p in SOURCES
                   for m in pattern.finditer(p.read_text(encoding="utf-8"))})


def test_there_are_pointers_to_check():
    assert len(_found(MODULE)) >= 7 and _found(PATH)


@pytest.mark.parametrize("module, where", _found(MODULE))
def test_python_dash_m_names_a_module(module, where):
    if module.endswith(".NAME"):  # "python -m dualad.benchmarks.NAME": the package is real
        module = module[:-5]
    assert importlib.util.find_spec(module) is not None, f"{where}: python -m {module}"


@pytest.mark.parametrize("path, where", _found(PATH))
def test_a_file_named_by_path_exists(path, where):
    assert (ROOT / path).exists(), f"{where} points at {path}, which is not in the repository"
