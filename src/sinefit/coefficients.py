"""Coefficients: one type for a polynomial's coefficients everywhere (fit, initial, optimum, saved model).

A read-only float64 array, highest power first (the order every computation in sinefit uses,
numpy.polyval's), that also reads by name, as pandas' Series does::

    >>> c = fit().coefficients
    >>> c["a"], c.names, dict(c.items())        # by name
    >>> np.asarray(c), c - fit().optimum.coefficients   # as an array

The mapping view (``keys``, ``values``, ``items``, ``as_dict``, the repr) runs in the naming
order in force: ``a, b, c, d`` either way, which is the highest power first for the seed's
order and the constant first for the tutorial's (``--order ascending``). Arithmetic gives plain
arrays: a difference of coefficients has no names of its own.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np


class Coefficients(np.ndarray):
    names: tuple[str, ...]
    ascending: bool

    def __new__(cls, values: Any, names: Sequence[str], ascending: bool = False) -> "Coefficients":
        data = np.array(values, dtype=np.float64).reshape(-1)
        if len(names) != data.size:
            raise ValueError(f"{data.size} coefficients but {len(names)} names")
        obj = data.view(cls)
        obj.names = tuple(names)
        obj.ascending = bool(ascending)
        obj.flags.writeable = False
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.names = getattr(obj, "names", ())
        self.ascending = getattr(obj, "ascending", False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = tuple(np.asarray(v) if isinstance(v, Coefficients) else v for v in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(v) if isinstance(v, Coefficients) else v for v in kwargs["out"])
        return getattr(ufunc, method)(*plain, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return float(np.asarray(self)[self.names.index(key)])
            except ValueError:
                raise KeyError(f"{key!r}: no such coefficient (names: {', '.join(self.names)})") from None
        return np.asarray(self)[key]

    def __reduce__(self):
        return (Coefficients, (np.asarray(self).copy(), self.names, self.ascending))

    def _order(self) -> list[int]:
        indices = list(range(len(self.names)))
        return indices[::-1] if self.ascending else indices

    def keys(self) -> list[str]:
        return [self.names[i] for i in self._order()]

    def values(self) -> list[float]:
        data = np.asarray(self)
        return [float(data[i]) for i in self._order()]

    def items(self) -> list[tuple[str, float]]:
        return list(zip(self.keys(), self.values()))

    def as_dict(self) -> dict[str, float]:
        return dict(self.items())

    def __eq__(self, other: Any) -> Any:  # against a dict: as the mapping it also is
        if isinstance(other, Mapping):
            return self.as_dict() == dict(other)
        return super().__eq__(other)

    def __ne__(self, other: Any) -> Any:
        if isinstance(other, Mapping):
            return self.as_dict() != dict(other)
        return super().__ne__(other)

    __hash__ = None  # an array: unhashable

    def __contains__(self, key: Any) -> bool:
        return key in self.names if isinstance(key, str) else super().__contains__(key)

    def __iter__(self) -> Iterator[float]:
        return iter(float(v) for v in np.asarray(self))

    def __repr__(self) -> str:
        return "Coefficients(" + ", ".join(f"{n}={v:.6g}" for n, v in self.items()) + ")"

    __str__ = __repr__

    def _repr_pretty_(self, p, cycle) -> None:  # IPython
        p.text(repr(self))
