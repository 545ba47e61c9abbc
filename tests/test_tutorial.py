"""Each script of PyTorch's "Learning PyTorch with Examples" as one sinefit command (the README's table).

Every test runs the command as the README shows it (in process, with --json) and compares every
printed loss and the final a, b, c, d of y = a + b x + c x^2 + d x^3 with the script's loop written
out literally (tutorial_reference.py): bit for bit where the arithmetic is the same, else within
the measured tolerance, with the reason.
"""

import json
import math
import shlex

import numpy as np
import pytest
import torch

import tutorial_reference as T
from sinefit import fit
from sinefit.cli import main

TUTORIAL = "--samples 2000 --order ascending"
COMMANDS = {
    "polynomial_numpy": f"sinefit fit {TUTORIAL} --init numpy --dtype float64 --engine per-sample",
    "polynomial_tensor": f"sinefit fit {TUTORIAL} --init randn-ascending",
    "polynomial_autograd": f"sinefit fit {TUTORIAL} --init randn-ascending --grad autograd",
    "polynomial_nn": f"sinefit fit {TUTORIAL} --init linear --grad autograd",
    "polynomial_optim": f"sinefit fit {TUTORIAL} --init linear --grad autograd --optimizer rmsprop --lr 1e-3",
    "polynomial_module": f"sinefit fit {TUTORIAL} --init randn-ascending --grad autograd",
}


def run(script, tmp_path, capsys):
    argv = shlex.split(COMMANDS[script])[1:]
    assert main([*argv, "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    return [tuple(row) for row in summary["logged"]], list(summary["coefficients"].values()), summary


def test_the_readme_table_lists_these_commands():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for script, command in COMMANDS.items():
        assert f"| {script}.py | `{command}` |" in readme


@pytest.mark.parametrize("script", ["polynomial_tensor", "polynomial_autograd"])
def test_bit_for_bit(script, tmp_path, capsys):
    printed, coefficients = getattr(T, script)()
    logged, ours, summary = run(script, tmp_path, capsys)
    assert summary["config"]["order"] == "ascending" and list(summary["coefficients"]) == ["a", "b", "c", "d"]
    assert logged == printed  # every printed loss, to the last bit
    assert ours == coefficients


def test_module_trajectory_bit_for_bit_its_printed_loss_to_rounding(tmp_path, capsys):
    # SGD and autograd through a + b x + c x^2 + d x^3 are sinefit's arithmetic: the coefficients
    # agree to the last bit at every step. MSELoss(reduction='sum') sums the squares in another
    # order than .pow(2).sum() (which the seed, and sinefit, print): those numbers differ by ulps.
    printed, coefficients = T.polynomial_module()
    logged, ours, _ = run("polynomial_module", tmp_path, capsys)
    assert ours == coefficients
    assert [t for t, _ in logged] == [t for t, _ in printed]
    np.testing.assert_allclose([v for _, v in logged], [v for _, v in printed], rtol=2e-6, atol=0)  # measured 6.6e-7


def test_numpy_to_float64_rounding(tmp_path, capsys):
    # np.linspace and torch.linspace place x by different formulas, and numpy sums pairwise:
    # float64 rounding apart (measured 6.9e-16 relative in the losses, 2.1e-16 in the coefficients).
    printed, coefficients = T.polynomial_numpy()
    logged, ours, _ = run("polynomial_numpy", tmp_path, capsys)
    np.testing.assert_allclose([v for _, v in logged], [v for _, v in printed], rtol=1e-14, atol=0)
    np.testing.assert_allclose(ours, coefficients, rtol=1e-14, atol=0)


def test_nn_to_float32_rounding(tmp_path, capsys):
    # nn.Linear's forward is one addmm over (x, x^2, x^3) and its weight gradient a matmul: the same
    # sums in another order than a + b x + c x^2 + d x^3 (measured 4.5e-7 relative at most).
    printed, coefficients = T.polynomial_nn()
    logged, ours, _ = run("polynomial_nn", tmp_path, capsys)
    np.testing.assert_allclose([v for _, v in logged], [v for _, v in printed], rtol=2e-6, atol=0)
    np.testing.assert_allclose(ours, coefficients, rtol=2e-6, atol=0)


def test_rmsprop_matches_until_its_late_steps_magnify_rounding(tmp_path, capsys):
    # The nn form's rounding (above, ~4e-7) is all that differs at first. RMSprop divides each
    # gradient by sqrt of its running mean square, so a step is ~lr whatever the gradient's size:
    # once the even coefficients (a, c: 0 in the optimum) hover at 0 with gradients changing sign,
    # a rounding in g can flip a step of ~1e-3. From step ~1300 the two runs wander apart by up to
    # 2.0e-3 of the loss (measured); both end near the same floor (tutorial 8.9352, sinefit 8.9276).
    printed, coefficients = T.polynomial_optim()
    logged, ours, _ = run("polynomial_optim", tmp_path, capsys)
    ref, us = np.array([v for _, v in printed]), np.array([v for _, v in logged])
    np.testing.assert_allclose(us[:12], ref[:12], rtol=5e-6, atol=0)  # steps 99 ... 1199: rounding only
    np.testing.assert_allclose(us, ref, rtol=5e-3, atol=0)
    np.testing.assert_allclose(ours, coefficients, rtol=0, atol=2e-3 * max(map(abs, coefficients)))
    assert abs(us[-1] - ref[-1]) / ref[-1] < 2e-3 and us[-1] < 9.0


def test_rmsprop_in_sinefits_arithmetic_is_bit_for_bit():
    # The cause, isolated: the tutorial's RMSprop loop over a + b x + c x^2 + d x^3 (sinefit's sums)
    # from nn.Linear's start gives sinefit's coefficients to the last bit, step after step.
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 1)
    a = torch.nn.Parameter(layer.bias.detach()[0].clone())
    b, c, d = (torch.nn.Parameter(layer.weight.detach()[0, k].clone()) for k in range(3))
    optimizer = torch.optim.RMSprop([a, b, c, d], lr=1e-3)
    for _ in range(300):
        loss = (a + b * x + c * x**2 + d * x**3 - y).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    r = fit(samples=2000, order="ascending", init="linear", grad="autograd", optimizer="rmsprop", lr=1e-3, steps=300)
    assert r.coefficients.values() == [a.item(), b.item(), c.item(), d.item()]


def test_descending_order_is_not_the_tutorials_sum():
    # The door that was missing: the seed's order sums d x^3 + ... in the other direction and differs.
    printed, _ = T.polynomial_tensor(steps=100)
    r = fit(samples=2000, init="randn-ascending", steps=100)
    assert r.logged[0][1] != printed[0][1]
    assert r.logged[0][1] == pytest.approx(printed[0][1], rel=1e-5)
