"""What a model fit's numbers mean: statistics, standard errors and the local shape of the surface.

For n points, k parameters, residuals r and the Jacobian J = dr/dp at the solution (float64):

    SSE = sum r^2,  reduced chi-square s^2 = SSE / (n - k),  R^2 = 1 - SSE / sum (y - mean y)^2,
    AIC = n ln(SSE / n) + 2 k,  BIC = n ln(SSE / n) + k ln n   (lmfit's definitions),
    covariance s^2 (J^T J)^-1, through the SVD of J (never forming J^T J, whose condition
    number is J's squared).

A parameter the data do not determine (the model is constant in it, or only a combination
of it with others matters, as a and b in a*b*x) lies in J's null space: its standard error
is reported as not determined, never as inf.

Locally the loss is quadratic with the Gauss-Newton Hessian H = c J^T J (c = 2 for the SSE,
2 / n for the MSE; for Huber, 1 / n bounds its curvature): its eigenvalues, condition number
and plain gd's largest stable lr 2 / lambda_max hold near the point where J is taken, and
only there: far from the solution the surface is different, which ``compare`` puts in numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class ModelStatistics:
    n: int
    k: int
    sse: float
    reduced_chi2: float
    r2: float
    mse: float
    rmse: float
    max_error: float
    max_error_at: float
    aic: float
    bic: float
    covariance: np.ndarray  # (k, k); NaN in the rows and columns of undetermined parameters
    determined: np.ndarray  # (k,) bool
    rank: int

    @property
    def stderr(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.diag(self.covariance))

    def correlations(self, threshold: float = 0.1) -> list[tuple[int, int, float]]:
        """Pairs (i, j, r) with |r| >= threshold, strongest first (lmfit's 'Correlations')."""
        se = self.stderr
        pairs = []
        for i in range(self.k):
            for j in range(i + 1, self.k):
                if self.determined[i] and self.determined[j] and se[i] > 0 and se[j] > 0:
                    r = float(self.covariance[i, j] / (se[i] * se[j]))
                    if abs(r) >= threshold:
                        pairs.append((i, j, r))
        return sorted(pairs, key=lambda t: -abs(t[2]))


def _null_space(J: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    _, s, Vt = np.linalg.svd(J, full_matrices=False)
    if not s.size or not np.all(np.isfinite(s)):
        return s, Vt, np.ones(J.shape[1], dtype=bool), 0
    tol = s[0] * max(J.shape) * EPS if s[0] > 0 else 0.0
    rank = int(np.sum(s > tol)) if s[0] > 0 else 0
    null = Vt[rank:]
    undetermined = np.sum(null**2, axis=0) > 1e-6 if null.size else np.zeros(J.shape[1], dtype=bool)
    return s, Vt, undetermined, rank


def statistics(x: np.ndarray, y: np.ndarray, prediction: np.ndarray, J: np.ndarray) -> ModelStatistics:
    """Goodness of fit and the parameters' covariance at one point (J: (n, k) in the model's own parameters)."""
    x, y, prediction, J = (np.asarray(a, dtype=np.float64) for a in (x, y, prediction, J))
    n, k = J.shape
    with np.errstate(all="ignore"):
        r = prediction - y
        sse = float(r @ r)
        sst = float(np.sum((y - y.mean()) ** 2))
    finite = np.isfinite(r)
    worst = int(np.argmax(np.where(finite, np.abs(r), -1.0))) if finite.any() else None
    log_term = n * math.log(sse / n) if 0 < sse < math.inf else (-math.inf if sse == 0 else math.inf)
    covariance = np.full((k, k), np.nan)
    determined = np.zeros(k, dtype=bool)
    rank = 0
    if np.all(np.isfinite(J)) and math.isfinite(sse):
        s, Vt, undetermined, rank = _null_space(J)
        determined = ~undetermined
        if n > k and rank:
            V, inv = Vt[:rank].T, 1.0 / s[:rank] ** 2
            covariance = (sse / (n - k)) * (V * inv) @ V.T
            covariance[undetermined, :] = np.nan
            covariance[:, undetermined] = np.nan
    return ModelStatistics(
        n=n, k=k, sse=sse, reduced_chi2=sse / (n - k) if n > k else math.nan,
        r2=1.0 - sse / sst if sst > 0 else math.nan, mse=sse / n, rmse=math.sqrt(sse / n) if math.isfinite(sse)
        else math.inf, max_error=float(abs(r[worst])) if worst is not None else math.nan,
        max_error_at=float(x[worst]) if worst is not None else math.nan, aic=log_term + 2 * k,
        bic=log_term + k * math.log(n), covariance=covariance, determined=determined, rank=rank,
    )  # fmt: skip


@dataclass(frozen=True)
class Local:
    """The Gauss-Newton Hessian of the loss at one point, in the optimizer's coordinates."""

    eigenvalues: np.ndarray  # (k,) descending, >= 0
    directions: np.ndarray  # (k, k) column i: eigenvector i
    loss_scale: float  # c in H = c J^T J

    @property
    def condition_number(self) -> float:
        top, bottom = float(self.eigenvalues[0]), float(self.eigenvalues[-1])
        return top / bottom if bottom > top * EPS * len(self.eigenvalues) else math.inf

    @property
    def stable_lr(self) -> float:
        """Plain gd is stable near this point for lr below 2 / lambda_max."""
        top = float(self.eigenvalues[0])
        return 2.0 / top if top > 0 else math.inf


def loss_scale(loss: str, n: int) -> float:
    return {"sse": 2.0, "mse": 2.0 / n, "huber": 1.0 / n}[loss]


def local(J: np.ndarray, loss: str) -> Local:
    """Eigenpairs of H = c J^T J from the SVD of J (J: (n, k) in the optimizer's coordinates)."""
    J = np.asarray(J, dtype=np.float64)
    c = loss_scale(loss, J.shape[0])
    if not np.all(np.isfinite(J)):
        k = J.shape[1]
        return Local(np.full(k, np.nan), np.eye(k), c)
    _, s, Vt = np.linalg.svd(J, full_matrices=False)
    return Local(c * s**2, Vt.T, c)
