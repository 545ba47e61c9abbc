"""sinefit: watch, understand and run gradient-descent curve fits.

    >>> from sinefit import fit
    >>> r = fit(seed=0)          # the seed experiment: a cubic fitted to sin(x)
    >>> r.final_loss, r.optimum_loss, r.formula()

Names are imported lazily so that ``import sinefit`` (and ``sinefit --help``)
does not pay for importing torch.
"""

from ._version import __version__

__all__ = ["__version__", "fit", "load", "save", "sweep", "FitConfig", "FitResult", "SweepResult", "Polynomial", "Coefficients",
           "ConfigError", "DivergenceWarning", "UnstableLRWarning", "Summary", "summarize", "merge"]  # fmt: skip


def __getattr__(name: str):
    if name in ("fit", "FitResult", "Polynomial", "DivergenceWarning", "UnstableLRWarning"):
        from . import api

        return getattr(api, name)
    if name in ("FitConfig", "ConfigError"):
        from . import config

        return getattr(config, name)
    if name in ("sweep", "SweepResult"):
        import importlib

        module = importlib.import_module(".sweep", __name__)  # callable: sinefit.sweep(...) runs sweep.sweep
        return module if name == "sweep" else module.SweepResult
    if name == "Coefficients":
        from .coefficients import Coefficients

        return Coefficients
    if name in ("Summary", "summarize", "merge"):
        from . import summary

        return getattr(summary, name)
    if name in ("load", "save"):
        from .io import modelfile

        return getattr(modelfile, name)
    raise AttributeError(f"module 'sinefit' has no attribute {name!r}")


def __dir__() -> list[str]:  # dir(sinefit) and tab completion show the lazy names too
    return sorted(set(globals()) | set(__all__))
