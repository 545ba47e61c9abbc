"""A learned polynomial: coefficients in a basis on a domain, in a naming order. Data, and pure functions of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import basis, model
from .coefficients import Coefficients


@dataclass(frozen=True)
class Polynomial:
    """Coefficients (highest degree first) in a basis on a domain; ``order`` names them (see basis.names)."""

    coefficients: Coefficients  # any array-like on the way in; held as Coefficients (names attached)
    domain: tuple[float, float]
    basis: str = "power"
    order: str = "descending"

    def __post_init__(self) -> None:
        names = basis.names(self.basis, len(np.asarray(self.coefficients).reshape(-1)) - 1, self.order)
        object.__setattr__(self, "coefficients", Coefficients(self.coefficients, names, self.order == "ascending"))

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    @property
    def names(self) -> list[str]:
        return list(self.coefficients.names)

    @property
    def powers(self) -> list[int]:
        return model.powers(self.degree)

    @property
    def power_coefficients(self) -> np.ndarray:
        """The same polynomial as plain power-series coefficients of raw x, highest first."""
        return basis.to_power(self.basis, np.asarray(self.coefficients), self.domain)

    def predict(self, x: Any) -> np.ndarray:
        """The polynomial at x (a number, a sequence, an array or a tensor), in float64."""
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        return basis.evaluate_numpy(self.basis, np.asarray(self.coefficients), np.asarray(x, dtype=np.float64),
                                    self.domain)  # fmt: skip

    def formula(self, digits: int = 6) -> str:
        """The polynomial in powers of raw x, for people (from the constant up in the ascending order)."""
        return model.formula(self.power_coefficients, digits, ascending=self.order == "ascending")

    def as_dict(self) -> dict[str, float]:
        """{'a': ..., 'b': ..., ...}: coefficients by name, in the fitted basis and the naming order."""
        return self.coefficients.as_dict()
