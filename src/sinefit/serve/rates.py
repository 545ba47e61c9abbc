"""How fast each eigen-direction of the loss converges, and where an optimizer stops being stable.

On a quadratic loss every optimizer of the gradient-descent family acts on each Hessian
eigen-direction (eigenvalue lambda) on its own:

* gd: e <- (1 - lr lambda) e, so the direction's loss shrinks by (1 - lr lambda)^2 a step;
* momentum and Nesterov (torch.optim.SGD's form, ``analysis.momentum_mode_step``): the pair
  (e, b) goes through a 2x2 linear map M(lr lambda, mu); the loss shrinks by rho(M)^2 a step,
  rho the spectral radius.

The rates here are built from the library's own step (``analysis.momentum_mode_step``), not
from a separate formula, so they are what the engine computes. gd's stable bound is the
library's ``stability.bound`` for every optimizer (where rho of the steepest direction reaches 1).
"""

from __future__ import annotations

import numpy as np

from .. import analysis, stability


def mode_matrices(lam: np.ndarray, lr: float, mu: float, nesterov: bool) -> np.ndarray:
    """M_i (k, 2, 2) with (e', b') = M_i (e, b) for each eigenvalue, from the library's step."""
    lam = np.asarray(lam, dtype=np.float64)
    e1, b1 = analysis.momentum_mode_step(np.ones_like(lam), np.zeros_like(lam), lam, lr, mu, nesterov)
    e2, b2 = analysis.momentum_mode_step(np.zeros_like(lam), np.ones_like(lam), lam, lr, mu, nesterov)
    return np.stack([np.stack([e1, e2], -1), np.stack([b1, b2], -1)], -2)


def loss_rates(q: analysis.Quadratic, optimizer: str, lr: float | None, mu: float | None) -> np.ndarray | None:
    """Per-step factor on each direction's share of L - L* (descending eigenvalues); None where
    the optimizer is not linear on a quadratic (adam, rmsprop, lbfgs, exact) or the loss is not."""
    if lr is None or not q.quadratic:
        return None
    lam = q.eigenvalues
    if optimizer == "gd" or (optimizer in ("momentum", "nesterov") and not mu):
        return (1.0 - lr * lam) ** 2
    if optimizer not in ("momentum", "nesterov"):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        radius = np.abs(np.linalg.eigvals(mode_matrices(lam, lr, mu, optimizer == "nesterov"))).max(-1)
    return radius**2


def stable_lr(q: analysis.Quadratic, optimizer: str, mu: float | None) -> float | None:
    """The largest stable learning rate for this optimizer on this surface (None: no such bound):
    the library's one theory, ``stability.bound``."""
    return stability.bound(optimizer, float(q.eigenvalues[0]), mu)
