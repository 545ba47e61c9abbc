"""A design matrix that overflows the working dtype is refused before any factorisation.

Oracle: the dtype's own range (numpy's finfo and exact powers in Python floats), not the code's.
Each refusal is one line naming the x and the power, nothing on stdout from LAPACK, and the
advice it gives (a lower degree, float64) is followed and works.
"""

import math

import mpmath

import numpy as np
import pytest
import torch

import sinefit
from sinefit import finite
from sinefit.cli import main
from sinefit.errors import InputError


def _refused(args, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["fit", *args, "--steps", "3", "--quiet", "--out", str(tmp_path / "runs")])
    out, err = capfd.readouterr()  # fd-level: LAPACK's xerbla writes to fd 1 directly
    assert code == 2, err
    assert "illegal value" not in out + err and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sinefit: error: "), err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    return lines[0]


def _highest_finite_power(x: float, dtype) -> int:
    """Oracle: the largest k with |x|^k (x rounded to the dtype) below its max, in 60-digit arithmetic."""
    big, base = mpmath.mpf(float(np.finfo(dtype).max)), abs(mpmath.mpf(float(dtype(x))))
    k = 0
    while base ** (k + 1) <= big:
        k += 1
    return k


@pytest.mark.parametrize("dtype, degree", [("float32", 78), ("float64", 650)])
def test_degree_past_the_dtype_is_refused_with_the_degree_that_fits(dtype, degree, tmp_path, capfd, monkeypatch):
    line = _refused(["--degree", str(degree), "--dtype", dtype], tmp_path, capfd, monkeypatch)
    fits = _highest_finite_power(math.pi, np.float32 if dtype == "float32" else np.float64)
    assert f"x^{fits + 1} at x = -3.14159 overflows {dtype}" in line and f"--degree {fits} at most" in line
    assert "--basis legendre" in line and (("--dtype float64" in line) == (dtype == "float32"))
    # the advice holds: the degree named fits, and so does a mapped basis at the refused degree
    t = torch.linspace(-math.pi, math.pi, 50, dtype=getattr(torch, dtype))
    assert bool(torch.isfinite(finite.design("power", t, fits, (-math.pi, math.pi), "t")).all())
    assert bool(torch.isfinite(finite.design("legendre", t, degree, (-math.pi, math.pi), "t")).all())


def test_one_huge_row_of_a_csv_names_its_x_and_float64_works(tmp_path, capfd, monkeypatch):
    rows = "".join(f"{i},{math.sin(i)}\n" for i in range(50)) + "1e13,0\n"  # 1e13^3 = 1e39: inf in float32
    (tmp_path / "pts.csv").write_text("x,y\n" + rows)
    line = _refused(["--data", "pts.csv"], tmp_path, capfd, monkeypatch)
    assert "pts.csv: x^3 at x = 1e+13 overflows float32" in line and "--dtype float64" in line
    r = sinefit.fit(data=str(tmp_path / "pts.csv"), dtype="float64", optimizer="exact")  # the advice works
    assert np.all(np.isfinite(r.model.coefficients))


@pytest.mark.parametrize(
    "args, words",
    [
        (["--domain", "-1e19,1e19"], ["x^3 at x = -1e+19 overflows float32"]),
        (["--domain", "-1e300,1e300", "--dtype", "float64"], ["x^2 at x = -1e+300 overflows float64"]),
        (["--domain", "-1e300,1e300", "--dtype", "float64", "--engine", "per-sample"], ["overflows float64"]),
    ],
)
def test_generated_domains_that_overflow(args, words, tmp_path, capfd, monkeypatch):
    line = _refused(args, tmp_path, capfd, monkeypatch)
    assert all(w in line for w in words), line


@pytest.mark.parametrize(
    "name, array, words",
    [
        ("huge.npy", np.array([[1e300, 0.0], [1, 1], [2, 2], [3, 3]]), ["huge.npy", "beyond float32's range"]),
        ("u64.npy", np.array([[2**64 - 1, 0], [1, 1], [2, 2], [3, 3]], dtype=np.uint64), ["x^2 at x = 1.84467e+19"]),
    ],
)
def test_npy_values_beyond_float32(name, array, words, tmp_path, capfd, monkeypatch):
    np.save(tmp_path / name, array)
    line = _refused(["--data", name], tmp_path, capfd, monkeypatch)
    assert all(w in line for w in words), line


def test_float64_data_whose_powers_overflow(tmp_path, capfd, monkeypatch):
    np.save(tmp_path / "huge.npy", np.array([[1e300, 0.0], [1, 1], [2, 2], [3, 3]]))
    line = _refused(["--data", "huge.npy", "--dtype", "float64"], tmp_path, capfd, monkeypatch)
    assert "x^2 at x = 1e+300 overflows float64" in line and "--basis legendre" in line


@pytest.mark.parametrize("settings, words", [
    (dict(degree=650), r"x\^621 at x = -3.14159 overflows float64 .*--degree 620 at most"),
    (dict(degree=3, domain=(-1e300, 1e300)), r"x\^2 at x = -?1e\+300 overflows float64"),
])
def test_streamed_points_are_checked_before_the_factorisation(settings, words, monkeypatch):
    monkeypatch.setattr(sinefit.api, "SAMPLE", 64)  # stream 2000 points through the summary
    monkeypatch.setattr(sinefit.api, "CHUNK", 500)
    with pytest.raises(InputError, match=words):
        sinefit.fit(dtype="float64", samples=2000, steps=1, **settings)


def test_check_columns_finds_the_lowest_failing_power():
    x = torch.tensor([1.0, -1e20, 3.0], dtype=torch.float32)
    cols = torch.stack([x**k for k in (4, 3, 2, 1, 0)])  # 1e40 (x^2) is already inf in float32
    with pytest.raises(finite.NotFinite, match=r"x\^2 at x = -1e\+20 .*--degree 1 at most"):
        finite.check_columns(cols, x, 4, "power", "d")
    finite.check_columns(torch.stack([x, torch.ones_like(x)]), x, 1, "power", "d")  # finite: no error
