"""A sweep on disk: ``runs/sweep-0001/`` with its settings, one CSV row per configuration and a heatmap.

    config.toml    the fixed settings, and the swept axes as lists
    sweep.csv      one row per configuration: settings, final loss, gap to the optimum,
                   diverged or not, step of divergence
    sweep.png      a heatmap of the gap to the optimum over lr and the second swept setting
                   (a line chart of the final loss when one setting is swept)
    best.png       the loss curves of the best few configurations, refitted one by one
    summary.json   the best configurations and the timing; written after the rest: marks the sweep complete
    status.json    running (with the process id) from the first moment, then completed,
                   interrupted or failed, as a fit's (see ``runs``)
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .._version import __version__
from ..sweep import Curve, SweepResult
from ..sweeptable import Table
from . import figures
from .configfile import to_toml
from .runs import create_run_dir, finite_or_none
from .safefile import write_json, write_text

OUTCOME = ["final_loss", "optimum_loss", "gap", "diverged", "diverged_at", "lr_used", "stable_lr", "aic", "bic"]


def sweep_csv(result: SweepResult) -> str:
    buf = io.StringIO()
    names = list(result.axes) + OUTCOME
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    if isinstance(result.rows, Table):  # column by column, a chunk of rows at a time (the writer: "" for None, repr of floats)
        for index in result.rows.chunks():
            writer.writerows(zip(*result.rows.lists(names, index)))
        return buf.getvalue()
    for row in result.rows:
        writer.writerow(["" if row.get(n) is None else repr(row[n]) if isinstance(row[n], float) else row[n]
                         for n in names])  # fmt: skip
    return buf.getvalue()


def heatmap(result: SweepResult) -> Figure:
    """log10(loss / optimum) over lr (x) and the second swept setting (y); diverged cells marked.

    Where more than two settings are swept, each cell shows the best over the others.
    """
    swept = result.swept
    if len(swept) <= 1:
        return _line_chart(result, swept[0] if swept else None)
    if set(result.axes.get("optimizer", [result.base.optimizer])) == {"exact"}:
        return _optimum_map(result)
    x_name = "lr" if "lr" in swept else swept[0]
    others = [n for n in swept if n != x_name]
    y_name = others[0] if others else None
    xs = result.axes.get(x_name, [getattr(result.base, x_name)])
    ys = result.axes.get(y_name, [None]) if y_name else [None]
    # Column by column (a sweep may hold 10^6 configurations): each row's cell, its gap, the best per cell.
    n = len(result.rows)
    cell = _positions(result, y_name, ys) * len(xs) + _positions(result, x_name, xs) if y_name else _positions(result, x_name, xs)
    bad = result.column("diverged").astype(bool)
    final, optimum = _floats(result, "final_loss"), _floats(result, "optimum_loss")
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(optimum > 0, np.log10(np.maximum(final / optimum, 1.0)), 0.0)
    value = np.full(len(ys) * len(xs), np.nan)
    np.fmin.at(value, cell[~bad], gap[~bad])  # the best over the other settings; NaN where none settled
    cells = len(ys) * len(xs)
    diverged = (np.bincount(cell[bad], minlength=cells) > 0) & (np.bincount(cell[~bad], minlength=cells) == 0)
    value, diverged = value.reshape(len(ys), len(xs)), diverged.reshape(len(ys), len(xs))
    lr_used = np.nan_to_num(_floats(result, "lr_used"), nan=0.0)
    stable = _floats(result, "stable_lr")
    bound = np.where(np.isnan(stable) | (stable == 0), math.inf, stable)

    fig = Figure(figsize=(7.5, 5.2), layout="constrained")
    ax = fig.add_subplot()
    numeric_x = _numeric(x_name, xs)
    numeric_y = _numeric(y_name, ys)
    x_edges = _edges(xs, log=x_name == "lr") if numeric_x else np.arange(len(xs) + 1) - 0.5
    y_edges = _edges(ys, log=y_name == "lr") if numeric_y else np.arange(len(ys) + 1) - 0.5
    # Scale the colours to the configurations that settle; growing ones (an lr above the
    # stable bound that has not overflowed yet) would flatten everything else, so they get
    # the 'over' colour.
    settled = gap[~bad & (optimum > 0) & (lr_used <= bound)]
    finite = value[np.isfinite(value)]
    vmax = float(np.max(settled)) if settled.size else (float(finite.max()) if finite.size else 1.0)
    cmap = plt_colormap("viridis").with_extremes(over="#ff7f0e")
    mesh = ax.pcolormesh(x_edges, y_edges, value, cmap=cmap, shading="flat", vmin=0.0, vmax=max(vmax, 1e-12))
    over = bool(finite.size and finite.max() > vmax)
    fig.colorbar(mesh, ax=ax, label="log10(final loss / optimum)   (0 = at the optimum)", extend="max" if over else "neither")
    if diverged.any():
        ax.pcolormesh(x_edges, y_edges, np.where(diverged, 1.0, np.nan), cmap=ListedColormap(["#d62728"]),
                      shading="flat", hatch="xx", alpha=0.85)  # fmt: skip
    if x_name == "lr" and numeric_x:
        ax.set_xscale("log")
        # Each y row's own optimizer's bound (stability.bound), drawn across that row only.
        drawn = False
        known = ~np.isnan(stable)
        y_of = cell[known] // len(xs)
        pairs = np.unique(np.stack([y_of.astype(np.float64), stable[known]], axis=1), axis=0) if known.any() else np.empty((0, 2))
        for i in range(len(ys)):
            for b in pairs[pairs[:, 0] == i, 1].tolist():
                if not x_edges[0] <= b <= x_edges[-1]:  # past the swept lrs: said at that edge of the row
                    right = b > x_edges[-1]
                    ax.text(x_edges[-1] if right else x_edges[0], 0.5 * (y_edges[i] + y_edges[i + 1]),
                            f"stable bound {b:.3g} →" if right else f"← stable bound {b:.3g}",
                            ha="right" if right else "left", va="center", fontsize="small", color="white",
                            bbox={"facecolor": "black", "alpha": 0.55, "edgecolor": "none", "pad": 2})  # fmt: skip
                    continue
                ax.plot([b, b], [y_edges[i], y_edges[i + 1]], color="black", ls="--", lw=1.5,
                        label=None if drawn else "stable lr bound of each row's optimizer")  # fmt: skip
                drawn = True
    if not numeric_x:
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    if y_name is None:
        ax.set_yticks([])
    elif not numeric_y:
        ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name or "")
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if over:
        handles.append(Patch(facecolor="#ff7f0e", label="growing (lr above the stable bound)"))
    if diverged.any():
        handles.append(Patch(facecolor="#d62728", hatch="xx", label="diverged (loss overflowed)"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize="small")
    if x_name == "lr" and numeric_x:  # the swept lrs only: a bound past them is said at the edge
        ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_title(f"sweep of {n} configurations: gap to the optimum ({result.base.steps} steps)")
    return fig


def _optimum_map(result: SweepResult) -> Figure:
    """Exact solves have no gap to draw (each is the optimum): the optimum's loss over the two swept
    settings instead, log10, the BIC-best cell outlined where degree is swept."""
    swept = result.swept
    x_name = "degree" if "degree" in swept else swept[0]
    y_name = next(n for n in swept if n != x_name)
    xs, ys = result.axes[x_name], result.axes[y_name]
    cell = _positions(result, y_name, ys) * len(xs) + _positions(result, x_name, xs)
    final = _floats(result, "final_loss")
    with np.errstate(divide="ignore"):
        loss = np.log10(np.maximum(final, np.finfo(np.float64).tiny))
    value = np.full(len(ys) * len(xs), np.nan)
    np.fmin.at(value, cell, loss)  # the best over any other swept setting
    value = value.reshape(len(ys), len(xs))
    fig = Figure(figsize=(7.5, 5.2), layout="constrained")
    ax = fig.add_subplot()
    numeric_x = _numeric(x_name, xs)
    x_edges = _edges(xs, log=x_name == "lr") if numeric_x else np.arange(len(xs) + 1) - 0.5
    y_edges = np.arange(len(ys) + 1) - 0.5
    mesh = ax.pcolormesh(x_edges, y_edges, value, cmap=plt_colormap("viridis"), shading="flat")
    fig.colorbar(mesh, ax=ax, label="log10(loss at the optimum)")
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    if not numeric_x:
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    if x_name == "degree":
        bic = _floats(result, "bic")
        if np.isfinite(bic).any():
            best = int(cell[int(np.nanargmin(bic))])
            i, j = divmod(best, len(xs))
            from matplotlib.patches import Rectangle

            ax.add_patch(Rectangle((x_edges[j], y_edges[i]), x_edges[j + 1] - x_edges[j], 1.0, fill=False,
                                   edgecolor="#d62728", lw=2.5, label="lowest BIC"))  # fmt: skip
            ax.legend(loc="upper right", fontsize="small")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_title(f"sweep of {len(result.rows)} exact solves: the loss of the best fit of each")
    return fig


def _positions(result: SweepResult, name: str, values: list[Any]) -> np.ndarray:
    """Each row's position in ``values``, the axis ``name``'s list."""
    if isinstance(result.rows, Table):
        return result.rows.codes(name, np.arange(len(result.rows)))
    index = {v: i for i, v in enumerate(values)}
    return np.array([index[r.get(name, values[0])] for r in result.rows], dtype=np.int64)


def _floats(result: SweepResult, name: str) -> np.ndarray:
    """An outcome of every row as floats, NaN where it is None."""
    col = result.column(name)
    return np.array([math.nan if v is None else v for v in col], dtype=np.float64) if col.dtype == object else col.astype(np.float64)


def best_curves(result: SweepResult, curves: list[Curve]) -> Figure:
    """Loss against step for the best few configurations (``SweepResult.best_curves``: fitted again
    by the sweep, since it keeps only final losses), each with its optimum dashed."""
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for k, curve in enumerate(curves):
        label = ", ".join(f"{n} {v:.3g}" if isinstance(v, float) else f"{n} {v}" for n, v in curve.settings.items())
        ax.plot(curve.steps + 1, curve.losses, color=f"C{k}", label=f"#{k + 1}: {label}")
        ax.axhline(curve.optimum_loss, color=f"C{k}", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step + 1 (log scale)")
    ax.set_ylabel(f"{LOSS_LABEL.get(result.base.loss, 'loss')} (log scale)")
    ax.set_title(f"the best {len(curves)} of {len(result.rows)} configurations (dashed: their optima)")
    ax.grid(alpha=0.3, which="both")
    if curves:
        ax.legend(fontsize="small")
    return fig


def _line_chart(result: SweepResult, x_name: str | None) -> Figure:
    """One swept setting: the final loss against it, beside the optimum, divergence marked."""
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    rows = result.rows
    labels = [r.get(x_name) if x_name else "" for r in rows]
    numeric = _numeric(x_name, labels)
    xs = np.array(labels, dtype=np.float64) if numeric else np.arange(len(rows), dtype=np.float64)
    final = np.array([np.nan if r["diverged"] else r["final_loss"] for r in rows])
    bad = np.array([r["diverged"] for r in rows])
    # Growing configurations (lr above the stable bound, not yet overflowed) would stretch the
    # axis over hundreds of decades: they are drawn at its top instead.
    growing = ~bad & np.array([(r.get("lr_used") or 0) > (r["stable_lr"] or math.inf) for r in rows])
    settled = final[~bad & ~growing]
    top = float(np.nanmax(settled)) * 10 if settled.size and np.isfinite(settled).any() else 10.0
    ax.plot(xs[~growing], final[~growing], "o-", color="C0", label="final loss")
    ax.plot(xs, [r["optimum_loss"] for r in rows], "--", color="C2", label="optimum (least squares)")
    if growing.any():
        ax.plot(xs[growing], np.full(growing.sum(), top), "^", color="#ff7f0e", ms=8,
                label="growing (lr above the stable bound)")  # fmt: skip
    if bad.any():
        ax.plot(xs[bad], np.full(bad.sum(), top), "x", color="#d62728", ms=9, mew=2, label="diverged")
    if x_name == "lr" and numeric:
        ax.set_xscale("log")
        if rows[0].get("stable_lr") is not None:
            ax.axvline(rows[0]["stable_lr"], color="black", ls=":",
                       label=f"stable lr bound ({rows[0].get('optimizer', result.base.optimizer)})")  # fmt: skip
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in labels])
    ax.set_yscale("log")
    ax.set_xlabel(x_name or "configuration")
    ax.set_ylabel(f"{LOSS_LABEL.get(result.base.loss, 'loss')} after {result.base.steps} steps")
    ax.set_title(f"sweep of {len(rows)} configurations: final loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


LOSS_LABEL = {"sse": "sum of squared errors", "mse": "mean squared error", "huber": "Huber loss"}


def _numeric(name: str | None, values: list[Any]) -> bool:
    """An axis drawn to scale: a numeric setting whose values are all numbers (lr may hold "auto")."""
    return name in ("lr", "momentum", "seed", "degree") and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )


def plt_colormap(name: str):
    return colormaps[name]


def _edges(values: list[Any], log: bool) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 1:
        return np.array([v[0] / 1.5, v[0] * 1.5]) if log and v[0] > 0 else np.array([v[0] - 0.5, v[0] + 0.5])
    w = np.log(v) if log else v
    mid = (w[1:] + w[:-1]) / 2
    edges = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    return np.exp(edges) if log else edges


def save_sweep(result: SweepResult, root: Path, top: int, curves: list[Curve]) -> Path:
    """Write the sweep's directory (status.json "running" from its first moment, like a fit's), its
    figure of the best rows drawn from ``curves`` (``result.best_curves()``)."""
    from .. import interrupts
    from .runs import end_unfinished, status_text, write_status

    settings = {"sinefit_version": __version__, **result.base.to_dict(), **{k: list(v) for k, v in result.axes.items()}}
    run_dir = create_run_dir(root, "sweep", {"config.toml": to_toml(settings), "status.json": status_text("running")})
    interrupts.working_on(run_dir)
    try:
        with interrupts.phase("writing the sweep"):
            write_text(run_dir / "sweep.csv", sweep_csv(result))
            figures.save(heatmap(result), run_dir / "sweep.png")
            figures.save(best_curves(result, curves), run_dir / "best.png")
        with interrupts.deferred("saving the sweep"):
            write_json(run_dir / "summary.json", summary(result, run_dir, top))
            write_status(run_dir, "completed")
    except Exception as e:
        end_unfinished(run_dir, "failed", error=(getattr(e, "strerror", None) or str(e))[:500])
        raise
    return run_dir


def summary(result: SweepResult, run_dir: Path | None, top: int) -> dict[str, Any]:
    def clean(row: dict[str, Any]) -> dict[str, Any]:
        return {k: finite_or_none(v) if isinstance(v, float) else v for k, v in row.items()}

    from .runs import _finite_json

    return _finite_json({
        "sinefit_version": __version__,
        "configurations": len(result.rows),
        "diverged": int(np.count_nonzero(result.column("diverged").astype(bool))),
        "seconds": result.seconds,
        "axes": result.axes,
        "best": [clean(r) for r in result.best(top)],
        "run_dir": str(run_dir) if run_dir is not None else None,
    })
