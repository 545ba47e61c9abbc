"""Figures and animations of saved runs: drawn from the run directory's files alone.

Real runs are made through the CLI; every check reads the plotted data back off the
matplotlib objects and compares it with the files (history.csv, trajectory.csv, ...).
"""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from sinefit import api
from sinefit.cli import main
from sinefit.config import FitConfig
from sinefit.errors import InputError, SinefitError
from sinefit.io import animation, figures, rundata, runs

DRAWN_FROM = (
    "config.toml",
    "history.csv",
    "trajectory.csv",
    "points.csv",
    "surface.json",
    "model.json",
    "summary.json",
)


def make_run(root: Path, *args: str) -> Path:
    before = set(root.iterdir()) if root.exists() else set()
    main(["fit", "--out", str(root), "-q", *args])  # a diverged fit exits non-zero but still writes its run
    (new,) = set(root.iterdir()) - before
    return new


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def seed_run(root):
    return make_run(root)  # the seed's experiment: gd, lr 1e-6, 2000 steps, float32


@pytest.fixture(scope="module")
def exact_run(root):
    return make_run(root, "--dtype", "float64", "--lr", "auto", "--steps", "300")  # float64 stats engine


@pytest.fixture(scope="module")
def diverged_run(root):
    return make_run(root, "--lr", "1e-4")


@pytest.fixture(scope="module")
def momentum_run(root):
    return make_run(root, "--optimizer", "momentum", "--lr", "auto", "--dtype", "float64", "--steps", "400")


@pytest.fixture(scope="module")
def huber_run(root):
    return make_run(root, "--loss", "huber", "--optimizer", "adam", "--steps", "300", "--noise", "0.2")


@pytest.fixture(scope="module")
def legendre_run(root):
    return make_run(root, "--degree", "9", "--basis", "legendre", "--optimizer", "lbfgs", "--steps", "40", "--tol", "0")  # all 40 steps


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array([[float(v) for v in r] for r in rows[1:]])


def explanation(ax) -> str:
    """The convergence figure's sentence (left title), wrapped lines and no-break spaces undone."""
    return ax.get_title("left").replace("\n", " ").replace("\xa0", " ")


def labelled(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}


# -- rundata ------------------------------------------------------------------------------------


def test_load_reads_every_file(seed_run):
    run = rundata.load(seed_run)
    _, history = read_csv(seed_run / "history.csv")
    header, trajectory = read_csv(seed_run / "trajectory.csv")
    _, points = read_csv(seed_run / "points.csv")
    surface = json.loads((seed_run / "surface.json").read_text())
    np.testing.assert_array_equal(run.steps, history[:, 0])
    np.testing.assert_array_equal(run.losses, history[:, 1])
    np.testing.assert_array_equal(run.trajectory_steps, trajectory[:, 0])
    np.testing.assert_array_equal(run.thetas, trajectory[:, 1:])
    assert run.names == tuple(header[1:]) == ("a", "b", "c", "d")
    np.testing.assert_array_equal(run.x, points[:, 0])
    np.testing.assert_array_equal(run.y, points[:, 1])
    np.testing.assert_array_equal(run.optimum, surface["optimum"])
    np.testing.assert_array_equal(run.eigenvectors, np.array(surface["eigenvectors"]))
    assert run.status == "completed" and run.diverged_at is None and run.last_step == 2000
    assert run.lr == 1e-6 and run.optimizer == "gd" and run.config["seed"] == 0
    np.testing.assert_array_equal(
        run.fitted.coefficients, list(json.loads((seed_run / "summary.json").read_text())["coefficients"].values())
    )
    with pytest.raises(ValueError):
        run.losses[0] = 0.0  # read-only


def test_load_diverged_and_incomplete(diverged_run, tmp_path):
    run = rundata.load(diverged_run)
    assert run.status == "diverged" and run.diverged_at == 12 and not np.isfinite(run.losses[12])
    assert run.final_index == 11 and run.final_loss == run.losses[11]
    copy = tmp_path / "copy"
    shutil.copytree(diverged_run, copy)
    (copy / "summary.json").unlink()
    (copy / "model.json").unlink()  # a diverged run may have no model: the last finite trajectory row stands in
    run = rundata.load(copy)
    assert run.status == "incomplete" and run.model is None
    np.testing.assert_array_equal(run.fitted.coefficients, run.thetas[-1])


@pytest.mark.parametrize(
    "name", ["config.toml", "history.csv", "trajectory.csv", "points.csv", "surface.json", "model.json"]
)
def test_a_missing_file_is_named(seed_run, tmp_path, name):
    copy = tmp_path / "run"
    shutil.copytree(seed_run, copy)
    (copy / name).unlink()
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        rundata.load(copy)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        figures.plot_run(copy, tmp_path / "out")


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("history.csv", "step,loss\n0,1.0\n1,abc\n", r"history\.csv, line 3: not a number"),
        ("history.csv", "step,value\n0,1.0\n", r"history\.csv: expected the header step,loss"),
        ("history.csv", "step,loss\n0,1.0\n2,0.5\n2,0.4\n", r"history\.csv: steps must start at 0 and increase"),
        ("history.csv", "step,loss\n1,1.0\n2,0.5\n", r"history\.csv: steps must start at 0 and increase"),
        ("history.csv", "step,loss\n", r"history\.csv: no rows"),
        ("trajectory.csv", "step,a,b,c\n0,1,2,3\n", r"trajectory\.csv: expected the header step,a,b,c,d"),
        ("trajectory.csv", "step,a,b,c,d\n0,1,2,3\n", r"trajectory\.csv, line 2: expected 5 values, got 4"),
        ("trajectory.csv", "step,a,b,c,d\n5,1,2,3,4\n2,1,2,3,4\n", r"trajectory\.csv: steps must increase"),
        ("points.csv", "x,y\n0,nan\n", r"points\.csv: x and y must be finite"),
        ("surface.json", "{", r"surface\.json: not valid JSON"),
        ("surface.json", "[]", r"surface\.json: expected a JSON object"),
        ("summary.json", "{}", r"summary\.json: not a sinefit summary"),
    ],
)
def test_a_malformed_file_is_named(seed_run, tmp_path, name, text, message):
    copy = tmp_path / "run"
    shutil.copytree(seed_run, copy)
    (copy / name).write_text(text)
    with pytest.raises(InputError, match=message):
        rundata.load(copy)


def test_a_surface_with_a_missing_key_or_wrong_shape_is_named(seed_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(seed_run, copy)
    surface = json.loads((seed_run / "surface.json").read_text())
    (copy / "surface.json").write_text(json.dumps({k: v for k, v in surface.items() if k != "eigenvalues"}))
    with pytest.raises(InputError, match=r"surface\.json: missing key 'eigenvalues'"):
        rundata.load(copy)
    (copy / "surface.json").write_text(json.dumps({**surface, "optimum": [1.0, 2.0]}))
    with pytest.raises(InputError, match=r"surface\.json: optimum must be a list of 4 numbers"):
        rundata.load(copy)
    with pytest.raises(InputError, match="no such run directory"):
        rundata.load(tmp_path / "nowhere")


# -- the figures --------------------------------------------------------------------------------


def test_overlay(seed_run):
    run = rundata.load(seed_run)
    fig = figures.overlay(run)
    main_ax, res = fig.axes
    assert len(fig.axes) == 2 and main_ax.get_title() and res.get_xlabel() == "x"
    assert main_ax.get_ylabel() == "y" and res.get_ylabel() == "residual"
    lines = labelled(main_ax)
    assert len(main_ax.lines) == 3 and len(main_ax.collections) == 1  # initial, fit, optimum; the data scatter
    (initial,) = [k for k in lines if k.startswith("initial")]
    (fit,) = [k for k in lines if k.startswith("fitted")]
    (best,) = [k for k in lines if k.startswith("least-squares optimum")]
    assert "clipped" in initial  # the random cubic reaches ~43; the data stay within [-1, 1]
    grid = lines[fit].get_xdata()
    np.testing.assert_allclose(lines[fit].get_ydata(), run.fitted.predict(grid))
    np.testing.assert_allclose(lines[best].get_ydata(), run.optimum_polynomial.predict(grid))
    np.testing.assert_allclose(lines[initial].get_ydata(), run.initial.predict(grid))
    np.testing.assert_array_equal(main_ax.collections[0].get_offsets(), np.column_stack(figures.sorted_points(run)))
    lo, hi = main_ax.get_ylim()
    assert lo <= run.y.min() and hi >= run.y.max() and hi - lo < 3 * np.ptp(run.y)  # not squashed by the initial
    assert main_ax.get_legend() is not None and res.get_legend() is not None
    residuals = labelled(res)
    assert len(residuals) == 2
    xs, ys = figures.sorted_points(run)
    np.testing.assert_allclose(residuals["fit − data"].get_ydata(), run.fitted.predict(xs) - ys)
    np.testing.assert_allclose(residuals["optimum − data"].get_ydata(), run.optimum_polynomial.predict(xs) - ys)


def test_overlay_of_a_diverged_run_clips_the_fit(diverged_run):
    run = rundata.load(diverged_run)
    ax, res = figures.overlay(run).axes
    (fit,) = [k for k in labelled(ax) if "diverged at 12" in k]
    assert "clipped" in fit
    assert ax.get_ylim()[1] < 5 and any("clipped" in k for k in labelled(res))


def test_loss_curve(seed_run):
    run = rundata.load(seed_run)
    fig = figures.loss_curve(run)
    (ax,) = fig.axes
    assert "loss" in ax.get_title() and ax.get_xlabel().startswith("step") and "loss" in ax.get_ylabel()
    assert ax.get_yscale() == "log" and ax.get_xscale() == "symlog"  # 2000 steps: log beyond step 1
    assert len(ax.lines) == 2 and ax.get_legend() is not None
    loss, optimum = ax.lines
    np.testing.assert_array_equal(loss.get_xdata(), run.steps)
    np.testing.assert_array_equal(loss.get_ydata(), run.losses)
    assert optimum.get_linestyle() == "--" and optimum.get_ydata()[0] == run.optimum_loss
    notes = [t.get_text() for t in ax.texts]
    assert f"step 2000: {run.final_loss:.4g}" in notes


def test_loss_curve_marks_divergence(diverged_run):
    run = rundata.load(diverged_run)
    (ax,) = figures.loss_curve(run).axes
    assert ax.get_xscale() == "linear"
    lines = labelled(ax)
    assert len(ax.lines) == 3
    (marker,) = [line for label, line in lines.items() if label.startswith("diverged at step 12")]
    assert list(marker.get_xdata()) == [12, 12]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), run.losses[:12])  # the finite part
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("diverged at step 12") for t in texts)
    assert any("last finite loss, step 11" in t for t in texts)


def test_coefficient_trajectories(seed_run, legendre_run):
    for path, names in ((seed_run, ["a", "b", "c", "d"]), (legendre_run, [f"P{k}" for k in range(9, -1, -1)])):
        run = rundata.load(path)
        (ax,) = figures.coefficient_trajectories(run).axes
        assert ax.get_title() and ax.get_ylabel().startswith("coefficient") and ax.get_xlabel().startswith("step")
        p = len(names)
        assert len(ax.lines) == 2 * p
        solid = [line for line in ax.lines if line.get_linestyle() == "-"]
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert [line.get_label() for line in solid] == names and len(dashed) == p
        for j, (line, level) in enumerate(zip(solid, dashed)):
            np.testing.assert_array_equal(line.get_xdata(), run.trajectory_steps)
            np.testing.assert_array_equal(line.get_ydata(), run.thetas[:, j])
            assert list(level.get_ydata()) == [run.optimum[j]] * 2 and level.get_color() == line.get_color()
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend[:p] == names and legend[-1].startswith("optimum")
    assert ax.get_xscale() == "linear"  # 40 steps


def test_convergence_components_sum_to_the_gap(exact_run):
    run = rundata.load(exact_run)  # float64 gd on the stats engine: the gap's split is exact
    fig = figures.convergence(run)
    (ax,) = fig.axes
    assert fig.get_suptitle().startswith("convergence explained") and ax.get_yscale() == "log"
    assert explanation(ax).startswith("Direction 1 (λ = ") and "closest to 1" in explanation(ax)
    p = len(run.eigenvalues)
    measured = [line for line in ax.lines if line.get_linestyle() == "None"]
    predicted = [line for line in ax.lines if line.get_linestyle() == "--"]
    (total,) = [line for line in ax.lines if line.get_label().startswith("total gap")]
    assert len(measured) == len(predicted) == p and len(ax.lines) == 2 * p + 1
    stacked = np.array([line.get_ydata() for line in measured])
    gap = run.losses[run.trajectory_steps] - run.optimum_loss
    np.testing.assert_allclose(stacked.sum(axis=0), gap, rtol=1e-9, atol=1e-12 * run.losses[0])
    np.testing.assert_array_equal(total.get_ydata(), (run.losses - run.optimum_loss)[np.isfinite(run.losses)])
    # gd's closed form matches what was measured, step by step, direction by direction
    factors = (1 - run.lr * run.eigenvalues) ** 2
    for i, (dots, dashes) in enumerate(zip(measured, predicted)):
        assert dots.get_color() == dashes.get_color()
        assert f"λ{i + 1} = {run.eigenvalues[i]:.3g}" in dots.get_label() and f"{factors[i]:.3g}" in dots.get_label()
        steps = dashes.get_xdata()
        at = np.isin(steps, run.trajectory_steps[:40])
        expected = stacked[i][np.isin(run.trajectory_steps, steps[at])]
        np.testing.assert_allclose(dashes.get_ydata()[at], expected, rtol=1e-6, atol=1e-9 * stacked.max())


def test_convergence_in_float32_matches_the_history(seed_run):
    run = rundata.load(seed_run)
    (ax,) = figures.convergence(run).axes
    measured = [line for line in ax.lines if line.get_linestyle() == "None"]
    total = np.sum([line.get_ydata() for line in measured], axis=0)
    np.testing.assert_allclose(total + run.optimum_loss, run.losses[run.trajectory_steps], rtol=1e-5)
    title = explanation(ax)
    assert "Direction 3" in title and "holds 94% of the remaining gap" in title  # the flat direction with most error


def test_convergence_of_other_optimizers_and_losses(momentum_run, huber_run, diverged_run):
    fig = figures.convergence(rundata.load(momentum_run))
    (ax,) = fig.axes
    assert not [line for line in ax.lines if line.get_linestyle() == "--"]  # no closed form drawn
    assert any("measured only" in t.get_text() and "plain gd" in t.get_text() for t in fig.texts)
    fig = figures.convergence(rundata.load(huber_run))
    assert any("approximate" in t.get_text() for t in fig.texts)
    (ax,) = figures.convergence(rundata.load(diverged_run)).axes
    assert "blows up" in explanation(ax) and "(1 − lr λ)² = 739 is above 1" in explanation(ax)


def test_compare_losses(seed_run, momentum_run, diverged_run):
    loaded = [rundata.load(p) for p in (seed_run, momentum_run, diverged_run)]
    fig = figures.compare_losses(loaded, ["one", "two", "three"])
    (ax,) = fig.axes
    assert ax.get_title() == "loss of 3 runs" and ax.get_yscale() == "log" and ax.get_ylabel()
    curves = [line for line in ax.lines if line.get_linestyle() == "-"]
    optima = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(curves) == len(optima) == 3
    for run, curve, level in zip(loaded, curves, optima):
        finite = np.isfinite(run.losses)
        np.testing.assert_array_equal(curve.get_ydata(), run.losses[finite])
        assert level.get_ydata()[0] == run.optimum_loss and level.get_color() == curve.get_color()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("one: gd") and "diverged at step 12" in labels[2]
    with pytest.raises(ValueError):
        figures.compare_losses(loaded, ["one"])


def test_seed_figure_titles(tmp_path):
    cfg = FitConfig(steps=50).validated()
    result = api.fit(cfg)
    run = rundata.load(runs.save_run(result, tmp_path, "report", "hint"))
    initial, trained = figures.seed_initial(run), figures.seed_trained(run)
    assert initial.get_suptitle() == "random initial cubic (seed 0)"
    assert trained.get_suptitle() == f"trained cubic: gd, lr 1e-06, 50 steps, loss {result.final_loss:.4g}"
    for fig in (initial, trained):
        assert [a.get_title() for a in fig.axes] == ["y true", "y pred"]


# -- plot RUN -----------------------------------------------------------------------------------


def test_plot_run_redraws_from_the_files_alone(seed_run, tmp_path, monkeypatch):
    copy = tmp_path / "run"
    copy.mkdir()
    for name in DRAWN_FROM:
        shutil.copy(seed_run / name, copy / name)  # no PNGs, no report, no status
    monkeypatch.setattr(api, "fit", lambda *a, **k: pytest.fail("plot refitted"))
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    paths = figures.plot_run(copy, tmp_path / "out")
    assert [p.name for p in paths] == [f"{s}.png" for s in figures.FIGURE_STEMS]
    for p in paths:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] >= 600
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before  # the run itself untouched
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary debris
    svg = figures.plot_run(copy, tmp_path / "svg", fmt="svg", only=["loss"])
    assert [p.name for p in svg] == ["loss.svg"] and svg[0].read_text().lstrip().startswith("<?xml")
    assert figures.plot_run(copy, tmp_path / "pdf", fmt="pdf", only=["overlay"])[0].read_bytes()[:4] == b"%PDF"
    assert [p.parent for p in figures.plot_run(copy, only=["convergence"])] == [copy]  # default: into the run
    with pytest.raises(InputError, match="jpeg"):
        figures.plot_run(copy, tmp_path / "x", fmt="jpeg")
    with pytest.raises(InputError, match="unknown figure"):
        figures.plot_run(copy, tmp_path / "x", only=["nope"])


@pytest.mark.parametrize("fixture", ["diverged_run", "legendre_run", "huber_run", "momentum_run"])
def test_plot_run_draws_every_kind_of_run(request, fixture, tmp_path):
    paths = figures.plot_run(request.getfixturevalue(fixture), tmp_path)
    assert len(paths) == 6 and all(p.stat().st_size > 1000 for p in paths)


def test_plot_run_of_unsorted_data_and_a_single_step(root, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 5, 200)
    data = tmp_path / "points.csv"
    data.write_text("x,y\n" + "".join(f"{float(a)!r},{float(np.exp(-a))!r}\n" for a in x))
    run_dir = make_run(root, "--data", str(data), "--steps", "50")
    run = rundata.load(run_dir)
    seed = figures.seed_trained(run)
    assert np.all(np.diff(seed.axes[0].lines[0].get_xdata()) >= 0)  # lines drawn in x order
    assert "points.csv" in figures.overlay(run).axes[0].get_title()
    assert len(figures.plot_run(make_run(root, "--steps", "0"), tmp_path / "zero")) == 6
    assert len(figures.plot_run(make_run(root, "--optimizer", "exact"), tmp_path / "exact")) == 6


def test_figures_never_touch_pyplot(seed_run, tmp_path):
    code = (
        "import sys\n"
        "from sinefit.io import animation, figures, rundata\n"
        f"figures.plot_run({str(seed_run)!r}, {str(tmp_path)!r})\n"
        f"animation.write_animation(rundata.load({str(seed_run)!r}), {str(tmp_path / 'a.gif')!r}, frames=5)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


# -- pure helpers -------------------------------------------------------------------------------


def test_view_limits_clip_wild_curves():
    data = np.array([-1.0, 1.0])
    lo, hi = figures.view_limits([data], [np.array([-1.2, 1.5])])  # a tame fit widens the view
    assert lo < -1.2 and hi > 1.5
    lo, hi = figures.view_limits([data], [np.array([-40.0, 43.0])])  # a wild one does not
    assert -1.5 < lo < -1 and 1 < hi < 1.5
    assert figures.off_scale(np.array([0.0, 43.0]), (lo, hi)) and not figures.off_scale(data, (lo, hi))


def test_step_scale():
    assert figures.step_scale(1000) == "linear" and figures.step_scale(1001) == "symlog"


# -- the animation ------------------------------------------------------------------------------


def test_frames_cover_the_early_and_the_late_steps(seed_run):
    run = rundata.load(seed_run)
    chosen = animation.animation_frames(run)
    steps = run.trajectory_steps[chosen]
    assert len(chosen) == 150 and chosen[0] == 0 and chosen[-1] == len(run.trajectory_steps) - 1
    assert np.all(np.diff(chosen) > 0)
    assert np.sum(steps <= 20) >= 15  # the fast start, frame by frame
    assert np.sum(steps >= 1000) >= 50  # and the slow drift
    assert len(animation.animation_frames(run, 30)) == 30
    with pytest.raises(InputError, match="frames"):
        animation.animation_frames(run, 151)


def test_gif_frame_count_size_and_hold(seed_run, tmp_path):
    run = rundata.load(seed_run)
    path = animation.write_animation(run, tmp_path / "fit.gif")
    assert path == tmp_path / "fit.gif" and path.stat().st_size < 5_000_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with Image.open(path) as im:
        assert im.format == "GIF" and im.size == (576, 400)
        assert im.n_frames == len(animation.animation_frames(run)) == 150
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations[:-1] == [animation.FRAME_MS] * 149
    assert durations[-1] == animation.FRAME_MS + animation.HOLD_SECONDS * 1000
    assert 8 <= sum(durations) / 1000 <= 15


def test_gif_of_short_and_diverged_runs(diverged_run, legendre_run, tmp_path):
    run = rundata.load(diverged_run)
    with Image.open(animation.write_animation(run, tmp_path / "d.gif")) as im:
        assert im.n_frames == len(animation.animation_frames(run)) == 12  # steps 0-11: every finite row
    run = rundata.load(legendre_run)
    with Image.open(animation.write_animation(run, tmp_path / "l.gif", frames=20)) as im:
        assert im.n_frames == 20


def test_animation_frame_content(seed_run):
    run = rundata.load(seed_run)
    animator = animation._Animator(run)
    animator.start_blitting()
    image = animator.frame(0)
    assert image.size == (576, 400)
    assert "curve off the scale" in animator.info.get_text() and "step 0 of 2000" in animator.info.get_text()
    np.testing.assert_allclose(animator.curve.get_ydata(), run.initial.predict(animator.grid))
    animator.frame(len(run.trajectory_steps) - 1, final=True)
    assert "step 2000 of 2000" in animator.info.get_text() and "off the scale" not in animator.info.get_text()
    np.testing.assert_allclose(animator.curve.get_ydata(), run.evaluate(run.thetas[-1], animator.grid))
    assert isinstance(animator.fig, Figure)


def test_mp4_without_ffmpeg_says_so(seed_run, tmp_path, monkeypatch):
    run = rundata.load(seed_run)
    monkeypatch.setattr(animation.writers, "is_available", lambda name: False)
    with pytest.raises(SinefitError, match="ffmpeg.*GIF"):
        animation.write_animation(run, tmp_path / "fit.mp4", fmt="mp4")
    with pytest.raises(InputError, match="webm"):
        animation.write_animation(run, tmp_path / "fit.webm", fmt="webm")
    assert not list(tmp_path.iterdir())


def test_an_optimum_of_rounding_size_does_not_stretch_the_loss_axis(root):
    run = rundata.load(make_run(root, "--target", "x**2", "--dtype", "float64", "--steps", "20"))
    assert run.optimum_loss < 1e-20  # a cubic fits x^2 exactly
    (ax,) = figures.loss_curve(run).axes
    assert "far below the view" in ax.lines[1].get_label()
    assert ax.get_ylim()[0] > run.losses.min() / 100


@pytest.mark.parametrize("args", [("--degree", "10", "--dtype", "float64"), ("--degree", "80", "--basis", "legendre")])
def test_an_exact_solve_is_explained_as_one_step_before_and_after_each_direction(root, args):
    """No curve over steps for the exact optimizer: each direction's starting gap (the bars, against
    the gap split computed here from theta_0, the Hessian's eigenvectors and the optimum), and after
    the solve, every component at the rounding floor that is drawn and named."""
    run = rundata.load(make_run(root, "--optimizer", "exact", *args))
    fig = figures.convergence(run)
    (ax,) = fig.axes
    e0 = run.eigenvectors.T @ (run.thetas[0] - run.optimum)
    expected = 0.5 * run.eigenvalues * e0**2
    if len(expected) <= 60:  # one bar per direction
        np.testing.assert_allclose([p.get_height() for p in ax.patches], expected, rtol=1e-9)
    else:  # a filled step line through the same heights
        heights = ax.collections[0].get_paths()[0].vertices[:, 1]
        np.testing.assert_allclose(np.unique(heights[heights > 0]), np.unique(expected[expected > 0]), rtol=1e-9)
    title = ax.get_title(loc="left").replace("\n", " ")
    assert title.startswith("Exact solve") and "removed in one step" in title
    floor = float(figures.rounding_floor(run, np.stack([run.thetas[0], run.optimum])).max())
    assert np.all(run.gap_components()[-1] <= floor)  # what the title promises
    assert f"{floor:.2g}" in title and any(line.get_ydata()[0] == floor for line in ax.lines)
    low, high = ax.get_ylim()
    assert low < floor < high and high > expected.max()  # the floor and every bar in view


def test_few_points_are_drawn_over_the_curves_and_a_curve_off_the_plot_says_so(tmp_path):
    """61 yearly values: a newcomer could hardly see the 4-pt grey dots under the fit, and the legend
    listed the random start as 'clipped, reaches 1.27e+10' though none of it was on the axes.
    Oracle: the data's own count and the view limits the figure set."""
    import sinefit
    from sinefit.io import runs as runfiles

    x = np.arange(1960, 2021, dtype=float)
    r = sinefit.fit(x=x, y=300 + 2 * (x - 1990) + 0.01 * (x - 1990) ** 3, degree=3, optimizer="exact")
    run = rundata.load(runfiles.save_run(r, tmp_path, "report", "hint"))
    fig = figures.overlay(run)
    ax = fig.axes[0]
    (dots,) = ax.collections
    assert dots.get_sizes()[0] >= 16 and dots.get_zorder() > max(line.get_zorder() for line in ax.lines)
    lo, hi = ax.get_ylim()
    (initial,) = [k for k in labelled(ax) if k.startswith("initial")]
    start = run.initial.predict(labelled(ax)[initial].get_xdata())
    assert not np.any((start >= lo) & (start <= hi)) and "off the plot (it reaches" in initial
    many = figures.overlay(rundata.load(runfiles.save_run(sinefit.fit(steps=10), tmp_path, "r", "h")))
    (cloud,) = many.axes[0].collections
    assert cloud.get_sizes()[0] < 16 and cloud.get_zorder() < 2  # 1000 points stay beneath the curves
