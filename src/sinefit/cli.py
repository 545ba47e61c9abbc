"""The ``sinefit`` command: thin wrappers over the library.

torch and matplotlib are imported inside the commands, so ``sinefit --help``
stays fast. Errors leave as one line on stderr with a documented exit code:
0 success, 1 a runtime failure (divergence, an unwritable directory), 2 bad
input, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer

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


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


Opt = typer.Option


@app.command()
def fit(
    config: Annotated[Optional[Path], Opt(help="TOML (or JSON) file of settings; options given here override it.")] = None,
    target: Annotated[Optional[str], Opt(help="Function of x to fit: a name (sin, cos, exp, tanh, abs, sinc, gaussian, step) or an expression like 'sin(x) + 0.1*x**2'. [default: sin]")] = None,
    data: Annotated[Optional[str], Opt(help="Fit the points in a file instead: .csv (x,y), .npy (n,2), .npz (x, y) or .parquet.")] = None,
    columns: Annotated[Optional[str], Opt(help="Columns of --data to use as x,y: names or 0-based indexes, e.g. 'time,volts' or '0,2'.")] = None,
    domain: Annotated[Optional[str], Opt(help="Interval a,b of the generated x (pi allowed: -pi,pi); with --data, the basis's domain. [default: -pi,pi]")] = None,
    samples: Annotated[Optional[int], Opt(help="Number of evenly spaced points. [default: 1000]")] = None,
    noise: Annotated[Optional[float], Opt(help="Add seeded Gaussian noise of this standard deviation to y. [default: 0]")] = None,
    degree: Annotated[Optional[int], Opt(help="Polynomial degree; coefficients are drawn highest degree first. [default: 3]")] = None,
    basis: Annotated[Optional[str], Opt(help="power (raw x, the seed's), legendre or chebyshev (x mapped to [-1, 1]). [default: power]")] = None,
    loss: Annotated[Optional[str], Opt(help="sse (the seed's), mse or huber. [default: sse]")] = None,
    huber_delta: Annotated[Optional[float], Opt(help="Where the Huber loss turns from quadratic to linear. [default: 1]")] = None,
    optimizer: Annotated[Optional[str], Opt(help="gd (the seed's), momentum, nesterov, adam, rmsprop, lbfgs or exact. [default: gd]")] = None,
    lr: Annotated[Optional[str], Opt(help="Learning rate, or 'auto' (gd, momentum, nesterov) for the textbook step. [default: 1e-6 for gd/momentum/nesterov, 0.01 for adam/rmsprop, 1 for lbfgs]")] = None,
    momentum: Annotated[Optional[float], Opt(help="Momentum of momentum and nesterov. [default: 0.9]")] = None,
    grad: Annotated[Optional[str], Opt(help="manual (the gradient written by hand, the seed's) or autograd. [default: manual]")] = None,
    steps: Annotated[Optional[int], Opt(help="Number of optimizer steps. [default: 2000]")] = None,
    seed: Annotated[Optional[int], Opt(help="torch.manual_seed before the initial coefficients are drawn. [default: 0]")] = None,
    dtype: Annotated[Optional[str], Opt(help="Working precision: float32 (the seed's) or float64. [default: float32]")] = None,
    log_every: Annotated[Optional[int], Opt(help="Print the loss of steps t with t % N == N - 1. [default: 100]")] = None,
    out: Annotated[Path, Opt(help="Directory under which each run gets a new fit-NNNN directory.")] = Path("runs"),
    show: Annotated[bool, Opt("--show", help="Also open the figures in a window, where a display exists.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Print nothing but errors and warnings.")] = False,
    as_json: Annotated[bool, Opt("--json", help="Print a machine-readable summary instead of the report.")] = False,
) -> None:
    """Fit a polynomial by gradient descent and say how good the fit is."""
    from . import report
    from .api import DivergenceWarning
    from .api import fit as run_fit
    from .config import FitConfig
    from .io import configfile, figures, runs

    settings: dict[str, Any] = configfile.read(config) if config is not None else {}
    given = {
        "target": target, "data": data, "columns": columns, "samples": samples, "noise": noise,
        "degree": degree, "basis": basis, "loss": loss, "huber_delta": huber_delta, "optimizer": optimizer,
        "momentum": momentum, "grad": grad, "steps": steps, "seed": seed, "dtype": dtype, "log_every": log_every,
        "lr": _parse_lr(lr) if lr is not None else None,
        "domain": _parse_domain(domain) if domain is not None else None,
    }  # fmt: skip
    settings.update({k: v for k, v in given.items() if v is not None})
    cfg = FitConfig.from_dict(settings)

    talk = not (quiet or as_json)
    if talk:
        print(report.header(cfg, _target_text(cfg)))
        print()
        print(report.LOSS_TABLE_HEADER)

    def on_log(t: int, value: float) -> None:
        print(report.loss_row(t, value), flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DivergenceWarning)  # reported below, in our words
        result = run_fit(cfg, on_log=on_log if talk else None)
    hint = report.hint(result)
    text = report.fit_report(result)
    if talk:
        print(report.final_row(result))
        print()
        print(text)
    try:
        run_dir = runs.save_run(result, out, text, hint)
    except OSError as e:
        raise Failure(f"cannot write the run directory under {out}: {e.strerror or e}") from None
    if as_json:
        print(json.dumps(runs.summary(result, run_dir, hint), indent=2))
    elif talk:
        files = ", ".join(sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")))
        print(f"\nWrote {run_dir}/: {files}")
    if show and not figures.show(list(runs.seed_figures(result).values())):
        print(f"sinefit: note: --show: no display here; the figures are in {run_dir}", file=sys.stderr)
    if result.diverged_at is not None:
        raise Failure(report.divergence_message(result))


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

    result = runs.load_result(run)
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
) -> None:
    """Evaluate a saved model at x values."""
    import numpy as np

    from .io import modelfile, predictions

    poly = modelfile.load(model)
    values = predictions.parse_x_values([*(x or []), *(xs or [])])
    if input is not None:
        values = np.concatenate([values, predictions.read_x_csv(input)])
    if values.size == 0:
        from .config import ConfigError

        raise ConfigError("--x", "give x values (--x 0.5 1 2) or --input FILE")
    y = poly.predict(values)
    if output is not None:
        try:
            predictions.write_csv(output, values, y)
        except OSError as e:
            raise Failure(f"cannot write {output}: {e.strerror or e}") from None
    if as_json:
        print(json.dumps({"model": str(model), "x": values.tolist(), "y": y.tolist()}, indent=2))
    elif output is None:
        print(f"{'x':>16}  {'y':>22}")
        for xv, yv in zip(values, y):
            print(f"{xv:>16.10g}  {yv:>22.17g}")


def main(argv: Optional[list[str]] = None) -> int:
    """Run the CLI; return the exit code instead of raising SystemExit."""
    from .errors import SinefitError

    command = typer.main.get_command(app)
    previous_showwarning = warnings.showwarning
    warnings.showwarning = _warning
    try:
        code: Any = command.main(args=argv, prog_name="sinefit", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except click.UsageError as e:
        _error(e.format_message().replace("\n", " "))
        return EXIT_BAD_INPUT
    except SinefitError as e:
        _error(str(e))
        return e.exit_code
    except Failure as e:
        _error(str(e))
        return e.code
    except (KeyboardInterrupt, click.Abort):
        _error("interrupted")
        return EXIT_INTERRUPTED
    except click.ClickException as e:
        _error(e.format_message())
        return e.exit_code
    finally:
        warnings.showwarning = previous_showwarning


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
