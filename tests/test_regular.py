"""Only regular files are read: a FIFO or a device (st_size 0) in any place a file is read is
refused at once, in one line, instead of hanging (FIFO) or reading until memory is gone (/dev/zero).

Each case runs in-process under a guard: an alarm turns a hang into a failure, and an address-space
limit turns an unbounded read into a MemoryError, so a regression fails the test instead of the machine.
"""

import json
import os
import resource
import signal
from pathlib import Path

import numpy as np
import pytest

from sinefit.cli import main
from sinefit.io import regular, runhistory

MODEL = {
    "format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 1, "domain": [0.0, 1.0],
    "coefficients": [{"name": "a", "degree": 1, "value": 2.0}, {"name": "b", "degree": 0, "value": 1.0}],
}  # fmt: skip


class Hung(Exception):
    pass


@pytest.fixture
def guarded():
    """SIGALRM after 20 s and at most 2 GiB more address space, both undone afterwards."""

    def ring(*_):
        raise Hung("a read blocked")

    old_handler = signal.signal(signal.SIGALRM, ring)
    old_limit = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        vsz = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    hard = old_limit[1]
    soft = vsz + (2 << 30) if hard == resource.RLIM_INFINITY else min(vsz + (2 << 30), hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, old_limit)
        signal.signal(signal.SIGALRM, old_handler)


def _plant(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()


KINDS = {"fifo": "a FIFO (named pipe)", "zero": "a character device", "dir": "a directory"}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    "where, args",
    [
        ("pts.csv", ["fit", "--data", "pts.csv"]),
        ("pts.npy", ["fit", "--data", "pts.npy"]),
        ("pts.npz", ["fit", "--data", "pts.npz"]),
        ("pts.parquet", ["fit", "--data", "pts.parquet"]),
        ("pts.csv", ["fit", "--data", "pts.csv", "--dtype", "float64"]),  # the streaming engine
        ("run.toml", ["fit", "--config", "run.toml"]),
        ("m.json", ["predict", "m.json", "--x", "1"]),
        ("in.csv", ["predict", "good.json", "--input", "in.csv"]),
    ],
)
def test_inputs_refuse_fifos_and_devices(kind, where, args, tmp_path, capsys, monkeypatch, guarded):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.json").write_text(json.dumps(MODEL))
    _plant(tmp_path / where, kind)
    code = main([*args, *(["--steps", "1", "--out", "runs"] if args[0] == "fit" else [])])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    if kind == "dir" and "--data" in args:  # a directory is a partitioned data set
        assert err.count("\n") == 0 and "no data files" in err, err
    else:
        assert err.count("\n") == 0 and err.startswith(f"sinefit: error: {where}: cannot read: "), err
        assert KINDS[kind] in err and "regular file" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("name", ["status.json", "summary.json", "config.toml", "report.txt"])
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_run_readers_list_a_planted_run_file_without_reading_it(name, kind, tmp_path, capsys, guarded):
    run = tmp_path / "runs" / "fit-0001"
    run.mkdir(parents=True)
    _plant(run / name, kind)
    assert main(["runs", "list", "--out", str(tmp_path / "runs")]) == 0
    assert "fit-0001" in capsys.readouterr().out
    entries = runhistory.scan(tmp_path / "runs")
    assert [e.status for e in entries] == ["unreadable"]
    assert main(["runs", "show", str(run)]) == 0
    assert "fit-0001: fit, unreadable" in capsys.readouterr().out


def test_read_bounded_stops_at_the_limit_whatever_st_size_says(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 5000)
    assert regular.read_bounded(tmp_path / "big", 5000, "t") == b"x" * 5000
    with pytest.raises(Exception, match="5000 bytes is too large for t"):
        regular.read_bounded(tmp_path / "big", 4999, "t")
    assert regular.read_text_bounded(tmp_path / "big", 10) is None
    with pytest.raises(OSError, match="No such file"):
        regular.require_regular(tmp_path / "missing")


def test_a_regular_file_behind_a_symlink_is_still_read(tmp_path):
    (tmp_path / "real.csv").write_text("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(6)))
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    with regular.open_regular(tmp_path / "link.csv", "r") as f:
        assert f.readline() == "x,y\n"
    assert np.isfinite(__import__("sinefit").fit(data=str(tmp_path / "link.csv"), steps=2).final_loss)
