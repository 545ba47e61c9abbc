"""The flag a signal handler sets to stop a running loop: torch-free, so that the CLI's signal
handling (and ``sinefit --help``) can import it without importing torch."""

from __future__ import annotations


class StopFlag:
    """Set from outside (a signal handler) to make a running loop stop after the current step.

    ``graceful`` is True while a loop is running that checks the flag (set by the library around
    training): outside it a signal handler should stop at once instead of setting the flag."""

    def __init__(self) -> None:
        self.set = False
        self.graceful = False
