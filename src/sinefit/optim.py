"""Update rules: small pure functions of (params, grads, state).

Each rule works on a batch of parameter vectors ``theta`` of shape (B, p) and
returns the new parameters and state; the loop that calls it is ``train.py``.

A rule is a frozen dataclass of hyperparameters with two pure methods, in the
style of optax:

* ``init(theta)`` returns the rule's initial state;
* ``update(theta, grad, state)`` returns ``(new_theta, new_state)`` and never
  modifies ``theta``, ``grad`` or ``state`` in place.

Every rule but :class:`GradientDescent` reproduces its ``torch.optim`` namesake
(same defaults, same formulas, same first step; no weight decay, no
``maximize``).  Each hyperparameter may be a Python number, shared by every
row, or a tensor of shape (B, 1) giving each row of the batch its own value
(for sweeps); a row run with a tensor value follows the same trajectory as that
row run alone with the number.  Tensor hyperparameters are used at ``theta``'s
dtype and device (cast when they differ).

States are NamedTuples: the moment buffers are tensors shaped like ``theta``,
and ``step`` (the number of updates taken so far) is a Python int, shared by
all rows, so the bias corrections cost no tensor work and no device sync.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from numbers import Real
from typing import Any, NamedTuple, Union

import torch
from torch import Tensor

#: A hyperparameter: one number for every row, or a (B, 1) tensor, one per row.
Hyper = Union[float, Tensor]


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


# --------------------------------------------------------------------------- helpers


def _check(rule: Any, **bounds: tuple[float, float | None]) -> None:
    """Reject 1-D tensors (they would broadcast along p) and out-of-range numbers.

    ``bounds[name] = (lo, hi)`` requires lo <= value (< hi when hi is given), as
    torch.optim does; tensor values are not range-checked (that would sync).
    """
    for f in fields(rule):
        value = getattr(rule, f.name)
        if isinstance(value, Tensor):
            if value.ndim not in (0, 2) or (value.ndim == 2 and value.shape[1] != 1):
                raise ValueError(
                    f"{type(rule).__name__}.{f.name}: a tensor hyperparameter must have shape (B, 1) "
                    f"(or be 0-d), got {tuple(value.shape)}"
                )
        elif not isinstance(value, Real):
            raise TypeError(
                f"{type(rule).__name__}.{f.name}: expected a number or a tensor, got {type(value).__name__}"
            )
        elif f.name in bounds:
            lo, hi = bounds[f.name]
            if not (lo <= value and (hi is None or value < hi)):
                bound = f"[{lo}, {hi})" if hi is not None else f">= {lo}"
                raise ValueError(f"{type(rule).__name__}: invalid {f.name} {value!r} (must be {bound})")


def _like(h: Hyper, theta: Tensor) -> Hyper:
    """A tensor hyperparameter at theta's dtype and device; numbers pass through."""
    if isinstance(h, Tensor) and (h.dtype != theta.dtype or h.device != theta.device):
        return h.to(device=theta.device, dtype=theta.dtype)
    return h


def _add_scaled(x: Tensor, alpha: Hyper, y: Tensor) -> Tensor:
    """x + alpha * y, in one op (``torch.add(..., alpha=)`` as torch.optim does)."""
    if isinstance(alpha, Tensor):
        return torch.addcmul(x, y, alpha)
    return torch.add(x, y, alpha=alpha)


def _sub_scaled(x: Tensor, alpha: Hyper, y: Tensor) -> Tensor:
    """x - alpha * y, in one op."""
    if isinstance(alpha, Tensor):
        return torch.addcmul(x, y, alpha, value=-1)
    return torch.add(x, y, alpha=-alpha)


# --------------------------------------------------------------------------- momentum


class MomentumState(NamedTuple):
    """State of :class:`Momentum` and :class:`Nesterov`."""

    step: int  # updates taken so far; the first one seeds the buffer
    buf: Tensor  # (B, p) momentum buffer b_t (zeros before the first update)


def _momentum_buffer(mu: Hyper, dampening: Hyper, grad: Tensor, state: MomentumState) -> Tensor:
    """b_1 = g_1;  b_t = mu b_{t-1} + (1 - dampening) g_t."""
    if state.step == 0:
        return grad.clone()  # not an alias: the state must not change if the caller reuses grad
    return _add_scaled(state.buf * mu, 1 - dampening, grad)


@dataclass(frozen=True)
class Momentum:
    """Heavy-ball momentum, ``torch.optim.SGD(lr, momentum, dampening)``.

    b_1 = g_1
    b_t = mu * b_{t-1} + (1 - dampening) * g_t      (t > 1)
    theta_t = theta_{t-1} - lr * b_t

    With a numeric ``momentum`` of 0 this is plain SGD, theta_t = theta_{t-1} -
    lr * g_t, and ``dampening`` is ignored, as in torch.
    """

    lr: Hyper
    momentum: Hyper = 0.9
    dampening: Hyper = 0.0

    def __post_init__(self) -> None:
        _check(self, lr=(0.0, None), momentum=(0.0, None))

    def init(self, theta: Tensor) -> MomentumState:
        return MomentumState(0, torch.zeros_like(theta))

    def update(self, theta: Tensor, grad: Tensor, state: MomentumState) -> tuple[Tensor, MomentumState]:
        lr, mu = _like(self.lr, theta), _like(self.momentum, theta)
        if not isinstance(mu, Tensor) and mu == 0:
            return _sub_scaled(theta, lr, grad), MomentumState(state.step + 1, state.buf)
        buf = _momentum_buffer(mu, _like(self.dampening, theta), grad, state)
        return _sub_scaled(theta, lr, buf), MomentumState(state.step + 1, buf)


@dataclass(frozen=True)
class Nesterov:
    """Nesterov momentum, ``torch.optim.SGD(lr, momentum, nesterov=True)``.

    b_1 = g_1
    b_t = mu * b_{t-1} + g_t      (t > 1)
    theta_t = theta_{t-1} - lr * (g_t + mu * b_t)
    """

    lr: Hyper
    momentum: Hyper = 0.9

    def __post_init__(self) -> None:
        _check(self, lr=(0.0, None), momentum=(0.0, None))
        if not isinstance(self.momentum, Tensor) and self.momentum <= 0:
            raise ValueError("Nesterov: momentum must be positive")

    def init(self, theta: Tensor) -> MomentumState:
        return MomentumState(0, torch.zeros_like(theta))

    def update(self, theta: Tensor, grad: Tensor, state: MomentumState) -> tuple[Tensor, MomentumState]:
        lr, mu = _like(self.lr, theta), _like(self.momentum, theta)
        buf = _momentum_buffer(mu, 0.0, grad, state)
        return _sub_scaled(theta, lr, _add_scaled(grad, mu, buf)), MomentumState(state.step + 1, buf)


# --------------------------------------------------------------------------- adam


class AdamState(NamedTuple):
    """State of :class:`Adam`."""

    step: int  # t of the last update (0 before any); drives the bias corrections
    exp_avg: Tensor  # (B, p) first moment m_t
    exp_avg_sq: Tensor  # (B, p) second moment v_t


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba, 2015), ``torch.optim.Adam(lr, betas=(beta1, beta2), eps)``.

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t              (m_0 = 0)
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2            (v_0 = 0)
    theta_t = theta_{t-1} - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    i.e. lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m_t / (1 - beta1^t) and
    v_hat = v_t / (1 - beta2^t), arranged as torch arranges it (eps is added
    to sqrt(v_t) / sqrt(1 - beta2^t), and 1 / (1 - beta1^t) scales lr).
    """

    lr: Hyper = 1e-3
    beta1: Hyper = 0.9
    beta2: Hyper = 0.999
    eps: Hyper = 1e-8

    def __post_init__(self) -> None:
        _check(self, lr=(0.0, None), beta1=(0.0, 1.0), beta2=(0.0, 1.0), eps=(0.0, None))

    def init(self, theta: Tensor) -> AdamState:
        return AdamState(0, torch.zeros_like(theta), torch.zeros_like(theta))

    def update(self, theta: Tensor, grad: Tensor, state: AdamState) -> tuple[Tensor, AdamState]:
        lr, b1, b2, eps = (_like(h, theta) for h in (self.lr, self.beta1, self.beta2, self.eps))
        t = state.step + 1
        m = torch.lerp(state.exp_avg, grad, 1 - b1)
        if isinstance(b2, Tensor):
            v = torch.addcmul(state.exp_avg_sq * b2, grad * (1 - b2), grad)
        else:
            v = torch.addcmul(state.exp_avg_sq * b2, grad, grad, value=1 - b2)
        # Numbers when every hyperparameter involved is a number, else (B, 1) tensors.
        neg_step_size = lr / (b1**t - 1)  # = -lr / (1 - beta1^t), exactly
        bias_correction2_sqrt = (1 - b2**t) ** 0.5
        denom = v.sqrt().div_(bias_correction2_sqrt).add_(eps)
        if isinstance(neg_step_size, Tensor):
            new_theta = torch.addcdiv(theta, m * neg_step_size, denom)
        else:
            new_theta = torch.addcdiv(theta, m, denom, value=neg_step_size)
        return new_theta, AdamState(t, m, v)


# --------------------------------------------------------------------------- rmsprop


class RMSpropState(NamedTuple):
    """State of :class:`RMSprop`."""

    step: int  # updates taken so far
    square_avg: Tensor  # (B, p) running mean of g^2, v_t


@dataclass(frozen=True)
class RMSprop:
    """RMSprop (Hinton, 2012), ``torch.optim.RMSprop(lr, alpha, eps)`` (not centered, no momentum).

    v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2            (v_0 = 0)
    theta_t = theta_{t-1} - lr * g_t / (sqrt(v_t) + eps)
    """

    lr: Hyper = 1e-2
    alpha: Hyper = 0.99
    eps: Hyper = 1e-8

    def __post_init__(self) -> None:
        _check(self, lr=(0.0, None), alpha=(0.0, None), eps=(0.0, None))

    def init(self, theta: Tensor) -> RMSpropState:
        return RMSpropState(0, torch.zeros_like(theta))

    def update(self, theta: Tensor, grad: Tensor, state: RMSpropState) -> tuple[Tensor, RMSpropState]:
        lr, alpha, eps = (_like(h, theta) for h in (self.lr, self.alpha, self.eps))
        if isinstance(alpha, Tensor):
            v = torch.addcmul(state.square_avg * alpha, grad * (1 - alpha), grad)
        else:
            v = torch.addcmul(state.square_avg * alpha, grad, grad, value=1 - alpha)
        denom = v.sqrt().add_(eps)
        if isinstance(lr, Tensor):
            new_theta = torch.addcdiv(theta, grad * lr, denom, value=-1)
        else:
            new_theta = torch.addcdiv(theta, grad, denom, value=-lr)
        return new_theta, RMSpropState(state.step + 1, v)


#: The update rules by name.
RULES: dict[str, type] = {
    "gd": GradientDescent,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adam": Adam,
    "rmsprop": RMSprop,
}
