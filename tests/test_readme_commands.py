"""Every `sinefit ...` command the README shows is run here, in-process, and does what the README says.

Commands are taken from the README's code blocks as they stand (so a new one is run too) and run
through ``sinefit.cli.main`` in a workspace holding the files they name (points.csv, run.toml, the
runs they refer to, ...). Commands that need a service are covered by their own tests and listed in
COVERED_ELSEWHERE; a new one there must be listed on purpose.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

COVERED_ELSEWHERE = {
    "sinefit serve": "tests/test_serve.py starts the server on 127.0.0.1 and drives the playground",
    "sinefit fit --mlflow": "tests/test_tracking.py logs into a local store",
    "sinefit sweep --lr 1e-7:1e-5:100 --seed 0:99 --mlflow http://localhost:5000": "tests/test_tracking.py (a tracking server)",
    "sinefit fit --data 's3://lake/readings/*.parquet' --dask tcp://scheduler:8786":
        "tests/test_remote.py (an S3 server on 127.0.0.1) and tests/test_cluster.py (--dask with a scheduler's address)",
}


def readme_commands() -> list[str]:
    out, inside = [], False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        text = line.strip()
        if text.startswith("$ "):
            text = text[2:]
        if inside and text.startswith("sinefit ") and not text.startswith("sinefit: "):
            out.append(shlex.join(shlex.split(text, comments=True)))
    return out


COMMANDS = readme_commands()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A directory with the files the README's commands name, and three runs to refer to."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sinefit import cli, summary

    root = tmp_path_factory.mktemp("readme")
    t = np.linspace(0, 10, 200)
    volts = np.exp(-t / 4) * np.cos(t)
    (root / "points.csv").write_text("time,volts\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(t, volts)))
    (root / "run.toml").write_text('target = "tanh(2*x)"\ndegree = 5\nbasis = "legendre"\nlr = "auto"\n')
    (root / "x.csv").write_text("x\n0.5\n1\n2\n")
    summary.summarize(t, volts, basis="legendre", degree=6, domain=(0, 10)).save(root / "readings.npz")
    (root / "parts").mkdir()
    (root / "lake" / "readings").mkdir(parents=True)
    for i in range(2):
        table = pa.table({"x": t[i::2], "y": volts[i::2]})
        pq.write_table(table, root / "parts" / f"part-{i}.parquet")
        pq.write_table(table, root / "lake" / "readings" / f"part-{i}.parquet")
    for settings in (["--steps", "50"], ["--steps", "50", "--optimizer", "momentum"], ["--optimizer", "exact"]):
        assert cli.main(["fit", "-q", "--out", str(root / "runs"), *settings]) == 0
    return root


def test_readme_has_commands_and_the_service_ones_are_known():
    assert len(COMMANDS) >= 20
    for command in COVERED_ELSEWHERE:
        assert command in COMMANDS, f"{command!r} is no longer in the README: drop it here"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in COVERED_ELSEWHERE])
def test_readme_command_runs_as_the_readme_says(command, workspace, monkeypatch, capsys):
    from sinefit import cli

    monkeypatch.chdir(workspace)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    argv = shlex.split(command)[1:]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, f"{command}: exit {code}: {err.strip()[-300:]}"
    assert "Traceback" not in err and "RuntimeWarning" not in err and "internal error" not in err
    if argv[0] == "fit" and "--help" not in argv:
        assert "diverged" not in out.split("[[Optimum]]")[0].lower()  # the README's fits all settle
        assert "Wrote runs/" in out
    if argv[0] == "sweep":
        assert "configurations in" in out and "0 diverged" in out or "diverged" in out
    if argv[:2] == ["runs", "list"]:
        assert "fit-0001" in out
    if argv[0] == "predict" and "--output" not in argv:
        assert len(out.strip().splitlines()) == 4  # a header and the three x values
