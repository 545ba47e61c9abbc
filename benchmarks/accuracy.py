"""Accuracy of the least-squares optimum on ill-conditioned data (issue 9, "as accurate as the best peer").

For each case (x far from zero, degrees 2-10) the power-basis coefficients of the least-squares
polynomial are computed by

* sinefit: ``fit(x=..., y=..., optimizer="exact", dtype="float64").model.power_coefficients``;
* numpy.polyfit (the power basis directly, column-scaled lstsq);
* numpy.polynomial ``Polynomial.fit(x, y, deg).convert()`` (mapped to [-1, 1], then converted);
* scipy.linalg.lstsq on the Vandermonde matrix;

and compared with a 50-digit mpmath reference (normal equations solved in 50-digit arithmetic from
the very float64 x and y). The figure is log10 of the relative error ||c - c_ref|| / ||c_ref||
(lower is better; -16 is float64's limit). The hint matrix's pass count is printed too
(``tests/test_hints.py`` runs it).

    python benchmarks/accuracy.py            # the table, as Markdown
"""

from __future__ import annotations

import math
import sys
import warnings

import mpmath
import numpy as np


def cases():
    rng = np.random.default_rng(1)
    x = np.linspace(-8.8, -3.1, 82)
    yield "calibration curve, x in [-8.8, -3.1]", 10, x, np.tanh(x / 2) + 0.5 * np.sin(x) + 1e-3 * rng.standard_normal(82)
    x = np.arange(1960.0, 2021.0)
    yield "yearly data, x = 1960..2020", 2, x, 0.01 * (x - 1990) ** 2 + 0.3 * (x - 1990) + 300 + np.sin(x)
    yield "yearly data, x = 1960..2020", 3, x, 0.01 * (x - 1990) ** 2 + 0.3 * (x - 1990) + 300 + np.sin(x)
    x = np.linspace(100.0, 110.0, 200)
    yield "x in [100, 110]", 5, x, np.exp(-(x - 105) ** 2 / 8) + 0.01 * rng.standard_normal(200)
    x = np.linspace(1000.0, 1050.0, 300)
    yield "x in [1000, 1050]", 4, x, np.cos((x - 1000) / 8) + 0.01 * rng.standard_normal(300)
    x = np.linspace(0.0, 10.0, 200)
    yield "x in [0, 10]", 8, x, np.exp(-x / 3) * np.cos(x)
    x = 1e6 + np.linspace(-5, 5, 101)
    yield "x near 1e6", 2, x, 2e-3 * (x - 1e6) ** 2 - 0.7 * (x - 1e6) + 3 + 0.01 * rng.standard_normal(101)


def reference(x, y, degree, dps=50):
    with mpmath.workdps(dps):
        X = mpmath.matrix([[mpmath.mpf(float(v)) ** k for k in range(degree, -1, -1)] for v in x])
        Y = mpmath.matrix([mpmath.mpf(float(v)) for v in y])
        theta = mpmath.lu_solve(X.T * X, X.T * Y)
        return np.array([float(v) for v in theta])


def methods():
    import scipy.linalg

    from sinefit import fit

    def sinefit_(x, y, d):
        return fit(x=x, y=y, degree=d, optimizer="exact", dtype="float64").model.power_coefficients

    def polyfit(x, y, d):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # RankWarning on exactly these cases
            return np.polyfit(x, y, d)

    def polynomial(x, y, d):
        return np.polynomial.Polynomial.fit(x, y, d).convert().coef[::-1]

    def lstsq(x, y, d):
        return scipy.linalg.lstsq(np.vander(x, d + 1), y)[0]

    return {"sinefit": sinefit_, "numpy.polyfit": polyfit, "Polynomial.fit().convert()": polynomial,
            "scipy.linalg.lstsq": lstsq}  # fmt: skip


def table() -> str:
    ms = methods()
    lines = ["| case | degree | " + " | ".join(ms) + " |", "|---|---:|" + "---:|" * len(ms)]
    for name, d, x, y in cases():
        ref = reference(x, y, d)
        cells = []
        for f in ms.values():
            c = np.asarray(f(x, y, d), dtype=np.float64)
            err = float(np.linalg.norm(c - ref) / np.linalg.norm(ref))
            cells.append(f"{math.log10(max(err, 1e-17)):.1f}" if math.isfinite(err) else "fails")
        lines.append(f"| {name} | {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print("log10 relative error of the power coefficients against a 50-digit reference (lower is better)\n")
    print(table())
    sys.exit(0)
