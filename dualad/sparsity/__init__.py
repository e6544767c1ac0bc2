"""Sparse Jacobians and Hessians: sparsity detection on the op table, coloring, compressed lanes.

=============================  ==========================================================
module                         what it holds
=============================  ==========================================================
:mod:`~.patterns`              index-set arithmetic on boolean CSR patterns
:mod:`~.rules`                 the sparsity rule of each kind of primitive
:mod:`~.detect`                the sparsity tracer, ``jacobian_sparsity``, ``hessian_sparsity``
=============================  ==========================================================
"""
from .detect import SparsityTracer, hessian_sparsity, jacobian_sparsity

__all__ = ["SparsityTracer", "jacobian_sparsity", "hessian_sparsity"]
