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
