"""``sinefit fit --model EXPR``: the fit command's path for model fits (printing and the run directory).

Called by ``sinefit.cli.fit`` once the settings are validated; errors leave as the CLI's (one line, exit code).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path


def run(cfg, out: Path, stems, fmt: str, animate, quiet: bool, as_json: bool) -> None:
    from .. import interrupts
    from .. import report as poly_report
    from ..cli import EXIT_INTERRUPTED, Failure
    from ..io import modelruns, runs
    from . import report
    from ..train import StopFlag
    from .fit import fit_model

    talk = not (quiet or as_json)
    if talk:
        print(report.header(cfg, cfg.target if cfg.data is None else cfg.data))
        print()
        print(poly_report.LOSS_TABLE_HEADER)
    run_dir: Path | None = None
    stop = StopFlag()

    def on_start(_cfg) -> None:
        nonlocal run_dir
        try:
            run_dir = runs.start_run(out, cfg)
        except OSError as e:
            raise Failure(f"cannot write the run directory under {out}: {e.strerror or e}") from None
        interrupts.working_on(run_dir)
        interrupts.enter("training", stop)  # Ctrl-C now stops after the current step, and the run is kept

    def on_log(t: int, value: float) -> None:
        print(poly_report.loss_row(t, value), flush=True)

    with warnings.catch_warnings(), interrupts.phase("reading the data"):
        warnings.simplefilter("ignore", RuntimeWarning)  # divergence is reported below, in our words
        result = fit_model(cfg, on_log=on_log if talk else None, on_start=on_start, stop=stop)
    text = report.fit_report(result)
    hint = report.hint(result)
    if talk:
        print(report.final_row(result))
        print()
        print(text)
    try:
        with interrupts.phase("drawing the figures"):
            modelruns.finish_run(run_dir, result, text, hint, stems, fmt, animate)
    except OSError as e:
        raise Failure(f"cannot write the run directory {run_dir}: {e.strerror or e}") from None
    if as_json:
        print(json.dumps(runs._finite_json(modelruns.summary(result, run_dir, hint)), indent=2))
    elif talk:
        files = ", ".join(sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")))
        print(f"\nWrote {run_dir}/: {files}")
    if result.interrupted_at is not None:
        raise Failure(f"interrupted at step {result.interrupted_at}; {run_dir} holds the history so far",
                      EXIT_INTERRUPTED)  # fmt: skip
    if result.diverged_at is not None:
        raise Failure(report.divergence_message(result))
