"""SIGINT and SIGTERM in every phase of fit, sweep, plot and animate: one line, exit 130, the run
marked interrupted (or kept complete), no temporary debris.

The signals are real (os.kill to this process) but sent from inside the phase under test, by a
hook wrapped around a function that phase calls, so no subprocess is needed (each would pay
seconds of torch import) and the moment is exact.
"""

import json
import os
import signal

import pytest

from sinefit import interrupts
from sinefit.cli import main
from sinefit.io import rundata, runhistory

SIGNALS = [signal.SIGINT, signal.SIGTERM]
FIT = ["fit", "-q", "--steps", "20"]


def kill_self(sig, times=1):
    for _ in range(times):
        os.kill(os.getpid(), sig)


def hook(monkeypatch, owner, name, sig, times=1, when=lambda *a, **k: True):
    """Wrap owner.name so that its first qualifying call sends ``sig`` to this process first."""
    original = getattr(owner, name)
    sent = []

    def wrapper(*args, **kwargs):
        if not sent and when(*args, **kwargs):
            sent.append(True)
            kill_self(sig, times)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return sent


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sinefit: error: interrupted ("), err
    for w in words:
        assert w in lines[0], lines[0]
    assert "Traceback" not in err


def no_debris(root):
    hidden = [p for p in root.rglob(".*")]
    assert hidden == [], hidden


def statuses(root):
    return {e.path.name: e.status for e in runhistory.scan(root)}


def status_json(run_dir):
    return json.loads((run_dir / "status.json").read_text())


@pytest.fixture(autouse=True)
def handlers_restored():
    before = {s: signal.getsignal(s) for s in SIGNALS}
    yield
    assert {s: signal.getsignal(s) for s in SIGNALS} == before  # main leaves the handlers as it found them
    assert interrupts.current_run() is None


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_fit_at_startup(sig, tmp_path, capsys, monkeypatch):
    from sinefit.cli import options

    hook(monkeypatch, options, "settings", sig)
    code, out, err = run([*FIT, "--out", str(tmp_path / "runs")], capsys)
    assert code == 130
    one_line(err, signal.Signals(sig).name, "while starting")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_fit_while_reading_the_data(sig, tmp_path, capsys, monkeypatch):
    from sinefit import api

    hook(monkeypatch, api, "_prepare", sig)
    code, out, err = run([*FIT, "--out", str(tmp_path / "runs")], capsys)
    assert code == 130
    one_line(err, "while reading the data")
    assert not (tmp_path / "runs").exists() or statuses(tmp_path / "runs") == {}


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_fit_twice_in_training_stops_at_once_and_marks_the_run(sig, tmp_path, capsys, monkeypatch):
    from sinefit import report

    hook(monkeypatch, report, "loss_row", sig, times=2, when=lambda t, v: t >= 5)
    root = tmp_path / "runs"
    code, out, err = run(["fit", "--steps", "50", "--log-every", "1", "--engine", "per-sample", "--out", str(root)],
                         capsys)  # fmt: skip
    assert code == 130
    one_line(err, "training (a second signal)", "fit-0001", "marked interrupted")
    assert statuses(root) == {"fit-0001": "interrupted"}
    no_debris(root)


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_fit_once_in_training_saves_the_run_as_interrupted(sig, tmp_path, capsys, monkeypatch):
    from sinefit import report

    hook(monkeypatch, report, "loss_row", sig, when=lambda t, v: t >= 5)
    root = tmp_path / "runs"
    code, out, err = run(["fit", "--steps", "50", "--log-every", "1", "--engine", "per-sample", "--out", str(root)],
                         capsys)  # fmt: skip
    assert code == 130 and "interrupted at step" in err and len(err.strip().splitlines()) == 1
    assert statuses(root) == {"fit-0001": "interrupted"}
    assert rundata.load(root / "fit-0001").status == "interrupted"


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_fit_while_writing_the_figures(sig, tmp_path, capsys, monkeypatch):
    from sinefit.io import figures

    hook(monkeypatch, figures, "save", sig)
    root = tmp_path / "runs"
    code, out, err = run([*FIT, "--out", str(root)], capsys)
    assert code == 130
    one_line(err, "while writing the figures", "marked interrupted")
    assert statuses(root) == {"fit-0001": "interrupted"}
    assert status_json(root / "fit-0001")["status"] == "interrupted"
    assert rundata.load(root / "fit-0001").status == "interrupted"  # the data files are whole
    no_debris(root)


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_fit_while_writing_the_animation(sig, tmp_path, capsys, monkeypatch):
    from sinefit.io import animation

    hook(monkeypatch, animation._GifWriter, "add_frame", sig)
    root = tmp_path / "runs"
    code, out, err = run([*FIT, "--animate", "--out", str(root)], capsys)
    assert code == 130
    one_line(err, "while writing the animation")
    assert statuses(root) == {"fit-0001": "interrupted"}
    assert not (root / "fit-0001" / "training.gif").exists()
    no_debris(root)


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_fit_while_logging_to_mlflow_keeps_the_complete_run(sig, tmp_path, capsys, monkeypatch):
    from sinefit.io import tracking

    monkeypatch.setattr(tracking, "log_fit", lambda *a, **k: kill_self(sig) or "never")
    root = tmp_path / "runs"
    code, out, err = run([*FIT, "--mlflow", str(tmp_path / "m.db"), "--out", str(root)], capsys)
    assert code == 130
    one_line(err, "while logging to MLflow")
    assert "marked" not in err
    assert statuses(root) == {"fit-0001": "completed"}


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_sweep_while_sweeping(sig, tmp_path, capsys, monkeypatch):
    import sinefit.sweep

    hook(monkeypatch, sinefit.sweep, "sweep", sig)
    code, out, err = run(["sweep", "--lr", "1e-6,2e-6", "--steps", "10", "--out", str(tmp_path / "runs")], capsys)
    assert code == 130
    one_line(err, "while sweeping")
    assert not (tmp_path / "runs").exists() or statuses(tmp_path / "runs") == {}


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_sweep_while_writing(sig, tmp_path, capsys, monkeypatch):
    from sinefit.io import figures

    hook(monkeypatch, figures, "save", sig)
    root = tmp_path / "runs"
    code, out, err = run(["sweep", "--lr", "1e-6,2e-6", "--steps", "10", "--out", str(root)], capsys)
    assert code == 130
    one_line(err, "while writing the sweep", "sweep-0001", "marked interrupted")
    assert statuses(root) == {"sweep-0001": "interrupted"}
    no_debris(root)


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_sweep_while_logging_to_mlflow(sig, tmp_path, capsys, monkeypatch):
    from sinefit.io import tracking

    monkeypatch.setattr(tracking, "log_sweep", lambda *a, **k: kill_self(sig) or "never")
    root = tmp_path / "runs"
    code, out, err = run(["sweep", "--lr", "1e-6,2e-6", "--steps", "10", "--mlflow", str(tmp_path / "m.db"),
                          "--out", str(root)], capsys)  # fmt: skip
    assert code == 130
    one_line(err, "while logging to MLflow")
    assert statuses(root) == {"sweep-0001": "completed"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("done") / "runs"
    assert main([*FIT, "--out", str(root)]) == 0
    return root / "fit-0001"


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_plot_while_drawing(sig, finished_run, tmp_path, capsys, monkeypatch):
    from sinefit.io import figures

    hook(monkeypatch, figures, "save", sig)
    code, out, err = run(["plot", str(finished_run), "--out", str(tmp_path / "figs")], capsys)
    assert code == 130
    one_line(err, "while drawing the figures")
    no_debris(tmp_path)
    assert statuses(finished_run.parent) == {"fit-0001": "completed"}  # a reader never marks a run


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_animate_while_writing(sig, finished_run, tmp_path, capsys, monkeypatch):
    from sinefit.io import animation

    hook(monkeypatch, animation._GifWriter, "add_frame", sig)
    out_file = tmp_path / "a.gif"
    code, out, err = run(["animate", str(finished_run), "--frames", "3", "--output", str(out_file)], capsys)
    assert code == 130
    one_line(err, "while writing the animation")
    assert not out_file.exists()
    no_debris(tmp_path)
