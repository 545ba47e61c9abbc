"""``sinefit fit --model EXPR``: the fit command's path for model fits (printing and the run directory).

Called by ``sinefit.cli.fit`` once the settings are validated; errors leave as the CLI's (one line, exit code).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from .. import interrupts
from .common import close_run, open_run, raise_if_stopped, say_written


def run(cfg, out: Path, stems, fmt: str, animate, quiet: bool, as_json: bool) -> None:
    from .. import report as poly_report
    from ..io import modelruns, runs
    from ..nonlinear import report
    from ..nonlinear.fit import fit_model
    from ..train import StopFlag

    talk = not (quiet or as_json)
    if talk:
        print(report.header(cfg, cfg.target if cfg.data is None else cfg.data))
        print()
        print(poly_report.LOSS_TABLE_HEADER)
    run_dir: Path | None = None
    stop = StopFlag()

    def on_start(_cfg) -> None:
        nonlocal run_dir
        run_dir = open_run(out, cfg, stop)

    def on_log(t: int, value: float) -> None:
        print(poly_report.loss_row(t, value), flush=True)

    with warnings.catch_warnings(), interrupts.phase("reading the data"):
        warnings.simplefilter("ignore", RuntimeWarning)  # divergence is reported below, in our words
        result = fit_model(cfg, on_log=on_log if talk else None, on_start=on_start, stop=stop)
    text = report.fit_report(result)
    hint = report.hint(result)

    def write() -> None:
        with interrupts.phase("drawing the figures"):
            modelruns.finish_run(run_dir, result, text, hint, stems, fmt, animate)

    close_run(run_dir, talk, report.final_row(result), text, write)
    say_written(run_dir, runs._finite_json(modelruns.summary(result, run_dir, hint)), talk, as_json)
    raise_if_stopped(result, run_dir, "the history so far", report.divergence_message)
