"""Sufficient statistics of a polynomial least-squares problem, accumulated in chunks.

For a quadratic loss everything a fit needs from the data is
G = X^T X, h = X^T y and y^T y (with n and sum y for the statistics): one
pass over the data, in float64, in chunks of any size, so memory stays
bounded whatever the number of samples, and every later step costs O(p^2)
instead of O(n p).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

from . import basis


@dataclass(frozen=True)
class Moments:
    G: np.ndarray  # (p, p) X^T X
    h: np.ndarray  # (p,) X^T y
    yy: float  # y^T y
    n: int
    y_sum: float
    x_min: float
    x_max: float
    sample_x: np.ndarray  # every k-th point (k a power of two), at most ``sample_cap`` of them:
    sample_y: np.ndarray  # enough to draw the data and find the largest error on it

    @property
    def sst(self) -> float:
        """Total sum of squares about the mean, for R^2."""
        return self.yy - self.y_sum**2 / self.n if self.n else 0.0


def accumulate(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    kind: str,
    degree: int,
    domain: tuple[float, float],
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
    sample_cap: int = 1 << 20,
) -> Moments:
    """One pass over (x, y) chunks: the augmented Gram matrix [X y]^T [X y] in float64.

    Each chunk's basis columns are built on ``device`` and reduced there with one
    matrix product, so the pass runs at memory speed. ``progress(n)`` is told the
    number of points read so far.
    """
    p = degree + 1
    total = torch.zeros(p + 1, p + 1, dtype=torch.float64, device=device)
    n, y_sum, lo, hi = 0, 0.0, np.inf, -np.inf
    sample = _StrideSample(sample_cap)
    for x, y in chunks:
        sample.add(x, y)
        xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64), device=device)
        yt = torch.as_tensor(np.ascontiguousarray(y, dtype=np.float64), device=device)
        rows = torch.cat([basis.columns(kind, xt, degree, domain), yt[None]])  # (p + 1, m)
        total += rows @ rows.T
        n += xt.numel()
        y_sum += float(yt.sum())
        if xt.numel():
            lo, hi = min(lo, float(xt.min())), max(hi, float(xt.max()))
        if progress is not None:
            progress(n)
    A = total.cpu().numpy()
    sx, sy = sample.arrays()
    return Moments(A[:p, :p].copy(), A[:p, p].copy(), float(A[p, p]), n, y_sum, lo, hi, sx, sy)


class _StrideSample:
    """Keeps every k-th point of a stream, doubling k whenever the buffer fills."""

    def __init__(self, cap: int, expected: int | None = None):
        self.cap, self.stride, self.seen = max(cap, 2), 1, 0
        # Told how many points will come, start at the stride the buffer would end with: the same
        # sample, without rebuilding it on the way.
        while expected is not None and -(-expected // self.stride) > self.cap:
            self.stride *= 2
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []
        self.size = 0

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        first = (-self.seen) % self.stride  # index in this chunk of the next multiple of the stride
        self.xs.append(np.array(x[first :: self.stride], dtype=np.float64))
        self.ys.append(np.array(y[first :: self.stride], dtype=np.float64))
        self.size += self.xs[-1].size
        self.seen += len(x)
        while self.size > self.cap:
            x_all, y_all = self.arrays()
            self.xs, self.ys, self.size = [x_all[::2]], [y_all[::2]], x_all[::2].size
            self.stride *= 2

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.xs:
            return np.empty(0), np.empty(0)
        return np.concatenate(self.xs), np.concatenate(self.ys)
