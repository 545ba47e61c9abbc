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
class Ascending:
    """An objective evaluated in the ascending naming order (``a + b x + c x^2 + ...``).

    Parameters stay highest power first outside; inside, the model sums from the constant up, as
    the PyTorch tutorial writes it, so float32 sums round as the tutorial's do. Flipping is exact,
    and the update rules act element by element, so only the order of the sums changes.
    """

    inner: "PerSample"

    def __call__(self, theta: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        value, grad = self.inner(theta.flip(-1), with_grad)
        return value, (grad.flip(-1) if grad is not None else None)

    @classmethod
    def of(cls, columns: torch.Tensor, y: torch.Tensor, loss: losses.Loss, grad: str = "manual") -> "Ascending":
        return cls(PerSample(columns.flip(0), y, loss, grad))


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
