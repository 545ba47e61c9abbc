"""Power, Legendre and Chebyshev bases against numpy.polynomial as the independent oracle."""

import numpy as np
import pytest
import torch
from numpy.polynomial import Chebyshev, Legendre, Polynomial
from numpy.polynomial import chebyshev as npcheb
from numpy.polynomial import legendre as npleg
from numpy.polynomial.polyutils import mapdomain

from sinefit import basis, model

DOMAINS = [(-np.pi, np.pi), (0.0, 1.0), (-1.0, 1.0), (2.0, 5.0)]
DEGREES = range(16)
ORTHO = ["legendre", "chebyshev"]
VANDER = {"legendre": npleg.legvander, "chebyshev": npcheb.chebvander}
VAL = {"legendre": npleg.legval, "chebyshev": npcheb.chebval}
SERIES = {"legendre": Legendre, "chebyshev": Chebyshev}


def sample(domain, n=301, seed=0):
    """Points covering [lo, hi]: an even grid (with both ends) plus uniform random points."""
    lo, hi = domain
    rng = np.random.default_rng(seed)
    return np.concatenate([np.linspace(lo, hi, n), rng.uniform(lo, hi, n)])


# --- the domain -> window map ---


@pytest.mark.parametrize("domain", DOMAINS)
def test_map_to_window_numpy_and_torch(domain):
    lo, hi = domain
    x = sample(domain)
    t_np = basis.map_to_window(x, domain)
    t_torch = basis.map_to_window(torch.from_numpy(x), domain)
    assert isinstance(t_np, np.ndarray) and isinstance(t_torch, torch.Tensor)
    assert t_torch.dtype == torch.float64
    np.testing.assert_array_equal(t_torch.numpy(), t_np)
    np.testing.assert_allclose(t_np, mapdomain(x, [lo, hi], [-1, 1]), rtol=0, atol=1e-14)
    assert basis.map_to_window(np.array([lo, (lo + hi) / 2, hi]), domain) == pytest.approx([-1, 0, 1], abs=1e-15)


def test_degenerate_domain_rejected():
    with pytest.raises(ValueError, match="lo < hi"):
        basis.map_to_window(np.zeros(3), (1.0, 1.0))
    with pytest.raises(ValueError, match="lo < hi"):
        basis.to_power_matrix("legendre", 3, (2.0, 1.0))


# --- columns ---


@pytest.mark.parametrize("degree", DEGREES)
@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("kind", ORTHO)
def test_columns_match_numpy_vander(kind, domain, degree):
    x = sample(domain, seed=degree)
    got = basis.columns(kind, torch.from_numpy(x), degree, domain)
    assert got.shape == (degree + 1, x.size) and got.dtype == torch.float64
    want = VANDER[kind](basis.map_to_window(x, domain), degree)[:, ::-1].T  # rows degree ... 0
    # |P_k|, |T_k| <= 1 on the window, so an absolute floor of 1e-12 only matters near the roots.
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ORTHO)
def test_columns_keep_dtype(kind):
    x = torch.linspace(0, 1, 50, dtype=torch.float32)
    got = basis.columns(kind, x, 4, (0.0, 1.0))
    assert got.dtype == torch.float32 and got.device == x.device
    np.testing.assert_allclose(got[-1].numpy(), 1.0)  # phi_0 = 1
    np.testing.assert_allclose(got[-2].numpy(), 2 * x.numpy() - 1, atol=1e-6)  # phi_1 = t


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("degree", [0, 1, 3, 7])
def test_power_columns_are_the_seeds(degree, dtype):
    x = torch.linspace(-np.pi, np.pi, 2000, dtype=dtype)
    got = basis.columns("power", x, degree, (-np.pi, np.pi))
    assert torch.equal(got, model.power_columns(x, degree))


# --- least-squares fits in our columns equal numpy.polynomial's fits ---


@pytest.mark.parametrize("degree", [3, 5, 9, 15])
@pytest.mark.parametrize("func", [np.sin, lambda x: np.tanh(2 * x)], ids=["sin", "tanh2x"])
@pytest.mark.parametrize("kind", ORTHO)
def test_least_squares_matches_numpy_fit(kind, func, degree):
    lo, hi = -np.pi, np.pi
    x = np.linspace(lo, hi, 1000)
    y = func(x)
    cols = basis.columns(kind, torch.from_numpy(x), degree, (lo, hi)).numpy()
    ours = np.linalg.lstsq(cols.T, y, rcond=None)[0]
    want = SERIES[kind].fit(x, y, degree, domain=[lo, hi]).coef[::-1]
    # sin is odd and tanh(2x) too, so half the coefficients are zero up to rounding: floor at 1e-9 of the largest.
    np.testing.assert_allclose(ours, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


# --- conversion to the power basis of raw x ---


def assert_close_coefficients(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


@pytest.mark.parametrize("degree", DEGREES)
@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("kind", ORTHO)
def test_to_power_matches_numpy_convert(kind, domain, degree):
    rng = np.random.default_rng(1000 * degree + DOMAINS.index(domain))
    M = basis.to_power_matrix(kind, degree, domain)
    assert M.shape == (degree + 1, degree + 1) and M.dtype == np.float64
    for _ in range(5):
        c = rng.standard_normal(degree + 1)  # highest first
        want = SERIES[kind](c[::-1], domain=list(domain)).convert(kind=Polynomial).coef[::-1]
        want = np.pad(want, (degree + 1 - want.size, 0))  # in case numpy drops a zero leading term
        got = basis.to_power(kind, c, domain)
        assert_close_coefficients(got, want)
        np.testing.assert_array_equal(got, M @ c)


@pytest.mark.parametrize("kind", ORTHO)
def test_to_power_matrix_columns_are_the_basis_polynomials(kind):
    """Column j of M (highest first) is phi_{degree-j} written in powers of x: check on the unit vectors."""
    degree, domain = 6, (2.0, 5.0)
    M = basis.to_power_matrix(kind, degree, domain)
    x = sample(domain)
    cols = basis.columns(kind, torch.from_numpy(x), degree, domain).numpy()
    for j in range(degree + 1):
        np.testing.assert_allclose(np.polyval(M[:, j], x), cols[j], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("degree", [0, 3, 15])
def test_to_power_is_identity_for_power(degree):
    np.testing.assert_array_equal(basis.to_power_matrix("power", degree, (2.0, 5.0)), np.eye(degree + 1))
    c = np.arange(degree + 1, dtype=float)
    np.testing.assert_array_equal(basis.to_power("power", c, (2.0, 5.0)), c)


# --- float64 evaluation of saved coefficients ---


@pytest.mark.parametrize("degree", [0, 1, 2, 5, 15])
@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("kind", ORTHO)
def test_evaluate_numpy_matches_numpy_val(kind, domain, degree):
    rng = np.random.default_rng(degree)
    c = rng.standard_normal(degree + 1)
    x = sample(domain, seed=degree)
    got = basis.evaluate_numpy(kind, c, x, domain)
    want = VAL[kind](basis.map_to_window(x, domain), c[::-1])
    # |f| <= sum |c_k| on the window: an absolute floor relative to that only matters near f's roots.
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14 * np.abs(c).sum())


@pytest.mark.parametrize("degree", [0, 1, 3, 9])
@pytest.mark.parametrize("domain", DOMAINS)
def test_evaluate_numpy_power_is_polyval(domain, degree):
    c = np.random.default_rng(degree).standard_normal(degree + 1)
    x = sample(domain)
    np.testing.assert_allclose(basis.evaluate_numpy("power", c, x, domain), np.polyval(c, x), rtol=1e-12)


@pytest.mark.parametrize("kind", ORTHO)
def test_evaluate_numpy_agrees_with_to_power(kind):
    domain, c = (-np.pi, np.pi), np.random.default_rng(7).standard_normal(8)
    x = sample(domain)
    np.testing.assert_allclose(basis.evaluate_numpy(kind, c, x, domain),
                               np.polyval(basis.to_power(kind, c, domain), x), rtol=1e-9, atol=1e-9)


# --- names and the basis-name guard ---


def test_names():
    assert basis.BASES == ("power", "legendre", "chebyshev")
    assert basis.names("power", 3) == ["a", "b", "c", "d"]
    assert basis.names("power", 30) == model.coefficient_names(30)
    assert basis.names("legendre", 3) == ["P3", "P2", "P1", "P0"]
    assert basis.names("chebyshev", 3) == ["T3", "T2", "T1", "T0"]
    assert basis.names("chebyshev", 0) == ["T0"]
    assert len(basis.names("legendre", 15)) == 16


@pytest.mark.parametrize(
    "call",
    [
        lambda: basis.columns("hermite", torch.zeros(3), 2, (0.0, 1.0)),
        lambda: basis.names("hermite", 2),
        lambda: basis.evaluate_numpy("hermite", np.ones(3), np.zeros(3), (0.0, 1.0)),
        lambda: basis.to_power_matrix("hermite", 2, (0.0, 1.0)),
        lambda: basis.to_power("hermite", np.ones(3), (0.0, 1.0)),
    ],
    ids=["columns", "names", "evaluate_numpy", "to_power_matrix", "to_power"],
)
def test_unknown_basis_raises(call):
    with pytest.raises(ValueError, match="hermite") as info:
        call()
    for name in basis.BASES:
        assert name in str(info.value)
