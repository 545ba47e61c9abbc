"""Files dropped on the page: read by sinefit's own readers, kept in memory only.

The bytes go into an anonymous in-memory file (``memfd``; never a path on disk) that
``io.datafiles`` reads through ``/proc/self/fd``, so an upload meets exactly the checks and
one-line messages of ``sinefit fit --data``, with the file's own name in them. Only the
parsed points are kept, in a small store bounded in count; an upload is named by the hash
of its bytes, which only the page that sent it knows.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import InputError
from ..io import datafiles

MAX_UPLOAD_BYTES = 8 << 20  # 8 MiB
MAX_UPLOAD_POINTS = 200_000
KEEP = 32  # uploads held at once (least recently used dropped first)
SUFFIXES = (".csv", ".txt", ".npy", ".npz")


class UploadError(InputError):
    """An upload is refused: too big, the wrong kind, or unreadable."""

    option = "--data"


@dataclass(frozen=True)
class Upload:
    id: str
    name: str
    x: np.ndarray
    y: np.ndarray


class _MemoryPath(type(Path())):
    """A path whose name (and suffix) is the uploaded file's, but which opens an in-memory file."""

    _fd_path: str = ""

    def __fspath__(self) -> str:
        return self._fd_path

    def __str__(self) -> str:
        return self._fd_path


def read(name: str, content: bytes, columns: str | None = None) -> Upload:
    """Parse an upload with ``io.datafiles``; raise UploadError with the reader's message on bad input."""
    name = PurePosixPath(str(name).replace("\\", "/")).name or "upload"
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{name}: {len(content)} bytes is over the playground's upload limit of "
                          f"{MAX_UPLOAD_BYTES >> 20} MiB (sinefit fit --data streams any size)")  # fmt: skip
    if PurePosixPath(name).suffix.lower() not in SUFFIXES:
        raise UploadError(f"{name}: the playground reads {', '.join(SUFFIXES)} files")
    fd = os.memfd_create("sinefit-upload", os.MFD_CLOEXEC)
    try:
        os.write(fd, content)
        fd_path = f"/proc/self/fd/{fd}"
        path = _MemoryPath(name)
        path._fd_path = fd_path
        try:
            x, y = datafiles.read_points(path, datafiles.parse_columns(columns), max_points=MAX_UPLOAD_POINTS)
        except datafiles.TooManyPoints:
            raise UploadError(f"{name}: more than {MAX_UPLOAD_POINTS} points, the playground's limit "
                              "(sinefit fit --data streams any number)") from None  # fmt: skip
        except InputError as e:
            raise UploadError(str(e).replace(fd_path, name)) from None
    finally:
        os.close(fd)
    return Upload(hashlib.sha256(content).hexdigest()[:24], name, np.asarray(x), np.asarray(y))


class Store:
    """The uploads held in memory, by id; thread-safe, bounded."""

    def __init__(self, keep: int = KEEP):
        self._items: OrderedDict[str, Upload] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, upload: Upload) -> Upload:
        with self._lock:
            self._items[upload.id] = upload
            self._items.move_to_end(upload.id)
            while len(self._items) > self._keep:
                self._items.popitem(last=False)
        return upload

    def get(self, upload_id: str) -> Upload:
        with self._lock:
            upload = self._items.get(upload_id)
            if upload is not None:
                self._items.move_to_end(upload_id)
        if upload is None:
            raise UploadError("the uploaded file is no longer held by this server (it keeps uploads in memory "
                              "only, and forgets them when restarted): drop it on the page again")  # fmt: skip
        return upload
