"""How good can a fit be, and how fast can gradient descent get there?

All in float64 from the data the fit saw. For the sum of squared errors
L(theta) = ||X theta - y||^2 with the design matrix X (columns x^degree ... 1):

* the optimum theta* solves least squares, and L(theta) = L* + ||X (theta - theta*)||^2;
* the Hessian is H = 2 X^T X; with the SVD X = U S V^T its eigenvalues are
  lambda_i = 2 s_i^2 and its eigenvectors the columns of V;
* plain gradient descent multiplies the error's component along v_i by
  (1 - lr lambda_i) every step, so it is stable for lr < 2 / lambda_max and
  L(theta_t) - L* = sum_i s_i^2 e_i^2 (1 - lr lambda_i)^(2t), e = V^T (theta_0 - theta*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A fit whose loss is within this fraction of the optimum's counts as converged.
CONVERGED = 1e-3


@dataclass(frozen=True)
class Quadratic:
    """The SSE loss surface of one model on one data set, solved."""

    optimum: np.ndarray  # theta*, highest power first
    optimum_loss: float
    singular_values: np.ndarray  # s_i of X, descending
    directions: np.ndarray  # V: column i is the Hessian eigenvector for s_i
    y_norm2: float  # y^T y: the loss of the zero polynomial, a scale for "tiny"

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of the Hessian 2 X^T X, descending."""
        return 2.0 * self.singular_values**2

    @property
    def condition_number(self) -> float:
        ev = self.eigenvalues
        return float(ev[0] / ev[-1]) if ev[-1] > 0 else math.inf

    @property
    def stable_lr(self) -> float:
        """The largest learning rate at which plain gradient descent does not diverge."""
        return float(2.0 / self.eigenvalues[0])

    @property
    def fastest_lr(self) -> float:
        """The constant step that minimises gd's worst contraction: 2 / (lambda_min + lambda_max)."""
        ev = self.eigenvalues
        return float(2.0 / (ev[0] + ev[-1]))

    def loss(self, theta: np.ndarray) -> float:
        """L(theta), exactly as the quadratic form around the optimum."""
        e = self.directions.T @ (np.asarray(theta, dtype=np.float64) - self.optimum)
        return self.optimum_loss + float(np.sum((self.singular_values * e) ** 2))

    def gd_gap(self, theta0: np.ndarray, lr: float, steps: np.ndarray) -> np.ndarray:
        """L(theta_t) - L* after t plain-gd steps from theta0, for every t in ``steps``, in closed form."""
        e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
        rate = (1.0 - lr * self.eigenvalues) ** 2
        t = np.asarray(steps, dtype=np.float64)[..., None]
        return np.sum((self.singular_values * e) ** 2 * rate**t, axis=-1)

    def gd_steps_to(self, theta0: np.ndarray, lr: float, gap: float) -> float:
        """The fewest plain-gd steps from theta0 after which L - L* <= gap (inf if never)."""
        if self.gd_gap(theta0, lr, np.array(0.0)) <= gap:
            return 0
        e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
        moving = (self.singular_values * e) ** 2 > 0
        if np.any(np.abs(1.0 - lr * self.eigenvalues[moving]) >= 1.0):
            return math.inf
        hi = 1
        while self.gd_gap(theta0, lr, np.array(float(hi))) > gap:
            hi *= 2
            if hi > 2**62:
                return math.inf
        lo = hi // 2
        while hi - lo > 1:  # the gap shrinks monotonically: bisect
            mid = (lo + hi) // 2
            if self.gd_gap(theta0, lr, np.array(float(mid))) > gap:
                lo = mid
            else:
                hi = mid
        return hi

    def target_gap(self) -> float:
        """How close to the optimum counts as converged, in loss units."""
        return CONVERGED * max(self.optimum_loss, 1e-12 * self.y_norm2)


def design_matrix(x: np.ndarray, degree: int) -> np.ndarray:
    """Columns x^degree ... x^0, float64: the X of least squares, shape (n, p)."""
    return np.vander(np.asarray(x, dtype=np.float64), degree + 1)


def solve(x: np.ndarray, y: np.ndarray, degree: int) -> Quadratic:
    """Least squares in float64 through the SVD (robust to ill-conditioned X)."""
    X = design_matrix(x, degree)
    y = np.asarray(y, dtype=np.float64)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    cutoff = s[0] * max(X.shape) * np.finfo(np.float64).eps
    inv = np.where(s > cutoff, 1.0 / np.where(s > cutoff, s, 1.0), 0.0)
    theta = Vt.T @ (inv * (U.T @ y))
    residual = X @ theta - y
    return Quadratic(
        optimum=theta,
        optimum_loss=float(residual @ residual),
        singular_values=s,
        directions=Vt.T,
        y_norm2=float(y @ y),
    )


@dataclass(frozen=True)
class Advice:
    """What a gd fit reached, why, and what would close the gap. Numbers only."""

    ratio: float  # final loss / optimum loss (inf when the optimum is exactly 0)
    converged: bool
    diverged: bool
    bottleneck: int  # index (into eigenvalues, descending) of the direction holding most of the gap
    bottleneck_rate: float  # per-step factor on the loss along it, at the used lr
    bottleneck_share: float  # fraction of the remaining gap that lies along it
    more_steps: float  # further steps at the used lr to get within CONVERGED of the optimum
    fastest_lr: float
    steps_at_fastest_lr: float  # steps from the same start at fastest_lr


def advise(q: Quadratic, theta0: np.ndarray, theta: np.ndarray, final_loss: float, lr: float, diverged: bool) -> Advice:
    gap_target = q.target_gap()
    ratio = final_loss / q.optimum_loss if q.optimum_loss > 0 else math.inf
    converged = (not diverged) and final_loss - q.optimum_loss <= gap_target
    more = 0.0 if converged or diverged else q.gd_steps_to(theta, lr, gap_target)
    parts = (q.singular_values * (q.directions.T @ (np.asarray(theta, dtype=np.float64) - q.optimum))) ** 2
    worst = int(np.argmax(parts))
    return Advice(
        ratio=ratio,
        converged=converged,
        diverged=diverged,
        bottleneck=worst,
        bottleneck_rate=float((1.0 - lr * q.eigenvalues[worst]) ** 2),
        bottleneck_share=float(parts[worst] / parts.sum()) if parts.sum() > 0 else 0.0,
        more_steps=more,
        fastest_lr=q.fastest_lr,
        steps_at_fastest_lr=q.gd_steps_to(theta0, q.fastest_lr, gap_target),
    )
