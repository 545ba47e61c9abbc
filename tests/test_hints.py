"""Hints are promises: for each situation, follow the hint literally and check that what it promised happens.

The matrix spans optimizers x bases x targets and data (x near 0 and far from 0), degrees 0-20,
and fits that converged, stalled, diverged or were interrupted. Small sample counts and the stats
engine (float64) keep it cheap; a few float32 per-sample cases keep the seed's arithmetic honest.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from sinefit import analysis, fit, hints, report
from sinefit.train import StopFlag

YEARS = np.arange(1960.0, 2021.0)
ARRAYS = {
    "years": (YEARS, 0.01 * (YEARS - 1990) ** 2 + 0.3 * (YEARS - 1990) + 300 + np.sin(YEARS)),
    "zero-ten": (np.linspace(0, 10, 120), np.exp(-np.linspace(0, 10, 120) / 3) * np.cos(np.linspace(0, 10, 120))),
}

F64 = dict(samples=120, dtype="float64")
SITUATIONS: list[tuple[str, dict]] = []


def add(name, **settings):
    SITUATIONS.append((name, settings))


# The seed and its neighbourhood (x near 0).
add("seed, stalled", samples=200, steps=2000)
add("seed, float32 momentum stalled", samples=200, optimizer="momentum", steps=50)
add("seed, float32 nesterov diverged", samples=200, optimizer="nesterov", lr=6e-6, steps=300)
add("seed, float32 legendre", samples=200, basis="legendre", degree=5, steps=20)
for degree in (0, 1, 2, 3, 5, 8, 12, 20):
    add(f"gd power degree {degree}", degree=degree, steps=300, **F64)
    add(f"gd legendre degree {degree}", degree=degree, basis="legendre", lr="auto", steps=30, **F64)
for degree in (3, 6, 10):
    add(f"chebyshev momentum degree {degree}", degree=degree, basis="chebyshev", optimizer="momentum", steps=40, **F64)
    add(f"nesterov power degree {degree}", degree=degree, optimizer="nesterov", steps=60, **F64)
    add(f"momentum diverged degree {degree}", degree=degree, optimizer="momentum", lr=1.0, steps=200, **F64)
    add(f"gd diverged degree {degree}", degree=degree, lr=1.0, steps=200, **F64)
for opt, lr in (("adam", 0.05), ("rmsprop", 0.01), ("lbfgs", 1.0)):
    add(f"{opt} stalled", optimizer=opt, lr=lr, steps=30, **F64)
    add(f"{opt} legendre degree 7", optimizer=opt, lr=lr, basis="legendre", degree=7, steps=30, **F64)
add("lbfgs converged", optimizer="lbfgs", steps=200, **F64)
add("huber lbfgs stalled", loss="huber", optimizer="lbfgs", steps=3, samples=120)
add("huber gd stalled", loss="huber", steps=100, samples=120)
for degree in (0, 3, 9, 15):
    add(f"exact degree {degree}", optimizer="exact", degree=degree, **F64)
add("exact noisy degree 4", optimizer="exact", degree=4, noise=0.1, target="sin(x) + 0.1*x**2", **F64)
add("exact noisy degree 12", optimizer="exact", degree=12, noise=0.1, **F64)
add("converged by steps", degree=1, lr="auto", steps=5000, **F64)
add("mse gd", loss="mse", steps=100, **F64)
add("interrupted gd", steps=500, stop=True, **F64)
add("interrupted momentum", optimizer="momentum", steps=500, stop=True, **F64)
# Targets and domains far from zero.
add("exp on [0, 2]", target="exp(x)", domain=(0.0, 2.0), steps=200, **F64)
add("domain [10, 12] degree 2", target="cos(x)", domain=(10.0, 12.0), degree=2, steps=200, **F64)
add("domain [10, 12] degree 4 momentum", target="cos(x)", domain=(10.0, 12.0), degree=4, optimizer="momentum", steps=200, **F64)
add("domain [50, 60] legendre", target="sin(x)", domain=(50.0, 60.0), degree=6, basis="legendre", lr="auto", steps=20, **F64)
add("domain [0, 10] degree 4", target="exp(-x/3)*cos(x)", domain=(0.0, 10.0), degree=4, steps=2000, **F64)
# Data files' worth of points (arrays), near and far from zero.
for data in ARRAYS:
    for degree in (1, 2, 4):
        add(f"{data} gd degree {degree}", data=data, degree=degree, steps=300, dtype="float64")
    add(f"{data} exact degree 3", data=data, degree=3, optimizer="exact", dtype="float64")
    add(f"{data} float32 exact degree 2", data=data, degree=2, optimizer="exact")
    add(f"{data} nesterov degree 2", data=data, degree=2, optimizer="nesterov", steps=100, dtype="float64")
    add(f"{data} adam degree 2", data=data, degree=2, optimizer="adam", lr=0.1, steps=50, dtype="float64")
add("rank-deficient", data="rank", degree=3, optimizer="exact", dtype="float64")


def _run(settings):
    s = dict(settings)
    stop, on_start = None, None
    if s.pop("stop", False):  # Ctrl-C as training begins: the run stops at step 0
        stop = StopFlag()

        def on_start(_cfg):
            stop.set = True

    arrays = {}
    if "data" in s:
        name = s.pop("data")
        if name == "rank":
            arrays = dict(x=np.array([1.0, np.nextafter(1.0, 2.0), 2.0, 3.0, 2.0, 3.0]),
                          y=np.array([0.0, 1.0, 2.0, 1.0, 2.5, 0.5]))  # fmt: skip
        else:
            arrays = dict(x=ARRAYS[name][0], y=ARRAYS[name][1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(stop=stop, on_start=on_start, **arrays, **s), arrays


def _follow(result, hint, arrays):
    settings = {**result.config.to_dict(), **hint.settings}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(**arrays, **settings)


def test_the_matrix_is_big_enough():
    assert len(SITUATIONS) >= 60


@pytest.mark.parametrize("name,settings", SITUATIONS, ids=[n for n, _ in SITUATIONS])
def test_following_the_hint_keeps_its_promise(name, settings):
    r, arrays = _run(settings)
    h = hints.suggest(r)
    text = report.hint(r)
    assert text == h.text
    assert "never" not in text and "--steps never" not in text
    for n in re.findall(r"--steps (\d+)", text):
        assert int(n) <= analysis.PRACTICAL_STEPS
    for arg in h.args:  # the hint names its very arguments
        if arg.startswith("--"):
            assert arg in text
    if h.promise == "none":
        assert h.settings == {} and r.advice.converged
        return
    assert h.settings, f"{name}: a hint with a promise must say what to change"
    again = _follow(r, h, arrays)
    if h.promise == "converged":
        assert again.diverged_at is None, f"{name}: {text} -> diverged"
        assert again.advice.converged, f"{name}: {text} -> {again.final_loss} vs {again.optimum_loss}"
    elif h.promise == "lower-bic":
        assert again.statistics.bic < hints.degree_bic(r, r.config.degree)
    elif h.promise == "full-rank":
        assert again.quadratic.full_rank
    else:
        pytest.fail(f"unknown promise {h.promise}")
    if not r.advice.converged and math.isfinite(r.advice.ratio):
        assert again.final_loss < r.final_loss or again.advice.converged


def test_lr_auto_line_reads_as_a_sentence_when_no_step_count_reaches_the_target():
    """Degree 25 on the power basis: lr auto cannot reach 1e-6 of the optimum in any practical count."""
    from sinefit import fit, report

    hopeless = fit(degree=25, lr="auto", steps=5, dtype="float64")
    assert "no practical number of steps reaches 1e-6" in report.auto_lr_text(hopeless)
    easy = fit(degree=3, basis="legendre", lr="auto", steps=5, dtype="float64")
    text = report.auto_lr_text(easy)
    assert text.endswith("steps reach 1e-6 of the optimum") and "about " in text


@pytest.mark.parametrize("settings, float64", [
    ({"target": "sin(x) + 0.1*x**2", "noise": 0.1, "degree": 5}, True),  # the README's example, power basis
    ({"target": "tanh(2*x)", "degree": 5}, True),
    ({}, False),  # the seed: float32 keeps the promise (the steps move the coefficients by 27 units)
    ({"degree": 4}, False),
])  # fmt: skip
def test_a_step_count_promised_at_this_lr_comes_true_in_the_dtype_it_names(settings, float64):
    """Followed literally: '--steps N [--dtype float64] at this lr would get within 0.1%'. A newcomer
    followed '--steps 317597' in float32 and ended at 1 + 0.0018, told the same hint again; float32's
    updates had rounded away (in float64 the same steps reach 0.035%)."""
    import re
    import warnings

    from sinefit import fit, report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(**settings)
        text = report.fit_report(r)
        said = re.search(r"--steps (\d+)( --dtype float64)? at this lr (?:would get|gets) within 0.1%", text)
        assert said, text
        assert bool(said.group(2)) == float64, said.group(0)
        followed = fit(**settings, steps=int(said.group(1)), lr=r.lr, **({"dtype": "float64"} if float64 else {}))
    assert followed.advice.converged and followed.advice.gap <= 1e-3, (said.group(0), followed.advice.gap)
