"""The design matrix is finite in the dtype in force, or the fit is refused before any factorisation.

LAPACK's SVD and eigensolvers do not return on a matrix holding inf or NaN: they spin (past
Ctrl-C) or print "illegal value" lines and fail. Powers of x overflow quickly: float32 ends
near 3.4e38, so x^3 at x = 1e13 and pi^78 are already inf; float64 ends near 1.8e308
(pi^620). So the basis columns are built in the working dtype and checked here, and a
refusal names the culprit (the x, the power that overflows, the highest degree that stays
finite) and what would work: float64, a mapped basis, rescaled x, a lower degree.

Imports only torch (and sinefit's basis and error type): pure math.
"""

from __future__ import annotations

import math

import torch

from . import basis, budget
from .errors import InputError

_NAMES = {torch.float32: "float32", torch.float64: "float64"}


class NotFinite(InputError):
    """The design matrix (or y) overflows the working dtype."""


def design(kind: str, x: torch.Tensor, degree: int, domain: tuple[float, float], source: str,
           y: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """``basis.columns(kind, x, degree, domain)``, checked: within the memory budget before it is
    built, and every entry (and y) finite in x's dtype after."""
    if y is not None:
        check_values(y, "y", source)
    check_values(x, "x", source)
    budget.check_design(x.numel(), degree + 1, x.element_size(), source)  # before allocating it
    columns = basis.columns(kind, x, degree, domain)
    check_columns(columns, x, degree, kind, source)
    return columns


def check_values(v: torch.Tensor, name: str, source: str) -> None:
    """x or y themselves must be representable (1e70 is inf in float32)."""
    bad = ~torch.isfinite(v)
    if bool(bad.any()):
        dtype = _NAMES.get(v.dtype, str(v.dtype))
        big = torch.finfo(v.dtype).max
        raise NotFinite(
            f"{source}: {name} has a value beyond {dtype}'s range (about {big:.2g}), so it cannot be fitted "
            f"in {dtype}; " + (f"use --dtype float64 or rescale {name}" if dtype == "float32" else f"rescale {name}")
        )


def check_columns(columns: torch.Tensor, x: torch.Tensor, degree: int, kind: str, source: str) -> None:
    """Refuse (p, m) basis columns with an inf or NaN entry, naming x, the power and what would work.

    Rows run from phi_degree down to phi_0, so the lowest failing basis function is the last
    non-finite row: the degree that fits is one below it.
    """
    finite_rows = torch.isfinite(columns).all(dim=1)
    if bool(finite_rows.all()):
        return
    bad_rows = torch.nonzero(~finite_rows).flatten()
    k = degree - int(bad_rows.max())  # the lowest basis function that overflows somewhere
    row = columns[degree - k]
    culprits = x[~torch.isfinite(row)]
    at = float(culprits.abs().max()) if culprits.numel() else math.nan
    sign = -1.0 if culprits.numel() and float(culprits[culprits.abs().argmax()]) < 0 else 1.0
    raise NotFinite(_message(source, kind, k, sign * at, degree, x.dtype))


def _message(source: str, kind: str, k: int, at: float, degree: int, dtype: torch.dtype) -> str:
    name = _NAMES.get(dtype, str(dtype))
    big = torch.finfo(dtype).max
    phi = f"x^{k}" if kind == "power" else f"{basis.names(kind, k)[0]}(x)"
    fits = k - 1
    ways = []
    if name == "float32":
        ways.append("--dtype float64")
    if kind == "power":
        ways.append("a mapped basis (--basis legendre or chebyshev)")
    else:
        ways.append("a --domain that covers the data")
    ways.append("rescaled x")
    if degree > fits >= 0:
        ways.append(f"--degree {fits} at most")
    return (
        f"{source}: {phi} at x = {at:.6g} overflows {name} (largest {big:.2g}), so the degree-{degree} "
        f"design matrix is not finite; use {', '.join(ways[:-1])} or {ways[-1]}"
    )
