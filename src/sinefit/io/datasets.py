"""Partitioned data sets: a directory, a glob, or a remote URI of Parquet, CSV or .npy files.

``--data`` may name, besides one file:

* a directory: every data file under it (recursively), as Spark, Dask or pyarrow write a
  partitioned data set (``part-0000.parquet``, ``year=2024/...``); files whose names start
  with ``_`` or ``.`` (``_SUCCESS``, ``.crc`` checksums) are skipped;
* a glob: ``'readings/*.parquet'``, ``'logs/**/*.csv'``;
* a URI of any filesystem pyarrow knows (``s3://bucket/prefix/*.parquet``, ``gs://``,
  ``hdfs://``, ``file://``), a directory or a glob there. S3 takes the usual credentials
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``,
  ``AWS_DEFAULT_REGION``) and, for S3-compatible stores, an endpoint from
  ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (or ``?endpoint_override=host:port`` in the URI).

Partitions are read one at a time, in sorted order, each by the reader of its format (so
every refusal still names the file and the row); a remote partition is copied to a private
temporary file, read, and deleted, so memory stays at one chunk and disk at one partition.
"""

from __future__ import annotations

import fnmatch
import glob as globlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import datafiles
from .datafiles import Chunk, Columns, DataFileError

PARTITION_FORMATS = (".parquet", ".csv", ".npy", ".npz", ".txt")
_GLOB = re.compile(r"[*?\[]")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Partition:
    """One file of a data set: where it is, and the filesystem that reads it (None: local)."""

    path: str  # local path, or the path within ``filesystem``
    name: str  # what messages call it: the local path or the full URI
    filesystem: Any = None


def is_dataset(spec: str | Path) -> bool:
    """True when ``spec`` names more than one file's worth: a URI, a glob or a directory."""
    text = str(spec)
    if _URI.match(text):
        return True
    if Path(text).is_file():  # an existing file is one file, even with [ or * in its name
        return False
    return bool(_GLOB.search(text)) or Path(text).is_dir()


def partitions(spec: str | Path) -> list[Partition]:
    """The files of a data set, sorted; refuses (one line, naming ``spec``) a set with none."""
    text = str(spec)
    if _URI.match(text) and not text.startswith("file://"):
        found = _remote(text)
    else:
        local = text[len("file://") :] if text.startswith("file://") else text
        found = [Partition(p, p) for p in _local(local)]
    if not found:
        raise DataFileError(f"{text}: no data files ({', '.join(PARTITION_FORMATS[:4])}) found")
    return found


def iter_chunks(spec: str | Path, columns: Columns | None = None, *, chunk_rows: int = 1 << 20) -> Iterator[Chunk]:
    """Every partition's (x, y) chunks in turn, partition by partition."""
    for part in partitions(spec):
        yield from partition_chunks(part, columns, chunk_rows)


def partition_chunks(part: Partition, columns: Columns | None, chunk_rows: int) -> Iterator[Chunk]:
    """One partition's chunks, read by the reader of its format."""
    if part.filesystem is None:
        yield from datafiles.iter_chunks(part.path, columns, chunk_rows=chunk_rows)
        return
    with _local_copy(part) as local:
        try:
            yield from datafiles.iter_chunks(local, columns, chunk_rows=chunk_rows)
        except DataFileError as e:  # name the remote file, not our temporary copy
            raise DataFileError(str(e).replace(str(local), part.name)) from None


def count_rows(spec: str | Path) -> int | None:
    """The total rows when every partition's format records it (no CSV, nothing remote); else None."""
    total = 0
    for part in partitions(spec):
        if part.filesystem is not None:
            return None
        rows = datafiles.count_rows(part.path)
        if rows is None:
            return None
        total += rows
    return total


# --------------------------------------------------------------------------- local


def _local(text: str) -> list[str]:
    if _GLOB.search(text):
        paths = globlib.glob(text, recursive=True)
        return sorted(p for p in paths if os.path.isfile(p) and _wanted(os.path.basename(p)))
    root = Path(text)
    if root.is_dir():
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            found.extend(os.path.join(dirpath, f) for f in filenames if _wanted(f))
        return sorted(found)
    return [text] if root.is_file() else []


def _wanted(name: str) -> bool:
    return not name.startswith((".", "_")) and name.lower().endswith(PARTITION_FORMATS)


# --------------------------------------------------------------------------- remote


def filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path within it) for a URI; S3 gets the endpoint override from the environment."""
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise DataFileError(f"{uri}: remote data needs pyarrow (pip install pyarrow)") from None
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    try:
        if parts.scheme == "s3" and endpoint and "endpoint_override" not in query:
            ep = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
            fs = pafs.S3FileSystem(
                endpoint_override=ep.netloc,
                scheme=ep.scheme or "http",
                region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1",
            )
            return fs, (parts.netloc + parts.path).rstrip("/")
        fs, path = pafs.FileSystem.from_uri(uri.split("?")[0] if not query else uri)
        return fs, path.rstrip("/")
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ValueError for bad URIs and unknown schemes
        raise DataFileError(f"{uri}: cannot open: {_one_line(e)}") from None


def _remote(uri: str) -> list[Partition]:
    import pyarrow.fs as pafs

    scheme = urlsplit(uri).scheme
    fs, path = filesystem(uri)
    m = _GLOB.search(path)
    base = path[: path.rfind("/", 0, m.start())] if m else path
    pattern = path if m else None
    try:
        info = fs.get_file_info(base)
        if info.type == pafs.FileType.File and pattern is None:
            listing = [info]
        elif info.type == pafs.FileType.NotFound:
            return []
        else:
            listing = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except DataFileError:
        raise
    except Exception as e:
        raise DataFileError(f"{uri}: cannot list: {_one_line(e)}") from None
    found = []
    for entry in listing:
        if entry.type != pafs.FileType.File or not _wanted(entry.base_name):
            continue
        if pattern is not None and not fnmatch.fnmatchcase(entry.path, pattern):
            continue
        if pattern is None and any(seg.startswith(("_", ".")) for seg in entry.path[len(base) :].split("/")[:-1]):
            continue
        found.append(Partition(entry.path, f"{scheme}://{entry.path}", fs))
    return sorted(found, key=lambda p: p.path)


class _local_copy:
    """A private temporary copy of a remote partition (same file name), deleted on exit."""

    def __init__(self, part: Partition):
        self.part = part

    def __enter__(self) -> Path:
        self.dir = tempfile.TemporaryDirectory(prefix="sinefit-")
        local = Path(self.dir.name) / os.path.basename(self.part.path)
        try:
            with self.part.filesystem.open_input_stream(self.part.path) as src, open(local, "wb") as dst:
                while True:
                    block = src.read(8 << 20)
                    if not block:
                        break
                    dst.write(block)
        except Exception as e:
            self.dir.cleanup()
            raise DataFileError(f"{self.part.name}: cannot read: {_one_line(e)}") from None
        return local

    def __exit__(self, *exc) -> None:
        self.dir.cleanup()


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
