"""Targets, bases, losses, optimizers and gradients, each against an independent oracle."""

import math

import numpy as np
import pytest
import torch

from sinefit import fit
from sinefit.config import ConfigError

X = np.linspace(-np.pi, np.pi, 1000)


def numpy_optimum(degree, x=X, y=None):
    y = np.sin(x) if y is None else y
    _, (ssr, *_) = np.polynomial.polynomial.polyfit(x, y, degree, full=True)
    return float(ssr[0])


# Step budgets for the iterative optimizers to come within 1e-3 of the optimum (float64,
# Legendre basis so that the budget measures the optimizer, not the conditioning of x^k).
# RMSprop with a constant lr hovers at a distance ~ lr from the optimum, hence its small lr.
BUDGETS = {"momentum": ("auto", 300), "nesterov": ("auto", 300), "adam": (0.01, 3000), "rmsprop": (1e-4, 40000)}


@pytest.mark.parametrize("degree", [3, 5])
@pytest.mark.parametrize("optimizer", ["lbfgs", "exact"])
def test_lbfgs_and_exact_reach_the_numpy_optimum(optimizer, degree):
    r = fit(degree=degree, optimizer=optimizer, dtype="float64", steps=200, basis="power")
    assert r.final_loss == pytest.approx(numpy_optimum(degree), rel=1e-9)


@pytest.mark.parametrize("degree", [3, 5])
@pytest.mark.parametrize("optimizer", sorted(BUDGETS))
def test_iterative_optimizers_reach_the_optimum_within_their_budget(optimizer, degree):
    lr, steps = BUDGETS[optimizer]
    r = fit(degree=degree, optimizer=optimizer, dtype="float64", basis="legendre", loss="mse", lr=lr, steps=steps)
    assert r.final_loss * 1000 == pytest.approx(numpy_optimum(degree), rel=1e-3)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov", "adam", "rmsprop", "lbfgs"])
@pytest.mark.parametrize("loss", ["sse", "mse", "huber"])
def test_manual_and_autograd_trajectories_agree(optimizer, loss):
    common = dict(optimizer=optimizer, loss=loss, dtype="float64", degree=4, basis="chebyshev", steps=60,
                  lr=1e-3 if optimizer in ("gd", "momentum", "nesterov") and loss != "sse" else None,
                  target="tanh(2*x)", engine="per-sample")  # fmt: skip
    manual = fit(grad="manual", **common)
    auto = fit(grad="autograd", **common)
    np.testing.assert_allclose(manual.losses, auto.losses, rtol=1e-9)
    scale = np.abs(auto.model.coefficients).max()  # tanh is odd: the even coefficients are round-off
    np.testing.assert_allclose(manual.model.coefficients, auto.model.coefficients, rtol=1e-9, atol=1e-9 * scale)


@pytest.mark.parametrize("kind", ["legendre", "chebyshev"])
@pytest.mark.parametrize("degree", [3, 9])
def test_orthogonal_bases_agree_with_numpy_polynomial_fit(kind, degree):
    cls = np.polynomial.Legendre if kind == "legendre" else np.polynomial.Chebyshev
    ref = cls.fit(X, np.sin(X), degree, domain=[-np.pi, np.pi])
    r = fit(basis=kind, degree=degree, optimizer="exact", dtype="float64")
    scale = np.abs(ref.coef).max()
    np.testing.assert_allclose(r.model.coefficients, ref.coef[::-1], rtol=1e-9, atol=1e-12 * scale)
    power = ref.convert(kind=np.polynomial.Polynomial).coef[::-1]
    np.testing.assert_allclose(r.model.power_coefficients, power, rtol=1e-9, atol=1e-9 * np.abs(power).max())
    np.testing.assert_allclose(r.predict(X), ref(X), rtol=1e-9, atol=1e-12)


def test_lbfgs_in_legendre_matches_numpy_legendre_fit_at_degree_15():
    y = np.tanh(2 * X)
    ref = np.polynomial.Legendre.fit(X, y, 15, domain=[-np.pi, np.pi])
    r = fit(target="tanh(2*x)", basis="legendre", degree=15, optimizer="lbfgs", dtype="float64", steps=100)
    assert r.final_loss == pytest.approx(float(np.sum((ref(X) - y) ** 2)), rel=1e-8)


def test_huber_gradient_and_optimum():
    # The Huber loss against torch's own, and lbfgs against the reweighted least-squares optimum.
    r = fit(loss="huber", huber_delta=0.3, optimizer="lbfgs", dtype="float64", degree=3, steps=200,
            target="sin(x) + 0.5*step(x - 2)")  # fmt: skip
    x = torch.as_tensor(r.dataset.x.numpy())
    y = torch.as_tensor(r.dataset.y.numpy())
    pred = torch.as_tensor(r.predict(x))
    torch_loss = torch.nn.functional.huber_loss(pred, y, delta=0.3).item()
    assert r.final_loss == pytest.approx(torch_loss, rel=1e-12)
    assert r.final_loss == pytest.approx(r.optimum_loss, rel=1e-9)
    # The optimum is a minimum: no nearby coefficients do better.
    gen = np.random.default_rng(0)
    for _ in range(20):
        nearby = r.optimum.coefficients + 1e-4 * gen.standard_normal(4)
        pred = torch.as_tensor(np.polyval(nearby, x.numpy()))
        assert torch.nn.functional.huber_loss(pred, y, delta=0.3).item() >= r.optimum_loss


def test_mse_is_sse_over_n():
    sse = fit(dtype="float64", steps=10, lr=1e-6)
    mse = fit(dtype="float64", steps=10, lr=1e-3, loss="mse")  # lr scaled by n: the same path
    np.testing.assert_allclose(mse.losses * 1000, sse.losses, rtol=1e-9)
    assert mse.optimum_loss * 1000 == pytest.approx(sse.optimum_loss, rel=1e-12)
    assert mse.stable_lr == pytest.approx(sse.stable_lr * 1000, rel=1e-12)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov"])
def test_lr_auto_reaches_1e6_of_the_optimum_in_the_predicted_steps(optimizer):
    probe = fit(optimizer=optimizer, lr="auto", dtype="float64", steps=0)
    predicted = int(probe.auto.steps_to_1e6)
    assert 0 < predicted < 5000
    r = fit(optimizer=optimizer, lr="auto", dtype="float64", steps=predicted + 50)
    target = r.optimum_loss * (1 + 1e-6)
    assert np.all(r.losses[predicted:] <= target)
    assert r.losses[predicted - 1] > target  # the prediction is tight
    ev = r.quadratic.eigenvalues
    if optimizer == "gd":
        assert r.lr == pytest.approx(2 / (ev[0] + ev[-1]), rel=1e-12)
    elif optimizer == "momentum":
        kappa = ev[0] / ev[-1]
        assert r.momentum == pytest.approx(((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2, rel=1e-12)


def test_expression_targets_and_noise_are_seeded():
    a = fit(target="sin(x) + 0.1*x**2", noise=0.1, seed=3, steps=5)
    b = fit(target="sin(x) + 0.1*x**2", noise=0.1, seed=3, steps=5)
    c = fit(target="sin(x) + 0.1*x**2", noise=0.1, seed=4, steps=5)
    assert torch.equal(a.dataset.y, b.dataset.y) and not torch.equal(a.dataset.y, c.dataset.y)
    clean = fit(target="sin(x) + 0.1*x**2", seed=3, steps=5)
    assert list(clean.initial.coefficients) == list(a.initial.coefficients)  # noise does not move the draw
    residual = (a.dataset.y - clean.dataset.y).double()
    assert 0.08 < float(residual.std()) < 0.12


def test_domain_and_samples():
    r = fit(target="exp", domain=(0.0, 2.0), samples=50, steps=0)
    assert r.dataset.x.shape == (50,) and float(r.dataset.x[0]) == 0.0 and float(r.dataset.x[-1]) == 2.0


def test_arrays_as_data():
    x = np.linspace(0, 1, 30)
    r = fit(x=x, y=3 * x**2 - x + 0.5, degree=2, optimizer="exact", dtype="float64")
    np.testing.assert_allclose(r.model.power_coefficients, [3, -1, 0.5], rtol=1e-10)


def test_too_few_distinct_x_is_refused():
    with pytest.raises(ConfigError, match="2 distinct x values, but a degree-3 polynomial needs at least 4"):
        fit(x=[0, 0, 1, 1, 1], y=[1, 2, 3, 4, 5])


@pytest.mark.parametrize(
    "settings, option",
    [
        ({"optimizer": "exact", "loss": "huber"}, "--optimizer"),
        ({"optimizer": "adam", "lr": "auto"}, "--lr"),
        ({"loss": "huber", "lr": "auto"}, "--lr"),
        ({"basis": "hermite"}, "--basis"),
        ({"momentum": 1.5, "optimizer": "momentum"}, "--momentum"),
        ({"noise": -1.0}, "--noise"),
        ({"degree": 10**6}, "--degree"),
    ],
)
def test_contradictory_settings_are_refused(settings, option):
    with pytest.raises(ConfigError) as e:
        fit(**settings)
    assert e.value.option == option


@pytest.mark.parametrize("args, culprit, words", [
    (dict(x=["a"] * 20, y=np.zeros(20)), "x", "values must be numbers"),
    (dict(x=np.linspace(-1, 1, 20).astype(complex), y=np.zeros(20)), "x", "complex values"),
    (dict(x=np.linspace(-1, 1, 20), y=np.zeros((4, 5))), "y", "shape (4, 5)"),
    (dict(config="notaconfig"), "config", "expected a FitConfig"),
])  # fmt: skip
def test_library_arguments_are_refused_naming_the_argument(args, culprit, words):
    """Seen from a notebook: an AttributeError for fit("notaconfig"), numpy's ValueError for strings,
    a (10, 10) table flattened silently, complex parts dropped with numpy's ComplexWarning."""
    import warnings

    from sinefit.config import ConfigError

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no library warning on the way
        with pytest.raises(ConfigError) as info:
            fit(**args)
    assert str(info.value).startswith(f"{culprit}: ") and words in str(info.value), str(info.value)


def test_pandas_series_fit_without_a_torch_warning():
    """pandas hands out read-only arrays; torch warned 'The given NumPy array is not writable'.
    Oracle: numpy.polynomial on the same values."""
    import warnings

    pd = pytest.importorskip("pandas")
    x = np.linspace(-2, 2, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        r = fit(x=pd.Series(x), y=pd.Series(np.exp(x)), optimizer="exact", dtype="float64")
    want = np.sum((np.polynomial.Polynomial.fit(x, np.exp(x), 3)(x) - np.exp(x)) ** 2)
    assert r.final_loss == pytest.approx(want, rel=1e-9)
