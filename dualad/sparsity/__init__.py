"""Sparse Jacobians and Hessians: sparsity detection on the op table, coloring, compressed lanes.

=============================  ==========================================================
module                         what it holds
=============================  ==========================================================
:mod:`~.patterns`              index-set arithmetic on boolean CSR patterns
:mod:`~.rules`                 the sparsity rule of each kind of primitive
:mod:`~.detect`                the sparsity tracer, ``jacobian_sparsity``, ``hessian_sparsity``
:mod:`~.coloring`              column, row and symmetric colorings of a pattern
:mod:`~.evaluate`              ``sparse_jacobian``, ``sparse_hessian``: compressed lanes
=============================  ==========================================================
"""
from .coloring import Coloring, column_coloring, row_coloring, star_coloring
from .detect import SparsityTracer, hessian_sparsity, jacobian_sparsity
from .evaluate import sparse_hessian, sparse_jacobian

__all__ = ["SparsityTracer", "jacobian_sparsity", "hessian_sparsity", "sparse_jacobian",
           "sparse_hessian", "Coloring", "column_coloring", "row_coloring", "star_coloring"]
