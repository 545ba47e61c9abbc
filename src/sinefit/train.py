"""The training loop: the seed's loop, for a batch of parameter vectors.

It knows nothing of files, printing or plotting: progress leaves through the
optional ``on_log`` callback, and everything learned comes back in a
:class:`Trajectory`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import torch

from . import history as history_mod
from .stopflag import StopFlag  # noqa: F401 - train.StopFlag, where the loops take it


class Objective(Protocol):
    def __call__(self, theta: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]: ...


class UpdateRule(Protocol):
    def init(self, theta: torch.Tensor): ...

    def update(self, theta: torch.Tensor, grad: torch.Tensor, state): ...


@dataclass(frozen=True)
class Trajectory:
    """What a run learned.

    ``losses[t, b]`` is the loss of row b's parameters after t updates, for
    t = 0 ... steps (so ``steps + 1`` rows when nothing diverged). A row that
    diverged at step t has a non-finite ``losses[t, b]`` and NaN after it; it is
    frozen from then on and keeps in ``theta`` its last finite parameters (those
    of step t - 1).
    """

    losses: torch.Tensor  # (T, B) float64
    theta: torch.Tensor  # (B, p)
    diverged_at: torch.Tensor  # (B,) int64, -1 where the row never diverged
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # step -> parameters (B, p) then
    stopped_at: int | None = None  # the step where a stop request ended the loop
    converged_at: int | None = None  # the step where every row's loss reached ``stop_below``
    steps: np.ndarray | None = None  # the step of each row of ``losses`` (None: row t is step t)

    @property
    def final_loss(self) -> torch.Tensor:
        """Loss of the returned parameters: the last finite loss of each row."""
        rows = torch.arange(self.losses.shape[1])
        last = torch.where(self.diverged_at >= 0, self.diverged_at - 1, self.losses.shape[0] - 1)
        if self.steps is not None:  # a decimated history: the rows of those steps
            index = [self.losses.shape[0] - 1 if d < 0 else (history_mod.index_of(self.steps, max(int(d) - 1, 0)) or 0)
                     for d in self.diverged_at.tolist()]  # fmt: skip
            last = torch.tensor(index, dtype=torch.long)
        return self.losses[last.clamp(min=0), rows]


def train(
    theta: torch.Tensor,
    objective: Objective,
    rule: UpdateRule,
    steps: int,
    *,
    log_every: int = 100,
    on_log: Callable[[int, torch.Tensor], None] | None = None,
    history: bool = True,
    record: frozenset[int] = frozenset(),
    on_progress: Callable[[int], None] | None = None,
    stop: StopFlag | None = None,
    stop_below: float | None = None,
    kept: np.ndarray | None = None,
) -> Trajectory:
    """Run ``steps`` updates of ``rule`` on ``objective``, for every row of theta.

    With ``history=False`` (sweeps of many rows) only two rows of losses are kept:
    ``losses[0]`` the current ones and ``losses[1]`` each row's last finite loss.

    ``on_log(t, loss)`` is called for t % log_every == log_every - 1 (the seed's
    ``if t % 100 == 99: print(t, loss)``) with the loss before that step's update.
    The parameters of the steps in ``record`` are kept in ``snapshots``;
    ``on_progress(t)`` hears about every ``PROGRESS_EVERY``-th step. When ``stop``
    is set the loop ends after the loss of the current step is recorded: the
    history is cut there and ``theta`` holds that step's parameters. Once every
    row's loss is at or below ``stop_below`` (the optimum, to a tolerance) the loop
    ends the same way, with ``converged_at`` set: ``steps`` is a cap. ``kept`` (history.kept_steps)
    decimates the history: only those steps' losses are kept (and the steps where a row diverged,
    with the step before it, and where the loop ended), their steps in ``Trajectory.steps``.
    """
    batch = theta.shape[0]
    keep = history
    decimated = keep and kept is not None and not history_mod.is_full(kept)
    if decimated:
        recorder = history_mod.Recorder(kept, batch)
        history = recorder.buffer  # not used: the recorder holds the rows
        last_row = None

        def done(**kw) -> Trajectory:
            return Trajectory(recorder.losses.clone(), theta, diverged_at, snapshots, steps=recorder.steps, **kw)
    else:
        if keep:
            check_history(steps + 1, batch, "the loss history")
        history = torch.empty(steps + 1 if keep else 2, batch, dtype=torch.float64)
    diverged_at = torch.full((batch,), -1, dtype=torch.long)
    alive = torch.ones(batch, dtype=torch.bool)
    all_alive = True  # the common case, kept free of masking work
    state = rule.init(theta)
    previous = theta
    snapshots: dict[int, torch.Tensor] = {}
    for t in range(steps + 1):
        if t in record:
            snapshots[t] = theta
        if on_progress is not None and t % PROGRESS_EVERY == 0:
            on_progress(t)
        loss, grad = objective(theta, t < steps)
        if decimated:
            row = loss if all_alive else torch.where(alive, loss, torch.nan)
            recorder.write(t, row)
        elif keep:
            history[t] = loss if all_alive else torch.where(alive, loss, torch.nan)
        else:
            history[0] = loss
            history[1] = loss if all_alive else torch.where(alive & torch.isfinite(loss), loss, history[1])
        finite = torch.isfinite(loss)
        if not bool((finite | ~alive).all()):
            newly = alive & ~finite
            diverged_at[newly] = t
            if decimated:  # the divergence step and the last finite one are always in the history
                if t >= 1 and last_row is not None:
                    recorder.force(t - 1, last_row)
                recorder.force(t, row)
            # Parameters that produced a non-finite loss are not worth keeping.
            theta = torch.where(newly[:, None], previous, theta)
            alive &= finite
            all_alive = False
            if not bool(alive.any()):
                snapshots.pop(t, None)
                if decimated:
                    return done()
                return Trajectory(history[: t + 1] if keep else history, theta, diverged_at, snapshots)
        if on_log is not None and t % log_every == log_every - 1:
            on_log(t, loss)
        if t == steps:
            break
        if decimated:
            last_row = row
        if stop is not None and stop.set:
            if decimated:
                recorder.force(t, row)
                return done(stopped_at=t)
            return Trajectory(history[: t + 1] if keep else history, theta, diverged_at, snapshots, stopped_at=t)
        if stop_below is not None and bool((loss <= stop_below).all()):
            snapshots[t] = theta
            if decimated:
                recorder.force(t, row)
                return done(converged_at=t)
            return Trajectory(history[: t + 1] if keep else history, theta, diverged_at, snapshots, converged_at=t)
        previous = theta
        theta, state = rule.update(theta, grad, state)
        if not all_alive:
            theta = torch.where(alive[:, None], theta, previous)
    if decimated:
        return done()
    return Trajectory(history, theta, diverged_at, snapshots)


PROGRESS_EVERY = 1024


def train_lbfgs(
    theta: torch.Tensor,
    objective: Objective,
    lr: float,
    steps: int,
    *,
    log_every: int = 100,
    on_log: Callable[[int, torch.Tensor], None] | None = None,
    record: frozenset[int] = frozenset(),
    stop: StopFlag | None = None,
    stop_below: float | None = None,
    kept: np.ndarray | None = None,
) -> Trajectory:
    """L-BFGS with a strong-Wolfe line search (torch.optim.LBFGS), one iteration per step.

    L-BFGS couples all coordinates of its parameter, so each row of the batch
    runs as its own problem; ``losses`` has the same meaning as in ``train``.
    ``kept`` decimates each row's history as in ``train``; rows then share the union of their
    kept steps, a row's loss NaN at another row's divergence or stop step it did not keep
    (``history.row_of`` takes one row's own steps back out).
    """
    if kept is None or history_mod.is_full(kept):
        kept = np.arange(steps + 1, dtype=np.int64)
        check_history(steps + 1, 1, "the L-BFGS loss history")
    rows = []
    snapshots: dict[int, torch.Tensor] = {}
    stopped: int | None = None
    converged: int | None = None
    for b in range(theta.shape[0]):
        param = theta[b].detach().clone()
        opt = torch.optim.LBFGS(
            # max_eval bounds the line search too (its default, 5/4 of max_iter, would stop it cold).
            [param], lr=lr, max_iter=1, max_eval=26, history_size=20, line_search_fn="strong_wolfe",
            tolerance_grad=1e-300, tolerance_change=1e-300,
        )  # fmt: skip

        def closure() -> torch.Tensor:
            loss, grad = objective(param[None])
            param.grad = grad[0]
            return loss[0]

        recorder = history_mod.Recorder(kept, 1)
        last_finite, diverged, previous = param.clone(), -1, None
        for t in range(steps + 1):
            if t in record and b == 0:
                snapshots[t] = param.clone()[None]
            loss = objective(param[None], False)[0]
            recorder.write(t, loss[:1])
            if not bool(torch.isfinite(loss).all()):
                diverged = t
                if previous is not None:  # the divergence step and the last finite one are always kept
                    recorder.force(t - 1, previous)
                recorder.force(t, loss[:1])
                break
            previous = loss[:1]
            last_finite = param.clone()
            if on_log is not None and b == 0 and t % log_every == log_every - 1:
                on_log(t, loss)
            if stop is not None and stop.set:
                stopped = t
                recorder.force(t, loss[:1])
                break
            if stop_below is not None and t < steps and bool((loss <= stop_below).all()):
                converged = t
                if b == 0:
                    snapshots[t] = param.clone()[None]
                recorder.force(t, loss[:1])
                break
            if t < steps:
                opt.step(closure)
        rows.append((recorder.steps, recorder.losses[:, 0].clone(), last_finite, diverged))
        if stopped is not None:  # the rows not run keep their start (and only its loss: NaN at the end)
            for rest in theta[b + 1 :]:
                start = rest.detach().clone()
                rows.append((np.zeros(1, dtype=np.int64), objective(start[None], False)[0][:1].double(), start, -1))
            break
    at = np.unique(np.concatenate([r[0] for r in rows]))
    losses = torch.full((at.size, len(rows)), torch.nan, dtype=torch.float64)
    for b, (s_, h, _, _) in enumerate(rows):
        losses[torch.as_tensor(np.searchsorted(at, s_)), b] = h
    full = history_mod.is_full(at)
    return Trajectory(
        losses,
        torch.stack([p for _, _, p, _ in rows]),
        torch.tensor([d for _, _, _, d in rows], dtype=torch.long),
        {t: v for t, v in snapshots.items() if rows[0][3] < 0 or t < rows[0][3]},
        stopped_at=stopped,
        converged_at=converged if theta.shape[0] == 1 else None,
        steps=None if full else at,
    )


def check_history(rows: int, batch: int, what: str) -> None:
    """Refuse a whole (rows x batch) float64 history that would not fit the memory budget."""
    from . import budget

    budget.check(rows * batch * 8 * 2, f"{what} of {rows} steps x {batch} rows",
                 "fewer --steps fit, or a decimated history (every step to 10^4, then a few thousand)")  # fmt: skip
