"""The data a fit sees: sample points x and targets y, as torch tensors."""

from __future__ import annotations

from dataclasses import dataclass

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Dataset:
    x: torch.Tensor  # (n,)
    y: torch.Tensor  # (n,)
    target: str  # what y is, for people: "sin(x)"

    @property
    def domain(self) -> tuple[float, float]:
        return float(self.x.min()), float(self.x.max())


def sine_grid(samples: int, domain: tuple[float, float], dtype: str) -> Dataset:
    """The seed's data: ``samples`` evenly spaced points, y = sin(x).

    Built exactly as the seed builds it (``torch.linspace`` then ``torch.sin`` in
    the working dtype) so that the default fit reproduces the seed bit for bit.
    """
    x = torch.linspace(domain[0], domain[1], samples, dtype=DTYPES[dtype])
    return Dataset(x=x, y=torch.sin(x), target="sin(x)")
