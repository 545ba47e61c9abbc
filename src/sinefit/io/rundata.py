"""A run directory read back for drawing: every number a figure or animation shows.

:func:`load` reads the files a fit leaves (see ``runs``) and nothing else, so
``sinefit plot RUN`` redraws without training. Each file is checked on the way
in; anything missing or malformed is an :class:`~sinefit.errors.InputError`
whose message names the file.

Files read:

    config.toml      the settings (``configfile.read``)
    history.csv      step,loss for every step 0 ... T (a non-finite loss at divergence); a long run's
                     is decimated (history.kept_steps: every step to 10^4, then fewer, the logged ones)
    trajectory.csv   step,<coefficient names>: the parameters at ~300 recorded steps
    points.csv       x,y: the data (at most 2000 points)
    surface.json     the loss surface: optimum, its loss, the Hessian's spectrum, lr ...
    model.json       the learned polynomial (optional only for a diverged run whose
                     coefficients were not finite, which the run writer does not save)
    summary.json     optional: its absence marks a run that never finished ("incomplete")
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import basis as basis_mod
from ..api import Polynomial
from ..errors import InputError
from . import configfile, modelfile
from .modelfile import check_degree, check_domain
from .regular import open_regular
from .safefile import read_bounded

MAX_JSON_BYTES = 256 << 20  # surface.json of a degree-1000 fit holds a 1001 x 1001 matrix (~25 MB)

REQUIRED_FILES = ("config.toml", "history.csv", "trajectory.csv", "points.csv", "surface.json")
SURFACE_KEYS = ("basis", "degree", "domain", "loss", "quadratic", "scale", "optimum", "optimum_loss",
                "eigenvalues", "eigenvectors", "optimizer", "lr", "momentum", "steps", "diverged_at",
                "target", "n")  # fmt: skip


class RunDataError(InputError):
    """A run directory whose files cannot be drawn from; the message names the file."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class RunData:
    """Everything drawn from one run directory. Arrays are read-only float64 (steps int64)."""

    path: Path
    config: dict[str, Any]  # config.toml's settings (lr may read "auto"; ``lr`` below is resolved)
    steps: np.ndarray  # (T,) 0 ... T-1 from history.csv, or the kept steps of a decimated history
    losses: np.ndarray  # (T,) the loss after each number of steps (non-finite at divergence)
    trajectory_steps: np.ndarray  # (k,) the recorded steps, increasing, first and last included
    thetas: np.ndarray  # (k, p) parameters in the fitted basis at those steps, highest degree first
    names: tuple[str, ...]  # coefficient names: a b c d, or P3 ... P0, T3 ... T0
    x: np.ndarray  # (n,) the data as points.csv holds it (file order, not sorted)
    y: np.ndarray
    basis: str
    degree: int
    domain: tuple[float, float]
    loss: str  # sse, mse or huber
    quadratic: bool  # False for Huber: the eigen-split of the gap is then approximate
    scale: float
    optimum: np.ndarray  # (p,) theta*, highest degree first, in the fitted basis
    optimum_loss: float | None  # None when the file held no finite value
    eigenvalues: np.ndarray  # (p,) the Hessian's, descending
    eigenvectors: np.ndarray  # (p, p) column i is eigenvector i
    optimizer: str
    lr: float | None  # the learning rate used (None for exact)
    momentum: float | None
    target: str  # "sin(x)", or the data file's path
    n: int  # the number of data points the fit saw (points.csv may hold fewer)
    model: Polynomial | None  # model.json; None only for a diverged run that did not save one
    diverged_at: int | None
    status: str  # from summary.json: completed, diverged, interrupted; without it, status.json's
    # interrupted or failed, else "incomplete"
    summary: dict[str, Any] | None = field(default=None, repr=False)

    # -- derived values -------------------------------------------------------------------

    @property
    def last_step(self) -> int:
        return int(self.steps[-1])

    @property
    def final_index(self) -> int:
        """Index into ``losses`` of the last finite loss (0 if none is finite)."""
        finite = np.flatnonzero(np.isfinite(self.losses))
        return int(finite[-1]) if finite.size else 0

    @property
    def final_loss(self) -> float:
        """The last finite loss: the fitted (or last pre-divergence) polynomial's."""
        return float(self.losses[self.final_index])

    @property
    def initial(self) -> Polynomial:
        """The random initial polynomial (trajectory.csv's step-0 row)."""
        return self.polynomial(self.thetas[0])

    @property
    def fitted(self) -> Polynomial:
        """The learned polynomial: model.json, else the last finite trajectory row."""
        if self.model is not None:
            return self.model
        finite = np.flatnonzero(np.all(np.isfinite(self.thetas), axis=1))
        return self.polynomial(self.thetas[finite[-1] if finite.size else 0])

    @property
    def optimum_polynomial(self) -> Polynomial:
        return self.polynomial(self.optimum)

    def polynomial(self, coefficients: np.ndarray) -> Polynomial:
        return Polynomial(np.asarray(coefficients, dtype=np.float64), self.domain, self.basis,
                          self.config.get("order", "descending"))  # fmt: skip

    def evaluate(self, coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
        """A coefficient vector (or (k, p) stack of them) of this run's basis at x."""
        c = np.asarray(coefficients, dtype=np.float64)
        if c.ndim == 1:
            return basis_mod.evaluate_numpy(self.basis, c, x, self.domain)
        return np.stack([basis_mod.evaluate_numpy(self.basis, row, x, self.domain) for row in c])

    @property
    def what(self) -> str:
        """'cubic' or 'degree-5 polynomial', as the seed's titles say it."""
        return "cubic" if self.degree == 3 else f"degree-{self.degree} polynomial"

    @property
    def gd_like(self) -> bool:
        """Plain gradient descent with a known lr: the closed-form path applies."""
        return self.optimizer == "gd" and self.lr is not None

    def eigen_errors(self) -> np.ndarray:
        """(k, p) e_t = V^T (theta_t - theta*) at each recorded step: the error along each eigenvector."""
        return (self.thetas - self.optimum) @ self.eigenvectors

    def gap_components(self) -> np.ndarray:
        """(k, p) the loss gap split along the eigenvectors: (lambda_i / 2) e_i^2.

        For sse and mse these sum to L(theta_t) - L* exactly; for Huber only approximately.
        """
        e = self.eigen_errors()
        return 0.5 * self.eigenvalues * e**2


# -- loading ------------------------------------------------------------------------------


def load(run_dir: str | Path) -> RunData:
    """Read a run directory; RunDataError (an InputError) names any missing or malformed file."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDataError(f"{run_dir}: no such run directory")
    if (run_dir / "config.toml").is_file() and configfile.read(run_dir / "config.toml").get("model"):
        raise RunDataError(
            f"{run_dir}: a --model fit: its figures, animation and report.txt are written as it runs (--figures all, "
            "--animate); plot, animate and report redraw polynomial runs"
        )
    for name in REQUIRED_FILES:
        if not (run_dir / name).is_file():
            what = _what_is(run_dir / name)
            raise RunDataError(f"{run_dir / name}: {what}; a complete sinefit run directory has it"
                               + ("" if what == "missing" else " as a regular file"))

    config = configfile.read(run_dir / "config.toml")
    surface = _read_surface(run_dir / "surface.json")
    p = surface["degree"] + 1
    names = basis_mod.names(surface["basis"], surface["degree"], config.get("order", "descending"))

    steps, losses = _read_history(run_dir / "history.csv")
    trajectory_steps, thetas = _read_trajectory(run_dir / "trajectory.csv", names)
    if trajectory_steps[-1] > steps[-1]:
        raise RunDataError(
            f"{run_dir / 'trajectory.csv'}: records step {int(trajectory_steps[-1])}, "
            f"beyond history.csv's last step {int(steps[-1])}"
        )
    x, y = _read_points(run_dir / "points.csv")

    diverged_at = surface["diverged_at"]
    if diverged_at is None:
        bad = np.flatnonzero(~np.isfinite(losses))
        diverged_at = int(steps[bad[0]]) if bad.size else None

    model_path = run_dir / "model.json"
    model: Polynomial | None = None
    if model_path.is_file():
        model = modelfile.load(model_path)
        if model.basis != surface["basis"] or len(model.coefficients) != p:
            raise RunDataError(
                f"{model_path}: a {model.basis} model of degree {model.degree} does not match "
                f"surface.json's {surface['basis']} degree {surface['degree']}"
            )
    elif diverged_at is None:
        raise RunDataError(f"{model_path}: missing; a complete sinefit run directory has it")

    summary = None
    status = "incomplete"
    summary_path = run_dir / "summary.json"
    if summary_path.is_file():
        summary = _read_json(summary_path)
        if not isinstance(summary, dict) or not isinstance(summary.get("status"), str):
            raise RunDataError(f'{summary_path}: not a sinefit summary (no "status")')
        status = summary["status"]
    elif (run_dir / "status.json").is_file():  # ended before its summary: interrupted, or failed
        try:
            ended = json.loads((run_dir / "status.json").read_text(encoding="utf-8")).get("status")
        except (OSError, ValueError, AttributeError):
            ended = None
        if ended in ("interrupted", "failed"):
            status = ended

    return RunData(
        path=run_dir,
        config=config,
        steps=_frozen(steps),
        losses=_frozen(losses),
        trajectory_steps=_frozen(trajectory_steps),
        thetas=_frozen(thetas),
        names=tuple(names),
        x=_frozen(x),
        y=_frozen(y),
        basis=surface["basis"],
        degree=surface["degree"],
        domain=surface["domain"],
        loss=surface["loss"],
        quadratic=surface["quadratic"],
        scale=surface["scale"],
        optimum=_frozen(surface["optimum"]),
        optimum_loss=surface["optimum_loss"],
        eigenvalues=_frozen(surface["eigenvalues"]),
        eigenvectors=_frozen(surface["eigenvectors"]),
        optimizer=surface["optimizer"],
        lr=surface["lr"],
        momentum=surface["momentum"],
        target=surface["target"],
        n=surface["n"],
        model=model,
        diverged_at=diverged_at,
        status=status,
        summary=summary,
    )


def _read_json(path: Path) -> Any:
    raw = read_bounded(path, MAX_JSON_BYTES, "a run file", RunDataError)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RunDataError(f"{path}: not valid JSON: {e}") from None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _read_surface(path: Path) -> dict[str, Any]:
    doc = _read_json(path)

    def bad(what: str) -> RunDataError:
        return RunDataError(f"{path}: {what}")

    if not isinstance(doc, dict):
        raise bad("expected a JSON object")
    missing = [k for k in SURFACE_KEYS if k not in doc]
    if missing:
        raise bad(f"missing key {missing[0]!r}")
    out = dict(doc)
    if doc["basis"] not in basis_mod.BASES:
        raise bad(f"unknown basis {doc['basis']!r}")
    degree = check_degree(doc["degree"], bad)
    p = degree + 1
    out["domain"] = check_domain(doc["domain"], bad)
    for key in ("loss", "optimizer", "target"):
        if not isinstance(doc[key], str):
            raise bad(f"{key} must be a string, got {doc[key]!r}")
    if not isinstance(doc["quadratic"], bool):
        raise bad(f"quadratic must be true or false, got {doc['quadratic']!r}")
    if not _number(doc["scale"]) or not doc["scale"] > 0:
        raise bad(f"scale must be a positive number, got {doc['scale']!r}")
    out["scale"] = float(doc["scale"])
    for key in ("n", "steps"):
        if isinstance(doc[key], bool) or not isinstance(doc[key], int) or doc[key] < 0:
            raise bad(f"{key} must be a whole number, got {doc[key]!r}")
    for key in ("optimum_loss", "lr", "momentum"):
        v = doc[key]
        if v is not None and not _number(v):
            raise bad(f"{key} must be a number or null, got {v!r}")
        out[key] = None if v is None or not math.isfinite(v) else float(v)
    d = doc["diverged_at"]
    if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 0):
        raise bad(f"diverged_at must be a step number or null, got {d!r}")

    def vector(key: str) -> np.ndarray:
        v = doc[key]
        if not isinstance(v, list) or len(v) != p or not all(_number(a) for a in v):
            raise bad(f"{key} must be a list of {p} numbers (degree {degree})")
        return np.array(v, dtype=np.float64)

    out["optimum"] = vector("optimum")
    out["eigenvalues"] = vector("eigenvalues")
    rows = doc["eigenvectors"]
    # a set of the entries' types, not a call per entry: at degree 1000 there are a million of them
    if (
        not isinstance(rows, list)
        or len(rows) != p
        or not all(isinstance(r, list) and len(r) == p for r in rows)
        or not {type(a) for r in rows for a in r} <= {int, float}  # bool is its own type: refused
    ):
        raise bad(f"eigenvectors must be a {p} x {p} list of rows of numbers")
    out["eigenvectors"] = np.array(rows, dtype=np.float64)
    if not (np.all(np.isfinite(out["optimum"])) and np.all(np.isfinite(out["eigenvalues"]))
            and np.all(np.isfinite(out["eigenvectors"]))):  # fmt: skip
        raise bad("optimum, eigenvalues and eigenvectors must be finite")
    return out


def _read_csv(path: Path, header: list[str]) -> np.ndarray:
    """A numeric CSV with exactly this header, as a (rows, columns) float64 array."""
    try:
        with open_regular(path, "r", encoding="utf-8", newline="") as f:
            first = f.readline()
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise RunDataError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    got = first.strip().split(",")
    if got != header:
        raise RunDataError(f"{path}: expected the header {','.join(header)}, got {first.strip()[:200]!r}")
    width = len(header)
    try:  # the fast path: numpy's C parser; the loop below only runs to say which line is bad
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "empty input" is reported below as "no rows"
            out = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
        if out.shape[1] == width or out.size == 0:
            if not len(out):
                raise RunDataError(f"{path}: no rows")
            return out
    except ValueError:
        pass
    lines = text.splitlines()
    out = np.empty((len(lines), width), dtype=np.float64)
    for i, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) != width:
            raise RunDataError(f"{path}, line {i + 2}: expected {width} values, got {len(cells)}")
        try:
            out[i] = [float(c) for c in cells]
        except ValueError:
            raise RunDataError(f"{path}, line {i + 2}: not a number in {line[:200]!r}") from None
    if not len(out):
        raise RunDataError(f"{path}: no rows")
    return out


def _step_column(path: Path, column: np.ndarray) -> np.ndarray:
    if not (np.all(np.isfinite(column)) and np.all(column == np.round(column)) and np.all(column >= 0)):
        raise RunDataError(f"{path}: steps must be whole numbers")
    return column.astype(np.int64)


def _what_is(path: Path) -> str:
    """'missing', or what the path is instead of a regular file (a directory, a FIFO, a device, ...)."""
    import stat as stat_

    try:
        mode = path.stat().st_mode
    except OSError:
        return "missing"
    for test, kind in ((stat_.S_ISDIR, "a directory"), (stat_.S_ISFIFO, "a FIFO"), (stat_.S_ISCHR, "a character device"),
                       (stat_.S_ISBLK, "a block device"), (stat_.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return f"{kind}, not a regular file"
    return "not a regular file"


def _read_history(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = _read_csv(path, ["step", "loss"])
    steps = _step_column(path, table[:, 0])
    if len(steps) and steps[0] != 0 or np.any(np.diff(steps) <= 0):  # a long run's history is decimated
        raise RunDataError(f"{path}: steps must start at 0 and increase (0, 1, 2, ... or a decimated subset)")
    return steps, np.ascontiguousarray(table[:, 1])


def read_batches(path: Path, updates: int) -> tuple[np.ndarray | None, np.ndarray]:
    """batches.csv's (steps, batch losses) of a mini-batch run: steps None when every update is there
    (0, 1, 2, ...), else the increasing updates a long run kept; NaN for each update when the file is absent."""
    if not path.exists():  # a run saved before batches.csv was written
        return None, np.full(updates, np.nan)
    table = _read_csv(path, ["step", "batch_loss"])
    steps = _step_column(path, table[:, 0])
    if np.array_equal(steps, np.arange(len(steps))):
        return None, np.ascontiguousarray(table[:, 1])
    if steps.size == 0 or steps[0] != 0 or np.any(np.diff(steps) <= 0) or steps[-1] >= max(updates, 1):
        raise RunDataError(f"{path}: steps must increase from 0, one row per update kept, below {updates}")
    return steps, np.ascontiguousarray(table[:, 1])


def _read_trajectory(path: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    table = _read_csv(path, ["step", *names])
    steps = _step_column(path, table[:, 0])
    if np.any(np.diff(steps) <= 0):
        raise RunDataError(f"{path}: steps must increase")
    return steps, np.ascontiguousarray(table[:, 1:])


def _read_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = _read_csv(path, ["x", "y"])
    if not np.all(np.isfinite(table)):
        raise RunDataError(f"{path}: x and y must be finite")
    return np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1])
