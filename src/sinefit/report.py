"""Text for people: the run header, the loss table and the fit report.

The fit report has fixed sections, in the spirit of lmfit's fit_report:
Setup, Statistics, Optimum, Conditioning, Coefficients, Power form,
Correlations. Pure string functions of a FitResult; the CLI decides where
they go.
"""

from __future__ import annotations

import math

import numpy as np

from . import analysis, basis, hints, init, minibatch, model, stability
from .api import FitResult
from .config import FitConfig
from .threads import one_blas_thread

LOSS_NAMES = {"sse": "sum of squared errors", "mse": "mean squared error", "huber": "mean Huber loss"}
OPTIMIZER_NAMES = {
    "gd": "plain gradient descent", "momentum": "heavy-ball momentum", "nesterov": "Nesterov momentum",
    "adam": "Adam", "rmsprop": "RMSprop", "lbfgs": "L-BFGS", "exact": "exact least squares",
}  # fmt: skip


def model_text(cfg: FitConfig) -> str:
    """'a x^3 + b x^2 + c x + d' in the seed's naming, or the basis functions."""
    names = basis.names(cfg.basis, cfg.degree, cfg.order)
    if cfg.degree == 0:
        return "a constant a" if cfg.basis == "power" else f"a constant c0 {names[0]}(t)"
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
    if lr is None:  # not resolved yet: the seed's, unless it is unstable here (then lr auto, said before training)
        lr = 1e-6
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
    fixed = 0.01 <= abs(loss) < 1e10 or loss == 0 or not math.isfinite(loss)  # else 1e132 printed 130 digits
    value = f"{loss:>14.6f}" if fixed else f"{loss:>14.6e}"
    return f"{step:>8}  {value}" + (f"  {note}" if note else "")


def final_row(result: FitResult) -> str:
    """The loss of the returned coefficients, after the last update (the seed never prints it)."""
    if result.diverged_at is not None:
        return loss_row(result.diverged_at, result.loss_at(result.diverged_at), "diverged")
    if result.config.optimizer == "exact":
        return loss_row(1, result.final_loss, "final: the least-squares solution")
    if result.interrupted_at is not None:
        return loss_row(result.interrupted_at, result.final_loss, "interrupted here")
    if result.converged_at is not None:
        return loss_row(result.converged_at, result.final_loss, "converged: at the optimum, so training stopped")
    return loss_row(result.last_step, result.final_loss, "final: after the last update")


def auto_lr_text(result: FitResult) -> str:
    """What --lr auto chose, from the condition number, and what it costs."""
    a, q = result.auto, result.quadratic
    mom = f" and momentum {a.momentum:.4g}" if a.momentum is not None else ""
    if a.momentum_given:
        mom = f" (the best stable lr for the given momentum {a.momentum:.4g})"
    if math.isfinite(a.steps_to_1e6):
        reach = f"about {int(a.steps_to_1e6)} steps reach 1e-6 of the optimum"
    else:
        reach = "no practical number of steps reaches 1e-6 of the optimum"
    return f"lr auto: condition number {q.condition_number:.4g}, so lr {a.lr:.4g}{mom}; {reach}"


def hint(result: FitResult) -> str:
    """One line: what would close the gap to the optimum (``hints.suggest``: a promise a test keeps)."""
    if result.minibatch is not None and not result.advice.diverged:
        return minibatch_hint(result)
    return hints.suggest(result).text


def minibatch_lines(result: FitResult) -> list[str]:
    """[[Mini-batches]]: sizes, epochs and the noise floor measured at the end of the run."""
    mb, q = result.minibatch, result.quadratic
    f = minibatch.floor(result.losses, mb.batches_per_epoch, result.history_steps)
    lines = ["[[Mini-batches]]"]
    lines.append(_row("batch size", f"{mb.batch_size} of {mb.n} points", f"{mb.batches_per_epoch} updates per epoch, "
                      f"the last batch partial" if mb.n % mb.batch_size else f"{mb.batches_per_epoch} updates per epoch"))
    lines.append(_row("epochs", f"{mb.epochs:.4g}", f"{mb.updates} updates"))
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
    f = minibatch.floor(result.losses, mb.batches_per_epoch, result.history_steps)
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
    if not q.full_rank:
        return (f"the points determine only rank {q.rank} of {q.p} coefficients (the least-squares problem is "
                "rank-deficient): the rest are arbitrary, so no optimum is unique")  # fmt: skip
    if a.diverged:
        bound = a.bound
        if bound is None:
            return f"{OPTIMIZER_NAMES[cfg.optimizer]} diverged at lr {result.lr:g}: {stability.limit_text(cfg.optimizer)}"
        growth = stability.growth(cfg.optimizer, result.lr or 0.0, float(ev[0]), result.momentum)
        return (
            f"lr {result.lr:g} is above {cfg.optimizer}'s stable bound {bound:.3g} = "
            f"{stability.formula(cfg.optimizer, result.momentum)} ({ev[0]:.4g}): the error along that direction "
            f"grows {growth:.4g}x per step"
        )
    if a.converged:
        if a.at_roundoff:
            return ("the fit is at the optimum to round-off (its loss differs from the optimum's by less than "
                    f"the arithmetic's resolution, {a.roundoff:.2g}); what is left is the model's limit")  # fmt: skip
        return "the fit has reached the optimum; what is left is the model's limit"
    if cfg.steps == 0:
        return "no steps were taken (--steps 0): these are the initial coefficients"
    far = hints.far_from_zero(result)
    tail = f"; {far}" if far and cfg.optimizer in stability.BOUNDED else ""
    if cfg.optimizer in ("adam", "rmsprop", "lbfgs") or not q.quadratic:
        limit = stability.limit_text(cfg.optimizer) if cfg.optimizer in stability.LIMITS else (
            "the Huber loss has no closed-form path")  # fmt: skip
        return f"{cfg.steps} steps were not enough: {limit}"
    if cfg.optimizer in ("momentum", "nesterov"):
        slow = stability.growth(cfg.optimizer, result.lr or 0.0, float(ev[-1]), result.momentum)
        return (
            f"the loss surface is {q.condition_number:.3g} times steeper one way than another; at lr {result.lr:g} "
            f"and momentum {result.momentum:g} the flattest direction (eigenvalue {ev[-1]:.4g}) shrinks only "
            f"by a factor {_near_one(slow)} per step" + tail
        )
    return (
        f"the loss surface is {q.condition_number:.3g} times steeper one way than another, and lr "
        f"must suit the steepest; at lr {result.lr:g} the direction that holds {a.bottleneck_share:.0%} of "
        f"the remaining gap (eigenvalue {ev[a.bottleneck]:.4g}) " + (
            f"grows by {100 * (a.bottleneck_rate - 1.0):.3g}% a step: lr is above the stable bound"
            if a.bottleneck_rate > 1.0 else f"loses only {100 * (1.0 - a.bottleneck_rate):.3g}% of it per step") + tail
    )


def _near_one(factor: float) -> str:
    """A per-step factor, legible where it rounds to 1 in 6 digits (1 - 1.9e-17, not 1)."""
    if factor == 1.0:
        return "1 (to float64's precision: no progress at all)"
    if f"{factor:.6g}" == "1" and factor < 1.0:
        return f"1 - {1.0 - factor:.2g}"
    return f"{factor:.6g}"


def _row(label: str, value: str, note: str = "") -> str:
    return f"    {label:<30}{value}" + (f"   {note}" if note else "")


def _g(v: float, digits: int = 6) -> str:
    return f"{v:.{digits}g}"


@one_blas_thread
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
    if cfg.optimizer == "exact":  # solved in float64 whatever --dtype says; generated points keep theirs
        points = "" if str(result.dataset.x.dtype).endswith("float64") else f" (of {cfg.dtype} points)"
        lines.append(_row("engine", f"{result.engine} in float64{points}, seed {cfg.seed}"))
    else:
        lines.append(_row("engine", f"{result.engine}, {cfg.dtype}, seed {cfg.seed}"))
    lines.append(_row("start", init.parse(cfg.init).describe()))
    at = result.diverged_at if result.diverged_at is not None else result.interrupted_at
    grew = ""
    first = float(result.losses[0]) if len(result.losses) else math.nan
    if result.diverged_at is None and math.isfinite(first) and result.final_loss > first:
        # Not overflowed (so not "diverged"), but going the wrong way: a completed run must not read as fine.
        grew = f" (the loss grew from {_g(first)} to {_g(result.final_loss)})"
    lines.append(_row("status", result.status + (f" at step {at}" if at is not None else "")
                      + (f", converged at step {result.converged_at}" if result.converged_at is not None else "")
                      + grew))  # fmt: skip

    lines.append("[[Statistics]]")
    lines.append(_row("loss", _g(result.final_loss), f"({LOSS_NAMES[cfg.loss]})"))
    lines.append(_row("SSE", _g(s.sse)))
    lines.append(_row("MSE", _g(s.mse)))
    lines.append(_row("RMSE", _g(s.rmse)))
    lines.append(_row("R^2", _g(s.r2, 8)))
    kept = len(result.dataset.x)
    lines.append(_row("max |error|", _g(s.max_error), f"at x = {s.max_error_at:.6g}" + (
        f", on a sample of {kept} of the {s.n} points" if kept < s.n else "")))  # fmt: skip
    lines.append(_row("AIC", _g(s.aic)))
    lines.append(_row("BIC", _g(s.bic)))

    lines.append("[[Optimum]]")
    how = "least squares" if q.quadratic else "Huber, by reweighted least squares"
    lines.append(_row("best possible loss", _g(q.optimum_loss), f"{how}: same model, same points, float64"))
    lines.append(_row("loss / best possible", _ratio_text(result)))
    lines.append(f"    Why:  {why(result)}.")
    lines.append(f"    Hint: {hint(result)}.")
    if result.minibatch is not None:
        lines += minibatch_lines(result)

    lines.append("[[Conditioning]]")
    shown = ", ".join(f"{v:.4g}" for v in ev) if len(ev) <= 8 else f"{ev[-1]:.4g} ... {ev[0]:.4g}"
    lines.append(_row("Hessian eigenvalues", shown, "" if q.quadratic else "(curvature bound)"))
    lines.append(_row("condition number", _g(q.condition_number, 4)))
    if a.bound is not None:
        lines.append(_row("largest stable lr", f"{a.bound:.3g}",
                          f"{cfg.optimizer}: {stability.formula(cfg.optimizer, result.momentum)} {ev[0]:.4g}"))  # fmt: skip
    else:
        lines.append(_row("largest stable lr", "none", stability.limit_text(cfg.optimizer) or ""))
    if not q.full_rank:
        lines.append(_row("rank", f"rank {q.rank} of {q.p}", "rank-deficient: lower --degree or add distinct x"))
    if result.auto is not None:
        lines.append(f"    {auto_lr_text(result)}")

    size = _column_sizes(result)
    y_scale = float(np.max(np.abs(result.dataset.y.double().cpu().numpy()))) if s.n else 0.0
    lines.append(f"[[Coefficients]] ({cfg.basis} basis)")
    if not a.converged and cfg.optimizer != "exact":
        lines.append("    (stderr describes the optimum's neighbourhood; this fit is far from it, so they are not "
                     "meaningful for these values)")  # fmt: skip
    lines.append(f"    {'':<14}{'value':>16}{'stderr':>14}{'optimum':>16}{'initial':>16}")
    rows = list(enumerate(zip(names, result.model.coefficients, q.optimum, result.initial.coefficients)))
    for i, (name, c, o, i0) in rows[::-1] if cfg.order == "ascending" else rows:  # in the naming order
        tiny = abs(o) * size[i] < 1e-12 * y_scale  # its term is float64 round-off, not a finding
        c = 0.0 if tiny and c == o else c  # the optimum itself (exact): the same number, shown the same way
        o = 0.0 if tiny else o
        label = name + (f"  ({_term(model.powers(cfg.degree)[i])})" if cfg.basis == "power" else "")
        lines.append(f"    {label:<14}{c:>16.6g}{s.stderr[i]:>14.3g}{o:>16.6g}{i0:>16.6g}")
    if cfg.basis != "power":
        power = result.model.power_coefficients
        power_se = power_stderr(result)
        lines.append("[[Power form]] (coefficients of raw x)")
        power_rows = list(zip(basis.names("power", cfg.degree, cfg.order), model.powers(cfg.degree), power, power_se))
        for name, k, c, se in power_rows[::-1] if cfg.order == "ascending" else power_rows:
            lines.append(f"    {name + '  (' + _term(k) + ')':<14}{c:>16.6g}{se:>14.3g}")
    pairs = s.correlations(0.1, limit=12)
    lines.append("[[Correlations]] (|r| >= 0.1)")
    if not pairs:
        lines.append("    none")
    for i, j, r in pairs:
        lines.append(f"    C({names[i]}, {names[j]}){'':<4}{r:>+8.4f}")
    lines.append(f"Fitted:  y = {result.formula()}")
    return "\n".join(lines)


def trace_text(traced, cfg: FitConfig) -> str:
    """--trace: the first steps in full, in the naming order in force."""
    from . import trace

    lr = traced.lr if traced.lr is not None else (cfg.lr if isinstance(cfg.lr, float) else None)
    return trace.text(traced, basis.names(cfg.basis, cfg.degree, cfg.order), model.powers(cfg.degree), cfg.basis,
                      cfg.loss, cfg.optimizer, lr, cfg.order == "ascending")  # fmt: skip


def _column_sizes(result: FitResult) -> np.ndarray:
    """max |phi_k(x)| over the points, per coefficient: how much each term can contribute."""
    cfg = result.config
    if cfg.basis != "power":
        return np.ones(cfg.degree + 1)
    m = float(np.max(np.abs(result.dataset.x.double().cpu().numpy()))) if cfg.degree else 1.0
    with np.errstate(over="ignore"):
        return np.array([m**k for k in model.powers(cfg.degree)], dtype=np.float64)


def divergence_message(result: FitResult) -> str:
    step, cfg = result.diverged_at, result.config
    bound = result.advice.bound
    limit = (f"{cfg.optimizer}'s largest stable lr here is {bound:.3g} ({stability.formula(cfg.optimizer, result.momentum)})"
             if bound is not None else stability.limit_text(cfg.optimizer) or "")  # fmt: skip
    return f"diverged: the loss became {result.loss_at(step)} at step {step} with lr {result.lr:g}; {limit}"


@one_blas_thread
def power_stderr(result: FitResult) -> np.ndarray:
    """Standard errors of the power-form coefficients: the covariance carried through the conversion."""
    cfg, s = result.config, result.statistics
    M = basis.to_power_matrix(cfg.basis, cfg.degree, result.dataset.domain)
    with np.errstate(all="ignore"):
        return np.sqrt(np.sum((M @ s.covariance) * M, axis=1))  # diag(M C M^T) without the second product


def gap_text(result: FitResult) -> str:
    """final / optimum - 1, the one definition of the gap, as people read it."""
    a = result.advice
    if a.at_roundoff:
        return "at the optimum to round-off"
    if a.diverged and not math.isfinite(a.ratio) and result.quadratic.optimum_loss > 0:
        return "diverged"
    if not math.isfinite(a.ratio):
        return "the optimum is an exact fit"
    return f"{a.gap:.4g}"


def _ratio_text(result: FitResult) -> str:
    a, q = result.advice, result.quadratic
    if not q.full_rank:
        return f"{a.ratio:.4g}x a least-squares loss that is not unique (rank {q.rank} of {q.p})"
    if a.at_roundoff:
        return f"1: at the optimum to round-off (within {a.roundoff:.2g})"
    if a.diverged and q.optimum_loss > 0:  # inf / a positive optimum: not an exact fit
        return "diverged: the last finite loss is " + (f"{a.ratio:.4g}x the optimum" if math.isfinite(a.ratio) else
                                                       "beyond float64 against the optimum")  # fmt: skip
    return _ratio(a.ratio)


def _ratio(ratio: float) -> str:
    if not math.isfinite(ratio):
        return "the optimum is an exact fit"
    if abs(ratio - 1) < 0.01:
        return f"1 + {max(ratio - 1, 0.0):.2g}: at the optimum"
    return f"{ratio:.4g}x the optimum"


def _term(k: int) -> str:
    return "1" if k == 0 else "x" if k == 1 else f"x^{k}"


def _lr(lr: float) -> str:
    """lr rounded down to 3 significant digits, so it stays below a bound it came from."""
    e = math.floor(math.log10(lr))
    return f"{math.floor(lr / 10**e * 100) / 100:g}e{e}"


def _steps(n: float) -> str:
    return "never" if not math.isfinite(n) else f"{int(n)}"
