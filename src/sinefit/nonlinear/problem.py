"""A model fitting problem: residuals r(u) = f(p(u), x) - y, their Jacobian, and the loss for the optimizers.

u are the coordinates the optimizers step in (p itself when no bound is set; see ``bounds``).
Jacobians come from forward-mode differentiation (``torch.autograd.forward_ad``, the
machinery under ``torch.func.jvp``): the k tangent directions ride along as a leading batch
dimension, so one pass over the expression gives the Jacobian of every row of a batch of
parameter vectors at once. ``torch.func.vmap(torch.func.jacfwd(r))`` gives the same numbers
(a test checks it) with about a hundred times the overhead on these small problems, and
x, y and the constants get zero tangents so that no operation takes torch's slow path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as fwAD

from .. import losses
from .bounds import Transform
from .expression import Model


@dataclass(frozen=True)
class Problem:
    model: Model
    x: torch.Tensor  # (n,)
    y: torch.Tensor  # (n,)
    transform: Transform

    def to(self, dtype: torch.dtype) -> "Problem":
        return Problem(self.model, self.x.to(dtype), self.y.to(dtype), self.transform)

    def predict(self, p: torch.Tensor) -> torch.Tensor:
        """f(p, x) for parameters p (..., k) in the model's own coordinates: (..., n)."""
        return self.model(p, self.x)

    def residuals(self, u: torch.Tensor) -> torch.Tensor:
        """f(p(u), x) - y: (..., n)."""
        return self.model(self.transform.to_external(u), self.x) - self.y

    def jacobian(self, u: torch.Tensor, external: bool = False) -> torch.Tensor:
        """d r / d u (or d r / d p with ``external``) for every row of u (B, k): (B, n, k)."""
        B, k = u.shape
        primal = u.detach()[None].expand(k, B, k).contiguous()
        tangent = torch.eye(k, dtype=u.dtype, device=u.device)[:, None, :].expand(k, B, k).contiguous()
        with fwAD.dual_level():

            def lift(t: torch.Tensor) -> torch.Tensor:
                return fwAD.make_dual(t, torch.zeros_like(t))

            p = fwAD.make_dual(primal, tangent)
            x, y = lift(self.x), lift(self.y)
            p = p if external else self.transform.to_external(p, lift)
            out = self.model(p, x, lift) - y
            J = fwAD.unpack_dual(out).tangent  # (k, B, n): row j is dr/du_j
        if J is None:  # no parameter reaches the output
            J = torch.zeros(k, B, self.x.shape[-1], dtype=u.dtype, device=u.device)
        return J.permute(1, 2, 0)


@dataclass(frozen=True)
class ModelObjective:
    """Loss (B,) and its autograd gradient (B, k) for a batch of u: what ``train.train`` calls."""

    problem: Problem
    loss: losses.Loss

    def __call__(self, theta: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not with_grad:
            with torch.no_grad():
                return self.loss.value(self.problem.residuals(theta)), None
        leaf = theta.detach().requires_grad_(True)
        value = self.loss.value(self.problem.residuals(leaf))
        (grad,) = torch.autograd.grad(value.sum(), leaf)
        return value.detach(), grad
