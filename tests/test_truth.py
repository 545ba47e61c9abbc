"""The analysis is true one step away from the seed: bounded searches, accurate least squares,
honest standard errors, round-off said as such, no raw library warnings (issue 9)."""

import math
import warnings

import mpmath
import numpy as np
import pytest

from sinefit import analysis, api, fit, report
from sinefit.io import modelfile, runs


def _calibration():
    rng = np.random.default_rng(1)
    x = np.linspace(-8.8, -3.1, 82)
    return x, np.tanh(x / 2) + 0.5 * np.sin(x) + 1e-3 * rng.standard_normal(82)


def _mp_lstsq(x, y, degree, dps=50):
    """Power coefficients (highest first) and (X^T X)^-1 by normal equations in 50-digit arithmetic."""
    with mpmath.workdps(dps):
        X = mpmath.matrix([[mpmath.mpf(float(v)) ** k for k in range(degree, -1, -1)] for v in x])
        Y = mpmath.matrix([mpmath.mpf(float(v)) for v in y])
        G = X.T * X
        Ginv = mpmath.inverse(G)
        theta = Ginv * (X.T * Y)
        r = X * theta - Y
        sse = sum(v**2 for v in r)
        return np.array([float(v) for v in theta]), np.array(Ginv.tolist(), dtype=float), float(sse)


def test_step_search_is_exact_integers_beyond_2_to_53():
    # One direction so flat that gd needs ~1e16 steps: the float grid used to stop narrowing there.
    lr = 0.5  # the steep direction (eigenvalue 2) is gone after one step
    for flat, low, high in ((1e-8, 2**53, analysis.STEP_CAP), (1e-6, 2**32, 2**53)):
        q = analysis.Quadratic(np.zeros(2), 0.0, np.array([1.0, flat]), np.eye(2), 1.0)
        theta0 = np.array([1.0, 1.0 / flat])  # each direction holds loss 1
        target = 1e-3
        n = q.gd_steps_to(theta0, lr, target)
        assert isinstance(n, int) and low < n <= high
        assert q.gd_gap(theta0, lr, np.array(float(n))) <= target < q.gd_gap(theta0, lr, np.array(float(n // 2)))
    q = analysis.Quadratic(np.zeros(2), 0.0, np.array([1.0, 1e-12]), np.eye(2), 1.0)  # (1 - 1e-24) is 1.0
    assert q.gd_steps_to(np.array([1.0, 1e12]), lr, 1e-3) == math.inf


def test_degree_14_finishes_and_the_hint_never_asks_for_billions_of_steps():
    r = fit(degree=14, steps=20, samples=200)
    text = report.fit_report(r)
    assert "never" not in report.hint(r)
    for token in report.hint(r).replace(")", " ").split():
        if token.isdigit():
            assert int(token) <= analysis.PRACTICAL_STEPS
    assert "legendre" in report.hint(r) and "exact" in report.hint(r)
    assert "Why:" in text


def test_calibration_curve_power_coefficients_match_the_50_digit_reference():
    x, y = _calibration()
    r = fit(x=x, y=y, degree=10, optimizer="exact", dtype="float64")
    reference, _, sse = _mp_lstsq(x, y, 10)
    got = r.model.power_coefficients
    err = np.max(np.abs(got - reference) / np.abs(reference))
    numpy_err = np.max(np.abs(np.polynomial.Polynomial.fit(x, y, 10).convert().coef[::-1] - reference)
                       / np.abs(reference))  # fmt: skip
    assert err <= max(10 * numpy_err, 1e-11)
    assert r.optimum_loss == pytest.approx(sse, rel=1e-9)  # the true optimum, not 1.35x it
    assert r.quadratic.full_rank


def test_float32_exact_returns_the_float64_solution_and_never_a_loss_below_the_optimum():
    x = np.arange(1960, 2021, 1.0)
    y = 0.01 * (x - 1990) ** 2 + 0.3 * (x - 1990) + 300 + np.sin(x)
    r = fit(x=x, y=y, degree=2, optimizer="exact")  # --dtype float32 (the default): the float64 points, solved in float64
    reference, _, sse = _mp_lstsq(x, y, 2)
    np.testing.assert_allclose(r.model.power_coefficients, reference, rtol=1e-9)
    assert r.final_loss == r.optimum_loss == pytest.approx(sse, rel=1e-9)
    text = report.fit_report(r)
    assert "1 - " not in text and "at the optimum" in text


def test_standard_errors_of_a_quadratic_near_1e6_are_finite_and_right():
    rng = np.random.default_rng(3)
    x = 1e6 + np.linspace(-5, 5, 101)
    y = 2e-3 * (x - 1e6) ** 2 - 0.7 * (x - 1e6) + 3 + 0.01 * rng.standard_normal(101)
    r = fit(x=x, y=y, degree=2, optimizer="exact", dtype="float64")
    _, ginv, sse = _mp_lstsq(x, y, 2)
    expected = np.sqrt(np.diag(ginv) * sse / (101 - 3))
    assert np.all(np.isfinite(r.statistics.stderr))
    np.testing.assert_allclose(r.statistics.stderr, expected, rtol=1e-6)
    assert r.statistics.correlations(0.1)


def test_power_form_standard_errors_are_carried_through_the_conversion(tmp_path):
    kw = dict(target="exp(x)", noise=0.05, degree=4, samples=300, optimizer="exact", dtype="float64")
    leg, power = fit(basis="legendre", **kw), fit(**kw)
    se = report.power_stderr(leg)
    np.testing.assert_allclose(se, power.statistics.stderr, rtol=1e-8)  # the same model space
    summary = runs.summary(leg, None, report.hint(leg))
    assert list(summary["power_stderr"].values()) == [float(v) for v in se]  # full precision
    assert modelfile.document(leg)["power_stderr"] == [float(v) for v in se]


def test_not_converged_standard_errors_are_marked():
    r = fit(steps=50)
    assert "not meaningful" in report.fit_report(r)
    assert "not meaningful" not in report.fit_report(fit(optimizer="exact"))


def test_rank_deficient_is_said_and_never_at_the_optimum():
    x = np.array([1.0, np.nextafter(1.0, 2.0), 2.0, 3.0, 2.0, 3.0])  # 4 distinct x, numerically 3
    y = np.array([0.0, 1.0, 2.0, 1.0, 2.5, 0.5])
    r = fit(x=x, y=y, degree=3, optimizer="exact", dtype="float64")
    assert r.quadratic.rank == 3
    text = report.fit_report(r)
    assert "rank 3 of 4" in text and "at the optimum" not in text


@pytest.mark.parametrize("settings", [
    dict(degree=13, optimizer="exact", samples=300),
    dict(degree=15, optimizer="exact", dtype="float64", samples=300),
    dict(degree=200, basis="legendre", samples=400, steps=5, dtype="float64"),
    dict(degree=3, domain=(1000.0, 1010.0), target="x", samples=100, steps=5),
    dict(degree=6, domain=(50.0, 60.0), target="sin(x)", samples=100, steps=5, dtype="float64"),
])  # fmt: skip
def test_no_raw_numpy_warnings(settings):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = fit(**settings)
        report.fit_report(r)
        report.hint(r)


def test_round_off_is_reported_as_such():
    r = fit(degree=15, basis="legendre", optimizer="lbfgs", dtype="float64", steps=200, samples=300)
    assert r.advice.converged and r.advice.at_roundoff
    text = report.fit_report(r)
    assert "round-off" in text and "x the optimum" not in text


def test_readme_default_of_another_problem_does_not_diverge():
    with pytest.warns(api.DefaultLRNote, match="lr auto"):
        r = fit(target="sin(x) + 0.1*x**2", noise=0.1, degree=5, steps=200)
    assert r.diverged_at is None and r.config.lr == "auto"
    assert fit(steps=1).lr == 1e-6  # the seed keeps the seed's lr


def test_animate_mp4_without_ffmpeg_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from matplotlib.animation import writers

    from sinefit import cli

    monkeypatch.setattr(writers, "is_available", lambda name: False)
    code = cli.main(["fit", "--steps", "5", "--animate", "mp4", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--animate gif" in err and "ffmpeg" in err
    assert not list(tmp_path.iterdir())  # nothing trained, no run left incomplete


def test_degree_sweeps_show_aic_and_bic_and_mark_the_bic_best():
    from sinefit import cli, sweep
    from sinefit.config import FitConfig

    base = FitConfig(target="sin(x) + 0.1*x**2", noise=0.1, optimizer="exact", dtype="float64", samples=300)
    result = sweep.sweep(base, degree=list(range(1, 9)))
    ref = fit(**{**base.to_dict(), "degree": 1})
    x, y = ref.dataset.x.numpy(), ref.dataset.y.numpy()
    bics = {}
    for d in range(1, 9):  # oracle: numpy.polynomial's least squares, BIC = n ln(SSE/n) + p ln n
        sse = float(np.sum((np.polynomial.Polynomial.fit(x, y, d)(x) - y) ** 2))
        bics[d] = x.size * math.log(sse / x.size) + (d + 1) * math.log(x.size)
    for row in result.rows:
        assert row["bic"] == pytest.approx(bics[row["degree"]], rel=1e-9)
    best = min(bics, key=bics.get)
    table = cli._sweep_table(result, 10)
    marked = [line for line in table.splitlines() if "BIC-best" in line]
    assert len(marked) == 1 and marked[0].split()[0] == str(best)
    assert f"lowest BIC: degree {best}" in table


def test_small_things_users_meet(tmp_path, capsys):
    from sinefit import cli

    code = cli.main(["fit", "--degree", "0", "--log-every", "1", "--steps", "5", "--optimizer", "GD", "--out",
                     str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "fitting a constant a to" in out and "fitting a to" not in out
    assert sum(1 for line in out.splitlines() if line.split()[:1] == ["5"]) == 1  # step 5 once, not twice
    assert cli.main(["predict", str(tmp_path / "fit-0001"), "--x", "0.5"]) == 0  # a run directory's model
    assert "0.5" in capsys.readouterr().out
    assert cli.main(["fit", "--optimizer", "exact", "--lr", "1e-3", "--out", str(tmp_path)]) == 0
    assert "--lr does nothing with --optimizer exact" in capsys.readouterr().err
    assert cli.main(["fit", "--momentum", "0.5", "--steps", "3", "--out", str(tmp_path)]) == 0
    assert "--momentum does nothing with --optimizer gd" in capsys.readouterr().err


def test_options_a_model_fit_does_not_use_are_said_to_do_nothing(tmp_path, capsys):
    """--grad picks the polynomial's hand-written gradients or autograd; a --model always uses autograd."""
    from sinefit import cli

    args = ["fit", "--model", "a*sin(b*x)", "--steps", "5", "--quiet", "--out", str(tmp_path)]
    assert cli.main([*args, "--grad", "manual"]) == 0
    assert "--grad does nothing with --model" in capsys.readouterr().err
    assert cli.main([*args, "--momentum", "0.5"]) == 0
    assert "--momentum does nothing with --optimizer gd" in capsys.readouterr().err
    assert cli.main(args) == 0
    assert "does nothing" not in capsys.readouterr().err


@pytest.mark.parametrize("basis", ["power", "legendre"])
def test_an_exact_fits_value_and_optimum_columns_print_the_same_numbers(basis):
    """The exact fit is the optimum: its coefficients must not read 1e-18 in one column and 0 in the
    next (an odd target's even coefficients are round-off)."""
    from sinefit import report

    r = fit(optimizer="exact", basis=basis)
    text = report.fit_report(r)
    rows = text.split("[[Coefficients]]")[1].split("[[")[0].splitlines()[2:]
    assert len(rows) == 4
    for row in rows:
        cells = row.split()
        value, optimum = cells[-4], cells[-2]
        assert value == optimum, row
    assert any(row.split()[-4] == "0" for row in rows)  # sin is odd: its even terms are round-off, shown as 0


def _yearly(offset):
    rng = np.random.default_rng(0)
    x = np.arange(1960, 2021, dtype=float)
    return x, offset + 5 * (x - 1990) + 0.3 * (x - 1990) ** 2 + rng.normal(0, 0.25, x.size)


FLOAT32_CASES = [
    ("yearly y near 1e4", dict(data=_yearly(10300), degree=2, basis="legendre", lr="auto")),
    ("yearly y near 300", dict(data=_yearly(300), degree=3, basis="legendre", lr="auto")),
    ("seed, degree 15", dict(degree=15, basis="legendre", lr="auto", steps=276)),
    ("seed, chebyshev momentum", dict(degree=5, basis="chebyshev", optimizer="momentum", lr="auto")),
]


@pytest.mark.parametrize("name, settings", FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES])
def test_a_float32_fit_called_at_round_off_is_where_float32_stops(name, settings):
    """Oracle: the same float32 run with --tol 0 for 20 000 steps, the floor float32 really reaches.
    A newcomer saw 'converged ... 1: at the optimum to round-off (within 1.2e+04)' at loss 6263
    against an optimum of 3.58 (round-off taken at the scale of y^T y, as for the statistics' closed
    form): the per-sample engine sums residuals, and its round-off is that of the residuals."""
    settings = dict(settings)
    kw = {}
    if "data" in settings:
        kw["x"], kw["y"] = settings.pop("data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(**settings, **kw)
        deep = fit(**{**settings, "steps": 20_000, "tol": 0}, **kw)
    a, best = r.advice, r.quadratic.optimum_loss
    floor = float(np.min(deep.losses)) - best
    assert a.converged and a.at_roundoff, (name, r.final_loss, best)
    # float32 cannot tell losses closer than the round-off it names (measured: at most 0.75 of it, on an
    # Intel Xeon; 2x leaves room for another CPU's float32 kernels, against the old rule's 10^4-10^8x)...
    assert abs(floor) <= 2 * a.roundoff
    assert r.final_loss - best <= a.roundoff  # ...and the fit called at round-off is within it
    assert a.roundoff <= 0.01 * best or a.roundoff <= 2e-10  # the old rule: 4300x the optimum for yearly y
    assert "at the optimum to round-off" in report.fit_report(r)


@pytest.mark.parametrize("as_file", [False, True])
def test_an_exact_solve_keeps_the_users_float64_points(tmp_path, as_file):
    """fit(x, y, optimizer="exact") at the default dtype rounded the arrays to float32 first: on x in
    [1000, 1001] a quadratic's loss was 7.4e-07 where the points' own optimum is ~1e-20. Oracle: a
    50-digit mpmath least-squares solve on the very float64 points."""
    rng = np.random.default_rng(5)
    x = np.linspace(1000, 1001, 60)
    y = 3 * x**2 - 2 * x + 1 + 1e-6 * rng.standard_normal(x.size)
    if as_file:
        np.save(tmp_path / "p.npy", np.column_stack([x, y]))
        r = fit(data=str(tmp_path / "p.npy"), degree=2, optimizer="exact")
    else:
        r = fit(x=x, y=y, degree=2, optimizer="exact")
    want = float(_mp_lstsq(x - 1000.5, y, 2)[2])  # shifted x: the same least squares, well conditioned in mpmath
    assert r.final_loss == pytest.approx(want, rel=1e-6) and r.optimum_loss == pytest.approx(want, rel=1e-6)
    assert "in float64, seed" in report.fit_report(r)
