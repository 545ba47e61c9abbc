"""model.json: a learned polynomial on disk. Data only, validated on the way in."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InputError
from .safefile import read_bounded
from ..api import FitResult, Polynomial
from ..basis import BASES, names
from ..model import powers

FORMAT = "sinefit.model"
FORMAT_VERSION = 1
MAX_BYTES = 1 << 20  # a degree-1000 model is ~60 kB; anything near this is not ours
KEYS = {"format", "format_version", "sinefit_version", "basis", "degree", "domain", "window",
        "coefficients", "power_coefficients", "loss_function", "final_loss", "status", "stderr",
        "power_stderr", "order"}  # fmt: skip


class ModelFileError(InputError):
    """A model file that sinefit will not load; the message names the file."""


def writable(result: FitResult) -> bool:
    """A model is never written with non-finite coefficients (a diverged fit may have them).

    Its power-series form may overflow float64 (a degree-1000 Chebyshev series has power
    coefficients near 2^999 times its own): that is written as null, the model itself is sound.
    """
    return bool(np.all(np.isfinite(result.model.coefficients)))


def document(result: FitResult) -> dict[str, Any]:
    """The model.json content for a fit. Floats keep full precision (JSON uses repr)."""
    m = result.model
    if not writable(result):
        raise ValueError("refusing to write a model with non-finite coefficients")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sinefit_version": __version__,
        "basis": m.basis,
        "degree": m.degree,
        "domain": list(m.domain),
        "window": [-1.0, 1.0] if m.basis != "power" else None,
        "coefficients": [
            {"name": n, "degree": k, "value": float(c)} for n, k, c in zip(m.names, m.powers, m.coefficients)
        ],
        "power_coefficients": _power_or_none(m),
        # Standard errors (the optimum's neighbourhood; None where undetermined), in the fitted basis and
        # carried through the conversion to the power form.
        "stderr": [_finite(v) for v in result.statistics.stderr],
        "power_stderr": [_finite(v) for v in _power_stderr(result)],
        "loss_function": result.config.loss,
        "final_loss": result.final_loss if math.isfinite(result.final_loss) else None,
        "status": result.status,
        **({"order": "ascending"} if m.order == "ascending" else {}),  # names run from the constant up
    }


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _power_stderr(result: FitResult) -> np.ndarray:
    from ..report import power_stderr

    return power_stderr(result)


def _power_or_none(m: Any) -> list[float] | None:
    with np.errstate(all="ignore"):
        power = np.asarray(m.power_coefficients, dtype=np.float64)
    return [float(c) for c in power] if np.all(np.isfinite(power)) else None


STATUSES = ("completed", "diverged", "interrupted")


def save(result: FitResult, path: str | Path, *, force: bool = False) -> Path:
    """Write the fit's model.json at ``path`` (``sinefit.save``), the file ``load`` and ``sinefit
    predict`` read. As the CLI's writers: an existing file is replaced only with ``force``, never a
    device, a FIFO or a directory, and a name that does not end in .json is refused."""
    from .safefile import check_target, write_json

    target = check_target(Path(path), (".json",), "a sinefit model (JSON)", force=force, option="path")
    if not writable(result):
        raise ModelFileError(f"{path}: the fit has non-finite coefficients (it diverged): no model to save")
    return write_json(target, document(result))


def model_path(path: str | Path) -> Path:
    """The model.json a path names: the file itself, or a run directory's (as predict and --init take it)."""
    path = Path(path)
    return path / "model.json" if path.is_dir() and (path / "model.json").is_file() else path


def load(path: str | Path) -> Polynomial:
    """Read a model.json written by sinefit (or a run directory's), refuse anything else with ModelFileError."""
    path = model_path(path)
    raw = read_bounded(path, MAX_BYTES, "a model file", ModelFileError)
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        raise ModelFileError(f"{path}: not a sinefit model (not valid JSON: {e})") from None
    return from_document(doc, str(path))


def from_document(doc: Any, where: str) -> Polynomial:
    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{where}: {what}")

    if isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("kind") == "expression":
        from .expression_model import from_document as expression_model  # a --model fit's model.json

        return expression_model(doc, bad)

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"not a sinefit model (expected \"format\": \"{FORMAT}\")")
    check_header(doc, KEYS, bad)
    kind = doc.get("basis")
    if kind not in BASES:
        raise bad(f"unknown basis {kind!r} (expected one of {', '.join(BASES)})")
    degree = check_degree(doc.get("degree"), bad)
    domain = check_domain(doc.get("domain"), bad)
    coefficients = doc.get("coefficients")
    if not isinstance(coefficients, list) or len(coefficients) != degree + 1:
        raise bad(f"a degree-{degree} model needs {degree + 1} coefficients")
    order = doc.get("order", "descending")
    if order not in ("descending", "ascending"):
        raise bad(f"order must be descending or ascending, got {order!r}")
    values = []
    for i, (entry, name, k) in enumerate(zip(coefficients, names(kind, degree, order), powers(degree))):
        if not isinstance(entry, dict) or set(entry) != {"name", "degree", "value"}:
            raise bad(f"coefficient {i} must be an object with name, degree and value")
        if entry["name"] != name or entry["degree"] != k:
            raise bad(f"coefficient {i} must be {name!r} of degree {k}, got {entry['name']!r}, {entry['degree']!r}")
        value = entry["value"]
        if not _is_number(value) or not math.isfinite(value):
            raise bad(f"coefficient {name!r} must be a finite number, got {value!r}")
        values.append(float(value))
    power = doc.get("power_coefficients")
    if power is not None and (
        not isinstance(power, list) or len(power) != degree + 1 or not all(_is_number(v) and math.isfinite(v) for v in power)
    ):
        raise bad(f"power_coefficients must be null or a list of {degree + 1} finite numbers")
    if "status" in doc and doc["status"] not in STATUSES:
        raise bad(f"status must be one of {', '.join(STATUSES)}, got {doc['status']!r}")
    loss = doc.get("final_loss")
    if loss is not None and (not _is_number(loss) or not math.isfinite(loss)):
        raise bad(f"final_loss must be a finite number or null, got {loss!r}")
    if "loss_function" in doc and not isinstance(doc["loss_function"], str):
        raise bad(f"loss_function must be a string, got {doc['loss_function']!r}")
    for key in ("sinefit_version",):
        if key in doc and not isinstance(doc[key], str):
            raise bad(f"{key} must be a string, got {doc[key]!r}")
    window = doc.get("window")
    if window is not None and window != [-1.0, 1.0] and window != [-1, 1]:
        raise bad(f"window must be [-1, 1] or null, got {window!r}")
    return Polynomial(np.array(values, dtype=np.float64), domain, kind, order)


def check_degree(degree: Any, bad) -> int:
    """A degree read from a file: a whole number from 0 to 10000, else ``bad(message)`` is raised."""
    if isinstance(degree, bool) or not isinstance(degree, int) or not 0 <= degree <= 10_000:
        raise bad(f"degree must be a whole number from 0 to 10000, got {degree!r}")
    return degree


def check_header(doc: dict, keys, bad) -> None:
    """The checks every kind of model.json shares: this format version, and no key outside `keys`."""
    version = doc.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise bad(f"unknown format_version {version!r} (this sinefit reads {FORMAT_VERSION})")
    extra = sorted(set(doc) - set(keys))
    if extra:
        raise bad(f"unknown key {extra[0]!r}")


def check_domain(domain: Any, bad) -> tuple[float, float]:
    """A domain read from a file: two finite numbers [a, b] with a < b, else ``bad(message)`` is raised."""
    if (
        not isinstance(domain, list)
        or len(domain) != 2
        or not all(_is_number(v) and math.isfinite(v) for v in domain)
        or not domain[0] < domain[1]
    ):
        raise bad(f"domain must be two finite numbers [a, b] with a < b, got {domain!r}")
    return float(domain[0]), float(domain[1])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number sinefit accepts")
