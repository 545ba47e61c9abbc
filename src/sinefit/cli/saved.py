"""Commands over a saved run's files: `report`, `plot` and `animate`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import interrupts
from .common import Failure, _quoted, _run_files, _sweep_summary
from .options import ForceOpt, Opt


def report(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/fit-0001.")],
    as_json: Annotated[bool, Opt("--json", help="Print the machine-readable summary instead.")] = False,
) -> None:
    """Print the fit report of a saved run, rebuilt from its files."""
    from .. import report as reporting
    from ..io import runs

    if run.is_dir() and (run.name.startswith("sweep-") or (run / "sweep.csv").exists()):  # a sweep has no single fit to report: its grid and best configurations instead
        from ..io import runhistory

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
        from ..io import runhistory

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


def plot(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/fit-0001.")],
    out: Annotated[Optional[Path], Opt(help="Where to write the figures. [default: the run directory]")] = None,
    fmt: Annotated[str, Opt("--format", help="png, svg or pdf.")] = "png",
    show: Annotated[bool, Opt("--show", help="Also open them in windows, where a display exists.")] = False,
    force: ForceOpt = False,
) -> None:
    """Draw a run's figures from its files alone: the seed's two, overlay, loss, coefficients, convergence."""
    from ..io import figures, rundata, safefile

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


def animate(
    run: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/fit-0001.")],
    output: Annotated[Optional[Path], Opt("--output", help="The file to write. [default: RUN/training.FORMAT]")] = None,
    fmt: Annotated[str, Opt("--format", help="gif, or mp4 where ffmpeg exists.")] = "gif",
    frames: Annotated[int, Opt(help="Number of frames (1 to 150).")] = 150,
    force: ForceOpt = False,
) -> None:
    """Animate a run from its files: the curve moving from the random start toward the target."""
    from ..io import animation, rundata, safefile

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
