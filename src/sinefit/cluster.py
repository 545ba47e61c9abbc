"""Summaries on Dask: a few tasks per worker over the partitions of a data set, tree-reduced (``sinefit[dask]``).

Each task (a bag partition of a few files, a few tasks per worker thread: fewer, larger tasks than
one per file) reads its files one after another with sinefit's own readers (so a bad cell is reported with
its file and row, exactly as in one process) and returns a :class:`~sinefit.summary.Summary`;
the summaries are added pairwise in a tree (``dask.bag.fold`` with ``split_every``), which
gives the answer of one pass up to rounding because the merge is a QR of stacked R factors.
Workers need only numpy and pyarrow (no torch). A worker that dies mid-pass has its tasks
rerun elsewhere by Dask's scheduler; summaries are pure, so the answer does not change.
"""

from __future__ import annotations

import contextlib
import math
import operator
from typing import Any, Iterator

from .summary import Summary, summarize_chunks

CHUNK = 1 << 20
SAMPLE = 1 << 16  # points the merged summary keeps for figures and the largest error
SPLIT_EVERY = 8
TASKS_PER_THREAD = 3  # bag partitions per worker thread (each holds several files)


def _imports() -> tuple[Any, Any]:
    try:
        import dask.bag
        import distributed
    except ImportError:
        from .config import ConfigError

        raise ConfigError("--dask", "needs Dask: pip install 'sinefit[dask]'") from None
    return dask.bag, distributed


@contextlib.contextmanager
def connect(address: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """A Dask client: of the scheduler at ``address``, or of a local cluster (one single-threaded
    worker process per core) started here and shut down on exit."""
    _, distributed = _imports()
    if address is not None:
        try:
            client = distributed.Client(address, timeout="10s")
        except (OSError, TimeoutError) as e:
            from .errors import InputError

            raise InputError(f"--dask: cannot reach the scheduler at {address}: {str(e).splitlines()[0]}") from None
        with client:
            yield client
        return
    from .streaming import workers

    with distributed.LocalCluster(n_workers=n_workers or workers(), threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        yield client


def _partition_range(part, columns, chunk_rows: int) -> tuple[float, float]:
    from .io import datasets

    lo, hi = math.inf, -math.inf
    for x, _ in datasets.partition_chunks(part, columns, chunk_rows):
        lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    return lo, hi


def _partition_summary(part, columns, basis: str, degree: int, domain, chunk_rows: int, cap: int) -> Summary:
    from .io import datasets

    return summarize_chunks(datasets.partition_chunks(part, columns, chunk_rows), basis, degree, domain, cap)


def _partition_range_group(parts, columns, chunk_rows: int) -> list[tuple[float, float]]:
    """One task's partitions (a bag partition): their joint range, as a one-element list."""
    lo, hi = math.inf, -math.inf
    for part in parts:
        lo, hi = _widen((lo, hi), _partition_range(part, columns, chunk_rows))
    return [(lo, hi)]


def _partition_summary_group(parts, columns, basis: str, degree: int, domain, chunk_rows: int, cap: int) -> list[Summary]:
    """One task's partitions, read one after another in this task: their merged Summary, in a list."""
    from .io import datasets

    def chunks():
        for part in parts:
            yield from datasets.partition_chunks(part, columns, chunk_rows)

    return [summarize_chunks(chunks(), basis, degree, domain, cap)]


def _tasks(client: Any, n_parts: int) -> int:
    """Bag partitions (tasks) for ``n_parts`` files: a few per worker thread, so that a slow or lost
    worker is caught up by the others, but not one per file (each task costs the scheduler)."""
    try:
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    except Exception:  # noqa: BLE001 - an unusual client: one task per file, as Dask would
        return n_parts
    return max(1, min(n_parts, TASKS_PER_THREAD * max(threads, 1)))


def _widen(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return min(a[0], b[0]), max(a[1], b[1])


def summarize_dataset(
    spec: str,
    columns: Any = None,
    basis: str = "power",
    degree: int = 3,
    domain: tuple[float, float] | None = None,
    *,
    client: Any = None,
    address: str | None = None,
    progress: bool = False,
    chunk_rows: int = CHUNK,
    split_every: int = SPLIT_EVERY,
) -> Summary:
    """The Summary of every partition of ``spec`` (a directory, glob or URI), computed on Dask.

    A mapped basis without a ``domain`` gets one from a min/max pass first (also on Dask).
    ``client``: an existing ``distributed.Client``; else one for ``address`` (or a local cluster).
    """
    bag, distributed = _imports()
    from .io import datasets

    parts = datasets.partitions(spec)
    if client is None:
        with connect(address) as own:
            return summarize_dataset(spec, columns, basis, degree, domain, client=own, progress=progress,
                                     chunk_rows=chunk_rows, split_every=split_every)  # fmt: skip
    items = bag.from_sequence(parts, npartitions=_tasks(client, len(parts)))
    n_tasks = items.npartitions

    def run(collection):
        future = client.compute(collection)
        if progress:
            distributed.progress(future)
        return future.result()

    if basis != "power" and domain is None:
        ranges = items.map_partitions(_partition_range_group, columns, chunk_rows)
        lo, hi = run(ranges.fold(_widen, split_every=split_every))
        if not lo <= hi:
            lo, hi = -1.0, 1.0
        domain = (lo, hi) if lo < hi else (lo - 1.0, hi + 1.0)
    cap = max(1024, SAMPLE // n_tasks)
    summaries = items.map_partitions(_partition_summary_group, columns, basis, degree, domain, chunk_rows, cap)
    return run(summaries.fold(operator.add, split_every=split_every))


def summarize_config(cfg, address: str | None, progress: bool = False):
    """(Summary, settings) for ``sinefit fit --data DATASET --dask [ADDRESS]``."""
    from .config import ConfigError
    from .io import datafiles

    if cfg.data is None:
        raise ConfigError("--dask", "summarises a data set: give --data (a directory, a glob or a URI)")
    if cfg.loss not in ("sse", "mse") or cfg.engine == "per-sample":
        raise ConfigError("--dask", "computes summaries for the quadratic losses (sse, mse) on the stats engine")
    s = summarize_dataset(cfg.data, datafiles.parse_columns(cfg.columns), cfg.basis, cfg.degree, cfg.domain,
                          address=address, progress=progress)  # fmt: skip
    if s.n == 0:
        raise ConfigError("--data", f"{cfg.data}: no points")
    return s
