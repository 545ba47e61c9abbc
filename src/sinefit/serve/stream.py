"""The animation as a stream: frames of a run at a steady rate, the newest request of a tab winning.

Playing a run, the page opens one stream (server-sent events, ``/api/stream``) from the step it
shows: frame i is the parameters and the loss at step start + i * speed, sent at ``fps`` frames a
second on a fixed schedule (a late frame does not push the later ones back), the last frame
always on the run's last step, then an ``end`` event. A frame is p + 2 numbers, read from the run
already computed for the page's answer (``core.RunCache``): nothing is fitted again.

Each tab names itself (``client``); a newer stream of the same tab stops the older one at its
next frame, even if the older one's connection is still open, and the page drops any frame of a
stream it has left. ``/api/frames`` answers the same frames at once, as JSON (the single step).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np

from ..config import ConfigError
from . import paths

FPS = 30
MAX_FPS = 120
MAX_FRAMES = 100_000  # one stream's length: an hour at 30 frames a second
CHUNK = 32  # frames read from the run at a time
CONTROL = ("from", "speed", "count", "fps", "client")  # the stream's own fields, apart from the settings


class Streams:
    """Which stream (or request) of each tab is the current one: opening one retires the tab's older
    ones. ``serial(client)`` is the tab's own lock, so its requests run one at a time and one that
    waited behind it can see that it was overtaken."""

    def __init__(self, keep: int = 1024):
        self._current: OrderedDict[str, int] = OrderedDict()
        self._serial: dict[str, threading.Lock] = {}
        self._next = 0
        self._keep = keep
        self._lock = threading.Lock()

    def open(self, client: str) -> int:
        with self._lock:
            self._next += 1
            self._current[client] = self._next
            self._current.move_to_end(client)
            while len(self._current) > self._keep:
                gone, _ = self._current.popitem(last=False)
                self._serial.pop(gone, None)
            return self._next

    def current(self, client: str) -> int | None:
        with self._lock:
            return self._current.get(client)

    def serial(self, client: str) -> threading.Lock:
        with self._lock:
            return self._serial.setdefault(client, threading.Lock())

    def is_current(self, client: str, token: int) -> bool:
        with self._lock:
            return self._current.get(client) == token


def _whole(name: str, text: str | None, default: int, lo: int, hi: int) -> int:
    if text is None or str(text).strip() == "":
        return default
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"--{name}", f"must be a whole number, got {text!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"--{name}", f"must be {lo} to {hi} for a stream, got {value}")
    return value


def split(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """A stream's query -> (the fit's settings, the stream's own: start, speed, count, fps, client)."""
    settings = {k: v for k, v in query.items() if k not in CONTROL}
    client = str(query.get("client") or "anonymous")[:64]
    control = {
        "start": _whole("from", query.get("from"), 0, 0, 10**9),
        "speed": _whole("speed", query.get("speed"), 1, 1, 10**9),
        "count": _whole("count", query.get("count"), MAX_FRAMES, 1, MAX_FRAMES),
        "fps": _whole("fps", query.get("fps"), FPS, 1, MAX_FPS),
        "client": client,
    }  # fmt: skip
    return settings, control


def frames(path: paths.Path, losses: np.ndarray, steps: np.ndarray) -> list[dict[str, Any]]:
    """The frames at these steps: {t, theta, loss}, exact floats."""
    thetas = path.at(steps)
    return [{"t": int(t), "theta": [float(v) for v in theta], "loss": float(losses[int(t)])}
            for t, theta in zip(steps, thetas)]  # fmt: skip


def event(name: str | None, body: dict[str, Any]) -> str:
    head = f"event: {name}\n" if name else ""
    return head + "data: " + json.dumps(body, allow_nan=False) + "\n\n"


async def paced(path: paths.Path, losses: np.ndarray, steps: np.ndarray, fps: int, streams: Streams, client: str,
                token: int, clock=None, sleep=asyncio.sleep) -> AsyncIterator[str]:  # fmt: skip
    """The server-sent events of one stream: a frame every 1/fps s on a fixed schedule, then ``end``;
    it stops early (no ``end``) once a newer stream of the same client opened."""
    clock = clock or asyncio.get_running_loop().time
    due = clock()
    for i in range(0, len(steps), CHUNK):
        for frame in frames(path, losses, steps[i : i + CHUNK]):
            if not streams.is_current(client, token):
                return
            wait = due - clock()
            if wait > 0:
                await sleep(wait)
            elif wait < -1.0:  # fell more than a second behind (a stalled client): start the schedule afresh
                due = clock()
            yield event(None, frame)
            due += 1.0 / fps
    if streams.is_current(client, token):
        yield event("end", {"t": int(steps[-1]) if len(steps) else 0})
