"""A batched sweep's rows, kept column by column.

A sweep of 10^6 configurations would spend most of its time (and a gigabyte) building one
dict per configuration. ``Table`` keeps only what the sweep table needs: the swept settings
are not stored at all (a configuration's settings follow from its place in the grid, the
product of the axes in order), and each outcome is one numpy column. Indexing or iterating
gives the same dicts, with the same keys, order and Python values, as a list of rows would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Iterator

import numpy as np

OUTCOMES = ("lr_used", "final_loss", "optimum_loss", "gap", "diverged", "diverged_at", "stable_lr", "aic", "bic")
_CHUNK = 1 << 16  # rows turned into dicts at a time when iterating


class Table(Sequence):
    """Rows of a sweep grid: ``axes`` (name -> values, in grid order) and outcome columns.

    ``columns`` maps each name of OUTCOMES to an array of len(self); ``missing`` maps some of
    them to a boolean array, True where the row's value is None.
    """

    def __init__(self, axes: dict[str, list[Any]], columns: dict[str, np.ndarray], missing: dict[str, np.ndarray]):
        self.axes = axes
        self.shape = [len(v) for v in axes.values()]
        self.columns = columns
        self.missing = missing
        self._n = math.prod(self.shape)

    def __len__(self) -> int:
        return self._n

    def codes(self, name: str, index: np.ndarray) -> np.ndarray:
        """Which value of axis ``name`` the configurations ``index`` take (positions in its list)."""
        j = list(self.axes).index(name)
        return (np.asarray(index) // math.prod(self.shape[j + 1 :])) % self.shape[j]

    def column(self, name: str) -> np.ndarray:
        """One setting or outcome for every row, as an array (None where missing: an object array)."""
        if name in self.axes:
            values = np.array(self.axes[name], dtype=object)
            return values[self.codes(name, np.arange(self._n))]
        col = self.columns[name]
        if name in self.missing and self.missing[name].any():
            col = col.astype(object)
            col[self.missing[name]] = None
        return col

    def lists(self, names: list[str], index: np.ndarray) -> list[list[Any]]:
        """The rows ``index`` of the columns ``names`` (settings or outcomes), as Python values (None where missing)."""
        cols = []
        for name in names:
            if name in self.axes:
                values = self.axes[name]
                cols.append([values[c] for c in self.codes(name, index).tolist()])
                continue
            values = self.columns[name][index].tolist()
            if name in self.missing:
                gone = self.missing[name][index]
                if gone.any():
                    values = [None if g else v for v, g in zip(values, gone.tolist())]
            cols.append(values)
        return cols

    def chunks(self) -> Iterator[np.ndarray]:
        """Row indices, a bounded number at a time."""
        for start in range(0, self._n, _CHUNK):
            yield np.arange(start, min(start + _CHUNK, self._n))

    def _rows(self, index: np.ndarray) -> list[dict[str, Any]]:
        names = [*self.axes, *OUTCOMES]
        return [dict(zip(names, row)) for row in zip(*self.lists(names, index))]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._rows(np.arange(self._n)[i])
        i = int(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("sweep row index out of range")
        return self._rows(np.array([i]))[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index in self.chunks():
            yield from self._rows(index)

    def best(self, n: int) -> list[dict[str, Any]]:
        """The n rows with the lowest final loss, diverged ones last (ties in grid order)."""
        order = np.lexsort((self.columns["final_loss"], self.columns["diverged"]))[: max(n, 0)]
        return [self[int(i)] for i in order]
