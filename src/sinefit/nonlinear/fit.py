"""``fit(model="a*exp(-b*x) + c", init=..., ...)``: a model fit, by any optimizer, with Levenberg-Marquardt beside it.

The chosen optimizer runs on the per-sample engine (every step evaluates the model at every
point; gradients by autograd) for every start at once. Levenberg-Marquardt runs from the same
starts in float64 as the reference, as ``exact`` is for polynomials: the report's "best loss
found" and the gap to it. Statistics, standard errors and the local analysis are float64.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .. import data, history as history_mod, losses, train
from ..config import MAX_SAMPLES_IN_MEMORY, ConfigError, FitConfig
from . import analysis, lm, settings, starts
from .bounds import Transform
from .expression import Model, parse
from .problem import ModelObjective, Problem


@dataclass(frozen=True)
class FittedModel:
    """A model expression with values for its parameters: what model.json holds and predict evaluates."""

    expression: str
    names: tuple[str, ...]
    values: np.ndarray  # (k,)
    domain: tuple[float, float] = (-1.0, 1.0)

    @property
    def model(self) -> Model:
        return parse(self.expression)

    def as_dict(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.values)}

    def predict(self, x: Any) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        xs = torch.as_tensor(np.asarray(x, dtype=np.float64))
        flat = xs.reshape(-1)
        with torch.no_grad():
            y = self.model(torch.as_tensor(self.values, dtype=torch.float64), flat)
        return y.numpy().reshape(xs.shape)

    def formula(self, digits: int = 6) -> str:
        return self.model.formula(self.values, digits)


@dataclass(frozen=True)
class ModelFitResult:
    """What a model fit learned, apart from the settings (``config``) that produced it."""

    config: FitConfig
    expression: Model
    x: np.ndarray  # (n,) float64: the points the fit saw
    y: np.ndarray
    target: str
    domain: tuple[float, float]
    bounds: dict[str, tuple[float, float]]
    initial: FittedModel  # start 0
    model: FittedModel  # the best start's final parameters
    losses: np.ndarray  # (T + 1,) the best start's loss after t steps
    final_loss: float
    diverged_at: int | None
    interrupted_at: int | None
    best_start: int
    start_values: np.ndarray  # (N, k)
    end_values: np.ndarray  # (N, k)
    end_losses: np.ndarray  # (N,)
    minima: list  # starts.Minimum: where the optimizer's runs ended
    reference: lm.LMResult  # Levenberg-Marquardt from the same starts (the run itself when optimizer is lm)
    reference_minima: list
    reference_values: np.ndarray  # (N, k): where lm ended from each start, in the model's parameters
    reference_loss: float  # the best loss lm found, in the fit's loss
    statistics: analysis.ModelStatistics  # at the solution
    local_end: analysis.Local
    local_start: analysis.Local
    at_bound: np.ndarray  # (k,) bool
    converged: bool  # lm: its own verdict; others: within 1e-6 of lm's best loss
    reason: str
    lr: float | None
    momentum: float | None
    engine: str
    snapshot_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    snapshots: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    history_steps: np.ndarray | None = None  # the step of each entry of ``losses`` (None: entry t is step t)

    @property
    def steps(self) -> np.ndarray:
        """The step of each entry of ``losses`` (a long run keeps a decimated few: history.kept_steps)."""
        return np.arange(len(self.losses)) if self.history_steps is None else self.history_steps

    @property
    def last_step(self) -> int:
        return int(self.steps[-1]) if len(self.losses) else 0

    @property
    def names(self) -> tuple[str, ...]:
        return self.expression.parameters

    @property
    def status(self) -> str:
        if self.diverged_at is not None:
            return "diverged"
        return "interrupted" if self.interrupted_at is not None else "completed"

    @property
    def coefficients(self) -> dict[str, float]:
        return self.model.as_dict()

    @property
    def parameters(self) -> dict[str, float]:
        return self.model.as_dict()

    @property
    def stderr(self) -> dict[str, float]:
        return dict(zip(self.names, map(float, self.statistics.stderr)))

    @property
    def reference_best(self) -> np.ndarray:
        """lm's parameters with the lowest SSE over the starts."""
        sse = np.where(np.isfinite(self.reference.sse), self.reference.sse, np.inf)
        return self.reference_values[int(np.argmin(sse))]

    @property
    def gap(self) -> float:
        """final loss / lm's best loss - 1."""
        if not (math.isfinite(self.final_loss) and self.reference_loss > 0):
            return math.nan if self.reference_loss != 0 or self.final_loss != 0 else 0.0
        return self.final_loss / self.reference_loss - 1.0

    @property
    def logged(self) -> list[tuple[int, float]]:
        every = self.config.log_every
        if self.history_steps is not None:
            return [(int(t), float(v)) for t, v in zip(self.history_steps, self.losses) if t % every == every - 1]
        return [(t, float(self.losses[t])) for t in range(every - 1, len(self.losses), every)]

    def predict(self, x: Any) -> np.ndarray:
        return self.model.predict(x)

    def formula(self, digits: int = 6) -> str:
        return self.model.formula(digits)

    def __repr__(self) -> str:
        return f"ModelFitResult({self.status}, loss={self.final_loss:.6g}, lm best={self.reference_loss:.6g}, " \
               f"y = {self.formula(4)})"


def _points(cfg: FitConfig, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, str, tuple[float, float]]:
    if x is not None or y is not None:
        if x is None or y is None or cfg.data is not None:
            raise ConfigError("x, y", "give both x and y, and no data file")
        xs, ys = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ConfigError("x, y", f"x has {xs.size} values but y has {ys.size}")
        if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
            raise ConfigError("x, y", "values must be finite")
        source = "arrays"
    elif cfg.data is not None:
        from ..io import datafiles

        try:
            xs, ys = datafiles.read_points(cfg.data, datafiles.parse_columns(cfg.columns),
                                           max_points=MAX_SAMPLES_IN_MEMORY)  # fmt: skip
        except datafiles.TooManyPoints as e:
            raise ConfigError("--data", f"{e} do not fit in memory for a model fit") from None
        source = cfg.data
    else:
        ds = data.generated(cfg.target, cfg.samples, cfg.domain, cfg.dtype, cfg.noise, cfg.seed)
        return ds.x.double().numpy(), ds.y.double().numpy(), ds.target, ds.domain
    if xs.size == 0:
        raise ConfigError("--data", f"{source}: no points")
    lo, hi = (float(xs.min()), float(xs.max()))
    domain = cfg.domain or ((lo, hi) if lo < hi else (lo - 1.0, hi + 1.0))
    return xs, ys, source, domain


def _rule(cfg: FitConfig, lr: float, momentum: float | None):
    from .. import optim

    if cfg.optimizer == "gd" or (cfg.optimizer == "nesterov" and not momentum):
        return optim.GradientDescent(lr)
    if cfg.optimizer in ("momentum", "nesterov"):
        return optim.RULES[cfg.optimizer](lr, momentum=momentum)
    return optim.RULES[cfg.optimizer](lr)


def _snapshot_steps(steps: int) -> frozenset[int]:
    from ..api import snapshot_steps

    return snapshot_steps(steps)


def fit_model(cfg: FitConfig, x: Any = None, y: Any = None, on_log=None, on_start=None, stop=None) -> ModelFitResult:
    """Fit ``cfg.model`` (a validated config); see the module docstring.

    Small problems run on one intra-op thread (``sinefit.threads``): on a busy machine torch's
    batched SVD of an (8, 200, 3) Jacobian took 45 ms on two threads and 0.09 ms on one.
    """
    from .. import threads

    n = int(np.asarray(x).size) if x is not None else (cfg.samples if cfg.data is None else 1 << 20)
    with threads.torch_threads(threads.for_size(cfg.starts * n * 16)):
        return _fit_model(cfg, x, y, on_log, on_start, stop)


def _fit_model(
    cfg: FitConfig,
    x: Any = None,
    y: Any = None,
    on_log: Callable[[int, float], None] | None = None,
    on_start: Callable[[FitConfig], None] | None = None,
    stop: train.StopFlag | None = None,
) -> ModelFitResult:
    model = parse(cfg.model)
    init = settings.parse_init(cfg.init, model.parameters, cfg.seed)
    bounds = settings.parse_bounds(cfg.bounds, model.parameters)
    xs, ys, target, domain = _points(cfg, x, y)
    if xs.size < model.size:
        raise ConfigError("--model", f"{model.size} parameters need at least {model.size} points, got {xs.size}")
    transform = Transform.of(model.parameters, bounds)
    theta0 = np.array([init[n] for n in model.parameters])
    lo, hi = transform.lo.numpy(), transform.hi.numpy()
    start_values = starts.perturbed(theta0, cfg.starts, cfg.seed, lo, hi)
    dtype = data.DTYPES[cfg.dtype]
    problem64 = Problem(model, torch.as_tensor(xs), torch.as_tensor(ys), transform)
    u0 = transform.to_internal(torch.as_tensor(start_values))
    with torch.no_grad():
        first = problem64.residuals(u0[:1])
    if not bool(torch.isfinite(first).all()):
        i = int((~torch.isfinite(first[0])).nonzero()[0])
        raise ConfigError("--init", f"the model is not finite at the start (x = {xs[i]:.6g} gives "
                          f"{float(first[0, i] + ys[i]):.6g}); choose other starting values")  # fmt: skip
    if on_start is not None:
        on_start(cfg)
    n = xs.size
    per_loss = 1.0 if cfg.loss == "sse" else 1.0 / n  # lm's SSE in the fit's loss (sse or mse)
    record = _snapshot_steps(cfg.steps)
    kept = history_mod.kept_steps(cfg.steps, cfg.log_every, record)
    log = None if on_log is None else (lambda t, loss: on_log(t, float(loss[0]) * per_loss))
    stopped = None
    if cfg.optimizer == "lm":
        reference = lm.levenberg_marquardt(problem64, u0, max_iter=cfg.steps, stop=stop, kept=kept,
                                           on_iteration=_lm_logger(log, cfg.log_every))  # fmt: skip
        histories = reference.history * per_loss  # (kept iterations, N)
        at_steps = None if reference.steps is None or history_mod.is_full(reference.steps) else reference.steps
        ends_u = torch.as_tensor(reference.u)
        diverged = np.full(cfg.starts, -1)
        stopped = reference.stopped_at
        iters = np.arange(len(reference.path)) if reference.steps is None else reference.steps
        snapshots = {int(t): reference.path[i] for i, t in enumerate(iters) if int(t) in record}
        snapshots[int(iters[-1])] = reference.path[-1]
        lr, momentum, engine = None, None, "Levenberg-Marquardt, Jacobians by forward-mode autodiff"
    else:
        problem = problem64.to(dtype)
        objective = ModelObjective(problem, losses.get(cfg.loss, cfg.huber_delta))
        lr, momentum = cfg.lr, cfg.momentum
        if cfg.optimizer == "lbfgs":
            trajectory = train.train_lbfgs(u0.to(dtype), objective, lr, cfg.steps, log_every=cfg.log_every,
                                           on_log=log, record=record, stop=stop, kept=kept)  # fmt: skip
        else:
            trajectory = train.train(u0.to(dtype), objective, _rule(cfg, lr, momentum), cfg.steps,
                                     log_every=cfg.log_every, on_log=log, record=record, stop=stop,
                                     kept=kept)  # fmt: skip
        histories = trajectory.losses.numpy()
        at_steps = trajectory.steps
        ends_u = trajectory.theta.double()
        diverged = trajectory.diverged_at.numpy()
        stopped = trajectory.stopped_at
        snapshots = {t: v.double().numpy() for t, v in trajectory.snapshots.items()}
        engine = "per-sample (every step evaluates the model at every point), autograd gradients"
        reference = lm.levenberg_marquardt(problem64, u0, max_iter=max(cfg.steps, 2000),
                                           kept=history_mod.kept_steps(max(cfg.steps, 2000)))  # only its end is read
    with torch.no_grad():
        end_values = transform.to_external(ends_u).numpy()
        reference_values = transform.to_external(torch.as_tensor(reference.u)).numpy()
    last = np.array([_last_row(histories, at_steps, b, d) for b, d in enumerate(diverged)])
    end_losses = np.array([histories[max(int(t), 0), b] for b, t in enumerate(last)])
    finite = np.isfinite(end_losses)
    best = int(np.argmin(np.where(finite, end_losses, np.inf))) if finite.any() else 0
    history = histories[:, best]
    d = int(diverged[best])
    if at_steps is not None:  # decimated: the best start's own kept steps
        at_steps, history = history_mod.row_of(at_steps, history, d)
    elif d >= 0:
        history = history[: d + 1]
    last_step = len(history) - 1 if at_steps is None else int(at_steps[-1])
    final_loss = float(end_losses[best])
    reference_loss = float(np.min(np.where(np.isfinite(reference.sse), reference.sse, np.inf))) * per_loss
    if cfg.loss == "huber":
        reference_loss = math.nan  # lm solves least squares; its loss is not the Huber minimum
    theta = torch.as_tensor(end_values[best : best + 1])
    J = problem64.jacobian(theta, external=True)[0].numpy()
    with torch.no_grad():
        prediction = problem64.predict(theta)[0].numpy()
    stats = analysis.statistics(xs, ys, prediction, J)
    u_end = ends_u[best : best + 1]
    local_end = analysis.local(problem64.jacobian(u_end)[0].numpy(), cfg.loss)
    local_start = analysis.local(problem64.jacobian(u0[best : best + 1])[0].numpy(), cfg.loss)
    at_bound = transform.at_bound(theta[0]).numpy() if transform.active else np.zeros(model.size, dtype=bool)
    converged, reason = _verdict(cfg, reference, best, final_loss, reference_loss, stats, model.parameters, at_bound)
    steps_kept = sorted(t for t in snapshots if t <= last_step)
    with torch.no_grad():
        snap = np.stack([transform.to_external(torch.as_tensor(snapshots[t])).numpy()[best] for t in steps_kept]) \
            if steps_kept else np.zeros((0, model.size))  # fmt: skip
    if d >= 0:
        warnings.warn(f"loss became {history[-1]} at step {d} (lr {lr:g}); the result holds the last finite "
                      "parameters", RuntimeWarning, stacklevel=2)  # fmt: skip
    usable = reference.converged
    atol = 1e-20 * float(ys @ ys) * per_loss  # losses this small are rounding: an exact fit
    return ModelFitResult(
        cfg, model, xs, ys, target, domain, bounds,
        FittedModel(model.text, model.parameters, start_values[best], domain),
        FittedModel(model.text, model.parameters, end_values[best], domain),
        history, final_loss, d if d >= 0 else None, stopped, best, start_values, end_values, end_losses,
        starts.group(end_losses, end_values, atol=atol), reference,
        starts.group(reference.sse * per_loss, reference_values, usable, atol), reference_values,
        reference_loss, stats, local_end, local_start, at_bound, converged, reason, lr, momentum, engine,
        np.array(steps_kept, dtype=np.int64), snap, at_steps,
    )  # fmt: skip


def _last_row(histories: np.ndarray, steps: np.ndarray | None, b: int, d: int) -> int:
    """The row of start b's last finite loss: the step before its divergence, else the last."""
    if d < 0:
        return histories.shape[0] - 1
    if steps is None:
        return d - 1
    i = history_mod.index_of(steps, max(d - 1, 0))
    return -1 if d == 0 or i is None else i


def _lm_logger(log, every: int):
    """lm converges in tens of iterations: its first 10 are logged, then every ``every``-th."""
    if log is None:
        return None
    return lambda t, f: log(t, f) if (t < 10 or t % every == every - 1) else None


def _verdict(cfg, reference, best, final_loss, reference_loss, stats, names, at_bound) -> tuple[bool, str]:
    undetermined = [n for n, ok in zip(names, stats.determined) if not ok]
    if cfg.optimizer == "lm":
        ok, reason = bool(reference.converged[best]), reference.reason[best]
        if ok and undetermined:
            return False, (f"not converged: stopped where the data do not determine {', '.join(undetermined)} (the "
                           "model is flat in it there: an asymptote or a redundant parameter, not a minimum)")
        return ok, reason
    if not math.isfinite(reference_loss) or not math.isfinite(final_loss):
        return False, "no least-squares reference to compare with"
    close = final_loss <= reference_loss * (1 + 1e-6) + 1e-300
    return close, ("within 1e-6 of the best loss lm found from the same start(s)" if close else
                   f"{final_loss / reference_loss if reference_loss > 0 else math.inf:.4g}x the best loss lm found "
                   "from the same start(s)")  # fmt: skip
