"""Which steps a loss history keeps: every step of a short run, a decimated few of a long one.

A run of T steps keeps the loss after t updates for t = 0 ... T while T < ``FULL``; beyond that
it keeps every step up to ``FULL``, ``GEOMETRIC`` steps spread geometrically from there to T, and
always the steps the log prints (t % log_every == log_every - 1), the recorded snapshot steps and
the last one (a loop adds the step where it stopped or diverged), so 10^9 steps cost megabytes,
not the 8 GB of a full float64 history. A history is then two columns: ``steps`` (increasing)
and ``losses`` at them; for short runs ``steps`` is 0 ... T and row i is step i.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

FULL = 10_000  # every step up to here is kept
GEOMETRIC = 2_000  # steps spread geometrically from FULL to the last


def kept_steps(total: int, log_every: int | None = None, record: Iterable[int] = (), full: int = FULL,
               geometric: int = GEOMETRIC) -> np.ndarray:  # fmt: skip
    """The sorted step indices (int64) a history of ``total`` steps keeps (see the module doc)."""
    if total + 1 <= full:
        return np.arange(total + 1, dtype=np.int64)
    parts = [np.arange(full, dtype=np.int64), np.array([total], dtype=np.int64)]
    parts.append(np.unique(np.round(np.geomspace(full, total, geometric)).astype(np.int64)))
    if log_every is not None and log_every >= 1:
        parts.append(np.arange(log_every - 1, total + 1, log_every, dtype=np.int64))
    extra = np.fromiter((t for t in record if 0 <= t <= total), dtype=np.int64)
    parts.append(extra)
    return np.unique(np.concatenate(parts))


def is_full(steps: np.ndarray) -> bool:
    """Whether a history's step column is 0, 1, 2, ... (every step kept)."""
    steps = np.asarray(steps)
    return bool(steps.size == 0 or (steps[0] == 0 and steps[-1] == steps.size - 1))


def index_of(steps: np.ndarray, step: int) -> int | None:
    """The row of ``step`` in an increasing step column (None when that step was not kept)."""
    steps = np.asarray(steps)
    i = int(np.searchsorted(steps, step))
    return i if i < steps.size and int(steps[i]) == step else None


class Recorder:
    """Losses of a batch of B rows at the kept steps, written by a training loop step by step.

    ``write(t, loss)`` stores the loss when t is kept; ``force(t, loss)`` stores it whatever t is
    (the step where a loop stopped or diverged); ``steps``/``losses`` are what was stored."""

    def __init__(self, kept: np.ndarray, batch: int) -> None:
        import torch

        self.kept = np.asarray(kept, dtype=np.int64)
        self._kept_set = None if is_full(self.kept) else set(self.kept.tolist())
        self.buffer = torch.empty(self.kept.size + 1, batch, dtype=torch.float64)
        self.at = np.empty(self.kept.size + 1, dtype=np.int64)
        self.n = 0

    def wants(self, t: int) -> bool:
        return True if self._kept_set is None else t in self._kept_set

    def write(self, t: int, loss) -> None:
        if self.wants(t):
            self.force(t, loss)

    def force(self, t: int, loss) -> None:
        import torch

        if self.n and self.at[self.n - 1] >= t:  # a step written again (never an earlier one)
            self.n = int(np.searchsorted(self.at[: self.n], t))
        if self.n == len(self.at):
            self.buffer = torch.cat([self.buffer, torch.empty_like(self.buffer[:8])])
            self.at = np.concatenate([self.at, np.empty(8, dtype=np.int64)])
        self.buffer[self.n] = loss
        self.at[self.n] = t
        self.n += 1

    @property
    def losses(self):
        return self.buffer[: self.n]

    @property
    def steps(self) -> np.ndarray:
        return self.at[: self.n].copy()
