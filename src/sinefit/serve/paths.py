"""The parameters at any step of a run, without running it again: what the animation streams.

A run's loss history is always kept whole (steps + 1 numbers); its parameters are not (steps x p):
the page gets a light, log-spread record, and the frames of an animation ask for any other step.

* gd: the engine's closed form, theta_t = theta* + V diag((1 - lr lambda)^t) V^T (theta_0 - theta*),
  at any t in O(p^2) a step asked for;
* momentum and Nesterov: the engine's per-mode recurrence (``analysis.momentum_mode_step``'s
  arithmetic in the same order, so the same numbers as ``engine.momentum_modes``), taken once
  with every step's error e_t kept (p numbers a step) and without the engine's per-step loss
  checks: the loss of every step is one vectorised sum afterwards. About ten times quicker than
  the engine's history loop, which checks divergence and snapshots at each step.
* adam, rmsprop, lbfgs, exact and the Huber loss: the library's loop, recorded at every step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import analysis, engine


@dataclass(frozen=True)
class Path:
    """Parameters at the steps 0..end of one run (end: the last step with finite parameters)."""

    end: int
    at: Callable[[np.ndarray], np.ndarray]  # steps (k,) in [0, end] -> parameters (k, p)


def closed_form_gd(q: analysis.Quadratic, theta0: np.ndarray, lr: float, steps: int, end: int) -> Path:
    def at(ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts, dtype=np.int64)
        snaps = engine.gd_closed_form(q, theta0, np.array([lr]), steps, False, frozenset(ts.tolist())).snapshots
        return np.stack([snaps[int(t)][0] for t in ts]) if ts.size else np.zeros((0, q.optimum.size))

    return Path(end, at)


def recorded(thetas: dict[int, np.ndarray], end: int) -> Path:
    """A path from parameters kept at every step (the iterative optimizers)."""

    def at(ts: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(thetas[int(t)], dtype=np.float64).reshape(-1) for t in ts])

    return Path(end, at)


@dataclass(frozen=True)
class MomentumRun:
    losses: np.ndarray  # (history,) as engine.momentum_modes(history=True) gives them
    theta: np.ndarray  # (p,) the last finite parameters
    diverged_at: int | None
    path: Path

    def until(self, step: int) -> MomentumRun:
        """The same run stopped at ``step`` (the library's early stop at the optimum): nothing is recomputed."""
        theta = self.path.at(np.array([step]))[0]
        return MomentumRun(self.losses[: step + 1], theta, None, Path(step, self.path.at))


def momentum(q: analysis.Quadratic, theta0: np.ndarray, lr: float, mu: float, nesterov: bool, steps: int) -> MomentumRun:
    """``steps`` of heavy-ball (or Nesterov) momentum from theta0 (1, p), every step's error kept."""
    e, weight = engine._modes(q, np.atleast_2d(theta0))  # (1, p): the engine's shapes, so its numbers
    lam = q.eigenvalues[None, :]
    lr_ = np.full((1, 1), float(lr))
    mu_ = np.full((1, 1), float(mu))
    b = np.zeros_like(e)
    E = np.empty((steps + 1, e.shape[1]))
    E[0] = e[0]
    t_end = steps
    # analysis.momentum_mode_step's arithmetic, operation for operation (so bit for bit), into buffers:
    # g = lam e;  b = mu b + g;  e = e - lr b  (Nesterov: e = e - lr (g + mu b)).
    g, mb, step = np.empty_like(e), np.empty_like(e), np.empty_like(e)
    e = e.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            np.multiply(lam, e, out=g)
            np.multiply(mu_, b, out=mb)
            np.add(mb, g, out=b)
            if nesterov:
                np.multiply(mu_, b, out=mb)
                np.add(g, mb, out=step)
                np.multiply(lr_, step, out=step)
            else:
                np.multiply(lr_, b, out=step)
            np.subtract(e, step, out=e)
            E[t] = e[0]
            if t % 64 == 0 and not np.isfinite(e).all():  # overflowed: nothing after it is kept
                t_end = t
                break
        E = E[: t_end + 1]
        losses = q.optimum_loss + np.sum(weight * E * E, axis=-1)
    bad = np.flatnonzero(~np.isfinite(losses))
    diverged = int(bad[0]) if bad.size else None
    if diverged is not None:
        losses = losses[: diverged + 1]
        last = max(diverged - 1, 0)
    else:
        last = len(losses) - 1
    theta = (q.optimum + E[last : last + 1] @ q.directions.T)[0]

    def at(ts: np.ndarray) -> np.ndarray:
        return q.optimum + E[np.asarray(ts, dtype=np.int64)] @ q.directions.T

    return MomentumRun(losses, theta, diverged, Path(last, at))


def light_steps(end: int, early: int = 32, spread: int = 220) -> list[int]:
    """The steps whose parameters the page gets with each answer: every early step, then the
    library's linear-and-geometric spread (on log-step axes a few hundred points draw any run)."""
    from ..api import snapshot_steps

    if end + 1 <= early + spread:
        return list(range(end + 1))
    return sorted(set(range(early + 1)) | snapshot_steps(end, spread))


def frame_steps(start: int, speed: int, end: int, count: int | None = None) -> np.ndarray:
    """start, start + speed, ... (at most ``count`` of them), ending on ``end`` when they reach it."""
    start = min(max(0, start), end)
    ts = np.arange(start, end + 1, max(1, speed), dtype=np.int64)
    if ts.size == 0 or ts[-1] != end:
        ts = np.append(ts, end)
    return ts[:count] if count is not None else ts
