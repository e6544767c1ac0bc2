"""``to_dot``: the recorded graph behind a Tensor as Graphviz DOT text (no graphviz needed).

Ops are boxes labelled with the op-table name; tensors are ellipses labelled with a name (if
known) and shape. Edges follow the data: input tensor → op → output tensor. The walk is
iterative, so deep graphs are fine.
"""
from __future__ import annotations

from .tape import Node
from .tensor import Tensor

__all__ = ["to_dot"]


def _q(text):
    """A DOT string literal."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _aval(v):
    if v is None:
        return "(freed)"
    shape = tuple(getattr(v, "shape", ()))
    dtype = getattr(v, "dtype", None)
    return f"{shape}" + (f" {dtype}" if dtype is not None else "")


def to_dot(y, names=None):
    """Graphviz DOT text of the ops recorded on the way to the Tensor ``y``.

    Parameters
    ----------
    y : Tensor
        The output (usually a loss) whose history to draw.
    names : dict, optional
        ``{name: Tensor}`` labels for leaves (e.g. ``dict(model.named_parameters())``); a
        Tensor's own ``.name`` is used otherwise.

    Returns
    -------
    str
        Render it with ``dot -Tsvg``, or paste it into any Graphviz viewer.
    """
    if not isinstance(y, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(y).__name__}")
    labels = {}
    for name, t in (names or {}).items():
        labels[id(t)] = (t, name)  # the tuple keeps t alive, so its id stays unique here

    lines = ["digraph reverse {", '  node [fontname="Helvetica", fontsize=10];',
             "  rankdir=BT;"]
    ids = {}  # id(obj) -> (obj, DOT id); holding obj keeps the id from being reused
    tensors = {}  # (id(producer node), output index) -> (node, DOT id)

    def ident(obj, prefix):
        entry = ids.get(id(obj))
        if entry is None:
            entry = ids[id(obj)] = (obj, f"{prefix}{len(ids)}")
            return entry[1], True
        return entry[1], False

    def leaf_label(t):
        name = labels.get(id(t), (None, None))[1] or t.name or "leaf"
        return f"{name}\n{_aval(t._value)}"

    out_id = "out"
    if y._node is None:
        lines.append(f"  {out_id} [label={_q(leaf_label(y))}, shape=ellipse, style=filled, "
                     f"fillcolor=lightblue];")
        lines.append("}")
        return "\n".join(lines) + "\n"
    label = (y.name or "output") + "\n" + _aval(y._value)
    lines.append(f"  {out_id} [label={_q(label)}, shape=ellipse, style=filled, "
                 f"fillcolor=darkolivegreen1];")
    top = y._producer()[0]
    first, _ = ident(top, "op")
    lines.append(f"  {first} -> {out_id};")
    stack = [top]
    while stack:
        node = stack.pop()
        nid = ids[id(node)][1]
        hooks = f"\n{len(node.hooks)} hook(s)" if node.hooks else ""
        lines.append(f"  {nid} [label={_q(node.prim.name + hooks)}, shape=box, style=filled, "
                     f"fillcolor=lightgray];")
        for i, target, k in node.edges:
            if type(target) is Node:
                producer = target
                pid, new = ident(producer, "op")
                if new:
                    stack.append(producer)
                # the tensor flowing along this edge: output k of the producer
                key = (id(producer), k)
                tnew = key not in tensors
                if tnew:
                    tensors[key] = (producer, f"t{len(tensors)}")
                tid = tensors[key][1]
                if tnew:
                    ans = producer.ans
                    if producer.prim.multiple_results and ans is not None:
                        ans = ans[k]
                    lines.append(f"  {tid} [label={_q(_aval(ans))}, shape=ellipse];")
                    lines.append(f"  {pid} -> {tid};")
                lines.append(f"  {tid} -> {nid} [label={_q(f'arg {i}')}];")
            else:
                tid, tnew = ident(target, "leaf")
                if tnew:
                    lines.append(f"  {tid} [label={_q(leaf_label(target))}, shape=ellipse, "
                                 f"style=filled, fillcolor=lightblue];")
                lines.append(f"  {tid} -> {nid} [label={_q(f'arg {i}')}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
