"""Bounds by transformation (MINUIT's, as lmfit uses): optimizers step in unbounded u, the model sees p(u).

    lower only   p = lo - 1 + sqrt(u^2 + 1)            u = sqrt((p - lo + 1)^2 - 1)
    upper only   p = hi + 1 - sqrt(u^2 + 1)            u = sqrt((hi - p + 1)^2 - 1)
    both         p = lo + (sin u + 1) (hi - lo) / 2    u = arcsin(2 (p - lo) / (hi - lo) - 1)

Why a transformation and not a projected step: one mechanism serves every optimizer
unchanged (the update rules stay pure, L-BFGS's line search and Levenberg-Marquardt's
trust region see a smooth unconstrained problem), and every iterate is strictly feasible,
so a model such as ``log(b)`` with b >= 0 is never evaluated outside its bounds. The price,
which the report states: the optimizers' steps, the Hessian and the stable lr are those
of u, not of p; and at a bound dp/du = 0, so a parameter that ends on its bound has no
meaningful standard error (lmfit says the same). Standard errors are computed in p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Transform:
    """The bounds of p parameters: lo, hi (p,) float64, -inf / inf where unbounded."""

    lo: torch.Tensor
    hi: torch.Tensor

    @classmethod
    def of(cls, parameters: tuple[str, ...], bounds: dict[str, tuple[float, float]]) -> "Transform":
        lo = torch.tensor([bounds.get(n, (-math.inf, math.inf))[0] for n in parameters], dtype=torch.float64)
        hi = torch.tensor([bounds.get(n, (-math.inf, math.inf))[1] for n in parameters], dtype=torch.float64)
        return cls(lo, hi)

    @property
    def active(self) -> bool:
        return bool(torch.isfinite(self.lo).any() or torch.isfinite(self.hi).any())

    def _parts(self, like: torch.Tensor, lift=None):
        lo, hi = self.lo.to(dtype=like.dtype, device=like.device), self.hi.to(dtype=like.dtype, device=like.device)
        has_lo, has_hi = torch.isfinite(lo), torch.isfinite(hi)
        # Finite stand-ins where a side is unbounded, so no inf - inf reaches the unused branches.
        lo_f, hi_f = torch.where(has_lo, lo, torch.zeros_like(lo)), torch.where(has_hi, hi, torch.ones_like(hi))
        if lift is not None:
            lo_f, hi_f = lift(lo_f), lift(hi_f)
        return has_lo & has_hi, has_lo & ~has_hi, has_hi & ~has_lo, lo_f, hi_f

    def to_external(self, u: torch.Tensor, lift=None) -> torch.Tensor:
        """p(u), elementwise over (..., p); differentiable (autograd and forward mode: ``lift``
        gives the constants zero tangents, see ``Model.__call__``)."""
        if not self.active:
            return u
        both, lower, upper, lo, hi = self._parts(u, lift)
        one = torch.ones((), dtype=u.dtype, device=u.device)
        one = lift(one) if lift is not None else one
        root = torch.sqrt(u * u + one)
        p = torch.where(both, lo + (torch.sin(u) + one) * (hi - lo) / (one + one), u)
        p = torch.where(lower, lo - one + root, p)
        return torch.where(upper, hi + one - root, p)

    def to_internal(self, p: torch.Tensor) -> torch.Tensor:
        """u(p) for p strictly inside the bounds (settings.check_inside makes sure of that)."""
        if not self.active:
            return p
        both, lower, upper, lo, hi = self._parts(p)
        span = hi - lo
        u = torch.where(both, torch.asin((2 * (p - lo) / span - 1).clamp(-1, 1)), p)
        u = torch.where(lower, torch.sqrt(((p - lo + 1) ** 2 - 1).clamp(min=0)), u)
        return torch.where(upper, torch.sqrt(((hi - p + 1) ** 2 - 1).clamp(min=0)), u)

    def at_bound(self, p: torch.Tensor, rtol: float = 1e-9) -> torch.Tensor:
        """Which parameters sit on a bound (to rtol of their scale): their stderr means nothing."""
        lo, hi = self.lo.to(p), self.hi.to(p)
        scale = torch.maximum(p.abs(), torch.ones_like(p)) * rtol
        return ((p - lo).abs() <= scale) | ((hi - p).abs() <= scale)
