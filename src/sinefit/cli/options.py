"""The options of `fit` and `sweep`, and how their text becomes settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer


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


def Opt(*args: Any, help: Optional[str] = None, **kwargs: Any) -> Any:  # noqa: A002 - typer's own name
    """typer.Option, with a "[default: X]" note of the help escaped: rich reads a bracketed note as
    markup and drops it (options default to None so that a --config file's values count, so typer
    has no default of its own to show)."""
    if help and "[default:" in help:
        help = help.replace("[default:", "\\[default:")
    return typer.Option(*args, help=help, **kwargs)

# Options shared by `fit` and `sweep`: defined once, so their help and parsing never drift apart.
ConfigOpt = Annotated[Optional[Path], Opt(help="TOML (or JSON) file of settings; options given here override it.")]
TargetOpt = Annotated[Optional[str], Opt(help="Function of x to fit: a name (sin, cos, exp, tanh, abs, sinc, gaussian, step) or an expression like 'sin(x) + 0.1*x**2'. [default: sin]")]
DataOpt = Annotated[Optional[str], Opt(help="Fit the points in a file instead: .csv (x,y), .npy (n,2), .npz (x, y) or .parquet; or a data set of them: a directory, a glob ('parts/*.parquet') or a URI (s3://bucket/prefix/*.parquet); streamed, so any size.")]
ColumnsOpt = Annotated[Optional[str], Opt(help="Columns of --data to use as x,y: names or 0-based indexes, e.g. 'time,volts' or '0,2'.")]
DomainOpt = Annotated[Optional[str], Opt(help="Interval a,b of the generated x (pi allowed: -pi,pi); with --data, the basis's domain. [default: -pi,pi]")]
SamplesOpt = Annotated[Optional[int], Opt(help="Number of evenly spaced points. [default: 1000]")]
NoiseOpt = Annotated[Optional[float], Opt(help="Add seeded Gaussian noise of this standard deviation to y. [default: 0]")]
LossOpt = Annotated[Optional[str], Opt(help="sse (the seed's), mse or huber. [default: sse]")]
HuberOpt = Annotated[Optional[float], Opt(help="Where the Huber loss turns from quadratic to linear. [default: 1]")]
GradOpt = Annotated[Optional[str], Opt(help="manual (the gradient written by hand, the seed's) or autograd. [default: manual]")]
StepsOpt = Annotated[Optional[int], Opt(help="Number of optimizer steps: a cap, since fits stop once at the optimum (see --tol). [default: 2000]")]
TolOpt = Annotated[Optional[float], Opt(help="Stop early once loss - optimum <= TOL x optimum; 0 never stops early. [default: at the optimum to round-off]")]
DtypeOpt = Annotated[Optional[str], Opt(help="Working precision: float32 (the seed's) or float64. [default: float32]")]
EngineOpt = Annotated[Optional[str], Opt(help="per-sample (the seed's way: every step touches every point), stats (sufficient statistics: one pass, then O(p^2) steps; gd in closed form) or auto (stats for sse/mse in float64). [default: auto]")]
DeviceOpt = Annotated[Optional[str], Opt(help="cpu, cuda or auto (cuda where a GPU exists). [default: cpu]")]
OutOpt = Annotated[Path, Opt(help="Directory under which each run gets a new numbered directory.")]
QuietOpt = Annotated[bool, Opt("--quiet", "-q", help="Print nothing but errors and warnings.")]
MlflowOpt = Annotated[Optional[str], Opt("--mlflow", metavar="[URI]", help="Also log to MLflow (pip install 'sinefit\\[mlflow]'): alone, to the local store ./mlflow.db that `mlflow ui` opens; with a URI, to that tracking server or store.")]
ExperimentOpt = Annotated[str, Opt("--mlflow-experiment", help="The MLflow experiment to log into.")]
InitOpt = Annotated[Optional[str], Opt(help="Where to start: randn (the seed's draw, highest power first), randn-ascending (the PyTorch tutorial's), numpy (np.random.seed, randn), linear (torch.nn.Linear's start), zeros, values '0.5,-1,0,2' in the naming order, or a model.json / run directory (a warm start); for --model, name=value pairs a=1,b=0.5. [default: randn]")]
OrderOpt = Annotated[Optional[str], Opt(help="Naming order: descending (a x^3 + b x^2 + c x + d, the seed's) or ascending (a + b x + c x^2 + d x^3, the PyTorch tutorial's, summed in that order). [default: descending]")]
BatchOpt = Annotated[Optional[int], Opt("--batch-size", help="Mini-batch SGD: each update sees B points, shuffled each epoch as DataLoader(shuffle=True) under the seed (last batch partial); --steps counts updates. [default: all points]")]
JsonOpt = Annotated[bool, Opt("--json", help="Print a machine-readable summary instead of the report.")]
ForceOpt = Annotated[bool, Opt("--force", help="Replace the output file if it exists (never an input, never a device).")]


def _settings(config: Optional[Path], **given: Any) -> dict[str, Any]:
    """The settings of a config file, overridden by the options given on the command line."""
    from ..io import configfile

    settings: dict[str, Any] = configfile.read(config) if config is not None else {}
    if given.get("lr") is not None and isinstance(given["lr"], str):
        given["lr"] = _parse_lr(given["lr"])
    if given.get("domain") is not None:
        given["domain"] = _parse_domain(given["domain"])
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings
