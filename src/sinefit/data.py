"""The data a fit sees: sample points x and targets y, as torch tensors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import expr

DTYPES = {"float32": torch.float32, "float64": torch.float64}
SEED_DOMAIN = (-math.pi, math.pi)


@dataclass(frozen=True)
class Dataset:
    x: torch.Tensor  # (n,)
    y: torch.Tensor  # (n,)
    target: str  # what y is, for people: "sin(x)", or the data file
    domain: tuple[float, float]  # the interval the basis maps to its window [-1, 1]


def generated(
    target: str, samples: int, domain: tuple[float, float] | None, dtype: str, noise: float = 0.0, seed: int = 0
) -> Dataset:
    """``samples`` evenly spaced points, y = target(x) (+ Gaussian noise of std ``noise``).

    Built as the seed builds its data (``torch.linspace`` then the target in the
    working dtype) so that the default fit reproduces the seed bit for bit. The
    noise has its own generator, seeded with ``seed + 1``, so adding noise does
    not change the initial coefficients.
    """
    domain = domain if domain is not None else SEED_DOMAIN
    x = torch.linspace(domain[0], domain[1], samples, dtype=DTYPES[dtype])
    expression = expr.resolve(target)
    y = expr.evaluate_target(expression, x)
    if noise:
        gen = torch.Generator().manual_seed((seed + 1) % 2**63)
        y = y + noise * torch.randn(samples, generator=gen, dtype=torch.float64).to(y.dtype)
    return Dataset(x=x, y=y, target=expression.text, domain=domain)


def from_arrays(x: np.ndarray, y: np.ndarray, dtype: str, source: str, domain: tuple[float, float] | None) -> Dataset:
    """Points a user brought; the domain defaults to their range."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).to(DTYPES[dtype])
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64)).to(DTYPES[dtype])
    if domain is None:
        lo, hi = float(np.min(x)), float(np.max(x))
        domain = (lo, hi) if lo < hi else (lo - 1.0, hi + 1.0)
    return Dataset(x=xt, y=yt, target=source, domain=domain)
