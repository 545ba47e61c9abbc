"""Issue 9, point 10's leftovers: each as a person would type it, with an independent check."""

import json
import math

import numpy as np
import pytest

from sinefit import load
from sinefit.cli import main


def _cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def points(tmp_path):
    path = tmp_path / "calibration.csv"
    xs = [5 * i / 39 for i in range(40)]
    path.write_text("x,y\n" + "".join(f"{x!r},{math.cos(x)!r}\n" for x in xs))
    return path


def test_runs_list_names_the_data_file_of_data_runs_and_sweeps(tmp_path, capsys, points):
    out_dir = str(tmp_path / "runs")
    assert _cli(capsys, "fit", "--data", str(points), "--degree", "2", "--optimizer", "exact", "--quiet",
                "--out", out_dir)[0] == 0  # fmt: skip
    assert _cli(capsys, "sweep", "--data", str(points), "--degree", "1:3", "--optimizer", "exact", "--out", out_dir)[0] == 0
    assert _cli(capsys, "fit", "--degree", "2", "--optimizer", "exact", "--quiet", "--out", out_dir)[0] == 0
    code, out, err = _cli(capsys, "runs", "list", "--out", out_dir)
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["fit-0001"][3] == "calibration.csv" and rows["sweep-0001"][3] == "calibration.csv"
    assert rows["fit-0002"][3] == "sin"  # a generated target keeps its name


def test_runs_show_and_report_of_a_sweep_are_readable(tmp_path, capsys):
    out_dir = tmp_path / "runs"
    assert _cli(capsys, "sweep", "--degree", "1:3", "--optimizer", "exact", "--out", str(out_dir))[0] == 0
    sweep = out_dir / "sweep-0001"
    doc = json.loads((sweep / "summary.json").read_text())
    for command in (["runs", "show", str(sweep)], ["report", str(sweep)]):
        code, out, err = _cli(capsys, *command)
        assert code == 0, err
        assert "history.csv" not in err and not out.lstrip().startswith("{")  # no raw JSON, no missing-file blame
        assert "grid: 3 configurations" in out and "degree: 1, 2, 3" in out
        for b in doc["best"]:  # every best row, with its loss as summary.json has it
            assert f"{b['final_loss']:.6g}" in out
        assert "sweep.csv" in out
    assert "is a sweep, not a fit" in _cli(capsys, "report", str(sweep))[1]
    code, out, _ = _cli(capsys, "report", str(sweep), "--json")
    assert code == 0 and json.loads(out) == doc


@pytest.mark.parametrize("typed,suggestion", [("sine", "'sin'"), ("cosine", "'cos'"), ("gausian", "'gaussian'"),
                                              ("sinn(x)", "'sin'"), ("tangent(x)", "'tan'")])  # fmt: skip
def test_a_misspelt_target_gets_a_did_you_mean(tmp_path, capsys, typed, suggestion):
    code, _, err = _cli(capsys, "fit", "--target", typed, "--quiet", "--out", str(tmp_path / "runs"))
    assert code == 2 and f"did you mean {suggestion}?" in err and err.count("\n") == 1


@pytest.mark.parametrize("typed,written", [("sin(2x)", "2*x"), ("3pi*x", "3*pi"), ("x + 2.5x**2", "2.5*x"),
                                           ("2(x+1)", "2*(...)")])  # fmt: skip
def test_implicit_multiplication_says_what_to_write(tmp_path, capsys, typed, written):
    code, _, err = _cli(capsys, "fit", "--target", typed, "--quiet", "--out", str(tmp_path / "runs"))
    assert code == 2 and f"write {written}" in err and err.count("\n") == 1


def test_optimizer_names_in_any_case(tmp_path, capsys):
    code, _, err = _cli(capsys, "fit", "--optimizer", "Adam", "--lr", "0.01", "--steps", "5", "--quiet",
                        "--out", str(tmp_path / "runs"))  # fmt: skip
    assert code == 0, err


def test_help_shows_the_defaults(capsys):
    _, out, _ = _cli(capsys, "fit", "--help")
    flat = " ".join(out.replace("│", " ").split())
    for default in ("[default: 1000]", "[default: 2000]", "[default: 3]", "[default: 1e-6"):
        assert default in flat, default


def test_predict_takes_negative_values_and_a_run_directory(tmp_path, capsys):
    out_dir = tmp_path / "runs"
    assert _cli(capsys, "fit", "--optimizer", "exact", "--quiet", "--out", str(out_dir))[0] == 0
    run = out_dir / "fit-0001"
    model = load(run / "model.json")
    xs = [0.5, -1.25, 2.0, -math.pi / 2]
    for target in (run / "model.json", run):
        code, out, err = _cli(capsys, "predict", str(target), "--x", "0.5", "-1.25", "2", "-pi/2", "--json")
        assert code == 0, err
        doc = json.loads(out)
        np.testing.assert_allclose(doc["x"], xs)  # in the order typed
        np.testing.assert_allclose(doc["y"], model.predict(np.array(xs)), rtol=1e-12)
    code, _, err = _cli(capsys, "predict", str(run), "--x", "-1", "--bogus")
    assert code == 2 and "--bogus" in err


@pytest.mark.parametrize("args, said", [
    ((), "lr 1e-06"),  # the seed's lr, stable on the seed's problem
    (("--target", "sin(x) + 0.1*x**2", "--noise", "0.1", "--degree", "5"), "lr auto"),  # the seed's lr is unstable here
    (("--degree", "5", "--trace", "1"), "lr auto"),
    (("--lr", "3e-7"), "lr 3e-07"),
])  # fmt: skip
def test_the_header_says_the_lr_that_runs(tmp_path, capsys, args, said):
    """Oracle: the saved config.toml (what ran). A newcomer saw 'lr 1e-06' in the header while the
    line above it said the seed's lr was unstable there and lr auto would be used."""
    code, out, err = _cli(capsys, "fit", "--steps", "20", "--out", str(tmp_path / "runs"), *args)
    assert code == 0, err
    header = out.splitlines()[1]
    assert header.startswith("seed 0, plain gradient descent, ") and f", {said}," in header, header
    import tomllib

    (run_dir,) = (tmp_path / "runs").iterdir()
    lr = tomllib.loads((run_dir / "config.toml").read_text()).get("lr")
    assert (lr == "auto") == (said == "lr auto") and ("warning: no --lr given" in err) == (said == "lr auto")


def test_runs_list_shows_the_steps_each_run_took(tmp_path, capsys):
    """Oracle: each run's summary.json (converged_at, interrupted_at, diverged_at). runs list showed the
    --steps cap (2000) for a run that converged at step 22, and 2000 steps for an exact solve."""
    out_dir = tmp_path / "runs"
    assert _cli(capsys, "fit", "--basis", "legendre", "--lr", "auto", "-q", "--out", str(out_dir))[0] == 0
    assert _cli(capsys, "fit", "--optimizer", "exact", "-q", "--out", str(out_dir))[0] == 0
    assert _cli(capsys, "fit", "--lr", "1e-4", "-q", "--out", str(out_dir))[0] == 1  # diverges
    assert _cli(capsys, "fit", "--steps", "50", "-q", "--out", str(out_dir))[0] == 0  # runs them all
    code, out, _ = _cli(capsys, "runs", "list", "--out", str(out_dir))
    steps = {line.split()[0]: line[out.splitlines()[0].index("steps"):].split("  ")[0].strip() for line in out.splitlines()[1:]}
    summary = {p.name: json.loads((p / "summary.json").read_text()) for p in out_dir.iterdir()}
    assert steps["fit-0001"] == f"{summary['fit-0001']['converged_at']} of 2000"
    assert steps["fit-0002"] == "-"
    assert steps["fit-0003"] == f"{summary['fit-0003']['diverged_at']} of 2000"
    assert steps["fit-0004"] == "50"


@pytest.mark.parametrize("loss", [1.33e132, 2.5e10, -3e20, 1e-5, 95.79243609])
def test_a_loss_row_stays_one_short_column(loss):
    """A growing float64 run printed its loss as a 130-digit number. Oracle: the printed value reads
    back as the loss to 7 digits, in a row no wider than its header's 24 columns."""
    from sinefit import report

    row = report.loss_row(5000, loss)
    assert len(row) <= 24 and float(row.split()[1]) == pytest.approx(loss, rel=1e-6), row


def test_load_takes_a_run_directory_as_predict_does(tmp_path, capsys):
    """sinefit.load('runs/fit-0001') refused a directory that `sinefit predict runs/fit-0001` accepts.
    Oracle: the run's model.json loaded by path, and predict's own numbers."""
    out_dir = tmp_path / "runs"
    assert _cli(capsys, "fit", "--steps", "50", "-q", "--out", str(out_dir))[0] == 0
    run = out_dir / "fit-0001"
    model = load(run)
    np.testing.assert_array_equal(model.coefficients, load(run / "model.json").coefficients)
    code, out, _ = _cli(capsys, "predict", str(run), "--x", "0.5", "--json")
    assert code == 0 and json.loads(out)["y"][0] == pytest.approx(float(model.predict(np.array([0.5]))[0]), rel=1e-12)
    with pytest.raises(Exception, match="not a regular file|directory"):
        load(tmp_path)  # a directory with no model.json is still refused


def test_predict_says_overflow_in_its_own_words_and_refuses_nan(tmp_path, capsys):
    """--x 1e200 printed numpy's 'overflow encountered in multiply'; --x nan said "unknown name 'nan'".
    Oracle: the model's own float64 evaluation (a cubic at 1e200 is beyond float64)."""
    out_dir = tmp_path / "runs"
    assert _cli(capsys, "fit", "--steps", "20", "-q", "--out", str(out_dir))[0] == 0
    run = str(out_dir / "fit-0001")
    code, out, err = _cli(capsys, "predict", run, "--x", "1e200", "1")
    assert code == 0 and "encountered" not in err
    assert err.strip() == "sinefit: warning: y is beyond float64 at 1 x value (the first at x = 1e+200)"
    assert out.splitlines()[2].split()[1] == f"{float(load(run).predict(np.array([1.0]))[0]):.17g}"
    for bad in ("nan", "-inf"):
        code, _, err = _cli(capsys, "predict", run, f"--x={bad}")
        assert code == 2 and err.strip() == f"sinefit: error: --x: '{bad}' is not a finite number; give finite x values"


def test_save_writes_the_model_that_load_and_predict_read(tmp_path, capsys):
    """There was no public way to save a fit from Python (dir(sinefit.io) was empty). Oracle: load()
    of the file, and `sinefit predict` on it against the result's own prediction."""
    import sinefit

    r = sinefit.fit(steps=50)
    path = sinefit.save(r, tmp_path / "m.json")
    np.testing.assert_array_equal(load(path).coefficients, r.model.coefficients)
    code, out, _ = _cli(capsys, "predict", str(path), "--x", "0.25", "--json")
    assert code == 0 and json.loads(out)["y"][0] == pytest.approx(float(r.predict([0.25])[0]), rel=1e-12)
    with pytest.raises(Exception, match="exists; give --force"):
        sinefit.save(r, path)
    sinefit.save(r, path, force=True)
    with pytest.raises(Exception, match=r"name it \*\.json"):
        sinefit.save(r, tmp_path / "m.txt")
    assert not (tmp_path / "m.txt").exists()
