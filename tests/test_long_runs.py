"""`sinefit fit --steps 1000000000` on every path (issue #10, item 10's end): the history, the log and
batches.csv stay decimated, so a billion steps cost megabytes, whatever the optimizer, engine, loss,
batch size or --model.

Oracles: the full history of the same run (the loops without ``kept``), the seed loop
(tests/seed_reference.py) for the default run, and each child's own peak RSS (its VmHWM, read by
itself as it exits) under an address-space limit (resource.setrlimit) that an 8 GB history could never
fit in."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from seed_reference import seed_loop

from sinefit import analysis, api, basis, engine, history, train
from sinefit.config import FitConfig
from sinefit.io import rundata, runs

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
ENV.pop("SINEFIT_MEMORY", None)
LIMIT = 2 << 30  # each child's address space: torch's import takes ~0.7 GB of it, a full history 8 GB
ROW = re.compile(r"^\s*\d+\s+\S+\s*$")  # a logged row of the loss table: step, loss


def _quadratic(n: int = 300, degree: int = 3):
    x = torch.linspace(-math.pi, math.pi, n, dtype=torch.float64)
    X = basis.columns("power", x, degree, (-math.pi, math.pi)).numpy()
    return analysis.solve(X.T, np.sin(x.numpy()), "sse")


def test_the_default_log_is_the_seeds_for_short_runs_and_round_and_short_for_long_ones():
    assert history.default_log_every(2000) == 100  # the seed's
    assert history.default_log_every(1_000_000) == 100  # 10^4 lines: still every 100th
    table = {2_000_000: 200, 4_000_000: 500, 10**7: 1000, 3 * 10**7: 5000, 10**9: 100_000}
    assert {s: history.default_log_every(s) for s in table} == table
    for steps in (10**6 + 1, 123_456_789, 10**9):
        every = history.default_log_every(steps)
        assert history.logged_rows(steps, every) <= history.LOG_LINES
        assert str(every).rstrip("0") in ("1", "2", "5")
        assert FitConfig(steps=steps).validated().log_every == every
    assert FitConfig(steps=10**9, log_every=100).validated().log_every == 100  # given: obeyed


def _fit(args, timeout=300):
    return subprocess.run([sys.executable, "-m", "sinefit", "fit", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_the_seed_run_prints_the_seeds_rows_and_no_note(tmp_path):
    done = _fit(["--out", str(tmp_path)])
    assert done.returncode == 0, done.stderr
    printed, _ = seed_loop(0)
    rows = [int(line.split()[0]) for line in done.stdout.splitlines() if ROW.match(line)]
    assert rows == [t for t, _ in printed] and "note" not in done.stderr
    (out,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    run = rundata.load(out)
    assert run.config["log_every"] == 100 and len(run.losses) == 2001


def test_a_long_run_logs_at_most_ten_thousand_rows_by_default_and_says_so_once(tmp_path):
    done = _fit(["--dtype", "float64", "--steps", "2000000", "--tol", "0", "--out", str(tmp_path / "a")])
    assert done.returncode == 0, done.stderr
    rows = [int(line.split()[0]) for line in done.stdout.splitlines() if ROW.match(line)]
    assert rows == list(range(199, 2_000_000, 200))
    notes = [line for line in done.stderr.splitlines() if "logging every 200 steps" in line]
    assert len(notes) == 1 and done.stderr.count("\n") == 1
    explicit = _fit(["--dtype", "float64", "--steps", "2000000", "--tol", "0", "--log-every", "100", "--out",
                     str(tmp_path / "b")])  # fmt: skip
    assert explicit.returncode == 0, explicit.stderr
    rows = [int(line.split()[0]) for line in explicit.stdout.splitlines() if ROW.match(line)]
    assert rows == list(range(99, 2_000_000, 100)) and "note" not in explicit.stderr  # obeyed


def test_an_explicit_log_that_would_not_fit_the_budget_is_refused_with_what_fits(tmp_path):
    done = _fit(["--steps", "1000000000", "--log-every", "10", "--out", str(tmp_path)], timeout=120)
    assert done.returncode == 2 and done.stdout == "", done.stdout[-500:]
    assert done.stderr.count("\n") == 1, done.stderr
    assert "--log-every 10 at --steps 1000000000" in done.stderr and "memory budget" in done.stderr
    every = int(re.search(r"--log-every (\d+) or more fits", done.stderr)[1])
    assert history.logged_rows(10**9, every) * history.ROW_BYTES <= int(0.5 * os.sysconf("SC_PAGE_SIZE")
                                                                        * os.sysconf("SC_PHYS_PAGES"))
    assert not any(tmp_path.iterdir())  # refused before the run directory exists


@pytest.mark.parametrize("diverge", [False, True])
def test_decimated_lbfgs_equals_the_full_history_at_its_steps(diverge):
    q = _quadratic()
    objective = engine.StatsObjective.of(q)
    theta0 = torch.tensor([[1.5, -0.3, -2.2, 0.6], [0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    lr, steps = (1e6 if diverge else 0.5), 1500
    kept = history.kept_steps(steps, 250, full=100, geometric=50)
    full = train.train_lbfgs(theta0, objective, lr, steps)
    part = train.train_lbfgs(theta0, objective, lr, steps, kept=kept)
    assert full.steps is None and part.steps is not None and len(part.steps) < len(full.losses) / 5
    for b in range(2):
        d = int(full.diverged_at[b])
        at, own = history.row_of(part.steps, part.losses[:, b].numpy(), d)
        np.testing.assert_array_equal(own, full.losses[at, b].numpy())
        assert d < 0 or (at[-1] == d and (d == 0 or d - 1 in at))
    torch.testing.assert_close(part.theta, full.theta, rtol=0, atol=0)
    torch.testing.assert_close(part.final_loss, full.final_loss, rtol=0, atol=0, equal_nan=True)


def test_a_decimated_minibatch_fit_keeps_the_full_runs_numbers_at_its_steps(tmp_path):
    cfg = FitConfig(steps=30_000, batch_size=100, tol=0, lr=2e-6).validated()
    r = api.fit(cfg)
    assert r.history_steps is not None and len(r.losses) < 15_000 and r.last_step == 30_000
    p = api._prepare(cfg, None, None)
    whole = api._objective(p)
    full = api._run(p, None, objective=whole)[1]  # every step, and every batch loss: the oracle
    np.testing.assert_array_equal(r.losses, full[r.steps])
    mb = r.minibatch
    assert mb.updates == 30_000 and mb.epochs == 3000 and mb.steps[-1] == 29_999
    np.testing.assert_array_equal(mb.batch_losses, np.array(whole.batch_losses)[mb.steps])
    run_dir = runs.save_run(r, tmp_path, "report", "hint")
    back = runs.load_result(run_dir)
    assert back.minibatch.updates == 30_000 and np.array_equal(back.minibatch.steps, mb.steps)
    from sinefit import report

    assert report.minibatch_lines(back) == report.minibatch_lines(r)
    assert (run_dir / "batches.csv").read_text().count("\n") == len(mb.steps) + 1


# The child runs `python -m sinefit` and, as it exits, writes its VmHWM: the kernel's peak RSS of
# its own address space, fresh at exec. Not os.wait4's ru_maxrss: on Linux that carries the RSS of
# the process that forked it (exec keeps the old address space's high-water mark), so late in the
# suite a pytest worker of 600 MB made every child look 600 MB.
CHILD = r"""
import atexit, resource, runpy, sys

limit, peak_file = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _peak() -> None:
    with open("/proc/self/status") as f:
        kb = [line.split()[1] for line in f if line.startswith("VmHWM:")]
    with open(peak_file, "w") as f:
        f.write(kb[0])


atexit.register(_peak)
sys.argv = ["sinefit", *sys.argv[3:]]
runpy.run_module("sinefit", run_name="__main__", alter_sys=True)
"""


def _child(args, out: Path, seconds: float | None, lines: int = 0):
    """Run `sinefit fit` under LIMIT; ``seconds`` after training starts (its loss table's header, or
    the ``lines``-th logged row), Ctrl-C (None: no Ctrl-C, the run ends by itself). Returns (exit code,
    stdout, stderr, peak RSS in MiB)."""
    peak_file = out.parent / "vmhwm.txt"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(LIMIT), str(peak_file), "fit", "--steps", "1000000000",
                             "--tol", "0", "--out", str(out), *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=open(out.parent / "stderr.txt", "w"), text=True)  # fmt: skip
    seen, rows, deadline = [], 0, time.monotonic() + 300
    guard = threading.Timer(300, proc.kill)  # a run left to end by itself must still end
    if seconds is None:
        guard.start()
    for line in proc.stdout:  # the header first; the logged rows after it
        seen.append(line)
        rows += bool(ROW.match(line))
        if seconds is None:
            continue
        if (line.strip().startswith("step") and not lines) or (lines and rows >= lines) or time.monotonic() > deadline:
            time.sleep(seconds)  # training, then Ctrl-C (a child that ended is a zombie until waited: no harm)
            os.kill(proc.pid, signal.SIGINT)
            break
    rest = proc.stdout.read()
    proc.wait()
    guard.cancel()
    err = (out.parent / "stderr.txt").read_text()
    assert peak_file.exists(), f"the child wrote no VmHWM (exit {proc.returncode}): {err[-2000:]}"
    return proc.returncode, "".join(seen) + rest, err, int(peak_file.read_text()) / 1024


PATHS = [
    ("per-sample-float32", []),
    ("lbfgs", ["--optimizer", "lbfgs"]),
    ("batch-size", ["--batch-size", "100"]),
    ("huber", ["--loss", "huber"]),
    ("autograd", ["--grad", "autograd"]),
    ("stats-adam", ["--dtype", "float64", "--optimizer", "adam"]),
    ("stats-momentum", ["--dtype", "float64", "--optimizer", "momentum"]),  # a Python step per step: Ctrl-C stops it
    ("model-gd", ["--model", "a*sin(b*x)", "--init", "a=1,b=0.5", "--lr", "1e-4"]),
    ("model-lbfgs", ["--model", "a*sin(b*x)", "--init", "a=1,b=0.5", "--optimizer", "lbfgs", "--starts", "2"]),
    ("model-lm", ["--model", "a*sin(b*x)", "--init", "a=1,b=0.5", "--optimizer", "lm"]),  # converges: exit 0
]


@pytest.mark.parametrize("name, args", PATHS, ids=[p[0] for p in PATHS])
def test_a_billion_steps_on_every_path_allocate_megabytes_and_leave_a_whole_run(tmp_path, name, args):
    (tmp_path / "runs").mkdir()
    status = "completed" if "lm" in args else "interrupted"
    # A run that converges is left to end by itself: a Ctrl-C 4 s after its header landed, on a loaded
    # machine, in its figures (exit 130) or after the handlers were restored (killed by SIGINT).
    code, out, err, peak = _child(args, tmp_path / "runs", seconds=None if status == "completed" else 4.0)
    assert code == (0 if status == "completed" else 130), (code, err[-2000:])
    assert peak < 700, peak  # the import and the figures: ~300 MiB; a full history alone would be 8 GB
    assert "logging every 100000 steps" in err and "Traceback" not in err
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert {"history.csv", "summary.json", "status.json", "config.toml"} <= {p.name for p in run_dir.iterdir()}
    assert json.loads((run_dir / "status.json").read_text())["status"] == status  # (model runs too)
    rows = (run_dir / "history.csv").read_text().count("\n") - 1
    assert 0 < rows <= history.FULL + history.GEOMETRIC + 10_000 + 400
    assert (run_dir / "history.csv").stat().st_size < 1_000_000
    if "--batch-size" in args:
        assert (run_dir / "batches.csv").read_text().count("\n") - 1 <= rows
    logged = [line for line in out.splitlines() if ROW.match(line)]
    assert len(logged) <= 10_001
    if "--model" not in args:  # the readers: report RUN's rebuild, and every figure, from the decimated files
        from sinefit import report
        from sinefit.io import figures

        back = runs.load_result(run_dir)
        assert back.status == "interrupted" and back.last_step == rundata.load(run_dir).last_step
        report.fit_report(back)
        assert len(figures.plot_run(run_dir, tmp_path / "figs")) == len(figures.FIGURE_STEMS)


def test_a_billion_closed_form_steps_at_the_default_log_cost_megabytes(tmp_path):
    """The stats engine finishes 10^9 gd steps: 10^4 logged rows by default, not 10^7 (5 GB, 270 MB of csv)."""
    (tmp_path / "runs").mkdir()
    code, out, err, peak = _child(["--dtype", "float64"], tmp_path / "runs", seconds=120.0, lines=10**9)
    assert code == 0, err[-2000:]
    assert peak < 600, peak
    assert len([line for line in out.splitlines() if ROW.match(line)]) == 10_000
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert (run_dir / "history.csv").stat().st_size < 1_000_000
    assert rundata.load(run_dir).last_step == 10**9


@pytest.mark.parametrize("degree, threads, clustered", [(60, 1, False), (60, 2, True), (150, 1, True)])
def test_a_summarising_pass_stays_within_the_working_set_it_checks(degree, threads, clustered):
    """streaming.working_set is what check_working_set holds against the budget: numpy's own
    allocations during the pass (tracemalloc) never exceed it, on evenly spread x and on x half of
    which repeat one value (the blocks that fall back to Householder QR, copying their rows)."""
    import tracemalloc

    from sinefit import streaming

    n = 1 << 19
    x = np.linspace(-1, 1, n)
    if clustered:
        x[: n // 2] = 0.5
    y = np.sin(3 * x) + 0.01 * np.random.default_rng(0).standard_normal(n)
    chunks = [(x[i : i + 131072], y[i : i + 131072]) for i in range(0, n, 131072)]
    tracemalloc.start()
    try:
        s = streaming.accumulate(iter(chunks), "legendre", degree, (-1.0, 1.0), n_threads=threads, sample_cap=100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert s.n == n
    assert peak <= streaming.working_set(degree, threads), (peak, streaming.working_set(degree, threads))
    if clustered:  # the copy is real: one buffer per thread would not have held it
        assert peak > threads * 32768 * (degree + 2) * 8


def test_what_a_logged_row_costs_is_what_the_budget_check_counts(tmp_path):
    """history.ROW_BYTES, the per-row cost check_logged holds against the budget, against the peak
    RSS of 10^6 logged rows (10^9 closed-form steps, --log-every 1000) over the default log's run."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    code, _, err, base = _child(["--dtype", "float64", "--quiet"], tmp_path / "a", 0.0, lines=1)
    assert code == 0, err[-2000:]
    code, _, err, peak = _child(["--dtype", "float64", "--quiet", "--log-every", "1000"], tmp_path / "b", 0.0,
                                lines=1)  # fmt: skip
    assert code == 0, err[-2000:]
    per_row = (peak - base) * 2**20 / 10**6
    assert 100 < per_row <= history.ROW_BYTES, per_row


def test_decimated_levenberg_marquardt_keeps_the_full_runs_states_at_its_iterations():
    from sinefit.nonlinear import expression, lm
    from sinefit.nonlinear.bounds import Transform
    from sinefit.nonlinear.problem import Problem

    m = expression.parse("a / (1 + exp(b - c*x))")
    x = torch.linspace(-2.0, 6.0, 60, dtype=torch.float64)
    with torch.no_grad():
        y = m(torch.tensor([10.0, 2.0, 1.5], dtype=torch.float64), x)
    y = y + 0.05 * torch.as_tensor(np.random.default_rng(0).standard_normal(60))
    p = Problem(m, x, y, Transform.of(m.parameters, {}))
    u0 = torch.tensor([[5.0, 1.0, 1.0], [1.0, -3.0, 0.2]], dtype=torch.float64)
    full = lm.levenberg_marquardt(p, u0)
    kept = history.kept_steps(2000, 7, full=3, geometric=3)
    part = lm.levenberg_marquardt(p, u0, kept=kept)
    n = len(full.history)
    assert n > 8 and part.steps is not None and part.steps[-1] == n - 1
    assert len(part.steps) < n and set(part.steps.tolist()) == set(kept[kept < n - 1].tolist()) | {n - 1}
    np.testing.assert_array_equal(part.history, full.history[part.steps])
    np.testing.assert_array_equal(part.path, full.path[part.steps])
    np.testing.assert_array_equal(part.u, full.u)


def test_stats_momentum_stops_at_the_optimum_as_the_cut_history_would():
    """momentum_modes(stop_below=L) is the whole run cut at its first step at or below L, so
    --steps 10^9 at the default tolerance ends where the run converged instead of after 10^9 steps."""
    q = _quadratic()
    theta0 = np.array([[1.5, -0.3, -2.2, 0.6]])
    lr, mu, steps = np.array([0.3 * q.stable_lr]), np.array([0.9]), 5000
    whole = engine.momentum_modes(q, theta0, lr, mu, False, steps, True)
    below = q.optimum_loss * (1 + 1e-9)
    at = int(np.flatnonzero(whole.losses[:, 0] <= below)[0])
    assert 0 < at < steps
    cut = engine.momentum_modes(q, theta0, lr, mu, False, steps, True, frozenset({7, at}), stop_below=below)
    np.testing.assert_array_equal(cut.losses, whole.losses[: at + 1])
    kept = history.kept_steps(steps, 100, full=50, geometric=20)
    part = engine.momentum_modes(q, theta0, lr, mu, False, steps, True, kept=kept, stop_below=below)
    assert part.steps[-1] == at
    np.testing.assert_array_equal(part.losses, whole.losses[part.steps])
    assert sorted(cut.snapshots) == [7, at]
    np.testing.assert_allclose(cut.theta, cut.snapshots[at], rtol=0, atol=0)
    long = api.fit(dtype="float64", optimizer="momentum", steps=10**9)
    short = api.fit(dtype="float64", optimizer="momentum", steps=200_000)
    assert long.converged_at == short.converged_at is not None
    np.testing.assert_array_equal(long.coefficients, short.coefficients)
    np.testing.assert_array_equal(long.losses, short.losses)


def test_the_live_loss_chart_of_a_long_run_keeps_a_bounded_strided_history():
    """fit(live=True) hears every step: its chart keeps every step up to LIVE_FULL, then ever fewer
    (it kept a Python list entry per step: 10^9 steps, tens of GB)."""
    from sinefit.io import display

    x = np.linspace(-3, 3, 50)
    live = display.LiveFigure(x, np.sin(x), lambda theta, xs: xs * 0 + theta[0], interval=1e9)
    for t in range(300_000):
        live(t, np.zeros(1), 1.0 / (t + 1))
    steps = np.array(live.steps)
    assert len(steps) <= 2 * display.LIVE_FULL and np.all(np.diff(steps) > 0)
    assert np.array_equal(steps[: display.LIVE_FULL], np.arange(display.LIVE_FULL)) and steps[-1] > 290_000
    assert live.losses == [1.0 / (t + 1) for t in steps]
    assert live.draws == 1
