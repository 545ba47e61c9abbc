"""Settings of a fit: plain data, validated once at the boundary.

Every entry point (the library's ``fit``, the CLI, a config file) builds a
:class:`FitConfig` and calls :meth:`FitConfig.validated`, which checks every
setting and fills in the defaults that depend on others (an optimizer's
learning rate); nothing downstream checks settings again. Learned values never
live here (see ``api.FitResult``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from .errors import InputError

DTYPES = ("float32", "float64")
BASES = ("power", "legendre", "chebyshev")
LOSSES = ("sse", "mse", "huber")
OPTIMIZERS = ("gd", "momentum", "nesterov", "adam", "rmsprop", "lbfgs", "exact", "lm")
GRADS = ("manual", "autograd")
ENGINES = ("auto", "per-sample", "stats")
DEVICES = ("cpu", "cuda", "auto")
ORDERS = ("descending", "ascending")
# The learning rate an optimizer gets when none is given: the seed's for the
# gradient-descent family, torch.optim's defaults for the others.
DEFAULT_LR = {"gd": 1e-6, "momentum": 1e-6, "nesterov": 1e-6, "adam": 1e-2, "rmsprop": 1e-2, "lbfgs": 1.0}
AUTO_LR = ("gd", "momentum", "nesterov")  # optimizers with a textbook step for quadratics
MAX_DEGREE = 1000
MAX_SAMPLES_IN_MEMORY = 20_000_000  # the per-sample engine holds every point (and p columns) in memory
MAX_SAMPLES = 10**12  # the stats engine streams: only time bounds it


class ConfigError(InputError):
    """A setting is out of range. ``option`` names it as the CLI spells it."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@dataclass(frozen=True)
class FitConfig:
    """What to fit and how. The defaults are the seed experiment's."""

    target: str = "sin"
    data: str | None = None
    summary: str | None = None  # a saved sinefit.Summary to fit instead of points
    columns: str | None = None
    domain: tuple[float, float] | None = None  # None: [-pi, pi], or the data's range
    samples: int = 1000
    noise: float = 0.0
    degree: int = 3
    basis: str = "power"
    loss: str = "sse"
    huber_delta: float = 1.0
    optimizer: str = "gd"
    lr: float | str | None = None  # None: the optimizer's default (gd family: 1e-6 where stable, else auto); "auto": from the Hessian
    momentum: float | None = None  # None: 0.9, or the textbook value with lr "auto"
    grad: str = "manual"
    steps: int = 2000  # a cap: iterative optimizers stop early once at the optimum (see tol)
    tol: float | None = None  # stop once loss - optimum <= tol * optimum; None: at round-off only; 0: never early
    seed: int = 0
    dtype: str = "float32"
    log_every: int | None = None  # None: 100, or for a long run a coarser round step (history.default_log_every)
    engine: str = "auto"  # auto: stats for quadratic losses in float64, else per-sample (the seed's way)
    device: str = "cpu"
    init: Any = "randn"  # where the fit starts: a kind, values or a saved model (see init.py); a=1,b=2 for a model
    batch_size: int | None = None  # None: every point in every step; B: mini-batch SGD (see minibatch.py)
    order: str = "descending"  # naming order: a x^3 + ... + d (the seed's) or a + b x + ... (the tutorial's)
    model: str | None = None  # an expression over x and named parameters: a model fit (sinefit.nonlinear)
    bounds: str | None = None  # model fits: b=0:inf
    starts: int = 1  # model fits: the init and starts - 1 seeded perturbations of it

    def validated(self) -> "FitConfig":
        """Check every setting; return a copy with dependent defaults filled in."""
        _int("--seed", self.seed, 0, 2**63 - 1)
        _int("--steps", self.steps, 0, 10**9)
        _int("--degree", self.degree, 0, MAX_DEGREE, hint="a higher degree is not a polynomial fit any more")
        _int("--samples", self.samples, 2, MAX_SAMPLES)
        if self.log_every is None:  # filled in first: every path (model fits too) sees a number
            from .history import default_log_every

            _int("--steps", self.steps, 0, 10**9)
            return dataclasses.replace(self, log_every=default_log_every(self.steps)).validated()
        _int("--log-every", self.log_every, 1, 10**9)
        if self.steps >= 10_000:  # the logged rows a long run keeps must fit the memory budget: refused up front
            from .history import check_logged

            check_logged(self.steps, self.log_every)
        from .nonlinear import settings as model_settings  # --model fits: the model's own checks

        if model_settings.applies(self):
            return model_settings.validated_config(self)
        if self.data is None and self.summary is None and self.samples < self.degree + 1:
            raise ConfigError(
                "--samples",
                f"a degree-{self.degree} polynomial needs at least {self.degree + 1} samples, got {self.samples}",
            )
        lowered = {k: getattr(self, k).lower() for k in ("dtype", "basis", "loss", "optimizer", "grad", "engine", "device")
                   if isinstance(getattr(self, k), str) and getattr(self, k) != getattr(self, k).lower()}  # fmt: skip
        if lowered:  # --optimizer Adam means adam: choices are names, not case-sensitive codes
            return dataclasses.replace(self, **lowered).validated()
        for option, value, choices in (
            ("--dtype", self.dtype, DTYPES),
            ("--basis", self.basis, BASES),
            ("--loss", self.loss, LOSSES),
            ("--optimizer", self.optimizer, OPTIMIZERS),
            ("--grad", self.grad, GRADS),
            ("--engine", self.engine, ENGINES),
            ("--device", self.device, DEVICES),
            ("--order", self.order, ORDERS),
        ):
            if value not in choices:
                raise ConfigError(option, f"must be one of {', '.join(choices)}, got {value!r}")
        _positive("--huber-delta", self.huber_delta)
        if self.tol is not None:
            _number("--tol", self.tol)
            if self.tol < 0:
                raise ConfigError("--tol", f"must be 0 (never stop early) or more, got {self.tol!r}")
        _number("--noise", self.noise)
        if self.noise < 0:
            raise ConfigError("--noise", f"must be 0 or more, got {self.noise!r}")
        if self.domain is not None:
            if not (isinstance(self.domain, (tuple, list)) and len(self.domain) == 2):
                raise ConfigError("--domain", f"must be two numbers a,b, got {self.domain!r}")
            lo, hi = self.domain
            _number("--domain", lo)
            _number("--domain", hi)
            if not lo < hi:
                raise ConfigError("--domain", f"must be a < b, got {lo!r},{hi!r}")
        for option, value in (("--target", self.target), ("--data", self.data), ("--columns", self.columns),
                              ("--summary", self.summary)):  # fmt: skip
            if value is not None and not isinstance(value, str):
                raise ConfigError(option, f"must be text, got {value!r}")
            if value is not None and not _utf8(value):  # a file name of undecodable bytes ($'ok\xff.csv')
                raise ConfigError(option, f"{value!r} is not valid UTF-8 (run files and readers need it): rename it")
        if self.summary is not None and (self.data is not None or self.noise):
            raise ConfigError("--summary", "fits a saved summary instead of points: give no --data or --noise")
        if self.data is not None and self.noise:
            raise ConfigError("--noise", "applies to generated targets, not to --data")
        if self.data is None:
            from . import expr  # validates syntax only: nothing is evaluated here

            expr.resolve(self.target)

        if self.batch_size is not None:
            _int("--batch-size", self.batch_size, 1, MAX_SAMPLES_IN_MEMORY)
            if self.engine == "stats":
                raise ConfigError("--batch-size", "mini-batches run on the per-sample engine; drop --engine stats")
            if self.optimizer in ("lbfgs", "exact"):
                raise ConfigError("--batch-size", f"mini-batches are for update rules (gd, momentum, nesterov, adam, "
                                                  f"rmsprop), not {self.optimizer}")  # fmt: skip
        if self.engine == "stats" and self.loss == "huber":
            raise ConfigError("--engine", "stats serves the quadratic losses (sse, mse); huber runs per-sample")
        if self.engine == "stats" and self.grad == "autograd":
            raise ConfigError("--engine", "autograd runs on the per-sample engine; use --grad manual with stats")
        if self.resolved_engine() == "per-sample" and self.data is None and self.samples > MAX_SAMPLES_IN_MEMORY:
            raise ConfigError(
                "--samples",
                f"{self.samples} points do not fit the per-sample engine (at most {MAX_SAMPLES_IN_MEMORY}); "
                "--dtype float64 streams them through the stats engine",
            )
        if self.optimizer == "exact" and self.loss not in ("sse", "mse"):
            raise ConfigError("--optimizer", f"exact solves least squares; for --loss {self.loss} use lbfgs")
        lr = self.lr
        if self.optimizer == "exact":  # solved directly: no lr (the CLI says so when one is given)
            lr = None
        elif lr == "auto":
            if self.optimizer not in AUTO_LR:
                raise ConfigError("--lr", f"auto is for {', '.join(AUTO_LR)}; give {self.optimizer} a number")
            if self.loss == "huber":
                raise ConfigError("--lr", "auto needs a quadratic loss (sse or mse)")
        elif lr is None:  # the gd family's default depends on the problem: api.default_lr decides
            lr = None if self.optimizer in AUTO_LR else DEFAULT_LR.get(self.optimizer)
        else:
            _positive("--lr", lr)
        if self.momentum is not None:
            _number("--momentum", self.momentum)
            if not 0 <= self.momentum < 1:
                raise ConfigError("--momentum", f"must be in [0, 1), got {self.momentum!r}")
        momentum = self.momentum
        if momentum is None and self.optimizer in ("momentum", "nesterov") and lr not in ("auto", None):
            momentum = 0.9
        domain = tuple(float(v) for v in self.domain) if self.domain is not None else None
        return dataclasses.replace(self, lr=lr, momentum=momentum, domain=domain, init=self._init_text())

    def _init_text(self) -> str:
        """--init checked (syntax, count of values, the seed numpy takes) and in its canonical text."""
        from . import init

        try:
            start = init.parse(self.init)
            init.check(start, self.degree, self.seed)
        except init.InitError as e:
            raise ConfigError("--init", str(e)) from None
        if start.kind == "path" and not os.path.exists(start.path):  # read (and checked further) before the start
            raise ConfigError("--init", f"{start.path}: no such model file or run directory (or a kind: "
                                        f"{', '.join(init.KINDS)}; or numbers a,b,c,...)")  # fmt: skip
        return init.text(start)

    def resolved_engine(self) -> str:
        """Which engine runs: the stats engine wherever it gives the per-sample numbers (to 1e-9 in
        float64); the seed's float32 arithmetic, Huber and autograd run per sample."""
        if self.engine != "auto":
            return self.engine
        if self.batch_size is not None:  # each step its own points: no sufficient statistics
            return "per-sample"
        quadratic = self.loss in ("sse", "mse") and self.grad == "manual"
        return "stats" if quadratic and self.dtype == "float64" else "per-sample"

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # flat: no deep copy needed
        d["domain"] = list(self.domain) if self.domain is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FitConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting (known: {', '.join(sorted(known))})")
        return cls(**data).validated()


def _int(option: str, value: Any, lo: int, hi: int, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, f"must be a whole number, got {value!r}")
    if value < lo:
        raise ConfigError(option, f"must be {lo} or more, got {value}")
    if value > hi:
        raise ConfigError(option, f"must be at most {hi}, got {value}" + (f" ({hint})" if hint else ""))


def _number(option: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(option, f"must be a finite number, got {value!r}")


def _positive(option: str, value: Any) -> None:
    _number(option, value)
    if value <= 0:
        raise ConfigError(option, f"must be a positive finite number, got {value!r}")
