"""Notebooks: report, figures, rich display, table and live figure from the result in memory; the tour notebook runs."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import sinefit
from sinefit import fit
from sinefit.errors import InputError
from sinefit.io import display

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def seed():
    return fit()


def test_report_and_figures_without_a_run_directory(seed, tmp_path, monkeypatch):
    from sinefit import report

    monkeypatch.chdir(tmp_path)
    assert seed.report() == report.fit_report(seed)
    for kind in ("overlay", "loss", "coefficients", "convergence", "seed"):
        fig = seed.plot(kind)
        assert isinstance(fig, Figure) and fig.axes
    loss_axis = seed.plot("loss").axes[0]
    plotted = max((line.get_ydata() for line in loss_axis.get_lines()), key=len)
    np.testing.assert_allclose(np.asarray(plotted, dtype=float)[-1], seed.final_loss, rtol=1e-12)
    assert list(tmp_path.iterdir()) == []  # nothing written
    with pytest.raises(InputError, match="kind: 'pie' is not one of overlay, loss"):
        seed.plot("pie")


def test_rich_display_holds_the_key_lines_and_two_figures_and_stays_light(seed):
    page = seed._repr_html_()
    assert page.count("<svg") == 2 and page.count("</svg>") == 2
    assert "best possible loss" in page and "Hint:" in page and "Fitted:" in page
    assert len(page.encode()) < 200_000  # measured ~170 kB for the seed


def test_to_frame_is_the_history(seed, monkeypatch):
    frame = seed.to_frame()
    np.testing.assert_array_equal(frame["loss"].to_numpy(), seed.losses)
    assert list(frame.index[:2]) == [0, 1]
    mb = fit(batch_size=100, steps=20).to_frame()
    assert list(mb.columns) == ["loss", "batch_loss"] and np.isnan(mb["batch_loss"].iloc[-1])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"to_frame\(\) needs pandas, which is not installed: pip install pandas"):
        seed.to_frame()


def test_live_figure_redraws_at_a_bounded_rate_and_ends_on_the_final_state():
    r = fit(steps=300, live=True)  # outside a notebook: nothing is displayed, nothing breaks
    assert r.final_loss == fit(steps=300).final_loss  # watching changes no number
    x = np.linspace(-1, 1, 50)
    live = display.LiveFigure(x, np.sin(x), lambda theta, xs: xs * 0 + theta[0], interval=0.05)
    start = time.monotonic()
    for t in range(3000):
        live(t, np.array([0.1]), 1.0 / (t + 1))
    elapsed = time.monotonic() - start
    assert 1 <= live.draws <= elapsed / 0.05 + 2


def test_dir_shows_the_library():
    names = dir(sinefit)
    for name in ("fit", "load", "sweep", "FitResult", "SweepResult", "Polynomial", "Coefficients"):
        assert name in names
    assert callable(sinefit.sweep) and sinefit.sweep(seed=[0, 1], steps=5).rows[0]["seed"] == 0


def test_the_tour_notebook_runs_top_to_bottom():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "examples" / "tour.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()  # fmt: skip
    text = {i: "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
            for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}  # fmt: skip
    html = [o["data"]["text/html"] for cell in notebook.cells for o in cell.get("outputs", [])
            if "text/html" in o.get("data", {})]  # fmt: skip
    everything = "\n".join(text.values())
    assert "95.7926" in everything  # the seed's final loss, printed by the first cells
    assert "21.64x the optimum" in everything  # why it stops
    assert "4.42704" in everything  # the fixes reach the optimum
    assert "12.2866" in everything  # the tutorial's order: polynomial_tensor.py's final loss
    assert "noise floor" in everything  # mini-batches
    assert any("<svg" in h for h in html)  # the rich display
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images  # the live figure's final state, and plots
