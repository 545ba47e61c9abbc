"""How many threads a computation gets: none wasted on problems too small to share.

On a machine whose cores are busy with other work, every extra intra-op thread of a small
matrix product is a thread that waits for a core: a 5 x 1000 product took 17-68 ms with
torch's default two threads while the other core was busy, against microseconds with one.
So small problems run on one thread, and only products large enough to pay for the
hand-off (about a million multiply-adds per call) use more.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Callable, Iterator

# torch is imported only where torch's threads are set: the BLAS limiter below serves the streamed
# summaries too, which Dask and Spark workers compute with numpy and pyarrow alone.

PARALLEL_WORK = 1 << 22  # multiply-adds per operation below which one thread is faster on a loaded machine


@functools.lru_cache(maxsize=1)
def default_threads() -> int:
    """torch's own choice of intra-op threads (one per core), read once, the first time it is needed."""
    import torch

    return torch.get_num_threads()


def for_size(work: int, available: int | None = None) -> int:
    """Intra-op threads for operations of about ``work`` multiply-adds each."""
    cores = available or default_threads()
    if work < PARALLEL_WORK:
        return 1
    return max(1, min(cores, work // PARALLEL_WORK))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block, restored after it."""
    import torch

    before = torch.get_num_threads()
    if n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """numpy's BLAS on one thread inside the block (the callers run their own threads instead).

    Uses threadpoolctl where it is installed; without it, BLAS keeps its default.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# --------------------------------------------------------------------------- numpy's BLAS in the analysis

# The analysis' SVDs, QRs and eigendecompositions (p up to ~1000) on numpy's multi-threaded
# OpenBLAS: a 2001 x 1001 SVD took 4-8 s with two threads while the other core was busy, against
# 0.9-1.2 s with one. Below this many flops (m n min(m, n) for an m x n factorisation, about a
# minute on one core) the analysis runs on one BLAS thread; above it, BLAS keeps its default.
BLAS_PARALLEL_WORK = 1 << 37

_blas_lock = threading.Lock()
_blas_state = {"depth": 0, "limit": None}


def _blas_enter() -> None:
    with _blas_lock:
        _blas_state["depth"] += 1
        if _blas_state["depth"] > 1:
            return  # already one thread: nested analysis calls, or another thread's
        try:
            from threadpoolctl import threadpool_limits

            # A fresh limiter each time (about 1 ms, once per outermost call): a ThreadpoolController
            # kept from another thread was seen not to change OpenBLAS 0.3.31's count in this one.
            _blas_state["limit"] = threadpool_limits(limits=1, user_api="blas")
        except Exception:  # noqa: BLE001 - no threadpoolctl, or a BLAS it cannot steer: keep the default
            _blas_state["limit"] = None


def _blas_exit() -> None:
    with _blas_lock:
        _blas_state["depth"] -= 1
        if _blas_state["depth"] == 0 and _blas_state["limit"] is not None:
            _blas_state["limit"].restore_original_limits()
            _blas_state["limit"] = None


def hold_analysis_blas() -> Callable[[], None]:
    """One BLAS thread from now until the returned function is called: the analysis' own blocks inside
    are then free (no limiter of their own, each ~1 ms of reading /proc/self/maps). For a process
    that only runs small problems, as ``sinefit serve`` does."""
    _blas_enter()
    return _blas_exit


@contextlib.contextmanager
def analysis_blas(work: float = 0.0) -> Iterator[None]:
    """numpy's BLAS on one thread inside the block, unless ``work`` (flops) is large enough for
    more threads to pay; re-entrant and shared by threads (the last to leave restores it)."""
    if work >= BLAS_PARALLEL_WORK:
        yield
        return
    _blas_enter()
    try:
        yield
    finally:
        _blas_exit()


def factorisation_work(*arrays) -> float:
    """m n min(m, n) of the largest 2-d array among ``arrays``: the flops of its SVD or QR, roughly."""
    work = 0.0
    for a in arrays:
        shape = getattr(a, "shape", ())
        if len(shape) == 2:
            m, n = shape
            work = max(work, float(m) * n * min(m, n))
    return work


def one_blas_thread(fn: Callable) -> Callable:
    """Decorator: ``fn`` runs under :func:`analysis_blas`, sized by its largest matrix argument."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with analysis_blas(factorisation_work(*args, *kwargs.values())):
            return fn(*args, **kwargs)

    return wrapper
