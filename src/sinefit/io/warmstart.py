"""A warm start: the coefficients of a saved model.json (or of a run directory's) to start a fit from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import ConfigError, FitConfig
from . import modelfile


def model_path(path: str | Path) -> Path:
    """The model.json that --init PATH names: the file itself, or a run directory's."""
    path = Path(path)
    if path.is_dir():
        return path / "model.json"
    return path


def read_start(path: str | Path, cfg: FitConfig) -> np.ndarray:
    """The saved model's coefficients (float64, highest power first), checked against the fit's model.

    A warm start continues the same model: same basis, same degree and, for the mapped bases
    (whose coefficients mean something only on their domain), the same domain.
    """
    file = model_path(path)
    if not file.exists():
        what = "a run directory without model.json" if Path(path).is_dir() else "no such file or run directory"
        raise ConfigError("--init", f"{path}: {what} (kinds: randn, randn-ascending, numpy, linear, zeros; "
                                    "or numbers a,b,c,...)")  # fmt: skip
    m = modelfile.load(file)
    if m.basis != cfg.basis or m.degree != cfg.degree:
        raise ConfigError(
            "--init", f"{file} holds a {m.basis} model of degree {m.degree}; this fit is {cfg.basis} of degree "
            f"{cfg.degree} (a warm start continues the same model: give --basis {m.basis} --degree {m.degree})",
        )  # fmt: skip
    if cfg.basis != "power" and cfg.domain is not None and not np.allclose(m.domain, cfg.domain, rtol=1e-12):
        raise ConfigError("--init", f"{file} is a {m.basis} model on {list(m.domain)}, but this fit's domain is "
                                    f"{list(cfg.domain)}")  # fmt: skip
    return np.asarray(m.coefficients, dtype=np.float64)
