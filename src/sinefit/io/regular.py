"""Files sinefit reads are regular files, and reads are bounded by bytes read, not by st_size.

A device (/dev/zero) or a FIFO reports st_size 0, so a size check passes and a read then
runs until memory is gone (/dev/zero) or blocks for ever (a FIFO with no writer, past
Ctrl-C). So every file sinefit reads is opened here: non-blocking (opening a FIFO does not
wait for a writer), then checked with fstat on the open descriptor (no window between the
check and the read), and refused unless it is a regular file. The refusal is an OSError
with a plain reason, so every reader's existing "PATH: cannot read: REASON" message says it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

from ..errors import InputError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


class NotRegular(OSError):
    """The path is a FIFO, a device, a socket or a directory: sinefit reads only regular files."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike, mode: str = "rb", **text: object) -> IO:
    """``open(path, mode, **text)`` for reading, refusing anything but a regular file (NotRegular)."""
    if any(c in mode for c in "wax+"):
        raise ValueError("open_regular opens files for reading only")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = _kind(st.st_mode)
            raise NotRegular(errno.EINVAL, f"{kind}, not a regular file (sinefit reads regular files only)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, mode, **text)  # noqa: SIM115 - the caller closes it
    except BaseException:
        os.close(fd)
        raise


def require_regular(path: str | os.PathLike) -> None:
    """Raise NotRegular (or the OSError of a missing file) unless ``path`` is a regular file.

    For readers that must open a path themselves (pyarrow, zipfile): checked without blocking.
    """
    with open_regular(path, "rb"):
        pass


def read_bounded(path: Path, limit: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, or ``error`` naming it.

    The bound is on the bytes read (``limit + 1`` at most), whatever st_size claims.
    """
    try:
        with open_regular(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > limit:
        size = _size(path)
        raise error(f"{path}: {size} is too large for {what} (limit {limit})")
    return raw


def read_text_bounded(path: Path, limit: int) -> str | None:
    """A small run file (status.json, summary.json, config.toml) as UTF-8 text; None when it is
    missing, not a regular file, larger than ``limit`` bytes or not UTF-8: the caller lists it as such."""
    try:
        with open_regular(path, "rb") as f:
            raw = f.read(limit + 1)
        return raw.decode("utf-8") if len(raw) <= limit else None
    except (OSError, UnicodeDecodeError):
        return None


def _size(path: Path) -> str:
    try:
        return f"{os.stat(path).st_size} bytes"
    except OSError:
        return "more bytes than that"
