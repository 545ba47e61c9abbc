"""Levenberg-Marquardt for a batch of starts, in float64: the reference for nonlinear least squares.

Each iteration, for every row b of the batch (own damping, own scaling):

    J = dr/du (torch.func), D = diag(d_j), d_j = max over iterations of |J_j| (column norms),
    step  delta = argmin ||r + J delta||^2 + mu ||D delta||^2,

solved through the SVD of the scaled Jacobian J D^-1 = U S V^T:
delta = -D^-1 V diag(s / (s^2 + mu)) U^T r, so trying a larger mu after a rejected
step costs no new factorisation. The predicted reduction is
mu |D delta|^2 + sum s_i^2 / (s_i^2 + mu) (U^T r)_i^2 (both terms positive: no cancellation).

Damping: Marquardt's diagonal scaling D (MINPACK's, which makes the method invariant to
the parameters' units: NIST problems mix 1e-4 and 1e3) with Nielsen's update of mu
(Madsen, Nielsen & Tingleff 2004, eq. 3.16): start at mu = tau = 1e-3 (the scaled J^T J
has unit diagonal); after a step with gain ratio rho = actual / predicted > 0, accept and
mu *= max(1/3, 1 - (2 rho - 1)^3), nu = 2; otherwise reject and mu *= nu, nu *= 2.

Stopping, per row: converged when Gauss-Newton (mu = 0, directions with s_i above
rounding) predicts a relative decrease of the SSE below ``ftol``, or below the level that
rounding the residuals leaves (~ k eps^2 |y|^2); "stalled" when mu has grown past 1e16
without an accepted step (no step reduces the SSE), reported as converged if Gauss-Newton's
prediction there is below 1e-6 of the SSE and as not converged otherwise; "not converged"
after ``max_iter`` iterations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .problem import Problem

EPS = float(np.finfo(np.float64).eps)
TAU = 1e-3
FTOL = 1e-24
MU_MAX = 1e16


@dataclass(frozen=True)
class LMResult:
    u: np.ndarray  # (B, k) final internal parameters
    sse: np.ndarray  # (B,)
    iterations: np.ndarray  # (B,) iterations taken (accepted or not)
    converged: np.ndarray  # (B,) bool
    reason: list[str]  # (B,) in words
    history: np.ndarray  # (T + 1, B) SSE of the current point after t iterations (held after a row stops)
    path: np.ndarray  # (T + 1, B, k) the current point after t iterations
    stopped_at: int | None = None  # the iteration where a stop request ended the loop
    steps: np.ndarray | None = None  # with ``kept``: the iteration of each row of history and path


def _pred_gn(S: torch.Tensor, Utr: torch.Tensor) -> torch.Tensor:
    """Gauss-Newton's predicted SSE decrease: |U^T r|^2 over the directions above rounding."""
    keep = S > S.amax(-1, keepdim=True) * S.shape[-1] * EPS * 10
    return torch.where(keep, Utr * Utr, torch.zeros_like(Utr)).sum(-1)


def levenberg_marquardt(
    problem: Problem,
    u0: torch.Tensor,
    max_iter: int = 2000,
    ftol: float = FTOL,
    on_iteration: Callable[[int, torch.Tensor], None] | None = None,
    stop=None,
    kept: np.ndarray | None = None,
) -> LMResult:
    """``kept`` (history.kept_steps): keep history and path at those iterations only (and the last),
    so a run allowed 10^9 iterations holds megabytes whatever it does."""
    from ..history import Cursor

    cursor = None if kept is None else Cursor(kept)
    problem = problem.to(torch.float64)
    u = u0.detach().to(torch.float64).clone()
    B, k = u.shape
    floor = 100.0 * k * EPS**2 * float((problem.y * problem.y).sum())  # what rounding r leaves in |U^T r|^2
    r = problem.residuals(u)
    f = (r * r).sum(-1)
    J = problem.jacobian(u)
    D = torch.ones(B, k, dtype=torch.float64)
    mu = torch.full((B,), TAU, dtype=torch.float64)
    nu = torch.full((B,), 2.0, dtype=torch.float64)
    active = torch.isfinite(f)
    converged = torch.zeros(B, dtype=torch.bool)
    reason = ["not converged: the starting SSE is not finite" if not bool(torch.isfinite(f[b])) else
              f"not converged within {max_iter} iterations" for b in range(B)]  # fmt: skip
    iterations = torch.zeros(B, dtype=torch.long)
    history, path, at = [], [], []

    count, last = [0], [None]  # states so far (the full history's length); the last one not kept

    def keep(f_, u_) -> None:  # the state after count[0] iterations: stored if kept
        i = count[0]
        count[0] += 1
        if cursor is None or cursor.wants(i):
            history.append(f_.clone())
            path.append(u_.clone())
            at.append(i)
        else:
            last[0] = (i, f_.clone(), u_.clone())

    keep(f, u)
    fresh = torch.ones(B, dtype=torch.bool)  # the factorisation must be (re)computed
    S = Utr = Vh = torch.zeros(0)
    stopped_at = None
    for it in range(max_iter):
        if on_iteration is not None:
            on_iteration(it, f)
        if not bool(active.any()):
            break
        if stop is not None and stop.set:
            stopped_at = it
            break
        if bool(fresh.any()):
            D = torch.maximum(D, torch.linalg.vector_norm(J, dim=1))
            D = torch.where(D > 0, D, torch.ones_like(D))
            U_, S_, Vh_ = torch.linalg.svd(J / D[:, None, :], full_matrices=False)
            Utr_ = (U_.transpose(1, 2) @ r[..., None])[..., 0]
            if S.numel():
                S = torch.where(fresh[:, None], S_, S)
                Utr = torch.where(fresh[:, None], Utr_, Utr)
                Vh = torch.where(fresh[:, None, None], Vh_, Vh)
            else:
                S, Utr, Vh = S_, Utr_, Vh_
        gn = _pred_gn(S, Utr)
        done = active & ((f == 0) | (gn <= ftol * f) | (gn <= floor))
        for b in torch.nonzero(done).flatten().tolist():
            converged[b] = True
            if float(f[b]) == 0:
                reason[b] = "converged: an exact fit (SSE 0)"
            elif float(gn[b]) <= ftol * float(f[b]):
                reason[b] = f"converged: Gauss-Newton predicts a relative SSE decrease below {ftol:.0e}"
            else:
                reason[b] = "converged: what Gauss-Newton could still gain is below the residuals' rounding"
        active &= ~done
        stalled = active & (mu > MU_MAX)
        for b in torch.nonzero(stalled).flatten().tolist():
            ok = float(gn[b]) <= 1e-6 * float(f[b])
            converged[b] = ok
            reason[b] = ("converged: no step reduces the SSE further (rounding level)" if ok else
                         "not converged: no step reduces the SSE, yet Gauss-Newton predicts a decrease "
                         "(rank-deficient or noisy residuals)")  # fmt: skip
        active &= ~stalled
        if not bool(active.any()):
            keep(f, u)
            break
        w = S / (S * S + mu[:, None])
        ds = -(Vh.transpose(1, 2) @ (w * Utr)[..., None])[..., 0]
        delta = ds / D
        predicted = mu * (ds * ds).sum(-1) + (S * w * Utr * Utr).sum(-1)
        trial = u + delta
        r_new = problem.residuals(trial)
        f_new = (r_new * r_new).sum(-1)
        rho = (f - f_new) / torch.where(predicted > 0, predicted, torch.ones_like(predicted))
        accept = active & torch.isfinite(f_new) & (f_new < f) & (predicted > 0)
        grow = active & ~accept
        mu = torch.where(accept, mu * torch.clamp(1 - (2 * rho - 1) ** 3, min=1.0 / 3.0), mu)
        nu = torch.where(accept, torch.full_like(nu, 2.0), nu)
        mu = torch.where(grow, mu * nu, mu)
        nu = torch.where(grow, nu * 2, nu)
        u = torch.where(accept[:, None], trial, u)
        r = torch.where(accept[:, None], r_new, r)
        f = torch.where(accept, f_new, f)
        iterations += active.long()
        fresh = accept
        if bool(accept.any()):
            J = torch.where(accept[:, None, None], problem.jacobian(u), J)
        keep(f, u)
    if last[0] is not None and last[0][0] > at[-1]:  # the last state is always kept
        history.append(last[0][1])
        path.append(last[0][2])
        at.append(last[0][0])
    steps = None if cursor is None else np.array(at, dtype=np.int64)
    return LMResult(
        u.numpy(), f.numpy(), iterations.numpy(), converged.numpy(), reason,
        torch.stack(history).numpy(), torch.stack(path).numpy(), stopped_at, steps,
    )  # fmt: skip
