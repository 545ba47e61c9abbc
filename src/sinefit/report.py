"""Text for people: the run header, the loss table, and "how good is this fit?".

Pure string functions of a FitResult; the CLI decides where they go.
"""

from __future__ import annotations

import math

from . import analysis, model
from .api import FitResult
from .config import FitConfig


def _named_model(degree: int) -> str:
    """'a x^3 + b x^2 + c x + d' for the seed's naming."""
    if degree >= 8:
        return f"a degree-{degree} polynomial ({model.coefficient_names(degree)[0]} x^{degree} + ...)"
    terms = []
    for name, k in zip(model.coefficient_names(degree), model.powers(degree)):
        terms.append(name if k == 0 else f"{name} x" if k == 1 else f"{name} x^{k}")
    return " + ".join(terms)


def header(cfg: FitConfig, target: str) -> str:
    lo, hi = cfg.domain
    return (
        f"sinefit: fitting {_named_model(cfg.degree)} to {target} on [{lo:.6g}, {hi:.6g}], "
        f"{cfg.samples} points, {cfg.dtype}\n"
        f"seed {cfg.seed}, plain gradient descent, lr {cfg.lr:g}, {cfg.steps} steps, "
        f"loss = sum of squared errors"
    )


LOSS_TABLE_HEADER = f"{'step':>8}  {'loss':>14}"


def loss_row(step: int, loss: float, note: str = "") -> str:
    return f"{step:>8}  {loss:>14.6f}" + (f"  {note}" if note else "")


def final_row(result: FitResult) -> str:
    """The loss of the returned coefficients, after the last update (the seed never prints it)."""
    if result.diverged_at is not None:
        return loss_row(result.diverged_at, float(result.losses[result.diverged_at]), "diverged")
    return loss_row(len(result.losses) - 1, result.final_loss, "final: after the last update")


def hint(result: FitResult) -> str:
    """One line: what would close the gap to the optimum."""
    a, q, cfg = result.advice, result.quadratic, result.config
    if a.diverged:
        return (
            f"use an lr below the stable bound {q.stable_lr:.3g}, e.g. --lr {_lr(a.fastest_lr)} "
            f"(the fastest stable step), with --steps {_steps(a.steps_at_fastest_lr)}"
        )
    if a.converged:
        return (
            f"this is the best a degree-{cfg.degree} polynomial can do on these points; "
            f"raise --degree for a closer fit"
        )
    here = (
        f"--steps {_steps(cfg.steps + a.more_steps)} at this lr"
        if math.isfinite(a.more_steps)
        else "no number of steps at this lr"
    )
    return (
        f"{here} would get within {analysis.CONVERGED:.1%} of the optimum; "
        f"--lr {_lr(a.fastest_lr)} (2 / (smallest + largest eigenvalue)) needs only "
        f"{_steps(a.steps_at_fastest_lr)} steps"
    )


def why(result: FitResult) -> str:
    """One line: why the fit stopped where it did."""
    a, q, cfg = result.advice, result.quadratic, result.config
    ev = q.eigenvalues
    if a.diverged:
        growth = abs(1.0 - cfg.lr * ev[0])
        return (
            f"lr {cfg.lr:g} is above the stable bound {q.stable_lr:.3g} = 2 / {ev[0]:.4g} (the largest "
            f"Hessian eigenvalue): the error along that direction grows {growth:.3g}x per step"
        )
    if a.converged:
        return "gradient descent has reached the least-squares optimum; what is left is the model's limit"
    return (
        f"the loss surface is {q.condition_number:.3g} times steeper one way than another, and lr "
        f"must suit the steepest; at lr {cfg.lr:g} the direction that holds {a.bottleneck_share:.0%} of "
        f"the remaining gap (eigenvalue {ev[a.bottleneck]:.4g}) loses only {1.0 - a.bottleneck_rate:.3%} "
        f"of it per step"
    )


def how_good(result: FitResult) -> str:
    q, a = result.quadratic, result.advice
    ev = q.eigenvalues
    names = result.model.names
    scale = float(abs(q.optimum).max()) if len(q.optimum) else 0.0
    rows = [
        "",
        f"Fitted:  y = {result.formula()}",
        "",
        f"  {'coefficient':<14}{'trained':>16}{'least squares':>16}{'initial':>16}",
    ]
    for name, k, c, o, i in zip(
        names, result.model.powers, result.model.coefficients, q.optimum, result.initial.coefficients
    ):
        term = "1" if k == 0 else "x" if k == 1 else f"x^{k}"
        o = 0.0 if abs(o) < 1e-12 * scale else o  # float64 round-off, not a finding
        rows.append(f"  {name + '  (' + term + ')':<14}{c:>16.6g}{o:>16.6g}{i:>16.6g}")
    gap = f"{a.ratio:.4g}x the optimum" if math.isfinite(a.ratio) else "the optimum is an exact fit"
    rows += [
        "",
        "How good is this fit?",
        f"  {'loss (sum of squared errors)':<32}{result.final_loss:.6g}",
        f"  {'best possible (least squares)':<32}{q.optimum_loss:.6g}   same model, same points, float64",
        f"  {'loss / best possible':<32}{gap}",
        f"  {'largest stable lr':<32}{q.stable_lr:.3g}   2 / largest Hessian eigenvalue {ev[0]:.4g}",
        f"  {'condition number':<32}{q.condition_number:.4g}   eigenvalues {ev[-1]:.4g} ... {ev[0]:.4g}",
        f"Why:  {why(result)}.",
        f"Hint: {hint(result)}.",
    ]
    return "\n".join(rows)


def divergence_message(result: FitResult) -> str:
    step = result.diverged_at
    return (
        f"diverged: the loss became {result.losses[step]} at step {step} with lr {result.config.lr:g}; "
        f"the largest stable lr is {result.quadratic.stable_lr:.3g}"
    )


def _lr(lr: float) -> str:
    return f"{math.floor(lr / 10 ** math.floor(math.log10(lr)) * 100) / 100:g}e{math.floor(math.log10(lr))}"


def _steps(n: float) -> str:
    return "never" if not math.isfinite(n) else f"{int(n)}"
