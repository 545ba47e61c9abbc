"""The options of `fit` and `sweep`: each declared once, as a spec, from which a command's typer
signature is made; and how their text becomes settings.

A command names its options in the order its --help lists them: a name of the shared table
(``SHARED``, the options `fit` and `sweep` both take with the same meaning) or a spec of its own.
The FitConfig settings (``setting``) reach the command gathered in one dict, ``typed`` (None: not
typed), ready for ``settings()``; a spec of another group likewise (sweep's ``axes``); the others
(``option``) as keyword arguments of their own names.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, NamedTuple, Optional

import typer


def Opt(*args: Any, help: Optional[str] = None, **kwargs: Any) -> Any:  # noqa: A002 - typer's own name
    """typer.Option, with a "[default: X]" note of the help escaped: rich reads a bracketed note as
    markup and drops it (options default to None so that a --config file's values count, so typer
    has no default of its own to show)."""
    if help and "[default:" in help:
        help = help.replace("[default:", "\\[default:")
    return typer.Option(*args, help=help, **kwargs)


class Spec(NamedTuple):
    """One option of a command: its parameter name, annotation (type and typer.Option), default,
    and the group the command gets it in (None: by its own name)."""

    name: str
    annotation: Any
    default: Any = None
    group: Optional[str] = None


def setting(name: str, kind: Any, help: str, *decls: str, **kwargs: Any) -> Spec:  # noqa: A002
    """A FitConfig setting: default None, so that a --config file's value counts when it is not typed."""
    return Spec(name, Annotated[Optional[kind], Opt(*decls, help=help, **kwargs)], None, "typed")


def option(name: str, kind: Any, default: Any, help: str, *decls: str, **kwargs: Any) -> Spec:  # noqa: A002
    """An option of the command itself (where to write, what to print), passed by its name."""
    return Spec(name, Annotated[kind, Opt(*decls, help=help, **kwargs)], default)


JsonOpt = Annotated[bool, Opt("--json", help="Print a machine-readable summary instead of the report.")]
ForceOpt = Annotated[bool, Opt("--force", help="Replace the output file if it exists (never an input, never a device).")]

# The options `fit` and `sweep` share, word for word: declared once, so their help and parsing never drift apart.
SHARED: dict[str, Spec] = {s.name: s for s in (
    option("config", Optional[Path], None, "TOML (or JSON) file of settings; options given here override it."),
    setting("target", str, "Function of x to fit: a name (sin, cos, exp, tanh, abs, sinc, gaussian, step) or an expression like 'sin(x) + 0.1*x**2'. [default: sin]"),
    setting("data", str, "Fit the points in a file instead: .csv (x,y), .npy (n,2), .npz (x, y) or .parquet; or a data set of them: a directory, a glob ('parts/*.parquet') or a URI (s3://bucket/prefix/*.parquet); streamed, so any size."),
    setting("columns", str, "Columns of --data to use as x,y: names or 0-based indexes, e.g. 'time,volts' or '0,2'."),
    setting("domain", str, "Interval a,b of the generated x (pi allowed: -pi,pi); with --data, the basis's domain. [default: -pi,pi]"),
    setting("samples", int, "Number of evenly spaced points. [default: 1000]"),
    setting("noise", float, "Add seeded Gaussian noise of this standard deviation to y. [default: 0]"),
    setting("loss", str, "sse (the seed's), mse or huber. [default: sse]"),
    setting("huber_delta", float, "Where the Huber loss turns from quadratic to linear. [default: 1]"),
    setting("grad", str, "manual (the gradient written by hand, the seed's) or autograd. [default: manual]"),
    setting("steps", int, "Number of optimizer steps: a cap, since fits stop once at the optimum (see --tol). [default: 2000]"),
    setting("engine", str, "per-sample (the seed's way: every step touches every point), stats (sufficient statistics: one pass, then O(p^2) steps; gd in closed form) or auto (stats for sse/mse in float64). [default: auto]"),
    setting("device", str, "cpu, cuda or auto (cuda where a GPU exists). [default: cpu]"),
    setting("order", str, "Naming order: descending (a x^3 + b x^2 + c x + d, the seed's) or ascending (a + b x + c x^2 + d x^3, the PyTorch tutorial's, summed in that order). [default: descending]"),
    option("out", Path, Path("runs"), "Directory under which each run gets a new numbered directory."),
    option("mlflow", Optional[str], None, "Also log to MLflow (pip install 'sinefit\\[mlflow]'): alone, to the local store ./mlflow.db that `mlflow ui` opens; with a URI, to that tracking server or store.", "--mlflow", metavar="[URI]"),
    option("mlflow_experiment", str, "sinefit", "The MLflow experiment to log into.", "--mlflow-experiment"),
    option("quiet", bool, False, "Print nothing but errors and warnings.", "--quiet", "-q"),
    Spec("as_json", JsonOpt, False),
)}  # fmt: skip


def command(*specs: str | Spec) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The typer command of these options (names of ``SHARED`` or specs), in this order, over ``body``:
    ``body(**groups, **others)``, each group a dict of its options' values by name."""
    table = [SHARED[s] if isinstance(s, str) else s for s in specs]

    def make(body: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(body)
        def command_(**values: Any) -> Any:
            groups: dict[str, dict[str, Any]] = {s.group: {} for s in table if s.group}
            for s in table:
                if s.group:
                    groups[s.group][s.name] = values.pop(s.name)
            return body(**groups, **values)

        params = [inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.default, annotation=s.annotation)
                  for s in table]  # fmt: skip
        command_.__signature__ = inspect.Signature(params)  # what typer reads, in place of body's
        command_.__annotations__ = {s.name: s.annotation for s in table}
        return command_

    return make


def _parse_float(option: str, text: str) -> float:
    from ..config import ConfigError

    try:
        return float(text)
    except ValueError:
        raise ConfigError(option, f"must be a number, got {text!r}") from None


def _parse_lr(text: str) -> float | str:
    return "auto" if text.strip().lower() == "auto" else _parse_float("--lr", text)


def _parse_domain(text: str) -> tuple[float, float]:
    from .. import expr
    from ..config import ConfigError

    parts = text.split(",")
    if len(parts) != 2:
        raise ConfigError("--domain", f"must be two numbers a,b (pi allowed, e.g. -pi,pi), got {text!r}")
    return expr.constant(parts[0], option="--domain"), expr.constant(parts[1], option="--domain")


def validated(config: Optional[Path], typed: dict[str, Any], settings_: dict[str, Any]):
    """FitConfig.from_dict(settings_), its error naming the config file and key where the bad value
    came from the file ("c.toml: degree: must be a whole number"), not an option nobody typed."""
    from ..config import ConfigError, FitConfig

    try:
        return FitConfig.from_dict(settings_)
    except ConfigError as e:
        key = e.option.lstrip("-").replace("-", "_")
        if config is None or typed.get(key) is not None:
            raise
        from ..io import configfile

        if key not in configfile.read(config):
            raise
        raise ConfigError(str(config), f"{key}: {e.message}") from None


def settings(config: Optional[Path], typed: dict[str, Any]) -> dict[str, Any]:
    """The settings of a config file, overridden by the options typed on the command line."""
    from ..io import configfile

    merged: dict[str, Any] = configfile.read(config) if config is not None else {}
    given = dict(typed)
    if given.get("lr") is not None and isinstance(given["lr"], str):
        given["lr"] = _parse_lr(given["lr"])
    if given.get("domain") is not None:
        given["domain"] = _parse_domain(given["domain"])
    merged.update({k: v for k, v in given.items() if v is not None})
    return merged
