"""The ``sinefit`` command: thin wrappers over the library.

torch and matplotlib are imported inside the commands, so ``sinefit --help``
stays fast. Errors leave as one line on stderr with a documented exit code:
0 success, 1 a runtime failure (divergence, an unwritable directory), 2 bad
input, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer

from . import interrupts

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

app = typer.Typer(
    name="sinefit",
    help="Watch, understand and run gradient-descent curve fits. "
    "`sinefit fit` with no options reproduces the seed experiment: a cubic fitted to sin(x).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Failure(Exception):
    """A runtime failure to report in one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE):
        super().__init__(message)
        self.code = code


def _error(message: str) -> None:
    sys.stdout.flush()  # keep stdout and stderr in order on a terminal
    print(f"sinefit: error: {message}", file=sys.stderr)


def _warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stdout.flush()
    print(f"sinefit: warning: {message}", file=sys.stderr)


def _parse_float(option: str, text: str) -> float:
    from .config import ConfigError

    try:
        return float(text)
    except ValueError:
        raise ConfigError(option, f"must be a number, got {text!r}") from None


def _parse_lr(text: str) -> float | str:
    return "auto" if text.strip().lower() == "auto" else _parse_float("--lr", text)


def _parse_domain(text: str) -> tuple[float, float]:
    from . import expr
    from .config import ConfigError

    parts = text.split(",")
    if len(parts) != 2:
        raise ConfigError("--domain", f"must be two numbers a,b (pi allowed, e.g. -pi,pi), got {text!r}")
    return expr.constant(parts[0], option="--domain"), expr.constant(parts[1], option="--domain")


def _print_version(value: bool) -> None:
    if value:
        from ._version import __version__

        print(f"sinefit {__version__}")
        raise typer.Exit()


_DEBUG = False


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the Python traceback of any error.")] = False,
    memory: Annotated[Optional[str], typer.Option("--memory", help="Memory budget: bytes (4G, 512M) or a share of RAM (25%); anything larger is refused before it is allocated. [default: $SINEFIT_MEMORY, else 50% of RAM]")] = None,
) -> None:
    global _DEBUG
    _DEBUG = debug
    from . import budget

    budget.configure(memory)


def Opt(*args: Any, help: Optional[str] = None, **kwargs: Any) -> Any:  # noqa: A002 - typer's own name
    """typer.Option, with a "[default: X]" note of the help escaped: rich reads a bracketed note as
    markup and drops it (options default to None so that a --config file's values count, so typer
    has no default of its own to show)."""
    if help and "[default:" in help:
        help = help.replace("[default:", "\\[default:")
    return typer.Option(*args, help=help, **kwargs)

# Options shared by `fit` and `sweep`: defined once, so their help and parsing never drift apart.
ConfigOpt = Annotated[Optional[Path], Opt(help="TOML (or JSON) file of settings; options given here override it.")]
TargetOpt = Annotated[Optional[str], Opt(help="Function of x to fit: a name (sin, cos, exp, tanh, abs, sinc, gaussian, step) or an expression like 'sin(x) + 0.1*x**2'. [default: sin]")]
DataOpt = Annotated[Optional[str], Opt(help="Fit the points in a file instead: .csv (x,y), .npy (n,2), .npz (x, y) or .parquet; or a data set of them: a directory, a glob ('parts/*.parquet') or a URI (s3://bucket/prefix/*.parquet); streamed, so any size.")]
ColumnsOpt = Annotated[Optional[str], Opt(help="Columns of --data to use as x,y: names or 0-based indexes, e.g. 'time,volts' or '0,2'.")]
DomainOpt = Annotated[Optional[str], Opt(help="Interval a,b of the generated x (pi allowed: -pi,pi); with --data, the basis's domain. [default: -pi,pi]")]
SamplesOpt = Annotated[Optional[int], Opt(help="Number of evenly spaced points. [default: 1000]")]
NoiseOpt = Annotated[Optional[float], Opt(help="Add seeded Gaussian noise of this standard deviation to y. [default: 0]")]
LossOpt = Annotated[Optional[str], Opt(help="sse (the seed's), mse or huber. [default: sse]")]
HuberOpt = Annotated[Optional[float], Opt(help="Where the Huber loss turns from quadratic to linear. [default: 1]")]
GradOpt = Annotated[Optional[str], Opt(help="manual (the gradient written by hand, the seed's) or autograd. [default: manual]")]
StepsOpt = Annotated[Optional[int], Opt(help="Number of optimizer steps: a cap, since fits stop once at the optimum (see --tol). [default: 2000]")]
TolOpt = Annotated[Optional[float], Opt(help="Stop early once loss - optimum <= TOL x optimum; 0 never stops early. [default: at the optimum to round-off]")]
DtypeOpt = Annotated[Optional[str], Opt(help="Working precision: float32 (the seed's) or float64. [default: float32]")]
EngineOpt = Annotated[Optional[str], Opt(help="per-sample (the seed's way: every step touches every point), stats (sufficient statistics: one pass, then O(p^2) steps; gd in closed form) or auto (stats for sse/mse in float64). [default: auto]")]
DeviceOpt = Annotated[Optional[str], Opt(help="cpu, cuda or auto (cuda where a GPU exists). [default: cpu]")]
OutOpt = Annotated[Path, Opt(help="Directory under which each run gets a new numbered directory.")]
QuietOpt = Annotated[bool, Opt("--quiet", "-q", help="Print nothing but errors and warnings.")]
MlflowOpt = Annotated[Optional[str], Opt("--mlflow", metavar="[URI]", help="Also log to MLflow (pip install 'sinefit\\[mlflow]'): alone, to the local store ./mlflow.db that `mlflow ui` opens; with a URI, to that tracking server or store.")]
ExperimentOpt = Annotated[str, Opt("--mlflow-experiment", help="The MLflow experiment to log into.")]
InitOpt = Annotated[Optional[str], Opt(help="Where to start: randn (the seed's draw, highest power first), randn-ascending (the PyTorch tutorial's), numpy (np.random.seed, randn), linear (torch.nn.Linear's start), zeros, values '0.5,-1,0,2' in the naming order, or a model.json / run directory (a warm start); for --model, name=value pairs a=1,b=0.5. [default: randn]")]
OrderOpt = Annotated[Optional[str], Opt(help="Naming order: descending (a x^3 + b x^2 + c x + d, the seed's) or ascending (a + b x + c x^2 + d x^3, the PyTorch tutorial's, summed in that order). [default: descending]")]
BatchOpt = Annotated[Optional[int], Opt("--batch-size", help="Mini-batch SGD: each update sees B points, shuffled each epoch as DataLoader(shuffle=True) under the seed (last batch partial); --steps counts updates. [default: all points]")]
JsonOpt = Annotated[bool, Opt("--json", help="Print a machine-readable summary instead of the report.")]
ForceOpt = Annotated[bool, Opt("--force", help="Replace the output file if it exists (never an input, never a device).")]


def _settings(config: Optional[Path], **given: Any) -> dict[str, Any]:
    """The settings of a config file, overridden by the options given on the command line."""
    from .io import configfile

    settings: dict[str, Any] = configfile.read(config) if config is not None else {}
    if given.get("lr") is not None and isinstance(given["lr"], str):
        given["lr"] = _parse_lr(given["lr"])
    if given.get("domain") is not None:
        given["domain"] = _parse_domain(given["domain"])
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


class _Progress:
    """A one-line progress bar on stderr, only where stdout and stderr are a terminal (never in
    pipes, with --quiet or --json), shown after ``delay`` seconds and redrawn at most 5 times a second."""

    WIDTH = 30

    def __init__(self, what: str, enabled: bool, delay: float = 0.0):
        self.what = what
        self.enabled = enabled and sys.stderr.isatty() and sys.stdout.isatty()
        self.start = time.monotonic()
        self.delay, self.last, self.shown = delay, 0.0, False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.start < self.delay or now - self.last < 0.2:
            return
        self.last, self.shown = now, True
        if total:
            filled = int(self.WIDTH * min(done / total, 1.0))
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            text = f"{self.what} [{bar}] {done:,} / {total:,} ({done / total:.0%})"
        else:
            text = f"{self.what}: {done:,}"
        print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            self.shown = False

    close = clear


@app.command()
def fit(
    config: ConfigOpt = None,
    target: TargetOpt = None,
    data: DataOpt = None,
    columns: ColumnsOpt = None,
    domain: DomainOpt = None,
    samples: SamplesOpt = None,
    noise: NoiseOpt = None,
    degree: Annotated[Optional[int], Opt(help="Polynomial degree; coefficients are drawn highest degree first. [default: 3]")] = None,
    basis: Annotated[Optional[str], Opt(help="power (raw x, the seed's), legendre or chebyshev (x mapped to [-1, 1]). [default: power]")] = None,
    loss: LossOpt = None,
    huber_delta: HuberOpt = None,
    optimizer: Annotated[Optional[str], Opt(help="gd (the seed's), momentum, nesterov, adam, rmsprop, lbfgs or exact; lm (Levenberg-Marquardt) for --model. [default: gd]")] = None,
    lr: Annotated[Optional[str], Opt(help="Learning rate, or 'auto' (gd, momentum, nesterov) for the textbook step. [default: 1e-6 for gd/momentum/nesterov, 0.01 for adam/rmsprop, 1 for lbfgs]")] = None,
    momentum: Annotated[Optional[float], Opt(help="Momentum of momentum and nesterov. [default: 0.9]")] = None,
    grad: GradOpt = None,
    steps: StepsOpt = None,
    tol: TolOpt = None,
    seed: Annotated[Optional[int], Opt(help="torch.manual_seed before the initial coefficients are drawn. [default: 0]")] = None,
    dtype: DtypeOpt = None,
    engine: EngineOpt = None,
    device: DeviceOpt = None,
    log_every: Annotated[Optional[int], Opt(help="Print the loss of steps t with t % N == N - 1. [default: 100; a run of more than 10^6 steps: a round N logging at most 10 000 rows]")] = None,
    init: InitOpt = None,
    order: OrderOpt = None,
    batch_size: BatchOpt = None,
    trace: Annotated[int, Opt("--trace", metavar="N", help="Print the first N steps in full: the loss, each hand-written gradient and each update (also in the run's trace.csv).")] = 0,
    summary: Annotated[Optional[str], Opt(help="Fit a saved sinefit.Summary (.npz) instead of points: its basis, domain and degree (or a lower --degree).")] = None,
    dask: Annotated[Optional[str], Opt("--dask", metavar="[ADDRESS]", help="Summarise the --data set on Dask (pip install 'sinefit\\[dask]'), a few tasks per worker: alone, on a local cluster of one worker per core; with an address, on that scheduler.")] = None,
    model: Annotated[Optional[str], Opt(help="Fit a model instead of a polynomial: an expression over x and named parameters, e.g. 'a*exp(-b*x) + c' (P0..P5(t) and legendre(n, t) available); start it with --init a=1,b=0.5,c=0.")] = None,
    bounds: Annotated[Optional[str], Opt(help="--model: bounds by transformation (as lmfit), e.g. b=0:inf,c=-1:1.")] = None,
    starts: Annotated[Optional[int], Opt(help="--model: run N starts (the init and N-1 seeded perturbations) and report the minima reached. [default: 1]")] = None,
    out: OutOpt = Path("runs"),
    figures_: Annotated[str, Opt("--figures", help="seed: the seed's two 'y true' / 'y pred' figures; all: also the overlay, the loss curve, the coefficient paths and the convergence explained (`sinefit plot RUN` draws them later too).")] = "seed",
    fmt: Annotated[str, Opt("--format", help="Figure format: png, svg or pdf.")] = "png",
    animate: Annotated[Optional[str], Opt("--animate", metavar="[gif|mp4]", help="Also write training.gif (or .mp4, where ffmpeg exists): the curve moving toward the target.")] = None,
    show: Annotated[bool, Opt("--show", help="Also open the figures in a window, where a display exists.")] = False,
    mlflow: MlflowOpt = None,
    mlflow_experiment: ExperimentOpt = "sinefit",
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a polynomial (or, with --model, any model) by gradient descent and say how good the fit is."""
    from . import report
    from .api import DivergenceWarning
    from .api import fit as run_fit
    from .config import ConfigError, FitConfig
    from .io import figures, runs
    from .train import StopFlag

    from . import streaming

    given, settings = streaming.summary_settings(None, FitConfig(), _settings(
        config, target=target, data=data, columns=columns, domain=domain, samples=samples, noise=noise,
        degree=degree, basis=basis, loss=loss, huber_delta=huber_delta, optimizer=optimizer, lr=lr,
        momentum=momentum, grad=grad, steps=steps, tol=tol, seed=seed, dtype=dtype, engine=engine, device=device,
        log_every=log_every, init=init, order=order, summary=summary, model=model, bounds=bounds, starts=starts,
        batch_size=batch_size,
    ))  # fmt: skip
    if dask is not None:  # summaries are float64: so is the fit
        settings.setdefault("dtype", "float64")
    cfg = FitConfig.from_dict(settings)
    stems = _figure_stems(figures_, fmt, animate)
    _say_log_every(cfg, settings, quiet or as_json)
    _check_mlflow(mlflow)
    if cfg.model is not None:  # a model fit: its own report and run files (sinefit.nonlinear)
        from .nonlinear import command

        if dask is not None:
            raise ConfigError("--dask", "summarises data for polynomial fits; a --model fit reads its points itself")
        _say_ignored(cfg, lr=lr, steps=steps, momentum=momentum, grad=grad)
        return command.run(cfg, out, stems, fmt, animate, quiet, as_json)
    _say_ignored(cfg, lr=lr, steps=steps, momentum=momentum)
    talk = not (quiet or as_json)
    shown = False

    def show_header() -> None:  # once the data is read and sound: a refusal never follows a header
        nonlocal shown
        if talk and not shown:
            shown = True
            print(report.header(cfg, _target_text(cfg)))
            print()

    progress = _Progress("reading points", talk)
    training = _Progress("step", talk, delay=1.0)
    if dask is not None:
        from . import cluster

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
            show_header()
            if not trace:
                print(report.LOSS_TABLE_HEADER, flush=True)
        try:
            run_dir = runs.start_run(out, resolved)
        except OSError as e:
            raise Failure(f"cannot write the run directory under {_quoted(out)}: {e.strerror or e}") from None
        interrupts.working_on(run_dir)
        interrupts.enter("training", stop)  # Ctrl-C now stops after the current step, and the run is kept

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
    if talk:
        print(report.final_row(result))
        print()
        print(text)
    try:
        runs.finish_run(run_dir, result, text, hint, stems, fmt, animate)
    except OSError as e:
        raise Failure(f"cannot write the run directory {run_dir}: {e.strerror or e}") from None
    tracked = _track(mlflow, mlflow_experiment, quiet, lambda tracking, uri: tracking.log_fit(
        result, run_dir, uri, mlflow_experiment))  # fmt: skip
    if as_json:
        print(json.dumps({**runs.summary(result, run_dir, hint), **tracked}, indent=2))
    elif talk:
        files = ", ".join(sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")))
        print(f"\nWrote {_quoted(run_dir)}/: {files}")
    if talk and figures_ == "seed":
        print(f"More figures (overlay, loss curve, coefficient paths, convergence explained): sinefit plot {_quoted(run_dir)}")
    if show:
        from .io import rundata

        draws = figures.run_figures(rundata.load(run_dir))
        if not figures.show([draws[stem] for stem in stems]):
            print(f"sinefit: note: --show: no display here; the figures are in {run_dir}", file=sys.stderr)
    if result.interrupted_at is not None:
        raise Failure(
            f"interrupted at step {result.interrupted_at}; {run_dir} holds the history so far and the "
            "parameters reached", EXIT_INTERRUPTED,
        )  # fmt: skip
    if result.diverged_at is not None:
        raise Failure(report.divergence_message(result))


def _say_log_every(cfg, settings: dict[str, Any], quiet: bool) -> None:
    """A long run left at the default log prints every N-th step, not every 100th: said once."""
    from .history import LOG_EVERY, LOG_LINES

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


MLFLOW_DEFAULT = "\0default"  # what a bare --mlflow becomes (see main): the local default store
DASK_LOCAL = "\0local"  # what a bare --dask becomes: a local cluster
OPTIONAL_VALUES = {"--mlflow": MLFLOW_DEFAULT, "--animate": "gif", "--dask": DASK_LOCAL}  # options whose value may be left out


def _figure_stems(which: str, fmt: str, animate: Optional[str]) -> tuple[str, ...]:
    """Check the figure options before any work; the stems of the figures to draw."""
    from .config import ConfigError
    from .io.figures import FIGURE_STEMS, FORMATS

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


def _check_mlflow(uri: Optional[str]) -> None:
    """Refuse a blank --mlflow, and an unwritable SQLite store, before any work."""
    if uri is None:
        return
    from .config import ConfigError

    if uri != MLFLOW_DEFAULT and not uri.strip():
        raise ConfigError("--mlflow", "is blank; give a tracking URI, or --mlflow alone for ./mlflow.db")
    from .io import tracking

    tracking.check_store(None if uri == MLFLOW_DEFAULT else uri)


def _track(uri: Optional[str], experiment: str, quiet: bool, log) -> dict[str, Any]:
    """Log to MLflow when --mlflow was given; say where (on stderr, so stdout stays the report or JSON)."""
    if uri is None:
        return {}
    from .io import tracking

    uri = None if uri == MLFLOW_DEFAULT else uri
    with interrupts.phase("logging to MLflow"):
        run_id = log(tracking, uri)
    if not quiet:
        print(f"MLflow: logged run {run_id} in experiment '{experiment}' at {tracking.shown(tracking.resolve_uri(uri))}; "
              f"view it with: {tracking.view_hint(uri)}", file=sys.stderr)  # fmt: skip
    return {"mlflow_run_id": run_id, "mlflow_uri": tracking.shown(tracking.resolve_uri(uri))}


@app.command()
def sweep(
    lr: Annotated[Optional[str], Opt(help="Learning rates: 1e-7:1e-5:50 (log-spaced), a list 1e-6,2e-6, or one; 'auto' for the textbook step.")] = None,
    seed: Annotated[Optional[str], Opt(help="Seeds: 0:99 (every integer), or a list 0,5,7.")] = None,
    degree: Annotated[Optional[str], Opt(help="Degrees: 3:9 or 3,5,7.")] = None,
    optimizer: Annotated[Optional[str], Opt(help="Optimizers: a list, e.g. gd,momentum,adam.")] = None,
    basis: Annotated[Optional[str], Opt(help="Bases: a list, e.g. power,legendre.")] = None,
    momentum: Annotated[Optional[str], Opt(help="Momenta: 0.5:0.99:10 (evenly spaced), or a list.")] = None,
    config: ConfigOpt = None,
    target: TargetOpt = None,
    data: DataOpt = None,
    columns: ColumnsOpt = None,
    domain: DomainOpt = None,
    samples: SamplesOpt = None,
    noise: NoiseOpt = None,
    loss: LossOpt = None,
    huber_delta: HuberOpt = None,
    grad: GradOpt = None,
    steps: StepsOpt = None,
    dtype: Annotated[Optional[str], Opt(help="Working precision: float64 (the default for sweeps: the stats engine) or float32 (per-sample, slower).")] = None,
    engine: EngineOpt = None,
    device: DeviceOpt = None,
    batch_size: Annotated[Optional[str], Opt("--batch-size", help="Mini-batch sizes to sweep, e.g. 1,10,100,1000 (one fit each, on the per-sample engine).")] = None,
    init: Annotated[Optional[str], Opt(help="Where every configuration starts, drawn with its own --seed: randn (the seed's draw, highest power first), randn-ascending, numpy, linear, zeros, values '0.5,-1,0,2' in the naming order, or a model.json / run directory (a warm start). [default: randn]")] = None,
    order: OrderOpt = None,
    top: Annotated[int, Opt(help="How many of the best configurations to print (and log to MLflow as child runs).")] = 10,
    out: OutOpt = Path("runs"),
    mlflow: MlflowOpt = None,
    mlflow_experiment: ExperimentOpt = "sinefit",
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run many configurations as one batched computation; print the best, write sweep.csv and a heatmap."""
    from .config import FitConfig
    from .io import sweeps
    from .sweep import parse_axis
    from .sweep import sweep as run_sweep

    axes = {name: parse_axis(f"--{name}", text) for name, text in
            (("lr", lr), ("seed", seed), ("degree", degree), ("optimizer", optimizer), ("basis", basis),
             ("momentum", momentum), ("batch_size", batch_size)) if text is not None}  # fmt: skip
    if "lr" in axes:
        axes["lr"] = ["auto" if str(v) == "auto" else v for v in axes["lr"]]
    settings = _settings(
        config, target=target, data=data, columns=columns, domain=domain, samples=samples, noise=noise,
        loss=loss, huber_delta=huber_delta, grad=grad, steps=steps, dtype=dtype or "float64", engine=engine,
        device=device, init=init, order=order,
    )  # fmt: skip
    base = FitConfig.from_dict({k: v for k, v in settings.items() if k not in axes})
    _check_mlflow(mlflow)
    if top < 1:
        from .config import ConfigError

        raise ConfigError("--top", f"must be 1 or more, got {top}")
    talk = not (quiet or as_json)
    progress = _Progress("configurations", talk)
    try:
        with interrupts.phase("sweeping"):
            result = run_sweep(base, on_progress=progress, **axes)
            curves = result.best_curves()  # the best rows' histories, for best.png
    finally:
        progress.close()
    try:
        run_dir = sweeps.save_sweep(result, out, top, curves)
    except OSError as e:
        raise Failure(f"cannot write the sweep directory under {out}: {e.strerror or e}") from None
    tracked = _track(mlflow, mlflow_experiment, quiet, lambda tracking, uri: tracking.log_sweep(
        result, run_dir, uri, mlflow_experiment, children=top))  # fmt: skip
    if as_json:
        print(json.dumps({**sweeps.summary(result, run_dir, top), **tracked}, indent=2))
        return
    if talk:
        print(_sweep_table(result, top))
        print(f"\nWrote {_quoted(run_dir)}/: config.toml, sweep.csv, sweep.png, best.png, summary.json, status.json")


def _sweep_table(result, top: int) -> str:
    import numpy as np

    names = list(result.axes)
    diverged = int(np.count_nonzero(result.column("diverged").astype(bool)))
    lines = [
        f"sinefit sweep: {len(result.rows)} configurations in {result.seconds:.3g} s, {diverged} diverged",
        f"best {min(top, len(result.rows))} by final loss:",
        "  " + "".join(f"{n:>12}" for n in names) + f"{'final loss':>16}{'gap':>12}{'diverged':>10}",
    ]
    by_degree = "degree" in names
    if by_degree:  # model choice: AIC and BIC beside the loss, the BIC-best marked
        lines[-1] += f"{'AIC':>12}{'BIC':>12}"
        bic = result.column("bic").astype(np.float64)  # from the columns: no row built but the best
        finite = np.flatnonzero(~result.column("diverged").astype(bool) & ~np.isnan(bic))
        best_bic = result.rows[int(finite[np.argmin(bic[finite])])] if finite.size else None
    for r in result.best(top):
        cells = "".join(f"{r[n]:>12.4g}" if isinstance(r[n], float) else f"{r[n]!s:>12}" for n in names)
        state = f"at {r['diverged_at']}" if r["diverged"] else "no"
        line = f"  {cells}{r['final_loss']:>16.8g}{r['gap']:>12.3g}{state:>10}"
        if by_degree:
            line += f"{r['aic']:>12.6g}{r['bic']:>12.6g}" + ("  <- BIC-best" if r == best_bic else "")
        lines.append(line)
    lines.append("  (gap: final loss / optimum - 1)")
    if by_degree and best_bic is not None:
        lines.append(f"  lowest BIC: degree {best_bic['degree']} (BIC {best_bic['bic']:.6g}): more coefficients "
                     "than that fit the noise, not the curve")  # fmt: skip
    return "\n".join(lines)


def _target_text(cfg) -> str:
    from . import expr

    return expr.resolve(cfg.target).text if cfg.data is None else cfg.data


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/fit-0001.")],
    as_json: Annotated[bool, Opt("--json", help="Print the machine-readable summary instead.")] = False,
) -> None:
    """Print the fit report of a saved run, rebuilt from its files."""
    from . import report as reporting
    from .io import runs

    if run.is_dir() and (run.name.startswith("sweep-") or (run / "sweep.csv").exists()):  # a sweep has no single fit to report: its grid and best configurations instead
        from .io import runhistory

        doc = _sweep_summary(run)
        if as_json and doc is not None:
            print(json.dumps(doc, indent=2))
            return
        print(f"{_quoted(run)} is a sweep, not a fit: its grid and best configurations (all rows in "
              f"{_quoted(run / 'sweep.csv')}; `sinefit fit` with one row's settings reports that fit)")
        print(runhistory.sweep_text(run, doc))
        return
    try:
        result = runs.load_result(run)
    except runs.DataChanged as e:  # the run's own report, as written; never other numbers
        from .io import runhistory

        saved = runhistory.read_small(run / "report.txt")
        if saved is None or as_json:
            raise Failure(f"{e}; the report cannot be rebuilt (runs show {_quoted(run)} prints the saved one)") from None
        print(f"sinefit: note: {e}; this is the report saved at the fit", file=sys.stderr)
        print(saved, end="")
        return
    if as_json:
        print(json.dumps(runs.summary(result, run, reporting.hint(result)), indent=2))
    else:
        print(reporting.fit_report(result))


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="A model.json written by `sinefit fit`.")],
    xs: Annotated[Optional[list[str]], typer.Argument(help="More x values (after --x).", show_default=False)] = None,
    x: Annotated[Optional[list[str]], Opt("--x", help="x values: --x 0.5 1 2, or --x 0.5,1,2; pi allowed (--x=-pi/2).")] = None,
    input: Annotated[Optional[Path], Opt("--input", help="CSV of x values: one column, or a column named x.")] = None,
    output: Annotated[Optional[Path], Opt("--output", help="Write x,y to this CSV instead of printing a table.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print {x: [...], y: [...]} as JSON.")] = False,
    force: ForceOpt = False,
) -> None:
    """Evaluate a saved model at x values."""
    import numpy as np

    from .io import modelfile, predictions, safefile

    if model.is_dir() and (model / "model.json").is_file():  # a run directory: its model
        model = model / "model.json"
    poly = modelfile.load(model)
    target = None if output is None else safefile.check_target(
        output, (".csv",), "x,y CSV text", force=force, inputs=[model, *([input] if input else [])])  # fmt: skip
    values = predictions.parse_x_values([*(x or []), *(xs or [])])
    if input is not None:
        values = np.concatenate([values, predictions.read_x_csv(input)])
    if values.size == 0:
        from .config import ConfigError

        raise ConfigError("--x", "give x values (--x 0.5 1 2) or --input FILE")
    y = poly.predict(values)
    if output is not None:
        try:
            predictions.write_csv(target, values, y)
        except OSError as e:
            raise Failure(f"cannot write {output}: {e.strerror or e}") from None
    if as_json:  # strict JSON: a y that overflows float64 is null (and said so)
        ys = [v if np.isfinite(v) else None for v in y.tolist()]
        if None in ys:
            print(f"sinefit: warning: y is not finite (beyond float64) at {ys.count(None)} x values: null in the JSON",
                  file=sys.stderr)  # fmt: skip
        print(json.dumps({"model": str(model), "x": values.tolist(), "y": ys}, indent=2, allow_nan=False))
    elif output is None:
        print(f"{'x':>16}  {'y':>22}")
        for xv, yv in zip(values, y):
            print(f"{xv:>16.10g}  {yv:>22.17g}")


@app.command()
def plot(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/fit-0001.")],
    out: Annotated[Optional[Path], Opt(help="Where to write the figures. [default: the run directory]")] = None,
    fmt: Annotated[str, Opt("--format", help="png, svg or pdf.")] = "png",
    show: Annotated[bool, Opt("--show", help="Also open them in windows, where a display exists.")] = False,
    force: ForceOpt = False,
) -> None:
    """Draw a run's figures from its files alone: the seed's two, overlay, loss, coefficients, convergence."""
    from .io import figures, rundata, safefile

    if out is not None and out.is_dir() and not (run.is_dir() and out.samefile(run)):  # not the run's own figures
        for stem in figures.FIGURE_STEMS:
            safefile.check_target(out / f"{stem}.{fmt}", (), "a figure", force=force, inputs=_run_files(run),
                                  option="--out")  # fmt: skip
    try:
        with interrupts.phase("drawing the figures"):
            paths = figures.plot_run(run, out, fmt)
    except OSError as e:
        raise Failure(f"cannot write the figures: {e.strerror or e}") from None
    print("Wrote " + ", ".join(_quoted(p) for p in paths))
    if show and not figures.show(list(figures.run_figures(rundata.load(run)).values())):
        print("sinefit: note: --show: no display here", file=sys.stderr)


@app.command()
def animate(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/fit-0001.")],
    output: Annotated[Optional[Path], Opt("--output", help="The file to write. [default: RUN/training.FORMAT]")] = None,
    fmt: Annotated[str, Opt("--format", help="gif, or mp4 where ffmpeg exists.")] = "gif",
    frames: Annotated[int, Opt(help="Number of frames (1 to 150).")] = 150,
    force: ForceOpt = False,
) -> None:
    """Animate a run from its files: the curve moving from the random start toward the target."""
    from .io import animation, rundata, safefile

    data = rundata.load(run)
    path = output or run / f"training.{fmt}"
    target = safefile.classify(path) if output is None else safefile.check_target(
        output, (f".{fmt}",), f"a {fmt.upper()} animation", force=force, inputs=_run_files(run))  # fmt: skip
    try:
        with interrupts.phase("writing the animation"):
            written = animation.write_animation(data, target, fmt, frames)
    except OSError as e:
        raise Failure(f"cannot write {path}: {e.strerror or e}") from None
    print(f"Wrote {_quoted(written)}")


def _run_files(run: Path) -> list[Path]:
    """The files of a run directory: inputs of the commands that read it, never overwritten by them."""
    try:
        return [p for p in Path(run).iterdir() if p.is_file()]
    except OSError:
        return []


runs_app = typer.Typer(help="Browse the runs on disk: list, show, compare.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def runs_list(
    out: Annotated[Path, Opt(help="The directory holding the runs.")] = Path("runs"),
    as_json: JsonOpt = False,
) -> None:
    """A table of every run: id, when, target, degree, basis, optimizer, lr, steps, final loss, gap, status."""
    from .io import runhistory

    entries = runhistory.scan(out)
    if as_json:
        print(json.dumps([{"run": str(e.path), "kind": e.kind, "when": e.when, "status": e.status,
                           **{c: e.cell(c) for c in runhistory.COLUMNS[2:-1]}} for e in entries], indent=2))  # fmt: skip
    elif not entries:
        print(f"no runs under {out}/")
    else:
        print(runhistory.table(entries))


@runs_app.command("show")
def runs_show(run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/fit-0001.")]) -> None:
    """The fit report of a run (a sweep's best configurations)."""
    from .io import runhistory

    e = runhistory.entry(run) if run.is_dir() else None
    if e is None:
        from .errors import InputError

        raise InputError(f"{run}: no such run directory")
    from .io.runs import RUN_NAME

    if not RUN_NAME.match(run.name) and not any(
        os.path.lexists(run / name) for name in ("config.toml", "status.json", "summary.json")
    ):
        from .errors import InputError

        raise InputError(f"{_quoted(run)}: not a sinefit run directory (no config.toml, status.json or summary.json)")
    print(f"{_quoted(run)}: {e.kind}, {e.status}, {e.when}")
    if e.kind == "sweep":
        print(runhistory.sweep_text(run, _sweep_summary(run)))
        return
    report = runhistory.read_small(run / "report.txt")  # None: missing, or not a regular file
    if report is not None:
        print(report, end="")
    else:
        print("(no report: the run did not finish; its history so far is in history.csv)")


def _sweep_summary(run: Path) -> Any:
    """A sweep's summary.json, parsed (None: missing, unreadable or not JSON)."""
    from .io import runhistory

    text = runhistory.read_small(run / "summary.json")
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None


@runs_app.command("compare")
def runs_compare(
    runs_: Annotated[list[Path], typer.Argument(metavar="RUN...", help="Two or more run directories.")],
    output: Annotated[Optional[Path], Opt("--output", help="Where to save the figure (.png, .svg or .pdf). [default: compare.png in the current directory]")] = None,
    force: ForceOpt = False,
) -> None:
    """Loss curves of several runs overlaid in one figure, and a table of how they ended."""
    from .io import figures, rundata, runhistory, safefile

    path = output or Path("compare.png")
    target = safefile.check_target(path, tuple(f".{f}" for f in figures.FORMATS), "a figure (png, svg or pdf)",
                                   force=force, inputs=[f for r in runs_ for f in _run_files(r)])  # fmt: skip
    data = [rundata.load(r) for r in runs_]
    labels = [r.name for r in runs_]
    print(runhistory.table([runhistory.entry(r) for r in runs_]))
    try:
        figures.save(figures.compare_losses(data, labels), target)
    except OSError as e:
        raise Failure(f"cannot write {path}: {e.strerror or e}") from None
    print(f"\nWrote {_quoted(path)}")


@app.command()
def serve(
    port: Annotated[int, Opt(help="Port to listen on (0: any free port).")] = 8000,
    host: Annotated[str, Opt(help="Address to bind; anything but 127.0.0.1 / localhost lets other machines in.")] = "127.0.0.1",
    open_: Annotated[bool, Opt("--open", help="Also open the page in the default web browser.")] = False,
) -> None:
    """The playground: gradient descent you can play with in the browser (pip install 'sinefit[serve]')."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise Failure("sinefit serve needs the serve extra: pip install 'sinefit[serve]'") from None
    from .config import ConfigError
    from .serve import server

    if not 0 <= port <= 65535:
        raise ConfigError("--port", f"must be 0 to 65535, got {port}")
    if not server.is_loopback(host):
        print(f"sinefit: warning: --host {host}: the playground is reachable from other machines; it has no "
              "login, so bind 127.0.0.1 unless you mean it", file=sys.stderr)  # fmt: skip

    def ready(url: str) -> None:
        print(f"sinefit playground: {url}  (Ctrl-C stops it)", flush=True)
        if open_:
            import webbrowser

            webbrowser.open(url)

    try:
        server.serve_forever(host, port, ready)
    except OSError as e:
        raise Failure(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def _memory_first(argv: list[str]) -> list[str]:
    """--memory is a root option; typed after the subcommand it means the same, so move it first."""
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a.startswith("--memory="):
            return [a, *argv[:i], *argv[i + 1 :]]
        if a == "--memory" and i + 1 < len(argv):
            return [a, argv[i + 1], *argv[:i], *argv[i + 2 :]]
    return argv


def main(argv: Optional[list[str]] = None) -> int:
    """Run the CLI; return the exit code instead of raising SystemExit."""
    from .errors import SinefitError

    global _DEBUG
    argv = list(argv if argv is not None else sys.argv[1:])
    _DEBUG = "--debug" in argv
    if _DEBUG:  # a root option, but where it is typed (after the subcommand too) it means the same
        argv = ["--debug", *(a for a in argv if a != "--debug")]
    argv = _memory_first(argv)
    for i, a in enumerate(argv):  # an empty path would silently mean the current directory
        if (a in ("--out", "--output") and i + 1 < len(argv) and not argv[i + 1].strip()) or a in ("--out=", "--output="):
            _error(f"{a.rstrip('=')}: is empty; give a path")
            return EXIT_BAD_INPUT
    # --mlflow and --animate take an optional value, which click cannot express: a bare one
    # (last, or followed by another option) gets its default value here.
    for i in reversed(range(len(argv))):
        if argv[i] in OPTIONAL_VALUES and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            argv.insert(i + 1, OPTIONAL_VALUES[argv[i]])
    argv = _negative_x_values(argv)
    command = typer.main.get_command(app)
    previous_showwarning = warnings.showwarning
    warnings.showwarning = _warning
    try:
        with interrupts.installed():
            try:
                code = _dispatch(command, argv)
            except interrupts.Stopped as e:  # a signal between two commands' phases
                with interrupts.ignored():
                    _error(str(e))
                code = EXIT_INTERRUPTED
            if code not in (EXIT_OK, EXIT_INTERRUPTED):
                _mark_unfinished_run("failed")
    finally:
        warnings.showwarning = previous_showwarning
    return code


_NEGATIVE = re.compile(r"-(\d|\.\d|pi\b|inf\b)", re.IGNORECASE)


def _negative_x_values(argv: list[str]) -> list[str]:
    """`predict M --x 0.5 -1.25`: click reads -1.25 as an option. The values after --x (up to the
    next option that is not a number) become --x=VALUE each, in their order."""
    if "predict" not in argv:
        return argv
    out, taking = [], False
    for a in argv[argv.index("predict") + 1 :]:
        if a == "--x":
            taking = True
            continue
        if taking and (_NEGATIVE.match(a) or not (a.startswith("-") or os.path.exists(a))):  # a path: the model
            out.append(f"--x={a}")
            continue
        taking = False
        out.append(a)
    return argv[: argv.index("predict") + 1] + out


def _mark_unfinished_run(status: str) -> bool:
    """A run still "running" when its command fails or is stopped gets its final status; True if it did."""
    run_dir = interrupts.current_run()
    if run_dir is None:
        return False
    from .io import runs

    with interrupts.ignored():
        try:
            return runs.end_unfinished(run_dir, status)
        except Exception:  # the disk that failed the run may fail this too: the run then reads "incomplete"
            return False


def _dispatch(command, argv: list[str]) -> int:
    from .errors import SinefitError

    try:
        code: Any = command.main(args=argv, prog_name="sinefit", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except interrupts.Stopped as e:
        with interrupts.ignored():
            _traceback_if_debugging()
            marked = _mark_unfinished_run("interrupted")
            run_dir = interrupts.current_run()
            _error(str(e) + (f"; {_quoted(run_dir)} is kept, marked interrupted" if marked else ""))
        return EXIT_INTERRUPTED
    except click.exceptions.NoArgsIsHelpError:  # `sinefit` alone: the help was the answer
        return EXIT_OK
    except click.UsageError as e:
        _error(e.format_message().replace("\n", " "))
        return EXIT_BAD_INPUT
    except SinefitError as e:
        _traceback_if_debugging()
        _error(str(e))
        return e.exit_code
    except Failure as e:
        _traceback_if_debugging()
        _error(str(e))
        return e.code
    except (KeyboardInterrupt, click.Abort):
        _error("interrupted")
        return EXIT_INTERRUPTED
    except click.ClickException as e:
        _error(e.format_message())
        return e.exit_code
    except OSError as e:  # a file or disk problem we did not foresee: still one line, exit 1
        _traceback_if_debugging()
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        _error(f"{e.strerror or e}{where}")
        return EXIT_FAILURE
    except Exception as e:  # a bug: say so plainly; --debug shows where
        _traceback_if_debugging()
        _error(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback, and please report it)")
        return EXIT_FAILURE


def _quoted(path: Path) -> str:
    from .io.safefile import _q

    return _q(path)


def _traceback_if_debugging() -> None:
    if _DEBUG:
        import traceback

        traceback.print_exc()


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
