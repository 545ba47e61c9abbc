"""Configs, saved models, predictions and reports through the CLI."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import sinefit
from sinefit.cli import main
from sinefit.io.modelfile import ModelFileError


def cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def fit_run(tmp_path, capsys, *args) -> Path:
    code, out, err = cli(["fit", "--out", str(tmp_path / "runs"), "--quiet", *args], capsys)
    assert code == 0, err
    return max((tmp_path / "runs").iterdir())


SETTINGS = ["--target", "tanh(2*x) + 0.1*x", "--degree", "6", "--basis", "chebyshev", "--optimizer", "adam",
            "--loss", "mse", "--steps", "300", "--noise", "0.05", "--seed", "11", "--domain", "-pi,pi/2"]  # fmt: skip


def test_refit_from_saved_config_is_bit_for_bit(tmp_path, capsys):
    first = fit_run(tmp_path, capsys, *SETTINGS)
    second = fit_run(tmp_path, capsys, "--config", str(first / "config.toml"))
    assert (first / "history.csv").read_bytes() == (second / "history.csv").read_bytes()
    a, b = (json.loads((d / "model.json").read_text()) for d in (first, second))
    assert a["coefficients"] == b["coefficients"] and a["domain"] == [-np.pi, np.pi / 2]


def test_cli_options_override_the_config_file(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('target = "cos"\ndegree = 4\nsteps = 50\nlog-every = 10\n')
    run = fit_run(tmp_path, capsys, "--config", str(config), "--steps", "20")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["config"]["target"] == "cos" and summary["config"]["degree"] == 4
    assert summary["config"]["steps"] == 20 and summary["config"]["log_every"] == 10


@pytest.mark.parametrize(
    "content, words",
    [
        ("degree = 3\nfoo = 1\n", ["unknown setting 'foo'"]),
        ("degree = [1, 2]\n", ["degree must be a single value"]),
        ("degree = \n", ["not valid TOML"]),
        ('degree = "three"\n', ["bad.toml: degree:", "whole number"]),
        ("lr = -1.0\n", ["bad.toml: lr:", "positive"]),
    ],
)
def test_bad_config_files(tmp_path, capsys, content, words):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    code, out, err = cli(["fit", "--config", str(config), "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    for w in words:
        assert w in err
    assert not (tmp_path / "runs").exists()


def test_model_round_trip_and_predict(tmp_path, capsys):
    run = fit_run(tmp_path, capsys, *SETTINGS)
    model = sinefit.load(run / "model.json")
    api = sinefit.fit(**{"target": "tanh(2*x) + 0.1*x", "degree": 6, "basis": "chebyshev", "optimizer": "adam",
                         "loss": "mse", "steps": 300, "noise": 0.05, "seed": 11, "domain": (-np.pi, np.pi / 2)})  # fmt: skip
    xs = np.array([-np.pi / 2, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(model.predict(xs), api.predict(xs))

    code, out, err = cli(["predict", str(run / "model.json"), "--x=-pi/2", "0.5", "1", "2", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["x"] == xs.tolist() and doc["y"] == api.predict(xs).tolist()

    code, out, err = cli(["predict", str(run / "model.json"), "--x", "0.5,1"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 3  # header and two rows
    assert repr(float(api.predict(0.5))) in out or f"{float(api.predict(0.5)):.17g}" in out

    (tmp_path / "in.csv").write_text("x\n0.5\n1\n2\n")
    code, out, err = cli(["predict", str(run / "model.json"), "--input", str(tmp_path / "in.csv"),
                          "--output", str(tmp_path / "out.csv")], capsys)  # fmt: skip
    assert code == 0, err
    with open(tmp_path / "out.csv") as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_array_equal([float(r["y"]) for r in rows], api.predict([0.5, 1.0, 2.0]))


@pytest.mark.parametrize(
    "content, words",
    [
        (b"\x80\x04\x95pickle", "not valid JSON"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "power"', "not valid JSON"),
        (b'{"format": "sinefit.model", "format_version": 99}', "unknown format_version 99"),
        (b'{"format": "other"}', "not a sinefit model"),
        (b"[1, 2, 3]", "not a sinefit model"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 1, "domain": [0, 1], '
         b'"coefficients": [{"name": "a", "degree": 1, "value": NaN}, {"name": "b", "degree": 0, "value": 1}]}',
         "NaN"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 1, "domain": [0, 1], '
         b'"coefficients": [{"name": "a", "degree": 1, "value": 1e999}, {"name": "b", "degree": 0, "value": 1}]}',
         "finite"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 2, "domain": [0, 1], '
         b'"coefficients": [{"name": "a", "degree": 2, "value": 1}]}', "needs 3 coefficients"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 0, "domain": [0, 1], '
         b'"coefficients": [{"name": "a", "degree": 0, "value": "1"}]}', "finite number"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 0, "domain": [0, 1], '
         b'"coefficients": [{"name": "a", "degree": 0, "value": 1}], "evil": 1}', "unknown key 'evil'"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "fourier"}', "unknown basis"),
        (b'{"format": "sinefit.model", "format_version": 1, "basis": "power", "degree": true}', "degree"),
    ],
)
def test_corrupt_and_hostile_model_files_are_refused(tmp_path, capsys, content, words):
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ModelFileError) as e:
        sinefit.load(path)
    assert words in str(e.value) and str(path) in str(e.value)
    code, out, err = cli(["predict", str(path), "--x", "1"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_oversized_model_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "model.json"
    with open(path, "wb") as f:
        f.truncate(2 << 20)
    with pytest.raises(ModelFileError, match="too large"):
        sinefit.load(path)


def test_report_of_a_saved_run_is_the_report_printed_after_the_fit(tmp_path, capsys):
    run = fit_run(tmp_path, capsys, *SETTINGS)
    code, out, err = cli(["report", str(run)], capsys)
    assert code == 0, err
    assert out == (run / "report.txt").read_text()
    for section in ("[[Setup]]", "[[Statistics]]", "[[Optimum]]", "[[Conditioning]]", "[[Coefficients]]",
                    "[[Power form]]", "[[Correlations]]"):  # fmt: skip
        assert section in out
    code, out, err = cli(["report", str(tmp_path / "nope")], capsys)
    assert code == 2 and "no such run directory" in err


def test_report_statistics_against_numpy(tmp_path, capsys):
    run = fit_run(tmp_path, capsys, "--optimizer", "exact", "--dtype", "float64", "--degree", "5")
    summary = json.loads((run / "summary.json").read_text())
    x = np.linspace(-np.pi, np.pi, 1000)
    y = np.sin(x)
    coef = np.polyfit(x, y, 5)
    r = np.polyval(coef, x) - y
    sse = float(r @ r)
    stats = summary["statistics"]
    assert stats["sse"] == pytest.approx(sse, rel=1e-9)
    assert stats["r2"] == pytest.approx(1 - sse / np.sum((y - y.mean()) ** 2), rel=1e-12)
    assert stats["aic"] == pytest.approx(1000 * np.log(sse / 1000) + 2 * 6, rel=1e-9)
    # Standard errors: the textbook covariance s^2 (X^T X)^-1, computed here by numpy's polyfit.
    _, cov = np.polyfit(x, y, 5, cov="unscaled")
    se = np.sqrt(np.diag(cov) * sse / (1000 - 6))
    np.testing.assert_allclose(list(summary["stderr"].values()), se, rtol=1e-6)


def test_data_file_through_the_cli(tmp_path, capsys):
    x = np.linspace(0, 2, 50)
    (tmp_path / "points.csv").write_text("x,y\n" + "".join(f"{float(a)!r},{float(3 * a * a - a + 1)!r}\n" for a in x))
    code, out, err = cli(["fit", "--data", str(tmp_path / "points.csv"), "--degree", "2", "--optimizer", "exact",
                          "--dtype", "float64", "--json", "--out", str(tmp_path / "runs")], capsys)  # fmt: skip
    assert code == 0, err
    power = json.loads(out)["power_coefficients"]
    np.testing.assert_allclose(list(power.values()), [3, -1, 1], rtol=1e-9)

    (tmp_path / "bad.csv").write_text("x,y\n1,2\n3,abc\n")
    code, out, err = cli(["fit", "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "runs2")], capsys)
    assert code == 2 and "bad.csv" in err and "line 3" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs2").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--target", "__import__('os').system('id')"], ["--target", "not allowed"]),
        (["--target", "log(x)", "--domain", "0,1"], ["--target", "not finite at x = 0 (-inf)"]),
        (["--target", "log(x)"], ["--target", "not finite at x = -3.14159 (nan)"]),
        (["--domain", "1"], ["--domain", "two numbers"]),
        (["--domain", "x,1"], ["--domain"]),
        (["--domain", "2,1"], ["--domain", "a < b"]),
        (["--lr", "auto", "--optimizer", "adam"], ["--lr", "auto is for"]),
        (["--basis", "fourier"], ["--basis", "legendre"]),
        (["--optimizer", "sgd"], ["--optimizer", "momentum"]),
        (["--data", "missing.csv"], ["missing.csv", "cannot read"]),
        (["--noise", "-0.5"], ["--noise"]),
    ],
)
def test_bad_fit_inputs(tmp_path, capsys, args, words):
    code, out, err = cli(["fit", "--out", str(tmp_path / "runs"), *args], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for w in words:
        assert w in err
    assert not (tmp_path / "runs").exists()


def test_a_bad_value_is_blamed_where_it_was_given(tmp_path, capsys):
    """The file and key for a value from --config; the option for one typed (even beside a config)."""
    from sinefit.cli import main

    (tmp_path / "c.toml").write_text('degree = "three"\nsteps = 5\n')
    assert main(["fit", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.strip().endswith("c.toml: degree: must be a whole number, got 'three'")
    (tmp_path / "ok.toml").write_text("steps = 5\n")
    assert main(["fit", "--config", str(tmp_path / "ok.toml"), "--samples", "0", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sinefit: error: --samples:") and "ok.toml" not in err, err
    assert main(["sweep", "--config", str(tmp_path / "c.toml"), "--lr", "1e-6,2e-6", "--out", str(tmp_path / "runs")]) == 2
    assert "c.toml: degree: must be a whole number" in capsys.readouterr().err
