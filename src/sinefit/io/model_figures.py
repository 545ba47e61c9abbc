"""Figures of a model fit, drawn from its result: the seed's two, overlay, loss, parameter paths,
the loss contour over two parameters with the path on it, and the training animation.

Built on ``matplotlib.figure.Figure`` (never pyplot): nothing needs a display or stays open.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ..nonlinear.fit import ModelFitResult
from . import figures

FIT_COLOR, INITIAL_COLOR, LM_COLOR, DATA_COLOR = "C0", "C1", "k", "0.55"


def _sorted(result: ModelFitResult) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(result.x, kind="stable")
    stride = max(1, len(order) // 2000)
    return result.x[order][::stride], result.y[order][::stride]


def _curve(values: np.ndarray, result: ModelFitResult, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return result.expression(torch.as_tensor(np.asarray(values, dtype=np.float64)), torch.as_tensor(x)).numpy()


def seed_pair(result: ModelFitResult) -> tuple[Figure, Figure]:
    x, y = _sorted(result)
    cfg = result.config
    what = f"model {result.expression.text}"
    initial = figures.seed_figure(x, y, _curve(result.initial.values, result, x), f"initial {what}")
    how = "lm" if cfg.optimizer == "lm" else f"{cfg.optimizer}, lr {result.lr:.3g}"
    trained = figures.seed_figure(x, y, _curve(result.model.values, result, x),
                                  f"trained {what}: {how}, {result.last_step} steps, loss {result.final_loss:.4g}")
    return initial, trained


def overlay(result: ModelFitResult) -> Figure:
    fig = Figure(figsize=(7.2, 6.0))
    fig.subplots_adjust(left=0.11, right=0.97, top=0.93, bottom=0.09, hspace=0.13)
    gs = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax, res = fig.add_subplot(gs[0]), None
    res = fig.add_subplot(gs[1], sharex=ax)
    xs, ys = _sorted(result)
    grid = np.linspace(float(xs.min()), float(xs.max()), 400)
    initial, fitted = _curve(result.initial.values, result, grid), _curve(result.model.values, result, grid)
    best = _curve(result.reference_best, result, grid)
    limits = figures.view_limits([ys, best], [fitted])
    ax.scatter(xs, ys, s=4, color=DATA_COLOR, alpha=0.5, linewidths=0, label=f"data: {result.target} ({len(result.x)} points)")
    label = "initial" + (f": clipped, {figures.reach_text(initial)}" if figures.off_scale(initial, limits) else "")
    ax.plot(grid, initial, color=INITIAL_COLOR, ls=":", lw=1.6, label=label)
    ax.plot(grid, fitted, color=FIT_COLOR, lw=2.2, label=f"fitted ({result.config.optimizer}), loss {result.final_loss:.4g}")
    ax.plot(grid, best, color=LM_COLOR, ls="--", lw=1.3, label=f"best found by lm, loss {result.reference_loss:.4g}")
    ax.set_ylim(*limits)
    ax.set_ylabel("y")
    ax.set_title(f"y = {result.expression.text}", fontsize="medium")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)
    res.axhline(0.0, color="0.3", lw=0.8)
    res.plot(xs, _curve(result.model.values, result, xs) - ys, ".", ms=2.5, color=FIT_COLOR, label="fit − data")
    res.plot(xs, _curve(result.reference_best, result, xs) - ys, ".", ms=2.5, color=LM_COLOR, label="lm − data")
    res.set_ylabel("residual")
    res.set_xlabel("x")
    res.legend(loc="upper right", fontsize="small", ncol=2, markerscale=3)
    res.grid(alpha=0.3)
    return fig


def loss(result: ModelFitResult) -> Figure:
    fig = Figure(figsize=figures.RUN_FIGSIZE)
    fig.subplots_adjust(left=0.12, right=0.96, top=0.91, bottom=0.11)
    ax = fig.add_subplot()
    steps = result.steps
    ok = np.isfinite(result.losses) & (result.losses > 0)
    ax.plot(steps[ok], result.losses[ok], color=FIT_COLOR, lw=1.8, label=f"{result.config.loss} loss ({result.config.optimizer})")
    if result.reference_loss > 0 and math.isfinite(result.reference_loss):
        ax.axhline(result.reference_loss, color=LM_COLOR, ls="--", lw=1.2, label=f"best found by lm: {result.reference_loss:.4g}")
    ax.set_yscale("log")
    figures.set_step_axis(ax, max(len(steps) - 1, 1))
    ax.set_ylabel("loss (log scale)")
    ax.set_title(f"loss of y = {result.expression.text}", fontsize="medium")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(loc="upper right", fontsize="small")
    return fig


def parameters(result: ModelFitResult) -> Figure:
    fig = Figure(figsize=figures.RUN_FIGSIZE)
    fig.subplots_adjust(left=0.12, right=0.82, top=0.91, bottom=0.11)
    ax = fig.add_subplot()
    for j, name in enumerate(result.names):
        color = f"C{j % 10}"
        ax.plot(result.snapshot_steps, result.snapshots[:, j], color=color, lw=1.6, label=name,
                marker="." if len(result.snapshot_steps) < 30 else None)  # fmt: skip
        ax.axhline(result.reference_best[j], color=color, ls="--", lw=1.0, alpha=0.8)
    figures.set_step_axis(ax, max(int(result.snapshot_steps[-1]) if len(result.snapshot_steps) else 1, 1))
    values = np.concatenate([result.snapshots.ravel(), result.reference_best])
    values = values[np.isfinite(values)]
    if values.size and np.max(np.abs(values)) > 50 * max(np.min(np.abs(values[values != 0])) if np.any(values != 0) else 1, 1e-300):
        ax.set_yscale("symlog", linthresh=max(float(np.min(np.abs(values[values != 0]))), 1e-12))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="dashed: lm", title_fontsize="x-small")
    ax.set_title(f"parameters of y = {result.expression.text}", fontsize="medium")
    ax.set_ylabel("value")
    ax.grid(alpha=0.3, lw=0.5)
    return fig


def contour_pair(result: ModelFitResult) -> tuple[int, int]:
    """The two parameters whose plane shows most: the most strongly correlated pair, else the first two."""
    pairs = result.statistics.correlations(0.0)
    if pairs:
        return pairs[0][0], pairs[0][1]
    return 0, min(1, result.statistics.k - 1)


def contour(result: ModelFitResult, pair: tuple[int, int] | None = None, size: int = 70) -> Figure:
    """The loss over two parameters (the others at their fitted values), the path drawn over it."""
    fig = Figure(figsize=figures.RUN_FIGSIZE)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.11)
    ax = fig.add_subplot()
    k = result.statistics.k
    if k < 2:
        ax.text(0.5, 0.5, "one parameter: no plane to draw", ha="center", va="center", transform=ax.transAxes)
        return fig
    i, j = pair or contour_pair(result)
    path = result.snapshots[:, [i, j]]
    pts = np.vstack([path, result.reference_best[[i, j]][None], result.initial.values[[i, j]][None]])
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-3 * np.maximum(np.abs(hi), 1e-12))
    lo, hi = lo - 0.15 * span, hi + 0.15 * span
    a, b = np.meshgrid(np.linspace(lo[0], hi[0], size), np.linspace(lo[1], hi[1], size))
    theta = np.repeat(result.model.values[None], a.size, axis=0)
    theta[:, i], theta[:, j] = a.ravel(), b.ravel()
    with torch.no_grad():
        r = result.expression(torch.as_tensor(theta), torch.as_tensor(result.x)) - torch.as_tensor(result.y)
        z = (r * r).sum(-1).numpy()
    z = z / (len(result.x) if result.config.loss == "mse" else 1.0)
    z = np.where(np.isfinite(z), z, np.nan).reshape(a.shape)
    positive = z[np.isfinite(z) & (z > 0)]
    if positive.size:
        levels = np.geomspace(positive.min(), positive.max(), 25)
        if levels[-1] > levels[0]:
            cs = ax.contourf(a, b, z, levels=levels, norm=_log_norm(levels), cmap="viridis", alpha=0.85)
            fig.colorbar(cs, ax=ax, label=f"{result.config.loss} loss (log)", format="%.2g")
    ax.plot(path[:, 0], path[:, 1], color="w", lw=2.2)
    ax.plot(path[:, 0], path[:, 1], color="C3", lw=1.2, label=f"{result.config.optimizer} path")
    ax.plot(*result.initial.values[[i, j]], "o", color="C1", ms=7, label="start")
    ax.plot(*result.model.values[[i, j]], "s", color="C0", ms=6, label="end")
    ax.plot(*result.reference_best[[i, j]], "*", color="k", ms=11, label="lm's best")
    names = result.names
    ax.set_xlabel(names[i])
    ax.set_ylabel(names[j])
    others = [n for n in range(k) if n not in (i, j)]
    fixed = "; others at their fitted values" if others else ""
    ax.set_title(f"loss over ({names[i]}, {names[j]}){fixed}", fontsize="medium")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    return fig


def _log_norm(levels):
    from matplotlib.colors import LogNorm

    return LogNorm(vmin=levels[0], vmax=levels[-1])


DRAW = {"overlay": overlay, "loss": loss, "parameters": parameters, "contour": contour}


def write(result: ModelFitResult, run_dir: Path, stems, fmt: str = "png") -> list[Path]:
    paths = []
    wanted = ["initial", "trained", *DRAW] if "overlay" in stems else list(stems)
    pair = seed_pair(result) if {"initial", "trained"} & set(wanted) else None
    for stem in wanted:
        fig = pair[0] if stem == "initial" else pair[1] if stem == "trained" else DRAW[stem](result)
        path = run_dir / f"{stem}.{fmt}"
        figures.save(fig, path)
        paths.append(path)
    return paths


def animate(result: ModelFitResult, path: Path, fmt: str = "gif", frames: int = 60) -> Path:
    """The fitted curve moving from the start toward the data, one frame per recorded step."""
    from matplotlib.animation import FFMpegWriter, PillowWriter

    xs, ys = _sorted(result)
    grid = np.linspace(float(xs.min()), float(xs.max()), 300)
    picks = np.unique(np.linspace(0, len(result.snapshot_steps) - 1, min(frames, len(result.snapshot_steps))).round().astype(int))
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=4, color=DATA_COLOR, alpha=0.5, linewidths=0)
    curves = [_curve(result.snapshots[p], result, grid) for p in picks]
    ax.set_ylim(*figures.view_limits([ys], curves))
    (line,) = ax.plot(grid, curves[0], color=FIT_COLOR, lw=2)
    title = ax.set_title("")
    writer = PillowWriter(fps=10) if fmt == "gif" else FFMpegWriter(fps=10)
    tmp = path.with_name(f".{path.name}.tmp.{fmt}")
    with writer.saving(fig, str(tmp), dpi=80):
        for p, curve in zip(picks, curves):
            line.set_ydata(curve)
            title.set_text(f"y = {result.expression.text}: step {int(result.snapshot_steps[p])}")
            writer.grab_frame()
    tmp.replace(path)
    return path
