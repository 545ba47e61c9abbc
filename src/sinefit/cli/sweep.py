"""`sinefit sweep`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

from .. import interrupts
from .common import Failure, _check_mlflow, _quoted, _track
from . import options
from .options import Opt, Spec, option, setting
from .progress import Progress


def axis(name: str, help: str, *decls: str) -> Spec:  # noqa: A002
    """A swept setting: its values as typed (a range or a list), for ``parse_axis``."""
    return Spec(name, Annotated[Optional[str], Opt(*decls, help=help)], None, "axes")


@options.command(
    axis("lr", "Learning rates: 1e-7:1e-5:50 (log-spaced), a list 1e-6,2e-6, or one; 'auto' for the textbook step."),
    axis("seed", "Seeds: 0:99 (every integer), or a list 0,5,7."),
    axis("degree", "Degrees: 3:9 or 3,5,7."),
    axis("optimizer", "Optimizers: a list, e.g. gd,momentum,adam."),
    axis("basis", "Bases: a list, e.g. power,legendre."),
    axis("momentum", "Momenta: 0.5:0.99:10 (evenly spaced), or a list."),
    "config", "target", "data", "columns", "domain", "samples", "noise", "loss", "huber_delta", "grad", "steps",
    setting("dtype", str, "Working precision: float64 (the default for sweeps: the stats engine) or float32 (per-sample, slower)."),
    "engine", "device",
    axis("batch_size", "Mini-batch sizes to sweep, e.g. 1,10,100,1000 (one fit each, on the per-sample engine).", "--batch-size"),
    setting("init", str, "Where every configuration starts, drawn with its own --seed: randn (the seed's draw, highest power first), randn-ascending, numpy, linear, zeros, values '0.5,-1,0,2' in the naming order, or a model.json / run directory (a warm start). [default: randn]"),
    "order",
    option("top", int, 10, "How many of the best configurations to print (and log to MLflow as child runs)."),
    "out", "mlflow", "mlflow_experiment", "quiet", "as_json",
)  # fmt: skip
def sweep(*, axes: dict[str, Optional[str]], typed: dict[str, Any], config: Optional[Path], top: int, out: Path,
          mlflow: Optional[str], mlflow_experiment: str, quiet: bool, as_json: bool) -> None:  # fmt: skip
    """Run many configurations as one batched computation; print the best, write sweep.csv and a heatmap."""
    from ..io import sweeps
    from ..sweep import parse_axis
    from ..sweep import sweep as run_sweep

    axes = {name: parse_axis(f"--{name.replace('_', '-')}", text) for name, text in axes.items() if text is not None}
    if "lr" in axes:
        axes["lr"] = ["auto" if str(v) == "auto" else v for v in axes["lr"]]
    settings = options.settings(config, {**typed, "dtype": typed["dtype"] or "float64"})
    base = options.validated(config, typed, {k: v for k, v in settings.items() if k not in axes})
    _check_mlflow(mlflow)
    if top < 1:
        from ..config import ConfigError

        raise ConfigError("--top", f"must be 1 or more, got {top}")
    talk = not (quiet or as_json)
    progress = Progress("configurations", talk)
    try:
        with interrupts.phase("sweeping"):
            result = run_sweep(base, on_progress=progress, **axes)
            curves = result.best_curves()  # the best rows' histories, for best.png
    finally:
        progress.close()
    try:
        run_dir = sweeps.save_sweep(result, out, top, curves)
    except OSError as e:
        raise Failure(f"cannot write the sweep directory under {out}: {e.strerror or e}") from None
    tracked = _track(mlflow, mlflow_experiment, quiet, lambda tracking, uri: tracking.log_sweep(
        result, run_dir, uri, mlflow_experiment, children=top))  # fmt: skip
    if as_json:
        print(json.dumps({**sweeps.summary(result, run_dir, top), **tracked}, indent=2))
        return
    if talk:
        print(_sweep_table(result, top))
        print(f"\nWrote {_quoted(run_dir)}/: config.toml, sweep.csv, sweep.png, best.png, summary.json, status.json")


def _sweep_table(result, top: int) -> str:
    import numpy as np

    names = list(result.axes)
    diverged = int(np.count_nonzero(result.column("diverged").astype(bool)))
    lines = [
        f"sinefit sweep: {len(result.rows)} configurations in {result.seconds:.3g} s, {diverged} diverged",
        f"best {min(top, len(result.rows))} by final loss:",
        "  " + "".join(f"{n:>12}" for n in names) + f"{'final loss':>16}{'gap':>12}{'diverged':>10}",
    ]
    by_degree = "degree" in names
    if by_degree:  # model choice: AIC and BIC beside the loss, the BIC-best marked
        lines[-1] += f"{'AIC':>12}{'BIC':>12}"
        bic = result.column("bic").astype(np.float64)  # from the columns: no row built but the best
        finite = np.flatnonzero(~result.column("diverged").astype(bool) & ~np.isnan(bic))
        best_bic = result.rows[int(finite[np.argmin(bic[finite])])] if finite.size else None
    for r in result.best(top):
        cells = "".join(f"{r[n]:>12.4g}" if isinstance(r[n], float) else f"{r[n]!s:>12}" for n in names)
        state = f"at {r['diverged_at']}" if r["diverged"] else "no"
        line = f"  {cells}{r['final_loss']:>16.8g}{r['gap']:>12.3g}{state:>10}"
        if by_degree:
            line += f"{r['aic']:>12.6g}{r['bic']:>12.6g}" + ("  <- BIC-best" if r == best_bic else "")
        lines.append(line)
    lines.append("  (gap: final loss / optimum - 1)")
    if by_degree and best_bic is not None:
        top_degree = max(int(d) for d in result.axes["degree"]) if "degree" in result.axes else None
        why = ("the highest degree swept: higher ones may do better still" if best_bic["degree"] == top_degree else
               "more coefficients than that fit the noise, not the curve")  # fmt: skip
        lines.append(f"  lowest BIC: degree {best_bic['degree']} (BIC {best_bic['bic']:.6g}): {why}")
    return "\n".join(lines)
