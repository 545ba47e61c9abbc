"""The runs under a directory, for `sinefit runs list`: what each was, and how it ended.

A run's status comes from its files: summary.json (written last) for a finished one;
otherwise status.json says "running" with the writer's process id: still running if
that process is alive, else "incomplete" (killed or crashed midway). Nothing is ever
silently missing: a directory that looks like a run but cannot be read is listed as
"unreadable".
"""

from __future__ import annotations

import datetime
import json
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .runs import RUN_NAME


@dataclass(frozen=True)
class RunEntry:
    path: Path
    kind: str  # fit or sweep
    when: str
    status: str
    config: dict[str, Any]
    summary: dict[str, Any]

    def cell(self, name: str) -> str:
        c, s = self.config, self.summary
        if name == "final loss":
            v = s.get("final_loss") if self.kind == "fit" else (s.get("best") or [{}])[0].get("final_loss")
            return "" if v is None else f"{v:.6g}"
        if name == "gap":
            v = s.get("gap")
            if v is None and s.get("loss_ratio") is not None:
                v = s["loss_ratio"] - 1  # runs written before "gap" was saved
            return "" if v is None or not math.isfinite(v) else f"{v:.4g}"
        if name == "lr":
            v = s.get("lr", c.get("lr"))
            return _short(v)
        return _short(c.get(name))


def _short(value: Any) -> str:
    """A cell: numbers to 3 digits; a swept list as its range and length."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        if len(value) == 1:
            return _short(value[0])
        return f"{_short(value[0])}..{_short(value[-1])} ({len(value)})"
    return str(value)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def entry(path: Path) -> RunEntry:
    m = RUN_NAME.match(path.name)
    kind = m["kind"] if m else "?"
    summary = _read_json(path / "summary.json")
    status_doc = _read_json(path / "status.json") or {}
    try:
        config = tomllib.loads((path / "config.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if summary is not None:
        status = str(summary.get("status", "completed")) if kind == "fit" else "completed"
    elif status_doc.get("status") == "running" and _alive(status_doc.get("pid")):
        status = "running"
    elif config or status_doc:
        status = "incomplete"
    else:
        status = "unreadable"
    when = status_doc.get("time")
    if not isinstance(when, str):
        try:
            when = datetime.datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat()
        except OSError:
            when = ""
    return RunEntry(path, kind, when[:19].replace("T", " "), status, config, summary or {})


def scan(root: Path) -> list[RunEntry]:
    """Every run directory directly under root, oldest first (by number)."""
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir() if p.is_dir() and RUN_NAME.match(p.name)]
    dirs.sort(key=lambda p: (RUN_NAME.match(p.name)["kind"], int(RUN_NAME.match(p.name)["n"])))
    return [entry(p) for p in dirs]


COLUMNS = ["run", "when", "target", "degree", "basis", "optimizer", "lr", "steps", "final loss", "gap", "status"]


def table(entries: list[RunEntry]) -> str:
    rows = [COLUMNS] + [
        [e.path.name, e.when, *(e.cell(c) for c in COLUMNS[2:-1]), e.status] for e in entries
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)
