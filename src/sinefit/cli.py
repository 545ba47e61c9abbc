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


@app.command()
def fit(
    seed: Annotated[int, typer.Option(help="Random seed for the initial coefficients (torch.manual_seed).")] = 0,
    lr: Annotated[str, typer.Option(help="Learning rate of plain gradient descent.")] = "1e-6",
    steps: Annotated[int, typer.Option(help="Number of gradient-descent steps.")] = 2000,
    samples: Annotated[int, typer.Option(help="Number of evenly spaced points on [-pi, pi].")] = 1000,
    degree: Annotated[int, typer.Option(help="Polynomial degree; coefficients are drawn highest power first.")] = 3,
    log_every: Annotated[int, typer.Option(help="Print the loss of steps t with t % N == N - 1.")] = 100,
    dtype: Annotated[str, typer.Option(help="Working precision: float32 (the seed's) or float64.")] = "float32",
    out: Annotated[Path, typer.Option(help="Directory under which a new run directory is made.")] = Path("runs"),
    show: Annotated[bool, typer.Option("--show", help="Also open the figures in a window, where a display exists.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary instead of the report.")] = False,
) -> None:
    """Fit a polynomial to sin(x) by gradient descent and say how good the fit is."""
    from . import report
    from .api import fit as run_fit
    from .config import FitConfig
    from .io import figures, runs

    cfg = FitConfig(
        seed=seed, lr=_parse_float("--lr", lr), steps=steps, samples=samples, degree=degree,
        log_every=log_every, dtype=dtype,
    ).validated()  # fmt: skip
    talk = not (quiet or as_json)
    if talk:
        print(report.header(cfg, "sin(x)"))
        print()
        print(report.LOSS_TABLE_HEADER)

    def on_log(t: int, loss: float) -> None:
        print(report.loss_row(t, loss), flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=_divergence_warning())  # reported below, in our words
        result = run_fit(cfg, on_log=on_log if talk else None)
    hint = report.hint(result)
    if talk:
        print(report.final_row(result))
        print(report.how_good(result))
    try:
        run_dir = runs.save_run(result, out, hint)
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


def _divergence_warning() -> type[Warning]:
    from .api import DivergenceWarning

    return DivergenceWarning


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
