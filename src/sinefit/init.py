"""Where a fit starts: the initial coefficients, from a named draw, given values or a saved model.

``parse`` turns the text of ``--init`` (or ``fit(init=...)``, or ``init`` in a config file)
into an :class:`Init`; ``start`` turns an ``Init`` into the initial parameters. Every kind is
its literal definition, so a tutorial's start is reproduced exactly:

* ``randn``: ``torch.manual_seed(seed)``, then one ``torch.randn(())`` per coefficient,
  highest power first (the seed's ``a, b, c, d`` of ``a x^3 + b x^2 + c x + d``);
* ``randn-ascending``: the same draws, lowest power first (the PyTorch tutorial's
  ``a, b, c, d`` of ``a + b x + c x^2 + d x^3``);
* ``numpy``: ``np.random.seed(seed)``, then one ``np.random.randn()`` per coefficient, lowest
  power first, as polynomial_numpy.py draws them;
* ``linear``: ``torch.manual_seed(seed)``, then ``torch.nn.Linear(degree, 1)``: its weights
  multiply x, x^2, ..., x^degree and its bias is the constant, as polynomial_nn.py;
* ``zeros``;
* explicit values ``0.5,-1,0,2``, in the naming order in force (``--order``);
* a saved ``model.json``, or a run directory holding one: a warm start from its coefficients.

The draws use private generators seeded the same way as the global ones, so they give the very
numbers of the tutorial's calls without disturbing the caller's random state. Parameters come
back as the rest of sinefit holds them: highest power first. Reading a model file is the I/O
layer's job (``io.warmstart``); this module only says that a path was given.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

KINDS = ("randn", "randn-ascending", "numpy", "linear", "zeros")
ORDERS = ("descending", "ascending")
NUMPY_SEEDS = 2**32  # np.random.seed takes 0 ... 2**32 - 1


class InitError(ValueError):
    """--init text that is none of the accepted forms; the message is for people."""


@dataclass(frozen=True)
class Init:
    """A parsed start: a named ``kind``, explicit ``values`` (naming order) or a ``path``."""

    kind: str  # one of KINDS, "values" or "path"
    values: tuple[float, ...] = ()
    path: str = ""

    def describe(self, order: str = "descending") -> str:
        """For the report and run files: which start was used."""
        if self.kind == "values":
            return "given values " + ", ".join(f"{v:g}" for v in self.values)
        if self.kind == "path":
            return f"warm start from {self.path}"
        return {
            "randn": "randn: torch.randn(()) per coefficient, highest power first",
            "randn-ascending": "randn-ascending: torch.randn(()) per coefficient, lowest power first",
            "numpy": "numpy: np.random.seed(seed), np.random.randn() per coefficient, lowest power first",
            "linear": "linear: torch.nn.Linear(degree, 1) under torch.manual_seed(seed)",
            "zeros": "zeros",
        }[self.kind]


def parse(spec: object) -> Init:
    """The one parser of every --init form (a later form, such as name=value, is added here).

    ``spec`` is a kind's name, numbers separated by commas (or a sequence of numbers), or a path.
    Anything that is not a kind and has no digit-only fields is taken as a path, checked when read.
    """
    if isinstance(spec, Init):
        return spec
    if isinstance(spec, (list, tuple, np.ndarray)):
        return _values(list(spec))
    if not isinstance(spec, str):
        raise InitError(f"expected a kind ({', '.join(KINDS)}), numbers a,b,c,... or a model file, got {spec!r}")
    text = spec.strip()
    if not text:
        raise InitError(f"is empty; expected a kind ({', '.join(KINDS)}), numbers a,b,c,... or a model file")
    if text in KINDS:
        return Init(text)
    fields = [f.strip() for f in text.split(",")]
    if len(fields) > 1 or _is_number(fields[0]):
        return _values(fields)
    return Init("path", path=text)


def text(init: Init) -> str:
    """The canonical --init text of a parsed start (what config files and run records hold)."""
    if init.kind == "values":
        return ",".join(repr(v) for v in init.values)
    return init.path if init.kind == "path" else init.kind


def check(init: Init, degree: int, seed: int) -> None:
    """What can be checked before any data or file is read."""
    p = degree + 1
    if init.kind == "values" and len(init.values) != p:
        raise InitError(f"a degree-{degree} polynomial needs {p} starting values, got {len(init.values)}")
    if init.kind == "numpy" and seed >= NUMPY_SEEDS:
        raise InitError(f"numpy's np.random.seed takes seeds below 2**32, got --seed {seed}")


def start(init: Init, seed: int, degree: int, dtype: torch.dtype, order: str = "descending") -> torch.Tensor:
    """The initial parameters (p,) in ``dtype``, highest power first. Not for ``path`` (see io.warmstart)."""
    p = degree + 1
    if init.kind == "randn":
        return randn(seed, p, dtype)
    if init.kind == "randn-ascending":
        return randn(seed, p, dtype).flip(0)
    if init.kind == "numpy":
        values = np.random.RandomState(seed).randn(p)  # the legacy stream np.random.seed(seed) sets up
        return torch.as_tensor(values[::-1].copy()).to(dtype)
    if init.kind == "linear":
        return linear(seed, degree).to(dtype)
    if init.kind == "zeros":
        return torch.zeros(p, dtype=dtype)
    if init.kind == "values":
        values = torch.tensor(init.values, dtype=torch.float64)
        return (values if order == "descending" else values.flip(0)).to(dtype)
    raise ValueError(f"start() cannot read {init.kind!r}; the I/O layer loads saved models")


def randn(seed: int, count: int, dtype: torch.dtype) -> torch.Tensor:
    """manual_seed(seed), then ``count`` draws of randn(()): the seed's a, b, c, d in draw order."""
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randn((), dtype=dtype, generator=gen) for _ in range(count)])


def linear(seed: int, degree: int) -> torch.Tensor:
    """torch.nn.Linear(degree, 1)'s start under manual_seed(seed), as (x^degree ... x, 1) coefficients.

    nn.Linear draws from the global generator, so it runs inside fork_rng: the caller's random
    state is restored afterwards. Its float32 weights are the tutorial's.
    """
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degree 0: "initializing zero-element tensors is a no-op"
        torch.manual_seed(seed)
        layer = torch.nn.Linear(degree, 1)
    weights = layer.weight.detach()[0]  # multiplies x, x^2, ..., x^degree
    return torch.cat([weights.flip(0), layer.bias.detach()])


def _values(fields: list) -> Init:
    values = []
    for i, f in enumerate(fields):
        try:
            v = float(f) if not isinstance(f, bool) else math.nan
        except (TypeError, ValueError):
            raise InitError(f"value {i + 1} {f!r} is not a number (give numbers a,b,c,... or a kind: "
                            f"{', '.join(KINDS)})") from None  # fmt: skip
        if not math.isfinite(v):
            raise InitError(f"value {i + 1} must be a finite number, got {f!r}")
        values.append(v)
    if not values:
        raise InitError("no values given")
    return Init("values", tuple(values))


def _is_number(f: str) -> bool:
    try:
        float(f)
    except ValueError:
        return False
    return True
