"""Objectives: map a batch of parameters to (loss, gradient).

``PerSample`` is the seed's way: every step evaluates the model on every sample,
then takes the gradient either by the hand-written chain rule (``manual``) or
by ``loss.backward()`` (``autograd``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import losses, model

GRADS = ("manual", "autograd")


@dataclass(frozen=True)
class PerSample:
    columns: torch.Tensor  # (p, n) basis functions at the samples
    y: torch.Tensor  # (n,)
    loss: losses.Loss
    grad: str = "manual"

    def __call__(self, theta: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Loss (B,) of every row of theta (B, p), and its gradient (B, p) when asked."""
        if with_grad and self.grad == "autograd":
            leaf = theta.detach().requires_grad_(True)
            value = self.loss.value(model.evaluate(leaf, self.columns) - self.y)
            (grad,) = torch.autograd.grad(value.sum(), leaf)
            return value.detach(), grad
        residual = model.evaluate(theta, self.columns) - self.y
        value = self.loss.value(residual)
        if not with_grad:
            return value, None
        return value, model.gradient(self.columns, self.loss.grad(residual))
