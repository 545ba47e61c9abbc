"""sinefit: watch, understand and run gradient-descent curve fits.

    >>> from sinefit import fit
    >>> r = fit(seed=0)          # the seed experiment: a cubic fitted to sin(x)
    >>> r.final_loss, r.optimum_loss, r.formula()

Names are imported lazily so that ``import sinefit`` (and ``sinefit --help``)
does not pay for importing torch.
"""

from ._version import __version__

__all__ = ["__version__", "fit", "load", "FitConfig", "FitResult", "Polynomial", "ConfigError", "Summary", "summarize",
           "merge"]


def __getattr__(name: str):
    if name in ("fit", "FitResult", "Polynomial", "DivergenceWarning", "UnstableLRWarning"):
        from . import api

        return getattr(api, name)
    if name in ("FitConfig", "ConfigError"):
        from . import config

        return getattr(config, name)
    if name in ("Summary", "summarize", "merge"):
        from . import summary

        return getattr(summary, name)
    if name == "load":
        from .io.modelfile import load

        return load
    raise AttributeError(f"module 'sinefit' has no attribute {name!r}")
