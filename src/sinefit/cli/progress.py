"""The progress display of long commands, on stderr."""

from __future__ import annotations

import sys
import time


class _Progress:
    """A one-line progress bar on stderr, only where stdout and stderr are a terminal (never in
    pipes, with --quiet or --json), shown after ``delay`` seconds and redrawn at most 5 times a second."""

    WIDTH = 30

    def __init__(self, what: str, enabled: bool, delay: float = 0.0):
        self.what = what
        self.enabled = enabled and sys.stderr.isatty() and sys.stdout.isatty()
        self.start = time.monotonic()
        self.delay, self.last, self.shown = delay, 0.0, False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.start < self.delay or now - self.last < 0.2:
            return
        self.last, self.shown = now, True
        if total:
            filled = int(self.WIDTH * min(done / total, 1.0))
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            text = f"{self.what} [{bar}] {done:,} / {total:,} ({done / total:.0%})"
        else:
            text = f"{self.what}: {done:,}"
        print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            self.shown = False

    close = clear
