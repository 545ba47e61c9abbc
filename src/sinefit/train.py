"""The training loop: the seed's loop, for a batch of parameter vectors.

It knows nothing of files, printing or plotting: progress leaves through the
optional ``on_log`` callback, and everything learned comes back in a
:class:`Trajectory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from . import losses, model


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

    @property
    def final_loss(self) -> torch.Tensor:
        """Loss of the returned parameters: the last finite loss of each row."""
        rows = torch.arange(self.losses.shape[1])
        last = torch.where(self.diverged_at >= 0, self.diverged_at - 1, self.losses.shape[0] - 1)
        return self.losses[last.clamp(min=0), rows]


def train(
    theta: torch.Tensor,
    columns: torch.Tensor,
    y: torch.Tensor,
    rule: UpdateRule,
    steps: int,
    *,
    log_every: int = 100,
    on_log: Callable[[int, torch.Tensor], None] | None = None,
) -> Trajectory:
    """Run ``steps`` updates of ``rule`` on the sum of squared errors.

    ``on_log(t, loss)`` is called for t % log_every == log_every - 1 (the seed's
    ``if t % 100 == 99: print(t, loss)``) with the loss before that step's update.
    """
    batch = theta.shape[0]
    history = torch.empty(steps + 1, batch, dtype=torch.float64)
    diverged_at = torch.full((batch,), -1, dtype=torch.long)
    alive = torch.ones(batch, dtype=torch.bool)
    all_alive = True  # the common case, kept free of masking work
    state = rule.init(theta)
    previous = theta
    for t in range(steps + 1):
        residual = model.evaluate(theta, columns) - y
        loss = losses.sse(residual)
        history[t] = loss if all_alive else torch.where(alive, loss, torch.nan)
        finite = torch.isfinite(loss)
        if not bool((finite | ~alive).all()):
            newly = alive & ~finite
            diverged_at[newly] = t
            # Parameters that produced a non-finite loss are not worth keeping.
            theta = torch.where(newly[:, None], previous, theta)
            alive &= finite
            all_alive = False
            if not bool(alive.any()):
                return Trajectory(history[: t + 1], theta, diverged_at)
        if on_log is not None and t % log_every == log_every - 1:
            on_log(t, loss)
        if t == steps:
            break
        grad = model.gradient(columns, losses.sse_grad(residual))
        previous = theta
        theta, state = rule.update(theta, grad, state)
        if not all_alive:
            theta = torch.where(alive[:, None], theta, previous)
    return Trajectory(history, theta, diverged_at)
