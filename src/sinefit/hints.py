"""What would close the gap: a hint is a promise, so it is built as data a test can follow.

``suggest(result)`` returns a :class:`Hint`: the settings to change (as ``fit`` keywords and as the
command-line arguments that mean the same), what following them will reach (``promise``), and the
sentence for people, which names those very arguments. Step counts come from the exact linear
recurrences of gd / momentum / Nesterov on the quadratic (``analysis``), with a small margin for
float32 round-off, and are never more than ``analysis.PRACTICAL_STEPS``: where plain gd cannot get
there in that many steps at any lr, the hint says so and offers what does (a mapped basis, momentum
with lr auto, the exact solve).

Promises:
* ``converged``: the new run's loss is within ``analysis.CONVERGED`` of the optimum (or at round-off);
* ``stable``: the new run does not diverge;
* ``lower-bic``: the new run (at its optimum) has a lower BIC than this one;
* ``full-rank``: the new problem's data determine every coefficient;
* ``none``: nothing to do (the fit is the best this model can do here).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import analysis, stability
from .threads import one_blas_thread

MARGIN = 1.05  # steps promised = predicted * MARGIN + 10: float32 arithmetic lags float64's prediction a little


@dataclass(frozen=True)
class Hint:
    text: str
    settings: dict[str, Any] = field(default_factory=dict)  # fit(**{**config, **settings})
    args: tuple[str, ...] = ()  # the same as command-line arguments
    promise: str = "none"

    def __str__(self) -> str:
        return self.text


def _args(settings: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for k, v in settings.items():
        out += [f"--{k.replace('_', '-')}", v if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v)]
    return tuple(out)


def _hint(text: str, settings: dict[str, Any], promise: str) -> Hint:
    return Hint(text, dict(settings), _args(settings), promise)


def _steps(n: float) -> int:
    return int(math.ceil(n * MARGIN)) + 10


def _ok(n: float) -> bool:
    return math.isfinite(n) and n <= analysis.PRACTICAL_STEPS / MARGIN - 10


def _theta0(result) -> np.ndarray:
    return np.asarray(result.initial.coefficients, dtype=np.float64)


def mapped_quadratic(result, basis: str = "legendre") -> analysis.Quadratic:
    """The same points and loss in a mapped basis on the fit's domain (what --basis legendre would solve)."""
    from . import basis as bases

    x = np.asarray(result.dataset.x.double().cpu().numpy() if hasattr(result.dataset.x, "double") else result.dataset.x,
                   dtype=np.float64)  # fmt: skip
    y = np.asarray(result.dataset.y.double().cpu().numpy() if hasattr(result.dataset.y, "double") else result.dataset.y,
                   dtype=np.float64)  # fmt: skip
    t = bases.map_to_window(x, result.dataset.domain)
    cols = np.polynomial.legendre.legvander(t, result.config.degree)[:, ::-1]
    if basis == "chebyshev":
        cols = np.polynomial.chebyshev.chebvander(t, result.config.degree)[:, ::-1]
    return analysis.solve(cols, y, result.config.loss if result.config.loss != "huber" else "mse")


_MEMO: list = []  # [(quadratic, dataset, key, value)]: the last few problems' lr-free answers, newest last
_MEMO_KEEP = 8
_MEMO_LOCK = threading.Lock()


def _memo(result, what: str, compute):
    """``compute()`` once per (surface, data set, start, ``what``): the routes and lr auto's momentum step
    depend on those alone, not on this run's lr or momentum, and take tens of ms (momentum's step count
    follows its recurrence step by step). A playground moving the lr slider asks for them at every move,
    on the same cached problem; the entries hold the surface and data set themselves, so ``is`` is exact."""
    q, ds, cfg = result.quadratic, result.dataset, result.config
    key = (what, _theta0(result).tobytes(), cfg.basis, cfg.degree, cfg.loss)
    with _MEMO_LOCK:
        for entry in _MEMO:
            if entry[0] is q and entry[1] is ds and entry[2] == key:
                return entry[3]
    value = compute()
    with _MEMO_LOCK:
        _MEMO.append((q, ds, key, value))
        del _MEMO[:-_MEMO_KEEP]
    return value


def _routes(result) -> list[tuple[float, str, dict[str, Any]]]:
    """(steps, sentence, settings) of the gd-family ways to within CONVERGED of the optimum, from the start."""
    return _memo(result, "routes", lambda: _compute_routes(result))


def _compute_routes(result) -> list[tuple[float, str, dict[str, Any]]]:
    q, cfg, theta0 = result.quadratic, result.config, _theta0(result)
    target = q.target_gap()
    routes = []
    gd_auto = q.gd_steps_to(theta0, q.fastest_lr, target)
    routes.append((gd_auto, "gd with --lr auto", {"optimizer": "gd", "lr": "auto"}))
    auto, n = _momentum_auto(result, "momentum")
    routes.append((n, "heavy-ball momentum with --lr auto",
                   {"optimizer": "momentum", "lr": "auto", "momentum": _mu(auto.momentum)}))  # fmt: skip
    if cfg.basis == "power" and cfg.degree >= 1:
        qm = mapped_quadratic(result)
        n = qm.gd_steps_to(theta0, qm.fastest_lr, qm.target_gap())
        routes.append((n, "the mapped --basis legendre with --lr auto", {"basis": "legendre", "lr": "auto",
                                                                        "optimizer": "gd"}))  # fmt: skip
    return routes


def _momentum_auto(result, optimizer: str):
    """lr auto's step for momentum / Nesterov, and the steps it needs with the momentum the hint types
    (rounded to 6 digits), to within CONVERGED of the optimum, counted by the exact recurrence."""
    def compute():
        q = result.quadratic
        auto = analysis.auto_step(q, optimizer, _theta0(result))
        return auto, q.momentum_steps_to(_theta0(result), auto.lr, _mu(auto.momentum), optimizer == "nesterov",
                                         q.target_gap())  # fmt: skip

    return _memo(result, "auto " + optimizer, compute)


def _best_route(result, exclude: str | None = None) -> Hint | None:
    routes = [r for r in _routes(result) if _ok(r[0]) and r[1] != exclude]
    if not routes:
        return None
    n, what, settings = min(routes, key=lambda r: r[0])
    cfg = result.config
    settings = {k: v for k, v in settings.items() if getattr(cfg, k) != v or k == "lr"}
    settings = {**settings, "steps": _steps(n)}
    return _hint(f"{what} gets within {analysis.CONVERGED:.1%} of the optimum in about {int(n)} steps "
                 f"({' '.join(_args(settings))})", settings, "converged")  # fmt: skip


EXACT = {"optimizer": "exact"}

# float32 stalls short of a step count's promise when, at the promised gap, a step moves the slowest
# direction by less than this many float32 units of the largest coefficient: each update then rounds
# away. Measured on the per-sample engine: 2.3 and 2.5 units stalled at 1 + 0.0027 and 1 + 0.0018
# (the promise was 0.1%); 18-81 units kept it (seed degree 3 and 4, exp(x) degree 4).
STALL_UNITS = 10.0
FLOAT32_STALL = "in float32 the last steps would move the coefficients by less than its rounding"


def _float32_stalls(result, lr: float | None) -> bool:
    """Whether float32 arithmetic would stall gd at lr before the gap the step count promises."""
    cfg, q = result.config, result.quadratic
    if cfg.dtype != "float32" or not result.engine.startswith("per-sample") or not q.quadratic or not lr:
        return False
    step = lr * math.sqrt(2.0 * q.target_gap() * max(float(q.eigenvalues[-1]), 0.0))
    unit = float(np.max(np.abs(q.optimum))) * float(np.finfo(np.float32).eps)
    return step < STALL_UNITS * unit


def _exact_or_lbfgs(result, reason: str) -> Hint:
    q = result.quadratic
    if q.quadratic:
        return _hint(f"{reason}; --optimizer exact solves it outright", EXACT, "converged")
    return _hint(f"{reason}; --optimizer lbfgs --steps 500 --lr 1 gets there", {"optimizer": "lbfgs", "steps": 500,
                                                                                "lr": 1.0}, "converged")  # fmt: skip


def far_from_zero(result) -> str | None:
    """Why the power basis is hopeless here, in numbers, when x's mean is large against its spread."""
    if result.config.basis != "power" or result.config.degree < 1:
        return None
    x = np.asarray(result.dataset.x.double().cpu().numpy() if hasattr(result.dataset.x, "double") else result.dataset.x)
    spread = float(x.std())
    ratio = abs(float(x.mean())) / spread if spread > 0 else math.inf
    if ratio < 2:
        return None
    return (f"x's mean is {ratio:.3g}x its spread, so x, x^2, ... are nearly parallel (condition number "
            f"{result.quadratic.condition_number:.3g}); the mapped bases (--basis legendre) take x to [-1, 1] and fix it")


@one_blas_thread
def suggest(result) -> Hint:
    """The hint for this result: one action with its promise, in words that name it."""
    a, q, cfg = result.advice, result.quadratic, result.config
    if not q.full_rank:
        k = q.rank or 0
        settings = {"degree": max(k - 1, 0)}
        return _hint(f"the points determine only rank {k} of {q.p} coefficients: lower --degree to {k - 1} "
                     "(or fit more distinct x values)", settings, "full-rank")  # fmt: skip
    if cfg.optimizer == "exact" or a.converged:
        return _degree_hint(result)
    family = cfg.optimizer in stability.BOUNDED and q.quadratic
    if a.diverged:
        if family:
            bound = a.bound
            head = f"use an lr below {cfg.optimizer}'s stable bound {bound:.3g}"
            if cfg.optimizer == "gd":
                n = a.steps_at_fastest_lr
                if _ok(n):
                    s = {"lr": "auto", "steps": _steps(n)}
                    return _hint(f"{head}: --lr auto ({_lr(a.fastest_lr)}) "
                                 f"gets within {analysis.CONVERGED:.1%} of the optimum with --steps {s['steps']}", s,
                                 "converged")  # fmt: skip
            else:
                auto, n = _momentum_auto(result, cfg.optimizer)
                if _ok(n):
                    s = {"lr": "auto", "momentum": _mu(auto.momentum), "steps": _steps(n)}
                    return _hint(f"{head}: --lr auto ({_lr(auto.lr)}) --momentum {s['momentum']!r} gets within "
                                 f"{analysis.CONVERGED:.1%} of the optimum with --steps {s['steps']}", s, "converged")  # fmt: skip
            route = _best_route(result)
            if route is not None:
                return _hint(f"{head}; but plain gd needs more than {analysis.PRACTICAL_STEPS:.0e} steps at any stable lr "
                             f"here: {route.text}", route.settings, route.promise)  # fmt: skip
            return _exact_or_lbfgs(result, f"{head}; no gd-family step gets there within "
                                           f"{analysis.PRACTICAL_STEPS:.0e} steps")  # fmt: skip
        return _exact_or_lbfgs(result, f"{cfg.optimizer} diverged at lr {result.lr:g}")
    if family:
        n = a.steps_needed
        route = _best_route(result)
        wide = _float32_stalls(result, result.lr)
        steps_text = f"--steps {_steps(n) if _ok(n) else n}" + (" --dtype float64" if wide else "")
        why = f" ({FLOAT32_STALL})" if wide else ""
        if _ok(n) and (route is None or n <= 2 * route.settings["steps"]):
            s = {"steps": _steps(n), **({"dtype": "float64"} if wide else {})}
            also = f"; {route.text}" if route is not None and route.settings["steps"] < s["steps"] else ""
            return _hint(f"{steps_text} at this lr gets within {analysis.CONVERGED:.1%} of the optimum{why}"
                         f"{also}; --optimizer exact solves it outright", s, "converged")  # fmt: skip
        unstable = a.bound is not None and (result.lr or 0.0) >= a.bound
        here = ("no number of steps at this lr gets there" if unstable else
                f"this lr needs more than {analysis.PRACTICAL_STEPS:.0e} steps" if not _ok(n) else
                f"{steps_text} at this lr would get within {analysis.CONVERGED:.1%} of the optimum{why}")  # fmt: skip
        if route is not None:
            return _hint(f"{here}; {route.text}; --optimizer exact solves it outright", route.settings, route.promise)
        return _exact_or_lbfgs(result, f"{here}, and no gd-family step gets there within "
                                       f"{analysis.PRACTICAL_STEPS:.0e} steps")  # fmt: skip
    return _exact_or_lbfgs(result, f"{cfg.steps} steps of {cfg.optimizer} were not enough "
                                   f"({stability.limit_text(cfg.optimizer) or 'it has no lr bound'})")  # fmt: skip


def _degree_hint(result) -> Hint:
    """At the optimum: raise the degree only where BIC says the extra coefficient pays for itself."""
    cfg, d = result.config, result.config.degree
    here = "the optimum to round-off" if result.advice.at_roundoff else "the optimum"
    kept, n = len(result.dataset.x), result.statistics.n
    sampled = kept < n  # streamed, or from a summary: BIC is computed on the points the fit kept, and says so
    held = result.summary_degree
    if held is not None and held <= d:  # the summary cannot fit degree d + 1, however many points it kept
        return _hint(f"the fit is at {here}: this is the best a degree-{d} polynomial can do on these "
                     f"points; whether degree {d + 1} pays needs a summary built at degree "
                     f"{d + 1} (this one holds degree {held})", {}, "none")  # fmt: skip
    bic_now, bic_next = degree_bic(result, d), degree_bic(result, d + 1)
    if bic_next < bic_now and d < 1000:
        s = {"degree": d + 1, "optimizer": "exact"}
        if not sampled and cfg.data is None and cfg.noise == 0:
            return _hint(f"the fit is at {here}: this is the best a degree-{d} polynomial can do on these "
                         f"points; degree {d + 1} lowers BIC from {bic_now:.6g} to {bic_next:.6g} "
                         f"(--degree {d + 1} --optimizer exact)", s, "lower-bic")  # fmt: skip
        on = f"on a sample of {kept} of the {n} points " if sampled else ""
        return _hint(f"the fit is at {here}; {on}BIC favours degree {d + 1} ({bic_next:.6g} against "
                     f"{bic_now:.6g}: --degree {d + 1} --optimizer exact)", s, "lower-bic")  # fmt: skip
    on = f"on a sample of {kept} of them " if sampled else ""
    return _hint(f"the fit is at {here}: this is the best a degree-{d} polynomial can do on these "
                 f"points, and {on}BIC does not favour degree {d + 1}", {}, "none")  # fmt: skip


@one_blas_thread
def degree_bic(result, degree: int) -> float:
    """BIC = n ln(SSE*/n) + p ln n of the least-squares optimum at ``degree`` on the fit's points."""
    x, y, sse = _sse_by_degree(result, degree)
    n = x.size
    if degree + 1 > np.unique(x).size:
        return math.inf
    floor = 1e-30 * max(float(y @ y), 1e-300)
    return n * math.log(max(float(sse[degree]), floor) / n) + (degree + 1) * math.log(n)


_SSE_CACHE: list = []  # [(result, sse by degree)]: the last fit's, so a report's hints solve once


def _sse_by_degree(result, degree: int):
    """(x, y, SSE* of degrees 0..>=degree) on the fit's points, from one Householder QR of
    [P_0(t) ... P_top(t) | y] (Legendre in x mapped to [-1, 1]; nested columns, so the optimum of
    degree k leaves ||R[k+1:, -1]||^2): one factorisation for every degree, instead of an SVD each."""
    if _SSE_CACHE and _SSE_CACHE[0][0] is result and len(_SSE_CACHE[0][3]) > degree:
        return _SSE_CACHE[0][1:]
    x = np.asarray(result.dataset.x.double().cpu().numpy() if hasattr(result.dataset.x, "double") else result.dataset.x,
                   dtype=np.float64)  # fmt: skip
    y = np.asarray(result.dataset.y.double().cpu().numpy() if hasattr(result.dataset.y, "double") else result.dataset.y,
                   dtype=np.float64)  # fmt: skip
    from . import leastsq

    top = max(degree, result.config.degree + 1)
    lo, hi = leastsq.data_domain(x)
    cols = np.polynomial.legendre.legvander((2 * x - (lo + hi)) / (hi - lo), top)
    with np.errstate(all="ignore"):
        R = np.linalg.qr(np.column_stack([cols, y]), mode="r")
    r = np.zeros(top + 2)
    r[: R.shape[0]] = R[:, -1]
    tail = np.cumsum((r**2)[::-1])[::-1]  # tail[i] = sum_{j >= i} r_j^2
    sse = np.array([tail[k + 1] for k in range(top + 1)])
    _SSE_CACHE[:] = [(result, x, y, sse)]
    return x, y, sse


def _mu(mu: float) -> float:
    """lr auto's textbook momentum, to 6 digits: short enough to type, the same dynamics."""
    return float(f"{mu:.6g}")


def _lr(lr: float) -> str:
    """lr rounded down to 3 significant digits, so it stays below a bound it came from."""
    e = math.floor(math.log10(lr))
    return f"{math.floor(lr / 10**e * 100) / 100:g}e{e}"
