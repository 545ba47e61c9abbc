"""A mergeable summary of (x, y) data for least squares: the R factor of [X y] (TSQR).

For the design matrix X (the basis functions at the points, highest degree first) and
the targets y, the thin QR factorisation [X y] = Q R gives an upper-triangular
(p + 1) x (p + 1) matrix

    R = [[R11, r], [0, rho]]   with   ||X theta - y||^2 = ||R11 theta - r||^2 + rho^2,

so R holds everything a quadratic fit needs (the optimum, the Hessian's spectrum
2 c s_i^2 from the SVD of R11, the smallest loss rho^2), whatever the number of rows.
Two summaries merge by the QR factorisation of their stacked R factors ([A; B] = Q'
[R_A; R_B]), so partial sums can be combined in any tree: the answer changes only by
rounding. Unlike X^T X, R keeps X's condition number instead of squaring it.

One chunk's R is computed without a slow Householder pass over its rows: the chunk's
columns are first built in a basis that is well conditioned on that chunk (Legendre
polynomials on the chunk's own [min x, max x]), where the Cholesky factor of the Gram
matrix is accurate; the residual of the chunk's own fit is then formed explicitly, so
rho is not the difference of two large numbers; finally the (p + 1) x (p + 1) factor is
carried into the requested basis exactly by its (small) change-of-basis matrix and
re-triangularised. Chunks where that basis is not well conditioned (strongly clustered
x, a handful of rows, one repeated x) take Householder QR instead.

The summary also keeps the range of x, the number of points and a bounded sample of
the points (for figures and the largest error); the sample is the only part that is not
exact.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .threads import analysis_blas, one_blas_thread

BASES = ("power", "legendre", "chebyshev")
SAMPLE_CAP = 10_000  # points a summary keeps by default for figures and the largest error
_WELL_CONDITIONED = 1e4  # the largest condition number of a chunk's basis the Cholesky path takes


@dataclass(frozen=True, eq=False)
class Summary:
    """Everything a least-squares fit needs from some (x, y) points, in O(p^2) numbers.

    Build one from a chunk with :func:`summarize` (or ``Summary.of``), add summaries
    with ``+`` (or :func:`merge`), save with :meth:`save` and read with
    :meth:`Summary.load`, and fit with ``sinefit.fit(summary=...)``.
    """

    basis: str
    degree: int
    domain: tuple[float, float] | None  # the mapped bases' interval; None for power
    R: np.ndarray  # (p + 1, p + 1) upper triangular, non-negative diagonal: R of [X y]
    n: int
    x_min: float
    x_max: float
    sample_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sample_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sample_cap: int = SAMPLE_CAP

    @classmethod
    def of(cls, x, y, basis: str = "power", degree: int = 3, domain=None, sample_cap: int = SAMPLE_CAP) -> "Summary":
        """The summary of one chunk: the same as :func:`summarize`."""
        return summarize(x, y, basis, degree, domain, sample_cap)

    @property
    def p(self) -> int:
        return self.degree + 1

    @property
    def rho(self) -> float:
        """sqrt of the least sum of squared errors of this degree."""
        return float(self.R[self.p, self.p])

    @property
    def sst(self) -> float:
        """Sum of squares of y about its mean: the residual of the constant fit (phi_0 is constant)."""
        if self.n == 0:
            return 0.0
        return float(_triangular(self.R[:, [self.degree, self.p]])[1, 1] ** 2)

    @property
    def yy(self) -> float:
        return float(np.sum(self.R[:, self.p] ** 2))

    def compatible(self, other: "Summary") -> bool:
        return (self.basis, self.degree, self.domain) == (other.basis, other.degree, other.domain)

    def __add__(self, other: "Summary") -> "Summary":
        if not isinstance(other, Summary):
            return NotImplemented
        if not self.compatible(other):
            raise ValueError(
                f"cannot merge summaries of different models: {self.basis} degree {self.degree} on {self.domain} "
                f"and {other.basis} degree {other.degree} on {other.domain}"
            )
        R = _triangular(np.vstack([self.R, other.R]))
        cap = max(self.sample_cap, other.sample_cap)
        sx, sy = _thin(np.concatenate([self.sample_x, other.sample_x]),
                       np.concatenate([self.sample_y, other.sample_y]), cap)  # fmt: skip
        return Summary(self.basis, self.degree, self.domain, R, self.n + other.n, min(self.x_min, other.x_min),
                       max(self.x_max, other.x_max), sx, sy, cap)  # fmt: skip

    def __radd__(self, other):
        return self if isinstance(other, int) and other == 0 else self.__add__(other)  # sum() starts at 0

    def restrict(self, degree: int) -> "Summary":
        """The summary of a lower-degree model on the same points: phi_degree ... phi_0 are the
        trailing columns of X, so their R factor is that of R's trailing columns."""
        if not 0 <= degree <= self.degree:
            raise ValueError(f"degree must be in 0..{self.degree}, got {degree}")
        if degree == self.degree:
            return self
        keep = list(range(self.degree - degree, self.p + 1))
        R = _triangular(self.R[:, keep])
        return Summary(self.basis, degree, self.domain, R, self.n, self.x_min, self.x_max, self.sample_x,
                       self.sample_y, self.sample_cap)  # fmt: skip

    @one_blas_thread
    def least_squares(self) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """(theta*, SSE at theta*, singular values of X descending, V) from the SVD of R11."""
        p = self.p
        R11, r = self.R[:p, :p], self.R[:p, p]
        _, s, Vt = np.linalg.svd(R11)  # the spectrum of X (what gradient descent sees)
        # The solve with unit-norm columns (leastsq's rank decision): the unscaled SVD would drop
        # directions of a badly scaled power basis that the data determine.
        norms = np.sqrt(np.sum(R11 * R11, axis=0))
        norms = np.where(norms > 0, norms, 1.0)
        Us, ss, Vts = np.linalg.svd(R11 / norms)
        cutoff = (ss[0] if ss.size else 0.0) * max(self.n, p) * np.finfo(np.float64).eps
        inv = np.where(ss > cutoff, 1.0 / np.where(ss > cutoff, ss, 1.0), 0.0)
        theta = (Vts.T @ (inv * (Us.T @ r))) / norms
        misfit = self.R[:p, :p] @ theta - r
        return theta, float(misfit @ misfit + self.rho**2), s, Vt.T

    def sse(self, theta: np.ndarray) -> float:
        """||X theta - y||^2 for any coefficients, from R alone."""
        e = self.R[: self.p, : self.p] @ np.asarray(theta, dtype=np.float64) - self.R[: self.p, self.p]
        return float(e @ e + self.rho**2)

    def save(self, path) -> None:
        from .io import summaryfile

        summaryfile.save(self, path)

    def to_bytes(self) -> bytes:
        """The summary file's bytes (for a Spark or Dask task to return)."""
        from .io import summaryfile

        return summaryfile.dumps(self)

    @staticmethod
    def from_bytes(data: bytes) -> "Summary":
        from .io import summaryfile

        return summaryfile.loads(bytes(data))

    @staticmethod
    def load(path) -> "Summary":
        from .io import summaryfile

        return summaryfile.load(path)

    def __repr__(self) -> str:
        where = f" on [{self.domain[0]:g}, {self.domain[1]:g}]" if self.domain else ""
        return (f"Summary({self.basis} degree {self.degree}{where}, {self.n} points, x in "
                f"[{self.x_min:g}, {self.x_max:g}], least SSE {self.rho ** 2:.6g})")  # fmt: skip


def summarize(
    x,
    y,
    basis: str = "power",
    degree: int = 3,
    domain: tuple[float, float] | None = None,
    sample_cap: int = SAMPLE_CAP,
) -> Summary:
    """The summary of one chunk of points (any size, even empty). A mapped basis needs its ``domain``:
    every chunk of a data set must be summarised on the same one (compute it first from min/max)."""
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values but y has {y.size}")
    if basis not in BASES:
        raise ValueError(f"unknown basis {basis!r}; expected one of {', '.join(BASES)}")
    if basis != "power" and domain is None:
        raise ValueError(f"the {basis} basis needs a domain (lo, hi): the same for every chunk")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    domain = None if basis == "power" else (float(domain[0]), float(domain[1]))
    R = chunk_factor(x, y, basis, degree, domain)
    sx, sy = _thin(x, y, sample_cap) if x.size > sample_cap else (x.copy(), y.copy())
    lo, hi = (float(x.min()), float(x.max())) if x.size else (math.inf, -math.inf)
    return Summary(basis, degree, domain, R, int(x.size), lo, hi, sx, sy, sample_cap)


def summarize_chunks(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    basis: str = "power",
    degree: int = 3,
    domain: tuple[float, float] | None = None,
    sample_cap: int = SAMPLE_CAP,
) -> Summary:
    """The summary of a stream of (x, y) chunks (one partition, say), in one pass and bounded memory:
    the same as merging the chunks' summaries, with a sample taken by stride instead of by sorting."""
    with analysis_blas():  # one BLAS thread set once for the pass, not once per chunk's QR
        return _summarize_chunks(chunks, basis, degree, domain, sample_cap)


def _summarize_chunks(chunks, basis: str, degree: int, domain, sample_cap: int) -> Summary:
    dom = None if basis == "power" else (float(domain[0]), float(domain[1]))
    factors, xs, ys = [], [], []
    n, lo, hi, kept = 0, math.inf, -math.inf, 0
    for x, y in chunks:
        x = np.asarray(x, dtype=np.float64).ravel()  # strided views are fine: no copy
        y = np.asarray(y, dtype=np.float64).ravel()
        if not x.size:
            continue
        R, x_lo, x_hi = chunk_factor_range(x, y, basis, degree, dom)  # the range comes with the factor
        factors.append(R)
        if len(factors) >= 64:
            factors = [_triangular(np.vstack(factors))]
        n += x.size
        lo, hi = min(lo, x_lo), max(hi, x_hi)
        stride = max(1, -(-x.size // sample_cap))
        xs.append(x[::stride].copy())
        ys.append(y[::stride].copy())
        kept += xs[-1].size
        if kept > 2 * sample_cap:
            sx, sy = _thin(np.concatenate(xs), np.concatenate(ys), sample_cap)
            xs, ys, kept = [sx], [sy], sx.size
    if not factors:
        return empty(basis, degree, dom, sample_cap)
    R = factors[0] if len(factors) == 1 else _triangular(np.vstack(factors))
    sx, sy = _thin(np.concatenate(xs), np.concatenate(ys), sample_cap)
    return Summary(basis, degree, dom, R, n, lo, hi, sx, sy, sample_cap)


def merge(summaries: Iterable[Summary]) -> Summary:
    """Pairwise (tree) merge of summaries of the same model."""
    level = list(summaries)
    if not level:
        raise ValueError("nothing to merge")
    while len(level) > 1:
        level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return level[0]


def empty(basis: str, degree: int, domain: tuple[float, float] | None, sample_cap: int = SAMPLE_CAP) -> Summary:
    p = degree + 1
    dom = None if basis == "power" else (float(domain[0]), float(domain[1]))
    return Summary(basis, degree, dom, np.zeros((p + 1, p + 1)), 0, math.inf, -math.inf, np.zeros(0), np.zeros(0),
                   sample_cap)  # fmt: skip


# --------------------------------------------------------------------------- the per-chunk factor


BLOCK = 32768  # rows per block of the per-chunk pass: its few rows of columns stay in the CPU's cache
_CANCELLATION = 1e-3  # below this fraction of y^T y, the Gram's rho^2 is recomputed from the residual
_LOCAL = threading.local()  # per-thread scratch rows, reused block after block (no page faults)


def chunk_factor(x: np.ndarray, y: np.ndarray, basis: str, degree: int, domain) -> np.ndarray:
    """R of [X y] for one chunk (float64 arrays x, y, possibly strided), upper triangular with a
    non-negative diagonal. Blocks of BLOCK rows are factored one by one (each in the cache) and merged."""
    return chunk_factor_range(x, y, basis, degree, domain)[0]


def chunk_factor_range(x: np.ndarray, y: np.ndarray, basis: str, degree: int, domain) -> tuple[np.ndarray, float, float]:
    """(R, min x, max x) of one chunk: the range comes free with the factor.

    A long chunk is summed block by block into one Gram matrix of Legendre polynomials on the
    chunk's own [min x, max x] (no linear algebra per block), factored once; when that basis is not
    well conditioned on the chunk (clustered x), each block is factored on its own window instead."""
    if x.size <= BLOCK:
        return _block_factor(x, y, basis, degree, domain)
    p = degree + 1
    lo, hi = float(x.min()), float(x.max())
    if hi > lo:
        R = _window_factor(x, y, degree, lo, hi)
        if R is not None:
            C = _change_of_basis(basis, degree, domain, lo, hi)
            M = R.copy()
            M[:, :p] = R[:, :p] @ C
            return _triangular(M), lo, hi
    blocks = [_block_factor(x[i : i + BLOCK], y[i : i + BLOCK], basis, degree, domain)
              for i in range(0, x.size, BLOCK)]  # fmt: skip
    R = _triangular(np.vstack([b[0] for b in blocks]))
    return R, min(b[1] for b in blocks), max(b[2] for b in blocks)


def _window_factor(x: np.ndarray, y: np.ndarray, degree: int, lo: float, hi: float) -> np.ndarray | None:
    """R of [L y] for a whole chunk, L its Legendre rows on [lo, hi]: the Gram matrix summed over blocks
    (each block's rows built in the cache and reduced by dot products), then one Cholesky factor; None
    when the rows are not well conditioned on this window."""
    p = degree + 1
    G = np.zeros((p + 1, p + 1))
    for i in range(0, x.size, BLOCK):
        rows = _block_rows(x[i : i + BLOCK], y[i : i + BLOCK], degree, lo, hi)
        G += _gram(rows[:p], rows[p + 1])
    out = _gram_factor(G)
    if out is None:
        return None
    R, C, cancels = out
    if cancels:  # rho^2 would cancel in y^T y - |r|^2: a second pass forms the residual explicitly
        theta = np.linalg.solve(C.T, R[:p, p])
        Lres, rr = np.zeros(p), 0.0
        for i in range(0, x.size, BLOCK):
            rows = _block_rows(x[i : i + BLOCK], y[i : i + BLOCK], degree, lo, hi)
            res = _residual(rows[:p], rows[p + 1], theta, rows[p])
            Lres += rows[:p] @ res
            rr += float(res @ res)
        _correct(R, C, Lres, rr)
    return R


def _block_rows(x: np.ndarray, y: np.ndarray, degree: int, lo: float, hi: float) -> np.ndarray:
    """This thread's scratch rows: P_0 ... P_degree of the window at x, a spare row, then y (contiguous)."""
    p = degree + 1
    rows = _scratch(p + 2, x.size)
    _legendre_rows(x, degree, lo, hi, rows[: p + 1])
    np.copyto(rows[p + 1], y)
    return rows


def _block_factor(x: np.ndarray, y: np.ndarray, basis: str, degree: int, domain) -> tuple[np.ndarray, float, float]:
    p = degree + 1
    m = x.size
    if m == 0:
        return np.zeros((p + 1, p + 1)), math.inf, -math.inf
    lo, hi = float(x.min()), float(x.max())
    if m < 4 * (p + 1) or not hi > lo:  # tiny or degenerate: Householder on the requested columns
        A = np.vstack([target_columns(x, basis, degree, domain), y[None]])
        return _triangular(A.T), lo, hi
    rows = _block_rows(x, y, degree, lo, hi)  # rows P_0 ... P_degree of the block's own window
    y = rows[p + 1]  # contiguous, in the cache, for the dot products
    R_block = _cholesky_factor(rows[:p], y, rows[p])
    if R_block is None:  # not well conditioned even there: Householder QR of the same rows
        R_block = _triangular(np.vstack([rows[:p], y[None]]).T)
    # [X y] = [L y] diag(C, 1): carry the factor into the requested basis and re-triangularise.
    C = _change_of_basis(basis, degree, domain, lo, hi)
    M = R_block.copy()
    M[:, :p] = R_block[:, :p] @ C
    return _triangular(M), lo, hi


def _scratch(k: int, m: int) -> np.ndarray:
    buf = getattr(_LOCAL, "rows", None)
    if buf is None or buf.shape[0] < k or buf.shape[1] < m:
        buf = np.empty((max(k, buf.shape[0] if buf is not None else 0), max(m, BLOCK)))
        _LOCAL.rows = buf
    return buf[:k, :m]


def _gram(L: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[L; y] [L; y]^T by dot products (for a few long rows, faster than a BLAS matrix product); L[0] is 1."""
    p = L.shape[0]
    G = np.empty((p + 1, p + 1))
    G[0, 0] = L.shape[1]
    for i in range(1, p):
        G[0, i] = G[i, 0] = L[i].sum()
        for j in range(1, i + 1):
            G[i, j] = G[j, i] = L[i] @ L[j]
    G[0, p] = G[p, 0] = y.sum()
    for i in range(1, p):
        G[i, p] = G[p, i] = L[i] @ y
    G[p, p] = y @ y
    return G


def _cholesky_factor(L: np.ndarray, y: np.ndarray, scratch: np.ndarray) -> np.ndarray | None:
    """R of [L^T y] (L is (p, m): basis rows, the first of them ones) through the Gram matrix;
    None when the rows are not well conditioned. When the fit is so good that rho^2 would cancel
    in y^T y - |r|^2, it is recomputed from the explicit residual (kept in ``scratch``)."""
    p = L.shape[0]
    out = _gram_factor(_gram(L, y))
    if out is None:
        return None
    R, C, cancels = out
    if cancels:
        theta = np.linalg.solve(C.T, R[:p, p])
        res = _residual(L, y, theta, scratch)
        _correct(R, C, L @ res, float(res @ res))
    return R


def _gram_factor(G: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(R of [L^T y], C with G11 = C C^T, whether rho^2 cancels) from the Gram matrix G of [L^T y];
    None when L is not well conditioned."""
    p = G.shape[0] - 1
    try:
        C = np.linalg.cholesky(G[:p, :p])  # G11 = C C^T, R11 = C^T
    except np.linalg.LinAlgError:
        return None
    d = np.abs(np.diag(C))
    if not d.min() > d.max() / _WELL_CONDITIONED or np.linalg.cond(C) > _WELL_CONDITIONED:
        return None
    R = np.zeros((p + 1, p + 1))
    R[:p, :p] = C.T
    r = np.linalg.solve(C, G[:p, p])
    rho2 = float(G[p, p] - r @ r)
    R[:p, p], R[p, p] = r, math.sqrt(max(rho2, 0.0))
    return R, C, rho2 < _CANCELLATION * G[p, p]


def _residual(L: np.ndarray, y: np.ndarray, theta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """y - L^T theta, formed explicitly in ``out``."""
    np.multiply(L[0], theta[0], out=out)
    for k in range(1, L.shape[0]):
        out += theta[k] * L[k]
    np.subtract(y, out, out=out)
    return out


def _correct(R: np.ndarray, C: np.ndarray, Lres: np.ndarray, rr: float) -> None:
    """Refine r and rho in place from the explicit residual's L^T res and res^T res: rho does not cancel."""
    p = C.shape[0]
    correction = np.linalg.solve(C, Lres)  # what the first solve left in the span of the rows
    R[:p, p] = R[:p, p] + correction
    R[p, p] = math.sqrt(max(rr - float(correction @ correction), 0.0))


def _legendre_rows(x: np.ndarray, degree: int, lo: float, hi: float, out: np.ndarray) -> None:
    """out[k] = P_k(t), t = (2x - lo - hi) / (hi - lo), for k = 0 ... degree (low first); out may have
    one more row, used as scratch."""
    out[0] = 1.0
    if degree == 0:
        return
    np.multiply(x, 2.0 / (hi - lo), out=out[1])
    out[1] -= (lo + hi) / (hi - lo)
    t = out[1]
    tmp = out[degree + 1] if out.shape[0] > degree + 1 else None
    for k in range(1, degree):  # (k + 1) P_{k+1} = (2k + 1) t P_k - k P_{k-1}
        nxt = out[k + 1]
        np.multiply(t, out[k], out=nxt)
        nxt *= (2 * k + 1) / (k + 1)
        if k == 1:
            nxt -= 0.5  # P_0 = 1
        elif tmp is not None:
            np.multiply(out[k - 1], k / (k + 1), out=tmp)
            nxt -= tmp
        else:
            nxt -= (k / (k + 1)) * out[k - 1]


def _change_of_basis(basis: str, degree: int, domain, lo: float, hi: float) -> np.ndarray:
    """C (p x p) with X_requested = L C, L the chunk's Legendre rows (low first) as columns.

    Both are polynomials of degree <= degree, so they agree exactly at p nodes: C = V_L^-1 V_X at
    Chebyshev nodes of [lo, hi], where V_L is well conditioned.
    """
    p = degree + 1
    nodes = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (np.arange(p) + 0.5) / p)
    V_L = np.empty((p, p))
    _legendre_rows(nodes, degree, lo, hi, V_L.T)
    V_X = target_columns(nodes, basis, degree, domain).T
    return np.linalg.solve(V_L, V_X)


def target_columns(x: np.ndarray, basis: str, degree: int, domain) -> np.ndarray:
    """The requested basis at x, rows phi_degree ... phi_0 (as ``sinefit.basis.columns``), in numpy."""
    p = degree + 1
    rows = np.empty((p, x.size))
    if basis == "power":
        for i, k in enumerate(range(degree, -1, -1)):
            rows[i] = x**k if k > 1 else (x if k == 1 else 1.0)
        return rows
    lo, hi = domain
    t = (2 * x - (lo + hi)) / (hi - lo)
    low = [np.ones_like(t), t]
    for k in range(1, degree):
        if basis == "legendre":
            low.append(((2 * k + 1) * t * low[k] - k * low[k - 1]) / (k + 1))
        else:
            low.append(2 * t * low[k] - low[k - 1])
    for i, k in enumerate(range(degree, -1, -1)):
        rows[i] = low[k]
    return rows


_TINY = 9216  # elements below which OpenBLAS runs its level-2 kernels on one thread anyway (2304 x 4)


def _triangular(M: np.ndarray) -> np.ndarray:
    """The square R factor (upper triangular, diagonal >= 0) of M's columns, padded with zero rows.

    Small stacks (every merge of factors) skip :func:`threads.one_blas_thread`: its limiter costs
    about 1 ms per call (threadpoolctl reads /proc/self/maps), which was most of a streamed pass."""
    if M.size < _TINY:
        return _triangular_raw(M)
    return _triangular_limited(M)


def _triangular_raw(M: np.ndarray) -> np.ndarray:
    k = M.shape[1]
    R = np.linalg.qr(M, mode="r") if M.shape[0] else np.zeros((0, k))
    if R.shape[0] < k:
        R = np.vstack([R, np.zeros((k - R.shape[0], k))])
    R = np.triu(R[:k])
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return R * signs[:, None]


_triangular_limited = one_blas_thread(_triangular_raw)


def _thin(x: np.ndarray, y: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``cap`` points spread evenly over the points sorted by (x, y): the same whatever
    order the points came in, so merging samples is commutative."""
    if x.size <= cap:
        order = np.lexsort((y, x))
        return x[order], y[order]
    order = np.lexsort((y, x))
    pick = order[np.linspace(0, x.size - 1, cap).round().astype(np.int64)]
    return x[pick], y[pick]
