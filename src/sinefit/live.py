"""Watching a fit while it runs: an objective that reports every evaluation to a hook.

``Watch(objective, hook)`` behaves as ``objective`` and calls ``hook(t, theta_row, loss)`` with
the t-th evaluation's first row of parameters and its loss; the hook decides how often to act
(io.display.LiveFigure redraws at a bounded rate). The loop itself is untouched.
"""

from __future__ import annotations

import torch


class Watch:
    def __init__(self, objective, hook):
        self.objective, self.hook, self.t = objective, hook, 0

    def __call__(self, theta: torch.Tensor, with_grad: bool = True):
        value, grad = self.objective(theta, with_grad)
        self.hook(self.t, theta[0], float(value[0]))
        self.t += 1
        return value, grad

    def __getattr__(self, name: str):  # a watched mini-batch objective still reports (and keeps) its batches
        if name == "objective":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.objective, name)
