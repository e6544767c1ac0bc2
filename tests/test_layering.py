"""The packages import only downwards (DESIGN's layering), and never from inside a function.

A function-level import of the project is how a cycle hides: the module imports fine, and the
cycle is there all the same. The layers, lowest first, are :data:`LAYERS`; a module belongs to
the longest entry that prefixes its name. An import between two entries must point to a lower
layer; the imports inside one entry must form no cycle.
"""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("dualad", "reverse", "nn")

#: lowest first; each tuple is one layer, each name in it one component
LAYERS = [
    ("dualad.ops", "dualad.pytree"),  # the op table, and the pytree helper
    ("dualad",),  # the package's __init__ loads the table; the rest on first use (PEP 562)
    ("dualad.front", "dualad.numeric", "dualad.parallel", "dualad.numpy"),  # both modes share
    ("dualad.dual", "reverse"),  # forward mode and the tape, both over the table
    ("dualad.transforms",),  # choose a mode
    ("dualad.custom", "dualad.checking", "dualad.staging", "dualad.sparsity"),
    ("dualad.examples", "dualad.benchmarks"),
    ("dualad.compare",),
    ("dualad.cli",),
    ("dualad.__main__",),
    ("nn",),
    ("nn.benchmarks",),
]
RANK = {name: k for k, layer in enumerate(LAYERS) for name in layer}


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path):
    return path.name == "__init__.py"


SOURCES = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def component(name):
    best = max((c for c in RANK if name == c or name.startswith(c + ".")), key=len, default=None)
    assert best is not None, f"{name} is in no layer of tests/test_layering.py: add it"
    return best


def resolve(node, name, path):
    """The project modules an import statement in module ``name`` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] in PACKAGES]
    if node.level:
        base = name.split(".") if is_package(path) else name.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module
    if target is None or target.split(".")[0] not in PACKAGES:
        return []
    # ``from pkg import sub`` loads pkg.sub when that is a module
    subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in SOURCES]
    return subs or [target]


def imports(name, path):
    """``(top_level, nested)``: the project modules imported at module level, and the
    ``(line, module)`` of each import inside a function or class body."""
    tree = ast.parse(path.read_text(), str(path))
    top, nested = [], []

    def walk(node, inside):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in resolve(child, name, path):
                    (nested.append((child.lineno, target)) if inside else top.append(target))
            walk(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                     ast.ClassDef, ast.Lambda)))
    walk(tree, False)
    return top, nested


GRAPH = {name: imports(name, path) for name, path in SOURCES.items()}


def test_every_module_has_a_layer():
    for name in SOURCES:
        component(name)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_function_level_project_import(name):
    nested = GRAPH[name][1]
    assert not nested, f"{name} imports {nested} inside a function: import at the top (a " \
                       f"cycle it dodged is a layering bug to fix, not to hide)"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_imports_point_down(name):
    mine = component(name)
    for target in GRAPH[name][0]:
        theirs = component(target)
        if theirs != mine:
            assert RANK[theirs] < RANK[mine], \
                f"{name} (layer {RANK[mine]}, {mine}) imports {target} (layer {RANK[theirs]})"


def test_no_import_cycle():
    state = {}

    def visit(name, stack):
        state[name] = "open"
        for target in GRAPH.get(name, ((), ()))[0]:
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, stack + [target])
        state[name] = "done"

    for name in SOURCES:
        if name not in state:
            visit(name, [name])


def _loaded_after(statement):
    code = (f"import sys; {statement}; print(' '.join(sorted(m for m in sys.modules "
            f"if m.split('.')[0] in {PACKAGES!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return set(out.stdout.split())


def test_the_op_table_loads_alone():
    loaded = _loaded_after("import dualad.ops")
    assert "dualad.ops.core" in loaded
    assert {m for m in loaded if m != "dualad" and not m.startswith("dualad.ops")} == set()


@pytest.mark.parametrize("first", ["reverse", "nn", "dualad.transforms", "dualad.staging",
                                   "dualad.sparsity"])
def test_any_package_imports_first(first):
    # a cycle through a package's __init__ fails only for some import orders: try each first
    loaded = _loaded_after(f"import {first}")
    assert first in loaded
    assert not any(m.startswith("nn") for m in loaded) or first.startswith("nn")


def test_a_checked_test_can_fail():
    # the checks above see a nested import and an upward one when there is one
    src = "def f():\n    from reverse import vjp\n"
    tree = ast.parse(src)
    inner = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)][0]
    assert resolve(inner, "dualad.x", ROOT / "dualad" / "x.py") == ["reverse"]
    assert RANK[component("dualad.transforms")] > RANK[component("reverse.tape")]
    assert RANK[component("nn.functional")] > RANK[component("dualad.cli")]
