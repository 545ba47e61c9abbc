"""`sinefit runs list|show|compare`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import Failure, _quoted, _run_files, _sweep_summary
from .options import ForceOpt, JsonOpt, Opt


runs_app = typer.Typer(help="Browse the runs on disk: list, show, compare.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(
    out: Annotated[Path, Opt(help="The directory holding the runs.")] = Path("runs"),
    as_json: JsonOpt = False,
) -> None:
    """A table of every run: id, when, target, degree, basis, optimizer, lr, steps, final loss, gap, status."""
    from ..io import runhistory

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
    from ..io import runhistory

    e = runhistory.entry(run) if run.is_dir() else None
    if e is None:
        from ..errors import InputError

        raise InputError(f"{run}: no such run directory")
    from ..io.runs import RUN_NAME

    if not RUN_NAME.match(run.name) and not any(
        os.path.lexists(run / name) for name in ("config.toml", "status.json", "summary.json")
    ):
        from ..errors import InputError

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


@runs_app.command("compare")
def runs_compare(
    runs_: Annotated[list[Path], typer.Argument(metavar="RUN...", help="Two or more run directories.")],
    output: Annotated[Optional[Path], Opt("--output", help="Where to save the figure (.png, .svg or .pdf). [default: compare.png in the current directory]")] = None,
    force: ForceOpt = False,
) -> None:
    """Loss curves of several runs overlaid in one figure, and a table of how they ended."""
    from ..io import figures, rundata, runhistory, safefile

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
