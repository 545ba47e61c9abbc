"""Model fits (--model): expressions, gradients, Levenberg-Marquardt, starts, bounds, files, each against an oracle.

Oracles: finite differences and torch.func for derivatives, scipy.optimize.least_squares for lm,
the PyTorch tutorial's polynomial_custom_function.py written out literally, NIST StRD certified values.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sinefit import fit
from sinefit.cli import main
from sinefit.config import ConfigError, FitConfig
from sinefit.errors import InputError
from sinefit.nonlinear import analysis, expression, lm
from sinefit.nonlinear.bounds import Transform
from sinefit.nonlinear.problem import Problem

scipy_optimize = pytest.importorskip("scipy.optimize")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import nist_strd  # noqa: E402

# -- expressions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a*foo(x)", "unknown function 'foo'"),
        ("sin*x + a", "'sin' is a function, not a parameter"),
        ("a*P3 + x", "'P3' is a function, not a parameter"),
        ("a*b + c", "does not use x"),
        ("sin(x) + 1", "no parameters"),
        ("a*x.real", "attribute access"),
        ("__import__('os')", "unknown function"),
        ("a*legendre(k, x)", "n must be a whole number"),
        ("a*legendre(3.5, x)", "n must be a whole number"),
        ("a*P3(x, x)", "P3() takes 1 argument"),
        ("a(x + 1)", "unknown function 'a'"),
        ("a*x if a else x", "conditional expression"),
        ("a*x ^ 2", "write ** for powers"),
        ("", "empty expression"),
    ],
)
def test_hostile_models_are_refused_with_one_line(text, fragment):
    with pytest.raises(InputError) as e:
        expression.parse(text)
    assert fragment in str(e.value) and "\n" not in str(e.value) and str(e.value).startswith("--model")


def test_parameters_in_order_of_appearance_and_legendre_against_numpy():
    m = expression.parse("a + b*P3(c + d*x) + f*legendre(7, x/4)")
    assert m.parameters == ("a", "b", "c", "d", "f")
    t = torch.linspace(-1, 1, 101, dtype=torch.float64)
    for n in range(9):
        ref = np.polynomial.legendre.legval(t.numpy(), [0] * n + [1])
        np.testing.assert_allclose(expression.legendre(n, t).numpy(), ref, atol=1e-13)


def test_batched_evaluation_matches_row_by_row():
    m = expression.parse("a*exp(-b*x) + c*sin(x)")
    x = torch.linspace(0, 3, 50, dtype=torch.float64)
    theta = torch.tensor([[1.0, 0.5, 2.0], [-2.0, 1.5, 0.1]], dtype=torch.float64)
    out = m(theta, x)
    for row, th in zip(out, theta):
        a, b, c = th
        torch.testing.assert_close(row, a * torch.exp(-b * x) + c * torch.sin(x))


# -- derivatives ------------------------------------------------------------------------------


def _problem(text, truth, x, bounds=None, noise=0.0):
    m = expression.parse(text)
    xt = torch.as_tensor(x, dtype=torch.float64)
    with torch.no_grad():
        y = m(torch.as_tensor(truth, dtype=torch.float64), xt)
    y = y + noise * torch.as_tensor(np.random.default_rng(0).standard_normal(len(x)))
    return Problem(m, xt, y, Transform.of(m.parameters, bounds or {}))


def test_jacobian_equals_torch_func_and_central_differences():
    p = _problem("a*exp(-b*x) + c/(1 + x**2) + d*P3(x/5)", [2.0, 0.7, -1.0, 0.5], np.linspace(-4, 4, 40),
                 bounds={"b": (0.0, 5.0), "c": (-3.0, math.inf)})  # fmt: skip
    u = torch.tensor([[1.0, 0.3, 0.2, -0.4], [0.5, -1.0, 1.5, 2.0]], dtype=torch.float64)
    J = p.jacobian(u)
    ref = torch.func.vmap(torch.func.jacfwd(p.residuals))(u)
    torch.testing.assert_close(J, ref, rtol=1e-12, atol=1e-12)
    h = 1e-6
    for j in range(4):
        e = torch.zeros(4, dtype=torch.float64)
        e[j] = h
        fd = (p.residuals(u + e) - p.residuals(u - e)) / (2 * h)
        scale = float(p.residuals(u).abs().max())  # central differences lose ~eps |r| / h to rounding
        torch.testing.assert_close(J[:, :, j], fd, rtol=1e-6, atol=1e-8 * scale)


def test_autograd_gradient_of_the_loss_equals_finite_differences():
    from sinefit import losses
    from sinefit.nonlinear.problem import ModelObjective

    p = _problem("a*sin(b*x + c)", [1.5, 2.0, 0.3], np.linspace(-3, 3, 200), noise=0.1)
    for name in ("sse", "mse", "huber"):
        obj = ModelObjective(p, losses.get(name, 0.5))
        theta = torch.tensor([[1.0, 1.8, 0.1]], dtype=torch.float64)
        _, grad = obj(theta)
        h = 1e-6
        for j in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[j] = h
            fd = (obj(theta + e, False)[0] - obj(theta - e, False)[0]) / (2 * h)
            assert float(grad[0, j]) == pytest.approx(float(fd[0]), rel=1e-6, abs=1e-8)


# -- Levenberg-Marquardt against scipy -----------------------------------------------------------

MODELS = [
    ("a*exp(-b*x) + c", [3.0, 0.8, 0.5], [1.0, 1.0, 0.0], (0.0, 6.0)),
    ("a / (1 + exp(b - c*x))", [10.0, 2.0, 1.5], [5.0, 1.0, 1.0], (-2.0, 6.0)),
    ("a*x**b", [2.0, 1.7], [1.0, 1.0], (0.5, 4.0)),
    ("a*exp(-(x - b)**2 / (2*c**2)) + d", [4.0, 1.0, 0.7, 0.2], [3.0, 0.5, 1.0, 0.0], (-3.0, 4.0)),
    ("(a + b*x) / (1 + c*x)", [1.0, 2.0, 0.3], [1.0, 1.0, 0.1], (0.0, 5.0)),
]


@pytest.mark.parametrize("text, truth, start, domain", MODELS)
def test_lm_equals_scipy_least_squares(text, truth, start, domain):
    p = _problem(text, truth, np.linspace(*domain, 60), noise=0.05)
    res = lm.levenberg_marquardt(p, torch.tensor([start], dtype=torch.float64))
    assert res.converged[0], res.reason[0]
    x, y = p.x.numpy(), p.y.numpy()

    def residuals(theta):
        with torch.no_grad():
            return (p.model(torch.as_tensor(theta), p.x) - p.y).numpy()

    ref = scipy_optimize.least_squares(residuals, start, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(res.u[0], ref.x, rtol=1e-7, atol=1e-10)
    assert res.sse[0] == pytest.approx(2 * ref.cost, rel=1e-10)
    J = p.jacobian(torch.as_tensor(res.u), external=True)[0].numpy()
    stats = analysis.statistics(x, y, residuals(res.u[0]) + y, J)
    cov = np.linalg.inv(ref.jac.T @ ref.jac) * (2 * ref.cost) / (len(x) - len(start))
    np.testing.assert_allclose(stats.stderr, np.sqrt(np.diag(cov)), rtol=1e-5)


def test_a_parameter_the_model_ignores_is_reported_not_determined():
    r = fit(model="a*x + 0*b + c - c", init={"a": 1.0, "b": 2.0, "c": 3.0}, target="2*x", optimizer="lm",
            dtype="float64")  # fmt: skip
    det = dict(zip(r.names, r.statistics.determined))
    assert det == {"a": True, "b": False, "c": False}
    assert not np.isinf(r.statistics.stderr).any()
    from sinefit.nonlinear.report import fit_report

    text = fit_report(r)
    variables = text.split("[[Variables]]")[1].split("[[")[0]
    assert variables.count("not determined") >= 2 and "inf" not in variables
    assert r.parameters["a"] == pytest.approx(2.0, rel=1e-12)
    assert not r.converged and "do not determine b, c" in r.reason


def test_starts_find_both_minima_of_a_model_that_has_two():
    r = fit(model="(a*x)**2", init={"a": 0.5}, target="4*x**2", optimizer="lm", starts=8, dtype="float64")
    found = sorted(round(float(m.parameters[0]), 9) for m in r.reference_minima)
    assert found == [-2.0, 2.0]
    assert sum(len(m.starts) for m in r.reference_minima) == 8


def test_bounds_keep_the_parameter_inside_and_match_scipy():
    r = fit(model="a*exp(-b*x)", init="a=1,b=0.1", bounds="b=0:0.3", target="2*exp(-0.5*x)", domain=(0, 4),
            optimizer="lm", dtype="float64")  # fmt: skip
    p = _problem("a*exp(-b*x)", [2.0, 0.5], np.linspace(0, 4, 1000))

    def residuals(theta):
        with torch.no_grad():
            return (p.model(torch.as_tensor(theta), p.x) - p.y).numpy()

    ref = scipy_optimize.least_squares(residuals, [1.0, 0.1], bounds=([-np.inf, 0], [np.inf, 0.3]), xtol=1e-15,
                                       ftol=1e-15, gtol=1e-15)  # fmt: skip
    assert 0 < r.parameters["b"] <= 0.3
    np.testing.assert_allclose([r.parameters["a"], r.parameters["b"]], ref.x, rtol=1e-6)
    assert bool(r.at_bound[1])


@pytest.mark.parametrize(
    "settings, fragment",
    [
        (dict(init="a=1"), "no starting value for b"),
        (dict(init="a=1,b=2,z=3"), "unknown parameter 'z'"),
        (dict(init="a=1,b=nan"), "b:"),
        (dict(init="a=1,b=1e999"), "b:"),
        (dict(init="a=1,a=2,b=1"), "given twice"),
        (dict(init="a=1,b"), "not name=value"),
        (dict(init=None), "give every parameter a starting value"),
        (dict(init="a=1,b=1", bounds="b=2:1"), "lower bound must be below"),
        (dict(init="a=1,b=1", bounds="b=2:5"), "not strictly inside"),
        (dict(init="a=1,b=1", bounds="b=0"), "lower:upper"),
        (dict(init="a=1,b=1", starts=0), "--starts"),
        (dict(init="a=1,b=1", optimizer="lm", loss="huber"), "least squares"),
        (dict(init="a=1,b=1", lr="auto"), "auto is for polynomial fits"),
        (dict(init="a=1,b=1", degree=5), "--degree"),
    ],
)
def test_bad_model_settings_get_one_line_errors(settings, fragment):
    with pytest.raises(ConfigError) as e:
        FitConfig.from_dict({"model": "a*exp(-b*x)", **settings})
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_model_settings_without_a_model_are_refused():
    for settings in (dict(optimizer="lm"), dict(bounds="a=0:1"), dict(starts=3)):
        with pytest.raises(ConfigError):
            FitConfig.from_dict(settings)


# -- the tutorial's polynomial_custom_function.py ---------------------------------------------


def tutorial_custom_function_loop():
    """polynomial_custom_function.py's loop, written out literally (its LegendrePolynomial3 Function)."""

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input**3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input**2 - 1)

    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    printed = []
    for t in range(2000):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            printed.append((t, loss.item()))
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return printed, [a.item(), b.item(), c.item(), d.item()]


TUTORIAL_COMMAND = ["fit", "--model", "a + b*P3(c + d*x)", "--init", "a=0,b=-1,c=0,d=0.3", "--lr", "5e-6",
                    "--steps", "2000", "--samples", "2000"]  # fmt: skip


def test_the_tutorial_custom_function_command_prints_the_scripts_losses(tmp_path, capsys):
    printed, final = tutorial_custom_function_loop()
    assert main([*TUTORIAL_COMMAND, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {int(t): float(v) for t, v in (line.split()[:2] for line in out.splitlines()
                                          if line.strip() and line.split()[0].isdigit() and len(line.split()) == 2)}
    assert sorted(rows) == [t for t, _ in printed]
    # P3's backward is autograd's of 0.5 (5 t^3 - 3 t), not the script's hand-written 1.5 (5 t^2 - 1):
    # the same derivative, rounded differently in float32, so the losses agree to rounding, not bits.
    for t, loss in printed:
        assert rows[t] == pytest.approx(loss, rel=2e-5)
    summary = json.loads((tmp_path / "fit-0001" / "summary.json").read_text())
    np.testing.assert_allclose(list(summary["parameters"].values()), final, rtol=1e-4, atol=1e-7)


# -- files: model.json, predict, the CLI ---------------------------------------------------------


def test_model_json_round_trip_and_predict(tmp_path, capsys):
    code = main(["fit", "--model", "a*exp(-b*x) + c", "--init", "a=1,b=1,c=0", "--target", "2*exp(-0.5*x) + 1",
                 "--domain", "0,5", "--optimizer", "lm", "--out", str(tmp_path), "--quiet"])  # fmt: skip
    assert code == 0
    run = tmp_path / "fit-0001"
    from sinefit import load

    model = load(run / "model.json")
    assert model.names == ("a", "b", "c")
    np.testing.assert_allclose(model.values, [2.0, 0.5, 1.0], rtol=1e-6)
    capsys.readouterr()
    assert main(["predict", str(run / "model.json"), "--json", "--x", "0", "1", "2.5"]) == 0
    got = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(got["y"], model.values[0] * np.exp(-model.values[1] * np.array([0, 1, 2.5]))
                               + model.values[2], rtol=1e-12)  # fmt: skip
    doc = json.loads((run / "model.json").read_text())
    doc["expression"] = "a*exp(-b*x) + __import__('os')"
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    assert main(["predict", str(tmp_path / "bad.json"), "--x", "1"]) == 2
    assert "bad.json: expression:" in capsys.readouterr().err


def test_cli_refuses_a_bad_init_in_one_line_and_writes_nothing(tmp_path, capsys):
    code = main(["fit", "--model", "a*exp(-b*x)", "--init", "a=1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--init: no starting value for b" in err
    assert not any(tmp_path.iterdir())


def test_gd_figures_and_report_sections(tmp_path, capsys):
    code = main(["fit", "--model", "a*exp(-b*x) + c", "--init", "a=1,b=1,c=0", "--target", "2*exp(-0.5*x) + 1",
                 "--domain", "0,5", "--samples", "200", "--optimizer", "adam", "--lr", "0.05", "--steps", "300",
                 "--starts", "3", "--figures", "all", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    for section in ("[[Setup]]", "[[Statistics]]", "[[Optimum]]", "[[Variables]]", "[[Correlations]]",
                    "[[Local analysis]]", "[[Starts]]", "reduced chi-square", "best loss found by lm"):
        assert section in out
    run = tmp_path / "fit-0001"
    for name in ("overlay", "loss", "parameters", "contour", "initial", "trained"):
        assert (run / f"{name}.png").stat().st_size > 1000
    summary = json.loads((run / "summary.json").read_text())
    assert summary["lm"]["best_loss"] <= summary["final_loss"] * (1 + 1e-9)


# -- NIST StRD: certified values -----------------------------------------------------------------


@pytest.mark.parametrize("name, start", [("Misra1a", 1), ("MGH09", 2), ("Thurber", 1), ("Eckerle4", 1)])
def test_lm_reaches_nist_certified_values(name, start):
    P = nist_strd.load(name)
    r = fit(model=P.model, init=P.init(start), x=P.x, y=P.y, optimizer="lm")
    assert r.converged, r.reason
    order = [r.names.index(n) for n in P.names]
    values = r.model.values[order]
    stderr = r.statistics.stderr[order]
    assert min(nist_strd.lre(v, c) for v, c in zip(values, P.certified)) >= 6
    assert min(nist_strd.lre(v, c) for v, c in zip(stderr, P.certified_stderr)) >= 3
    assert r.statistics.sse == pytest.approx(P.certified_sse, rel=1e-6)


# -- the README's commands -------------------------------------------------------------------------


def _readme_model_commands():
    import shlex

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text.split("<!-- model-commands:begin -->")[1].split("<!-- model-commands:end -->")[0]
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("sinefit ")]


def test_the_readme_model_commands_run(tmp_path, monkeypatch, capsys):
    commands = _readme_model_commands()
    assert commands[0] == TUTORIAL_COMMAND  # run (and checked against the script) above
    P = nist_strd.load("Misra1a")
    (tmp_path / "points.csv").write_text("x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(P.x, P.y)))
    monkeypatch.chdir(tmp_path)
    for args in commands[1:]:
        assert main([*args, "--quiet", "--out", "runs"]) == 0, args
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == len(commands) - 1
    misra = json.loads((runs[2] / "summary.json").read_text())
    assert misra["converged"] and misra["parameters"]["b1"] == pytest.approx(P.certified[0], rel=1e-6)
    two = json.loads((runs[3] / "summary.json").read_text())
    assert sorted(round(m["parameters"]["a"], 6) for m in two["minima"]) == [-2.0, 2.0]


def test_the_nist_benchmark_runs_in_quick_form():
    import nist

    text, passed, total, _ = nist.table(["Misra1a"])
    assert total == 2 and passed == 2 and "| Misra1a | lower | 1 |" in text


def test_plot_and_report_of_a_model_run_say_what_it_is(tmp_path, capsys):
    assert main(["fit", "--model", "a*x", "--init", "a=1", "--target", "2*x", "--optimizer", "lm", "--quiet",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    capsys.readouterr()
    for command in ("plot", "report"):
        assert main([command, str(tmp_path / "fit-0001")]) == 2
        err = capsys.readouterr().err
        assert "a --model fit" in err and err.count("\n") == 1


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_a_model_fit_without_lr_takes_the_optimizers_default(tmp_path, capsys, optimizer):
    """No --lr on a --model fit: the optimizer's default lr (gd's 1e-6, ...), the same run as given explicitly."""
    from sinefit.config import DEFAULT_LR

    base = ["fit", "--model", "a*exp(-b*x) + c", "--init", "a=1,b=1,c=0", "--target", "2*exp(-0.5*x) + 1",
            "--domain", "0,5", "--optimizer", optimizer, "--steps", "200", "--quiet"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "default")]) == 0
    assert main([*base, "--lr", repr(DEFAULT_LR[optimizer]), "--out", str(tmp_path / "given")]) == 0
    capsys.readouterr()
    default = (tmp_path / "default" / "fit-0001" / "history.csv").read_text()
    given = (tmp_path / "given" / "fit-0001" / "history.csv").read_text()
    assert default == given


def test_runs_list_names_a_model_runs_model_not_the_polynomial_defaults(tmp_path, capsys):
    assert main(["fit", "--model", "a*exp(b*x)", "--init", "a=1,b=0.1", "--target", "2*exp(0.3*x)", "--optimizer",
                 "lm", "--quiet", "--out", str(tmp_path)]) == 0  # fmt: skip
    assert main(["fit", "--steps", "5", "--quiet", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["runs", "list", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    model_row = next(line for line in lines if line.startswith("fit-0001")).split()
    poly_row = next(line for line in lines if line.startswith("fit-0002")).split()
    assert "a*exp(b*x)" in model_row and "power" not in model_row and "-" in model_row
    assert "power" in poly_row and "3" in poly_row
