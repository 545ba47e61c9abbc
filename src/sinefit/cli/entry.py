"""The console entry point: argv made click-ready, the command run, every error one line."""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import Any, Optional

import click
import typer

from .. import interrupts
from . import common
from .common import (EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, OPTIONAL_VALUES, Failure, _error, _quoted,
                     _traceback_if_debugging, _warning)


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
    from ..errors import SinefitError

    argv = list(argv if argv is not None else sys.argv[1:])
    common._DEBUG = "--debug" in argv
    if common._DEBUG:  # a root option, but where it is typed (after the subcommand too) it means the same
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
    command = typer.main.get_command(common.app)
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
    from ..io import runs

    with interrupts.ignored():
        try:
            return runs.end_unfinished(run_dir, status)
        except Exception:  # the disk that failed the run may fail this too: the run then reads "incomplete"
            return False


def _dispatch(command, argv: list[str]) -> int:
    from ..errors import SinefitError

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
        _error(_once(e.format_message().replace("\n", " ")))
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


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


def _once(message: str) -> str:
    """Each sentence of a usage error once: click 8.2+ suggests a close command name ("Did you mean
    'fit'?") and typer adds the same suggestion again."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+", message.strip()):
        if sentence not in out:
            out.append(sentence)
    return " ".join(out)
