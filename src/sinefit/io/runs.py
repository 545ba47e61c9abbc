"""Run directories: ``runs/fit-0001/`` with the config, history, model and figures.

Layout of a fit's run directory (every file written atomically: a temporary
file beside it, flushed, then renamed into place; the directory itself appears
with its config.toml and status.json already in it):

    config.toml      the resolved settings: `sinefit fit --config` on it refits the same numbers
    history.csv      step,loss: the loss after every number of updates, 0 ... steps
    trajectory.csv   step,<coefficient names>: the parameters at ~300 steps (spread evenly and
                     geometrically), for trajectories and animations
    points.csv       x,y: the data (at most 2000 points, evenly strided), for the figures
    surface.json     the loss surface: optimum, its loss, the Hessian's eigenvalues and
                     eigenvectors, the loss scale, the basis and domain
    model.json       the learned polynomial (see ``modelfile``)
    report.txt       the fit report, as printed
    batches.csv      with --batch-size: step,batch_loss, the loss of the batch each update saw
    input.json       with --data FILE: the file's absolute path, size and SHA-256 (see ``load_result``)
    initial.png      the seed's 'y true' / 'y pred' figure for the random initial polynomial
    trained.png      the same for the trained polynomial
    status.json      running (with the process id) from the start, then completed, diverged,
                     interrupted or failed (with the phase or the error); a run killed midway
                     keeps "running" with a dead pid
    summary.json     what ``--json`` prints; written after every other file, so its presence
                     marks the run complete (status.json's final status follows it)

Everything a figure shows is in these files, so ``sinefit plot RUN`` redraws from them alone.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..api import FitResult, from_run
from ..config import FitConfig
from . import configfile, figures, modelfile
from .safefile import write_json, write_text

RUN_NAME = re.compile(r"^(?P<kind>[a-z]+)-(?P<n>\d+)$")


def create_run_dir(root: Path, kind: str = "fit", files: dict[str, str] | None = None) -> Path:
    """Make a new ``root/kind-NNNN`` holding ``files`` ({name: text}) from its first moment: never
    an existing one, even with rivals racing, and never seen empty or half-made by a reader.

    The files are written into a hidden temporary directory beside it, which is then renamed
    to the first free number (a rename onto a rival's non-empty directory fails, so the next
    number is tried).
    """
    if os.path.lexists(root) and not root.is_dir():  # mkdir would say "File exists", which misleads
        what = "a dangling symlink" if root.is_symlink() and not root.exists() else "a file, not a directory"
        raise NotADirectoryError(errno.ENOTDIR, f"it is {what} (--out takes a directory)", str(root))
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", suffix=".tmp", dir=root))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for name, text in (files or {}).items():
            write_text(tmp / name, text)
        taken = [int(m["n"]) for p in root.iterdir() if (m := RUN_NAME.match(p.name)) and m["kind"] == kind]
        n = max(taken, default=0) + 1
        while True:
            path = root / f"{kind}-{n:04d}"
            if not os.path.lexists(path):
                try:
                    os.rename(tmp, path)
                    return path
                except OSError as e:
                    if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                        raise
            n += 1
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def history_csv(losses: np.ndarray, steps: np.ndarray | None = None) -> str:
    """step,loss rows; floats in repr so they read back exactly ('inf'/'nan' at divergence).
    ``steps``: the step of each loss (a decimated history); by default 0, 1, 2, ..."""
    at = range(len(losses)) if steps is None else (int(t) for t in steps)
    lines = ["step,loss"] + [f"{t},{float(v)!r}" for t, v in zip(at, losses)]
    return "\n".join(lines) + "\n"


def batches_csv(batch_losses: np.ndarray, steps: np.ndarray | None = None) -> str:
    """step,batch_loss rows: the loss of the batch update `step` saw, before it (floats in repr);
    ``steps``: the update of each (a long run keeps those of its history's kept steps)."""
    at = range(len(batch_losses)) if steps is None else (int(t) for t in steps)
    lines = ["step,batch_loss"] + [f"{t},{float(v)!r}" for t, v in zip(at, batch_losses)]
    return "\n".join(lines) + "\n"


def finite_or_none(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def summary(result: FitResult, run_dir: Path | None, hint: str) -> dict[str, Any]:
    """The machine-readable account of a fit: what ``--json`` prints."""
    q, s = result.quadratic, result.statistics
    with np.errstate(all="ignore"):
        power = result.model.power_coefficients
    return _finite_json({  # strict JSON: a non-finite number is null
        "sinefit_version": __version__,
        "status": result.status,
        "config": result.config.to_dict(),
        "target": result.dataset.target,
        "engine": result.engine,
        "lr": result.lr,
        "momentum": result.momentum,
        "logged": [[t, finite_or_none(v)] for t, v in result.logged],
        "coefficients": result.coefficients.as_dict(),
        "power_coefficients": _in_order(result, dict(zip(_power_names(result), map(float, power)))),
        "stderr": _in_order(result, dict(zip(result.model.names, map(finite_or_none, s.stderr)))),
        "power_stderr": _in_order(result, dict(zip(_power_names(result), map(finite_or_none, _power_stderr(result))))),
        "initial_coefficients": result.initial.as_dict(),
        "formula": result.formula(17),
        "final_loss": finite_or_none(result.final_loss),
        "diverged_at": result.diverged_at,
        "interrupted_at": result.interrupted_at,
        "converged_at": result.converged_at,
        "optimum": {"coefficients": result.optimum.as_dict(), "loss": q.optimum_loss},
        "loss_ratio": finite_or_none(result.advice.ratio),
        "gap": finite_or_none(result.advice.gap),  # final / optimum - 1 (0 at the optimum to round-off)
        "at_optimum_to_roundoff": result.advice.at_roundoff,
        "rank": q.rank if q.rank is not None else q.p,
        "statistics": {
            "n": s.n, "sse": finite_or_none(s.sse), "mse": finite_or_none(s.mse), "rmse": finite_or_none(s.rmse),
            "r2": finite_or_none(s.r2), "max_error": finite_or_none(s.max_error), "max_error_at": s.max_error_at,
            "aic": finite_or_none(s.aic), "bic": finite_or_none(s.bic),
        },  # fmt: skip
        "stable_lr": result.advice.bound,  # the bound of the optimizer that ran (None: it has none)
        "stable_lr_gd": q.stable_lr,
        "fastest_lr": q.fastest_lr,
        "condition_number": finite_or_none(q.condition_number),
        "hessian_eigenvalues": [float(v) for v in q.eigenvalues],
        "auto_lr": None if result.auto is None else {
            "lr": result.auto.lr, "momentum": result.auto.momentum,
            "steps_to_1e-6": finite_or_none(result.auto.steps_to_1e6),
        },  # fmt: skip
        "hint": hint,
        "run_dir": str(run_dir) if run_dir is not None else None,
    })


def _in_order(result: FitResult, by_name: dict) -> dict:
    """A dict built highest power first, in the naming order in force (constant first when ascending)."""
    return dict(reversed(by_name.items())) if result.model.order == "ascending" else by_name


def _power_stderr(result: FitResult):
    from ..report import power_stderr

    return power_stderr(result)


def _power_names(result: FitResult) -> list[str]:
    from ..basis import names

    return names("power", result.model.degree, result.model.order)


POINTS_SHOWN = 2000


def trajectory_csv(result: FitResult) -> str:
    """step,<names> rows; at least step 0 (a fit that diverged at once still started somewhere)."""
    lines = ["step," + ",".join(result.model.names)]
    steps, rows = result.snapshot_steps, result.snapshots
    if len(steps) == 0:
        steps, rows = [0], [result.initial.coefficients]
    lines += [f"{int(t)}," + ",".join(repr(float(v)) for v in row) for t, row in zip(steps, rows)]
    return "\n".join(lines) + "\n"


def points_csv(result: FitResult) -> str:
    x = result.dataset.x.double().cpu().numpy()
    y = result.dataset.y.double().cpu().numpy()
    stride = max(1, -(-len(x) // POINTS_SHOWN))
    return "x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x[::stride], y[::stride]))


def surface_document(result: FitResult) -> dict[str, Any]:
    q, cfg = result.quadratic, result.config
    return {
        "basis": cfg.basis,
        "degree": cfg.degree,
        "domain": list(result.dataset.domain),
        "loss": cfg.loss,
        "quadratic": q.quadratic,
        "scale": q.scale,
        "optimum": [float(v) for v in q.optimum],
        "optimum_loss": q.optimum_loss,
        "eigenvalues": [float(v) for v in q.eigenvalues],
        "eigenvectors": np.asarray(q.directions, dtype=np.float64),  # column i: eigenvector i; rows on write
        "optimizer": cfg.optimizer,
        "lr": result.lr,
        "momentum": result.momentum,
        "steps": cfg.steps,
        "diverged_at": result.diverged_at,
        "target": result.dataset.target,
        "n": result.dataset.size,
    }


def start_run(root: Path, config: FitConfig, kind: str = "fit") -> Path:
    """Make the run directory before the first step: its config, and a status saying it runs."""
    settings = {"sinefit_version": __version__, **config.to_dict()}
    files = {"config.toml": configfile.to_toml(settings), "status.json": status_text("running")}
    digest = input_document(config)
    if digest is not None:
        import json

        files["input.json"] = json.dumps(digest, indent=2) + "\n"
    return create_run_dir(root, kind, files)


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_document(config: FitConfig) -> dict[str, Any] | None:
    """input.json: the data file a fit read (absolute path, size, SHA-256), so a report rebuilt
    later reads the same file from anywhere, or says it changed. None without a local data file."""
    if config.data is None or not Path(config.data).is_file():
        return None
    path = Path(config.data).resolve()
    return {"data": config.data, "path": str(path), "bytes": path.stat().st_size, "sha256": _sha256(path)}


class DataChanged(Exception):
    """The data file a run was fitted to is gone or different: the report cannot be rebuilt."""


FINAL_STATUSES = ("completed", "diverged", "interrupted", "failed")


def status_text(status: str, **extra: Any) -> str:
    import datetime
    import json

    doc = {"status": status, "pid": os.getpid(), "time": datetime.datetime.now().astimezone().isoformat(), **extra}
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def write_status(run_dir: Path, status: str, **extra: Any) -> None:
    """status.json, replaced atomically: a reader sees the old status or the new one, whole."""
    write_text(run_dir / "status.json", status_text(status, **extra))


def end_unfinished(run_dir: Path, status: str, **extra: Any) -> bool:
    """Give a run still marked "running" (by this process) its final ``status``; True if it did."""
    import json

    try:
        doc = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict) or doc.get("status") != "running" or doc.get("pid") != os.getpid():
        return False
    write_status(run_dir, status, **extra)
    return True


SEED_FIGURES = ("initial", "trained")


def save_run(result: FitResult, root: Path, report_text: str, hint: str, **figure_options: Any) -> Path:
    """Write a fit's run directory under ``root`` and return its path."""
    run_dir = start_run(root, result.config)
    finish_run(run_dir, result, report_text, hint, **figure_options)
    return run_dir


def finish_run(
    run_dir: Path,
    result: FitResult,
    report_text: str,
    hint: str,
    figure_stems: tuple[str, ...] = SEED_FIGURES,
    fmt: str = "png",
    animate: str | None = None,
) -> None:
    """Write everything a finished (or diverged, or interrupted) fit leaves; summary.json last.

    The data files come first and the figures are drawn from them (as ``sinefit plot``
    redraws them): the seed's two by default, any of ``figures.FIGURE_STEMS`` on request,
    and an animation of the training in ``animate`` format (gif or mp4).
    """
    from .. import interrupts

    try:
        with interrupts.deferred("saving the run"):  # the data files: whole, whatever signal comes
            write_text(run_dir / "history.csv", history_csv(result.losses, result.history_steps))
            if result.minibatch is not None:  # the batch losses: `sinefit report` rebuilds [[Mini-batches]]
                write_text(run_dir / "batches.csv", batches_csv(result.minibatch.batch_losses,
                                                                  result.minibatch.steps))
            write_text(run_dir / "trajectory.csv", trajectory_csv(result))
            write_text(run_dir / "points.csv", points_csv(result))
            if result.trace is not None:  # --trace: the first steps in full
                from .. import trace

                write_text(run_dir / "trace.csv", trace.csv(result.trace, result.model.names,
                                                            result.model.order == "ascending"))  # fmt: skip
            write_text(run_dir / "surface.json", surface_text(surface_document(result)))
            if modelfile.writable(result):
                write_json(run_dir / "model.json", modelfile.document(result))
            write_text(run_dir / "report.txt", report_text + "\n")
        with interrupts.phase("writing the figures"):
            figures.plot_run(run_dir, fmt=fmt, only=figure_stems)
        if animate is not None:
            from . import animation, rundata

            with interrupts.phase("writing the animation"):
                animation.write_animation(rundata.load(run_dir), run_dir / f"training.{animate}", animate)
        with interrupts.deferred("saving the run"):
            write_json(run_dir / "summary.json", summary(result, run_dir, hint))
            write_status(run_dir, result.status, diverged_at=result.diverged_at, interrupted_at=result.interrupted_at)
    except Exception as e:  # the run ends marked, whatever failed; the error goes on to be reported
        end_unfinished(run_dir, "failed", error=(getattr(e, "strerror", None) or str(e))[:500])
        raise


def surface_text(doc: dict[str, Any]) -> str:
    """surface.json: indented, with each row of the (p, p) eigenvectors on one line. At degree 1000
    that matrix is a million numbers: json's indenting encoder is pure Python (5 s for them), its
    compact one is C, so the rows are encoded compactly and set into the indented rest."""
    V = np.asarray(doc["eigenvectors"], dtype=np.float64)
    rows = V.tolist() if np.all(np.isfinite(V)) else _finite_json(V.tolist())  # the check: no Python pass
    head = json.dumps(_finite_json({**doc, "eigenvectors": None}), indent=2, allow_nan=False)
    body = ",\n    ".join(json.dumps(r, allow_nan=False) for r in rows)
    # json escapes every quote inside a string, so this key with a null value occurs once, as the key
    return head.replace('"eigenvectors": null', '"eigenvectors": [\n    ' + body + "\n  ]", 1) + "\n"


def _finite_json(obj: Any) -> Any:
    """JSON has no inf or NaN: they become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    return obj


def _same_input(run_dir: Path, data: str) -> str:
    """The data file to re-read for a report: the one input.json names, if its bytes are unchanged."""
    import json

    try:
        doc = json.loads((run_dir / "input.json").read_text(encoding="utf-8"))
        path, digest = Path(doc["path"]), doc["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return data  # a run without input.json (older, or not a local file): as before
    if not path.is_file():
        raise DataChanged(f"the data file {path} is gone")
    if path.stat().st_size != doc.get("bytes") or _sha256(path) != digest:
        raise DataChanged(f"the data file {path} changed since the fit (its SHA-256 differs)")
    return str(path)


def load_result(run_dir: str | Path) -> FitResult:
    """Rebuild a saved fit's result from its files (config, model, history), without training."""
    from . import rundata

    run = rundata.load(run_dir)
    if run.model is None:
        raise rundata.RunDataError(f"{run.path / 'model.json'}: missing (the fit ended without finite coefficients)")
    summary = run.summary or {}
    config = dict(run.config)
    if config.get("data") is not None:
        config["data"] = _same_input(run.path, config["data"])
    result = from_run(
        FitConfig.from_dict(config), run.model.coefficients, np.array(run.losses), run.diverged_at,
        summary.get("interrupted_at"), np.array(run.steps),
    )  # fmt: skip
    if result.config.batch_size is not None:
        from .. import minibatch

        steps, batches = rundata.read_batches(run.path / "batches.csv", run.last_step)
        mb = minibatch.MiniBatchRun(result.config.batch_size, run.n, batches, steps, run.last_step)
        result = dataclasses.replace(result, minibatch=mb)
    return result
