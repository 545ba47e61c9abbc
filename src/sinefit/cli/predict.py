"""`sinefit predict`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import Failure
from .options import ForceOpt, Opt


def predict(
    model: Annotated[Path, typer.Argument(help="A model.json written by `sinefit fit`.")],
    xs: Annotated[Optional[list[str]], typer.Argument(help="More x values (after --x).", show_default=False)] = None,
    x: Annotated[Optional[list[str]], Opt("--x", help="x values: --x 0.5 1 2, or --x 0.5,1,2; pi allowed (--x=-pi/2).")] = None,
    input: Annotated[Optional[Path], Opt("--input", help="CSV of x values: one column, or a column named x.")] = None,
    output: Annotated[Optional[Path], Opt("--output", help="Write x,y to this CSV instead of printing a table.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print {x: [...], y: [...]} as JSON.")] = False,
    force: ForceOpt = False,
) -> None:
    """Evaluate a saved model at x values."""
    import numpy as np

    from ..io import modelfile, predictions, safefile

    model = modelfile.model_path(model)  # a run directory: its model (named as the file in what follows)
    poly = modelfile.load(model)
    target = None if output is None else safefile.check_target(
        output, (".csv",), "x,y CSV text", force=force, inputs=[model, *([input] if input else [])])  # fmt: skip
    values = predictions.parse_x_values([*(x or []), *(xs or [])])
    if input is not None:
        values = np.concatenate([values, predictions.read_x_csv(input)])
    if values.size == 0:
        from ..config import ConfigError

        raise ConfigError("--x", "give x values (--x 0.5 1 2) or --input FILE")
    with np.errstate(over="ignore", invalid="ignore"):  # said below in one line, not numpy's words
        y = poly.predict(values)
    beyond = ~np.isfinite(y)
    count = int(np.count_nonzero(beyond))
    if count and not as_json:  # (the JSON says it below, beside its nulls)
        print(f"sinefit: warning: y is beyond float64 at {count} x value{'s' if count > 1 else ''} "
              f"(the first at x = {float(values[beyond][0]):.6g})", file=sys.stderr)  # fmt: skip
    if output is not None:
        try:
            predictions.write_csv(target, values, y)
        except OSError as e:
            raise Failure(f"cannot write {output}: {e.strerror or e}") from None
    if as_json:  # strict JSON: a y that overflows float64 is null (and said so)
        ys = [None if bad else v for v, bad in zip(y.tolist(), beyond.tolist())]
        if count:
            print(f"sinefit: warning: y is not finite (beyond float64) at {count} x values: null in the JSON",
                  file=sys.stderr)  # fmt: skip
        print(json.dumps({"model": str(model), "x": values.tolist(), "y": ys}, indent=2, allow_nan=False))
    elif output is None:
        print(f"{'x':>16}  {'y':>22}")
        for xv, yv in zip(values, y):
            print(f"{xv:>16.10g}  {yv:>22.17g}")
