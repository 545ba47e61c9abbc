"""An animation of a saved run: the curve moving from the random initial polynomial toward the target.

Drawn from a :class:`~sinefit.io.rundata.RunData` alone (the recorded trajectory, the
data, the history and the optimum), never by refitting. Each frame shows the data,
the optimum (faint), where the curve started (faint), the curve at that step, and
below it the loss history with the current step marked.

Frames are chosen from the recorded trajectory steps, half spread geometrically (the
fast early changes, when the stiff directions collapse within a few steps) and half
evenly (the slow drift along the flat ones), so both show; at most ``MAX_FRAMES``.
The last frame is held for ``HOLD_SECONDS``.

GIF is written with Pillow through matplotlib's PillowWriter, every frame mapped onto
one shared palette (no colour flicker between frames, and a small file). MP4 needs
ffmpeg; without it :func:`write_animation` says so and points at GIF.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.animation import FFMpegWriter, PillowWriter, writers
from matplotlib.figure import Figure

from ..errors import InputError, SinefitError
from . import figures

if TYPE_CHECKING:
    from .rundata import RunData

FORMATS = ("gif", "mp4")
MAX_FRAMES = 150
FRAME_MS = 70  # GIF durations are whole centiseconds, so a whole number of them: 150 frames take 10.5 s
FPS = 1000 / FRAME_MS
HOLD_SECONDS = 2.0  # the fitted curve stays on screen before the loop restarts
FIGSIZE = (7.2, 5.0)
DPI = 80  # 576 x 400 pixels: sharp enough to read, ~10-20 kB a GIF frame
PALETTE_COLORS = 128
CURVE_POINTS = 300


def animation_frames(run: RunData, frames: int = MAX_FRAMES) -> np.ndarray:
    """Indices into ``run.trajectory_steps`` for the frames, increasing, first and last included.

    Rows with non-finite parameters (past a divergence) are skipped. With more finite rows
    than ``frames``, half the budget goes to steps spread geometrically from 1 to the last
    step and half to steps spread evenly from 0 (each mapped to the nearest recorded step,
    duplicates dropped); what duplicates leave over is spent evenly on the rows not yet chosen.
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
        raise InputError(f"--frames: must be a whole number from 1 to {MAX_FRAMES}, got {frames!r}")
    ok = np.flatnonzero(np.all(np.isfinite(run.thetas), axis=1))
    if ok.size <= frames:
        return ok
    if frames == 1:
        return ok[-1:]
    steps = run.trajectory_steps[ok].astype(np.float64)
    last = max(steps[-1], 1.0)
    half = (frames - 2) // 2
    targets = np.concatenate([np.geomspace(1.0, last, half), np.linspace(0.0, last, frames - 2 - half)])
    right = np.clip(np.searchsorted(steps, targets), 1, len(steps) - 1)
    nearest = np.where(targets - steps[right - 1] <= steps[right] - targets, right - 1, right)
    chosen = set(nearest.tolist()) | {0, len(steps) - 1}
    need = frames - len(chosen)
    if need > 0:
        rest = np.array(sorted(set(range(len(steps))) - chosen))
        pick = np.unique(np.round(np.linspace(0, len(rest) - 1, need)).astype(int))
        chosen |= set(rest[pick].tolist())
    return ok[np.array(sorted(chosen), dtype=np.int64)]


def _emptiest_corner(x: np.ndarray, ys: list[np.ndarray], xlim: tuple[float, float], ylim: tuple[float, float]) -> str:
    """The legend location ('upper left', ...) whose quarter of the axes holds the fewest curve points."""
    counts = {}
    fx = (np.asarray(x) - xlim[0]) / (xlim[1] - xlim[0])
    for name, (x0, x1), (y0, y1) in (
        ("upper left", (0, 0.45), (0.6, 1)), ("upper right", (0.55, 1), (0.6, 1)),
        ("lower left", (0, 0.45), (0, 0.4)), ("lower right", (0.55, 1), (0, 0.4)),
    ):  # fmt: skip
        total = 0
        for y in ys:
            fy = (np.asarray(y) - ylim[0]) / (ylim[1] - ylim[0])
            total += int(np.sum((fx >= x0) & (fx <= x1) & (fy >= y0) & (fy <= y1)))
        counts[name] = total
    return min(counts, key=lambda k: (counts[k], list(counts).index(k)))


class _Animator:
    """One figure, updated in place frame by frame."""

    def __init__(self, run: RunData):
        self.run = run
        self.fig = Figure(figsize=FIGSIZE)
        fig = self.fig
        fig.subplots_adjust(left=0.10, right=0.97, top=0.92, bottom=0.10, hspace=0.32)
        gs = fig.add_gridspec(2, 1, height_ratios=(3.2, 1))
        ax = fig.add_subplot(gs[0])
        strip = fig.add_subplot(gs[1])
        self.ax, self.strip = ax, strip

        xs, ys = figures.sorted_points(run)
        self.grid = figures.curve_x(run, CURVE_POINTS)
        best = run.optimum_polynomial.predict(self.grid)
        fitted = run.fitted.predict(self.grid)
        self.limits = figures.view_limits([ys, best], [fitted])
        ax.set_xlim(self.grid[0], self.grid[-1])
        ax.set_ylim(*self.limits)

        ax.scatter(xs, ys, s=5, color=figures.DATA_COLOR, alpha=0.45, linewidths=0, label="data", zorder=1)
        ax.plot(self.grid, best, color=figures.OPTIMUM_COLOR, ls="--", lw=1.2, alpha=0.45,
                label=figures.optimum_name(run), zorder=2)  # fmt: skip
        initial = run.initial.predict(self.grid)
        ax.plot(self.grid, initial, color=figures.INITIAL_COLOR, ls=":", lw=1.3, alpha=0.6,
                label="initial (step 0)", zorder=2)  # fmt: skip
        (self.curve,) = ax.plot(
            self.grid, initial, color=figures.FIT_COLOR, lw=2.6, label="the fit at this step", zorder=3
        )
        corner = _emptiest_corner(
            np.concatenate([xs, self.grid]), [np.concatenate([ys, best]), np.concatenate([ys, fitted])],
            (self.grid[0], self.grid[-1]), self.limits,
        )  # fmt: skip
        self.legend = ax.legend(loc=corner, fontsize="small", framealpha=0.85)
        ax.set_ylabel("y")
        ax.set_xlabel("x", labelpad=1)
        ax.grid(alpha=0.3)
        source = figures.source_name(run)
        how = run.optimizer if run.lr is None or run.optimizer == "exact" else f"{run.optimizer} (lr {run.lr:.3g})"
        ax.set_title(f"{how} fitting a {run.what} to {source}", fontsize="medium")
        info_corner = "upper right" if corner == "upper left" else "upper left"
        self.info = ax.text(
            0.02 if info_corner == "upper left" else 0.98, 0.96, "", transform=ax.transAxes,
            ha="left" if info_corner == "upper left" else "right", va="top", ma="left", fontsize="small", family="monospace",
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.8", "alpha": 0.9}, zorder=6,
        )  # fmt: skip

        finite = np.isfinite(run.losses)
        strip.plot(run.steps[finite], run.losses[finite], color=figures.FIT_COLOR, lw=1.2)
        if run.optimum_loss is not None and run.optimum_loss > 0:
            strip.axhline(run.optimum_loss, color=figures.OPTIMUM_COLOR, ls="--", lw=0.9, alpha=0.6)
        if run.diverged_at is not None:
            strip.axvline(run.diverged_at, color="C3", ls=":", lw=1.2)
        strip.set_yscale("log")
        figures.set_step_axis(strip, max(run.last_step, 1))
        strip.set_xlabel(strip.get_xlabel(), labelpad=1)
        strip.set_ylabel("loss")
        strip.grid(alpha=0.3, lw=0.5)
        self.cursor = strip.axvline(0, color="0.3", lw=0.8)
        self.dot = strip.scatter([0], [run.losses[0]], s=22, color=figures.FIT_COLOR, zorder=5)
        # What changes from frame to frame, in drawing order (the legend over the curve, the box over both).
        self.moving = [self.curve, self.legend, self.info, self.cursor, self.dot]
        self.background = None

    def start_blitting(self) -> None:
        """Draw everything that stays put once; later frames redraw only ``moving`` over a copy of it."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig.set_dpi(DPI)
        for artist in self.moving:
            artist.set_animated(True)
        canvas = FigureCanvasAgg(self.fig)
        canvas.draw()
        self.background = canvas.copy_from_bbox(self.fig.bbox)

    def frame(self, index: int, final: bool = False):
        """The frame for trajectory row ``index`` as an RGB PIL image (after start_blitting)."""
        from PIL import Image

        self.show(index, final)
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        for artist in self.moving:
            self.fig.draw_artist(artist)
        width, height = canvas.get_width_height()
        return Image.frombuffer("RGBA", (width, height), bytes(canvas.buffer_rgba()), "raw", "RGBA", 0, 1).convert(
            "RGB"
        )

    def show(self, index: int, final: bool = False) -> None:
        run = self.run
        t = int(run.trajectory_steps[index])
        y = run.evaluate(run.thetas[index], self.grid)
        self.curve.set_ydata(y)
        at = int(np.searchsorted(run.steps, t))  # the history may be decimated: find step t's row
        loss = run.losses[at] if at < len(run.steps) and int(run.steps[at]) == t else math.nan
        text = f"step {t} of {run.last_step}\nloss {figures.fmt_value(float(loss))}"
        if run.optimum_loss is not None:
            text += f"  (optimum {figures.fmt_value(run.optimum_loss)})"
        if final and run.diverged_at is not None:
            text += f"\ndiverged at step {run.diverged_at}"
        elif figures.off_scale(y, self.limits):
            text += f"\ncurve off the scale: {figures.reach_text(y)}"
        else:
            text += "\n"  # keep the box's size steady
        self.info.set_text(text)
        self.cursor.set_xdata([t, t])
        if np.isfinite(loss) and loss > 0:
            self.dot.set_offsets([[t, loss]])
            self.dot.set_visible(True)
        else:
            self.dot.set_visible(False)


class _GifWriter(PillowWriter):
    """PillowWriter taking ready-made frames: every one mapped onto one shared palette (no colour
    flicker, small files), and the last one shown longer."""

    def __init__(self, *args, hold_ms: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._hold_ms = hold_ms
        self._palette = None

    def set_palette(self, image) -> None:
        from PIL import Image

        self._palette = image.quantize(colors=PALETTE_COLORS, method=Image.Quantize.MEDIANCUT)

    def add_frame(self, image) -> None:
        from PIL import Image

        self._frames.append(image.quantize(palette=self._palette, dither=Image.Dither.NONE))

    def finish(self) -> None:
        if not self._frames:  # matplotlib calls this on the way out of an error (or a signal) too
            return
        durations = [FRAME_MS] * len(self._frames)
        durations[-1] += self._hold_ms
        self._frames[0].save(self.outfile, format="GIF", save_all=True, append_images=self._frames[1:],
                             duration=durations, loop=0, optimize=False)  # fmt: skip


def _palette_image(animator: _Animator, indices: np.ndarray):
    """The last, first and a middle frame stacked: the shared palette is fitted to them, so it holds
    every colour the frames use (the curve where it starts and ends, the initial curve beside it,
    the info box, a divergence note)."""
    from PIL import Image

    picks = [(int(indices[-1]), True), (int(indices[0]), False), (int(indices[len(indices) // 3]), False)]
    images = [animator.frame(index, final) for index, final in picks]
    width, height = images[0].size
    stack = Image.new("RGB", (width, height * len(images)))
    for n, image in enumerate(images):
        stack.paste(image, (0, n * height))
    return stack


def write_animation(run: RunData, path: Any, fmt: str = "gif", frames: int = MAX_FRAMES) -> Path:
    """Write the run's animation to ``path`` (atomically) and return it.

    ``len(animation_frames(run, frames))`` frames (at most 150), FRAME_MS each, the last held
    HOLD_SECONDS longer: in a GIF as the last frame's duration, in an MP4 as repeats of it.
    """
    if fmt not in FORMATS:
        raise InputError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "mp4" and not writers.is_available("ffmpeg"):
        raise SinefitError(
            "cannot write mp4: ffmpeg is not installed (or not on PATH); GIF works without it (--format gif)"
        )
    from .safefile import Target, write_with

    indices = animation_frames(run, frames)
    if not indices.size:
        raise InputError(f"{run.path / 'trajectory.csv'}: no finite parameters to animate")
    animator = _Animator(run)

    def produce(tmp: Path) -> None:
        if fmt == "gif":
            animator.start_blitting()
            writer = _GifWriter(fps=FPS, hold_ms=int(HOLD_SECONDS * 1000))
            writer.set_palette(_palette_image(animator, indices))
            with writer.saving(animator.fig, str(tmp), DPI):
                for n, index in enumerate(indices):
                    writer.add_frame(animator.frame(int(index), final=n == len(indices) - 1))
        else:  # ffmpeg takes whole redrawn frames; slower, but it is the standard path
            writer = FFMpegWriter(fps=FPS, codec="h264", bitrate=1000, extra_args=["-pix_fmt", "yuv420p", "-f", "mp4"])
            with writer.saving(animator.fig, str(tmp), DPI):
                for n, index in enumerate(indices):
                    animator.show(int(index), final=n == len(indices) - 1)
                    writer.grab_frame()
                for _ in range(round(HOLD_SECONDS * FPS)):
                    writer.grab_frame()

    return write_with(path if isinstance(path, Target) else Path(path), produce)
