"""Loss functions, each beside its gradient with respect to the prediction.

All work on residuals r = y_pred - y of shape (B, n) and return (B,). The
gradient with respect to the coefficients is the chain rule through the model
(``model.gradient``); keeping dL/dy_pred here keeps every loss one idea.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

LOSSES = ("sse", "mse", "huber")
QUADRATIC = ("sse", "mse")  # losses whose optimum is least squares


def sse(residual: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors: L = sum_i r_i^2. The seed's loss."""
    return residual.pow(2).sum(-1)


def sse_grad(residual: torch.Tensor) -> torch.Tensor:
    """dL/dy_pred = 2 r, the seed's ``grad_y_pred = 2.0 * (y_pred - y)``."""
    return 2.0 * residual


def mse(residual: torch.Tensor) -> torch.Tensor:
    """Mean squared error: L = (1/n) sum_i r_i^2.

    Each term is scaled before the sum (not the sum after, as ``mean`` does), so the
    loss overflows only when L itself does, as on the stats engine.
    """
    return (residual.pow(2) * (1.0 / residual.shape[-1])).sum(-1)


def mse_grad(residual: torch.Tensor) -> torch.Tensor:
    """dL/dy_pred = 2 r / n."""
    return (2.0 / residual.shape[-1]) * residual


def huber(residual: torch.Tensor, delta: float) -> torch.Tensor:
    """Mean Huber loss, as torch.nn.HuberLoss: (1/n) sum_i h(r_i) with
    h(r) = r^2 / 2 where |r| <= delta, delta (|r| - delta / 2) beyond."""
    a = residual.abs()
    return torch.where(a <= delta, 0.5 * residual.pow(2), delta * (a - 0.5 * delta)).mean(-1)


def huber_grad(residual: torch.Tensor, delta: float) -> torch.Tensor:
    """dL/dy_pred = clamp(r, -delta, delta) / n."""
    return residual.clamp(-delta, delta) / residual.shape[-1]


@dataclass(frozen=True)
class Loss:
    """A loss and its gradient with respect to the prediction, settings bound."""

    name: str
    value: Callable[[torch.Tensor], torch.Tensor]
    grad: Callable[[torch.Tensor], torch.Tensor]


def get(name: str, huber_delta: float = 1.0) -> Loss:
    if name == "sse":
        return Loss(name, sse, sse_grad)
    if name == "mse":
        return Loss(name, mse, mse_grad)
    if name == "huber":
        return Loss(name, lambda r: huber(r, huber_delta), lambda r: huber_grad(r, huber_delta))
    raise ValueError(f"unknown loss {name!r} (known: {', '.join(LOSSES)})")
