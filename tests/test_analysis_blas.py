"""The analysis' factorisations run on one BLAS thread (issue 9: a 2001 x 1001 SVD was 30x slower
with two threads on a busy 2-core machine), and the shortcuts that keep degree 1000 cheap agree with
independent oracles (numpy.linalg.lstsq, the pairwise loop)."""

import math
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from sinefit import analysis, fit, hints, threads
from sinefit.stats import Statistics


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_the_analysis_runs_on_one_blas_thread_and_restores_the_default():
    before = _blas_threads()
    seen = []

    @threads.one_blas_thread
    def probe(X):
        seen.append(_blas_threads())
        with threads.analysis_blas():  # nested: still one, and the outer exit restores
            seen.append(_blas_threads())
        seen.append(_blas_threads())

    probe(np.ones((50, 5)))
    assert all(n == [1] * len(before) for n in seen), seen
    assert _blas_threads() == before
    # A matrix too large for one thread to pay is left with BLAS's default.
    with threads.analysis_blas(work=threads.BLAS_PARALLEL_WORK):
        assert _blas_threads() == before


def test_threads_sharing_the_limit_leave_the_default_restored():
    before = _blas_threads()
    inside, go = threading.Event(), threading.Event()

    def worker():
        with threads.analysis_blas():
            inside.set()
            go.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(10)
    with threads.analysis_blas():
        pass
    assert threads._blas_state["depth"] == 1  # the worker is still inside: the limit is still held
    go.set()
    t.join(10)
    assert _blas_threads() == before


def test_analysis_solve_calls_are_wrapped():
    seen = []
    real = np.linalg.svd

    def spy(*a, **k):
        seen.append(_blas_threads())
        return real(*a, **k)

    np.linalg.svd = spy
    try:
        x = np.linspace(-1, 1, 40)
        analysis.solve(np.vander(x, 4), np.sin(x), x=x, basis="power")
    finally:
        np.linalg.svd = real
    assert seen and all(set(n) == {1} for n in seen)


@pytest.mark.parametrize("basis", ["power", "legendre", "chebyshev"])
def test_degree_bic_from_one_qr_matches_lstsq_at_each_degree(basis):
    r = fit(degree=6, basis=basis, optimizer="exact", dtype="float64", noise=0.05, samples=300)
    x = r.dataset.x.double().numpy()
    y = r.dataset.y.double().numpy()
    n = x.size
    for d in (0, 3, 6, 7):
        t = (x - x.mean()) / np.ptp(x) * 2  # any well-conditioned basis of degree d spans the same space
        X = np.polynomial.chebyshev.chebvander(t, d)
        _, res, *_ = np.linalg.lstsq(X, y, rcond=None)
        sse = float(res[0]) if res.size else float(np.sum((X @ np.linalg.lstsq(X, y, rcond=None)[0] - y) ** 2))
        expected = n * math.log(sse / n) + (d + 1) * math.log(n)
        assert hints.degree_bic(r, d) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_vectorised_correlations_match_the_pairwise_loop():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(9, 9))
    cov = A @ A.T
    cov[4, :] = cov[:, 4] = 0.0  # an undetermined coefficient: never in a pair
    st = Statistics(n=100, p=9, sse=0.0, mse=0.0, rmse=0.0, r2=1.0, max_error=0.0, max_error_at=0.0, aic=0.0,
                    bic=0.0, covariance=cov)  # fmt: skip
    se = np.sqrt(np.diag(cov))
    loop = []
    for i in range(9):
        for j in range(i + 1, 9):
            if se[i] > 0 and se[j] > 0:
                rr = float(cov[i, j] / (se[i] * se[j]))
                if abs(rr) >= 0.1:
                    loop.append((i, j, rr))
    loop.sort(key=lambda t: -abs(t[2]))
    assert st.correlations(0.1) == loop


@pytest.mark.parametrize("basis", ["chebyshev", "legendre"])
def test_degree_1000_prints_no_numpy_warning(tmp_path, basis):
    """The power form of a degree-1000 mapped fit leaves float64's range: said in sinefit's words
    (or not at all), never as numpy's 'overflow encountered in multiply'."""
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "sinefit", "fit", "--degree", "1000", "--samples", "2001", "--basis",
                        basis, "--optimizer", "exact", "--quiet", "--out", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "encountered" not in p.stderr and "RuntimeWarning" not in p.stderr, p.stderr


def test_the_top_correlations_by_partition_are_the_head_of_the_full_list():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(40, 40))
    cov = A @ A.T
    cov[3, 7] = cov[7, 3] = cov[2, 9] = cov[9, 2] = 0.999 * math.sqrt(cov[3, 3] * cov[7, 7])  # ties at the top
    cov[2, 9] = cov[9, 2] = 0.999 * math.sqrt(cov[2, 2] * cov[9, 9])
    st = Statistics(n=100, p=40, sse=0.0, mse=0.0, rmse=0.0, r2=1.0, max_error=0.0, max_error_at=0.0, aic=0.0,
                    bic=0.0, covariance=cov)  # fmt: skip
    full = st.correlations(0.1)
    for limit in (1, 2, 12, len(full), len(full) + 5):
        assert st.correlations(0.1, limit=limit) == full[:limit]


def _lstsq_oracle(X, y):
    """numpy.linalg.lstsq with unit-norm columns: an independent solve of the same problem."""
    norms = np.linalg.norm(X, axis=0)
    phi, *_ = np.linalg.lstsq(X / norms, y, rcond=None)
    return phi / norms


@pytest.mark.parametrize("basis", ["legendre", "chebyshev"])
def test_mapped_solve_from_r_of_x_y_equals_lstsq_and_the_svd_of_x(basis):
    x = np.linspace(-2.0, 5.0, 301)
    y = np.sin(x) + 0.01 * np.cos(7 * x)
    vander = np.polynomial.legendre.legvander if basis == "legendre" else np.polynomial.chebyshev.chebvander
    X = vander((2 * x - 3.0) / 7.0, 12)[:, ::-1]
    q = analysis.solve(X, y, x=x, basis=basis)
    assert q.optimum == pytest.approx(_lstsq_oracle(X, y), rel=1e-9, abs=1e-12)
    s = np.linalg.svd(X, compute_uv=False)
    assert q.singular_values == pytest.approx(s, rel=1e-12)


def test_power_fallback_past_float64s_range_equals_lstsq():
    """Degree 400 in powers of x on [-1, 1]: the mapped form cannot be written in float64, so the solve
    is the direct one, from R of [X y]; it must agree with lstsq on the same (column-scaled) problem."""
    from sinefit import leastsq

    x = np.linspace(-1.0, 1.0, 801)
    y = np.exp(x)
    X = np.vander(x, 401)
    with np.errstate(all="ignore"):
        assert leastsq._mapped_power(x, y, 400) is None  # the path under test is the direct one
    q = analysis.solve(X, y, x=x, basis="power")
    expected = X @ _lstsq_oracle(X, y)
    assert X @ q.optimum == pytest.approx(expected, abs=1e-9)  # the fitted values (coefficients are not unique)
    assert q.singular_values == pytest.approx(np.linalg.svd(X, compute_uv=False), rel=1e-9, abs=1e-12 * q.singular_values[0])


def test_a_fit_whose_points_all_fit_the_sample_skips_the_factored_pass(monkeypatch):
    """Every point kept: the in-memory solve is the answer, and the pass's TSQR factors would be
    thrown away; beyond the sample the factored pass runs (and gives the same optimum)."""
    from sinefit import streaming, summary

    calls = []
    real = summary.chunk_factor_range

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(streaming, "chunk_factor_range", spy)
    settings = dict(degree=5, samples=4000, optimizer="exact", dtype="float64", target="sin(x) + 0.1*x**2")
    kept = fit(**settings)
    assert not calls
    monkeypatch.setattr(streaming, "SAMPLE", 1000)
    r = streaming.stream(kept.config, None, None, sample=1000)
    assert calls and r[3] is not None  # the summary path
    assert r[2].optimum == pytest.approx(kept.quadratic.optimum, rel=1e-9, abs=1e-12)
