"""Spawned worker processes that share the machine's cores: torch and numba threads split evenly among them."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable


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


def _start(threads: int, initializer: Callable | None, initargs: tuple) -> None:
    set_threads(threads)
    if initializer is not None:
        initializer(*initargs)


def pool(processes: int, initializer: Callable | None = None, initargs: tuple = (), threads: int | None = None):
    """A ``spawn`` pool of ``processes`` workers (callables must pickle) with ``threads`` torch and numba threads
    each (default :func:`share`), then ``initializer(*initargs)``."""
    threads = share(processes) if threads is None else threads
    return mp.get_context("spawn").Pool(processes, _start, (threads, initializer, initargs))
