"""Run directories: ``runs/fit-0001/`` with the config, history, model and figures.

Layout of a fit's run directory (every file written atomically: a temporary
file beside it, flushed, then renamed into place):

    config.json    the resolved settings, enough to run the fit again
    history.csv    step,loss: the loss after every number of updates, 0 ... steps
    model.json     the learned polynomial (see ``modelfile``)
    initial.png    the seed's 'y true' / 'y pred' figure for the random initial cubic
    trained.png    the same for the trained cubic
    summary.json   what ``--json`` prints; written last, so its presence marks the run complete
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..api import FitResult
from . import figures, modelfile

RUN_NAME = re.compile(r"^(?P<kind>[a-z]+)-(?P<n>\d+)$")


def create_run_dir(root: Path, kind: str = "fit") -> Path:
    """Make a new, empty ``root/kind-NNNN``: never an existing one, even with rivals racing."""
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(m["n"]) for p in root.iterdir() if (m := RUN_NAME.match(p.name)) and m["kind"] == kind]
    n = max(taken, default=0) + 1
    while True:
        path = root / f"{kind}-{n:04d}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (temporary file in the same directory, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def history_csv(losses: np.ndarray) -> str:
    """step,loss rows; floats in repr so they read back exactly ('inf'/'nan' at divergence)."""
    lines = ["step,loss"] + [f"{t},{float(v)!r}" for t, v in enumerate(losses)]
    return "\n".join(lines) + "\n"


def finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def summary(result: FitResult, run_dir: Path | None, hint: str) -> dict[str, Any]:
    """The machine-readable account of a fit: what ``--json`` prints."""
    q = result.quadratic
    return {
        "sinefit_version": __version__,
        "status": result.status,
        "config": result.config.to_dict(),
        "target": result.dataset.target,
        "logged": [[t, finite_or_none(v)] for t, v in result.logged],
        "coefficients": result.coefficients,
        "initial_coefficients": result.initial.as_dict(),
        "formula": result.formula(17),
        "final_loss": finite_or_none(result.final_loss),
        "diverged_at": result.diverged_at,
        "optimum": {"coefficients": result.optimum.as_dict(), "loss": q.optimum_loss},
        "loss_ratio": finite_or_none(result.advice.ratio),
        "stable_lr": q.stable_lr,
        "fastest_lr": q.fastest_lr,
        "condition_number": finite_or_none(q.condition_number),
        "hessian_eigenvalues": [float(v) for v in q.eigenvalues],
        "hint": hint,
        "run_dir": str(run_dir) if run_dir is not None else None,
    }


def seed_figures(result: FitResult) -> dict[str, Any]:
    """Draw functions for the seed's two figures, keyed by file stem."""
    cfg = result.config
    x = result.dataset.x.double().numpy()
    y = result.dataset.y.double().numpy()
    what = "cubic" if cfg.degree == 3 else f"degree-{cfg.degree} polynomial"
    trained_title = (
        f"trained {what}: {len(result.losses) - 1} steps, lr {cfg.lr:g}, loss {result.final_loss:.4g}"
        if result.diverged_at is None
        else f"{what} at divergence (step {result.diverged_at}, lr {cfg.lr:g})"
    )
    return {
        "initial": lambda fig=None: figures.seed_figure(
            x, y, result.initial.predict(x), f"random initial {what} (seed {cfg.seed})", fig
        ),
        "trained": lambda fig=None: figures.seed_figure(x, y, result.predict(x), trained_title, fig),
    }


def save_run(result: FitResult, root: Path, hint: str) -> Path:
    """Write a fit's run directory under ``root`` and return its path."""
    run_dir = create_run_dir(root)
    write_json(run_dir / "config.json", {"sinefit_version": __version__, **result.config.to_dict()})
    write_text(run_dir / "history.csv", history_csv(result.losses))
    if np.all(np.isfinite(result.model.coefficients)):
        write_json(run_dir / "model.json", modelfile.document(result))
    for stem, draw in seed_figures(result).items():
        figures.save(draw(), run_dir / f"{stem}.png")
    write_json(run_dir / "summary.json", summary(result, run_dir, hint))
    return run_dir
