"""model.json of a ``--model`` fit: the expression and its parameters, validated on the way in.

    {"format": "sinefit.model", "format_version": 1, "kind": "expression",
     "expression": "a*exp(-b*x) + c", "domain": [lo, hi],
     "parameters": [{"name": "a", "value": 2.0, "stderr": 0.01}, ...], ...}

The expression is read by the same allowlist interpreter as ``--model`` (never ``eval``), and
its parameters must be exactly the ones named, in order, each with a finite value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError

KEYS = {"format", "format_version", "sinefit_version", "kind", "expression", "domain", "parameters",
        "loss_function", "final_loss", "status"}  # fmt: skip


def from_document(doc: dict[str, Any], bad):
    from ..nonlinear.expression import parse
    from ..nonlinear.fit import FittedModel
    from .modelfile import check_domain, check_header

    check_header(doc, KEYS, bad)
    try:
        model = parse(doc.get("expression"))
    except InputError as e:
        raise bad(f"expression: {e}") from None
    domain = check_domain(doc.get("domain"), bad)
    entries = doc.get("parameters")
    if not isinstance(entries, list) or len(entries) != model.size:
        raise bad(f"the expression has {model.size} parameters ({', '.join(model.parameters)}); 'parameters' must "
                  "list each once, in that order")  # fmt: skip
    values = []
    for i, (entry, name) in enumerate(zip(entries, model.parameters)):
        if not isinstance(entry, dict) or not {"name", "value"} <= set(entry) <= {"name", "value", "stderr"}:
            raise bad(f"parameter {i} must be an object with name, value (and stderr)")
        if entry["name"] != name:
            raise bad(f"parameter {i} must be {name!r}, got {entry['name']!r}")
        v = entry["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad(f"parameter {name!r} must be a finite number, got {v!r}")
        values.append(float(v))
    return FittedModel(model.text, model.parameters, np.array(values), domain)
