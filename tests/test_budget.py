"""The memory budget: parsed as documented, settable by --memory and SINEFIT_MEMORY, and the
refusals' advice (the points and the degree that fit) holds when followed."""

import re

import numpy as np
import pytest

import sinefit
import sinefit.api  # the streaming constants the tests set live there (sinefit imports it lazily)
from sinefit import budget
from sinefit.cli import main
from sinefit.errors import InputError


@pytest.fixture(autouse=True)
def _reset(monkeypatch):
    monkeypatch.delenv(budget.ENV, raising=False)
    budget.configure(None)
    yield
    budget._limit = None  # back to the default (the environment is restored after this fixture)


@pytest.mark.parametrize("text, expected", [("4G", 4 << 30), ("512M", 512 << 20), ("1.5G", 3 << 29),
                                            ("2000000000", 2_000_000_000), ("100MiB", 100 << 20), ("1T", 1 << 40)])
def test_parse(text, expected):
    assert budget.parse(text) == expected


def test_parse_share_of_ram():
    assert budget.parse("25%") == int(budget.machine_memory() * 0.25)


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "1K", "150%", "0%", "4 G B", "nan"])
def test_parse_refuses(text):
    with pytest.raises(InputError, match="--memory"):
        budget.parse(text)


def test_default_is_half_the_machine_and_the_environment_overrides(monkeypatch):
    assert budget.limit() == budget.machine_memory() // 2
    monkeypatch.setenv(budget.ENV, "1G")
    assert budget.limit() == 1 << 30
    budget.configure("2G")  # --memory wins over the environment
    assert budget.limit() == 2 << 30


def test_a_bad_environment_value_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv(budget.ENV, "lots")
    assert main(["fit", "--steps", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "sinefit: error: SINEFIT_MEMORY: expected bytes like 4G, 512M or 2000000000, or a share of RAM like 25%, "
        "got 'lots'"
    )


def test_the_advice_of_a_refusal_holds(tmp_path, capsys):
    code = main(["--memory", "256M", "fit", "--degree", "200", "--samples", "400000", "--basis", "legendre",
                 "--out", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "over the memory budget of 256 MiB" in err, err
    m = re.search(r"at most (\d+) points fit at degree 200, or degree (\d+) at 400000 points", err)
    assert m, err
    points, degree = int(m[1]), int(m[2])
    budget.configure("256M")
    budget.check_design(points, 201, 4, "t")  # what it says fits, fits
    budget.check_design(400000, degree + 1, 4, "t")
    with pytest.raises(budget.OverBudget):
        budget.check_design(points + 1000, 201, 4, "t")
    with pytest.raises(budget.OverBudget):
        budget.check_design(400000, degree + 2, 4, "t")
    # and the estimate is not timid: the points that fit are within 2x of the real largest matrix
    assert points * 201 * 4 < budget.limit() < 20 * points * 201 * 4


def test_a_small_budget_still_fits_the_seed(tmp_path):
    budget.configure("128M")
    r = sinefit.fit(steps=50)
    assert np.isfinite(r.final_loss)


def test_streaming_keeps_a_sample_the_budget_holds(monkeypatch):
    budget.configure("64M")
    monkeypatch.setattr(sinefit.api, "SAMPLE", 1 << 20)
    monkeypatch.setattr(sinefit.api, "CHUNK", 1 << 16)
    r = sinefit.fit(dtype="float64", degree=40, basis="legendre", samples=300_000, steps=5)  # (60: its pass's
    kept = r.dataset.x.numel()  # block buffers alone, 2 x 2 x BLOCK x 63 float64, are about the 64 MiB)
    assert kept < 300_000 and kept * 41 * 8 < budget.limit()


@pytest.mark.parametrize("where", ["before", "after", "after="])
def test_memory_is_accepted_after_the_subcommand_too(tmp_path, capsys, where):
    rest = ["fit", "--degree", "200", "--samples", "100000", "--out", str(tmp_path)]
    argv = {"before": ["--memory", "64M", *rest], "after": [*rest, "--memory", "64M"],
            "after=": [*rest, "--memory=64M"]}[where]  # fmt: skip
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "memory budget of 64 MiB" in err and err.count("\n") == 0, err


def test_a_summarising_pass_checks_its_block_buffers():
    """Two buffers of summary.BLOCK rows x (p+2) columns per thread, and the factors, are checked before the pass."""
    from sinefit import streaming
    from sinefit.summary import BLOCK

    budget.configure("64M")
    x = np.linspace(-1, 1, 100)
    with pytest.raises(budget.OverBudget) as caught:
        streaming.accumulate([(x, np.sin(x))], "legendre", 1000, (-1.0, 1.0), n_threads=2)
    m = re.search(r"degree (\d+) fits", str(caught.value))
    assert m and "memory budget of 64 MiB" in str(caught.value), str(caught.value)
    fits = int(m[1])
    # independent count: 2 threads x 2 buffers (the scratch rows, the QR's copy: tests/test_long_runs.py
    # measures them) x BLOCK x (p + 2) float64, plus 65 (p+1)^2 factors
    need = lambda d: 2 * 2 * BLOCK * (d + 3) * 8 + 65 * (d + 2) ** 2 * 8  # noqa: E731
    assert need(fits) <= 64 * 2**20 < need(fits + 1)
    s = streaming.accumulate([(x, np.sin(x))], "legendre", min(fits, 20), (-1.0, 1.0), n_threads=2)
    assert s.n == 100


def test_predict_input_is_read_packed_and_bounded_by_the_budget(tmp_path, monkeypatch):
    from sinefit.io import predictions

    path = tmp_path / "in.csv"
    xs = np.linspace(-3, 3, 10_000)
    path.write_text("x\n" + "\n".join(repr(float(v)) for v in xs) + "\n")
    np.testing.assert_array_equal(predictions.read_x_csv(path), np.loadtxt(path, skiprows=1))
    monkeypatch.setattr(budget, "limit", lambda: 64 * 1024)  # below --memory's floor: 2730 values
    with pytest.raises(budget.OverBudget, match=r"in\.csv: predicting more than 2730 x values"):
        predictions.read_x_csv(path)
