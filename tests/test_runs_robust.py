"""`runs list` never crashes: every corrupted run directory is listed ("unreadable" where its files
hold what no run writes), a run being written always reads as "running", and every end a run can
come to (completed, diverged, interrupted, failed, killed) is written whole and read back."""

import json
import os
import shutil
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sinefit
from sinefit import report
from sinefit.cli import main
from sinefit.io import rundata, runhistory, runs

STATUSES = {"completed", "diverged", "interrupted", "failed", "incomplete", "running", "unreadable"}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    root = tmp_path_factory.mktemp("orig") / "runs"
    assert main(["fit", "-q", "--steps", "10", "--out", str(root)]) == 0
    assert main(["sweep", "-q", "--lr", "1e-6,2e-6", "--steps", "10", "--out", str(root)]) == 0
    return root


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
FILES = ["summary.json", "status.json", "config.toml", "history.csv", "model.json"]
KEYS = ["status", "pid", "time", "final_loss", "loss_ratio", "lr", "best", "config", "target", "degree"]

mutation = st.one_of(
    st.tuples(st.just("bytes"), st.sampled_from(FILES), st.binary(max_size=64)),
    st.tuples(st.just("json"), st.sampled_from(FILES), json_values),
    st.tuples(st.just("key"), st.sampled_from(["summary.json", "status.json"]), st.tuples(st.sampled_from(KEYS), json_values)),
    st.tuples(st.just("delete"), st.sampled_from(FILES), st.none()),
    st.tuples(st.just("dir"), st.sampled_from(FILES), st.none()),
    st.tuples(st.just("toml"), st.just("config.toml"), st.sampled_from(["degree = [1, 2]", "lr = 'x'", "[[x]]",
                                                                        "target = '\\n\\u001b[2J'", "[" * 500])),
)


def corrupt(run_dir, m, pristine):
    kind, name, value = m
    path = run_dir / name
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if kind == "bytes":
        path.write_bytes(value)
    elif kind == "json":
        path.write_text(json.dumps(value))
    elif kind == "key":
        src = pristine / run_dir.name / name
        doc = json.loads(src.read_text()) if src.exists() else {}
        doc[value[0]] = value[1]
        path.write_text(json.dumps(doc))
    elif kind == "dir":
        path.mkdir()
    elif kind == "toml":
        path.write_text(value + "\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(st.sampled_from(["fit-0001", "sweep-0001"]), mutation), min_size=1, max_size=3))
def test_runs_list_survives_any_corruption(mutations, originals, tmp_path_factory, capsys):
    root = tmp_path_factory.mktemp("c") / "runs"
    shutil.copytree(originals, root)
    for name, m in mutations:
        corrupt(root / name, m, originals)
    entries = runhistory.scan(root)
    assert {e.path.name for e in entries} == {"fit-0001", "sweep-0001"}  # nothing silently missing
    assert all(e.status in STATUSES for e in entries)
    text = runhistory.table(entries)
    assert len(text.splitlines()) == 3  # no cell forges a row
    assert main(["runs", "list", "--out", str(root)]) == 0
    assert main(["runs", "list", "--json", "--out", str(root)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("name, change", [
    ("summary.json", {"final_loss": "abc"}),
    ("summary.json", {"loss_ratio": "x"}),
    ("status.json", {"pid": 10**29}),
])  # fmt: skip
def test_the_reported_crashes_are_unreadable_or_incomplete(name, change, originals, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(originals, root)
    fit = root / "fit-0001"
    doc = json.loads((fit / name).read_text())
    (fit / name).write_text(json.dumps({**doc, **change}))
    if name == "status.json":
        (fit / "summary.json").unlink()
    sweep = root / "sweep-0001"
    doc = json.loads((sweep / "summary.json").read_text())
    (sweep / "summary.json").write_text(json.dumps({**doc, "best": [1, 2]}))
    assert main(["runs", "list", "--out", str(root)]) == 0
    out = capsys.readouterr().out
    assert "sweep-0001" in out and "fit-0001" in out
    statuses = {e.path.name: e.status for e in runhistory.scan(root)}
    assert statuses["sweep-0001"] == "unreadable"
    assert statuses["fit-0001"] == ("incomplete" if name == "status.json" else "unreadable")


def test_a_run_being_written_always_reads_as_running(tmp_path):
    """Runs written by a thread (the writer a fit uses), scanned all the while."""
    import warnings

    root = tmp_path / "runs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sinefit.fit(steps=5)
    text, hint = report.fit_report(result), report.hint(result)
    done = threading.Event()

    def writer():
        try:
            for _ in range(15):
                run_dir = runs.start_run(root, result.config)
                runs.finish_run(run_dir, result, text, hint, figure_stems=())
        finally:
            done.set()

    seen = set()
    t = threading.Thread(target=writer)
    t.start()
    scans = 0
    while not done.is_set() or scans == 0:
        for e in runhistory.scan(root):
            seen.add(e.status)
        scans += 1
    t.join()
    assert seen <= {"running", "completed"}, seen
    assert scans > 15


def test_every_end_state_is_written_whole_and_read_back(tmp_path, capsys, monkeypatch):
    root = tmp_path / "runs"
    assert main(["fit", "-q", "--steps", "10", "--out", str(root)]) == 0  # completed
    assert main(["fit", "-q", "--steps", "10", "--domain", "-1e10,1e10", "--out", str(root)]) == 1  # diverged at step 0
    from sinefit import train

    flag = train.StopFlag()
    flag.set = True
    monkeypatch.setattr(train, "StopFlag", lambda: flag)  # as after Ctrl-C
    assert main(["fit", "-q", "--steps", "10", "--engine", "per-sample", "--out", str(root)]) == 130  # interrupted
    monkeypatch.undo()
    from sinefit.io import figures

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figures, "save", broken)
    assert main(["fit", "-q", "--steps", "10", "--out", str(root)]) == 1  # failed
    monkeypatch.undo()
    killed = runs.start_run(root, sinefit.FitConfig())  # killed: running, with a dead pid
    doc = json.loads((killed / "status.json").read_text())
    (killed / "status.json").write_text(json.dumps({**doc, "pid": 2**22 + 1}))
    capsys.readouterr()

    statuses = {e.path.name: e.status for e in runhistory.scan(root)}
    assert statuses == {"fit-0001": "completed", "fit-0002": "diverged", "fit-0003": "interrupted",
                        "fit-0004": "failed", "fit-0005": "incomplete"}  # fmt: skip
    assert json.loads((root / "fit-0004" / "status.json").read_text())["error"].startswith("No space left")
    for name in ("fit-0001", "fit-0002", "fit-0003", "fit-0004"):
        run = rundata.load(root / name)  # the reader accepts what the writer wrote
        assert run.status == statuses[name] or (name == "fit-0004" and run.status == "failed")
        assert main(["report", str(root / name)]) == 0, capsys.readouterr().err
    assert not [p for p in root.rglob(".*")]


def test_report_reads_the_runs_own_input_from_anywhere_or_says_it_changed(tmp_path, capsys, monkeypatch):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,2\n2,3\n3,5\n4,4\n5,7\n")
    root = tmp_path / "runs"
    assert main(["fit", "-q", "--steps", "5", "--data", str(data), "--out", str(root)]) == 0
    saved = (root / "fit-0001" / "report.txt").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["report", str(root / "fit-0001")]) == 0
    rebuilt = capsys.readouterr().out
    assert "final loss" in rebuilt.lower() or "[[" in rebuilt
    data.write_text("x,y\n1,2\n2,3\n3,5\n4,4\n5,70\n")  # the data changed: never other numbers
    assert main(["report", str(root / "fit-0001")]) == 0
    out, err = capsys.readouterr()
    assert out == saved and "changed since the fit" in err
    assert main(["report", "--json", str(root / "fit-0001")]) == 1
    assert "cannot be rebuilt" in capsys.readouterr().err
