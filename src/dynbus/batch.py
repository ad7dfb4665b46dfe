"""Batching of per-sequence work: one process handles many sequences, each failure on its own.

:func:`process_map` maps a function over items in forked worker processes (imports are paid
once, in the parent). A data stage that works sequence by sequence gives :func:`run_batch` a
function of one sequence id; every sequence's failure is caught and reported without stopping
the others. :func:`shards` cuts a study's sorted sequence ids into the batches the workflow runs
as jobs.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from dynbus.errors import DynbusError

Work = Callable[[str], int]
# Write failures that are no sequence's fault: disk full, quota exceeded, read-only file system.
MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
Item = TypeVar("Item")
Result = TypeVar("Result")
_WORK: Work | None = None  # the function forked workers run (set before the pool starts)


@dataclass(frozen=True)
class Outcome:
    """What became of one sequence: ``frames`` written, or ``error`` (one line, for the log)."""

    sequence_id: str
    frames: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the sequence was processed."""
        return not self.error


def shards(sequence_ids: Sequence[str], size: int) -> list[list[str]]:
    """The sorted ids cut into consecutive batches of at most ``size`` (shard ``i`` is ``[i]``)."""
    if size < 1:
        raise DynbusError(f"shard size must be at least 1, got {size}")
    ordered = sorted(sequence_ids)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads(threads: int) -> None:
    """Cap the OpenMP / BLAS threads of libraries loaded later and of child processes."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def _of_the_machine(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it: pydicom re-raises without the errno) is the output
    file system's fault, e.g. a full disk: no sequence would fare better, so the batch stops."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in MACHINE_ERRNOS:
            return True
        error = error.__cause__ or error.__context__
    return False


def _run_one(sequence_id: str) -> Outcome:
    assert _WORK is not None
    try:
        return Outcome(sequence_id, _WORK(sequence_id))
    except (DynbusError, OSError) as error:
        if _of_the_machine(error):
            raise
        return Outcome(sequence_id, error=" ".join(str(error).split()))


def process_map(
    func: Callable[[Item], Result], items: Sequence[Item], processes: int
) -> list[Result]:
    """``[func(item) for item in items]`` in ``processes`` forked workers, in order.

    ``func`` must be a module-level function (workers receive it by name); the workers are forked
    from this process, so its imports are paid once.
    """
    workers = max(1, min(processes, len(items)))
    if workers == 1:
        return [func(item) for item in items]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(func, items))


def run_batch(work: Work, sequence_ids: Sequence[str], processes: int) -> list[Outcome]:
    """Run ``work`` on every sequence id, in ``processes`` forked workers; outcomes in id order.

    ``work`` returns the number of frames it wrote, and raises ``DynbusError`` (bad input) or
    ``OSError`` for a sequence that fails: that sequence's outcome carries the message and the
    others go on. A full disk, an exceeded quota or a read-only output (``MACHINE_ERRNOS``) is no
    sequence's fault and stops the batch, as does any other exception (a bug).
    """
    global _WORK
    _WORK = work
    try:
        return process_map(_run_one, sequence_ids, processes)
    finally:
        _WORK = None
