"""Which steps a loss history keeps: every step of a short run, a decimated few of a long one.

A run of T steps keeps the loss after t updates for t = 0 ... T while T < ``FULL``; beyond that
it keeps every step up to ``FULL``, ``GEOMETRIC`` steps spread geometrically from there to T, and
always the steps the log prints (t % log_every == log_every - 1), the recorded snapshot steps and
the last two (a loop adds the step where it stopped or diverged), so 10^9 steps cost megabytes,
not the 8 GB of a full float64 history. A history is then two columns: ``steps`` (increasing)
and ``losses`` at them; for short runs ``steps`` is 0 ... T and row i is step i.

The logged steps are the one part that grows with T: ``default_log_every`` coarsens the log of a
long run left at the default (10^9 steps log every 10^5, not every 100: 10^4 rows, not 10^7), and
``check_logged`` refuses, before anything is allocated, an explicit ``--log-every`` whose rows would
not fit the memory budget.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

FULL = 10_000  # every step up to here is kept
GEOMETRIC = 2_000  # steps spread geometrically from FULL to the last
LOG_EVERY = 100  # the seed's: it prints the loss of every 100th step
LOG_LINES = 10_000  # at most this many logged rows when --log-every is left at its default
# What one logged row costs over a run's life, measured (tests/test_history.py): the history's
# float64 loss and int64 step, the kept-step arrays while they are merged, the report's (step,
# loss) pairs and summary.json's [step, loss] lists with their text, history.csv's line.
ROW_BYTES = 640


def default_log_every(steps: int) -> int:
    """The seed's 100, or for a long run the least 1-2-5 number (100, 200, 500, 1000, ...) that
    logs at most LOG_LINES rows: 10^9 steps log every 10^5."""
    every = LOG_EVERY
    while logged_rows(steps, every) > LOG_LINES:
        for m in (2, 5, 10):  # 1-2-5 within the current decade
            decade = 10 ** (len(str(every)) - 1)
            if m * decade > every:
                every = m * decade
                break
    return every


def logged_rows(steps: int, log_every: int) -> int:
    """How many steps t in 0 ... steps satisfy t % log_every == log_every - 1."""
    return (steps + 1) // log_every


def check_logged(steps: int, log_every: int, batch: int = 1) -> None:
    """Refuse a log (and the history rows it forces) that would not fit the memory budget, naming
    the --log-every that does."""
    from . import budget

    rows = logged_rows(steps, log_every)
    need = rows * ROW_BYTES * batch
    if need <= budget.limit():
        return
    fits = max(budget.limit() // (ROW_BYTES * batch), 1)
    every = max(-(-(steps + 1) // fits), log_every + 1)
    budget.check(need, f"--log-every {log_every} at --steps {steps} ({rows} logged rows)",
                 f"--log-every {every} or more fits (the default logs at most {LOG_LINES} rows)")  # fmt: skip


def kept_steps(total: int, log_every: int | None = None, record: Iterable[int] = (), full: int = FULL,
               geometric: int = GEOMETRIC) -> np.ndarray:  # fmt: skip
    """The sorted step indices (int64) a history of ``total`` steps keeps (see the module doc)."""
    if total + 1 <= full:
        return np.arange(total + 1, dtype=np.int64)
    if log_every is not None and log_every >= 1:
        check_logged(total, log_every)
    parts = [np.arange(full, dtype=np.int64), np.array([total - 1, total], dtype=np.int64)]  # the last update's too
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


def row_of(steps: np.ndarray, losses: np.ndarray, diverged: int) -> tuple[np.ndarray, np.ndarray]:
    """One row's own (steps, losses) out of a batch's shared decimated history, cut where it diverged:
    a shared step the row did not keep (another row's divergence) is NaN there and left out."""
    steps, losses = np.asarray(steps), np.asarray(losses)
    mine = np.isfinite(losses) if diverged < 0 else (np.isfinite(losses) & (steps < diverged)) | (steps == diverged)
    return steps[mine], losses[mine]


def index_of(steps: np.ndarray, step: int) -> int | None:
    """The row of ``step`` in an increasing step column (None when that step was not kept)."""
    steps = np.asarray(steps)
    i = int(np.searchsorted(steps, step))
    return i if i < steps.size and int(steps[i]) == step else None


class Cursor:
    """Whether step t is kept, for t visited in increasing order: a pointer into the sorted kept
    steps (a set of 10^7 Python ints would cost ~600 MB; this costs the array)."""

    def __init__(self, kept: np.ndarray) -> None:
        self.kept = np.asarray(kept, dtype=np.int64)
        self.full = is_full(self.kept)
        self.i = 0
        self.next = int(self.kept[0]) if self.kept.size else -1

    def wants(self, t: int) -> bool:
        if self.full:
            return True
        if t < self.next:
            return False
        if t > self.next:  # a step skipped (or asked out of order): find the next kept one
            self.i = int(np.searchsorted(self.kept, t))
            if self.i >= self.kept.size:
                self.next = 1 << 62
                return False
            self.next = int(self.kept[self.i])
            if t < self.next:
                return False
        self.i += 1  # t == next: kept
        self.next = int(self.kept[self.i]) if self.i < self.kept.size else 1 << 62
        return True


class Recorder:
    """Losses of a batch of B rows at the kept steps, written by a training loop step by step.

    ``write(t, loss)`` stores the loss when t is kept; ``force(t, loss)`` stores it whatever t is
    (the step where a loop stopped or diverged); ``steps``/``losses`` are what was stored."""

    def __init__(self, kept: np.ndarray, batch: int) -> None:
        import torch

        self.kept = np.asarray(kept, dtype=np.int64)
        self.cursor = Cursor(self.kept)
        self.buffer = torch.empty(self.kept.size + 1, batch, dtype=torch.float64)
        self.at = np.empty(self.kept.size + 1, dtype=np.int64)
        self.n = 0

    def wants(self, t: int) -> bool:
        return self.cursor.wants(t)

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
