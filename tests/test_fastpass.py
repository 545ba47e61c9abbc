"""The compiled pass over a large .npy file (sinefit.fastpass, src/sinefit/_kernel.c).

Oracles: numpy.polynomial.legendre.legvander for the kernel's Gram matrices and residuals;
numpy's Householder QR of the whole [X y]; the numpy pass (streaming.accumulate over the
file's chunks, SINEFIT_KERNEL=0); an mpmath least-squares reference in 120 digits.
"""

import math

import mpmath
import numpy as np
import pytest
import torch

import sinefit
from sinefit import analysis, api, basis, fastpass, streaming
from sinefit.cli import main
from sinefit.io import datafiles

pytestmark = pytest.mark.skipif(not fastpass.available(), reason="sinefit._kernel is not built (no C compiler at "
                                "install time, or SINEFIT_KERNEL=0): the numpy path runs instead")  # fmt: skip


def window(x, lo, hi):
    return x * (2.0 / (hi - lo)) - (lo + hi) / (hi - lo)


def kernel_gram(rows, ix, iy, degree):
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    q = degree + 2
    G, rg = np.zeros((q, q)), np.zeros(2)
    status = fastpass._kernel().sinefit_window_gram(rows.ctypes.data, rows.shape[1], ix, iy, rows.shape[0], degree,
                                                    G.ctypes.data, rg.ctypes.data)  # fmt: skip
    return status, G, rg


@pytest.mark.parametrize("layout", [(2, 0, 1), (3, 2, 0), (4, 1, 3)])
@pytest.mark.parametrize("m", [1003, 65541])
@pytest.mark.parametrize("degree", [0, 1, 3, 6, 7, 12])
def test_the_kernel_gram_matrix_is_that_of_the_legendre_rows(layout, m, degree):
    """Oracle: legvander on the window [min x, max x], multiplied out in numpy (both the fused
    small-degree code and the tiled one, rows not a multiple of the vector width or the tile)."""
    k, ix, iy = layout
    rng = np.random.default_rng(m + degree)
    rows = rng.standard_normal((m, k))
    rows[:, ix] = 1960 + 60 * rng.uniform(size=m)  # far from zero: the window does the centring
    status, G, rg = kernel_gram(rows, ix, iy, degree)
    x, y = rows[:, ix], rows[:, iy]
    assert status == 0 and (rg[0], rg[1]) == (x.min(), x.max())
    A = np.column_stack([np.polynomial.legendre.legvander(window(x, x.min(), x.max()), degree), y])
    norms = np.linalg.norm(A, axis=0)
    # t = x a - b carries an error of eps |b| (b = 66 here; the kernel may fuse the multiply-add)
    np.testing.assert_allclose(G / np.outer(norms, norms), (A.T @ A) / np.outer(norms, norms), rtol=0, atol=1e-13)


def test_the_kernel_hands_back_blocks_it_cannot_window():
    """One repeated x, or fewer than 4 (p + 1) rows: status 1 (the caller factors them), range still given."""
    rows = np.column_stack([np.full(500, 2.5), np.arange(500.0)])
    status, _, rg = kernel_gram(rows, 0, 1, 3)
    assert status == 1 and tuple(rg) == (2.5, 2.5)
    rows = np.column_stack([np.arange(19.0), np.arange(19.0)])
    assert kernel_gram(rows, 0, 1, 3)[0] == 1
    assert kernel_gram(rows[:20], 0, 1, 2)[0] == 0  # 16 rows are enough at degree 2


def test_the_kernel_residual_is_y_minus_the_fit():
    """Oracle: legvander rows times theta, in numpy."""
    rng = np.random.default_rng(2)
    m, degree = 3001, 5
    rows = np.ascontiguousarray(np.column_stack([rng.uniform(-1, 4, m), rng.standard_normal(m)]))
    lo, hi = rows[:, 0].min(), rows[:, 0].max()
    theta = rng.standard_normal(degree + 1)
    out = np.zeros(degree + 2)
    fastpass._kernel().sinefit_window_residual(rows.ctypes.data, 2, 0, 1, m, degree, lo, hi, theta.ctypes.data,
                                               out.ctypes.data)  # fmt: skip
    L = np.polynomial.legendre.legvander(window(rows[:, 0], lo, hi), degree)
    res = rows[:, 1] - L @ theta
    np.testing.assert_allclose(out[:-1], L.T @ res, rtol=1e-12, atol=1e-12 * np.abs(L.T @ res).max())
    assert out[-1] == pytest.approx(res @ res, rel=1e-12)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 256 rows, and the compiled pass from 1000 rows on, so small files take it."""
    monkeypatch.setattr(fastpass, "BLOCK_BYTES", 256 * 16)
    monkeypatch.setattr(fastpass, "MIN_ROWS", 1000)


def points(spread, n=5000, seed=11):
    rng = np.random.default_rng(seed)
    if spread == "uniform":
        x = rng.uniform(-2.0, 3.0, n)
    elif spread == "sorted":
        x = np.sort(rng.uniform(-2.0, 3.0, n))
    elif spread == "clustered":  # most blocks' own window is ill-conditioned: they take the numpy path
        x = np.concatenate([rng.normal(0.0, 1e-4, n - 1), [3.0]])
    else:  # one block of a single x, and a nearly exact fit (rho^2 cancels: the residual pass)
        x = rng.uniform(-2.0, 3.0, n)
        x[512:768] = 0.25
    noise = 1e-9 if spread == "exact" else 0.01
    y = (1 - x + 0.5 * x**3 if spread == "exact" else np.cos(2 * x)) + noise * rng.standard_normal(n)
    return x, y


def both_passes(path, kind, degree, domain, sample_cap=300):
    plan = fastpass.npy_plan(path, None)
    assert plan is not None
    fast = streaming.summarize_file(plan, kind, degree, domain, sample_cap=sample_cap)
    slow = streaming.accumulate(datafiles.iter_chunks(path, None, chunk_rows=1000), kind, degree, domain,
                                sample_cap=sample_cap, expected=plan.n)  # fmt: skip
    return fast, slow


@pytest.mark.parametrize("kind, domain", [("power", None), ("legendre", (-2.0, 3.0)), ("chebyshev", (-2.5, 3.5))])
@pytest.mark.parametrize("spread", ["uniform", "sorted", "clustered", "exact"])
def test_the_file_summary_equals_the_numpy_pass(tmp_path, small_blocks, kind, domain, spread):
    """Oracles: numpy's QR of the whole [X y], and the numpy pass over the same file (same n, range
    and sample exactly; the same R to rounding)."""
    x, y = points(spread)
    path = str(tmp_path / "points.npy")
    np.save(path, np.column_stack([x, y]))
    degree = 5
    fast, slow = both_passes(path, kind, degree, domain)
    X = basis.columns(kind, torch.tensor(x), degree, domain or (-1.0, 1.0)).numpy().T
    A = np.column_stack([X, y])
    norms = np.linalg.norm(A, axis=0)
    gram = (A.T @ A) / np.outer(norms, norms)
    for s in (fast, slow):
        np.testing.assert_allclose((s.R.T @ s.R) / np.outer(norms, norms), gram, rtol=0, atol=1e-13)
    if spread != "clustered":  # well conditioned: R itself is determined to rounding
        want = np.linalg.qr(A, mode="r")
        want = want * np.where(np.diag(want) < 0, -1.0, 1.0)[:, None]
        np.testing.assert_allclose(fast.R / norms, want / norms, rtol=0, atol=1e-12)
        assert fast.rho == pytest.approx(want[-1, -1], rel=1e-6)
    assert (fast.n, fast.x_min, fast.x_max) == (slow.n, slow.x_min, slow.x_max) == (x.size, x.min(), x.max())
    assert fast.sample_x.tolist() == slow.sample_x.tolist() and fast.sample_y.tolist() == slow.sample_y.tolist()


def mp_lstsq_fitted(X, y):
    """Least squares by the normal equations in 120 digits (cond(X)^2 reaches 1e40 at x near 2000)."""
    with mpmath.workdps(120):
        A = mpmath.matrix(X.tolist())
        theta = mpmath.lu_solve(A.T * A, A.T * mpmath.matrix(y.tolist()))
        return np.array([float(v) for v in A * theta])


def log_error(got, want):
    return math.log10(max(np.linalg.norm(got - want) / np.linalg.norm(want), 1e-16))


@pytest.mark.parametrize("kind, degree, interval", [("power", 3, (-math.pi, math.pi)), ("power", 7, (0.0, 10.0)),
                                                    ("power", 10, (-8.8, -3.1)), ("power", 5, (1960.0, 2020.0)),
                                                    ("legendre", 12, (-1.0, 4.0)), ("chebyshev", 15, (-3.0, 3.0))])  # fmt: skip
def test_the_compiled_pass_is_as_accurate_as_in_memory(tmp_path, small_blocks, kind, degree, interval):
    """Oracle: mpmath least squares; the compiled pass's fitted values are within one decimal digit of
    log relative error of the in-memory SVD solve (ill-conditioned X included: cond up to 1e15)."""
    rng = np.random.default_rng(degree)
    x = np.sort(rng.uniform(*interval, 1200))
    y = np.sin(x) + 1e-3 * rng.standard_normal(x.size)
    path = str(tmp_path / "points.npy")
    np.save(path, np.column_stack([x, y]))
    domain = interval if kind != "power" else None
    X = basis.columns(kind, torch.tensor(x), degree, domain or (-1.0, 1.0)).numpy().T
    fitted_ref = mp_lstsq_fitted(X, y)
    in_memory = analysis.solve(X, y).optimum
    fast, slow = both_passes(path, kind, degree, domain)
    e_mem = max(log_error(X @ in_memory, fitted_ref), -14)
    assert log_error(X @ fast.least_squares()[0], fitted_ref) <= e_mem + 1
    assert log_error(X @ slow.least_squares()[0], fitted_ref) <= e_mem + 1


@pytest.mark.parametrize("kind", ["power", "chebyshev"])
def test_fit_takes_the_compiled_pass_and_gets_the_numpy_answer(tmp_path, small_blocks, kind, monkeypatch):
    """Oracle: the same fit with SINEFIT_KERNEL=0 (the numpy pass): coefficients, optimum, statistics;
    a mapped basis without a domain gets the same range from the compiled pre-pass."""
    x, y = points("uniform", 20000)
    path = str(tmp_path / "points.npy")
    np.save(path, np.column_stack([x, y]))
    monkeypatch.setattr(api, "SAMPLE", 2000)
    real, calls = streaming.summarize_file, []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(streaming, "summarize_file", counting)
    seen = []
    fast = sinefit.fit(data=path, basis=kind, degree=4, dtype="float64", optimizer="exact",
                       on_progress=lambda n, total: seen.append((n, total)))  # fmt: skip
    monkeypatch.setenv("SINEFIT_KERNEL", "0")
    slow = sinefit.fit(data=path, basis=kind, degree=4, dtype="float64", optimizer="exact")
    assert calls == [1] and seen[-1] == (x.size, x.size)
    assert not fast.dataset.complete and fast.dataset.domain == slow.dataset.domain
    np.testing.assert_allclose(fast.model.coefficients, slow.model.coefficients, rtol=1e-12, atol=1e-14)
    assert fast.optimum_loss == pytest.approx(slow.optimum_loss, rel=1e-12)
    assert fast.statistics.r2 == pytest.approx(slow.statistics.r2, rel=1e-12)


@pytest.mark.parametrize("bad, said", [(math.nan, "row 3001"), (math.inf, "row 3001"), (1e200, "rescale y")])
def test_a_bad_value_is_reported_as_the_numpy_path_reports_it(tmp_path, small_blocks, capsys, bad, said, monkeypatch):
    """Oracle: the CLI's message with SINEFIT_KERNEL=0: one line, naming the row (or the overflow)."""
    x, y = points("uniform")
    if bad == 1e200:
        y[3000:] = bad  # finite, but y^2 overflows float64
    else:
        y[3000] = bad
    path = str(tmp_path / "bad.npy")
    np.save(path, np.column_stack([x, y]))
    monkeypatch.setattr(api, "SAMPLE", 1000)  # fewer kept than there are points: the factored pass runs
    real, calls = streaming.summarize_file, []
    monkeypatch.setattr(streaming, "summarize_file", lambda *a, **k: calls.append(1) or real(*a, **k))
    messages = []
    for kernel in ("1", "0"):
        monkeypatch.setenv("SINEFIT_KERNEL", kernel)
        assert main(["fit", "--data", path, "--optimizer", "exact", "--dtype", "float64", "--quiet", "--out", str(tmp_path / "runs")]) != 0
        messages.append(capsys.readouterr().err.strip())
    assert calls == [1]  # the compiled pass ran (and handed the file to the numpy pass) with the kernel only
    assert messages[0] == messages[1] and said in messages[0] and "\n" not in messages[0]


def test_small_and_unusual_files_take_the_numpy_path(tmp_path, monkeypatch):
    """A plan only for large C-ordered native float64 (n, k) files with two distinct columns."""
    x = np.linspace(0.0, 1.0, 3000)
    np.save(tmp_path / "small.npy", np.column_stack([x, x]))
    assert fastpass.npy_plan(str(tmp_path / "small.npy"), None) is None  # below MIN_ROWS
    monkeypatch.setattr(fastpass, "MIN_ROWS", 1000)
    assert fastpass.npy_plan(str(tmp_path / "small.npy"), None) is not None
    np.save(tmp_path / "f32.npy", np.column_stack([x, x]).astype(np.float32))
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.column_stack([x, x])))
    np.save(tmp_path / "big_endian.npy", np.column_stack([x, x]).astype(">f8"))
    for name in ("f32.npy", "fortran.npy", "big_endian.npy"):
        assert fastpass.npy_plan(str(tmp_path / name), None) is None
    assert fastpass.npy_plan(str(tmp_path / "small.npy"), (0, 0)) is None
    monkeypatch.setenv("SINEFIT_KERNEL", "0")
    assert not fastpass.available() and fastpass.npy_plan(str(tmp_path / "small.npy"), None) is None


def test_a_stop_during_the_compiled_pass_ends_it_with_nothing_fitted(tmp_path, small_blocks, monkeypatch):
    """Oracle: the Interrupted message the numpy pass gives; the pass's threads are gone after it."""
    import threading

    from sinefit.errors import Interrupted
    from sinefit.train import StopFlag

    x, y = points("uniform", 20000)
    path = str(tmp_path / "points.npy")
    np.save(path, np.column_stack([x, y]))
    monkeypatch.setattr(api, "SAMPLE", 1000)
    stop = StopFlag()

    def progress(n, total):
        stop.set = True  # as a signal handler would, once the pass is under way

    with pytest.raises(Interrupted, match="interrupted while reading the points"):
        sinefit.fit(data=path, dtype="float64", optimizer="exact", stop=stop, on_progress=progress)
    # the pass's own threads (named after their target), not the process's count: other tests' servers
    # and clusters may start or end threads meanwhile
    assert not [t for t in threading.enumerate() if t.name.endswith("(_worker)")]


@pytest.mark.parametrize("rows,kernel", [(20000, "1"), (20000, "0"), (500, "1")],
                         ids=["compiled-pass", "numpy-pass", "every-point-kept"])  # fmt: skip
def test_a_stop_with_the_last_report_of_the_pass_still_ends_the_fit(tmp_path, small_blocks, monkeypatch, rows, kernel):
    """A stop set by the pass's very last progress report (when no poll follows it) still ends the fit:
    CI once saw the compiled pass finish before its first 50 ms poll and the fit go on. Oracle: the
    progress calls themselves (the stop came with the report of every row) and the Interrupted message."""
    from sinefit.errors import Interrupted
    from sinefit.train import StopFlag

    x, y = points("uniform", rows)
    path = str(tmp_path / "points.npy")
    np.save(path, np.column_stack([x, y]))
    monkeypatch.setattr(api, "SAMPLE", 1000)
    monkeypatch.setenv("SINEFIT_KERNEL", kernel)
    waited = fastpass._wait

    def threads_done_before_the_first_poll(blocks, n_threads, lib, fd, progress):
        waited(blocks, n_threads, lib, fd, None)  # CI's schedule: the one report is the last one
        if progress is not None:
            progress(blocks.done_rows)

    monkeypatch.setattr(fastpass, "_wait", threads_done_before_the_first_poll)
    stop, seen = StopFlag(), []

    def progress(n, total):
        seen.append(n)
        if n == rows:
            stop.set = True  # only once every row is read: no later report can see it

    with pytest.raises(Interrupted, match=rf"interrupted while reading the points \({rows} read\); nothing was fitted"):
        sinefit.fit(data=path, dtype="float64", optimizer="exact", stop=stop, on_progress=progress)
    assert seen and seen[-1] == rows and (kernel == "0" or rows < 1000 or seen == [rows])
