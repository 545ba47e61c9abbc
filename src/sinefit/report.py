"""Text for people: the run header, the loss table and the fit report.

The fit report has fixed sections, in the spirit of lmfit's fit_report:
Setup, Statistics, Optimum, Conditioning, Coefficients, Power form,
Correlations. Pure string functions of a FitResult; the CLI decides where
they go.
"""

from __future__ import annotations

import math

import numpy as np

from . import analysis, basis, init, minibatch, model
from .api import FitResult
from .config import FitConfig

LOSS_NAMES = {"sse": "sum of squared errors", "mse": "mean squared error", "huber": "mean Huber loss"}
OPTIMIZER_NAMES = {
    "gd": "plain gradient descent", "momentum": "heavy-ball momentum", "nesterov": "Nesterov momentum",
    "adam": "Adam", "rmsprop": "RMSprop", "lbfgs": "L-BFGS", "exact": "exact least squares",
}  # fmt: skip


def model_text(cfg: FitConfig) -> str:
    """'a x^3 + b x^2 + c x + d' in the seed's naming, or the basis functions."""
    names = basis.names(cfg.basis, cfg.degree, cfg.order)
    if cfg.degree >= 8:
        return f"a degree-{cfg.degree} polynomial ({cfg.basis} basis)"
    terms = []
    for name, k in zip(names, model.powers(cfg.degree)):
        if cfg.basis == "power":
            terms.append(name if k == 0 else f"{name} x" if k == 1 else f"{name} x^{k}")
        else:
            terms.append(f"c{k} {name}(t)")
    return " + ".join(terms[::-1] if cfg.order == "ascending" else terms)


def _loss_text(cfg: FitConfig) -> str:
    text = LOSS_NAMES[cfg.loss]
    return text + (f" (delta {cfg.huber_delta:g})" if cfg.loss == "huber" else "")


def _optimizer_text(cfg: FitConfig, lr: float | str | None, momentum: float | None) -> str:
    text = OPTIMIZER_NAMES[cfg.optimizer]
    if cfg.optimizer == "exact":
        return text
    text += ", lr auto" if lr == "auto" else f", lr {lr:.4g}" + (" (auto)" if cfg.lr == "auto" else "")
    if momentum is not None and cfg.optimizer in ("momentum", "nesterov"):
        text += f", momentum {momentum:.4g}"
    return text + f", {cfg.steps} steps"


def header(cfg: FitConfig, target: str) -> str:
    """Two lines saying what is about to be fitted, and how."""
    if cfg.data is None:
        lo, hi = cfg.domain if cfg.domain is not None else (-math.pi, math.pi)
        what = f"{target} on [{lo:.6g}, {hi:.6g}], {cfg.samples} points"
    else:
        what = f"the points in {cfg.data}"
    return (
        f"sinefit: fitting {model_text(cfg)} to {what}, {cfg.dtype}\n"
        f"seed {cfg.seed}, {_optimizer_text(cfg, cfg.lr, cfg.momentum)}, loss = {_loss_text(cfg)}"
    )


LOSS_TABLE_HEADER = f"{'step':>8}  {'loss':>14}"


def loss_row(step: int, loss: float, note: str = "") -> str:
    value = f"{loss:>14.6f}" if abs(loss) >= 0.01 or loss == 0 or not math.isfinite(loss) else f"{loss:>14.6e}"
    return f"{step:>8}  {value}" + (f"  {note}" if note else "")


def final_row(result: FitResult) -> str:
    """The loss of the returned coefficients, after the last update (the seed never prints it)."""
    if result.diverged_at is not None:
        return loss_row(result.diverged_at, float(result.losses[result.diverged_at]), "diverged")
    if result.config.optimizer == "exact":
        return loss_row(1, result.final_loss, "final: the least-squares solution")
    if result.interrupted_at is not None:
        return loss_row(result.interrupted_at, result.final_loss, "interrupted here")
    return loss_row(len(result.losses) - 1, result.final_loss, "final: after the last update")


def auto_lr_text(result: FitResult) -> str:
    """What --lr auto chose, from the condition number, and what it costs."""
    a, q = result.auto, result.quadratic
    mom = f" and momentum {a.momentum:.4g}" if a.momentum is not None else ""
    steps = "never" if not math.isfinite(a.steps_to_1e6) else f"about {int(a.steps_to_1e6)}"
    return (
        f"lr auto: condition number {q.condition_number:.4g}, so lr {a.lr:.4g}{mom}; "
        f"{steps} steps reach 1e-6 of the optimum"
    )


def hint(result: FitResult) -> str:
    """One line: what would close the gap to the optimum."""
    a, q, cfg = result.advice, result.quadratic, result.config
    if result.minibatch is not None and not a.diverged:
        return minibatch_hint(result)
    if a.diverged:
        return (
            f"use an lr below the stable bound {q.stable_lr:.3g}, e.g. --lr {_lr(a.fastest_lr)} "
            f"(the fastest stable step)" + (f", with --steps {_steps(a.steps_at_fastest_lr)}" if q.quadratic else "")
        )
    if a.converged:
        return (
            f"this is the best a degree-{cfg.degree} polynomial can do on these points; "
            f"raise --degree for a closer fit"
        )
    if cfg.optimizer != "gd" or not q.quadratic:
        exact = "--optimizer exact solves it directly" if q.quadratic else "--optimizer lbfgs gets there fastest"
        auto = " (or --lr auto)" if cfg.optimizer in ("momentum", "nesterov") and q.quadratic else ""
        basis_hint = (
            f"; --basis legendre would condition it far better than x^k (condition number {q.condition_number:.3g})"
            if cfg.basis == "power" and q.condition_number > 1e4 else ""
        )  # fmt: skip
        return f"more --steps, a tuned --lr{auto}; {exact}{basis_hint}"
    here = (
        f"--steps {_steps(cfg.steps + a.more_steps)} at this lr"
        if math.isfinite(a.more_steps)
        else "no number of steps at this lr"
    )
    return (
        f"{here} would get within {analysis.CONVERGED:.1%} of the optimum; --lr auto "
        f"({a.fastest_lr:.3g} = 2 / (smallest + largest eigenvalue)) needs only "
        f"{_steps(a.steps_at_fastest_lr)} steps; --optimizer exact solves it outright"
    )


def minibatch_lines(result: FitResult) -> list[str]:
    """[[Mini-batches]]: sizes, epochs and the noise floor measured at the end of the run."""
    mb, q = result.minibatch, result.quadratic
    f = minibatch.floor(result.losses, mb.batches_per_epoch)
    lines = ["[[Mini-batches]]"]
    lines.append(_row("batch size", f"{mb.batch_size} of {mb.n} points", f"{mb.batches_per_epoch} updates per epoch, "
                      f"the last batch partial" if mb.n % mb.batch_size else f"{mb.batches_per_epoch} updates per epoch"))
    lines.append(_row("epochs", f"{mb.epochs:.4g}", f"{len(mb.batch_losses)} updates"))
    if f.window and result.diverged_at is None:
        label = "still descending" if f.descending else "noise floor"
        lines.append(_row(label, f"{_g(f.mean)} mean", f"full-data loss over the last {f.window} updates: "
                          f"{_g(f.low)} ... {_g(f.high)}, " + (_ratio(f.mean / q.optimum_loss) if q.optimum_loss > 0
                                                                else "n/a")))  # fmt: skip
    lines.append(_row("last batch loss", _g(float(mb.batch_losses[-1])) if len(mb.batch_losses) else "n/a",
                      "the loss of the points the last update saw"))  # fmt: skip
    return lines


def minibatch_why(result: FitResult) -> str:
    mb = result.minibatch
    f = minibatch.floor(result.losses, mb.batches_per_epoch)
    noise = ("each update follows one batch's gradient, the full gradient plus sampling noise, and at a fixed lr "
             "that noise keeps moving the fit")  # fmt: skip
    if f.descending:
        return (f"{noise}, but it is still descending (full-data loss {_g(f.low)} ... {_g(f.high)} over the last "
                f"{f.window} updates): more steps lower it before the noise floor does")  # fmt: skip
    return (f"{noise}: it hovers at a noise floor (full-data loss {_g(f.low)} ... {_g(f.high)} over the last "
            f"{f.window} updates) instead of converging")  # fmt: skip


def minibatch_hint(result: FitResult) -> str:
    mb = result.minibatch
    return (f"a smaller --lr or a larger --batch-size (now {mb.batch_size}) lowers the floor, at the cost of slower "
            "progress; without --batch-size every update uses all the points and the fit converges")


def why(result: FitResult) -> str:
    """One line: why the fit stopped where it did."""
    a, q, cfg = result.advice, result.quadratic, result.config
    ev = q.eigenvalues
    if result.minibatch is not None and not a.diverged:
        return minibatch_why(result)
    if a.diverged:
        growth = abs(1.0 - (result.lr or 0.0) * ev[0])
        return (
            f"lr {result.lr:g} is above the stable bound {q.stable_lr:.3g} = 2 / {ev[0]:.4g} (the largest "
            f"Hessian eigenvalue): the error along that direction grows {growth:.3g}x per step"
        )
    if a.converged:
        return "the fit has reached the optimum; what is left is the model's limit"
    if cfg.optimizer != "gd" or not q.quadratic:
        return f"{cfg.steps} steps of {OPTIMIZER_NAMES[cfg.optimizer]} were not enough on a surface with condition number {q.condition_number:.3g}"
    return (
        f"the loss surface is {q.condition_number:.3g} times steeper one way than another, and lr "
        f"must suit the steepest; at lr {result.lr:g} the direction that holds {a.bottleneck_share:.0%} of "
        f"the remaining gap (eigenvalue {ev[a.bottleneck]:.4g}) loses only {1.0 - a.bottleneck_rate:.3%} "
        f"of it per step"
    )


def _row(label: str, value: str, note: str = "") -> str:
    return f"    {label:<30}{value}" + (f"   {note}" if note else "")


def _g(v: float, digits: int = 6) -> str:
    return f"{v:.{digits}g}"


def fit_report(result: FitResult) -> str:
    """The full report, in fixed sections."""
    cfg, q, a, s = result.config, result.quadratic, result.advice, result.statistics
    ev = q.eigenvalues
    names = result.model.names
    lines = ["[[Setup]]"]
    lines.append(_row("target", result.dataset.target if cfg.data is None else f"points from {cfg.data}"))
    lo, hi = result.dataset.domain
    lines.append(_row("data", f"{s.n} points, x in [{lo:.6g}, {hi:.6g}]" + (f", noise {cfg.noise:g}" if cfg.noise else "")))
    mapped = "raw x" if cfg.basis == "power" else f"t = x mapped from [{lo:.6g}, {hi:.6g}] to [-1, 1]"
    lines.append(_row("model", f"degree {cfg.degree}, {cfg.basis} basis on {mapped}"))
    lines.append(_row("loss", _loss_text(cfg)))
    lines.append(_row("optimizer", _optimizer_text(cfg, result.lr, result.momentum)))
    lines.append(_row("engine", f"{result.engine}, {cfg.dtype}, seed {cfg.seed}"))
    lines.append(_row("start", init.parse(cfg.init).describe()))
    at = result.diverged_at if result.diverged_at is not None else result.interrupted_at
    lines.append(_row("status", result.status + (f" at step {at}" if at is not None else "")))

    lines.append("[[Statistics]]")
    lines.append(_row("loss", _g(result.final_loss), f"({LOSS_NAMES[cfg.loss]})"))
    lines.append(_row("SSE", _g(s.sse)))
    lines.append(_row("MSE", _g(s.mse)))
    lines.append(_row("RMSE", _g(s.rmse)))
    lines.append(_row("R^2", _g(s.r2, 8)))
    lines.append(_row("max |error|", _g(s.max_error), f"at x = {s.max_error_at:.6g}"))
    lines.append(_row("AIC", _g(s.aic)))
    lines.append(_row("BIC", _g(s.bic)))

    lines.append("[[Optimum]]")
    how = "least squares" if q.quadratic else "Huber, by reweighted least squares"
    lines.append(_row("best possible loss", _g(q.optimum_loss), f"{how}: same model, same points, float64"))
    lines.append(_row("loss / best possible", _ratio(a.ratio)))
    lines.append(f"    Why:  {why(result)}.")
    lines.append(f"    Hint: {hint(result)}.")
    if result.minibatch is not None:
        lines += minibatch_lines(result)

    lines.append("[[Conditioning]]")
    shown = ", ".join(f"{v:.4g}" for v in ev) if len(ev) <= 8 else f"{ev[-1]:.4g} ... {ev[0]:.4g}"
    lines.append(_row("Hessian eigenvalues", shown, "" if q.quadratic else "(curvature bound)"))
    lines.append(_row("condition number", _g(q.condition_number, 4)))
    lines.append(_row("largest stable lr", f"{q.stable_lr:.3g}", f"2 / largest Hessian eigenvalue {ev[0]:.4g}"))
    if result.auto is not None:
        lines.append(f"    {auto_lr_text(result)}")

    scale = float(abs(q.optimum).max()) if len(q.optimum) else 0.0
    lines.append(f"[[Coefficients]] ({cfg.basis} basis)")
    lines.append(f"    {'':<14}{'value':>16}{'stderr':>14}{'optimum':>16}{'initial':>16}")
    rows = list(enumerate(zip(names, result.model.coefficients, q.optimum, result.initial.coefficients)))
    for i, (name, c, o, i0) in rows[::-1] if cfg.order == "ascending" else rows:  # in the naming order
        o = 0.0 if abs(o) < 1e-12 * scale else o  # float64 round-off, not a finding
        label = name + (f"  ({_term(model.powers(cfg.degree)[i])})" if cfg.basis == "power" else "")
        lines.append(f"    {label:<14}{c:>16.6g}{s.stderr[i]:>14.3g}{o:>16.6g}{i0:>16.6g}")
    if cfg.basis != "power":
        M = basis.to_power_matrix(cfg.basis, cfg.degree, result.dataset.domain)
        power = M @ result.model.coefficients
        power_se = _sqrt_diag(M @ s.covariance @ M.T)
        lines.append("[[Power form]] (coefficients of raw x)")
        power_rows = list(zip(basis.names("power", cfg.degree, cfg.order), model.powers(cfg.degree), power, power_se))
        for name, k, c, se in power_rows[::-1] if cfg.order == "ascending" else power_rows:
            lines.append(f"    {name + '  (' + _term(k) + ')':<14}{c:>16.6g}{se:>14.3g}")
    pairs = s.correlations(0.1)
    lines.append("[[Correlations]] (|r| >= 0.1)")
    if not pairs:
        lines.append("    none")
    for i, j, r in pairs[:12]:
        lines.append(f"    C({names[i]}, {names[j]}){'':<4}{r:>+8.4f}")
    lines.append(f"Fitted:  y = {result.formula()}")
    return "\n".join(lines)


def trace_text(traced, cfg: FitConfig) -> str:
    """--trace: the first steps in full, in the naming order in force."""
    from . import trace

    lr = cfg.lr if isinstance(cfg.lr, float) else None
    return trace.text(traced, basis.names(cfg.basis, cfg.degree, cfg.order), model.powers(cfg.degree), cfg.basis,
                      cfg.loss, cfg.optimizer, lr, cfg.order == "ascending")  # fmt: skip


def divergence_message(result: FitResult) -> str:
    step = result.diverged_at
    return (
        f"diverged: the loss became {result.losses[step]} at step {step} with lr {result.lr:g}; "
        f"the largest stable lr is {result.quadratic.stable_lr:.3g}"
    )


def _ratio(ratio: float) -> str:
    if not math.isfinite(ratio):
        return "the optimum is an exact fit"
    if abs(ratio - 1) < 0.01:
        return f"1 {'+' if ratio >= 1 else '-'} {abs(ratio - 1):.2g}: at the optimum"
    return f"{ratio:.4g}x the optimum"


def _term(k: int) -> str:
    return "1" if k == 0 else "x" if k == 1 else f"x^{k}"


def _sqrt_diag(m):
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.diag(m))


def _lr(lr: float) -> str:
    """lr rounded down to 3 significant digits, so it stays below a bound it came from."""
    e = math.floor(math.log10(lr))
    return f"{math.floor(lr / 10**e * 100) / 100:g}e{e}"


def _steps(n: float) -> str:
    return "never" if not math.isfinite(n) else f"{int(n)}"
