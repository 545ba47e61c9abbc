"""Ctrl-C and SIGTERM in every phase of a command: one line, exit 130, the run marked, no debris.

The CLI installs one handler for both signals as soon as it starts (:func:`installed`), so a
signal never reaches typer as a KeyboardInterrupt (which it would turn into a silent exit
130). What a signal does depends on the phase the command is in:

- a *hard* phase (startup, reading data, writing figures, logging to MLflow, the default)
  raises :class:`Stopped` at once; writers remove their temporaries on the way out;
- a *soft* phase (training, :func:`soft`) sets a :class:`~sinefit.stopflag.StopFlag` so the
  loop ends after the current step and the run is saved as interrupted; a second signal
  there is hard;
- a *deferred* phase (:func:`deferred`, a few milliseconds of writing a run's data files)
  holds the signal until the phase ends, so those files are written whole or not at all.

:class:`Stopped` derives from BaseException, like KeyboardInterrupt, so no library's
``except Exception`` swallows it; but it is not a KeyboardInterrupt, which click and typer
would catch first. The run directory a command is writing is registered with
:func:`working_on`, so the CLI can mark it interrupted.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Iterator

from .stopflag import StopFlag

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(BaseException):
    """A signal asked sinefit to stop; ``phase`` says what it was doing."""

    exit_code = 130

    def __init__(self, signum: int, phase: str):
        self.signum, self.phase = signum, phase
        super().__init__(f"interrupted ({signal.Signals(signum).name}) while {phase}")


class _State:
    def __init__(self) -> None:
        self.phase = "starting"
        self.stop: StopFlag | None = None  # set: a soft phase
        self.deferred = False
        self.pending: int | None = None  # a signal held by a deferred phase
        self.run_dir: Path | None = None


_state = _State()


def _handler(signum, frame) -> None:
    s = _state
    if s.deferred:
        s.pending = s.pending or signum
        return
    if s.stop is not None and not s.stop.set:
        s.stop.set = True
        return
    raise Stopped(signum, ("training (a second signal)" if s.stop is not None else s.phase))


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Handle SIGINT and SIGTERM for the duration (the main thread only; elsewhere a no-op)."""
    global _state
    saved = _state
    _state = _State()
    try:
        previous = {sig: signal.signal(sig, _handler) for sig in SIGNALS}
    except ValueError:  # not the main thread: signals are not ours to handle
        previous = {}
    try:
        yield
    finally:
        _state.deferred = True  # from here to the old handlers, a signal is dropped, never half-handled
        for sig, old in previous.items():
            signal.signal(sig, old)
        _state = saved


@contextlib.contextmanager
def phase(what: str) -> Iterator[None]:
    """A hard phase named ``what`` ("writing the figures"): a signal stops it at once."""
    s = _state
    saved = s.phase, s.stop
    s.phase, s.stop = what, None
    try:
        yield
    finally:
        s.phase, s.stop = saved


def enter(what: str, stop: StopFlag | None = None) -> None:
    """Switch the current phase (within an enclosing :func:`phase`, which restores the old one)."""
    _state.phase, _state.stop = what, stop


@contextlib.contextmanager
def soft(what: str = "training") -> Iterator[StopFlag]:
    """A soft phase: the first signal sets the yielded flag, the second stops at once."""
    s = _state
    saved = s.phase, s.stop
    stop = StopFlag()
    s.phase, s.stop = what, stop
    try:
        yield stop
    finally:
        s.phase, s.stop = saved


@contextlib.contextmanager
def deferred(what: str) -> Iterator[None]:
    """Hold signals until the block ends (keep it short), then act on the held one."""
    s = _state
    if s.deferred:  # nested: the outer block acts
        yield
        return
    saved = s.phase
    s.phase, s.deferred = what, True
    try:
        yield
    finally:
        s.deferred, s.phase = False, saved
        pending, s.pending = s.pending, None
    if pending is not None:
        raise Stopped(pending, what)


def working_on(run_dir: Path | None) -> None:
    """Register the run directory being written (None: none), to be marked if a signal stops us."""
    _state.run_dir = run_dir


def current_run() -> Path | None:
    return _state.run_dir


@contextlib.contextmanager
def ignored() -> Iterator[None]:
    """Signals are held (and dropped) while a stop is being recorded: cleanup is never cut."""
    s = _state
    was = s.deferred
    s.deferred = True
    try:
        yield
    finally:
        s.deferred, s.pending = was, None
