"""Test helpers for op-table entries, shared by the table-driven tests.

* :func:`fd_jvp` — a central finite difference of ``f`` along one direction per argument (an
  independent reference for JVPs).
* :func:`check_forward` — ``DualArray`` JVPs (K lanes at once and one lane at a time) against
  :func:`fd_jvp`.
* :func:`check_adjoint` — runs ``f`` on :class:`Probe` tracers, which see every primitive that
  ``f`` binds and check, for each one, the identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩ between its JVP and VJP
  rules with random ``u``, ``v`` and K = 2 lanes. This tests the VJP rules without any tape.
"""
from __future__ import annotations

import numpy as np

from dualad import DualArray
from dualad.ops import ArrayProtocol, Tracer

__all__ = ["fd_jvp", "check_forward", "check_adjoint", "Probe", "rand", "rand_like",
           "pairing"]


def rand(rng, shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, size=shape)


def rand_like(rng, shape, value):
    """Random values of ``shape``, complex when ``value`` is complex (probe directions)."""
    x = rand(rng, shape)
    if np.iscomplexobj(value):
        x = x + 1j * rand(rng, shape)
    return x


def pairing(u, v):
    """The real bilinear pairing Re(sum(u * v)) per lane (no conjugation: JAX's convention)."""
    return np.real(np.sum(u * v, axis=tuple(range(1, np.ndim(u)))))


def fd_jvp(f, args, dirs, eps=1e-6):
    """Central difference ``(f(x + εv) − f(x − εv)) / 2ε`` with ``ε`` relative to ``|x|``."""
    scale = max(1.0, max(float(np.max(np.abs(a))) if np.size(a) else 0.0 for a in args))
    h = eps * scale
    plus = f(*[a + h * d for a, d in zip(args, dirs)])
    minus = f(*[a - h * d for a, d in zip(args, dirs)])
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


def check_forward(f, args, *, seed=0, k=3, rtol=1e-6, atol=1e-7, argnums=None):
    """JVP of ``f`` at ``args`` through DualArray lanes equals finite differences, lane by lane,
    and equals K separate single-direction JVPs."""
    rng = np.random.default_rng(seed)
    args = [np.asarray(a, dtype=float) for a in args]
    argnums = range(len(args)) if argnums is None else argnums
    dirs = [[rand(rng, a.shape) if i in argnums else np.zeros(a.shape) for i, a in
             enumerate(args)] for _ in range(k)]
    lane_args = [DualArray(a, np.stack([d[i] for d in dirs]), lanes=True) if i in argnums else a
                 for i, a in enumerate(args)]
    out = f(*lane_args)
    assert isinstance(out, DualArray), f"f returned {type(out).__name__}, not a DualArray"
    for lane in range(k):
        ref = fd_jvp(f, args, dirs[lane])
        np.testing.assert_allclose(out.tangent[lane], ref, rtol=rtol, atol=atol,
                                   err_msg=f"lane {lane}: JVP differs from finite differences")
        single = f(*[DualArray(a, dirs[lane][i]) if i in argnums else a
                     for i, a in enumerate(args)])
        np.testing.assert_allclose(single.tangent, out.tangent[lane], rtol=1e-12, atol=1e-12,
                                   err_msg=f"lane {lane} differs from a single-direction JVP")
        np.testing.assert_allclose(single.primal, out.primal, rtol=0, atol=0)
    return out


class Probe(ArrayProtocol):
    """A tracer that, for every primitive bound on it, checks ⟨u, J v⟩ = ⟨Jᵀu, v⟩.

    Complex values get complex ``u`` and ``v``, and the pairing is ``Re(sum(u * v))``: the
    identity then checks that the VJP is the transpose of the (complex-linear) JVP, and the
    tangent of a real value must be real."""

    __slots__ = ("value", "_level", "log")
    _rule_kind = "VJP"
    _value_attr = "value"

    def __init__(self, value, log, rng):
        self.value = value
        self._level = 10 ** 9  # above any transform level, so probes always process first
        self.log = log
        self.log.setdefault("rng", rng)

    def _aval(self):
        return self.value

    def _plain_value(self):
        return self.value

    def _process(self, prim, args, kwargs):
        plain = [a.value if isinstance(a, Probe) else a for a in args]
        ans = prim.impl(*plain, **kwargs)
        if prim.nondiff:
            return ans
        rng = self.log["rng"]
        k = 2
        outs = ans if prim.multiple_results else (ans,)
        us = tuple(rand_like(rng, (k,) + np.shape(o), o) for o in outs)
        u = us if prim.multiple_results else us[0]
        for i, a in enumerate(args):
            if not isinstance(a, Probe):
                continue
            v = rand_like(rng, (k,) + np.shape(a.value), a.value)
            tangents = tuple(v if j == i else None for j in range(len(args)))
            jv = prim.jvp(tangents, ans, *plain, **kwargs)
            jvs = jv if prim.multiple_results else (jv,)
            for o, t in zip(outs, jvs):
                assert t is None or np.iscomplexobj(o) or not np.iscomplexobj(t), (
                    f"{prim.name}: the tangent of a real output is complex")
            lhs = sum(pairing(uu, 0.0 if t is None else t) for uu, t in zip(us, jvs))
            ju = prim.vjp(i, u, ans, *plain, **kwargs)
            rhs = np.zeros(k) if ju is None else pairing(ju, v)
            assert ju is None or np.shape(ju) == np.shape(v), (
                f"{prim.name}: VJP for argument {i} has shape {np.shape(ju)}, expected "
                f"{np.shape(v)}")
            np.testing.assert_allclose(
                lhs, rhs, rtol=1e-9, atol=1e-9,
                err_msg=f"{prim.name}, argument {i}: <u, J v> != <J^T u, v>")
            if prim.vjp_plain is not None and not prim.multiple_results:
                # the rule of a plain backward (one cotangent, no lane axis) is the lane rule
                u0 = u[0]
                plain_ju = prim.vjp_plain(i, u0[()] if u0.ndim == 0 else u0, ans, *plain,
                                          **kwargs)
                if ju is None:
                    assert plain_ju is None, f"{prim.name}: vjp_plain is not zero, vjp is"
                else:
                    np.testing.assert_allclose(
                        plain_ju, ju[0], rtol=1e-12, atol=1e-12,
                        err_msg=f"{prim.name}, argument {i}: vjp_plain != vjp at K = 1")
            self.log.setdefault("checked", []).append(prim.name)
        if prim.multiple_results:
            return tuple(Probe(o, self.log, rng) for o in ans)
        return Probe(ans, self.log, rng)


def check_adjoint(f, args, *, seed=0, argnums=None, require=True):
    """Run ``f`` on probes; returns the names of the primitives whose rules were checked
    (``require``: at least one, else ``f`` was not what the test meant)."""
    rng = np.random.default_rng(seed)
    log = {}
    argnums = range(len(args)) if argnums is None else argnums
    probes = [Probe(np.asarray(a, dtype=complex if np.iscomplexobj(a) else float), log, rng)
              if i in argnums else a
              for i, a in enumerate(args)]
    f(*probes)
    checked = log.get("checked", [])
    assert checked or not require, "f bound no differentiable primitive on its inputs"
    return checked


assert issubclass(Probe, Tracer)
