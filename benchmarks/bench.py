#!/usr/bin/env python
"""sinefit benchmarks B1-B5, printed as Markdown tables.

    python benchmarks/bench.py            # the full run (a few minutes; B4 writes ~3.3 GB of temp files)
    python benchmarks/bench.py --quick    # tiny sizes and few repeats, a few seconds (CI)
    python benchmarks/bench.py --write    # also write docs/benchmarks.md
    python benchmarks/bench.py --only B1,B3

Every comparison is measured side by side in one process (or, for peak memory
and whole-process times, in fresh child processes started by this one), with
the runs interleaved round by round, because the machines these run on are
shared and noisy. Each row shows the measurement, the reference, their ratio,
the bar and PASS or MISS; a missed bar is printed as MISS, never hidden. The
exit status is 0 whenever the benchmarks ran, whatever the verdicts.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import sinefit
from sinefit import fit
from sinefit.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
PI = math.pi


# --------------------------------------------------------------------------- results and formatting


@dataclass
class Row:
    measurement: str
    value: str
    reference: str = "—"
    ref_value: str = "—"
    ratio: str = "—"
    bar: str = "—"
    verdict: str = "—"  # PASS, MISS, or — (informational), or a skip note


@dataclass
class Section:
    key: str
    title: str
    method: str  # what is compared and how it was measured (one paragraph)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        out = [f"## {self.key} — {self.title}", "", self.method, ""]
        out.append("| Measurement | Value | Reference | Reference value | Ratio | Bar | Result |")
        out.append("|---|---|---|---|---|---|---|")
        for r in self.rows:
            cells = [r.measurement, r.value, r.reference, r.ref_value, r.ratio, r.bar, _bold(r.verdict)]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if self.notes:
            out.append("")
            out.extend(f"- {n}" for n in self.notes)
        return "\n".join(out) + "\n"


def _bold(verdict: str) -> str:
    return f"**{verdict}**" if verdict in ("PASS", "MISS") else verdict


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def fmt_s(seconds: float) -> str:
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_x(ratio: float) -> str:
    if not math.isfinite(ratio):
        return str(ratio)
    if ratio >= 1e7:
        return f"{ratio:.3g}x"
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def fmt_mb(kb: float) -> str:
    return f"{kb / 1024:,.0f} MB" if kb < 1024 * 1024 else f"{kb / 1024 / 1024:.2f} GB"


def fmt_e(v: float) -> str:
    return f"{v:.2e}"


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b != 0 else abs(a - b)


def best_med(ts: list[float]) -> str:
    return f"{fmt_s(min(ts))} (median {fmt_s(statistics.median(ts))})"


def interleaved(
    cases: dict[str, Callable[[], Any]], n: int, warmup: bool = True, number: dict[str, int] | None = None
) -> dict[str, list[float]]:
    """Time each case n times, round-robin (one measurement of each per round), gc off while timing.

    A measurement is ``number[k]`` back-to-back calls (1 by default) and records the time per
    call, as ``timeit`` does: for cases much shorter than their neighbours.
    """
    number = number or {}
    if warmup:
        for f in cases.values():
            f()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(n):
        for k, f in cases.items():
            calls = number.get(k, 1)
            gc.collect()
            gc.disable()
            try:
                t = time.perf_counter()
                for _ in range(calls):
                    f()
                times[k].append((time.perf_counter() - t) / calls)
            finally:
                gc.enable()
    return times


# --------------------------------------------------------------------------- the machine


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    versions = {"Python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    for name in ("pyarrow", "scipy", "matplotlib"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed"
    try:  # read-only: which commit the working tree is based on (it may hold uncommitted changes)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "unknown"  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "RAM": ram,
        "OS": platform.platform(),
        **versions,
        "sinefit": f"{sinefit.__version__} (tree at commit {commit})",
        "load average at start (1/5/15 min)": load,
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }


# --------------------------------------------------------------------------- child processes


CHILD_PRELUDE = r"""
import json, sys, time


def emit(**result):
    # VmHWM: the kernel's peak RSS of this process's own address space (fresh at exec)
    with open("/proc/self/status") as f:
        hwm = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")]
    print("BENCH-RESULT " + json.dumps({**result, "hwm_kb": hwm[0] if hwm else -1}), flush=True)

"""


@dataclass
class Child:
    ok: bool
    result: dict[str, Any]
    wall: float  # seconds from spawn to reaped
    maxrss_kb: int  # the child's peak RSS, KiB: its VmHWM, read by the child itself at the end
    anon_kb: int  # peak RssAnon seen by polling /proc/<pid>/status every 5 ms (0 if unavailable)
    file_kb: int  # peak RssFile likewise
    error: str = ""


def run_child(code: str, args: list[str], timeout: float = 900.0) -> Child:
    """Run ``python -c code args`` in a fresh process; its result is the JSON after 'BENCH-RESULT '.

    Peak RSS is the child's VmHWM from /proc/self/status, which it reports as it finishes: the
    kernel's high-water mark for the child's own address space. Not ru_maxrss: on Linux a child's
    ru_maxrss (os.wait4, RUSAGE_CHILDREN) starts from the parent's RSS at exec, so a parent holding
    torch and data would inflate every child's figure. The anonymous / file-backed split is polled
    from the outside.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + code, *args], stdout=out, stderr=err)
        anon = filed = 0
        status_path = f"/proc/{proc.pid}/status"
        deadline = start + timeout
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                with open(status_path) as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            anon = max(anon, int(line.split()[1]))
                        elif line.startswith("RssFile:"):
                            filed = max(filed, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            if time.perf_counter() > deadline:
                os.kill(proc.pid, signal.SIGKILL)
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    result: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line[len("BENCH-RESULT ") :])
    ok = proc.returncode == 0 and bool(result) and result.get("hwm_kb", -1) > 0
    error = "" if ok else f"exit {proc.returncode}: {(stderr.strip().splitlines() or ['no output'])[-1]}"
    return Child(ok, result, wall, int(result.get("hwm_kb", -1)), anon, filed, error)


FIT_CHILD = r"""
t0 = time.perf_counter()
from sinefit import fit
t1 = time.perf_counter()
r = fit(data=sys.argv[1], dtype="float64", optimizer="exact")
t2 = time.perf_counter()
emit(import_s=t1 - t0, seconds=t2 - t1, final_loss=r.final_loss, n=int(r.dataset.size), engine=r.engine)
"""

BASELINE_CHILD = r"""
t0 = time.perf_counter()
from sinefit import fit
emit(import_s=time.perf_counter() - t0)
"""

POLYFIT_CHILD = r"""
import numpy as np
a = np.load(sys.argv[1])  # every point in memory (not memory-mapped)
x, y = a[:, 0], a[:, 1]
t0 = time.perf_counter()
P = np.polynomial.Polynomial.fit(x, y, 3)
t1 = time.perf_counter()
sse = float(np.sum((P(x) - y) ** 2))
emit(seconds=t1 - t0, sse=sse, n=int(len(x)))
"""


READ_CHILD = r"""
from sinefit.io.datafiles import iter_chunks  # the readers only: no torch
t0 = time.perf_counter()
n = 0
for x, y in iter_chunks(sys.argv[1]):
    n += len(x)
emit(seconds=time.perf_counter() - t0, n=n)
"""

PYARROW_CHILD = r"""
import pyarrow.parquet as pq
t0 = time.perf_counter()
n = 0
with open(sys.argv[1], "rb") as f:
    for batch in pq.ParquetFile(f, pre_buffer=sys.argv[2] == "1").iter_batches(batch_size=1 << 20, columns=["x", "y"]):
        n += batch.num_rows
emit(seconds=time.perf_counter() - t0, n=n)
"""


# --------------------------------------------------------------------------- B1: the seed experiment


def literal_loop(seed: int = 0, steps: int = 2000, learning_rate: float = 1e-6, record: list | None = None):
    """The seed's loop as written (in float64): scalar tensors, hand gradients, .item() every step."""
    x = torch.linspace(-PI, PI, 1000, dtype=torch.float64)
    y = torch.sin(x)

    torch.manual_seed(seed)
    a = torch.randn((), dtype=torch.float64)
    b = torch.randn((), dtype=torch.float64)
    c = torch.randn((), dtype=torch.float64)
    d = torch.randn((), dtype=torch.float64)

    printed = []
    for t in range(steps):
        y_pred = a * x**3 + b * x**2 + c * x + d
        loss = (y_pred - y).pow(2).sum().item()
        if t % 100 == 99:
            printed.append((t, loss))
        if record is not None:
            record.append(loss)

        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = (grad_y_pred * x**3).sum()
        grad_b = (grad_y_pred * x**2).sum()
        grad_c = (grad_y_pred * x).sum()
        grad_d = grad_y_pred.sum()

        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d

    return printed, (a, b, c, d)


def cubic_sse(coefficients) -> float:
    """The seed's loss of a cubic (a, b, c, d) on the seed's points, in float64 (outside any timing)."""
    a, b, c, d = (float(v) for v in coefficients)
    x = torch.linspace(-PI, PI, 1000, dtype=torch.float64)
    return float((a * x**3 + b * x**2 + c * x + d - torch.sin(x)).pow(2).sum())


def autograd_loop(seed: int = 0, steps: int = 2000, learning_rate: float = 1e-6):
    """The same model with autograd: loss.backward(), update under no_grad, grads zeroed."""
    x = torch.linspace(-PI, PI, 1000, dtype=torch.float64)
    y = torch.sin(x)
    torch.manual_seed(seed)
    a, b, c, d = (torch.randn((), dtype=torch.float64, requires_grad=True) for _ in range(4))
    printed = []
    for t in range(steps):
        y_pred = a * x**3 + b * x**2 + c * x + d
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            printed.append((t, loss.item()))
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= learning_rate * p.grad
                p.grad = None
    return printed, (a.detach(), b.detach(), c.detach(), d.detach())


def sgd_linear_loop(seed: int = 0, steps: int = 2000, learning_rate: float = 1e-6):
    """torch.optim.SGD on nn.Linear(3, 1) over features [x, x^2, x^3], the seed's draw as weights."""
    x = torch.linspace(-PI, PI, 1000, dtype=torch.float64)
    y = torch.sin(x).unsqueeze(-1)
    features = torch.stack([x, x**2, x**3], dim=1)
    torch.manual_seed(seed)
    a, b, c, d = (torch.randn((), dtype=torch.float64) for _ in range(4))
    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.stack([c, b, a])[None])
        model.bias.copy_(d[None])
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    printed = []
    for t in range(steps):
        loss = loss_fn(model(features), y)
        if t % 100 == 99:
            printed.append((t, loss.item()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    w = model.weight.detach()[0]
    return printed, (w[2], w[1], w[0], model.bias.detach()[0])


def b1(quick: bool) -> Section:
    from sinefit import api
    from sinefit.config import FitConfig

    n = 2 if quick else 7
    sec = Section(
        "B1",
        "the seed experiment",
        f"Cubic fitted to sin(x) on [-π, π], 1000 points, plain gd, lr 1e-6, 2000 steps, everything in "
        f"float64, torch.manual_seed(0) and the seed's draw of a, b, c, d for every contender. sinefit's "
        f"default engine for this (`fit(dtype=\"float64\")`: sufficient statistics, gd in closed form) is "
        f"timed as a whole call (data, least-squares solve, the 2000-step history, the report statistics), "
        f"and separately its training part alone: the (private) `sinefit.api._run` on the problem prepared "
        f"once by `sinefit.api._prepare`, which is what `fit` calls for the steps (the closed form with the "
        f"loss history and the parameter snapshots). The "
        f"references are written out in the benchmark: (a) the seed's literal loop (scalar tensors, "
        f"`y_pred = a*x**3 + ...`, hand gradients, `a -= lr*grad_a`, `.item()` of the loss every step), "
        f"(b) the same model with autograd (`loss.backward()`, update under `no_grad`, grads reset; the "
        f"loss is read with `.item()` every 100 steps, as the PyTorch tutorial prints it), (c) "
        f"`torch.optim.SGD` on `nn.Linear(3, 1)` over features [x, x², x³] with `MSELoss(reduction='sum')`. "
        f"In one process with `torch.set_num_threads(1)`; one untimed warm-up call each, then {n} rounds, "
        f"each timing every contender once (interleaved). sinefit's calls are short next to the loops, so "
        f"as `timeit` does, one measurement of them is 20 back-to-back calls (time per call); the bar uses "
        f"that, and a single call made right after the loops in the same round is reported too. Times are "
        f"best of {n} (median in brackets) and ratios use the best times. Final losses are compared after "
        f"the 2000th update.",
    )
    sf_time = {"whole": lambda: fit(dtype="float64")}
    cfg = FitConfig.from_dict({**FitConfig().to_dict(), "dtype": "float64"})
    problem = api._prepare(cfg, None, None)

    def training_only():
        return api._run(problem, None)  # (theta, losses, ...): the steps, as fit takes them

    sf_time["training"] = training_only
    sf_time["single"] = lambda: fit(dtype="float64")
    cases = {**sf_time, "literal": literal_loop, "autograd": autograd_loop, "sgd": sgd_linear_loop}
    times = interleaved(cases, n, number={"whole": 20, "training": 20})
    best = {k: min(v) for k, v in times.items()}

    result = fit(dtype="float64")
    sf_loss = result.final_loss
    _, coef_lit = literal_loop()
    _, coef_ag = autograd_loop()
    _, coef_sgd = sgd_linear_loop()
    lit_loss, ag_loss, sgd_loss = cubic_sse(coef_lit), cubic_sse(coef_ag), cubic_sse(coef_sgd)
    train_loss = float(training_only()[1][-1])

    speedup = best["literal"] / best["whole"]
    sec.rows += [
        Row("sinefit `fit(dtype=\"float64\")`, whole call", best_med(times["whole"]),
            "(a) seed's literal loop", best_med(times["literal"]), fmt_x(speedup), "≥ 50x", verdict(speedup >= 50)),
        Row("sinefit `fit(dtype=\"float64\")`, one call right after the others in a round",
            best_med(times["single"]), "(a) seed's literal loop", fmt_s(best["literal"]),
            fmt_x(best["literal"] / best["single"])),
        Row("sinefit training part only (`api._run`: closed form, history, snapshots)", best_med(times["training"]),
            "(a) seed's literal loop", fmt_s(best["literal"]), fmt_x(best["literal"] / best["training"])),
        Row("(b) autograd loop", best_med(times["autograd"]), "sinefit whole call", fmt_s(best["whole"]),
            fmt_x(best["autograd"] / best["whole"]) + " slower"),
        Row("(c) torch.optim.SGD on nn.Linear(3, 1)", best_med(times["sgd"]), "sinefit whole call",
            fmt_s(best["whole"]), fmt_x(best["sgd"] / best["whole"]) + " slower"),
        Row("final loss: sinefit `fit(...).final_loss`", f"{sf_loss:.15g}", "(a) literal loop",
            f"{lit_loss:.15g}", f"rel. diff {fmt_e(rel(sf_loss, lit_loss))}", "≤ 1e-9",
            verdict(rel(sf_loss, lit_loss) <= 1e-9)),
        Row("final loss: (b) autograd loop", f"{ag_loss:.15g}", "sinefit", f"{sf_loss:.15g}",
            f"rel. diff {fmt_e(rel(ag_loss, sf_loss))}", "≤ 1e-9", verdict(rel(ag_loss, sf_loss) <= 1e-9)),
        Row("final loss: (c) SGD on nn.Linear", f"{sgd_loss:.15g}", "sinefit", f"{sf_loss:.15g}",
            f"rel. diff {fmt_e(rel(sgd_loss, sf_loss))}", "≤ 1e-9", verdict(rel(sgd_loss, sf_loss) <= 1e-9)),
        Row("final loss: sinefit training part", f"{train_loss:.15g}", "sinefit whole call", f"{sf_loss:.15g}",
            f"rel. diff {fmt_e(rel(train_loss, sf_loss))}"),
    ]  # fmt: skip
    sec.notes.append(
        f"sinefit's engine here: {result.engine!r}; optimum loss {result.optimum_loss:.10g} "
        f"(the seed's 2000 steps stop at {sf_loss:.6g})."
    )
    sec.notes.append(
        f"Per step, the literal loop costs {fmt_s(best['literal'] / 2000)}, autograd "
        f"{fmt_s(best['autograd'] / 2000)}, SGD on nn.Linear {fmt_s(best['sgd'] / 2000)}."
    )
    return sec


# --------------------------------------------------------------------------- B2: a sweep


def b2(quick: bool) -> Section:
    n_sweep = 3 if quick else 5
    n_literal = 4 if quick else 20
    lrs = [float(v) for v in np.geomspace(1e-7, 1e-5, 100)]
    seeds = list(range(100))
    total = len(lrs) * len(seeds)
    sec = Section(
        "B2",
        "a sweep of 10 000 configurations",
        f"`sinefit.sweep.sweep(lr=<100 values log-spaced 1e-7..1e-5>, seed=range(100), dtype=\"float64\")`: "
        f"cubic, sin(x), 1000 points, 2000 gd steps, {total:,} configurations, against the seed's literal "
        f"loop (as in B1, float64) run once per configuration. The sweep's wall time is the whole call "
        f"(`perf_counter` around it, validation included), best of {n_sweep} after one cold call (reported "
        f"separately). The literal loop is timed on {n_literal} configurations spread over the grid (lr "
        f"indexes evenly spaced from the smallest to the largest lr, a different seed each) and its mean "
        f"time per configuration is scaled to {total:,}. The same {n_literal} configurations check the "
        f"sweep's numbers: final loss within 1e-9 relative for the rows that did not diverge, and the "
        f"same divergence step (first step whose loss is not a finite float64) for those that did. "
        f"`torch.set_num_threads(1)`, one process.",
    )
    cold_start = time.perf_counter()
    result = sweep(lr=lrs, seed=seeds, dtype="float64")
    cold = time.perf_counter() - cold_start
    times = interleaved({"sweep": lambda: sweep(lr=lrs, seed=seeds, dtype="float64")}, n_sweep, warmup=False)[
        "sweep"
    ]
    best = min(times)

    picks = [(int(i), k * (len(seeds) // n_literal)) for k, i in enumerate(np.linspace(0, len(lrs) - 1, n_literal))]
    literal_times, checked, max_rel, div_same, div_total, problems = [], 0, 0.0, 0, 0, []
    for i_lr, i_seed in picks:
        lr, seed = lrs[i_lr], seeds[i_seed]
        row = result.rows[i_lr * len(seeds) + i_seed]
        assert row["lr"] == lr and row["seed"] == seed, "sweep rows are not in grid order"
        gc.collect()
        gc.disable()
        try:
            t = time.perf_counter()
            _, coef = literal_loop(seed=seed, learning_rate=lr)
            literal_times.append(time.perf_counter() - t)
        finally:
            gc.enable()
        if not row["diverged"]:
            lit = cubic_sse(coef)
            r = rel(row["final_loss"], lit)
            checked += 1
            max_rel = max(max_rel, r)
            if not r <= 1e-9:
                problems.append(f"lr {lr:.3g} seed {seed}: sweep {row['final_loss']!r}, literal {lit!r}")
        else:
            div_total += 1
            record: list[float] = []
            _, coef = literal_loop(seed=seed, learning_rate=lr, record=record)
            record.append(cubic_sse(coef))  # the loss after the last update
            first_bad = next((t for t, v in enumerate(record) if not math.isfinite(v)), None)
            if first_bad == row["diverged_at"]:
                div_same += 1
            else:
                problems.append(f"lr {lr:.3g} seed {seed}: sweep diverged at {row['diverged_at']}, "
                                f"literal loop's loss first non-finite at {first_bad}")  # fmt: skip
    per_config = statistics.mean(literal_times)
    scaled = per_config * total
    ratio = scaled / best
    n_div = sum(r["diverged"] for r in result.rows)
    sec.rows += [
        Row(f"`sinefit.sweep`, {total:,} configurations, whole call", best_med(times), "—", "—", "—", "≤ 0.5 s",
            verdict(best <= 0.5)),
        Row("`sinefit.sweep`, first (cold) call in this process", fmt_s(cold)),
        Row(f"`sinefit.sweep` vs the literal loop × {total:,}", fmt_s(best),
            f"literal loop: mean of {n_literal} configurations × {total:,}",
            f"{fmt_s(per_config)} × {total:,} = {fmt_s(scaled)}", fmt_x(ratio), "≥ 1000x", verdict(ratio >= 1000)),
        Row(f"final loss of {checked} non-diverged rows", f"max rel. diff {fmt_e(max_rel)}",
            "literal loop, same lr and seed", "—", "—", "≤ 1e-9",
            verdict(checked > 0 and max_rel <= 1e-9)),
        Row(f"divergence step of {div_total} diverged rows", f"{div_same} of {div_total} the same",
            "literal loop's first non-finite loss", "—", "—", "same step",
            verdict(div_same == div_total) if div_total else "—"),
    ]  # fmt: skip
    sec.notes.append(
        f"{n_div:,} of {total:,} configurations diverged (lr above the stable bound "
        f"{result.rows[0]['stable_lr']:.4g}); `SweepResult.seconds` (the runs, without validation) was "
        f"{fmt_s(result.seconds)} in the cold call."
    )
    sec.notes += [f"mismatch: {p}" for p in problems]
    return sec


# --------------------------------------------------------------------------- B3: convergence


def b3(quick: bool) -> Section:
    target, degree = "tanh(2*x)", 15
    sec = Section(
        "B3",
        "convergence on an ill-conditioned fit",
        "Target tanh(2x) on [-π, π], 1000 points (`torch.linspace`, float64), degree 15. The optimum "
        "sum of squared errors comes from `numpy.polynomial.Polynomial.fit` (and, when scipy is "
        "installed, `scipy.linalg.lstsq` on the Legendre design matrix as a second opinion). The "
        "condition numbers are those of the Hessian of the loss as sinefit reports it "
        "(`fit(...).quadratic.condition_number`) in the raw power basis and in the Legendre basis on "
        "the mapped domain. Gradient methods run from the seed's draw (seed 0) for 100 steps with "
        "`lr=\"auto\"` on the Legendre basis; 'steps needed' is the first t whose loss `.losses[t]` is "
        "within 1e-8 relative of numpy's optimum (and, because momentum oscillates, the step from "
        "which it stays within). Plain gd on the raw power basis is not run: its step count is predicted "
        "as t ≈ (κ/2)·ln(gap₀/target), where κ is the condition number, gap₀ = L(θ₀) − L* from the same "
        "draw and target = 1e-8·L*: with lr = 1/λ_max the slowest eigendirection's error shrinks by "
        "(1 − 1/κ) per step, its share of the loss by (1 − 1/κ)² ≈ e^(−2/κ) (the worst case, where the "
        "gap sits in that direction). Times are one call each, informational.",
    )
    x = torch.linspace(-PI, PI, 1000, dtype=torch.float64).numpy()
    y = np.tanh(2 * x)
    P = np.polynomial.Polynomial.fit(x, y, degree)
    best_sse = float(np.sum((P(x) - y) ** 2))
    sec.rows.append(Row("optimum SSE, `numpy.polynomial.Polynomial.fit`", f"{best_sse:.10g}", "expected",
                        "about 0.08541", "—", "≈ 0.08541 (± 1e-5)", verdict(abs(best_sse - 0.08541) < 1e-5)))  # fmt: skip
    try:
        import scipy.linalg
    except ImportError:
        sec.rows.append(Row("optimum SSE, `scipy.linalg.lstsq` (Legendre)", "skipped: scipy is not installed "
                            "(not a sinefit dependency)", verdict="skipped"))  # fmt: skip
    else:
        V = np.polynomial.legendre.legvander(x / PI, degree)
        coef = scipy.linalg.lstsq(V, y)[0]
        sp_sse = float(np.sum((V @ coef - y) ** 2))
        sec.rows.append(Row("optimum SSE, `scipy.linalg.lstsq` (Legendre)", f"{sp_sse:.10g}", "numpy",
                            f"{best_sse:.10g}", f"rel. diff {fmt_e(rel(sp_sse, best_sse))}"))  # fmt: skip

    power = fit(target=target, degree=degree, dtype="float64", steps=0)
    legendre = fit(target=target, degree=degree, basis="legendre", dtype="float64", steps=0)
    kp, kl = power.quadratic.condition_number, legendre.quadratic.condition_number
    sec.rows += [
        Row("sinefit optimum loss (power basis)", f"{power.optimum_loss:.10g}", "numpy", f"{best_sse:.10g}",
            f"rel. diff {fmt_e(rel(power.optimum_loss, best_sse))}"),
        Row("κ, Hessian condition number, raw power basis", f"{kp:.3g}", "expected", "about 5e16"),
        Row("κ, Legendre basis on the mapped domain", f"{kl:.3g}", "expected", "about 30"),
    ]  # fmt: skip

    found = None
    for opt in ("momentum", "nesterov", "gd"):
        t0 = time.perf_counter()
        r = fit(target=target, degree=degree, basis="legendre", optimizer=opt, lr="auto", dtype="float64", steps=100)
        seconds = time.perf_counter() - t0
        gaps = np.abs(r.losses - best_sse) / best_sse
        within = np.flatnonzero(gaps <= 1e-8)
        first = int(within[0]) if within.size else None
        outside = np.flatnonzero(~(gaps <= 1e-8))
        stays = int(outside[-1]) + 1 if outside.size else 0  # len(gaps) when the last loss is outside
        settings = f"lr {r.lr:.4g}" + (f", momentum {r.momentum:.4g}" if r.momentum is not None else "")
        if first is not None and stays < len(gaps):
            value = f"{first} steps (stays within from step {stays}); final rel. gap {fmt_e(gaps[-1])}"
        elif first is not None:
            value = f"{first} steps, but outside again at step 100 (rel. gap {fmt_e(gaps[-1])})"
        else:
            value = f"not within 1e-8 in 100 steps (rel. gap at 100: {fmt_e(gaps[-1])})"
        if first is not None and first <= 100 and found is None:
            found = (opt, first, r)
        sec.rows.append(Row(f"{opt}, Legendre, `lr=\"auto\"` ({settings}), {fmt_s(seconds)}", value))

    if found is not None:
        sec.rows.append(Row("a gradient method at the optimum (1e-8 rel.) within 100 steps",
                            f"{found[0]}, Legendre, lr auto: {found[1]} steps", "—", "—", "—", "≤ 100 steps",
                            "PASS"))  # fmt: skip
    else:
        sec.rows.append(Row("a gradient method at the optimum (1e-8 rel.) within 100 steps", "none of those tried",
                            "—", "—", "—", "≤ 100 steps", "MISS"))  # fmt: skip

    gap0 = float(power.losses[0]) - power.optimum_loss
    goal = 1e-8 * best_sse
    predicted = kp / 2 * math.log(gap0 / goal)
    if found is not None:
        opt, steps, _ = found
        sec.rows.append(Row("plain gd, raw power basis (predicted, not run)", f"{predicted:.3g} steps",
                            f"{opt}, Legendre (measured)", f"{steps} steps", fmt_x(predicted / steps) + " more"))
    else:
        sec.rows.append(Row("plain gd, raw power basis (predicted, not run)", f"{predicted:.3g} steps"))
    sec.notes.append(
        f"Prediction inputs: κ = {kp:.4g}, gap₀ = L(θ₀) − L* = {gap0:.4g} (seed 0's draw, power basis), "
        f"target = 1e-8 × {best_sse:.6g} = {goal:.3g}, so ln(gap₀/target) = {math.log(gap0 / goal):.1f}."
    )
    lam = power.quadratic.eigenvalues
    step_factor = float(1.0 - (1.0 / lam[0]) * lam[-1])
    sec.notes.append(
        f"In float64, gd with lr = 1/λ_max multiplies the slowest direction by 1 − λ_min/λ_max = "
        f"1 − {lam[-1] / lam[0]:.3g}, which rounds to {step_factor!r}: that direction would not move at all."
    )
    if found is not None:
        sec.notes.append(f"The bar is met by {found[0]} ({found[1]} steps).")
    else:
        sec.notes.append("No gradient method tried here met the bar.")
    return sec


# --------------------------------------------------------------------------- B4: scale


CHUNK_ROWS = 1 << 20


def write_npy(path: Path, n: int, seed: int = 0) -> None:
    """(n, 2) float64: x evenly spaced on [-π, π], y = sin(x) + 0.1 N(0, 1), written in chunks."""
    a = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, 2))
    rng = np.random.default_rng(seed)
    step = 2 * PI / (n - 1)
    for s in range(0, n, 1 << 22):
        e = min(n, s + (1 << 22))
        x = -PI + step * np.arange(s, e, dtype=np.float64)
        a[s:e, 0] = x
        a[s:e, 1] = np.sin(x) + 0.1 * rng.standard_normal(e - s)
    a.flush()
    del a


def write_parquet(npy: Path, path: Path) -> None:
    """The same points as a Parquet file (columns x, y; pyarrow's defaults: snappy, 1Mi-row row groups)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    a = np.load(npy, mmap_mode="r")
    schema = pa.schema([("x", pa.float64()), ("y", pa.float64())])
    with pq.ParquetWriter(path, schema) as w:
        for s in range(0, a.shape[0], CHUNK_ROWS):
            block = np.ascontiguousarray(a[s : s + CHUNK_ROWS])
            w.write_table(pa.table({"x": block[:, 0], "y": block[:, 1]}, schema=schema))
    del a


def write_csv(npy: Path, path: Path) -> None:
    """The same points as CSV with a header line 'x,y' (values as pyarrow writes them: shortest round trip)."""
    import pyarrow as pa
    import pyarrow.csv as pc

    a = np.load(npy)
    with open(path, "wb") as f:
        f.write(b"x,y\n")
        pc.write_csv(pa.table({"x": a[:, 0], "y": a[:, 1]}), f, pc.WriteOptions(include_header=False))


def warm(path: Path) -> None:
    """Read a file once so every timed run sees it in the page cache (warm-cache figures)."""
    buf = bytearray(16 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


def _p10(n: int) -> str:
    k = round(math.log10(n))
    return f"10^{k}" if 10**k == n else f"{n:,}"


def b4(quick: bool) -> Section:
    from sinefit.io.datafiles import read_points

    sizes = [10**5, 10**6] if quick else [10**5, 10**6, 10**7, 10**8]
    parquet_n = 10**6 if quick else 10**8
    ref_n = 10**6 if quick else 10**7
    csv_n = 10**5 if quick else 10**6
    reps = 1 if quick else 3
    sec = Section(
        "B4",
        "scale",
        f"Points x evenly spaced on [-π, π], y = sin(x) + 0.1·N(0, 1), written by the benchmark into a "
        f"temporary directory as an (n, 2) float64 .npy file and as Parquet (columns x, y, pyarrow's "
        f"default snappy compression, 1Mi-row row groups), and deleted afterwards. Each measurement is "
        f"`fit(data=path, dtype=\"float64\", optimizer=\"exact\")` (degree 3) in a fresh child process "
        f"(default torch threads): the time is the `fit` call inside the child (imports excluded; B5 covers "
        f"start-up), best of {reps}; the peak memory is the child's own peak RSS (its `VmHWM` from "
        f"`/proc/self/status`, read by the child as it finishes, so neither the parent nor page cache "
        f"outside the process counts; `ru_maxrss` from `os.wait4` is not used because on Linux a child "
        f"inherits the parent's RSS as its starting high-water mark), the largest of the {reps} runs, with "
        f"the anonymous and file-backed parts polled from `/proc/<pid>/status` every 5 ms (polling can miss "
        f"a short peak). Files are read once before timing, so the figures are "
        f"warm-cache. The reference row is `numpy.polynomial.Polynomial.fit` on {_p10(ref_n)} points "
        f"already in memory (loaded with `np.load`, load not timed), also in a child. CSV: "
        f"`sinefit.io.datafiles.read_points` against `numpy.loadtxt(delimiter=\",\", skiprows=1)` on the "
        f"same {_p10(csv_n)}-row file, in this process, interleaved, best of {3 if quick else 5}."
        + (" Quick mode: 10^5 and 10^6 points only, one run each; the bars at 10^8 points are not "
           "evaluated." if quick else ""),
    )  # fmt: skip
    tmp_root = Path(tempfile.gettempdir())
    free = shutil.disk_usage(tmp_root).free
    big_ok = quick or free >= 8 * 10**9
    if not big_ok:
        sec.notes.append(
            f"10^8-point files skipped: {free / 1e9:.1f} GB free under {tmp_root}, the benchmark wants 8 GB."
        )
        sizes = [s for s in sizes if s < 10**8]
        parquet_n = 10**7

    base = run_child(BASELINE_CHILD, [])
    sec.rows.append(Row("child baseline: `import torch` + `from sinefit import fit`, peak RSS",
                        fmt_mb(base.maxrss_kb) if base.ok else f"failed ({base.error})"))  # fmt: skip

    def measure(path: Path) -> tuple[float, list[Child]]:
        runs = [run_child(FIT_CHILD, [str(path)]) for _ in range(reps)]
        good = [c for c in runs if c.ok]
        return (min(c.result["seconds"] for c in good) if good else math.nan), runs

    def mem_text(runs: list[Child]) -> tuple[str, int]:
        peak = max(c.maxrss_kb for c in runs)
        anon = max(c.anon_kb for c in runs)
        filed = max(c.file_kb for c in runs)
        return f"{fmt_mb(peak)} (anon. {fmt_mb(anon)}, file-backed {fmt_mb(filed)})", peak

    with tempfile.TemporaryDirectory(prefix="sinefit-bench-") as tmp:
        tmpd = Path(tmp)
        per7: dict[int, float] = {}
        results: dict[int, Child] = {}
        peaks: dict[int, int] = {}
        ref_npy = None
        for n in sizes:
            npy = tmpd / f"points-{n}.npy"
            write_npy(npy, n)
            warm(npy)
            seconds, runs = measure(npy)
            failed = [c for c in runs if not c.ok]
            if failed:
                sec.rows.append(Row(f".npy, {_p10(n)} points", f"failed: {failed[0].error}", verdict="MISS"))
                continue
            results[n] = runs[0]
            per7[n] = seconds / n * 1e7
            mem, peak = mem_text(runs)
            peaks[n] = peak
            timing_bar = n == 10**8
            sec.rows.append(Row(f".npy, {_p10(n)} points: `fit` time", f"{fmt_s(seconds)} ({per7[n]:.3g} s per 10^7 points)",
                                "—", "—", "—", "≤ 10 s" if timing_bar else "—",
                                verdict(seconds <= 10) if timing_bar else "—"))  # fmt: skip
            sec.rows.append(Row(f".npy, {_p10(n)} points: peak RSS", mem, "—", "—", "—",
                                "≤ 1 GB" if timing_bar else "—", verdict(peak <= 1024 * 1024) if timing_bar else "—"))
            if n == ref_n:
                ref_npy = npy
            if n == parquet_n:
                reader = run_child(READ_CHILD, [str(npy)])
                sec.rows.append(Row(f".npy, {_p10(n)} points: the reader alone (`datafiles.iter_chunks`), peak RSS",
                                    (f"{fmt_mb(reader.maxrss_kb)} (anon. {fmt_mb(reader.anon_kb)}, file-backed "
                                     f"{fmt_mb(reader.file_kb)}), {fmt_s(reader.result['seconds'])}") if reader.ok
                                    else f"failed ({reader.error})"))  # fmt: skip
                if reader.ok and reader.file_kb > reader.anon_kb and reader.file_kb > 0.5 * npy.stat().st_size / 1024:
                    sec.notes.append(
                        f"Most of the .npy reader's peak is file-backed: the reader memory-maps the whole file, and "
                        f"the pages it has read stay mapped, and counted in the process's RSS, until the read ends "
                        f"({fmt_mb(reader.file_kb)} of a {npy.stat().st_size / 2**30:.2f} GiB file). The kernel can "
                        f"drop such pages under memory pressure, but they are what peak RSS measures; reading "
                        f"chunks with plain file reads (or remapping per chunk) would keep them out."
                    )
                pq = tmpd / f"points-{n}.parquet"
                write_parquet(npy, pq)
                warm(pq)
                pseconds, pruns = measure(pq)
                if any(not c.ok for c in pruns):
                    sec.rows.append(Row(f"Parquet, {_p10(n)} points", f"failed: {pruns[0].error}", verdict="MISS"))
                else:
                    pmem, ppeak = mem_text(pruns)
                    bar = n == 10**8
                    sec.rows.append(Row(f"Parquet, {_p10(n)} points: `fit` time", fmt_s(pseconds), f".npy, {_p10(n)}",
                                        fmt_s(seconds), fmt_x(pseconds / seconds), "≤ 10 s" if bar else "—",
                                        verdict(pseconds <= 10) if bar else "—"))  # fmt: skip
                    sec.rows.append(Row(f"Parquet, {_p10(n)} points: peak RSS", pmem, "—", "—", "—",
                                        "≤ 1 GB" if bar else "—", verdict(ppeak <= 1024 * 1024) if bar else "—"))
                    alone: dict[str | None, Child] = {}
                    for label, flag in (("the reader alone (`datafiles.iter_chunks`)", None),
                                        ("pyarrow alone, `ParquetFile(f).iter_batches` (pre_buffer default)", "1"),
                                        ("pyarrow alone, `ParquetFile(f, pre_buffer=False).iter_batches`", "0")):
                        c = alone[flag] = (run_child(READ_CHILD, [str(pq)]) if flag is None
                                           else run_child(PYARROW_CHILD, [str(pq), flag]))  # fmt: skip
                        sec.rows.append(Row(f"Parquet, {_p10(n)} points: {label}, peak RSS",
                                            (f"{fmt_mb(c.maxrss_kb)} (anon. {fmt_mb(c.anon_kb)}), "
                                             f"{fmt_s(c.result['seconds'])}") if c.ok else f"failed ({c.error})"))
                    if all(c.ok for c in alone.values()) and alone["0"].maxrss_kb * 2 < alone["1"].maxrss_kb:
                        sec.notes.append(
                            f"Parquet: pyarrow's `ParquetFile` pre-buffers the column chunks it will read "
                            f"(`pre_buffer` is on by default), so iterating batches holds about the whole file in "
                            f"anonymous memory ({fmt_mb(alone['1'].maxrss_kb)} peak); with `pre_buffer=False` the "
                            f"same iteration peaks at {fmt_mb(alone['0'].maxrss_kb)}."
                        )
                    loss_diff = rel(pruns[0].result["final_loss"], runs[0].result["final_loss"])
                    sec.notes.append(f"Parquet and .npy fits of {_p10(n)} points agree to {fmt_e(loss_diff)} "
                                     f"relative in loss.")  # fmt: skip
                pq.unlink()
            if n == csv_n:
                csv = tmpd / f"points-{n}.csv"
                write_csv(npy, csv)
                warm(csv)
                holder: dict[str, Any] = {}
                t = interleaved(
                    {"sinefit": lambda: holder.__setitem__("s", read_points(csv)),
                     "numpy": lambda: holder.__setitem__("n", np.loadtxt(csv, delimiter=",", skiprows=1))},
                    3 if quick else 5,
                )  # fmt: skip
                same = np.array_equal(holder["s"][0], holder["n"][:, 0]) and np.array_equal(holder["s"][1], holder["n"][:, 1])
                ratio = min(t["numpy"]) / min(t["sinefit"])
                sec.rows.append(Row(f"CSV, {_p10(n)} rows: `read_points`", best_med(t["sinefit"]),
                                    "`numpy.loadtxt`", best_med(t["numpy"]), fmt_x(ratio) + " faster", "≥ 2x",
                                    verdict(ratio >= 2 and same)))  # fmt: skip
                sec.notes.append(f"CSV: both readers return {'identical' if same else 'DIFFERENT'} arrays "
                                 f"({csv.stat().st_size / 1e6:.0f} MB file).")  # fmt: skip
                csv.unlink()
            if n == 10**8 or (n != ref_n):
                npy.unlink()

        if ref_npy is not None and ref_n in results:
            refs = [run_child(POLYFIT_CHILD, [str(ref_npy)]) for _ in range(reps)]
            good = [c for c in refs if c.ok]
            if good:
                rsec = min(c.result["seconds"] for c in good)
                rpeak = max(c.maxrss_kb for c in refs)
                sf, sf_peak = results[ref_n], peaks[ref_n]
                sf_sec = per7[ref_n] * ref_n / 1e7
                sec.rows.append(Row(f"sinefit, .npy, {_p10(ref_n)} points: `fit` time", fmt_s(sf_sec),
                                    f"`Polynomial.fit`, {_p10(ref_n)} points in memory", fmt_s(rsec),
                                    f"{fmt_x(sf_sec / rsec)} the reference's time"))
                sec.rows.append(Row(f"sinefit, .npy, {_p10(ref_n)} points: peak RSS", fmt_mb(sf_peak),
                                    f"`Polynomial.fit`, {_p10(ref_n)} points in memory", fmt_mb(rpeak),
                                    f"{fmt_x(sf_peak / rpeak)} the reference's peak"))  # fmt: skip
                sec.notes.append(
                    f"Optimum SSE at {_p10(ref_n)} points: sinefit {sf.result['final_loss']:.12g}, numpy "
                    f"{good[0].result['sse']:.12g} (rel. diff {fmt_e(rel(sf.result['final_loss'], good[0].result['sse']))})."
                )
            else:
                sec.rows.append(Row("reference: `Polynomial.fit`", f"failed: {refs[0].error}"))
            ref_npy.unlink()
    if per7:
        from sinefit import api

        growth = ", ".join(f"{_p10(n)}: {v:.3g} s" for n, v in per7.items())
        sec.notes.append(
            f"Time per 10^7 points (linear growth keeps this flat at large n): {growth}. Up to "
            f"{api.SAMPLE:,} points sinefit keeps every point and also solves through the SVD of the design "
            f"matrix and computes its statistics on all points, so the smaller sizes cost more per point "
            f"than the streamed ones."
        )
    if results:
        sec.notes.append(
            "Process wall time of the first run per size (spawn, imports, fit, exit): "
            + ", ".join(f"{_p10(n)}: {fmt_s(c.wall)}" for n, c in results.items()) + "."
        )
    if quick:
        sec.rows.append(Row("10^8 points (.npy and Parquet): time ≤ 10 s, peak ≤ 1 GB", "not run in --quick",
                            verdict="n/a (quick)"))  # fmt: skip
    return sec


# --------------------------------------------------------------------------- B5: the CLI


REFERENCE_SCRIPT = (
    "import sys, torch, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
    "plt.plot([0,1]); plt.savefig(sys.argv[1])"
)


def b5(quick: bool) -> Section:
    n = 1 if quick else 5
    script = Path(sys.executable).parent / "sinefit"
    console = [str(script)] if script.exists() else [sys.executable, "-m", "sinefit"]
    sec = Section(
        "B5",
        "the command line",
        f"Whole processes, started from this one with `subprocess.run` and timed by the wall clock around "
        f"it: `sinefit --help` (the venv's console script `{' '.join(Path(c).name for c in console)}`), "
        f"`sinefit fit --out <temp dir> --quiet` (the default fit: the seed experiment in float32, the run "
        f"directory with its figures written), and a reference process that imports torch and matplotlib "
        f"and saves one Agg figure: `python -c \"import torch, matplotlib; matplotlib.use('Agg'); import "
        f"matplotlib.pyplot as plt; plt.plot([0,1]); plt.savefig(tmpfile)\"`. {n} rounds, each running the "
        f"three once (interleaved); best of {n}, median in brackets; ratios use the best times.",
    )
    times: dict[str, list[float]] = {"help": [], "fit": [], "ref": []}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sinefit-bench-cli-") as tmp:
        commands = {
            "help": console + ["--help"],
            "fit": console + ["fit", "--out", str(Path(tmp) / "runs"), "--quiet"],
            "ref": [sys.executable, "-c", REFERENCE_SCRIPT, str(Path(tmp) / "ref.png")],
        }
        for _ in range(n):
            for k, cmd in commands.items():
                t = time.perf_counter()
                p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                times[k].append(time.perf_counter() - t)
                if p.returncode != 0:
                    failures.append(f"`{' '.join(cmd[-2:])}` exited {p.returncode}: {p.stderr.strip()[-200:]}")
    ok = not failures
    hb, fb, rb = min(times["help"]), min(times["fit"]), min(times["ref"])
    sec.rows += [
        Row("`sinefit --help`", best_med(times["help"]), "—", "—", "—", "≤ 0.5 s", verdict(hb <= 0.5 and ok)),
        Row("`sinefit fit --out DIR --quiet`", best_med(times["fit"]), "torch + matplotlib + savefig",
            best_med(times["ref"]), fmt_x(fb / rb), "≤ 1.3x", verdict(fb / rb <= 1.3 and ok)),
    ]  # fmt: skip
    sec.notes += [f"failure: {f}" for f in failures]
    return sec


# --------------------------------------------------------------------------- B7: analysis at degree 1000


def _analysis_seconds(basis_name: str, degree: int, one_thread: bool) -> float:
    """fit(optimizer="exact") and its report text (hints, BIC, power form): the whole analysis."""
    from sinefit import report, threads

    saved = threads.BLAS_PARALLEL_WORK
    threads.BLAS_PARALLEL_WORK = saved if one_thread else 0  # 0: every matrix "large": BLAS's default threads
    try:
        domain = (-1.0, 1.0) if basis_name == "power" else (-PI, PI)  # x^1000 on [-pi, pi] overflows float64
        t = time.perf_counter()
        r = fit(degree=degree, samples=2 * degree + 1, basis=basis_name, optimizer="exact", dtype="float64",
                domain=domain)  # fmt: skip
        report.fit_report(r)
        return time.perf_counter() - t
    finally:
        threads.BLAS_PARALLEL_WORK = saved


def b7(quick: bool) -> Section:
    degree = 200 if quick else 1000
    n = 1 if quick else 3
    sec = Section(
        "B7",
        f"analysis at degree {degree}",
        f"In this process: `fit(degree={degree}, samples={2 * degree + 1}, basis=B, optimizer=\"exact\", "
        f"dtype=\"float64\")` (domain [-1, 1] for power, [-pi, pi] otherwise) and `report.fit_report` of it "
        f"(the optimum, spectrum, statistics, power form, hints and BIC of the next degree): sinefit's way, numpy's "
        f"BLAS on one thread for the analysis' factorisations (`sinefit.threads.analysis_blas`), beside the same "
        f"with BLAS's default threads ({os.cpu_count()} here). Interleaved, best of {n}, median in brackets.",
    )
    for b in ("power", "legendre", "chebyshev"):
        _analysis_seconds(b, min(degree, 50), True)  # warm-up: imports, first-call costs
        ours: list[float] = []
        default: list[float] = []
        for _ in range(n):
            ours.append(_analysis_seconds(b, degree, True))
            default.append(_analysis_seconds(b, degree, False))
        sec.rows.append(Row(f"{b}, degree {degree}: analysis, one BLAS thread", best_med(ours),
                            "BLAS's default threads", best_med(default), fmt_x(min(ours) / min(default)), "≤ 1 s",
                            verdict(min(ours) <= 1.0)))  # fmt: skip
    return sec


# --------------------------------------------------------------------------- main


BENCHMARKS = {"B1": b1, "B2": b2, "B3": b3, "B4": b4, "B5": b5, "B7": b7}


def summary(sections: list[Section]) -> str:
    lines = ["## Summary", "", "| Benchmark | Bar | Result |", "|---|---|---|"]
    for s in sections:
        for r in s.rows:
            if r.verdict in ("PASS", "MISS"):
                lines.append(f"| {s.key} | {r.measurement}: {r.bar} | {_bold(r.verdict)} |")
    passed = sum(r.verdict == "PASS" for s in sections for r in s.rows)
    missed = sum(r.verdict == "MISS" for s in sections for r in s.rows)
    lines += ["", f"{passed} bars passed, {missed} missed."]
    return "\n".join(lines) + "\n"


def document(info: dict[str, str], sections: list[Section], quick: bool, seconds: float) -> str:
    head = [
        "# Benchmarks",
        "",
        "Written by `python benchmarks/bench.py --write`; the figures below are from one full run on the "
        f"machine described here ({os.cpu_count()} cores, shared and noisy), so every comparison is measured "
        "side by side in one process (or in fresh child processes started by it), interleaved round by round, "
        "and reported as a ratio, with the number of repeats stated. Times are wall-clock (`time.perf_counter`). "
        "The iterative comparisons (B1, B2, B3) run with `torch.set_num_threads(1)`; numpy's BLAS threads are "
        "left at their defaults. A bar that is missed is reported as MISS. See `benchmarks/README.md` to rerun.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        "",
        f"Total benchmark time: {seconds:.0f} s{' (quick mode)' if quick else ''}.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(s.markdown() for s in sections) + "\n" + summary(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (a few seconds, for CI)")
    parser.add_argument("--write", action="store_true", help=f"also write {DOC.relative_to(ROOT)}")
    parser.add_argument("--only", help="comma-separated subset, e.g. B1,B3")
    args = parser.parse_args(argv)
    if args.write and args.quick:
        parser.error("--write records the full run's figures; run it without --quick")
    keys = list(BENCHMARKS) if not args.only else [k.strip().upper() for k in args.only.split(",")]
    unknown = [k for k in keys if k not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    if args.write and keys != list(BENCHMARKS):
        parser.error("--write needs every benchmark (drop --only)")

    start = time.perf_counter()
    info = machine()
    print("# sinefit benchmarks" + (" (quick: tiny sizes, few repeats)" if args.quick else ""))
    print()
    for k, v in info.items():
        print(f"- {k}: {v}")
    print(flush=True)

    torch.set_num_threads(1)  # the iterative comparisons (B1-B3) run single-threaded, side by side
    sections: list[Section] = []
    for key in keys:
        t0 = time.perf_counter()
        section = BENCHMARKS[key](args.quick)
        load = f"; load average (1 min) after it: {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
        section.notes.append(f"{key} took {time.perf_counter() - t0:.1f} s to run{load}.")
        sections.append(section)
        print(section.markdown(), flush=True)
    seconds = time.perf_counter() - start
    print(summary(sections))
    print(f"Total: {seconds:.1f} s")
    if args.write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(document(info, sections, args.quick, seconds))
        print(f"Wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
