"""``--starts N``: seeded perturbations of the start, and which minima the runs reached.

Start 0 is the given init theta_0 itself; start s >= 1 is

    theta_s = theta_0 + scale * z_s,   scale_i = |theta_0,i| (1 where theta_0,i = 0),  z_s ~ N(0, I),

z drawn from a private ``torch.Generator`` seeded with ``--seed`` (so the caller's random state
is untouched and the same seed gives the same starts). A perturbation as large as the value
itself flips signs and changes scales, which is what finds other basins. A start that falls
outside a bound is pulled back inside, 1% of the way from the bound to theta_0.

End points are grouped into minima: two runs reached the same one when their losses agree
to 1e-6 (relative) and their parameters to 1e-4 of each parameter's scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def perturbed(theta0: np.ndarray, count: int, seed: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(count, k): the init and count - 1 perturbations of it, strictly inside the bounds."""
    theta0 = np.asarray(theta0, dtype=np.float64)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(max(count - 1, 0), theta0.size, generator=gen, dtype=torch.float64).numpy()
    scale = np.where(theta0 != 0, np.abs(theta0), 1.0)
    rows = theta0 + scale * z
    with np.errstate(invalid="ignore"):  # an infinite bound is never crossed: its nan is never picked
        low, high = lo + 0.01 * (theta0 - lo), hi - 0.01 * (hi - theta0)
    rows = np.where(rows <= lo, low, np.where(rows >= hi, high, rows))
    return np.vstack([theta0[None], rows])


@dataclass(frozen=True)
class Minimum:
    loss: float
    parameters: np.ndarray  # (k,) of the run with the lowest loss in the group
    starts: tuple[int, ...]  # which starts ended here


def group(losses: np.ndarray, parameters: np.ndarray, usable: np.ndarray | None = None, atol: float = 0.0) -> list[Minimum]:
    """Minima reached, lowest loss first; runs with a non-finite loss (or not ``usable``) are left out.
    Losses below ``atol`` (rounding level: an exact fit) count as equal."""
    losses = np.asarray(losses, dtype=np.float64)
    parameters = np.asarray(parameters, dtype=np.float64)
    ok = np.isfinite(losses) & np.all(np.isfinite(parameters), axis=1)
    if usable is not None:
        ok &= usable
    order = [int(i) for i in np.argsort(losses) if ok[i]]
    groups: list[list[int]] = []
    for i in order:
        for g in groups:
            j = g[0]
            scale = np.maximum(np.abs(parameters[j]), 1e-12 + 1e-3 * np.max(np.abs(parameters[j])))
            same_loss = abs(losses[i] - losses[j]) <= 1e-6 * abs(losses[j]) or max(losses[i], losses[j]) <= atol
            if same_loss and np.all(np.abs(parameters[i] - parameters[j]) <= 1e-4 * scale):
                g.append(i)
                break
        else:
            groups.append([i])
    return [Minimum(float(losses[g[0]]), parameters[g[0]].copy(), tuple(sorted(g))) for g in groups]
