"""Jacobian blocks on workers: any :class:`concurrent.futures.Executor` computes lane chunks.

``jacfwd(f, executor=...)`` and ``jacrev(f, executor=...)`` cut their lanes into blocks (the
chunks of the serial path) and submit one task per block: ``(f, args, lanes a:b) → rows a:b
of the Jacobian``. The engine that runs the tasks is the executor's — a
``ProcessPoolExecutor``, a ``ThreadPoolExecutor``, or a Dask cluster's
``distributed.Client(...).get_executor()``; dualad only cuts, submits, gathers in order and
assembles exactly as the serial path does, so the result is bitwise the serial one for the
same ``chunk``.

What has to hold for that, checked here before anything is submitted:

- the payload ``(f, args)`` can be sent to a worker: ``f`` defined at module level (a lambda or
  a nested function cannot be pickled for a process pool; Dask's cloudpickle takes them);
- it holds no dualad tracer (``DualArray``/``Tensor``): a worker would get a copy, and a
  derivative flowing through it would be lost, so ``executor=`` cannot run inside another
  transform.
"""
from __future__ import annotations

import concurrent.futures
import io
import math
import pickle
import sys

from .ops import Tracer

__all__ = ["DEFAULT_BLOCKS", "block_size", "run_blocks", "Progress"]

#: blocks to cut the lanes into when ``chunk=None`` and the executor does not tell how many
#: workers it has (with a known count: two blocks per worker, so a slow worker is not the tail)
DEFAULT_BLOCKS = 8


# ---------------------------------------------------------------------------------------------
# what the executor is
# ---------------------------------------------------------------------------------------------

def check_executor(executor, fname):
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(f"{fname}: executor must be a concurrent.futures.Executor (an object "
                        f"with a submit method), got {type(executor).__name__}")


def _is_dask(executor):
    return type(executor).__module__.split(".")[0] == "distributed"


def worker_count(executor):
    """How many tasks ``executor`` runs at once, or ``None`` when it does not say.

    Neither ``concurrent.futures`` nor Dask exposes this publicly; the attributes read here are
    the ones both have had for years, and anything unexpected means "unknown", not an error.
    """
    if _is_dask(executor):
        client = getattr(executor, "_client", None)
        try:
            threads = sum(client.nthreads().values())
        except Exception:  # noqa: BLE001 - any failure means the count is unknown
            return None
        return threads or None
    count = getattr(executor, "_max_workers", None)
    return count if isinstance(count, int) and count > 0 else None


def block_size(n, budget_size, executor):
    """Lanes per block for ``chunk=None``: enough blocks to keep every worker busy (two per
    worker, or :data:`DEFAULT_BLOCKS`), never more lanes than the memory budget allows."""
    workers = worker_count(executor)
    blocks = 2 * workers if workers else DEFAULT_BLOCKS
    return max(1, min(budget_size, math.ceil(n / blocks)))


# ---------------------------------------------------------------------------------------------
# the payload: picklable, and holding no tracer
# ---------------------------------------------------------------------------------------------

class _HoldsTracer(Exception):
    def __init__(self, tracer):
        super().__init__(type(tracer).__name__)


def _scanning_pickler(base):
    class Scanner(base):
        def reducer_override(self, obj):
            if isinstance(obj, Tracer):
                raise _HoldsTracer(obj)
            parent = getattr(super(), "reducer_override", None)
            return NotImplemented if parent is None else parent(obj)
    return Scanner


def _serializer(executor):
    """The pickler class the executor will send tasks with."""
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        base = None  # no pickling at all; still scanned for tracers, with what can pickle f
    elif _is_dask(executor) or type(executor).__module__.split(".")[0] in ("loky", "joblib"):
        base = "cloud"
    else:
        base = "std"
    if base in (None, "cloud"):
        try:
            import cloudpickle
            return base, cloudpickle.CloudPickler
        except ImportError:
            return base, None if base is None else pickle.Pickler
    return base, pickle.Pickler


def check_payload(executor, payload, fname):
    """Raise ``TypeError`` now if ``payload`` cannot reach a worker intact."""
    kind, pickler = _serializer(executor)
    if pickler is None:
        return
    sink = io.BytesIO()
    try:
        # protocol 5 with a buffer callback: array data is not copied, only walked past
        _scanning_pickler(pickler)(sink, protocol=5, buffer_callback=lambda b: False).dump(payload)
    except _HoldsTracer as e:
        raise TypeError(f"{fname}: f or its arguments hold a dualad {e} (a traced value). "
                        f"Workers get copies, so a derivative through it would be lost: "
                        f"executor= cannot run inside another transform or with traced "
                        f"values in f's closure; pass plain arrays") from None
    except Exception as e:  # noqa: BLE001 - pickling raises many types; all mean the same here
        if kind is None:  # threads never pickle: only a tracer scan was attempted
            return
        raise TypeError(f"{fname}: executor={type(executor).__name__} sends f and its arguments "
                        f"to worker processes by pickling, which failed ({type(e).__name__}: "
                        f"{e}). Define f at module level (a lambda or a nested function cannot "
                        f"be pickled) and pass picklable arguments") from None


# ---------------------------------------------------------------------------------------------
# progress, and running the blocks
# ---------------------------------------------------------------------------------------------

class Progress:
    """Blocks done / total: ``True`` draws a line on stderr, a callable gets ``(done, total)``."""

    def __init__(self, progress, total, fname):
        if progress is not None and not isinstance(progress, bool) and not callable(progress):
            raise TypeError(f"{fname}: progress must be a bool or a callable(done, total), got "
                            f"{type(progress).__name__}")
        self.callback = progress if callable(progress) else None
        self.draw = progress is True
        self.total, self.fname, self.done = total, fname, 0
        self._report()

    def step(self):
        self.done += 1
        self._report()

    def _report(self):
        if self.callback is not None:
            self.callback(self.done, self.total)
        if self.draw:
            end = "\n" if self.done == self.total else ""
            print(f"\r{self.fname}: {self.done}/{self.total} blocks", end=end, file=sys.stderr,
                  flush=True)


def _describe(k, total, a, b, lane_word):
    return f"in block {k + 1} of {total} ({lane_word} {a}:{b})"


def run_blocks(executor, task, payload, blocks, progress, fname, lane_word="lanes",
               extra=None):
    """``[task(*payload, *extra(a, b), a, b) for a, b in blocks]``, computed on ``executor``,
    in order. ``extra`` (optional) gives each block its own arguments (its slice of the seeds,
    say), so that a block does not carry the others' data to its worker.

    A task's exception is raised here as itself, with a note naming its block; the blocks not
    yet started are cancelled, and nothing partial is returned.
    """
    check_executor(executor, fname)
    own = [extra(a, b) if extra is not None else () for a, b in blocks]
    check_payload(executor, (task, payload, own[:1]), fname)
    shown = Progress(progress, len(blocks), fname)
    futures = [executor.submit(task, *payload, *mine, a, b)
               for (a, b), mine in zip(blocks, own)]
    index = {fut: k for k, fut in enumerate(futures)}
    try:
        for fut in concurrent.futures.as_completed(futures):
            error = fut.exception()
            if error is not None:
                k = index[fut]
                _note(error, f"{fname}: {_describe(k, len(blocks), *blocks[k], lane_word)}, "
                             f"computed on {type(executor).__name__}")
                raise error
            shown.step()
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    return [fut.result() for fut in futures]


def _note(error, text):
    if hasattr(error, "add_note"):  # Python >= 3.11
        error.add_note(text)
    else:  # pragma: no cover - Python 3.10 shows no notes; keep them for whoever looks
        error.__notes__ = getattr(error, "__notes__", []) + [text]
