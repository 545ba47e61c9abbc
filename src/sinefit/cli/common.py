"""What every command shares: the Typer app and its root options, the one-line errors and their
exit codes, and the helpers of more than one command (run files, MLflow logging)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .. import interrupts
from .options import Opt


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


def _print_version(value: bool) -> None:
    if value:
        from .._version import __version__

        print(f"sinefit {__version__}")
        raise typer.Exit()


_DEBUG = False


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the Python traceback of any error.")] = False,
    memory: Annotated[Optional[str], Opt("--memory", help="Memory budget: bytes (4G, 512M) or a share of RAM (25%); anything larger is refused before it is allocated. [default: $SINEFIT_MEMORY, else 50% of RAM]")] = None,
) -> None:
    global _DEBUG
    _DEBUG = debug
    from .. import budget

    budget.configure(memory)


MLFLOW_DEFAULT = "\0default"  # what a bare --mlflow becomes (see main): the local default store
DASK_LOCAL = "\0local"  # what a bare --dask becomes: a local cluster
OPTIONAL_VALUES = {"--mlflow": MLFLOW_DEFAULT, "--animate": "gif", "--dask": DASK_LOCAL}  # options whose value may be left out


def _check_mlflow(uri: Optional[str]) -> None:
    """Refuse a blank --mlflow, and an unwritable SQLite store, before any work."""
    if uri is None:
        return
    from ..config import ConfigError

    if uri != MLFLOW_DEFAULT and not uri.strip():
        raise ConfigError("--mlflow", "is blank; give a tracking URI, or --mlflow alone for ./mlflow.db")
    from ..io import tracking

    tracking.check_store(None if uri == MLFLOW_DEFAULT else uri)


def _track(uri: Optional[str], experiment: str, quiet: bool, log) -> dict[str, Any]:
    """Log to MLflow when --mlflow was given; say where (on stderr, so stdout stays the report or JSON)."""
    if uri is None:
        return {}
    from ..io import tracking

    uri = None if uri == MLFLOW_DEFAULT else uri
    with interrupts.phase("logging to MLflow"):
        run_id = log(tracking, uri)
    if not quiet:
        print(f"MLflow: logged run {run_id} in experiment '{experiment}' at {tracking.shown(tracking.resolve_uri(uri))}; "
              f"view it with: {tracking.view_hint(uri)}", file=sys.stderr)  # fmt: skip
    return {"mlflow_run_id": run_id, "mlflow_uri": tracking.shown(tracking.resolve_uri(uri))}


def _run_files(run: Path) -> list[Path]:
    """The files of a run directory: inputs of the commands that read it, never overwritten by them."""
    try:
        return [p for p in Path(run).iterdir() if p.is_file()]
    except OSError:
        return []


def _sweep_summary(run: Path) -> Any:
    """A sweep's summary.json, parsed (None: missing, unreadable or not JSON)."""
    from ..io import runhistory

    text = runhistory.read_small(run / "summary.json")
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None


def _quoted(path: Path) -> str:
    from ..io.safefile import _q

    return _q(path)


def _traceback_if_debugging() -> None:
    if _DEBUG:
        import traceback

        traceback.print_exc()


def open_run(out: Path, cfg: Any, stop: Any) -> Path:
    """The run directory of a fit whose data is read and sound; from here on Ctrl-C stops after the
    current step, and the run is kept."""
    from ..io import runs

    try:
        run_dir = runs.start_run(out, cfg)
    except OSError as e:
        raise Failure(f"cannot write the run directory under {_quoted(out)}: {e.strerror or e}") from None
    interrupts.working_on(run_dir)
    interrupts.enter("training", stop)
    return run_dir


def close_run(run_dir: Path, talk: bool, final_row: str, text: str, write: Any) -> None:
    """Print the loss table's last row and the report, then ``write()`` the rest of the run directory."""
    if talk:
        print(final_row)
        print()
        print(text)
    try:
        write()
    except OSError as e:
        raise Failure(f"cannot write the run directory {run_dir}: {e.strerror or e}") from None


def say_written(run_dir: Path, doc: dict[str, Any], talk: bool, as_json: bool) -> None:
    """The run's summary as JSON (--json), or the files written (nothing with --quiet)."""
    if as_json:
        print(json.dumps(doc, indent=2))
    elif talk:
        files = ", ".join(sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")))
        print(f"\nWrote {_quoted(run_dir)}/: {files}")


def raise_if_stopped(result: Any, run_dir: Path, kept: str, divergence_message: Any) -> None:
    """A fit stopped by Ctrl-C (exit 130) or by divergence (exit 1) fails the command, its run kept."""
    if result.interrupted_at is not None:
        raise Failure(f"interrupted at step {result.interrupted_at}; {run_dir} holds {kept}", EXIT_INTERRUPTED)
    if result.diverged_at is not None:
        raise Failure(divergence_message(result))
