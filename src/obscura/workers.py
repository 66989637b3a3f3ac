"""Spawned worker processes that share the machine's cores: torch and numba threads split evenly among them; a
worker that dies is reported instead of waited for, and the workers die with the process that started them."""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import multiprocessing.pool
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator

from obscura.errors import ObscuraError

_PR_SET_PDEATHSIG = 1
_FAILURE_BYTES = 1000


def cores() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def share(workers: int) -> int:
    """Threads each of ``workers`` processes gets: an equal share of the cores, at least one."""
    return max(1, cores() // workers)


def set_threads(threads: int) -> None:
    """Set torch's and numba's thread counts for this process."""
    import numba
    import torch

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def _exit(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent(parent: int) -> None:
    """Exit (SIGTERM, raised as SystemExit so ``with`` blocks close: an MLflow run ends FAILED, not RUNNING) when
    the pool is terminated or, through Linux's parent-death signal, when the parent dies: a kill -9 of the stage
    must not leave its workers training on. Exits now if the parent is already gone."""
    signal.signal(signal.SIGTERM, _exit)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        raise SystemExit(1)


def _start(parent: int, failure, threads: int, initializer: Callable | None, initargs: tuple) -> None:
    _die_with_parent(parent)
    set_threads(threads)
    if initializer is not None:
        try:
            initializer(*initargs)
        except Exception as error:                  # mp.Pool would start its replacement, and fail, forever
            failure.value = f"{type(error).__name__}: {error}".encode()[:_FAILURE_BYTES - 1]
            raise


def _run_worker(worker: Callable, *args) -> None:
    """The pool's worker loop; once it has returned (the pool closed), a SIGTERM just ends the exit under way
    instead of raising SystemExit into Python's shutdown, which prints it as an ignored exception."""
    worker(*args)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _CountingPool(multiprocessing.pool.Pool):
    """``multiprocessing.Pool`` that counts the worker processes it starts, replacements of dead ones included,
    each running its loop in :func:`_run_worker`."""

    def __init__(self, *args, **kwargs):
        self.started = 0
        super().__init__(*args, **kwargs)

    def Process(self, ctx, *args, **kwargs):  # the hook Pool makes its workers with
        self.started += 1
        kwargs["args"] = (kwargs.pop("target"), *kwargs["args"])
        return ctx.Process(*args, target=_run_worker, **kwargs)


class WorkerPool:
    """A ``spawn`` pool of ``processes`` workers (callables must pickle) with ``threads`` torch and numba threads
    each (default :func:`share`), then ``initializer(*initargs)``. ``multiprocessing.Pool`` silently replaces a
    worker that dies (killed, out of memory) or cannot start, and waits forever for its task; here :meth:`check`
    — called while :meth:`imap` waits, and by callers polling :meth:`apply_async` results — raises instead, with
    the initializer's error if that was the cause. Leaving the ``with`` block terminates the workers."""

    def __init__(self, processes: int, initializer: Callable | None = None, initargs: tuple = (),
                 threads: int | None = None):
        ctx = mp.get_context("spawn")
        self.processes = processes
        self._failure = ctx.Array("c", _FAILURE_BYTES)
        threads = share(processes) if threads is None else threads
        self._pool = _CountingPool(processes, _start, (os.getpid(), self._failure, threads, initializer, initargs),
                                   context=ctx)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self._pool.terminate()
        self._pool.join()

    def check(self) -> None:
        """Raise if a worker's initializer raised, or a worker has died (also before it ran any of our code: its
        import or unpickling failed): the pool had to start more workers than it was made with."""
        if self._failure.value:
            raise ObscuraError(f"a worker process could not start: {self._failure.value.decode(errors='replace')}")
        if self._pool.started > self.processes:
            raise ObscuraError("a worker process died (killed by a signal, or out of memory?) or could not start, "
                               "and its task was lost: read its traceback above if there is one, else free memory "
                               "or lower the number of workers; then run again.")

    def apply_async(self, fn: Callable, args: tuple = ()):
        return self._pool.apply_async(fn, args)

    def imap(self, fn: Callable, items: Iterable, poll: float = 1.0) -> Iterator:
        """``fn`` over ``items`` in the workers, results in order; checks the workers every ``poll`` seconds."""
        results = self._pool.imap(fn, items)
        while True:
            try:
                yield results.next(timeout=poll)
            except mp.TimeoutError:
                self.check()
            except StopIteration:
                return
