"""The fit for the page's settings: the problem cached per (data, basis, degree, loss), the run
computed from it as ``sinefit fit`` computes it, and the last runs cached by their settings.

The problem (data, basis, degree, loss) is prepared once, so moving the lr, momentum, steps or
optimizer costs the closed-form answer on a p x p surface, not a pass over the data; a run keeps
its whole path (``paths``), so the animation's frames read it instead of fitting again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from .. import analysis, api
from ..config import FitConfig
from . import paths, rates, uploads


class ProblemCache:
    """Prepared problems (data, basis columns, the solved surface) per (data, basis, degree, loss)."""

    def __init__(self, keep: int = 32):
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()
        self.misses = 0

    @staticmethod
    def key(cfg: FitConfig, upload: uploads.Upload | None) -> tuple:
        data = ("upload", upload.id) if upload is not None else ("target", cfg.target, cfg.samples, cfg.noise,
                                                                 cfg.seed if cfg.noise else None)  # fmt: skip
        return (*data, cfg.domain, cfg.basis, cfg.degree, cfg.loss, cfg.huber_delta)

    def problem(self, cfg: FitConfig, upload: uploads.Upload | None):
        key = self.key(cfg, upload)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        # Prepared with the page's settings; the seed, lr and momentum are replaced per request.
        prepared = api._prepare(cfg, *((upload.x, upload.y) if upload is not None else (None, None)))
        with self._lock:
            self.misses += 1
            self._items[key] = prepared
            while len(self._items) > self._keep:
                self._items.popitem(last=False)
        return prepared


CACHE = ProblemCache()


def _auto_step(cache: ProblemCache, cfg: FitConfig, upload, q: analysis.Quadratic, theta0: np.ndarray):
    """The library's textbook step. For momentum and Nesterov its step count iterates up to 200 000
    steps on an ill-conditioned surface (a minute at degree 15): the page asks for the step and
    momentum only (from the optimum, where the count is 0) and leaves the count out."""
    if cfg.optimizer == "gd":
        return analysis.auto_step(q, "gd", theta0)
    step = analysis.auto_step(q, cfg.optimizer, q.optimum, cfg.momentum)
    return dataclasses.replace(step, steps_to_1e6=math.nan)


@dataclasses.dataclass(frozen=True)
class Run:
    """One fit as the page shows it: the library's result, a light record of its parameters (what
    each answer carries) and its whole path (what the animation's frames read)."""

    result: api.FitResult
    problem: Any  # api._Problem
    steps: np.ndarray  # (k,) recorded steps: every early one, then spread (paths.light_steps)
    thetas: np.ndarray  # (k, p) parameters then
    bound: float | None  # the stable-lr bound of this optimizer
    rates: np.ndarray | None  # per-step factor on each direction's loss
    path: paths.Path  # parameters at any step 0..path.end


class RunCache:
    """The last runs asked for, by their exact settings: a stream of frames, a reload or a second
    tab with the same URL reuses the run instead of computing it again."""

    def __init__(self, keep: int = 8):
        self._items: OrderedDict[tuple, Run] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    @staticmethod
    def key(cfg: FitConfig, upload: uploads.Upload | None) -> tuple:
        return (upload.id if upload is not None else None, json.dumps(cfg.to_dict(), sort_keys=True, default=repr))

    def get(self, cfg: FitConfig, upload: uploads.Upload | None) -> Run | None:
        with self._lock:
            hit = self._items.get(self.key(cfg, upload))
            if hit is not None:
                self._items.move_to_end(self.key(cfg, upload))
            return hit

    def put(self, cfg: FitConfig, upload: uploads.Upload | None, r: Run) -> None:
        with self._lock:
            self._items[self.key(cfg, upload)] = r
            while len(self._items) > self._keep:
                self._items.popitem(last=False)



def run(cfg: FitConfig, upload: uploads.Upload | None = None, cache: ProblemCache = CACHE,
        runs: RunCache | None = None) -> Run:  # fmt: skip
    """The fit for these settings, as ``sinefit fit`` computes it, from the cached problem."""
    if runs is not None:
        hit = runs.get(cfg, upload)
        if hit is not None:
            return hit
    base = cache.problem(cfg, upload)
    q = base.quadratic
    theta0 = api.initial_theta(cfg, torch.float64)[None]  # the seed's draw (or the start cfg.init names), as fit
    if cfg.lr is None and cfg.optimizer in ("gd", "momentum", "nesterov"):  # the library's default (api.default_lr)
        lr_setting, mu, _ = api.default_lr(cfg, q)
        cfg = dataclasses.replace(cfg, lr=lr_setting, momentum=mu)
    lr, momentum, auto = cfg.lr, cfg.momentum, None
    if lr == "auto":
        auto = _auto_step(cache, cfg, upload, q, theta0[0].numpy())
        lr, momentum = auto.lr, (auto.momentum if momentum is None else momentum)
    p = dataclasses.replace(base, config=cfg, theta0=theta0, lr=lr, momentum=momentum, auto=auto)
    linear = p.engine == "stats" and cfg.optimizer in ("gd", "momentum", "nesterov")
    if linear and cfg.optimizer != "gd":
        # The engine's per-mode recurrence with every step kept (paths.momentum: same numbers, no per-step checks).
        m = paths.momentum(q, theta0.numpy(), lr, momentum, cfg.optimizer == "nesterov", cfg.steps)
        at = api.converged_step(p, m.losses)
        if at is not None:  # stopped at the optimum, as `sinefit fit` does
            m = m.until(at)
        path, theta, losses, diverged_at = m.path, m.theta, m.losses, m.diverged_at
        light = paths.light_steps(path.end)
        snaps = dict(zip(light, path.at(np.array(light))[:, None, :]))
    else:
        # gd: the closed form, any step on demand; the rest: the library's loop, every step recorded.
        record = frozenset(paths.light_steps(cfg.steps) if linear else range(cfg.steps + 1))
        theta, losses, diverged_at, snaps, _ = api._run(p, None, record=record)
    result = api._assemble(p, theta, losses, diverged_at, snaps)
    steps_, thetas = result.snapshot_steps, result.snapshots
    if not (linear and cfg.optimizer != "gd"):
        d = result.diverged_at
        end = max(0, d - 1) if d is not None else len(result.losses) - 1
        if linear:
            path = paths.closed_form_gd(q, theta0.numpy(), lr, cfg.steps, end)
        else:
            end = min(end, int(steps_[-1]) if len(steps_) else 0)  # the last step whose parameters are kept
            path = paths.recorded(dict(zip(steps_.tolist(), thetas)), end)
            light = set(paths.light_steps(end))
            keep = np.array([t in light for t in steps_.tolist()], dtype=bool)
            steps_, thetas = steps_[keep], thetas[keep]
    out = Run(result, p, steps_, thetas, rates.stable_lr(q, cfg.optimizer, momentum),
              rates.loss_rates(q, cfg.optimizer, lr, momentum) if cfg.optimizer != "exact" else None, path)  # fmt: skip
    if runs is not None:
        runs.put(cfg, upload, out)
    return out
