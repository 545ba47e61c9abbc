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

from . import leastsq, stability
from .threads import one_blas_thread

# A fit whose loss is within this fraction of the optimum's counts as converged.
CONVERGED = 1e-3
# Step-count searches give up beyond this many steps (exact integers, never float grids).
STEP_CAP = 2**62
# Advice never asks plain gd for more steps than this: beyond it, other ways are offered.
PRACTICAL_STEPS = 10**7


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
    rank: int | None = None  # directions the data determine (None: all p)
    inverse_gram: np.ndarray | None = None  # (X^T X)^+ from the same rank decision as the optimum

    @property
    def p(self) -> int:
        return int(self.optimum.shape[0])

    @property
    def full_rank(self) -> bool:
        return self.rank is None or self.rank >= self.p

    def bound(self, optimizer: str, momentum: float | None = None) -> float | None:
        """The stable-lr bound of this optimizer here (``stability.bound``), None where none exists."""
        return stability.bound(optimizer, float(self.eigenvalues[0]), momentum)

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
        """gd's lr auto, :func:`stability.gd_auto_lr`: 2 / (lambda_min + lambda_max), or 1 / lambda_max
        past ``stability.HOPELESS_KAPPA``."""
        return stability.gd_auto_lr(float(self.eigenvalues[-1]), float(self.eigenvalues[0]))

    def loss(self, theta: np.ndarray) -> float:
        """L(theta), exactly as the quadratic form around the optimum."""
        with np.errstate(over="ignore", invalid="ignore"):
            e = self.directions.T @ (np.asarray(theta, dtype=np.float64) - self.optimum)
            return self.optimum_loss + self.scale * float(np.sum((self.singular_values * e) ** 2))

    def gd_gap(self, theta0: np.ndarray, lr: float, steps: np.ndarray) -> np.ndarray:
        """L(theta_t) - L* after t plain-gd steps from theta0, for every t in ``steps``, in closed form."""
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
            rate = (1.0 - lr * self.eigenvalues) ** 2
            t = np.asarray(steps, dtype=np.float64)[..., None]
            return self.scale * np.sum((self.singular_values * e) ** 2 * rate**t, axis=-1)

    def gd_steps_to(self, theta0: np.ndarray, lr: float, gap: float, cap: int = STEP_CAP) -> float:
        """The fewest plain-gd steps from theta0 after which L - L* <= gap (inf if never, or not within ``cap``).

        The gap shrinks monotonically in t, so the first step below ``gap`` is bracketed by powers of
        two and then bisected on exact Python integers: at most 2 log2(cap) evaluations, whatever
        float64 can or cannot represent.
        """
        if self.gd_gap(theta0, lr, np.array(0.0)) <= gap:
            return 0
        with np.errstate(over="ignore", invalid="ignore"):
            e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
            moving = (self.singular_values * e) ** 2 > 0
        if np.any(np.abs(1.0 - lr * self.eigenvalues[moving]) >= 1.0):
            return math.inf
        # gd_gap's arithmetic, operation for operation (so the same numbers), with its step-free parts taken
        # once: the search evaluates it ~50 times, and a playground answer searches at every slider move
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            weight = (self.singular_values * e) ** 2
            rate = (1.0 - lr * self.eigenvalues) ** 2
        scale = self.scale

        def below(t: int) -> bool:
            return bool(scale * np.sum(weight * rate ** np.array([float(t)]), axis=-1) <= gap)

        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            hi = 1
            while not below(hi):
                if hi >= cap:
                    return math.inf
                hi = min(2 * hi, cap)
            lo = hi // 2  # above the target (or 0, checked above)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if below(mid) else (mid, hi)
        return hi

    def momentum_steps_to(
        self, theta0: np.ndarray, lr: float, mu: float, nesterov: bool, gap: float, limit: int = 200_000
    ) -> float:
        """The first step after which heavy-ball (or Nesterov) momentum keeps L - L* <= gap.

        In the Hessian's eigenbasis each mode is a 2x2 linear recurrence (torch.optim.SGD's form):
        b_t = mu b_{t-1} + lambda e_t;  e_{t+1} = e_t - lr b_t  (Nesterov: - lr (lambda e_t + mu b_t)).
        Its gap oscillates, so it is followed step by step, a block of steps at a time (the powers
        M^1 ... M^k of every mode's map applied at once); "keeps" means it stayed below for the
        rest of a block and 50 steps. inf when ``limit`` steps do not suffice.
        """
        lam = self.eigenvalues
        with np.errstate(over="ignore", invalid="ignore"):
            e = self.directions.T @ (np.asarray(theta0, dtype=np.float64) - self.optimum)
            if 0.5 * np.sum(lam * e * e) <= gap:
                return 0.0
        p = lam.size
        limit = int(min(limit, max(2000, 40_000_000 // p)))  # bounded work: p modes x limit steps
        block = int(max(64, min(4096, (1 << 18) // max(p, 1))))
        # powers[j] = M^(j+1) for every mode: (block, p, 2, 2), built from the library's own step.
        e1, b1 = momentum_mode_step(np.ones(p), np.zeros(p), lam, lr, mu, nesterov)
        e2, b2 = momentum_mode_step(np.zeros(p), np.ones(p), lam, lr, mu, nesterov)
        M = np.stack([np.stack([e1, e2], -1), np.stack([b1, b2], -1)], -2)
        powers = np.empty((block, p, 2, 2))
        with np.errstate(all="ignore"):
            powers[0] = M
            for j in range(1, block):
                powers[j] = M @ powers[j - 1]
            state = np.stack([e, np.zeros(p)], -1)  # (p, 2)
            last_above, t0 = 0, 0
            while t0 < limit:
                es = powers[:, :, 0, 0] * state[:, 0] + powers[:, :, 0, 1] * state[:, 1]  # e at t0+1 ... t0+block
                gaps = 0.5 * (es * es) @ lam
                if not np.all(np.isfinite(gaps)):
                    return math.inf
                above = np.flatnonzero(gaps > gap)
                if above.size:
                    last_above = t0 + 1 + int(above[-1])
                if t0 + block - last_above > 50:
                    return float(last_above + 1)
                state = powers[-1] @ state[:, :, None]
                state = state[:, :, 0]
                t0 += block
        return math.inf

    def roundoff_gap(self, eps: float = float(np.finfo(np.float64).eps), residual: bool = False) -> float:
        """A loss difference this small is round-off of a loss computed in precision ``eps``.

        From the sufficient statistics (``residual=False``: L = θᵀHθ - 2bᵀθ + yᵀy) the loss is a
        difference of terms of size yᵀy, so a few eps of yᵀy. Summed from float32 residuals (``residual``:
        the per-sample and mini-batch engines), each residual r_i = ŷ_i - y_i is off by δ_i ≈ eps |y_i|
        (y and the prediction rounded), so L is off by about 2 Σ r_i δ_i + Σ δ_i² ≤ 2 eps √(L* yᵀy) +
        eps² yᵀy (Cauchy-Schwarz). On y = 10^4 ± 1 (yearly data) that is ~10^-2, where the first
        rule said 10^4 and stopped float32 runs 1700x above the optimum "at round-off"; measured
        float32 floors (--tol 0, 2·10^4 steps, gd and adam) lie within it, the deepest (gd at
        degree 15) at about 0.7 of it."""
        if residual:
            y2, best = self.y_norm2, max(self.optimum_loss, 0.0)
            return eps * math.sqrt(best * y2) + 16.0 * eps * eps * y2 + 16.0 * eps * best
        return 16.0 * eps * max(self.y_norm2, self.optimum_loss)

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


@one_blas_thread
def solve(
    X: np.ndarray, y: np.ndarray, loss: str = "sse", huber_delta: float = 1.0, x: np.ndarray | None = None,
    basis: str | None = None,
) -> Quadratic:
    """The optimum (``least_squares``: a well-conditioned form, then converted) and the spectrum
    (the SVD of X itself: what gradient descent sees), in float64.

    ``X`` is the (n, p) design matrix (basis functions at the samples); with ``basis="power"`` and
    the samples ``x`` the optimum is solved in Legendre polynomials of the mapped x.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = X.shape[0]
    with np.errstate(all="ignore"):
        if basis == "power" or basis is None:
            # One SVD of the n rows, the solve's (of a well-conditioned form of X). X's own spectrum comes
            # from R of a Householder QR of X (R only, no Q: a third of an SVD's cost), then the SVD of
            # that p x p R: as accurate as an SVD of X, which does the same inside. (The solve's U gives
            # it as the spectrum of U^T X for less, but a few ulps off at the top, which 2000 gd steps
            # near the stable bound magnify to 1e-11 of the loss.)
            ls = least_squares(X, y, x, basis)
            if ls.spectrum is not None:  # the direct solve took it beside its own SVD
                s, Vt = ls.spectrum
            else:
                R = ls.factor if ls.factor is not None else np.linalg.qr(X, mode="r")
                _, s, Vt = np.linalg.svd(R, full_matrices=False)
        else:  # a mapped basis is well conditioned already: its own SVD serves the solve, taken from
            # R of [X y] (X = Q R11: the same singular values and V, and U^T y = U_r^T Q^T y)
            qr = leastsq.triangular(X, y)
            if qr is None:
                U, s, Vt = np.linalg.svd(X, full_matrices=False)
                ls = leastsq.from_factor(X, y, y, U, s, Vt)
            else:
                U, s, Vt = np.linalg.svd(qr[0])
                ls = leastsq.from_factor(X, y, qr[1], U, s, Vt, factor=qr[0])
    theta = ls.theta
    scale = 1.0 if loss == "sse" else 1.0 / n
    if loss == "huber":
        with np.errstate(all="ignore"):
            theta = _huber_irls(X, y, theta, huber_delta)
            r = np.abs(X @ theta - y)
        value = float(np.mean(np.where(r <= huber_delta, 0.5 * r**2, huber_delta * (r - 0.5 * huber_delta))))
        # h'' <= 1, so (1/n) X^T X bounds the Hessian: half the sse/n curvature.
        return Quadratic(theta, value, s, Vt.T, 0.5 * float(y @ y) / n, 0.5 / n, quadratic=False,
                         rank=ls.rank, inverse_gram=ls.inverse_gram)  # fmt: skip
    residual = ls.residual
    return Quadratic(theta, scale * float(residual @ residual), s, Vt.T, scale * float(y @ y), scale,
                     rank=ls.rank, inverse_gram=ls.inverse_gram)  # fmt: skip


least_squares = leastsq.least_squares


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
    """What a fit reached, why, and what would close the gap. Numbers only."""

    ratio: float  # final loss / optimum loss (inf when the optimum is exactly 0)
    converged: bool
    diverged: bool
    bottleneck: int  # index (into eigenvalues, descending) of the direction holding most of the gap
    bottleneck_rate: float  # per-step factor on the loss along it, at the used lr
    bottleneck_share: float  # fraction of the remaining gap that lies along it
    more_steps: float  # further steps at the used lr to get within CONVERGED of the optimum (gd family)
    fastest_lr: float
    steps_at_fastest_lr: float  # steps from the same start at fastest_lr
    at_roundoff: bool = False  # final - optimum is below the round-off of the loss's arithmetic
    roundoff: float = 0.0  # that round-off, in loss units
    bound: float | None = None  # the stable-lr bound of the optimizer that ran (None: none exists)
    steps_needed: float = math.nan  # total steps from the start at the used lr to get within CONVERGED

    @property
    def gap(self) -> float:
        """final / optimum - 1: the one definition of "the gap" everywhere (0 when at round-off)."""
        if self.at_roundoff:
            return 0.0
        return self.ratio - 1.0 if math.isfinite(self.ratio) else math.inf


def advise(
    q: Quadratic, theta0: np.ndarray, theta: np.ndarray, final_loss: float, lr: float, diverged: bool, gd: bool = True,
    optimizer: str | None = None, momentum: float | None = None, eps: float = float(np.finfo(np.float64).eps),
    residual: bool = False,
) -> Advice:
    """Numbers for the report. Step predictions use the exact linear recurrences of gd, momentum and
    Nesterov on the quadratic: NaN where they do not apply. ``eps``: the precision the loss was computed
    in; ``residual``: summed from residuals, not from the statistics (see Quadratic.roundoff_gap)."""
    optimizer = optimizer or ("gd" if gd else "adam")
    gap_target = q.target_gap()
    roundoff = q.roundoff_gap(eps, residual)
    excess = final_loss - q.optimum_loss
    at_roundoff = (not diverged) and math.isfinite(final_loss) and excess <= roundoff
    ratio = final_loss / q.optimum_loss if q.optimum_loss > 0 else math.inf
    if at_roundoff and math.isfinite(ratio):
        ratio = max(ratio, 1.0)  # below the optimum only by round-off: never reported as below it
    converged = (not diverged) and (excess <= gap_target or at_roundoff)
    family = q.quadratic and optimizer in stability.BOUNDED
    more = needed = math.nan
    if converged:
        more = needed = 0.0
    elif diverged:
        more = needed = math.inf
    elif family and optimizer == "gd":
        needed = q.gd_steps_to(theta0, lr, gap_target)
        more = q.gd_steps_to(theta, lr, gap_target)
    elif family:
        mu = stability.DEFAULT_MOMENTUM if momentum is None else momentum
        needed = q.momentum_steps_to(theta0, lr, mu, optimizer == "nesterov", gap_target) if mu else \
            q.gd_steps_to(theta0, lr, gap_target)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged fit's parameters may be huge
        parts = (q.singular_values * (q.directions.T @ (np.asarray(theta, dtype=np.float64) - q.optimum))) ** 2
    parts = np.nan_to_num(parts, nan=np.inf)
    worst = int(np.argmax(parts))
    return Advice(
        ratio=ratio,
        converged=converged,
        diverged=diverged,
        bottleneck=worst,
        bottleneck_rate=_square(1.0 - lr * q.eigenvalues[worst]),
        bottleneck_share=_share(parts, worst),
        more_steps=more,
        fastest_lr=q.fastest_lr,
        steps_at_fastest_lr=q.gd_steps_to(theta0, q.fastest_lr, gap_target) if q.quadratic else math.nan,
        at_roundoff=at_roundoff,
        roundoff=roundoff,
        bound=q.bound(optimizer, momentum),
        steps_needed=needed,
    )


def _square(v: float) -> float:
    return float(v) ** 2 if abs(v) < 1e150 else math.inf


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
    momentum_given: bool = False  # the momentum was the user's, and lr the best for it


def auto_step(q: Quadratic, optimizer: str, theta0: np.ndarray, momentum: float | None = None) -> AutoStep:
    """Optimal constant steps from the Hessian's extreme eigenvalues (lambda_min, lambda_max).

    gd:        lr = 2 / (lambda_min + lambda_max); error shrinks by (kappa - 1) / (kappa + 1) a step
               (1 / lambda_max past ``stability.HOPELESS_KAPPA``: see :func:`stability.gd_auto_lr`).
    momentum:  Polyak's heavy ball, lr = 4 / (sqrt(lambda_max) + sqrt(lambda_min))^2,
               mu = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2; error shrinks by sqrt(mu) a step.
    nesterov:  lr = 1 / lambda_max, mu = (sqrt(kappa) - 1) / (sqrt(kappa) + 1); error shrinks by
               about 1 - 1 / sqrt(kappa) a step.
    Past ``stability.HOPELESS_KAPPA`` (momentum, nesterov) mu is ``stability.DEFAULT_MOMENTUM``,
    with the lr below. With ``momentum`` given (momentum, nesterov), lr is the best for THAT momentum instead
    (:func:`stability.fixed_momentum_lr`): the textbook lr belongs to the textbook mu, and with
    another mu it may be unstable. The step counts come from the exact linear recurrences, not
    from these rates.
    """
    hi, lo = float(q.eigenvalues[0]), float(q.eigenvalues[-1])
    kappa = hi / lo if lo > 0 else math.inf
    target = 1e-6 * max(q.optimum_loss, 1e-12 * q.y_norm2)
    gap0 = q.loss(theta0) - q.optimum_loss
    if optimizer == "gd":
        lr = q.fastest_lr
        return AutoStep(lr, None, q.gd_steps_to(theta0, lr, target))
    root = math.sqrt(kappa)
    given = momentum is not None
    if not given and optimizer in ("momentum", "nesterov") and not kappa <= stability.HOPELESS_KAPPA:
        # The textbook mu tends to 1 with kappa (1 - 1.3e-8 at kappa 1e17, shown as "momentum 1"), and
        # its heavy-ball lr sits below the bound by a factor 1 + 1/kappa, which rounding crosses: the
        # loss grew for ever. No constant step reaches the optimum here anyway (the report says why),
        # so lr auto takes the usual mu and the fastest lr safely stable for it.
        momentum = stability.DEFAULT_MOMENTUM
    if momentum is not None and optimizer in ("momentum", "nesterov"):
        lr, mu = stability.fixed_momentum_lr(optimizer, lo, hi, momentum), float(momentum)
    elif optimizer == "momentum":
        lr, mu = 4.0 / (math.sqrt(hi) + math.sqrt(lo)) ** 2, ((root - 1) / (root + 1)) ** 2
    elif optimizer == "nesterov":
        lr, mu = 1.0 / hi, (root - 1) / (root + 1)
    else:
        raise ValueError(f"no textbook step for {optimizer!r}")
    steps = 0.0 if gap0 <= target else q.momentum_steps_to(theta0, lr, mu, optimizer == "nesterov", target)
    return AutoStep(lr, mu, steps, given)


@one_blas_thread
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
    keep = lam > cutoff
    inv = np.where(keep, 1.0 / np.where(keep, lam, 1.0), 0.0)
    theta = V @ (inv * (V.T @ h))
    scale = 1.0 if loss == "sse" else 1.0 / n
    optimum_loss = max(scale * float(yy - h @ theta), 0.0)
    return Quadratic(theta, optimum_loss, np.sqrt(lam), V, scale * float(yy), scale, rank=int(keep.sum()),
                     inverse_gram=(V * inv) @ V.T)  # fmt: skip
