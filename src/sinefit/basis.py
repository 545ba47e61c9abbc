"""Polynomial bases: the seed's powers of x, and Legendre and Chebyshev polynomials.

A model of degree ``n`` is ``y = sum_k theta_k phi_k`` over ``p = n + 1`` basis
functions. As everywhere in sinefit, coefficients run from the highest degree down:
``theta[0]`` multiplies ``phi_n`` and ``theta[-1]`` multiplies ``phi_0``.

* ``power``: ``phi_k(x) = x^k`` on raw x, exactly the seed's features
  (``model.power_columns``).
* ``legendre`` and ``chebyshev``: ``phi_k(x) = P_k(t)`` or ``T_k(t)``, where
  ``t = (2x - (lo + hi)) / (hi - lo)`` maps the data domain ``[lo, hi]`` onto the
  window ``[-1, 1]``. There ``|P_k|, |T_k| <= 1`` and the polynomials are nearly
  orthogonal, so the columns are well conditioned where powers of x are not.

Recurrences (with ``P_0 = T_0 = 1`` and ``P_1 = T_1 = t``)::

    (k + 1) P_{k+1} = (2k + 1) t P_k - k P_{k-1}
            T_{k+1} = 2 t T_k - T_{k-1}
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from sinefit import model

BASES = ("power", "legendre", "chebyshev")
_SYMBOL = {"legendre": "P", "chebyshev": "T"}


def _check(basis: str) -> None:
    if basis not in BASES:
        raise ValueError(f"unknown basis {basis!r}; expected one of {', '.join(BASES)}")


def _affine(domain: tuple[float, float]) -> tuple[float, float]:
    """(alpha, beta) with t = alpha x + beta taking [lo, hi] onto [-1, 1]."""
    lo, hi = float(domain[0]), float(domain[1])
    if not hi > lo:
        raise ValueError(f"domain must satisfy lo < hi, got {domain!r}")
    return 2.0 / (hi - lo), -(lo + hi) / (hi - lo)


def map_to_window(x, domain: tuple[float, float]):
    """t = (2x - (lo + hi)) / (hi - lo): [lo, hi] -> [-1, 1]. Tensors stay tensors, arrays stay arrays."""
    _affine(domain)  # validates the domain
    lo, hi = float(domain[0]), float(domain[1])
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
    return (2 * x - (lo + hi)) / (hi - lo)


def _recurrence_step(basis: str, k: int, t, phi_k, phi_km1):
    """phi_{k+1} from phi_k and phi_{k-1}; works on values (t a number/array/tensor)."""
    if basis == "legendre":
        return ((2 * k + 1) * t * phi_k - k * phi_km1) / (k + 1)
    return 2 * t * phi_k - phi_km1


def columns(basis: str, x: torch.Tensor, degree: int, domain: tuple[float, float]) -> torch.Tensor:
    """The model's features, shape (p, n): rows phi_degree(x), ..., phi_0(x), in x's dtype and device.

    ``power`` is ``model.power_columns`` (the domain is ignored); the others evaluate the
    three-term recurrence on t = map_to_window(x, domain).
    """
    _check(basis)
    if basis == "power":
        return model.power_columns(x, degree)
    t = map_to_window(x, domain)
    rows = [torch.ones_like(t), t]
    for k in range(1, degree):
        rows.append(_recurrence_step(basis, k, t, rows[k], rows[k - 1]))
    return torch.stack(rows[: degree + 1][::-1])


def names(basis: str, degree: int, order: str = "descending") -> list[str]:
    """Coefficient names, highest first: a, b, c, d (power); P3 ... P0 (legendre); T3 ... T0 (chebyshev).

    In the ``ascending`` naming order (the PyTorch tutorial's ``a + b x + c x^2 + d x^3``) the power
    basis's letters run from the constant up, so the list (still highest power first) is d, c, b, a.
    """
    _check(basis)
    if basis == "power":
        letters = model.coefficient_names(degree)
        return letters[::-1] if order == "ascending" and degree < 26 else letters
    return [f"{_SYMBOL[basis]}{k}" for k in model.powers(degree)]


def evaluate_numpy(basis: str, coefficients: np.ndarray, x: np.ndarray, domain: tuple[float, float]) -> np.ndarray:
    """sum_k c_k phi_k(x) in float64 for one coefficient vector (highest first).

    Power: Horner's rule on raw x. Legendre and Chebyshev: Clenshaw's recurrence on t.
    Writing the recurrence as phi_{k+1} = a_k(t) phi_k + b_k phi_{k-1}, Clenshaw runs
    ``u_k = c_k + a_k(t) u_{k+1} + b_{k+1} u_{k+2}`` from k = n down to 0 (u_{n+1} = u_{n+2} = 0),
    and since phi_1 = a_0(t) phi_0 with a_0(t) = t, the sum is u_0. Here
    Legendre: a_k = (2k+1) t / (k+1), b_k = -k / (k+1);
    Chebyshev: a_k = 2t (a_0 = t), b_k = -1.
    """
    _check(basis)
    c = np.asarray(coefficients, dtype=np.float64)
    if basis == "power":
        return model.polyval(c, x)
    t = map_to_window(np.asarray(x, dtype=np.float64), domain)
    low = c[::-1]  # low[k] multiplies phi_k
    n = len(low) - 1
    u1 = np.zeros_like(t)  # u_{k+1}
    u2 = np.zeros_like(t)  # u_{k+2}
    for k in range(n, -1, -1):
        if basis == "legendre":
            a_k, b_k1 = (2 * k + 1) / (k + 1) * t, -(k + 1) / (k + 2)
        else:
            a_k, b_k1 = (t if k == 0 else 2 * t), -1.0
        u1, u2 = low[k] + a_k * u1 + b_k1 * u2, u1
    return u1


def _basis_in_t(basis: str, degree: int) -> np.ndarray:
    """(p, p) matrix B, low first: column k holds the coefficients of phi_k in powers of t (t^0 first)."""
    p = degree + 1
    B = np.zeros((p, p))
    B[0, 0] = 1.0
    if p > 1:
        B[1, 1] = 1.0
    t_phi_k = np.zeros(p)
    for k in range(1, degree):
        t_phi_k[1:] = B[:-1, k]  # multiply by t: shift up one power (the top entry is zero)
        B[:, k + 1] = _recurrence_step(basis, k, 1.0, t_phi_k, B[:, k - 1])
    return B


def _compose_affine(degree: int, alpha: float, beta: float) -> np.ndarray:
    """(p, p) matrix C, low first: column k holds the coefficients of (alpha x + beta)^k in powers of x.

    Built by repeated multiplication by (alpha x + beta), i.e. the binomial theorem
    C[j, k] = binom(k, j) alpha^j beta^(k - j), without forming large binomials.
    """
    p = degree + 1
    C = np.zeros((p, p))
    C[0, 0] = 1.0
    shifted = np.zeros(p)
    for k in range(1, p):
        shifted[1:] = C[:-1, k - 1]  # times x: up one power
        C[:, k] = beta * C[:, k - 1] + alpha * shifted
    return C


def to_power_matrix(basis: str, degree: int, domain: tuple[float, float]) -> np.ndarray:
    """(p, p) float64 M with power coefficients of raw x = M @ basis coefficients (both highest first).

    Identity for ``power``. Otherwise M = C @ B (flipped to highest first), where B expresses each
    phi_k in powers of t (from the recurrences on coefficient arrays) and C rewrites t^k = (alpha x + beta)^k
    in powers of x, with t = alpha x + beta the domain -> window map.
    """
    _check(basis)
    if basis == "power":
        return np.eye(degree + 1)
    return _to_power_matrix(basis, int(degree), (float(domain[0]), float(domain[1]))).copy()


@functools.lru_cache(maxsize=8)
def _to_power_matrix(basis: str, degree: int, domain: tuple[float, float]) -> np.ndarray:
    """to_power_matrix's work, kept: a report converts the same degree-1000 basis several times."""
    alpha, beta = _affine(domain)
    with np.errstate(all="ignore"):  # past float64's range at high degree: inf entries, said elsewhere
        low_first = _compose_affine(degree, alpha, beta) @ _basis_in_t(basis, degree)
    return low_first[::-1, ::-1].copy()


def to_power(basis: str, coefficients: np.ndarray, domain: tuple[float, float]) -> np.ndarray:
    """Power-basis coefficients of raw x (highest first) for basis coefficients (highest first)."""
    c = np.asarray(coefficients, dtype=np.float64)
    return to_power_matrix(basis, len(c) - 1, domain) @ c
