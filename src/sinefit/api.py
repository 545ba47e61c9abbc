"""The library: ``fit(**settings) -> FitResult``. No figures, no printing; files only as input."""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from . import analysis, basis, data, engine, finite, history, init, losses, minibatch, model, optim, stability, stats, streaming
from . import budget, expr, threads, train
from . import trace as trace_mod
from .coefficients import Coefficients
from .config import AUTO_LR, MAX_SAMPLES_IN_MEMORY, ConfigError, FitConfig
from .errors import InputError, Interrupted
from .objective import Ascending, PerSample
from .polynomial import Polynomial
from .summary import Summary


class DivergenceWarning(RuntimeWarning):
    """The loss became inf or NaN; the result holds the last finite parameters."""


class UnstableLRWarning(UserWarning):
    """The learning rate is above the bound where the optimizer is stable (``stability.bound``)."""


class DefaultLRNote(UserWarning):
    """No lr was given and the seed's 1e-6 is unstable on this problem: lr auto is used instead."""


SEED_LR = 1e-6


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
    statistics: stats.Statistics
    lr: float | None  # the learning rate used (resolved from "auto" or the default)
    momentum: float | None
    auto: analysis.AutoStep | None  # what --lr auto chose, and why
    engine: str  # which computation ran the steps
    snapshot_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (k,)
    snapshots: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (k, p): the parameters then
    interrupted_at: int | None = None  # the step where a stop request (Ctrl-C) ended training
    converged_at: int | None = None  # the step where training stopped early, at the optimum (see FitConfig.tol)
    trace: Any = None  # trace.Trace of the first steps, with fit(trace=N) (set by keyword only)
    minibatch: Any = None  # minibatch.MiniBatchRun, with batch_size (set by keyword only)
    history_steps: np.ndarray | None = None  # the step of each entry of ``losses`` (None: entry t is step t)
    summary_degree: int | None = None  # fitted from a given summary: the degree it holds (the most it can fit)

    @property
    def steps(self) -> np.ndarray:
        """The step of each entry of ``losses``: 0 ... T for a run of T steps, fewer (every step up to
        history.FULL, then geometrically spaced, always the logged ones and the last) for a long one."""
        return np.arange(len(self.losses)) if self.history_steps is None else self.history_steps

    def loss_at(self, step: int) -> float:
        """The loss after ``step`` updates (NaN if the history did not keep that step)."""
        i = step if self.history_steps is None else history.index_of(self.history_steps, step)
        return float(self.losses[i]) if i is not None and 0 <= i < len(self.losses) else math.nan

    @property
    def last_step(self) -> int:
        """The step of the history's last entry."""
        return int(self.steps[-1]) if len(self.losses) else 0

    @property
    def trajectory(self) -> list[tuple[int, Polynomial]]:
        """The polynomial at the recorded steps (up to ~300, spread linearly and geometrically)."""
        return [(int(t), Polynomial(c, self.model.domain, self.model.basis, self.model.order))
                for t, c in zip(self.snapshot_steps, self.snapshots)]  # fmt: skip

    @property
    def status(self) -> str:
        if self.diverged_at is not None:
            return "diverged"
        return "interrupted" if self.interrupted_at is not None else "completed"

    @property
    def coefficients(self) -> Coefficients:
        """The fitted coefficients: an array (highest power first) that also reads by name."""
        return self.model.coefficients

    @property
    def optimum(self) -> Polynomial:
        return Polynomial(self.quadratic.optimum, self.model.domain, self.model.basis, self.model.order)

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
        if self.history_steps is not None:
            return [(int(t), float(v)) for t, v in zip(self.history_steps, self.losses) if t % every == every - 1]
        return [(t, float(self.losses[t])) for t in range(every - 1, len(self.losses), every)]

    def predict(self, x: Any) -> np.ndarray:
        return self.model.predict(x)

    def formula(self, digits: int = 6) -> str:
        return self.model.formula(digits)

    # -- for notebooks: drawn from the result in memory by io.display, no run directory needed --

    def report(self) -> str:
        """The fit report, as `sinefit fit` prints it."""
        from . import report

        return report.fit_report(self)

    def plot(self, kind: str = "overlay"):
        """A matplotlib Figure: overlay, loss, coefficients, convergence or seed (the seed's 'y true' / 'y pred')."""
        from .io import display

        return display.plot(self, kind)

    def to_frame(self):
        """The loss history as a pandas DataFrame indexed by step (with the batch losses for mini-batches)."""
        from .io import display

        return display.frame(self)

    def _repr_html_(self) -> str:
        from .io import display

        return display.html_of(self)

    def __repr__(self) -> str:
        return (
            f"FitResult({self.status}, loss={self.final_loss:.6g}, optimum={self.optimum_loss:.6g}, "
            f"y = {self.formula(4)})"
        )


def default_lr(cfg: FitConfig, q: analysis.Quadratic) -> tuple[float | str | None, float | None, str | None]:
    """(lr, momentum, note) for a gd-family fit given no lr: the seed's 1e-6 where it is below the
    optimizer's stable bound here, else "auto" (and a note saying why, for before training)."""
    if cfg.lr is not None or cfg.optimizer not in AUTO_LR:
        return cfg.lr, cfg.momentum, None
    mu = cfg.momentum if cfg.momentum is not None or cfg.optimizer == "gd" else stability.DEFAULT_MOMENTUM
    bound = q.bound(cfg.optimizer, mu)
    if bound is None or SEED_LR < bound or not q.quadratic:
        return SEED_LR, mu, None
    note = (
        f"no --lr given, and the seed's lr 1e-6 is above {cfg.optimizer}'s stable bound {bound:.3g} "
        f"({stability.formula(cfg.optimizer, mu)}) on this problem: using --lr auto"
    )
    return "auto", cfg.momentum, note


@dataclass(frozen=True)
class _Problem:
    """Everything a fit needs before its first step."""

    config: FitConfig
    engine: str  # "per-sample" or "stats"
    device: str
    dataset: data.Dataset
    columns: torch.Tensor  # (p, m) basis functions at dataset.x (all points, or the sample)
    quadratic: analysis.Quadratic
    moments: Summary | None  # set when the points were streamed (more than the sample holds)
    theta0: torch.Tensor  # (1, p) in the working dtype
    lr: float | None
    momentum: float | None
    auto: analysis.AutoStep | None


def initial_draw(seed: int, degree: int, dtype: torch.dtype) -> torch.Tensor:
    """The seed's draw: manual_seed(seed), then one randn(()) per coefficient, highest degree first."""
    return init.randn(seed, degree + 1, dtype)


def initial_theta(cfg: FitConfig, dtype: torch.dtype) -> torch.Tensor:
    """The start ``cfg.init`` names (p,), highest power first; a saved model is read by io.warmstart."""
    start = init.parse(cfg.init)
    if start.kind == "path":
        from .io import warmstart

        return torch.as_tensor(warmstart.read_start(start.path, cfg)).to(dtype)
    return init.start(start, cfg.seed, cfg.degree, dtype, cfg.order)


CHUNK = 1 << 20  # points per chunk of a streaming pass
SAMPLE = 1 << 20  # points kept for figures and the largest error; up to this many, analysis is exact (SVD)


def _device(cfg: FitConfig) -> str:
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device", "cuda is not available here (no GPU visible to torch); use --device cpu")
    return cfg.device


@threads.one_blas_thread
def _prepare(cfg: FitConfig, x: Any, y: Any, progress: Callable[[int, int | None], None] | None = None,
             stop: train.StopFlag | None = None, summary: Summary | None = None) -> _Problem:  # fmt: skip
    engine, device = ("stats" if summary is not None else cfg.resolved_engine()), _device(cfg)
    moments_ = None
    if engine == "per-sample":
        if x is None and cfg.data is None:  # generated points: their matrix is refused before they are made
            budget.check_design(cfg.samples, cfg.degree + 1, 8 if cfg.dtype == "float64" else 4,
                                expr.resolve(cfg.target).text)  # fmt: skip
        ds = _dataset(cfg, x, y)
        columns = finite.design(cfg.basis, ds.x, cfg.degree, ds.domain, ds.target, ds.y)  # before any SVD
        q = analysis.solve(columns.double().T.numpy(), ds.y.double().numpy(), cfg.loss, cfg.huber_delta,
                           x=ds.x.double().numpy(), basis=cfg.basis)  # fmt: skip
        ds = data.Dataset(ds.x.to(device), ds.y.to(device), ds.target, ds.domain)
        columns = columns.to(device)
    else:
        ds, columns, q, moments_ = _stream(cfg, x, y, device, progress, stop, summary)
    theta0 = initial_theta(cfg, data.DTYPES[cfg.dtype])[None]
    if cfg.lr is None and cfg.optimizer in AUTO_LR:
        lr_setting, mu, _ = default_lr(cfg, q)
        cfg = dataclasses.replace(cfg, lr=lr_setting, momentum=mu)
    lr, momentum, auto = cfg.lr, cfg.momentum, None
    if lr == "auto":
        auto = analysis.auto_step(q, cfg.optimizer, theta0[0].double().numpy(), momentum)
        lr, momentum = auto.lr, (auto.momentum if momentum is None else momentum)
    return _Problem(cfg, engine, device, ds, columns, q, moments_, theta0.to(device), lr, momentum, auto)


def _stream(cfg: FitConfig, x: Any, y: Any, device: str, progress, stop=None, summary=None) -> tuple:
    """One pass over the points into a Summary (R of [X y] by TSQR), or none for a given summary."""
    return streaming.stream(cfg, x, y, progress, stop, summary, chunk=CHUNK, sample=SAMPLE)


@functools.lru_cache(maxsize=64)
def snapshot_steps(steps: int, count: int = 300) -> frozenset[int]:
    """Steps worth keeping the parameters of: half spread evenly, half geometrically (early
    changes are fast, late ones slow), always the first and the last."""
    even = np.linspace(0, steps, count // 2)
    geometric = np.geomspace(1, max(steps, 1), count // 2)
    return frozenset(int(v) for v in np.round(np.concatenate([[0, steps], even, geometric])) if 0 <= v <= steps)


@threads.one_blas_thread
def _assemble(
    p: _Problem,
    theta: np.ndarray,
    losses_: np.ndarray,
    diverged_at: int | None,
    snapshots: dict[int, np.ndarray] | None = None,
    interrupted_at: int | None = None,
    steps: np.ndarray | None = None,
) -> FitResult:
    cfg, ds, q = p.config, p.dataset, p.quadratic
    if steps is not None and history.is_full(steps):
        steps = None
    initial = Polynomial(p.theta0[0].double().cpu().numpy(), ds.domain, cfg.basis, cfg.order)
    fitted = Polynomial(np.asarray(theta, dtype=np.float64), ds.domain, cfg.basis, cfg.order)
    last = diverged_at - 1 if diverged_at is not None else len(losses_) - 1
    if steps is not None:
        last = history.index_of(steps, max(last, 0)) if diverged_at is not None else len(losses_) - 1
    final_loss = float(losses_[max(last or 0, 0)])
    last_step = len(losses_) - 1 if steps is None else int(steps[-1])
    advice = analysis.advise(
        q, initial.coefficients, fitted.coefficients, final_loss, p.lr or 0.0, diverged_at is not None,
        optimizer=cfg.optimizer, momentum=p.momentum, eps=_loss_eps(p), residual=_residual_losses(p),
    )  # fmt: skip
    X = p.columns.double().T.cpu().numpy()
    x64, y64 = ds.x.double().cpu().numpy(), ds.y.double().cpu().numpy()
    if p.moments is None:
        statistics = stats.statistics(x64, X, y64, fitted.coefficients, q.inverse_gram)
    else:
        sse = q.loss(fitted.coefficients) / q.scale
        errors = X @ fitted.coefficients - y64
        statistics = stats.statistics_from_spectrum(p.moments.n, sse, p.moments.sst, x64, errors, q.singular_values,
                                                    q.directions)  # fmt: skip
    early = last_step < cfg.steps and cfg.optimizer != "exact" and diverged_at is None and interrupted_at is None
    return FitResult(
        cfg, ds, initial, fitted, np.asarray(losses_, dtype=np.float64), final_loss, diverged_at, q, advice,
        statistics, p.lr, p.momentum, p.auto, _engine_text(p), *_stack(snapshots or {}, len(fitted.coefficients)),
        interrupted_at, last_step if early else None, history_steps=steps,
    )  # fmt: skip


def _loss_eps(p: _Problem) -> float:
    """The precision the run's losses were computed in (exact's is float64: it is solved in float64)."""
    exact64 = p.config.optimizer == "exact" or p.engine == "stats"
    return float(torch.finfo(torch.float64 if exact64 else p.theta0.dtype).eps)


def _residual_losses(p: _Problem) -> bool:
    """Whether the run's round-off is judged as that of float32 residuals (the per-sample and
    mini-batch engines in float32), not the statistics' closed form (a few eps of y^T y). In float64
    the per-sample engine keeps the statistics' rule: it is far below the 0.1% target there, and the
    two engines then stop at the same step (tests/test_engine.py compares them step for step)."""
    return p.config.optimizer != "exact" and p.engine != "stats" and p.theta0.dtype == torch.float32


def _stack(snapshots: dict[int, Any], p: int) -> tuple[np.ndarray, np.ndarray]:
    """Row 0 of each recorded step's parameters, as (steps (k,), parameters (k, p))."""
    steps = sorted(snapshots)
    if not steps:
        return np.zeros(0, dtype=np.int64), np.zeros((0, p))
    if isinstance(snapshots[steps[0]], torch.Tensor):
        rows = torch.stack([snapshots[t].reshape(-1, p)[0] for t in steps]).double().cpu().numpy()
    else:
        rows = np.stack([np.asarray(snapshots[t], dtype=np.float64).reshape(-1, p)[0] for t in steps])
    return np.array(steps, dtype=np.int64), rows


def _engine_text(p: _Problem) -> str:
    cfg = p.config
    if cfg.optimizer == "exact":
        return "closed form (least squares)"
    if p.engine == "per-sample":
        return f"per-sample (the seed's way), {cfg.grad} gradients" + (
            f", mini-batches of {cfg.batch_size}" if cfg.batch_size is not None else ""
        )
    how = {"gd": "closed form", "momentum": "modal recurrence", "nesterov": "modal recurrence"}
    return f"sufficient statistics, {how.get(cfg.optimizer, 'O(p^2) per step')}" + (
        f", {p.moments.n} points streamed" if p.moments is not None else ""
    )


def _run(
    p: _Problem, log, on_step=None, stop=None, record: frozenset[int] | None = None, objective=None,
    with_steps: bool = False,
) -> tuple:
    """Take the steps; return (final theta, loss history, divergence step, snapshots, stop step).
    ``record``: the steps whose parameters are kept (default: ``snapshot_steps``; the playground asks for its own).
    ``with_steps``: decimate a long history (history.kept_steps) and return its steps as a sixth item."""
    cfg = p.config
    record = snapshot_steps(cfg.steps) if record is None else record
    kept = history.kept_steps(cfg.steps, cfg.log_every, record) if with_steps else None
    if kept is not None and hasattr(objective, "keep"):  # a mini-batch objective: its batch losses too
        objective.keep(kept)
    out = _run_steps(p, log, on_step, stop, record, objective, kept)
    return out if with_steps else out[:5]


def _run_steps(p: _Problem, log, on_step, stop, record, objective, kept):
    cfg = p.config
    if cfg.optimizer == "exact":  # the float64 solution whatever --dtype says, and its float64 loss
        q = p.quadratic
        start = p.theta0[0].double().cpu().numpy()
        final = np.array(q.optimum, dtype=np.float64)
        with np.errstate(all="ignore"):
            history_ = np.array([q.loss(start), q.optimum_loss])
        return final, history_, None, {0: start, 1: final}, None, None
    if p.engine == "stats" and cfg.optimizer in ("gd", "momentum", "nesterov"):
        theta0 = p.theta0.double().cpu().numpy()

        def closed(steps: int, record_: frozenset[int], kept_):
            if cfg.optimizer == "gd":
                return engine.gd_closed_form(p.quadratic, theta0, np.array([p.lr]), steps, True, record_, kept_)
            return engine.momentum_modes(
                p.quadratic, theta0, np.array([p.lr]), np.array([p.momentum]), cfg.optimizer == "nesterov",
                steps, True, record_, kept_, stop, stop_below(p),
            )  # fmt: skip

        run = closed(cfg.steps, record, kept)
        at = converged_step(p, run.losses[:, 0], run.steps)
        if at is not None and run.stopped_at is None:  # the same steps, cut where the loss reached the optimum
            kept_at = None if kept is None else np.append(kept[kept < at], at)
            run = closed(at, frozenset(t for t in record if t < at) | {at}, kept_at)
        losses_ = run.losses[:, 0]
        at_steps = np.arange(len(losses_)) if run.steps is None else run.steps
        if log is not None:
            for i in np.flatnonzero(at_steps % cfg.log_every == cfg.log_every - 1):
                log(int(at_steps[i]), torch.tensor([losses_[i]]))
        d = int(run.diverged_at[0])
        return run.theta[0], losses_, (d if d >= 0 else None), run.snapshots, run.stopped_at, run.steps
    objective = objective or _objective(p)
    theta0 = p.theta0.double() if p.engine == "stats" else p.theta0
    below = stop_below(p)
    if cfg.optimizer == "lbfgs":
        trajectory = train.train_lbfgs(
            theta0, objective, p.lr, cfg.steps, log_every=cfg.log_every, on_log=log, record=record, stop=stop,
            stop_below=below, kept=kept,
        )  # fmt: skip
    else:
        rule = _rule(cfg.optimizer, p.lr, p.momentum)
        trajectory = train.train(
            theta0, objective, rule, cfg.steps, log_every=cfg.log_every, on_log=log, record=record,
            on_progress=on_step, stop=stop, stop_below=below, kept=kept,
        )  # fmt: skip
    d = int(trajectory.diverged_at[0])
    theta = trajectory.theta[0].double().cpu().numpy()
    return (theta, trajectory.losses[:, 0].numpy(), (d if d >= 0 else None), trajectory.snapshots,
            trajectory.stopped_at, trajectory.steps)  # fmt: skip


def stop_below(p: _Problem) -> float | None:
    """The loss at which training stops early: the optimum plus the tolerance (FitConfig.tol: relative
    to the optimum; None, the default, means the round-off of the loss's arithmetic; 0 never stops)."""
    cfg, q = p.config, p.quadratic
    if cfg.tol == 0 or cfg.optimizer == "exact":
        return None
    roundoff = q.roundoff_gap(_loss_eps(p), _residual_losses(p))
    gap = roundoff if cfg.tol is None else max(cfg.tol * q.optimum_loss, roundoff)
    return q.optimum_loss + gap


def converged_step(p: _Problem, losses_: np.ndarray, steps: np.ndarray | None = None) -> int | None:
    """The first step of a finished history at or below ``stop_below`` (None: none, or it is the last).
    ``steps``: the step of each entry of a decimated history (the first kept step at or below)."""
    below = stop_below(p)
    if below is None:
        return None
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero(np.asarray(losses_) <= below)
    if not (hits.size and hits[0] < len(losses_) - 1):
        return None
    return int(hits[0]) if steps is None else int(steps[hits[0]])


def _objective(p: _Problem):
    if p.engine == "stats":
        return engine.StatsObjective.of(p.quadratic, p.device)
    cfg, loss = p.config, losses.get(p.config.loss, p.config.huber_delta)

    def make(columns: torch.Tensor, y: torch.Tensor):
        if cfg.order == "ascending":  # the model summed from the constant up, as the tutorial writes it
            return Ascending.of(columns, y, loss, cfg.grad)
        return PerSample(columns, y, loss, cfg.grad)

    if cfg.batch_size is not None:
        return minibatch.MiniBatch(p.columns, p.dataset.y, make, cfg.batch_size, cfg.seed)
    return make(p.columns, p.dataset.y)


def fit(
    config: FitConfig | None = None,
    *,
    x: Any = None,
    y: Any = None,
    on_log: Callable[[int, float], None] | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    on_start: Callable[[FitConfig], None] | None = None,
    stop: train.StopFlag | None = None,
    trace: int = 0,
    on_trace: Callable[[Any], None] | None = None,
    live: bool = False,
    summary: Any = None,
    **settings: Any,
) -> FitResult:
    """Fit a polynomial by gradient descent; with no arguments, the seed experiment.

    >>> r = fit(seed=0)               # the seed: cubic, sin(x), lr 1e-6, 2000 steps
    >>> r.final_loss, r.optimum_loss  # doctest: +SKIP
    (95.79..., 4.4270...)

    Settings are those of :class:`FitConfig` (pass one, or keywords, or both:
    keywords win): ``degree``, ``basis``, ``optimizer``, ``lr`` (a number or "auto"),
    ``momentum``, ``steps``, ``loss``, ``dtype``, ``domain``, ``samples``, ``noise``,
    ``seed``, ``init``, ``tol``, ``batch_size``, ... (``help(sinefit.FitConfig)`` lists
    them all with their defaults). Data is a target expression (``target="tanh(2*x)"``), a file
    (``data="points.csv"``) or arrays (``x=..., y=...``). ``on_log(step, loss)``
    is called at the steps the seed prints; ``on_progress(points, total)``
    during a streaming pass over the data; ``on_step(step, steps)`` now and
    then during a long training loop; ``on_start(config)`` once the data is read
    and checked, just before the first step. Setting ``stop`` (a
    ``train.StopFlag``) ends training after the current step: the result then
    has ``status == "interrupted"`` and the parameters reached so far. ``summary`` (a
    :class:`sinefit.Summary` or its file) fits summarised data instead, on its basis and domain
    (and degree, unless a lower one is asked for), in float64 on the stats engine.
    ``trace=N`` keeps the first N steps in full (``result.trace``; ``on_trace(trace)`` hears of it
    before training). ``live=True`` redraws one figure in place while training, in a notebook, and
    leaves the final one.
    """
    if config is not None and not isinstance(config, FitConfig):
        raise ConfigError("config", f"expected a FitConfig (or settings as keywords), got {type(config).__name__} "
                                    f"{_short_repr(config)}")  # fmt: skip
    base = config if config is not None else FitConfig()
    given, settings = streaming.summary_settings(summary, base, settings)
    cfg = FitConfig.from_dict({**base.to_dict(), **settings})
    if cfg.model is not None:  # fit(model="a*exp(-b*x)", init=...): sinefit.nonlinear
        from .nonlinear.fit import fit_model

        return fit_model(cfg, x, y, on_log, on_start, stop)
    trace_mod.check(trace, cfg.optimizer)
    p = _prepare(cfg, x, y, on_progress, stop, streaming.load_given(given, cfg) if given is not None else None)
    note = default_lr(cfg, p.quadratic)[2]
    cfg = p.config  # the lr the defaults chose is part of the settings from here on
    if note is not None and cfg.steps > 0:
        warnings.warn(note, DefaultLRNote, stacklevel=2)
    _warn_if_unstable(cfg, p.quadratic, p.lr, p.momentum)
    if on_start is not None:  # first: a header printed here says the lr the defaults chose
        on_start(cfg)
    traced = None
    if trace:
        theta0 = p.theta0.double() if p.engine == "stats" else p.theta0
        traced = trace_mod.record(_objective(p), _rule(cfg.optimizer, p.lr, p.momentum), theta0, min(trace, cfg.steps))
        traced = dataclasses.replace(traced, lr=p.lr)
        if on_trace is not None:
            on_trace(traced)
    log = None if on_log is None else (lambda t, loss: on_log(t, float(loss[0])))
    step_hook = None if on_step is None else (lambda t: on_step(t, cfg.steps))
    objective = _objective(p) if cfg.batch_size is not None else None  # kept: it holds the batch losses
    if live:  # a notebook figure redrawn in place while training (io.display), the final one left
        from .io import display

        objective, figure = display.live_objective(objective or _objective(p), p)
    with threads.torch_threads(threads.for_size(p.columns.numel() if p.engine == "per-sample" else 0)):
        theta, losses_, diverged_at, snapshots, stopped_at, steps = _run(
            p, log, step_hook, stop, objective=objective, with_steps=True
        )
    if diverged_at is not None:
        at = diverged_at if steps is None else history.index_of(steps, diverged_at)
        warnings.warn(
            f"loss became {losses_[at]} at step {diverged_at} (lr {p.lr:g}); "
            "the result holds the last finite coefficients",
            DivergenceWarning,
            stacklevel=2,
        )
    result = _assemble(p, theta, losses_, diverged_at, snapshots, stopped_at, steps)
    if given is not None:
        result = dataclasses.replace(result, summary_degree=int(given.degree))
    if live:
        display.live_finish(figure, result)
    if cfg.batch_size is not None:
        result = dataclasses.replace(result, minibatch=objective.run())
    return result if traced is None else dataclasses.replace(result, trace=traced)


def from_run(
    config: FitConfig,
    coefficients: np.ndarray,
    losses_: np.ndarray,
    diverged_at: int | None,
    interrupted_at: int | None = None,
    steps: np.ndarray | None = None,
) -> FitResult:
    """Rebuild the result of a saved run from its config, coefficients and history, without training."""
    cfg = config.validated()
    given = streaming.load_given(cfg.summary, cfg) if cfg.summary else None
    p = _prepare(cfg, None, None, summary=given)
    result = _assemble(p, coefficients, losses_, diverged_at, interrupted_at=interrupted_at, steps=steps)
    return result if given is None else dataclasses.replace(result, summary_degree=int(given.degree))


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _points(name: str, values: Any) -> np.ndarray:
    """A float64 vector of the user's values, or a ConfigError naming the argument: no silent
    flattening of a table, no complex parts dropped, no read-only view (pandas' arrays are) that
    torch would warn about."""
    raw = np.asarray(values)
    if raw.dtype.kind == "c":
        raise ConfigError(name, "complex values: give real numbers")
    if raw.ndim > 1 and sum(d > 1 for d in raw.shape) > 1:
        raise ConfigError(name, f"expected one value per point, got an array of shape {raw.shape}")
    try:
        out = np.asarray(raw, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ConfigError(name, f"values must be numbers: {e}") from None
    return out if out.flags.writeable else out.copy()


def _dataset(cfg: FitConfig, x: Any, y: Any) -> data.Dataset:
    if x is not None or y is not None:
        if x is None or y is None or cfg.data is not None:
            raise ConfigError("x, y", "give both x and y, and no data file")
        xs, ys = _points("x", x), _points("y", y)
        if xs.shape != ys.shape:
            raise ConfigError("x, y", f"x has {xs.size} values but y has {ys.size}")
        if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
            raise ConfigError("x, y", "values must be finite")
        source = "arrays"
    elif cfg.data is not None:
        from .io import datafiles

        try:  # the per-sample engine holds every point: the reader stops at the limit
            xs, ys = datafiles.read_points(
                cfg.data, datafiles.parse_columns(cfg.columns), max_points=MAX_SAMPLES_IN_MEMORY, chunk_rows=CHUNK
            )
        except datafiles.TooManyPoints as e:
            raise ConfigError(
                "--data", f"{e} do not fit the per-sample engine; --dtype float64 streams any number through the "
                "stats engine",
            ) from None  # fmt: skip
        source = cfg.data
    else:
        return data.generated(cfg.target, cfg.samples, cfg.domain, cfg.dtype, cfg.noise, cfg.seed, cfg.degree)
    distinct = data.distinct_count(xs, cfg.degree + 1)
    if distinct < cfg.degree + 1:
        raise _too_few_x(source, distinct, cfg.degree)
    # An exact solve takes no float32 steps: the user's points stay float64 (rounding them first made
    # x in [1000, 1001] fit a quadratic to 7e-7 instead of 1e-30). Generated points are the experiment's own.
    return data.from_arrays(xs, ys, "float64" if cfg.optimizer == "exact" else cfg.dtype, source, cfg.domain)


def _too_few_x(source: str, distinct: int, degree: int) -> InputError:
    what = f"{source}: {distinct} distinct x values"
    need = f"a degree-{degree} polynomial needs at least {degree + 1}"
    return ConfigError("x", f"{distinct} distinct x values, but {need}") if source == "arrays" else InputError(
        f"{what}, but {need}"
    )


def _rule(name: str, lr: float, momentum: float | None):
    if name == "gd" or (name == "nesterov" and not momentum):
        return optim.GradientDescent(lr)  # Nesterov without momentum is plain descent (torch refuses mu = 0)
    if name in ("momentum", "nesterov"):
        return optim.RULES[name](lr, momentum=momentum)
    return optim.RULES[name](lr)


def _warn_if_unstable(cfg: FitConfig, q: analysis.Quadratic, lr: float | None, momentum: float | None) -> None:
    """Warn before training when the optimizer cannot be stable at this lr (``stability.bound``)."""
    if cfg.steps == 0 or lr is None or not q.quadratic or cfg.batch_size is not None:
        return  # a batch's curvature is not the full data's: the bound does not apply to mini-batches
    bound = q.bound(cfg.optimizer, momentum)
    if bound is not None and lr >= bound and math.isfinite(bound):
        warnings.warn(
            f"lr {lr:g} is above the stable bound {bound:.3g} ({stability.formula(cfg.optimizer, momentum)}): "
            f"{cfg.optimizer} will diverge",
            UnstableLRWarning,
            stacklevel=3,
        )
