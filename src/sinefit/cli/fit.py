"""`sinefit fit`."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Optional

from .. import interrupts
from .common import (DASK_LOCAL, _check_mlflow, _quoted, _track, close_run, open_run, raise_if_stopped,
                     say_written)
from . import options
from .options import option, setting
from .progress import Progress


@options.command(
    "config", "target", "data", "columns", "domain", "samples", "noise",
    setting("degree", int, "Polynomial degree; coefficients are drawn highest degree first. [default: 3]"),
    setting("basis", str, "power (raw x, the seed's), legendre or chebyshev (x mapped to [-1, 1]). [default: power]"),
    "loss", "huber_delta",
    setting("optimizer", str, "gd (the seed's), momentum, nesterov, adam, rmsprop, lbfgs or exact; lm (Levenberg-Marquardt) for --model. [default: gd]"),
    setting("lr", str, "Learning rate, or 'auto' (gd, momentum, nesterov) for the textbook step. [default: 1e-6 for gd/momentum/nesterov, 0.01 for adam/rmsprop, 1 for lbfgs]"),
    setting("momentum", float, "Momentum of momentum and nesterov. [default: 0.9]"),
    "grad", "steps",
    setting("tol", float, "Stop early once loss - optimum <= TOL x optimum; 0 never stops early. [default: at the optimum to round-off]"),
    setting("seed", int, "torch.manual_seed before the initial coefficients are drawn. [default: 0]"),
    setting("dtype", str, "Working precision: float32 (the seed's) or float64. [default: float32]"),
    "engine", "device",
    setting("log_every", int, "Print the loss of steps t with t % N == N - 1. [default: 100; a run of more than 10^6 steps: a round N logging at most 10 000 rows]"),
    setting("init", str, "Where to start: randn (the seed's draw, highest power first), randn-ascending (the PyTorch tutorial's), numpy (np.random.seed, randn), linear (torch.nn.Linear's start), zeros, values '0.5,-1,0,2' in the naming order, or a model.json / run directory (a warm start); for --model, name=value pairs a=1,b=0.5. [default: randn]"),
    "order",
    setting("batch_size", int, "Mini-batch SGD: each update sees B points, shuffled each epoch as DataLoader(shuffle=True) under the seed (last batch partial); --steps counts updates. [default: all points]", "--batch-size"),
    option("trace", int, 0, "Print the first N steps in full: the loss, each hand-written gradient and each update (also in the run's trace.csv).", "--trace", metavar="N"),
    setting("summary", str, "Fit a saved sinefit.Summary (.npz) instead of points: its basis, domain and degree (or a lower --degree)."),
    option("dask", Optional[str], None, "Summarise the --data set on Dask (pip install 'sinefit\\[dask]'), a few tasks per worker: alone, on a local cluster of one worker per core; with an address, on that scheduler.", "--dask", metavar="[ADDRESS]"),
    setting("model", str, "Fit a model instead of a polynomial: an expression over x and named parameters, e.g. 'a*exp(-b*x) + c' (P0..P5(t) and legendre(n, t) available); start it with --init a=1,b=0.5,c=0."),
    setting("bounds", str, "--model: bounds by transformation (as lmfit), e.g. b=0:inf,c=-1:1."),
    setting("starts", int, "--model: run N starts (the init and N-1 seeded perturbations) and report the minima reached. [default: 1]"),
    "out",
    option("figures_", str, "seed", "seed: the seed's two 'y true' / 'y pred' figures; all: also the overlay, the loss curve, the coefficient paths and the convergence explained (`sinefit plot RUN` draws them later too).", "--figures"),
    option("fmt", str, "png", "Figure format: png, svg or pdf.", "--format"),
    option("animate", Optional[str], None, "Also write training.gif (or .mp4, where ffmpeg exists): the curve moving toward the target.", "--animate", metavar="[gif|mp4]"),
    option("show", bool, False, "Also open the figures in a window, where a display exists.", "--show"),
    "mlflow", "mlflow_experiment", "quiet", "as_json",
)  # fmt: skip
def fit(*, typed: dict[str, Any], config: Optional[Path], trace: int, dask: Optional[str], out: Path, figures_: str, fmt: str,
        animate: Optional[str], show: bool, mlflow: Optional[str], mlflow_experiment: str, quiet: bool,
        as_json: bool) -> None:  # fmt: skip
    """Fit a polynomial (or, with --model, any model) by gradient descent and say how good the fit is."""
    from .. import report
    from ..api import DivergenceWarning
    from ..api import fit as run_fit
    from ..config import ConfigError, FitConfig
    from ..io import figures, runs
    from ..train import StopFlag

    from .. import streaming

    given, settings = streaming.summary_settings(None, FitConfig(), options.settings(config, typed))
    if dask is not None:  # summaries are float64: so is the fit
        settings.setdefault("dtype", "float64")
    cfg = options.validated(config, typed, settings)
    stems = _figure_stems(figures_, fmt, animate)
    _say_log_every(cfg, settings, quiet or as_json)
    _check_mlflow(mlflow)
    if cfg.model is not None:  # a model fit: its own report and run files (sinefit.nonlinear)
        from . import fit_model

        if dask is not None:
            raise ConfigError("--dask", "summarises data for polynomial fits; a --model fit reads its points itself")
        _say_ignored(cfg, **typed)
        return fit_model.run(cfg, out, stems, fmt, animate, quiet, as_json)
    _say_ignored(cfg, **typed)
    talk = not (quiet or as_json)
    shown = False

    def show_header(resolved: FitConfig | None = None) -> None:  # once the data is read and sound: a
        nonlocal shown  # refusal never follows a header; ``resolved`` holds the lr the defaults chose
        if talk and not shown:
            shown = True
            print(report.header(resolved or cfg, _target_text(cfg)))
            print()

    progress = Progress("reading points", talk)
    training = Progress("step", talk, delay=1.0)
    if dask is not None:
        from .. import cluster

        given = cluster.summarize_config(cfg, None if dask == DASK_LOCAL else dask, progress=talk)

    def on_log(t: int, value: float) -> None:
        if t == cfg.steps:  # the loss after the last update: the final row below says it, once
            return
        training.clear()  # the table owns stdout; the progress line is redrawn after it
        print(report.loss_row(t, value), flush=True)

    run_dir: Path | None = None

    stop = StopFlag()

    def on_trace(traced) -> None:  # --trace: the first steps in full, then the loss table
        progress.close()
        show_header()
        if talk:
            print(report.trace_text(traced, cfg), end="\n\n")
            print(report.LOSS_TABLE_HEADER)

    def on_start(resolved) -> None:  # the data is read and sound: from here on, a run exists
        nonlocal run_dir
        progress.close()
        if talk and not shown:
            show_header(resolved)
            if not trace:
                print(report.LOSS_TABLE_HEADER, flush=True)
        run_dir = open_run(out, resolved, stop)

    with warnings.catch_warnings(), interrupts.phase("reading the data"):
        warnings.simplefilter("ignore", category=DivergenceWarning)  # reported below, in our words
        try:
            result = run_fit(cfg, on_log=on_log if talk else None, on_progress=progress, on_step=training,
                             on_start=on_start, stop=stop, summary=given, trace=trace, on_trace=on_trace)  # fmt: skip
        finally:
            progress.close()
            training.close()
    hint = report.hint(result)
    text = report.fit_report(result)
    close_run(run_dir, talk, report.final_row(result), text,
              lambda: runs.finish_run(run_dir, result, text, hint, stems, fmt, animate))
    tracked = _track(mlflow, mlflow_experiment, quiet, lambda tracking, uri: tracking.log_fit(
        result, run_dir, uri, mlflow_experiment))  # fmt: skip
    say_written(run_dir, {**runs.summary(result, run_dir, hint), **tracked}, talk, as_json)
    if talk and figures_ == "seed":
        print(f"More figures (overlay, loss curve, coefficient paths, convergence explained): sinefit plot {_quoted(run_dir)}")
    if show:
        from ..io import rundata

        draws = figures.run_figures(rundata.load(run_dir))
        if not figures.show([draws[stem] for stem in stems]):
            print(f"sinefit: note: --show: no display here; the figures are in {run_dir}", file=sys.stderr)
    raise_if_stopped(result, run_dir, "the history so far and the parameters reached", report.divergence_message)


def _say_log_every(cfg, settings: dict[str, Any], quiet: bool) -> None:
    """A long run left at the default log prints every N-th step, not every 100th: said once."""
    from ..history import LOG_EVERY, LOG_LINES

    if not quiet and "log_every" not in settings and cfg.log_every != LOG_EVERY and cfg.optimizer != "exact":
        print(f"sinefit: note: logging every {cfg.log_every} steps, not {LOG_EVERY}: {cfg.steps} steps would print "
              f"{(cfg.steps + 1) // LOG_EVERY} lines (the default prints at most {LOG_LINES}; --log-every N "
              "sets it)", file=sys.stderr)  # fmt: skip


def _say_ignored(cfg, **given: Any) -> None:
    """Options that do nothing with this optimizer are said to do nothing, not silently dropped."""
    if cfg.model is not None and given.get("grad") is not None:
        print("sinefit: note: --grad does nothing with --model (hand-written gradients are the polynomial's; a "
              "model's gradients come from torch.autograd)", file=sys.stderr)  # fmt: skip
    idle = []
    if cfg.optimizer == "exact":
        idle += [f"--{k}" for k in ("lr", "steps", "momentum") if given.get(k) is not None]
    elif cfg.optimizer not in ("momentum", "nesterov") and given.get("momentum") is not None:
        idle.append("--momentum")
    if idle:
        what = "solves least squares directly" if cfg.optimizer == "exact" else "has no momentum"
        print(f"sinefit: note: {', '.join(idle)} {'does' if len(idle) == 1 else 'do'} nothing with --optimizer "
              f"{cfg.optimizer} (it {what})", file=sys.stderr)  # fmt: skip


def _figure_stems(which: str, fmt: str, animate: Optional[str]) -> tuple[str, ...]:
    """Check the figure options before any work; the stems of the figures to draw."""
    from ..config import ConfigError
    from ..io.figures import FIGURE_STEMS, FORMATS

    if which not in ("seed", "all"):
        raise ConfigError("--figures", f"must be seed or all, got {which!r}")
    if fmt not in FORMATS:
        raise ConfigError("--format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if animate not in (None, "gif", "mp4"):
        raise ConfigError("--animate", f"must be gif or mp4, got {animate!r}")
    if animate == "mp4":  # checked before training, not after it
        from matplotlib.animation import writers

        if not writers.is_available("ffmpeg"):
            raise ConfigError("--animate", "mp4 needs ffmpeg, which is not installed (or not on PATH); "
                                           "--animate gif works without it")  # fmt: skip
    return ("initial", "trained") if which == "seed" else tuple(FIGURE_STEMS)


def _target_text(cfg) -> str:
    from .. import expr

    return expr.resolve(cfg.target).text if cfg.data is None else cfg.data
