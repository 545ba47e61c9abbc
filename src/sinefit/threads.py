"""How many threads a computation gets: none wasted on problems too small to share.

On a machine whose cores are busy with other work, every extra intra-op thread of a small
matrix product is a thread that waits for a core: a 5 x 1000 product took 17-68 ms with
torch's default two threads while the other core was busy, against microseconds with one.
So small problems run on one thread, and only products large enough to pay for the
hand-off (about a million multiply-adds per call) use more.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

PARALLEL_WORK = 1 << 22  # multiply-adds per operation below which one thread is faster on a loaded machine
DEFAULT = torch.get_num_threads()  # torch's own choice at start-up: one per core


def for_size(work: int, available: int | None = None) -> int:
    """Intra-op threads for operations of about ``work`` multiply-adds each."""
    cores = available or DEFAULT
    if work < PARALLEL_WORK:
        return 1
    return max(1, min(cores, work // PARALLEL_WORK))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block, restored after it."""
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
