"""Update rules: small pure functions of (params, grads, state).

Each rule works on a batch of parameter vectors ``theta`` of shape (B, p) and
returns the new parameters and state; the loop that calls it is ``train.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class GradientDescent:
    """Plain gradient descent, the seed's rule.

    theta_{t+1} = theta_t - lr * g_t
    """

    lr: float

    def init(self, theta: torch.Tensor) -> Any:
        return None

    def update(self, theta: torch.Tensor, grad: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        return theta - self.lr * grad, state
