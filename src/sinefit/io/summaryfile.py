"""Summary files (``.npz``): a :class:`sinefit.Summary` saved and loaded.

One NumPy ``.npz`` archive (no pickles) holding ``meta`` (JSON text: format, version,
basis, degree, domain, n, the range of x, the sample cap), ``R`` ((p + 1) x (p + 1)) and
the kept sample ``sample_x``, ``sample_y``. Written atomically; an existing file is only
replaced when it is itself a sinefit summary. Loading checks every part and refuses with
one line naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..summary import BASES, Summary
from .safefile import read_bounded

FORMAT, VERSION = "sinefit-summary", 1
LIMIT = 256 << 20  # bytes: a summary's sample is bounded, so a larger file is not one


class SummaryFileError(InputError):
    """A file that is not a readable sinefit summary."""


def save(summary: Summary, path: str | Path) -> Path:
    path = Path(path)
    if path.exists() and not _is_summary(path):
        raise SummaryFileError(f"{path}: exists and is not a sinefit summary; not replaced")
    data = dumps(summary)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def dumps(summary: Summary) -> bytes:
    """The file's bytes: what a Spark or Dask task can return for a summary."""
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "basis": summary.basis,
        "degree": summary.degree,
        "domain": list(summary.domain) if summary.domain is not None else None,
        "n": summary.n,
        "x_min": summary.x_min if math.isfinite(summary.x_min) else None,
        "x_max": summary.x_max if math.isfinite(summary.x_max) else None,
        "sample_cap": summary.sample_cap,
    }
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), R=summary.R, sample_x=summary.sample_x,
             sample_y=summary.sample_y)  # fmt: skip
    return buffer.getvalue()


def load(path: str | Path) -> Summary:
    path = Path(path)
    return loads(read_bounded(path, LIMIT, "a sinefit summary", SummaryFileError), str(path))


def loads(raw: bytes, path: str = "summary") -> Summary:
    """A summary from :func:`dumps`'s bytes; ``path`` names it in errors."""
    if len(raw) > LIMIT:
        raise SummaryFileError(f"{path}: {len(raw)} bytes is too large for a sinefit summary (limit {LIMIT})")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            parts = {name: archive[name] for name in ("meta", "R", "sample_x", "sample_y")}
    except KeyError as e:
        raise SummaryFileError(f"{path}: not a sinefit summary (no {e.args[0]!r} in it)") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise SummaryFileError(f"{path}: not a sinefit summary ({str(e).splitlines()[0] if str(e) else 'unreadable'})") from None
    try:
        meta = json.loads(str(parts["meta"]))
    except (ValueError, TypeError):
        raise SummaryFileError(f"{path}: not a sinefit summary (its 'meta' is not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SummaryFileError(f"{path}: not a sinefit summary (format is not {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise SummaryFileError(f"{path}: summary format version {meta.get('version')!r}; this sinefit reads {VERSION}")
    basis, degree, domain, n = meta.get("basis"), meta.get("degree"), meta.get("domain"), meta.get("n")
    if basis not in BASES:
        raise SummaryFileError(f"{path}: unknown basis {basis!r}")
    if not isinstance(degree, int) or isinstance(degree, bool) or not 0 <= degree <= 1000:
        raise SummaryFileError(f"{path}: bad degree {degree!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise SummaryFileError(f"{path}: bad number of points {n!r}")
    if basis != "power":
        if not (isinstance(domain, list) and len(domain) == 2 and all(isinstance(v, (int, float)) for v in domain)
                and math.isfinite(domain[0]) and math.isfinite(domain[1]) and domain[0] < domain[1]):  # fmt: skip
            raise SummaryFileError(f"{path}: bad domain {domain!r} for the {basis} basis")
        domain = (float(domain[0]), float(domain[1]))
    else:
        domain = None
    p = degree + 1
    R, sx, sy = parts["R"], parts["sample_x"], parts["sample_y"]
    if R.shape != (p + 1, p + 1) or R.dtype != np.float64 or not np.all(np.isfinite(R)):
        raise SummaryFileError(f"{path}: R must be a finite float64 {p + 1}x{p + 1} matrix, got {R.dtype} {R.shape}")
    if np.any(np.tril(R, -1) != 0) or np.any(np.diag(R) < 0):
        raise SummaryFileError(f"{path}: R is not upper triangular with a non-negative diagonal")
    if sx.shape != sy.shape or sx.ndim != 1 or sx.dtype != np.float64 or sy.dtype != np.float64 or sx.size > n:
        raise SummaryFileError(f"{path}: bad sample (shapes {sx.shape} and {sy.shape}, {n} points)")
    if not (np.all(np.isfinite(sx)) and np.all(np.isfinite(sy))):
        raise SummaryFileError(f"{path}: the sample holds a value that is not finite")
    x_min = meta.get("x_min") if meta.get("x_min") is not None else math.inf
    x_max = meta.get("x_max") if meta.get("x_max") is not None else -math.inf
    cap = meta.get("sample_cap", max(sx.size, 1))
    return Summary(basis, degree, domain, R, n, float(x_min), float(x_max), sx.copy(), sy.copy(), int(cap))


def _is_summary(path: Path) -> bool:
    try:
        load(path)
    except InputError:
        return False
    return True
