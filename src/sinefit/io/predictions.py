"""Inputs and outputs of ``sinefit predict``: x values in, x,y CSV out."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .regular import open_regular
from .safefile import write_text

MAX_BYTES = 1 << 30


def parse_x_values(texts: list[str]) -> np.ndarray:
    """Numbers from the command line, comma-separated or not; constants like pi/2 allowed."""
    from .. import expr

    values = []
    for text in texts:
        for part in text.split(","):
            if part.strip():
                values.append(expr.constant(part, option="--x"))
    return np.array(values, dtype=np.float64)


def read_x_csv(path: Path) -> np.ndarray:
    """x values from a CSV file: its only column, or the column named x (a header is optional).

    Read row by row into packed float64 (8 bytes a value, no list of rows), and refused once the
    values and their predictions would pass the memory budget."""
    from array import array

    from .. import budget

    values = array("d")
    cap = max(budget.limit() // 24, 1)  # x, y and the CSV text's floats: ~24 bytes per value
    try:
        with open_regular(path, "r", newline="", encoding="utf-8") as f:  # not a FIFO or /dev/zero
            if os.fstat(f.fileno()).st_size > MAX_BYTES:
                raise InputError(f"{path}: larger than {MAX_BYTES} bytes; predict in chunks")
            column = 0
            for i, row in enumerate(csv.reader(f), start=1):
                if i == 1 and row and not _is_number(row[0]):
                    header = [h.strip() for h in row]
                    if "x" in header:
                        column = header.index("x")
                    elif len(header) != 1:
                        raise InputError(f"{path}: line 1: no column named x (columns: {', '.join(header)})")
                    continue
                if not row:
                    continue
                if column >= len(row):
                    raise InputError(f"{path}: line {i}: expected a value in column {column + 1}")
                cell = row[column].strip()
                try:
                    v = float(cell)
                except ValueError:
                    raise InputError(f"{path}: line {i}: {cell!r} is not a number") from None
                if not math.isfinite(v):
                    raise InputError(f"{path}: line {i}: x is not finite ({cell})")
                if len(values) >= cap:
                    budget.check(24 * (len(values) + 1), f"{path}: predicting more than {cap} x values",
                                 "predict in chunks")  # fmt: skip
                values.append(v)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: not a CSV text file ({e})") from None
    if not values:
        raise InputError(f"{path}: no x values")
    return np.frombuffer(values, dtype=np.float64).copy()


def write_csv(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """x,y rows, floats in repr so they read back exactly; written atomically."""
    lines = ["x,y"] + [f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y)]
    write_text(path, "\n".join(lines) + "\n")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
