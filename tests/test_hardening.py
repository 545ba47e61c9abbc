"""Hardening: bad input as a matrix, hostile files, kills, concurrency, full and read-only disks.

The matrix below is the README's troubleshooting table: one row per input, the exit code it
must end with, and the words its one-line message must contain.
"""

import io
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sinefit
from sinefit.cli import main
from sinefit.config import FitConfig
from sinefit.errors import InputError
from sinefit.io import configfile, modelfile, runhistory

GOOD_MODEL = {
    "format": "sinefit.model", "format_version": 1, "basis": "power", "degree": 1, "domain": [0.0, 1.0],
    "coefficients": [{"name": "a", "degree": 1, "value": 2.0}, {"name": "b", "degree": 0, "value": 1.0}],
}  # fmt: skip


def model_text(**changes):
    return json.dumps({**GOOD_MODEL, **changes})


def _npy_header(shape) -> bytes:
    """An .npy header declaring ``shape`` of float64, with no data after it."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return out.getvalue()


def _bz2_npz() -> bytes:
    """A small .npz whose members are bzip2-compressed (a bomb when they declare GBs)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_BZIP2) as z:
        for name in ("x", "y"):
            member = io.BytesIO()
            np.save(member, np.arange(8.0))
            z.writestr(f"{name}.npy", member.getvalue())
    return out.getvalue()


def _nested_npy_header() -> bytes:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (" + b"-" * 8000 + b"1, 2), }"
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 16


NESTED_NPY = _nested_npy_header()

# (id, command line, files to create first {name: text or bytes}, exit code, words in the message)
MATRIX = [
    # options
    ("steps-negative", ["fit", "--steps", "-1"], {}, 2, ["--steps", "0 or more"]),
    ("lr-zero", ["fit", "--lr", "0"], {}, 2, ["--lr", "positive"]),
    ("lr-negative", ["fit", "--lr", "-1"], {}, 2, ["--lr", "positive"]),
    ("lr-text", ["fit", "--lr", "fast"], {}, 2, ["--lr", "number"]),
    ("lr-inf", ["fit", "--lr", "inf"], {}, 2, ["--lr", "finite"]),
    ("samples-one", ["fit", "--samples", "1"], {}, 2, ["--samples", "2 or more"]),
    ("samples-too-few", ["fit", "--samples", "3"], {}, 2, ["--samples", "at least 4"]),
    ("samples-huge", ["fit", "--samples", "1000000000000"], {}, 2, ["--samples", "--dtype float64"]),
    ("degree-negative", ["fit", "--degree", "-1"], {}, 2, ["--degree", "0 or more"]),
    ("degree-huge", ["fit", "--degree", "10000"], {}, 2, ["--degree", "at most 1000"]),
    ("dtype", ["fit", "--dtype", "float16x"], {}, 2, ["--dtype", "float32, float64"]),
    ("log-every", ["fit", "--log-every", "0"], {}, 2, ["--log-every"]),
    ("seed-negative", ["fit", "--seed", "-1"], {}, 2, ["--seed"]),
    ("basis", ["fit", "--basis", "fourier"], {}, 2, ["--basis", "legendre"]),
    ("loss", ["fit", "--loss", "l1"], {}, 2, ["--loss", "huber"]),
    ("optimizer", ["fit", "--optimizer", "sgd"], {}, 2, ["--optimizer", "momentum"]),
    ("grad", ["fit", "--grad", "numeric"], {}, 2, ["--grad", "autograd"]),
    ("engine", ["fit", "--engine", "gpu"], {}, 2, ["--engine", "stats"]),
    ("momentum", ["fit", "--optimizer", "momentum", "--momentum", "1.5"], {}, 2, ["--momentum", "[0, 1)"]),
    ("huber-delta", ["fit", "--loss", "huber", "--huber-delta", "0"], {}, 2, ["--huber-delta"]),
    ("noise", ["fit", "--noise", "-1"], {}, 2, ["--noise"]),
    ("domain-order", ["fit", "--domain", "2,1"], {}, 2, ["--domain", "a < b"]),
    ("domain-one", ["fit", "--domain", "1"], {}, 2, ["--domain", "two numbers"]),
    ("unknown-option", ["fit", "--stepz", "3"], {}, 2, ["--stepz"]),
    ("exact-huber", ["fit", "--optimizer", "exact", "--loss", "huber"], {}, 2, ["--optimizer", "lbfgs"]),
    ("auto-adam", ["fit", "--optimizer", "adam", "--lr", "auto"], {}, 2, ["--lr", "auto is for"]),
    ("stats-huber", ["fit", "--engine", "stats", "--loss", "huber"], {}, 2, ["--engine", "quadratic"]),
    # expressions
    ("expr-import", ["fit", "--target", "__import__('os').system('id')"], {}, 2, ["--target", "not allowed"]),
    ("expr-attribute", ["fit", "--target", "x.real"], {}, 2, ["--target", "attribute"]),
    ("expr-subscript", ["fit", "--target", "x[0]"], {}, 2, ["--target", "subscript"]),
    ("expr-lambda", ["fit", "--target", "lambda: 0"], {}, 2, ["--target", "lambda"]),
    ("expr-overflow", ["fit", "--target", "9**9**9"], {}, 2, ["--target", "not finite at x ="]),
    ("expr-log0", ["fit", "--target", "log(x)", "--domain", "0,1"], {}, 2, ["--target", "not finite at x = 0"]),
    ("expr-deep", ["fit", "--target", "(" * 60 + "x" + ")" * 60], {}, 2, ["--target", "nest"]),
    ("expr-function", ["fit", "--target", "foo(x)"], {}, 2, ["--target", "foo"]),
    ("expr-name", ["fit", "--target", "y + 1"], {}, 2, ["--target", "'y'"]),
    ("expr-syntax", ["fit", "--target", "sin(x"], {}, 2, ["--target", "not a valid expression"]),
    # data files
    ("data-missing", ["fit", "--data", "missing.csv"], {}, 2, ["missing.csv", "cannot read"]),
    ("data-cell", ["fit", "--data", "bad.csv"], {"bad.csv": "x,y\n1,2\n3,abc\n"}, 2, ["bad.csv", "line 3", "'abc'"]),
    ("data-ragged", ["fit", "--data", "ragged.csv"], {"ragged.csv": "x,y\n1,2,3\n"}, 2, ["ragged.csv", "line 2", "fields"]),
    ("data-empty", ["fit", "--data", "empty.csv"], {"empty.csv": ""}, 2, ["empty.csv", "no data rows"]),
    ("data-nan", ["fit", "--data", "nan.csv"], {"nan.csv": "x,y\n1,2\n2,nan\n3,4\n4,5\n"}, 2, ["nan.csv", "line 3", "not finite"]),
    ("data-few-x", ["fit", "--data", "few.csv"], {"few.csv": "x,y\n1,2\n1,3\n2,4\n2,5\n"}, 2, ["few.csv", "2 distinct x"]),
    ("data-type", ["fit", "--data", "data.xlsx"], {"data.xlsx": "PK"}, 2, ["data.xlsx", "unsupported"]),
    ("data-pickle", ["fit", "--data", "evil.npy"], {"evil.npy": b"\x80\x04\x95\x10\x00cos\nsystem\n"}, 2, ["evil.npy"]),
    ("data-columns", ["fit", "--data", "ok.csv", "--columns", "x,z"], {"ok.csv": "x,y\n1,2\n2,3\n3,4\n4,5\n"}, 2, ["ok.csv", "'z'"]),
    ("data-same-columns", ["fit", "--data", "ok.csv", "--columns", "x,x"], {"ok.csv": "x,y\n1,2\n2,3\n3,4\n4,5\n"}, 2,
     ["--columns", "same column 'x'"]),
    # config files
    ("config-missing", ["fit", "--config", "missing.toml"], {}, 2, ["missing.toml", "cannot read"]),
    ("config-syntax", ["fit", "--config", "bad.toml"], {"bad.toml": "degree = = 3\n"}, 2, ["bad.toml", "not valid TOML"]),
    ("config-key", ["fit", "--config", "key.toml"], {"key.toml": "degre = 3\n"}, 2, ["key.toml", "unknown setting 'degre'"]),
    ("config-type", ["fit", "--config", "type.toml"], {"type.toml": 'degree = "three"\n'}, 2, ["type.toml: degree:", "whole number"]),
    ("config-nan", ["fit", "--config", "nan.toml"], {"nan.toml": "lr = nan\n"}, 2, ["nan.toml: lr:", "finite"]),
    ("config-huge", ["fit", "--config", "huge.toml"], {"huge.toml": "# " + "x" * (2 << 20) + "\n"}, 2, ["huge.toml", "too large"]),
    ("config-table", ["fit", "--config", "table.toml"], {"table.toml": "[degree]\nx = 1\n"}, 2, ["table.toml", "single value"]),
    # model files
    ("model-pickle", ["predict", "m.json", "--x", "1"], {"m.json": b"\x80\x04\x95pickle"}, 2, ["m.json", "not valid JSON"]),
    ("model-truncated", ["predict", "m.json", "--x", "1"], {"m.json": model_text()[:40]}, 2, ["m.json", "not valid JSON"]),
    ("model-nan", ["predict", "m.json", "--x", "1"], {"m.json": model_text().replace("2.0", "NaN")}, 2, ["m.json", "NaN"]),
    ("model-version", ["predict", "m.json", "--x", "1"], {"m.json": model_text(format_version=7)}, 2, ["m.json", "format_version 7"]),
    ("model-extra", ["predict", "m.json", "--x", "1"], {"m.json": model_text(extra=1)}, 2, ["m.json", "unknown key 'extra'"]),
    ("model-type", ["predict", "m.json", "--x", "1"], {"m.json": model_text(degree="1")}, 2, ["m.json", "degree"]),
    ("model-count", ["predict", "m.json", "--x", "1"], {"m.json": model_text(degree=2)}, 2, ["m.json", "needs 3 coefficients"]),
    ("model-huge", ["predict", "m.json", "--x", "1"], {"m.json": " " * (2 << 20)}, 2, ["m.json", "too large"]),
    ("model-missing", ["predict", "none.json", "--x", "1"], {}, 2, ["none.json", "cannot read"]),
    ("predict-x", ["predict", "m.json", "--x", "one"], {"m.json": model_text()}, 2, ["--x"]),
    ("predict-input", ["predict", "m.json", "--input", "in.csv"], {"m.json": model_text(), "in.csv": "x\n1\nzz\n"}, 2, ["in.csv", "line 3"]),
    # runs
    ("report-missing", ["report", "runs/fit-9999"], {}, 2, ["no such run directory"]),
    ("show-missing", ["runs", "show", "runs/fit-9999"], {}, 2, ["no such run directory"]),
    ("sweep-axis", ["sweep", "--lr", "1e-7:1e-5"], {}, 2, ["--lr", "a:b:n"]),
    # files written (issue 10: 1-3)
    ("output-device", ["predict", "m.json", "--x", "1", "--output", "/dev/null"], {"m.json": model_text()}, 2, ["--output /dev/null", "is a device"]),
    ("output-directory", ["predict", "m.json", "--x", "1", "--output", "."], {"m.json": model_text()}, 2, ["--output .", "is a directory"]),
    ("output-exists", ["predict", "m.json", "--x", "1", "--output", "p.csv"], {"m.json": model_text(), "p.csv": "mine\n"}, 2, ["p.csv", "exists", "--force"]),
    ("output-is-input", ["predict", "m.json", "--input", "in.csv", "--output", "in.csv", "--force"], {"m.json": model_text(), "in.csv": "x\n1\n"}, 2, ["in.csv", "is an input"]),
    ("output-suffix", ["predict", "m.json", "--x", "1", "--output", "m.json", "--force"], {"m.json": model_text()}, 2, ["m.json", "suffix '.json'", "*.csv"]),
    ("compare-suffix", ["runs", "compare", "a", "b", "--output", "c.txt"], {}, 2, ["c.txt", "suffix '.txt'"]),
    # MLflow (issue 10: 8, 18)
    ("mlflow-unwritable", ["fit", "--mlflow", "sqlite:////proc/sinefit-x.db"], {}, 1, ["sqlite:////proc/sinefit-x.db", "cannot write the database file"]),
    ("mlflow-blank", ["fit", "--mlflow", "   "], {}, 2, ["--mlflow", "blank"]),
    # internal errors (issue 10: 13)
    ("sweep-seed-huge", ["sweep", "--seed", "0:99999999999999999999"], {}, 2, ["--seed", "more than 1000000"]),
    ("config-nested-json", ["fit", "--config", "n.json"], {"n.json": "[" * 1000}, 2, ["n.json", "nested more than"]),
    ("config-nested-toml", ["fit", "--config", "n.toml"], {"n.toml": "a = " + "[" * 1000}, 2, ["n.toml", "nested more than"]),
    ("npy-nested-header", ["fit", "--data", "neg.npy"], {"neg.npy": NESTED_NPY}, 2, ["neg.npy", "nests too deeply"]),
    ("data-name-not-utf8", ["fit", "--data", "ok\udcff.csv"], {"ok\udcff.csv": "x,y\n1,2\n2,3\n3,4\n4,5\n"}, 2, ["--data", "not valid UTF-8"]),
    # generated data (issue 10: 16)
    ("domain-collapsed", ["fit", "--domain", "-1e-300,1e-300"], {}, 2, ["--domain", "only 1 distinct float32 x"]),
    ("domain-narrow", ["fit", "--domain", "1,1.0000001"], {}, 2, ["--domain", "only 2 distinct", "--dtype float64"]),
    # strict input (issue 10: 17)
    ("config-duplicate-json", ["fit", "--config", "d.json"], {"d.json": '{"degree": 3, "degree": 4}'}, 2, ["d.json", "'degree' is given twice"]),
    ("config-duplicate-toml", ["fit", "--config", "d.toml"], {"d.toml": "log_every = 3\nlog-every = 4\n"}, 2, ["d.toml", "same setting"]),
    ("model-power-type", ["predict", "m.json", "--x", "1"], {"m.json": model_text(power_coefficients="x")}, 2, ["m.json", "power_coefficients"]),
    ("model-status-type", ["predict", "m.json", "--x", "1"], {"m.json": model_text(status=5)}, 2, ["m.json", "status"]),
    ("model-loss-type", ["predict", "m.json", "--x", "1"], {"m.json": model_text(final_loss="low")}, 2, ["m.json", "final_loss"]),
    ("expr-fullwidth", ["fit", "--target", "ｓｉｎ(ｘ)"], {}, 2, ["--target", "not ASCII", "column 1"]),
    ("expr-long-s", ["fit", "--target", "ſin(x)"], {}, 2, ["--target", "LATIN SMALL LETTER LONG S"]),
    ("expr-roman-x", ["fit", "--target", "sin(ⅹ)"], {}, 2, ["--target", "ROMAN NUMERAL TEN", "column 5"]),
    # messages (issue 10: 18)
    ("config-utf16", ["fit", "--config", "u.toml"], {"u.toml": "steps = 3\n".encode("utf-16")}, 2, ["u.toml", "UTF-16"]),
    ("out-is-a-file", ["fit", "--out", "afile"], {"afile": "mine\n"}, 1, ["under afile", "a file, not a directory"]),
    ("out-empty", ["fit", "--out", ""], {}, 2, ["--out", "empty"]),
    ("show-not-a-run", ["runs", "show", "."], {}, 2, ["not a sinefit run directory"]),
    ("sweep-top-negative", ["sweep", "--top", "-5"], {}, 2, ["--top", "1 or more"]),
    ("data-utf16", ["fit", "--data", "u.csv"], {"u.csv": "x,y\n1,2\n2,3\n3,4\n4,5\n".encode("utf-16")}, 2, ["u.csv", "UTF-16"]),
    # run directories (issue 10: 12)
    ("noise-overflow", ["fit", "--noise", "1e308"], {}, 2, ["--noise", "not finite"]),
    # input that cannot hang or exhaust the machine (issue 10: 5, 6, 9, 10)
    ("design-overflow", ["fit", "--domain", "-1e19,1e19"], {}, 2, ["x^3 at x = -1e+19 overflows float32", "--dtype float64"]),
    ("degree-float32", ["fit", "--degree", "78"], {}, 2, ["x^78", "--degree 77 at most"]),
    ("data-huge-x", ["fit", "--data", "big.csv"], {"big.csv": "x,y\n" + "".join(f"{i},{i}\n" for i in range(50)) + "1e13,0\n"}, 2, ["big.csv", "x^3 at x = 1e+13"]),
    ("config-directory", ["fit", "--config", "."], {}, 2, [".: cannot read: a directory, not a regular file"]),
    ("data-long-line", ["fit", "--data", "wide.csv"], {"wide.csv": "1," * (1 << 20) + "1\n"}, 2, ["wide.csv", "line 1", "longer than"]),
    ("npy-claims", ["fit", "--data", "claim.npy", "--columns", "0,1"], {"claim.npy": _npy_header((10, 10**12))}, 2, ["claim.npy", "declares shape"]),
    ("npz-bzip2", ["fit", "--data", "b.npz"], {"b.npz": _bz2_npz()}, 2, ["b.npz", "bzip2 or lzma"]),
    ("memory-budget", ["--memory", "64M", "fit", "--degree", "200", "--samples", "100000"], {}, 2, ["memory budget of 64 MiB", "points fit at degree 200"]),
    ("log-every-budget", ["--memory", "1G", "fit", "--steps", "1000000000", "--log-every", "100"], {}, 2, ["--log-every 100 at --steps 1000000000", "memory budget of 1 GiB", "--log-every 597 or more fits"]),
    ("memory-text", ["--memory", "lots", "fit"], {}, 2, ["--memory", "4G"]),
]


_MESSAGES: dict[str, str] = {}


@pytest.mark.parametrize("name, args, files, code, words", MATRIX, ids=[row[0] for row in MATRIX])
def test_bad_input_matrix(name, args, files, code, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for file, content in files.items():
        (tmp_path / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    before = sorted(p.name for p in tmp_path.iterdir())
    got = main(args)
    out, err = capsys.readouterr()
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sinefit: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    _MESSAGES[name] = lines[0]  # for the README's table (test_readme_troubleshooting_table_is_current)


def test_the_matrix_is_large_enough():
    assert len(MATRIX) >= 40


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main(["--debug", "fit", "--lr", "-1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("sinefit: error: --lr")


# --- property tests: any input yields a result or the tool's own error, quickly ------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_values)
def test_model_loader_accepts_only_valid_models(doc):
    try:
        model = modelfile.from_document(doc, "model.json")
    except modelfile.ModelFileError:
        return
    assert np.all(np.isfinite(model.coefficients))


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(sorted(GOOD_MODEL) + ["extra"]), json_values, max_size=3))
def test_model_loader_on_mutated_models(changes):
    try:
        model = modelfile.from_document({**GOOD_MODEL, **changes}, "model.json")
    except modelfile.ModelFileError:
        return
    assert model.degree + 1 == len(model.coefficients)


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_model_loader_on_arbitrary_bytes(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model.json"
    path.write_bytes(raw)
    try:
        sinefit.load(path)
    except modelfile.ModelFileError:
        pass


toml_line = st.tuples(
    st.sampled_from(sorted(FitConfig.__dataclass_fields__) + ["log-every", "bogus"]),
    st.sampled_from(["1", "-1", "0", "3.5", "1e-6", "nan", "inf", '"sin"', '"auto"', '"x**2"', "true",
                     "[1, 2]", '"float64"', '"legendre"', "1e400", '""']),
).map(lambda kv: f"{kv[0]} = {kv[1]}")


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(toml_line, max_size=6).map("\n".join) | st.text(max_size=200))
def test_config_reader_yields_a_config_or_its_own_error(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("c") / "run.toml"
    path.write_text(text, encoding="utf-8")
    try:
        cfg = FitConfig.from_dict(configfile.read(path))
    except InputError:
        return
    assert cfg.validated() == cfg


# --- processes: kills, concurrency ----------------------------------------------------------------


def sinefit_cmd(*args):
    return [sys.executable, "-m", "sinefit", *args]


ENV = {**os.environ, "MPLBACKEND": "Agg"}


def test_sigkill_at_random_moments_leaves_complete_or_incomplete_runs(tmp_path):
    root = tmp_path / "runs"
    rng = random.Random(1234)
    for _ in range(6):
        proc = subprocess.Popen(sinefit_cmd("fit", "-q", "--steps", "30000", "--out", str(root)), env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.2, 3.0))
        proc.kill()
        proc.wait(timeout=30)
    entries = runhistory.scan(root) if root.exists() else []
    assert all(e.status in ("completed", "incomplete") for e in entries), [(e.path.name, e.status) for e in entries]
    for e in entries:
        if (e.path / "model.json").exists():
            sinefit.load(e.path / "model.json")  # never torn
        for f in e.path.iterdir():
            if f.suffix == ".json" and not f.name.startswith("."):
                json.loads(f.read_text())  # every JSON file is whole
        if e.status == "completed":
            assert {"model.json", "history.csv", "summary.json", "trained.png"} <= {p.name for p in e.path.iterdir()}


def test_eight_fits_at_once_into_one_folder(tmp_path):
    root = tmp_path / "runs"
    procs = [subprocess.Popen(sinefit_cmd("fit", "-q", "--seed", str(i), "--out", str(root)), env=ENV,
                              stderr=subprocess.PIPE, text=True) for i in range(8)]  # fmt: skip
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    entries = runhistory.scan(root)
    assert len(entries) == 8 and all(e.status == "completed" for e in entries)
    seeds = sorted(json.loads((e.path / "summary.json").read_text())["config"]["seed"] for e in entries)
    assert seeds == list(range(8))  # each process wrote its own run, whole


# --- full and read-only disks ----------------------------------------------------------------------


def _private_mount_works() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d"],
                           capture_output=True)  # fmt: skip
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _private_mount_works(), reason="needs to mount a tmpfs in a private mount namespace (root on Linux)"
)


def _in_tiny_tmpfs(tmp_path: Path, script: str, size: str = "1m") -> subprocess.CompletedProcess:
    """Run a shell script with $D a fresh tmpfs of the given size, in a private mount namespace."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    body = f"set -e\nD={mount_point}\nmount -t tmpfs -o size={size} tmpfs $D\nPY={sys.executable}\n" + textwrap.dedent(script)
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", body],
                          capture_output=True, text=True, env=ENV, timeout=300)  # fmt: skip


@needs_mounts
def test_disk_full_is_a_clear_failure_and_earlier_runs_survive(tmp_path):
    result = _in_tiny_tmpfs(tmp_path, """
        $PY -m sinefit fit -q --out $D/runs
        (cd $D/runs/fit-0001 && sha256sum * > $D/before.txt)
        cp $D/before.txt /dev/shm/sinefit-before-$$ 2>/dev/null || true
        dd if=/dev/zero of=$D/filler bs=4k 2>/dev/null || true
        set +e
        $PY -m sinefit fit -q --out $D/runs 2> $D/../err.txt
        echo "exit=$?"
        rm -f $D/filler
        (cd $D/runs/fit-0001 && sha256sum -c $D/before.txt --quiet) && echo "earlier=intact"
        cat $D/../err.txt
    """)
    assert "exit=1" in result.stdout, result.stdout + result.stderr
    assert "earlier=intact" in result.stdout
    message = [line for line in result.stdout.splitlines() if line.startswith("sinefit: error:")]
    assert len(message) == 1 and "No space left" in message[0]
    assert "Traceback" not in result.stdout


@needs_mounts
def test_read_only_output_is_a_clear_failure_and_earlier_runs_survive(tmp_path):
    result = _in_tiny_tmpfs(tmp_path, """
        $PY -m sinefit fit -q --out $D/runs --steps 10
        (cd $D/runs/fit-0001 && sha256sum *) > $D/../before.txt
        mount -o remount,ro $D
        set +e
        $PY -m sinefit fit -q --out $D/runs 2> $D/../err.txt
        echo "exit=$?"
        (cd $D/runs/fit-0001 && sha256sum -c $D/../before.txt --quiet) && echo "earlier=intact"
        ls $D/runs
        cat $D/../err.txt
    """)
    assert "exit=1" in result.stdout, result.stdout + result.stderr
    assert "earlier=intact" in result.stdout
    message = [line for line in result.stdout.splitlines() if line.startswith("sinefit: error:")]
    assert len(message) == 1 and "Read-only file system" in message[0]
    assert result.stdout.split("exit=1")[1].count("fit-0002") == 0  # no half-made run


def test_readme_troubleshooting_table_is_current(tmp_path, capsys, monkeypatch):
    """The README's table is the matrix: SINEFIT_WRITE_README=1 rewrites it from what sinefit prints now."""
    import troubleshooting

    rows = []
    for k, (name, args, files, code, _words) in enumerate(MATRIX):
        if name not in _MESSAGES:  # run alone (-k troubleshooting): run the row here
            where = tmp_path / f"row{k}"
            where.mkdir()
            monkeypatch.chdir(where)
            for file, content in files.items():
                (where / file).parent.mkdir(parents=True, exist_ok=True)
                (where / file).write_bytes(content if isinstance(content, bytes) else content.encode())
            main(args)
            _MESSAGES[name] = capsys.readouterr().err.strip().splitlines()[-1]
        rows.append(troubleshooting.row(name, args, files, code, _MESSAGES[name]))
    table = troubleshooting.table(rows)
    if os.environ.get("SINEFIT_WRITE_README") == "1":
        troubleshooting.write(table)
    assert troubleshooting.current() == table, (
        "README.md's troubleshooting table is not the matrix's: SINEFIT_WRITE_README=1 pytest "
        "tests/test_hardening.py -k troubleshooting rewrites it"
    )
