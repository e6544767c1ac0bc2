"""Staged programs: :func:`trace` records a function (and any transform of it) as a flat list
of op-table primitives, printed as NumPy source and replayed without dispatch; :func:`jit`
caches such programs per signature. See the README's "Staged programs"."""
from .codegen import GuardFailure, UnsavableError
from .jit import MAX_SPECIALIZATIONS, Jitted, jit
from .passes import cse, dce, fold_reshapes, optimize, reuse_buffers, simplify
from .program import Program, trace

__all__ = ["trace", "jit", "Program", "Jitted", "GuardFailure", "UnsavableError", "dce", "cse",
           "simplify", "fold_reshapes", "reuse_buffers", "optimize", "MAX_SPECIALIZATIONS"]
