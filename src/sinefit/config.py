"""Settings of a fit: plain data, validated once at the boundary.

Every entry point (the library's ``fit``, the CLI, a saved config) builds a
:class:`FitConfig` and calls :meth:`FitConfig.validated`; nothing downstream
checks settings again. Learned values never live here (see ``api.FitResult``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError

DTYPES = ("float32", "float64")


class ConfigError(InputError):
    """A setting is out of range. ``option`` names it as the CLI spells it."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


@dataclass(frozen=True)
class FitConfig:
    """What to fit and how. The defaults are the seed experiment's."""

    seed: int = 0
    lr: float = 1e-6
    steps: int = 2000
    samples: int = 1000
    degree: int = 3
    log_every: int = 100
    dtype: str = "float32"
    domain: tuple[float, float] = field(default=(-math.pi, math.pi))

    def validated(self) -> "FitConfig":
        """Return self if every setting is in range, else raise ConfigError."""
        _require_int("--seed", self.seed)
        if not 0 <= self.seed < 2**63:
            raise ConfigError("--seed", f"must be between 0 and 2**63 - 1, got {self.seed}")
        _require_int("--steps", self.steps)
        if self.steps < 0:
            raise ConfigError("--steps", f"must be 0 or more, got {self.steps}")
        _require_int("--degree", self.degree)
        if self.degree < 0:
            raise ConfigError("--degree", f"must be 0 or more, got {self.degree}")
        _require_int("--samples", self.samples)
        if self.samples < 2:
            raise ConfigError("--samples", f"must be at least 2, got {self.samples}")
        if self.samples < self.degree + 1:
            raise ConfigError(
                "--samples",
                f"a degree-{self.degree} polynomial needs at least {self.degree + 1} "
                f"samples, got {self.samples}",
            )
        _require_int("--log-every", self.log_every)
        if self.log_every < 1:
            raise ConfigError("--log-every", f"must be 1 or more, got {self.log_every}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)):
            raise ConfigError("--lr", f"must be a number, got {self.lr!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError("--lr", f"must be a positive finite number, got {self.lr!r}")
        if self.dtype not in DTYPES:
            raise ConfigError("--dtype", f"must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        lo, hi = self.domain
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError("--domain", f"must be two finite numbers a < b, got {lo!r},{hi!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["domain"] = list(self.domain)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FitConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting (known: {', '.join(sorted(known))})")
        data = dict(data)
        if "domain" in data:
            data["domain"] = tuple(data["domain"])
        return cls(**data).validated()


def _require_int(option: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, f"must be a whole number, got {value!r}")
