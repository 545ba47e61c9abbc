"""The sweep command: grids, its files, its figure and its errors."""

import csv
import json

import numpy as np
import pytest

from sinefit.cli import main
from sinefit.config import ConfigError
from sinefit.io import sweeps
from sinefit.sweep import parse_axis, sweep


@pytest.mark.parametrize(
    "option, text, expected",
    [
        ("--lr", "1e-7:1e-5:3", [1e-7, 1e-6, 1e-5]),
        ("--lr", "1e-6,2e-6", [1e-6, 2e-6]),
        ("--lr", "auto", ["auto"]),
        ("--seed", "0:3", [0, 1, 2, 3]),
        ("--seed", "5,7", [5, 7]),
        ("--degree", "3:5", [3, 4, 5]),
        ("--momentum", "0.5:0.9:3", [0.5, 0.7, 0.9]),
        ("--optimizer", "gd, momentum", ["gd", "momentum"]),
    ],
)
def test_parse_axis(option, text, expected):
    got = parse_axis(option, text)
    assert got == pytest.approx(expected) if not isinstance(expected[0], str) else got == expected


@pytest.mark.parametrize(
    "option, text", [("--lr", "1e-7:1e-5"), ("--lr", "0:1e-5:3"), ("--seed", "3:1"), ("--seed", "a:b"),
                     ("--degree", "x"), ("--lr", "1e-7:1e-5:0"), ("--optimizer", ",")]  # fmt: skip
)
def test_parse_axis_refuses(option, text):
    with pytest.raises(ConfigError) as e:
        parse_axis(option, text)
    assert e.value.option == option


def test_sweep_cli_writes_csv_figure_and_summary(tmp_path, capsys):
    code = main(["sweep", "--lr", "1e-7:1e-4:12", "--seed", "0:4", "--steps", "500", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    (run,) = tmp_path.iterdir()
    assert run.name == "sweep-0001"
    assert {p.name for p in run.iterdir()} == {"config.toml", "sweep.csv", "sweep.png", "best.png", "summary.json", "status.json"}
    with open(run / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 60
    assert {"lr", "seed", "final_loss", "gap", "diverged", "diverged_at"} <= set(rows[0])
    diverged = [r for r in rows if r["diverged"] == "True"]
    assert diverged and all(int(r["diverged_at"]) > 0 for r in diverged)
    assert all(float(r["lr"]) > float(r["stable_lr"]) for r in diverged)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["configurations"] == 60 and summary["diverged"] == len(diverged)
    best = min((r for r in rows if r["diverged"] == "False"), key=lambda r: float(r["final_loss"]))
    assert summary["best"][0]["final_loss"] == float(best["final_loss"])
    assert "60 configurations" in out and f"{float(best['final_loss']):.8g}" in out


def test_heatmap_axes_and_marks():
    result = sweep(lr=list(np.geomspace(1e-7, 1e-4, 8)), seed=[0, 1, 2], dtype="float64", steps=300)
    fig = sweeps.heatmap(result)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "lr" and ax.get_ylabel() == "seed" and ax.get_xscale() == "log"
    assert "configurations" in ax.get_title()
    assert any(line.get_linestyle() == "--" for line in ax.get_lines())  # the stable-lr bound
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert any("stable lr" in t for t in labels) and any("diverged" in t for t in labels)
    assert fig.axes[1].get_ylabel().startswith("log10(final loss / optimum)")  # the colour bar


def test_one_axis_sweep_draws_a_line_chart():
    result = sweep(degree=[1, 3, 5], optimizer="exact", dtype="float64")
    ax = sweeps.heatmap(result).axes[0]
    assert ax.get_xlabel() == "degree" and ax.get_yscale() == "log"
    final, optimum = ax.get_lines()[:2]
    np.testing.assert_allclose(final.get_ydata(), [r["final_loss"] for r in result.rows])


@pytest.mark.parametrize("args, option", [(["--lr", "1:2"], "--lr"), (["--optimizer", "sgd"], "--optimizer"),
                                          (["--degree", "-1:2"], "--degree"), (["--seed", "x"], "--seed"),
                                          (["--batch-size", "x"], "--batch-size")])  # fmt: skip
def test_sweep_bad_input(tmp_path, capsys, args, option):
    code = main(["sweep", "--out", str(tmp_path / "runs"), *args])
    out, err = capsys.readouterr()
    assert code == 2 and option in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_best_curves_are_the_best_rows_refitted():
    result = sweep(lr=list(np.geomspace(1e-7, 1e-5, 6)), seed=[0, 1], dtype="float64", steps=300)
    ax = sweeps.best_curves(result, result.best_curves(3)).axes[0]
    curves = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(curves) == 3 and ax.get_xscale() == "log" and ax.get_yscale() == "log"
    for line, row in zip(curves, result.best(3)):
        assert line.get_ydata()[-1] == pytest.approx(row["final_loss"], rel=1e-12)


def test_batched_rows_are_a_table_that_reads_like_a_list():
    result = sweep(optimizer=["gd", "momentum", "exact"], lr=[1e-7, 3e-6, 1e-4], seed=[0, 2], steps=200, dtype="float64")
    rows = result.rows
    listed = list(rows)
    assert len(rows) == len(listed) == 18
    assert rows[0] == listed[0] and rows[-1] == listed[-1] and rows[2:5] == listed[2:5]
    assert [r["optimizer"] for r in listed[:3]] == ["gd", "momentum", "exact"]  # grid order: lr, seed, optimizer
    assert listed[3]["seed"] == 2 and listed[6]["lr"] == 3e-6 and listed[6]["seed"] == 0
    assert all(r["lr_used"] is None for r in listed if r["optimizer"] == "exact")
    assert all((r["diverged_at"] is None) != r["diverged"] for r in listed)
    assert list(result.column("seed")) == [r["seed"] for r in listed]
    assert list(result.column("diverged")) == [r["diverged"] for r in listed]
    expected = sorted(listed, key=lambda r: (r["diverged"], r["final_loss"]))[:7]
    assert result.best(7) == expected
    with pytest.raises(IndexError):
        rows[18]


@pytest.mark.parametrize("init, order", [("numpy", None), ("0.5,-1,0,2", "ascending"), ("0.5,-1,0,2", None)])
def test_sweep_cli_starts_where_init_and_order_say(tmp_path, capsys, init, order):
    from sinefit import fit

    args = ["sweep", "--seed", "0,5", "--lr", "1e-7,1e-6", "--steps", "200", "--init", init, "--out", str(tmp_path), "--quiet"]
    code = main(args + (["--order", order] if order else []))
    assert code == 0, capsys.readouterr().err
    (run,) = tmp_path.iterdir()
    with open(run / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:  # each row is the single fit from that start (the oracle: fit() alone)
        alone = fit(seed=int(row["seed"]), lr=float(row["lr"]), init=init, order=order or "descending", steps=200,
                    dtype="float64")  # fmt: skip
        assert float(row["final_loss"]) == pytest.approx(alone.final_loss, rel=1e-9)
    if init == "numpy":  # the start follows the seed
        assert rows[0]["final_loss"] != rows[2]["final_loss"]
    import tomllib

    saved = tomllib.loads((run / "config.toml").read_text())
    assert saved["order"] == (order or "descending")
    assert saved["init"] == init if init == "numpy" else [float(v) for v in saved["init"].split(",")] == [0.5, -1, 0, 2]


def test_writing_a_sweep_draws_what_it_is_given_and_never_fits(tmp_path, monkeypatch):
    import sinefit.api

    result = sweep(lr=[1e-7, 1e-6], dtype="float64", steps=50)
    curves = result.best_curves(2)
    assert [c.settings["lr"] for c in curves] == [r["lr"] for r in result.best(2)]
    assert all(c.losses[-1] == pytest.approx(r["final_loss"], rel=1e-12) for c, r in zip(curves, result.best(2)))

    def no_fit(*a, **k):
        raise AssertionError("the I/O layer fitted")

    monkeypatch.setattr(sinefit.api, "fit", no_fit)
    run_dir = sweeps.save_sweep(result, tmp_path / "runs", 5, curves)
    assert (run_dir / "best.png").stat().st_size > 0 and (run_dir / "sweep.csv").exists()


def test_an_exact_sweep_maps_the_optimum_loss_and_outlines_the_bic_best(capsys, tmp_path):
    """Oracle: numpy.polynomial's least squares per degree. Every exact solve is at the optimum, so
    the gap heatmap was one flat rectangle (colour bar 0..1e-12); the loss itself is what differs."""
    from numpy.polynomial import Polynomial

    result = sweep(degree=list(range(1, 9)), basis=["power", "legendre"], optimizer="exact", dtype="float64")
    ax = sweeps.heatmap(result).axes[0]
    grid = np.asarray(ax.collections[0].get_array()).reshape(2, 8)
    x = np.linspace(-np.pi, np.pi, 1000)
    want = [np.log10(np.sum((Polynomial.fit(x, np.sin(x), d)(x) - np.sin(x)) ** 2)) for d in range(1, 9)]
    np.testing.assert_allclose(grid[0], want, atol=1e-6)  # both bases: the same optimum
    np.testing.assert_allclose(grid[1], want, atol=1e-6)
    assert grid.max() - grid.min() > 5 and "exact solves" in ax.get_title()
    (outline,) = [p for p in ax.patches if p.get_label() == "lowest BIC"]
    bic = np.array([r["bic"] for r in result.rows])
    assert outline.get_x() < result.rows[int(np.argmin(bic))]["degree"] < outline.get_x() + outline.get_width()
    assert main(["sweep", "--degree", "1:15", "--optimizer", "exact", "--out", str(tmp_path)]) == 0
    assert "the highest degree swept: higher ones may do better still" in capsys.readouterr().out


def test_a_stable_bound_past_the_swept_lrs_is_said_at_the_edge_not_drawn_as_empty_space():
    """The axis used to run on to the momentum bound, an empty white column that looked like missing data."""
    result = sweep(lr=list(np.geomspace(1e-7, 2e-6, 6)), optimizer=["gd", "momentum"], dtype="float64")
    ax = sweeps.heatmap(result).axes[0]
    lo, hi = ax.get_xlim()
    assert hi <= 2e-6 * 1.5 and lo >= 1e-7 / 1.5
    said = sorted(t.get_text() for t in ax.texts)
    assert len(said) == 2 and all(t.startswith("stable bound ") and t.endswith("→") for t in said), said
    bounds = sorted(float(t.split()[2]) for t in said)
    np.testing.assert_allclose(bounds, sorted({r["stable_lr"] for r in result.rows}), rtol=2e-3)


def test_a_sweep_result_reads_as_a_summary_line():
    """Its repr was the dataclass's: the whole FitConfig and '<sinefit.sweeptable.Table object at 0x...>'.
    Oracle: the result's own rows."""
    result = sweep(lr=list(np.geomspace(1e-7, 1e-5, 5)), seed=range(3), dtype="float64")
    text = repr(result)
    diverged = sum(bool(r["diverged"]) for r in result.rows)
    best = min((r for r in result.rows if not r["diverged"]), key=lambda r: r["final_loss"])
    assert text.startswith("SweepResult(15 configurations over lr (5) x seed (3), ") and "object at" not in text
    assert f"{diverged} diverged" in text and f"best final loss {best['final_loss']:.6g}" in text and len(text) < 200
