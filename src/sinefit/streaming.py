"""The stats engine's data pass: points (arrays, a generated target, files, data sets) into a
:class:`~sinefit.summary.Summary`, and the summary into the loss surface a fit needs.

Chunks are factored on a small pool of threads (numpy releases the GIL, and each
thread's BLAS runs single-threaded, so two cores do two chunks at once without
oversubscription) while the reader produces the next chunk; at most a few chunks are
in flight, so memory stays bounded whatever the number of points.
"""

from __future__ import annotations

import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from . import analysis, basis, budget, data, expr, fastpass, finite, threads
from .config import ConfigError, FitConfig
from .errors import InputError, Interrupted
from .moments import _StrideSample
from .summary import Summary, chunk_factor_range

CHUNK = 1 << 20  # points per chunk of a streaming pass
SAMPLE = 1 << 20  # points kept for figures and the largest error; up to this many, analysis is exact (SVD)


def workers() -> int:
    """Threads for the per-chunk factors: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def working_set(degree: int, n_threads: int) -> int:
    """Bytes a summarising pass holds besides the chunks: on each thread its scratch rows (p + 2 rows
    of BLOCK float64 values: the basis rows, a spare and y, reused block after block) and, where a
    block's Cholesky factor is ill-conditioned (clustered or repeated x), the Householder QR's copy
    of as many rows (tracemalloc measured a peak of two such buffers per thread,
    tests/test_long_runs.py); and up to 65 (p+1)^2 factors awaiting a merge."""
    from .summary import BLOCK

    cols = degree + 2
    return n_threads * 2 * BLOCK * (degree + 3) * 8 + 65 * cols * cols * 8


def check_working_set(degree: int, n_threads: int) -> None:
    """Refuse a summarising pass whose block buffers and factors would not fit the memory budget."""
    need = working_set(degree, n_threads)
    if need <= budget.limit():
        return
    fits = max((d for d in range(0, degree) if working_set(d, n_threads) <= budget.limit()), default=None)
    budget.check(need, f"summarising at degree {degree} on {n_threads} thread(s) (block buffers and factors)",
                 f"degree {fits} fits" if fits is not None else "no degree fits")  # fmt: skip


def kept_points(sample_cap: int, p: int) -> int:
    """How many points a pass keeps: ``sample_cap``, or fewer where their p basis columns would not
    fit half the memory budget."""
    return min(sample_cap, budget.rows_that_fit(p, 8, 0.5))


def accumulate(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    kind: str,
    degree: int,
    domain: tuple[float, float] | None,
    progress: Callable[[int], None] | None = None,
    sample_cap: int = SAMPLE,
    n_threads: int | None = None,
    expected: int | None = None,
    source: str = "data",
) -> Summary:
    """One pass over (x, y) chunks into a Summary (R of [X y] by TSQR, the range, a strided sample).

    Each chunk's basis functions are checked finite in float64 at its extreme x (|phi_k| grows
    with |x|, and with |t| outside the window) before any factorisation: ``finite.NotFinite``.
    """
    p = degree + 1
    dom = None if kind == "power" else domain
    n_threads = n_threads or workers()
    check_working_set(degree, n_threads)
    sample = _StrideSample(kept_points(sample_cap, p), expected)
    n, lo, hi = 0, math.inf, -math.inf
    factors: list[np.ndarray] = []

    def absorb(done: tuple[np.ndarray, float, float]) -> None:
        nonlocal lo, hi
        R, lo, hi = done[0], min(lo, done[1]), max(hi, done[2])
        factors.append(R)
        if len(factors) >= 64:  # keep the stack small: merge what is there
            merged = merge_factors(factors)
            factors.clear()
            factors.append(merged)

    def checked_factor(x: np.ndarray, y: np.ndarray):  # on the pool's threads, like the factor itself
        # The factor first (it finds the range on the way), then the checks: the basis finite at the
        # extreme x, and y^T y (the factor's last column) finite; failing that, the checks of the points.
        try:
            with np.errstate(all="ignore"):
                done = chunk_factor_range(x, y, kind, degree, dom)
        except np.linalg.LinAlgError:
            done = None
        lo, hi = (done[1], done[2]) if done is not None else (float(x.min()), float(x.max()))
        ends = torch.tensor([lo, hi], dtype=torch.float64)
        finite.design(kind, ends, degree, domain or (-1.0, 1.0), source)
        if done is None or not np.all(np.isfinite(done[0])):
            with np.errstate(over="ignore"):  # the overflow is the message below, not a warning besides
                yy = float(np.dot(y, y))
            if not math.isfinite(yy):
                raise finite.NotFinite(f"{source}: the sum of y^2 overflows float64; rescale y")
            if done is None:
                done = chunk_factor_range(x, y, kind, degree, dom)
        return done

    # One BLAS thread for the whole pass, set once: the factors' small QRs (threads.one_blas_thread)
    # then nest inside it instead of setting and restoring the limit chunk after chunk.
    with threads.analysis_blas(), ThreadPoolExecutor(max_workers=n_threads) as pool:
        pending: deque = deque()
        for x, y in chunks:
            x = np.asarray(x, dtype=np.float64)  # strided views are fine: no copy
            y = np.asarray(y, dtype=np.float64)
            if not x.size:
                continue
            sample.add(x, y)
            n += x.size
            pending.append(pool.submit(checked_factor, x, y))
            while len(pending) > n_threads:  # bounded memory: at most n_threads + 1 chunks alive
                absorb(pending.popleft().result())
            if progress is not None:
                progress(n)
        while pending:
            absorb(pending.popleft().result())
    R = merge_factors(factors) if factors else np.zeros((p + 1, p + 1))
    sx, sy = sample.arrays()
    return Summary(kind, degree, dom, R, n, lo, hi, sx, sy, sample_cap)


def summarize_file(plan, kind: str, degree: int, domain: tuple[float, float] | None, progress=None,
                   sample_cap: int = SAMPLE, n_threads: int | None = None, source: str = "data") -> Summary | None:
    """:func:`accumulate` over one large .npy file with the compiled kernel (sinefit.fastpass): the same
    summary to rounding, the same checks (memory budget, basis finite at the range); None when the
    numpy path must read the file instead (a non-finite value: it names the row)."""
    p = degree + 1
    n_threads = n_threads or workers()
    check_working_set(degree, n_threads)
    stride = _StrideSample(kept_points(sample_cap, p), plan.n).stride

    def check_range(lo: float, hi: float) -> None:
        finite.design(kind, torch.tensor([lo, hi], dtype=torch.float64), degree, domain or (-1.0, 1.0), source)

    with threads.analysis_blas():
        return fastpass.summarize_npy(plan, kind, degree, domain, sample_cap=sample_cap, stride=stride,
                                      n_threads=n_threads, progress=progress, check_range=check_range)  # fmt: skip


def merge_factors(factors: list[np.ndarray]) -> np.ndarray:
    from .summary import _triangular

    return factors[0] if len(factors) == 1 else _triangular(np.vstack(factors))


def stream(cfg: FitConfig, x, y, progress=None, stop=None, given: Summary | None = None, *, chunk: int = CHUNK,
           sample: int = SAMPLE):  # fmt: skip
    """(dataset, columns, quadratic, summary or None): one pass over the points in chunks of ``chunk``
    (two when a mapped basis needs the range of x first), or none at all for a given summary; up to
    ``sample`` points are kept, and when that is all of them the solve is exactly the in-memory one."""
    CHUNK, SAMPLE = chunk, sample
    if given is not None:
        s = given.restrict(cfg.degree)
        return solve(cfg, s, cfg.data or cfg.summary or "summary")
    total: int | None
    plan = None
    if x is not None or y is not None:
        from .api import _dataset

        arrays = _dataset(cfg, x, y)
        xs, ys = arrays.x.double().numpy(), arrays.y.double().numpy()
        source, total, domain = "arrays", len(xs), arrays.domain

        def chunks():
            return ((xs[i : i + CHUNK], ys[i : i + CHUNK]) for i in range(0, len(xs), CHUNK))

    elif cfg.data is not None:
        from .io import datafiles

        columns_ = datafiles.parse_columns(cfg.columns)
        source, total, domain = cfg.data, datafiles.count_rows(cfg.data), cfg.domain
        plan = fastpass.npy_plan(cfg.data, columns_)  # one large .npy file: the compiled pass, if built

        def chunks():
            return datafiles.iter_chunks(cfg.data, columns_, chunk_rows=CHUNK)

        if domain is None and cfg.basis != "power":  # the window map needs the range first
            fast = fastpass.npy_range(plan, workers()) if plan is not None else None
            domain = fast if fast is not None and fast[0] < fast[1] else data_range(chunks())
    else:
        source, total = expr.resolve(cfg.target).text, cfg.samples
        domain = cfg.domain if cfg.domain is not None else data.SEED_DOMAIN
        if cfg.samples <= SAMPLE:  # small enough: exactly the in-memory points (and noise)
            full = data.generated(cfg.target, cfg.samples, cfg.domain, "float64", cfg.noise, cfg.seed, cfg.degree)
            xs, ys = full.x.numpy(), full.y.numpy()

            def chunks():
                return iter([(xs, ys)])

        else:

            def chunks():
                return data.generated_chunks(cfg.target, cfg.samples, cfg.domain, CHUNK, cfg.noise, cfg.seed)

    def check_stop(n: int) -> None:
        if stop is not None and stop.set:
            raise Interrupted(f"interrupted while reading the points ({n} read); nothing was fitted")

    def report(n: int) -> None:
        check_stop(n)
        if progress is not None:
            progress(n, total)

    keep = kept_points(SAMPLE, cfg.degree + 1)
    if total is not None and total <= keep:
        # Every point will be kept, and then the in-memory solve (the SVD of X) is the answer: the
        # pass's factors would be thrown away (at degree 1000 they are a third of the analysis).
        kept = gather(chunks(), report, keep)
        if kept is not None:
            xs, ys, lo, hi = kept
            check_stop(xs.size)  # a stop with the last report still ends the fit (below, too)
            if not xs.size:
                raise ConfigError("--data", f"{source}: no points")
            dom = None if cfg.basis == "power" else (domain or (-1.0, 1.0))
            shown = dom or cfg.domain or ((lo, hi) if lo < hi else (lo - 1.0, hi + 1.0))
            return solve_in_memory(cfg, xs, ys, shown, source)
    s = None
    if plan is not None:
        s = summarize_file(plan, cfg.basis, cfg.degree, domain or (-1.0, 1.0), report, SAMPLE, source=source)
    if s is None:
        s = accumulate(chunks(), cfg.basis, cfg.degree, domain or (-1.0, 1.0), report, SAMPLE, expected=total,
                       source=source)  # fmt: skip
    # A stop that came with the pass's last report still ends the fit: the pass may end before its
    # next poll, and whether a stop asked for during it is honoured must not be a race.
    check_stop(s.n)
    if s.n == 0:
        raise ConfigError("--data", f"{source}: no points")
    return solve(cfg, s, source)


def gather(chunks: Iterable[tuple[np.ndarray, np.ndarray]], progress: Callable[[int], None], cap: int):
    """(x, y, min x, max x) of every point, in order; None when more than ``cap`` points come (the
    count given beforehand was short), and the factored pass must run after all."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    n, lo, hi = 0, math.inf, -math.inf
    for x, y in chunks:
        x = np.array(x, dtype=np.float64)  # a copy: a reader may reuse its buffers
        y = np.array(y, dtype=np.float64)
        if not x.size:
            continue
        n += x.size
        if n > cap:
            return None
        lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
        xs.append(x)
        ys.append(y)
        progress(n)
    if not xs:
        return np.empty(0), np.empty(0), lo, hi
    return np.concatenate(xs), np.concatenate(ys), lo, hi


def data_range(chunks: Iterator[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """The min/max pre-pass: the domain a mapped basis needs before the factors can be built."""
    lo, hi = math.inf, -math.inf
    for cx, _ in chunks:
        if cx.size:
            lo, hi = min(lo, float(cx.min())), max(hi, float(cx.max()))
    if not lo <= hi:
        return (-1.0, 1.0)
    return (lo, hi) if lo < hi else (lo - 1.0, hi + 1.0)


def display_domain(s: Summary, given: tuple[float, float] | None) -> tuple[float, float]:
    if s.domain is not None:
        return s.domain
    if given is not None:
        return given
    return (s.x_min, s.x_max) if s.x_min < s.x_max else (s.x_min - 1.0, s.x_max + 1.0)


def solve(cfg: FitConfig, s: Summary, source: str):
    """The loss surface from a summary: exactly through the SVD of X when every point is in the
    sample, else from R (whose accuracy does not depend on the number of points)."""
    domain = display_domain(s, cfg.domain)
    if s.sample_x.size == s.n:  # every point is at hand
        return solve_in_memory(cfg, s.sample_x, s.sample_y, domain, source)
    ds = data.Dataset(torch.as_tensor(s.sample_x), torch.as_tensor(s.sample_y), source, domain, n=s.n)
    columns = _sample_columns(cfg, s, ds, domain, source)  # before any SVD
    q = quadratic(s, cfg.loss)
    rank = int(np.sum(q.singular_values > q.singular_values[0] * max(s.n, s.p) * np.finfo(np.float64).eps))
    if rank < s.p and np.unique(s.sample_x).size < s.p:
        raise InputError(
            f"{source}: the data determine only {rank} of the {s.p} coefficients of a degree-{s.degree} polynomial "
            f"(too few distinct x values: at most {np.unique(s.sample_x).size} seen); try a lower --degree"
        )
    return ds, columns, q, s


def solve_in_memory(cfg: FitConfig, x: np.ndarray, y: np.ndarray, domain, source: str):
    """Every point at hand: the solve through the SVD of X, as the per-sample engine does."""
    ds = data.Dataset(torch.as_tensor(x), torch.as_tensor(y), source, domain, n=len(x))
    columns = finite.design(cfg.basis, ds.x, cfg.degree, domain, source, ds.y)  # before any SVD
    with np.errstate(over="ignore"):  # the overflow is the message below, not a warning besides
        yy = float(np.dot(y, y))
    if not math.isfinite(yy):
        raise finite.NotFinite(f"{source}: the sum of y^2 overflows float64; rescale y")
    distinct = data.distinct_count(x, cfg.degree + 1)
    if distinct < cfg.degree + 1:
        from .api import _too_few_x

        raise _too_few_x(source, distinct, cfg.degree)
    q = analysis.solve(columns.T.numpy(), ds.y.numpy(), cfg.loss, x=ds.x.numpy(), basis=cfg.basis)
    return ds, columns, q, None


def _sample_columns(cfg: FitConfig, s: Summary, ds: data.Dataset, domain, source: str) -> torch.Tensor:
    """The basis columns at the sample, checked finite. A streamed sample lies inside the summary's
    range, and |phi_k| is largest at the ends of a range (powers grow with |x|, the mapped bases
    with |t| past 1), so the two ends are checked instead of every entry (which cost as much as
    the whole pass over 10^7 points); anything else takes the full check."""
    sx, sy = s.sample_x, s.sample_y
    inside = (not ds.complete and sx.size and bool(np.isfinite(sy).all()) and bool(np.isfinite(sx).all())
              and s.x_min <= float(sx.min()) and float(sx.max()) <= s.x_max)  # fmt: skip
    if not inside:
        return finite.design(cfg.basis, ds.x, cfg.degree, domain, source, ds.y)
    ends = torch.tensor([s.x_min, s.x_max], dtype=ds.x.dtype)
    finite.design(cfg.basis, ends, cfg.degree, domain, source)
    budget.check_design(ds.x.numel(), cfg.degree + 1, ds.x.element_size(), source)
    # elementwise work on a ~10^6-point sample: not worth a second thread (one busy core would hold it up)
    with threads.torch_threads(threads.for_size(ds.x.numel() * (cfg.degree + 1))):
        return basis.columns(cfg.basis, ds.x, cfg.degree, domain)


def quadratic(s: Summary, loss: str = "sse") -> analysis.Quadratic:
    """The loss surface c ||X theta - y||^2 (c = 1 for sse, 1/n for mse) from the summary's R."""
    if loss not in ("sse", "mse"):
        raise ValueError("summaries serve the quadratic losses only")
    theta, sse, sv, V = s.least_squares()
    scale = 1.0 if loss == "sse" else 1.0 / s.n
    return analysis.Quadratic(theta, scale * sse, sv, V, scale * s.yy, scale)


def summary_settings(summary, base: FitConfig, settings: dict) -> tuple[Summary | None, dict]:
    """The summary a fit is given (``summary=``, or the ``summary`` setting: a file), and the settings
    with its basis, degree and domain (and float64) filled in where the caller chose none."""
    given = summary if summary is not None else settings.get("summary", base.summary)
    if given is None:
        return None, settings
    if not isinstance(given, Summary):
        from .io import summaryfile

        path, given = str(given), summaryfile.load(given)
    else:
        path = None
    out = {**settings, "summary": path} if path is not None else dict(settings)
    defaults = FitConfig()
    for key, value in (("basis", given.basis), ("degree", given.degree), ("domain", given.domain), ("dtype", "float64")):
        if key not in settings and getattr(base, key) == getattr(defaults, key):
            out[key] = value
    return given, out


def load_given(summary, cfg: FitConfig) -> Summary:
    """The summary a fit was given (a Summary, or the path of a saved one), checked against the settings."""
    if not isinstance(summary, Summary):
        from .io import summaryfile

        summary = summaryfile.load(summary)
    if cfg.basis != summary.basis:
        raise ConfigError("--basis", f"the summary was built in the {summary.basis} basis, not {cfg.basis}")
    if cfg.degree > summary.degree:
        raise ConfigError("--degree", f"the summary holds degree {summary.degree} at most, got {cfg.degree}")
    if summary.domain is not None and cfg.domain is not None and tuple(cfg.domain) != tuple(summary.domain):
        raise ConfigError("--domain", f"the summary was built on the domain {summary.domain[0]:g},{summary.domain[1]:g}")
    if cfg.loss not in ("sse", "mse") or cfg.resolved_engine() == "per-sample" and cfg.engine != "auto":
        raise ConfigError("--summary", "a summary serves the quadratic losses (sse, mse) on the stats engine")
    if summary.n == 0:
        raise ConfigError("--summary", "the summary holds no points")
    return summary
