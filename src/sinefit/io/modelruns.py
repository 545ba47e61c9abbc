"""Run directories of model fits (``sinefit fit --model``): the same layout as a polynomial fit's.

    config.toml      the resolved settings (model, init, bounds, starts included): refits the same numbers
    history.csv      step,loss of the best start
    trajectory.csv   step,<parameter names>: the best start's parameters at ~300 steps
    starts.csv       start,<names at the start>,<names at the end>,loss,lm_loss: every start
    points.csv       x,y: the data (at most 2000 points)
    model.json       the expression and the fitted parameters (``modelfile`` reads it; predict evaluates it)
    report.txt       the fit report, as printed
    figures          initial and trained (the seed's two), and with --figures all: overlay, loss,
                     parameters (paths) and contour (the loss over two parameters, the path on it)
    status.json, summary.json   as for polynomial fits (summary.json last)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..nonlinear.fit import ModelFitResult
from . import runs
from .safefile import write_json, write_text

FIGURES = ("initial", "trained", "overlay", "loss", "parameters", "contour")


def _f(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def model_document(result: ModelFitResult) -> dict[str, Any]:
    from .modelfile import FORMAT, FORMAT_VERSION

    se = result.statistics.stderr
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "sinefit_version": __version__, "kind": "expression",
        "expression": result.expression.text, "domain": list(result.domain),
        "parameters": [{"name": n, "value": float(v), "stderr": _f(e)}
                       for n, v, e in zip(result.names, result.model.values, se)],
        "loss_function": result.config.loss, "final_loss": _f(result.final_loss), "status": result.status,
    }  # fmt: skip


def summary(result: ModelFitResult, run_dir: Path | None, hint: str) -> dict[str, Any]:
    s = result.statistics
    return {
        "sinefit_version": __version__, "status": result.status, "config": result.config.to_dict(),
        "target": result.target, "engine": result.engine, "lr": result.lr, "momentum": result.momentum,
        "logged": [[t, _f(v)] for t, v in result.logged], "model": result.expression.text,
        "parameters": result.parameters, "stderr": {n: _f(v) for n, v in result.stderr.items()},
        "determined": dict(zip(result.names, map(bool, s.determined))),
        "initial_parameters": result.initial.as_dict(), "formula": result.formula(17),
        "final_loss": _f(result.final_loss), "diverged_at": result.diverged_at, "interrupted_at": result.interrupted_at,
        "lm": {"best_loss": _f(result.reference_loss), "parameters": dict(zip(result.names, map(float, result.reference_best))),
               "converged": [bool(c) for c in result.reference.converged], "reasons": result.reference.reason},
        "loss_ratio": _f(result.final_loss / result.reference_loss) if result.reference_loss > 0 else None,
        "converged": result.converged, "reason": result.reason, "best_start": result.best_start,
        "minima": [{"loss": _f(m.loss), "starts": list(m.starts), "parameters": dict(zip(result.names, map(float, m.parameters)))}
                   for m in result.reference_minima],
        "statistics": {"n": s.n, "sse": _f(s.sse), "reduced_chi_square": _f(s.reduced_chi2), "r2": _f(s.r2),
                       "rmse": _f(s.rmse), "max_error": _f(s.max_error), "aic": _f(s.aic), "bic": _f(s.bic)},
        "local": {"at_solution": {"eigenvalues": [float(v) for v in result.local_end.eigenvalues],
                                  "condition_number": _f(result.local_end.condition_number),
                                  "stable_lr": _f(result.local_end.stable_lr)},
                  "at_start": {"eigenvalues": [float(v) for v in result.local_start.eigenvalues],
                               "condition_number": _f(result.local_start.condition_number),
                               "stable_lr": _f(result.local_start.stable_lr)}},
        "hint": hint, "run_dir": str(run_dir) if run_dir is not None else None,
    }  # fmt: skip


def trajectory_csv(result: ModelFitResult) -> str:
    lines = ["step," + ",".join(result.names)]
    lines += [f"{int(t)}," + ",".join(repr(float(v)) for v in row) for t, row in zip(result.snapshot_steps, result.snapshots)]
    return "\n".join(lines) + "\n"


def starts_csv(result: ModelFitResult) -> str:
    names = result.names
    lines = ["start," + ",".join(f"{n}_start" for n in names) + "," + ",".join(f"{n}_end" for n in names)
             + ",loss,lm_sse,lm_converged"]  # fmt: skip
    for i in range(len(result.start_values)):
        cells = [*map(repr, map(float, result.start_values[i])), *map(repr, map(float, result.end_values[i])),
                 repr(float(result.end_losses[i])), repr(float(result.reference.sse[i])),
                 str(bool(result.reference.converged[i])).lower()]  # fmt: skip
        lines.append(f"{i}," + ",".join(cells))
    return "\n".join(lines) + "\n"


def points_csv(result: ModelFitResult) -> str:
    stride = max(1, -(-len(result.x) // runs.POINTS_SHOWN))
    return "x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(result.x[::stride], result.y[::stride]))


def finish_run(run_dir: Path, result: ModelFitResult, report_text: str, hint: str, stems=("initial", "trained"),
               fmt: str = "png", animate: str | None = None) -> None:  # fmt: skip
    write_text(run_dir / "history.csv", runs.history_csv(result.losses, result.history_steps))
    write_text(run_dir / "trajectory.csv", trajectory_csv(result))
    write_text(run_dir / "starts.csv", starts_csv(result))
    write_text(run_dir / "points.csv", points_csv(result))
    if np.all(np.isfinite(result.model.values)):
        write_json(run_dir / "model.json", model_document(result))
    write_text(run_dir / "report.txt", report_text + "\n")
    from . import model_figures

    model_figures.write(result, run_dir, stems, fmt)
    if animate is not None:
        model_figures.animate(result, run_dir / f"training.{animate}", animate)
    runs.write_status(run_dir, result.status, diverged_at=result.diverged_at, interrupted_at=result.interrupted_at)
    write_json(run_dir / "summary.json", runs._finite_json(summary(result, run_dir, hint)))
