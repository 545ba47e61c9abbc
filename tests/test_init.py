"""--init: every kind against its literal definition (torch's and numpy's own calls), warm starts, errors."""

import json
import math

import numpy as np
import pytest
import torch

from sinefit import fit
from sinefit.cli import main
from sinefit.config import ConfigError

STEPS = 3  # the start is all these tests look at


def start(**settings):
    return fit(steps=STEPS, **settings).initial.coefficients


@pytest.mark.parametrize("seed", [0, 7])
def test_randn_is_the_seeds_draw_highest_power_first(seed):
    torch.manual_seed(seed)
    a, b, c, d = (torch.randn(()) for _ in range(4))  # a x^3 + b x^2 + c x + d
    assert list(start(seed=seed, init="randn")) == [a.item(), b.item(), c.item(), d.item()]
    assert list(start(seed=seed)) == [a.item(), b.item(), c.item(), d.item()]  # the default


@pytest.mark.parametrize("seed", [0, 7])
def test_randn_ascending_is_the_tutorials_draw(seed):
    torch.manual_seed(seed)  # polynomial_tensor.py: y = a + b x + c x^2 + d x^3
    a, b, c, d = (torch.randn(()) for _ in range(4))
    coefficients = start(seed=seed, init="randn-ascending")  # highest power first
    assert list(coefficients) == [d.item(), c.item(), b.item(), a.item()]
    if seed == 0:  # the numbers the issue quotes: 1.541 - 0.293x - 2.179x^2 + 0.568x^3
        np.testing.assert_allclose(coefficients, [0.568431, -2.17879, -0.293429, 1.541], atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_is_np_random_seed_then_randn(dtype):
    np.random.seed(3)  # polynomial_numpy.py: a, b, c, d of a + b x + c x^2 + d x^3
    a, b, c, d = (np.random.randn() for _ in range(4))
    expected = np.array([d, c, b, a]).astype(dtype).astype(np.float64)
    np.testing.assert_array_equal(start(seed=3, init="numpy", dtype=dtype, engine="per-sample"), expected)


@pytest.mark.parametrize("degree", [0, 1, 3, 5])
def test_linear_is_torch_nn_linear_under_manual_seed(degree):
    torch.manual_seed(11)  # polynomial_nn.py: Linear(3, 1) on (x, x^2, x^3)
    layer = torch.nn.Linear(degree, 1) if degree else None
    if degree:
        weights, bias = layer.weight.detach()[0], layer.bias.item()
        expected = [*weights.flip(0).tolist(), bias]  # x^degree ... x, then the constant
    else:
        expected = [0.0]  # Linear(0, 1): no weights, and its bias bound 1/sqrt(0) is taken as 0
    assert list(start(seed=11, degree=degree, init="linear")) == pytest.approx(expected, abs=0, rel=0)


def test_zeros_and_values_in_each_naming_order():
    assert list(start(init="zeros")) == [0.0, 0.0, 0.0, 0.0]
    assert list(start(init="0.5,-1,0,2")) == [0.5, -1.0, 0.0, 2.0]  # a x^3 + b x^2 + c x + d
    assert list(start(init="0.5,-1,0,2", order="ascending")) == [2.0, 0.0, -1.0, 0.5]  # a + b x + c x^2 + d x^3
    assert list(start(init=[0.5, -1, 0, 2])) == [0.5, -1.0, 0.0, 2.0]  # the API takes a sequence too


def test_draws_leave_the_callers_random_state_alone():
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch, expected_numpy = torch.randn(3), np.random.randn(3)
    torch.manual_seed(123)
    np.random.seed(123)
    for kind in ("randn", "randn-ascending", "numpy", "linear"):
        start(init=kind)
    np.testing.assert_array_equal(torch.randn(3), expected_torch)
    np.testing.assert_array_equal(np.random.randn(3), expected_numpy)


def test_report_and_run_files_say_which_start(tmp_path, capsys):
    assert main(["fit", "--out", str(tmp_path), "--init", "linear", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "start                         linear: torch.nn.Linear(degree, 1)" in out
    run = tmp_path / "fit-0001"
    assert 'init = "linear"' in (run / "config.toml").read_text()
    assert "linear: torch.nn.Linear" in (run / "report.txt").read_text()
    assert json.loads((run / "summary.json").read_text())["config"]["init"] == "linear"
    # config.toml refits the same start
    assert main(["fit", "--out", str(tmp_path), "--config", str(run / "config.toml"), "--json"]) == 0
    refit = json.loads(capsys.readouterr().out)
    assert refit["initial_coefficients"] == json.loads((run / "summary.json").read_text())["initial_coefficients"]


def test_config_file_takes_init_as_a_list(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("init = [0.5, -1, 0, 2]\nsteps = 1\n")
    assert main(["fit", "--out", str(tmp_path), "--config", str(tmp_path / "c.toml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["initial_coefficients"] == {"a": 0.5, "b": -1.0, "c": 0.0, "d": 2.0}


def test_warm_start_from_a_run_continues_its_loss_curve(tmp_path, capsys):
    whole = fit(steps=2000)  # the seed, float32: plain gd keeps no state, so 1000 + 1000 steps = 2000 steps
    assert main(["fit", "--out", str(tmp_path), "--steps", "1000", "-q"]) == 0
    first = tmp_path / "fit-0001"
    second = fit(steps=1000, init=str(first))
    np.testing.assert_array_equal(second.losses, whole.losses[1000:])
    np.testing.assert_array_equal(second.model.coefficients, whole.model.coefficients)
    # the model.json itself works too, from the CLI, and the report names it
    assert main(["fit", "--out", str(tmp_path), "--steps", "1000", "--init", str(first / "model.json")]) == 0
    out = capsys.readouterr().out
    assert f"warm start from {first / 'model.json'}" in out
    assert f"{whole.losses[1099]:>14.6f}" in out  # its step 99 is the whole run's step 1099


def test_warm_start_from_a_float64_stats_run(tmp_path):
    whole = fit(dtype="float64", optimizer="momentum", steps=0, init="0.1,0.2,0.3,0.4")
    assert whole.engine.startswith("sufficient statistics")
    assert main(["fit", "--out", str(tmp_path), "--dtype", "float64", "--steps", "300", "-q"]) == 0
    again = fit(dtype="float64", steps=0, init=str(tmp_path / "fit-0001"))
    saved = json.loads((tmp_path / "fit-0001" / "model.json").read_text())
    assert list(again.initial.coefficients) == [c["value"] for c in saved["coefficients"]]
    assert again.losses[0] == pytest.approx(saved["final_loss"], rel=1e-12)


@pytest.mark.parametrize(
    "init, settings, message",
    [
        ("1,2,3", {}, "--init: a degree-3 polynomial needs 4 starting values, got 3"),
        ("1,x,3,4", {}, "--init: value 2 'x' is not a number"),
        ("1,nan,3,4", {}, "--init: value 2 must be a finite number, got 'nan'"),
        ("nowhere/model.json", {}, "--init: nowhere/model.json: no such model file or run directory"),
        ("numpy", {"seed": 2**40}, "--init: numpy's np.random.seed takes seeds below 2**32, got --seed 1099511627776"),
        ("", {}, "--init: is empty"),
    ],
)
def test_bad_init_is_one_clear_line(init, settings, message):
    with pytest.raises(ConfigError) as e:
        fit(init=init, **settings)
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_warm_start_refuses_another_model(tmp_path, capsys):
    assert main(["fit", "--out", str(tmp_path), "--steps", "1", "-q"]) == 0
    code = main(["fit", "--out", str(tmp_path), "--degree", "5", "--init", str(tmp_path / "fit-0001")])
    err = capsys.readouterr().err
    assert code == 2
    assert "holds a power model of degree 3; this fit is power of degree 5" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit-0001"]  # no run directory for a refused start
    (tmp_path / "empty").mkdir()
    assert main(["fit", "--out", str(tmp_path), "--init", str(tmp_path / "empty")]) == 2
    assert "a run directory without model.json" in capsys.readouterr().err


def test_a_start_far_away_still_reports_honestly():
    r = fit(init="100,-100,100,-100", steps=50)
    assert r.losses[0] > 1e9 and math.isfinite(r.final_loss)


def test_sweeps_start_where_init_says():
    from sinefit.sweep import sweep

    result = sweep(seed=[0, 5], init="numpy", steps=200, dtype="float64")
    for row in result.rows:
        alone = fit(seed=row["seed"], init="numpy", steps=200, dtype="float64")
        assert row["final_loss"] == pytest.approx(alone.final_loss, rel=1e-9)
    assert result.rows[0]["final_loss"] != pytest.approx(result.rows[1]["final_loss"], rel=1e-3)
