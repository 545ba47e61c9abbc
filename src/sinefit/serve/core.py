"""The playground's plain functions: settings from the page, the fit, and what the page draws.

Every endpoint of ``app`` is a thin wrapper over a function here, and the tests call them
directly. The math is the library's: ``api`` prepares the problem (data, basis columns, the
solved ``analysis.Quadratic``), ``engine`` takes the steps (gd in closed form, momentum per
mode), ``report`` says why and what next. The page always runs in float64 on the stats
engine, so its numbers are those of ``sinefit fit --dtype float64`` with the same settings.

The problem (data, basis, degree, loss) is cached and the runs too (``runs``), so moving the lr,
momentum, steps or optimizer costs the closed-form answer on a p x p surface, not a pass over the data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import shlex
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .. import analysis, api, basis, expr, report
from ..config import ConfigError, FitConfig
from ..errors import InputError
from ..io import configfile, modelfile
from . import paths, stream, uploads
from .runs import CACHE, ProblemCache, Run, RunCache, run  # noqa: F401  (the endpoints' names, as before)

# Caps: the playground answers while a slider moves, so it refuses work that cannot be instant.
MAX_SAMPLES = 100_000
MAX_DEGREE = 20
MAX_STEPS = 50_000  # gd, momentum, nesterov (closed form / per mode)
MAX_STEPS_ITERATIVE = 10_000  # adam, rmsprop, lbfgs, and the Huber loss: a loop over the steps
MAX_TARGET_CHARS = 300
CURVE_POINTS = 240
SHOWN_POINTS = 600  # data points drawn: a cloud or a line at chart width, a third of the drawing time of 1500

FIELDS = ("target", "data", "domain", "samples", "noise", "degree", "basis", "loss", "optimizer", "lr",
          "momentum", "steps", "seed")  # fmt: skip
DEFAULTS = {"target": "sin", "domain": "-pi,pi", "samples": "1000", "noise": "0", "degree": "3", "basis": "power",
            "loss": "sse", "optimizer": "gd", "momentum": "0.9", "steps": "2000", "seed": "0"}  # fmt: skip


def field_of(error: Exception) -> str:
    """Which control an error belongs beside: the option its message starts with ('--lr: ...')."""
    option = getattr(error, "option", None)
    if option is None:
        m = re.match(r"--([a-z-]+)", str(error))
        option = m.group(0) if m else ""
    name = option.lstrip("-").replace("-", "_")
    return name if name in FIELDS else ("target" if name in ("x", "x, y") else "general")


# --------------------------------------------------------------------------- settings


def _int(name: str, text: str, cap: int | None = None, why: str = "") -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"--{name}", f"must be a whole number, got {text!r}") from None
    if cap is not None and value > cap:
        raise ConfigError(f"--{name}", f"at most {cap} in the playground, got {value}{why}")
    return value


def _float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--{name}", f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"--{name}", f"must be a finite number, got {text!r}")
    return value


_CONSTANTS: dict[str, float] = {}  # the domain's texts read so far ("-pi" -> -3.14...): each answer reads its
# settings six times (its own, and each hint suggestion's), and a parse compiles the text


def _constant(text: str) -> float:
    value = _CONSTANTS.get(text)
    if value is None:
        value = expr.constant(text, option="--domain")  # a refusal raises, and is not kept
        if len(_CONSTANTS) < 1000:
            _CONSTANTS[text] = value
    return value


def settings(query: Mapping[str, str], store: uploads.Store | None = None) -> tuple[FitConfig, uploads.Upload | None]:
    """The page's controls (text, as in the URL) -> a validated FitConfig (float64) and the upload, if any.

    Empty or missing fields take the defaults (the seed's experiment). Raises ConfigError
    (an InputError) naming the control, with sinefit's own message.
    """
    given = {k: str(v).strip() for k, v in query.items() if v is not None and str(v).strip() != ""}
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting (known: {', '.join(FIELDS)})")
    q = {**DEFAULTS, **given}
    s: dict[str, Any] = {"dtype": "float64"}
    upload = None
    if "data" in given:
        if store is None:
            raise uploads.UploadError("this server holds no uploads")
        upload = store.get(given["data"])
    else:
        if len(q["target"]) > MAX_TARGET_CHARS:
            raise ConfigError("--target", f"at most {MAX_TARGET_CHARS} characters in the playground")
        s["target"] = q["target"]
        s["samples"] = _int("samples", q["samples"], MAX_SAMPLES)
        s["noise"] = _float("noise", q["noise"])
    parts = q["domain"].split(",")
    if "data" not in given or "domain" in given:
        if len(parts) != 2:
            raise ConfigError("--domain", f"must be two numbers a,b (pi allowed, e.g. -pi,pi), got {q['domain']!r}")
        s["domain"] = (_constant(parts[0]), _constant(parts[1]))
    s["degree"] = _int("degree", q["degree"], MAX_DEGREE)
    for name in ("basis", "loss", "optimizer"):
        s[name] = q[name]
    slow = s["optimizer"] in ("adam", "rmsprop", "lbfgs") or s["loss"] == "huber"
    cap, why = (MAX_STEPS_ITERATIVE, " (this optimizer or loss takes its steps one by one)") if slow else (MAX_STEPS, "")
    s["steps"] = _int("steps", q["steps"], cap, why)
    s["seed"] = _int("seed", q["seed"])
    if given.get("lr", "").lower() == "auto":
        s["lr"] = "auto"
    elif "lr" in given and s["optimizer"] != "exact":
        s["lr"] = _float("lr", given["lr"])
    if s["optimizer"] in ("momentum", "nesterov") and ("momentum" in given or s.get("lr") != "auto"):
        s["momentum"] = _float("momentum", q["momentum"])
    if upload is not None and upload.x.size and np.unique(upload.x).size < s["degree"] + 1:
        distinct = np.unique(upload.x).size
        raise ConfigError("--degree", f"{upload.name} has {distinct} distinct x values; a degree-{s['degree']} "
                                      f"polynomial needs at least {s['degree'] + 1}")  # fmt: skip
    return FitConfig.from_dict(s), upload


def canonical_query(cfg: FitConfig, upload: uploads.Upload | None) -> dict[str, str]:
    """The settings as the page's URL holds them: every field, exact (floats by repr)."""
    q = {
        "degree": str(cfg.degree), "basis": cfg.basis, "loss": cfg.loss, "optimizer": cfg.optimizer,
        "lr": "auto" if cfg.lr == "auto" else repr(float(cfg.lr)) if cfg.lr is not None else "",
        "momentum": repr(float(cfg.momentum)) if cfg.momentum is not None else "", "steps": str(cfg.steps),
        "seed": str(cfg.seed),
    }  # fmt: skip
    if upload is not None:
        q["data"] = upload.id
        if cfg.domain is not None:
            q["domain"] = f"{cfg.domain[0]!r},{cfg.domain[1]!r}"
    else:
        lo, hi = cfg.domain
        q.update(target=cfg.target, samples=str(cfg.samples), noise=repr(float(cfg.noise)))
        q["domain"] = "-pi,pi" if (lo, hi) == (-math.pi, math.pi) else f"{lo!r},{hi!r}"
    return q


# --------------------------------------------------------------------------- what the page shows


def command(cfg: FitConfig, upload: uploads.Upload | None) -> str:
    """The `sinefit fit` command that reproduces the page's numbers in a terminal."""
    parts = ["sinefit", "fit"]
    if upload is not None:
        parts += ["--data", upload.name]
    else:
        if cfg.target != "sin":
            parts += ["--target", cfg.target]
        if cfg.samples != 1000:
            parts += ["--samples", str(cfg.samples)]
        if cfg.noise:
            parts += ["--noise", repr(cfg.noise)]
    if cfg.domain is not None and tuple(cfg.domain) != (-math.pi, math.pi):
        parts.append(f"--domain={cfg.domain[0]!r},{cfg.domain[1]!r}")
    for name, default in (("degree", 3), ("basis", "power"), ("loss", "sse"), ("optimizer", "gd")):
        if getattr(cfg, name) != default:
            parts += [f"--{name}", str(getattr(cfg, name))]
    if cfg.optimizer != "exact" and cfg.lr is not None:
        parts += ["--lr", "auto" if cfg.lr == "auto" else repr(float(cfg.lr))]
    if cfg.momentum is not None and cfg.optimizer in ("momentum", "nesterov"):
        parts += ["--momentum", repr(float(cfg.momentum))]
    for name, default in (("steps", 2000), ("seed", 0)):
        if getattr(cfg, name) != default:
            parts += [f"--{name}", str(getattr(cfg, name))]
    parts += ["--dtype", "float64"]
    return " ".join(shlex.quote(part) for part in parts)


def config_toml(cfg: FitConfig, upload: uploads.Upload | None) -> str:
    settings_ = cfg.to_dict()
    if upload is not None:
        settings_["data"] = upload.name
        settings_.pop("target")
        settings_.pop("samples")
        settings_.pop("noise")
    return configfile.to_toml(settings_)


_OPTION = re.compile(r"--(lr|steps|optimizer|basis|degree|momentum) ([A-Za-z0-9.+-]+)")


def suggestions(hint: str, query: Mapping[str, str], store: uploads.Store | None) -> list[dict[str, Any]]:
    """The hint's routes as patches the page applies in one click: one per route (the hint's clauses,
    "; " apart), holding all the settings that route needs, since "--steps 34" alone is not the route
    "--basis legendre --lr auto --steps 34". Where a clause spells its settings out in brackets ("the
    mapped --basis legendre with --lr auto gets ... (--basis legendre --lr auto --steps 34)"), those are
    the route. Only routes that make valid settings, each once."""
    out: list[dict[str, Any]] = []
    for clause in hint.split("; "):
        spelled = [g for g in re.findall(r"\(([^()]*)\)", clause) if _OPTION.search(g)]
        options = _OPTION.findall(spelled[-1] if spelled else clause)
        if not options:
            continue
        patch = dict(options)
        if "optimizer" in patch and "lr" not in patch:
            patch["lr"] = ""  # the new optimizer's own default lr, not the old one's
        label = " ".join(f"--{o} {v}" for o, v in options)
        if any(s["label"] == label for s in out):
            continue
        try:
            settings({**query, **patch}, store)
        except InputError:
            continue
        out.append({"label": label, "patch": patch})
    return out


LOSS_MATH = {
    "sse": "L = Σᵢ (ŷᵢ − yᵢ)²",
    "mse": "L = (1/n) Σᵢ (ŷᵢ − yᵢ)²",
    "huber": "L = (1/n) Σᵢ h(ŷᵢ − yᵢ),  h(r) = r²/2 for |r| ≤ δ, else δ(|r| − δ/2)",
}
GRAD_Y = {"sse": "grad_y_pred = 2.0 * (y_pred - y)", "mse": "grad_y_pred = 2.0 * (y_pred - y) / n",
          "huber": "grad_y_pred = clamp(y_pred - y, -δ, δ) / n"}  # fmt: skip
UPDATE_MATH = {
    "gd": "θ ← θ − lr · g",
    "momentum": "b ← μ · b + g;   θ ← θ − lr · b",
    "nesterov": "b ← μ · b + g;   θ ← θ − lr · (g + μ · b)",
    "adam": "m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr · m̂ / (√v̂ + ε)",
    "rmsprop": "v ← αv + (1−α)g²;  θ ← θ − lr · g / (√v + ε)",
    "lbfgs": "θ ← θ − lr · H̃⁻¹ g  (H̃ from the last gradients, torch.optim.LBFGS)",
    "exact": "θ = θ* = argmin L  (least squares, no steps)",
}


def math_lines(cfg: FitConfig) -> dict[str, Any]:
    """The model, the loss, the seed's hand-written gradients and the update rule, as text."""
    powers = list(range(cfg.degree, -1, -1))
    # The coefficients as the model line writes them: a, b, ... (power) or c3 ... c0 beside P3(t) ... P0(t)
    # (the page said 'ŷ = c3 P3(t) + ...' and then 'P3 = -1.157', two names for one number).
    names = basis.names(cfg.basis, cfg.degree) if cfg.basis == "power" else [f"c{k}" for k in powers]
    if cfg.basis == "power":
        feature = ["x" if k == 1 else "1" if k == 0 else f"x**{k}" for k in powers]
    else:
        symbol = "P" if cfg.basis == "legendre" else "T"
        feature = [f"{symbol}{k}(t)" for k in powers]
    grads = [f"grad_{n} = (grad_y_pred * {f}).sum()" if f != "1" else f"grad_{n} = grad_y_pred.sum()"
             for n, f in zip(names, feature)]  # fmt: skip
    return {
        "model": "ŷ = " + report.model_text(cfg) + ("" if cfg.basis == "power" else ",  t = (2x − (lo + hi)) / (hi − lo)"),
        "loss": LOSS_MATH[cfg.loss],
        "gradient": [GRAD_Y[cfg.loss], *grads],
        "update": UPDATE_MATH[cfg.optimizer],
        "names": names,
    }


def _auto_text(res: api.FitResult) -> str:
    if math.isfinite(res.auto.steps_to_1e6):
        return report.auto_lr_text(res)
    mom = f" and momentum {res.auto.momentum:.4g}" if res.auto.momentum is not None else ""
    return f"lr auto: condition number {res.quadratic.condition_number:.4g}, so lr {res.auto.lr:.4g}{mom}"


def _packed(a: Any) -> dict[str, Any]:
    """A float64 array for the page, exact and compact: its little-endian bytes in base64
    (about 11 characters a number, against about 19 for JSON's repr), NaN and inf kept."""
    arr = np.ascontiguousarray(a, dtype="<f8")
    return {"f64": base64.b64encode(arr.tobytes()).decode("ascii"), "shape": list(arr.shape)}


def _finite(a: Any) -> Any:
    """Arrays and numbers for JSON: lists of floats, with None for inf and NaN."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        v = float(arr)
        return v if math.isfinite(v) else None
    out = arr.tolist()
    bad = np.argwhere(~np.isfinite(arr))
    for index in bad:
        target = out
        for i in index[:-1]:
            target = target[i]
        target[index[-1]] = None
    return out


def problem_view(cfg: FitConfig, res: api.FitResult) -> dict[str, Any]:
    """What the page draws of the problem itself (data, basis on a grid, the solved surface): the same
    for every lr, momentum, optimizer, steps and seed of one (data, basis, degree, loss)."""
    q, ds = res.quadratic, res.dataset
    lo, hi = ds.domain
    x_all = ds.x.double().cpu().numpy()
    y_all = ds.y.double().cpu().numpy()
    shown = np.unique(np.linspace(0, len(x_all) - 1, min(SHOWN_POINTS, len(x_all))).round().astype(int))
    xmin, xmax = min(lo, float(x_all.min())), max(hi, float(x_all.max()))
    grid = np.linspace(xmin, xmax, CURVE_POINTS)
    columns = basis.columns(cfg.basis, torch.as_tensor(grid), cfg.degree, ds.domain).double().numpy()
    return {
        "p": cfg.degree + 1, "names": res.model.names, "domain": [lo, hi], "n": ds.size,
        "x": _packed(x_all[shown]), "y": _packed(y_all[shown]),
        "grid": _packed(grid), "columns": _packed(columns),
        "optimum": _finite(q.optimum), "optimum_loss": q.optimum_loss,
        "eigenvalues": _finite(q.eigenvalues), "weights": _finite(q.scale * q.singular_values**2),
        "directions": _finite(q.directions), "condition": _finite(q.condition_number),
        "stable_lr_gd": q.stable_lr, "quadratic": q.quadratic,
    }  # fmt: skip


def view(query: Mapping[str, str], store: uploads.Store | None = None, cache: ProblemCache = CACHE,
         runs: RunCache | None = None, have: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the page draws for these settings, JSON-ready: the endpoint /api/fit.

    ``have``: the id of the problem the page already holds (``problem_id`` of an earlier answer);
    when it is this answer's, ``problem`` is None and the page keeps its own (a slider move sends
    only what moved)."""
    cfg, upload = settings(query, store)
    r = run(cfg, upload, cache, runs)
    res, q = r.result, r.result.quadratic
    ds = res.dataset
    problem_id = hashlib.sha1(repr(cache.key(cfg, upload)).encode()).hexdigest()[:16]
    hint, why = report.hint(res), report.why(res)
    canonical = canonical_query(cfg, upload)
    s = res.statistics
    final = res.final_loss
    initial_loss = float(res.losses[0])
    diverging = res.diverged_at is not None or (r.bound is not None and res.lr is not None and res.lr > r.bound)
    model_json = json.dumps(modelfile.document(res), indent=2) if modelfile.writable(res) else None
    return {
        "query": canonical,
        "target": ds.target if upload is None else upload.name,
        "problem_id": problem_id,
        "problem": None if have == problem_id else problem_view(cfg, res),
        "run": {
            "optimizer": cfg.optimizer, "lr": res.lr, "momentum": res.momentum, "steps": cfg.steps,
            "auto": None if res.auto is None else _auto_text(res),
            "bound": r.bound, "rates": None if r.rates is None else _finite(r.rates),
            "recorded": r.steps.tolist(), "thetas": _packed(r.thetas),
            "losses": _packed(res.losses[np.minimum(r.steps, len(res.losses) - 1)]),
            "initial_loss": _finite(initial_loss), "final_loss": _finite(final),
            "diverged_at": res.diverged_at, "diverging": bool(diverging), "status": res.status,
            "converged_at": res.converged_at,
            "history_length": len(res.losses), "end": r.path.end, "engine": res.engine,
        },  # fmt: skip
        "report": {
            "final_loss": _finite(final), "optimum_loss": q.optimum_loss, "ratio": _finite(res.advice.ratio),
            "r2": _finite(s.r2), "rmse": _finite(s.rmse), "max_error": _finite(s.max_error),
            "max_error_at": _finite(s.max_error_at), "converged": res.advice.converged,
            "why": why, "hint": hint, "suggestions": suggestions(hint, canonical, store),
        },  # fmt: skip
        "math": math_lines(cfg),
        "downloads": {"command": command(cfg, upload), "config_toml": config_toml(cfg, upload),
                      "model_json": model_json},  # fmt: skip
    }


def frames(query: Mapping[str, str], store: uploads.Store | None = None, cache: ProblemCache = CACHE,
           runs: RunCache | None = None) -> tuple[Run, np.ndarray, dict[str, Any]]:  # fmt: skip
    """The endpoints /api/stream and /api/frames: the run for the query's settings (from the run cache
    when the page's answer computed it) and the steps of its frames, with the stream's own fields."""
    settings_query, control = stream.split(query)
    cfg, upload = settings(settings_query, store)
    r = run(cfg, upload, cache, runs)
    steps = paths.frame_steps(control["start"], control["speed"], r.path.end, control["count"])
    return r, steps, control


def upload(name: str, content: bytes, store: uploads.Store) -> dict[str, Any]:
    """The endpoint /api/upload: read a dropped file, keep its points in memory, say what it holds."""
    up = store.add(uploads.read(name, content))
    return {"id": up.id, "name": up.name, "n": int(up.x.size),
            "x_range": [float(up.x.min()), float(up.x.max())]}  # fmt: skip
