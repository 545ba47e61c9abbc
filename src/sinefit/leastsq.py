"""Least squares solved in a well-conditioned form, then converted back: float64 throughout.

The power basis on data far from zero (x in [1960, 2020], or [-8.8, -3.1] at degree 10) has a design
matrix X = [x^p ... x 1] whose condition number passes 1/eps: an SVD of X itself then drops
directions that the data determine perfectly well. As numpy.polynomial's ``Polynomial.fit`` does,
the solve here maps x onto [-1, 1] (t = alpha x + beta, over the data's range) and works with
Legendre polynomials of t, whose columns are close to orthogonal; with columns scaled to unit
norm, the SVD of that matrix B sees the true rank. The power coefficients follow exactly:
X theta = B phi with theta = M phi (M = ``basis.to_power_matrix``), so theta* = M phi*, and
(X^T X)^+ = M (B^T B)^+ M^T, the unscaled covariance, comes from the same rank decision.

A direction counts as determined when its singular value (of the column-scaled B) is above
s_max * max(n, p) * eps, the usual cutoff of numpy.linalg.lstsq; below it the problem is truly
rank-deficient and ``rank`` says so. Pure numpy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from . import basis as bases
from .threads import one_blas_thread


@dataclass(frozen=True)
class Solution:
    theta: np.ndarray  # (p,) in the fitted basis, highest degree first
    residual: np.ndarray  # (n,) B phi - y, computed in the well-conditioned form
    rank: int  # determined directions, of p
    inverse_gram: np.ndarray  # (p, p) (X^T X)^+ in the fitted basis, same rank decision as theta
    factor: np.ndarray | None = None  # R of X's Householder QR, where the solve factored X itself
    spectrum: tuple[np.ndarray, np.ndarray] | None = None  # (s, Vt) of that R: X's own, where computed

    @property
    def p(self) -> int:
        return self.theta.shape[0]


class _ScaledSVD:
    """The SVD of B with unit-norm columns, kept to solve for several right-hand sides."""

    def __init__(self, B: np.ndarray):
        n, p = B.shape
        norms = np.sqrt(np.sum(B * B, axis=0))
        self.norms = np.where(norms > 0, norms, 1.0)
        self.U, s, self.Vt = np.linalg.svd(B / self.norms, full_matrices=False)
        self.keep = s > (s[0] if s.size else 0.0) * max(n, p) * np.finfo(np.float64).eps
        self.inv = np.where(self.keep, 1.0 / np.where(self.keep, s, 1.0), 0.0)

    def solve(self, y: np.ndarray) -> np.ndarray:
        return (self.Vt.T @ (self.inv * (self.U.T @ y))) / self.norms

    @property
    def rank(self) -> int:
        return int(self.keep.sum())

    def inverse_gram(self) -> np.ndarray:
        W = self.Vt.T * self.inv / self.norms[:, None]  # D^-1 V S^+
        return W @ W.T


def _scaled_solve(B: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """phi, rank, (B^T B)^+ by the SVD of B with unit-norm columns."""
    f = _ScaledSVD(B)
    return f.solve(y), f.rank, f.inverse_gram()


REFINEMENTS = 2


def _horner(coefficients: np.ndarray, u: np.ndarray) -> np.ndarray:
    """sum_k c_k u^k (highest first) by Horner's rule in extended precision (np.longdouble)."""
    ul, acc = u.astype(np.longdouble), np.zeros(u.shape, dtype=np.longdouble)
    for c in np.asarray(coefficients).astype(np.longdouble):
        acc *= ul  # in place: no temporaries of n extended-precision values
        acc += c
    return acc


def _mapped_power(x: np.ndarray, y: np.ndarray, degree: int) -> Solution | None:
    """The power-basis least squares through Legendre polynomials of t = (x - c) / h on the data's range.

    The solution is carried as power coefficients psi of u = x - c (c the centre, h the half-width:
    u is exact or nearly, and |u| <= h, so these coefficients are well scaled), refined with residuals
    y - psi(u) computed in extended precision, and expanded in powers of x (x = u + c) only at the end.
    None where that expansion leaves float64's range (degrees in the hundreds).
    """
    lo, hi = data_domain(x)
    c, h = 0.5 * (lo + hi), 0.5 * (hi - lo)
    u = x - c
    k = np.arange(degree + 1)
    leg_in_t = bases._basis_in_t("legendre", degree)  # low first: column j = P_j in powers of t
    to_u = (leg_in_t / h ** k[:, None])[::-1, ::-1]  # highest first: P_j((u) / h) in powers of u
    if not np.all(np.isfinite(to_u)):
        return None  # before the SVD (at degree 1000 the costliest step, and wasted) and before M
    shift = bases._compose_affine(degree, 1.0, -c)[::-1, ::-1]  # (x - c)^j in powers of x, highest first
    M = shift @ to_u
    if not np.all(np.isfinite(M)):
        return None
    f = _ScaledSVD(np.polynomial.legendre.legvander(u / h, degree)[:, ::-1])
    psi = (to_u @ f.solve(y)).astype(np.longdouble)
    yl = y.astype(np.longdouble)
    for _ in range(REFINEMENTS):
        r = (yl - _horner(psi, u)).astype(np.float64)
        psi = psi + (to_u @ f.solve(r)).astype(np.longdouble)
    theta = (shift.astype(np.longdouble) @ psi).astype(np.float64)
    cov = M @ f.inverse_gram() @ M.T
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(cov))):
        return None
    residual = (_horner(psi, u) - yl).astype(np.float64)
    return Solution(theta, residual, f.rank, cov)


def triangular(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(R11, Q^T y) from R of [X y] = Q R (Householder, Q never formed): everything a least-squares
    solve needs at a fraction of an SVD of the n x p X with its U. None for a short X (n <= p)."""
    n, p = X.shape
    if n <= p:
        return None
    R = np.linalg.qr(np.column_stack([X, y]), mode="r")
    return R[:p, :p], R[:p, p]


def from_factor(X: np.ndarray, y: np.ndarray, Qty: np.ndarray, U: np.ndarray, s: np.ndarray, Vt: np.ndarray,
                factor: np.ndarray | None = None) -> Solution:  # fmt: skip
    """The solve from an SVD U S V^T of X (or of R11, with ``Qty`` = U^T y's Q^T y: the same solve)
    already at hand, for a well-conditioned X (mapped bases)."""
    n, p = X.shape
    keep = s > (s[0] if s.size else 0.0) * max(n, p) * np.finfo(np.float64).eps
    inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    with np.errstate(all="ignore"):
        theta = Vt.T @ (inv * (U.T @ Qty))
        W = Vt.T * inv
        return Solution(theta, X @ theta - y, int(keep.sum()), W @ W.T, factor=factor)


def data_domain(x: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(x)), float(np.max(x))
    return (lo, hi) if lo < hi else (lo - 1.0, hi + 1.0)


@one_blas_thread
def least_squares(X: np.ndarray, y: np.ndarray, x: np.ndarray | None = None, basis: str | None = None) -> Solution:
    """min ||X theta - y|| accurately. With ``basis == "power"`` and the samples ``x``, solved in
    Legendre polynomials of x mapped from its range to [-1, 1] and converted; otherwise (a mapped
    basis is well conditioned already) by the column-scaled SVD of X itself."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        if basis == "power" and x is not None and X.shape[1] > 1:
            solution = _mapped_power(np.asarray(x, dtype=np.float64), y, X.shape[1] - 1)
            if solution is not None:
                return solution
            # Past float64's range (degree in the hundreds): the power form cannot be written down
            # accurately at all; the direct solve is the best there is.
            return _direct_from_qr(X, y)
        f = _ScaledSVD(X)
        theta = f.solve(y)
        return Solution(theta, X @ theta - y, f.rank, f.inverse_gram())


def _direct_from_qr(X: np.ndarray, y: np.ndarray) -> Solution:
    """The column-scaled solve through R of [X y]: the SVD needed is that of the p x p R11 D^-1, not
    of the n x p X D^-1 with its U (a third of the cost at degree 1000). R11 is also what X's own
    spectrum is read from."""
    n, p = X.shape
    qr = triangular(X, y)
    if qr is None:  # a short X: nothing to gain
        f = _ScaledSVD(X)
        theta = f.solve(y)
        return Solution(theta, X @ theta - y, f.rank, f.inverse_gram())
    R11, z = qr
    norms = np.sqrt(np.sum(R11 * R11, axis=0))  # the column norms of X, as Q is orthogonal
    norms = np.where(norms > 0, norms, 1.0)
    # X's own spectrum (what gradient descent sees) is the SVD of R11 unscaled: a second p x p SVD,
    # independent of the solve's, taken on another thread meanwhile (each on one BLAS thread: on an
    # idle 2-core machine the two take the time of one, with the other core busy no longer than in turn).
    spectrum: dict = {}

    def own() -> None:
        _, spectrum["s"], spectrum["Vt"] = np.linalg.svd(R11, full_matrices=False)

    other = threading.Thread(target=own, name="sinefit-spectrum", daemon=True) if p >= 200 else None
    if other is not None:
        other.start()
    U, s, Vt = np.linalg.svd(R11 / norms)
    if other is not None:
        other.join()
    keep = s > (s[0] if s.size else 0.0) * max(n, p) * np.finfo(np.float64).eps
    inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    theta = (Vt.T @ (inv * (U.T @ z))) / norms
    W = Vt.T * inv / norms[:, None]
    seen = (spectrum["s"], spectrum["Vt"]) if "s" in spectrum else None
    return Solution(theta, X @ theta - y, int(keep.sum()), W @ W.T, factor=R11, spectrum=seen)
