"""The runs under a directory, for `sinefit runs list`: what each was, and how it ended.

A run's status comes from its files: summary.json (written last) for a finished one;
otherwise status.json says "running" with the writer's process id: still running if
that process is alive, else "incomplete" (killed midway); or it gives the status a run
ended with before its summary (interrupted, failed). Nothing is ever silently missing: a
directory that looks like a run but whose files cannot be read (or hold values of the
wrong type) is listed as "unreadable"; reading never raises.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePath
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
        try:
            return _cell_text(self._cell(name))
        except Exception:  # a value of a type no run writes: shown, never a crash
            return "?"

    def _cell(self, name: str) -> str:
        c, s = self.config, self.summary
        if name == "final loss":
            v = s.get("final_loss") if self.kind == "fit" else (s.get("best") or [{}])[0].get("final_loss")
            return "" if not _number(v) else f"{v:.6g}"
        if name == "gap":
            v = s.get("gap")
            if not _number(v) and _number(s.get("loss_ratio")):
                v = s["loss_ratio"] - 1  # runs written before "gap" was saved
            return "" if not _number(v) or not math.isfinite(v) else f"{v:.4g}"
        if name == "lr":
            v = s.get("lr", c.get("lr"))
            return _short(v)
        if name == "steps" and self.kind == "fit":
            # The steps run, not only the --steps cap: a converged, interrupted or diverged run stopped early.
            if c.get("optimizer") == "exact":
                return "-"
            ran = next((s[k] for k in ("converged_at", "interrupted_at", "diverged_at") if _number(s.get(k))), None)
            cap = c.get("steps")
            return _short(cap) if ran is None or ran == cap else f"{_short(ran)} of {_short(cap)}"
        if name in ("degree", "basis") and isinstance(c.get("model"), str) and c["model"]:
            # A --model run keeps the polynomial defaults (degree 3, power) beside its model: not what it fitted.
            return "-" if name == "degree" else f"model {c['model']}"
        if name == "target" and isinstance(c.get("data"), str) and c["data"]:
            # A --data run keeps target = "sin" (the default) beside data: the points came from the file.
            data = c["data"]
            return data if "://" in data else (PurePath(data).name or data)
        return _short(c.get(name))


MAX_CELL = 100


def _cell_text(text: str) -> str:
    """A cell on one line: never a newline or control character (they would forge rows), never wider than MAX_CELL."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _short(value: Any) -> str:
    """A cell: numbers to 3 digits; a swept list as its range and length."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        if not value:
            return ""
        if len(value) == 1:
            return _short(value[0])
        return f"{_short(value[0])}..{_short(value[-1])} ({len(value)})"
    return str(value)


MAX_FILE = 64 << 20  # a run file larger than this is not one sinefit wrote: unreadable


def _read_text(path: Path) -> str | None:
    """A small regular file's text, or None (missing, not a regular file, too large, not UTF-8)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_FILE + 1)
        return raw.decode("utf-8") if len(raw) <= MAX_FILE else None
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def read_small(path: Path) -> str | None:
    """A run's text file (report.txt, summary.json), or None: missing, not a regular file, too large."""
    return _read_text(path)


def _read_json(path: Path) -> dict[str, Any] | None | bool:
    """The JSON object in ``path``; None if the file is absent; False if it is there but not one."""
    if not os.path.lexists(path):
        return None
    text = _read_text(path)
    if text is None:
        return False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return doc if isinstance(doc, dict) else False


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 1 << 22:  # Linux's pid_max is at most 2^22
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


FIT_STATUSES = ("completed", "diverged", "interrupted")
ENDED = ("interrupted", "failed")  # final statuses a run may end with before (or without) its summary.json


def _summary_ok(kind: str, s: dict[str, Any]) -> bool:
    """The fields `runs list` shows have the types sinefit writes."""
    if kind == "sweep":
        best = s.get("best", [])
        return isinstance(best, list) and all(
            isinstance(b, dict) and (b.get("final_loss") is None or _number(b.get("final_loss"))) for b in best
        )
    if s.get("status") not in FIT_STATUSES:
        return False
    return all(s.get(k) is None or _number(s.get(k)) for k in ("final_loss", "loss_ratio", "lr"))


def entry(path: Path) -> RunEntry:
    """What `runs list` says of one directory; never raises (an unreadable one says "unreadable")."""
    try:
        return _entry(path)
    except Exception:
        return RunEntry(path, _kind(path), "", "unreadable", {}, {})


def _kind(path: Path) -> str:
    m = RUN_NAME.match(path.name)
    return m["kind"] if m else "?"


def _entry(path: Path) -> RunEntry:
    kind = _kind(path)
    summary = _read_json(path / "summary.json")
    status_doc = _read_json(path / "status.json")
    config_text = _read_text(path / "config.toml")
    try:
        config = tomllib.loads(config_text) if config_text is not None else {}
    except (ValueError, RecursionError):
        config = None
    if summary is False or (summary and not _summary_ok(kind, summary)) or config is None or status_doc is False:
        status = "unreadable"
    elif summary is not None:
        status = summary["status"] if kind == "fit" else "completed"
    elif status_doc and status_doc.get("status") == "running" and _alive(status_doc.get("pid")):
        status = "running"
    elif status_doc and status_doc.get("status") in ENDED:
        status = status_doc["status"]
    elif config or status_doc:
        status = "incomplete"
    else:
        status = "unreadable"
    status_doc = status_doc or {}
    when = status_doc.get("time")
    if not isinstance(when, str):
        try:
            when = datetime.datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat()
        except (OSError, ValueError, OverflowError):
            when = ""
    when = _cell_text(when[:19].replace("T", " "))
    good = status != "unreadable"
    return RunEntry(path, kind, when, status, (config or {}) if good else {}, (summary or {}) if good else {})


def scan(root: Path) -> list[RunEntry]:
    """Every run directory directly under root, oldest first (by number)."""
    if not root.is_dir():
        return []
    try:
        dirs = [p for p in root.iterdir() if RUN_NAME.match(p.name) and p.is_dir()]
    except OSError as e:
        from ..errors import InputError

        raise InputError(f"{root}: cannot list the runs: {e.strerror or e}") from None
    dirs.sort(key=lambda p: (RUN_NAME.match(p.name)["kind"], int(RUN_NAME.match(p.name)["n"])))
    return [entry(p) for p in dirs]


COLUMNS = ["run", "when", "target", "degree", "basis", "optimizer", "lr", "steps", "final loss", "gap", "status"]


def table(entries: list[RunEntry]) -> str:
    rows = [COLUMNS] + [
        [e.path.name, e.when, *(e.cell(c) for c in COLUMNS[2:-1]), e.status] for e in entries
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def sweep_text(run: Path, doc: Any) -> str:
    """A sweep's summary.json as people read it: the grid, the best configurations, the files."""
    if not isinstance(doc, dict):
        return "(no summary: incomplete)"
    axes = doc.get("axes") if isinstance(doc.get("axes"), dict) else {}
    lines = [f"grid: {doc.get('configurations', '?')} configurations, {doc.get('diverged', '?')} diverged"
             + (f", {doc['seconds']:.3g} s" if _number(doc.get("seconds")) else "")]  # fmt: skip
    for name, values in axes.items():
        shown = ", ".join(_short(v) for v in values) if isinstance(values, list) else _short(values)
        lines.append(f"  {name}: {_cell_text(shown)}")
    best = [b for b in doc.get("best") or [] if isinstance(b, dict)]
    if best:
        names = list(axes)
        header = [*names, "final loss", "gap", "BIC", "diverged"]
        rows = [header]
        for b in best:
            rows.append([_short(b.get(n)) for n in names] + [
                f"{b['final_loss']:.6g}" if _number(b.get("final_loss")) else "",
                f"{b['gap']:.4g}" if _number(b.get("gap")) else "",
                f"{b['bic']:.6g}" if _number(b.get("bic")) else "",
                f"at {b.get('diverged_at')}" if b.get("diverged") else "no",
            ])  # fmt: skip
        widths = [max(len(_cell_text(r[i])) for r in rows) for i in range(len(header))]
        lines.append(f"best {len(best)} (lowest final loss first):")
        lines += ["  " + "  ".join(_cell_text(c).rjust(w) for c, w in zip(r, widths)) for r in rows]
    try:
        files = sorted(p.name for p in run.iterdir() if p.is_file())
    except OSError:
        files = []
    if files:
        lines.append(f"files: {', '.join(files)}")
    return "\n".join(lines)
