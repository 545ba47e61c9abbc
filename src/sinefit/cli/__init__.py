"""The ``sinefit`` command: thin wrappers over the library, one module per command group.

torch and matplotlib are imported inside the commands, so ``sinefit --help``
stays fast. Errors leave as one line on stderr with a documented exit code:
0 success, 1 a runtime failure (divergence, an unwritable directory), 2 bad
input, 130 interrupted.

The commands are plain functions in their modules (callable from Python as they are), registered
here in the order ``sinefit --help`` lists them.
"""

from __future__ import annotations

from . import fit as _fit
from . import predict as _predict
from . import runs as _runs
from . import saved as _saved
from . import serve as _serve
from . import sweep as _sweep
from .common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, Failure, app
from .entry import main, run
from .sweep import _sweep_table

for _command in (_fit.fit, _sweep.sweep, _saved.report, _predict.predict, _saved.plot, _saved.animate, _serve.serve):
    app.command()(_command)
app.add_typer(_runs.runs_app, name="runs")

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "Failure", "app", "main", "run"]
