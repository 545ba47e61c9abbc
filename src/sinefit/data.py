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
    x: torch.Tensor  # (m,) the points, or (for streamed data) an evenly strided sample of them
    y: torch.Tensor  # (m,)
    target: str  # what y is, for people: "sin(x)", or the data file
    domain: tuple[float, float]  # the interval the basis maps to its window [-1, 1]
    n: int = -1  # how many points the fit saw; -1: len(x)

    @property
    def size(self) -> int:
        return self.n if self.n >= 0 else len(self.x)

    @property
    def complete(self) -> bool:
        """True when x and y hold every point (not a sample of a streamed set)."""
        return self.size == len(self.x)


def generated(
    target: str, samples: int, domain: tuple[float, float] | None, dtype: str, noise: float = 0.0, seed: int = 0,
    degree: int | None = None,
) -> Dataset:
    """``samples`` evenly spaced points, y = target(x) (+ Gaussian noise of std ``noise``).

    Built as the seed builds its data (``torch.linspace`` then the target in the
    working dtype) so that the default fit reproduces the seed bit for bit. The
    noise has its own generator, seeded with ``seed + 1``, so adding noise does
    not change the initial coefficients.
    """
    domain = domain if domain is not None else SEED_DOMAIN
    x = torch.linspace(domain[0], domain[1], samples, dtype=DTYPES[dtype])
    if degree is not None:
        _check_distinct(x, domain, degree, dtype)
    expression = expr.resolve(target)
    y = expr.evaluate_target(expression, x)
    if noise:
        gen = torch.Generator().manual_seed((seed + 1) % 2**63)
        y = y + noise * torch.randn(samples, generator=gen, dtype=torch.float64).to(y.dtype)
        _check_noise(y, noise, dtype)
    return Dataset(x=x, y=y, target=expression.text, domain=domain)


def from_arrays(x: np.ndarray, y: np.ndarray, dtype: str, source: str, domain: tuple[float, float] | None) -> Dataset:
    """Points a user brought; the domain defaults to their range."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).to(DTYPES[dtype])
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64)).to(DTYPES[dtype])
    if domain is None:
        lo, hi = float(np.min(x)), float(np.max(x))
        domain = (lo, hi) if lo < hi else (lo - 1.0, hi + 1.0)
    return Dataset(x=xt, y=yt, target=source, domain=domain)


def generated_chunks(
    target: str, samples: int, domain: tuple[float, float] | None, chunk: int, noise: float = 0.0, seed: int = 0
):
    """The same points as :func:`generated` (in float64), produced ``chunk`` at a time.

    x_i = a + (b - a) i / (n - 1), within an ulp of torch.linspace's. Noise, if
    any, comes from a generator seeded per chunk (``seed + 1``, chunk index), so
    it is reproducible but not the in-memory sequence.
    """
    lo, hi = domain if domain is not None else SEED_DOMAIN
    expression = expr.resolve(target)
    step = (hi - lo) / (samples - 1)
    for k, start in enumerate(range(0, samples, chunk)):
        i = torch.arange(start, min(start + chunk, samples), dtype=torch.float64)
        x = torch.where(i == samples - 1, torch.tensor(hi, dtype=torch.float64), lo + step * i)
        y = expr.evaluate_target(expression, x)
        if noise:
            gen = torch.Generator().manual_seed(((seed + 1) * 1_000_003 + k) % 2**63)
            y = y + noise * torch.randn(len(x), generator=gen, dtype=torch.float64)
            _check_noise(y, noise, "float64")
        yield x.numpy(), y.numpy()


def _check_distinct(x: torch.Tensor, domain: tuple[float, float], degree: int, dtype: str) -> None:
    """The same check as for data files: a degree-d fit needs d + 1 distinct x (a domain narrower
    than the dtype resolves collapses the evenly spaced points onto a few values)."""
    distinct = distinct_count(x.numpy(), degree + 1)
    if distinct < degree + 1:
        from .config import ConfigError

        raise ConfigError(
            "--domain", f"{domain[0]:.15g},{domain[1]:.15g} holds only {distinct} distinct {dtype} x values among "
            f"{x.numel()} samples, but a degree-{degree} polynomial needs at least {degree + 1}: widen --domain"
            + ("" if dtype == "float64" else ", or use --dtype float64")
        )


def distinct_count(x: np.ndarray, enough: int) -> int:
    """How many distinct values x holds, counted up to ``enough`` (then ``enough``: at least that many).

    A degree-d check needs only to know whether d + 1 values are there: a few passes, each taking out
    one value, instead of sorting 10^6 points (np.unique); sorted past 16, where that would be slower.
    All NaNs count as one value, as in np.unique.
    """
    rest = np.asarray(x).ravel()
    if enough > 16:
        return min(int(np.unique(rest).size), enough)
    count = 0
    while rest.size and count < enough:
        first = rest[0]
        rest = rest[~np.isnan(rest)] if first != first else rest[rest != first]
        count += 1
    return count


def _check_noise(y: torch.Tensor, noise: float, dtype: str) -> None:
    if not bool(torch.isfinite(y).all()):
        from .config import ConfigError

        raise ConfigError("--noise", f"{noise:g} overflows {dtype}: the noisy y is not finite; use a smaller --noise")
