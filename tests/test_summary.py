"""sinefit.Summary (TSQR): chunks, merges, files, fits from summaries, and partitioned data sets.

Oracles: numpy's Householder QR of the whole [X y], numpy.linalg.lstsq / the SVD solve of all
the rows in memory, an mpmath least-squares reference in 50 digits, and fit(x=..., y=...).
"""

import math

import mpmath
import numpy as np
import pytest
import torch

import sinefit
from sinefit import analysis, basis, summary
from sinefit.cli import main
from sinefit.errors import InputError
from sinefit.io import datafiles, summaryfile

DOMAINS = {"power": None, "legendre": (-2.0, 3.0), "chebyshev": (-2.0, 3.0)}


def design(kind, x, degree, domain):
    return basis.columns(kind, torch.tensor(x), degree, domain or (-1.0, 1.0)).numpy().T


def oracle_R(kind, x, y, degree, domain):
    A = np.column_stack([design(kind, x, degree, domain), y])
    R = np.linalg.qr(A, mode="r")
    return R * np.where(np.diag(R) < 0, -1.0, 1.0)[:, None]


def pieces(x, y, size):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


@pytest.mark.parametrize("kind", ["power", "legendre", "chebyshev"])
@pytest.mark.parametrize("chunk", [1, 7, 500, 3001])
@pytest.mark.parametrize("spread", ["uniform", "clustered"])
def test_summary_R_is_the_QR_factor_of_all_rows(kind, chunk, spread):
    """Oracle: numpy.linalg.qr of the whole [X y] (R is unique once its diagonal is non-negative)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-2.0, 3.0, 3001) if spread == "uniform" else np.concatenate(
        [rng.normal(0.0, 1e-4, 3000), [3.0]])  # fmt: skip  (clustered: the chunk basis is ill-conditioned)
    y = np.cos(2 * x) + 0.01 * rng.standard_normal(x.size)
    degree, domain = 5, DOMAINS[kind]
    s = summary.merge(summary.summarize(cx, cy, kind, degree, domain) for cx, cy in pieces(x, y, chunk))
    A = np.column_stack([design(kind, x, degree, domain), y])
    norms = np.linalg.norm(A, axis=0)
    # Backward stable: R^T R = A^T A up to rounding of the size of the columns' norms.
    np.testing.assert_allclose((s.R.T @ s.R) / np.outer(norms, norms), (A.T @ A) / np.outer(norms, norms), rtol=0,
                               atol=1e-13)  # fmt: skip
    if spread == "uniform":  # well conditioned: R itself is determined to rounding
        want = oracle_R(kind, x, y, degree, domain)
        np.testing.assert_allclose(s.R / norms, want / norms, rtol=0, atol=1e-12)
    assert s.n == x.size and (s.x_min, s.x_max) == (x.min(), x.max())
    assert s.sst == pytest.approx(float(np.sum((y - y.mean()) ** 2)), rel=1e-10)


def test_merge_is_associative_and_commutative():
    """Oracle: the summary of all the rows at once; every tree and order of merges gives it."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 2000)
    y = np.exp(x) + 0.1 * rng.standard_normal(2000)
    parts = [summary.summarize(cx, cy, "legendre", 6, (-1, 1)) for cx, cy in pieces(x, y, 137)]
    whole = summary.summarize(x, y, "legendre", 6, (-1, 1))
    left = parts[0]
    for part in parts[1:]:
        left = left + part
    right = parts[-1]
    for part in reversed(parts[:-1]):
        right = part + right
    shuffled = [parts[i] for i in rng.permutation(len(parts))]
    for s in (left, right, summary.merge(shuffled), sum(parts)):
        np.testing.assert_allclose(s.R, whole.R, rtol=1e-12, atol=1e-12 * np.abs(whole.R).max())
        assert s.n == whole.n
    assert (parts[0] + parts[1]).sample_x.tolist() == (parts[1] + parts[0]).sample_x.tolist()


def test_merging_different_models_is_refused():
    a = summary.summarize([0.0, 1.0, 2.0], [1.0, 2.0, 0.0], "legendre", 2, (0, 2))
    b = summary.summarize([0.0, 1.0, 2.0], [1.0, 2.0, 0.0], "legendre", 2, (0, 3))
    with pytest.raises(ValueError, match="cannot merge summaries of different models"):
        a + b
    with pytest.raises(ValueError, match="needs a domain"):
        summary.summarize([0.0, 1.0], [1.0, 2.0], "chebyshev", 1)


def mp_lstsq(X, y):
    """Least squares in 50 digits (normal equations: exact enough at this precision)."""
    with mpmath.workdps(50):
        A = mpmath.matrix(X.tolist())
        b = mpmath.matrix(y.tolist())
        theta = mpmath.lu_solve(A.T * A, A.T * b)
        fitted = A * theta
        return np.array([float(v) for v in theta]), np.array([float(v) for v in fitted])


def log_error(got, want):
    return math.log10(max(np.linalg.norm(got - want) / np.linalg.norm(want), 1e-16))


# Condition numbers of X: 18 (sin, cubic), 1e8 (power 7 on [0, 10]), 1.5e15 (power 10 on [-8.8, -3.1]).
ACCURACY_CASES = [("power", 3, (-math.pi, math.pi)), ("power", 7, (0.0, 10.0)), ("power", 10, (-8.8, -3.1)),
                  ("legendre", 12, (-1.0, 4.0)), ("chebyshev", 15, (-3.0, 3.0))]  # fmt: skip


@pytest.mark.parametrize("kind, degree, interval", ACCURACY_CASES)
def test_streamed_accuracy_matches_in_memory(kind, degree, interval):
    """Oracle: mpmath least squares; the summary of 40 chunks is within one decimal digit of log
    relative error of the in-memory SVD solve (coefficients and fitted values), never worse."""
    rng = np.random.default_rng(degree)
    x = np.sort(rng.uniform(*interval, 800))
    y = np.sin(x) + 1e-3 * rng.standard_normal(x.size)
    domain = interval if kind != "power" else None
    X = design(kind, x, degree, domain)
    theta_ref, fitted_ref = mp_lstsq(X, y)
    in_memory = analysis.solve(X, y).optimum
    s = summary.merge(summary.summarize(cx, cy, kind, degree, domain) for cx, cy in pieces(x, y, 20))
    streamed = s.least_squares()[0]
    if np.linalg.cond(X) < 1e12:  # the coefficients are determined: compare them
        assert log_error(streamed, theta_ref) <= max(log_error(in_memory, theta_ref), -14) + 1
    assert log_error(X @ streamed, fitted_ref) <= max(log_error(X @ in_memory, fitted_ref), -14) + 1
    sse_reference = float(np.sum((fitted_ref - y) ** 2))  # the 50-digit optimum's SSE (X @ theta cancels in float64)
    floor = 1e-13 * float(y @ y)  # an SSE carries round-off of order eps * y^T y whatever the method
    assert s.least_squares()[1] == pytest.approx(sse_reference, rel=1e-9, abs=floor)
    assert s.sse(streamed) == pytest.approx(sse_reference, rel=1e-9, abs=floor)


@pytest.mark.parametrize("kind, degree, interval", ACCURACY_CASES)
def test_long_chunks_summed_block_by_block_are_as_accurate(kind, degree, interval, monkeypatch):
    """The streamed pass's path: chunks of many blocks, one Gram matrix per chunk on its own window.
    Oracle: mpmath least squares, as above (BLOCK made small so 200-row chunks span 4 blocks)."""
    monkeypatch.setattr(summary, "BLOCK", 50)
    rng = np.random.default_rng(degree)
    x = np.sort(rng.uniform(*interval, 800))
    y = np.sin(x) + 1e-3 * rng.standard_normal(x.size)
    domain = interval if kind != "power" else None
    X = design(kind, x, degree, domain)
    _, fitted_ref = mp_lstsq(X, y)
    in_memory = analysis.solve(X, y).optimum
    s = summary.merge(summary.summarize(cx, cy, kind, degree, domain) for cx, cy in pieces(x, y, 200))
    assert log_error(X @ s.least_squares()[0], fitted_ref) <= max(log_error(X @ in_memory, fitted_ref), -14) + 1


@pytest.mark.parametrize("kind", ["power", "legendre"])
@pytest.mark.parametrize("spread", ["uniform", "clustered", "exact"])
def test_a_chunk_of_many_blocks_has_the_QR_factor_of_its_rows(kind, spread, monkeypatch):
    """Oracle: numpy.linalg.qr of [X y]. One chunk of 12 blocks: the Gram path (uniform), the
    block-by-block fallback (clustered x), and the second pass that forms the residual when the fit
    is nearly exact (rho^2 would cancel in y^T y - |r|^2)."""
    monkeypatch.setattr(summary, "BLOCK", 256)
    rng = np.random.default_rng(11)
    x = rng.uniform(-2.0, 3.0, 3001) if spread != "clustered" else np.concatenate(
        [rng.normal(0.0, 1e-4, 3000), [3.0]])  # fmt: skip
    noise = 1e-9 if spread == "exact" else 0.01
    y = (np.cos(2 * x) if spread != "exact" else 1 - x + 0.5 * x**3) + noise * rng.standard_normal(x.size)
    degree, domain = 5, DOMAINS[kind]
    s = summary.summarize(x, y, kind, degree, domain)
    A = np.column_stack([design(kind, x, degree, domain), y])
    norms = np.linalg.norm(A, axis=0)
    np.testing.assert_allclose((s.R.T @ s.R) / np.outer(norms, norms), (A.T @ A) / np.outer(norms, norms), rtol=0,
                               atol=1e-13)  # fmt: skip
    want = oracle_R(kind, x, y, degree, domain)
    if spread != "clustered":  # (clustered: X is too ill-conditioned for R itself to be determined)
        np.testing.assert_allclose(s.R / norms, want / norms, rtol=0, atol=1e-12)
        assert s.rho == pytest.approx(want[-1, -1], rel=1e-6)  # noise 1e-9: rho is 1e-9 of |y|, not cancelled
    assert (s.x_min, s.x_max) == (x.min(), x.max())


def test_degree_10_power_fit_far_from_zero_is_no_longer_refused(tmp_path, monkeypatch):
    """Oracle: the in-memory fit of the same rows (the SVD of X): same fitted values to 1e-9."""
    x = np.linspace(-8.8, -3.1, 5000)
    y = np.sin(x)
    np.save(tmp_path / "far.npy", np.column_stack([x, y]))
    in_memory = sinefit.fit(x=x, y=y, degree=10, dtype="float64", optimizer="exact")
    monkeypatch.setattr(sinefit.api, "CHUNK", 333)
    monkeypatch.setattr(sinefit.api, "SAMPLE", 1000)
    streamed = sinefit.fit(data=str(tmp_path / "far.npy"), degree=10, dtype="float64", optimizer="exact")
    assert not streamed.dataset.complete
    np.testing.assert_allclose(streamed.predict(x), in_memory.predict(x), rtol=0, atol=1e-9)
    assert streamed.optimum_loss == pytest.approx(in_memory.optimum_loss, rel=1e-6)


@pytest.fixture
def noisy():
    rng = np.random.default_rng(3)
    x = rng.uniform(-3.0, 3.0, 4000)
    return x, np.sin(x) + 0.05 * rng.standard_normal(x.size)


@pytest.mark.parametrize("kind", ["power", "chebyshev"])
def test_fit_from_a_summary_equals_the_streamed_fit_of_the_points(noisy, kind, monkeypatch):
    """Oracle: fit(x=..., y=...) streamed through the same engine (statistics included)."""
    x, y = noisy
    domain = (-3.0, 3.0) if kind != "power" else None
    s = summary.merge(summary.summarize(cx, cy, kind, 5, domain, sample_cap=500) for cx, cy in pieces(x, y, 300))
    monkeypatch.setattr(sinefit.api, "SAMPLE", 500)
    settings = dict(optimizer="gd", lr="auto", steps=200, dtype="float64")
    direct = sinefit.fit(x=x, y=y, basis=kind, degree=5, domain=domain, **settings)
    from_summary = sinefit.fit(summary=s, **settings)
    assert from_summary.config.degree == 5 and from_summary.config.basis == kind
    assert from_summary.dataset.size == 4000 and "4000 points streamed" in from_summary.engine
    np.testing.assert_allclose(from_summary.model.coefficients, direct.model.coefficients, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(from_summary.losses, direct.losses, rtol=1e-9)
    a, b = from_summary.statistics, direct.statistics
    assert (a.r2, a.rmse, a.aic) == pytest.approx((b.r2, b.rmse, b.aic), rel=1e-9)
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-7)


def test_a_summary_fits_any_lower_degree(noisy):
    """Oracle: numpy.linalg.lstsq of the cubic on all the points."""
    x, y = noisy
    s = summary.summarize(x, y, "power", 7)
    r = sinefit.fit(summary=s, degree=3, optimizer="exact")
    want = np.linalg.lstsq(np.vander(x, 4), y, rcond=None)[0]
    np.testing.assert_allclose(r.model.coefficients, want, rtol=1e-10)
    with pytest.raises(sinefit.ConfigError, match="--degree: the summary holds degree 7 at most"):
        sinefit.fit(summary=s, degree=8)
    with pytest.raises(sinefit.ConfigError, match="--basis: the summary was built in the power basis"):
        sinefit.fit(summary=s, basis="legendre")


def test_save_and_load_round_trip(noisy, tmp_path):
    x, y = noisy
    s = summary.summarize(x, y, "legendre", 4, (-3.0, 3.0))
    s.save(tmp_path / "s.npz")
    assert (tmp_path / "s.npz").stat().st_size < 200_000
    back = sinefit.Summary.load(tmp_path / "s.npz")
    assert (back.basis, back.degree, back.domain, back.n) == ("legendre", 4, (-3.0, 3.0), 4000)
    np.testing.assert_array_equal(back.R, s.R)
    np.testing.assert_array_equal(back.sample_x, s.sample_x)
    back.save(tmp_path / "s.npz")  # its own file may be replaced
    again = sinefit.Summary.from_bytes(s.to_bytes())  # what a Spark task returns
    np.testing.assert_array_equal(again.R, s.R)
    assert again.domain == s.domain and again.n == s.n


def test_bad_summary_files_are_refused_in_one_line(tmp_path, noisy):
    x, y = noisy
    (tmp_path / "notes.npz").write_text("my notes")
    with pytest.raises(summaryfile.SummaryFileError, match=r"notes.npz: not a sinefit summary"):
        summaryfile.load(tmp_path / "notes.npz")
    with pytest.raises(summaryfile.SummaryFileError, match="exists and is not a sinefit summary; not replaced"):
        summary.summarize(x, y).save(tmp_path / "notes.npz")
    assert (tmp_path / "notes.npz").read_text() == "my notes"
    s = summary.summarize(x, y)
    np.savez(tmp_path / "bad.npz", meta=np.array('{"format": "sinefit-summary", "version": 1, "basis": "power", '
             '"degree": 3, "domain": null, "n": 4000}'), R=s.R.T.copy(), sample_x=s.sample_x, sample_y=s.sample_y)  # fmt: skip
    with pytest.raises(summaryfile.SummaryFileError, match="R is not upper triangular"):
        summaryfile.load(tmp_path / "bad.npz")


def test_cli_fits_a_summary_file(tmp_path, capsys, noisy):
    """Oracle: numpy.linalg.lstsq on the points the summary was built from; the run can be shown again."""
    x, y = noisy
    summary.summarize(x, y, "power", 3).save(tmp_path / "s.npz")
    code = main(["fit", "--summary", str(tmp_path / "s.npz"), "--optimizer", "exact", "--out", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0, err
    want = np.linalg.lstsq(np.vander(x, 4), y, rcond=None)[0]
    (run_dir,) = (tmp_path / "runs").iterdir()
    loaded = sinefit.load(run_dir / "model.json")
    np.testing.assert_allclose(loaded.coefficients, want, rtol=1e-10)
    assert main(["runs", "show", str(run_dir)]) == 0
    assert "4000" in capsys.readouterr().out
    code = main(["fit", "--summary", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "missing.npz: cannot read" in err


# --------------------------------------------------------------------------- data sets


@pytest.fixture
def dataset(tmp_path):
    """A partitioned data set of 3 formats (as Spark writes one: part files, _SUCCESS, .crc), and its points."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(9)
    root = tmp_path / "set"
    (root / "day=1").mkdir(parents=True)
    (root / "day=2").mkdir()
    xs, ys = [], []
    for i, (where, fmt) in enumerate([("day=1", "parquet"), ("day=1", "csv"), ("day=2", "npy"), ("day=2", "parquet")]):
        x = rng.uniform(-2, 2, 700 + 100 * i)
        y = x**3 - x + 0.1 * rng.standard_normal(x.size)
        path = root / where / f"part-{i:04d}.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.table({"x": x, "y": y}), path, row_group_size=300)
        elif fmt == "csv":
            path.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
        else:
            np.save(path, np.column_stack([x, y]))
        xs.append(x)
        ys.append(y)
    (root / "_SUCCESS").write_text("")
    (root / "day=1" / ".part-0000.parquet.crc").write_bytes(b"\0\1")
    return root, np.concatenate(xs), np.concatenate(ys)


def test_a_directory_or_glob_is_read_partition_by_partition(dataset):
    """Oracle: the arrays written, in sorted partition order."""
    root, x, y = dataset
    for spec in (root, f"{root}/**/*.*", f"file://{root}"):
        chunks = list(datafiles.iter_chunks(str(spec), chunk_rows=256))
        assert max(len(c[0]) for c in chunks) <= 256
        got_x = np.concatenate([c[0] for c in chunks])
        np.testing.assert_array_equal(np.sort(got_x), np.sort(x))
    parquet_only = np.concatenate([c[0] for c in datafiles.iter_chunks(f"{root}/*/*.parquet")])
    assert parquet_only.size == 700 + 1000
    assert datafiles.count_rows(f"{root}/*/*.parquet") == 1700
    assert datafiles.count_rows(root) is None  # a CSV partition does not say


def test_fitting_a_dataset_equals_fitting_its_points(dataset):
    """Oracle: fit(x=..., y=...) of the concatenated partitions."""
    root, x, y = dataset
    want = sinefit.fit(x=x, y=y, degree=3, dtype="float64", optimizer="exact")
    for settings in (dict(dtype="float64"), dict(dtype="float32", engine="per-sample")):
        got = sinefit.fit(data=str(root), degree=3, optimizer="exact", **settings)
        assert got.dataset.size == x.size
        np.testing.assert_allclose(got.model.coefficients, want.model.coefficients, rtol=1e-6 if "engine" in
                                   settings else 1e-10)  # fmt: skip


def test_cli_fits_a_glob_of_partitions(dataset, tmp_path, capsys):
    """Oracle: numpy.linalg.lstsq of the two Parquet partitions' points (README: --data 'parts/*.parquet')."""
    root, x, y = dataset
    code = main(["fit", "--data", f"{root}/*/*.parquet", "--dtype", "float64", "--optimizer", "exact", "--quiet",
                 "--out", str(tmp_path / "runs")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (tmp_path / "runs").iterdir()
    picked = np.r_[0:700, 700 + 800 + 900 : x.size]  # partitions 0 and 3
    want = np.linalg.lstsq(np.vander(x[picked], 4), y[picked], rcond=None)[0]
    np.testing.assert_allclose(sinefit.load(run_dir / "model.json").coefficients, want, rtol=1e-10)


def test_a_bad_partition_is_named_with_its_line(dataset, capsys, tmp_path):
    root, _, _ = dataset
    bad = root / "day=2" / "part-9999.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    code = main(["fit", "--data", str(root), "--dtype", "float64", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"{bad}: line 3" in err and "oops" in err
    code = main(["fit", "--data", str(tmp_path / "nothing" / "*.parquet"), "--out", str(tmp_path / "runs")])
    assert code == 2 and "no data files" in capsys.readouterr().err


def test_a_fit_from_a_summary_or_a_stream_says_which_numbers_come_from_its_sample(tmp_path, monkeypatch):
    """A newcomer met 'max |error| 1.17563' (numpy over all 2.5e6 points: 1.53128) and a hint 'BIC
    favours degree 4 (-1.64e+06 ...)' beside the report's BIC of -6.4e+06, both from the kept sample;
    from a degree-3 summary the hint's '--degree 4 --optimizer exact' failed. Oracles: numpy over
    every point (the sample's max error is at most the full one), and the refusal the old hint met."""
    from sinefit import api, report
    from sinefit.config import ConfigError

    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 60_000)
    y = np.sin(3 * x) + 0.3 * rng.standard_normal(x.size)
    np.save(tmp_path / "big.npy", np.column_stack([x, y]))
    monkeypatch.setattr(api, "SAMPLE", 2000)
    r = sinefit.fit(data=str(tmp_path / "big.npy"), dtype="float64", optimizer="exact")
    kept = len(r.dataset.x)
    assert kept < x.size == r.statistics.n
    text = report.fit_report(r)
    (row,) = [line for line in text.splitlines() if "max |error|" in line]
    assert f"on a sample of {kept} of the {x.size} points" in row
    full = np.max(np.abs(np.polynomial.Polynomial.fit(x, y, 3)(x) - y))
    assert r.statistics.max_error <= full * (1 + 1e-9)
    assert f"on a sample of {kept}" in text.split("Hint:")[1]

    s = sinefit.summarize(x, y, degree=3)
    from_summary = sinefit.fit(summary=s, optimizer="exact")
    text = report.fit_report(from_summary)
    assert "needs a summary built at degree 4 (this one holds degree 3)" in text and "--degree 4" not in text
    with pytest.raises(ConfigError, match="holds degree 3 at most"):
        sinefit.fit(summary=s, degree=4, optimizer="exact")  # what the old hint asked for


def test_a_small_summary_never_hints_a_degree_it_cannot_fit():
    """A summary of 3000 points keeps every one (kept == n), and the hint said 'degree 4 lowers BIC
    ... (--degree 4 --optimizer exact)', which that degree-3 summary refuses. Oracle: the refusal."""
    from sinefit import report
    from sinefit.config import ConfigError

    x = np.linspace(-1, 1, 3000)
    s = sinefit.summarize(x, np.exp(2 * x), degree=3)
    r = sinefit.fit(summary=s, optimizer="exact")
    assert len(r.dataset.x) == r.statistics.n  # every point kept
    text = report.fit_report(r)
    assert "needs a summary built at degree 4 (this one holds degree 3)" in text and "--degree 4" not in text
    with pytest.raises(ConfigError, match="holds degree 3 at most"):
        sinefit.fit(summary=s, degree=4, optimizer="exact")
