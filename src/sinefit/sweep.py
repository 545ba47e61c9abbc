"""Sweeps: many configurations of one fit, run as one batched computation.

The grid is the product of the swept axes (lr, seed, degree, basis, optimizer,
momentum). Configurations that share a loss surface (same degree and basis,
and the same data) are solved once; within it every optimizer runs all its
rows at once as a batch (B, p), each row with its own lr, momentum and seed.
A row that diverges is frozen and flagged; its neighbours are untouched.
"""

from __future__ import annotations

import dataclasses

import itertools
import sys
import types
import math
import time
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
import torch

from . import analysis, engine, history, optim, train
from .api import _objective, _prepare, initial_theta
from .config import DEFAULT_LR, ConfigError, FitConfig
from .sweeptable import OUTCOMES, Table

AXES = ("lr", "seed", "degree", "basis", "optimizer", "momentum", "batch_size")
MAX_CONFIGS = 1_000_000


def _int_range(option: str, text: str, a: int, b: int) -> list[int]:
    if b < a:
        raise ConfigError(option, f"a range a:b needs a <= b, got {text!r}")
    if b - a + 1 > MAX_CONFIGS:
        raise ConfigError(option, f"{text} holds {b - a + 1} values, more than {MAX_CONFIGS}; sweep fewer")
    return list(range(a, b + 1))


def parse_axis(option: str, text: str) -> list[Any]:
    """An axis from the command line.

    lr:        1e-7:1e-5:50 (50 log-spaced values), or a list 1e-6,2e-6, or one value
    momentum:  0.5:0.99:10 (10 evenly spaced values), or a list
    seed:      0:99 (every integer from 0 to 99), or a list
    degree:    3:9 or 3,5,7
    basis, optimizer: lists, e.g. gd,momentum
    """
    name = option.lstrip("-").replace("-", "_")
    text = text.strip()
    if name in ("basis", "optimizer"):
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise ConfigError(option, f"give one or more values separated by commas, got {text!r}")
        return values
    if ":" in text:
        parts = text.split(":")
        try:
            if name in ("seed", "degree", "batch_size"):
                if len(parts) != 2:
                    raise ValueError
                a, b = int(parts[0]), int(parts[1])
                n = 0
            elif len(parts) != 3:
                raise ValueError
            else:
                a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            form = "a:b (whole numbers)" if name in ("seed", "degree", "batch_size") else "a:b:n"
            raise ConfigError(option, f"expected {form} or a list a,b,c, got {text!r}") from None
        if name in ("seed", "degree"):
            return _int_range(option, text, a, b)
        if n < 1 or n > MAX_CONFIGS:
            raise ConfigError(option, f"the number of values must be 1 to {MAX_CONFIGS}, got {n}")
        if name == "lr":
            if not (a > 0 and b > 0):
                raise ConfigError(option, f"log-spaced values need a, b > 0, got {text!r}")
            return [float(v) for v in np.geomspace(a, b, n)]
        return [float(v) for v in np.linspace(a, b, n)]
    values = []
    for part in text.split(","):
        part = part.strip()
        if name == "lr" and part.lower() == "auto":
            values.append("auto")
            continue
        try:
            values.append(int(part) if name in ("seed", "degree", "batch_size") else float(part))
        except ValueError:
            raise ConfigError(option, f"{part!r} is not a {'whole ' if name in ('seed', 'degree', 'batch_size') else ''}number") from None
    return values


@dataclass(frozen=True)
class SweepResult:
    base: FitConfig
    axes: dict[str, list[Any]]  # the swept settings and their values, in grid order
    rows: Sequence[dict[str, Any]]  # one per configuration: its settings and outcome (a Table when batched)
    seconds: float

    def __repr__(self) -> str:  # not the dataclass's: it printed the whole FitConfig and the Table object
        grid = " x ".join(f"{k} ({len(v)})" for k, v in self.axes.items() if len(v) > 1) or "one configuration"
        diverged = int(np.count_nonzero(self.column("diverged").astype(bool))) if len(self.rows) else 0
        best = self.best(1)
        shown = (f", best final loss {best[0]['final_loss']:.6g} at "
                 + ", ".join(f"{k}={best[0][k]!r}" for k in self.swept)) if best and not best[0]["diverged"] else ""
        return f"SweepResult({len(self.rows)} configurations over {grid}, {diverged} diverged{shown}, {self.seconds:.3g} s)"

    @property
    def swept(self) -> list[str]:
        return [k for k, v in self.axes.items() if len(v) > 1]

    def best(self, n: int = 10) -> list[dict[str, Any]]:
        """The n configurations with the lowest final loss (diverged ones last)."""
        if isinstance(self.rows, Table):
            return self.rows.best(n)
        return sorted(self.rows, key=lambda r: (r["diverged"], r["final_loss"]))[:n]

    def column(self, name: str) -> np.ndarray:
        """One setting or outcome of every configuration, in grid order, without building the rows."""
        if isinstance(self.rows, Table):
            return self.rows.column(name)
        return np.array([r.get(name) for r in self.rows])

    def best_curves(self, count: int = 5) -> list["Curve"]:
        """The loss, step by step, of the best ``count`` configurations that did not diverge. A sweep
        keeps only each row's outcome (10^6 rows of histories would not fit), so these few are fitted
        again alone: the same numbers, as a sweep's rows equal single fits."""
        import warnings

        from .api import fit

        curves = []
        for row in (r for r in self.best(count) if not r["diverged"]):
            settings = {name: row[name] for name in self.axes}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a row's warnings were its outcome already
                run = fit(self.base, **settings)
            curves.append(Curve(settings, np.asarray(run.steps), np.asarray(run.losses), run.optimum_loss))
        return curves


@dataclass(frozen=True)
class Curve:
    """One configuration's loss against step, for the sweep's figure of its best rows."""

    settings: dict[str, Any]  # the swept settings of the row
    steps: np.ndarray  # the recorded steps (every step, or a decimated history's kept ones)
    losses: np.ndarray
    optimum_loss: float


def sweep(
    base: FitConfig | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    **axes_and_settings: Any,
) -> SweepResult:
    """Run every combination of the swept settings.

    >>> r = sweep(lr=np.geomspace(1e-7, 1e-5, 100), seed=range(100), dtype="float64")  # doctest: +SKIP

    Each swept setting takes a list of values (lr, seed, degree, basis, optimizer,
    momentum); any other keyword is a fixed FitConfig setting.
    """
    fixed = {k: v for k, v in axes_and_settings.items() if k not in AXES}
    base_cfg = FitConfig.from_dict({**(base or FitConfig()).to_dict(), **fixed})
    axes: dict[str, list[Any]] = {}
    for name in AXES:
        value = axes_and_settings.get(name)
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple, range, np.ndarray)) else [value]
        if not values:
            raise ConfigError(f"--{name}", "give at least one value")
        axes[name] = [v.item() if isinstance(v, np.generic) else v for v in values]
    total = math.prod(len(v) for v in axes.values())
    if total > MAX_CONFIGS:
        raise ConfigError("sweep", f"{total} configurations is more than {MAX_CONFIGS}; sweep fewer values")
    _validate(base_cfg, axes)

    start = time.perf_counter()
    if "batch_size" in axes or base_cfg.batch_size is not None:  # each its own shuffled batches: fit one by one
        names = list(axes)
        configs = [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]
        rows_ = list(_fit_each(base_cfg, configs, on_progress))
        return SweepResult(base_cfg, axes, rows_, time.perf_counter() - start)
    given = {name for name in ("lr", "momentum")
             if name in axes_and_settings or (base is not None and getattr(base, name) is not None)}  # fmt: skip
    columns = {name: np.full(total, np.nan) for name in OUTCOMES}
    columns["diverged"] = np.zeros(total, dtype=bool)
    columns["diverged_at"] = np.full(total, -1, dtype=np.int64)
    missing = {"lr_used": np.zeros(total, dtype=bool), "stable_lr": np.zeros(total, dtype=bool)}
    table = Table(axes, columns, missing)
    done = 0
    for shared, members in _groups(base_cfg, table):
        _run_group(base_cfg, shared, table, members, given)
        done += len(members)
        if on_progress is not None:
            on_progress(done, total)
    missing["diverged_at"] = columns["diverged_at"] < 0
    return SweepResult(base_cfg, axes, table, time.perf_counter() - start)


def _fit_each(base: FitConfig, configs: list[dict[str, Any]], on_progress=None):
    """Mini-batch configurations, one fit each (on the per-sample engine): the same rows as a batched group's."""
    import warnings

    from .api import fit

    for i, c in enumerate(configs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # divergence is a row's outcome here, not a warning
            r = fit(base, **c, engine="per-sample" if base.engine == "stats" else base.engine)
        q = r.quadratic
        yield {
            **c, "lr_used": r.lr, "final_loss": r.final_loss, "optimum_loss": q.optimum_loss,
            "gap": r.final_loss / q.optimum_loss - 1.0 if q.optimum_loss > 0 else math.inf,
            "diverged": r.diverged_at is not None, "diverged_at": r.diverged_at, "stable_lr": q.stable_lr,
        }  # fmt: skip
        if on_progress is not None:
            on_progress(i + 1, len(configs))


def _validate(base: FitConfig, axes: dict[str, list[Any]]) -> None:
    """Check every combination before any work, without building each one: numbers one by one,
    and the categorical settings (and lr auto) together, where they constrain each other."""
    settings = base.to_dict()
    for name in ("lr", "seed", "momentum"):
        for v in axes.get(name, []):
            if v != "auto":
                FitConfig.from_dict({**settings, name: v, **({"optimizer": "momentum"} if name == "momentum" else {})})
    kinds = sorted({"auto" if v == "auto" else "number" for v in axes.get("lr", [])}) or [None]
    cats = [n for n in ("degree", "basis", "optimizer") if n in axes]
    for combo in itertools.product(*(axes[n] for n in cats)):
        for kind in kinds:
            lr = {} if kind is None else {"lr": "auto" if kind == "auto" else 1e-6}
            FitConfig.from_dict({**settings, **dict(zip(cats, combo)), **lr})


def _groups(base: FitConfig, table: Table):
    """Configurations sharing one loss surface: same degree and basis (and seed, when noise makes
    the data depend on it); yields (those settings, the configurations' indices), in grid order."""
    keys = ["degree", "basis"] + (["seed"] if base.noise else [])
    index = np.arange(len(table))
    swept = [k for k in keys if k in table.axes]
    group = np.zeros(len(table), dtype=np.int64)
    for k in swept:
        group = group * len(table.axes[k]) + table.codes(k, index)
    firsts = np.unique(group, return_index=True)[1] if swept else np.array([0])
    for first in np.sort(firsts):
        members = np.flatnonzero(group == group[first]) if swept else index
        shared = {k: table.axes[k][int(table.codes(k, first))] if k in table.axes else getattr(base, k) for k in keys}
        yield shared, members


def _setting(table: Table, name: str, members: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Per member, the position of its value of ``name`` in the list returned (one value when not swept)."""
    if name in table.axes:
        return table.codes(name, members), table.axes[name]
    return np.zeros(len(members), dtype=np.int64), [_ABSENT]


_ABSENT = object()  # a setting the configuration does not sweep


def _run_group(base: FitConfig, shared: dict[str, Any], table: Table, members: np.ndarray, given: set[str]) -> None:
    """Run one loss surface's configurations, writing their outcomes into ``table``. Settings the
    user did not give (lr, momentum) take each optimizer's own default, or lr auto's textbook values."""
    settings = base.to_dict()
    # One problem per group: its data, loss surface and the seed's draw for each seed.
    problem = _prepare(FitConfig.from_dict({**settings, **shared, "lr": None, "momentum": None,
                                            "optimizer": "gd"}), None, None)  # fmt: skip
    q, dtype, p = problem.quadratic, problem.theta0.dtype, problem.theta0.shape[1]
    seed_c, seed_v = _setting(table, "seed", members)
    opt_c, opt_v = _setting(table, "optimizer", members)
    lr_c, lr_v = _setting(table, "lr", members)
    mu_c, mu_v = _setting(table, "momentum", members)
    seed_of = lambda c: base.seed if seed_v[c] is _ABSENT else seed_v[c]  # noqa: E731
    used = np.unique(seed_c)
    where = np.zeros(len(seed_v), dtype=np.int64)
    where[used] = np.arange(used.size)
    # the start --init names, once per seed
    draws = torch.stack([initial_theta(dataclasses.replace(problem.config, seed=seed_of(c)), dtype) for c in used.tolist()])
    cols, missing = table.columns, table.missing
    for o in np.sort(np.unique(opt_c, return_index=True)[1]):
        opt = base.optimizer if opt_v[opt_c[o]] is _ABSENT else opt_v[opt_c[o]]
        ks = np.flatnonzero(opt_c == opt_c[o]) if len(opt_v) > 1 else np.arange(len(members))
        theta0 = draws[torch.from_numpy(where[seed_c[ks]])].to(problem.device)
        pairs, inverse = np.unique(lr_c[ks] * len(mu_v) + mu_c[ks], return_inverse=True)
        lrs, mus = np.empty(len(ks)), np.empty(len(ks))
        pair_lr, pair_mu = np.empty(pairs.size), np.empty(pairs.size)
        for u, pair in enumerate(pairs.tolist()):
            lr, mu = lr_v[pair // len(mu_v)], mu_v[pair % len(mu_v)]
            swept_lr = lr is not _ABSENT
            lr = lr if swept_lr else (base.lr if "lr" in given else DEFAULT_LR.get(opt))
            mu = mu if mu is not _ABSENT else (base.momentum if "momentum" in given else None)
            if not swept_lr and "lr" not in given and opt in ("gd", "momentum", "nesterov"):
                # No lr given: the seed's 1e-6 where this optimizer is stable at it, else lr auto (api.default_lr).
                b = q.bound(opt, 0.9 if mu is None and opt != "gd" else mu)
                lr = lr if b is None or lr < b or not q.quadratic else "auto"
            mu = 0.9 if mu is None and opt in ("momentum", "nesterov") and lr != "auto" else mu
            if lr == "auto":  # lr auto's step depends on the start: per seed
                pair_lr[u] = pair_mu[u] = np.nan
                rows = np.flatnonzero(inverse == u)
                for c in np.unique(seed_c[ks[rows]]).tolist():
                    auto = analysis.auto_step(q, opt, draws[where[c]].double().numpy(), mu if opt != "gd" else None)
                    at = rows[seed_c[ks[rows]] == c]
                    lrs[at] = auto.lr if auto.lr is not None else 0.0
                    mu_ = auto.momentum if mu is None else mu
                    mus[at] = mu_ if mu_ is not None else 0.0
                continue
            pair_lr[u] = lr if lr is not None else 0.0
            pair_mu[u] = mu if mu is not None else 0.0
        fixed = ~np.isnan(pair_lr)[inverse]
        lrs[fixed], mus[fixed] = pair_lr[inverse[fixed]], pair_mu[inverse[fixed]]
        final, diverged = _run_batch(problem, base.steps, opt, theta0, lrs, mus)
        at = members[ks]
        final = np.asarray(final, dtype=np.float64)
        cols["lr_used"][at] = lrs
        missing["lr_used"][at] = opt == "exact"
        cols["final_loss"][at] = final
        cols["optimum_loss"][at] = q.optimum_loss
        cols["gap"][at] = final / q.optimum_loss - 1.0 if q.optimum_loss > 0 else math.inf
        cols["diverged"][at] = diverged >= 0
        cols["diverged_at"][at] = diverged
        momentum_like = opt in ("momentum", "nesterov")
        bounds, which = np.unique(mus if momentum_like else np.zeros(1), return_inverse=True)
        bound = [q.bound(opt, float(m) if momentum_like else None) for m in bounds.tolist()]
        cols["stable_lr"][at] = np.array([math.nan if b is None else b for b in bound])[which]
        missing["stable_lr"][at] = np.array([b is None for b in bound])[which]
        sse = final / q.scale if q.quadratic else np.full(final.shape, math.nan)
        cols["aic"][at], cols["bic"][at] = _criteria(sse, problem.dataset.size, p)


def _criteria(sse: np.ndarray, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """information_criteria for many SSEs at once."""
    ok = np.isfinite(sse) & (sse > 0) & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = n * np.log(np.where(ok, sse, 1.0) / max(n, 1))
    return (np.where(ok, log_term + 2 * p, math.nan), np.where(ok, log_term + p * math.log(max(n, 1)), math.nan))


def information_criteria(sse: float, n: int, p: int) -> dict[str, float]:
    """AIC = n ln(SSE/n) + 2p and BIC = n ln(SSE/n) + p ln n (Gaussian errors, as stats.Statistics)."""
    if not (math.isfinite(sse) and sse > 0 and n > 0):
        return {"aic": math.nan, "bic": math.nan}
    log_term = n * math.log(sse / n)
    return {"aic": log_term + 2 * p, "bic": log_term + p * math.log(n)}


def _run_batch(problem, steps: int, opt: str, theta0: torch.Tensor, lrs: np.ndarray, mus: np.ndarray):
    """Final losses (B,) and divergence steps (B,) for one optimizer's rows."""
    q = problem.quadratic
    if opt == "exact":
        return np.full(theta0.shape[0], q.optimum_loss), np.full(theta0.shape[0], -1)
    if problem.engine == "stats" and opt == "gd":
        run = engine.gd_closed_form(q, theta0.double().cpu().numpy(), lrs, steps, history=False)
        return run.final_loss, run.diverged_at
    if problem.engine == "stats" and opt in ("momentum", "nesterov"):
        run = engine.momentum_modes(q, theta0.double().cpu().numpy(), lrs, mus, opt == "nesterov", steps, False)
        return run.final_loss, run.diverged_at
    objective = _objective(problem)
    theta = theta0.double() if problem.engine == "stats" else theta0
    if opt == "lbfgs":
        finals, diverged = [], []
        for b in range(theta.shape[0]):
            t = train.train_lbfgs(theta[b : b + 1], objective, float(lrs[b]), steps,
                                  kept=history.kept_steps(steps))  # only the end is read: a few rows of history
            finals.append(float(t.final_loss[0]))
            diverged.append(int(t.diverged_at[0]))
        return np.array(finals), np.array(diverged)
    lr_t = torch.as_tensor(lrs, dtype=theta.dtype, device=theta.device)[:, None]
    mu_t = torch.as_tensor(mus, dtype=theta.dtype, device=theta.device)[:, None]
    rule = (
        optim.GradientDescent(lr_t) if opt == "gd"
        else optim.RULES[opt](lr_t, momentum=mu_t) if opt in ("momentum", "nesterov")
        else optim.RULES[opt](lr_t)
    )  # fmt: skip
    t = train.train(theta, objective, rule, steps, history=False)
    return t.losses[1].cpu().numpy(), t.diverged_at.cpu().numpy()


class _CallableModule(types.ModuleType):
    """``sinefit.sweep`` is this module (a package attribute cannot be both); calling it runs :func:`sweep`."""

    def __call__(self, *args: Any, **kwargs: Any) -> SweepResult:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
