"""Each "bomb" of issue 10 in a child process under a memory limit (RLIMIT_AS) and a wall-clock
limit: it must end quickly with a clear one-line refusal, never with a hang, a MemoryError or the
kernel's OOM killer.

The budget's default is half of the smallest of RAM, the cgroup limit and RLIMIT_AS, so the
children run with sinefit's defaults: no --memory given.
"""

import bz2  # noqa: F401 - the bz2 codec must exist for the .npz bomb
import io
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

LIMIT = 2 << 30  # address space of each child: the import of torch takes ~0.7 GB of it
WALL = 300.0  # seconds: guards against a hang, not against a loaded machine (a refusal takes ~the import time)


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run_bomb(args, cwd: Path) -> tuple[int, str, str, float]:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    env.pop("SINEFIT_MEMORY", None)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "sinefit", *args], cwd=cwd, env=env, preexec_fn=_limited,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=WALL)
    except subprocess.TimeoutExpired:
        proc.kill()  # SIGKILL: the old SVD-on-inf spin ignored SIGINT and SIGTERM
        proc.communicate()
        pytest.fail(f"{args}: still running after {WALL} s")
    return proc.returncode, out, err, time.monotonic() - start


def _bz2_npz(path: Path) -> None:
    """A few kB of bzip2 declaring two 2^29-element float64 arrays (4 GiB each when decompressed)."""
    n = 1 << 29
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as z:
        for name in ("x", "y"):
            with z.open(f"{name}.npy", "w", force_zip64=True) as f:
                f.write(header.getvalue())
                f.write(bytes(1 << 20))  # the first MiB of the 4 GiB of zeros: enough to show the bomb


def _header_only_npy(path: Path) -> None:
    """A (10, 10^12) float64 header with no data: 72.8 TiB claimed."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10, 10**12)})


BOMBS = [
    ("svd-on-inf", ["fit", "--domain", "-1e19,1e19"], None, 2, ["x^3 at x = -1e+19 overflows float32"]),
    ("degree-78", ["fit", "--degree", "78"], None, 2, ["x^78", "--degree 77 at most"]),
    ("fifo-data", ["fit", "--data", "pipe.csv"], "fifo", 2, ["pipe.csv", "FIFO"]),
    ("zero-config", ["fit", "--config", "zero.toml"], "zero", 2, ["zero.toml", "character device"]),
    ("npz-bzip2", ["fit", "--data", "bomb.npz"], _bz2_npz, 2, ["bomb.npz", "bzip2"]),
    ("npy-header-only", ["fit", "--data", "claim.npy", "--columns", "0,1"], _header_only_npy, 2,
     ["claim.npy", "declares shape (10, 1000000000000)"]),
    ("long-csv-line", ["fit", "--data", "wide.csv"], "wide", 2, ["wide.csv", "line 1", "longer than"]),
    ("degree-1000-legendre", ["fit", "--degree", "1000", "--samples", "1000000", "--basis", "legendre"], None, 2,
     ["memory budget", "points fit at degree 1000"]),
    ("sigmoid-chain", ["fit", "--target", "sigmoid(" * 49 + "x" + ")" * 49, "--samples", "20000000"], None, 2,
     ["memory budget"]),
]


@pytest.mark.parametrize("name, args, make, code, words", BOMBS, ids=[b[0] for b in BOMBS])
def test_bomb_is_refused_quickly_in_bounded_memory(name, args, make, code, words, tmp_path):
    if make == "fifo":
        os.mkfifo(tmp_path / "pipe.csv")
    elif make == "zero":
        (tmp_path / "zero.toml").symlink_to("/dev/zero")
    elif make == "wide":
        (tmp_path / "wide.csv").write_text("1," * (2 << 20) + "1\n")
    elif make is not None:
        make(tmp_path / args[2])
    got, out, err, seconds = run_bomb([*args, "--out", str(tmp_path / "runs")], tmp_path)
    print(f"{name}: exit {got} in {seconds:.1f} s")  # the report's numbers (pytest -s)
    assert got == code, err
    assert "Traceback" not in err and "MemoryError" not in err and "internal error" not in err, err
    if code:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sinefit: error: "), err
        assert all(w in lines[0] for w in words), lines[0]
    else:
        history = (tmp_path / "runs" / "fit-0001" / "history.csv").stat().st_size
        assert history < 8 << 20, history  # 10^9 steps: megabytes, not 8 GB
