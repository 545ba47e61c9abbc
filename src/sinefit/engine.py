"""The sufficient-statistics engine: steps that never touch the samples again.

Once the loss surface is solved (``analysis.Quadratic``: the optimum theta*,
L* and the Hessian's eigenpairs lambda_i, v_i), a quadratic loss is
L(theta) = L* + c (theta - theta*)^T G (theta - theta*) with G = X^T X, so

* ``gd`` has a closed form: in the eigenbasis, e_t = (1 - lr lambda_i)^t e_0,
  so the loss at every step and the final coefficients cost O(p^3 + steps p)
  for any number of samples and no Python loop over the steps;
* ``momentum`` and ``nesterov`` are linear too: each mode is a 2x2 recurrence,
  iterated for all rows and modes at once in O(steps p);
* every other optimizer gets loss and gradient from ``StatsObjective`` in O(p^2).

All of it works on a batch of rows (B, p), each row with its own lr (and
momentum), and isolates rows that diverge. Divergence is where the loss would
stop being a finite float64, as in the per-sample loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .analysis import Quadratic, momentum_mode_step
from .history import Cursor

LOG_MAX = math.log(np.finfo(np.float64).max)


@dataclass(frozen=True)
class BatchRun:
    """Results for B rows: loss history (or only the end), parameters, divergence."""

    losses: np.ndarray | None  # (steps + 1, B) when the history was asked for
    final_loss: np.ndarray  # (B,) loss of ``theta``: the last finite loss
    theta: np.ndarray  # (B, p) final (or last finite) parameters
    diverged_at: np.ndarray  # (B,) int, -1 where the row never diverged
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> parameters (B, p) then
    steps: np.ndarray | None = None  # the step of each row of ``losses`` (None: row t is step t)
    stopped_at: int | None = None  # the step where a stop request (Ctrl-C) ended a stepped history


def _modes(q: Quadratic, theta0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Initial error e_0 = V^T (theta0 - theta*) per row, and each mode's loss weight c s_i^2."""
    e0 = (np.asarray(theta0, dtype=np.float64) - q.optimum) @ q.directions
    return e0, q.scale * q.singular_values**2


def _t_log(t: np.ndarray, log_rho: np.ndarray) -> np.ndarray:
    """t log|rho_i| for every mode, with 0 * log 0 = 0 (rho^0 = 1 even where rho = 0)."""
    return np.where(t[..., None] == 0, 0.0, t[..., None] * log_rho)


def _log_loss(q: Quadratic, log_w: np.ndarray, log_rho: np.ndarray, t: np.ndarray) -> np.ndarray:
    """log L(theta_t) per row at step t (rows, t broadcast), from log weights and log |rho|."""
    terms = log_w + 2.0 * _t_log(t, log_rho)
    with np.errstate(divide="ignore"):
        terms = np.concatenate([terms, np.broadcast_to(math.log(q.optimum_loss) if q.optimum_loss > 0 else -np.inf,
                                                       terms.shape[:-1] + (1,))], axis=-1)  # fmt: skip
    top = np.max(terms, axis=-1)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.sum(np.exp(terms - safe[..., None]), axis=-1)) if terms.size else top


def gd_closed_form(
    q: Quadratic, theta0: np.ndarray, lr: np.ndarray, steps: int, history: bool, record: frozenset[int] = frozenset(),
    kept: np.ndarray | None = None,
) -> BatchRun:
    """``steps`` of plain gradient descent for every row, without iterating.

    ``kept`` (history.kept_steps) decimates the history to those steps (plus each row's
    divergence step and the one before it), their steps in ``BatchRun.steps``.

    theta_t = theta* + V diag(rho^t) V^T (theta_0 - theta*), rho_i = 1 - lr lambda_i,
    L(theta_t) = L* + sum_i c s_i^2 e_i^2 rho_i^(2t).
    """
    theta0 = np.atleast_2d(np.asarray(theta0, dtype=np.float64))
    lr = np.broadcast_to(np.asarray(lr, dtype=np.float64).reshape(-1), (theta0.shape[0],))
    e0, weight = _modes(q, theta0)
    rho = 1.0 - lr[:, None] * q.eigenvalues[None, :]  # (B, p)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_w = np.log(weight * e0**2)
        log_rho = np.log(np.abs(rho))
    # First step whose loss overflows: {t : log L(t) >= LOG_MAX} is [t_d, inf) because
    # log L is convex in t (a log-sum-exp of affine functions), so bisect for t_d.
    grows = np.any((np.abs(rho) > 1.0) & (weight * e0**2 > 0), axis=1)
    diverged = np.full(theta0.shape[0], -1, dtype=np.int64)
    if np.any(grows):
        rows = np.flatnonzero(grows)
        lo = np.zeros(rows.size)
        hi = np.full(rows.size, float(steps))
        over = _log_loss(q, log_w[rows], log_rho[rows], hi) >= LOG_MAX
        lo_over = _log_loss(q, log_w[rows], log_rho[rows], lo) >= LOG_MAX
        for _ in range(64):  # hi - lo halves each round; 64 rounds cover any step count
            mid = np.floor((lo + hi) / 2)
            mid_over = _log_loss(q, log_w[rows], log_rho[rows], mid) >= LOG_MAX
            hi = np.where(mid_over, mid, hi)
            lo = np.where(mid_over, lo, mid)
            if np.all(hi - lo <= 1):
                break
        first = np.where(lo_over, 0, hi).astype(np.int64)
        diverged[rows] = np.where(over, first, -1)
    end = np.where(diverged >= 0, np.maximum(diverged - 1, 0), steps).astype(np.float64)  # last finite step

    # Each mode's term is formed in log space, exp(log w_i + 2 t log|rho_i|): rho^(2t) alone
    # can overflow while the term (its weight is small) is still a finite loss.
    def loss_at(t: np.ndarray) -> np.ndarray:
        return q.optimum_loss + np.sum(np.exp(log_w + 2.0 * _t_log(t, log_rho)), axis=-1)

    def theta_at(t: np.ndarray) -> np.ndarray:  # rho^t e0, signs kept, magnitudes in log space
        sign = np.where((rho < 0) & (np.mod(t[..., None], 2) == 1), -1.0, 1.0) * np.sign(e0)
        return q.optimum + (sign * np.exp(_t_log(t, log_rho) + log_e0)) @ q.directions.T

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        log_e0 = np.log(np.abs(e0))
        theta = theta_at(end)
        final = loss_at(end)
        losses = None
        at_steps = None
        if history and kept is not None and not (kept.size == steps + 1 and kept[-1] == steps):
            d = diverged[diverged >= 0]
            at_steps = np.unique(np.concatenate([kept, d, np.maximum(d - 1, 0)]))
            at_steps = at_steps[at_steps < _history_length(diverged, steps)]
            losses = np.empty((at_steps.size, theta0.shape[0]))
            for i in range(0, at_steps.size, 65536):  # in chunks: (chunk, B, p) at a time
                t = np.broadcast_to(at_steps[i : i + 65536, None].astype(np.float64), (min(65536, at_steps.size - i), theta0.shape[0]))
                losses[i : i + 65536] = loss_at(t)
            for b in np.flatnonzero(diverged >= 0):
                losses[at_steps == diverged[b], b] = np.inf
                losses[at_steps > diverged[b], b] = np.nan
        elif history:
            t = np.broadcast_to(np.arange(steps + 1, dtype=np.float64)[:, None], (steps + 1, theta0.shape[0]))
            losses = loss_at(t)  # (T, B)
            for b in np.flatnonzero(diverged >= 0):
                losses[diverged[b], b] = np.inf
                losses[diverged[b] + 1 :, b] = np.nan
            losses = losses[: _history_length(diverged, steps)]
        limit = diverged.max() if np.all(diverged >= 0) else steps + 1
        shot = np.array([t for t in sorted(record) if t < limit], dtype=np.float64)
        at = theta_at(np.broadcast_to(shot[:, None], (shot.size, theta0.shape[0])))  # (k, B, p), at once
        snapshots = {int(t): at[i] for i, t in enumerate(shot)}
    return BatchRun(losses, final, theta, diverged, snapshots, at_steps)


def momentum_modes(
    q: Quadratic,
    theta0: np.ndarray,
    lr: np.ndarray,
    mu: np.ndarray,
    nesterov: bool,
    steps: int,
    history: bool,
    record: frozenset[int] = frozenset(),
    kept: np.ndarray | None = None,
    stop=None,
    stop_below: float | None = None,
) -> BatchRun:
    """Heavy-ball (or Nesterov) momentum as torch.optim.SGD runs it, mode by mode.

    With g_t = lambda_i e_t in the eigenbasis: b_t = mu b_{t-1} + g_t (b_0 = 0),
    e_{t+1} = e_t - lr b_t, or e_t - lr (g_t + mu b_t) for Nesterov; O(p) per step.
    Without a history the loss is only checked every ``BLOCK`` steps; a block in
    which a row overflowed is replayed step by step for that row to find the step. With a history
    the loop is one Python step per step: ``stop`` (train.StopFlag) ends it after the current step,
    and so does every row's loss reaching ``stop_below`` (that step's parameters then recorded): the
    history a run cut at its first step at the optimum would have, without 10^9 steps first.
    """
    theta0 = np.atleast_2d(np.asarray(theta0, dtype=np.float64))
    B = theta0.shape[0]
    lr = np.broadcast_to(np.asarray(lr, dtype=np.float64).reshape(-1), (B,))[:, None].copy()
    mu = np.broadcast_to(np.asarray(mu, dtype=np.float64).reshape(-1), (B,))[:, None].copy()
    e, weight = _modes(q, theta0)
    lam = q.eigenvalues[None, :]
    b = np.zeros_like(e)
    diverged = np.full(B, -1, dtype=np.int64)
    last_e = e.copy()
    loss_of = lambda e_: q.optimum_loss + np.sum(weight * e_ * e_, axis=-1)  # noqa: E731

    def advance(e_, b_, lr_, mu_, lam_):
        return momentum_mode_step(e_, b_, lam_, lr_, mu_, nesterov)

    with np.errstate(over="ignore", invalid="ignore"):
        if history:
            wanted = None if kept is None or (kept.size == steps + 1 and kept[-1] == steps) else Cursor(kept)
            losses = np.empty((steps + 1 if wanted is None else 0, B))
            rows: dict[int, np.ndarray] = {}  # step -> losses, for a decimated history
            alive = np.ones(B, dtype=bool)
            snapshots = {}
            previous, stopped, cut = None, None, None
            for t in range(steps + 1):
                loss = loss_of(e)
                if t in record and np.isfinite(loss).all():
                    snapshots[t] = q.optimum + e @ q.directions.T
                bad = alive & ~np.isfinite(loss)
                diverged[bad] = t
                row = np.where(alive, loss, np.nan)
                if wanted is None:
                    losses[t] = row
                elif wanted.wants(t) or bad.any():
                    rows[t] = row
                    if bad.any() and previous is not None:
                        rows[t - 1] = previous
                previous = row
                alive &= ~bad
                last_e = np.where(alive[:, None], e, last_e)
                if t == steps or not np.any(alive):
                    break
                if stop is not None and stop.set:  # Ctrl-C: the history so far, this step kept
                    stopped = cut = t
                    if wanted is not None:
                        rows[t] = row
                    break
                if stop_below is not None and bool(np.all(row <= stop_below)):  # at the optimum
                    cut = t
                    snapshots[t] = q.optimum + e @ q.directions.T
                    if wanted is not None:
                        rows[t] = row
                    break
                e, b = advance(e, b, lr, mu, lam)
            at_steps = None
            if wanted is None:
                losses = losses[: _history_length(diverged, steps) if cut is None else cut + 1]
            else:
                at_steps = np.array(sorted(rows), dtype=np.int64)
                losses = np.stack([rows[int(t)] for t in at_steps]).reshape(-1, B)
            return BatchRun(losses, loss_of(last_e), q.optimum + last_e @ q.directions.T, diverged, snapshots,
                            at_steps, stopped)  # fmt: skip
        t = 0
        start_loss = loss_of(e)
        diverged[~np.isfinite(start_loss)] = 0
        while t < steps:
            n = min(BLOCK, steps - t)
            e_start, b_start = e, b
            for _ in range(n):
                e, b = advance(e, b, lr, mu, lam)
            bad = np.flatnonzero((diverged < 0) & ~np.isfinite(loss_of(e)))
            if bad.size:  # replay the block for those rows, one step at a time, all of them at once
                er, br, open_ = e_start[bad], b_start[bad], np.ones(bad.size, dtype=bool)
                for k in range(1, n + 1):
                    prev = er
                    er, br = advance(er, br, lr[bad], mu[bad], lam)
                    now = open_ & ~np.isfinite(loss_of(er))
                    diverged[bad[now]] = t + k
                    last_e[bad[now]] = prev[now]
                    open_ &= ~now
            ok = diverged < 0
            last_e[ok] = e[ok]
            t += n
    return BatchRun(None, loss_of(last_e), q.optimum + last_e @ q.directions.T, diverged)


BLOCK = 32


def _history_length(diverged: np.ndarray, steps: int) -> int:
    """Rows are cut where the last row to stop stopped (as the per-sample loop does)."""
    return int(steps + 1 if np.any(diverged < 0) else diverged.max() + 1)


@dataclass(frozen=True)
class StatsObjective:
    """Loss and gradient of a quadratic loss from the solved surface, in O(p^2) per row.

    L = L* + c e^T G e and dL/dtheta = 2 c G e with e = theta - theta*, G = V diag(s^2) V^T:
    the same numbers as the per-sample sum, without its cancellation near the optimum.
    """

    optimum: torch.Tensor  # (p,)
    optimum_loss: float
    cG: torch.Tensor  # (p, p) c G

    @classmethod
    def of(cls, q: Quadratic, device: str = "cpu") -> "StatsObjective":
        V = q.directions
        cG = q.scale * (V * q.singular_values**2) @ V.T
        return cls(
            torch.as_tensor(q.optimum, dtype=torch.float64, device=device),
            q.optimum_loss,
            torch.as_tensor(cG, dtype=torch.float64, device=device),
        )

    def __call__(self, theta: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        e = theta - self.optimum
        Ge = e @ self.cG
        loss = self.optimum_loss + (e * Ge).sum(-1)
        return loss, (2.0 * Ge if with_grad else None)
