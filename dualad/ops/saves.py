"""What an entry's VJP reads: the declaration by which the reverse tape decides what it keeps.

A VJP rule is called as ``vjp(i, g, ans, *args, **kw)``, but most rules read only some of
those values: ``tanh``'s reads ``ans`` and not ``x``, ``matmul``'s reads the *other* operand and
not ``ans``. Keeping everything until the sweep would hold every pre-activation of a network
alive (twice the memory of hand-written backprop), so each entry states what its rule reads
and the tape keeps only that (a shape-and-dtype stand-in for the rest, in ``reverse.saving``).

The statement is made once, where the entry is made, and turned here into plans computed at
registration, so recording an op costs a tuple lookup:

* a ``saves=`` declaration on :class:`~dualad.ops.core.Primitive` — ``("ans", 0)``: what any
  cotangent may read (``"ans"`` the answer, an int a positional argument); or a dict
  ``{0: (1,), 1: (0,)}``: what the cotangent of each argument reads, so an op differentiated in
  one argument only keeps less;
* facts of the rule kinds, in ``core``'s factories: a ``linear`` entry's transpose reads its
  argument only for its shape and dtype, a ``bilinear`` entry's cotangent of one operand reads
  the other, an ``elementwise`` entry's cotangent of argument ``i`` reads what its partial
  ``derivs[i]`` reads, declared with :func:`reads` (constant partials read nothing);
* no declaration: everything is kept. Safe, never a silently dropped value.

Arguments are read for their shapes and dtypes freely (undoing broadcasting, casting
cotangents back): the stand-in has both. A test runs every entry's VJP on only what it
declares, with the rest replaced by stand-ins that raise on use.
"""
from __future__ import annotations

__all__ = ["ANS", "reads", "Saves", "SavePlan", "KEEP_ALL"]

#: the name of the answer in a declaration
ANS = "ans"

_ALL = None  # "every positional argument" in a (keep_ans, positions) pair


def _parse(what, where):
    """``(keep_ans, frozenset of positions)`` of one declaration such as ``("ans", 0)``."""
    if isinstance(what, (str, int)):
        what = (what,)
    keep_ans = False
    positions = set()
    for w in what:
        if w == ANS:
            keep_ans = True
        elif isinstance(w, int) and not isinstance(w, bool) and w >= 0:
            positions.add(w)
        else:
            raise ValueError(f"{where}: a saves declaration names 'ans' or argument positions "
                             f"(ints >= 0), got {w!r}")
    return keep_ans, frozenset(positions)


def reads(*what):
    """Declare what the decorated elementwise partial ``d(ans, *args)`` reads: ``"ans"`` and/or
    positions of ``args``. ``core.elementwise`` keeps, for the cotangent of argument ``i``, what
    ``derivs[i]`` declares; a callable partial without a declaration keeps everything.

    >>> tanh_d = reads("ans")(lambda ans, x: 1.0 - ans * ans)
    """
    declared = _parse(what, "reads")

    def declare(fn):
        fn.reads = declared
        return fn
    return declare


class SavePlan:
    """For one call shape: whether the tape keeps ``ans``, and which positional args it drops."""

    __slots__ = ("keep_ans", "drop", "trims", "drop0", "drop1")

    def __init__(self, keep_ans=True, drop=()):
        self.keep_ans = keep_ans
        self.drop = tuple(drop)
        # (the first two, for the recorder's fast path of one or two arguments)
        self.drop0 = 0 in self.drop
        self.drop1 = 1 in self.drop
        #: whether anything is left out at all (the recorder checks this first)
        self.trims = not keep_ans or bool(self.drop)

    def __repr__(self):
        return f"SavePlan(keep_ans={self.keep_ans}, drop={self.drop})"


KEEP_ALL = SavePlan()


class Saves:
    """What one primitive's VJP reads, per differentiated argument, with its plans precomputed.

    ``per_arg[i]`` is ``(keep_ans, positions)`` for the cotangent of argument ``i``; ``other``
    the same for arguments not listed (``positions`` ``None``: all of them). ``others``: the
    cotangent of each argument reads all the other arguments (a multilinear map's, whatever
    their number), instead of ``per_arg`` and ``other``. ``elementwise``:
    arguments broadcast to the answer, so none is larger than it (a small answer means nothing
    is worth dropping). :meth:`plan` gives the union over the arguments that need a cotangent.
    """

    __slots__ = ("per_arg", "other", "others", "elementwise", "trims", "fast", "_plans")

    def __init__(self, per_arg=None, other=(True, _ALL), elementwise=False, others=False):
        self.per_arg = dict(per_arg or {})
        self.other = (False, frozenset()) if others else other
        self.others = others
        self.elementwise = elementwise
        self._plans = {}
        #: plans of the tape's fast path, one and two arguments: ``fast[(n - 1) * 4 + mask]``
        #: with bit ``j`` of ``mask`` set when argument ``j`` needs a cotangent
        self.fast = tuple(self.plan(n, mask) if mask < 1 << n else KEEP_ALL
                          for n in (1, 2) for mask in range(4))
        #: whether any plan may drop something: a primitive that keeps everything costs the
        #: recorder one test
        self.trims = others or any(r[0] is False or r[1] is not _ALL
                                   for r in (*self.per_arg.values(), self.other))

    @classmethod
    def declared(cls, saves, name):
        """The :class:`Saves` of a ``saves=`` declaration (``None``: keep everything)."""
        if saves is None:
            return cls()
        if isinstance(saves, Saves):
            return saves
        if isinstance(saves, dict):
            return cls({int(i): _parse(w, name) for i, w in saves.items()})
        return cls(other=_parse(saves, name))

    def plan(self, n, mask) -> SavePlan:
        """The plan for ``n`` positional arguments of which those in the bit set ``mask`` need
        cotangents (cached: a primitive is called with few shapes of call)."""
        key = (n, mask)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._union(n, mask)
            if n <= 8:  # (variadic entries, concatenate: do not cache every subset)
                self._plans[key] = plan
        return plan

    def _union(self, n, mask):
        keep_ans = False
        need = set()
        for i in range(n):
            if mask >> i & 1:
                if self.others:
                    need.update(j for j in range(n) if j != i)
                    continue
                k, positions = self.per_arg.get(i, self.other)
                if positions is _ALL:
                    return KEEP_ALL
                keep_ans = keep_ans or k
                need |= positions
        return SavePlan(keep_ans, (j for j in range(n) if j not in need))

    def reads(self, i, n):
        """``(keep_ans, positions or None for all)`` that the cotangent of argument ``i`` of
        ``n`` reads."""
        if self.others:
            return False, frozenset(j for j in range(n) if j != i)
        return self.per_arg.get(i, self.other)

    def __repr__(self):
        return f"Saves(per_arg={self.per_arg}, other={self.other})"
