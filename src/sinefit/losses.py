"""Loss functions, each beside its gradient with respect to the prediction.

The gradient with respect to the coefficients is the chain rule through the
model (``model.gradient``); keeping dL/dy_pred here keeps every loss one idea.
"""

from __future__ import annotations

import torch


def sse(residual: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors per row: L = sum_i r_i^2 with r = y_pred - y. (B, n) -> (B,)."""
    return residual.pow(2).sum(-1)


def sse_grad(residual: torch.Tensor) -> torch.Tensor:
    """dL/dy_pred = 2 r, the seed's ``grad_y_pred = 2.0 * (y_pred - y)``."""
    return 2.0 * residual
