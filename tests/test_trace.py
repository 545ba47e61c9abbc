"""--trace: the first steps in full; every number equals autograd's and the run's own."""

import csv

import numpy as np
import pytest
import torch

from sinefit import fit
from sinefit.cli import main
from sinefit.config import ConfigError


def test_trace_gradients_are_autogrades_and_the_steps_are_the_runs():
    r = fit(trace=5, steps=20)
    tr = r.trace
    np.testing.assert_array_equal(tr.losses, r.losses[:5])  # the run's own losses, not a rerun's
    np.testing.assert_array_equal(tr.before[1:], tr.after[:-1])
    np.testing.assert_array_equal(tr.before[0], r.initial.coefficients)
    x = torch.linspace(-torch.pi, torch.pi, 1000)
    y = torch.sin(x)
    for i in range(5):
        a, b, c, d = (torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in tr.before[i])
        loss = (a * x**3 + b * x**2 + c * x + d - y).pow(2).sum()
        loss.backward()
        assert loss.item() == tr.losses[i]
        np.testing.assert_array_equal(tr.grads[i], [a.grad.item(), b.grad.item(), c.grad.item(), d.grad.item()])
        np.testing.assert_array_equal(tr.after[i], (torch.tensor(tr.before[i], dtype=torch.float32)
                                                    - 1e-6 * torch.tensor(tr.grads[i], dtype=torch.float32)).double())


@pytest.mark.parametrize("settings", [dict(optimizer="adam", loss="huber"), dict(basis="legendre", dtype="float64"),
                                      dict(loss="mse", order="ascending", degree=2)])
def test_trace_matches_autograd_in_the_neighbourhood(settings):
    r = fit(trace=3, steps=3, **settings)
    auto = fit(trace=3, steps=3, grad="autograd", engine="per-sample", **settings)
    np.testing.assert_allclose(r.trace.grads, auto.trace.grads, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(r.trace.losses, r.losses[:3]) if r.engine.startswith("per-sample") else None


def test_cli_prints_the_trace_and_writes_trace_csv(tmp_path, capsys):
    assert main(["fit", "--out", str(tmp_path), "--trace", "2", "--steps", "10", "--order", "ascending"]) == 0
    out = capsys.readouterr().out
    r = fit(trace=2, steps=10, order="ascending")
    names = {"a": 0, "b": 1, "c": 2, "d": 3}  # ascending: a multiplies x^0
    lines = out.splitlines()
    step0 = lines.index(f"step 0: loss = Σ(ŷ-y)² = {r.trace.losses[0]:.9g}")
    assert [line.split()[0] for line in lines[step0 + 1 : step0 + 5]] == ["grad_a", "grad_b", "grad_c", "grad_d"]
    assert "grad_d = Σ 2(ŷ-y)·x^3" in out and "grad_a = Σ 2(ŷ-y) =" in out
    assert out.index("step 1: loss") < out.index("    step            loss")  # the trace, then the table
    with open(tmp_path / "fit-0001" / "trace.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["step"]) for row in rows] == [0, 1]
    for i, row in enumerate(rows):
        assert float(row["loss"]) == r.trace.losses[i]
        for name, j in names.items():  # column j of the arrays (highest power first) is named by order
            assert float(row[f"grad_{name}"]) == r.trace.grads[i, 3 - j]
            assert float(row[f"next_{name}"]) == r.trace.after[i, 3 - j]


def test_trace_refuses_what_it_cannot_show():
    with pytest.raises(ConfigError, match="--trace: shows the steps of an update rule"):
        fit(trace=3, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="--trace: must be a whole number from 0 to 10000"):
        fit(trace=-1)
