"""Figures drawn from fit results, as matplotlib Figure objects.

Figures are built with ``matplotlib.figure.Figure`` directly, never through
pyplot, so nothing here needs a display or leaves a figure open; only
:func:`show` (the CLI's ``--show``) touches pyplot.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..errors import InputError

if TYPE_CHECKING:
    from .rundata import RunData

SEED_FIGSIZE = (6.4, 6.4)


def seed_figure(x: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, title: str, fig: Figure | None = None) -> Figure:
    """The seed's 2x1 figure: 'y true' above, 'y pred' below, shared x."""
    # A fixed layout: a layout engine would cost more than drawing (this runs on every fit).
    fig = fig if fig is not None else Figure(figsize=SEED_FIGSIZE)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.89, bottom=0.08, hspace=0.35)
    top = fig.add_subplot(2, 1, 1)
    top.set_title("y true")
    top.plot(x, y_true)
    top.set_ylabel("y")
    bottom = fig.add_subplot(2, 1, 2, sharex=top)
    bottom.set_title("y pred")
    bottom.plot(x, y_pred, color="C1")
    bottom.set_xlabel("x")
    bottom.set_ylabel("y")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def save(fig: Figure, path: Path | Any) -> Path:
    """Write a figure through the one safe writer (see ``safefile``): a temporary file beside
    it, then renamed into place; ``path`` may be a checked ``safefile.Target``."""
    from .safefile import Target, write_with

    suffix = (path.path if isinstance(path, Target) else Path(path)).suffix.lstrip(".").lower()
    fmt = suffix if suffix in FORMATS else "png"  # a pipe or stdout has no suffix: PNG
    return write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=100))


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def show(draws: list[Callable[[Figure], Figure]]) -> bool:
    """Open each figure in a window; False (and nothing opened) where no display exists."""
    if not display_available():
        return False
    import matplotlib.pyplot as plt

    if plt.get_backend().lower() == "agg":
        return False
    try:
        for draw in draws:
            draw(plt.figure(figsize=SEED_FIGSIZE))
        plt.show()
    finally:
        plt.close("all")
    return True


# ---------------------------------------------------------------------------------------------
# Figures of a saved run, drawn from its files alone (``rundata.RunData``): ``sinefit plot RUN``.
# Each takes the run (and optionally a Figure to draw into, for ``show``) and returns the Figure.
# ---------------------------------------------------------------------------------------------

FORMATS = ("png", "svg", "pdf")
FIGURE_STEMS = ("initial", "trained", "overlay", "loss", "coefficients", "convergence")
RUN_FIGSIZE = (7.2, 5.4)
SYMLOG_AFTER = 1000  # more steps than this: a log step axis (see step_scale)
CLIP_FACTOR = 3.0  # a curve whose span exceeds this many times the data's is clipped, not fitted into view
DATA_COLOR, INITIAL_COLOR, FIT_COLOR, OPTIMUM_COLOR = "0.55", "C1", "C0", "k"


# -- small pure helpers -----------------------------------------------------------------------


def step_scale(last_step: int) -> str:
    """'symlog' (linear from 0 to 1, logarithmic beyond) for runs longer than SYMLOG_AFTER steps.

    Gradient descent on an ill-conditioned quadratic does most of its work in the first
    few steps (the stiff directions) and the rest over thousands (the flat ones). On a
    linear axis of 2000 steps the first ten are one pixel wide; a log axis gives every
    decade of steps the same width, so the fast start and the slow tail both show.
    Symlog rather than log keeps step 0 (the random initial polynomial) on the axis.
    """
    return "symlog" if last_step > SYMLOG_AFTER else "linear"


def set_step_axis(ax, last_step: int) -> None:
    if step_scale(last_step) == "symlog":
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
        ax.set_xlim(0, last_step * 1.15)
        ax.set_xlabel("step (log scale beyond 1)")
    else:
        ax.set_xlim(-0.02 * max(last_step, 1), last_step + 0.02 * max(last_step, 1))
        ax.set_xlabel("step")


def view_limits(base: Sequence[np.ndarray], extra: Sequence[np.ndarray] = (), factor: float = CLIP_FACTOR,
                pad: float = 0.08) -> tuple[float, float]:  # fmt: skip
    """y-limits showing every value in ``base`` (the data, the optimum) and each ``extra`` curve
    (the fit) whose span stays within ``factor`` times the base's; wilder curves get clipped."""
    values = [np.asarray(v, dtype=np.float64).ravel() for v in base]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] or [np.zeros(1)])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi)), 1e-12)
    for curve in extra:
        c = np.asarray(curve, dtype=np.float64)
        if np.all(np.isfinite(c)) and c.size:
            c_lo, c_hi = min(lo, float(c.min())), max(hi, float(c.max()))
            if c_hi - c_lo <= factor * span:
                lo, hi = c_lo, c_hi
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi)), 1e-12)
    return lo - pad * span, hi + pad * span


def off_scale(curve: np.ndarray, limits: tuple[float, float]) -> bool:
    c = np.asarray(curve, dtype=np.float64)
    return bool(np.any(~np.isfinite(c)) or c.max(initial=-np.inf) > limits[1] or c.min(initial=np.inf) < limits[0])


def outside(curve: np.ndarray, limits: tuple[float, float]) -> bool:
    """Whether no finite part of the curve lies within the view (only its legend entry would show it)."""
    c = np.asarray(curve, dtype=np.float64)
    c = c[np.isfinite(c)]
    return not np.any((c >= limits[0]) & (c <= limits[1]))


def reach_text(curve: np.ndarray) -> str:
    c = np.asarray(curve, dtype=np.float64)
    c = c[np.isfinite(c)]
    if not c.size:
        return "not finite"
    v = float(c[np.argmax(np.abs(c))])
    return f"reaches {v:.3g}"


def curve_x(run: RunData, count: int = 400) -> np.ndarray:
    """A dense grid over the domain (and the data, should it stray outside) for smooth curves."""
    lo = min(run.domain[0], float(run.x.min()))
    hi = max(run.domain[1], float(run.x.max()))
    return np.linspace(lo, hi, count)


def sorted_points(run: RunData) -> tuple[np.ndarray, np.ndarray]:
    """The data sorted by x (a data file's rows come in any order; lines need them sorted)."""
    order = np.argsort(run.x, kind="stable")
    return run.x[order], run.y[order]


def source_name(run: RunData) -> str:
    """What was fitted: the target expression ('sin(x)'), or the data file's name."""
    return run.target if run.config.get("data") is None else Path(run.target).name


def data_label(run: RunData) -> str:
    shown = len(run.x)
    count = f"{shown} points" if shown >= run.n else f"{shown} of {run.n} points"
    source = source_name(run)
    noise = run.config.get("noise") or 0.0
    if run.config.get("data") is None and noise > 0:
        source += f" + noise {noise:g}"
    return f"data: {source} ({count})"


def fmt_value(v: float | None, digits: int = 4) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def optimum_name(run: RunData) -> str:
    return "least-squares optimum" if run.quadratic else f"{run.loss} optimum"


def fit_label(run: RunData) -> str:
    """What the fitted curve is: after how many steps of what, at what loss; or where it diverged."""
    if run.diverged_at is not None:
        return (
            f"last finite step {run.final_index} (diverged at {run.diverged_at}), loss {fmt_value(run.final_loss, 3)}"
        )
    if run.optimizer == "exact":
        return f"fitted (exact solve), loss {fmt_value(run.final_loss)}"
    return f"fitted: {run.optimizer}, {run.last_step} steps, loss {fmt_value(run.final_loss)}"


def lr_text(run: RunData) -> str:
    if run.optimizer == "exact" or run.lr is None:
        return run.optimizer
    text = f"{run.optimizer}, lr {run.lr:.3g}"
    if run.momentum is not None and run.optimizer in ("momentum", "nesterov"):
        text += f", momentum {run.momentum:.3g}"
    return text


def _new(fig: Figure | None, figsize: tuple[float, float] = RUN_FIGSIZE) -> Figure:
    return fig if fig is not None else Figure(figsize=figsize)


def _positive(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v) & (v > 0)]


# -- the seed's two figures, from the files ---------------------------------------------------


def seed_titles(run: RunData) -> tuple[str, str]:
    """The titles of the seed's initial and trained figures."""
    what = run.what
    initial = f"random initial {what} (seed {run.config.get('seed', 0)})"
    if run.diverged_at is None:
        trained = (
            f"trained {what}: {run.optimizer}"
            + (f", lr {run.lr:.3g}" if run.lr is not None and run.optimizer != "exact" else "")
            + (f", {run.last_step} steps" if run.optimizer != "exact" else "")
            + f", loss {run.final_loss:.4g}"
        )
    else:
        trained = f"{what} at divergence (step {run.diverged_at}" + (f", lr {run.lr:g})" if run.lr is not None else ")")
    return initial, trained


def seed_initial(run: RunData, fig: Figure | None = None) -> Figure:
    x, y = sorted_points(run)
    return seed_figure(x, y, run.initial.predict(x), seed_titles(run)[0], fig)


def seed_trained(run: RunData, fig: Figure | None = None) -> Figure:
    x, y = sorted_points(run)
    return seed_figure(x, y, run.fitted.predict(x), seed_titles(run)[1], fig)


# -- overlay: data, initial, fit and optimum on one axis; residuals below -------------------------


def overlay(run: RunData, fig: Figure | None = None) -> Figure:
    """The data, the random initial polynomial (clipped), the fit and the optimum; residuals below."""
    fig = _new(fig, (7.2, 6.0))
    fig.subplots_adjust(left=0.11, right=0.97, top=0.93, bottom=0.09, hspace=0.13)
    gs = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax = fig.add_subplot(gs[0])
    res = fig.add_subplot(gs[1], sharex=ax)

    xs, ys = sorted_points(run)
    grid = curve_x(run)
    initial = run.initial.predict(grid)
    fitted = run.fitted.predict(grid)
    best = run.optimum_polynomial.predict(grid)

    limits = view_limits([ys, best], [fitted])
    # Few points are the picture (61 yearly values vanished as 4-pt dots under the curves): larger,
    # more opaque and drawn on top; thousands stay a light cloud beneath.
    few = len(xs) <= 500
    ax.scatter(xs, ys, s=float(np.clip(2000.0 / max(len(xs), 1), 4.0, 22.0)), color=DATA_COLOR,
               alpha=0.85 if few else 0.5, linewidths=0, label=data_label(run), zorder=5 if few else 1)  # fmt: skip
    label = f"initial (random, seed {run.config.get('seed', 0)})"
    if off_scale(initial, limits):
        label += f": {'off the plot' if outside(initial, limits) else 'clipped'} (it {reach_text(initial)})"
    ax.plot(grid, initial, color=INITIAL_COLOR, ls=":", lw=1.6, label=label, zorder=2)
    label = fit_label(run)
    if off_scale(fitted, limits):
        label += f": clipped, {reach_text(fitted)}"
    ax.plot(grid, fitted, color=FIT_COLOR, lw=2.2, label=label, zorder=3)
    ax.plot(grid, best, color=OPTIMUM_COLOR, ls="--", lw=1.3,
            label=f"{optimum_name(run)}, loss {fmt_value(run.optimum_loss)}", zorder=4)  # fmt: skip
    ax.set_ylim(*limits)
    ax.set_ylabel("y")
    ax.set_title(f"{run.what} fit to {source_name(run)} ({lr_text(run)})")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)

    fit_res = run.fitted.predict(xs) - ys
    best_res = run.optimum_polynomial.predict(xs) - ys
    res.axhline(0.0, color="0.3", lw=0.8, zorder=1)
    # The fit's residuals count unless they dwarf the data themselves (a diverged fit's do).
    biggest = float(np.max(np.abs(fit_res), initial=0.0))
    tame = math.isfinite(biggest) and biggest <= CLIP_FACTOR * max(float(np.ptp(ys)), 1e-300)
    r_limits = view_limits([best_res, np.zeros(1), *([fit_res] if tame else [])])
    label = "fit − data" + (f" (clipped, {reach_text(fit_res)})" if off_scale(fit_res, r_limits) else "")
    ms = 4.5 if few else 2.5
    res.plot(xs, fit_res, ".", ms=ms, color=FIT_COLOR, label=label, zorder=3)
    res.plot(xs, best_res, ".", ms=ms, color=OPTIMUM_COLOR, label="optimum − data", zorder=2)
    res.set_ylim(*r_limits)
    res.set_ylabel("residual")
    res.set_xlabel("x")
    res.legend(loc="upper right", fontsize="small", ncol=2, markerscale=3, framealpha=0.85)
    res.grid(alpha=0.3)
    return fig


# -- loss curve --------------------------------------------------------------------------------


def _optimum_in_view(optimum_loss: float | None, losses: np.ndarray, decades: float = 8.0) -> bool:
    """Whether a log axis should reach down to the optimum's loss: not when it lies more than
    ``decades`` below every loss drawn (an exact target's optimum is ~1e-25, rounding)."""
    if optimum_loss is None or not optimum_loss > 0:
        return False
    return not losses.size or optimum_loss >= float(losses.min()) * 10.0**-decades


def loss_curve(run: RunData, fig: Figure | None = None) -> Figure:
    """Loss against step (log y; log x beyond SYMLOG_AFTER steps), the optimum dashed, divergence marked."""
    fig = _new(fig)
    fig.subplots_adjust(left=0.12, right=0.96, top=0.91, bottom=0.11)
    ax = fig.add_subplot()
    finite = np.isfinite(run.losses)
    last = run.final_index
    ax.plot(run.steps[finite], run.losses[finite], color=FIT_COLOR, lw=1.8, label=f"{run.loss} loss ({lr_text(run)})")
    shown = _positive(run.losses)
    optimum_in_view = _optimum_in_view(run.optimum_loss, shown)
    if run.optimum_loss is not None and run.optimum_loss > 0:
        where = "" if optimum_in_view else " (far below the view)"
        ax.axhline(run.optimum_loss, color=OPTIMUM_COLOR, ls="--", lw=1.2,
                   label=f"{optimum_name(run)}: {fmt_value(run.optimum_loss)}{where}")  # fmt: skip
    ax.set_yscale("log")
    set_step_axis(ax, max(run.last_step, 1))
    if shown.size:
        lo = min(float(shown.min()), run.optimum_loss if optimum_in_view else math.inf)
        hi = float(shown.max())
        decades = max(math.log10(hi / lo), 1.0)
        ax.set_ylim(lo / 10 ** (0.06 * decades), hi * 10 ** (0.12 * decades))
    ax.scatter([run.steps[last]], [run.losses[last]], s=25, color=FIT_COLOR, zorder=5)
    if run.diverged_at is not None:  # a rising curve: the space below it, left of the divergence line, is free
        where, coords, ha, va = (0.88, 0.55), "axes fraction", "right", "center"
        text = f"last finite loss, step {int(run.steps[last])}: {fmt_value(run.final_loss)}"
    elif run.last_step <= 1 or run.steps[last] < 0.5 * run.last_step:
        where, coords, ha, va = (10, 10), "offset points", "left", "bottom"
        text = f"step {int(run.steps[last])}: {fmt_value(run.final_loss)}"
    else:
        where, coords, ha, va = (-12, 14), "offset points", "right", "bottom"
        text = f"step {int(run.steps[last])}: {fmt_value(run.final_loss)}"
    ax.annotate(text, xy=(run.steps[last], run.losses[last]), xytext=where, textcoords=coords, ha=ha, va=va,
                fontsize="small", arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.8})  # fmt: skip
    if run.diverged_at is not None:
        d = run.diverged_at
        at = np.flatnonzero(run.steps == d)  # the history may be decimated: step d's row
        loss_there = run.losses[at[0]] if at.size else math.nan
        ax.axvline(d, color="C3", ls=":", lw=1.5, label=f"diverged at step {d} (loss {loss_there:g})")
        ax.text(d, 0.03, f"diverged at step {d} ", transform=ax.get_xaxis_transform(), rotation=90,
                ha="right", va="bottom", color="C3", fontsize="small")  # fmt: skip
        if len(run.steps) > 1 and run.last_step >= d:
            ax.set_xlim(right=max(d * 1.06, d + 0.5))
    ax.set_title(f"loss of the {run.what} fit to {source_name(run)}")
    ax.set_ylabel(f"{run.loss} loss (log scale)")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(loc="upper left" if run.diverged_at is not None else "upper right", fontsize="small")
    return fig


# -- coefficient trajectories ------------------------------------------------------------------


def _colors(count: int) -> list[Any]:
    if count <= 10:
        return [f"C{i}" for i in range(count)]
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(count - 1, 1)) for i in range(count)]


def coefficient_trajectories(run: RunData, fig: Figure | None = None) -> Figure:
    """Each coefficient against step, with the optimum's value dashed in the same colour."""
    fig = _new(fig)
    fig.subplots_adjust(left=0.12, right=0.82, top=0.91, bottom=0.11)
    ax = fig.add_subplot()
    steps, thetas = run.trajectory_steps, run.thetas
    colors = _colors(len(run.names))
    handles = []
    for j, name in enumerate(run.names):
        (h,) = ax.plot(steps, thetas[:, j], color=colors[j], lw=1.6, marker="." if len(steps) < 3 else None, label=name)
        ax.axhline(run.optimum[j], color=colors[j], ls="--", lw=1.0, alpha=0.8)
        handles.append(h)
    set_step_axis(ax, max(run.last_step, 1))
    finite = thetas[np.all(np.isfinite(thetas), axis=1)]
    reference = np.concatenate([thetas[0], run.optimum])
    big = float(np.max(np.abs(finite))) if finite.size else 0.0
    small = float(np.max(np.abs(reference))) if reference.size else 1.0
    note = ""
    if big > 50 * max(small, 1e-300):
        ax.set_yscale("symlog", linthresh=10.0 ** math.ceil(math.log10(max(small, 1e-12))))
        note = " (symlog y)"
    shown = handles if len(handles) <= 12 else handles[:6] + handles[-6:]
    legend_handles = shown + [Line2D([], [], color="0.3", ls="--", lw=1.0, label="optimum\n(dashed)")]
    title = f"{run.basis} coefficients of the {run.what} ({lr_text(run)})"
    if len(handles) > 12:
        legend_handles.insert(6, Line2D([], [], color="none", label=f"... {len(handles) - 12} more"))
    ax.legend(handles=legend_handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
    if run.diverged_at is not None:
        ax.axvline(run.diverged_at, color="C3", ls=":", lw=1.5)
        ax.text(run.diverged_at, 0.02, f" diverged at step {run.diverged_at}", transform=ax.get_xaxis_transform(),
                color="C3", fontsize="small", ha="right", rotation=90, va="bottom")  # fmt: skip
    ax.set_title(title, fontsize="medium")
    ax.set_ylabel("coefficient value" + note)
    ax.grid(alpha=0.3, lw=0.5)
    return fig


# -- convergence explained ----------------------------------------------------------------------


def gd_factors(run: RunData) -> np.ndarray | None:
    """(1 - lr lambda_i)^2: what plain gd multiplies each gap component by every step (None if not gd)."""
    if not run.gd_like:
        return None
    return (1.0 - run.lr * run.eigenvalues) ** 2


def gd_prediction(run: RunData, steps: np.ndarray) -> np.ndarray:
    """(len(steps), p): plain gd's closed form (lambda_i / 2) e_i(0)^2 (1 - lr lambda_i)^(2t)."""
    factors = gd_factors(run)
    if factors is None:
        raise ValueError("the closed-form path is plain gradient descent's")
    start = run.gap_components()[0]
    t = np.asarray(steps, dtype=np.float64)[:, None]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return start * factors**t


def rounding_floor(run: RunData, thetas: np.ndarray | None = None) -> np.ndarray:
    """Per recorded step (or per row of ``thetas``): the gap that rounding the parameters to the
    run's dtype alone would leave, sum_i (lambda_i / 2) (eps |theta|_max)^2. Below it, the split is noise."""
    eps = float(np.finfo(np.float32 if run.config.get("dtype") == "float32" else np.float64).eps)
    rows = run.thetas if thetas is None else np.atleast_2d(thetas)
    size = np.maximum(np.max(np.abs(rows), axis=1), np.max(np.abs(run.optimum), initial=0.0))
    return 0.5 * float(np.sum(run.eigenvalues)) * (eps * size) ** 2


def bottleneck(run: RunData) -> tuple[int, str]:
    """(index into eigenvalues, sentence): the direction holding the most gap at the last recorded
    step where the gap is more than rounding, and why."""
    comps = run.gap_components()
    total = comps.sum(axis=1)
    factors = gd_factors(run)
    if factors is not None and np.any(factors > 1):
        j = int(np.argmax(factors))
        return j, (f"direction {j + 1} (λ = {run.eigenvalues[j]:.3g}) blows up: its per-step factor "
                   f"(1 − lr λ)² = {factors[j]:.3g} is above 1; gd is stable only for lr < 2/λ = "
                   f"{2 / run.eigenvalues[j]:.3g}")  # fmt: skip
    meaningful = np.flatnonzero(np.isfinite(total) & (total > 100 * rounding_floor(run)))
    if not meaningful.size:
        return 0, "the gap is at rounding level from the start: nothing left to explain"
    k = int(meaningful[-1])
    row = comps[k]
    i = int(np.argmax(row))
    share = row[i] / total[k]
    lam = run.eigenvalues[i]
    if k == len(total) - 1:
        head = f"direction {i + 1} (λ = {lam:.3g}) holds {share:.0%} of the remaining gap"
    else:
        dtype = run.config.get("dtype", "float64")
        head = (f"converged to {dtype} rounding by step {int(run.trajectory_steps[k + 1])}; "
                f"the last to go was direction {i + 1} (λ = {lam:.3g})")  # fmt: skip
    if run.last_step == 0:
        head = f"no steps taken: direction {i + 1} (λ = {lam:.3g}) holds {share:.0%} of the starting gap"
    if factors is None:
        slowest = int(np.argmin(run.eigenvalues))
        why = ": the flattest direction, where the gradient is weakest" if i == slowest else ""
        return i, head + why
    start = comps[0]
    with np.errstate(under="ignore"):
        predicted = float(np.sum(start * factors ** float(run.trajectory_steps[k])))
    if total[k] > 10 * predicted:  # measured far above the closed form: the steps no longer move theta
        dtype = run.config.get("dtype", "float64")
        return (
            i,
            head + f", stuck far above gd's prediction ({predicted:.2g}): in {dtype}, updates this small round away",
        )
    closest = int(np.argmax(factors))
    if closest == i or np.isclose(factors[closest], factors[i], rtol=1e-9, atol=0):
        return i, head + f": its per-step factor (1 − lr λ)² = {factors[i]:.4g} is the closest to 1"
    ratio = start[i] / start[closest] if start[closest] > 0 else math.inf
    return i, head + (
        f" (per-step factor {factors[i]:.4g}): direction {closest + 1}'s factor {factors[closest]:.4g} "
        f"is closer to 1, but it started with {ratio:.0f}x less of the gap"
    )


def one_step_convergence(run: RunData, fig: Figure | None = None) -> Figure:
    """An exact solve's convergence: one step, so no curve over steps but the gap per eigen-direction
    before it (bars) and after it (dots; at the rounding floor when it is below it)."""
    fig = _new(fig, (7.8, 5.8))
    fig.subplots_adjust(left=0.11, right=0.96, top=0.84, bottom=0.15)
    ax = fig.add_subplot()
    comps = run.gap_components()
    before, after = comps[0], comps[-1]
    floor = float(rounding_floor(run, np.stack([run.thetas[0], run.optimum])).max())
    index = np.arange(1, len(before) + 1)
    colors = _colors(len(before))
    below = ~(after > floor)
    if len(before) <= 60:
        ax.bar(index, np.where(before > 0, before, np.nan), color=colors, width=0.8, label="before the solve (step 0)")
        marks = {"ls": "none", "ms": 4}
    else:  # hundreds of bars alias into stripes: a filled step line, and lines for "after"
        ax.fill_between(index, np.where(before > 0, before, np.nan), step="mid", color=colors[len(colors) // 3],
                        alpha=0.8, lw=0, label="before the solve (step 0)")  # fmt: skip
        marks = {"ls": "none", "ms": 1.5}
    if not below.all():
        ax.plot(index[~below], after[~below], marker="o", color="crimson", label="after the solve (step 1)", **marks)
    if below.any():
        ax.plot(index[below], np.full(int(below.sum()), floor), marker="v", color="crimson", mfc="none",
                label=f"after the solve: at or below rounding ({floor:.2g})", **marks)  # fmt: skip
    ax.axhline(floor, color="0.4", ls=":", lw=1.0)
    ax.set_yscale("log")
    top = float(np.nanmax(np.concatenate([before, after, [floor]]))) * 300  # headroom for the legend
    low = min(floor / 5, float(np.min(before[before > 0], initial=top)) / 5)
    ax.set_ylim(max(low, 1e-300), top)  # the floor always in view: it is what "after" is measured against
    ax.set_xlim(0.3, len(before) + 0.7)
    ax.set_xlabel("eigen-direction (1 = largest Hessian eigenvalue)")
    ax.set_ylabel("gap component (λᵢ/2)·eᵢ²   (log scale)")
    dtype = run.config.get("dtype", "float64")
    start, left = float(np.sum(before)), float(np.sum(after))
    if left > 100 * floor:
        head = (f"exact solve: the gap went from {start:.3g} to {left:.3g} in one step, above {dtype} rounding "
                f"({floor:.2g}): see the report's Optimum section")  # fmt: skip
    else:
        head = (f"exact solve: the whole gap ({start:.3g} at the start) removed in one step; what is left "
                f"({left:.2g}) is at {dtype} rounding (the dotted line, {floor:.2g})")  # fmt: skip
    fig.suptitle("convergence explained: the loss gap along the Hessian's eigenvectors", x=0.11, ha="left", y=0.975)
    ax.set_title(_wrap(head[0].upper() + head[1:], 88), fontsize="small", loc="left")
    fig.text(0.11, 0.012, "the exact optimizer solves the least-squares problem directly: it takes no gradient steps",
             fontsize="x-small", va="bottom", color="0.25")  # fmt: skip
    ax.legend(loc="upper right", fontsize="x-small")
    ax.grid(alpha=0.3, which="major", lw=0.5, axis="y")
    return fig


def convergence(run: RunData, fig: Figure | None = None) -> Figure:
    """The loss gap L(theta_t) - L* split along the Hessian's eigenvectors, measured (markers) and,
    for plain gd, predicted (dashed) — after Distill's "Why Momentum Really Works"."""
    if run.optimizer == "exact" and len(run.trajectory_steps) >= 2:
        return one_step_convergence(run, fig)
    fig = _new(fig, (7.8, 5.8))
    fig.subplots_adjust(left=0.11, right=0.70, top=0.84, bottom=0.15)
    ax = fig.add_subplot()
    steps = run.trajectory_steps
    comps = run.gap_components()
    factors = gd_factors(run)
    colors = _colors(len(run.eigenvalues))
    handles = []
    gap = run.losses - (run.optimum_loss or 0.0)
    fin = np.isfinite(gap)
    ax.plot(run.steps[fin], gap[fin], color="0.55", lw=4.0, alpha=0.45, zorder=0,
            label="total gap L − L* (history.csv)")  # fmt: skip
    for i, lam in enumerate(run.eigenvalues):
        label = f"λ{i + 1} = {lam:.3g}"
        if factors is not None:
            label += f", (1−lr λ)² = {factors[i]:.3g}"
        style = (
            {"ls": "none", "marker": "o", "ms": 3.0} if factors is not None else {"lw": 1.0, "marker": "o", "ms": 2.0}
        )
        (h,) = ax.plot(steps, comps[:, i], color=colors[i], label=label, zorder=2, **style)
        handles.append(h)
    if factors is not None:
        dense = np.unique(np.concatenate([np.linspace(0, run.last_step, 400).round(), steps])).astype(np.float64)
        predicted = gd_prediction(run, dense)
        for i in range(len(run.eigenvalues)):
            ax.plot(dense, predicted[:, i], color=colors[i], ls="--", lw=1.2, zorder=3)
    ax.set_yscale("log")
    set_step_axis(ax, max(run.last_step, 1))

    measured = _positive(comps)
    if measured.size:
        top = float(measured.max()) * 5
        floor = float(rounding_floor(run, np.stack([run.thetas[0], run.optimum])).max())
        if factors is not None and np.any(factors > 1):  # diverging: keep every direction's start in view
            start = _positive(comps[0])
            floor = max(floor, float(start.min()) / 5 if start.size else top * 1e-16)
        else:
            floor = max(floor, top * 1e-16, float(measured.min()) / 5)
        ax.set_ylim(floor, top)

    _, because = bottleneck(run)
    notes = []
    if factors is not None:
        notes.append("dots: measured from trajectory.csv;  dashed: gd's prediction (λ/2)·e₀²·(1 − lr λ)^(2t)")
    else:
        notes.append(
            f"measured only: the dashed closed-form prediction is plain gd's, and this run used {run.optimizer}"
        )
    if not run.quadratic:
        notes.append(f"the {run.loss} loss is not quadratic: the split is approximate (compare the grey total)")
    fig.suptitle("convergence explained: the loss gap along the Hessian's eigenvectors", x=0.11, ha="left", y=0.975)
    ax.set_title(_wrap(because[0].upper() + because[1:], 88), fontsize="small", loc="left")
    fig.text(0.11, 0.012, "\n".join(notes), fontsize="x-small", va="bottom", color="0.25")
    ax.set_ylabel("gap component (λᵢ/2)·eᵢ²   (log scale)")
    extra = [Line2D([], [], color="0.55", lw=4.0, alpha=0.45, label="total gap L − L*")]
    if factors is not None:
        extra.append(Line2D([], [], color="0.3", ls="--", lw=1.2, label="gd prediction"))
    shown = handles if len(handles) <= 12 else handles[:6] + handles[-6:]
    if len(handles) > 12:
        shown.insert(6, Line2D([], [], color="none", label=f"... {len(handles) - 12} more"))
    ax.legend(handles=shown + extra, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="x-small",
              borderaxespad=0, title="eigen-direction", title_fontsize="x-small")  # fmt: skip
    ax.grid(alpha=0.3, which="major", lw=0.5)
    ax.set_xlabel(ax.get_xlabel(), labelpad=2)
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


# -- several runs -----------------------------------------------------------------------------


def compare_losses(runs: Sequence[RunData], labels: Sequence[str]) -> Figure:
    """Loss curves of several runs on one log axis; each run's optimum dashed in its colour.

    A diverged run's climb is clipped at the top (100x the largest starting loss), so it cannot
    squash the others; its label says where it diverged, and an x marks its last finite loss
    when that is in view.
    """
    if len(runs) != len(labels):
        raise ValueError(f"{len(runs)} runs but {len(labels)} labels")
    if not runs:
        raise ValueError("no runs to compare")
    starts = _positive(np.array([r.losses[0] for r in runs]))
    top = float(starts.max()) * 100 if starts.size else math.inf
    marked = any(r.diverged_at is not None and r.final_loss <= top for r in runs)
    rows = len(runs) + 1 + marked
    legend_height = 0.22 * rows + 0.12  # inches, below the axes
    height = 4.4 + legend_height
    fig = Figure(figsize=(RUN_FIGSIZE[0], height))
    fig.subplots_adjust(left=0.12, right=0.96, top=1 - 0.35 / height, bottom=(legend_height + 0.6) / height)
    ax = fig.add_subplot()
    colors = _colors(len(runs))
    clipped = False
    for run, label, color in zip(runs, labels, colors):
        finite = np.isfinite(run.losses)
        if run.diverged_at is not None:
            text = f"{label}: {lr_text(run)}, diverged at step {run.diverged_at}"
            if run.final_loss > top:
                text += " (off the top)"
                clipped = True
        else:
            text = f"{label}: {lr_text(run)}, {run.last_step} steps, final {fmt_value(run.final_loss)}"
        ax.plot(run.steps[finite], run.losses[finite], color=color, lw=1.6, label=text)
        if run.diverged_at is not None and run.final_loss <= top:
            ax.scatter([run.final_index], [run.final_loss], marker="x", s=40, color=color, zorder=5)
        if run.optimum_loss is not None and run.optimum_loss > 0:
            ax.axhline(run.optimum_loss, color=color, ls="--", lw=1.0, alpha=0.8)
    ax.set_yscale("log")
    drawn = _positive(np.concatenate([r.losses for r in runs]))
    if drawn.size:
        optima = [r.optimum_loss for r in runs if _optimum_in_view(r.optimum_loss, drawn)]
        bottom = min([float(drawn.min()), *optima])
        ax.set_ylim(bottom=bottom / 3)
    if clipped:
        ax.set_ylim(top=top)
    set_step_axis(ax, max([r.last_step for r in runs] + [1]))
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.3", ls="--", lw=1.0, label="each run's optimum (dashed, same colour)"))
    if marked:
        handles.append(Line2D([], [], color="0.3", marker="x", ls="none", label="last finite loss before divergence"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.6 / ax.figure.get_figheight() - 0.06),
              fontsize="small", frameon=False, borderaxespad=0)  # fmt: skip
    ax.set_title(f"loss of {len(runs)} runs")
    ax.set_ylabel("loss (log scale)")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    return fig


# -- a run directory's figures ----------------------------------------------------------------


def run_figures(run: RunData) -> dict[str, Callable[..., Figure]]:
    """Draw functions ``(fig=None) -> Figure`` keyed by file stem, in FIGURE_STEMS order (``show`` takes the values)."""
    draws = {"initial": seed_initial, "trained": seed_trained, "overlay": overlay, "loss": loss_curve,
             "coefficients": coefficient_trajectories, "convergence": convergence}  # fmt: skip
    return {stem: (lambda fig=None, draw=draws[stem]: draw(run, fig)) for stem in FIGURE_STEMS}


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None, fmt: str = "png",
             only: Sequence[str] | None = None) -> list[Path]:  # fmt: skip
    """Redraw a run's figures from its files (no training) into ``out_dir`` (default: the run directory).

    Writes initial, trained, overlay, loss, coefficients and convergence ``.<fmt>`` (``only``
    picks some of those stems) and returns their paths in that order.
    """
    from . import rundata

    if fmt not in FORMATS:
        raise InputError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    wanted = list(FIGURE_STEMS if only is None else only)
    unknown = [s for s in wanted if s not in FIGURE_STEMS]
    if unknown:
        raise InputError(f"unknown figure {unknown[0]!r} (known: {', '.join(FIGURE_STEMS)})")
    run = rundata.load(run_dir)
    out = Path(out_dir) if out_dir is not None else Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    draws = run_figures(run)
    paths = []
    for stem in FIGURE_STEMS:
        if stem in wanted:
            path = out / f"{stem}.{fmt}"
            save(draws[stem](), path)
            paths.append(path)
    return paths
