"""The progress display of long commands: a rich.progress line on stderr."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """A one-line progress bar on stderr, only where stdout and stderr are a terminal (never in
    pipes, with --quiet or --json), shown after ``delay`` seconds and redrawn at most 5 times a second.

    rich draws it, but only when called, from the caller's thread (no refresh thread, no redirected
    stdout): a redraw never lands in the middle of a line the command prints, and ``clear()`` before
    such a line erases the bar, which the next call draws again below it.
    """

    def __init__(self, what: str, enabled: bool, delay: float = 0.0):
        self.what = what
        self.enabled = enabled and sys.stderr.isatty() and sys.stdout.isatty()
        self.start = time.monotonic()
        self.delay, self.last = delay, 0.0
        self.bar: Any = None  # the rich.progress.Progress, once drawn

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.start < self.delay or now - self.last < 0.2:
            return
        self.last = now
        if self.bar is None:
            self.bar = _bar(self.what, total)
        self.bar.update(self.bar.task_ids[0], completed=done, total=total)
        if self.bar.live.is_started:
            self.bar.refresh()
        else:
            self.bar.start()  # draws it (again, after a clear: the task and its speed are kept)

    def clear(self) -> None:
        if self.bar is not None and self.bar.live.is_started:
            self.bar.stop()  # transient: the line is erased, the cursor back at its start

    close = clear


def _bar(what: str, total: int | None) -> Any:
    """"step [━━━━━━━━╸        ] 1,000 / 150,000 (1%) 0:00:07" (a count alone where the total is unknown)."""
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    if total:
        columns: tuple[Any, ...] = (
            TextColumn(f"{what} [", markup=False), BarColumn(bar_width=30),
            TextColumn("] {task.completed:,} / {task.total:,} ({task.percentage:.0f}%)", markup=False),
            TimeRemainingColumn(),
        )  # fmt: skip
    else:
        columns = (TextColumn(f"{what}: {{task.completed:,}}", markup=False),)
    bar = RichProgress(*columns, console=Console(stderr=True), auto_refresh=False, transient=True,
                       redirect_stdout=False, redirect_stderr=False)  # fmt: skip
    bar.add_task(what, total=total)
    return bar
