"""The report of a model fit, in fixed sections like the polynomial one (and lmfit's fit_report):
Setup, Statistics, Optimum, Variables, Correlations, Local analysis, Starts. Pure strings."""

from __future__ import annotations

import math

import numpy as np

from ..report import LOSS_NAMES, OPTIMIZER_NAMES, _ratio, _row
from .fit import ModelFitResult

OPTIMIZER_NAMES = {**OPTIMIZER_NAMES, "lm": "Levenberg-Marquardt"}


def _g(v: float, digits: int = 6) -> str:
    return f"{v:.{digits}g}"


def optimizer_text(cfg, lr, momentum) -> str:
    text = OPTIMIZER_NAMES[cfg.optimizer]
    if cfg.optimizer == "lm":
        return text + f", at most {cfg.steps} iterations"
    text += f", lr {lr:.4g}"
    if momentum is not None and cfg.optimizer in ("momentum", "nesterov"):
        text += f", momentum {momentum:.4g}"
    return text + f", {cfg.steps} steps"


def header(cfg, target: str) -> str:
    if cfg.data is None:
        lo, hi = cfg.domain if cfg.domain is not None else (-math.pi, math.pi)
        what = f"{target} on [{lo:.6g}, {hi:.6g}], {cfg.samples} points"
    else:
        what = f"the points in {cfg.data}"
    starts = f", {cfg.starts} starts" if cfg.starts > 1 else ""
    dtype = "float64" if cfg.optimizer == "lm" else cfg.dtype
    return (f"sinefit: fitting y = {cfg.model} to {what}, {dtype}\n"
            f"start {cfg.init}{starts}, {optimizer_text(cfg, cfg.lr, cfg.momentum)}, loss = {LOSS_NAMES[cfg.loss]}")


def final_row(result: ModelFitResult) -> str:
    from ..report import loss_row

    if result.diverged_at is not None:
        return loss_row(result.diverged_at, float(result.losses[-1]), "diverged")  # the history ends there
    if result.interrupted_at is not None:
        return loss_row(result.interrupted_at, result.final_loss, "interrupted here")
    return loss_row(result.last_step, result.final_loss, "final" + (" (lm: " + result.reason + ")"
                    if result.config.optimizer == "lm" else ": after the last update"))  # fmt: skip


def hint(result: ModelFitResult) -> str:
    cfg, end = result.config, result.local_end
    if result.diverged_at is not None:
        return (f"use an lr below the stable bound at the start, {result.local_start.stable_lr:.3g}, or "
                "--optimizer lm")  # fmt: skip
    if cfg.optimizer == "lm":
        if result.converged:
            return "this is a minimum of the SSE; --starts N (e.g. 20) shows whether other starts find a lower one"
        return "try other --init values (or --starts 20), more --steps, or --bounds to keep the parameters sensible"
    if result.converged:
        return "this is the minimum lm finds from the same start(s)"
    steps = ""
    if cfg.optimizer == "gd" and math.isfinite(end.condition_number):
        steps = (f"; near the solution plain gd is stable up to lr {end.stable_lr:.3g} and its slowest direction "
                 f"shrinks by {1 - min(cfg.lr * end.eigenvalues[-1], 1):.6g} per step at this lr")  # fmt: skip
    return f"--optimizer lm reaches it in a few iterations{steps}"


def why(result: ModelFitResult) -> str:
    cfg, end = result.config, result.local_end
    if result.diverged_at is not None:
        return (f"lr {result.lr:g} is above 2 / largest Gauss-Newton eigenvalue at the start "
                f"({result.local_start.stable_lr:.3g}): the error along that direction grows every step")
    if cfg.optimizer == "lm" or result.converged:
        return result.reason
    return (f"{cfg.steps} steps of {OPTIMIZER_NAMES[cfg.optimizer]} on a surface with condition number "
            f"{end.condition_number:.3g} near the solution were not enough")


def _condition(local) -> str:
    c = local.condition_number
    return _g(c, 4) if math.isfinite(c) else "infinite (a flat direction: some parameter is not determined)"


def _eig(values: np.ndarray) -> str:
    return ", ".join(f"{v:.4g}" for v in values) if len(values) <= 8 else f"{values[-1]:.4g} ... {values[0]:.4g}"


def fit_report(result: ModelFitResult) -> str:
    cfg, s = result.config, result.statistics
    names = result.names
    lines = ["[[Setup]]"]
    lines.append(_row("target", result.target if cfg.data is None else f"points from {cfg.data}"))
    lo, hi = result.domain
    lines.append(_row("data", f"{s.n} points, x in [{float(result.x.min()):.6g}, {float(result.x.max()):.6g}]"
                      + (f", noise {cfg.noise:g}" if cfg.noise else "")))  # fmt: skip
    lines.append(_row("model", f"y = {result.expression.text}", f"({len(names)} parameters: {', '.join(names)})"))
    start = cfg.init if "=" in cfg.init else f"{cfg.init} (seed {cfg.seed}): " + ",".join(
        f"{n}={v:.6g}" for n, v in zip(names, result.start_values[0]))
    lines.append(_row("start", start + (f" and {cfg.starts - 1} seeded perturbations (seed {cfg.seed})"
                                           if cfg.starts > 1 else "")))  # fmt: skip
    if result.bounds:
        shown = ", ".join(f"{n} in [{a:g}, {b:g}]" for n, (a, b) in result.bounds.items())
        lines.append(_row("bounds", shown, "(by transformation, as lmfit: the optimizer steps in unbounded u)"))
    lines.append(_row("loss", LOSS_NAMES[cfg.loss]))
    lines.append(_row("optimizer", optimizer_text(cfg, result.lr, result.momentum)))
    dtype = "float64" if cfg.optimizer == "lm" else cfg.dtype
    lines.append(_row("engine", f"{result.engine}, {dtype}"))
    at = result.diverged_at if result.diverged_at is not None else result.interrupted_at
    lines.append(_row("status", result.status + (f" at step {at}" if at is not None else "")
                      + (f"; best of {cfg.starts} starts: start {result.best_start}" if cfg.starts > 1 else "")))

    lines.append("[[Statistics]]")
    lines.append(_row("loss", _g(result.final_loss), f"({LOSS_NAMES[cfg.loss]})"))
    lines.append(_row("SSE", _g(s.sse)))
    lines.append(_row("reduced chi-square", _g(s.reduced_chi2), f"SSE / (n - k), n - k = {s.n - s.k}"))
    lines.append(_row("RMSE", _g(s.rmse)))
    lines.append(_row("R^2", _g(s.r2, 8)))
    lines.append(_row("max |error|", _g(s.max_error), f"at x = {s.max_error_at:.6g}"))
    lines.append(_row("AIC", _g(s.aic)))
    lines.append(_row("BIC", _g(s.bic)))

    lines.append("[[Optimum]]")
    ref = result.reference_loss
    if math.isfinite(ref):
        found = int(np.sum(result.reference.converged))
        lines.append(_row("best loss found by lm", _g(ref), f"Levenberg-Marquardt from the same {cfg.starts} "
                          f"start(s), float64; converged from {found} of {cfg.starts}"))  # fmt: skip
        lines.append(_row("loss / best found", _ratio(result.final_loss / ref).replace("the optimum", "the best")
                          if ref > 0 else
                          ("1: an exact fit" if result.final_loss <= 1e-20 else "the best is an exact fit")))
    else:
        lines.append(_row("best loss found by lm", "n/a", "lm solves least squares; Huber's minimum is not it"))
    lines.append(_row("converged", "yes" if result.converged else "NO", result.reason))
    lines.append(f"    Why:  {why(result)}.")
    lines.append(f"    Hint: {hint(result)}.")

    lines.append("[[Variables]]")
    lines.append(f"    {'':<12}{'value':>16} {'stderr':>14} {'relative':>10}{'initial':>16}{'lm':>16}")
    se = s.stderr
    ref_row = result.reference_best
    for i, name in enumerate(names):
        value = result.model.values[i]
        if not s.determined[i]:
            err, rel = "not determined", ""
        elif not math.isfinite(se[i]):
            err, rel = "n/a", ""
        else:
            err = f"{se[i]:.4g}"
            rel = f"{abs(se[i] / value) * 100:.3g}%" if value != 0 else ""
        note = "  (at its bound: stderr not meaningful)" if result.at_bound[i] else ""
        lines.append(f"    {name:<12}{value:>16.8g} {err:>14} {rel:>10}{result.initial.values[i]:>16.6g}"
                     f"{ref_row[i]:>16.8g}{note}")  # fmt: skip
    if not all(s.determined):
        lines.append("    (not determined: the model is constant in that parameter here, or only a combination of "
                     "parameters matters)")  # fmt: skip
    lines.append("    (stderr from s^2 (J^T J)^-1 at the solution, s^2 the reduced chi-square)")
    pairs = s.correlations(0.1)
    lines.append("[[Correlations]] (|r| >= 0.1)")
    if not pairs:
        lines.append("    none")
    for i, j, r in pairs[:12]:
        lines.append(f"    C({names[i]}, {names[j]}){'':<4}{r:>+8.4f}")

    end, start = result.local_end, result.local_start
    coords = " (in the optimizer's unbounded coordinates u)" if result.bounds else ""
    lines.append(f"[[Local analysis]] Gauss-Newton Hessian of the loss{coords}")
    lines.append(_row("at the solution: eigenvalues", _eig(end.eigenvalues)))
    lines.append(_row("condition number", _condition(end)))
    lines.append(_row("largest stable gd lr", f"{end.stable_lr:.3g}", "2 / largest eigenvalue"))
    lines.append(_row("at the start: eigenvalues", _eig(start.eigenvalues)))
    lines.append(_row("condition number", _condition(start)))
    lines.append(_row("largest stable gd lr", f"{start.stable_lr:.3g}"))
    lines.append(f"    {_caveat(result)}")

    if cfg.starts > 1:
        lines.append(f"[[Starts]] {cfg.starts} starts")
        lines += _minima_lines("lm (the reference) reached", result.reference_minima, names)
        if cfg.optimizer != "lm":
            lines += _minima_lines(f"{cfg.optimizer} ended at", result.minima, names)
    lines.append(f"Fitted:  y = {result.formula()}")
    return "\n".join(lines)


def _caveat(result: ModelFitResult) -> str:
    end, start = result.local_end, result.local_start
    a, b = float(end.eigenvalues[0]), float(start.eigenvalues[0])
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        return "The surface is not quadratic: these numbers hold only near the point where they are taken."
    ratio = max(a / b, b / a)
    where = "steeper" if b > a else "flatter"
    return (f"A model's loss is quadratic only near a point: these numbers hold near the solution, and the "
            f"surface changes on the way there. At the start it is {ratio:.3g}x {where} along its steepest "
            f"direction (stable lr {start.stable_lr:.3g} there against {end.stable_lr:.3g} here)"
            + (f", with condition number {start.condition_number:.3g} against {end.condition_number:.3g}."
               if math.isfinite(start.condition_number) and math.isfinite(end.condition_number) else "."))


def _minima_lines(title: str, minima, names) -> list[str]:
    lines = [f"    {title} {len(minima)} distinct point(s):"]
    for m in minima[:10]:
        values = ", ".join(f"{n}={v:.6g}" for n, v in zip(names, m.parameters))
        starts = ",".join(map(str, m.starts[:12])) + ("..." if len(m.starts) > 12 else "")
        lines.append(f"      loss {m.loss:<14.8g} from {len(m.starts):>3} start(s) [{starts}]: {values}")
    if len(minima) > 10:
        lines.append(f"      ... and {len(minima) - 10} more")
    return lines


def divergence_message(result: ModelFitResult) -> str:
    step = result.diverged_at
    return (f"diverged: the loss became {result.losses[-1]} at step {step} with lr {result.lr:g}; the largest "
            f"stable lr at the start is {result.local_start.stable_lr:.3g}")
