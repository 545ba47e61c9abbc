"""Users' (x, y) data files: CSV, NumPy .npy and .npz, and Parquet.

Every reader streams: it yields chunks of at most ``chunk_rows`` points, so a
file far larger than memory can be read (or validated) in bounded memory.
Every refusal is a :class:`DataFileError` whose one-line message starts with
the file path and then the place: ``line N`` (1-based physical line of a CSV
file, the header being line 1) or ``row N`` (1-based row of an array or table).

CSV rules, chosen so that messages can always name the exact line:

* Fields are separated by commas; surrounding spaces and tabs are ignored.
* Line 1 is a header when any of its cells is not a number.
* Without ``columns``: the columns named ``x`` and ``y`` when the header has
  both, else the first two columns (whatever their names).
* With a header, columns are chosen by name or 0-based index; without one,
  only by index.
* Every line holds one record: a trailing newline at the end of the file is
  fine, any other blank line is refused (naming it), and a quoted value may not
  span lines. This keeps physical lines and records 1:1.
* Numbers are decimal floats as ``float()`` writes them (``1``, ``-2.5e-3``,
  ``.5``); ``nan`` and ``inf`` parse but are refused as not finite.

The CSV fast path is pyarrow's streaming reader. pyarrow's errors do not name
physical lines, so when it fails the rest of the file is read by an exact
(slow) scan with Python's :mod:`csv`, which reports the first bad line. The
exact scan is the reference: it also reads files pyarrow refuses but these
rules accept (a quoted number, say), just slowly.
"""

from __future__ import annotations

import csv
import math
import os
import re
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InputError
from .regular import open_regular, require_regular

FORMATS = (".csv", ".npy", ".npz", ".parquet")
CSV_SUFFIXES = (".csv", ".txt")
DEFAULT_NAMES = ("x", "y")

Column = str | int
Columns = tuple[Column, Column]
Chunk = tuple[np.ndarray, np.ndarray]

_SHOWN_CELL_CHARS = 40  # a refused cell is quoted in the message, cut to this length
_SHOWN_NAMES = 20  # "(columns: ...)" lists at most this many names
_NPY_VERSIONS = {(1, 0), (2, 0), (3, 0)}  # 3.0 differs from 2.0 only in a UTF-8 header

# The number grammar pyarrow's float parser accepts (checked against it in the
# tests), so the fast path and the exact scan agree on what a number is.
_NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)",
    re.IGNORECASE | re.ASCII,  # ASCII: no "ınf" (dotless i) via Unicode case folding
)
_INDEX = re.compile(r"[+-]?[0-9]+")
_CELL_SPACE = " \t"  # what pyarrow trims around a number; the exact scan trims the same
MAX_LINE = 1 << 20  # characters in one CSV line: 10^8 fields on one line would take GBs as Python strings
BLOCK_BYTES = 64 << 20  # bytes of an .npy file read at once, however wide its rows
_ZIP_STREAMED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # zipfile bounds these reads; bzip2/lzma it does not


class DataFileError(InputError):
    """A data file sinefit will not read; the message names the file and the line or row."""


# --------------------------------------------------------------------------- public API


def parse_columns(text: str | None) -> Columns | None:
    """The ``--columns`` option: ``"x,y"`` (names), ``"0,2"`` (0-based indexes), or mixed.

    A part made of digits is an index; anything else is a column (or array) name.
    ``None`` means the format's default columns.
    """
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise InputError(f"--columns: expected two columns separated by a comma, like 'x,y' or '0,1', got {text!r}")
    x, y = _column(parts[0]), _column(parts[1])
    if x == y:  # y = x would fit exactly, and say nothing about the data
        raise InputError(f"--columns: x and y are the same column {parts[0]!r}; name two different columns")
    return x, y


def iter_chunks(path: str | Path, columns: Columns | None = None, *, chunk_rows: int = 1 << 20) -> Iterator[Chunk]:
    """Yield (x, y) chunks of at most ``chunk_rows`` points: fresh, writable, finite float64 arrays.

    A generator, so memory stays bounded by the chunk size whatever the file
    size; errors (including an unreadable or unsupported file) are raised while
    iterating, as soon as the offending chunk is reached. Never yields an empty
    chunk; an empty file yields nothing (see :func:`read_points`).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    from . import datasets

    if datasets.is_dataset(path):  # a directory, a glob or a URI: partition by partition
        yield from datasets.iter_chunks(path, columns, chunk_rows=chunk_rows)
        return
    reader = _reader(path)
    with _os_errors(path):
        require_regular(path)  # a FIFO or /dev/zero would hang or fill memory (pyarrow opens by path)
        yield from reader(path, columns, chunk_rows)


class TooManyPoints(DataFileError):
    """The file holds more points than ``read_points`` was allowed to keep in memory."""


def read_points(
    path: str | Path, columns: Columns | None = None, *, max_points: int | None = None, chunk_rows: int = 1 << 20
) -> Chunk:
    """The whole file in memory, as (x, y) float64 arrays; refuses a file with no data rows.

    With ``max_points``, reading stops with TooManyPoints as soon as the file holds more
    (a CSV file does not say how many rows it has): memory stays bounded either way.
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    count = 0
    for x, y in iter_chunks(path, columns, chunk_rows=chunk_rows):
        count += len(x)
        if max_points is not None and count > max_points:
            raise TooManyPoints(f"{path}: more than {max_points} points")
        xs.append(x)
        ys.append(y)
    if not xs:
        raise DataFileError(f"{path}: no data rows")
    if len(xs) == 1:
        return xs[0], ys[0]
    return np.concatenate(xs), np.concatenate(ys)


def require_distinct_x(x: np.ndarray, minimum: int, source: str) -> None:
    """Refuse data with fewer than ``minimum`` distinct x values (a degree-(minimum-1) fit is then underdetermined).

    Stops as soon as ``minimum`` distinct values are seen, so a large array with
    many distinct values costs little; the exact count is only needed (and only
    computed) when refusing. Each step sorts fewer than ``minimum + step``
    values, so the whole check is linear in ``x.size``.
    """
    x = np.asarray(x).ravel()
    step = max(1 << 16, minimum)
    distinct = x[:0]
    for start in range(0, x.size, step):
        distinct = np.unique(np.concatenate([distinct, x[start : start + step]]))
        if distinct.size >= minimum:
            return
    if distinct.size < minimum:
        raise DataFileError(
            f"{source}: {distinct.size} distinct x values, "
            f"but a degree-{minimum - 1} polynomial needs at least {minimum}"
        )


def count_rows(path: str | Path) -> int | None:
    """The number of rows, when the format records it (npy shape, npz array 'x', Parquet metadata); else None.

    A cheap hint (for progress reporting or preallocation): it reads headers
    only and does not validate the data. CSV files return None without being
    opened, since counting their lines means reading them.
    """
    from . import datasets

    if datasets.is_dataset(path):
        return datasets.count_rows(path)
    kind = _kind(path)
    if kind == "csv":
        return None
    with _os_errors(path):
        require_regular(path)
        if kind == "npy":
            with open_regular(path, "rb") as fp:
                shape = _npy_header(path, "", fp)[0]
            return shape[0] if len(shape) == 2 else None
        if kind == "npz":
            with _npz_archive(path) as archive:
                members = _npz_members(archive)
                if "x" not in members:
                    return None
                with _npz_member(path, archive, "x", members["x"]) as fp:
                    length = _npz_vector(path, "x", fp, members["x"])[0]
            return length
        with open_regular(path, "rb") as stream, _parquet_file(path, stream) as table:
            return table.metadata.num_rows


# --------------------------------------------------------------------------- shared helpers


def _kind(path: str | Path) -> str:
    """Which reader a file needs, by its extension; refuse the ones sinefit does not read."""
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in FORMATS:
        return suffix[1:]
    shown = f"file type '{suffix}'" if suffix else "file type (no extension)"
    raise DataFileError(f"{path}: unsupported {shown} (use {', '.join(FORMATS[:-1])} or {FORMATS[-1]})")


def _reader(path: str | Path) -> Callable[[str | Path, Columns | None, int], Iterator[Chunk]]:
    return {"csv": _csv_chunks, "npy": _npy_chunks, "npz": _npz_chunks, "parquet": _parquet_chunks}[_kind(path)]


@contextmanager
def _os_errors(path: str | Path) -> Iterator[None]:
    """Turn the operating system's refusal (missing file, permissions, I/O error) into a DataFileError."""
    try:
        yield
    except OSError as e:
        raise DataFileError(f"{path}: cannot read: {_one_line(e.strerror or str(e))}") from None


def _one_line(text: str) -> str:
    """The first line of a library's message: ours are one line, theirs sometimes are not."""
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "no details given"


def _column(token: str) -> Column:
    """One ``--columns`` part: digits are a 0-based index, anything else a name."""
    if not _INDEX.fullmatch(token):
        return token
    index = int(token)
    if index < 0 or token.startswith("-"):
        raise InputError(f"--columns: column indexes count from 0 and cannot be negative, got {token!r}")
    return index


def _names_listing(names: Sequence[str]) -> str:
    """Names for a one-line message, cut short when there are very many."""
    shown = ", ".join(names[:_SHOWN_NAMES])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _SHOWN_NAMES else "")


def _pick(path: str | Path, wanted: Column, names: Sequence[str] | None, width: int) -> int:
    """The 0-based position of a wanted column, by index or (when the file has names) by name."""
    if isinstance(wanted, int):
        if not 0 <= wanted < width:
            raise DataFileError(f"{path}: column index {wanted} is out of range ({_plural(width, 'column')})")
        return wanted
    if names is None:
        raise DataFileError(f"{path}: no header row, so columns are chosen by 0-based index, not by name {wanted!r}")
    found = [i for i, name in enumerate(names) if name == wanted]
    if not found:
        raise DataFileError(f"{path}: no column named {wanted!r} (columns: {_names_listing(names)})")
    if len(found) > 1:
        raise DataFileError(f"{path}: column name {wanted!r} is ambiguous (columns {found[0]} and {found[1]})")
    return found[0]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _default_columns(names: Sequence[str] | None) -> Columns:
    """Columns named x and y when there are both, else the first two."""
    if names is not None and all(name in names for name in DEFAULT_NAMES):
        return DEFAULT_NAMES
    return 0, 1


def _refuse_nonfinite(
    path: str | Path, x: np.ndarray, y: np.ndarray, labels: tuple[str, str], unit: str, first: int
) -> None:
    """Refuse the first NaN or infinity, naming its line/row (``first`` is the number of x[0]) and column."""
    with np.errstate(over="ignore", invalid="ignore"):  # a NaN or an infinity makes the sums non-finite
        if math.isfinite(float(np.add.reduce(x)) + float(np.add.reduce(y))):
            return  # (finite sums can only overflow: then the exact check below decides)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.all():
        return
    i = int(np.argmin(finite))
    label, value = (labels[0], x[i]) if not np.isfinite(x[i]) else (labels[1], y[i])
    raise DataFileError(f"{path}: {unit} {first + i}: {label} is not finite ({float(value)!r})")


def _float64(values: np.ndarray) -> np.ndarray:
    """A fresh float64 copy. Long doubles beyond float64's range become +-inf quietly: they are
    then refused as not finite, with the row, which says more than numpy's overflow warning."""
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64)


def _pieces(x: np.ndarray, y: np.ndarray, chunk_rows: int) -> Iterator[Chunk]:
    """Fresh, writable copies of (x, y) in pieces of at most ``chunk_rows``."""
    for start in range(0, len(x), chunk_rows):
        stop = start + chunk_rows
        yield np.array(x[start:stop], dtype=np.float64), np.array(y[start:stop], dtype=np.float64)


def _pyarrow() -> Any | None:
    """pyarrow, imported only when a file needs it (it is slow to import), or None when missing."""
    try:
        import pyarrow
        import pyarrow.csv
        import pyarrow.parquet
    except ImportError:
        return None
    return pyarrow


# --------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class _CsvPlan:
    """How to read one CSV file, decided from its first line."""

    width: int  # fields per line
    first_data_line: int  # 2 with a header, else 1
    picks: tuple[int, int]  # 0-based columns of x and y
    labels: tuple[str, str]  # "column 'x'" or "column 0", for messages


def _csv_chunks(path: str | Path, columns: Columns | None, chunk_rows: int) -> Iterator[Chunk]:
    """Fast pyarrow batches while they parse; from the first batch that does not, the exact scan."""
    plan = _csv_plan(path, columns)
    if plan is None:
        return
    pa = _pyarrow()
    line = plan.first_data_line
    if pa is not None:
        with closing(_arrow_csv_batches(pa, path, plan, chunk_rows)) as batches:
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    return
                except pa.ArrowException:
                    break  # the exact scan finds and names the offending line
                x, y = (batch.column(i).to_numpy() for i in _batch_positions(plan))
                _refuse_nonfinite(path, x, y, plan.labels, "line", line)
                yield from _pieces(x, y, chunk_rows)
                line += len(x)
    yield from _csv_exact(path, plan, line, chunk_rows)


def _csv_plan(path: str | Path, columns: Columns | None) -> _CsvPlan | None:
    """Read line 1: header or data, the number of fields, and which columns are x and y. None for an empty file."""
    with open_regular(path, "rb") as raw:
        start = raw.read(4)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):  # else it would read as mojibake, "not a number"
        raise DataFileError(f"{path}: is UTF-16 text; sinefit reads CSV in UTF-8 (or ASCII): save it as UTF-8")
    with _csv_text(path) as f:
        first = _bounded_line(path, f, 1)
    if not first:
        return None
    cells = _csv_fields(path, 1, first)
    if len(cells) < 2:
        raise DataFileError(f"{path}: line 1: expected at least 2 fields (x and y), got {len(cells)}")
    has_header = not all(_number(cell) is not None for cell in cells)
    names = [cell.strip() for cell in cells] if has_header else None
    wanted = columns if columns is not None else _default_columns(names)
    picks = (_pick(path, wanted[0], names, len(cells)), _pick(path, wanted[1], names, len(cells)))
    labels = tuple(f"column {names[i]!r}" if names else f"column {i}" for i in picks)
    return _CsvPlan(width=len(cells), first_data_line=2 if has_header else 1, picks=picks, labels=labels)


def _csv_text(path: str | Path) -> IO[str]:
    """The file as text for the exact scan: a UTF-8 BOM dropped, undecodable bytes shown as U+FFFD
    (they are then simply "not a number"), line endings kept so lines count as pyarrow counts them."""
    return open_regular(path, "r", encoding="utf-8-sig", errors="replace", newline="")


def _arrow_csv_batches(pa: Any, path: str | Path, plan: _CsvPlan, chunk_rows: int) -> Iterator[Any]:
    """pyarrow's streaming reader, set up so that each batch row is exactly one physical line.

    Quoting is off and empty lines are kept (they then fail to parse), so rows
    and lines stay 1:1 and a batch's first line is known; a quoted value fails
    too and is left to the exact scan. Only x and y are converted. pyarrow
    opens the file itself (native reads, and its read-ahead threads never
    touch a Python file object we might close under them).
    """
    names = [f"c{i}" for i in range(plan.width)]  # header text never reaches pyarrow
    wanted = [names[i] for i in dict.fromkeys(plan.picks)]
    reader = pa.csv.open_csv(
        str(path),
        read_options=pa.csv.ReadOptions(
            column_names=names, skip_rows=plan.first_data_line - 1, block_size=_block_size(chunk_rows)
        ),
        parse_options=pa.csv.ParseOptions(delimiter=",", quote_char=False, ignore_empty_lines=False),
        convert_options=pa.csv.ConvertOptions(
            column_types={name: pa.float64() for name in wanted},
            include_columns=wanted,
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    with reader:
        yield from reader


def _block_size(chunk_rows: int) -> int:
    """pyarrow's block (bytes of text parsed at once): about chunk_rows lines, within 1 KiB..1 MiB.

    The reader keeps a few dozen blocks in flight (read-ahead), so its memory
    is a multiple of the block size: 1 MiB blocks hold it near 35 MiB
    whatever the file size (16 MiB blocks reached 200+ MiB), and are no slower.
    """
    return min(max(chunk_rows * 64, 1 << 10), 1 << 20)


def _batch_positions(plan: _CsvPlan) -> tuple[int, int]:
    """Where x and y are among the batch's columns (one column when both are the same)."""
    ordered = list(dict.fromkeys(plan.picks))
    return ordered.index(plan.picks[0]), ordered.index(plan.picks[1])


def _csv_exact(path: str | Path, plan: _CsvPlan, start_line: int, chunk_rows: int) -> Iterator[Chunk]:
    """Read from ``start_line`` on with Python's csv module, one line at a time, naming the first bad line."""
    ix, iy = plan.picks
    xs: list[float] = []
    ys: list[float] = []
    with _csv_text(path) as f:
        for skipped in range(1, start_line):  # skip what is already read (pyarrow read those lines)
            _bounded_line(path, f, skipped)
        for line_number, line in _bounded_lines(path, f, start_line):
            cells = _csv_fields(path, line_number, line)
            if len(cells) != plan.width:
                raise DataFileError(f"{path}: line {line_number}: expected {plan.width} fields, got {len(cells)}")
            xs.append(_cell_value(path, line_number, plan.labels[0], cells[ix]))
            ys.append(_cell_value(path, line_number, plan.labels[1], cells[iy]))
            if len(xs) == chunk_rows:
                yield np.array(xs), np.array(ys)
                xs, ys = [], []
    if xs:
        yield np.array(xs), np.array(ys)


def _bounded_lines(path: str | Path, f: IO[str], first: int) -> Iterator[tuple[int, str]]:
    number = first
    while line := _bounded_line(path, f, number):
        yield number, line
        number += 1


def _bounded_line(path: str | Path, f: IO[str], line_number: int) -> str:
    """The next line, refused past MAX_LINE characters before it is split into fields."""
    line = f.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise DataFileError(f"{path}: line {line_number}: longer than {MAX_LINE} characters; "
                            "sinefit reads CSV files of at most that per line")  # fmt: skip
    return line


def _csv_fields(path: str | Path, line_number: int, line: str) -> list[str]:
    """One physical line split into fields (quotes allowed within the line); blank lines refused."""
    text = line.rstrip("\r\n")
    if not text.strip(_CELL_SPACE):
        raise DataFileError(f"{path}: line {line_number}: blank line (only a final newline may end the file)")
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as e:
        raise DataFileError(f"{path}: line {line_number}: malformed line ({_one_line(str(e))})") from None


def _number(cell: str) -> float | None:
    """The value of a cell, or None if it is not a number (by the same grammar as pyarrow)."""
    text = cell.strip(_CELL_SPACE)
    if not _NUMBER.fullmatch(text):
        return None
    return float(text.partition("(")[0])  # "nan(123)" is a NaN with a payload


def _cell_value(path: str | Path, line_number: int, label: str, cell: str) -> float:
    """A cell's finite value, or a DataFileError naming the line, the column and the cell."""
    value = _number(cell)
    if value is None:
        text = cell.strip(_CELL_SPACE)
        shown = text if len(text) <= _SHOWN_CELL_CHARS else text[:_SHOWN_CELL_CHARS] + "..."
        raise DataFileError(f"{path}: line {line_number}: {label}: {shown!r} is not a number")
    if not math.isfinite(value):
        raise DataFileError(f"{path}: line {line_number}: {label} is not finite ({value!r})")
    return value


# --------------------------------------------------------------------------- .npy


def _npy_chunks(path: str | Path, columns: Columns | None, chunk_rows: int) -> Iterator[Chunk]:
    """Rows of an (n, k) array read from the file a chunk at a time, converted to float64.

    Plain reads, not a memory map: a map keeps every page it touched resident, so memory
    would grow with the file instead of staying at one chunk.
    """
    with _os_errors(path), open_regular(path, "rb") as fp:
        shape, dtype, fortran = _npy_layout(path, fp)
        ix, iy = _npy_picks(path, shape, columns)
        labels = (f"column {ix}", f"column {iy}")
        n = shape[0]
        k = shape[1] if len(shape) == 2 else 1
        offset = fp.tell()
        declared = n * k * dtype.itemsize
        held = os.fstat(fp.fileno()).st_size - offset
        if declared > held:  # a header can claim any shape: check it against the bytes there are
            raise DataFileError(f"{path}: not a valid .npy file (its header declares shape {shape} of {dtype}, "
                                f"{declared} bytes, but the file holds {held}: truncated?)")  # fmt: skip
        if not fortran and k * dtype.itemsize > BLOCK_BYTES:  # rows too wide to read whole: two values each
            yield from _npy_two_columns(path, fp, offset, shape, dtype, (ix, iy), labels, chunk_rows)
            return
        if not fortran:  # read whole rows, but never more than BLOCK_BYTES at once
            chunk_rows = max(1, min(chunk_rows, BLOCK_BYTES // (k * dtype.itemsize)))
        for start in range(0, n, chunk_rows):
            m = min(chunk_rows, n - start)
            if fortran:  # columns are contiguous: read the two wanted ones
                x = _read_values(path, fp, offset + (ix * n + start) * dtype.itemsize, dtype, m)
                y = _read_values(path, fp, offset + (iy * n + start) * dtype.itemsize, dtype, m)
                block = None
            else:  # whole rows, read on from where the last chunk ended (no seek, no tell)
                block = _read_values(path, fp, offset + start * k * dtype.itemsize, dtype, m * k, start > 0)
                block = block.reshape(m, k)
                x, y = block[:, ix], block[:, iy]
            if not (dtype == np.float64 and ix != iy):  # else they are already fresh float64 (views of our block)
                x, y = _float64(x), _float64(y)
            elif k == 2 and _finite_sum(block):  # both columns at once, in one contiguous pass
                yield x, y
                continue
            _refuse_nonfinite(path, x, y, labels, "row", start + 1)
            yield x, y


def _npy_two_columns(path, fp, offset: int, shape, dtype: np.dtype, picks, labels, chunk_rows: int) -> Iterator[Chunk]:
    """x and y of very wide rows, read value by value (a row of 10^12 values is never read)."""
    n, k = shape
    rows = min(chunk_rows, 1 << 14)
    for start in range(0, n, rows):
        m = min(rows, n - start)
        x, y = np.empty(m), np.empty(m)
        for r in range(m):
            base = offset + (start + r) * k * dtype.itemsize
            x[r] = _float64(_read_values(path, fp, base + picks[0] * dtype.itemsize, dtype, 1))[0]
            y[r] = _float64(_read_values(path, fp, base + picks[1] * dtype.itemsize, dtype, 1))[0]
        _refuse_nonfinite(path, x, y, labels, "row", start + 1)
        yield x, y


def _npy_layout(path: str | Path, fp: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Shape, dtype and order from the header; ``fp`` is left at the first data byte."""
    shape, dtype = _npy_header(path, "", fp)
    fp.seek(0)
    fp.read(6)
    version = tuple(fp.read(2))
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    _, fortran, _ = read(fp)
    return shape, dtype, bool(fortran) and len(shape) == 2


def _finite_sum(values: np.ndarray) -> bool:
    """True when the values' sum is finite (so is every value); False says: check them one by one."""
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(float(np.add.reduce(values.reshape(-1))))


def _read_values(path: str | Path, fp: IO[bytes], at: int, dtype: np.dtype, count: int, on: bool = False) -> np.ndarray:
    if not on and fp.tell() != at:  # reading on: no seek (it would drop the buffer)
        fp.seek(at)
    values = np.fromfile(fp, dtype=dtype, count=count)
    if values.size != count:
        raise DataFileError(f"{path}: not a valid .npy file (the data ends early: truncated?)")
    return values


def _npy_header(path: str | Path, what: str, fp: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header (a file, or an .npz member named ``what``) without loading data.

    Refuses what is not a .npy array (a pickle, a zip archive, anything else)
    and arrays sinefit cannot use: object, structured, complex, bool, text.
    """
    where = f"{path}: {what} " if what else f"{path}: "
    start = fp.read(6)
    if start != b"\x93NUMPY":
        raise DataFileError(where + _not_npy_reason(start))
    try:
        version = tuple(fp.read(2))  # what numpy.lib.format.read_magic reads after the 6 magic bytes
        if version not in _NPY_VERSIONS:
            raise ValueError(f"unsupported .npy format version {version}")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _fortran, dtype = read(fp)
    except (ValueError, EOFError, SyntaxError, tokenize.TokenError) as e:  # numpy parses the header as Python
        raise DataFileError(f"{where}not a valid .npy array ({_one_line(str(e))})") from None
    except (RecursionError, MemoryError):  # Python's parser on a hostile header (thousands of nested operators)
        raise DataFileError(f"{where}not a valid .npy array (its header nests too deeply)") from None
    if dtype.hasobject:
        raise DataFileError(f"{where}holds Python objects (dtype {dtype}), which sinefit never unpickles")
    if dtype.kind not in "fiu":
        raise DataFileError(f"{where}dtype {dtype} is not a real number type")
    return shape, dtype


def _not_npy_reason(start: bytes) -> str:
    """Why a file that should be a .npy array is not one, from its first bytes."""
    if start[:1] == b"\x80":
        return "holds a Python pickle, not a .npy array (sinefit never unpickles)"
    if start[:2] == b"PK":
        return "is a zip archive (an .npz?), not a .npy array"
    if not start:
        return "is empty, not a .npy array"
    return "is not a .npy array (no NumPy header)"


def _npy_picks(path: str | Path, shape: tuple[int, ...], columns: Columns | None) -> tuple[int, int]:
    """The columns of an (n, k) array that are x and y: 0 and 1 of an (n, 2) array by default."""
    if columns is None:
        if len(shape) != 2 or shape[1] != 2:
            raise DataFileError(f"{path}: expected shape (n, 2), got {shape}")
        return 0, 1
    if len(shape) != 2:
        raise DataFileError(f"{path}: expected a 2-D array (n, k), got shape {shape}")
    for wanted in columns:
        if not isinstance(wanted, int):
            raise DataFileError(f"{path}: .npy columns are chosen by 0-based index, not by name {wanted!r}")
    return _pick(path, columns[0], None, shape[1]), _pick(path, columns[1], None, shape[1])


# --------------------------------------------------------------------------- .npz


def _npz_chunks(path: str | Path, columns: Columns | None, chunk_rows: int) -> Iterator[Chunk]:
    """Two 1-D arrays streamed side by side out of the zip archive (no whole-array load)."""
    wanted = columns if columns is not None else DEFAULT_NAMES
    for name in wanted:
        if not isinstance(name, str):
            raise DataFileError(f"{path}: .npz arrays are chosen by name, not by index {name}")
    with _npz_archive(path) as archive:
        members = _npz_members(archive)
        for name in wanted:
            if name not in members:
                raise DataFileError(f"{path}: missing array {name!r} (arrays: {_names_listing(list(members))})")
        with (
            _npz_member(path, archive, wanted[0], members[wanted[0]]) as fx,
            _npz_member(path, archive, wanted[1], members[wanted[1]]) as fy,
        ):
            n, x_dtype = _npz_vector(path, wanted[0], fx, members[wanted[0]])
            ny, y_dtype = _npz_vector(path, wanted[1], fy, members[wanted[1]])
            if ny != n:
                names = f"{wanted[0]!r} and {wanted[1]!r}"
                raise DataFileError(f"{path}: arrays {names} differ in length ({n} and {ny})")
            labels = (repr(wanted[0]), repr(wanted[1]))
            for start in range(0, n, chunk_rows):
                count = min(chunk_rows, n - start)
                x = _npz_values(path, wanted[0], fx, x_dtype, count)
                y = _npz_values(path, wanted[1], fy, y_dtype, count)
                _refuse_nonfinite(path, x, y, labels, "row", start + 1)
                yield x, y


@contextmanager
def _zip_errors(path: str | Path, problem: str) -> Iterator[None]:
    """Turn zipfile's and zlib's complaints into a DataFileError; wraps zipfile calls only.

    They are: not a zip or a bad CRC (BadZipFile), corrupt or truncated
    compressed data (zlib.error, EOFError), an unsupported compression method
    (NotImplementedError), an encrypted member (RuntimeError).
    """
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
        raise DataFileError(f"{path}: {problem} ({_one_line(str(e))})") from None


def _npz_archive(path: str | Path) -> zipfile.ZipFile:
    """Open an .npz file as the zip archive it must be."""
    require_regular(path)
    with _zip_errors(path, "not a valid .npz archive"):
        return zipfile.ZipFile(path)


@contextmanager
def _npz_member(path: str | Path, archive: zipfile.ZipFile, name: str, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    """One array's member of the archive, open for streaming (bzip2 and lzma members are refused:
    zipfile decompresses their data without a bound, so 6 kB can expand to gigabytes)."""
    if info.compress_type not in _ZIP_STREAMED:
        raise DataFileError(f"{path}: array {name!r} is compressed with method {info.compress_type} (bzip2 or lzma), "
                            "which sinefit does not read; numpy.savez or savez_compressed write readable .npz files")
    with _zip_errors(path, f"array {name!r} is unreadable"):
        fp = archive.open(info)
    with fp:
        yield fp


def _npz_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's arrays by name, as numpy.savez stores them ("x.npy" is array 'x')."""
    return {info.filename[: -len(".npy")]: info for info in archive.infolist() if info.filename.endswith(".npy")}


def _npz_vector(path: str | Path, name: str, fp: IO[bytes], info: zipfile.ZipInfo) -> tuple[int, np.dtype]:
    """Length and dtype of a 1-D array member, its header consumed so the data follows; the shape
    the header declares is checked against the member's size before any data is decompressed."""
    with _zip_errors(path, f"array {name!r} is unreadable"):
        shape, dtype = _npy_header(path, f"array {name!r}", fp)
    if len(shape) != 1:
        raise DataFileError(f"{path}: array {name!r} must be 1-D, got shape {shape}")
    if shape[0] * dtype.itemsize > info.file_size:
        raise DataFileError(f"{path}: array {name!r} declares {shape[0]} values of {dtype} "
                            f"({shape[0] * dtype.itemsize} bytes) but its member holds {info.file_size}")  # fmt: skip
    return shape[0], dtype


def _npz_values(path: str | Path, name: str, fp: IO[bytes], dtype: np.dtype, count: int) -> np.ndarray:
    """The next ``count`` values of a member, as a fresh float64 array."""
    with _zip_errors(path, f"array {name!r} is unreadable"):
        data = fp.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise DataFileError(f"{path}: array {name!r} is truncated")
    return _float64(np.frombuffer(data, dtype=dtype))


# --------------------------------------------------------------------------- Parquet


def _parquet_chunks(path: str | Path, columns: Columns | None, chunk_rows: int) -> Iterator[Chunk]:
    """Record batches of the two chosen columns, cast to float64; nulls refused by row."""
    pa = _require_pyarrow(path)
    with open_regular(path, "rb") as stream, _parquet_file(path, stream) as table:
        schema = table.schema_arrow
        if len(schema.names) < 2 and columns is None:
            raise DataFileError(f"{path}: expected at least 2 columns (x and y), got {len(schema.names)}")
        wanted = columns if columns is not None else _default_columns(schema.names)
        picks = tuple(_pick(path, c, schema.names, len(schema.names)) for c in wanted)
        labels = tuple(f"column {schema.names[i]!r}" for i in picks)
        for i, label in zip(picks, labels):
            _require_numeric(pa, path, label, schema.field(i).type)
        ordered = list(dict.fromkeys(picks))
        batches = table.iter_batches(batch_size=chunk_rows, columns=[schema.names[i] for i in ordered])
        row = 1
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, UnicodeDecodeError) as e:
                raise DataFileError(f"{path}: cannot decode Parquet data ({_one_line(str(e))})") from None
            x, y = (_arrow_floats(pa, path, batch.column(ordered.index(i)), lab, row) for i, lab in zip(picks, labels))
            _refuse_nonfinite(path, x, y, labels, "row", row)
            if len(x):
                yield x, y
            row += len(x)


def _require_pyarrow(path: str | Path) -> Any:
    pa = _pyarrow()
    if pa is None:
        raise DataFileError(f"{path}: reading Parquet files needs pyarrow (pip install pyarrow)")
    return pa


def _parquet_file(path: str | Path, stream: IO[bytes]) -> Any:
    """Open a Parquet file from a stream we opened (so OS errors keep their plain reason); refuse non-Parquet."""
    pa = _require_pyarrow(path)
    try:
        # No pre-buffering: pyarrow would otherwise read far ahead and hold most of the file.
        return pa.parquet.ParquetFile(stream, pre_buffer=False)
    except (pa.ArrowException, UnicodeDecodeError) as e:  # corrupt metadata can hold undecodable names
        raise DataFileError(f"{path}: not a valid Parquet file ({_one_line(str(e))})") from None


def _require_numeric(pa: Any, path: str | Path, label: str, type_: Any) -> None:
    """Refuse a column whose type is not a number type (strings are not parsed)."""
    if not (pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_)):
        raise DataFileError(f"{path}: {label} has type {type_}, not a number type")


def _arrow_floats(pa: Any, path: str | Path, column: Any, label: str, first_row: int) -> np.ndarray:
    """A batch column as a fresh float64 array; a null (a missing value) is refused, naming its row."""
    if column.null_count:
        i = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise DataFileError(f"{path}: row {first_row + i}: {label} is missing (null)")
    return column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False, writable=True)
