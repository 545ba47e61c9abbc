"""The stats engine's pass over one large float64 .npy file, with the compiled row kernel.

The same summary as :func:`sinefit.streaming.accumulate` over the file's chunks (the R factor of
[X y] by TSQR, the range, the strided sample), computed with fewer passes over memory: each
thread reads a block of rows (1 MiB) into a buffer it reuses, so the block stays in its core's
cache, and ``_kernel.c`` finds the block's range and the Gram matrix of its Legendre rows on that
window in one sweep. The small linear algebra is the numpy path's, batched over all the blocks at
the end (Cholesky of each Gram matrix, the change of basis into the requested one, one QR of the
stacked factors); blocks that path would not take (clustered x, a handful of rows) are re-read and
factored by :func:`sinefit.summary.chunk_factor_range` itself. A file with a non-finite value goes
to the numpy path, which names its row.

Without the compiled extension (no C compiler at install time) or with ``SINEFIT_KERNEL=0`` in
the environment, :func:`available` is False and the numpy path runs.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import summary as sm

BLOCK_BYTES = 1 << 20  # bytes of rows per read: one block and its sweep stay in a core's L2 cache
MIN_ROWS = 1 << 20  # below this many rows the numpy path is as fast (and the sample holds every point)
MAX_DEGREE = 32  # the kernel's largest Gram matrix is 34 x 34

_lib = None
_lib_lock = threading.Lock()


def _kernel():
    """The ctypes handle of the compiled kernel, or None (not built, or switched off)."""
    global _lib
    if os.environ.get("SINEFIT_KERNEL", "1") == "0" or not hasattr(os, "preadv"):  # (no preadv on Windows)
        return None
    with _lib_lock:
        if _lib is None:
            try:
                from . import _kernel as ext  # built by setup.py when a C compiler was there

                lib = ctypes.CDLL(ext.__file__)
            except (ImportError, OSError):
                _lib = False
                return None
            P, I = ctypes.c_void_p, ctypes.c_int64
            lib.sinefit_window_gram.argtypes = [P, I, I, I, I, I, P, P]
            lib.sinefit_window_gram.restype = ctypes.c_int
            lib.sinefit_window_residual.argtypes = [P, I, I, I, I, I, ctypes.c_double, ctypes.c_double, P, P]
            lib.sinefit_window_residual.restype = None
            lib.sinefit_block.argtypes = [P, I, I, I, I, I, P, P, I, I, P, P]
            lib.sinefit_block.restype = ctypes.c_int
            _lib = lib
        return _lib or None


def available() -> bool:
    """Whether the compiled kernel is there (and not switched off with SINEFIT_KERNEL=0)."""
    return _kernel() is not None


@dataclass(frozen=True)
class NpyPlan:
    """Where the rows of a C-ordered (n, k) native float64 .npy file are, and which columns are x and y."""

    path: str
    offset: int  # of the first data byte
    n: int
    k: int
    ix: int
    iy: int

    @property
    def block_rows(self) -> int:
        return max(256, BLOCK_BYTES // (8 * self.k))


def npy_plan(path, columns) -> NpyPlan | None:
    """The plan for the kernel's pass over ``path``, or None when the numpy path should read it
    (not a plain .npy file, not native float64 in C order, x and y the same column, small). Any
    problem with the file is left to the numpy path, which reports it."""
    from .io import datafiles

    if _kernel() is None or str(path).lower()[-4:] != ".npy" or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as fp:
            shape, dtype, fortran = datafiles._npy_layout(path, fp)
            offset = fp.tell()
            ix, iy = datafiles._npy_picks(path, shape, columns)
            held = os.fstat(fp.fileno()).st_size - offset
    except (OSError, ValueError, datafiles.DataFileError):
        return None
    if fortran or len(shape) != 2 or dtype != np.dtype(np.float64) or not dtype.isnative or ix == iy:
        return None
    n, k = shape
    if n < MIN_ROWS or n * k * 8 > held or 8 * k > BLOCK_BYTES:
        return None
    return NpyPlan(str(path), offset, n, k, ix, iy)


class _Blocks:
    """The blocks' results: Gram matrices, ranges, statuses and sample rows, in block order."""

    def __init__(self, plan: NpyPlan, degree: int, stride: int):
        self.plan, self.degree, self.stride = plan, degree, stride
        self.count = -(-plan.n // plan.block_rows)
        q = degree + 2
        self.G = np.zeros((self.count, q, q))
        self.range = np.zeros((self.count, 2))
        self.status = np.zeros(self.count, dtype=np.int64)
        size = -(-plan.n // stride)  # rows 0, stride, 2 stride, ... (as _StrideSample keeps)
        self.sample_x, self.sample_y = np.empty(size), np.empty(size)
        self.done_rows = 0
        self._next = 0
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def rows(self, b: int) -> tuple[int, int]:
        start = b * self.plan.block_rows
        return start, min(self.plan.block_rows, self.plan.n - start)

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self.count or self.stop.is_set():
                return None
            self._next += 1
            return self._next - 1


def read_block(fd: int, plan: NpyPlan, start: int, m: int, buf: np.ndarray) -> np.ndarray:
    """Rows [start, start + m) of the file into ``buf`` (reused: no new pages), as an (m, k) view."""
    want = m * plan.k * 8
    view = memoryview(buf).cast("B")[:want]
    at, got = plan.offset + start * plan.k * 8, 0
    while got < want:
        part = os.preadv(fd, [view[got:]], at + got)
        if part <= 0:
            from .io.datafiles import DataFileError

            raise DataFileError(f"{plan.path}: not a valid .npy file (the data ends early: truncated?)")
        got += part
    return buf[: m * plan.k].reshape(m, plan.k)


def _worker(fd: int, blocks: _Blocks, lib) -> None:
    """Blocks taken one at a time (two threads share the file's blocks, whatever their cores' load):
    read, then one call into the kernel, which writes the block's Gram matrix, range and sample rows
    straight into the shared arrays (little Python per block: it holds the GIL)."""
    plan, stride, q = blocks.plan, blocks.stride, blocks.degree + 2
    buf = np.empty(plan.block_rows * plan.k)
    G0, r0, x0, y0 = (a.ctypes.data for a in (blocks.G, blocks.range, blocks.sample_x, blocks.sample_y))
    try:
        while (b := blocks.take()) is not None:
            start, m = blocks.rows(b)
            read_block(fd, plan, start, m, buf)
            first = (-start) % stride
            at = 8 * ((start + first) // stride)
            blocks.status[b] = lib.sinefit_block(buf.ctypes.data, plan.k, plan.ix, plan.iy, m, blocks.degree,
                                                 G0 + 8 * q * q * b, r0 + 16 * b, first, stride, x0 + at,
                                                 y0 + at)  # fmt: skip
            with blocks._lock:
                blocks.done_rows += m
    except BaseException as e:  # noqa: BLE001  (re-raised by the thread that waits)
        blocks.error = e
        blocks.stop.set()


def summarize_npy(plan: NpyPlan, kind: str, degree: int, domain, *, sample_cap: int, stride: int,
                  n_threads: int, progress: Callable[[int], None] | None = None,
                  check_range: Callable[[float, float], None] | None = None) -> sm.Summary | None:  # fmt: skip
    """The file's summary, or None when the numpy path must take the file (a non-finite value, whose
    row it names). ``progress(rows)`` runs on the calling thread about every 50 ms (it may raise to
    stop the pass); ``check_range(lo, hi)`` checks the basis finite at the range before any factor."""
    lib = _kernel()
    if lib is None or degree > MAX_DEGREE:
        return None
    dom = None if kind == "power" else (float(domain[0]), float(domain[1]))
    blocks = _Blocks(plan, degree, stride)
    fd = os.open(plan.path, os.O_RDONLY)
    try:
        _wait(blocks, n_threads, lib, fd, progress)
        return _finish(fd, blocks, kind, dom, sample_cap, check_range, lib)
    finally:
        os.close(fd)


def npy_range(plan: NpyPlan, n_threads: int) -> tuple[float, float] | None:
    """The min/max pre-pass a mapped basis needs (x's range), or None when x is not all finite."""
    lib = _kernel()
    if lib is None:
        return None
    blocks = _Blocks(plan, -1, plan.n + 1)  # degree -1: the kernel stops after the range
    fd = os.open(plan.path, os.O_RDONLY)
    try:
        _wait(blocks, n_threads, lib, fd, None)
    finally:
        os.close(fd)
    if not np.all(np.isfinite(blocks.range)):
        return None
    return float(blocks.range[:, 0].min()), float(blocks.range[:, 1].max())


def _wait(blocks: _Blocks, n_threads: int, lib, fd: int, progress) -> None:
    """Run the blocks on n_threads threads; the calling thread reports progress (and may stop them)."""
    threads = [threading.Thread(target=_worker, args=(fd, blocks, lib), daemon=True) for _ in range(n_threads)]
    for t in threads:
        t.start()
    try:
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(0.05)
            if progress is not None and not blocks.stop.is_set():
                progress(blocks.done_rows)
    finally:
        blocks.stop.set()
        for t in threads:
            t.join()
    if blocks.error is not None:
        raise blocks.error
    if progress is not None:
        progress(blocks.done_rows)


def _finish(fd: int, blocks: _Blocks, kind: str, dom, sample_cap: int, check_range, lib) -> sm.Summary | None:
    """The numpy half: each block's R of [L y] from its Gram matrix (as summary._gram_factor), carried
    into the requested basis (as chunk_factor_range), then one QR of all the blocks' factors."""
    plan, degree = blocks.plan, blocks.degree
    p = degree + 1
    ok = blocks.status == 0
    if not (np.all(np.isfinite(blocks.G[ok])) and np.all(np.isfinite(blocks.range))):
        return None  # NaN or inf in the file (or y^2 overflowing): the numpy path reports it
    lo, hi = float(blocks.range[:, 0].min()), float(blocks.range[:, 1].max())
    if check_range is not None:
        check_range(lo, hi)
    factors: list[np.ndarray] = []
    if ok.any():
        R, C, good, cancels = _gram_factors(blocks.G[ok])
        idx = np.flatnonzero(ok)
        buf = np.empty(plan.block_rows * plan.k)
        for j in np.flatnonzero(cancels & good):  # rho^2 cancels: a second pass forms the residual
            b = idx[j]
            start, m = blocks.rows(b)
            read_block(fd, plan, start, m, buf)
            theta = np.linalg.solve(C[j].T, R[j, :p, p])
            out = np.empty(p + 1)
            lib.sinefit_window_residual(buf.ctypes.data, plan.k, plan.ix, plan.iy, m, degree, blocks.range[b, 0],
                                        blocks.range[b, 1], np.ascontiguousarray(theta).ctypes.data, out.ctypes.data)  # fmt: skip
            sm._correct(R[j], C[j], out[:p], float(out[p]))
        ok[idx[~good]] = False  # not well conditioned on their own window: the numpy path below
        M = R[good].copy()
        M[:, :, :p] = R[good][:, :, :p] @ _changes_of_basis(kind, degree, dom, blocks.range[idx[good]])
        factors.append(M.reshape(-1, p + 1))
    buf = np.empty(plan.block_rows * plan.k)
    for b in np.flatnonzero(~ok):  # degenerate or clustered blocks, and the last few rows
        start, m = blocks.rows(b)
        rows = read_block(fd, plan, start, m, buf)
        x, y = rows[:, plan.ix], rows[:, plan.iy]
        with np.errstate(all="ignore"):
            R_b, _, _ = sm.chunk_factor_range(x, y, kind, degree, dom)
        if not np.all(np.isfinite(R_b)):
            return None
        factors.append(R_b)
    R = sm._triangular(np.vstack(factors))
    return sm.Summary(kind, degree, dom, R, plan.n, lo, hi, blocks.sample_x, blocks.sample_y, sample_cap)


def _gram_factors(G: np.ndarray):
    """summary._gram_factor on a stack of Gram matrices: (R, C, well conditioned, rho^2 cancels)."""
    p = G.shape[1] - 1
    count = G.shape[0]
    C = np.zeros((count, p, p))
    good = np.ones(count, dtype=bool)
    try:
        C[:] = np.linalg.cholesky(G[:, :p, :p])
    except np.linalg.LinAlgError:  # some are not positive definite: one by one
        for i in range(count):
            try:
                C[i] = np.linalg.cholesky(G[i, :p, :p])
            except np.linalg.LinAlgError:
                good[i] = False
                C[i] = np.eye(p)
    d = np.abs(np.diagonal(C, axis1=1, axis2=2))
    good &= d.min(axis=1) > d.max(axis=1) / sm._WELL_CONDITIONED
    good &= np.linalg.cond(C) <= sm._WELL_CONDITIONED
    R = np.zeros((count, p + 1, p + 1))
    R[:, :p, :p] = np.swapaxes(C, 1, 2)
    r = np.linalg.solve(C, G[:, :p, p][..., None])[..., 0]
    rho2 = G[:, p, p] - np.sum(r * r, axis=1)
    R[:, :p, p] = r
    R[:, p, p] = np.sqrt(np.maximum(rho2, 0.0))
    return R, C, good, rho2 < sm._CANCELLATION * G[:, p, p]


def _changes_of_basis(kind: str, degree: int, dom, ranges: np.ndarray) -> np.ndarray:
    """summary._change_of_basis for each block's window [lo, hi]: (count, p, p)."""
    p = degree + 1
    lo, hi = ranges[:, :1], ranges[:, 1:]
    nodes = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (np.arange(p) + 0.5) / p)  # (count, p)
    t = nodes * (2.0 / (hi - lo)) - (lo + hi) / (hi - lo)
    V_L = np.empty(nodes.shape + (p,))  # V_L[b, node, k] = P_k(t)
    V_L[..., 0] = 1.0
    if degree > 0:
        V_L[..., 1] = t
    for k in range(1, degree):
        V_L[..., k + 1] = t * V_L[..., k] * ((2 * k + 1) / (k + 1)) - (0.5 if k == 1 else V_L[..., k - 1] * (k / (k + 1)))
    V_X = sm.target_columns(nodes.ravel(), kind, degree, dom).reshape(p, *nodes.shape).transpose(1, 2, 0)
    return np.linalg.solve(V_L, V_X)
