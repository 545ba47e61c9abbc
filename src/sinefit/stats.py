"""Goodness-of-fit statistics and coefficient uncertainties, in float64.

For n samples, p coefficients and residuals r = X theta - y:
SSE = sum r^2, MSE = SSE / n, RMSE = sqrt(MSE), R^2 = 1 - SSE / sum (y - mean y)^2,
AIC = n ln(SSE / n) + 2 p, BIC = n ln(SSE / n) + p ln n (Gaussian errors, as lmfit),
and the covariance of the coefficients s^2 (X^T X)^-1 with s^2 = SSE / (n - p).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .threads import one_blas_thread


@dataclass(frozen=True)
class Statistics:
    n: int
    p: int
    sse: float
    mse: float
    rmse: float
    r2: float
    max_error: float
    max_error_at: float  # the x where |error| is largest
    aic: float
    bic: float
    covariance: np.ndarray  # (p, p) in the fitted basis; NaN when n <= p or SSE is not finite

    @property
    def stderr(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    def correlations(self, threshold: float = 0.1, limit: int | None = None) -> list[tuple[int, int, float]]:
        """Pairs (i, j, r) with |r| >= threshold, strongest first (lmfit's 'Correlations'); the first
        ``limit`` of them only, when given (at degree 1000 there are half a million pairs)."""
        se = self.stderr
        i, j = np.triu_indices(self.p, 1)
        with np.errstate(all="ignore"):
            r = self.covariance[i, j] / (se[i] * se[j])
        ok = (se[i] > 0) & (se[j] > 0) & (np.abs(r) >= threshold)
        i, j, r = i[ok], j[ok], r[ok]
        if limit is not None and r.size > limit:  # only those at least as strong as the limit-th strongest
            strongest = np.abs(r) >= np.partition(np.abs(r), r.size - limit)[r.size - limit]
            i, j, r = i[strongest], j[strongest], r[strongest]
        order = np.argsort(-np.abs(r), kind="stable")[:limit]  # strongest first; ties keep (i, j) order
        return list(zip(i[order].tolist(), j[order].tolist(), r[order].tolist()))


@one_blas_thread
def statistics(
    x: np.ndarray, X: np.ndarray, y: np.ndarray, theta: np.ndarray, inverse_gram: np.ndarray | None = None
) -> Statistics:
    """Every point at hand: the residuals directly. The covariance from ``inverse_gram`` = (X^T X)^+
    as the least-squares solve computed it (``leastsq``: the same rank decision, in a well-conditioned
    form), else from the SVD of X with the solve's cutoff on singular values (not their squares)."""
    x, X, y, theta = (np.asarray(a, dtype=np.float64) for a in (x, X, y, theta))
    with np.errstate(all="ignore"):
        r = X @ theta - y
        sse = float(r @ r)
        sst = float(np.sum((y - y.mean()) ** 2))
    if inverse_gram is None:
        from .leastsq import least_squares

        inverse_gram = least_squares(X, y).inverse_gram
    n, p = X.shape
    base = _statistics(n, sse, sst, x, r, np.empty(0), np.empty((p, 0)))  # no spectrum: the covariance follows
    if n > p and math.isfinite(sse):
        with np.errstate(all="ignore"):
            covariance = (sse / (n - p)) * np.asarray(inverse_gram, dtype=np.float64)
    else:
        covariance = np.full((p, p), np.nan)
    return dataclasses.replace(base, covariance=covariance)


@one_blas_thread
def statistics_from_moments(
    G: np.ndarray, sse: float, n: int, sst: float, sample_x: np.ndarray, sample_errors: np.ndarray
) -> Statistics:
    """The same statistics for streamed data: SSE from the quadratic form, the covariance
    from G = X^T X, and the largest error over the kept sample of the points."""
    lam, V = np.linalg.eigh(np.asarray(G, dtype=np.float64))
    return _statistics(n, sse, sst, np.asarray(sample_x), np.asarray(sample_errors), lam, V)


def statistics_from_spectrum(
    n: int, sse: float, sst: float, sample_x: np.ndarray, sample_errors: np.ndarray, singular_values: np.ndarray,
    V: np.ndarray,
) -> Statistics:
    """The same statistics from the singular values s and right singular vectors V of X (for
    summarised data: those of R11), without forming X^T X."""
    s = np.asarray(singular_values, dtype=np.float64)
    return _statistics(n, sse, sst, np.asarray(sample_x), np.asarray(sample_errors), s**2, np.asarray(V))


def _statistics(
    n: int, sse: float, sst: float, x: np.ndarray, errors: np.ndarray, lam: np.ndarray, V: np.ndarray
) -> Statistics:
    """From SSE, SST, the errors at x, and the eigenpairs (lam, V) of X^T X."""
    p = V.shape[0]
    log_term = n * math.log(sse / n) if 0 < sse < math.inf else (-math.inf if sse == 0 else math.inf)
    if n > p and math.isfinite(sse) and lam.size:
        keep = lam > lam.max() * max(n, p) * np.finfo(np.float64).eps
        inv = np.where(keep, 1.0 / np.where(keep, lam, 1.0), np.inf)
        with np.errstate(invalid="ignore", over="ignore"):  # undetermined directions: infinite variance
            covariance = (sse / (n - p)) * (V * inv) @ V.T
    else:
        covariance = np.full((p, p), np.nan)
    finite = np.isfinite(errors)
    worst = int(np.argmax(np.where(finite, np.abs(errors), -1.0))) if finite.any() else None
    return Statistics(
        n=n,
        p=p,
        sse=sse,
        mse=sse / n,
        rmse=math.sqrt(sse / n) if math.isfinite(sse) else math.inf,
        r2=1.0 - sse / sst if sst > 0 else math.nan,
        max_error=float(abs(errors[worst])) if worst is not None else math.nan,
        max_error_at=float(x[worst]) if worst is not None else math.nan,
        aic=log_term + 2 * p,
        bic=log_term + p * math.log(n),
        covariance=covariance,
    )
