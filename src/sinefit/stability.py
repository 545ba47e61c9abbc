"""Where each optimizer stops being stable on a quadratic loss: one theory, used everywhere.

On L(theta) = L* + (theta - theta*)^T H (theta - theta*) / 2 every optimizer of the gd family acts
on each Hessian eigen-direction (eigenvalue lambda, error e) on its own, and is stable exactly when
the steepest direction (lambda_max) is:

* gd: e <- (1 - lr lambda) e. Stable iff |1 - lr lambda| < 1:

      lr < 2 / lambda_max

* heavy-ball momentum in torch.optim.SGD's form (b <- mu b + g; theta <- theta - lr b). Per mode
  (e, b) goes through M = [[1 - lr lambda, -lr mu], [lambda, mu]]; its characteristic polynomial
  z^2 - (1 + mu - lr lambda) z + mu has both roots inside the unit circle iff (Jury) mu < 1 and
  lr lambda < 2 (1 + mu):

      lr < 2 (1 + mu) / lambda_max

* Nesterov in torch.optim.SGD's form (b <- mu b + g; theta <- theta - lr (g + mu b)). Per mode
  the characteristic polynomial is z^2 - (1 + mu)(1 - lr lambda) z + mu (1 - lr lambda); a root
  leaves the unit circle through z = -1 when lr lambda (1 + 2 mu) = 2 (1 + mu):

      lr < 2 (1 + mu) / ((1 + 2 mu) lambda_max)

  (4.81e-06 at mu = 0.9 on the seed's problem, against gd's 7.09e-06).

* adam, rmsprop: the step of each coordinate is lr times the gradient over its running RMS, so its
  size is about lr whatever the curvature: no bound of this kind. What limits them is lr itself:
  they hover around the optimum at a distance set by lr, and a small lr is slow.
* lbfgs: a strong-Wolfe line search chooses each step, so no lr bound either; on a quadratic it
  converges in about p iterations, limited by round-off in badly conditioned problems.
* exact: no steps at all.

Pure math: numbers in, numbers out.
"""

from __future__ import annotations

import math

BOUNDED = ("gd", "momentum", "nesterov")
DEFAULT_MOMENTUM = 0.9


def _mu(optimizer: str, momentum: float | None) -> float:
    if optimizer == "gd":
        return 0.0
    return DEFAULT_MOMENTUM if momentum is None else float(momentum)


def factor(optimizer: str, momentum: float | None = None) -> float | None:
    """c in "lr < c / lambda_max" for this optimizer, or None where no such bound exists."""
    if optimizer not in BOUNDED:
        return None
    mu = _mu(optimizer, momentum)
    if optimizer == "gd" or mu == 0.0:
        return 2.0
    if optimizer == "momentum":
        return 2.0 * (1.0 + mu)
    return 2.0 * (1.0 + mu) / (1.0 + 2.0 * mu)


def bound(optimizer: str, lambda_max: float, momentum: float | None = None) -> float | None:
    """The largest stable learning rate (exclusive) of this optimizer, or None (no such bound)."""
    c = factor(optimizer, momentum)
    if c is None:
        return None
    lam = float(lambda_max)
    return c / lam if lam > 0 else math.inf


def formula(optimizer: str, momentum: float | None = None) -> str | None:
    """The bound as people read it, e.g. '2 (1 + 0.9) / lambda_max'."""
    if optimizer not in BOUNDED:
        return None
    mu = _mu(optimizer, momentum)
    if optimizer == "gd" or mu == 0.0:
        return "2 / largest Hessian eigenvalue"
    if optimizer == "momentum":
        return f"2 (1 + {mu:g}) / largest Hessian eigenvalue"
    return f"2 (1 + {mu:g}) / ((1 + 2*{mu:g}) largest Hessian eigenvalue)"


def growth(optimizer: str, lr: float, lam: float, momentum: float | None = None) -> float:
    """Per-step factor of the error's size along an eigen-direction (the spectral radius of its map)."""
    x = lr * lam
    mu = _mu(optimizer, momentum)
    if optimizer == "gd" or mu == 0.0:
        return abs(1.0 - x)
    if optimizer == "momentum":
        b, c = 1.0 + mu - x, mu
    elif optimizer == "nesterov":
        b, c = (1.0 + mu) * (1.0 - x), mu * (1.0 - x)
    else:
        raise ValueError(f"no linear map for {optimizer!r}")
    disc = b * b - 4.0 * c
    if disc < 0:
        return math.sqrt(abs(c))
    root = math.sqrt(disc)
    return max(abs(b + root), abs(b - root)) / 2.0


# Past this condition number gd's textbook step 2 / (lambda_min + lambda_max) cannot reach the optimum
# in practice (it needs about kappa / 4 steps per e-fold of the gap), and it keeps the steepest
# direction oscillating at -(kappa - 1) / (kappa + 1) a step, -1 in float64 once kappa passes 1/eps.
HOPELESS_KAPPA = 1e6


def gd_auto_lr(lambda_min: float, lambda_max: float) -> float:
    """gd's lr auto: 2 / (lambda_min + lambda_max), the step that minimises the worst contraction.

    Past ``HOPELESS_KAPPA`` it is 1 / lambda_max instead: that removes the steep directions in one
    step, so the loss falls as far as a constant step can take it and what is left of the gap lies
    in the slow directions, where the report can say why; 2 / (lambda_min + lambda_max) would leave
    the loss where the start put it.
    """
    hi, lo = float(lambda_max), max(float(lambda_min), 0.0)
    if lo <= 0.0 or hi / lo > HOPELESS_KAPPA:
        return 1.0 / hi
    return 2.0 / (lo + hi)


def fixed_momentum_lr(optimizer: str, lambda_min: float, lambda_max: float, momentum: float) -> float:
    """lr auto's step when the momentum is given: the lr that is fastest and safely stable for THAT mu.

    heavy ball: a mode is underdamped, and shrinks by exactly sqrt(mu) a step, while
    (1 - sqrt(mu))^2 <= lr lambda <= (1 + sqrt(mu))^2, inside the bound 2 (1 + mu). If every mode fits
    in that band (kappa <= ((1 + sqrt mu) / (1 - sqrt mu))^2) lr is the band's geometric middle,
    (1 - mu) / sqrt(lambda_min lambda_max); otherwise the slow modes gain with lr, and lr is the
    band's top for the steepest mode, (1 + sqrt(mu))^2 / lambda_max (rate sqrt(mu) there, never at
    the bound). Nesterov: lr = 1 / lambda_max, where the steepest mode is removed in one step
    (its map is [[0, 0], ...]), the textbook choice for any mu. mu = 0: gd's lr auto (:func:`gd_auto_lr`).
    """
    mu, hi, lo = float(momentum), float(lambda_max), max(float(lambda_min), 0.0)
    if optimizer not in ("momentum", "nesterov") or mu == 0.0:
        return gd_auto_lr(lo, hi)
    if optimizer == "nesterov":
        return 1.0 / hi
    r = math.sqrt(mu)
    top = (1.0 + r) ** 2 / hi
    if lo > 0 and (1.0 - r) ** 2 / lo <= top:
        return (1.0 - mu) / math.sqrt(lo * hi)
    return top


LIMITS = {
    "adam": "Adam scales each coordinate's step to about lr whatever the curvature, so no lr makes it "
    "diverge the way gd does; its own lr limits it: it hovers around the optimum at a distance set by lr",
    "rmsprop": "RMSprop scales each coordinate's step to about lr whatever the curvature, so no lr makes it "
    "diverge the way gd does; its own lr limits it: it hovers around the optimum at a distance set by lr",
    "lbfgs": "L-BFGS picks each step by a line search, so no lr bound applies; on a quadratic it needs about "
    "as many iterations as coefficients, and round-off limits it on badly conditioned problems",
    "exact": "least squares is solved directly: no steps, no bound",
}


def limit_text(optimizer: str) -> str | None:
    """What limits an optimizer that has no stable-lr bound (None for the gd family)."""
    return LIMITS.get(optimizer)
