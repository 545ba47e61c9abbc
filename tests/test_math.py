"""Hand-written gradients, the least-squares optimum and the closed-form gd path, against oracles."""

import numpy as np
import pytest
import torch

from sinefit import analysis, losses, model, optim, train
from sinefit.objective import PerSample

SSE = losses.get("sse")


@pytest.mark.parametrize("degree", range(9))
def test_manual_gradient_equals_autograd(degree):
    gen = torch.Generator().manual_seed(degree)
    x = torch.rand(200, generator=gen, dtype=torch.float64) * 4 - 2
    y = torch.sin(3 * x)
    theta = torch.randn(5, degree + 1, generator=gen, dtype=torch.float64)
    columns = model.power_columns(x, degree)

    residual = model.evaluate(theta, columns) - y
    manual = model.gradient(columns, losses.sse_grad(residual))

    leaf = theta.clone().requires_grad_(True)
    losses.sse(model.evaluate(leaf, columns) - y).sum().backward()
    torch.testing.assert_close(manual, leaf.grad, rtol=1e-9, atol=1e-12 * float(leaf.grad.abs().max()))


def test_evaluate_matches_numpy_polyval():
    x = torch.linspace(-2, 2, 50, dtype=torch.float64)
    theta = torch.tensor([[0.5, -1.0, 2.0, 0.25, 3.0]], dtype=torch.float64)
    got = model.evaluate(theta, model.power_columns(x, 4))[0].numpy()
    np.testing.assert_allclose(got, np.polyval(theta[0].numpy(), x.numpy()), rtol=1e-13)


@pytest.mark.parametrize("degree", [0, 1, 3, 5])
def test_least_squares_optimum_matches_numpy_polynomial(degree):
    x = np.linspace(-np.pi, np.pi, 1000)
    y = np.sin(x)
    q = analysis.solve(analysis.design_matrix(x, degree), y)
    coef, (ssr, *_) = np.polynomial.polynomial.polyfit(x, y, degree, full=True)
    assert q.optimum_loss == pytest.approx(float(ssr[0]), rel=1e-9)
    np.testing.assert_allclose(q.optimum[::-1], coef, rtol=1e-7, atol=1e-12)


def test_hessian_eigenvalues_match_autograd_hessian():
    x = torch.linspace(-np.pi, np.pi, 1000, dtype=torch.float64)
    y = torch.sin(x)
    columns = model.power_columns(x, 3)
    H = torch.autograd.functional.hessian(lambda t: losses.sse(model.evaluate(t[None], columns) - y)[0], torch.zeros(4, dtype=torch.float64))
    q = analysis.solve(analysis.design_matrix(x.numpy(), 3), y.numpy())
    np.testing.assert_allclose(np.sort(q.eigenvalues), np.linalg.eigvalsh(H.numpy()), rtol=1e-9)
    assert q.stable_lr == pytest.approx(2 / np.linalg.eigvalsh(H.numpy()).max(), rel=1e-9)


def test_closed_form_gd_gap_matches_the_iteration_step_for_step():
    x = torch.linspace(-np.pi, np.pi, 1000, dtype=torch.float64)
    y = torch.sin(x)
    q = analysis.solve(analysis.design_matrix(x.numpy(), 3), y.numpy())
    theta0 = torch.tensor([[1.5, -0.3, -2.2, 0.6]], dtype=torch.float64)
    lr = 5e-6
    run = train.train(theta0, PerSample(model.power_columns(x, 3), y, SSE), optim.GradientDescent(lr), 300)
    predicted = q.optimum_loss + q.gd_gap(theta0[0].numpy(), lr, np.arange(301))
    np.testing.assert_allclose(run.losses[:, 0].numpy(), predicted, rtol=1e-9)


def test_steps_to_reach_is_the_first_step_below_the_target():
    x = np.linspace(-np.pi, np.pi, 1000)
    q = analysis.solve(analysis.design_matrix(x, 3), np.sin(x))
    theta0 = np.array([1.5, -0.3, -2.2, 0.6])
    target = 1e-3 * q.optimum_loss
    n = q.gd_steps_to(theta0, 1e-6, target)
    gaps = q.gd_gap(theta0, 1e-6, np.array([n - 1, n], dtype=float))
    assert gaps[0] > target >= gaps[1]
    assert q.gd_steps_to(theta0, 1.01 * q.stable_lr, target) == float("inf")


def test_gd_with_a_stable_lr_reaches_the_numpy_optimum():
    from sinefit import fit

    x = np.linspace(-np.pi, np.pi, 1000)
    _, (ssr, *_) = np.polynomial.polynomial.polyfit(x, np.sin(x), 3, full=True)
    r = fit(dtype="float64", lr=7e-6, steps=5000)
    assert r.status == "completed"
    assert r.final_loss == pytest.approx(float(ssr[0]), rel=1e-6)
    assert r.advice.converged


def test_a_diverging_row_does_not_spoil_its_neighbours():
    x = torch.linspace(-np.pi, np.pi, 1000, dtype=torch.float64)
    y = torch.sin(x)
    columns = model.power_columns(x, 3)
    theta0 = torch.tensor([[1.5, -0.3, -2.2, 0.6]], dtype=torch.float64)
    lrs = torch.tensor([[1e-6], [1e-4], [5e-6]], dtype=torch.float64)
    batch = train.train(theta0.repeat(3, 1), PerSample(columns, y, SSE), optim.GradientDescent(lrs), 400)
    assert batch.diverged_at.tolist()[0] == -1 and batch.diverged_at.tolist()[2] == -1
    assert batch.diverged_at[1] > 0
    for row, lr in ((0, 1e-6), (2, 5e-6)):
        alone = train.train(theta0, PerSample(columns, y, SSE), optim.GradientDescent(lr), 400)
        torch.testing.assert_close(batch.theta[row], alone.theta[0], rtol=1e-12, atol=0)
        torch.testing.assert_close(batch.losses[:, row], alone.losses[:, 0], rtol=1e-12, atol=0)
    d = int(batch.diverged_at[1])
    assert torch.isfinite(batch.theta[1]).all()
    assert batch.final_loss[1] == batch.losses[d - 1, 1]


@pytest.mark.parametrize("enough", [1, 2, 4, 11, 16, 17, 40])
def test_distinct_count_agrees_with_np_unique(enough):
    from sinefit.data import distinct_count

    rng = np.random.default_rng(enough)
    for values in (rng.integers(0, k, 500).astype(np.float64) for k in (1, 2, 3, 5, 12, 30, 100)):
        assert distinct_count(values, enough) == min(np.unique(values).size, enough)
    odd = np.array([0.0, -0.0, np.nan, 1.0, np.nan, 0.0])  # -0.0 is 0.0; NaNs count once, as np.unique
    assert distinct_count(odd, enough) == min(np.unique(odd).size, enough)
    assert distinct_count(np.array([]), enough) == 0


@pytest.mark.parametrize("degree, lo, hi, tol", [(3, -np.pi, np.pi, 1e-13), (7, 0.0, 10.0, 1e-9), (5, 1960.0, 2020.0, 1e-3)])
def test_spectrum_from_the_solves_factorisation_equals_the_svd_of_x(degree, lo, hi, tol):
    rng = np.random.default_rng(degree)
    x = np.sort(rng.uniform(lo, hi, 3000))
    X = np.vander(x, degree + 1)
    q = analysis.solve(X, np.sin(x), x=x, basis="power")
    _, s, Vt = np.linalg.svd(X, full_matrices=False)  # the oracle: an SVD of X itself
    np.testing.assert_allclose(q.singular_values, s, rtol=tol)
    well = s > s[0] * 1e-6  # directions of distinct, well-separated singular values agree up to sign
    np.testing.assert_allclose(np.abs(np.sum(q.directions[:, well] * Vt.T[:, well], axis=0)), 1.0, atol=1e-8)
