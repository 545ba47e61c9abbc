"""The stated stable-lr bounds against the oracle: torch.optim.SGD itself, just below and just above them."""

import math
import warnings

import numpy as np
import pytest
import torch

from sinefit import analysis, api, basis, fit, report, stability

CASES = [("gd", None), ("momentum", 0.5), ("momentum", 0.9), ("momentum", 0.99), ("nesterov", 0.5),
         ("nesterov", 0.9), ("nesterov", 0.99)]  # fmt: skip


def _problem(name):
    if name == "seed-cubic":
        x = torch.linspace(-math.pi, math.pi, 200, dtype=torch.float64)
        X = basis.columns("power", x, 3, (-math.pi, math.pi)).T
        y = torch.sin(x)
    elif name == "legendre-5":
        x = torch.linspace(-math.pi, math.pi, 200, dtype=torch.float64)
        X = basis.columns("legendre", x, 5, (-math.pi, math.pi)).T
        y = torch.exp(torch.sin(x))
    else:  # x far from zero
        x = torch.linspace(10.0, 12.0, 150, dtype=torch.float64)
        X = basis.columns("power", x, 2, (10.0, 12.0)).T
        y = torch.cos(x)
    return X, y


def _sgd_gap_growth(X, y, lr, mu, nesterov, steps):
    """(gap after / gap before) of torch.optim.SGD on the sum of squared errors, from a seeded start."""
    q = analysis.solve(X.numpy(), y.numpy())
    theta = torch.randn(X.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    theta.requires_grad_(True)
    opt = torch.optim.SGD([theta], lr=lr, momentum=mu or 0.0, nesterov=nesterov)
    start = q.loss(theta.detach().numpy()) - q.optimum_loss
    for _ in range(steps):
        opt.zero_grad()
        loss = ((X @ theta - y) ** 2).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        end = float(((X @ theta - y) ** 2).sum()) - q.optimum_loss
    return end / start if math.isfinite(end) else math.inf


@pytest.mark.parametrize("problem", ["seed-cubic", "legendre-5", "far-from-zero"])
@pytest.mark.parametrize("optimizer,mu", CASES)
def test_bound_is_where_torch_sgd_starts_to_diverge(problem, optimizer, mu):
    X, y = _problem(problem)
    q = analysis.solve(X.numpy(), y.numpy())
    bound = q.bound(optimizer, mu)
    lam = float(q.eigenvalues[0])
    # Enough steps for the steepest direction to grow (or shrink) a millionfold at 1.01x (0.99x).
    rates = [stability.growth(optimizer, f * bound, lam, mu) for f in (0.99, 1.01)]
    steps = int(max(math.log(1e6) / abs(math.log(r)) for r in rates)) + 1
    below = _sgd_gap_growth(X, y, 0.99 * bound, mu, optimizer == "nesterov", steps)
    above = _sgd_gap_growth(X, y, 1.01 * bound, mu, optimizer == "nesterov", steps)
    assert below < 1.0, f"{optimizer} mu={mu} at 0.99x its bound {bound:.3g} did not settle"
    assert above > 1e6, f"{optimizer} mu={mu} at 1.01x its bound {bound:.3g} did not diverge"


def test_nesterov_bound_on_the_seed_problem_is_the_documented_number():
    r = fit(steps=0)
    assert r.quadratic.bound("nesterov", 0.9) == pytest.approx(4.81e-6, rel=2e-3)
    assert r.quadratic.bound("momentum", 0.9) == pytest.approx(2 * 1.9 * r.stable_lr / 2, rel=1e-12)
    assert r.quadratic.bound("adam") is None and stability.limit_text("adam")


def test_every_message_uses_the_bound_of_the_optimizer_that_ran(recwarn):
    from sinefit import report

    # The cases: nesterov at 6e-6 diverges (its bound is 4.81e-6, gd's 7.09e-6).
    r = fit(optimizer="nesterov", lr=6e-6)
    assert r.diverged_at is not None
    warned = [str(w.message) for w in recwarn if issubclass(w.category, api.UnstableLRWarning)]
    assert warned and "4.81e-06" in warned[0]
    text = report.fit_report(r) + report.divergence_message(r)
    assert "4.81e-06" in report.divergence_message(r) and "7.09e-06" not in text
    assert "4.81e-06" in report.why(r)
    # momentum at 1e-5 is stable (bound 1.35e-5): no warning, and Conditioning says so.
    recwarn.clear()
    r = fit(optimizer="momentum", lr=1e-5, steps=300)
    assert r.diverged_at is None
    assert not [w for w in recwarn if issubclass(w.category, api.UnstableLRWarning)]
    assert "1.35e-05" in report.fit_report(r)


def test_the_divergence_hint_is_followed_and_converges():
    from sinefit import hints

    r = fit(optimizer="nesterov", lr=6e-6)
    h = hints.suggest(r)
    assert h.promise == "converged" and h.settings["lr"] == "auto"
    again = fit(**{**r.config.to_dict(), **h.settings})
    assert again.diverged_at is None and again.advice.converged


def _hessian_eigenvalues(problem):
    """2 X^T X's eigenvalues from numpy's own Vandermonde matrices (not sinefit's basis code)."""
    basis_name, degree, (a, b), n = problem
    x = np.linspace(a, b, n)
    if basis_name == "power":
        X = np.vander(x, degree + 1)
    else:
        t = (2 * x - (a + b)) / (b - a)
        X = np.polynomial.legendre.legvander(t, degree)
    return np.linalg.eigvalsh(2 * X.T @ X)


def _radius(optimizer, lr, lam, mu):
    """Spectral radius of torch.optim.SGD's per-mode map (error, buffer), by numpy.linalg.eigvals."""
    if optimizer == "momentum":  # b' = mu b + lam e; e' = e - lr b'
        M = np.array([[1 - lr * lam, -lr * mu], [lam, mu]])
    else:  # b' = mu b + lam e; e' = e - lr (lam e + mu b')
        M = np.array([[1 - lr * lam * (1 + mu), -lr * mu * mu], [lam, mu]])
    return max(abs(np.linalg.eigvals(M)))


AUTO_PROBLEMS = [("power", 15, (-math.pi, math.pi), 1000), ("legendre", 15, (-math.pi, math.pi), 1000),
                 ("power", 3, (-math.pi, math.pi), 1000), ("power", 2, (10.0, 12.0), 150)]  # fmt: skip


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
@pytest.mark.parametrize("mu", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("problem", AUTO_PROBLEMS, ids=lambda p: f"{p[0]}-{p[1]}-{p[2][0]:g}")
def test_lr_auto_with_a_given_momentum_is_stable_for_that_momentum(problem, mu, optimizer):
    basis_name, degree, (a, b), n = problem
    r = fit(optimizer=optimizer, momentum=mu, lr="auto", degree=degree, basis=basis_name, dtype="float64",
            domain=(a, b), samples=n, steps=3000, target="sin" if a < 0 else "cos")  # fmt: skip
    assert r.momentum == mu and r.auto.momentum == mu
    lams = _hessian_eigenvalues(problem)
    # The steepest direction shrinks by a clear margin (not at the edge), and none grows.
    assert _radius(optimizer, r.lr, lams[-1], mu) < 0.999, f"lr {r.lr:g} is at the edge for momentum {mu}"
    assert max(_radius(optimizer, r.lr, lam, mu) for lam in lams) <= 1.0, f"lr {r.lr:g} unstable, mu {mu}"
    assert r.diverged_at is None and r.final_loss <= r.losses[0]
    kappa = lams[-1] / lams[0]
    if kappa < 1e4:  # well conditioned: lr auto gets there (heavy ball: a factor sqrt(mu) a step)
        assert r.advice.converged or mu == 0.99


def test_a_divergence_quotes_the_bound_of_the_momentum_that_ran():
    from sinefit import report

    lam = _hessian_eigenvalues(("power", 3, (-math.pi, math.pi), 1000))[-1]
    for optimizer, mu in (("momentum", 0.5), ("nesterov", 0.99)):
        own = 2 * (1 + mu) / lam / (1 + 2 * mu if optimizer == "nesterov" else 1)
        r = fit(optimizer=optimizer, momentum=mu, lr=own * 1.05, steps=3000)
        message = report.divergence_message(r)
        assert r.diverged_at is not None and f"{own:.3g}" in message and f"{2 / lam:.3g}" not in message


def test_gd_lr_auto_on_a_hopeless_problem_removes_the_steep_directions():
    """Years as x (kappa ~ 1e21): 2 / (lambda_min + lambda_max) is the bound itself there and leaves the
    loss where the start put it; lr auto takes 1 / lambda_max, and gd at that lr (the oracle: the same
    fit run with the lr given) ends far lower than at the textbook step."""
    x = np.linspace(1960.0, 2020.0, 61)
    y = 300 + 1.5 * (x - 1960) + 0.01 * (x - 1960) ** 2
    common = dict(x=x, y=y, degree=2, steps=200, dtype="float64")
    auto = fit(lr="auto", **common)
    hi, lo = float(auto.quadratic.eigenvalues[0]), float(auto.quadratic.eigenvalues[-1])
    assert hi / lo > stability.HOPELESS_KAPPA
    assert auto.lr == pytest.approx(1.0 / hi, rel=1e-12)
    textbook = fit(lr=2.0 / (lo + hi) * (1 - 1e-9), **common)
    assert auto.final_loss < 1e-6 * textbook.final_loss
    # a well-conditioned problem keeps the textbook step
    easy = fit(basis="legendre", lr="auto", steps=5, dtype="float64")
    ev = easy.quadratic.eigenvalues
    assert easy.lr == pytest.approx(2.0 / (ev[0] + ev[-1]), rel=1e-12)


def test_a_diverged_fit_is_never_called_an_exact_fit():
    from sinefit import report

    # The degree-15 case at the textbook lr: the last finite loss (1e308) over a tiny optimum is inf.
    r = fit(optimizer="momentum", momentum=0.9, lr=7.25e-17, degree=15, dtype="float64")
    assert r.diverged_at is not None and r.quadratic.optimum_loss > 0 and r.advice.ratio == math.inf
    text = report.fit_report(r)
    assert "exact fit" not in text and "exact fit" not in report.gap_text(r)


def _years(degree_of_trend):
    x = np.arange(1960, 2021, dtype=float)
    return x, 300 + 2 * (x - 1990) + 0.01 * (x - 1990) ** degree_of_trend


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
@pytest.mark.parametrize("case", ["seed degree 15", "years degree 1", "years degree 3 float64"])
def test_lr_auto_with_momentum_stays_stable_where_no_step_can_converge(optimizer, case):
    """Oracle: the run's own loss history and the optimizer's stable bound. A newcomer saw lr auto
    take 'momentum 1' on the seed's degree 15 (kappa 5e16), warn that its own lr was above the bound,
    and grow the loss from 1.8e21 to 7e23 with status completed; on yearly x the loss rose to 8.5e15."""
    kw = {"degree": 15} if case.startswith("seed") else {"degree": int(case.split()[2])}
    if case.startswith("years"):
        kw["x"], kw["y"] = _years(3)
    if case.endswith("float64"):
        kw["dtype"] = "float64"
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=api.UnstableLRWarning)  # no warning about its own choice
        r = fit(optimizer=optimizer, lr="auto", **kw)
    assert r.quadratic.condition_number > stability.HOPELESS_KAPPA
    assert r.momentum < 1 and r.lr < r.advice.bound, (r.momentum, r.lr, r.advice.bound)
    losses = np.asarray(r.losses)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0] and losses[-1] <= losses[len(losses) // 2]
    assert "Hint:" in report.fit_report(r) and "--basis legendre" in report.fit_report(r)


def test_a_run_whose_loss_grows_without_overflowing_says_so():
    """lr just above gd's bound: 300 steps grow the loss 10^4-fold without reaching inf. The report
    said 'completed' and '... loses only -3.13% of it per step'. Oracle: the Hessian 2 X^T X from
    numpy, whose top eigenvalue gives the per-step growth (1 - lr lambda)^2 - 1."""
    x = np.linspace(-np.pi, np.pi, 1000)
    lam = np.linalg.eigvalsh(2 * np.vander(x, 4).T @ np.vander(x, 4))[-1]
    lr = 2 / lam * 1.008
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(lr=lr, steps=300)
    assert r.diverged_at is None and r.final_loss > 100 * r.losses[0]
    text = report.fit_report(r)
    (status,) = [line for line in text.splitlines() if line.strip().startswith("status")]
    assert "completed (the loss grew from" in status
    growth = 100 * ((1 - lr * lam) ** 2 - 1)
    assert f"grows by {growth:.3g}% a step: lr is above the stable bound" in text
    assert "loses only -" not in text
