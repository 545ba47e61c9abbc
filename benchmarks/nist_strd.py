"""The NIST StRD nonlinear regression problems (tests/data/nist_strd): reader and model expressions.

Each .dat file holds the data, two starting points, the certified parameters and standard
deviations and the certified residual sum of squares. The models are written here in
sinefit's expression syntax, from the "Model:" line of each file (Nelson, whose model has
two predictors, is left out: a sinefit model has one x).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "nist_strd"

MODELS = {
    "Misra1a": "b1*(1-exp(-b2*x))",
    "Chwirut2": "exp(-b1*x)/(b2+b3*x)",
    "Chwirut1": "exp(-b1*x)/(b2+b3*x)",
    "Lanczos3": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Gauss1": "b1*exp(-b2*x) + b3*exp(-(x-b4)**2 / b5**2) + b6*exp(-(x-b7)**2 / b8**2)",
    "Gauss2": "b1*exp(-b2*x) + b3*exp(-(x-b4)**2 / b5**2) + b6*exp(-(x-b7)**2 / b8**2)",
    "DanWood": "b1*x**b2",
    "Misra1b": "b1 * (1-(1+b2*x/2)**(-2))",
    "Kirby2": "(b1 + b2*x + b3*x**2) / (1 + b4*x + b5*x**2)",
    "Hahn1": "(b1+b2*x+b3*x**2+b4*x**3) / (1+b5*x+b6*x**2+b7*x**3)",
    "MGH17": "b1 + b2*exp(-x*b4) + b3*exp(-x*b5)",
    "Lanczos1": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Lanczos2": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Gauss3": "b1*exp(-b2*x) + b3*exp(-(x-b4)**2 / b5**2) + b6*exp(-(x-b7)**2 / b8**2)",
    "Misra1c": "b1 * (1-(1+2*b2*x)**(-.5))",
    "Misra1d": "b1*b2*x*((1+b2*x)**(-1))",
    "Roszman1": "b1 - b2*x - arctan(b3/(x-b4))/pi",
    "ENSO": "b1 + b2*cos(2*pi*x/12) + b3*sin(2*pi*x/12) + b5*cos(2*pi*x/b4) + b6*sin(2*pi*x/b4)"
            " + b8*cos(2*pi*x/b7) + b9*sin(2*pi*x/b7)",
    "MGH09": "b1*(x**2+x*b2) / (x**2+x*b3+b4)",
    "Thurber": "(b1 + b2*x + b3*x**2 + b4*x**3) / (1 + b5*x + b6*x**2 + b7*x**3)",
    "BoxBOD": "b1*(1-exp(-b2*x))",
    "Rat42": "b1 / (1+exp(b2-b3*x))",
    "MGH10": "b1 * exp(b2/(x+b3))",
    "Eckerle4": "(b1/b2) * exp(-0.5*((x-b3)/b2)**2)",
    "Rat43": "b1 / ((1+exp(b2-b3*x))**(1/b4))",
    "Bennett5": "b1 * (b2+x)**(-1/b3)",
}


@dataclass(frozen=True)
class NistProblem:
    name: str
    difficulty: str  # lower, average, higher
    model: str
    names: tuple[str, ...]
    starts: tuple[tuple[float, ...], tuple[float, ...]]
    certified: np.ndarray  # (k,)
    certified_stderr: np.ndarray  # (k,)
    certified_sse: float
    x: np.ndarray
    y: np.ndarray

    def init(self, start: int) -> dict[str, float]:
        return dict(zip(self.names, self.starts[start - 1]))


def _lines(text: str, label: str) -> tuple[int, int]:
    m = re.search(label + r"\s*\(lines\s+(\d+)\s+to\s+(\d+)\)", text)
    return int(m.group(1)), int(m.group(2))


def load(name: str) -> NistProblem:
    text = (DATA / f"{name}.dat").read_text()
    lines = text.splitlines()
    first, last = _lines(text, "Certified Values")
    names, s1, s2, cert, cert_se = [], [], [], [], []
    for line in lines[first - 1 : last]:
        m = re.match(r"\s*(b\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if m:
            names.append(m.group(1))
            s1.append(float(m.group(2)))
            s2.append(float(m.group(3)))
            cert.append(float(m.group(4)))
            cert_se.append(float(m.group(5)))
    sse = float(re.search(r"Residual Sum of Squares:\s+(\S+)", text).group(1))
    difficulty = re.search(r"(Lower|Average|Higher) Level of Difficulty", text).group(1).lower()
    first, last = _lines(text, "Data")
    rows = np.array([[float(v) for v in line.split()] for line in lines[first - 1 : last] if line.strip()])
    return NistProblem(name, difficulty, MODELS[name], tuple(names), (tuple(s1), tuple(s2)), np.array(cert),
                       np.array(cert_se), sse, rows[:, 1].copy(), rows[:, 0].copy())  # fmt: skip


def lre(value: float, certified: float, cap: float = 11.0) -> float:
    """Log relative error: the number of significant digits in agreement (NIST's measure), capped."""
    if not math.isfinite(value):
        return 0.0
    if value == certified:
        return cap
    err = abs(value - certified) / (abs(certified) if certified != 0 else 1.0)
    return float(min(cap, max(0.0, -math.log10(err))))


def problems() -> list[str]:
    return list(MODELS)
