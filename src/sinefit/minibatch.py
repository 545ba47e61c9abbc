"""Mini-batch SGD, the tutorial's next lesson: each update sees a batch of the points.

The batches are those of ``DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True)`` right
after ``torch.manual_seed(seed)``: each epoch the loader's iterator draws one int64 (its worker
base seed), its ``RandomSampler`` draws another, seeds a fresh generator with it and takes
``torch.randperm(n)``; the batches are consecutive slices of that permutation, the last one
partial (``drop_last=False``). A private generator stands in for the global one, so nothing
else's random state moves.

``--steps`` counts updates. The objective returns the loss of *all* the points at the current
parameters (so loss curves compare across batch sizes) and the gradient of the batch's loss;
the batch losses are kept beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch


def epochs_of_batches(n: int, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Index batches, epoch after epoch, as DataLoader(shuffle=True) under torch.manual_seed(seed)."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        torch.empty((), dtype=torch.int64).random_(generator=gen)  # the iterator's _base_seed
        sampler_seed = int(torch.empty((), dtype=torch.int64).random_(generator=gen).item())
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(sampler_seed))
        for start in range(0, n, batch_size):
            yield perm[start : start + batch_size]


class MiniBatch:
    """(full-data loss, batch gradient) per call; the batch advances on every call that asks for a gradient."""

    def __init__(self, columns: torch.Tensor, y: torch.Tensor, make: Callable, batch_size: int, seed: int):
        self.full = make(columns, y)
        self.columns, self.y, self.make = columns, y, make
        self.batch_size = batch_size
        self.batches = epochs_of_batches(y.shape[-1], batch_size, seed)
        self.batch_losses: list[float] = []
        self.batch_steps: list[int] = []  # the update of each batch loss kept
        self.updates = 0
        self.cursor = None  # history.Cursor: keep only the kept steps' batch losses (a long run's)

    def keep(self, kept) -> None:
        """Keep the batch losses of the steps in ``kept`` (history.kept_steps) only."""
        from .history import Cursor, is_full

        self.cursor = None if is_full(kept) else Cursor(kept)

    def __call__(self, theta: torch.Tensor, with_grad: bool = True):
        value, _ = self.full(theta, False)
        if not with_grad:
            return value, None
        idx = next(self.batches).to(self.y.device)
        batch = self.make(self.columns.index_select(1, idx), self.y.index_select(0, idx))  # (not [:, idx]: 1000x slower)
        batch_loss, grad = batch(theta, True)
        if self.cursor is None or self.cursor.wants(self.updates):
            self.batch_losses.append(float(batch_loss[0]))
            self.batch_steps.append(self.updates)
        self.updates += 1
        return value, grad

    def run(self) -> "MiniBatchRun":
        """What the batches did so far."""
        steps = None if self.cursor is None else np.array(self.batch_steps, dtype=np.int64)
        return MiniBatchRun(self.batch_size, self.y.shape[-1], np.array(self.batch_losses), steps, self.updates)


@dataclass(frozen=True)
class MiniBatchRun:
    """What the mini-batches did: sizes, epochs, the batch losses and the noise floor measured."""

    batch_size: int
    n: int
    batch_losses: np.ndarray  # (steps,) the loss of step t's batch, before its update
    steps: np.ndarray | None = None  # the update of each batch loss (a long run's kept steps); None: 0, 1, ...
    count: int | None = None  # updates taken (None: one per batch loss)

    @property
    def updates(self) -> int:
        return len(self.batch_losses) if self.count is None else self.count

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n / self.batch_size)

    @property
    def epochs(self) -> float:
        return self.updates / self.batches_per_epoch


@dataclass(frozen=True)
class Floor:
    """The full-data loss over the last stretch of updates (the last epoch, at least 10% of the run)."""

    mean: float
    low: float
    high: float
    window: int  # updates looked at
    descending: bool  # the second half of the window is clearly lower than the first: still converging


def floor(losses: np.ndarray, per_epoch: int, at: np.ndarray | None = None) -> Floor:
    """``at``: the step of each loss (a decimated history): the window is then in updates, its
    losses the kept ones in it."""
    steps = len(losses) - 1 if at is None else int(at[-1])
    window = min(steps, max(per_epoch, steps // 10, 4))
    if at is not None:
        tail = losses[at > steps - window] if window > 0 else losses[-1:]
    else:
        tail = losses[-window:] if window > 0 else losses[-1:]
    spanned = window if at is not None else None
    tail = tail[np.isfinite(tail)]
    if tail.size == 0:
        return Floor(math.nan, math.nan, math.nan, 0, False)
    half = tail.size // 2
    first, second = tail[:half], tail[half:]
    descending = bool(half and first.mean() - second.mean() > 0.5 * tail.std())
    return Floor(float(tail.mean()), float(tail.min()), float(tail.max()), spanned or int(tail.size), descending)
