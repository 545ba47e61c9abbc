"""The update rules of sinefit.optim against their torch.optim namesakes.

The objective is a fixed quadratic per row, L_b(theta) = 0.5 theta^T A theta -
b_b^T theta with A symmetric positive definite, so each step's gradient
theta A - b depends on the parameters the rule produced the step before: any
divergence from torch.optim would compound over the run.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sinefit import optim
from sinefit.optim import (
    RULES,
    Adam,
    AdamState,
    GradientDescent,
    Momentum,
    MomentumState,
    Nesterov,
    RMSprop,
    RMSpropState,
)

F64 = torch.float64
STEPS = 300
RTOL = 1e-12
ATOL = 1e-15  # times the largest |theta| of the reference trajectory


def quadratic(B: int = 3, p: int = 4, seed: int = 0, dtype: torch.dtype = F64):
    """(grad_fn, theta0): eigenvalues of A in [0.5, 4], theta0 a few units from each optimum."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(p, p, generator=gen, dtype=F64))
    a = q @ torch.diag(torch.linspace(0.5, 4.0, p, dtype=F64)) @ q.T
    a = ((a + a.T) / 2).to(dtype)
    b = torch.randn(B, p, generator=gen, dtype=F64).to(dtype)
    theta0 = (3 * torch.randn(B, p, generator=gen, dtype=F64)).to(dtype)
    return (lambda theta: theta @ a - b), theta0


def run_ours(rule, theta0: torch.Tensor, grad_fn, steps: int = STEPS) -> torch.Tensor:
    """Parameters after each of ``steps`` updates, shape (steps, B, p)."""
    theta, state = theta0, rule.init(theta0)
    out = []
    for _ in range(steps):
        theta, state = rule.update(theta, grad_fn(theta), state)
        out.append(theta)
    return torch.stack(out)


def run_torch(make_opt, theta0: torch.Tensor, grad_fn, steps: int = STEPS) -> torch.Tensor:
    """The same with a torch.optim optimizer on a leaf tensor whose .grad we set."""
    param = theta0.clone().requires_grad_(True)
    opt = make_opt([param])
    out = []
    for _ in range(steps):
        with torch.no_grad():
            param.grad = grad_fn(param.detach())
        opt.step()
        out.append(param.detach().clone())
    return torch.stack(out)


def assert_trajectories_close(ours: torch.Tensor, ref: torch.Tensor, rtol: float = RTOL, atol: float = ATOL) -> None:
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    assert torch.isfinite(ref).all()
    scale = float(ref.abs().max())
    for t in range(ref.shape[0]):  # step by step, so a failure names its step
        torch.testing.assert_close(
            ours[t], ref[t], rtol=rtol, atol=atol * scale, msg=lambda m, t=t: f"step {t + 1}: {m}"
        )


SGD, TAdam, TRMSprop = torch.optim.SGD, torch.optim.Adam, torch.optim.RMSprop

CASES = [
    pytest.param(GradientDescent(0.1), lambda p: SGD(p, lr=0.1), id="gd"),
    pytest.param(Momentum(0.05), lambda p: SGD(p, lr=0.05, momentum=0.9), id="momentum-default"),
    pytest.param(
        Momentum(0.05, momentum=0.5, dampening=0.1),
        lambda p: SGD(p, lr=0.05, momentum=0.5, dampening=0.1),
        id="momentum-0.5-dampening-0.1",
    ),
    pytest.param(
        Momentum(0.1, momentum=0.0, dampening=0.3),
        lambda p: SGD(p, lr=0.1, momentum=0.0, dampening=0.3),
        id="momentum-0-is-sgd",
    ),
    pytest.param(Nesterov(0.05), lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True), id="nesterov-default"),
    pytest.param(Nesterov(0.1, momentum=0.5), lambda p: SGD(p, lr=0.1, momentum=0.5, nesterov=True), id="nesterov-0.5"),
    pytest.param(Adam(), lambda p: TAdam(p), id="adam-default"),
    pytest.param(
        Adam(1e-2, beta1=0.8, beta2=0.99, eps=1e-6),
        lambda p: TAdam(p, lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
        id="adam-0.8-0.99-eps-1e-6",
    ),
    pytest.param(  # 1 - beta1 >= 0.5 takes lerp's other branch
        Adam(2e-2, beta1=0.3, beta2=0.5, eps=1e-3),
        lambda p: TAdam(p, lr=2e-2, betas=(0.3, 0.5), eps=1e-3),
        id="adam-0.3-0.5-eps-1e-3",
    ),
    pytest.param(RMSprop(), lambda p: TRMSprop(p), id="rmsprop-default"),
    pytest.param(
        RMSprop(1e-3, alpha=0.9, eps=1e-6),
        lambda p: TRMSprop(p, lr=1e-3, alpha=0.9, eps=1e-6),
        id="rmsprop-alpha-0.9",
    ),
]


@pytest.mark.parametrize("rule, make_opt", CASES)
def test_matches_torch_optim_step_for_step(rule, make_opt):
    grad_fn, theta0 = quadratic()
    ref = run_torch(make_opt, theta0, grad_fn)
    assert_trajectories_close(run_ours(rule, theta0, grad_fn), ref)
    assert not torch.equal(ref[-1], theta0)  # the run went somewhere


def test_defaults_match_torch_optim():
    """Same default hyperparameters as torch.optim (read from the optimizers themselves)."""
    p = [torch.zeros(1, requires_grad=True)]
    adam = TAdam(p).defaults
    assert (Adam().lr, (Adam().beta1, Adam().beta2), Adam().eps) == (adam["lr"], adam["betas"], adam["eps"])
    rms = TRMSprop(p).defaults
    assert (RMSprop().lr, RMSprop().alpha, RMSprop().eps) == (rms["lr"], rms["alpha"], rms["eps"])
    sgd = SGD(p, lr=1.0).defaults
    assert Momentum(1.0).dampening == sgd["dampening"]


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["momentum", "nesterov", "adam", "rmsprop"]),
    lr=st.floats(1e-4, 0.2),
    a=st.floats(0.0, 0.999),
    b=st.floats(0.0, 0.9999),
    eps=st.floats(1e-10, 1e-2),
    seed=st.integers(0, 100),
)
def test_matches_torch_optim_random_hyperparameters(name, lr, a, b, eps, seed):
    rule, make_opt = {
        "momentum": (Momentum(lr, a, b), lambda p: SGD(p, lr=lr, momentum=a, dampening=b)),
        "nesterov": (Nesterov(lr, a + 1e-3), lambda p: SGD(p, lr=lr, momentum=a + 1e-3, nesterov=True)),
        "adam": (Adam(lr, a, b, eps), lambda p: TAdam(p, lr=lr, betas=(a, b), eps=eps)),
        "rmsprop": (RMSprop(lr, b, eps), lambda p: TRMSprop(p, lr=lr, alpha=b, eps=eps)),
    }[name]
    grad_fn, theta0 = quadratic(B=2, p=3, seed=seed)
    ref = run_torch(make_opt, theta0, grad_fn, steps=40)
    assert_trajectories_close(run_ours(rule, theta0, grad_fn, steps=40), ref)


def test_first_steps():
    """The first update of each rule, from the formulas (no state yet)."""
    grad_fn, theta = quadratic()
    g = grad_fn(theta)
    # The momentum buffer starts as g itself: dampening does not apply to it.
    close = lambda x, y: torch.testing.assert_close(x, y, rtol=1e-15, atol=1e-15 * float(theta.abs().max()))
    new, state = Momentum(0.1, 0.9, dampening=0.5).update(theta, g, Momentum(0.1).init(theta))
    close(new, theta - 0.1 * g)  # (torch.add(..., alpha=) may fuse the multiply-add: 1 ulp)
    assert torch.equal(state.buf, g) and state.buf is not g and state.step == 1
    new, _ = Nesterov(0.1, 0.5).update(theta, g, Nesterov(0.1).init(theta))
    close(new, theta - 0.1 * 1.5 * g)
    # Adam's first step is lr * sign(g) once bias-corrected (eps = 0).
    new, state = Adam(0.1, eps=0.0).update(theta, g, Adam().init(theta))
    close(new, theta - 0.1 * g.sign())
    assert state.step == 1
    # RMSprop's first step is lr * g / (sqrt(1 - alpha) |g|) = 2 lr sign(g) for alpha = 0.75.
    new, _ = RMSprop(0.1, alpha=0.75, eps=0.0).update(theta, g, RMSprop().init(theta))
    close(new, theta - 0.2 * g.sign())


# --------------------------------------------------------------------------- per-row hyperparameters


def col(*values, dtype=F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)[:, None]


# (rule with (4, 1) tensors, the same rule for row i with numbers)
PER_ROW = [
    pytest.param(
        GradientDescent(col(0.01, 0.05, 0.1, 0.2)),
        lambda i: GradientDescent([0.01, 0.05, 0.1, 0.2][i]),
        id="gd-lr",
    ),
    pytest.param(
        Momentum(col(0.01, 0.05, 0.1, 0.2), momentum=col(0.0, 0.5, 0.9, 0.3)),
        lambda i: Momentum([0.01, 0.05, 0.1, 0.2][i], momentum=[0.0, 0.5, 0.9, 0.3][i]),
        id="momentum-lr-momentum",
    ),
    pytest.param(
        Momentum(col(0.01, 0.05, 0.1, 0.2), momentum=0.5, dampening=col(0.0, 0.1, 0.5, 0.9)),
        lambda i: Momentum([0.01, 0.05, 0.1, 0.2][i], momentum=0.5, dampening=[0.0, 0.1, 0.5, 0.9][i]),
        id="momentum-lr-dampening",
    ),
    pytest.param(
        Nesterov(col(0.01, 0.05, 0.1, 0.2), momentum=col(0.1, 0.5, 0.9, 0.3)),
        lambda i: Nesterov([0.01, 0.05, 0.1, 0.2][i], momentum=[0.1, 0.5, 0.9, 0.3][i]),
        id="nesterov-lr-momentum",
    ),
    pytest.param(
        Adam(col(1e-3, 1e-2, 3e-2, 1e-1)),
        lambda i: Adam([1e-3, 1e-2, 3e-2, 1e-1][i]),
        id="adam-lr",
    ),
    pytest.param(
        Adam(
            col(1e-3, 1e-2, 3e-2, 1e-1),
            beta1=col(0.9, 0.8, 0.3, 0.0),
            beta2=col(0.999, 0.99, 0.5, 0.9),
            eps=col(1e-8, 1e-6, 1e-3, 1e-8),
        ),
        lambda i: Adam(
            [1e-3, 1e-2, 3e-2, 1e-1][i],
            beta1=[0.9, 0.8, 0.3, 0.0][i],
            beta2=[0.999, 0.99, 0.5, 0.9][i],
            eps=[1e-8, 1e-6, 1e-3, 1e-8][i],
        ),
        id="adam-all",
    ),
    pytest.param(
        Adam(1e-2, beta1=col(0.9, 0.8, 0.3, 0.0)),
        lambda i: Adam(1e-2, beta1=[0.9, 0.8, 0.3, 0.0][i]),
        id="adam-beta1-only",
    ),
    pytest.param(
        RMSprop(col(1e-3, 1e-2, 3e-2, 1e-1), alpha=col(0.99, 0.9, 0.5, 0.0), eps=col(1e-8, 1e-6, 1e-3, 1e-8)),
        lambda i: RMSprop([1e-3, 1e-2, 3e-2, 1e-1][i], alpha=[0.99, 0.9, 0.5, 0.0][i], eps=[1e-8, 1e-6, 1e-3, 1e-8][i]),
        id="rmsprop-all",
    ),
]


@pytest.mark.parametrize("rule, row_rule", PER_ROW)
def test_per_row_hyperparameters_equal_single_row_runs(rule, row_rule):
    grad_fn, theta0 = quadratic(B=4, p=5)
    batch = run_ours(rule, theta0, grad_fn)
    assert batch.shape == (STEPS, 4, 5)
    for i in range(4):
        row_grad = lambda theta, i=i: grad_fn(theta.expand(4, -1))[i : i + 1]  # row i's own objective
        alone = run_ours(row_rule(i), theta0[i : i + 1], row_grad)
        assert_trajectories_close(batch[:, i : i + 1], alone)


@pytest.mark.parametrize("rule, row_rule", [c for c in PER_ROW if c.id != "gd-lr"])  # gd is the seed's, as is
def test_per_row_hyperparameters_keep_theta_dtype(rule, row_rule):
    """Float64 tensor hyperparameters on a float32 batch are used at float32, not promoted."""
    grad_fn, theta0 = quadratic(B=4, p=5, dtype=torch.float32)
    theta, state = theta0, rule.init(theta0)
    for _ in range(3):
        theta, state = rule.update(theta, grad_fn(theta), state)
    assert theta.dtype == torch.float32 and theta.shape == (4, 5)
    for s in state or ():
        assert not isinstance(s, torch.Tensor) or (s.dtype == torch.float32 and s.shape == (4, 5))
    alone = run_ours(row_rule(2), theta0[2:3], lambda t: grad_fn(t.expand(4, -1))[2:3], steps=3)
    torch.testing.assert_close(theta[2:3], alone[-1], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- purity


PURE = [
    GradientDescent(0.1),
    Momentum(0.05, 0.5, 0.1),
    Momentum(col(0.01, 0.05, 0.1), momentum=col(0.0, 0.5, 0.9), dampening=col(0.0, 0.1, 0.2)),
    Nesterov(0.05),
    Nesterov(col(0.01, 0.05, 0.1), momentum=col(0.1, 0.5, 0.9)),
    Adam(1e-2, 0.8, 0.99, 1e-6),
    Adam(col(1e-3, 1e-2, 1e-1), col(0.9, 0.5, 0.1), col(0.999, 0.9, 0.5), col(1e-8, 1e-6, 1e-3)),
    RMSprop(),
    RMSprop(col(1e-3, 1e-2, 1e-1), col(0.99, 0.9, 0.5), col(1e-8, 1e-6, 1e-3)),
]


def _clone(x):
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, tuple):
        items = [_clone(v) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
    return x


def _same(x, y) -> bool:
    if isinstance(x, torch.Tensor):
        return torch.equal(x, y)
    if isinstance(x, tuple):
        return type(x) is type(y) and all(map(_same, x, y))
    return x == y


@pytest.mark.parametrize("rule", PURE, ids=lambda r: type(r).__name__)
def test_update_is_pure(rule):
    grad_fn, theta = quadratic()
    state = rule.init(theta)
    for _ in range(3):  # the first update (which seeds buffers) and later ones
        grad = grad_fn(theta)
        before = _clone((theta, grad, state))
        new_theta, new_state = rule.update(theta, grad, state)
        assert _same((theta, grad, state), before)
        # and calling it again on the same inputs gives the same answer
        again = rule.update(theta, grad, state)
        assert _same(again, (new_theta, new_state))
        theta, state = new_theta, new_state


@pytest.mark.parametrize("rule", PURE, ids=lambda r: type(r).__name__)
def test_new_state_does_not_alias_inputs(rule):
    """A caller that reuses its gradient buffer in place cannot corrupt the state."""
    grad_fn, theta = quadratic()
    grad = grad_fn(theta)
    new_theta, state = rule.update(theta, grad, rule.init(theta))
    kept = _clone((new_theta, state))
    grad.zero_()
    theta.zero_()
    assert _same((new_theta, state), kept)


def test_state_types():
    theta = torch.zeros(3, 4, dtype=F64)
    assert GradientDescent(0.1).init(theta) is None
    kinds = [
        (Momentum(0.1), MomentumState),
        (Nesterov(0.1), MomentumState),
        (Adam(), AdamState),
        (RMSprop(), RMSpropState),
    ]
    for rule, kind in kinds:
        state = rule.init(theta)
        assert type(state) is kind and state.step == 0
        for s in state[1:]:
            assert torch.equal(s, torch.zeros_like(theta))
        _, state = rule.update(theta, torch.ones_like(theta), state)
        assert type(state) is kind and state.step == 1


# --------------------------------------------------------------------------- the seed's rule, registry, validation


def test_gradient_descent_unchanged():
    gen = torch.Generator().manual_seed(1)
    theta = torch.randn(5, 7, generator=gen)
    g = torch.randn(5, 7, generator=gen) * 1e3
    assert theta.dtype == torch.float32
    new, state = GradientDescent(1e-6).update(theta, g, None)
    assert torch.equal(new, theta - 1e-6 * g)
    assert state is None


def test_rules_registry():
    expected = {"gd": GradientDescent, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam, "rmsprop": RMSprop}
    assert RULES == expected
    for name, cls in RULES.items():
        rule = cls(0.01)
        assert rule.lr == 0.01 and optim.RULES[name] is cls


@pytest.mark.parametrize(
    "make",
    [
        lambda: Momentum(-0.1),
        lambda: Momentum(0.1, momentum=-0.5),
        lambda: Nesterov(0.1, momentum=0.0),
        lambda: Adam(beta1=1.0),
        lambda: Adam(beta2=-0.1),
        lambda: Adam(eps=-1.0),
        lambda: RMSprop(alpha=-0.1),
        lambda: Adam(lr=torch.ones(4)),  # (B,) would broadcast along p, not rows
        lambda: Momentum(0.1, momentum=torch.ones(4, 2)),
    ],
)
def test_invalid_hyperparameters_rejected(make):
    with pytest.raises(ValueError):
        make()
