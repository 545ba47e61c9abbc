"""The polynomial model in the seed's power basis, and its gradient beside it.

Coefficients run from the highest power down, as the seed names them:
``a x^3 + b x^2 + c x + d`` is ``theta = [a, b, c, d]``. Parameters are always
a batch ``(B, p)`` with ``p = degree + 1``, so one fit (B = 1) and a sweep are
the same code.
"""

from __future__ import annotations

import string

import numpy as np
import torch


def powers(degree: int) -> list[int]:
    """The power each coefficient multiplies, in the seed's order: degree ... 0."""
    return list(range(degree, -1, -1))


def coefficient_names(degree: int) -> list[str]:
    """a, b, c, ... as the seed names them; c<power> when letters run out."""
    if degree < 26:
        return list(string.ascii_lowercase[: degree + 1])
    return [f"c{k}" for k in powers(degree)]


def power_columns(x: torch.Tensor, degree: int) -> torch.Tensor:
    """Rows x**degree, ..., x, 1: the model's features, shape (p, n).

    Each row is computed as the seed computes it (``x**3``, ``x**2``, ``x``), and
    multiplying by the row of ones is exact, so the literal loop below matches
    the seed's arithmetic bit for bit.
    """
    # Written into one preallocated tensor (torch.pow(out=) is the kernel x**k runs): stacking
    # separate rows cost a second copy and fresh pages, 5x the arithmetic for a 10^6-point sample.
    out = torch.empty((degree + 1,) + tuple(x.shape), dtype=x.dtype, device=x.device)
    for row, k in zip(out, powers(degree)):
        if k > 1:
            torch.pow(x, k, out=row)
        elif k == 1:
            row.copy_(x)
        else:
            row.fill_(1)
    return out


def evaluate(theta: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """y_pred = a x^3 + b x^2 + c x + d for every row of theta: (B, p) -> (B, n).

    Summed left to right, one term at a time, in the seed's order.
    """
    y_pred = theta[:, 0:1] * columns[0]
    for k in range(1, columns.shape[0]):
        y_pred = y_pred + theta[:, k : k + 1] * columns[k]
    return y_pred


def gradient(columns: torch.Tensor, grad_y_pred: torch.Tensor) -> torch.Tensor:
    """Chain rule through ``evaluate``: dL/dtheta_k = sum_i dL/dy_pred_i * x_i^k.

    The seed's ``grad_a = (grad_y_pred * x**3).sum()`` and so on, for every
    coefficient and every row of the batch: (B, n) -> (B, p).
    """
    return torch.stack([(grad_y_pred * col).sum(-1) for col in columns], dim=-1)


def polyval(coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate power coefficients (highest first) at x in float64, by Horner's rule."""
    x = np.asarray(x, dtype=np.float64)
    y = np.zeros_like(x)
    for c in np.asarray(coefficients, dtype=np.float64):
        y = y * x + c
    return y


def formula(coefficients: np.ndarray, digits: int = 6, ascending: bool = False) -> str:
    """A readable polynomial: '-0.0932715 x^3 + 0.856505 x - 1.2e-08' (highest power first), or
    with ``ascending`` from the constant up, as the PyTorch tutorial writes it."""
    degree = len(coefficients) - 1
    terms = []
    pairs = list(zip(coefficients, powers(degree)))
    for c, k in pairs[::-1] if ascending else pairs:
        value = f"{abs(float(c)):.{digits}g}"
        term = value if k == 0 else f"{value} x" if k == 1 else f"{value} x^{k}"
        sign = "-" if c < 0 else "+"
        terms.append((sign, term))
    first_sign, first = terms[0]
    text = ("-" if first_sign == "-" else "") + first
    for sign, term in terms[1:]:
        text += f" {sign} {term}"
    return text
