"""Files read with a size bound and written atomically: the two rules every sinefit file keeps.

Reads: a file from elsewhere (a model, a config) is refused past a size limit before it is
read, so a hostile or mistaken file cannot exhaust memory. Writes: to a temporary file in
the same directory, flushed to disk, then renamed over the target, so a crash at any moment
leaves the old complete file or the new complete one, never a torn one; the temporary name
starts with a dot, so listings never show it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import regular


def read_bounded(path: Path, limit: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of ``path``, or ``error`` naming it: unreadable, not a regular file, or larger than ``limit``."""
    return regular.read_bounded(path, limit, what, error)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (temporary file in the same directory, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no debris, whatever went wrong (a full disk, Ctrl-C)
        raise


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")
