"""The argument front of every transform, below both modes.

What a transform does with its arguments and its outputs before and after it runs a mode
lives here once, for forward mode (:mod:`dualad.transforms`) and the reverse tape
(:mod:`reverse.functional`) alike:

* ``argnums`` and pytrees: :class:`Args` splits a call's arguments into the differentiated
  leaves and the rest, and arranges derivatives back into the arguments' structure;
* dtype checks of differentiated leaves (:func:`as_leaf`: Python floats are 0-d float64,
  integers and booleans are constants and asking for their derivative raises ``TypeError``);
* the output checks of ``grad`` (:func:`check_scalar_output`, :func:`output_check` with
  ``holomorphic=``) and of every transform (:func:`check_numeric_output`);
* ``has_aux``: :func:`split_aux` takes ``(output, aux)`` apart, :func:`strip_tree` takes a
  mode's perturbation off the auxiliary outputs;
* :func:`grad_function` and :func:`value_and_grad_function`: the functions ``grad`` and
  ``value_and_grad`` return, built on one mode's ``gradient``. ``reverse.grad`` is the one of
  the tape; ``dualad.grad(mode="reverse")`` returns it.

This module imports only the op table (:mod:`dualad.ops`) and :mod:`dualad.pytree`.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .ops import Tracer, check_live
from .ops.core import shape_of
from .pytree import _PLAIN_LEAVES, tree_flatten, tree_map, tree_unflatten

# hot paths use module-level names: ``np.X`` lookups are slow (see dualad/ops/core.py)
_ndarray = np.ndarray
_float64 = np.float64
_float64_dtype = np.dtype(np.float64)

__all__ = ["MODES", "DERIVATIVE_MODES", "check_mode", "as_leaf", "Args", "split_aux",
           "strip_tree", "as_arrays", "check_scalar_output", "check_numeric_output", "output_check",
           "grad_function", "value_and_grad_function"]

#: the two modes of automatic differentiation: the modes a gradient can be taken in, the ones
#: ``check_grads`` checks and ``dualad compare``'s auto chooses between
MODES = ("forward", "reverse")
#: how ``jacobian`` (and ``nn.optim.minimize``) may be asked to take a derivative: either mode,
#: numerical differences, or ``"auto"``, which lets the callee pick (in this order: the one
#: minimize's messages have always listed)
DERIVATIVE_MODES = ("auto", "reverse", "forward", "numeric")


def check_mode(fname, mode, allowed=MODES):
    """Raise ``ValueError`` unless ``mode`` is one of ``allowed``."""
    if mode not in allowed:
        raise ValueError(f"{fname}: mode must be one of {', '.join(map(repr, allowed))}; "
                         f"got {mode!r}")


# ---------------------------------------------------------------------------------------------
# arguments: argnums, pytrees, dtypes
# ---------------------------------------------------------------------------------------------

def as_leaf(x, what):
    """A differentiable leaf as an array: Python floats become 0-d float64 (complex numbers
    0-d complex128); ints are refused.

    ``what`` names the leaf in error messages: a string, or a function returning one (built
    only when an error is raised: formatting it costs more than the check on every call).
    """
    if type(x) is np.ndarray and x.dtype.kind == "f":  # the common case, checked first
        return x
    if isinstance(x, Tracer):
        check_live(x)
        dtype = x.dtype
    else:
        if isinstance(x, bool) or isinstance(x, (int, np.integer)) and not isinstance(x, float):
            raise TypeError(f"{_name(what)} is the integer {x!r}: integer arguments are "
                            f"constants and have no derivative. Pass a float (e.g. "
                            f"{float(x)!r}) to differentiate with respect to it")
        x = np.asarray(x, dtype=float if isinstance(x, float) else None)
        dtype = x.dtype
    kind = dtype.kind  # (np.issubdtype costs microseconds, on every transform call)
    if kind not in "fc":
        raise TypeError(f"{_name(what)} has dtype {dtype}: integer and boolean arguments are "
                        f"constants and have no derivative. Convert it to a floating dtype to "
                        f"differentiate with respect to it")
    return x


def _name(what):
    return what if isinstance(what, str) else what()


class Args:
    """The arguments of one transform call, split into differentiated leaves and the rest.

    ``kwargs`` are passed to ``f`` as they are: only positional arguments are differentiated.
    """

    def __init__(self, fname, args, argnums, kwargs=None):
        self.kwargs = kwargs or None
        n = len(args)
        if n == 1 and argnums == 0 and type(argnums) is int:  # f(x) of one float array: most calls
            x = args[0]
            if type(x) is _ndarray and x.dtype.kind == "f":
                self.nums, self.single, self.args, self.leaves = (0,), True, args, [x]
                self._treedef, self.flat, self._order = None, True, None
                return
        if type(argnums) is int and -n <= argnums < n:  # one argument: most calls
            nums, self.single = (argnums % n,), True
        else:
            if isinstance(argnums, (int, np.integer)):
                nums, self.single = (int(argnums),), True
            else:
                try:
                    nums = tuple(int(a) for a in argnums)
                except TypeError:
                    raise TypeError(f"{fname}: argnums must be an int or a tuple of ints, "
                                    f"got {argnums!r}") from None
                self.single = False
            for a in nums:
                if not -n <= a < n:
                    raise ValueError(f"{fname}: argnums {argnums!r} out of range for "
                                     f"{n} positional argument(s)")
            nums = tuple(a % n for a in nums)
        self._order = None
        if len(set(nums)) != len(nums):
            # argnums=(0, 0): differentiate each argument once, and hand its derivative back
            # at every place it was asked for (as JAX does)
            unique = tuple(dict.fromkeys(nums))
            self._order = tuple(unique.index(a) for a in nums)
            nums = unique
        self.nums = nums
        self.args = args
        chosen = tuple(args[i] for i in nums)
        if all(type(x) in _PLAIN_LEAVES for x in chosen):
            # every differentiated argument is itself a leaf: no pytree to rebuild (the usual
            # case); the structure is built only if asked for
            leaves, self._treedef, self.flat = chosen, None, True
        else:
            leaves, self._treedef = tree_flatten(chosen)
            self.flat = all(c.kind == "leaf" for c in self._treedef.children)
        self.leaves = [as_leaf(x, lambda k=k: f"{fname}: argument {self.where(k)}")
                       for k, x in enumerate(leaves)]

    @property
    def treedef(self):
        """The pytree structure of the tuple of differentiated arguments."""
        if self._treedef is None:
            self._treedef = tree_flatten(tuple(self.args[i] for i in self.nums))[1]
        return self._treedef

    # sizes and offsets are for the Jacobian transforms; grad never asks for them
    @property
    def sizes(self):
        return [math.prod(x.shape) for x in self.leaves]

    @property
    def offsets(self):
        out, total = [], 0
        for size in self.sizes:
            out.append(total)
            total += size
        return out

    @property
    def n(self):
        return sum(self.sizes)

    def where(self, k):
        """Leaf ``k`` named for an error message: its argnum, and its leaf index in a pytree."""
        if len(self.nums) == 1 and self.treedef.children[0].kind == "leaf":
            return f"{self.nums[0]}"
        return f"{self.nums} (leaf {k})"


    def call(self, f, new_leaves):
        """Call ``f`` with the differentiated leaves replaced by ``new_leaves``."""
        args = list(self.args)
        rebuilt = new_leaves if self.flat else tree_unflatten(self.treedef, new_leaves)
        for j, i in enumerate(self.nums):
            args[i] = rebuilt[j]
        kwargs = self.kwargs
        return f(*args, **kwargs) if kwargs else f(*args)

    def leaf_function(self, f):
        """``f`` as a function of the differentiated leaves alone: ``f`` itself when its
        arguments are exactly the leaves (one array argument, no keywords: a frame less)."""
        if self.flat and not self.kwargs and self.nums == tuple(range(len(self.args))):
            return f
        return lambda *leaves: self.call(f, list(leaves))

    def structure(self, leaves):
        """Leaves arranged like the differentiated arguments (one argnum: that argument)."""
        if self.flat:
            tree = tuple(leaves)
        else:
            tree = tree_unflatten(self.treedef, leaves)
        if self.single:
            return tree[0]
        if self._order is not None:  # a repeated argnum: its derivative again, as a copy
            firsts = set()
            out = []
            for j in self._order:
                out.append(tree[j] if j not in firsts else tree_map(_copy_leaf, tree[j]))
                firsts.add(j)
            tree = tuple(out)
        return tree

    def dtype(self):
        return np.result_type(*[x.dtype for x in self.leaves]) if self.leaves else np.float64


def _copy_leaf(x):
    return x.copy() if type(x) is _ndarray else x


# ---------------------------------------------------------------------------------------------
# has_aux
# ---------------------------------------------------------------------------------------------

def split_aux(fname, out, has_aux):
    """``(output, aux)`` of what ``f`` returned (``aux`` None without ``has_aux``)."""
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{fname}: with has_aux=True, f must return a pair (output, aux); "
                        f"got {type(out).__name__}")
    return out[0], out[1]


def strip_tree(tree, strip, level):
    """``tree`` with ``strip(leaf, level)`` applied to every leaf: each mode's ``strip`` takes
    the perturbation of its ``level`` off (auxiliary outputs come back plain)."""
    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [strip(x, level) for x in leaves])


def as_arrays(tree):
    """Leaves as NumPy arrays (0-d for scalars); tracers of enclosing transforms stay as they
    are."""
    return tree_map(lambda x: x if isinstance(x, Tracer) else np.asarray(x), tree)


# ---------------------------------------------------------------------------------------------
# output checks
# ---------------------------------------------------------------------------------------------

def check_scalar_output(fname, out, complex_ok=False):
    """Raise ``TypeError`` unless ``out`` is a real scalar (shape ``()``), the only output whose
    derivative is a gradient (``complex_ok``: a complex one too, for ``holomorphic=True``).
    Integer and boolean scalars pass (constants: zero gradient)."""
    if type(out) is _float64 or type(out) is _ndarray and not out.shape and \
            out.dtype.kind == "f":  # (most calls)
        return
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{fname} needs a scalar output, got a {type(out).__name__} of "
                        f"{len(out)}. Return one scalar (with has_aux=True, f returns "
                        f"(value, aux)); jacfwd, jacrev and vjp take outputs of any structure")
    if not isinstance(out, (np.ndarray, np.generic, float, int, Tracer)):
        raise TypeError(f"{fname} needs a scalar output, got a {type(out).__name__}: f must "
                        f"return a real number (a float, or a 0-d floating array)")
    dtype = out.dtype if isinstance(out, (np.ndarray, np.generic, Tracer)) else \
        np.result_type(out)
    if dtype.kind == "c" and not complex_ok:
        raise TypeError(f"{fname} needs a real scalar output, got complex dtype {dtype}: a "
                        f"complex output has no gradient (its real and imaginary parts have "
                        f"one each). Differentiate np.real(f(x)) or np.abs(f(x)), take the "
                        f"Jacobian with jacfwd, or pass holomorphic=True for the complex "
                        f"derivative of a holomorphic f")
    if dtype.kind not in ("fiubc" if complex_ok else "fiub"):
        raise TypeError(f"{fname} needs a real scalar output, got dtype {dtype}: f must return "
                        f"a real number")
    shape = tuple(shape_of(out))
    if shape != ():
        hint = ""
        if math.prod(shape) == 1:
            hint = (" It has one element: index it (return f(x)[0]) or sum it "
                    "(np.sum(f(x))) to make it a scalar, as JAX asks.")
        raise TypeError(f"{fname} needs a scalar output (shape ()), got shape {shape}.{hint} "
                        f"Use jacfwd/jacrev/jacobian or vjp for non-scalar outputs")


def check_numeric_output(value, fname, leaf):
    """Raise ``TypeError`` for an output ``leaf`` (``value`` is ``np.asarray(leaf)``) that holds
    no numbers: a string or an object has no derivative, and a zero one would be made up."""
    if value.dtype.kind not in "fciub":
        raise TypeError(f"{fname}: f returned an output leaf of type {type(leaf).__name__} "
                        f"(dtype {value.dtype}); outputs must be numbers or arrays of numbers "
                        f"(pytrees of them), which have derivatives")


def _check_grad_output(out):
    check_scalar_output("grad", out)  # (a complex output is refused there, naming holomorphic=)


def _check_holomorphic_output(out):
    check_scalar_output("grad", out, complex_ok=True)
    if getattr(out, "dtype", _float64_dtype).kind != "c":
        raise TypeError(f"grad(holomorphic=True) requires a complex output; got dtype "
                        f"{out.dtype}")


def output_check(spec, holomorphic):
    """The check of ``grad``'s output for the arguments ``spec`` (an :class:`Args`): a real
    scalar; with ``holomorphic=True`` complex inputs (checked here) and a complex scalar."""
    if not holomorphic:
        return _check_grad_output
    check_complex_inputs("grad", spec, True)
    return _check_holomorphic_output


def check_complex_inputs(fname, spec, holomorphic):
    """JAX's rule for the inputs of ``jacfwd``/``jacobian``/``hessian`` (``fname``): complex
    inputs only with ``holomorphic=True``, which needs them (``grad`` and ``jacrev`` apply the
    second half alone). Forward lanes along the real
    directions alone would give ∂f/∂x and drop ∂f/∂y: the complex Jacobian exists only for a
    holomorphic f, where the two agree (∂f/∂y = i ∂f/∂x)."""
    for k, x in enumerate(spec.leaves):
        if holomorphic and x.dtype.kind != "c":
            raise TypeError(f"{fname}(holomorphic=True) requires complex inputs; argument "
                            f"{spec.where(k)} has dtype {x.dtype}")
        if not holomorphic and x.dtype.kind == "c":
            raise TypeError(f"{fname} requires real inputs, but argument {spec.where(k)} has "
                            f"dtype {x.dtype}. For the complex derivative of a holomorphic f "
                            f"pass holomorphic=True; for a function that is not holomorphic, "
                            f"use jvp with complex tangents (or jacrev, for a real output)")


def check_jacobian_outputs(fname, out_leaves, holomorphic, reverse):
    """JAX's rule for the outputs: ``holomorphic=True`` needs complex ones; without it
    reverse mode (``reverse``) needs real ones: a real cotangent row would give only the real
    part of a complex output's derivative."""
    for x in out_leaves:
        kind = x.dtype.kind
        if holomorphic and kind != "c":
            raise TypeError(f"{fname}(holomorphic=True) requires complex outputs; f returned "
                            f"dtype {x.dtype}")
        if reverse and not holomorphic and kind == "c":
            raise TypeError(f"{fname} requires real outputs, got dtype {x.dtype}. For the "
                            f"complex derivative of a holomorphic f pass holomorphic=True (with "
                            f"complex inputs); otherwise use jacfwd, or vjp with complex "
                            f"cotangents, or differentiate np.real(f) and np.imag(f)")


# ---------------------------------------------------------------------------------------------
# the functions grad and value_and_grad return, for either mode
# ---------------------------------------------------------------------------------------------

def grad_function(gradient, f, argnums, has_aux, holomorphic):
    """The gradient function of ``f``: ``gradient(f, args, argnums, has_aux, holomorphic,
    kwargs)`` is one mode's ``(value, gradient, aux)``; returns the gradient, with ``has_aux``
    ``(gradient, aux)``."""
    @functools.wraps(f)
    def grad_fn(*args, **kwargs):
        out, g, aux = gradient(f, args, argnums, has_aux, holomorphic, kwargs)
        return (g, aux) if has_aux else g
    return grad_fn


def value_and_grad_function(gradient, f, argnums, has_aux, holomorphic):
    """As :func:`grad_function`, returning ``(value, gradient)``; with ``has_aux``,
    ``((value, aux), gradient)``."""
    @functools.wraps(f)
    def vg_fn(*args, **kwargs):
        out, g, aux = gradient(f, args, argnums, has_aux, holomorphic, kwargs)
        return ((out, aux), g) if has_aux else (out, g)
    return vg_fn
