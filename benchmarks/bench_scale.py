#!/usr/bin/env python
"""sinefit at scale (issue 13): S1-S5, printed as Markdown tables (helpers shared with bench.py).

    python benchmarks/bench_scale.py             # full run: writes ~3.3 GB of temporary files, several minutes
    python benchmarks/bench_scale.py --quick     # tiny sizes (tests/test_bench_quick.py runs it)
    python benchmarks/bench_scale.py --write     # also put the figures into docs/benchmarks.md
    python benchmarks/bench_scale.py --only S1,S4

S1 one .npy file of 10^8 points against the I/O floor; S2 the same points as 50 Parquet
partitions on Dask (2 local workers) against one process over the same files; S3 a sweep
of 10^6 configurations; S4 streamed accuracy against in-memory (and against X^T X);
S5 small fits with one core kept busy by another process. Every comparison is measured
side by side in this run (fresh child processes where peak memory or a whole process is
measured), interleaved round by round, and reported as a ratio with the load average.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (Row, Section, run_child, interleaved, formatting, machine)
from bench import Row, Section, fmt_mb, fmt_s, fmt_x, run_child, verdict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench_scale: begin -->", "<!-- bench_scale: end -->"


def load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


# --------------------------------------------------------------------------- S1


FLOOR = r"""
import numpy as np, sys
path, chunk = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    np.lib.format.read_magic(f)
    np.lib.format.read_array_header_1_0(f)
    t = time.perf_counter()
    total = 0.0
    while True:
        block = np.fromfile(f, dtype=np.float64, count=2 * chunk)
        if not block.size:
            break
        total += float(block[1::2].sum())
    emit(seconds=time.perf_counter() - t, total=total)
"""

FIT = r"""
import sys
from sinefit import fit  # imported (torch with it) before the clock starts, as the floor imports numpy
from sinefit import fastpass
path = sys.argv[1]
t = time.perf_counter()
r = fit(data=path, dtype="float64", optimizer="exact")
emit(seconds=time.perf_counter() - t, coefficients=r.model.coefficients.tolist(), n=r.dataset.size,
     kernel=fastpass.available())
"""


def s1(quick: bool, tmp: Path) -> Section:
    n = 3 * 10**6 if quick else 10**8  # quick: still past the 2^20 points analysed exactly in memory
    reps = 1 if quick else 3
    path = tmp / "points.npy"
    if not path.exists():
        bench.write_npy(path, n)
    bench.warm(path)
    floors, fits = [], []
    for _ in range(reps):
        floors.append(run_child(FLOOR, [str(path), str(1 << 20)]))
        fits.append(run_child(FIT, [str(path)]))
    ok = [c for c in floors + fits if not c.ok]
    section = Section("S1", f"one .npy file, {bench._p10(n)} points, degree 3, float64, exact",
                      f"`sinefit.fit(data=path, dtype=\"float64\", optimizer=\"exact\")` (the stats engine: one pass, "
                      "per-block R factors on every core, merged by TSQR) in a fresh child process (sinefit imported before the clock starts), against the I/O "
                      "floor: a bare numpy pass in its own child that reads the same file in the same 2^20-row "
                      "chunks (`np.fromfile`) and sums one column. Interleaved, best of "
                      f"{reps}; peak memory is the child's VmHWM (largest of the runs). Warm page cache.")  # fmt: skip
    if ok:
        section.notes.append(f"a child failed: {ok[0].error}")
        return section
    t_fit = min(c.result["seconds"] for c in fits)
    t_floor = min(c.result["seconds"] for c in floors)
    peak = max(c.maxrss_kb for c in fits)
    section.rows += [
        Row("`fit` time", fmt_s(t_fit), "I/O floor", fmt_s(t_floor), fmt_x(t_fit / t_floor), "≤ 2x of the floor",
            verdict(t_fit <= 2 * t_floor)),
        Row("`fit` time", fmt_s(t_fit), bar="≤ 1.5 s", verdict=verdict(t_fit <= 1.5)),
        Row("`fit` peak RSS", fmt_mb(peak), bar="≤ 600 MB", verdict=verdict(peak <= 600 * 1024)),
    ]  # fmt: skip
    kernel = fits[0].result.get("kernel")
    section.notes.append("the pass: " + ("the compiled kernel (src/sinefit/_kernel.c, built at install time: no "
                                         "compile at run time, so each figure is a fresh process's first fit)"
                                         if kernel else "numpy (the compiled kernel is not built here, or "
                                         "SINEFIT_KERNEL=0)"))  # fmt: skip
    section.notes.append(f"load average after S1 (1/5/15 min): {load()}")
    return section


# --------------------------------------------------------------------------- S2


def s2(quick: bool, tmp: Path) -> Section:
    section = Section("S2", "the same points as 50 Parquet partitions, on Dask (2 local workers)",
                      "The S1 points written as 50 Parquet files (columns x, y). `sinefit.cluster.summarize_dataset` "
                      "on a `distributed.LocalCluster` of 2 single-threaded worker processes (started before timing) "
                      "and `fit(summary=...)`, against `fit(data=directory)` in this process over the same files. "
                      "Interleaved, best of the rounds; the coefficients must agree to 1e-12 (normwise).")  # fmt: skip
    try:
        import distributed

        from sinefit import cluster
    except ImportError:
        section.notes.append("skipped: Dask is not installed (pip install 'sinefit[dask]')")
        return section
    import pyarrow as pa
    import pyarrow.parquet as pq

    import sinefit

    n = 3 * 10**6 if quick else 10**8
    reps = 1 if quick else 3
    npy = tmp / "points.npy"
    if not npy.exists():
        bench.write_npy(npy, n)
    root = tmp / "parts"
    if not root.exists():
        root.mkdir()
        a = np.load(npy, mmap_mode="r")
        for i, s in enumerate(range(0, n, n // 50)):
            block = np.ascontiguousarray(a[s : s + n // 50])
            pq.write_table(pa.table({"x": block[:, 0], "y": block[:, 1]}), root / f"part-{i:05d}.parquet")
        del a
    for p in root.iterdir():
        bench.warm(p)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:  # fmt: skip
        dask_t, single_t = [], []
        got = want = None
        for _ in range(reps + 1):  # the first round warms the workers' imports
            t = time.perf_counter()
            s = cluster.summarize_dataset(str(root), degree=3, client=client)
            got = sinefit.fit(summary=s, optimizer="exact").model.coefficients
            dask_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            want = sinefit.fit(data=str(root), dtype="float64", optimizer="exact").model.coefficients
            single_t.append(time.perf_counter() - t)
    t_d, t_s = min(dask_t[1:]), min(single_t[1:])
    agree = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    section.rows += [
        Row("Dask, 2 workers", fmt_s(t_d), "one process", fmt_s(t_s), fmt_x(t_d / t_s), "≤ 1.5x", verdict(t_d <= 1.5 * t_s)),
        Row("coefficients, Dask vs one process", f"{agree:.1e}", bar="≤ 1e-12", verdict=verdict(agree <= 1e-12)),
    ]  # fmt: skip
    section.notes.append(f"load average after S2 (1/5/15 min): {load()}")
    return section


# --------------------------------------------------------------------------- S3


SWEEP = r"""
import sys
from sinefit.sweep import sweep
k = int(sys.argv[1])
import numpy as np
t = time.perf_counter()
r = sweep(lr=list(np.geomspace(1e-7, 1e-5, k)), seed=list(range(k)), dtype="float64")
emit(seconds=time.perf_counter() - t, rows=len(r.rows))
"""


def s3(quick: bool, tmp: Path) -> Section:
    k = 30 if quick else 1000
    section = Section("S3", f"a sweep of {k * k:,} configurations",
                      f"`sweep(lr=<{k} values log-spaced 1e-7..1e-5>, seed=range({k}), dtype=\"float64\")`: the seed's "
                      "cubic, 2000 gd steps each, in a fresh child process; the whole call, and the child's peak RSS.")  # fmt: skip
    c = run_child(SWEEP, [str(k)])
    if not c.ok:
        section.notes.append(f"the child failed: {c.error}")
        return section
    t = c.result["seconds"]
    section.rows += [
        Row("whole call", fmt_s(t), bar="≤ 10 s", verdict=verdict(t <= 10)),
        Row("peak RSS", fmt_mb(c.maxrss_kb), bar="≤ 4 GB", verdict=verdict(c.maxrss_kb <= 4 * 1024 * 1024)),
    ]
    section.notes.append(f"load average after S3 (1/5/15 min): {load()}")
    return section


# --------------------------------------------------------------------------- S4


def s4(quick: bool, tmp: Path) -> Section:
    import mpmath
    import torch

    from sinefit import analysis, basis, summary

    n = 2000 if quick else 20000
    chunk = 100 if quick else 500
    section = Section("S4", "streamed accuracy",
                      f"{n:,} points x uniform on the interval, y = sin(x) + 1e-3 N(0, 1). Log10 of the relative "
                      "error of the fitted values X theta against a 50-digit mpmath least-squares solve (`lu_solve` of "
                      "the normal equations at 50 digits): the in-memory SVD solve of all the rows "
                      f"(`analysis.solve`), the streamed `Summary` of {n // chunk} chunks merged pairwise, and the "
                      "normal equations X^T X accumulated in float64 (the previous stats engine). A streamed error "
                      "within one decimal digit of the in-memory one passes.")  # fmt: skip
    cases = [("power", 3, (-math.pi, math.pi)), ("power", 7, (0.0, 10.0)), ("power", 10, (-8.8, -3.1)),
             ("legendre", 12, (-1.0, 4.0)), ("chebyshev", 15, (-3.0, 3.0))]  # fmt: skip
    for kind, degree, interval in cases:
        rng = np.random.default_rng(degree)
        x = np.sort(rng.uniform(*interval, n))
        y = np.sin(x) + 1e-3 * rng.standard_normal(n)
        dom = interval if kind != "power" else None
        X = basis.columns(kind, torch.tensor(x), degree, dom or (-1.0, 1.0)).numpy().T
        with mpmath.workdps(50):
            A = mpmath.matrix(X.tolist())
            theta = mpmath.lu_solve(A.T * A, A.T * mpmath.matrix(y.tolist()))
            ref = np.array([float(v) for v in A * theta])

        def err(theta_):
            return math.log10(max(np.linalg.norm(X @ theta_ - ref) / np.linalg.norm(ref), 1e-17))

        mem = analysis.solve(X, y).optimum
        s = summary.merge(summary.summarize(x[i : i + chunk], y[i : i + chunk], kind, degree, dom)
                          for i in range(0, n, chunk))  # fmt: skip
        G = X.T @ X
        normal = np.linalg.lstsq(G, X.T @ y, rcond=None)[0]
        e_mem, e_str, e_ne = err(mem), err(s.least_squares()[0]), err(normal)
        section.rows.append(Row(f"{kind}, degree {degree}, x in [{interval[0]:.3g}, {interval[1]:.3g}], "
                                f"cond(X) {np.linalg.cond(X):.1e}", f"streamed {e_str:.1f}", "in memory",
                                f"{e_mem:.1f}", f"X^T X: {e_ne:.1f}", "streamed ≤ in memory + 1",
                                verdict(e_str <= max(e_mem, -15) + 1)))  # fmt: skip
    return section


# --------------------------------------------------------------------------- S5


SMALL = r"""
import sinefit, sys
from sinefit.cli import main
import tempfile
mode = sys.argv[1]
sinefit.fit(steps=10)
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    if mode == "fit":
        sinefit.fit(seed=0)
    else:
        with tempfile.TemporaryDirectory() as d:
            main(["fit", "--quiet", "--out", d])
    times.append(time.perf_counter() - t)
emit(seconds=min(times))
"""


def s5(quick: bool, tmp: Path) -> Section:
    reps = 2 if quick else 7
    section = Section("S5", "small fits with one core kept busy",
                      "The seed fit (`fit(seed=0)`: 1000 points, 2000 per-sample float32 steps) and the seed "
                      "`sinefit fit --quiet` (in-process, figures and run files included), each best of "
                      f"{reps} in a fresh child, with and without another process spinning on one core "
                      "(`while True: pass`). sinefit picks torch's intra-op threads by problem size "
                      "(`sinefit.threads`): one thread for these.")  # fmt: skip
    for mode, name in (("fit", "`fit(seed=0)`"), ("cli", "`sinefit fit --quiet`")):
        idle, busy = [], []
        for _ in range(1 if quick else 2):
            idle.append(run_child(SMALL, [mode, str(reps)]))
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                busy.append(run_child(SMALL, [mode, str(reps)]))
            finally:
                spinner.kill()
                spinner.wait()
        bad = [c for c in idle + busy if not c.ok]
        if bad:
            section.notes.append(f"{mode}: a child failed: {bad[0].error}")
            continue
        t_i = min(c.result["seconds"] for c in idle)
        t_b = min(c.result["seconds"] for c in busy)
        section.rows.append(Row(f"{name}, one core busy", fmt_s(t_b), "no spinner", fmt_s(t_i), fmt_x(t_b / t_i),
                                "≤ 1.3x", verdict(t_b <= 1.3 * t_i)))  # fmt: skip
    section.notes.append(f"load average after S5 (1/5/15 min): {load()} — 'no spinner' is not idle on a shared machine")
    return section


# --------------------------------------------------------------------------- main


SECTIONS = {"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not a measurement)")
    ap.add_argument("--write", action="store_true", help=f"put the figures into {DOC.relative_to(ROOT)}")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated subset, e.g. S1,S4")
    args = ap.parse_args(argv)
    wanted = [k.strip().upper() for k in args.only.split(",") if k.strip()]
    info = bench.machine()
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="sinefit-scale-"))
    sections = []
    try:
        if not args.quick and shutil.disk_usage(tmp).free < 8 << 30:
            print("note: less than 8 GB free in the temporary directory: S1 and S2 skipped", file=sys.stderr)
            wanted = [k for k in wanted if k not in ("S1", "S2")]
        for key in wanted:
            t = time.perf_counter()
            section = SECTIONS[key](args.quick, tmp)
            section.notes.append(f"{key} took {time.perf_counter() - t:.1f} s")
            sections.append(section)
            print(section.markdown(), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.write and not args.quick:
        text = "\n".join([BEGIN, "# Scale (issue 13): `benchmarks/bench_scale.py`", "",
                          "Machine: " + "; ".join(f"{k}: {v}" for k, v in info.items()) + ".", "",
                          *[s.markdown() for s in sections],
                          f"Whole run: {time.perf_counter() - start:.0f} s; load average at the end: {load()}.", END])  # fmt: skip
        doc = DOC.read_text()
        if BEGIN in doc:
            doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: text, doc, flags=re.S)
        else:
            doc = doc.rstrip("\n") + "\n\n" + text + "\n"
        DOC.write_text(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
