"""Figures drawn from fit results, as matplotlib Figure objects.

Figures are built with ``matplotlib.figure.Figure`` directly, never through
pyplot, so nothing here needs a display or leaves a figure open; only
:func:`show` (the CLI's ``--show``) touches pyplot.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.figure import Figure

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


def save(fig: Figure, path: Path) -> None:
    """Write a figure atomically: to a temporary file beside it, then renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=100)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no debris, whatever went wrong
        raise


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
