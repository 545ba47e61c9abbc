"""Files read with a size bound and written atomically: the two rules every sinefit file keeps.

Reads: a file from elsewhere (a model, a config) is refused past a size limit before it is
read, so a hostile or mistaken file cannot exhaust memory.

Writes: one writer for every file sinefit makes. The content goes to a temporary file made
exclusively (``tempfile.mkstemp``: a unique name, O_EXCL, so no planted symlink or rival
process can be written through) in the target's directory, flushed to disk, then renamed
over the target, so a crash at any moment leaves the old complete file or the new complete
one, never a torn one; the temporary name starts with a dot, so listings never show it.
Renaming happens only over a regular file (or a symlink, or nothing): a pipe, or the
process's own stdout (``/dev/stdout``, ``-``), is written straight; a device, a socket or a
directory is refused. A file the user names (``predict --output``) is further checked by
:func:`check_target` before any work: its suffix must match the content, it must not be
one of the command's inputs, and an existing file is replaced only with ``--force``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import InputError
from . import regular


def read_bounded(path: Path, limit: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of ``path``, or ``error`` naming it: unreadable, not a regular file, or larger than ``limit``."""
    return regular.read_bounded(path, limit, what, error)


class TargetError(InputError):
    """A file sinefit was asked to write that it will not write (names the file and why)."""


@dataclass(frozen=True)
class Target:
    """Where a file goes, and how: ``replace`` (a new or regular file, renamed into place),
    ``stdout`` (the process's own standard output) or ``pipe`` (a FIFO, written straight)."""

    path: Path
    how: str


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open() would give a new file


def _same_as_stdout(st: os.stat_result) -> bool:
    try:
        return os.path.samestat(st, os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # stdout closed, or replaced by an object without a file
        return False


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def classify(path: Path) -> Target:
    """How ``path`` would be written, or TargetError naming it (a device, a directory, ...)."""
    path = Path(path)
    if str(path) == "-":
        return Target(path, "stdout")
    try:
        st = os.stat(path)  # follows symlinks: /dev/stdout is a link to /proc/self/fd/1
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise TargetError(f"{_q(path)}: cannot write: {e.strerror or e}") from None
    if st is not None and _same_as_stdout(st):
        return Target(path, "stdout")
    if st is None or stat.S_ISREG(st.st_mode):
        parent = path.parent
        if not parent.is_dir():
            raise TargetError(f"{_q(path)}: cannot write: no such directory {_q(parent)}")
        return Target(path, "replace")
    if stat.S_ISFIFO(st.st_mode):
        return Target(path, "pipe")
    raise TargetError(
        f"{_q(path)}: is {_kind(st)}; sinefit writes only regular files, pipes and its own stdout (-)"
    )


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def check_target(
    path: Path,
    suffixes: Iterable[str],
    what: str,
    *,
    force: bool = False,
    inputs: Iterable[Path] = (),
    option: str = "--output",
) -> Target:
    """Check a file the user asked for, before any work: TargetError unless it can be written.

    ``suffixes`` are those the content may carry (``what`` names the content, e.g. "a CSV
    file"); ``inputs`` are the files the command reads, which it never overwrites.
    """
    try:
        target = classify(path)
    except TargetError as e:
        raise TargetError(f"{option} {e}") from None
    if target.how != "replace":
        return target
    suffixes = tuple(suffixes)
    if suffixes and path.suffix.lower() not in suffixes:
        got = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise TargetError(
            f"{option} {_q(path)}: {got}, but the content is {what}; name it *{' or *'.join(suffixes)}"
        )
    for source in inputs:
        try:
            if os.path.exists(path) and os.path.samefile(path, source):
                raise TargetError(f"{option} {_q(path)}: is an input of this command; choose another file")
        except OSError:
            continue
    if _exists(path) and not force:
        raise TargetError(f"{option} {_q(path)}: exists; give --force to replace it")
    return target


def _q(path: Path | str) -> str:
    """A path for a message: quoted when it holds anything that could forge or hide output."""
    text = str(path)
    if text and text.isprintable() and not any(c in text for c in " '\"\\"):
        return text
    return repr(text)


def write_with(path: Path | Target, produce: Callable[[Path], None]) -> Path:
    """Write a file through ``produce(temporary_path)``, which writes the whole content there.

    Regular targets get the temporary renamed over them (keeping an existing file's mode);
    a pipe or stdout gets the bytes copied straight in. Whatever goes wrong (an error, a full
    disk, Ctrl-C), the temporary is removed.
    """
    target = path if isinstance(path, Target) else classify(Path(path))
    dest = target.path
    where = dest.parent if target.how == "replace" else None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name[:100]}.", suffix=".tmp" + dest.suffix[:16], dir=where)
    tmp = Path(tmp_name)
    try:
        os.close(fd)
        produce(tmp)
        if target.how == "replace":
            try:
                mode = os.stat(dest).st_mode & 0o777 if os.path.isfile(dest) and not os.path.islink(dest) else _MODE
            except OSError:
                mode = _MODE
            os.chmod(tmp, mode)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            check = classify(dest)  # what is there now (a rival could have put a FIFO there)
            if check.how != "replace":
                raise TargetError(f"{_q(dest)}: changed while it was written; not replaced")
            os.replace(tmp, dest)
        else:
            _copy_straight(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _copy_straight(tmp: Path, target: Target) -> None:
    with open(tmp, "rb") as src:
        if target.how == "stdout":
            sys.stdout.flush()
            out = getattr(sys.stdout, "buffer", None)
            if out is None:  # a text-only stdout (a test's capture): it takes text
                sys.stdout.write(src.read().decode("utf-8", errors="replace"))
            else:
                shutil.copyfileobj(src, out)
                out.flush()
        else:
            fd = os.open(target.path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
            with os.fdopen(fd, "wb") as out:
                if not stat.S_ISFIFO(os.fstat(out.fileno()).st_mode):
                    raise TargetError(f"{_q(target.path)}: is no longer a pipe; not written")
                shutil.copyfileobj(src, out)


def write_bytes(path: Path | Target, data: bytes) -> Path:
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path | Target, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) safely: see :func:`write_with`."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | Target, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")
