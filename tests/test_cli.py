"""The CLI end to end, in a temporary directory."""

import csv
import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import sinefit
from sinefit import fit
from sinefit.cli import main
from sinefit.io import figures, rundata, runs

RUN_FILES = {"config.toml", "history.csv", "trajectory.csv", "points.csv", "surface.json", "model.json", "report.txt",
             "initial.png", "trained.png", "summary.json", "status.json"}


def run_cli(args, tmp_path, capsys):
    code = main(["fit", "--out", str(tmp_path / "runs"), *args])
    out, err = capsys.readouterr()
    return code, out, err


def only_run_dir(tmp_path) -> Path:
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def test_default_fit_end_to_end(tmp_path, capsys):
    code, out, err = run_cli([], tmp_path, capsys)
    assert code == 0, err
    assert err == ""
    run_dir = only_run_dir(tmp_path)
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    assert str(run_dir) in out

    api = fit(seed=0)
    # The loss table: the seed's steps and losses, as printed.
    for t, loss in api.logged:
        assert f"{t:>8}  {loss:>14.6f}\n" in out
    assert "4.42704" in out  # the optimum
    assert "7.09e-06" in out  # the stable-lr bound
    assert "Hint:" in out and "Why:" in out

    # history.csv: every step, 0 ... 2000, the same losses as the API.
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(2001))
    np.testing.assert_array_equal([float(r["loss"]) for r in rows], api.losses)

    # model.json loads and predicts what the API predicts.
    loaded = sinefit.load(run_dir / "model.json")
    xs = np.linspace(-4, 4, 17)
    np.testing.assert_array_equal(loaded.predict(xs), api.predict(xs))
    doc = json.loads((run_dir / "model.json").read_text())
    assert [c["name"] for c in doc["coefficients"]] == ["a", "b", "c", "d"]
    assert [c["degree"] for c in doc["coefficients"]] == [3, 2, 1, 0]
    assert doc["format_version"] == 1 and doc["sinefit_version"] == sinefit.__version__
    assert [c["value"] for c in doc["coefficients"]] == list(api.coefficients.values())

    config = tomllib.loads((run_dir / "config.toml").read_text())
    assert config["lr"] == 1e-6 and config["steps"] == 2000 and config["seed"] == 0

    for name in ("initial.png", "trained.png"):
        image = matplotlib.image.imread(run_dir / name)
        assert image.shape[0] > 300 and image.shape[1] > 300


def test_seed_figures_have_y_true_over_y_pred(tmp_path):
    r = fit(steps=10)
    run = rundata.load(runs.save_run(r, tmp_path, "report", "hint"))
    for draw in (figures.seed_initial, figures.seed_trained):
        fig = draw(run)
        top, bottom = fig.axes
        assert top.get_title() == "y true" and bottom.get_title() == "y pred"
        assert top.get_position().y0 > bottom.get_position().y0  # 'y true' above
        assert len(top.get_lines()) == 1 and len(bottom.get_lines()) == 1
        np.testing.assert_allclose(top.get_lines()[0].get_ydata(), np.sin(r.dataset.x.double().numpy()))
    trained = figures.seed_trained(run).axes[1].get_lines()[0]
    np.testing.assert_allclose(trained.get_ydata(), r.predict(trained.get_xdata()))
    initial = figures.seed_initial(run).axes[1].get_lines()[0]
    np.testing.assert_allclose(initial.get_ydata(), r.initial.predict(initial.get_xdata()))


def test_runs_never_overwrite(tmp_path, capsys):
    for _ in range(3):
        assert run_cli(["--steps", "5", "--quiet"], tmp_path, capsys)[0] == 0
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == ["fit-0001", "fit-0002", "fit-0003"]


def test_json_summary(tmp_path, capsys):
    code, out, err = run_cli(["--json", "--steps", "300", "--seed", "3"], tmp_path, capsys)
    assert code == 0
    summary = json.loads(out)  # nothing but JSON on stdout
    api = fit(seed=3, steps=300)
    assert summary["config"]["seed"] == 3
    assert summary["logged"] == [[t, v] for t, v in api.logged]
    assert summary["coefficients"] == api.coefficients
    assert summary["final_loss"] == api.final_loss
    assert summary["optimum"]["loss"] == pytest.approx(4.42704, rel=1e-5)
    assert summary["stable_lr"] == pytest.approx(7.09e-6, rel=1e-3)
    assert Path(summary["run_dir"]) == only_run_dir(tmp_path)
    assert json.loads((only_run_dir(tmp_path) / "summary.json").read_text()) == summary


def test_quiet_prints_nothing(tmp_path, capsys):
    code, out, err = run_cli(["--quiet", "--steps", "10"], tmp_path, capsys)
    assert (code, out, err) == (0, "", "")


def test_options_reach_the_fit(tmp_path, capsys):
    code, out, err = run_cli(["--json", "--seed", "5", "--lr", "2e-6", "--steps", "50", "--samples", "200",
                              "--degree", "4", "--log-every", "7", "--dtype", "float64"], tmp_path, capsys)  # fmt: skip
    assert code == 0, err
    s = json.loads(out)
    api = fit(seed=5, lr=2e-6, steps=50, samples=200, degree=4, log_every=7, dtype="float64")
    assert [t for t, _ in s["logged"]] == list(range(6, 51, 7))
    assert s["coefficients"] == api.coefficients
    assert list(s["coefficients"]) == ["a", "b", "c", "d", "e"]


def test_divergence_stops_reports_and_keeps_files(tmp_path, capsys):
    code, out, err = run_cli(["--lr", "1e-4"], tmp_path, capsys)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("sinefit: error: diverged")
    assert "step 12" in last and "lr 0.0001" in last and "7.09e-06" in last
    assert "warning: lr 0.0001 is above the stable bound" in err  # said before training

    run_dir = only_run_dir(tmp_path)
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(13))
    assert all(math.isfinite(float(r["loss"])) for r in rows[:-1]) and not math.isfinite(float(rows[-1]["loss"]))

    model = sinefit.load(run_dir / "model.json")
    assert np.all(np.isfinite(model.coefficients))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged_at"] == 12
    assert summary["final_loss"] == float(rows[-2]["loss"])
    # The coefficients kept are the last finite ones: they reproduce the last finite loss.
    x = np.linspace(-np.pi, np.pi, 1000, dtype=np.float32).astype(np.float64)
    assert np.sum((model.predict(x) - np.sin(x)) ** 2) == pytest.approx(summary["final_loss"], rel=1e-3)


@pytest.mark.parametrize(
    "args, option",
    [
        (["--steps", "-1"], "--steps"),
        (["--lr", "0"], "--lr"),
        (["--lr", "-1"], "--lr"),
        (["--lr", "abc"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--samples", "1"], "--samples"),
        (["--samples", "3"], "--samples"),  # fewer points than a cubic's 4 coefficients
        (["--degree", "-1"], "--degree"),
        (["--dtype", "float16x"], "--dtype"),
        (["--log-every", "0"], "--log-every"),
        (["--seed", "-3"], "--seed"),
        (["--steps", "ten"], "--steps"),
        (["--stepz", "10"], "--stepz"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(args, option, tmp_path, capsys):
    code, out, err = run_cli(args, tmp_path, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sinefit: error:")
    assert option in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing written


def test_unwritable_output_is_a_clean_failure(tmp_path, capsys):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs directory should be")
    code, out, err = run_cli(["--steps", "3", "--quiet"], tmp_path, capsys)
    assert code == 1
    assert err.startswith("sinefit: error: cannot write the run directory") and len(err.strip().splitlines()) == 1
    assert blocker.read_text() == "a file where the runs directory should be"


def test_show_without_display_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, out, err = run_cli(["--steps", "3", "--quiet", "--show"], tmp_path, capsys)
    assert code == 0
    assert "no display" in err


def test_console_script_and_module_entry_points(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    exe = Path(sys.executable).with_name("sinefit")
    help_run = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=env)
    assert help_run.returncode == 0 and "fit" in help_run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "sinefit", "fit", "--steps", "200", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "     199" in run.stdout and "Wrote" in run.stdout
    assert "Traceback" not in run.stderr


def test_figures_all_format_and_animation(tmp_path, capsys):
    from PIL import Image

    code, out, err = run_cli(["--figures", "all", "--format", "svg", "--animate", "--steps", "300", "-q"], tmp_path, capsys)
    assert code == 0, err
    run_dir = only_run_dir(tmp_path)
    for stem in figures.FIGURE_STEMS:
        assert (run_dir / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
    gif = Image.open(run_dir / "training.gif")
    assert gif.n_frames <= 150 and (run_dir / "training.gif").stat().st_size < 5_000_000


def test_plot_and_animate_commands_draw_from_a_run(tmp_path, capsys):
    run_cli(["--steps", "200", "-q"], tmp_path, capsys)
    run_dir = only_run_dir(tmp_path)
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "figs")]) == 0
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(f"{s}.png" for s in figures.FIGURE_STEMS)
    assert main(["animate", str(run_dir), "--frames", "20"]) == 0
    assert (run_dir / "training.gif").exists()
    capsys.readouterr()


@pytest.mark.parametrize("args, option", [(["--figures", "some"], "--figures"), (["--format", "jpg"], "--format"),
                                          (["--animate", "avi"], "--animate")])  # fmt: skip
def test_bad_figure_options(args, option, tmp_path, capsys):
    code, out, err = run_cli(args, tmp_path, capsys)
    assert code == 2 and option in err and not (tmp_path / "runs").exists()


def test_the_cli_imports_neither_torch_nor_matplotlib_until_a_command_needs_them():
    """`sinefit --help` (and every command's --help) must not pay for torch's import (a second and
    more): the CLI's modules and the signal handling import them only inside the commands."""
    import subprocess
    import sys

    code = ("import sys; from sinefit.cli import main\n"
            "for argv in (['--help'], ['fit', '--help'], ['sweep', '--help'], ['runs', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'matplotlib', 'numpy') if m in sys.modules))")  # fmt: skip
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "torch" not in p.stdout.splitlines()[-1] and "matplotlib" not in p.stdout.splitlines()[-1], p.stdout[-300:]


@pytest.mark.parametrize("args, culprit", [(["fitt"], "'fitt'"), (["runs", "lst"], "'lst'")])
def test_a_mistyped_command_is_suggested_once(capsys, args, culprit):
    """click 8.2+ and typer both suggested the close name: 'Did you mean 'fit'? Did you mean 'fit'?'."""
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert culprit in err and err.count("Did you mean") == 1 and "\n" not in err, err
