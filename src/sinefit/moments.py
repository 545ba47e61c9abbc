"""A bounded sample of a stream of (x, y) points: every k-th point, k doubling as the stream grows.

The stats engine keeps it beside the summary (figures, the largest error); up to its cap, it is
every point, and the analysis is then exact.
"""

from __future__ import annotations

import numpy as np


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
