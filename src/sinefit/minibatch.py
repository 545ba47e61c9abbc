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

    def __call__(self, theta: torch.Tensor, with_grad: bool = True):
        value, _ = self.full(theta, False)
        if not with_grad:
            return value, None
        idx = next(self.batches).to(self.y.device)
        batch = self.make(self.columns.index_select(1, idx), self.y.index_select(0, idx))  # (not [:, idx]: 1000x slower)
        batch_loss, grad = batch(theta, True)
        self.batch_losses.append(float(batch_loss[0]))
        return value, grad


@dataclass(frozen=True)
class MiniBatchRun:
    """What the mini-batches did: sizes, epochs, the batch losses and the noise floor measured."""

    batch_size: int
    n: int
    batch_losses: np.ndarray  # (steps,) the loss of step t's batch, before its update

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n / self.batch_size)

    @property
    def epochs(self) -> float:
        return len(self.batch_losses) / self.batches_per_epoch


@dataclass(frozen=True)
class Floor:
    """The full-data loss over the last stretch of updates (the last epoch, at least 10% of the run)."""

    mean: float
    low: float
    high: float
    window: int  # updates looked at
    descending: bool  # the second half of the window is clearly lower than the first: still converging


def floor(losses: np.ndarray, per_epoch: int) -> Floor:
    steps = len(losses) - 1
    window = min(steps, max(per_epoch, steps // 10, 4))
    tail = losses[-window:] if window > 0 else losses[-1:]
    tail = tail[np.isfinite(tail)]
    if tail.size == 0:
        return Floor(math.nan, math.nan, math.nan, 0, False)
    half = tail.size // 2
    first, second = tail[:half], tail[half:]
    descending = bool(half and first.mean() - second.mean() > 0.5 * tail.std())
    return Floor(float(tail.mean()), float(tail.min()), float(tail.max()), int(tail.size), descending)
