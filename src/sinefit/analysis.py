"""How good can a fit be, and how fast can gradient descent get there?

All in float64 from the data the fit saw. For the quadratic losses
L(theta) = c ||X theta - y||^2 (c = 1 for sse, 1/n for mse) with the design
matrix X (the basis functions at the samples, highest degree first):

* the optimum theta* solves least squares, and L(theta) = L* + ||X (theta - theta*)||^2;
* the Hessian is H = 2 c X^T X; with the SVD X = U S V^T its eigenvalues are
  lambda_i = 2 c s_i^2 and its eigenvectors the columns of V;
* plain gradient descent multiplies the error's component along v_i by
  (1 - lr lambda_i) every step, so it is stable for lr < 2 / lambda_max and
  L(theta_t) - L* = c sum_i s_i^2 e_i^2 (1 - lr lambda_i)^(2t), e = V^T (theta_0 - theta*).

For the Huber loss the optimum comes from iteratively reweighted least squares
and the spectrum is that of (1/n) X^T X, the largest curvature the loss can
have, so the stable-lr bound still holds; the closed-form path does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A fit whose loss is within this fraction of the optimum's counts as converged.
CONVERGED = 1e-3


def momentum_mode_step(e, b, lam, lr, mu, nesterov: bool):
    """One step of torch.optim.SGD's momentum in the Hessian's eigenbasis, every mode at once.

    g = lambda e;  b <- mu b + g (b starts at 0);  e <- e - lr b, or e - lr (g + mu b) for Nesterov.
    """
    g = lam * e
    b = mu * b + g
    return e - lr * (g + mu * b if nesterov else b), b


@dataclass(frozen=True)
class Quadratic:
    """The loss surface of one model on one data set, solved."""

    optimum: np.ndarray  # theta*, highest degree first
    optimum_loss: float
    singular_values: np.ndarray  # s_i of X, descending
    directions: np.ndarray  # V: column i is the Hessian eigenvector for s_i
    y_norm2: float  # c y^T y: the loss of the zero polynomial, a scale for "tiny"
    scale: float = 1.0  # c: 1 for sse, 1/n for mse and the Huber curvature bound
    quadratic: bool = True  # False for Huber: no closed-form gd path

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of the Hessian 2 c X^T X, descending."""
        return 2.0 * self.scale * self.singular_values**2

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
        return self.optimum_loss + self.scale * float(np.sum((self.singular_values * e) ** 2))

    def gd_gap(self, theta0: np.ndarray, lr: float, steps: np.ndarray) -> np.ndarray:
        """L(theta_t) - L* after t plain-gd steps from theta0, for every t in ``steps``, in closed form."""
        e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
        rate = (1.0 - lr * self.eigenvalues) ** 2
        t = np.asarray(steps, dtype=np.float64)[..., None]
        return self.scale * np.sum((self.singular_values * e) ** 2 * rate**t, axis=-1)

    def gd_steps_to(self, theta0: np.ndarray, lr: float, gap: float) -> float:
        """The fewest plain-gd steps from theta0 after which L - L* <= gap (inf if never).

        The gap shrinks monotonically, so the first step below ``gap`` is bracketed by powers of
        two, then narrowed 64-fold per round, each round one small vectorised evaluation.
        """
        if self.gd_gap(theta0, lr, np.array(0.0)) <= gap:
            return 0
        e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
        moving = (self.singular_values * e) ** 2 > 0
        if np.any(np.abs(1.0 - lr * self.eigenvalues[moving]) >= 1.0):
            return math.inf
        powers = 2.0 ** np.arange(63)
        below = np.flatnonzero(self.gd_gap(theta0, lr, powers) <= gap)
        if below.size == 0:
            return math.inf
        hi = int(powers[below[0]])
        lo = hi // 2  # the gap at lo is above the target (or lo = 0, checked above)
        while hi - lo > 1:
            grid = np.unique(np.linspace(lo, hi, min(hi - lo + 1, 65)).round())
            first = int(grid[np.flatnonzero(self.gd_gap(theta0, lr, grid) <= gap)[0]])
            lo, hi = int(grid[np.searchsorted(grid, first) - 1]), first
        return hi

    def momentum_steps_to(
        self, theta0: np.ndarray, lr: float, mu: float, nesterov: bool, gap: float, limit: int = 200_000
    ) -> float:
        """The first step after which heavy-ball (or Nesterov) momentum keeps L - L* <= gap.

        In the Hessian's eigenbasis each mode is a 2x2 linear recurrence (torch.optim.SGD's form):
        b_t = mu b_{t-1} + lambda e_t;  e_{t+1} = e_t - lr b_t  (Nesterov: - lr (lambda e_t + mu b_t)).
        Its gap oscillates, so the modes are iterated (vectorised over modes) rather than
        bisected; inf when ``limit`` steps do not suffice.
        """
        lam = self.eigenvalues
        e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
        b = np.zeros_like(e)
        last_above = 0
        for t in range(limit + 1):
            if 0.5 * np.sum(lam * e * e) > gap:
                last_above = t
            elif t - last_above > 50:  # stayed below for a while: the transient is over
                return float(last_above + 1)
            e, b = momentum_mode_step(e, b, lam, lr, mu, nesterov)
            if not np.all(np.isfinite(e)):
                return math.inf
        return math.inf

    def target_gap(self) -> float:
        """How close to the optimum counts as converged, in loss units."""
        return CONVERGED * max(self.optimum_loss, 1e-12 * self.y_norm2)


def design_matrix(x: np.ndarray, degree: int) -> np.ndarray:
    """Columns x^degree ... x^0, float64: the X of least squares in the power basis, shape (n, p)."""
    return np.vander(np.asarray(x, dtype=np.float64), degree + 1)


def _lstsq(U: np.ndarray, s: np.ndarray, Vt: np.ndarray, y: np.ndarray) -> np.ndarray:
    cutoff = s[0] * max(U.shape) * np.finfo(np.float64).eps
    inv = np.where(s > cutoff, 1.0 / np.where(s > cutoff, s, 1.0), 0.0)
    return Vt.T @ (inv * (U.T @ y))


def solve(X: np.ndarray, y: np.ndarray, loss: str = "sse", huber_delta: float = 1.0) -> Quadratic:
    """The optimum and the spectrum, in float64, through the SVD of X (robust to ill-conditioning).

    ``X`` is the (n, p) design matrix (basis functions at the samples).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = X.shape[0]
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    theta = _lstsq(U, s, Vt, y)
    scale = 1.0 if loss == "sse" else 1.0 / n
    if loss == "huber":
        theta = _huber_irls(X, y, theta, huber_delta)
        r = np.abs(X @ theta - y)
        value = float(np.mean(np.where(r <= huber_delta, 0.5 * r**2, huber_delta * (r - 0.5 * huber_delta))))
        # h'' <= 1, so (1/n) X^T X bounds the Hessian: half the sse/n curvature.
        return Quadratic(theta, value, s, Vt.T, 0.5 * float(y @ y) / n, 0.5 / n, quadratic=False)
    residual = X @ theta - y
    return Quadratic(theta, scale * float(residual @ residual), s, Vt.T, scale * float(y @ y), scale)


def _huber_irls(X: np.ndarray, y: np.ndarray, theta: np.ndarray, delta: float, iterations: int = 500) -> np.ndarray:
    """Minimise the Huber loss by iteratively reweighted least squares.

    Weights w_i = 1 where |r_i| <= delta, delta / |r_i| beyond: each weighted
    least-squares solve lowers the Huber loss, and the fixed point is its minimum.
    """
    for _ in range(iterations):
        r = np.abs(X @ theta - y)
        w = np.sqrt(np.where(r <= delta, 1.0, delta / np.maximum(r, delta)))
        U, s, Vt = np.linalg.svd(X * w[:, None], full_matrices=False)
        new = _lstsq(U, s, Vt, y * w)
        if np.allclose(new, theta, rtol=1e-15, atol=1e-300):
            return new
        theta = new
    return theta


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


def advise(
    q: Quadratic, theta0: np.ndarray, theta: np.ndarray, final_loss: float, lr: float, diverged: bool, gd: bool = True
) -> Advice:
    """Numbers for the report. Step predictions use gd's closed form: NaN where it does not apply."""
    gap_target = q.target_gap()
    ratio = final_loss / q.optimum_loss if q.optimum_loss > 0 else math.inf
    converged = (not diverged) and final_loss - q.optimum_loss <= gap_target
    closed_form = q.quadratic and gd
    more = 0.0 if converged or diverged else q.gd_steps_to(theta, lr, gap_target) if closed_form else math.nan
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged fit's parameters may be huge
        parts = (q.singular_values * (q.directions.T @ (np.asarray(theta, dtype=np.float64) - q.optimum))) ** 2
    parts = np.nan_to_num(parts, nan=np.inf)
    worst = int(np.argmax(parts))
    return Advice(
        ratio=ratio,
        converged=converged,
        diverged=diverged,
        bottleneck=worst,
        bottleneck_rate=float((1.0 - lr * q.eigenvalues[worst]) ** 2),
        bottleneck_share=_share(parts, worst),
        more_steps=more,
        fastest_lr=q.fastest_lr,
        steps_at_fastest_lr=q.gd_steps_to(theta0, q.fastest_lr, gap_target) if q.quadratic else math.nan,
    )


def _share(parts: np.ndarray, i: int) -> float:
    total = parts.sum()
    if not np.isfinite(total):
        return 1.0 if np.isinf(parts[i]) else 0.0
    return float(parts[i] / total) if total > 0 else 0.0


@dataclass(frozen=True)
class AutoStep:
    """The textbook step (and momentum) for an optimizer on a quadratic, and what it buys."""

    lr: float
    momentum: float | None
    steps_to_1e6: float  # steps until the loss is within 1e-6 (relative) of the optimum


def auto_step(q: Quadratic, optimizer: str, theta0: np.ndarray) -> AutoStep:
    """Optimal constant steps from the Hessian's extreme eigenvalues (lambda_min, lambda_max).

    gd:        lr = 2 / (lambda_min + lambda_max); error shrinks by (kappa - 1) / (kappa + 1) a step.
    momentum:  Polyak's heavy ball, lr = 4 / (sqrt(lambda_max) + sqrt(lambda_min))^2,
               mu = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2; error shrinks by sqrt(mu) a step.
    nesterov:  lr = 1 / lambda_max, mu = (sqrt(kappa) - 1) / (sqrt(kappa) + 1); error shrinks by
               about 1 - 1 / sqrt(kappa) a step.
    The step counts come from the exact linear recurrences, not from these rates.
    """
    hi, lo = float(q.eigenvalues[0]), float(q.eigenvalues[-1])
    kappa = hi / lo if lo > 0 else math.inf
    target = 1e-6 * max(q.optimum_loss, 1e-12 * q.y_norm2)
    gap0 = q.loss(theta0) - q.optimum_loss
    if optimizer == "gd":
        lr = 2.0 / (lo + hi)
        return AutoStep(lr, None, q.gd_steps_to(theta0, lr, target))
    root = math.sqrt(kappa)
    if optimizer == "momentum":
        lr, mu = 4.0 / (math.sqrt(hi) + math.sqrt(lo)) ** 2, ((root - 1) / (root + 1)) ** 2
    elif optimizer == "nesterov":
        lr, mu = 1.0 / hi, (root - 1) / (root + 1)
    else:
        raise ValueError(f"no textbook step for {optimizer!r}")
    steps = 0.0 if gap0 <= target else q.momentum_steps_to(theta0, lr, mu, optimizer == "nesterov", target)
    return AutoStep(lr, mu, steps)


def solve_moments(G: np.ndarray, h: np.ndarray, yy: float, n: int, loss: str = "sse") -> Quadratic:
    """The same as :func:`solve` from the sufficient statistics G = X^T X, h = X^T y, y^T y.

    Through the eigendecomposition of G: its condition number is that of X
    squared, so prefer ``solve`` when the samples fit in memory; the optimum's
    loss c (y^T y - h^T theta*) is accurate to about eps * y^T y.
    """
    if loss not in ("sse", "mse"):
        raise ValueError("sufficient statistics serve the quadratic losses only")
    lam, V = np.linalg.eigh(np.asarray(G, dtype=np.float64))
    lam, V = np.clip(lam[::-1], 0.0, None), V[:, ::-1]  # descending, like the SVD
    cutoff = lam[0] * len(lam) * np.finfo(np.float64).eps
    inv = np.where(lam > cutoff, 1.0 / np.where(lam > cutoff, lam, 1.0), 0.0)
    theta = V @ (inv * (V.T @ h))
    scale = 1.0 if loss == "sse" else 1.0 / n
    optimum_loss = max(scale * float(yy - h @ theta), 0.0)
    return Quadratic(theta, optimum_loss, np.sqrt(lam), V, scale * float(yy), scale)
