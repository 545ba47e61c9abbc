"""The one file writer against every kind of target: regular, symlink (to a file, dangling, planted
at a temporary name), FIFO, device, directory, the process's stdout, an existing input; and
predict / animate / runs compare through it."""

import os
import stat
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinefit.cli import main
from sinefit.io import safefile

KINDS = ["missing", "regular", "symlink-to-file", "dangling-symlink", "fifo", "device", "directory",
         "input", "symlink-to-input", "symlink-to-dir"]  # fmt: skip


def make(kind, d):
    """A target of the given kind in d, and a victim file that must never change."""
    victim = d / "victim.txt"
    victim.write_text("precious\n")
    target = d / "out.csv"
    if kind == "regular":
        target.write_text("old\n")
    elif kind == "symlink-to-file":  # a file that is not an input: the link is replaced, the file kept
        other = d / "other.txt"
        other.write_text("other\n")
        target.symlink_to(other)
    elif kind == "dangling-symlink":
        target.symlink_to(d / "nowhere.csv")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":
        target = "/dev/null"
    elif kind == "directory":
        target.mkdir()
    elif kind == "input":
        target = victim
    elif kind == "symlink-to-input":
        target.symlink_to(victim)
    elif kind == "symlink-to-dir":
        target.symlink_to(d)
    return target, victim


@pytest.fixture(autouse=True)
def dev_null_untouched():
    before = os.stat("/dev/null")
    yield
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def read_fifo_in_background(path):
    got = []
    t = threading.Thread(target=lambda: got.append(open(path, "rb").read()), daemon=True)
    t.start()
    return t, got


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), force=st.booleans(), content=st.binary(max_size=200))
def test_check_then_write_over_every_kind_of_target(kind, force, content, tmp_path_factory):
    d = tmp_path_factory.mktemp("t")
    target, victim = make(kind, d)
    reader = None
    try:
        t = safefile.check_target(target if isinstance(target, os.PathLike) else __import__("pathlib").Path(target),
                                  (".csv", ".txt"), "CSV text", force=force, inputs=[victim])  # fmt: skip
    except safefile.TargetError as e:
        assert "\n" not in str(e)
        assert kind in ("device", "directory", "input", "symlink-to-input", "symlink-to-dir") or (
            not force and kind in ("regular", "symlink-to-file", "dangling-symlink")
        ), (kind, force, str(e))
        if not force and kind in ("regular", "symlink-to-file", "dangling-symlink"):
            assert "--force" in str(e)
    else:
        assert kind in ("missing", "fifo") or force, kind
        if kind == "fifo":
            reader, got = read_fifo_in_background(target)
        safefile.write_bytes(t, content)
        if kind == "fifo":
            reader.join(10)
            assert got == [content] and stat.S_ISFIFO(os.lstat(target).st_mode)  # written through, not replaced
        else:
            assert os.path.isfile(target) and not os.path.islink(target)
            assert open(target, "rb").read() == content
    assert victim.read_text() == "precious\n"
    if kind == "symlink-to-file":
        assert (d / "other.txt").read_text() == "other\n"
    assert [p.name for p in d.iterdir() if p.name.startswith(".")] == []  # no temporaries left


def test_a_planted_symlink_at_a_predictable_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for name in (".pred.csv.tmp", ".pred.csv.tmp.csv"):
        (tmp_path / name).symlink_to(victim)
    safefile.write_text(tmp_path / "pred.csv", "x,y\n")
    assert victim.read_text() == "precious\n" and (tmp_path / "pred.csv").read_text() == "x,y\n"


def test_concurrent_writers_to_one_file_all_succeed_and_leave_one_whole_file(tmp_path):
    target = tmp_path / "pred.csv"
    errors = []

    def write(i):
        try:
            safefile.write_text(target, f"writer {i}\n" * 1000)
        except Exception as e:  # noqa: BLE001 - the test reports any failure
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    lines = set(target.read_text().splitlines())
    assert len(lines) == 1  # one writer's content, whole
    assert [p.name for p in tmp_path.iterdir()] == ["pred.csv"]


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "p.csv"
    target.write_text("old")
    target.chmod(0o640)
    safefile.write_text(target, "new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


# --- through the CLI ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("m")
    path = d / "m.json"
    path.write_text('{"format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 1, '
                    '"domain": [0.0, 1.0], "coefficients": [{"name": "a", "degree": 1, "value": 2.0}, '
                    '{"name": "b", "degree": 0, "value": 1.0}]}')  # fmt: skip
    return path


def cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_output_to_dev_null_is_refused_and_dev_null_survives(model, capsys):
    code, out, err = cli(["predict", str(model), "--x", "1", "--output", "/dev/null"], capsys)
    assert code == 2 and "--output /dev/null: is a device" in err


def test_predict_output_to_its_own_stdout_is_written_there(model, tmp_path):
    import subprocess

    # /dev/stdout is a symlink to /proc/self/fd/1: the bytes go to the pipe, the link stays.
    run = subprocess.run([sys.executable, "-m", "sinefit", "predict", str(model), "--x", "1", "--output", "/dev/stdout"],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == "x,y\n1.0,3.0\n"


def test_predict_refuses_to_overwrite_its_model_or_an_existing_file(model, tmp_path, capsys):
    before = model.read_text()
    code, out, err = cli(["predict", str(model), "--x", "1", "--output", str(model), "--force"], capsys)
    assert code == 2 and "suffix '.json'" in err and model.read_text() == before
    inp = tmp_path / "in.csv"
    inp.write_text("x\n1\n")
    code, out, err = cli(["predict", str(model), "--input", str(inp), "--output", str(inp), "--force"], capsys)
    assert code == 2 and "is an input" in err and inp.read_text() == "x\n1\n"
    out_file = tmp_path / "p.csv"
    assert cli(["predict", str(model), "--x", "1", "--output", str(out_file)], capsys)[0] == 0
    code, out, err = cli(["predict", str(model), "--x", "2", "--output", str(out_file)], capsys)
    assert code == 2 and "exists; give --force to replace it" in err
    assert out_file.read_text() == "x,y\n1.0,3.0\n"
    assert cli(["predict", str(model), "--x", "2", "--output", str(out_file), "--force"], capsys)[0] == 0
    assert out_file.read_text() == "x,y\n2.0,5.0\n"


def test_animate_and_compare_check_their_outputs(tmp_path, capsys):
    root = tmp_path / "runs"
    assert main(["fit", "-q", "--steps", "5", "--out", str(root)]) == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    code, out, err = cli(["animate", str(root / "fit-0001"), "--output", str(notes), "--force"], capsys)
    assert code == 2 and "suffix '.txt'" in err and "*.gif" in err and notes.read_text() == "my notes\n"
    code, out, err = cli(["runs", "compare", str(root / "fit-0001"), str(root / "fit-0001"), "--output",
                          str(tmp_path / "c.txt")], capsys)  # fmt: skip
    assert code == 2 and "suffix '.txt'" in err and "internal error" not in err
    code, out, err = cli(["runs", "compare", str(root / "fit-0001"), str(root / "fit-0001"), "--output",
                          str(root / "fit-0001" / "trained.png"), "--force"], capsys)  # fmt: skip
    assert code == 2 and "is an input" in err
