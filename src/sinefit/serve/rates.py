"""How fast each eigen-direction of the loss converges, and where an optimizer stops being stable.

On a quadratic loss every optimizer of the gradient-descent family acts on each Hessian
eigen-direction (eigenvalue lambda) on its own:

* gd: e <- (1 - lr lambda) e, so the direction's loss shrinks by (1 - lr lambda)^2 a step;
* momentum and Nesterov (torch.optim.SGD's form): the pair (e, b) goes through a 2x2 linear map
  M(lr lambda, mu); the loss shrinks by rho(M)^2 a step, rho its spectral radius.

Both come from the library's one stability theory (``sinefit.stability``): ``growth`` is rho for
each direction, ``bound`` the lr at which rho of the steepest direction reaches 1. The page draws
the bound on its lr slider and the predicted rates beside the measured ones.
"""

from __future__ import annotations

import numpy as np

from .. import analysis, stability


def loss_rates(q: analysis.Quadratic, optimizer: str, lr: float | None, mu: float | None) -> np.ndarray | None:
    """Per-step factor on each direction's share of L - L* (descending eigenvalues): growth^2; None
    where the optimizer is not linear on a quadratic (adam, rmsprop, lbfgs, exact) or the loss is not."""
    if lr is None or not q.quadratic or optimizer not in stability.BOUNDED:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array([stability.growth(optimizer, lr, float(lam), mu) for lam in q.eigenvalues]) ** 2


def stable_lr(q: analysis.Quadratic, optimizer: str, mu: float | None) -> float | None:
    """The largest stable learning rate for this optimizer on this surface (None: no such bound)."""
    return stability.bound(optimizer, float(q.eigenvalues[0]), mu)
