"""The library: ``fit(**settings) -> FitResult``. No files, no figures, no printing."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from . import analysis, data, model, optim, train
from .config import FitConfig


class DivergenceWarning(RuntimeWarning):
    """The loss became inf or NaN; the result holds the last finite parameters."""


class UnstableLRWarning(UserWarning):
    """The learning rate is above the bound where plain gradient descent is stable."""


@dataclass(frozen=True)
class Polynomial:
    """A learned polynomial in the power basis: coefficients highest power first."""

    coefficients: np.ndarray
    domain: tuple[float, float]

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    @property
    def names(self) -> list[str]:
        return model.coefficient_names(self.degree)

    @property
    def powers(self) -> list[int]:
        return model.powers(self.degree)

    def predict(self, x: Any) -> np.ndarray:
        """The polynomial at x (a number, a sequence, an array or a tensor), in float64."""
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        return model.polyval(self.coefficients, np.asarray(x, dtype=np.float64))

    def formula(self, digits: int = 6) -> str:
        return model.formula(self.coefficients, digits)

    def as_dict(self) -> dict[str, float]:
        """{'a': ..., 'b': ..., ...} in the seed's naming."""
        return {n: float(c) for n, c in zip(self.names, self.coefficients)}


@dataclass(frozen=True)
class FitResult:
    """What a fit learned, kept apart from the settings that produced it."""

    config: FitConfig
    dataset: data.Dataset
    initial: Polynomial
    model: Polynomial
    losses: np.ndarray  # loss after t updates, t = 0 ... (a non-finite last entry on divergence)
    final_loss: float  # loss of ``model``: the last finite entry of ``losses``
    diverged_at: int | None
    quadratic: analysis.Quadratic
    advice: analysis.Advice

    @property
    def status(self) -> str:
        return "diverged" if self.diverged_at is not None else "completed"

    @property
    def coefficients(self) -> dict[str, float]:
        return self.model.as_dict()

    @property
    def optimum(self) -> Polynomial:
        return Polynomial(self.quadratic.optimum, self.model.domain)

    @property
    def optimum_loss(self) -> float:
        return self.quadratic.optimum_loss

    @property
    def stable_lr(self) -> float:
        return self.quadratic.stable_lr

    @property
    def logged(self) -> list[tuple[int, float]]:
        """The (step, loss) pairs the seed prints: steps t with t % log_every == log_every - 1."""
        every = self.config.log_every
        return [(t, float(self.losses[t])) for t in range(every - 1, len(self.losses), every)]

    def predict(self, x: Any) -> np.ndarray:
        return self.model.predict(x)

    def formula(self, digits: int = 6) -> str:
        return self.model.formula(digits)

    def __repr__(self) -> str:
        return (
            f"FitResult({self.status}, loss={self.final_loss:.6g}, optimum={self.optimum_loss:.6g}, "
            f"y = {self.formula(4)})"
        )


def fit(
    config: FitConfig | None = None,
    *,
    on_log: Callable[[int, float], None] | None = None,
    **settings: Any,
) -> FitResult:
    """Fit a polynomial by gradient descent; with no arguments, the seed experiment.

    >>> r = fit(seed=0)               # the seed: cubic, sin(x), lr 1e-6, 2000 steps
    >>> r.final_loss, r.optimum_loss  # doctest: +SKIP
    (95.9..., 4.4270...)

    Settings are those of :class:`FitConfig` (pass one, or keywords, or both:
    keywords win). ``on_log(step, loss)`` is called at the steps the seed prints.
    """
    base = config if config is not None else FitConfig()
    cfg = FitConfig.from_dict({**base.to_dict(), **settings})
    ds = data.sine_grid(cfg.samples, cfg.domain, cfg.dtype)
    columns = model.power_columns(ds.x, cfg.degree)
    quadratic = analysis.solve(ds.x.double().numpy(), ds.y.double().numpy(), cfg.degree)
    if cfg.steps > 0 and cfg.lr > quadratic.stable_lr:
        warnings.warn(
            f"lr {cfg.lr:g} is above the stable bound {quadratic.stable_lr:.3g} "
            "(2 / largest Hessian eigenvalue): gradient descent will diverge",
            UnstableLRWarning,
            stacklevel=2,
        )

    # The seed's draw: manual_seed, then one randn(()) per coefficient, highest power first.
    torch.manual_seed(cfg.seed)
    theta0 = torch.stack([torch.randn((), dtype=ds.x.dtype) for _ in range(cfg.degree + 1)])[None]

    log = None if on_log is None else (lambda t, loss: on_log(t, float(loss[0])))
    run = train.train(
        theta0, columns, ds.y, optim.GradientDescent(cfg.lr), cfg.steps, log_every=cfg.log_every, on_log=log
    )
    losses = run.losses[:, 0].numpy()
    diverged_at = int(run.diverged_at[0]) if int(run.diverged_at[0]) >= 0 else None
    if diverged_at is not None:
        warnings.warn(
            f"loss became {losses[diverged_at]} at step {diverged_at} (lr {cfg.lr:g}); "
            "the result holds the last finite coefficients",
            DivergenceWarning,
            stacklevel=2,
        )

    domain = (float(ds.x[0]), float(ds.x[-1]))
    initial = Polynomial(theta0[0].double().numpy(), domain)
    fitted = Polynomial(run.theta[0].double().numpy(), domain)
    final_loss = float(run.final_loss[0])
    advice = analysis.advise(
        quadratic, initial.coefficients, fitted.coefficients, final_loss, cfg.lr, diverged_at is not None
    )
    return FitResult(cfg, ds, initial, fitted, losses, final_loss, diverged_at, quadratic, advice)
