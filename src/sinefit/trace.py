"""--trace: the first steps of a fit in full, as the seed computes them.

For each traced step t: the loss of the prediction, each coefficient's gradient (the seed's
``grad_a = (grad_y_pred * x**3).sum()``, with ``grad_y_pred = 2.0 * (y_pred - y)``) and each
coefficient's update. The steps are taken with the fit's own objective and update rule from the
fit's own start, so the numbers are those of the run itself (the loop is deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

GRAD_Y = {"sse": "2(ŷ-y)", "mse": "(2/n)(ŷ-y)", "huber": "ψ(ŷ-y)"}  # dL/dŷ for each loss
LOSS = {"sse": "Σ(ŷ-y)²", "mse": "Σ(ŷ-y)²/n", "huber": "Σ huber(ŷ-y)/n"}


MAX_TRACE = 10_000


def check(count: object, optimizer: str) -> None:
    """--trace N: a whole number 0 ... MAX_TRACE, for the optimizers that are an update rule."""
    from .config import ConfigError

    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_TRACE:
        raise ConfigError("--trace", f"must be a whole number from 0 to {MAX_TRACE}, got {count!r}")
    if count and optimizer in ("lbfgs", "exact"):
        raise ConfigError("--trace", f"shows the steps of an update rule (gd, momentum, nesterov, adam, rmsprop); "
                                     f"{optimizer} has none")  # fmt: skip


@dataclass(frozen=True)
class Trace:
    """Step t's parameters before the update, loss, gradient and parameters after (arrays (N, p), highest first)."""

    steps: np.ndarray  # (N,)
    losses: np.ndarray  # (N,)
    before: np.ndarray  # (N, p)
    grads: np.ndarray  # (N, p)
    after: np.ndarray  # (N, p)
    lr: float | None = None  # the learning rate the steps used


def record(objective, rule, theta0: torch.Tensor, count: int) -> Trace:
    """Take ``count`` steps of ``rule`` on ``objective`` from theta0 (1, p), keeping every number."""
    theta, state = theta0, rule.init(theta0)
    rows = []
    for _ in range(count):
        loss, grad = objective(theta, True)
        new, state = rule.update(theta, grad, state)
        rows.append((float(loss[0]), *(v[0].double().cpu().numpy() for v in (theta, grad, new))))
        theta = new
    p = theta0.shape[1]
    if not rows:
        empty = np.zeros((0, p))
        return Trace(np.zeros(0, dtype=np.int64), np.zeros(0), empty, empty, empty)
    losses, before, grads, after = zip(*rows)
    return Trace(np.arange(count), np.array(losses), np.stack(before), np.stack(grads), np.stack(after))


def feature(basis: str, k: int) -> str:
    if basis == "power":
        return "1" if k == 0 else "x" if k == 1 else f"x^{k}"
    return f"{'P' if basis == 'legendre' else 'T'}{k}(t)"


def text(trace: Trace, names: list[str], powers: list[int], basis: str, loss: str, optimizer: str,
         lr: float | None, ascending: bool) -> str:  # fmt: skip
    """The traced steps for people, each coefficient in the naming order in force."""
    order = list(range(len(names)))[::-1] if ascending else list(range(len(names)))
    lines = []
    for i, t in enumerate(trace.steps):
        lines.append(f"step {int(t)}: loss = {LOSS[loss]} = {trace.losses[i]:.9g}")
        for j in order:
            name, k = names[j], powers[j]
            g, before, after = trace.grads[i, j], trace.before[i, j], trace.after[i, j]
            times = "" if basis == "power" and k == 0 else f"·{feature(basis, k)}"
            grad = f"grad_{name} = Σ {GRAD_Y[loss]}{times} = {g:.9g}"
            if optimizer == "gd":
                update = f"{name}: {before:.9g} - {lr:g} × {f'({g:.9g})' if g < 0 else f'{g:.9g}'} = {after:.9g}"
            else:
                update = f"{name}: {before:.9g} -> {after:.9g} ({optimizer})"
            lines.append(f"    {grad:<52} {update}")
    return "\n".join(lines)


def csv(trace: Trace, names: list[str], ascending: bool) -> str:
    """trace.csv: step, loss, then per coefficient (naming order) its value, gradient and next value."""
    order = list(range(len(names)))[::-1] if ascending else list(range(len(names)))
    header = ["step", "loss"] + [f"{c}{names[j]}" for j in order for c in ("", "grad_", "next_")]
    lines = [",".join(header)]
    for i, t in enumerate(trace.steps):
        cells = [str(int(t)), repr(float(trace.losses[i]))]
        for j in order:
            cells += [repr(float(trace.before[i, j])), repr(float(trace.grads[i, j])), repr(float(trace.after[i, j]))]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"
