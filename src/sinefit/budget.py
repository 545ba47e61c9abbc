"""The memory budget: every allocation that grows with the input is checked against it first.

A small file can claim a huge array, a long line can hold 10^8 fields, and ordinary options
(``--degree 1000 --samples 1000000``) can ask for tens of GB. Rather than let the machine
swap or the kernel kill the process, sinefit states a budget and refuses, before allocating,
anything whose estimate exceeds it, saying what would fit.

The budget is, in order: ``--memory`` (``sinefit --memory 4G fit ...``), the environment
variable ``SINEFIT_MEMORY``, else ``DEFAULT_SHARE`` of the machine's memory (the smaller of
physical RAM and a cgroup limit). Values: bytes with an optional K/M/G/T suffix (powers of
1024: ``512M``, ``4G``, ``1.5G``) or a share of RAM (``25%``).
"""

from __future__ import annotations

import math
import os
import re

from .errors import InputError

DEFAULT_SHARE = 0.5
ENV = "SINEFIT_MEMORY"
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_TEXT = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(%|[KMGT]i?B?|B)?\s*", re.IGNORECASE)
MINIMUM = 64 << 20  # below this sinefit cannot even import torch

_limit: int | None = None  # set by configure(); None: from the environment or the default


class OverBudget(InputError):
    """An allocation would exceed the memory budget; the message says what would fit."""


def machine_memory() -> int:
    """Physical RAM, or the cgroup's memory limit when that is smaller."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, "rb") as f:
                text = f.read(64).decode().strip()
            if text.isdigit() and 0 < int(text) < ram:
                ram = int(text)
        except (OSError, ValueError):
            pass
    return ram


def parse(text: str, option: str = "--memory") -> int:
    """Bytes from '4G', '512M', '1.5G', '2000000000' or '25%' (of the machine's memory)."""
    m = _TEXT.fullmatch(str(text))
    if not m:
        raise InputError(f"{option}: expected bytes like 4G, 512M or 2000000000, or a share of RAM like 25%, "
                         f"got {text!r}")  # fmt: skip
    value, unit = float(m[1]), (m[2] or "").upper()
    if unit == "%":
        if not 0 < value <= 100:
            raise InputError(f"{option}: a share of RAM must be in (0, 100]%, got {text!r}")
        nbytes = machine_memory() * value / 100
    else:
        nbytes = value * _UNITS[unit[:1]]
    if not math.isfinite(nbytes) or nbytes < MINIMUM:
        raise InputError(f"{option}: {text!r} is below the least sinefit runs in ({format_bytes(MINIMUM)})")
    return int(nbytes)


def configure(text: str | None) -> None:
    """Set the budget from ``--memory`` (None: back to SINEFIT_MEMORY or the default)."""
    global _limit
    _limit = None if text is None else parse(text)
    if text is None:
        limit()  # a bad SINEFIT_MEMORY is refused up front, not mid-run


def limit() -> int:
    """The budget in bytes."""
    if _limit is not None:
        return _limit
    env = os.environ.get(ENV)
    if env is not None and env.strip():
        return parse(env, ENV)
    return int(machine_memory() * DEFAULT_SHARE)


def format_bytes(n: float) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def check(nbytes: float, what: str, fits: str = "") -> None:
    """Refuse ``what`` if it needs more than the budget; ``fits`` says what would fit instead."""
    budget = limit()
    if nbytes > budget:
        raise OverBudget(
            f"{what} needs about {format_bytes(nbytes)}, over the memory budget of {format_bytes(budget)} "
            f"(set by --memory or {ENV}; default {DEFAULT_SHARE:.0%} of RAM)" + (f"; {fits}" if fits else "")
        )


def share(fraction: float = 0.25) -> int:
    """A working-set size for one piece of a streamed computation: a fraction of the budget."""
    return int(limit() * fraction)


# Bytes per entry of a design matrix (p x m) over its life: the columns in the working dtype,
# twice while basis.columns stacks its rows, then float64 for the SVD (the copy, U and
# LAPACK's workspace) and for the statistics; plus per-point vectors (x, y, residuals).
_PER_ENTRY_EXTRA = 24
_PER_POINT = 64


def design_bytes(points: int, p: int, itemsize: int) -> int:
    return points * p * (2 * itemsize + _PER_ENTRY_EXTRA) + points * _PER_POINT


def rows_that_fit(p: int, itemsize: int = 8, fraction: float = 1.0) -> int:
    """How many points a design matrix of p columns may have within ``fraction`` of the budget."""
    return max(int(limit() * fraction) // (p * (2 * itemsize + _PER_ENTRY_EXTRA) + _PER_POINT), 1)


def check_design(points: int, p: int, itemsize: int, source: str) -> None:
    """Refuse a (p x points) design matrix that would not fit, naming the points and the degree that do."""
    need = design_bytes(points, p, itemsize)
    if need <= limit():
        return
    rows = rows_that_fit(p, itemsize)
    per_point = (limit() - points * _PER_POINT) / (points * (2 * itemsize + _PER_ENTRY_EXTRA))
    degree = int(per_point) - 1
    fits = f"at most {rows} points fit at degree {p - 1}"
    if degree >= 0:
        fits += f", or degree {degree} at {points} points"
    check(need, f"{source}: the degree-{p - 1} design matrix on {points} points (float{8 * itemsize})", fits)
