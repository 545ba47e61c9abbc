"""Run history: every run listed with how it ended, whether it finished, diverged, was
interrupted or was killed midway; and a real Ctrl-C on a real process."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sinefit
from sinefit.cli import main
from sinefit.io import runhistory


def cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def sinefit_process(args, cwd):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "sinefit", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for_status(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_runs_list_shows_complete_diverged_interrupted_and_killed_runs(tmp_path, capsys):
    root = tmp_path / "runs"
    assert cli(["fit", "--out", str(root), "-q", "--steps", "50"], capsys)[0] == 0
    assert cli(["fit", "--out", str(root), "-q", "--lr", "1e-4"], capsys)[0] == 1

    # A killed run: the process dies (SIGKILL) in the middle of training.
    killed = sinefit_process(["fit", "--out", str(root), "-q", "--steps", "50000000", "--tol", "0"], tmp_path)
    wait_for_status(root / "fit-0003" / "status.json")
    killed.kill()
    killed.wait(timeout=30)

    # An interrupted run: Ctrl-C in the middle of training.
    # --tol 0: the seed converges to round-off within the first 0.5 s and would stop early, racing the signal
    long_fit = ["fit", "--out", str(root), "--steps", "50000000", "--tol", "0", "--log-every", "1000"]
    interrupted = sinefit_process(long_fit, tmp_path)
    for line in interrupted.stdout:  # a logged row past step 0: training is under way (not a fixed sleep,
        words = line.split()  # which a loaded machine could spend before the first step)
        if len(words) == 2 and words[0].isdigit() and int(words[0]) > 0:
            break
    interrupted.send_signal(signal.SIGINT)
    out, err = interrupted.communicate(timeout=60)
    assert interrupted.returncode == 130, err
    assert "interrupted at step" in err and len(err.strip().splitlines()) == 1

    statuses = {e.path.name: e.status for e in runhistory.scan(root)}
    assert statuses == {"fit-0001": "completed", "fit-0002": "diverged", "fit-0003": "incomplete",
                        "fit-0004": "interrupted"}  # fmt: skip
    code, out, err = cli(["runs", "list", "--out", str(root)], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["run", "when"] and len(lines) == 5
    for name, status in statuses.items():
        assert any(line.startswith(name) and line.rstrip().endswith(status) for line in lines[1:])

    # The interrupted run holds its history so far, a model and a report, all consistent.
    run = root / "fit-0004"
    summary = json.loads((run / "summary.json").read_text())
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert summary["status"] == "interrupted" and int(rows[-1]["step"]) == summary["interrupted_at"] > 0
    model = sinefit.load(run / "model.json")
    assert model.degree == 3
    code, out, err = cli(["runs", "show", str(run)], capsys)
    assert code == 0 and "interrupted" in out and "[[Setup]]" in out
    code, out, err = cli(["report", str(run)], capsys)  # rebuilt from the files: still interrupted
    assert code == 0 and f"interrupted at step {summary['interrupted_at']}" in out


def test_interrupt_during_a_fit_in_process(tmp_path):
    """The library stops at a set StopFlag and says so in the result."""
    from sinefit.train import StopFlag

    stop = StopFlag()
    seen = []

    def on_log(t, loss):
        seen.append(t)
        if t >= 499:
            stop.set = True

    r = sinefit.fit(steps=100_000, on_log=on_log, stop=stop)
    assert r.status == "interrupted" and r.interrupted_at == 499  # stops before that step's update
    assert len(r.losses) == 500 and r.final_loss == r.losses[-1]


def test_no_progress_output_in_pipes(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sinefit", "fit", "--steps", "5000", "--out", str(tmp_path)],
                         capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})  # fmt: skip
    assert run.returncode == 0
    assert "\r" not in run.stdout and "\r" not in run.stderr and "\033" not in run.stderr
    rows = [line for line in run.stdout.splitlines() if line.strip().startswith(("99 ", "199 "))]
    assert len(rows) == 2  # the loss table, intact


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses a pseudo-terminal")
def test_progress_bar_on_a_terminal_never_garbles_the_table(tmp_path):
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: a sinefit fit long enough to show the bar
        os.environ["MPLBACKEND"] = "Agg"
        os.execv(sys.executable, [sys.executable, "-m", "sinefit", "fit", "--steps", "150000", "--log-every",
                                  "10000", "--tol", "0", "--out", str(tmp_path)])  # fmt: skip
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    screen = b"".join(chunks).decode(errors="replace")
    assert "step [" in screen  # the bar was drawn
    # A line starts after a newline, or after a carriage return that erases the line (the bar cleared
    # for a row); the bar's other control codes (cursor shown and hidden) are not text.
    lines = re.sub(r"\r(\x1b\[[0-9;]*[A-Za-z])*", "\n", re.sub(r"\x1b\[\?25[hl]", "", screen.replace("\r\n", "\n")))
    for t in range(9999, 150000, 10000):
        # Every table row arrives whole, on its own line.
        assert f"\n{t:>8}  " in lines


def test_sigterm_also_stops_after_the_current_step(tmp_path):
    root = tmp_path / "runs"
    proc = sinefit_process(["fit", "--out", str(root), "-q", "--steps", "50000000", "--tol", "0"], tmp_path)
    wait_for_status(root / "fit-0001" / "status.json")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted at step" in err
    assert json.loads((root / "fit-0001" / "summary.json").read_text())["status"] == "interrupted"


def test_surface_json_keeps_every_eigenvector_digit_and_survives_a_tricky_target(tmp_path):
    """surface.json's eigenvector rows are encoded compactly inside the indented document: the
    file is still one JSON object equal to the document, read back to the last bit."""
    import numpy as np

    from sinefit.io import rundata, runs

    r = sinefit.fit(target='sin(x) + 0*x', degree=6, steps=20, dtype="float64")
    doc = runs.surface_document(r)
    doc["target"] = 'a "eigenvectors": null b'  # the key's text inside a string value: escaped by json
    text = runs.surface_text(doc)
    parsed = json.loads(text)
    assert parsed["target"] == doc["target"]
    assert np.array_equal(np.array(parsed["eigenvectors"]), r.quadratic.directions)
    run = runs.save_run(r, tmp_path, "report", "hint")
    back = rundata.load(run)
    assert np.array_equal(back.eigenvectors, r.quadratic.directions)
