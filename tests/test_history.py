"""Decimated loss histories (issue #10, item 10): a long run keeps every step up to history.FULL,
then geometrically spaced steps, always the logged steps and the last, so 10^9 steps cost megabytes.

Oracles: the full history of the same run (the closed form, the training loop without ``kept``),
and a child process's VmHWM for the memory of 10^9 steps."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sinefit import analysis, api, basis, engine, history, optim, train
from sinefit.config import FitConfig
from sinefit.io import rundata, runs

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _quadratic(n: int = 500, degree: int = 3):
    x = torch.linspace(-math.pi, math.pi, n, dtype=torch.float64)
    X = basis.columns("power", x, degree, (-math.pi, math.pi)).numpy()
    return analysis.solve(X.T, np.sin(x.numpy()), "sse")


def test_kept_steps_short_runs_keep_every_step():
    assert np.array_equal(history.kept_steps(2000, 100), np.arange(2001))
    assert np.array_equal(history.kept_steps(history.FULL - 1, 7), np.arange(history.FULL))


def test_kept_steps_of_a_long_run_are_few_and_hold_the_logged_recorded_and_last_steps():
    total, every = 10**9, 10**7
    kept = history.kept_steps(total, every, record={123_456_789, 5})
    assert kept.size < history.FULL + history.GEOMETRIC + 200
    assert np.all(np.diff(kept) > 0) and kept[0] == 0 and kept[-1] == total
    assert np.array_equal(kept[: history.FULL], np.arange(history.FULL))
    assert set(range(every - 1, total + 1, every)) <= set(kept.tolist())
    assert 123_456_789 in set(kept.tolist())
    gaps = np.diff(kept[history.FULL :]).astype(float)  # geometric: the gaps grow, never thousands of times
    assert gaps.max() < total / 100


@pytest.mark.parametrize("lr_factor", [0.5, 1.02])  # converging, and diverging mid-run
def test_decimated_closed_form_equals_the_full_history_at_the_kept_steps(lr_factor):
    q = _quadratic()
    lr = lr_factor * q.stable_lr
    theta0 = np.array([[1.5, -0.3, -2.2, 0.6]])
    steps = 30_000
    kept = history.kept_steps(steps, 1000, full=500, geometric=300)
    full = engine.gd_closed_form(q, theta0, np.array([lr]), steps, True)
    part = engine.gd_closed_form(q, theta0, np.array([lr]), steps, True, kept=kept)
    assert part.steps is not None and len(part.steps) == len(part.losses) < len(full.losses) / 10
    np.testing.assert_array_equal(part.losses, full.losses[part.steps])
    assert part.final_loss[0] == full.final_loss[0]
    d = int(full.diverged_at[0])
    if lr_factor > 1:
        assert d > 0 and {d - 1, d} <= set(part.steps.tolist()) and part.steps[-1] == d
    else:
        assert d == -1 and part.steps[-1] == steps


@pytest.mark.parametrize("lr_factor", [0.5, 1.3])
def test_decimated_training_loop_equals_the_full_loop_at_the_kept_steps(lr_factor):
    q = _quadratic()
    objective = engine.StatsObjective.of(q)
    theta0 = torch.tensor([[1.5, -0.3, -2.2, 0.6], [0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    lr = torch.tensor([lr_factor * q.stable_lr, 0.3 * q.stable_lr], dtype=torch.float64)
    steps = 3000
    kept = history.kept_steps(steps, 250, full=100, geometric=50)
    full = train.train(theta0, objective, optim.GradientDescent(lr[:, None]), steps)
    part = train.train(theta0, objective, optim.GradientDescent(lr[:, None]), steps, kept=kept)
    assert part.steps is not None and len(part.steps) == part.losses.shape[0] < full.losses.shape[0] / 5
    torch.testing.assert_close(part.losses, full.losses[part.steps], rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(part.final_loss, full.final_loss, rtol=0, atol=0)
    torch.testing.assert_close(part.theta, full.theta, rtol=0, atol=0)
    d = int(full.diverged_at[0])
    if lr_factor > 1:
        assert d > 0 and {d - 1, d} <= set(part.steps.tolist())


def test_a_decimated_fit_keeps_the_seed_printed_pairs_and_the_report_rows():
    cfg = FitConfig(steps=60_000, engine="stats", log_every=5000, tol=0)
    r = api.fit(cfg)
    assert r.history_steps is not None and len(r.losses) < 20_000 and r.last_step == 60_000
    full = api._run(api._prepare(cfg.validated(), None, None), None)[1]  # the whole history: the oracle
    np.testing.assert_array_equal(r.losses, full[r.steps])
    assert r.logged == [(t, float(full[t])) for t in range(4999, 60_001, 5000)]
    assert r.final_loss == float(full[-1])


def test_a_short_fit_is_not_decimated():
    r = api.fit(FitConfig(steps=2000))
    assert r.history_steps is None and np.array_equal(r.steps, np.arange(2001))


def test_a_decimated_run_directory_reads_back_and_draws(tmp_path):
    cfg = FitConfig(steps=40_000, engine="stats", log_every=10_000, tol=0)
    r = api.fit(cfg)
    env = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "sinefit", "fit", "--steps", "40000", "--engine", "stats", "--tol", "0",
                           "--log-every", "10000", "--out", str(tmp_path / "cli")],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (out,) = [p for p in (tmp_path / "cli").iterdir() if p.is_dir()]
    run = rundata.load(out)
    assert run.last_step == 40_000 and len(run.steps) < 20_000
    np.testing.assert_array_equal(run.losses, r.losses)
    back = runs.load_result(out)
    assert back.last_step == 40_000 and back.logged == r.logged
    for args in (["plot", str(out), "--force"], ["animate", str(out), "--frames", "8", "--force"], ["report", str(out)],
                 ["runs", "list", "--out", str(tmp_path / "cli")]):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "sinefit", *args], env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, (args, done.stderr)
    assert "40000" in done.stdout


def test_a_billion_steps_of_the_seed_cost_megabytes(tmp_path):
    """--steps 10^9 (the documented maximum), closed form: no 8 GB history, a small history.csv."""
    child = (
        "import sys, resource\n"
        "from sinefit import cli\n"
        "try:\n"
        "    cli.main(['fit', '--steps', '1000000000', '--engine', 'stats', '--tol', '0', '--log-every',"
        " '100000000', '--out', sys.argv[1]])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", child, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    peak_kb = int(done.stdout.strip().splitlines()[-1])
    assert peak_kb < 500 * 1024, peak_kb
    (out,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    size = (out / "history.csv").stat().st_size
    assert size < 2_000_000, size
    run = rundata.load(out)
    assert run.last_step == 10**9 and run.status == "completed"


def test_a_run_file_that_is_a_device_is_named_as_such(tmp_path):
    """io/rundata said 'config.toml: missing' when it was a device (issue #10 leftover)."""
    done = subprocess.run([sys.executable, "-m", "sinefit", "fit", "--steps", "10", "--out", str(tmp_path)],
                          env={**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg"}, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (out,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (out / "config.toml").unlink()
    os.symlink("/dev/null", out / "config.toml")
    with pytest.raises(rundata.RunDataError, match=r"config\.toml: a character device, not a regular file"):
        rundata.load(out)
    (out / "config.toml").unlink()
    with pytest.raises(rundata.RunDataError, match=r"config\.toml: missing"):
        rundata.load(out)


def test_exact_on_a_huge_domain_is_the_least_squares_solution():
    """`--optimizer exact --domain -1e10,1e10` ends "completed": right, since the design is finite
    (x^6 ~ 1e60) and the loss is numpy's scaled least squares on the same points (issue #10 leftover)."""
    r = api.fit(FitConfig(optimizer="exact", domain=(-1e10, 1e10)))
    x, y = r.dataset.x.double().numpy(), r.dataset.y.double().numpy()
    best = np.polynomial.Polynomial.fit(x, y, 3)
    assert r.status == "completed"
    assert r.final_loss == pytest.approx(float(np.sum((best(x) - y) ** 2)), rel=1e-9)


def test_a_refused_fit_prints_no_header(tmp_path):
    """The report header ("step loss") is printed once the data is read and sound, not before a refusal."""
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n1,nan\n")
    done = subprocess.run([sys.executable, "-m", "sinefit", "fit", "--data", str(bad), "--out", str(tmp_path)],
                          env={**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg"}, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert done.stderr.count("\n") == 1 and "not finite" in done.stderr
