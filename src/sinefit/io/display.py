"""A fit in a notebook: figures, the report, a rich display and a live figure, from the result in memory.

The figures are the run directory's (io.figures), drawn from a :class:`RunData` built from the
FitResult itself, so nothing is written and nothing is fitted again. Figures are matplotlib
``Figure`` objects made without pyplot: nothing stays open.
"""

from __future__ import annotations

import html
import io
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..api import FitResult
from .rundata import RunData

KINDS = {"overlay": "overlay", "loss": "loss_curve", "coefficients": "coefficient_trajectories",
         "convergence": "convergence", "seed": "seed_trained", "initial": "seed_initial"}  # fmt: skip
POINTS_SHOWN = 2000  # as points.csv
SVG_POINTS = 400  # points drawn in the inline figures (they keep a notebook light)


def run_of(result: FitResult, max_points: int = POINTS_SHOWN) -> RunData:
    """The RunData a run directory of this result would hold, built in memory."""
    q, cfg, ds = result.quadratic, result.config, result.dataset
    x, y = ds.x.double().cpu().numpy(), ds.y.double().cpu().numpy()
    stride = max(1, -(-len(x) // max_points))
    finite = bool(np.all(np.isfinite(np.asarray(result.model.coefficients))))
    frozen = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    return RunData(
        path=Path("<in memory>"), config=cfg.to_dict(), steps=np.asarray(result.steps, dtype=np.int64),
        losses=frozen(result.losses), trajectory_steps=np.asarray(result.snapshot_steps, dtype=np.int64),
        thetas=frozen(result.snapshots), names=tuple(result.model.names), x=x[::stride], y=y[::stride],
        basis=cfg.basis, degree=cfg.degree, domain=tuple(ds.domain), loss=cfg.loss, quadratic=q.quadratic,
        scale=q.scale, optimum=frozen(q.optimum), optimum_loss=q.optimum_loss, eigenvalues=frozen(q.eigenvalues),
        eigenvectors=frozen(q.directions), optimizer=cfg.optimizer, lr=result.lr, momentum=result.momentum,
        target=ds.target, n=ds.size, model=result.model if finite else None, diverged_at=result.diverged_at,
        status=result.status,
    )  # fmt: skip


def plot(result: FitResult, kind: str = "overlay", max_points: int = POINTS_SHOWN):
    """One of the run figures as a matplotlib Figure: overlay, loss, coefficients, convergence or seed."""
    from ..errors import InputError
    from . import figures

    if kind not in KINDS:
        raise InputError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    return getattr(figures, KINDS[kind])(run_of(result, max_points))


def svg(fig) -> str:
    """A figure as inline SVG text (text kept as text: smaller than outlined glyphs)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML prolog or DOCTYPE inside HTML


def html_of(result: FitResult) -> str:
    """The rich display: the report's key lines, the overlay and the loss figures as inline SVG."""
    from .. import report

    lines = report.fit_report(result).splitlines()
    keep = ("status", "loss ", "best possible", "loss / best", "Why:", "Hint:", "Fitted:")
    key = [line.strip() for line in lines if line.strip().startswith(keep)]
    figures_ = "".join(f'<div style="display:inline-block;max-width:48%">{svg(plot(result, k, SVG_POINTS))}</div>'
                       for k in ("overlay", "loss"))  # fmt: skip
    body = "<br>".join(html.escape(line) for line in key)
    return (f"<div><b>sinefit {html.escape(repr(result))}</b><pre style='white-space:pre-wrap'>{body}</pre>"
            f"{figures_}</div>")  # fmt: skip


def frame(result: FitResult):
    """r.history as a pandas DataFrame: step, loss (and the mini-batch loss beside it)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_frame() needs pandas, which is not installed: pip install pandas") from None
    columns: dict[str, Any] = {"step": result.steps, "loss": result.losses}
    if result.minibatch is not None:
        batch = np.full(len(result.losses), np.nan)
        mb = result.minibatch
        if mb.steps is None and result.history_steps is None:
            batch[: len(mb.batch_losses)] = mb.batch_losses
        else:  # decimated: each batch loss beside the history row of its step
            at = np.arange(len(mb.batch_losses)) if mb.steps is None else mb.steps
            rows = np.searchsorted(result.steps, at)
            ok = (rows < len(batch)) & (result.steps[np.minimum(rows, len(batch) - 1)] == at)
            batch[rows[ok]] = mb.batch_losses[ok]
        columns["batch_loss"] = batch
    return pd.DataFrame(columns).set_index("step")


LIVE_FULL = 10_000  # the live loss chart keeps every step up to here, then ever fewer (10^9 steps: megabytes)


class LiveFigure:
    """fit(live=True): one figure (the curve over the data, the loss so far) redrawn in place.

    Redrawn at most every ``interval`` seconds (and never more than a third of the time); the last
    draw is the final state. In a notebook
    it updates one display (IPython's display_id); elsewhere it draws nothing until ``close``.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, evaluate, interval: float = 0.5):
        from matplotlib.figure import Figure

        order = np.argsort(x)
        stride = max(1, len(x) // SVG_POINTS)
        self.x, self.y = x[order][::stride], y[order][::stride]
        self.evaluate, self.interval = evaluate, interval
        self.fig = Figure(figsize=(9, 3.4))
        self.ax, self.loss_ax = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.22)
        self.steps: list[int] = []  # every step up to LIVE_FULL, then strided: at most 2 LIVE_FULL of them
        self.losses: list[float] = []
        self.stride = 1
        self.next = -float("inf")  # when the next redraw may happen
        self.draws = 0
        self.handle = None
        try:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                self.handle = display(self.fig, display_id=True)
        except ImportError:
            pass

    def __call__(self, step: int, theta: np.ndarray, loss: float, force: bool = False) -> None:
        if step < LIVE_FULL or step % self.stride == 0 or force:
            self.steps.append(step)
            self.losses.append(loss)
            if len(self.steps) > 2 * LIVE_FULL:  # a long run: every other late step goes, and half of those to come
                self.steps[LIVE_FULL:] = self.steps[LIVE_FULL::2]
                self.losses[LIVE_FULL:] = self.losses[LIVE_FULL::2]
                self.stride *= 2
        now = time.monotonic()
        if not force and now < self.next:
            return
        self.redraw(step, theta)
        # The next draw waits for the interval, and for twice what this one cost (a notebook renders a
        # PNG per update): drawing never takes more than a third of the time, however slow it is.
        done = time.monotonic()
        self.next = done + max(self.interval, 2.0 * (done - now))

    def redraw(self, step: int, theta: np.ndarray) -> None:
        self.draws += 1
        ax, lx = self.ax, self.loss_ax
        ax.clear()
        ax.plot(self.x, self.y, ".", ms=2, color="0.6", label="y true")
        ax.plot(self.x, self.evaluate(theta, self.x), color="C1", label=f"y pred, step {step}")
        ax.set_ylim(*_limits(self.y))
        ax.legend(loc="upper left", fontsize=8)
        lx.clear()
        steps, losses = np.array(self.steps), np.array(self.losses)
        good = np.isfinite(losses) & (losses > 0)
        lx.plot(steps[good], losses[good], color="C0")
        lx.set_yscale("log")
        lx.set_xlabel("step")
        lx.set_title(f"loss {self.losses[-1]:.6g}", fontsize=9)
        if self.handle is not None:
            self.handle.update(self.fig)


def live_objective(objective, result_like, interval: float = 0.5):
    """(a watched objective, its LiveFigure) for fit(live=True); ``result_like`` has dataset and config."""
    from .. import live
    from ..polynomial import Polynomial

    ds, cfg = result_like.dataset, result_like.config

    def evaluate(theta, x):
        values = theta.detach().double().cpu().numpy() if hasattr(theta, "detach") else np.asarray(theta)
        return Polynomial(values, tuple(ds.domain), cfg.basis).predict(x)

    fig = LiveFigure(ds.x.double().cpu().numpy(), ds.y.double().cpu().numpy(), evaluate, interval)
    return live.Watch(objective, fig), fig


def live_finish(fig: LiveFigure, result: FitResult) -> None:
    """The final figure: the fitted curve and the whole loss history."""
    fig.steps, fig.losses = [int(t) for t in result.steps], [float(v) for v in result.losses]
    fig.redraw(result.last_step, np.asarray(result.model.coefficients))


def _limits(y: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = 0.25 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad
