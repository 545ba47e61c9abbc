"""``--init a=1,b=0.5`` and ``--bounds b=0:inf``: parameter settings read once, at the boundary.

Both are kept in a :class:`~sinefit.config.FitConfig` as canonical text (``a=1.0,b=0.5``),
so a run's config.toml stays flat and refits the same numbers; the library also takes
dicts (``init={"a": 1, "b": 0.5}``, ``bounds={"b": (0, None)}``). Values may be
constants as ``--domain`` reads them (``pi/2``, ``-1e-3``); a bound may be ``inf`` or left
empty (``b=0:`` is b >= 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import expr
from ..config import DEFAULT_LR, ConfigError

INIT, BOUNDS = "--init", "--bounds"


def _pairs(option: str, value: Any) -> list[tuple[str, Any]]:
    """name=value items, in the order given; a dict passes through as its items."""
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if not isinstance(value, str):
        raise ConfigError(option, f"must be name=value pairs such as a=1,b=0.5 (or a dict), got {value!r}")
    items = []
    for part in value.split(","):
        if not part.strip():
            continue
        name, sep, rhs = part.partition("=")
        if not sep or not name.strip():
            raise ConfigError(option, f"{part.strip()!r} is not name=value (write e.g. a=1,b=0.5)")
        items.append((name.strip(), rhs))
    if not items:
        raise ConfigError(option, "no name=value pairs given (write e.g. a=1,b=0.5)")
    return items


def _number(option: str, name: str, value: Any, allow_inf: bool = False) -> float:
    if isinstance(value, str):
        text = value.strip()
        if allow_inf and text.lower() in ("inf", "+inf", "-inf"):
            return -math.inf if text.startswith("-") else math.inf
        if not text:
            raise ConfigError(option, f"{name}: no value given")
        try:
            return expr.constant(text, option=f"{option} {name}")
        except expr.ExpressionError as e:
            raise ConfigError(option, f"{name}: {text!r} is not a finite number ({e})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(option, f"{name}: must be a number, got {value!r}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ConfigError(option, f"{name}: must be a finite number, got {value!r}")
    return v


def _check_names(option: str, names: list[str], parameters: tuple[str, ...]) -> None:
    seen = set()
    for name in names:
        if name not in parameters:
            raise ConfigError(option, f"unknown parameter {name!r} (the model's parameters: {', '.join(parameters)})")
        if name in seen:
            raise ConfigError(option, f"{name} is given twice")
        seen.add(name)


KINDS = ("randn", "zeros")  # the --init kinds that make sense for any model


def parse_init(value: Any, parameters: tuple[str, ...], seed: int = 0) -> dict[str, float]:
    """Every parameter's finite starting value, by name, in the model's order.

    ``value``: name=value pairs (or a dict); numbers in the parameters' order (``1,0.5,0``);
    ``randn`` (the seed's draw: ``torch.manual_seed(seed)`` then one ``torch.randn(())`` per
    parameter, in order, float32 as the seed draws) or ``zeros``.
    """
    example = ",".join(f"{p}=1" for p in parameters)
    if value is None:
        raise ConfigError(INIT, f"give every parameter a starting value, e.g. --init {example}")
    if isinstance(value, str) and value.strip() in KINDS:
        if value.strip() == "zeros":
            return {p: 0.0 for p in parameters}
        gen = torch.Generator().manual_seed(seed)
        return {p: float(torch.randn((), generator=gen)) for p in parameters}
    if isinstance(value, (list, tuple)) or (isinstance(value, str) and "=" not in value):
        parts = list(value) if isinstance(value, (list, tuple)) else [v for v in value.split(",") if v.strip()]
        if isinstance(value, str) and not all(_looks_numeric(v) for v in parts):
            raise ConfigError(INIT, f"for a --model fit: name=value pairs ({example}), numbers in the parameters' "
                              f"order ({', '.join(parameters)}), randn or zeros; got {value!r}")  # fmt: skip
        if len(parts) != len(parameters):
            raise ConfigError(INIT, f"{len(parts)} values for {len(parameters)} parameters ({', '.join(parameters)})")
        return {p: _number(INIT, p, v) for p, v in zip(parameters, parts)}
    items = _pairs(INIT, value)
    _check_names(INIT, [n for n, _ in items], parameters)
    values = {n: _number(INIT, n, v) for n, v in items}
    missing = [p for p in parameters if p not in values]
    if missing:
        raise ConfigError(INIT, f"no starting value for {', '.join(missing)} (every parameter needs one: {example})")
    return {p: values[p] for p in parameters}


def _looks_numeric(text: str) -> bool:
    try:
        expr.constant(text, option=INIT)
        return True
    except expr.ExpressionError:
        return False


def parse_bounds(value: Any, parameters: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """(lower, upper) for each parameter given (others are unbounded: -inf, inf)."""
    if value is None:
        return {}
    items = _pairs(BOUNDS, value)
    _check_names(BOUNDS, [n for n, _ in items], parameters)
    bounds = {}
    for name, rhs in items:
        if isinstance(rhs, str):
            lo_text, sep, hi_text = rhs.partition(":")
            if not sep:
                raise ConfigError(BOUNDS, f"{name}: write lower:upper, as in {name}=0:inf or {name}=-1:1")
            lo = -math.inf if not lo_text.strip() else _number(BOUNDS, name, lo_text, allow_inf=True)
            hi = math.inf if not hi_text.strip() else _number(BOUNDS, name, hi_text, allow_inf=True)
        elif isinstance(rhs, (tuple, list)) and len(rhs) == 2:
            lo = -math.inf if rhs[0] is None else _number(BOUNDS, name, rhs[0], allow_inf=True)
            hi = math.inf if rhs[1] is None else _number(BOUNDS, name, rhs[1], allow_inf=True)
        else:
            raise ConfigError(BOUNDS, f"{name}: must be lower:upper (or a pair), got {rhs!r}")
        if not lo < hi:
            raise ConfigError(BOUNDS, f"{name}: the lower bound must be below the upper one, got {lo:g}:{hi:g}")
        bounds[name] = (lo, hi)
    return {p: bounds[p] for p in parameters if p in bounds}


def check_inside(init: dict[str, float], bounds: dict[str, tuple[float, float]]) -> None:
    """A start on or beyond a bound is refused: the bound's transformation is flat there (see ``bounds``)."""
    for name, (lo, hi) in bounds.items():
        v = init[name]
        if not lo < v < hi:
            raise ConfigError(INIT, f"{name}={v:g} is not strictly inside its bounds {lo:g}:{hi:g}; start inside them")


def _text(v: float) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else repr(float(v))


def init_text(init: dict[str, float]) -> str:
    return ",".join(f"{n}={_text(v)}" for n, v in init.items())


def bounds_text(bounds: dict[str, tuple[float, float]]) -> str | None:
    return ",".join(f"{n}={_text(lo)}:{_text(hi)}" for n, (lo, hi) in bounds.items()) or None


def is_named_init(value: Any) -> bool:
    """Whether an init setting is this module's name=value form (or a dict), not another kind."""
    return isinstance(value, dict) or (isinstance(value, str) and "=" in value)


def applies(cfg) -> bool:
    """Whether these checks are the ones for ``cfg``: a model fit, or a model setting without a model."""
    return (cfg.model is not None or cfg.optimizer == "lm" or cfg.bounds is not None or cfg.starts != 1
            or is_named_init(cfg.init))  # fmt: skip


def validated_config(cfg):
    """``FitConfig.validated`` for model fits (and the refusals of model settings without a model).

    The settings common to every fit are checked by the polynomial validation itself, on a copy
    without the model's settings; then the model, its init and bounds are read, and kept as
    canonical text.
    """
    import dataclasses

    from .expression import parse

    if cfg.model is None:
        if cfg.optimizer == "lm":
            raise ConfigError("--optimizer", "lm fits --model expressions; for polynomials --optimizer exact solves "
                              "least squares directly")  # fmt: skip
        for option, value, default in ((BOUNDS, cfg.bounds, None), ("--starts", cfg.starts, 1)):
            if value != default:
                raise ConfigError(option, "is for --model fits (a polynomial's least-squares loss has one minimum)"
                                  if option == "--starts" else "name=value settings are for --model fits")  # fmt: skip
        raise ConfigError(INIT, "name=value starts are for --model fits; a polynomial takes values a,b,c,... in the "
                          "naming order")  # fmt: skip
    if isinstance(cfg.starts, bool) or not isinstance(cfg.starts, int) or not 1 <= cfg.starts <= 10_000:
        raise ConfigError("--starts", f"must be a whole number from 1 to 10000, got {cfg.starts!r}")
    for option, value, default in (("--degree", cfg.degree, 3), ("--basis", cfg.basis, "power"),
                                   ("--order", cfg.order, "descending"), ("--summary", cfg.summary, None)):
        if value != default:
            raise ConfigError(option, "is for polynomial fits; a --model names its own parameters and reads points")
    if cfg.engine == "stats":
        raise ConfigError("--engine", "stats serves polynomial fits; a --model runs on the per-sample engine")
    if cfg.lr == "auto":
        raise ConfigError("--lr", "auto is for polynomial fits; give a number (the report gives the largest stable "
                          "lr at the start and at the solution)")  # fmt: skip
    if cfg.optimizer == "lm" and cfg.loss == "huber":
        raise ConfigError("--optimizer", "lm solves least squares: use --loss sse or mse with it, or lbfgs for huber")
    model = parse(cfg.model)
    init = parse_init(cfg.init, model.parameters, cfg.seed if isinstance(cfg.seed, int) else 0)
    bounds = parse_bounds(cfg.bounds, model.parameters)
    check_inside(init, bounds)
    optimizer = "gd" if cfg.optimizer == "lm" else cfg.optimizer
    # A polynomial fit's lr None is settled later from its Hessian (1e-6 where stable, else auto); a model has
    # no such bound before it runs, so it takes the optimizer's plain default (and momentum's 0.9 with it).
    given_lr = DEFAULT_LR[optimizer] if cfg.lr is None else cfg.lr
    base = dataclasses.replace(cfg, model=None, init="randn", bounds=None, starts=1, optimizer=optimizer,
                               engine="per-sample", grad="autograd", lr=given_lr).validated()  # fmt: skip
    lr = None if cfg.optimizer == "lm" else base.lr
    kind = isinstance(cfg.init, str) and cfg.init.strip() in KINDS  # kept as the kind: it depends on --seed
    return dataclasses.replace(base, model=model.text, init=cfg.init.strip() if kind else init_text(init),
                               bounds=bounds_text(bounds),
                               starts=cfg.starts, optimizer=cfg.optimizer, lr=lr,
                               momentum=None if cfg.optimizer == "lm" else base.momentum)  # fmt: skip
